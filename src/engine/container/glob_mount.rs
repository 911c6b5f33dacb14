//! `--mount type=glob` (podman-run(1)): a bind mount of every host path a glob matches, made when the
//! container is created. Without a destination each match is mounted at its own path; with one, in
//! that directory under its own name.
use std::path::{Path, PathBuf};

use super::mount_spec::{Mount, MountKind};
use crate::engine::EngineError;
use crate::engine::build::ignore::glob_regex;
use crate::engine::volume::VolumeError;

/// `mounts` with each glob mount replaced by binds of its matches (sorted); an error for a glob
/// that matches nothing.
pub fn expand(mounts: Vec<Mount>) -> Result<Vec<Mount>, EngineError> {
    let mut out = Vec::with_capacity(mounts.len());
    for m in mounts {
        if m.kind != MountKind::Glob {
            out.push(m);
            continue;
        }
        let matches = matching_paths(&m.source)?;
        if matches.is_empty() {
            return Err(VolumeError::NoGlobMatch(m.source).into());
        }
        out.extend(matches.iter().map(|path| bind_of(&m, path)));
    }
    Ok(out)
}

/// The bind for one match of glob mount `m`.
fn bind_of(m: &Mount, path: &Path) -> Mount {
    let destination = match m.destination.is_empty() {
        true => path.to_path_buf(),
        false => Path::new(&m.destination).join(path.file_name().unwrap_or_default()),
    };
    Mount {
        kind: MountKind::Bind,
        source: path.display().to_string(),
        destination: destination.display().to_string(),
        ..m.clone()
    }
}

fn is_pattern(component: &str) -> bool {
    component.contains(['*', '?', '[', '\\'])
}

/// The existing paths matching absolute glob `pattern` (`*`, `?`, `[…]` within one component, as
/// Go's filepath.Glob), sorted. Entries starting with `.` match only a pattern that starts so too.
fn matching_paths(pattern: &str) -> Result<Vec<PathBuf>, EngineError> {
    let mut found = vec![PathBuf::from("/")];
    for component in pattern.split('/').filter(|c| !c.is_empty()) {
        if !is_pattern(component) {
            found = found
                .into_iter()
                .map(|p| p.join(component))
                .filter(|p| p.symlink_metadata().is_ok())
                .collect();
            continue;
        }
        let re = glob_regex(component, false)
            .map_err(|why| VolumeError::BadGlob(pattern.to_string(), why))?;
        let mut next = Vec::new();
        for dir in &found {
            let Ok(entries) = std::fs::read_dir(dir) else {
                continue;
            };
            for name in entries.flatten().map(|e| e.file_name()) {
                let Some(name) = name.to_str() else { continue };
                if re.is_match(name) && (!name.starts_with('.') || component.starts_with('.')) {
                    next.push(dir.join(name));
                }
            }
        }
        found = next;
    }
    found.sort();
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_expand_to_binds() {
        let t = tempfile::tempdir().unwrap();
        for d in ["foo1", "foo2", "other"] {
            std::fs::create_dir(t.path().join(d)).unwrap();
            std::fs::write(t.path().join(d).join(format!("bar-{d}")), "").unwrap();
        }
        let root = t.path().display().to_string();
        let mut glob = Mount::new(MountKind::Glob, &format!("{root}/foo?/bar*"), "/dst");
        glob.read_only = true;
        let got = expand(vec![glob]).unwrap();
        let pairs: Vec<(String, String, bool)> = got
            .iter()
            .map(|m| (m.source.clone(), m.destination.clone(), m.read_only))
            .collect();
        assert_eq!(
            pairs,
            [
                (
                    format!("{root}/foo1/bar-foo1"),
                    "/dst/bar-foo1".into(),
                    true
                ),
                (
                    format!("{root}/foo2/bar-foo2"),
                    "/dst/bar-foo2".into(),
                    true
                ),
            ]
        );
        assert!(got.iter().all(|m| m.kind == MountKind::Bind));
        let same = expand(vec![Mount::new(MountKind::Glob, &format!("{root}/o*"), "")]).unwrap();
        assert_eq!(same[0].destination, format!("{root}/other"));
        let none = expand(vec![Mount::new(
            MountKind::Glob,
            &format!("{root}/zz*"),
            "",
        )]);
        assert_eq!(
            none.unwrap_err().to_string(),
            format!("no file paths matching glob \"{root}/zz*\"")
        );
    }
}
