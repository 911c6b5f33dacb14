//! The image store under the user's data dir:
//!
//! ```text
//! roost.db                  SQLite (WAL): images, their names and digests, layers
//! blobs/sha256/HEX          content-addressed manifests, configs and layer blobs (as received)
//! layers/CHAINHEX/diff      unpacked layers, keyed by chain id, shared by every image that uses them
//! tmp/PID-RANDOM            staging: blobs and layers are written here, verified, then renamed into place
//! locks/                    flock files, one per layer being unpacked
//! ```
//!
//! Crash safety: a blob or layer becomes visible only by an atomic rename of a complete, verified object,
//! and the database changes in one transaction after the files are in place. A killed command leaves only
//! staging entries, which the next writer removes, and unreferenced files, which `prune` removes.
#![deny(clippy::print_stdout, clippy::print_stderr)]

mod blobs;
mod build_cache;
mod containers;
mod db;
mod images;
mod layers;
mod lock;
mod volumes;

use std::io;
use std::path::{Path, PathBuf};

pub use blobs::BlobWriter;
pub use build_cache::CachedStep;
pub use containers::ContainerRecord;
pub use images::{ImageRecord, NewImage};
pub use layers::LayerRecord;
pub use lock::LayerLock;
pub use volumes::VolumeRecord;

use crate::oci::Digest;

/// An id (a container's, pod's, network's: 64 hex digits) in podman's short form, its first 12
/// characters; a shorter one (an id given by hand, a damaged record) as it is.
pub fn short_id(id: &str) -> &str {
    id.get(..12).unwrap_or(id)
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("failed to {op} `{path}`")]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("image store database `{path}`")]
    Db {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
    #[error("blob `{expected}` has digest `{actual}`: the content is corrupt")]
    DigestMismatch { expected: Digest, actual: Digest },
    #[error("blob `{0}` is not in the store")]
    MissingBlob(Digest),
    #[error("layer `{0}` is not in the store")]
    MissingLayer(Digest),
    #[error("image `{0}` is not in the store")]
    MissingImage(String),
    #[error("the container name `{0}` is already in use")]
    NameInUse(String),
    #[error("volume with name {0} already exists: volume already exists")]
    VolumeExists(String),
    #[error("corrupt record in the image store: {0}")]
    Corrupt(String),
}

impl StoreError {
    pub(crate) fn io(op: &'static str, path: &Path, source: io::Error) -> StoreError {
        StoreError::Io {
            op,
            path: path.to_path_buf(),
            source,
        }
    }
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// An open image store.
pub struct Store {
    root: PathBuf,
    db: db::Db,
    /// This process's staging token and the lock that says it is alive (made on first use).
    owner: std::cell::OnceCell<Result<(String, nix::fcntl::Flock<std::fs::File>), String>>,
}

/// The database and its WAL files. SQLite gives the WAL files the database file's mode.
const DB_FILES: [&str; 3] = ["roost.db", "roost.db-wal", "roost.db-shm"];

fn from_paths(e: crate::paths::PathsError) -> StoreError {
    match e {
        crate::paths::PathsError::Create { path, source } => StoreError::Io {
            op: "create",
            path,
            source,
        },
        crate::paths::PathsError::Private { path, source } => StoreError::Io {
            op: "make private",
            path,
            source,
        },
        other => StoreError::Corrupt(other.to_string()),
    }
}

/// Make the store at `root` private: created 0700 when missing; a store an older roost left readable
/// by others (0755, database 0644) gets its root chmod 0700 and its database files 0600. One stat of the
/// root when it is already private: the 0700 root keeps everything below it from other users (image
/// layers keep their own modes inside, which are part of the image).
pub fn make_private(root: &Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    if !crate::paths::private_dir(root).map_err(from_paths)? {
        return Ok(());
    }
    for f in DB_FILES {
        let p = root.join(f);
        match std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => {
                return Err(StoreError::io("make private", &p, e));
            }
            _ => {}
        }
    }
    Ok(())
}

/// Create `path` empty with mode 0600 unless it exists (SQLite would make a new database 0644).
fn create_private_file(path: &Path) -> Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
    {
        Err(e) if e.kind() != io::ErrorKind::AlreadyExists => {
            Err(StoreError::io("create", path, e))
        }
        _ => Ok(()),
    }
}

impl Store {
    /// Open (creating if needed) the store rooted at `root`.
    pub fn open(root: &Path) -> Result<Store> {
        make_private(root)?;
        for d in ["blobs/sha256", "layers", "containers", "tmp", "locks"] {
            crate::paths::ensure_dir(&root.join(d), 0o700).map_err(from_paths)?;
        }
        let db_path = root.join(DB_FILES[0]);
        create_private_file(&db_path)?;
        let db = db::Db::open(&db_path)?;
        Ok(Store {
            root: root.to_path_buf(),
            db,
            owner: Default::default(),
        })
    }

