//! A container's root file system per storage driver: its directories at create time, the runtime's
//! view of it, and the fuse-overlayfs mount held while it runs.
use std::path::Path;

use super::{Container, ContainerSpec};
use crate::engine::storage::{Driver, fuse, vfs};
use crate::engine::{Ctx, EngineError};
use crate::runtime::{Rootfs, RootfsMode};
use crate::store::Store;

/// Fill the container's staged directory (see `Store::stage_container_dir`): for vfs, its copy of the
/// image.
pub(super) fn create(
    ctx: &Ctx,
    store: &Store,
    spec: &ContainerSpec,
    dir: &Path,
) -> Result<(), EngineError> {
    if spec.storage_driver == Driver::Vfs {
        let rootfs = dir.join(vfs::ROOTFS);
        std::fs::create_dir(&rootfs).map_err(|e| EngineError::io("create", &rootfs, e))?;
        let layers: Vec<_> = spec.layers.iter().map(|l| store.layer_diff(l)).collect();
        let tmp = store.root().join("tmp");
        vfs::populate(&layers, &rootfs, &tmp, &ctx.apply_options())?;
    }
    Ok(())
}

/// What the runtime mounts (or binds) as the container's root.
pub(super) fn plan(store: &Store, c: &Container) -> Rootfs {
    let dir = store.container_dir(&c.record.id);
    let lower = c
        .spec
        .layers
        .iter()
        .rev()
        .map(|l| store.layer_diff(l))
        .collect();
    let (merged, mode) = match c.spec.storage_driver {
        Driver::Overlay => (dir.join("merged"), RootfsMode::Overlay),
        Driver::FuseOverlayfs => (dir.join("merged"), RootfsMode::Ready),
        Driver::Vfs => (dir.join(vfs::ROOTFS), RootfsMode::Ready),
    };
    Rootfs {
        lower,
        upper: dir.join("diff"),
        work: dir.join("work"),
        merged,
        read_only: c.spec.read_only,
        mode,
    }
}

/// Before the clone: mount what the container's root needs from outside (fuse-overlayfs). Keep the
/// result until the container has ended; dropping it unmounts.
pub(super) fn mount(
    ctx: &Ctx,
    c: &Container,
    rootfs: &Rootfs,
) -> Result<Option<fuse::FuseMount>, EngineError> {
    if c.spec.storage_driver != Driver::FuseOverlayfs {
        return Ok(None);
    }
    let layers = fuse::Layers {
        lower: &rootfs.lower,
        upper: Some((&rootfs.upper, &rootfs.work)),
    };
    let state = super::runtime_dir(ctx, &c.record.id);
    Ok(Some(fuse::mount(&layers, &rootfs.merged, &state)?))
}

/// After the container's processes are gone (`rm`): end a fuse-overlayfs whose parent died without
/// unmounting (a killed monitor).
pub(super) fn stop_leftovers(ctx: &Ctx, store: &Store, c: &Container) {
    if c.spec.storage_driver == Driver::FuseOverlayfs {
        let state = super::runtime_dir(ctx, &c.record.id);
        let merged = store.container_dir(&c.record.id).join("merged");
        fuse::stop_leftover(&state, &merged);
    }
}

/// A file of the running container `c` (pid 1 `pid`), e.g. `etc/passwd`. A fuse-overlayfs root refuses
/// processes outside its user namespace (`exec` and `top` run there), so for one the file is looked up in
/// the upper dir and the layers instead (symlinks are not followed there).
pub(super) fn read_file(ctx: &Ctx, c: &Container, pid: i32, rel: &str) -> Option<String> {
    if let Some(text) = crate::runtime::exec::read_container_file(pid, rel) {
        return Some(text);
    }
    if c.spec.storage_driver != Driver::FuseOverlayfs {
        return None;
    }
    let store = ctx.store_if_exists().ok()??;
    let parts: Vec<&[u8]> = rel.split('/').map(str::as_bytes).collect();
    let path = super::diff::Lower::with_upper(&store, c).path(&parts)?;
    std::fs::symlink_metadata(&path)
        .ok()
        .filter(|m| m.is_file())?;
    std::fs::read_to_string(path).ok()
}
