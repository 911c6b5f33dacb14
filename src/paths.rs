//! Where roost keeps things: resolved once at the edge and passed down, so that the engine never reads the
//! environment and tests can isolate everything through XDG variables.
#![deny(clippy::print_stdout, clippy::print_stderr)]

use std::fs;
use std::io;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// The directories of one roost invocation.
#[derive(Debug, Clone)]
pub struct Paths {
    /// Persistent store: `$XDG_DATA_HOME/roost` (`~/.local/share/roost`) or `--root`.
    pub data: PathBuf,
    /// Runtime state: `$XDG_RUNTIME_DIR/roost` or `--runroot`.
    pub runtime: PathBuf,
    /// `$XDG_RUNTIME_DIR` itself (or the private fallback), for podman's `containers/auth.json`.
    pub runtime_base: PathBuf,
    /// `$XDG_CONFIG_HOME` (`~/.config`).
    pub config_home: PathBuf,
    pub home: PathBuf,
    /// Set when XDG_RUNTIME_DIR was unusable and a private fallback was used; says why.
    pub runtime_fallback: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum PathsError {
    #[error("cannot determine the home directory: HOME is not set")]
    NoHome,
    #[error("failed to create directory `{path}`")]
    Create {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("runtime directory `{path}` is owned by uid {owner}, not by you (uid {uid})")]
    Owner { path: PathBuf, owner: u32, uid: u32 },
    #[error("runtime directory `{path}` is a symbolic link or not a directory")]
    NotDir { path: PathBuf },
    #[error("failed to make `{path}` private (mode 0700)")]
    Private {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

impl PathsError {
    /// What to do about it.
    pub fn hint(&self) -> Option<String> {
        match self {
            PathsError::Owner { path, .. } | PathsError::NotDir { path } => Some(format!(
                "someone else made `{}`, so roost will not keep its state there: remove it (as root if it is \
                 not yours), or set XDG_RUNTIME_DIR to a directory of your own with mode 0700",
                path.display()
            )),
            PathsError::NoHome => Some("set HOME".into()),
            _ => None,
        }
    }
}

/// The process environment that decides the paths (read by the CLI layer, never by the engine).
#[derive(Debug, Clone, Default)]
pub struct PathEnv {
    pub home: Option<PathBuf>,
    pub xdg_data_home: Option<PathBuf>,
    pub xdg_config_home: Option<PathBuf>,
    pub xdg_runtime_dir: Option<PathBuf>,
    pub root: Option<PathBuf>,
    pub runroot: Option<PathBuf>,
}

impl PathEnv {
    /// Reads HOME and the XDG variables from the environment.
    pub fn from_process() -> PathEnv {
        let var = |k: &str| {
            std::env::var_os(k)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        };
        let dirs = directories::BaseDirs::new();
        PathEnv {
            home: var("HOME").or_else(|| dirs.as_ref().map(|d| d.home_dir().to_path_buf())),
            xdg_data_home: var("XDG_DATA_HOME").filter(|p| p.is_absolute()),
            xdg_config_home: var("XDG_CONFIG_HOME").filter(|p| p.is_absolute()),
            xdg_runtime_dir: var("XDG_RUNTIME_DIR").filter(|p| p.is_absolute()),
            root: None,
            runroot: None,
        }
    }
}

impl Paths {
    /// Resolve the directories. Does not create the store, only the runtime base when it falls back.
    pub fn resolve(env: &PathEnv) -> Result<Paths, PathsError> {
        let uid = nix::unistd::geteuid().as_raw();
        let home = env.home.clone().ok_or(PathsError::NoHome)?;
        let data_home = env
            .xdg_data_home
            .clone()
            .unwrap_or_else(|| home.join(".local/share"));
        let config_home = env
            .xdg_config_home
            .clone()
            .unwrap_or_else(|| home.join(".config"));
        let (runtime_base, runtime_fallback) = match &env.xdg_runtime_dir {
            Some(dir) => match usable_runtime_dir(dir, uid) {
                Ok(()) => (dir.clone(), None),
                Err(why) => (fallback_runtime_dir(uid)?, Some(why)),
            },
            None => (
                fallback_runtime_dir(uid)?,
                Some("XDG_RUNTIME_DIR is not set".to_string()),
            ),
        };
        Ok(Paths {
            data: env.root.clone().unwrap_or_else(|| data_home.join("roost")),
            runtime: env
                .runroot
                .clone()
                .unwrap_or_else(|| runtime_base.join("roost")),
            runtime_base,
            config_home,
            home,
            runtime_fallback,
        })
    }
}

fn usable_runtime_dir(dir: &Path, uid: u32) -> Result<(), String> {
    match fs::metadata(dir) {
        Ok(m) if !m.is_dir() => Err(format!(
            "XDG_RUNTIME_DIR `{}` is not a directory",
            dir.display()
        )),
        Ok(m) if m.uid() != uid => Err(format!(
            "XDG_RUNTIME_DIR `{}` is owned by uid {}, not by you (uid {uid})",
            dir.display(),
            m.uid()
        )),
        Ok(_) => Ok(()),
        Err(e) => Err(format!(
            "XDG_RUNTIME_DIR `{}` is not usable: {e}",
            dir.display()
        )),
    }
}

/// A private 0700 directory, as podman does when XDG_RUNTIME_DIR is missing: `/run/roost-run-0` for root
/// (only root can create names in /run), `$TMPDIR/roost-run-UID` (default /tmp) for everyone else. The name
/// is predictable, so it is used only if it is a real directory that `uid` owns: one another user made
/// first (or a symlink planted there) is refused, not shared. In a sticky /tmp nobody else can rename or
/// remove it once it is ours.
fn fallback_runtime_dir(uid: u32) -> Result<PathBuf, PathsError> {
    let parent = if uid == 0 && Path::new("/run").is_dir() {
        PathBuf::from("/run")
    } else {
        std::env::temp_dir()
    };
    let dir = parent.join(format!("roost-run-{uid}"));
    match fs::DirBuilder::new().mode(0o700).create(&dir) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
        Err(source) => return Err(PathsError::Create { path: dir, source }),
    }
    let meta = fs::symlink_metadata(&dir).map_err(|source| PathsError::Create {
        path: dir.clone(),
        source,
    })?;
    if !meta.is_dir() {
        return Err(PathsError::NotDir { path: dir });
    }
    if meta.uid() != uid {
        return Err(PathsError::Owner {
            path: dir,
            owner: meta.uid(),
            uid,
        });
    }
    if meta.permissions().mode() & 0o077 != 0 {
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o700)).map_err(|source| {
            PathsError::Private {
                path: dir.clone(),
                source,
            }
        })?;
    }
    Ok(dir)
}

