//! Layers shifted for a nested user namespace (`--userns=keep-id`, `--uidmap`/`--gidmap`).
//!
//! Layers are stored with the image's ids as ids of roost's namespace. A container in a nested namespace
//! sees them through its map, so under keep-id the image's root files would look like the user's. The
//! kernel cannot shift them rootless: an idmapped mount needs CAP_SYS_ADMIN in the user namespace of the
//! layers' file system (the host's, for a home on ext4: EPERM), and an overlay cannot itself be idmapped
//! (EINVAL). So, as podman does with its "chown" fallback, each layer gets a copy whose owners are shifted
//! for the maps ([`NestedMaps::to_outer`]), made once per maps and layer and reused by every container
//! with those maps, with every storage driver. It lives in the layer's directory, so removing the layer
//! removes it.
use std::collections::HashSet;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use super::{StorageError, vfs};
use crate::archive::{ApplyOptions, Whiteouts};
use crate::engine::container::idmap::NestedMaps;
use crate::oci::Digest;
use crate::store::Store;

/// The shifted copies of `layers` (bottom first) for `maps`, made where missing; returns their dirs.
pub fn ensure(
    store: &Store,
    layers: &[Digest],
    maps: &NestedMaps,
    opts: &ApplyOptions,
) -> Result<Vec<PathBuf>, StorageError> {
    let key = maps.key();
    layers
        .iter()
        .map(|l| {
            let dest = store.layer_idmapped(l, &key);
            if !dest.is_dir() {
                make(store, &store.layer_diff(l), &dest, maps, opts)?;
            }
            Ok(dest)
        })
        .collect()
}

/// Copy `layer` to a staging dir, shift it, and move it into place (a concurrent maker's copy wins).
fn make(
    store: &Store,
    layer: &Path,
    dest: &Path,
    maps: &NestedMaps,
    opts: &ApplyOptions,
) -> Result<(), StorageError> {
    let err = |op, path: &Path, source| StorageError::Idmap {
        op,
        path: path.to_owned(),
        source,
    };
    tracing::debug!(layer = %layer.display(), dest = %dest.display(), "shift layer ids");
    let stage = store.staging_path("idmap");
    std::fs::create_dir(&stage).map_err(|e| err("create", &stage, e))?;
    let opts = ApplyOptions {
        whiteouts: Whiteouts::Overlay,
        ..*opts
    };
    let made = vfs::copy_layer(layer, &stage, &store.root().join("tmp"), &opts)
        .and_then(|()| shift_tree(&stage, maps).map_err(|e| err("shift the ids in", &stage, e)))
        .and_then(|()| {
            let parent = dest.parent().unwrap_or(dest);
            std::fs::create_dir_all(parent).map_err(|e| err("create", parent, e))?;
            match std::fs::rename(&stage, dest) {
                Err(_) if dest.is_dir() => Ok(()),
                r => r.map_err(|e| err("rename", dest, e)),
            }
        });
    let _ = crate::store::remove_tree(&stage);
    made
}

/// Give every entry below `dir` (itself included) the owner that `maps` shows as its current one.
/// Hard-linked files are shifted once; chown clears setuid/setgid, so those modes are set again.
pub fn shift_tree(dir: &Path, maps: &NestedMaps) -> std::io::Result<()> {
    shift_below(dir, maps, &mut HashSet::new())
}

fn shift_below(
    path: &Path,
    maps: &NestedMaps,
    seen: &mut HashSet<(u64, u64)>,
) -> std::io::Result<()> {
    let md = std::fs::symlink_metadata(path)?;
    if md.is_dir() {
        for entry in std::fs::read_dir(path)? {
            shift_below(&entry?.path(), maps, seen)?;
        }
    } else if md.nlink() > 1 && !seen.insert((md.dev(), md.ino())) {
        return Ok(());
    }
    let (uid, gid) = maps.to_outer(md.uid(), md.gid());
    if (uid, gid) == (md.uid(), md.gid()) {
        return Ok(());
    }
    std::os::unix::fs::lchown(path, Some(uid), Some(gid))?;
    if !md.file_type().is_symlink() && md.mode() & 0o6000 != 0 {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(md.mode() & 0o7777))?;
    }
    Ok(())
}
