//! Terminals: pseudo-terminal setup for a container's process, raw mode and window sizes for the
//! user's terminal.
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};

use nix::sys::termios::{self, SetArg, Termios};

pub use nix::pty::Winsize;

/// Make `slave` the controlling terminal of this (new-session) process and its stdin, stdout and stderr.
/// Called in the container child just before exec.
pub fn become_terminal_owner(slave: BorrowedFd<'_>) -> io::Result<()> {
    nix::unistd::setsid().map_err(io::Error::from)?;
    set_controlling_terminal(slave).map_err(io::Error::from)?;
    for target in 0..=2 {
        super::process::dup_onto(slave, target)?;
    }
    Ok(())
}

/// Put the user's terminal in raw mode; returns the settings to restore.
pub fn set_raw(fd: BorrowedFd<'_>) -> io::Result<Termios> {
    let saved = termios::tcgetattr(fd).map_err(io::Error::from)?;
    let mut raw = saved.clone();
    termios::cfmakeraw(&mut raw);
    termios::tcsetattr(fd, SetArg::TCSANOW, &raw).map_err(io::Error::from)?;
    Ok(saved)
}

pub fn restore(fd: BorrowedFd<'_>, saved: &Termios) {
    let _ = termios::tcsetattr(fd, SetArg::TCSANOW, saved);
}

/// Copy the window size of terminal `from` to terminal `to`.
pub fn copy_window_size(from: BorrowedFd<'_>, to: BorrowedFd<'_>) {
    if let Ok(ws) = window_size(from) {
        let _ = set_window_size(to, &ws);
    }
}

/// A connected pair of unix sockets for passing one descriptor from the container child to us.
pub fn fd_channel() -> io::Result<(OwnedFd, OwnedFd)> {
    use nix::sys::socket::{AddressFamily, SockFlag, SockType, socketpair};
    socketpair(
        AddressFamily::Unix,
        SockType::SeqPacket,
        None,
        SockFlag::SOCK_CLOEXEC,
    )
    .map_err(io::Error::from)
}

/// Send `fd` over `sock` (SCM_RIGHTS).
pub fn send_fd(sock: &OwnedFd, fd: &OwnedFd) -> io::Result<()> {
    use nix::sys::socket::{ControlMessage, MsgFlags, sendmsg};
    let fds = [fd.as_raw_fd()];
    let iov = [io::IoSlice::new(b"t")];
    sendmsg::<()>(
        sock.as_raw_fd(),
        &iov,
        &[ControlMessage::ScmRights(&fds)],
        MsgFlags::empty(),
        None,
    )
    .map_err(io::Error::from)?;
    Ok(())
}

/// Receive one descriptor sent with [`send_fd`]; `None` when the peer closed without sending.
pub fn receive_fd(sock: &OwnedFd) -> io::Result<Option<OwnedFd>> {
    use nix::sys::socket::{ControlMessageOwned, MsgFlags, recvmsg};
    let mut byte = [0u8; 1];
    let mut iov = [io::IoSliceMut::new(&mut byte)];
    let mut space = nix::cmsg_space!([std::os::fd::RawFd; 1]);
    let msg = recvmsg::<()>(
        sock.as_raw_fd(),
        &mut iov,
        Some(&mut space),
        MsgFlags::MSG_CMSG_CLOEXEC,
    )
    .map_err(io::Error::from)?;
    for cmsg in msg.cmsgs().map_err(io::Error::from)? {
        if let ControlMessageOwned::ScmRights(fds) = cmsg
            && let Some(&fd) = fds.first()
        {
            // SAFETY: the kernel just installed this descriptor in our table for this message (SCM_RIGHTS);
            // nothing else refers to it, and it is wrapped exactly once.
            return Ok(Some(unsafe {
                <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd)
            }));
        }
    }
    Ok(None)
}

/// Open a pty pair from the devpts mounted at /dev/pts of the current root (inside the container).
pub fn open_container_pty() -> io::Result<(OwnedFd, OwnedFd)> {
    use nix::fcntl::OFlag;
    let master = nix::pty::posix_openpt(OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_CLOEXEC)
        .map_err(io::Error::from)?;
    nix::pty::grantpt(&master).map_err(io::Error::from)?;
    nix::pty::unlockpt(&master).map_err(io::Error::from)?;
    let name = nix::pty::ptsname_r(&master).map_err(io::Error::from)?;
    let slave = nix::fcntl::open(
        name.as_str(),
        OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .map_err(io::Error::from)?;
    Ok((OwnedFd::from(master), slave))
}

/// Make `fd` (a terminal) the controlling terminal of this process, which must be a session leader
/// without one (call `setsid` first).
pub fn set_controlling_terminal(fd: impl AsFd) -> nix::Result<()> {
    let fd = fd.as_fd();
    // SAFETY: TIOCSCTTY takes an integer argument (0: do not steal a terminal that is another
    // session's), not a pointer, so no memory is read or written; `fd` is borrowed and stays open for
    // the duration of the call.
    let ret = unsafe { libc::ioctl(fd.as_raw_fd(), libc::TIOCSCTTY, 0 as libc::c_int) };
    nix::errno::Errno::result(ret).map(drop)
}

/// The window size of the terminal `fd`.
pub fn window_size(fd: impl AsFd) -> nix::Result<Winsize> {
    let fd = fd.as_fd();
    let mut ws = Winsize {
        ws_row: 0,
        ws_col: 0,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCGWINSZ writes one `struct winsize` through the pointer; `ws` is a live, properly
    // aligned `libc::winsize` (nix's `Winsize` is that type) owned by this frame for the whole call,
    // and `fd` is borrowed and open.
    let ret = unsafe {
        libc::ioctl(
            fd.as_raw_fd(),
            libc::TIOCGWINSZ,
            &mut ws as *mut Winsize as *mut libc::c_void,
        )
    };
    nix::errno::Errno::result(ret).map(|_| ws)
}

/// Set the window size of the terminal `fd` (the pty's processes get SIGWINCH).
pub fn set_window_size(fd: impl AsFd, ws: &Winsize) -> nix::Result<()> {
    let fd = fd.as_fd();
    // SAFETY: TIOCSWINSZ only reads one `struct winsize` through the pointer; `ws` is a shared borrow
    // of a valid `libc::winsize` that outlives the call, and `fd` is borrowed and open.
    let ret = unsafe {
        libc::ioctl(
            fd.as_raw_fd(),
            libc::TIOCSWINSZ,
            ws as *const Winsize as *const libc::c_void,
        )
    };
    nix::errno::Errno::result(ret).map(drop)
}
