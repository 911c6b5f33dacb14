//! `diff`: what a container changed, from its overlay upper dir compared with the image's layers.
//!
//! A 0/0 character device in the upper dir is a deletion; a file that the layers also have is a change,
//! anything else an addition; a directory the layers have is changed when something below it is (or its
//! owner or mode is). An opaque directory deletes what the layers had in it. Empty placeholders that the
//! runtime created for its bind-mounted init files are not changes.
use std::collections::BTreeSet;
use std::ffi::OsStr;
use std::fs::Metadata;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use rustix::fs::{AtFlags, FileType, OFlags, Stat};

use super::view::FsError;
use super::{Container, find};
use crate::archive::{
    FUSE_MARKER_WHITEOUT, FUSE_OPAQUE_XATTR, OPAQUE_MARKER, OPAQUE_XATTR, list_dir, open_nofollow,
};
use crate::engine::storage::Driver;
use crate::engine::{Ctx, EngineError};
use crate::store::Store;

/// Files the runtime bind-mounts from its runtime directory; when the image lacks them it creates empty
/// placeholders in the upper dir to mount on.
pub(crate) const INIT_FILES: [&str; 4] = [
    "etc/hosts",
    "etc/hostname",
    "etc/resolv.conf",
    "run/.containerenv",
];

const TRUSTED_OPAQUE_XATTR: &str = "trusted.overlay.opaque";

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
pub enum ChangeKind {
    Changed,
    Added,
    Deleted,
}

impl ChangeKind {
    /// podman's one-letter code.
    pub fn letter(self) -> char {
        match self {
            ChangeKind::Changed => 'C',
            ChangeKind::Added => 'A',
            ChangeKind::Deleted => 'D',
        }
    }
}

/// One changed path (absolute, as seen in the container).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Change {
    pub path: String,
    pub kind: ChangeKind,
}

/// `diff CONTAINER`: the changes, sorted by path.
pub fn diff(ctx: &Ctx, key: &str) -> Result<Vec<Change>, EngineError> {
    let store = ctx
        .store_if_exists()?
        .ok_or_else(|| EngineError::NoSuchContainer(key.to_string()))?;
    let c = find(&store, key)?;
    changes(&store, &c)
}

/// The changes of a container (for `diff` and `commit`): its upper dir (overlay, fuse-overlayfs) or its
/// copy of the image (vfs) compared with the image's layers.
pub(crate) fn changes(store: &Store, c: &Container) -> Result<Vec<Change>, EngineError> {
    let dir = store.container_dir(&c.record.id);
    let tree = match c.spec.storage_driver {
        Driver::Vfs => super::rootfs::vfs_tree(store, c),
        Driver::Overlay | Driver::FuseOverlayfs => dir.join("diff"),
    };
    let lower = Lower::of(store, c);
    let root = rustix::fs::open(
        &tree,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        rustix::fs::Mode::empty(),
    )
    .map_err(|e| EngineError::io("open", &tree, e.into()))?;
    let mut out = Vec::new();
    match c.spec.storage_driver {
        Driver::Vfs => super::diff_copy::walk(&lower, root.as_fd(), &[], &mut out)?,
        Driver::Overlay | Driver::FuseOverlayfs => walk(&lower, root.as_fd(), &[], &mut out)?,
    };
    out.sort();
    Ok(out)
}

/// The image's layers, top first, read as one merged tree without following symlinks.
pub(crate) struct Lower {
    layers: Vec<PathBuf>,
}

impl Lower {
    pub(crate) fn of(store: &Store, c: &Container) -> Lower {
        Lower {
            layers: super::rootfs::layer_dirs(store, &c.spec)
                .into_iter()
                .rev()
                .collect(),
        }
    }

    /// The container's upper dir on top of its image's layers: what an overlay of them shows.
    pub(crate) fn with_upper(store: &Store, c: &Container) -> Lower {
        let mut l = Lower::of(store, c);
        l.layers
            .insert(0, store.container_dir(&c.record.id).join("diff"));
        l
    }

    /// The entry at `rel` in the merged layers, honouring whiteouts and opaque directories.
    pub(crate) fn lookup(&self, rel: &[&[u8]]) -> Option<Metadata> {
        self.locate(rel).map(|(_, md)| md)
    }

