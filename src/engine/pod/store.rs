//! Pod records: one JSON file per pod in the store's `pods/` directory (written to a temporary file
//! and renamed), changed under `pods/.lock`.
use std::path::{Path, PathBuf};

use nix::fcntl::{Flock, FlockArg};

use super::{PodError, PodRecord};
use crate::engine::{Ctx, EngineError};

fn dir(data: &Path) -> PathBuf {
    data.join("pods")
}

fn io(op: &'static str, path: &Path, source: std::io::Error) -> EngineError {
    PodError::Io {
        op,
        path: path.to_path_buf(),
        source,
    }
    .into()
}

/// Held while a pod is created or removed, so that two `pod create --name X` cannot both succeed.
pub(super) fn lock(ctx: &Ctx) -> Result<Flock<std::fs::File>, EngineError> {
    let d = dir(&ctx.paths.data);
    std::fs::create_dir_all(&d).map_err(|e| io("create", &d, e))?;
    let path = d.join(".lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| io("open", &path, e))?;
    Flock::lock(file, FlockArg::LockExclusive).map_err(|(_, e)| io("lock", &path, e.into()))
}

pub(super) fn save(ctx: &Ctx, r: &PodRecord) -> Result<(), EngineError> {
    let d = dir(&ctx.paths.data);
    std::fs::create_dir_all(&d).map_err(|e| io("create", &d, e))?;
    let path = d.join(format!("{}.json", r.id));
    let json = serde_json::to_vec_pretty(r).expect("pod record serializes");
    crate::store::write_atomic(&path, &json, 0o600).map_err(|e| io("write", &path, e))
}

pub(super) fn delete(ctx: &Ctx, id: &str) -> Result<(), EngineError> {
    let path = dir(&ctx.paths.data).join(format!("{id}.json"));
    match std::fs::remove_file(&path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(io("remove", &path, e)),
        _ => Ok(()),
    }
}

fn read_dir(data: &Path) -> Result<Vec<PodRecord>, EngineError> {
    let d = dir(data);
    let entries = match std::fs::read_dir(&d) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io("read", &d, e)),
    };
    let mut out = Vec::new();
    for entry in entries.flatten() {
        let path = entry.path();
        if path.extension().is_none_or(|x| x != "json") {
            continue;
        }
        let text = std::fs::read_to_string(&path).map_err(|e| io("read", &path, e))?;
        let r: PodRecord = serde_json::from_str(&text).map_err(|e| PodError::Malformed {
            path: path.clone(),
            why: e.to_string(),
        })?;
        out.push(r);
    }
    Ok(out)
}

/// Every pod record.
pub(super) fn all(ctx: &Ctx) -> Result<Vec<PodRecord>, EngineError> {
    read_dir(&ctx.paths.data)
}

/// Pod names in the store at `data` (for completion: no lock, no user namespace).
pub fn names(data: &Path) -> Vec<String> {
    read_dir(data)
        .unwrap_or_default()
        .into_iter()
        .map(|r| r.name)
        .collect()
}

/// A pod by exact name, full id or unique id prefix.
pub(super) fn find(ctx: &Ctx, key: &str) -> Result<PodRecord, EngineError> {
    let all = all(ctx)?;
    if let Some(r) = all.iter().find(|r| r.name == key || r.id == key) {
        return Ok(r.clone());
    }
    let hex = !key.is_empty() && key.chars().all(|c| c.is_ascii_hexdigit());
    let matches: Vec<&PodRecord> = all
        .iter()
        .filter(|r| hex && r.id.starts_with(&key.to_ascii_lowercase()))
        .collect();
    match matches.as_slice() {
        [] => Err(PodError::NoSuchPod(key.to_string()).into()),
        [one] => Ok((*one).clone()),
        many => Err(PodError::Ambiguous {
            input: key.to_string(),
            matches: many
                .iter()
                .map(|r| crate::store::short_id(&r.id).to_string())
                .collect::<Vec<_>>()
                .join(", "),
        }
        .into()),
    }
}

/// A free generated name (`adjective_noun`), unused by pods and containers.
pub(super) fn free_name(ctx: &Ctx, store: &crate::store::Store) -> Result<String, EngineError> {
    let taken = names(&ctx.paths.data);
    for _ in 0..64 {
        let n = crate::engine::container::generate_name(store)?;
        if !taken.contains(&n) {
            return Ok(n);
        }
    }
    Ok(format!("pod_{:08x}", rand::random::<u32>()))
}
