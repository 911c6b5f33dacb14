//! `ps --size`: how much a container wrote (its overlay upper dir) and how big its image is.
use std::path::Path;

use super::Container;
use crate::engine::EngineError;
use crate::engine::storage::Driver;
use crate::store::Store;

/// podman's `ContainerSize`: `RootFsSize` is the image's (the "virtual" size), `RwSize` what the
/// container added in its writable layer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ContainerSize {
    pub root_fs_size: u64,
    pub rw_size: u64,
}

/// Sizes of `c`: the image record's size and the sum over the container's upper dir.
pub fn size(store: &Store, c: &Container) -> Result<ContainerSize, EngineError> {
    let root_fs_size = store
        .image(&c.record.image_id)?
        .map_or(0, |image| image.size);
    let dir = store.container_dir(&c.record.id);
    let rw_size = match c.spec.storage_driver {
        Driver::Vfs => copy_changes_size(store, c, &super::rootfs::vfs_tree(store, c)),
        Driver::Overlay | Driver::FuseOverlayfs => tree_size(&dir.join("diff")),
    };
    Ok(ContainerSize {
        root_fs_size,
        rw_size,
    })
}

/// A vfs container has no upper dir: the sizes of the files and symlinks its diff names (best effort,
/// like [`tree_size`]: 0 when the copy cannot be read from here).
fn copy_changes_size(store: &Store, c: &Container, rootfs: &Path) -> u64 {
    let Ok(changes) = super::diff::changes(store, c) else {
        return 0;
    };
    changes
        .iter()
        .filter(|ch| ch.kind != super::ChangeKind::Deleted)
        .filter_map(|ch| {
            std::fs::symlink_metadata(rootfs.join(ch.path.trim_start_matches('/'))).ok()
        })
        .filter(|m| m.is_file() || m.is_symlink())
        .map(|m| m.len())
        .sum()
}

/// Sum of the sizes of the regular files and symlinks under `root`, by `lstat` only. The upper dir
/// holds files owned by subordinate ids: directories we cannot list are skipped, not errors.
pub fn tree_size(root: &Path) -> u64 {
    let mut total = 0;
    let mut dirs = vec![root.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let Ok(meta) = std::fs::symlink_metadata(entry.path()) else {
                continue;
            };
            if meta.is_dir() {
                dirs.push(entry.path());
            } else if meta.is_file() || meta.file_type().is_symlink() {
                total += meta.len();
            }
        }
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_files_and_links_below_the_root() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a"), b"12345").unwrap();
        std::fs::create_dir_all(dir.path().join("d/e")).unwrap();
        std::fs::write(dir.path().join("d/e/b"), b"123").unwrap();
        std::os::unix::fs::symlink("a", dir.path().join("d/l")).unwrap();
        assert_eq!(tree_size(dir.path()), 5 + 3 + 1);
        assert_eq!(tree_size(&dir.path().join("missing")), 0);
    }
}
