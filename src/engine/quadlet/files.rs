//! Finding Quadlet files and their drop-ins in the search directories (highest priority first).
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::{EXTENSIONS, QuadletError, Source};

/// The directories searched, highest priority first (podman-systemd.unit(5)'s lists; the caller
/// builds them from the environment).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SearchDirs(pub Vec<PathBuf>);

impl SearchDirs {
    /// The rootless search path: `$XDG_RUNTIME_DIR/containers/systemd`,
    /// `$XDG_CONFIG_HOME/containers/systemd`, `/etc/containers/systemd/users/$UID`,
    /// `/etc/containers/systemd/users`.
    pub fn user(runtime_dir: Option<&Path>, config_home: &Path, uid: u32) -> SearchDirs {
        let mut dirs = Vec::new();
        if let Some(r) = runtime_dir {
            dirs.push(r.join("containers/systemd"));
        }
        dirs.push(config_home.join("containers/systemd"));
        dirs.push(PathBuf::from(format!(
            "/etc/containers/systemd/users/{uid}"
        )));
        dirs.push(PathBuf::from("/etc/containers/systemd/users"));
        SearchDirs(dirs)
    }

    /// The rootful search path.
    pub fn system() -> SearchDirs {
        SearchDirs(
            [
                "/run/containers/systemd",
                "/etc/containers/systemd",
                "/usr/share/containers/systemd",
            ]
            .iter()
            .map(PathBuf::from)
            .collect(),
        )
    }
}

fn is_quadlet(name: &str) -> bool {
    name.rsplit_once('.')
        .is_some_and(|(stem, ext)| !stem.is_empty() && EXTENSIONS.contains(&ext))
}

/// Every Quadlet file under `dirs` (recursively; symbolic links followed), the first of each name
/// winning, sorted by name, with its drop-ins.
pub fn find_sources(dirs: &SearchDirs) -> Result<Vec<Source>, QuadletError> {
    let mut found: BTreeMap<String, PathBuf> = BTreeMap::new();
    for dir in &dirs.0 {
        walk(dir, &mut |path, name| {
            if is_quadlet(name) {
                found
                    .entry(name.to_string())
                    .or_insert_with(|| path.to_path_buf());
            }
        })?;
    }
    Ok(found
        .into_iter()
        .map(|(name, path)| Source {
            dropins: dropins(dirs, &name),
            name,
            path,
        })
        .collect())
}

fn walk(dir: &Path, f: &mut dyn FnMut(&Path, &str)) -> Result<(), QuadletError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(source) => {
            return Err(QuadletError::Read {
                path: dir.to_path_buf(),
                source,
            });
        }
    };
    let mut entries: Vec<_> = entries.filter_map(Result::ok).collect();
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let path = e.path();
        let name = e.file_name().to_string_lossy().into_owned();
        if path.is_dir() {
            // Drop-in directories are read with their unit, not as units.
            if !name.ends_with(".d") {
                walk(&path, f)?;
            }
        } else {
            f(&path, &name);
        }
    }
    Ok(())
}

/// The drop-in directory names of `name`, most general first: `container.d`, `foo-.container.d`
/// for `foo-bar.container`, `foo@.container.d` for an instance, then `foo-bar.container.d`.
fn dropin_dir_names(name: &str) -> Vec<String> {
    let (stem, ext) = name.rsplit_once('.').unwrap_or((name, ""));
    let mut names = vec![format!("{ext}.d")];
    let base = stem.split_once('@').map_or(stem, |(b, _)| b);
    let mut prefix = String::new();
    for part in base
        .split('-')
        .collect::<Vec<_>>()
        .split_last()
        .map_or(&[][..], |(_, p)| p)
    {
        prefix.push_str(part);
        prefix.push('-');
        names.push(format!("{prefix}.{ext}.d"));
    }
    if let Some((b, inst)) = stem.split_once('@')
        && !inst.is_empty()
    {
        names.push(format!("{b}@.{ext}.d"));
    }
    names.push(format!("{name}.d"));
    names
}

/// The `*.conf` files of `name`'s drop-in directories in every search directory: a file name
/// found in a higher-priority directory hides the same name elsewhere; applied sorted by file name.
fn dropins(dirs: &SearchDirs, name: &str) -> Vec<PathBuf> {
    let mut by_name: BTreeMap<String, PathBuf> = BTreeMap::new();
    for dir in &dirs.0 {
        for d in dropin_dir_names(name) {
            let Ok(entries) = std::fs::read_dir(dir.join(&d)) else {
                continue;
            };
            for e in entries.filter_map(Result::ok) {
                let file = e.file_name().to_string_lossy().into_owned();
                if file.ends_with(".conf") {
                    by_name.entry(file).or_insert_with(|| e.path());
                }
            }
        }
    }
    by_name.into_values().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dropin_dirs_go_from_general_to_specific() {
        assert_eq!(
            dropin_dir_names("foo-bar@x.container"),
            [
                "container.d",
                "foo-.container.d",
                "foo-bar@.container.d",
                "foo-bar@x.container.d"
            ]
        );
        assert_eq!(dropin_dir_names("web.volume"), ["volume.d", "web.volume.d"]);
    }

    #[test]
    fn first_directory_wins_and_dropins_merge() {
        let hi = tempfile::tempdir().unwrap();
        let lo = tempfile::tempdir().unwrap();
        std::fs::write(hi.path().join("web.container"), "[Container]\nImage=a\n").unwrap();
        std::fs::write(lo.path().join("web.container"), "[Container]\nImage=b\n").unwrap();
        std::fs::create_dir_all(lo.path().join("sub")).unwrap();
        std::fs::write(lo.path().join("sub/db.volume"), "[Volume]\n").unwrap();
        std::fs::write(lo.path().join("notes.txt"), "x").unwrap();
        std::fs::create_dir_all(lo.path().join("web.container.d")).unwrap();
        std::fs::write(
            lo.path().join("web.container.d/10-env.conf"),
            "[Container]\nEnvironment=A=1\n",
        )
        .unwrap();
        let dirs = SearchDirs(vec![hi.path().into(), lo.path().into()]);
        let s = find_sources(&dirs).unwrap();
        assert_eq!(
            s.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(),
            ["db.volume", "web.container"]
        );
        let web = s[1].read().unwrap();
        assert_eq!(web.get("Container", "Image"), Some("a"));
        assert_eq!(web.all("Container", "Environment"), ["A=1"]);
    }
}
