//! containers-mounts.conf(5): host paths (`/SRC:/DEST`, one a line) every container gets. As
//! podman does, the file read is `--default-mounts-file`, else the first that exists of the user's
//! `~/.config/containers/mounts.conf` (rootless), `/etc/containers/mounts.conf` and
//! `/usr/share/containers/mounts.conf`. A source that does not exist is skipped. The source's
//! content is copied into the container's runtime directory (once, so a restart keeps what the
//! container changed) and that copy is bound at DEST: the container never writes to the host's
//! files. RUN steps of a build get them too, and they stay out of the step's layer.
use std::path::{Path, PathBuf};

use crate::engine::{Ctx, EngineError};
use crate::runtime;

/// How deep a copied tree may go (a symlink loop in the source stops here).
const MAX_DEPTH: usize = 32;

/// The mounts file in force for `ctx`, if any exists.
pub fn file(ctx: &Ctx) -> Option<PathBuf> {
    if let Some(f) = &ctx.default_mounts_file {
        return f.exists().then(|| f.clone());
    }
    let mut candidates = Vec::new();
    if ctx.rootless {
        candidates.push(ctx.paths.config_home.join("containers/mounts.conf"));
    }
    candidates.push(PathBuf::from("/etc/containers/mounts.conf"));
    candidates.push(PathBuf::from("/usr/share/containers/mounts.conf"));
    candidates.into_iter().find(|f| f.exists())
}

/// The `(source, destination)` lines of a mounts file; blank lines and `#` comments are skipped.
pub fn parse(text: &str, file: &Path) -> Result<Vec<(PathBuf, String)>, EngineError> {
    let mut out = Vec::new();
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let bad = || EngineError::Malformed {
            what: "mount line",
            source_name: file.display().to_string(),
            why: format!("`{line}`: give HOST-PATH:CONTAINER-PATH, both absolute"),
        };
        let (src, dest) = line.split_once(':').ok_or_else(bad)?;
        if !src.starts_with('/') || !dest.starts_with('/') || dest.contains(':') {
            return Err(bad());
        }
        out.push((PathBuf::from(src), dest.to_string()));
    }
    Ok(out)
}

/// The runtime mounts for the container whose runtime directory is `rt`, leaving out destinations
/// `taken` already mounts (a container's own mounts win).
pub fn mounts(ctx: &Ctx, rt: &Path, taken: &[String]) -> Result<Vec<runtime::Mount>, EngineError> {
    let Some(f) = file(ctx) else {
        return Ok(Vec::new());
    };
    let text = std::fs::read_to_string(&f).map_err(|e| EngineError::io("read", &f, e))?;
    let mut out = Vec::new();
    for (src, dest) in parse(&text, &f)? {
        if !src.exists() {
            tracing::warn!(
                "path {} from {} does not exist, skipping",
                src.display(),
                f.display()
            );
            continue;
        }
        if taken.iter().any(|t| same_path(t, &dest)) {
            continue;
        }
        let copy = rt.join("mounts.conf").join(dest.trim_start_matches('/'));
        if !copy.exists() {
            copy_in(&src, &copy, 0).map_err(|e| EngineError::io("copy", &src, e))?;
        }
        out.push(runtime::Mount {
            target: dest,
            kind: runtime::MountKind::Bind {
                source: copy,
                read_only: false,
                chown: None,
                copy_up: false,
                first_chown: None,
                noexec: false,
            },
        });
    }
    Ok(out)
}

fn same_path(a: &str, b: &str) -> bool {
    a.trim_end_matches('/') == b.trim_end_matches('/')
}

/// Copy `src` (a file or a directory tree, symlinks followed) to `dst`, keeping permissions; the
/// copy belongs to whoever runs this (the container's root, in roost's user namespace).
fn copy_in(src: &Path, dst: &Path, depth: usize) -> std::io::Result<()> {
    if depth > MAX_DEPTH {
        return Ok(());
    }
    let meta = std::fs::metadata(src)?;
    if let Some(parent) = dst.parent() {
        std::fs::create_dir_all(parent)?;
    }
    if meta.is_file() {
        std::fs::copy(src, dst)?;
        return Ok(());
    }
    if !meta.is_dir() {
        return Ok(());
    }
    std::fs::create_dir_all(dst)?;
    std::fs::set_permissions(dst, meta.permissions())?;
    for entry in std::fs::read_dir(src)? {
        let entry = entry?;
        copy_in(&entry.path(), &dst.join(entry.file_name()), depth + 1)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_lines_and_refuses_bad_ones() {
        let f = Path::new("mounts.conf");
        let got = parse("# secrets\n\n/a/b:/run/secrets\n  /c:/d  \n", f).unwrap();
        assert_eq!(
            got,
            vec![
                (PathBuf::from("/a/b"), "/run/secrets".to_string()),
                (PathBuf::from("/c"), "/d".to_string())
            ]
        );
        for bad in ["/a", "a:/b", "/a:b", "/a:/b:ro"] {
            let e = parse(bad, f).unwrap_err().to_string();
            assert!(e.contains("mounts.conf") && e.contains(bad), "{e}");
        }
    }

    #[test]
    fn copies_trees_with_modes() {
        use std::os::unix::fs::PermissionsExt;
        let d = tempfile::tempdir().unwrap();
        let src = d.path().join("src");
        std::fs::create_dir_all(src.join("sub")).unwrap();
        std::fs::write(src.join("sub/f"), "x").unwrap();
        std::fs::set_permissions(src.join("sub/f"), std::fs::Permissions::from_mode(0o600))
            .unwrap();
        let dst = d.path().join("rt/mounts.conf/run/secrets");
        copy_in(&src, &dst, 0).unwrap();
        assert_eq!(std::fs::read_to_string(dst.join("sub/f")).unwrap(), "x");
        let mode = std::fs::metadata(dst.join("sub/f"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}
