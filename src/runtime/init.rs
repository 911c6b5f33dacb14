//! `--init`: pid 1 stays roost's own code (a copy of this process, no binary inside the container), forks
//! the command, forwards every signal it gets to it, reaps all zombies, and exits with the command's
//! status.
use std::convert::Infallible;

use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::Pid;

use super::message::{ChildError, Step};
use super::plan::Process;
use super::spawn::exec;
use crate::sys::clone::{Cloned, clone_process};

pub(super) fn run_init(p: &Process) -> Result<Infallible, ChildError> {
    match clone_process(0).map_err(|e| ChildError::nix(Step::InitFork, e))? {
        Cloned::Child => exec(p),
        Cloned::Parent(child) => {
            // The command owns the channel to the starter now: our copy must close so the starter sees its exec.
            // And we are a copy of the process that spawned the container (a monitor, a foreground
            // run): whatever else it had open (the monitor's ready pipe and attach socket, the write
            // end of the container's stdin pipe, the log) must not stay open for the container's life.
            crate::sys::process::forward_all_signals(child.as_raw());
            crate::sys::process::close_descriptors_then_exit(reap_until, child.as_raw())
        }
    }
}

/// Reap every child; return the status of `main` once it has ended.
fn reap_until(main: i32) -> i32 {
    let main = Pid::from_raw(main);
    loop {
        match waitpid(None, Some(WaitPidFlag::__WALL)) {
            Ok(WaitStatus::Exited(pid, code)) if pid == main => return code,
            Ok(WaitStatus::Signaled(pid, sig, _)) if pid == main => return 128 + sig as i32,
            Ok(_) | Err(nix::Error::EINTR) => continue,
            Err(_) => return 125,
        }
    }
}