    /// Open the store read-only without creating anything; `None` when it does not exist yet.
    /// Used by listings and shell completion, which must be fast and must not write.
    pub fn open_existing(root: &Path) -> Result<Option<Store>> {
        let path = root.join(DB_FILES[0]);
        if !path.exists() {
            return Ok(None);
        }
        Ok(Some(Store {
            root: root.to_path_buf(),
            db: db::Db::open(&path)?,
            owner: Default::default(),
        }))
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn tmp_dir(&self) -> PathBuf {
        self.root.join("tmp")
    }

    /// This process's staging token, `PID.RANDOM`. The file `tmp/TOKEN.lock` is held locked (flock) for
    /// as long as the process lives, so a cleaner can tell a dead writer's leftovers from a live one's even
    /// when the dead process is a zombie nobody reaps. Container directories and build-step containers
    /// record it too (see [`Store::owner_alive`]).
    pub fn owner_token(&self) -> &str {
        let owner = self.owner.get_or_init(|| {
            let token = format!("{}.{:08x}", std::process::id(), rand::random::<u32>());
            let locking = self.tmp_dir().join(format!(".{token}.locking"));
            let file = std::fs::File::create(&locking).map_err(|e| e.to_string())?;
            let lock = nix::fcntl::Flock::lock(file, nix::fcntl::FlockArg::LockExclusiveNonblock)
                .map_err(|(_, e)| e.to_string())?;
            std::fs::rename(&locking, self.tmp_dir().join(format!("{token}.lock")))
                .map_err(|e| e.to_string())?;
            Ok((token, lock))
        });
        match owner {
            Ok((token, _)) => token,
            // Without a lock the entries still work; a cleaner treats them as a dead process's.
            Err(_) => "nolock",
        }
    }

    /// Whether the roost process that holds `token` (from [`Store::owner_token`]) still runs: its lock
    /// file exists and is locked. Ours is alive; an unknown or free one is dead.
    pub fn owner_alive(&self, token: &str) -> bool {
        if self
            .owner
            .get()
            .and_then(|o| o.as_ref().ok())
            .is_some_and(|(t, _)| t == token)
        {
            return true;
        }
        if token.is_empty() || token.contains('/') || token.starts_with('.') {
            return false;
        }
        let Ok(file) = std::fs::File::open(self.tmp_dir().join(format!("{token}.lock"))) else {
            return false;
        };
        // Taking it (and dropping it at once) means nobody held it.
        nix::fcntl::Flock::lock(file, nix::fcntl::FlockArg::LockSharedNonblock).is_err()
    }

    /// A fresh staging path under `tmp/` (on the store's file system, so renames are atomic).
    pub fn staging_path(&self, what: &str) -> PathBuf {
        let r: u64 = rand::random();
        self.tmp_dir()
            .join(format!("{}-{what}-{r:016x}", self.owner_token()))
    }

    /// Staging entries of roost processes that no longer run (what [`Store::clean_staging`] removes),
    /// without removing anything.
    pub fn dead_staging(&self) -> Vec<PathBuf> {
        let Ok(rd) = std::fs::read_dir(self.tmp_dir()) else {
            return Vec::new();
        };
        let mut out: Vec<PathBuf> = rd
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| !n.ends_with(".lock") && !n.ends_with(".locking"))
            .filter(|n| !self.owner_alive(n.split('-').next().unwrap_or("")))
            .map(|n| self.tmp_dir().join(n))
            .collect();
        out.sort();
        out
    }

    /// Remove staging entries left behind by roost processes that no longer run (their lock is free).
    /// Returns the paths removed. Must run where the files are removable (inside the user namespace for
    /// layers).
    pub fn clean_staging(&self) -> Vec<PathBuf> {
        let mine = self
            .owner
            .get()
            .and_then(|o| o.as_ref().ok())
            .map(|(t, _)| t.clone());
        let mut removed = Vec::new();
        let Ok(rd) = std::fs::read_dir(self.tmp_dir()) else {
            return removed;
        };
        let names: Vec<String> = rd
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        let mut live: Vec<String> = Vec::new();
        let mut dead_locks: Vec<(String, nix::fcntl::Flock<std::fs::File>)> = Vec::new();
        for n in &names {
            let Some(token) = n.strip_suffix(".lock") else {
                continue;
            };
            if Some(token) == mine.as_deref() {
                live.push(token.to_string());
                continue;
            }
            let path = self.tmp_dir().join(n);
            let Ok(file) = std::fs::File::open(&path) else {
                continue;
            };
            match nix::fcntl::Flock::lock(file, nix::fcntl::FlockArg::LockExclusiveNonblock) {
                Ok(lock) => dead_locks.push((token.to_string(), lock)),
                Err(_) => live.push(token.to_string()),
            }
        }
        for n in &names {
            if let Some(token) = n.strip_prefix('.').and_then(|t| t.strip_suffix(".locking")) {
                // A process killed between making its lock file and renaming it into place.
                if !locker_alive(token) {
                    let _ = std::fs::remove_file(self.tmp_dir().join(n));
                }
                continue;
            }
            if n.ends_with(".lock") {
                continue;
            }
            let token = n.split('-').next().unwrap_or("");
            if live.iter().any(|t| t == token) {
                continue;
            }
            let p = self.tmp_dir().join(n);
            if remove_tree(&p).is_ok() {
                removed.push(p);
            }
        }
        for (token, lock) in dead_locks {
            let _ = std::fs::remove_file(self.tmp_dir().join(format!("{token}.lock")));
            drop(lock);
        }
        removed
    }
}

