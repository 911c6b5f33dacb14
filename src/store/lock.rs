//! Per-layer file locks, so that two processes pulling the same layer unpack it once.
use std::fs::File;
use std::path::Path;

use nix::fcntl::{Flock, FlockArg};

use super::{Result, StoreError};
use crate::oci::Digest;

/// An exclusive lock on one layer id, released on drop (or when the process dies).
pub struct LayerLock {
    _lock: Flock<File>,
}

impl LayerLock {
    /// Block until the lock for `chain_id` is ours.
    pub fn acquire(locks_dir: &Path, chain_id: &Digest) -> Result<LayerLock> {
        LayerLock::acquire_named(locks_dir, &format!("layer-{}", chain_id.hex()))
    }

    /// Block until the lock `locks_dir/NAME.lock` is ours (a store-wide step other processes must
    /// not interleave with, such as handing out `--userns=auto` ranges).
    pub fn acquire_named(locks_dir: &Path, name: &str) -> Result<LayerLock> {
        let path = locks_dir.join(format!("{name}.lock"));
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| StoreError::io("open lock", &path, e))?;
        let lock = Flock::lock(file, FlockArg::LockExclusive)
            .map_err(|(_, e)| StoreError::io("lock", &path, std::io::Error::from(e)))?;
        Ok(LayerLock { _lock: lock })
    }
}
