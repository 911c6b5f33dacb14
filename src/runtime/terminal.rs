//! Foreground `-t`: the container gets a pty; we copy the user's terminal to it (raw mode, window size)
//! and its output back, until the container side closes.
use std::io::{Read, Write};
use std::os::fd::{AsFd, OwnedFd};

use nix::poll::{PollFd, PollFlags, PollTimeout, poll};

/// Relay between our stdin/stdout and the pty master until the container closes its side; what the
/// container writes is also handed to `output` (for its log). Restores the terminal on the way out.
pub fn relay_pty_logged(master: OwnedFd, output: &mut dyn FnMut(&[u8])) {
    let stdin = std::io::stdin();
    let saved = crate::sys::tty::set_raw(stdin.as_fd()).ok();
    crate::sys::tty::copy_window_size(stdin.as_fd(), master.as_fd());
    let mut master = std::fs::File::from(master);
    let mut stdin_open = true;
    let mut buf = [0u8; 16 * 1024];
    let mut out = std::io::stdout();
    loop {
        let (n_master, n_stdin) = {
            let mut fds = vec![PollFd::new(master.as_fd(), PollFlags::POLLIN)];
            if stdin_open {
                fds.push(PollFd::new(stdin.as_fd(), PollFlags::POLLIN));
            }
            match poll(&mut fds, PollTimeout::from(200u16)) {
                Err(nix::Error::EINTR) | Ok(0) => {
                    crate::sys::tty::copy_window_size(stdin.as_fd(), master.as_fd());
                    continue;
                }
                Err(_) => break,
                Ok(_) => {}
            }
            let ready = |i: usize| {
                fds.get(i)
                    .and_then(|f| f.revents())
                    .is_some_and(|r| !r.is_empty())
            };
            (ready(0), ready(1))
        };
        if n_master {
            match master.read(&mut buf) {
                Ok(0) | Err(_) => break, // EIO: every slave descriptor is closed, the container is done
                Ok(n) => {
                    output(&buf[..n]);
                    let _ = out.write_all(&buf[..n]);
                    let _ = out.flush();
                }
            }
        }
        if n_stdin {
            match std::io::stdin().lock().read(&mut buf) {
                Ok(0) | Err(_) => stdin_open = false,
                Ok(n) => {
                    let _ = master.write_all(&buf[..n]);
                }
            }
        }
    }
    if let Some(s) = saved {
        crate::sys::tty::restore(stdin.as_fd(), &s);
    }
}