/// Make `dir` private to its owner: created 0700 when missing (its parents as usual), and chmod 0700 when
/// it exists, is ours and others could enter it (a store or runtime dir an older roost made 0755). One
/// stat when it is already private; nothing below it is walked, since a 0700 directory already keeps
/// everything below it from other users. Returns whether it was tightened.
pub fn private_dir(dir: &Path) -> Result<bool, PathsError> {
    let create = |path: &Path, source| PathsError::Create {
        path: path.to_path_buf(),
        source,
    };
    match fs::metadata(dir) {
        Ok(m) => {
            let ours = m.uid() == nix::unistd::geteuid().as_raw();
            if !ours || m.permissions().mode() & 0o077 == 0 {
                return Ok(false);
            }
            fs::set_permissions(dir, fs::Permissions::from_mode(0o700)).map_err(|source| {
                PathsError::Private {
                    path: dir.to_path_buf(),
                    source,
                }
            })?;
            Ok(true)
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            if let Some(parent) = dir.parent() {
                fs::create_dir_all(parent).map_err(|e| create(parent, e))?;
            }
            match fs::DirBuilder::new().mode(0o700).create(dir) {
                Ok(()) => Ok(false),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(false),
                Err(e) => Err(create(dir, e)),
            }
        }
        Err(e) => Err(create(dir, e)),
    }
}

/// Create a directory and its parents with the given mode (existing ones are left alone).
pub fn ensure_dir(path: &Path, mode: u32) -> Result<(), PathsError> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(mode)
        .create(path)
        .map_err(|source| PathsError::Create {
            path: path.to_path_buf(),
            source,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xdg_overrides_home() {
        let t = tempfile::tempdir().unwrap();
        let env = PathEnv {
            home: Some("/home/x".into()),
            xdg_data_home: Some("/d".into()),
            xdg_config_home: None,
            xdg_runtime_dir: Some(t.path().to_path_buf()),
            ..Default::default()
        };
        let p = Paths::resolve(&env).unwrap();
        assert_eq!(p.data, PathBuf::from("/d/roost"));
        assert_eq!(p.config_home, PathBuf::from("/home/x/.config"));
        assert_eq!(p.runtime, t.path().join("roost"));
        assert!(p.runtime_fallback.is_none());
    }

    #[test]
    fn missing_runtime_dir_falls_back_privately() {
        let env = PathEnv {
            home: Some("/home/x".into()),
            ..Default::default()
        };
        let p = Paths::resolve(&env).unwrap();
        assert!(p.runtime_fallback.is_some());
        let mode = fs::metadata(&p.runtime_base).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700);
    }

    #[test]
    fn private_dir_is_made_0700_and_tightened_once() {
        let t = tempfile::tempdir().unwrap();
        let dir = t.path().join("share/roost");
        assert!(
            !private_dir(&dir).unwrap(),
            "a new directory needs no tightening"
        );
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&dir), 0o700);
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).unwrap();
        assert!(private_dir(&dir).unwrap());
        assert_eq!(mode(&dir), 0o700);
        assert!(!private_dir(&dir).unwrap());
    }

    #[test]
    fn foreign_runtime_dir_is_refused() {
        let t = tempfile::tempdir().unwrap();
        let foreign = if nix::unistd::geteuid().is_root() {
            // As root, make a directory that someone else owns.
            std::os::unix::fs::chown(t.path(), Some(65534), Some(65534)).unwrap();
            t.path().to_path_buf()
        } else {
            PathBuf::from("/")
        };
        let env = PathEnv {
            home: Some("/home/x".into()),
            xdg_runtime_dir: Some(foreign),
            ..Default::default()
        };
        let p = Paths::resolve(&env).unwrap();
        assert!(p.runtime_fallback.unwrap().contains("owned by uid"));
    }
}
