//! Text quoted from untrusted input (archive entries, Dockerfile lines, registry answers), made safe to
//! put in a message: terminal control characters are escaped and long text is cut.

/// How many characters of quoted input messages keep by default.
pub const QUOTE_LIMIT: usize = 200;

/// `s` with control characters escaped (`\u{1b}`, `\n`, …) and, past `max` characters, cut and
/// followed by `… (N bytes)` (N: the length of the whole of `s`).
pub fn printable(s: &str, max: usize) -> String {
    let mut out = String::with_capacity(s.len().min(max * 2) + 16);
    for (i, c) in s.chars().enumerate() {
        if i == max {
            out.push_str(&format!("… ({} bytes)", s.len()));
            break;
        }
        if c.is_control() {
            out.extend(c.escape_debug());
        } else if invisible(c) {
            out.push_str(&format!("\\u{{{:x}}}", u32::from(c)));
        } else {
            out.push(c);
        }
    }
    out
}

/// Characters that would hide or reorder what is shown (replacement character for invalid UTF-8,
/// zero-width and bidirectional formatting characters).
fn invisible(c: char) -> bool {
    matches!(c, '\u{fffd}' | '\u{feff}' | '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

#[cfg(test)]
/// [`printable`] for bytes, which need not be UTF-8 (invalid sequences show as `\u{fffd}`).
pub fn printable_bytes(b: &[u8], max: usize) -> String {
    let head = &b[..b.len().min(max.saturating_mul(4))];
    let mut s = printable(&String::from_utf8_lossy(head), max);
    if head.len() < b.len() && !s.ends_with(" bytes)") {
        s.push_str(&format!("… ({} bytes)", b.len()));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn escapes_and_cuts() {
        assert_eq!(printable("a\x1b[2Jb", 10), "a\\u{1b}[2Jb");
        assert_eq!(printable("abcdef", 3), "abc… (6 bytes)");
        assert_eq!(printable("abc", 3), "abc");
        assert_eq!(printable_bytes(b"\xff\xfeok", 10), "\\u{fffd}\\u{fffd}ok");
        assert_eq!(printable("a\u{202e}b", 10), "a\\u{202e}b");
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1000))]
        #[test]
        fn output_is_bounded_and_has_no_control_characters(b in proptest::collection::vec(any::<u8>(), 0..2000), max in 0usize..300) {
            let s = printable_bytes(&b, max);
            prop_assert!(!s.chars().any(char::is_control), "{s:?}");
            // Each kept character escapes to at most 10 (`\u{10ffff}`), plus the `… (N bytes)` tail.
            prop_assert!(s.chars().count() <= max * 10 + 24, "{} chars", s.chars().count());
        }
    }
}
