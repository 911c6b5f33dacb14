//! Cache keys. A step's key is a digest of:
//! - the key of the step before it (for the first step, the base image id or the base stage's key),
//!   so a change invalidates every later step;
//! - the instruction after variable expansion (flags included);
//! - the build arguments in scope (they reach RUN as environment variables);
//! - for COPY and ADD, a digest of every source file: path, type, mode and content digest (context
//!   files through the stat cache in [`super::context`]), the source stage's key for `--from=stage`,
//!   the image id for `--from=image`, the downloaded content for URLs.
//!
//! The key is looked up by primary key in the store's `build_cache` table.
use std::collections::BTreeMap;

use crate::oci::{Digest, Sha256Writer};

const VERSION: &str = "roost-build-cache-v1";

/// The key of a stage's starting point.
pub(super) fn from_key(base: &str, platform: &str) -> Digest {
    Digest::sha256_of(format!("{VERSION}\nFROM {base} {platform}").as_bytes())
}

/// The key of one step.
pub(super) fn step_key(
    prev: &Digest,
    instruction: &str,
    args: &BTreeMap<String, String>,
    content: Option<&Digest>,
) -> Digest {
    use std::io::Write;
    let mut h = Sha256Writer::new();
    let _ = write!(
        h,
        "{VERSION}\n{prev}\n{}\n{instruction}\n",
        instruction.len()
    );
    for (k, v) in args {
        let _ = writeln!(h, "arg {}:{k}={}:{v}", k.len(), v.len());
    }
    if let Some(c) = content {
        let _ = writeln!(h, "content {c}");
    }
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_change_with_every_input() {
        let base = from_key("sha256:aa", "linux/amd64");
        let args: BTreeMap<String, String> = [("A".to_string(), "1".to_string())].into();
        let k = step_key(&base, "RUN x", &args, None);
        assert_eq!(k, step_key(&base, "RUN x", &args, None));
        assert_ne!(k, step_key(&base, "RUN y", &args, None));
        assert_ne!(k, step_key(&base, "RUN x", &BTreeMap::new(), None));
        let c = Digest::sha256_of(b"c");
        assert_ne!(k, step_key(&base, "RUN x", &args, Some(&c)));
        assert_ne!(
            k,
            step_key(&from_key("sha256:bb", "linux/amd64"), "RUN x", &args, None)
        );
        // Field boundaries are unambiguous.
        let a1: BTreeMap<String, String> = [("A".to_string(), "1 B=2".to_string())].into();
        let a2: BTreeMap<String, String> = [
            ("A".to_string(), "1".to_string()),
            ("B".to_string(), "2".to_string()),
        ]
        .into();
        assert_ne!(
            step_key(&base, "x", &a1, None),
            step_key(&base, "x", &a2, None)
        );
    }
}
