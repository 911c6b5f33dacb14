//! `.wh.NAME` whiteouts and `.wh..wh..opq` opaque markers, for overlay lowerdirs and for
//! layers stacked in one directory.

use std::collections::HashSet;
use std::io;
use std::os::fd::{AsFd, BorrowedFd};

use rustix::fs::{AtFlags, FileType, Mode, XattrFlags};
use rustix::io::Errno;

use super::apply::Step;
use super::path::{self, RelPath, Tree};
use super::{OPAQUE_XATTR, PathProblem, UnpackOp, Whiteouts};

pub(super) const PREFIX: &[u8] = b".wh.";
const OPAQUE: &[u8] = b".wh..wh..opq";
/// aufs metadata (`.wh..wh.plnk`, `.wh..wh.aufs`…), never content.
const META_PREFIX: &[u8] = b".wh..wh.";

/// What a `.wh.`-prefixed name means.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Marker<'a> {
    /// The parent directory hides everything below it from lower layers.
    Opaque,
    /// The sibling with this name is deleted.
    Whiteout(&'a [u8]),
    /// aufs bookkeeping, skipped.
    Meta,
}

impl<'a> Marker<'a> {
    /// Classify the final component of an entry path; `Ok(None)` for ordinary names.
    pub(super) fn classify(name: &'a [u8]) -> Result<Option<Self>, PathProblem> {
        if name == OPAQUE {
            return Ok(Some(Self::Opaque));
        }
        if name.starts_with(META_PREFIX) {
            return Ok(Some(Self::Meta));
        }
        match name.strip_prefix(PREFIX) {
            None => Ok(None),
            Some(b"" | b".") => Err(PathProblem::BadWhiteout),
            Some(b"..") => Err(PathProblem::ParentComponent),
            Some(target) => Ok(Some(Self::Whiteout(target))),
        }
    }
}

/// Paths this layer has written so far, with all their ancestors. Whiteouts and opaque
/// markers only hide content of lower layers, never entries of their own layer.
#[derive(Debug, Default)]
pub(super) struct Written(HashSet<Vec<u8>>);

impl Written {
    pub(super) fn add(&mut self, path: &RelPath) {
        for p in path.ancestry() {
            if !self.0.insert(p.to_vec()) {
                break;
            }
        }
    }

    pub(super) fn contains(&self, path: &[u8]) -> bool {
        self.0.contains(path)
    }
}

/// Apply the whiteout entry `entry` (`DIR/.wh.NAME`), which hides `DIR/NAME`.
pub(super) fn whiteout(
    tree: &mut Tree,
    written: &mut Written,
    mode: Whiteouts,
    entry: &RelPath,
    name: &[u8],
) -> Result<(), Step> {
    let target = entry.sibling(name);
    if written.contains(target.as_bytes()) {
        return Ok(());
    }
    let create = mode == Whiteouts::Overlay;
    let dir = match tree.dir(entry.parent().as_bytes(), create) {
        Ok(Some(fd)) => fd,
        Ok(None) => return Ok(()),
        Err(e) => return Err(Step::parent(e)),
    };
    match mode {
        Whiteouts::Apply => {
            let removed_dir =
                path::remove_all(dir.as_fd(), name).map_err(|e| Step::Io(UnpackOp::Remove, e))?;
            if removed_dir {
                tree.invalidate();
            }
        }
        Whiteouts::Overlay => {
            let dev = rustix::fs::makedev(0, 0);
            let mknod = || {
                rustix::fs::mknodat(
                    dir.as_fd(),
                    name,
                    FileType::CharacterDevice,
                    Mode::empty(),
                    dev,
                )
            };
            let made = match mknod() {
                Err(Errno::EXIST) => {
                    if path::remove_all(dir.as_fd(), name)
                        .map_err(|e| Step::Io(UnpackOp::Remove, e))?
                    {
                        tree.invalidate();
                    }
                    mknod()
                }
                other => other,
            };
            made.map_err(|e| Step::Io(UnpackOp::CreateWhiteout, e.into()))?;
            written.add(&target);
        }
    }
    Ok(())
}