    /// Where the merged layers' entry at `rel` is (in the topmost layer that has it).
    pub(crate) fn path(&self, rel: &[&[u8]]) -> Option<PathBuf> {
        self.locate(rel).map(|(p, _)| p)
    }

    fn locate(&self, rel: &[&[u8]]) -> Option<(PathBuf, Metadata)> {
        if rel.is_empty() {
            let top = self.layers.first()?;
            return Some((top.clone(), top.symlink_metadata().ok()?));
        }
        for layer in &self.layers {
            let mut cur = layer.clone();
            let mut hides_below = false;
            for (i, comp) in rel.iter().enumerate() {
                let p = cur.join(OsStr::from_bytes(comp));
                let Ok(md) = p.symlink_metadata() else {
                    break;
                };
                if is_whiteout(&md) {
                    return None;
                }
                if i + 1 == rel.len() {
                    return Some((p, md));
                }
                if !md.is_dir() {
                    return None;
                }
                hides_below |= path_is_opaque(&p);
                cur = p;
            }
            if hides_below {
                return None;
            }
        }
        None
    }

    /// Names the merged layers have in directory `rel`.
    pub(crate) fn children(&self, rel: &[&[u8]]) -> BTreeSet<Vec<u8>> {
        let mut names = BTreeSet::new();
        for layer in &self.layers {
            let mut cur = layer.clone();
            let mut ok = true;
            for comp in rel {
                cur = cur.join(OsStr::from_bytes(comp));
                ok &= cur.symlink_metadata().is_ok_and(|m| m.is_dir());
            }
            if ok && let Ok(rd) = std::fs::read_dir(&cur) {
                names.extend(rd.flatten().map(|e| e.file_name().as_bytes().to_vec()));
            }
        }
        names.retain(|n| {
            let mut p = rel.to_vec();
            p.push(n);
            self.lookup(&p).is_some()
        });
        names
    }
}

fn is_whiteout(md: &Metadata) -> bool {
    md.file_type().is_char_device() && md.rdev() == 0
}

fn path_is_opaque(p: &Path) -> bool {
    let mut buf = [0u8; 4];
    [OPAQUE_XATTR, TRUSTED_OPAQUE_XATTR, FUSE_OPAQUE_XATTR]
        .iter()
        .any(
            |name| matches!(rustix::fs::lgetxattr(p, *name, &mut buf[..]), Ok(1) if buf[0] == b'y'),
        )
}

/// An opaque upper directory: the kernel overlay's xattrs, or fuse-overlayfs's xattr or marker file.
fn fd_is_opaque(fd: BorrowedFd<'_>) -> bool {
    let mut buf = [0u8; 4];
    [OPAQUE_XATTR, TRUSTED_OPAQUE_XATTR, FUSE_OPAQUE_XATTR]
        .iter()
        .any(|name| matches!(rustix::fs::fgetxattr(fd, *name, &mut buf[..]), Ok(1) if buf[0] == b'y'))
        || rustix::fs::statat(fd, OPAQUE_MARKER, AtFlags::SYMLINK_NOFOLLOW)
            .is_ok_and(|st| FileType::from_raw_mode(st.st_mode) == FileType::RegularFile)
}

/// fuse-overlayfs's opaque marker file, and the whiteout it makes beside it: not changes themselves.
fn is_fuse_marker(name: &[u8], st: &Stat) -> bool {
    let ft = FileType::from_raw_mode(st.st_mode);
    (name == OPAQUE_MARKER.as_bytes() && ft == FileType::RegularFile)
        || (name == FUSE_MARKER_WHITEOUT.as_bytes()
            && ft == FileType::CharacterDevice
            && st.st_rdev == 0)
}

/// Whether the upper entry `rel` is an empty placeholder for an init file the image does not have.
pub(crate) fn is_placeholder(lower: &Lower, rel: &[&[u8]], st: &Stat) -> bool {
    FileType::from_raw_mode(st.st_mode) == FileType::RegularFile
        && st.st_size == 0
        && INIT_FILES.contains(&String::from_utf8_lossy(&rel.join(&b'/')).as_ref())
        && lower.lookup(rel).is_none()
}

pub(crate) fn display(rel: &[&[u8]]) -> String {
    let mut s = String::new();
    for c in rel {
        s.push('/');
        s.push_str(&String::from_utf8_lossy(c));
    }
    s
}

