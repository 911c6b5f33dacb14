//! `clone(2)` with namespace flags, used like fork: the child continues on a copy of the caller's stack.
use nix::unistd::Pid;

/// Which side of the clone we are on.
pub enum Cloned {
    Parent(Pid),
    Child,
}

/// Create a child in new namespaces (`flags` are CLONE_NEW* bits), delivering SIGCHLD on exit.
///
/// Must be called while the process is single-threaded: the child gets a copy of this thread only, so
/// any lock another thread held would stay locked forever in the child.
pub fn clone_process(flags: libc::c_int) -> nix::Result<Cloned> {
    debug_assert!(
        single_threaded(),
        "clone_process must run while the process has one thread"
    );
    // SAFETY: the raw clone syscall with a null stack pointer and no CLONE_VM behaves like fork(2): the child
    // runs on a copy-on-write copy of our address space and stack, so no memory is shared and nothing
    // can be corrupted. The remaining pointer arguments (parent_tid, child_tid, tls) are null and not used
    // because no CLONE_*TID/CLONE_SETTLS flag is passed. The process is single-threaded (checked above in
    // debug builds, and guaranteed by callers, which clone before any runtime or helper thread starts), so
    // the child inherits no lock held by another thread.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_clone,
            (flags | libc::SIGCHLD) as libc::c_ulong,
            std::ptr::null_mut::<libc::c_void>(),
            std::ptr::null_mut::<libc::c_int>(),
            std::ptr::null_mut::<libc::c_int>(),
            0 as libc::c_ulong,
        )
    };
    match ret {
        -1 => Err(nix::Error::last()),
        0 => Ok(Cloned::Child),
        pid => Ok(Cloned::Parent(Pid::from_raw(pid as i32))),
    }
}

/// Like [`clone_process`], but the child is born in the existing pid namespace `pid_ns` (a pod's)
/// instead of a new one. An intermediate process enters it and clones with CLONE_PARENT, so the
/// child is still ours, while our own later children and threads stay in our pid namespace (which
/// we could not enter again: it belongs to the host's user namespace).
pub fn clone_process_in_pid_ns(
    flags: libc::c_int,
    pid_ns: std::os::fd::BorrowedFd<'_>,
) -> nix::Result<Cloned> {
    let (read, write) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)?;
    match clone_process(0)? {
        Cloned::Child => {
            // The intermediate: only system calls from here on (we are a fork of our parent).
            drop(read);
            let cloned = nix::sched::setns(pid_ns, nix::sched::CloneFlags::CLONE_NEWPID)
                .and_then(|()| clone_process(flags | libc::CLONE_PARENT));
            let reply = match cloned {
                Ok(Cloned::Child) => {
                    drop(write);
                    return Ok(Cloned::Child);
                }
                Ok(Cloned::Parent(pid)) => pid.as_raw(),
                Err(e) => -(e as i32),
            };
            let _ = nix::unistd::write(&write, &reply.to_ne_bytes());
            exit_now(0)
        }
        Cloned::Parent(intermediate) => {
            drop(write);
            let mut buf = [0u8; 4];
            let got = read_full(&read, &mut buf);
            let _ = nix::sys::wait::waitpid(intermediate, None);
            match got {
                Ok(()) => match i32::from_ne_bytes(buf) {
                    pid if pid > 0 => Ok(Cloned::Parent(Pid::from_raw(pid))),
                    errno => Err(nix::Error::from_raw(-errno)),
                },
                Err(e) => Err(e),
            }
        }
    }
}

fn read_full(fd: &std::os::fd::OwnedFd, buf: &mut [u8]) -> nix::Result<()> {
    let mut at = 0;
    while at < buf.len() {
        match nix::unistd::read(fd, &mut buf[at..]) {
            Ok(0) => return Err(nix::Error::EIO),
            Ok(n) => at += n,
            Err(nix::Error::EINTR) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Whether this process has exactly one thread (from /proc/self/status).
pub fn single_threaded() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Threads:"))
                .map(|l| l[8..].trim() == "1")
        })
        .unwrap_or(true)
}

/// Leave the process immediately with `code`, without running destructors or atexit handlers (for a
/// cloned child that must not flush its parent's buffers twice).
pub fn exit_now(code: i32) -> ! {
    // SAFETY: _exit(2) takes an integer and never returns; it is async-signal-safe and is exactly what
    // a forked child must call instead of exit(3).
    unsafe { libc::_exit(code) }
}
