//! `volume mount`/`volume unmount`: a volume's content at its mount point (`…/_data`), for the user
//! to look at or change. As `mount` for containers, rootless only inside `roost unshare`, whose
//! mount namespace the mount lives in. A volume of its own directory is there already; a `type=tmpfs`
//! volume gets a tmpfs there, a `type=bind` one its `device=` directory.
#![deny(clippy::print_stdout, clippy::print_stderr)]

use std::ffi::CString;
use std::path::{Path, PathBuf};

use rustix::fs::CWD;
use rustix::mount::{MountFlags, UnmountFlags};

use super::{Backing, backing, record};
use crate::engine::container::mount::{check_namespace, is_mounted, mountinfo};
use crate::engine::{Ctx, EngineError};

/// `volume mount NAME`: the volume's mount point, with its content mounted there.
pub fn mount(ctx: &Ctx, name: &str) -> Result<PathBuf, EngineError> {
    check_namespace(ctx, "volume mount")?;
    let v = record(ctx, name)?;
    let target = v.mountpoint.clone();
    if is_mounted(&mountinfo()?, &target) {
        return Ok(target);
    }
    match backing(&v.options) {
        Backing::Dir => {}
        Backing::Tmpfs { data } => mount_tmpfs(&target, &data)?,
        Backing::Bind { device } => bind(&device, &target)?,
    }
    Ok(target)
}

/// `volume unmount NAME`: undo [`mount`]; returns the volume's name (also when nothing was
/// mounted, as for a volume of its own directory).
pub fn unmount(ctx: &Ctx, name: &str) -> Result<String, EngineError> {
    check_namespace(ctx, "volume unmount")?;
    let v = record(ctx, name)?;
    if is_mounted(&mountinfo()?, &v.mountpoint) {
        rustix::mount::unmount(&v.mountpoint, UnmountFlags::DETACH)
            .map_err(|e| EngineError::io("unmount", &v.mountpoint, e.into()))?;
    }
    Ok(v.name)
}

fn mount_tmpfs(target: &Path, data: &str) -> Result<(), EngineError> {
    let fail = |e: std::io::Error| EngineError::io("mount a tmpfs at", target, e);
    let data = CString::new(data).map_err(|e| fail(e.into()))?;
    rustix::mount::mount(
        "tmpfs",
        target,
        "tmpfs",
        MountFlags::NOSUID | MountFlags::NODEV,
        data.as_c_str(),
    )
    .map_err(|e| fail(e.into()))
}

fn bind(device: &Path, target: &Path) -> Result<(), EngineError> {
    crate::sys::mount::bind_tree(CWD, device, target)
        .map_err(|e| EngineError::io("bind mount the volume at", target, e))
}
