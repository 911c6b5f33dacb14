//! Signal names and numbers (Linux), for an image's `StopSignal`, `--stop-signal` and `kill -s`.

#[derive(Debug, thiserror::Error)]
#[error("invalid signal: `{0}`")]
pub struct SignalError(pub String);

/// `SIGTERM`: what a container is stopped with when neither the image nor the flags say otherwise.
pub const DEFAULT_STOP_SIGNAL: i32 = 15;

const SIGRTMIN: i32 = 34;
const SIGRTMAX: i32 = 64;

/// The standard signals, with the aliases Linux defines (`IOT`, `CLD`, `POLL`).
const NAMES: [(&str, i32); 34] = [
    ("HUP", 1),
    ("INT", 2),
    ("QUIT", 3),
    ("ILL", 4),
    ("TRAP", 5),
    ("ABRT", 6),
    ("IOT", 6),
    ("BUS", 7),
    ("FPE", 8),
    ("KILL", 9),
    ("USR1", 10),
    ("SEGV", 11),
    ("USR2", 12),
    ("PIPE", 13),
    ("ALRM", 14),
    ("TERM", 15),
    ("STKFLT", 16),
    ("CHLD", 17),
    ("CLD", 17),
    ("CONT", 18),
    ("STOP", 19),
    ("TSTP", 20),
    ("TTIN", 21),
    ("TTOU", 22),
    ("URG", 23),
    ("XCPU", 24),
    ("XFSZ", 25),
    ("VTALRM", 26),
    ("PROF", 27),
    ("WINCH", 28),
    ("IO", 29),
    ("POLL", 29),
    ("PWR", 30),
    ("SYS", 31),
];

/// Parse `SIGTERM`, `TERM`, `term`, `15`, `RTMIN`, `RTMIN+3`, `SIGRTMAX-2`. Numbers must be 1–64.
pub fn parse_signal(input: &str) -> Result<i32, SignalError> {
    let invalid = || SignalError(input.to_string());
    let trimmed = input.trim();
    if let Ok(n) = trimmed.parse::<i32>() {
        return (1..=SIGRTMAX).contains(&n).then_some(n).ok_or_else(invalid);
    }
    let upper = trimmed.to_ascii_uppercase();
    let name = upper.strip_prefix("SIG").unwrap_or(&upper);
    if let Some((_, n)) = NAMES.iter().find(|(n, _)| *n == name) {
        return Ok(*n);
    }
    realtime(name).ok_or_else(invalid)
}

/// `RTMIN`, `RTMIN+n`, `RTMAX`, `RTMAX-n`, within the real-time range.
fn realtime(name: &str) -> Option<i32> {
    let (base, sign, rest) = if let Some(rest) = name.strip_prefix("RTMIN") {
        (SIGRTMIN, 1, rest.strip_prefix('+'))
    } else if let Some(rest) = name.strip_prefix("RTMAX") {
        (SIGRTMAX, -1, rest.strip_prefix('-'))
    } else {
        return None;
    };
    let n = if name.len() == 5 {
        base
    } else {
        let digits = rest.filter(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()))?;
        base + sign * i32::from(digits.parse::<u8>().ok()?)
    };
    (SIGRTMIN..=SIGRTMAX).contains(&n).then_some(n)
}

/// The signal that stops a container: the flag, else the image's `StopSignal`, else `SIGTERM`.
pub fn stop_signal(flag: Option<&str>, image: Option<&str>) -> Result<i32, SignalError> {
    match flag.or(image).filter(|s| !s.is_empty()) {
        Some(s) => parse_signal(s),
        None => Ok(DEFAULT_STOP_SIGNAL),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_table() {
        let cases = [
            ("SIGTERM", 15),
            ("TERM", 15),
            ("term", 15),
            ("SigKill", 9),
            ("15", 15),
            ("1", 1),
            ("64", 64),
            ("SIGHUP", 1),
            ("SIGUSR1", 10),
            ("WINCH", 28),
            ("IOT", 6),
            ("SIGCLD", 17),
            ("RTMIN", 34),
            ("RTMIN+3", 37),
            ("SIGRTMIN+30", 64),
            ("RTMAX", 64),
            ("RTMAX-1", 63),
            ("sigrtmax-30", 34),
            (" 9 ", 9),
        ];
        for (input, want) in cases {
            assert_eq!(parse_signal(input).unwrap(), want, "{input:?}");
        }
    }

    #[test]
    fn invalid_table() {
        for input in [
            "",
            "0",
            "65",
            "-9",
            "SIG",
            "TERMINATE",
            "RTMIN+31",
            "RTMAX-31",
            "RTMIN-1",
            "RTMAX+1",
            "RTMIN3",
            "RTMIN+",
            "SIGSIGTERM",
        ] {
            let err = parse_signal(input).unwrap_err();
            assert_eq!(err.0, input, "{input:?}");
        }
        assert_eq!(
            parse_signal("BOGUS").unwrap_err().to_string(),
            "invalid signal: `BOGUS`"
        );
    }

    #[test]
    fn stop_signal_precedence() {
        assert_eq!(stop_signal(None, None).unwrap(), 15);
        assert_eq!(stop_signal(None, Some("SIGQUIT")).unwrap(), 3);
        assert_eq!(stop_signal(Some("9"), Some("SIGQUIT")).unwrap(), 9);
        assert_eq!(stop_signal(None, Some("")).unwrap(), 15);
        assert!(stop_signal(None, Some("NOPE")).is_err());
    }
}
