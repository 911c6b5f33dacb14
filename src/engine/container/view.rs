//! A container's root file system as a directory fd, for `cp` and `export`; and the errors of the
//! file-system verbs.
//!
//! A running container's root is `/proc/PID/root` (its live overlay, with its bind mounts). A stopped
//! container gets a detached overlay mount (`fsmount` without `move_mount`): nothing appears in any mount
//! table, and the mount goes away with the last fd. Read-only views stack the upper dir as the top lower
//! dir, so the work dir is never touched.
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};

use rustix::fs::{Mode, OFlags};
use rustix::mount::{FsMountFlags, FsOpenFlags, MountAttrFlags};

use super::{Container, Status};
use crate::engine::storage::{Driver, fuse, vfs};
use crate::store::Store;

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
    #[error("copying between containers is not supported")]
    BothContainers,
    #[error("one of SRC and DEST must be a container path (CONTAINER:PATH)")]
    NoContainer,
    #[error("cannot copy the directory `{src}` to the file `{dest}`")]
    DirToFile { src: String, dest: String },
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
    if c.state.status == Status::Running && c.state.pid > 0 {
        match open_live_root(c) {
            Ok(Some(fd)) => return Ok(fd),
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
    open_storage(store, c, access)
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

/// The container's layers and upper dir as one tree, without its runtime mounts.
pub fn open_storage(store: &Store, c: &Container, access: Access) -> Result<OwnedFd, FsError> {
    let err = |op, source| FsError::Mount {
        op,
        container: c.record.name.clone(),
        source,
    };
    let dir = store.container_dir(&c.record.id);
    if c.spec.storage_driver == Driver::Vfs {
        return open_dir(&dir.join(vfs::ROOTFS)).map_err(|e| err("open", e));
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
    let mount = match access {
        Access::Read => overlay(std::iter::once(&upper).chain(&lowers), None),
        Access::Write => overlay(&lowers, Some((&upper, &dir.join("work")))),
    };
    mount.map_err(|e| err("mount", e))
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

/// A detached overlay mount of `lowers` (top first), writable when given an upper and a work dir.
fn overlay<'a>(
    lowers: impl IntoIterator<Item = &'a PathBuf>,
    upper: Option<(&Path, &Path)>,
) -> std::io::Result<OwnedFd> {
    let fs = rustix::mount::fsopen("overlay", FsOpenFlags::FSOPEN_CLOEXEC)?;
    for l in lowers {
        rustix::mount::fsconfig_set_string(fs.as_fd(), "lowerdir+", l.as_path())?;
    }
    if let Some((upper, work)) = upper {
        rustix::mount::fsconfig_set_string(fs.as_fd(), "upperdir", upper)?;
        rustix::mount::fsconfig_set_string(fs.as_fd(), "workdir", work)?;
    }
    rustix::mount::fsconfig_set_flag(fs.as_fd(), "userxattr")?;
    rustix::mount::fsconfig_create(fs.as_fd())?;
    let attrs = if upper.is_some() {
        MountAttrFlags::empty()
    } else {
        MountAttrFlags::MOUNT_ATTR_RDONLY
    };
    Ok(rustix::mount::fsmount(
        fs.as_fd(),
        FsMountFlags::FSMOUNT_CLOEXEC,
        attrs,
    )?)
}

/// Resolve `path` inside the tree rooted at `root` as the container would (its `/` is `root`: `..` and
/// absolute symlinks cannot leave it), returning an `O_PATH` fd. `dir` requires a directory.
pub fn resolve(root: &OwnedFd, path: &str, dir: bool) -> Result<OwnedFd, FsError> {
    let mut flags = OFlags::PATH | OFlags::CLOEXEC;
    if dir {
        flags |= OFlags::DIRECTORY;
    }
    let p = if path.is_empty() { "/" } else { path };
    crate::sys::path::open_in_root(root, p, flags).map_err(|e| match e {
        rustix::io::Errno::NOENT => FsError::NotFound(path.to_string()),
        rustix::io::Errno::NOTDIR => FsError::NotDir(path.to_string()),
        e => FsError::Inside {
            op: "resolve",
            path: path.to_string(),
            source: e.into(),
        },
    })
}

/// `/proc/self/fd/N` for an fd: a path that reaches exactly the object the fd holds.
pub fn fd_path(fd: &OwnedFd) -> PathBuf {
    use std::os::fd::AsRawFd;
    PathBuf::from(format!("/proc/self/fd/{}", fd.as_raw_fd()))
}
