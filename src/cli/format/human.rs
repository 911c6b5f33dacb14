//! podman's human-readable sizes, durations and timestamps.
//!
//! Sizes follow docker/go-units `HumanSizeWithPrecision` (decimal units and
//! Go's `%.*g`), durations follow go-units `HumanDuration`, and timestamps
//! follow Go's `time.Time.String()` and `time.RFC3339Nano`.

use jiff::{SignedDuration, Timestamp, Zoned, tz::TimeZone};

const DECIMAL_UNITS: [&str; 9] = ["B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"];

/// go-units `HumanSizeWithPrecision(size, precision)`: `4.27MB`, `127MB`, `1e+03kB`.
pub fn human_size_with_precision(size: f64, precision: usize) -> String {
    let mut size = size;
    let mut unit = 0;
    while size >= 1000.0 && unit < DECIMAL_UNITS.len() - 1 {
        size /= 1000.0;
        unit += 1;
    }
    format!("{}{}", format_g(size, precision), DECIMAL_UNITS[unit])
}

/// The `SIZE` column of `podman images`: three significant digits and a space
/// before the unit (`4.27 MB`, `1.22 kB`, `0 B`).
pub fn image_size(bytes: i64) -> String {
    let s = human_size_with_precision(bytes as f64, 3);
    let split = s.rfind(|c: char| c.is_ascii_digit()).map_or(0, |i| i + 1);
    format!("{} {}", &s[..split], &s[split..])
}

/// Go's `fmt.Sprintf("%.*g", precision, x)` for finite numbers.
pub fn format_g(x: f64, precision: usize) -> String {
    if !x.is_finite() {
        return x.to_string();
    }
    let precision = precision.max(1);
    if x == 0.0 {
        return if x.is_sign_negative() { "-0" } else { "0" }.to_string();
    }
    // `{:e}` rounds the exact binary value correctly, as Go's strconv does.
    let sci = format!("{:.*e}", precision - 1, x);
    let (mantissa, exp) = sci
        .split_once('e')
        .expect("`{:e}` output always contains an exponent");
    let exp: i32 = exp.parse().expect("`{:e}` exponent is an integer");
    let negative = mantissa.starts_with('-');
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let sign = if negative { "-" } else { "" };
    if exp < -4 || exp >= precision as i32 {
        let (int, frac) = digits.split_at(1);
        let frac = frac.trim_end_matches('0');
        let dot = if frac.is_empty() { "" } else { "." };
        let esign = if exp < 0 { '-' } else { '+' };
        return format!("{sign}{int}{dot}{frac}e{esign}{:02}", exp.abs());
    }
    let (int, frac) = if exp >= 0 {
        let split = (exp as usize + 1).min(digits.len());
        (digits[..split].to_string(), digits[split..].to_string())
    } else {
        let zeros = "0".repeat((-exp - 1) as usize);
        ("0".to_string(), format!("{zeros}{digits}"))
    };
    let frac = frac.trim_end_matches('0');
    if frac.is_empty() {
        format!("{sign}{int}")
    } else {
        format!("{sign}{int}.{frac}")
    }
}

/// go-units `HumanDuration`: `Less than a second`, `About a minute`, `3 days`.
pub fn human_duration(d: SignedDuration) -> String {
    let nanos = d.as_nanos();
    let seconds = nanos / 1_000_000_000;
    let minutes = nanos / 60_000_000_000;
    let hours_f = nanos as f64 / 3_600_000_000_000.0;
    if seconds < 1 {
        return "Less than a second".to_string();
    }
    if seconds == 1 {
        return "1 second".to_string();
    }
    if seconds < 60 {
        return format!("{seconds} seconds");
    }
    if minutes == 1 {
        return "About a minute".to_string();
    }
    if minutes < 60 {
        return format!("{minutes} minutes");
    }
    let hours = (hours_f + 0.5) as i64;
    match hours {
        1 => "About an hour".to_string(),
        h if h < 48 => format!("{h} hours"),
        h if h < 24 * 7 * 2 => format!("{} days", h / 24),
        h if h < 24 * 30 * 2 => format!("{} weeks", h / 24 / 7),
        h if h < 24 * 365 * 2 => format!("{} months", h / 24 / 30),
        _ => format!("{} years", hours_f as i64 / 24 / 365),
    }
}

/// podman's `Created` column: `HumanDuration(now - then) + " ago"`.
pub fn time_ago(then: Timestamp, now: Timestamp) -> String {
    format!("{} ago", human_duration(now.duration_since(then)))
}

/// Go's `time.Time.String()` without the monotonic part:
/// `2026-11-25 11:54:26.123456789 +0000 UTC`.
pub fn go_time_string(z: &Zoned) -> String {
    let base = z.strftime("%Y-%m-%d %H:%M:%S");
    let frac = fraction(z.subsec_nanosecond());
    let offset = z.strftime("%z");
    let abbrev = z.strftime("%Z");
    format!("{base}{frac} {offset} {abbrev}")
}

