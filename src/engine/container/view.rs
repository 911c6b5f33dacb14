//! A container's root file system as a directory fd, for `cp` and `export`; and the errors of the
//! file-system verbs.
//!
//! A running container's root is `/proc/PID/root` (its live overlay, with its bind mounts). A stopped
//! container gets a detached overlay mount (`fsmount` without `move_mount`): nothing appears in any mount
//! table, and the mount goes away with the last fd. Read-only views stack the upper dir as the top lower
//! dir, so the work dir is never touched.
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

use rustix::fs::{Mode, OFlags};

use super::{Container, Status};
use crate::engine::storage::{Driver, fuse};
use crate::store::Store;
use crate::sys::overlay;

/// Errors of `cp`, `diff`, `export` and `commit`.
#[derive(Debug, thiserror::Error)]
pub enum FsError {
    #[error("failed to {op} the file system of container `{container}`")]
    Mount {
        op: &'static str,
        container: String,
        #[source]
        source: std::io::Error,
    },
    #[error("failed to {op} `{path}` in the container")]
    Inside {
        op: &'static str,
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("failed to {op} `{}`", path.display())]
    Host {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot reach the root of running container `{container}` (`/proc/{pid}/root`)")]
    LiveRoot {
        container: String,
        pid: i32,
        #[source]
        source: std::io::Error,
    },
    #[error("one of SRC and DEST must be a container path (CONTAINER:PATH)")]
    NoContainer,
    #[error("{0:?} could not be found on the host: no such file or directory")]
    NotOnHost(String),
    #[error("{path:?} could not be found on container {container}: no such file or directory")]
    NotInContainer { path: String, container: String },
    #[error("destination must be a directory when copying a directory")]
    DirToNonDir,
    #[error("destination must be a directory when copying from stdin")]
    StdinToNonDir,
    #[error("source must be a (compressed) tar archive when copying from stdin")]
    NotATar,
    #[error("invalid destination: {0:?} must be a directory or a regular file")]
    InvalidDestination(String),
    #[error(
        "error creating {path:?}: a {existing} is in the way of a {incoming} (use --overwrite to replace it): file exists"
    )]
    InTheWay {
        path: String,
        existing: &'static str,
        incoming: &'static str,
    },
    #[error("`{0}` is not a directory")]
    NotDir(String),
    #[error("`{0}`: no such file or directory")]
    NotFound(String),
}

/// Whether the view is written to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Read,
    Write,
}

/// Open the container's root as a directory fd (`O_PATH`): the live root of a running container, else
/// [`open_storage`].
///
/// A running container is reached only through its own root (`/proc/PID/root`, so writes also land in
/// its volumes and tmpfs mounts): a second overlay on the upper dir it has mounted would be a change to
/// the layers under a mounted overlay, which the kernel leaves undefined. A read falls back to a
/// read-only view of the storage when the live root cannot be opened; a write fails instead.
pub fn open_root(store: &Store, c: &Container, access: Access) -> Result<OwnedFd, FsError> {
    open_root_live(store, c, access).map(|(fd, _)| fd)
}

/// [`open_root`], and whether the fd is the live root (which shows the container's mounts).
pub fn open_root_live(
    store: &Store,
    c: &Container,
    access: Access,
) -> Result<(OwnedFd, bool), FsError> {
    if c.state.status == Status::Running && c.state.pid > 0 {
        match open_live_root(c) {
            Ok(Some(fd)) => return Ok((fd, true)),
            // The process is gone: the container is not running any more.
            Ok(None) => {}
            Err(e) if access == Access::Read => {
                tracing::debug!(container = %c.record.id, error = %e, "live root not reachable, reading the storage");
            }
            Err(source) => {
                return Err(FsError::LiveRoot {
                    container: c.record.name.clone(),
                    pid: c.state.pid,
                    source,
                });
            }
        }
    }
    Ok((open_storage(store, c, access)?, false))
}

/// The parent of process `pid` (`None` when there is no such process).
fn parent_of(pid: i32) -> Option<i32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let mut rest = stat.rsplit_once(')')?.1.split_whitespace();
    let state = rest.next()?;
    if state == "Z" || state == "X" {
        return None;
    }
    rest.next()?.parse().ok()
}

