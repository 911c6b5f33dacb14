//! Carrying out a [`Plan`]: clone into new namespaces, let the parent map ids, build the root, switch
//! to the container user, exec. Parent and child talk over one typed channel ([`super::message`]);
//! the child reports a failure before exec over it, and its close-on-exec end closing tells the
//! parent the exec happened.
use std::convert::Infallible;
use std::ffi::CString;
use std::os::fd::{AsFd, OwnedFd};

use nix::unistd::{Gid, Pid, Uid};

use super::detached::Detached;
use super::message::{ChildEnd, ChildError, ParentEnd, Step, ToChild};
use super::mounts;
use super::plan::{IdMaps, Plan};
use crate::sys::clone::{Cloned, clone_process, clone_process_in_pid_ns, exit_now};

#[derive(Debug, thiserror::Error)]
pub enum SpawnError {
    #[error("failed to create the container process")]
    Clone(#[source] nix::Error),
    #[error("failed to set up the parent/child channel")]
    Channel(#[source] std::io::Error),
    #[error(transparent)]
    Userns(#[from] crate::userns::UsernsError),
    /// The child failed before it exec'd the container's program.
    #[error(transparent)]
    Child(#[from] ChildError),
    /// Setting up the container's network from outside failed.
    #[error(transparent)]
    Attach(#[from] AttachError),
    #[error(transparent)]
    Cgroup(#[from] super::cgroup::CgroupError),
    #[error("failed to start serving the container's /proc view")]
    ProcView(#[source] std::io::Error),
    /// Opening the mount sources of a namespace that leaves out the caller (see `super::detached`).
    #[error("failed to {what}: {source}")]
    Detach {
        what: String,
        #[source]
        source: std::io::Error,
    },
    #[error("failed to open the pid namespace `{path}`")]
    PidNamespace {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

impl SpawnError {
    /// podman's statuses: 126 when the command cannot be run, 127 when it is not found, else 125.
    pub fn exit_code(&self) -> i32 {
        match self {
            SpawnError::Child(e) => e.exit_code(),
            _ => 125,
        }
    }

    /// What the user can do about it.
    pub fn hint(&self) -> Option<String> {
        match self {
            SpawnError::Attach(e) => e.hint(),
            _ => None,
        }
    }
}

/// What [`Attach`] failed at.
#[derive(Debug, thiserror::Error)]
pub enum AttachError {
    #[error("failed to open the container's network namespace `{path}`: {error}")]
    OpenNetns { path: String, error: std::io::Error },
    /// A network helper (pasta, slirp4netns, the bridge networks' holder) failed, with what to do.
    #[error("{error}")]
    Helper {
        error: Box<dyn std::error::Error + Send + Sync>,
        hint: Option<String>,
    },
}

impl AttachError {
    pub fn helper(
        error: impl Into<Box<dyn std::error::Error + Send + Sync>>,
        hint: Option<String>,
    ) -> AttachError {
        AttachError::Helper {
            error: error.into(),
            hint,
        }
    }

    pub fn hint(&self) -> Option<String> {
        match self {
            AttachError::Helper { hint, .. } => hint.clone(),
            AttachError::OpenNetns { .. } => None,
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
    /// The server of its /proc view (stops when dropped: keep it until the container has ended).
    pub proc_view: Option<super::procfs::Server>,
}

/// Work done for the container from outside while it builds its root: starting the helper that
/// connects its network namespace. The container's program starts only once `ready` succeeds.
pub trait Attach {
    /// Right after the clone: the container's namespaces exist (ids may not be mapped yet).
    fn created(&mut self, pid: Pid) -> Result<(), AttachError>;
    /// Before the container's program runs.
    fn ready(&mut self) -> Result<(), AttachError>;
    /// The tap device the child made for the built-in network (`Plan::tap`), once ids are mapped.
    fn tap(&mut self, tap: OwnedFd) -> Result<(), AttachError> {
        drop(tap);
        Ok(())
    }
}

fn namespace_flags(plan: &Plan) -> libc::c_int {
    // With a cgroup of its own, the child makes its cgroup namespace once it has been moved there.
    let mut f = libc::CLONE_NEWNS;
    if plan.cgroup.is_none() && !plan.shared.cgroup && plan.join.cgroup.is_none() {
        f |= libc::CLONE_NEWCGROUP;
    }
    for (shared, flag) in [
        (
            plan.shared.pid || plan.join.pid.is_some(),
            libc::CLONE_NEWPID,
        ),
        (
            plan.shared.uts || plan.join.uts.is_some(),
            libc::CLONE_NEWUTS,
        ),
        (
            plan.shared.ipc || plan.join.ipc.is_some(),
            libc::CLONE_NEWIPC,
        ),
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

/// Start the container with `attach` doing its part from outside (see [`Attach`]).
pub fn spawn_with(plan: &Plan, attach: &mut dyn Attach) -> Result<Spawned, SpawnError> {
    let detached = match super::detached::needed(plan) {
        true => Some(
            super::detached::prepare(plan)
                .map_err(|(what, source)| SpawnError::Detach { what, source })?,
        ),
        false => None,
    };
    let (parent_end, child_end) = super::message::channel().map_err(SpawnError::Channel)?;
    let cloned = match plan.join.pid.as_deref() {
        None => clone_process(namespace_flags(plan)),
        Some(ns) => {
            let ns_file = std::fs::File::open(ns).map_err(|e| SpawnError::PidNamespace {
                path: ns.display().to_string(),
                source: e,
            })?;
            clone_process_in_pid_ns(namespace_flags(plan), ns_file.as_fd())
        }
    }
    .map_err(SpawnError::Clone);
    match cloned? {
        Cloned::Child => {
            drop(parent_end);
            let code = child(plan, child_end, detached.as_ref());
            exit_now(code)
        }
        Cloned::Parent(pid) => {
            drop(child_end);
            parent(plan, pid, &parent_end, attach)
        }
    }
}

fn kill_and_reap(pid: Pid) {
    let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL);
    let _ = nix::sys::wait::waitpid(pid, None);
}

/// The parent side: attach, map ids, take the terminal, attach again, then learn whether the child
/// exec'd.
fn parent(
    plan: &Plan,
    pid: Pid,
    chan: &ParentEnd,
    attach: &mut dyn Attach,
) -> Result<Spawned, SpawnError> {
    if let Err(e) = attach.created(pid) {
        kill_and_reap(pid);
        return Err(e.into());
    }
    // Before the ids are mapped the child waits: it is in its cgroup before it makes its namespace.
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
    let mapped = map_ids(plan, pid);
    chan.ids_mapped(mapped.is_ok());
    if let Err(e) = mapped {
        failed(pid);
        return Err(e.into());
    }
    // The built-in network's tap device comes first: the child makes it before anything else.
    if plan.tap.is_some() {
        let taken = chan
            .tap()
            .map_err(SpawnError::from)
            .and_then(|tap| attach.tap(tap).map_err(SpawnError::from));
        if let Err(e) = taken {
            failed(pid);
            return Err(e);
        }
    }
    // The child mounts the /proc view while it builds its root, and needs it served to bind it.
    let proc_view = match cgroup.as_ref().filter(|_| plan.proc_view()) {
        None => None,
        Some(made) => match serve_proc_view(chan, made, plan.cgroup.as_ref()) {
            Ok(server) => server,
            Err(e) => {
                failed(pid);
                return Err(e);
            }
        },
    };
    // With -t the child sends the pty master before it execs (or its failure).
    let terminal = match plan.process.terminal {
        true => chan.terminal(),
        false => Ok(None),
    };
    let terminal = match terminal {
        Ok(t) => t,
        Err(e) => {
            failed(pid);
            return Err(e.into());
        }
    };
    let attached = attach.ready();
    chan.network_ready(attached.is_ok());
    let outcome = chan.outcome();
    if let Err(e) = attached {
        failed(pid);
        return Err(e.into());
    }
    if let Err(e) = outcome {
        failed(pid);
        return Err(e.into());
    }
    Ok(Spawned {
        pid,
        terminal,
        cgroup,
        proc_view,
    })
}

/// Take the /proc view's FUSE connection from the child and serve it (None: the child has no
/// FUSE, and keeps the host's files).
fn serve_proc_view(
    chan: &ParentEnd,
    made: &super::cgroup::Made,
    asked: Option<&super::cgroup::CgroupPlan>,
) -> Result<Option<super::procfs::Server>, SpawnError> {
    let seed = asked.map_or(0, |c| super::procfs::render::cpu_seed(&c.id));
    match chan.proc_view()? {
        Ok(dev) => super::procfs::Server::start(dev, made.container.clone(), seed)
            .map(Some)
            .map_err(SpawnError::ProcView),
        Err(why) => {
            tracing::warn!(
                "the container sees the host's /proc/meminfo, /proc/cpuinfo and /proc/stat, not its limits: {why} (use --no-proc-view to silence this)"
            );
            Ok(None)
        }
    }
}

fn map_ids(plan: &Plan, pid: Pid) -> Result<(), crate::userns::UsernsError> {
    match &plan.maps {
        IdMaps::Helpers { uids, gids } => crate::userns::run_map_helpers(pid.as_raw(), uids, gids),
        IdMaps::Single { uid, gid } => crate::userns::write_single_map(pid.as_raw(), *uid, *gid),
        IdMaps::Direct { uids, gids } => write_direct_maps(pid.as_raw(), uids, gids),
        IdMaps::None => Ok(()),
    }
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
        let ranges = split_at_extents(ranges, &own_extent_starts(file));
        tracing::debug!(pid, file, map = %lines(&ranges), "write id map");
        std::fs::write(format!("/proc/{pid}/{file}"), lines(&ranges))
            .map_err(|source| crate::userns::UsernsError::WriteMap { pid, source })?;
    }
    Ok(())
}

/// Where the ranges of our own namespace's `file` (uid_map, gid_map) start, as ids of our namespace.
fn own_extent_starts(file: &str) -> Vec<u32> {
    let text = std::fs::read_to_string(format!("/proc/self/{file}")).unwrap_or_default();
    let map = super::procs::IdMap::parse(&text);
    map.ranges().iter().map(|&(inside, _, _)| inside).collect()
}

/// `ranges` cut where one of our own ranges starts: the kernel wants each range of a nested map to lie
/// within one range of its parent's (roost's 0, the caller, and 1.., the subordinate ids, are two).
fn split_at_extents(
    ranges: &[crate::userns::IdRange],
    starts: &[u32],
) -> Vec<crate::userns::IdRange> {
    let mut out = Vec::new();
    for r in ranges {
        let end = u64::from(r.host) + u64::from(r.size);
        let mut cuts: Vec<u32> = starts
            .iter()
            .copied()
            .filter(|s| *s > r.host && u64::from(*s) < end)
            .collect();
        cuts.sort_unstable();
        let mut host = r.host;
        for cut in cuts
            .into_iter()
            .chain([u32::try_from(end).unwrap_or(u32::MAX)])
        {
            out.push(crate::userns::IdRange {
                container: r.container + (host - r.host),
                host,
                size: cut - host,
            });
            host = cut;
        }
    }
    out
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

/// Take uid and gid 0 of the new namespace: the ids we came with (the caller's) are not mapped in it,
/// and file systems refuse to create files for unmapped ids.
fn become_namespace_root() -> Result<(), ChildError> {
    let (u, g) = (Uid::from_raw(0), Gid::from_raw(0));
    nix::unistd::setresgid(g, g, g).map_err(|e| ChildError::nix(Step::NamespaceRoot, e))?;
    nix::unistd::setresuid(u, u, u).map_err(|e| ChildError::nix(Step::NamespaceRoot, e))
}

/// The child side: returns the exit status to use when setup fails (exec replaces us on success).
fn child(plan: &Plan, chan: ChildEnd, detached: Option<&Detached>) -> i32 {
    if !chan.wait_for(ToChild::IdsMapped) {
        return 125;
    }
    let e = match setup(plan, &chan, detached) {
        Ok(never) => match never {},
        Err(e) => e,
    };
    chan.report(&e);
    e.exit_code()
}

fn setup(
    plan: &Plan,
    chan: &ChildEnd,
    detached: Option<&Detached>,
) -> Result<Infallible, ChildError> {
    // Until execve replaces us, nothing in the container may open /proc/<our pid>/exe (the roost binary
    // on the host) or our memory: CVE-2019-5736. exec resets this for the container's own program.
    nix::sys::prctl::set_dumpable(false).map_err(|e| ChildError::nix(Step::NonDumpable, e))?;
    if detached.is_some() {
        become_namespace_root()?;
    }
    if let Some(ns) = &plan.join_network {
        join_network(ns)?;
    }
    if let Some(t) = &plan.tap {
        let tap = crate::sys::tap::create(t).map_err(|e| ChildError::io(Step::Tap, &e))?;
        chan.send_tap(&tap)
            .map_err(|e| ChildError::io(Step::PassTap, &e))?;
    }
    if let Some(ns) = &plan.join.ipc {
        join_namespace(ns, nix::sched::CloneFlags::CLONE_NEWIPC, "IPC")?;
    }
    if let Some(ns) = &plan.join.uts {
        join_namespace(ns, nix::sched::CloneFlags::CLONE_NEWUTS, "UTS")?;
    }
    // Opened now: the host's /proc is gone once the root is built.
    let user_ns = match &plan.join.user {
        None => None,
        Some(ns) => Some((ns, open_namespace(ns, "user")?)),
    };
    if let Some(ns) = &plan.join.cgroup {
        join_namespace(ns, nix::sched::CloneFlags::CLONE_NEWCGROUP, "cgroup")?;
    } else if plan.cgroup.as_ref().is_some_and(|c| c.private_ns) {
        // The parent has moved us into the container's cgroup: it becomes our cgroup root.
        nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWCGROUP)
            .map_err(|e| ChildError::nix(Step::CgroupNamespace, e))?;
    }
    pin_to_quota(plan)?;
    if let Some(adj) = plan.oom_score_adj {
        std::fs::write("/proc/self/oom_score_adj", adj.to_string())
            .map_err(|e| ChildError::io(Step::OomScoreAdj { adj }, &e))?;
    }
    // In the container's network and IPC namespaces already, through the /proc we still see.
    for (key, value) in &plan.sysctls {
        std::fs::write(format!("/proc/sys/{}", key.replace('.', "/")), value).map_err(|e| {
            let step = Step::Sysctl {
                key: key.clone(),
                value: value.clone(),
            };
            ChildError::io(step, &e)
        })?;
    }
    let single = matches!(plan.maps, IdMaps::Single { .. });
    mounts::build_root(plan, !tty_gid_mapped(&plan.maps), chan, detached)
        .map_err(|(what, e)| ChildError::io(Step::Root { what }, &e))?;
    if !plan.shared.uts && plan.join.uts.is_none() {
        nix::unistd::sethostname(&plan.hostname).map_err(|e| ChildError::nix(Step::Hostname, e))?;
    }
    let p = &plan.process;
    enter_cwd(&p.cwd)?;
    for r in &p.rlimits {
        nix::sys::resource::setrlimit(r.resource, r.soft, r.hard).map_err(|e| {
            let step = Step::Rlimit {
                name: r.name.to_string(),
                soft: r.soft,
                hard: r.hard,
            };
            ChildError::nix(step, e)
        })?;
    }
    if let Some((ns, f)) = &user_ns {
        let path = ns.display().to_string();
        nix::sched::setns(f, nix::sched::CloneFlags::CLONE_NEWUSER).map_err(|e| {
            let what = "user".to_string();
            ChildError::nix(Step::JoinNamespace { what, path }, e)
        })?;
    }
    drop_privileges(p, &plan.security, !single)?;
    // Only stdio goes to the container: no descriptor of ours (CVE-2024-21626 was a leaked one).
    crate::sys::process::cloexec_from(3).map_err(|e| ChildError::nix(Step::Cloexec, e))?;
    if p.terminal {
        take_terminal(chan)?;
    } else {
        // A session of its own: no terminal of the caller's is its controlling terminal (through
        // /dev/tty it could otherwise type into it with TIOCSTI).
        nix::unistd::setsid().map_err(|e| ChildError::nix(Step::Setsid, e))?;
    }
    // The program starts only once the parent has the network ready.
    if !chan.wait_for(ToChild::NetworkReady) {
        return Err(ChildError::new(Step::NetworkNotReady));
    }
    if p.init {
        super::init::run_init(p)
    } else {
        exec(p)
    }
}

/// With the /proc view and a CPU quota worth fewer CPUs than it may run on, the container is pinned
/// to as many CPUs as the quota is worth (the ones its /proc view shows), so that `nproc` and
/// sched_getaffinity(2), which programs size their thread pools by, agree with `--cpus`. Set once
/// at the start: `update --cpus` changes the quota and the view, not the pinning.
fn pin_to_quota(plan: &Plan) -> Result<(), ChildError> {
    use nix::sched::{CpuSet, sched_getaffinity, sched_setaffinity};
    let Some(c) = plan.cgroup.as_ref().filter(|c| c.proc_view) else {
        return Ok(());
    };
    let Some(n) = c.resources.cpu_count() else {
        return Ok(());
    };
    let me = Pid::from_raw(0);
    let now = sched_getaffinity(me).map_err(|e| ChildError::nix(Step::CpuAffinity, e))?;
    let allowed: Vec<u32> = (0..CpuSet::count() as u32)
        .filter(|i| now.is_set(*i as usize).unwrap_or(false))
        .collect();
    if n >= allowed.len() {
        return Ok(());
    }
    let mut set = CpuSet::new();
    for cpu in
        super::procfs::render::cpu_window(&allowed, n, super::procfs::render::cpu_seed(&c.id))
    {
        set.set(cpu as usize)
            .map_err(|e| ChildError::nix(Step::CpuAffinity, e))?;
    }
    sched_setaffinity(me, &set).map_err(|e| ChildError::nix(Step::CpuAffinity, e))
}

/// Change to the working directory, creating it when missing.
fn enter_cwd(cwd: &str) -> Result<(), ChildError> {
    let path = std::path::Path::new(cwd);
    if !path.is_dir() {
        std::fs::create_dir_all(path).map_err(|e| {
            ChildError::io(
                Step::CreateCwd {
                    cwd: cwd.to_string(),
                },
                &e,
            )
        })?;
    }
    nix::unistd::chdir(path).map_err(|e| {
        ChildError::nix(
            Step::Chdir {
                cwd: cwd.to_string(),
            },
            e,
        )
    })
}

/// A pty of the container's own devpts (mounted at /dev/pts), so `tty` names it inside: its master
/// goes to the parent, its slave becomes our controlling terminal and stdio.
fn take_terminal(chan: &ChildEnd) -> Result<(), ChildError> {
    let (master, slave) = crate::sys::tty::open_container_pty()
        .map_err(|e| ChildError::io(Step::OpenTerminal, &e))?;
    chan.send_terminal(&master)
        .map_err(|e| ChildError::io(Step::PassTerminal, &e))?;
    drop(master);
    crate::sys::tty::become_terminal_owner(std::os::fd::AsFd::as_fd(&slave))
        .map_err(|e| ChildError::io(Step::SetupTerminal, &e))
}

/// Enter an existing network namespace (before the mounts, so /sys is the right one).
fn join_network(ns: &std::path::Path) -> Result<(), ChildError> {
    let path = ns.display().to_string();
    let f = std::fs::File::open(ns)
        .map_err(|e| ChildError::io(Step::OpenNetns { path: path.clone() }, &e))?;
    // The host's (a `--network host` container's): ours already, and not ours to setns into.
    if same_namespace(&f, "net") {
        return Ok(());
    }
    nix::sched::setns(f, nix::sched::CloneFlags::CLONE_NEWNET)
        .map_err(|e| ChildError::nix(Step::JoinNetns { path }, e))
}

/// Enter another process's IPC, UTS or cgroup namespace (a pod's, another container's), before the
/// mounts: /dev/mqueue is then that namespace's. One we are in already is not entered again (setns
/// would want privileges over its owner, e.g. the host's cgroup namespace of a `--cgroupns host`
/// container).
fn join_namespace(
    ns: &std::path::Path,
    kind: nix::sched::CloneFlags,
    what: &str,
) -> Result<(), ChildError> {
    let f = open_namespace(ns, what)?;
    if same_namespace(&f, proc_ns_name(kind)) {
        return Ok(());
    }
    let (what, path) = (what.to_string(), ns.display().to_string());
    nix::sched::setns(f, kind).map_err(|e| ChildError::nix(Step::JoinNamespace { what, path }, e))
}

/// Whether namespace file `f` is our own namespace of its kind (`name` under /proc/self/ns).
fn same_namespace(f: &std::fs::File, name: &str) -> bool {
    use std::os::unix::fs::MetadataExt;
    let id = |f: &std::fs::File| f.metadata().ok().map(|m| (m.dev(), m.ino()));
    let ours = std::fs::File::open(format!("/proc/self/ns/{name}")).ok();
    ours.as_ref().and_then(id).is_some_and(|o| Some(o) == id(f))
}

/// The name of a namespace kind under /proc/PID/ns.
fn proc_ns_name(kind: nix::sched::CloneFlags) -> &'static str {
    use nix::sched::CloneFlags as F;
    match kind {
        F::CLONE_NEWIPC => "ipc",
        F::CLONE_NEWUTS => "uts",
        F::CLONE_NEWCGROUP => "cgroup",
        F::CLONE_NEWPID => "pid",
        F::CLONE_NEWNET => "net",
        F::CLONE_NEWUSER => "user",
        _ => "mnt",
    }
}

fn open_namespace(ns: &std::path::Path, what: &str) -> Result<std::fs::File, ChildError> {
    std::fs::File::open(ns).map_err(|e| {
        let (what, path) = (what.to_string(), ns.display().to_string());
        ChildError::io(Step::OpenNamespace { what, path }, &e)
    })
}

/// The PATH from the container's environment.
fn container_path(env: &[String]) -> &str {
    env.iter()
        .find_map(|e| e.strip_prefix("PATH="))
        .unwrap_or("/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
}

pub(super) fn exec(p: &super::plan::Process) -> Result<Infallible, ChildError> {
    // The container's umask (podman's 0022 unless `--umask`), not whatever the user's shell has.
    nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(p.umask));
    // Nor the signals we ignore (Rust's runtime ignores SIGPIPE): crun and runc reset them too.
    crate::sys::process::reset_ignored_signals()
        .map_err(|e| ChildError::nix(Step::ResetSignals, e))?;
    let Some(cmd) = p.args.first() else {
        return Err(ChildError::new(Step::NoCommand));
    };
    let cstr = |s: &str| {
        CString::new(s).map_err(|_| ChildError::new(Step::NulByte { arg: s.to_string() }))
    };
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
            Err(e) if cmd.contains('/') => {
                return Err(ChildError::nix(Step::Exec { cmd: cmd.clone() }, e));
            }
            Err(_) => continue,
        }
    }
    let step = match denied {
        Some(path) => Step::ExecDenied { path },
        None if cmd.contains('/') => Step::NotFound { cmd: cmd.clone() },
        None => Step::NotInPath { cmd: cmd.clone() },
    };
    Err(ChildError::new(step))
}

/// Take on the process's identity: supplementary groups (unless the user namespace denies setgroups,
/// as a single-id mapping does), gid, uid, then no_new_privs when asked.
pub(super) fn switch_user(p: &super::plan::Process, set_groups: bool) -> Result<(), ChildError> {
    if set_groups {
        let groups: Vec<Gid> = p
            .additional_gids
            .iter()
            .map(|g| Gid::from_raw(*g))
            .collect();
        match nix::unistd::setgroups(&groups) {
            // A namespace of roost's own that maps only the caller's id (a user without
            // /etc/subgid ranges) denies setgroups: the process keeps the groups it has.
            Err(nix::errno::Errno::EPERM) if setgroups_denied() => {}
            r => r.map_err(|e| ChildError::nix(Step::SetGroups, e))?,
        }
    }
    nix::unistd::setresgid(
        Gid::from_raw(p.gid),
        Gid::from_raw(p.gid),
        Gid::from_raw(p.gid),
    )
    .map_err(|e| ChildError::nix(Step::SetGid { gid: p.gid }, e))?;
    nix::unistd::setresuid(
        Uid::from_raw(p.uid),
        Uid::from_raw(p.uid),
        Uid::from_raw(p.uid),
    )
    .map_err(|e| ChildError::nix(Step::SetUid { uid: p.uid }, e))?;
    if p.no_new_privileges {
        nix::sys::prctl::set_no_new_privs().map_err(|e| ChildError::nix(Step::NoNewPrivs, e))?;
    }
    Ok(())
}

/// Whether this process's user namespace denies setgroups(2) (`/proc/self/setgroups`).
fn setgroups_denied() -> bool {
    std::fs::read_to_string("/proc/self/setgroups").is_ok_and(|s| s.trim() == "deny")
}

/// Give up privileges in the order that keeps each step possible: the seccomp filter while we still
/// hold CAP_SYS_ADMIN (or, with no_new_privs, last), the capability sets as uid 0, then the user.
pub(super) fn drop_privileges(
    p: &super::plan::Process,
    sec: &super::plan::Security,
    set_groups: bool,
) -> Result<(), ChildError> {
    let load = |f: &super::security::seccomp::Filter| {
        f.load().map_err(|e| ChildError::caused(Step::Seccomp, &e))
    };
    if !p.no_new_privileges
        && let Some(f) = &sec.seccomp
    {
        load(f)?;
    }
    let apply_caps = || {
        super::security::caps::apply(&sec.caps, p.uid == 0)
            .map_err(|e| ChildError::caused(Step::Caps, &e))
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

#[cfg(test)]
mod split_tests {
    use super::split_at_extents;
    use crate::userns::IdRange;

    fn r(container: u32, host: u32, size: u32) -> IdRange {
        IdRange {
            container,
            host,
            size,
        }
    }

    #[test]
    fn ranges_are_cut_at_the_parents_extents() {
        // roost's namespace: 0 (the caller), then 1.. (the subordinate ids).
        assert_eq!(
            split_at_extents(&[r(0, 0, 1000)], &[0, 1]),
            vec![r(0, 0, 1), r(1, 1, 999)]
        );
        assert_eq!(
            split_at_extents(&[r(5, 1, 10), r(100, 0, 1)], &[0, 1]),
            vec![r(5, 1, 10), r(100, 0, 1)]
        );
        assert_eq!(
            split_at_extents(&[r(0, 2, 10)], &[0, 1, 5]),
            vec![r(0, 2, 3), r(3, 5, 7)]
        );
    }
}
