//! Running another process in a running container (`exec`): join the namespaces of its pid 1, enter its
//! root, fork (a process joins a pid namespace only through its children), switch to the user and exec.
//!
//! The container's namespaces belong to the user namespace its `run` entered (a fresh one when no
//! holder kept one), so this runs in the caller's own namespace — where the unprivileged owner of
//! that user namespace holds every capability over it — and joins the container's user namespace
//! first. Namespaces the container shares with us (the host network) are not joined.
//!
//! `setns(CLONE_NEWNS)` resets root and cwd to the namespace's root mount, which after the container's
//! `pivot_root` is its root file system; we do not rely on it: the root is opened (as
//! `/proc/PID/root`) before joining, and entered with `fchdir` + `chroot(".")` after.
use std::convert::Infallible;
use std::fs::File;
use std::io::Read;
use std::os::fd::{AsFd, OwnedFd};

use nix::sched::CloneFlags;
use nix::sys::signal::{SigSet, Signal};
use nix::unistd::Pid;

use super::message::{ChildError, ParentEnd, Step};
use super::plan::Process;
use super::relay::{Pipes, Until};
use super::spawn::exec as exec_process;
use crate::sys::clone::{Cloned, clone_process, exit_now};

/// What to run in which container.
#[derive(Debug, Clone)]
pub struct ExecPlan {
    /// The container's pid 1, as seen from this process.
    pub pid: i32,
    pub process: Process,
    /// Give the process a new pseudo-terminal as its controlling terminal, relayed to ours.
    pub tty: bool,
    /// Pass our stdin on (else the process reads /dev/null).
    pub interactive: bool,
    /// Leave the process running in the container and return once it has been exec'd.
    pub detach: bool,
    /// The container's capabilities and seccomp filter (the exec'd process gets the same).
    pub security: super::plan::Security,
    /// Pass descriptors 3 to 3+N-1, inherited from our caller, on to the process (`--preserve-fds`).
    pub preserve_fds: u32,
    /// The process is killed (SIGKILL) when the process that waits for it dies (a healthcheck that
    /// timed out).
    pub die_with_parent: bool,
    /// The container's own cgroup, if it has one: the process joins it, so that the container's
    /// limits, `stats` and `top` count it as podman's do.
    pub cgroup: Option<std::path::PathBuf>,
}

/// How an exec ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExecOutcome {
    /// The process ran and exited with this status (128+signal when killed).
    Exited(i32),
    /// The process was started and left running (`-d`); its pid as we see it, when known.
    Detached(Option<i32>),
}