/// [`go_time_string`] in UTC, as podman prints stored timestamps.
pub fn go_time_string_utc(ts: Timestamp) -> String {
    go_time_string(&ts.to_zoned(TimeZone::UTC))
}

/// Go's `time.RFC3339Nano`: `2026-11-25T11:54:26.123456789Z`, trailing zeros dropped.
pub fn rfc3339_nano(z: &Zoned) -> String {
    let base = z.strftime("%Y-%m-%dT%H:%M:%S");
    let frac = fraction(z.subsec_nanosecond());
    let secs = z.offset().seconds();
    if secs == 0 {
        return format!("{base}{frac}Z");
    }
    let sign = if secs < 0 { '-' } else { '+' };
    let abs = secs.abs();
    format!("{base}{frac}{sign}{:02}:{:02}", abs / 3600, abs % 3600 / 60)
}

/// [`rfc3339_nano`] in UTC.
pub fn rfc3339_nano_utc(ts: Timestamp) -> String {
    rfc3339_nano(&ts.to_zoned(TimeZone::UTC))
}

/// Go's `.999999999` layout element: trailing zeros and a bare dot removed.
fn fraction(nanos: i32) -> String {
    if nanos == 0 {
        return String::new();
    }
    let digits = format!("{nanos:09}");
    format!(".{}", digits.trim_end_matches('0'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_match_go_units() {
        let cases: &[(i64, &str)] = &[
            (0, "0 B"),
            (999, "999 B"),
            (1_220, "1.22 kB"),
            (4_270_000, "4.27 MB"),
            (4_274_999, "4.27 MB"),
            (72_800_000, "72.8 MB"),
            (127_000_000, "127 MB"),
            (126_999_999, "127 MB"),
            (1_000_000, "1 MB"),
            (1_500_000_000, "1.5 GB"),
            (999_999, "1e+03 kB"),
            (5_000_000_000_000, "5 TB"),
        ];
        for (bytes, want) in cases {
            assert_eq!(image_size(*bytes), *want, "size {bytes}");
        }
        assert_eq!(human_size_with_precision(1_220.0, 3), "1.22kB");
        assert_eq!(human_size_with_precision(2_746_000.0, 4), "2.746MB");
    }

    #[test]
    fn format_g_matches_go() {
        let cases: &[(f64, usize, &str)] = &[
            (0.0, 3, "0"),
            (1.0, 3, "1"),
            (12.345, 3, "12.3"),
            (0.000_123_4, 3, "0.000123"),
            (0.000_012_34, 3, "1.23e-05"),
            (123_456.0, 3, "1.23e+05"),
            (-2.5, 2, "-2.5"),
        ];
        for (x, p, want) in cases {
            assert_eq!(format_g(*x, *p), *want, "{x} %.{p}g");
        }
    }

    #[test]
    fn durations_match_go_units() {
        let s = SignedDuration::from_secs;
        let cases: &[(SignedDuration, &str)] = &[
            (SignedDuration::from_millis(500), "Less than a second"),
            (s(-5), "Less than a second"),
            (s(1), "1 second"),
            (s(45), "45 seconds"),
            (s(60), "About a minute"),
            (s(119), "About a minute"),
            (s(5 * 60), "5 minutes"),
            (s(59 * 60), "59 minutes"),
            (s(60 * 60), "About an hour"),
            (s(89 * 60), "About an hour"),
            (s(90 * 60), "2 hours"),
            (s(47 * 3600), "47 hours"),
            (s(3 * 86400), "3 days"),
            (s(13 * 86400), "13 days"),
            (s(14 * 86400), "2 weeks"),
            (s(59 * 86400), "8 weeks"),
            (s(150 * 86400), "5 months"),
            (s(729 * 86400), "24 months"),
            (s(730 * 86400), "2 years"),
        ];
        for (d, want) in cases {
            assert_eq!(human_duration(*d), *want, "{d:?}");
        }
    }

    #[test]
    fn time_ago_uses_now() {
        let now: Timestamp = "2026-11-25T12:00:00Z".parse().expect("valid timestamp");
        let then: Timestamp = "2026-11-25T10:00:00Z".parse().expect("valid timestamp");
        assert_eq!(time_ago(then, now), "2 hours ago");
    }

    #[test]
    fn go_timestamps() {
        let ts: Timestamp = "2026-11-25T11:54:26.123456789Z".parse().expect("valid");
        assert_eq!(
            go_time_string_utc(ts),
            "2026-11-25 11:54:26.123456789 +0000 UTC"
        );
        assert_eq!(rfc3339_nano_utc(ts), "2026-11-25T11:54:26.123456789Z");
        let whole: Timestamp = "2026-11-25T11:54:26.5Z".parse().expect("valid");
        assert_eq!(go_time_string_utc(whole), "2026-11-25 11:54:26.5 +0000 UTC");
        let z = whole.to_zoned(TimeZone::fixed(jiff::tz::offset(2)));
        assert_eq!(rfc3339_nano(&z), "2026-11-25T13:54:26.5+02:00");
    }
}
