//! Path resolution that the kernel keeps inside a root.

use std::os::fd::{AsFd, OwnedFd};

use rustix::fs::{Mode, OFlags, ResolveFlags};
use rustix::io::Errno;

/// `openat2(root, path, flags, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS)`: `..` and absolute
/// symlinks in `path` stay inside `root`, as they would for a process chrooted there.
///
/// The kernel answers `EAGAIN` when a rename or mount anywhere on the system raced with a `..`
/// step, since it cannot then prove the walk stayed inside; the documented answer is to retry.
pub fn open_in_root(root: impl AsFd, path: &str, flags: OFlags) -> Result<OwnedFd, Errno> {
    let resolve = ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS;
    let mut tries = 0;
    loop {
        match rustix::fs::openat2(root.as_fd(), path, flags, Mode::empty(), resolve) {
            Err(Errno::AGAIN | Errno::INTR) if tries < 64 => tries += 1,
            other => return other,
        }
    }
}