/// The entries of directory `dir` (at `rel`), each with its lstat.
pub(super) fn entries(
    dir: BorrowedFd<'_>,
    rel: &[&[u8]],
) -> Result<Vec<(Vec<u8>, Stat)>, EngineError> {
    let io = |op, e: std::io::Error| FsError::Inside {
        op,
        path: display(rel),
        source: e,
    };
    let names = list_dir(dir).map_err(|e| io("read", e))?;
    let mut out = Vec::with_capacity(names.len());
    for name in names {
        let st = rustix::fs::statat(dir, OsStr::from_bytes(&name), AtFlags::SYMLINK_NOFOLLOW)
            .map_err(|e| io("stat", e.into()))?;
        out.push((name, st));
    }
    Ok(out)
}

/// Open subdirectory `name` of `dir` (at `rel`, which includes `name`) without following links.
pub(super) fn open_subdir(
    dir: BorrowedFd<'_>,
    name: &[u8],
    rel: &[&[u8]],
) -> Result<OwnedFd, EngineError> {
    Ok(
        open_nofollow(dir, name, OFlags::RDONLY | OFlags::DIRECTORY).map_err(|e| {
            FsError::Inside {
                op: "open",
                path: display(rel),
                source: e,
            }
        })?,
    )
}

/// Record a change of `rel`.
pub(super) fn push(out: &mut Vec<Change>, rel: &[&[u8]], kind: ChangeKind) {
    out.push(Change {
        path: display(rel),
        kind,
    });
}

/// Whether the mode or owner of an entry differs from the layers' entry `md`.
pub(super) fn owner_or_mode_differ(md: &Metadata, st: &Stat) -> bool {
    md.mode() != st.st_mode || md.uid() != st.st_uid || md.gid() != st.st_gid
}

/// Record the changes below upper directory `dir` (at `rel`); returns whether there were any.
fn walk(
    lower: &Lower,
    dir: BorrowedFd<'_>,
    rel: &[&[u8]],
    out: &mut Vec<Change>,
) -> Result<bool, EngineError> {
    let mut any = false;
    for (name, st) in &entries(dir, rel)? {
        let mut child: Vec<&[u8]> = rel.to_vec();
        child.push(name);
        let ft = FileType::from_raw_mode(st.st_mode);
        if is_fuse_marker(name, st) {
            continue;
        }
        let below = lower.lookup(&child);
        let push = |out: &mut Vec<Change>, kind| push(out, &child, kind);
        if ft == FileType::CharacterDevice && st.st_rdev == 0 {
            if below.is_some() {
                push(out, ChangeKind::Deleted);
                any = true;
            }
            continue;
        }
        if is_placeholder(lower, &child, st) {
            continue;
        }
        if ft != FileType::Directory {
            any = true;
            push(out, kind_for(below.is_some()));
            continue;
        }
        let fd = open_subdir(dir, name, &child)?;
        match below.clone().filter(Metadata::is_dir) {
            Some(md) => {
                let mut changed = walk(lower, fd.as_fd(), &child, out)?;
                if fd_is_opaque(fd.as_fd()) {
                    changed |= deleted_by_opaque(lower, &fd, &child, out)?;
                }
                changed |= owner_or_mode_differ(&md, st);
                if changed {
                    push(out, ChangeKind::Changed);
                    any = true;
                }
            }
            None => {
                any = true;
                push(out, kind_for(below.is_some()));
                walk(lower, fd.as_fd(), &child, out)?;
            }
        }
    }
    Ok(any)
}

pub(crate) fn kind_for(in_lower: bool) -> ChangeKind {
    if in_lower {
        ChangeKind::Changed
    } else {
        ChangeKind::Added
    }
}

