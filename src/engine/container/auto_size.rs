//! `--userns=auto` without `size=`: as podman (containers/storage), the namespace is big enough for
//! every id the image's files use and every id its /etc/passwd and /etc/group name (nobody and
//! nogroup left out), and at least [`super::idmap::AUTO_DEFAULT_SIZE`].
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use crate::oci::Digest;
use crate::store::Store;

/// Ids needed by the image with `layers` (bottom first): its highest id plus one.
pub fn image_span(store: &Store, layers: &[Digest]) -> u32 {
    let dirs: Vec<PathBuf> = layers.iter().map(|l| store.layer_diff(l)).collect();
    let files = dirs.iter().map(|d| tree_span(d)).max().unwrap_or(0);
    let named = dirs
        .iter()
        .rev()
        .find_map(|d| std::fs::read_to_string(d.join("etc/passwd")).ok())
        .map_or(0, |t| names_span(&t, &[2, 3]));
    let groups = dirs
        .iter()
        .rev()
        .find_map(|d| std::fs::read_to_string(d.join("etc/group")).ok())
        .map_or(0, |t| names_span(&t, &[2]));
    files.max(named).max(groups)
}

/// The highest owner (uid or gid) under `dir`, plus one (symlinks not followed).
fn tree_span(dir: &Path) -> u32 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    let mut span = 0;
    for e in entries.flatten() {
        let Ok(m) = e.path().symlink_metadata() else {
            continue;
        };
        span = span.max(m.uid().max(m.gid()).saturating_add(1));
        if m.is_dir() {
            span = span.max(tree_span(&e.path()));
        }
    }
    span
}

/// The highest id in `fields` of a passwd or group file's lines, plus one; nobody's (65534) and
/// the lines of nobody and nogroup are left out, as podman does (else most images would need 65535).
fn names_span(text: &str, fields: &[usize]) -> u32 {
    const NOBODY: u32 = 65534;
    text.lines()
        .filter(|l| !matches!(l.split(':').next(), Some("nobody" | "nogroup")))
        .flat_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            fields
                .iter()
                .filter_map(|i| f.get(*i)?.parse::<u32>().ok())
                .collect::<Vec<_>>()
        })
        .filter(|id| *id != NOBODY)
        .map(|id| id.saturating_add(1))
        .max()
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::names_span;

    #[test]
    fn passwd_and_group_ids_without_nobody() {
        let passwd = "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534::/:/bin/false\napp:x:1000:2000::/:/bin/sh\nodd:x:65534:5::/:/bin/sh\n";
        assert_eq!(names_span(passwd, &[2, 3]), 2001);
        assert_eq!(names_span("root:x:0:\nnogroup:x:65533:\n", &[2]), 1);
        assert_eq!(names_span("", &[2]), 0);
        assert_eq!(names_span("bad line\nx:y:zz:\n", &[2]), 0);
    }
}
