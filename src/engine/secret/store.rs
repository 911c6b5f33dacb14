//! Where secrets live: `secrets/secrets.json` (the records, written to a temporary file and renamed)
//! and `secrets/filedriver/ID` (each secret's data, 0600), in 0700 directories, changed under
//! `secrets/.lock`.
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};

use nix::fcntl::{Flock, FlockArg};

use super::{SecretError, SecretRecord};
use crate::engine::{Ctx, EngineError};

fn dir(ctx: &Ctx) -> PathBuf {
    ctx.paths.data.join("secrets")
}

pub(super) fn data_dir(ctx: &Ctx) -> PathBuf {
    dir(ctx).join("filedriver")
}

fn io(op: &'static str, path: &Path, source: std::io::Error) -> EngineError {
    SecretError::Io {
        op,
        path: path.to_path_buf(),
        source,
    }
    .into()
}

/// A private directory (0700), made if missing and tightened if it was made looser.
fn private_dir(path: &Path) -> Result<(), EngineError> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(path)
        .map_err(|e| io("create", path, e))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o700))
        .map_err(|e| io("chmod", path, e))
}

pub(super) fn lock(ctx: &Ctx) -> Result<Flock<std::fs::File>, EngineError> {
    let d = dir(ctx);
    private_dir(&d)?;
    let path = d.join(".lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| io("open", &path, e))?;
    Flock::lock(file, FlockArg::LockExclusive).map_err(|(_, e)| io("lock", &path, e.into()))
}

pub(super) fn all(ctx: &Ctx) -> Result<Vec<SecretRecord>, EngineError> {
    all_in(&ctx.paths.data)
}

/// The records in the store at `data` (for completion: no lock).
pub(super) fn all_in(data: &Path) -> Result<Vec<SecretRecord>, EngineError> {
    let path = data.join("secrets").join("secrets.json");
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io("read", &path, e)),
    };
    serde_json::from_str(&text).map_err(|e| {
        SecretError::Malformed {
            path,
            why: e.to_string(),
        }
        .into()
    })
}

pub(super) fn save(ctx: &Ctx, records: &[SecretRecord]) -> Result<(), EngineError> {
    let d = dir(ctx);
    private_dir(&d)?;
    let path = d.join("secrets.json");
    let json = serde_json::to_vec_pretty(records).expect("secret records serialize");
    crate::store::write_atomic(&path, &json, 0o600).map_err(|e| io("write", &path, e))
}

pub(super) fn write_data(ctx: &Ctx, id: &str, data: &[u8]) -> Result<(), EngineError> {
    let d = data_dir(ctx);
    private_dir(&d)?;
    let path = d.join(id);
    crate::store::write_atomic(&path, data, 0o600).map_err(|e| io("write", &path, e))
}

pub(super) fn read_data(ctx: &Ctx, id: &str) -> Result<Vec<u8>, EngineError> {
    let path = data_dir(ctx).join(id);
    std::fs::read(&path).map_err(|e| io("read", &path, e))
}

pub(super) fn delete_data(ctx: &Ctx, id: &str) -> Result<(), EngineError> {
    let path = data_dir(ctx).join(id);
    match std::fs::remove_file(&path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(io("remove", &path, e)),
        _ => Ok(()),
    }
}
