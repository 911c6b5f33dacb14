//! Spawning helper processes that must die with us and inherit specific descriptors.
use std::io;
use std::os::fd::RawFd;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command};

/// Spawn `cmd` so that the child is killed (SIGKILL) when this process dies, and keeps the descriptors in
/// `inherit` open across exec (they are created close-on-exec by the caller, so no other child gets them).
pub fn spawn_tied(cmd: &mut Command, inherit: &[RawFd]) -> io::Result<Child> {
    let fds: Vec<RawFd> = inherit.to_vec();
    let parent = nix::unistd::getpid().as_raw();
    // SAFETY: the closure runs in the forked child before exec, where only async-signal-safe calls are
    // allowed. It calls prctl(2), getppid(2), fcntl(2) and kill(2) directly through libc, all
    // async-signal-safe; it allocates nothing (`fds` was allocated before the fork and is only read) and
    // touches no locks. The descriptors in `fds` are owned by the caller and stay open until spawn returns.
    unsafe {
        cmd.pre_exec(move || {
            if libc::prctl(
                libc::PR_SET_PDEATHSIG,
                libc::SIGKILL as libc::c_ulong,
                0,
                0,
                0,
            ) != 0
            {
                return Err(io::Error::last_os_error());
            }
            // The parent may have died before prctl took effect: then we were re-parented already.
            if libc::getppid() != parent {
                libc::kill(libc::getpid(), libc::SIGKILL);
            }
            for &fd in &fds {
                if libc::fcntl(fd, libc::F_SETFD, 0) != 0 {
                    return Err(io::Error::last_os_error());
                }
            }
            Ok(())
        });
    }
    cmd.spawn()
}

/// Ignore a signal in this process (SIG_IGN).
pub fn ignore_signal(sig: nix::sys::signal::Signal) -> nix::Result<()> {
    // SAFETY: installing SIG_IGN runs no handler code, so none of signal(2)'s handler-safety concerns apply.
    unsafe { nix::sys::signal::signal(sig, nix::sys::signal::SigHandler::SigIgn) }.map(|_| ())
}

/// Take ownership of the two pipe ends a parent passed down by number (see `userns::reexec`).
pub fn adopt_inherited_pipes(
    read_fd: RawFd,
    write_fd: RawFd,
) -> io::Result<(std::fs::File, std::fs::File)> {
    for fd in [read_fd, write_fd] {
        // fstat on a descriptor number we are about to adopt: it only checks that it is open.
        nix::sys::stat::fstat(fd_ref(fd)?).map_err(io::Error::from)?;
    }
    // SAFETY: the parent passed these two descriptor numbers in the environment for this purpose only; we
    // just checked they are open, nothing else in this process knows them, and each is wrapped exactly once
    // so it is closed exactly once.
    let files = unsafe {
        use std::os::fd::FromRawFd;
        (
            std::fs::File::from_raw_fd(read_fd),
            std::fs::File::from_raw_fd(write_fd),
        )
    };
    for f in [&files.0, &files.1] {
        nix::fcntl::fcntl(
            f,
            nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::FD_CLOEXEC),
        )
        .map_err(io::Error::from)?;
    }
    Ok(files)
}

fn fd_ref(fd: RawFd) -> io::Result<std::os::fd::BorrowedFd<'static>> {
    if fd < 0 {
        return Err(io::Error::from_raw_os_error(libc::EBADF));
    }
    // SAFETY: used only for the fstat probe above, while the descriptor (inherited, owned by nobody else
    // in this process yet) stays open; the borrow does not outlive that call.
    Ok(unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) })
}

static FORWARD_TO: std::sync::atomic::AtomicI32 = std::sync::atomic::AtomicI32::new(0);

extern "C" fn forward(sig: libc::c_int) {
    let pid = FORWARD_TO.load(std::sync::atomic::Ordering::Relaxed);
    if pid > 0 {
        // SAFETY: kill(2) is async-signal-safe; it only takes two integers.
        unsafe {
            libc::kill(pid, sig);
        }
    }
}

/// Forward SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1/2 and SIGWINCH sent to us to `pid` (podman's
/// --sig-proxy), so the foreground CLI stays alive to record the exit and clean up.
pub fn forward_signals(pid: i32) {
    use nix::sys::signal::{SaFlags, SigAction, SigHandler, SigSet, Signal, sigaction};
    FORWARD_TO.store(pid, std::sync::atomic::Ordering::Relaxed);
    let action = SigAction::new(
        SigHandler::Handler(forward),
        SaFlags::SA_RESTART,
        SigSet::empty(),
    );
    for s in [
        Signal::SIGINT,
        Signal::SIGTERM,
        Signal::SIGHUP,
        Signal::SIGQUIT,
        Signal::SIGUSR1,
        Signal::SIGUSR2,
        Signal::SIGWINCH,
    ] {
        // SAFETY: the handler only reads an atomic and calls kill(2), both async-signal-safe, and touches
        // no other state; replacing the previous disposition is intended.
        let _ = unsafe { sigaction(s, &action) };
    }
}

/// Mark every descriptor from `first` up close-on-exec, so that an exec'd container process gets none
/// of those its caller happened to inherit (podman's runtimes do the same).
pub fn cloexec_from(first: u32) -> nix::Result<()> {
    // SAFETY: close_range(2) with CLOSE_RANGE_CLOEXEC closes nothing: it only sets the close-on-exec
    // flag on the descriptors in the range, so no `OwnedFd` elsewhere in this process is invalidated.
    // The arguments are two integers and a flag; no memory is passed.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_close_range,
            first,
            u32::MAX,
            libc::CLOSE_RANGE_CLOEXEC,
        )
    };
    nix::errno::Errno::result(ret).map(drop)
}