/// The layers' entries in an opaque upper directory that the upper dir does not have are deleted.
fn deleted_by_opaque(
    lower: &Lower,
    fd: &OwnedFd,
    rel: &[&[u8]],
    out: &mut Vec<Change>,
) -> Result<bool, EngineError> {
    let present: BTreeSet<Vec<u8>> = list_dir(fd.as_fd())
        .map_err(|e| FsError::Inside {
            op: "read",
            path: display(rel),
            source: e,
        })?
        .into_iter()
        .collect();
    let mut any = false;
    for name in lower.children(rel) {
        if !present.contains(&name) {
            let mut p = rel.to_vec();
            p.push(&name);
            out.push(Change {
                path: display(&p),
                kind: ChangeKind::Deleted,
            });
            any = true;
        }
    }
    Ok(any)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn tree(root: &Path, files: &[&str]) {
        for f in files {
            let p = root.join(f);
            fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
            if f.ends_with('/') {
                fs::create_dir_all(&p).expect("mkdir");
            } else {
                fs::write(&p, "x").expect("write");
            }
        }
    }

    fn run(lower_files: &[&[&str]], upper_files: &[&str], removed: &[&str]) -> Vec<String> {
        let tmp = tempfile::tempdir().expect("tempdir");
        let mut layers = Vec::new();
        for (i, files) in lower_files.iter().enumerate() {
            let l = tmp.path().join(format!("l{i}"));
            fs::create_dir(&l).expect("mkdir");
            tree(&l, files);
            layers.insert(0, l);
        }
        // Copy up parent dirs with the lower's mode, as overlay does.
        let upper = tmp.path().join("upper");
        fs::create_dir(&upper).expect("mkdir");
        tree(&upper, upper_files);
        for r in removed {
            // Whiteouts need mknod, which an unprivileged test cannot do: mark with a 0/0 device when
            // we can, else skip the case.
            let p = upper.join(r);
            fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
            if rustix::fs::mknodat(
                rustix::fs::CWD,
                &p,
                FileType::CharacterDevice,
                rustix::fs::Mode::from_raw_mode(0),
                0,
            )
            .is_err()
            {
                return vec!["skip".into()];
            }
        }
        let lower = Lower { layers };
        let root = rustix::fs::open(
            &upper,
            OFlags::RDONLY | OFlags::DIRECTORY,
            rustix::fs::Mode::empty(),
        )
        .expect("open");
        let mut out = Vec::new();
        walk(&lower, root.as_fd(), &[], &mut out).expect("walk");
        out.sort();
        out.iter()
            .map(|c| format!("{} {}", c.kind.letter(), c.path))
            .collect()
    }

    #[test]
    fn classifies_added_changed_and_parents() {
        let got = run(
            &[&["bin/sh", "etc/passwd"], &["etc/group"]],
            &["hello", "etc/passwd", "etc/new/file", "bin/"],
            &[],
        );
        assert_eq!(
            got,
            [
                "C /etc",
                "A /etc/new",
                "A /etc/new/file",
                "C /etc/passwd",
                "A /hello"
            ]
        );
    }

    #[test]
    fn whiteouts_are_deletions_of_lower_files_only() {
        let got = run(
            &[&["bin/wget", "bin/sh"]],
            &[],
            &["bin/wget", "bin/nothere"],
        );
        if got == ["skip"] {
            return;
        }
        assert_eq!(got, ["C /bin", "D /bin/wget"]);
    }

    #[test]
    fn lookup_honours_whiteouts_in_upper_layers() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let (top, bottom) = (tmp.path().join("top"), tmp.path().join("bottom"));
        tree(&bottom, &["a/b", "c"]);
        tree(&top, &["a/", "c/d"]);
        let lower = Lower {
            layers: vec![top, bottom],
        };
        assert!(lower.lookup(&[b"a", b"b"]).is_some());
        assert!(lower.lookup(&[b"c", b"d"]).is_some());
        assert!(lower.lookup(&[b"x"]).is_none());
        // A file in a lower layer never lets a lookup through it.
        assert!(lower.lookup(&[b"a", b"b", b"z"]).is_none());
    }

    #[test]
    fn placeholders_are_recognised() {
        let lower = Lower { layers: vec![] };
        let tmp = tempfile::tempdir().expect("tempdir");
        let f = tmp.path().join("f");
        fs::write(&f, "").expect("write");
        let st = rustix::fs::stat(&f).expect("stat");
        assert!(is_placeholder(&lower, &[b"etc", b"hosts"], &st));
        assert!(!is_placeholder(&lower, &[b"etc", b"other"], &st));
        fs::write(&f, "x").expect("write");
        let st = rustix::fs::stat(&f).expect("stat");
        assert!(!is_placeholder(&lower, &[b"etc", b"hosts"], &st));
    }
}
