//! `mount`/`unmount`: a container's root file system at its `merged` directory, for the user to look
//! at or change. Rootless, as in podman, only inside `roost unshare`: the mount lives in that
//! session's mount namespace (outside it, nobody could see the mount, nor read files owned by
//! subordinate ids).
#![deny(clippy::print_stdout, clippy::print_stderr)]

use std::path::{Path, PathBuf};

use rustix::mount::UnmountFlags;

use super::view::{Access, open_live_root, open_root};
use super::{Container, Status, lifecycle};
use crate::engine::{Ctx, EngineError};

/// Mounting needs roost's user (and a mount) namespace that outlives the command: `roost unshare`.
/// `command` is the command as podman names it (`mount`, `volume mount`).
pub(crate) fn check_namespace(ctx: &Ctx, command: &str) -> Result<(), EngineError> {
    if ctx.rootless && ctx.joined.is_none() {
        return Err(super::OpError::NeedsUnshare {
            program: ctx.program,
            command: command.to_string(),
        }
        .into());
    }
    Ok(())
}

/// Where `c` is mounted.
pub fn mount_point(store: &crate::store::Store, c: &Container) -> PathBuf {
    store.container_dir(&c.record.id).join("merged")
}

/// Whether `path` is a mount point in this process's mount namespace.
pub(crate) fn is_mounted(mountinfo: &str, path: &Path) -> bool {
    let want = path.to_string_lossy();
    mountinfo
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .any(|p| unescape(p) == want)
}

/// mountinfo escapes space, tab, newline and backslash as octal.
fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('\\') {
        out.push_str(&rest[..i]);
        let code = rest
            .get(i + 1..i + 4)
            .and_then(|o| u8::from_str_radix(o, 8).ok());
        match code {
            Some(c) => {
                out.push(char::from(c));
                rest = &rest[i + 4..];
            }
            None => {
                out.push('\\');
                rest = &rest[i + 1..];
            }
        }
    }
    out.push_str(rest);
    out
}

pub(crate) fn mountinfo() -> Result<String, EngineError> {
    std::fs::read_to_string("/proc/self/mountinfo")
        .map_err(|e| EngineError::io("read", "/proc/self/mountinfo", e))
}

/// The root of a running container as seen from here (`/proc/PID/root`): its file system is
/// mounted already, in its own mount namespace, and a second writable mount of its layers would
/// change them under the one it runs on.
fn live_root(c: &Container) -> Option<PathBuf> {
    if c.state.status != Status::Running || c.state.pid <= 0 {
        return None;
    }
    matches!(open_live_root(c), Ok(Some(_)))
        .then(|| PathBuf::from(format!("/proc/{}/root", c.state.pid)))
}

/// `mount CONTAINER`: mount its root file system at its `merged` directory (its layers with its
/// writable layer on top) and return that path; a running container's own root is returned as it
/// is. Mounting a mounted container again just returns the path.
pub fn mount(ctx: &Ctx, key: &str) -> Result<PathBuf, EngineError> {
    check_namespace(ctx, "mount")?;
    let store = ctx.store()?;
    let c = lifecycle::find(&store, key)?;
    if let Some(root) = live_root(&c) {
        return Ok(root);
    }
    let target = mount_point(&store, &c);
    if is_mounted(&mountinfo()?, &target) {
        return Ok(target);
    }
    std::fs::create_dir_all(&target).map_err(|e| EngineError::io("create", &target, e))?;
    let root = open_root(&store, &c, Access::Write)?;
    crate::sys::mount::bind_tree(&root, Path::new(""), &target)
        .map_err(|e| EngineError::io("mount the root file system at", &target, e))?;
    Ok(target)
}

/// `unmount CONTAINER`: undo [`mount`]; returns the container's ID (also when it was not mounted,
/// as podman does).
pub fn unmount(ctx: &Ctx, key: &str) -> Result<String, EngineError> {
    check_namespace(ctx, "unmount")?;
    let store = ctx.store()?;
    let c = lifecycle::find(&store, key)?;
    let target = mount_point(&store, &c);
    if is_mounted(&mountinfo()?, &target) {
        rustix::mount::unmount(&target, UnmountFlags::DETACH)
            .map_err(|e| EngineError::io("unmount", &target, e.into()))?;
    }
    Ok(c.record.id)
}

/// `mount` without arguments: the running containers (whose file systems are mounted, as in podman)
/// and those mounted in this mount namespace, with their paths.
pub fn mounted(ctx: &Ctx) -> Result<Vec<(Container, PathBuf)>, EngineError> {
    check_namespace(ctx, "mount")?;
    let info = mountinfo()?;
    let Some(store) = ctx.store_if_exists()? else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for c in lifecycle::list(ctx)? {
        let p = mount_point(&store, &c);
        if is_mounted(&info, &p) {
            out.push((c, p));
        } else if let Some(root) = live_root(&c) {
            out.push((c, root));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_mount_points_in_mountinfo() {
        let info = "36 35 98:0 / /mnt/a\\040b rw,noatime master:1 - ext3 /dev/root rw\n\
                    37 35 0:5 / /home/u/merged rw - overlay overlay rw\n";
        assert!(is_mounted(info, Path::new("/mnt/a b")));
        assert!(is_mounted(info, Path::new("/home/u/merged")));
        assert!(!is_mounted(info, Path::new("/home/u")));
        assert_eq!(unescape("a\\134b\\011"), "a\\b\t");
    }
}
