//! Carrying out a [`Plan`]: clone into new namespaces, let the parent map ids, build the root, switch
//! to the container user, exec. The child reports a failure before exec over a close-on-exec pipe, so the
//! parent knows whether the exec happened (the technique std's `Command` uses).
use std::convert::Infallible;
use std::ffi::CString;
use std::io::{Read, Write};
use std::os::fd::OwnedFd;

use nix::unistd::{Gid, Pid, Uid};

use super::mounts;
use super::plan::{IdMaps, Plan};
use crate::sys::clone::{Cloned, clone_process, exit_now};

#[derive(Debug, thiserror::Error)]
pub enum SpawnError {
    #[error("failed to create the container process")]
    Clone(#[source] nix::Error),
    #[error("failed to set up the parent/child pipes")]
    Pipe(#[source] nix::Error),
    #[error(transparent)]
    Userns(#[from] crate::userns::UsernsError),
    #[error("{message}")]
    Child { code: i32, message: String },
    /// Setting up the container's network from outside failed.
    #[error("{0}")]
    Attach(String),
    #[error(transparent)]
    Cgroup(#[from] super::cgroup::CgroupError),
}

impl SpawnError {
    /// podman's statuses: 126 when the command cannot be run, 127 when it is not found, else 125.
    pub fn exit_code(&self) -> i32 {
        match self {
            SpawnError::Child { code, .. } => *code,
            _ => 125,
        }
    }
}

/// A started container process (pid 1 of its namespaces).
#[derive(Debug)]
pub struct Spawned {
    pub pid: Pid,
    /// The pty master, with `-t`.
    pub terminal: Option<OwnedFd>,
    /// Its cgroup, when the plan asked for one.
    pub cgroup: Option<super::cgroup::Made>,
}

/// Work done for the container from outside while it builds its root: starting the helper that
/// connects its network namespace. The container's program starts only once `ready` succeeds.
pub trait Attach {
    /// Right after the clone: the container's namespaces exist (ids may not be mapped yet).
    fn created(&mut self, pid: Pid) -> Result<(), String>;
    /// Before the container's program runs.
    fn ready(&mut self) -> Result<(), String>;
}

/// Nothing to attach.
pub struct NoAttach;

impl Attach for NoAttach {
    fn created(&mut self, _pid: Pid) -> Result<(), String> {
        Ok(())
    }
    fn ready(&mut self) -> Result<(), String> {
        Ok(())
    }
}

fn namespace_flags(plan: &Plan) -> libc::c_int {
    // With a cgroup of its own, the child makes its cgroup namespace once it has been moved there.
    let mut f = libc::CLONE_NEWNS;
    if plan.cgroup.is_none() && !plan.shared.cgroup {
        f |= libc::CLONE_NEWCGROUP;
    }
    for (shared, flag) in [
        (plan.shared.pid, libc::CLONE_NEWPID),
        (plan.shared.uts, libc::CLONE_NEWUTS),
        (plan.shared.ipc, libc::CLONE_NEWIPC),
    ] {
        if !shared {
            f |= flag;
        }
    }
    if !matches!(plan.maps, IdMaps::None) {
        f |= libc::CLONE_NEWUSER;
    }
    if plan.new_network {
        f |= libc::CLONE_NEWNET;
    }
    f
}

/// Start the container. Must be called while the process is single-threaded.
pub fn spawn(plan: &Plan) -> Result<Spawned, SpawnError> {
    spawn_with(plan, &mut NoAttach)
}

/// Start the container with `attach` doing its part from outside (see [`Attach`]).
pub fn spawn_with(plan: &Plan, attach: &mut dyn Attach) -> Result<Spawned, SpawnError> {
    let cloexec = nix::fcntl::OFlag::O_CLOEXEC;
    let (go_r, go_w) = nix::unistd::pipe2(cloexec).map_err(SpawnError::Pipe)?;
    let (net_r, net_w) = nix::unistd::pipe2(cloexec).map_err(SpawnError::Pipe)?;
    let (err_r, err_w) = nix::unistd::pipe2(cloexec).map_err(SpawnError::Pipe)?;
    let (tty_parent, tty_child) = crate::sys::tty::fd_channel().map_err(|e| {
        SpawnError::Pipe(nix::Error::from_raw(e.raw_os_error().unwrap_or(libc::EIO)))
    })?;
    match clone_process(namespace_flags(plan)).map_err(SpawnError::Clone)? {
        Cloned::Child => {
            drop(go_w);
            drop(net_w);
            drop(err_r);
            drop(tty_parent);
            let code = child(plan, go_r, net_r, err_w, tty_child);
            exit_now(code)
        }
        Cloned::Parent(pid) => {
            drop(go_r);
            drop(net_r);
            drop(err_w);
            drop(tty_child);
            let pipes = Pipes {
                go: go_w,
                net: net_w,
                err: err_r,
                tty: tty_parent,
            };
            parent(plan, pid, pipes, attach)
        }
    }
}

/// The parent's ends of the pipes to the child.
struct Pipes {
    /// "G": ids are mapped, go on building the root ("E": stop).
    go: OwnedFd,
    /// "N": the network is ready, exec ("E": stop).
    net: OwnedFd,
    /// The child's failure report; EOF without one means it exec'd.
    err: OwnedFd,
    tty: OwnedFd,
}

fn kill_and_reap(pid: Pid) {
    let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL);
    let _ = nix::sys::wait::waitpid(pid, None);
}

fn parent(
    plan: &Plan,
    pid: Pid,
    pipes: Pipes,
    attach: &mut dyn Attach,
) -> Result<Spawned, SpawnError> {
    let Pipes { go, net, err, tty } = pipes;
    if let Err(e) = attach.created(pid) {
        kill_and_reap(pid);
        return Err(SpawnError::Attach(e));
    }
    let cgroup = match plan.cgroup.as_ref() {
        None => None,
        Some(c) => match super::cgroup::create(c, pid.as_raw()) {
            Ok(made) => Some(made),
            Err(e) => {
                kill_and_reap(pid);
                return Err(e.into());
            }
        },
    };
    let failed = |pid: Pid| {
        kill_and_reap(pid);
        if let Some(m) = &cgroup {
            super::cgroup::remove(m);
        }
    };
    let mapped = match &plan.maps {
        IdMaps::Helpers { uids, gids } => {
            crate::userns::run_map_helper("newuidmap", pid.as_raw(), uids)
                .and_then(|()| crate::userns::run_map_helper("newgidmap", pid.as_raw(), gids))
        }
        IdMaps::Single { uid, gid } => crate::userns::write_single_map(pid.as_raw(), *uid, *gid),
        IdMaps::Direct { uids, gids } => write_direct_maps(pid.as_raw(), uids, gids),
        IdMaps::None => Ok(()),
    };
    let mut go = std::fs::File::from(go);
    let _ = go.write_all(if mapped.is_ok() { b"G" } else { b"E" });
    drop(go);
    // With -t the child sends the pty master before it execs (or closes the channel when it fails).
    let terminal = if plan.process.terminal && mapped.is_ok() {
        crate::sys::tty::receive_fd(&tty).ok().flatten()
    } else {
        None
    };
    drop(tty);
    let attached = if mapped.is_ok() {
        attach.ready()
    } else {
        Ok(())
    };
    let _ = std::fs::File::from(net).write_all(if attached.is_ok() { b"N" } else { b"E" });
    let mut report = Vec::new();
    let _ = std::fs::File::from(err).read_to_end(&mut report);
    if let Err(e) = mapped {
        failed(pid);
        return Err(e.into());
    }
    if let Err(e) = attached {
        failed(pid);
        return Err(SpawnError::Attach(e));
    }
    if report.is_empty() {
        return Ok(Spawned {
            pid,
            terminal,
            cgroup,
        });
    }
    failed(pid);
    let text = String::from_utf8_lossy(&report);
    let (code, message) = text.split_once('\t').unwrap_or(("125", &text));
    Err(SpawnError::Child {
        code: code.parse().unwrap_or(125),
        message: message.to_string(),
    })
}

/// Write a nested namespace's maps ourselves (gid_map first; setgroups is left allowed).
fn write_direct_maps(
    pid: i32,
    uids: &[crate::userns::IdRange],
    gids: &[crate::userns::IdRange],
) -> Result<(), crate::userns::UsernsError> {
    let lines = |ranges: &[crate::userns::IdRange]| -> String {
        ranges
            .iter()
            .map(|r| format!("{} {} {}\n", r.container, r.host, r.size))
            .collect()
    };
    for (file, ranges) in [("gid_map", gids), ("uid_map", uids)] {
        tracing::debug!(pid, file, map = %lines(ranges), "write id map");
        std::fs::write(format!("/proc/{pid}/{file}"), lines(ranges))
            .map_err(|source| crate::userns::UsernsError::WriteMap { pid, source })?;
    }
    Ok(())
}

/// Whether gid 5 (tty, devpts's `gid=5`) exists in the container's user namespace.
fn tty_gid_mapped(maps: &IdMaps) -> bool {
    match maps {
        IdMaps::Single { .. } => false,
        IdMaps::Direct { gids, .. } => gids
            .iter()
            .any(|r| r.container <= 5 && u64::from(r.container) + u64::from(r.size) > 5),
        IdMaps::Helpers { .. } | IdMaps::None => true,
    }
}

/// The child side: returns the exit status to use when setup fails (exec replaces us on success).
fn child(plan: &Plan, go: OwnedFd, net: OwnedFd, err: OwnedFd, tty: OwnedFd) -> i32 {
    let mut b = [0u8; 1];
    if std::fs::File::from(go).read_exact(&mut b).is_err() || &b != b"G" {
        return 125;
    }
    let mut err = std::fs::File::from(err);
    let (code, message) = match setup(plan, &err, tty, net) {
        Ok(never) => match never {},
        Err(e) => e,
    };
    let _ = err.write_all(format!("{code}\t{message}").as_bytes());
    code
}

pub(super) fn fail(code: i32, what: impl std::fmt::Display) -> (i32, String) {
    (code, what.to_string())
}

fn setup(
    plan: &Plan,
    err: &std::fs::File,
    tty: OwnedFd,
    net: OwnedFd,
) -> Result<Infallible, (i32, String)> {
    // Until execve replaces us, nothing in the container may open /proc/<our pid>/exe (the roost binary
    // on the host) or our memory: CVE-2019-5736. exec resets this for the container's own program.
    nix::sys::prctl::set_dumpable(false)
        .map_err(|e| fail(125, format!("failed to make the process non-dumpable: {e}")))?;
    if let Some(ns) = &plan.join_network {
        join_network(ns)?;
    }
    if plan.cgroup.as_ref().is_some_and(|c| c.private_ns) {
        // The parent has moved us into the container's cgroup: it becomes our cgroup root.
        nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWCGROUP)
            .map_err(|e| fail(125, format!("failed to make the cgroup namespace: {e}")))?;
    }
    if let Some(adj) = plan.oom_score_adj {
        std::fs::write("/proc/self/oom_score_adj", adj.to_string()).map_err(|e| {
            fail(
                125,
                format!("failed to set the OOM score adjustment to {adj}: {e} (without privileges it can only be raised)"),
            )
        })?;
    }
    let single = matches!(plan.maps, IdMaps::Single { .. });
    mounts::build_root(plan, !tty_gid_mapped(&plan.maps))
        .map_err(|(what, e)| fail(125, format!("failed to {what}: {e}")))?;
    if !plan.shared.uts {
        nix::unistd::sethostname(&plan.hostname)
            .map_err(|e| fail(125, format!("failed to set the hostname: {e}")))?;
    }
    let p = &plan.process;
    let cwd = std::path::Path::new(&p.cwd);
    if !cwd.is_dir() {
        std::fs::create_dir_all(cwd).map_err(|e| {
            fail(
                125,
                format!("failed to create the working directory `{}`: {e}", p.cwd),
            )
        })?;
    }
    nix::unistd::chdir(cwd).map_err(|e| {
        fail(
            125,
            format!("failed to change to the working directory `{}`: {e}", p.cwd),
        )
    })?;
    for r in &p.rlimits {
        nix::sys::resource::setrlimit(r.resource, r.soft, r.hard).map_err(|e| {
            fail(125, format!("failed to set the `{}` limit to {}:{}: {e} (a user namespace cannot raise a hard limit)", r.name, r.soft, r.hard))
        })?;
    }
    drop_privileges(p, &plan.security, !single)?;
    // Only stdio goes to the container: no descriptor of ours (CVE-2024-21626 was a leaked one).
    crate::sys::process::cloexec_from(3)
        .map_err(|e| fail(125, format!("failed to set close-on-exec: {e}")))?;
    if p.terminal {
        // A pty of the container's own devpts (mounted at /dev/pts), so `tty` names it inside.
        let (master, slave) = crate::sys::tty::open_container_pty()
            .map_err(|e| fail(125, format!("failed to open a terminal: {e}")))?;
        crate::sys::tty::send_fd(&tty, &master)
            .map_err(|e| fail(125, format!("failed to pass the terminal: {e}")))?;
        drop(master);
        crate::sys::tty::become_terminal_owner(std::os::fd::AsFd::as_fd(&slave))
            .map_err(|e| fail(125, format!("failed to set up the terminal: {e}")))?;
    } else {
        // A session of its own: no terminal of the caller's is its controlling terminal (through
        // /dev/tty it could otherwise type into it with TIOCSTI).
        nix::unistd::setsid().map_err(|e| fail(125, format!("failed to setsid: {e}")))?;
    }
    drop(tty);
    // The program starts only once the parent has the network ready.
    let mut b = [0u8; 1];
    if std::fs::File::from(net).read_exact(&mut b).is_err() || &b != b"N" {
        return Err(fail(125, "the container's network could not be set up"));
    }
    if p.init {
        super::init::run_init(p, err)
    } else {
        exec(p)
    }
}

/// Enter an existing network namespace (before the mounts, so /sys is the right one).
fn join_network(ns: &std::path::Path) -> Result<(), (i32, String)> {
    let f = std::fs::File::open(ns).map_err(|e| {
        fail(
            125,
            format!(
                "failed to open the network namespace `{}`: {e}",
                ns.display()
            ),
        )
    })?;
    nix::sched::setns(f, nix::sched::CloneFlags::CLONE_NEWNET).map_err(|e| {
        fail(
            125,
            format!(
                "failed to join the network namespace `{}`: {e}",
                ns.display()
            ),
        )
    })
}

/// The PATH from the container's environment.
fn container_path(env: &[String]) -> &str {
    env.iter()
        .find_map(|e| e.strip_prefix("PATH="))
        .unwrap_or("/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
}

pub(super) fn exec(p: &super::plan::Process) -> Result<Infallible, (i32, String)> {
    // The container's processes get podman's umask (the OCI default), not whatever the user's shell has.
    nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o022));
    // Nor the signals we ignore (Rust's runtime ignores SIGPIPE): crun and runc reset them too.
    crate::sys::process::reset_ignored_signals()
        .map_err(|e| fail(125, format!("failed to reset the signal dispositions: {e}")))?;
    let Some(cmd) = p.args.first() else {
        return Err(fail(
            127,
            "no command or entrypoint provided, and no CMD or ENTRYPOINT from image",
        ));
    };
    let cstr =
        |s: &str| CString::new(s).map_err(|_| fail(125, format!("`{s}` contains a NUL byte")));
    let argv: Vec<CString> = p.args.iter().map(|a| cstr(a)).collect::<Result<_, _>>()?;
    let envp: Vec<CString> = p.env.iter().map(|a| cstr(a)).collect::<Result<_, _>>()?;
    let candidates: Vec<String> = if cmd.contains('/') {
        vec![cmd.clone()]
    } else {
        container_path(&p.env)
            .split(':')
            .filter(|d| !d.is_empty())
            .map(|d| format!("{d}/{cmd}"))
            .collect()
    };
    let mut denied = None;
    for c in &candidates {
        let path = cstr(c)?;
        match nix::unistd::execve(&path, &argv, &envp) {
            Err(nix::Error::ENOENT) | Err(nix::Error::ENOTDIR) => continue,
            Err(nix::Error::EACCES) => denied = Some(c.clone()),
            Err(e) if cmd.contains('/') => return Err(fail(126, format!("{cmd}: {e}"))),
            Err(_) => continue,
        }
    }
    if let Some(c) = denied {
        return Err(fail(
            126,
            format!("{c}: permission denied: OCI permission denied"),
        ));
    }
    if cmd.contains('/') {
        return Err(fail(
            127,
            format!(
                "{cmd}: No such file or directory: OCI runtime attempted to invoke a command that was not found"
            ),
        ));
    }
    Err(fail(
        127,
        format!(
            "executable file `{cmd}` not found in $PATH: No such file or directory: OCI runtime attempted to invoke a command that was not found"
        ),
    ))
}

/// A child's failure before exec, as sent over the error pipe: `CODE\tMESSAGE`.
pub(super) fn encode_report(code: i32, message: &str) -> String {
    format!("{code}\t{message}")
}

pub(super) fn decode_report(report: &[u8]) -> (i32, String) {
    let text = String::from_utf8_lossy(report);
    match text.split_once('\t') {
        Some((code, message)) => (code.parse().unwrap_or(125), message.to_string()),
        None => (125, text.into_owned()),
    }
}

/// Take on the process's identity: supplementary groups (unless the user namespace denies setgroups,
/// as a single-id mapping does), gid, uid, then no_new_privs when asked.
pub(super) fn switch_user(p: &super::plan::Process, set_groups: bool) -> Result<(), (i32, String)> {
    if set_groups {
        let groups: Vec<Gid> = p
            .additional_gids
            .iter()
            .map(|g| Gid::from_raw(*g))
            .collect();
        nix::unistd::setgroups(&groups)
            .map_err(|e| fail(125, format!("failed to set supplementary groups: {e}")))?;
    }
    nix::unistd::setresgid(
        Gid::from_raw(p.gid),
        Gid::from_raw(p.gid),
        Gid::from_raw(p.gid),
    )
    .map_err(|e| fail(125, format!("failed to switch to gid {}: {e}", p.gid)))?;
    nix::unistd::setresuid(
        Uid::from_raw(p.uid),
        Uid::from_raw(p.uid),
        Uid::from_raw(p.uid),
    )
    .map_err(|e| fail(125, format!("failed to switch to uid {}: {e}", p.uid)))?;
    if p.no_new_privileges {
        nix::sys::prctl::set_no_new_privs()
            .map_err(|e| fail(125, format!("failed to set no_new_privs: {e}")))?;
    }
    Ok(())
}

/// Give up privileges in the order that keeps each step possible: the seccomp filter while we still
/// hold CAP_SYS_ADMIN (or, with no_new_privs, last), the capability sets as uid 0, then the user.
pub(super) fn drop_privileges(
    p: &super::plan::Process,
    sec: &super::plan::Security,
    set_groups: bool,
) -> Result<(), (i32, String)> {
    let load = |f: &super::security::seccomp::Filter| {
        f.load()
            .map_err(|e| fail(125, format!("failed to load the seccomp filter: {e}")))
    };
    if !p.no_new_privileges
        && let Some(f) = &sec.seccomp
    {
        load(f)?;
    }
    let apply_caps = || {
        super::security::caps::apply(&sec.caps, p.uid == 0)
            .map_err(|e| fail(125, format!("failed to set capabilities: {e}")))
    };
    if p.uid == 0 {
        // Staying root: set the groups while CAP_SETGID is still ours (the set may not have it).
        switch_user(p, set_groups)?;
        apply_caps()?;
    } else {
        // Becoming another user: the capability code keeps SETUID/SETGID for the switch, which then
        // clears the effective set, as podman leaves it.
        apply_caps()?;
        switch_user(p, set_groups)?;
    }
    if p.no_new_privileges
        && let Some(f) = &sec.seccomp
    {
        load(f)?;
    }
    Ok(())
}
