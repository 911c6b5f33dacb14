//! The vfs driver: the container's root is a full copy of its image, made once at create time.
//!
//! Each layer directory (overlay format) is written as a layer tar and applied onto the container's
//! `rootfs` directory in order, bottom first, with whiteouts applied as deletions and opaque directories
//! emptied, so the copy is exactly what the overlay would show. Changes are found later by comparing the
//! copy with the layers (`diff`), and `commit` builds its layer from them ([`stage_changes`]).
use std::ffi::OsStr;
use std::io::{Seek, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use super::StorageError;
use crate::archive::{ApplyOptions, Whiteouts, apply_layer, write_layer};

/// The name of the copy in the container's directory.
pub const ROOTFS: &str = "rootfs";

/// Copy `layers` (bottom first) into `rootfs`, an empty directory; `tmp` is a staging dir on the store.
pub fn populate(
    layers: &[PathBuf],
    rootfs: &Path,
    tmp: &Path,
    opts: &ApplyOptions,
) -> Result<(), StorageError> {
    let opts = ApplyOptions {
        whiteouts: Whiteouts::Apply,
        ..*opts
    };
    for layer in layers {
        copy_layer(layer, rootfs, tmp, &opts)?;
    }
    Ok(())
}

/// Write `layer` as a tar (in a file under `tmp`, a staging dir on the store) and apply it onto `dest`.
pub fn copy_layer(
    layer: &Path,
    dest: &Path,
    tmp: &Path,
    opts: &ApplyOptions,
) -> Result<(), StorageError> {
    let err = |source| StorageError::VfsLayer {
        layer: layer.to_owned(),
        source,
    };
    let io = |op, source| StorageError::Vfs {
        op,
        path: tmp.to_owned(),
        source,
    };
    let mut tar = tempfile::tempfile_in(tmp).map_err(|e| io("create a file in", e))?;
    let mut w = std::io::BufWriter::new(&mut tar);
    write_layer(layer, &mut w).map_err(err)?;
    w.flush().map_err(|e| io("write", e))?;
    drop(w);
    tar.rewind().map_err(|e| io("read", e))?;
    apply_layer(&tar, dest, opts).map_err(err)?;
    Ok(())
}

/// What [`stage_changes`] puts in the staging tree for one change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Staged {
    /// The entry itself (a directory gets its own metadata, anything else a hard link to the copy's).
    Entry,
    /// A `.wh.NAME` whiteout file.
    Deleted,
}

/// Build, in the empty directory `stage`, an upper-dir-like tree of `changes` (relative paths, parents
/// before children) from the copy at `rootfs`: what `write_layer` turns into the commit's layer.
/// Files are hard links (same file system), so this costs no copying.
pub fn stage_changes(
    rootfs: &Path,
    stage: &Path,
    changes: &[(String, Staged)],
) -> Result<(), StorageError> {
    // Directory times are set last: adding the entries below them changes them.
    let mut dirs = Vec::new();
    for (rel, kind) in changes {
        let rel = rel.trim_start_matches('/');
        let src = rootfs.join(rel);
        let dst = stage.join(rel);
        let io = |op, path: &Path, source| StorageError::Vfs {
            op,
            path: path.to_owned(),
            source,
        };
        let parent = dst.parent().unwrap_or(stage);
        if !parent.exists() {
            std::fs::create_dir_all(parent).map_err(|e| io("create", parent, e))?;
        }
        match kind {
            Staged::Deleted => {
                let name = dst.file_name().unwrap_or_default();
                let wh = parent.join(OsStr::from_bytes(&[b".wh.", name.as_bytes()].concat()));
                std::fs::File::create(&wh).map_err(|e| io("create", &wh, e))?;
            }
            Staged::Entry => {
                let md = std::fs::symlink_metadata(&src).map_err(|e| io("read", &src, e))?;
                if md.is_dir() {
                    std::fs::create_dir(&dst).map_err(|e| io("create", &dst, e))?;
                    copy_dir_metadata(&src, &dst, &md)
                        .map_err(|e| io("copy metadata to", &dst, e))?;
                    dirs.push((dst, md));
                } else {
                    std::fs::hard_link(&src, &dst).map_err(|e| io("link", &dst, e))?;
                }
            }
        }
    }
    for (dst, md) in dirs.iter().rev() {
        set_mtime(dst, md).map_err(|e| StorageError::Vfs {
            op: "set the times of",
            path: dst.clone(),
            source: e,
        })?;
    }
    Ok(())
}

/// Owner, mode and xattrs of directory `src` onto `dst`.
fn copy_dir_metadata(src: &Path, dst: &Path, md: &std::fs::Metadata) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::os::unix::fs::lchown(dst, Some(md.uid()), Some(md.gid()))?;
    std::fs::set_permissions(dst, std::fs::Permissions::from_mode(md.mode() & 0o7777))?;
    let mut names = vec![0u8; 4096];
    let n = rustix::fs::llistxattr(src, &mut names[..]).unwrap_or(0);
    for name in names[..n].split(|b| *b == 0).filter(|n| !n.is_empty()) {
        let name = OsStr::from_bytes(name);
        let mut value = vec![0u8; 65536];
        if let Ok(len) = rustix::fs::lgetxattr(src, name, &mut value[..]) {
            let _ =
                rustix::fs::lsetxattr(dst, name, &value[..len], rustix::fs::XattrFlags::empty());
        }
    }
    Ok(())
}

fn set_mtime(dst: &Path, md: &std::fs::Metadata) -> std::io::Result<()> {
    let mtime = rustix::fs::Timespec {
        tv_sec: md.mtime(),
        tv_nsec: md.mtime_nsec() as _,
    };
    rustix::fs::utimensat(
        rustix::fs::CWD,
        dst,
        &rustix::fs::Timestamps {
            last_access: mtime,
            last_modification: mtime,
        },
        rustix::fs::AtFlags::SYMLINK_NOFOLLOW,
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn staged_changes_are_links_dirs_and_whiteouts() {
        let tmp = tempfile::tempdir().unwrap();
        let (rootfs, stage) = (tmp.path().join("rootfs"), tmp.path().join("stage"));
        std::fs::create_dir_all(rootfs.join("etc/new")).unwrap();
        std::fs::write(rootfs.join("etc/new/f"), "f").unwrap();
        std::os::unix::fs::symlink("f", rootfs.join("etc/new/l")).unwrap();
        std::fs::create_dir(&stage).unwrap();
        let changes = [
            ("/etc".to_string(), Staged::Entry),
            ("/etc/gone".to_string(), Staged::Deleted),
            ("/etc/new".to_string(), Staged::Entry),
            ("/etc/new/f".to_string(), Staged::Entry),
            ("/etc/new/l".to_string(), Staged::Entry),
        ];
        stage_changes(&rootfs, &stage, &changes).unwrap();
        let f = std::fs::metadata(stage.join("etc/new/f")).unwrap();
        assert_eq!(
            f.ino(),
            std::fs::metadata(rootfs.join("etc/new/f")).unwrap().ino()
        );
        assert_eq!(
            std::fs::read_link(stage.join("etc/new/l")).unwrap(),
            Path::new("f")
        );
        assert!(stage.join("etc/.wh.gone").is_file());
        assert!(!stage.join("etc/gone").exists());
        let want = std::fs::metadata(rootfs.join("etc")).unwrap().mtime();
        assert_eq!(std::fs::metadata(stage.join("etc")).unwrap().mtime(), want);
    }
}
