//! Waiting for a container's pid 1 and forwarding signals to it.
use nix::sys::wait::{WaitStatus, waitpid};
use nix::unistd::Pid;

/// Wait for `pid` and turn its end into a shell-style status (128+signal when killed).
pub fn wait_exit(pid: Pid) -> i32 {
    loop {
        match waitpid(pid, None) {
            Ok(WaitStatus::Exited(_, code)) => return code,
            Ok(WaitStatus::Signaled(_, sig, _)) => return 128 + sig as i32,
            Ok(_) => continue,
            Err(nix::Error::EINTR) => continue,
            Err(_) => return 125,
        }
    }
}