/// `/proc/PID/root` of the container's process, checked before and after the open to be the child of
/// the container's monitor (a recycled pid must not make us write into another process's root).
/// `Ok(None)` when the process is gone.
pub(super) fn open_live_root(c: &Container) -> std::io::Result<Option<OwnedFd>> {
    let (pid, monitor) = (c.state.pid, c.state.monitor_pid);
    let ours = || monitor <= 0 || parent_of(pid) == Some(monitor);
    if parent_of(pid).is_none() || !ours() {
        return Ok(None);
    }
    let fd = open_dir(Path::new(&format!("/proc/{pid}/root")))?;
    Ok(ours().then_some(fd))
}

/// The directories of the container's file system, top first (its writable layer, then its image's
/// layers), for reading them without a mount ([`crate::engine::build::view::LayerView`]).
pub fn storage_dirs(store: &Store, c: &Container) -> Vec<PathBuf> {
    let dir = store.container_dir(&c.record.id);
    if c.spec.storage_driver == Driver::Vfs {
        return vec![super::rootfs::vfs_tree(store, c)];
    }
    std::iter::once(dir.join("diff"))
        .chain(super::rootfs::layer_dirs(store, &c.spec).into_iter().rev())
        .collect()
}

/// The container's layers and upper dir as one tree, without its runtime mounts.
pub fn open_storage(store: &Store, c: &Container, access: Access) -> Result<OwnedFd, FsError> {
    let err = |op, source| FsError::Mount {
        op,
        container: c.record.name.clone(),
        source,
    };
    let dir = store.container_dir(&c.record.id);
    if c.spec.storage_driver == Driver::Vfs {
        return open_dir(&super::rootfs::vfs_tree(store, c)).map_err(|e| err("open", e));
    }
    let upper = dir.join("diff");
    let lowers: Vec<PathBuf> = super::rootfs::layer_dirs(store, &c.spec)
        .into_iter()
        .rev()
        .collect();
    if lowers.is_empty() {
        // No image layers: the upper dir is the whole file system.
        return open_dir(&upper).map_err(|e| err("open", e));
    }
    if c.spec.storage_driver == Driver::FuseOverlayfs {
        return fuse_view(store, &dir, &upper, &lowers, access).map_err(|e| err("mount", e));
    }
    let (read_lowers, work);
    let layers = match access {
        Access::Read => {
            read_lowers = std::iter::once(upper.clone())
                .chain(lowers)
                .collect::<Vec<_>>();
            overlay::Layers {
                lower: &read_lowers,
                upper: None,
                read_only: true,
            }
        }
        Access::Write => {
            work = dir.join("work");
            overlay::Layers {
                lower: &lowers,
                upper: Some((&upper, &work)),
                read_only: false,
            }
        }
    };
    // Older kernels mount on a path first: the container's own (empty, in this mount namespace) root.
    overlay::detached(&layers, &dir.join("merged")).map_err(|e| err("mount", e.into()))
}

/// A fuse-overlayfs container's storage: mounted on its `merged` dir in this process's mount namespace,
/// opened, and detached at once, so the mount lives only as long as the descriptor (and the daemon ends
/// with it).
fn fuse_view(
    store: &Store,
    dir: &Path,
    upper: &Path,
    lowers: &[PathBuf],
    access: Access,
) -> std::io::Result<OwnedFd> {
    let read_lowers: Vec<PathBuf> = std::iter::once(upper.to_path_buf())
        .chain(lowers.iter().cloned())
        .collect();
    let work = dir.join("work");
    let layers = match access {
        Access::Read => fuse::Layers {
            lower: &read_lowers,
            upper: None,
        },
        Access::Write => fuse::Layers {
            lower: lowers,
            upper: Some((upper, &work)),
        },
    };
    let state = store.staging_path("fuse-view");
    let mounted = fuse::mount(&layers, &dir.join("merged"), &state);
    let fd = mounted
        .map_err(std::io::Error::other)
        .and_then(fuse::FuseMount::into_detached_root);
    let _ = crate::store::remove_tree(&state);
    fd
}

fn open_dir(p: &Path) -> std::io::Result<OwnedFd> {
    Ok(rustix::fs::open(
        p,
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )?)
}

/// `/proc/self/fd/N` for an fd: a path that reaches exactly the object the fd holds.
pub fn fd_path(fd: &OwnedFd) -> PathBuf {
    use std::os::fd::AsRawFd;
    PathBuf::from(format!("/proc/self/fd/{}", fd.as_raw_fd()))
}
