//! Container names (podman's rules and generated `adjective_noun` names) and signal names.
use crate::engine::EngineError;
use crate::store::Store;

const ADJECTIVES: &[&str] = &[
    "brave", "calm", "clever", "eager", "gentle", "happy", "jolly", "keen", "lucid", "merry",
    "nimble", "proud", "quiet", "sharp", "swift", "tender", "upbeat", "vivid", "witty", "zealous",
];
const NOUNS: &[&str] = &[
    "albatross",
    "badger",
    "crane",
    "dunlin",
    "egret",
    "finch",
    "gannet",
    "heron",
    "ibis",
    "jay",
    "kestrel",
    "lark",
    "magpie",
    "nightjar",
    "osprey",
    "puffin",
    "quail",
    "raven",
    "swift",
    "tern",
];

/// podman's rule: `[a-zA-Z0-9][a-zA-Z0-9_.-]*`.
pub fn validate(name: &str) -> Result<String, EngineError> {
    let b = name.as_bytes();
    let ok = !b.is_empty()
        && b[0].is_ascii_alphanumeric()
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-'));
    if !ok {
        return Err(super::FlagError::Name(name.to_string()).into());
    }
    Ok(name.to_string())
}

/// A free `adjective_noun` name.
pub(crate) fn generate(store: &Store) -> Result<String, EngineError> {
    for _ in 0..64 {
        let r: u32 = rand::random();
        let n = format!(
            "{}_{}",
            ADJECTIVES[r as usize % ADJECTIVES.len()],
            NOUNS[(r >> 8) as usize % NOUNS.len()]
        );
        if store.find_containers(&n)?.is_empty() {
            return Ok(n);
        }
    }
    let r: u32 = rand::random();
    Ok(format!("roost_{r:08x}"))
}

/// `SIGTERM`, `TERM`, `15`, `RTMIN+3` → signal number.
/// As podman, a leading `-` is dropped (`-9`, `-KILL`); 0 is not a signal, other numbers out of
/// 1..=64 are out of range.
pub fn parse_signal(s: &str) -> Result<i32, EngineError> {
    let t = s.trim();
    let t = t.strip_prefix('-').unwrap_or(t);
    let bad = || EngineError::from(super::FlagError::Signal(t.to_string()));
    if let Ok(n) = t.parse::<i64>() {
        return match n {
            1..=64 => Ok(n as i32),
            0 => Err(bad()),
            _ => Err(super::FlagError::SignalRange.into()),
        };
    }
    let up = t.to_ascii_uppercase();
    let name = up.strip_prefix("SIG").unwrap_or(&up);
    if let Some(rest) = name.strip_prefix("RTMIN") {
        let off: i32 = if rest.is_empty() {
            0
        } else {
            rest.strip_prefix('+')
                .and_then(|x| x.parse().ok())
                .ok_or_else(bad)?
        };
        let n = libc::SIGRTMIN() + off;
        return if n <= libc::SIGRTMAX() {
            Ok(n)
        } else {
            Err(bad())
        };
    }
    if let Some(rest) = name.strip_prefix("RTMAX") {
        let off: i32 = if rest.is_empty() {
            0
        } else {
            rest.strip_prefix('-')
                .and_then(|x| x.parse().ok())
                .ok_or_else(bad)?
        };
        let n = libc::SIGRTMAX() - off;
        return if n >= libc::SIGRTMIN() {
            Ok(n)
        } else {
            Err(bad())
        };
    }
    format!("SIG{name}")
        .parse::<nix::sys::signal::Signal>()
        .map(|s| s as i32)
        .map_err(|_| bad())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signals() {
        assert_eq!(parse_signal("SIGTERM").unwrap(), 15);
        assert_eq!(parse_signal("term").unwrap(), 15);
        assert_eq!(parse_signal("9").unwrap(), 9);
        assert_eq!(parse_signal("KILL").unwrap(), 9);
        assert_eq!(parse_signal("RTMIN+3").unwrap(), libc::SIGRTMIN() + 3);
        assert!(parse_signal("NOPE").is_err());
        assert!(parse_signal("0").is_err());
        assert_eq!(parse_signal("-9").unwrap(), 9);
        assert_eq!(parse_signal("64").unwrap(), 64);
        let range = |s| parse_signal(s).unwrap_err().to_string();
        assert_eq!(range("65"), "valid signals are 1 through 64");
        assert_eq!(range("-65"), "valid signals are 1 through 64");
        assert_eq!(range("99999999"), "valid signals are 1 through 64");
        assert_eq!(range("0"), "invalid signal: 0");
        assert_eq!(range("-SIGBADSIG"), "invalid signal: SIGBADSIG");
    }

    #[test]
    fn names() {
        assert!(validate("web-1.a_b").is_ok());
        assert!(validate("-x").is_err());
        assert!(validate("a b").is_err());
        assert!(validate("").is_err());
    }
}
