//! `--detach-keys`: the key sequence that detaches an attached client and leaves the container
//! running (podman's default `ctrl-p,ctrl-q`; an empty string turns it off).
#![deny(clippy::print_stdout, clippy::print_stderr)]

use crate::engine::EngineError;

/// podman's default sequence.
pub const DEFAULT_DETACH_KEYS: &str = "ctrl-p,ctrl-q";

/// Parse a sequence as podman does: comma-separated keys, each a single character or `ctrl-X` with X
/// one of `a`-`z`, `@`, `[`, `\`, `]`, `^`, `_`. An empty string gives no sequence.
pub fn parse_detach_keys(s: &str) -> Result<Vec<u8>, EngineError> {
    if s.is_empty() {
        return Ok(Vec::new());
    }
    let bad = || EngineError::from(super::FlagError::DetachKeys(s.to_string()));
    s.split(',')
        .map(|key| {
            let lower = key.to_ascii_lowercase();
            match lower.strip_prefix("ctrl-") {
                Some(k) if k.len() == 1 => match k.as_bytes()[0] {
                    c @ b'a'..=b'z' => Ok(c - b'a' + 1),
                    b'@' => Ok(0),
                    c @ (b'[' | b'\\' | b']' | b'^' | b'_') => Ok(c - b'@'),
                    _ => Err(bad()),
                },
                _ if key.len() == 1 => Ok(key.as_bytes()[0]),
                _ => Err(bad()),
            }
        })
        .collect()
}

/// Watches what the user types for the detach sequence. Bytes that could be the start of the
/// sequence are held back until it is clear whether they are.
#[derive(Debug, Clone, Default)]
pub struct DetachWatch {
    keys: Vec<u8>,
    matched: usize,
}

/// What one read of the user's input gives.
#[derive(Debug, PartialEq, Eq)]
pub struct Typed {
    /// Bytes to pass on to the container.
    pub pass: Vec<u8>,
    /// The whole sequence was typed: detach.
    pub detach: bool,
}

impl DetachWatch {
    pub fn new(keys: Vec<u8>) -> DetachWatch {
        DetachWatch { keys, matched: 0 }
    }

    pub fn feed(&mut self, input: &[u8]) -> Typed {
        let mut pass = Vec::with_capacity(input.len());
        if self.keys.is_empty() {
            pass.extend_from_slice(input);
            return Typed {
                pass,
                detach: false,
            };
        }
        for &b in input {
            if b != self.keys[self.matched] && self.matched > 0 {
                // Not the sequence after all: what was held is ordinary input.
                pass.extend_from_slice(&self.keys[..self.matched]);
                self.matched = 0;
            }
            if b == self.keys[self.matched] {
                self.matched += 1;
                if self.matched == self.keys.len() {
                    self.matched = 0;
                    return Typed { pass, detach: true };
                }
            } else {
                pass.push(b);
            }
        }
        Typed {
            pass,
            detach: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_podman_sequences() {
        assert_eq!(parse_detach_keys("ctrl-p,ctrl-q").unwrap(), [16, 17]);
        assert_eq!(parse_detach_keys("").unwrap(), Vec::<u8>::new());
        assert_eq!(parse_detach_keys("ctrl-a,x").unwrap(), [1, b'x']);
        assert_eq!(
            parse_detach_keys("ctrl-@,ctrl-[,ctrl-\\,ctrl-],ctrl-^,ctrl-_").unwrap(),
            [0, 27, 28, 29, 30, 31]
        );
        assert_eq!(parse_detach_keys("CTRL-Z").unwrap(), [26]);
        for bad in ["ctrl-", "ctrl-1", "ab", "ctrl-p,", "ctrl-pq"] {
            assert!(parse_detach_keys(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn holds_a_prefix_and_detaches_on_the_whole_sequence() {
        let mut w = DetachWatch::new(vec![16, 17]);
        assert_eq!(
            w.feed(b"ab\x10"),
            Typed {
                pass: b"ab".to_vec(),
                detach: false
            }
        );
        assert_eq!(
            w.feed(b"\x11rest"),
            Typed {
                pass: vec![],
                detach: true
            }
        );
        // A held key that turns out not to start the sequence is passed on, in order.
        let mut w = DetachWatch::new(vec![16, 17]);
        assert_eq!(w.feed(b"\x10x").pass, b"\x10x");
        assert_eq!(
            w.feed(b"\x10\x10\x11"),
            Typed {
                pass: vec![16],
                detach: true
            }
        );
        // No sequence: everything passes.
        let mut w = DetachWatch::new(vec![]);
        assert_eq!(w.feed(b"\x10\x11").pass, b"\x10\x11");
    }
}
