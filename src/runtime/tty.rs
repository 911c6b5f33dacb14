//! Relaying a container process's pseudo-terminal to the terminal roost was started from: our terminal
//! in raw mode (restored on return), stdin → master, master → stdout, window size changes (SIGWINCH)
//! copied to the pty. SIGCHLD and SIGWINCH must be blocked by the caller (they are read from a
//! signalfd here), before the child is forked, so that its exit cannot be missed.
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::termios::{SetArg, Termios, cfmakeraw, tcgetattr, tcsetattr};
use nix::sys::wait::{Id, WaitPidFlag, WaitStatus, waitid};
use nix::unistd::Pid;

/// Our terminal in raw mode while this lives (keys such as Ctrl-C go to the container's terminal).
struct RawMode<'a> {
    fd: BorrowedFd<'a>,
    saved: Termios,
}

impl<'a> RawMode<'a> {
    fn enter(fd: BorrowedFd<'a>) -> Option<RawMode<'a>> {
        let saved = tcgetattr(fd).ok()?;
        let mut raw = saved.clone();
        cfmakeraw(&mut raw);
        tcsetattr(fd, SetArg::TCSANOW, &raw).ok()?;
        Some(RawMode { fd, saved })
    }
}

impl Drop for RawMode<'_> {
    fn drop(&mut self) {
        let _ = tcsetattr(self.fd, SetArg::TCSADRAIN, &self.saved);
    }
}

/// Write all of `data`, through interruptions and a full non-blocking descriptor.
pub(super) fn write_all(fd: impl AsFd, mut data: &[u8]) -> nix::Result<()> {
    while !data.is_empty() {
        match nix::unistd::write(fd.as_fd(), data) {
            Ok(n) => data = &data[n..],
            Err(Errno::EINTR | Errno::EAGAIN) => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Copy what the master has to stdout; `false` once the terminal is closed on the other side.
fn copy_out(master: &OwnedFd, out: BorrowedFd<'_>, buf: &mut [u8]) -> nix::Result<bool> {
    match nix::unistd::read(master, buf) {
        Ok(0) | Err(Errno::EIO) => Ok(false),
        Ok(n) => {
            // A closed stdout (`| head`) must not stop the process: the rest is discarded.
            match write_all(out, &buf[..n]) {
                Ok(()) | Err(Errno::EPIPE) => Ok(true),
                Err(e) => Err(e),
            }
        }
        Err(Errno::EINTR | Errno::EAGAIN) => Ok(true),
        Err(e) => Err(e),
    }
}

fn exited(child: Pid) -> bool {
    let flags = WaitPidFlag::WEXITED | WaitPidFlag::WNOHANG | WaitPidFlag::WNOWAIT;
    !matches!(
        waitid(Id::Pid(child), flags),
        Ok(WaitStatus::StillAlive) | Err(Errno::EINTR)
    )
}

/// Relay until the pty is closed or `child` has exited (then what is left in the pty is drained).
pub(super) fn relay_pty_until_exit(
    master: &OwnedFd,
    interactive: bool,
    child: Pid,
) -> nix::Result<()> {
    let stdin = std::io::stdin();
    let stdout = std::io::stdout();
    let (input, out) = (stdin.as_fd(), stdout.as_fd());
    let _raw = if interactive {
        RawMode::enter(input)
    } else {
        None
    };
    let mut mask = SigSet::empty();
    mask.add(Signal::SIGCHLD);
    mask.add(Signal::SIGWINCH);
    let signals = SignalFd::with_flags(&mask, SfdFlags::SFD_CLOEXEC | SfdFlags::SFD_NONBLOCK)?;
    let mut stdin_open = interactive;
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let mut fds = vec![
            PollFd::new(master.as_fd(), PollFlags::POLLIN),
            PollFd::new(signals.as_fd(), PollFlags::POLLIN),
        ];
        if stdin_open {
            fds.push(PollFd::new(input, PollFlags::POLLIN));
        }
        match poll(&mut fds, PollTimeout::NONE) {
            Ok(_) => {}
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(e),
        }
        let wake = PollFlags::POLLIN | PollFlags::POLLHUP | PollFlags::POLLERR;
        let ready: Vec<bool> = fds
            .iter()
            .map(|f| f.revents().is_some_and(|r| r.intersects(wake)))
            .collect();
        drop(fds);
        if ready[0] && !copy_out(master, out, &mut buf)? {
            return Ok(());
        }
        if ready.get(2).copied().unwrap_or(false) {
            match nix::unistd::read(input, &mut buf) {
                Ok(0) | Err(Errno::EIO | Errno::EBADF) => {
                    // End of our input: an EOF character ends a read on the container's terminal.
                    stdin_open = false;
                    write_all(master, &[4])?;
                }
                Ok(n) => write_all(master, &buf[..n])?,
                Err(Errno::EINTR | Errno::EAGAIN) => {}
                Err(e) => return Err(e),
            }
        }
        if ready[1] {
            while let Ok(Some(info)) = signals.read_signal() {
                if info.ssi_signo == Signal::SIGWINCH as u32
                    && let Ok(size) = crate::sys::tty::window_size(input)
                {
                    let _ = crate::sys::tty::set_window_size(master, &size);
                }
            }
            if exited(child) {
                drain(master, out, &mut buf)?;
                return Ok(());
            }
        }
    }
}

/// Copy what is still buffered in the pty after the process exited (descendants may keep it open).
fn drain(master: &OwnedFd, out: BorrowedFd<'_>, buf: &mut [u8]) -> nix::Result<()> {
    loop {
        let mut fds = [PollFd::new(master.as_fd(), PollFlags::POLLIN)];
        match poll(&mut fds, PollTimeout::from(50u16)) {
            Ok(0) => return Ok(()),
            Ok(_) => {}
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(e),
        }
        if !copy_out(master, out, buf)? {
            return Ok(());
        }
    }
}