/// Make directory `dir` opaque.
pub(super) fn opaque(
    tree: &mut Tree,
    written: &mut Written,
    mode: Whiteouts,
    dir: &RelPath,
) -> Result<(), Step> {
    match mode {
        Whiteouts::Overlay => {
            let fd = open_dir(tree, dir, true)?.ok_or_else(|| missing(UnpackOp::MarkOpaque))?;
            rustix::fs::fsetxattr(&fd, OPAQUE_XATTR, b"y", XattrFlags::empty())
                .map_err(|e| Step::Io(UnpackOp::MarkOpaque, e.into()))?;
            written.add(dir);
        }
        Whiteouts::Apply => {
            let Some(fd) = open_dir(tree, dir, false)? else {
                return Ok(());
            };
            prune(fd.as_fd(), dir, written).map_err(|e| Step::Io(UnpackOp::Remove, e))?;
            tree.invalidate();
        }
    }
    Ok(())
}

/// A readable fd of directory `dir`, created (with its parents) when `create`.
fn open_dir(
    tree: &mut Tree,
    dir: &RelPath,
    create: bool,
) -> Result<Option<std::os::fd::OwnedFd>, Step> {
    if create {
        let parent = dir.split().map_or(&b""[..], |(p, _)| p);
        let fd = tree.dir(parent, true).map_err(Step::parent)?;
        if let (Some(fd), Some((_, name))) = (fd, dir.split()) {
            match rustix::fs::mkdirat(fd.as_fd(), name, Mode::from_raw_mode(0o755)) {
                Ok(()) | Err(Errno::EXIST) => {}
                Err(e) => return Err(Step::Io(UnpackOp::CreateDir, e.into())),
            }
        }
    }
    match tree.open_dir(dir) {
        Ok(fd) => Ok(fd),
        Err(e) => Err(Step::parent(e)),
    }
}

/// Remove everything below `dir` (at `path`) that this layer did not write; recurse into
/// directories this layer wrote into, since their lower content is hidden as well.
fn prune(dir: BorrowedFd<'_>, path: &RelPath, written: &Written) -> io::Result<()> {
    for name in path::list_dir(dir)? {
        let child = path.join(&name);
        if !written.contains(child.as_bytes()) {
            path::remove_all(dir, &name)?;
            continue;
        }
        let st = rustix::fs::statat(dir, name.as_slice(), AtFlags::SYMLINK_NOFOLLOW)?;
        if FileType::from_raw_mode(st.st_mode) == FileType::Directory {
            let sub = path::open_child_dir(dir, &name)?;
            prune(sub.as_fd(), &child, written)?;
        }
    }
    Ok(())
}

fn missing(op: UnpackOp) -> Step {
    Step::Io(op, io::Error::from(io::ErrorKind::NotFound))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_markers() {
        assert_eq!(Marker::classify(b"file"), Ok(None));
        assert_eq!(Marker::classify(b".wh"), Ok(None));
        assert_eq!(Marker::classify(b".wh..wh..opq"), Ok(Some(Marker::Opaque)));
        assert_eq!(Marker::classify(b".wh..wh.plnk"), Ok(Some(Marker::Meta)));
        assert_eq!(
            Marker::classify(b".wh.passwd"),
            Ok(Some(Marker::Whiteout(b"passwd")))
        );
        assert_eq!(Marker::classify(b".wh."), Err(PathProblem::BadWhiteout));
        assert_eq!(Marker::classify(b".wh.."), Err(PathProblem::BadWhiteout));
        assert_eq!(
            Marker::classify(b".wh..."),
            Err(PathProblem::ParentComponent)
        );
    }

    #[test]
    fn written_tracks_ancestors() {
        let mut w = Written::default();
        w.add(&RelPath::parse(b"a/b/c").expect("valid"));
        assert!(w.contains(b"a"));
        assert!(w.contains(b"a/b"));
        assert!(w.contains(b"a/b/c"));
        assert!(!w.contains(b"a/b/d"));
        assert!(!w.contains(b""));
    }
}
