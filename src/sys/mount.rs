//! Mount flags the kernel keeps locked in a user namespace.
#![deny(clippy::print_stdout, clippy::print_stderr)]

use std::os::fd::AsFd;
use std::path::Path;

use nix::mount::{MsFlags, mount};
use nix::sys::statvfs::{FsFlags, statvfs};

/// Remount the bind mount at `target` read-only. In a user namespace the kernel refuses a remount that
/// would clear a flag it locked (nosuid, nodev, noexec, the atime mode), so those of the mount as it is
/// are passed again.
pub fn remount_bind_read_only(target: &Path) -> nix::Result<()> {
    remount_bind_adding(target, MsFlags::MS_RDONLY)
}

/// Remount bind mount `target` with `add` (`MS_RDONLY`, `MS_NOEXEC` …), keeping the flags it has (the
/// kernel refuses to clear locked ones in a user namespace).
pub fn remount_bind_adding(target: &Path, add: MsFlags) -> nix::Result<()> {
    let now = statvfs(target)?.flags();
    let mut keep = MsFlags::empty();
    for (fs_flag, ms) in [
        (FsFlags::ST_RDONLY, MsFlags::MS_RDONLY),
        (FsFlags::ST_NOSUID, MsFlags::MS_NOSUID),
        (FsFlags::ST_NODEV, MsFlags::MS_NODEV),
        (FsFlags::ST_NOEXEC, MsFlags::MS_NOEXEC),
        (FsFlags::ST_NOATIME, MsFlags::MS_NOATIME),
        (FsFlags::ST_RELATIME, MsFlags::MS_RELATIME),
    ] {
        if now.contains(fs_flag) {
            keep |= ms;
        }
    }
    mount(
        None::<&str>,
        target,
        None::<&str>,
        MsFlags::MS_BIND | MsFlags::MS_REMOUNT | add | keep,
        None::<&str>,
    )
}

/// Attach detached mount `tree` (from open_tree or fsmount) at `target`.
pub fn attach_detached(tree: impl AsFd, target: &Path) -> std::io::Result<()> {
    rustix::mount::move_mount(
        tree.as_fd(),
        "",
        rustix::fs::CWD,
        target,
        rustix::mount::MoveMountFlags::MOVE_MOUNT_F_EMPTY_PATH,
    )
    .map_err(std::io::Error::from)
}

/// Bind the mount tree at `path` (relative to `dir`; empty: `dir` itself) onto `target`, submounts
/// included, as a detached copy attached there (`open_tree` + `move_mount`: the source may be a
/// descriptor from another mount namespace's view).
pub fn bind_tree(dir: impl AsFd, path: &Path, target: &Path) -> std::io::Result<()> {
    use rustix::mount::OpenTreeFlags;
    let mut flags = OpenTreeFlags::OPEN_TREE_CLONE
        | OpenTreeFlags::OPEN_TREE_CLOEXEC
        | OpenTreeFlags::AT_RECURSIVE;
    if path.as_os_str().is_empty() {
        flags |= OpenTreeFlags::AT_EMPTY_PATH;
    }
    let tree = rustix::mount::open_tree(dir, path, flags)?;
    attach_detached(tree, target)
}
