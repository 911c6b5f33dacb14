//! A container's root file system per storage driver: its directories at create time, the runtime's
//! view of it, and the fuse-overlayfs mount held while it runs.
use std::path::{Path, PathBuf};

use super::spec::RootSource;
use super::{Container, ContainerSpec};

use crate::engine::storage::{Driver, fuse, idmapped, vfs};
use crate::engine::{Ctx, EngineError};
use crate::runtime::{Rootfs, RootfsMode};
use crate::store::Store;

/// Fill the container's staged directory (see `Store::stage_container_dir`): for vfs, its copy of the
/// image. A container in a nested user namespace gets the layers with shifted ids, made here the
/// first time these maps are used.
pub(super) fn create(
    ctx: &Ctx,
    store: &Store,
    spec: &ContainerSpec,
    dir: &Path,
) -> Result<(), EngineError> {
    if is_user_tree(spec) {
        return Ok(());
    }
    let opts = ctx.apply_options();
    let shift = spec.id_maps.as_ref().filter(|_| spec.shifted_layers);
    let layers = match shift {
        Some(maps) => idmapped::ensure(store, &spec.layers, maps, &opts)?,
        None => base_dirs(store, spec),
    };
    let root = match spec.storage_driver {
        Driver::Vfs => dir.join(vfs::ROOTFS),
        Driver::Overlay | Driver::FuseOverlayfs => dir.join("diff"),
    };
    if spec.storage_driver == Driver::Vfs {
        std::fs::create_dir(&root).map_err(|e| EngineError::io("create", &root, e))?;
    }
    // The top dir is the container's `/` (vfs: unless a layer has an entry for it): the image's root
    // owns it, which a nested namespace sees as its root only when shifted.
    if let Some(maps) = shift {
        maps.give_to_root(&root)?;
    }
    if spec.storage_driver == Driver::Vfs {
        let tmp = store.root().join("tmp");
        vfs::populate(&layers, &root, &tmp, &opts)?;
    }
    Ok(())
}

/// The id a `--rootfs` container records as its image's: it has none, and no image has this one.
pub(crate) fn no_image() -> crate::oci::Digest {
    crate::oci::Digest::from_sha256_bytes(&[0; 32])
}

/// Whether the container's root is the user's `--rootfs` directory itself (no overlay, no copy).
pub(super) fn is_user_tree(spec: &ContainerSpec) -> bool {
    matches!(spec.root, RootSource::Dir { overlay: false, .. })
}

/// The tree that is the whole root of a container whose storage is a plain tree (vfs): its copy of the
/// image, or the user's `--rootfs` directory.
pub(super) fn vfs_tree(store: &Store, c: &Container) -> PathBuf {
    match &c.spec.root {
        RootSource::Dir {
            path,
            overlay: false,
        } => path.clone(),
        _ => store.container_dir(&c.record.id).join(vfs::ROOTFS),
    }
}

/// The container's lower directories as stored, bottom first: its image's layers, or the `--rootfs`
/// directory under its overlay (none when that directory is the root itself).
fn base_dirs(store: &Store, spec: &ContainerSpec) -> Vec<PathBuf> {
    match &spec.root {
        RootSource::Image => spec.layers.iter().map(|l| store.layer_diff(l)).collect(),
        RootSource::Dir {
            path,
            overlay: true,
        } => vec![path.clone()],
        RootSource::Dir { overlay: false, .. } => Vec::new(),
    }
}

/// The directories of the container's lower layers, bottom first: as stored, or the copies with ids
/// shifted for its nested user namespace.
pub(super) fn layer_dirs(store: &Store, spec: &ContainerSpec) -> Vec<PathBuf> {
    match spec.id_maps.as_ref().filter(|_| spec.shifted_layers) {
        Some(maps) => {
            let key = maps.key();
            spec.layers
                .iter()
                .map(|l| store.layer_idmapped(l, &key))
                .collect()
        }
        None => base_dirs(store, spec),
    }
}

/// How the container sees the owners of its stored files, for tars of them (`export`, `cp` out):
/// None when it sees them as they are stored.
pub(super) fn container_ids(c: &Container) -> Option<crate::archive::IdMap> {
    let maps = c.spec.id_maps.clone().filter(|_| c.spec.shifted_layers)?;
    Some(Box::new(move |uid, gid| maps.to_container(uid, gid)))
}

/// What the runtime mounts (or binds) as the container's root.
pub(super) fn plan(store: &Store, c: &Container) -> Rootfs {
    let dir = store.container_dir(&c.record.id);
    let lower = layer_dirs(store, &c.spec).into_iter().rev().collect();
    let (merged, mode) = match c.spec.storage_driver {
        Driver::Overlay => (dir.join("merged"), RootfsMode::Overlay),
        Driver::FuseOverlayfs => (dir.join("merged"), RootfsMode::Ready),
        Driver::Vfs => (vfs_tree(store, c), RootfsMode::Ready),
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
