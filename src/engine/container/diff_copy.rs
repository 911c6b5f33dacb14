//! `diff` for the vfs driver: the container's copy of its image compared with the image's layers.
//!
//! An entry the layers lack is an addition (with everything below it); one the copy lacks is a deletion;
//! one both have is a change when its type, mode, owner, size, modification time or link target differs
//! (the copy keeps all of these, so untouched files compare equal), and a directory also when something
//! below it changed. Empty placeholders for the runtime's init files are not changes.
use std::collections::BTreeSet;
use std::ffi::OsStr;
use std::fs::Metadata;
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;

use rustix::fs::{FileType, Stat};

use super::diff::{
    Change, ChangeKind, Lower, entries, is_placeholder, open_subdir, owner_or_mode_differ, push,
};
use crate::engine::EngineError;

/// Record the changes below directory `dir` of the copy (at `rel`); returns whether there were any.
pub(super) fn walk(
    lower: &Lower,
    dir: BorrowedFd<'_>,
    rel: &[&[u8]],
    out: &mut Vec<Change>,
) -> Result<bool, EngineError> {
    let entries = entries(dir, rel)?;
    let mut any = false;
    for (name, st) in &entries {
        let mut child: Vec<&[u8]> = rel.to_vec();
        child.push(name);
        let is_dir = FileType::from_raw_mode(st.st_mode) == FileType::Directory;
        let push = |out: &mut Vec<Change>, kind| push(out, &child, kind);
        match lower.lookup(&child) {
            None => {
                if is_placeholder(lower, &child, st) {
                    continue;
                }
                any = true;
                push(out, ChangeKind::Added);
                if is_dir {
                    walk(lower, open_subdir(dir, name, &child)?.as_fd(), &child, out)?;
                }
            }
            Some(md) if is_dir && md.is_dir() => {
                let fd = open_subdir(dir, name, &child)?;
                let changed = walk(lower, fd.as_fd(), &child, out)? | owner_or_mode_differ(&md, st);
                if changed {
                    push(out, ChangeKind::Changed);
                    any = true;
                }
            }
            Some(md) => {
                if differs(lower, &child, &md, dir, name, st) {
                    any = true;
                    push(out, ChangeKind::Changed);
                    if is_dir {
                        // A file replaced by a directory: what is below is new.
                        walk(lower, open_subdir(dir, name, &child)?.as_fd(), &child, out)?;
                    }
                }
            }
        }
    }
    let present: BTreeSet<&[u8]> = entries.iter().map(|(n, _)| n.as_slice()).collect();
    for gone in lower.children(rel) {
        if !present.contains(gone.as_slice()) {
            let mut p = rel.to_vec();
            p.push(&gone);
            push(out, &p, ChangeKind::Deleted);
            any = true;
        }
    }
    Ok(any)
}

/// Whether a non-directory entry differs from the layers' entry `md` (at `rel`).
fn differs(
    lower: &Lower,
    rel: &[&[u8]],
    md: &Metadata,
    dir: BorrowedFd<'_>,
    name: &[u8],
    st: &Stat,
) -> bool {
    if owner_or_mode_differ(md, st)
        || md.size() != st.st_size as u64
        || md.mtime() != st.st_mtime
        || md.rdev() != st.st_rdev
    {
        return true;
    }
    if FileType::from_raw_mode(st.st_mode) == FileType::Symlink {
        let mine = rustix::fs::readlinkat(dir, OsStr::from_bytes(name), Vec::new()).ok();
        let theirs = lower.path(rel).and_then(|p| std::fs::read_link(p).ok());
        return mine.map(|t| PathBuf::from(OsStr::from_bytes(t.as_bytes()))) != theirs;
    }
    false
}