/// Whether the process of a staging token (`PID.RANDOM`) whose lock file is still being made may be
/// alive: unparsable, or a process by that id exists (ours or another user's).
fn locker_alive(token: &str) -> bool {
    let Some(pid) = token.split('.').next().and_then(|p| p.parse::<i32>().ok()) else {
        return true;
    };
    !matches!(
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None),
        Err(nix::errno::Errno::ESRCH)
    )
}

impl Drop for Store {
    /// A process that ends normally removes its lock file; leftovers of ours (none, normally) then look
    /// like a dead writer's to the next cleaner.
    fn drop(&mut self) {
        if let Some(Ok((token, _))) = self.owner.get() {
            let _ = std::fs::remove_file(self.tmp_dir().join(format!("{token}.lock")));
        }
    }
}

/// Remove a file or directory tree; read-only directories are made writable first.
pub fn remove_tree(p: &Path) -> io::Result<()> {
    match std::fs::symlink_metadata(p) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
        Ok(m) if m.is_dir() => match std::fs::remove_dir_all(p) {
            Ok(()) => Ok(()),
            Err(_) => {
                make_writable(p);
                std::fs::remove_dir_all(p)
            }
        },
        Ok(_) => std::fs::remove_file(p),
    }
}

fn make_writable(dir: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700));
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                make_writable(&e.path());
            }
        }
    }
}

/// Write `data` to `path` atomically, replacing what is there (see [`crate::sys::fs::write_atomic`]).
pub fn write_atomic(path: &Path, data: &[u8], mode: u32) -> io::Result<()> {
    crate::sys::fs::write_atomic(path, data, mode, crate::sys::fs::Existing::Replace)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_ids() {
        let id = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
        assert_eq!(short_id(id), "0123456789ab");
        assert_eq!(short_id("abc"), "abc");
        assert_eq!(short_id(""), "");
    }

    #[test]
    fn store_is_private_and_an_old_open_one_is_tightened() {
        use std::os::unix::fs::PermissionsExt;
        let t = tempfile::tempdir().unwrap();
        let root = t.path().join("roost");
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        drop(Store::open(&root).unwrap());
        assert_eq!(mode(&root), 0o700);
        for f in DB_FILES {
            let p = root.join(f);
            if p.exists() {
                assert_eq!(mode(&p), 0o600, "{f}");
            }
        }
        let set = |p: &Path, m| std::fs::set_permissions(p, std::fs::Permissions::from_mode(m));
        set(&root, 0o755).unwrap();
        set(&root.join("roost.db"), 0o644).unwrap();
        make_private(&root).unwrap();
        assert_eq!(mode(&root), 0o700);
        assert_eq!(mode(&root.join("roost.db")), 0o600);
    }

    #[test]
    fn atomic_write_replaces_whole_file() {
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("f.json");
        write_atomic(&p, b"one", 0o600).unwrap();
        write_atomic(&p, b"two", 0o600).unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"two");
        assert_eq!(
            std::fs::read_dir(t.path()).unwrap().count(),
            1,
            "no temp files left"
        );
    }

    #[test]
    fn staging_of_dead_processes_is_cleaned() {
        let t = tempfile::tempdir().unwrap();
        let s = Store::open(t.path()).unwrap();
        let mine = s.staging_path("layer");
        std::fs::create_dir_all(mine.join("diff/a")).unwrap();
        // A dead writer: its lock file exists but nobody holds it.
        let dead = s.tmp_dir().join("999999999.0000abcd-layer-0");
        std::fs::create_dir_all(dead.join("x")).unwrap();
        std::fs::write(s.tmp_dir().join("999999999.0000abcd.lock"), b"").unwrap();
        // A live writer: another open store holds its lock.
        let other = Store::open(t.path()).unwrap();
        let theirs = other.staging_path("blob");
        std::fs::write(&theirs, b"x").unwrap();
        // Lock files a process was killed making (no such pid), and one being made now (ours).
        let unmade = s.tmp_dir().join(".999999999.0000dead.locking");
        let making = s
            .tmp_dir()
            .join(format!(".{}.00001234.locking", std::process::id()));
        std::fs::write(&unmade, b"").unwrap();
        std::fs::write(&making, b"").unwrap();
        let removed = s.clean_staging();
        assert_eq!(removed, vec![dead.clone()]);
        assert!(mine.exists() && theirs.exists() && !dead.exists());
        assert!(!s.tmp_dir().join("999999999.0000abcd.lock").exists());
        assert!(!unmade.exists() && making.exists());
    }
}
