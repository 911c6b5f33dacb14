//! Messages with descriptors attached (SCM_RIGHTS) over SOCK_SEQPACKET unix sockets, and pidfds: what
//! the rootless network namespace's holder and its clients talk over.
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

use nix::sys::socket::{ControlMessage, ControlMessageOwned, MsgFlags, recvmsg, sendmsg};

/// Send one message (a whole packet) with `fds` attached.
pub fn send(sock: BorrowedFd<'_>, data: &[u8], fds: &[RawFd]) -> io::Result<()> {
    let iov = [io::IoSlice::new(data)];
    let cmsg = [ControlMessage::ScmRights(fds)];
    let cmsgs: &[ControlMessage] = if fds.is_empty() { &[] } else { &cmsg };
    sendmsg::<()>(sock.as_raw_fd(), &iov, cmsgs, MsgFlags::empty(), None)
        .map_err(io::Error::from)?;
    Ok(())
}

/// Receive one message of at most `max` bytes and the descriptors attached to it (close-on-exec).
/// An empty message means the peer closed.
pub fn recv(sock: BorrowedFd<'_>, max: usize) -> io::Result<(Vec<u8>, Vec<OwnedFd>)> {
    let mut buf = vec![0u8; max];
    let mut space = nix::cmsg_space!([RawFd; 256]);
    let (n, raw) = {
        let mut iov = [io::IoSliceMut::new(&mut buf)];
        let msg = recvmsg::<()>(
            sock.as_raw_fd(),
            &mut iov,
            Some(&mut space),
            MsgFlags::MSG_CMSG_CLOEXEC,
        )
        .map_err(io::Error::from)?;
        let mut raw = Vec::new();
        for cmsg in msg.cmsgs().map_err(io::Error::from)? {
            if let ControlMessageOwned::ScmRights(fds) = cmsg {
                raw.extend(fds);
            }
        }
        (msg.bytes, raw)
    };
    // SAFETY: the kernel just installed these descriptors in our table for this message
    // (SCM_RIGHTS); nothing else in this process knows their numbers, and each is wrapped exactly
    // once, so each is closed exactly once.
    let fds = raw
        .into_iter()
        .map(|fd| unsafe { OwnedFd::from_raw_fd(fd) })
        .collect();
    buf.truncate(n);
    Ok((buf, fds))
}

/// A pidfd for `pid` (readable once the process has exited).
pub fn pidfd_open(pid: i32) -> io::Result<OwnedFd> {
    // SAFETY: pidfd_open(2) takes a pid and flags (0) and returns a new descriptor or -1; no memory is
    // passed.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the syscall just returned this new descriptor, which nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

/// Mark this process a child subreaper, so the daemons that our helpers start (aardvark-dns
/// double-forks) are re-parented to us and we can reap them.
pub fn become_subreaper() -> io::Result<()> {
    // SAFETY: prctl(PR_SET_CHILD_SUBREAPER, 1) takes integers only.
    if unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Spawn `cmd` with its network namespace switched to `netns` before exec (netavark runs in the
/// rootless network namespace while its caller stays in the host's).
pub fn spawn_in_netns(
    cmd: &mut std::process::Command,
    netns: BorrowedFd<'_>,
) -> io::Result<std::process::Child> {
    use std::os::unix::process::CommandExt;
    let fd = netns.as_raw_fd();
    // SAFETY: the closure runs in the forked child before exec, where only async-signal-safe calls
    // are allowed: setns(2) is a plain system call on an integer descriptor, made through libc; it
    // allocates nothing and takes no lock. `fd` stays open in the parent (borrowed for the call), so
    // the child's copy is valid.
    unsafe {
        cmd.pre_exec(move || {
            if libc::setns(fd, libc::CLONE_NEWNET) != 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        });
    }
    cmd.spawn()
}

/// Run `f` on a thread of its own that has joined the network namespace `netns` (the calling
/// thread's namespace is left alone: a network namespace is a per-thread attribute).
pub fn in_netns<T: Send>(netns: BorrowedFd<'_>, f: impl FnOnce() -> T + Send) -> io::Result<T> {
    std::thread::scope(|s| {
        s.spawn(|| {
            nix::sched::setns(netns, nix::sched::CloneFlags::CLONE_NEWNET)
                .map_err(io::Error::from)?;
            Ok(f())
        })
        .join()
        .unwrap_or_else(|_| Err(io::Error::other("network namespace thread panicked")))
    })
}
