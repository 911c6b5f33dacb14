//! Terminal ioctls that nix offers only as unsafe macros: the controlling terminal and window size.
use std::os::fd::{AsFd, AsRawFd};

pub use nix::pty::Winsize;

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