#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    #[error("failed to open `{path}`")]
    Open {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("failed to join the {ns} namespace of container process {pid}")]
    Join {
        ns: &'static str,
        pid: i32,
        #[source]
        source: nix::Error,
    },
    #[error("failed to enter the root file system of container process {pid}")]
    Root {
        pid: i32,
        #[source]
        source: nix::Error,
    },
    #[error("failed to allocate a pseudo-terminal")]
    Pty(#[source] nix::Error),
    #[error("failed to block signals for the terminal relay")]
    Signals(#[source] nix::Error),
    #[error("failed to create the exec process")]
    Fork(#[source] nix::Error),
    #[error("failed to set up the parent/child pipes")]
    Pipe(#[source] nix::Error),
    #[error("failed to relay the terminal")]
    Relay(#[source] nix::Error),
    /// The forked process failed before it exec'd the command.
    #[error(transparent)]
    Child(#[from] ChildError),
    /// A detached process (`-d`) failed before it exec'd the command: the exec session failed to
    /// start, which is an error of the tool's (125), not the command's status.
    #[error(transparent)]
    DetachedChild(ChildError),
}

impl ExecError {
    /// podman's statuses: 126 when the command cannot be run, 127 when it is not found, else 125.
    pub fn exit_code(&self) -> i32 {
        match self {
            ExecError::Child(e) => e.exit_code(),
            _ => 125,
        }
    }
}

/// The namespaces to join, user first (it grants the capabilities the others need), mount last.
const NAMESPACES: &[(&str, CloneFlags)] = &[
    ("user", CloneFlags::CLONE_NEWUSER),
    ("ipc", CloneFlags::CLONE_NEWIPC),
    ("uts", CloneFlags::CLONE_NEWUTS),
    ("net", CloneFlags::CLONE_NEWNET),
    ("cgroup", CloneFlags::CLONE_NEWCGROUP),
    ("pid", CloneFlags::CLONE_NEWPID),
    ("mnt", CloneFlags::CLONE_NEWNS),
];

/// Everything opened from the host side before joining: namespace fds, the root, /dev/null.
struct Handles {
    namespaces: Vec<(&'static str, CloneFlags, File)>,
    root: File,
    devnull: File,
    /// Our /proc/self/fdinfo, opened before we enter the container's root (whose /proc does not
    /// show us): a detached process's pid is read from its pidfd's entry.
    fdinfo: Option<File>,
    set_groups: bool,
}

fn open(path: String) -> Result<File, ExecError> {
    File::open(&path).map_err(|source| ExecError::Open { path, source })
}

type Namespaces = Vec<(&'static str, CloneFlags, File)>;

/// A pod member in its pod's user namespace (`pod create --userns`) keeps its mount, cgroup and pid
/// namespaces in roost's: enter the user namespace owning its mount namespace first (whose root may
/// enter all the others), and the member's own last.
fn enter_user_namespace_late(namespaces: &mut Namespaces, pid: i32) -> Result<(), ExecError> {
    use std::os::unix::fs::MetadataExt;
    let id = |f: &File| f.metadata().map(|m| (m.dev(), m.ino())).ok();
    let Some(user_at) = namespaces.iter().position(|(ns, ..)| *ns == "user") else {
        return Ok(());
    };
    let Some((_, _, mnt)) = namespaces.iter().find(|(ns, ..)| *ns == "mnt") else {
        return Ok(());
    };
    let owner = crate::sys::process::namespace_owner(mnt.as_fd()).map_err(|e| ExecError::Open {
        path: format!("the owner of /proc/{pid}/ns/mnt"),
        source: e.into(),
    })?;
    let owner = File::from(owner);
    if id(&owner) == id(&namespaces[user_at].2) {
        return Ok(());
    }
    let user = namespaces.remove(user_at);
    let ours = File::open("/proc/self/ns/user").ok();
    if ours.as_ref().and_then(id) != id(&owner) {
        namespaces.insert(0, ("user", CloneFlags::CLONE_NEWUSER, owner));
    }
    namespaces.push(user);
    Ok(())
}

fn open_handles(pid: i32) -> Result<Handles, ExecError> {
    let mut namespaces = Vec::new();
    for &(ns, flag) in NAMESPACES {
        let theirs = format!("/proc/{pid}/ns/{ns}");
        let target = std::fs::read_link(&theirs).map_err(|source| ExecError::Open {
            path: theirs.clone(),
            source,
        })?;
        if std::fs::read_link(format!("/proc/self/ns/{ns}")).is_ok_and(|mine| mine == target) {
            tracing::debug!(ns, "namespace shared with the container: not joined");
            continue;
        }
        namespaces.push((ns, flag, open(theirs)?));
    }
    enter_user_namespace_late(&mut namespaces, pid)?;
    // O_PATH: a fuse-overlayfs root refuses opens from outside its user namespace, where we still are.
    let root = {
        use std::os::unix::fs::OpenOptionsExt;
        let path = format!("/proc/{pid}/root");
        std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_PATH | libc::O_DIRECTORY)
            .open(&path)
            .map_err(|source| ExecError::Open { path, source })?
    };
    let devnull = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/null")
        .map_err(|source| ExecError::Open {
            path: "/dev/null".into(),
            source,
        })?;
    // A single-id mapping denies setgroups(2) in the container's user namespace.
    let set_groups = std::fs::read_to_string(format!("/proc/{pid}/setgroups"))
        .map(|s| s.trim() != "deny")
        .unwrap_or(true);
    Ok(Handles {
        namespaces,
        root,
        devnull,
        fdinfo: File::open("/proc/self/fdinfo").ok(),
        set_groups,
    })
}

fn join(pid: i32, h: &Handles) -> Result<(), ExecError> {
    for (ns, flag, fd) in &h.namespaces {
        tracing::debug!(ns, pid, "setns");
        nix::sched::setns(fd.as_fd(), *flag).map_err(|source| ExecError::Join {
            ns,
            pid,
            source,
        })?;
    }
    let root = |source| ExecError::Root { pid, source };
    nix::unistd::fchdir(h.root.as_fd()).map_err(root)?;
    nix::unistd::chroot(".").map_err(root)?;
    nix::unistd::chdir("/").map_err(root)
}

/// Run `plan` in its container. Must be called while the process is single-threaded; afterwards this
/// process stays in the container's namespaces and root (it only relays and waits).
pub fn exec(plan: &ExecPlan) -> Result<ExecOutcome, ExecError> {
    // Our child is visible in the container until it execs: no container process may open its
    // /proc/PID/exe (the roost binary) or memory meanwhile (CVE-2019-5736). execve resets this.
    nix::sys::prctl::set_dumpable(false).map_err(ExecError::Signals)?;
    let handles = open_handles(plan.pid)?;
    let (parent_end, child_end) =
        super::message::channel().map_err(|e| ExecError::Pipe(errno(&e)))?;
    // `-d -t`: the process gets a terminal whose master a holder outside the container keeps open
    // (as conmon does for podman), forked before we join the container.
    let holder = if plan.tty && plan.detach {
        Some(spawn_pty_holder()?)
    } else {
        None
    };
    // Without a pty of its own, those of our stdin, stdout and stderr that are terminals reach the
    // process through pipes (see `relay`).
    let relay = relay_pipes(plan)?;
    // The CPUs the container's pid 1 may run on (a `--cpus` quota pins it: see
    // `spawn::pin_to_quota`), so that nproc agrees inside `exec` too; the process inherits them.
    // Best effort: if pid 1 is gone, the join below fails anyway.
    let pid1 = Pid::from_raw(plan.pid);
    if let Ok(cpus) = nix::sched::sched_getaffinity(pid1) {
        let _ = nix::sched::sched_setaffinity(Pid::from_raw(0), &cpus);
    }
    let cgroup_procs = open_cgroup_procs(plan);
    join(plan.pid, &handles)?;
    let tty = plan.tty && !plan.detach;
    // The pty comes from the container's devpts (its /dev/ptmx), so it shows up in its /dev/pts.
    let pty = if plan.tty {
        Some(open_pty(plan)?)
    } else {
        None
    };
    // SIGCHLD and SIGWINCH are read from a signalfd by the relay: block them before the child can exit.
    let old_mask = if tty {
        Some(block_relay_signals()?)
    } else {
        None
    };
    match clone_process(0).map_err(ExecError::Fork)? {
        Cloned::Child => {
            drop(parent_end);
            let child = Child {
                plan,
                chan: &child_end,
                handles: &handles,
                pty: pty.as_ref().map(|p| (&p.master, &p.slave)),
                relay: relay.as_ref(),
                old_mask: old_mask.as_ref(),
                cgroup_procs: cgroup_procs.as_ref(),
            };
            let e = match child.run() {
                Ok(never) => match never {},
                Err(e) => e,
            };
            child_end.report(&e);
            exit_now(e.exit_code())
        }
        Cloned::Parent(child) => {
            drop(child_end);
            let mut master = pty.map(|p| {
                drop(p.slave);
                p.master
            });
            if let Some(sock) = holder
                && let Some(m) = master.take()
            {
                // If this fails the holder ends at once and the process sees a hung-up terminal.
                let _ = crate::sys::tty::send_fd(&sock, &m);
            }
            parent(plan, child, &parent_end, master, relay, &handles)
        }
    }
}

/// The container cgroup's `cgroup.procs`, opened before we join the container (whose mount
/// namespace may not show the host's cgroup tree, or only read-only).
fn open_cgroup_procs(plan: &ExecPlan) -> Option<File> {
    let path = plan.cgroup.as_ref()?.join("cgroup.procs");
    match std::fs::OpenOptions::new().write(true).open(&path) {
        Ok(f) => Some(f),
        Err(e) => {
            tracing::debug!(path = %path.display(), error = %e, "exec: the container's cgroup cannot take the process");
            None
        }
    }
}

/// The pipes that stand in for those of our stdin, stdout and stderr that are terminals, when the
/// process has no pty of its own.
fn relay_pipes(plan: &ExecPlan) -> Result<Option<Pipes>, ExecError> {
    if plan.tty || plan.detach {
        return Ok(None);
    }
    let t = super::relay::terminals();
    let which = [plan.interactive && t[0], t[1], t[2]];
    match which.contains(&true) {
        true => Ok(Some(Pipes::new(which).map_err(ExecError::Pipe)?)),
        false => Ok(None),
    }
}

/// A pty of our size, its slave owned by the process's user.
fn open_pty(plan: &ExecPlan) -> Result<nix::pty::OpenptyResult, ExecError> {
    let size = crate::sys::tty::window_size(std::io::stdin()).ok();
    let pty = nix::pty::openpty(size.as_ref(), None).map_err(ExecError::Pty)?;
    let owner = (
        Some(nix::unistd::Uid::from_raw(plan.process.uid)),
        Some(nix::unistd::Gid::from_raw(plan.process.gid)),
    );
    let _ = nix::unistd::fchown(&pty.slave, owner.0, owner.1);
    Ok(pty)
}

/// Block SIGCHLD and SIGWINCH; the mask before.
fn block_relay_signals() -> Result<SigSet, ExecError> {
    let mut set = SigSet::empty();
    set.add(Signal::SIGCHLD);
    set.add(Signal::SIGWINCH);
    set.thread_swap_mask(nix::sys::signal::SigmaskHow::SIG_BLOCK)
        .map_err(ExecError::Signals)
}

fn parent(
    plan: &ExecPlan,
    child: Pid,
    chan: &ParentEnd,
    master: Option<OwnedFd>,
    relay: Option<Pipes>,
    handles: &Handles,
) -> Result<ExecOutcome, ExecError> {
    if !plan.detach {
        crate::sys::process::forward_signals(child.as_raw());
    }
    let started = match chan.outcome() {
        Ok(started) => started,
        Err(e) => {
            let _ = super::wait::wait_exit(child);
            return Err(match plan.detach {
                true => ExecError::DetachedChild(e),
                false => e.into(),
            });
        }
    };
    if plan.detach {
        // The intermediate process exits at once; the exec'd process was re-parented to the
        // container's pid 1.
        let _ = super::wait::wait_exit(child);
        let pid = started.and_then(|fd| pidfd_pid(handles.fdinfo.as_ref()?, &fd));
        return Ok(ExecOutcome::Detached(pid));
    }
    if let Some(master) = master {
        super::tty::relay_pty_until_exit(&master, plan.interactive, child)
            .map_err(ExecError::Relay)?;
    } else if let Some(relay) = relay {
        relay.copy(child, Until::Exited, &mut |_, _| {});
    }
    Ok(ExecOutcome::Exited(super::wait::wait_exit(child)))
}

/// The forked side, already in the container's namespaces and root.
struct Child<'a> {
    plan: &'a ExecPlan,
    chan: &'a super::message::ChildEnd,
    handles: &'a Handles,
    pty: Option<(&'a OwnedFd, &'a OwnedFd)>,
    relay: Option<&'a Pipes>,
    old_mask: Option<&'a SigSet>,
    cgroup_procs: Option<&'a File>,
}

impl Child<'_> {
    fn run(&self) -> Result<Infallible, ChildError> {
        let p = &self.plan.process;
        // Into the container's cgroup before anything can fork. `0` is the writer itself; the
        // kernel checks the permission of whoever opened the file (we did, outside the
        // container). Best effort: a container that divided its cgroup among children of its
        // own (a private cgroupns running systemd) takes no process at the top, and then the
        // process stays in ours, as before.
        if let Some(mut procs) = self.cgroup_procs {
            let _ = std::io::Write::write_all(&mut procs, b"0");
        }
        if self.plan.detach {
            self.detach()?;
        } else if let Some((_, slave)) = self.pty {
            setsid()?;
            crate::sys::tty::set_controlling_terminal(slave)
                .map_err(|e| ChildError::nix(Step::ControllingTerminal, e))?;
            redirect(slave, true, true)?;
        } else {
            // A session of its own, so that no terminal of ours is its controlling terminal.
            setsid()?;
            if !self.plan.interactive {
                redirect(&self.handles.devnull, true, false)?;
            }
            self.redirect_relayed()?;
        }
        if let Some(mask) = self.old_mask {
            mask.thread_set_mask()
                .map_err(|e| ChildError::nix(Step::SignalMask, e))?;
        }
        nix::unistd::chdir(p.cwd.as_str()).map_err(|e| {
            let step = Step::EnterCwd { cwd: p.cwd.clone() };
            ChildError::nix(step, e)
        })?;
        super::spawn::drop_privileges(p, &self.plan.security, self.handles.set_groups)?;
        // Nothing but stdio and the descriptors asked for goes to the process: not the pty's
        // descriptors (created without close-on-exec), nor whatever else our caller leaked to us.
        crate::sys::process::cloexec_from(3 + self.plan.preserve_fds)
            .map_err(|e| ChildError::nix(Step::Cloexec, e))?;
        // After the switch of user, which clears it.
        if self.plan.die_with_parent {
            nix::sys::prctl::set_pdeathsig(Signal::SIGKILL)
                .map_err(|e| ChildError::nix(Step::ParentDeathSignal, e))?;
        }
        exec_process(p)
    }

    /// Make the relay's pipes the process's stdin, stdout and stderr where ours are terminals.
    fn redirect_relayed(&self) -> Result<(), ChildError> {
        let Some(relay) = self.relay else {
            return Ok(());
        };
        for fd in 0..3 {
            if let Some(end) = relay.child_end(fd) {
                crate::sys::process::dup_onto(end.as_fd(), fd as i32)
                    .map_err(|e| ChildError::io(Step::Redirect, &e))?;
            }
        }
        Ok(())
    }

    /// A new session with no terminal, then a second fork so that the process is re-parented to the
    /// container's pid 1 when the intermediate exits; its stdio is /dev/null, or with `-t` the
    /// terminal (in a session of its own, so that it is its controlling terminal).
    fn detach(&self) -> Result<(), ChildError> {
        setsid()?;
        match clone_process(0).map_err(|e| ChildError::nix(Step::Fork, e))? {
            Cloned::Parent(pid) => {
                // Our parent cannot see this pid (it is the container's): a pidfd tells it its own.
                if let Ok(fd) = crate::sys::fdpass::pidfd_open(pid.as_raw()) {
                    let _ = self.chan.send_started(&fd);
                }
                exit_now(0)
            }
            Cloned::Child => match self.pty {
                Some((_, slave)) => {
                    setsid()?;
                    crate::sys::tty::set_controlling_terminal(slave)
                        .map_err(|e| ChildError::nix(Step::ControllingTerminal, e))?;
                    redirect(slave, true, true)
                }
                None => redirect(&self.handles.devnull, true, true),
            },
        }
    }
}

/// Fork the holder of a detached process's terminal: a process of its own session, outside the
/// container, that receives the pty master over the returned socket and reads (and discards) what
/// the process writes until every descriptor of the terminal is closed. It keeps no other file of
/// ours, and gives back the memory it does not need while it waits.
fn spawn_pty_holder() -> Result<OwnedFd, ExecError> {
    let (ours, theirs) = crate::sys::tty::fd_channel().map_err(|e| ExecError::Pty(errno(&e)))?;
    match clone_process(0).map_err(ExecError::Fork)? {
        Cloned::Parent(_) => Ok(ours),
        Cloned::Child => {
            drop(ours);
            let _ = nix::unistd::setsid();
            let master = crate::sys::tty::receive_fd(&theirs).ok().flatten();
            let Some(master) = master else { exit_now(0) };
            if nix::unistd::dup2_stdin(&master).is_err() {
                exit_now(0);
            }
            if let Ok(null) = File::options().write(true).open("/dev/null") {
                let _ = nix::unistd::dup2_stdout(&null);
                let _ = nix::unistd::dup2_stderr(&null);
            }
            crate::sys::process::close_descriptors_then_exit(drain_stdin, 0)
        }
    }
}

/// The pid, in our pid namespace, of the process `pidfd` refers to: the `Pid:` line of its entry in
/// our fdinfo directory.
fn pidfd_pid(fdinfo: &File, pidfd: &OwnedFd) -> Option<i32> {
    use std::os::fd::AsRawFd;
    let name = pidfd.as_raw_fd().to_string();
    let fd =
        rustix::fs::openat(fdinfo, name.as_str(), rustix::fs::OFlags::RDONLY, 0.into()).ok()?;
    let mut text = String::new();
    File::from(fd).read_to_string(&mut text).ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix("Pid:"))?
        .trim()
        .parse()
        .ok()
        .filter(|&pid: &i32| pid > 0)
}

fn errno(e: &std::io::Error) -> nix::Error {
    nix::Error::from_raw(e.raw_os_error().unwrap_or(libc::EIO))
}

/// Read stdin (the pty master) until it ends (EIO once the terminal has no other end).
fn drain_stdin(_: i32) -> i32 {
    crate::sys::memory::trim_heap();
    crate::sys::memory::release_clean_file_pages();
    let stdin = std::io::stdin();
    let mut buf = [0u8; 4096];
    loop {
        match nix::unistd::read(stdin.as_fd(), &mut buf) {
            Ok(0) => return 0,
            Err(nix::Error::EINTR) => {}
            Err(_) => return 0,
            Ok(_) => {}
        }
    }
}

fn setsid() -> Result<(), ChildError> {
    nix::unistd::setsid()
        .map(drop)
        .map_err(|e| ChildError::nix(Step::Setsid, e))
}

fn redirect(fd: &impl AsFd, stdin: bool, output: bool) -> Result<(), ChildError> {
    let e = |e| ChildError::nix(Step::Redirect, e);
    if stdin {
        nix::unistd::dup2_stdin(fd).map_err(e)?;
    }
    if output {
        nix::unistd::dup2_stdout(fd).map_err(e)?;
        nix::unistd::dup2_stderr(fd).map_err(e)?;
    }
    Ok(())
}

/// Read a file of a running container, e.g. `etc/passwd`, resolving the path (symlinks included)
/// inside its root so that it cannot name a host file. `None` when it is missing or unreadable.
pub fn read_container_file(pid: i32, path: &str) -> Option<String> {
    use rustix::fs::OFlags;
    let root = File::open(format!("/proc/{pid}/root")).ok()?;
    let fd = crate::sys::path::open_in_root(&root, path, OFlags::RDONLY | OFlags::CLOEXEC).ok()?;
    let mut text = String::new();
    File::from(fd).read_to_string(&mut text).ok()?;
    Some(text)
}
