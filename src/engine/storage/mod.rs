//! Container root file systems: which storage driver a new container gets, and the two drivers besides
//! the kernel overlay.
//!
//! - `overlay`: the kernel overlay, mounted by the container process itself inside its mount namespace
//!   (`runtime::mounts`). The default, and the only one that costs nothing extra per run.
//! - `fuse-overlayfs`: Debian's `fuse-overlayfs` binary, started by the process that clones the container
//!   (a foreground `run` or the monitor) in its own mount namespace, for the container's lifetime.
//! - `vfs`: a full copy of the image's layers made at create time; no mount at all.
//!
//! Without `--storage-driver` (or podman's `storage.conf` `driver`), a one-time probe picks the first that
//! works here: the kernel overlay in a user namespace, else fuse-overlayfs, else vfs. The answer is cached
//! in the runtime directory (a tmpfs, so a reboot into another kernel probes again).
#![deny(clippy::print_stdout, clippy::print_stderr)]

pub mod fuse;
pub mod idmapped;
mod probe;
pub mod vfs;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::Ctx;

/// How a container's root file system is made.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Driver {
    #[default]
    Overlay,
    FuseOverlayfs,
    Vfs,
}

impl Driver {
    #[cfg(test)]
    pub const NAMES: [&'static str; 3] = ["overlay", "fuse-overlayfs", "vfs"];

    pub fn as_str(self) -> &'static str {
        match self {
            Driver::Overlay => "overlay",
            Driver::FuseOverlayfs => "fuse-overlayfs",
            Driver::Vfs => "vfs",
        }
    }

    pub fn parse(s: &str) -> Option<Driver> {
        match s {
            "overlay" | "overlay2" => Some(Driver::Overlay),
            "fuse-overlayfs" => Some(Driver::FuseOverlayfs),
            "vfs" => Some(Driver::Vfs),
            _ => None,
        }
    }
}

impl std::fmt::Display for Driver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A driver the user asked for, and where (`--storage-driver`, a `storage.conf`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Forced {
    pub driver: Driver,
    pub source: String,
}

/// The driver new containers get, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selected {
    pub driver: Driver,
    pub why: String,
}

/// Errors of the fuse-overlayfs and vfs drivers.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error(
        "the fuse-overlayfs driver needs `{}`: install Debian's `fuse-overlayfs` package",
        fuse::BINARY
    )]
    NoFuseOverlayfs,
    #[error("failed to start fuse-overlayfs on `{}`", merged.display())]
    FuseStart {
        merged: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("fuse-overlayfs could not mount `{}`: {stderr}", merged.display())]
    FuseMount { merged: PathBuf, stderr: String },
    #[error("fuse-overlayfs did not mount `{}` within {seconds} s", merged.display())]
    FuseTimeout { merged: PathBuf, seconds: u64 },
    #[error("failed to {op} `{}` for the vfs driver", path.display())]
    Vfs {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("failed to {op} `{}` for a layer copy with shifted ids", path.display())]
    Idmap {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("failed to copy layer `{}` into the container", layer.display())]
    VfsLayer {
        layer: PathBuf,
        #[source]
        source: crate::archive::ArchiveError,
    },
}

/// Where the probe's answer is kept.
fn cache_file(ctx: &Ctx) -> PathBuf {
    ctx.paths.runtime.join("storage-driver")
}

/// The driver for a new container: the forced one, else the cached probe, else a fresh probe.
pub fn select(ctx: &Ctx) -> Selected {
    if let Some(f) = &ctx.storage_driver {
        return Selected {
            driver: f.driver,
            why: format!("set by {}", f.source),
        };
    }
    if let Some(s) = read_cache(&cache_file(ctx)) {
        return s;
    }
    let s = probe::probe(&ctx.paths.data.join("tmp"));
    write_cache(&cache_file(ctx), &s);
    s
}

/// Whether the kernel overlay mounts in a user namespace as the runtime mounts it, with a directory
/// made (and removed) in `dir`, on the file system to test; `Err` says which step failed.
pub fn probe_kernel_overlay(dir: &Path) -> Result<(), String> {
    probe::kernel_overlay(dir)
}

fn read_cache(file: &Path) -> Option<Selected> {
    let text = std::fs::read_to_string(file).ok()?;
    let (name, why) = text.split_once('\n')?;
    Some(Selected {
        driver: Driver::parse(name.trim())?,
        why: why.trim().to_string(),
    })
}

/// Atomically, best effort: a lost cache only means probing again.
fn write_cache(file: &Path, s: &Selected) {
    let Some(dir) = file.parent() else { return };
    let tmp = dir.join(format!(".storage-driver.{}", std::process::id()));
    let text = format!("{}\n{}\n", s.driver, s.why);
    if std::fs::create_dir_all(dir).is_ok() && std::fs::write(&tmp, text).is_ok() {
        let _ = std::fs::rename(&tmp, file);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for n in Driver::NAMES {
            assert_eq!(Driver::parse(n).map(Driver::as_str), Some(n));
        }
        assert_eq!(Driver::parse("overlay2"), Some(Driver::Overlay));
        assert_eq!(Driver::parse("btrfs"), None);
        assert_eq!(
            serde_json::to_string(&Driver::FuseOverlayfs).unwrap(),
            "\"fuse-overlayfs\""
        );
    }

    #[test]
    fn cache_round_trip() {
        let tmp = tempfile::tempdir().unwrap();
        let f = tmp.path().join("run/storage-driver");
        assert_eq!(read_cache(&f), None);
        let s = Selected {
            driver: Driver::Vfs,
            why: "no overlay, no fuse".into(),
        };
        write_cache(&f, &s);
        assert_eq!(read_cache(&f), Some(s));
        std::fs::write(&f, "zfs\nwhy\n").unwrap();
        assert_eq!(read_cache(&f), None, "an unknown name probes again");
    }
}
