//! `--init`: pid 1 stays roost's own code (a copy of this process, no binary inside the container), forks
//! the command, forwards every signal it gets to it, reaps all zombies, and exits with the command's
//! status.
use std::convert::Infallible;
use std::os::fd::{AsFd, AsRawFd};

use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::Pid;

use super::plan::Process;
use super::spawn::{exec, fail};
use crate::sys::clone::{Cloned, clone_process, exit_now};

pub(super) fn run_init(p: &Process, err: &std::fs::File) -> Result<Infallible, (i32, String)> {
    match clone_process(0)
        .map_err(|e| fail(125, format!("init failed to fork the command: {e}")))?
    {
        Cloned::Child => exec(p),
        Cloned::Parent(child) => {
            // The command owns the error pipe now: our copy must close so the starter sees its exec.
            if let Ok(null) = std::fs::File::open("/dev/null") {
                let _ = crate::sys::process::dup_onto(null.as_fd(), err.as_raw_fd());
            }
            crate::sys::process::forward_all_signals(child.as_raw());
            exit_now(reap_until(child))
        }
    }
}

/// Reap every child; return the status of `main` once it has ended.
fn reap_until(main: Pid) -> i32 {
    loop {
        match waitpid(None, Some(WaitPidFlag::__WALL)) {
            Ok(WaitStatus::Exited(pid, code)) if pid == main => return code,
            Ok(WaitStatus::Signaled(pid, sig, _)) if pid == main => return 128 + sig as i32,
            Ok(_) | Err(nix::Error::EINTR) => continue,
            Err(_) => return 125,
        }
    }
}
