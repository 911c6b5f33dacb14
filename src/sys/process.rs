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

/// Give every signal that roost (or Rust's runtime: SIGPIPE) may have set to be ignored its default
/// disposition again. Ignored dispositions survive execve, so a program started by us would inherit
/// them (`yes | head` would see EPIPE instead of dying of SIGPIPE).
pub fn reset_ignored_signals() -> nix::Result<()> {
    use nix::sys::signal::{SigHandler, Signal, signal};
    for sig in [
        Signal::SIGPIPE,
        Signal::SIGINT,
        Signal::SIGQUIT,
        Signal::SIGHUP,
        Signal::SIGTERM,
        Signal::SIGTTIN,
        Signal::SIGTTOU,
        Signal::SIGTSTP,
        Signal::SIGCHLD,
    ] {
        // SAFETY: installing SIG_DFL runs no handler code, so none of signal(2)'s handler-safety
        // concerns apply.
        unsafe { signal(sig, SigHandler::SigDfl) }?;
    }
    Ok(())
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

/// Spawn `cmd` as a daemon-like child that outlives us: a new session (no controlling terminal, not in
/// our process group, so terminal signals don't reach it), keeping the descriptors in `inherit` open.
pub fn spawn_detached(cmd: &mut Command, inherit: &[RawFd]) -> io::Result<Child> {
    let fds: Vec<RawFd> = inherit.to_vec();
    // SAFETY: runs in the forked child before exec: setsid(2) and fcntl(2) are async-signal-safe, called
    // through libc with integer arguments; `fds` was allocated before the fork and is only read.
    unsafe {
        cmd.pre_exec(move || {
            if libc::setsid() < 0 {
                return Err(io::Error::last_os_error());
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

/// Spawn `cmd` (a host program) so that it sees the processes of another pid namespace, as
/// podman-top(1) runs the host's ps(1): the child joins user namespace `user_ns` (when given: not
/// the one it is in already) and pid namespace `pid_ns`, takes a mount namespace of its own (a private
/// copy of ours, so the host's program and libraries are there), and forks the program, which mounts a
/// /proc of that pid namespace over its copy's before the exec. The child waits for the program and
/// exits with its status, having closed its other descriptors (so the spawn returns at the exec).
pub fn spawn_in_pid_ns(
    cmd: &mut Command,
    user_ns: Option<RawFd>,
    pid_ns: RawFd,
) -> io::Result<Child> {
    // SAFETY: runs in the forked child before exec, single-threaded, where only async-signal-safe calls
    // are allowed: setns(2), unshare(2), mount(2), fork(2), close_range(2), waitpid(2) and _exit(2),
    // made through libc with integers, null pointers and static NUL-terminated strings; nothing is
    // allocated and no lock is taken. `user_ns` and `pid_ns` are descriptors the caller keeps open until
    // spawn returns. The intermediate never returns from the closure (it _exits), so only the forked
    // program goes on to the exec.
    unsafe {
        cmd.pre_exec(move || {
            let check = |r: libc::c_int| {
                if r != 0 {
                    Err(io::Error::last_os_error())
                } else {
                    Ok(())
                }
            };
            if let Some(fd) = user_ns {
                check(libc::setns(fd, libc::CLONE_NEWUSER))?;
            }
            check(libc::setns(pid_ns, libc::CLONE_NEWPID))?;
            check(libc::unshare(libc::CLONE_NEWNS))?;
            check(libc::mount(
                std::ptr::null(),
                c"/".as_ptr(),
                std::ptr::null(),
                libc::MS_REC | libc::MS_PRIVATE,
                std::ptr::null(),
            ))?;
            match libc::fork() {
                -1 => Err(io::Error::last_os_error()),
                0 => check(libc::mount(
                    c"proc".as_ptr(),
                    c"/proc".as_ptr(),
                    c"proc".as_ptr(),
                    libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC,
                    std::ptr::null(),
                )),
                child => {
                    libc::syscall(
                        libc::SYS_close_range,
                        3 as libc::c_uint,
                        libc::c_uint::MAX,
                        0,
                    );
                    let mut status = 0;
                    while libc::waitpid(child, &mut status, 0) < 0 {
                        if *libc::__errno_location() != libc::EINTR {
                            libc::_exit(127);
                        }
                    }
                    let code = if libc::WIFEXITED(status) {
                        libc::WEXITSTATUS(status)
                    } else {
                        128 + libc::WTERMSIG(status)
                    };
                    libc::_exit(code)
                }
            }
        });
    }
    cmd.spawn()
}

/// dup2(2): make descriptor number `target` refer to what `fd` refers to.
pub fn dup_onto(fd: std::os::fd::BorrowedFd<'_>, target: RawFd) -> io::Result<()> {
    // SAFETY: dup2 takes two integers; `fd` is a live borrowed descriptor and `target` is one of the
    // standard descriptors (0, 1, 2), which this process owns and expects to be replaced.
    if unsafe { libc::dup2(std::os::fd::AsRawFd::as_raw_fd(&fd), target) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// A close-on-exec duplicate of `fd` (to set a standard descriptor aside while it is redirected).
pub fn dup_cloexec(fd: std::os::fd::BorrowedFd<'_>) -> io::Result<std::os::fd::OwnedFd> {
    rustix::io::fcntl_dupfd_cloexec(fd, 3).map_err(io::Error::from)
}

/// Take ownership of one descriptor a parent passed down by number (`__monitor --ready-fd`).
pub fn adopt_fd(fd: RawFd) -> io::Result<std::os::fd::OwnedFd> {
    nix::sys::stat::fstat(fd_ref(fd)?).map_err(io::Error::from)?;
    // SAFETY: the starting process passed this descriptor number on our command line for this purpose
    // only; it is open (checked just above), nothing else in this process refers to it, and it is wrapped
    // exactly once, so it is closed exactly once.
    let owned = unsafe { <std::os::fd::OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd) };
    nix::fcntl::fcntl(
        &owned,
        nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::FD_CLOEXEC),
    )
    .map_err(io::Error::from)?;
    Ok(owned)
}

/// Set a variable in this process's environment, for the programs we start. Only while the process
/// is single-threaded (checked in debug builds).
pub fn set_env(key: &str, value: &std::ffi::OsStr) {
    debug_assert!(crate::sys::clone::single_threaded());
    // SAFETY: the only caller, `userns::enter`, runs before any thread exists: it has just joined or
    // created a user namespace, which the kernel allows only to a single-threaded process. So no other
    // thread can be reading the environment concurrently.
    unsafe { std::env::set_var(key, value) }
}

/// As [`forward_signals`], for every catchable signal (the `--init` pid 1).
pub fn forward_all_signals(pid: i32) {
    use nix::sys::signal::{SaFlags, SigAction, SigHandler, SigSet, Signal, sigaction};
    FORWARD_TO.store(pid, std::sync::atomic::Ordering::Relaxed);
    let action = SigAction::new(
        SigHandler::Handler(forward),
        SaFlags::SA_RESTART,
        SigSet::empty(),
    );
    for s in Signal::iterator() {
        if matches!(s, Signal::SIGKILL | Signal::SIGSTOP | Signal::SIGCHLD) {
            continue;
        }
        // SAFETY: the handler only reads an atomic and calls kill(2), both async-signal-safe.
        let _ = unsafe { sigaction(s, &action) };
    }
}

/// Whether descriptor `fd` is open and was passed to us by our caller: open without close-on-exec, which
/// every descriptor roost opens itself has (`exec --preserve-fds`).
pub fn is_inherited(fd: RawFd) -> bool {
    fd_ref(fd)
        .ok()
        .and_then(|f| nix::fcntl::fcntl(f, nix::fcntl::FcntlArg::F_GETFD).ok())
        .is_some_and(|flags| {
            !nix::fcntl::FdFlag::from_bits_truncate(flags).contains(nix::fcntl::FdFlag::FD_CLOEXEC)
        })
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

/// Close every descriptor from 3 up, then `_exit` with what `wait(arg)` returns. For a process that
/// is a copy of its parent and must not keep the parent's files open while it waits (`--init`'s
/// pid 1). `wait` is a plain function, so it cannot hold any of the closed descriptors.
pub fn close_descriptors_then_exit(wait: fn(i32) -> i32, arg: i32) -> ! {
    // SAFETY: close_range(2) takes two integers and a flag. After it, this process only runs `wait`
    // (a fn pointer: it captures no descriptor-owning value) and `_exit`, which runs no destructor, so
    // no owner of a closed descriptor uses or closes it again.
    unsafe {
        libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, 0);
    }
    crate::sys::clone::exit_now(wait(arg))
}

/// kill(2) with any signal number 1..=64, the real-time ones included (nix's `Signal` has only the
/// named ones).
pub fn send_signal(pid: i32, sig: i32) -> io::Result<()> {
    if pid <= 0 || !(1..=64).contains(&sig) {
        return Err(io::Error::from_raw_os_error(libc::EINVAL));
    }
    // SAFETY: kill(2) takes two integers and touches no memory of ours; a positive pid names one
    // process (never a group or every process), checked above.
    if unsafe { libc::kill(pid, sig) } == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// The user namespace that owns the namespace `ns` (an open `/proc/PID/ns/*` file): NS_GET_USERNS.
pub fn namespace_owner(ns: std::os::fd::BorrowedFd<'_>) -> nix::Result<std::os::fd::OwnedFd> {
    use std::os::fd::{AsRawFd, FromRawFd};
    // _IO(0xb7, 0x1) from <linux/nsfs.h>.
    const NS_GET_USERNS: libc::c_ulong = 0xb701;
    // SAFETY: NS_GET_USERNS takes no argument and reads or writes no memory of ours; `ns` is
    // borrowed and open for the call. On success it returns a new descriptor that nothing else
    // owns, which the OwnedFd below takes over (and closes).
    let ret = unsafe { libc::ioctl(ns.as_raw_fd(), NS_GET_USERNS as _) };
    let fd = nix::errno::Errno::result(ret)?;
    // SAFETY: `fd` was just returned by the kernel as a fresh descriptor owned by no one else.
    Ok(unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) })
}
