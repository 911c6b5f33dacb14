//! cgroup v2 for rootless containers: what the host offers (a unified hierarchy, the controllers
//! delegated to the user), a cgroup per container (a transient systemd scope through the user's bus,
//! or a directory beside roost's own cgroup), its limits, and what is read back from it (OOM kills,
//! statistics) or written later (`update`, the freezer for `pause`).
//!
//! Layout, as podman's: the container's cgroup `roost-ID.scope` (or `roost-ID`) holds two leaves,
//! `supervisor` (the monitor or the foreground `roost run`) and `container` (its processes, with the
//! limits). The parent has no processes of its own, as cgroup v2 requires once controllers are on.
#![deny(clippy::print_stdout, clippy::print_stderr)]

pub mod dbus;
pub mod limits;
pub mod pod;
pub mod stats;

use std::path::{Path, PathBuf};

pub use limits::{CgroupsMode, LimitError, Resources, Throttle};
pub use pod::PodCgroup;

/// Where the unified hierarchy is mounted.
pub const ROOT: &str = "/sys/fs/cgroup";

/// The `Delegate=` drop-in that gives a user every controller roost can use.
pub const DELEGATE_HINT: &str = "create /etc/systemd/system/user@.service.d/delegate.conf with `[Service]` and `Delegate=cpu cpuset io memory pids`, run `systemctl daemon-reload` as root, then log out and in again";
/// What a cgroup v1 host needs.
pub const UNIFIED_HINT: &str = "boot with the unified cgroup v2 hierarchy (kernel parameter `systemd.unified_cgroup_hierarchy=1`) and delegate controllers to users: create /etc/systemd/system/user@.service.d/delegate.conf with `[Service]` and `Delegate=cpu cpuset io memory pids`";

#[derive(Debug, thiserror::Error)]
pub enum CgroupError {
    #[error(
        "{what} is not available: this host has {host}, and rootless containers need a delegated cgroup v2 subtree"
    )]
    Unsupported { what: String, host: &'static str },
    #[error("the `{controller}` controller is not delegated to you (`{dir}` offers: {have})")]
    MissingController {
        controller: String,
        dir: String,
        have: String,
    },
    #[error(
        "roost is not in a cgroup v2 subtree it can write (`{0}`), and no user D-Bus to ask systemd for one"
    )]
    NotWritable(String),
    #[error("failed to {op} `{path}`")]
    Io {
        op: &'static str,
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("failed to start `{unit}` through the user's systemd")]
    Systemd {
        unit: String,
        #[source]
        source: dbus::DbusError,
    },
    #[error(
        "systemd has no property to set `{file}` on `{unit}`: use `--cgroup-manager cgroupfs` for this limit"
    )]
    NoProperty { file: String, unit: String },
}

impl CgroupError {
    pub fn hint(&self) -> Option<String> {
        match self {
            CgroupError::Unsupported { .. } => Some(UNIFIED_HINT.into()),
            CgroupError::MissingController { .. } => Some(DELEGATE_HINT.into()),
            CgroupError::NotWritable(_) => Some(
                "run roost from a systemd user session (with `dbus-user-session` installed), or use `--cgroup-manager systemd`"
                    .into(),
            ),
            _ => None,
        }
    }
}

fn io_err<'a>(op: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> CgroupError + 'a {
    move |source| CgroupError::Io {
        op,
        path: path.display().to_string(),
        source,
    }
}

/// The cgroup layout of this host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Host {
    /// Only cgroup v2 is mounted (at /sys/fs/cgroup).
    Unified,
    /// cgroup v1 controllers, with a v2 hierarchy without controllers beside them.
    Hybrid,
    /// cgroup v1 only.
    Legacy,
}

impl Host {
    pub fn detect() -> Host {
        match nix::sys::statfs::statfs(ROOT) {
            Ok(s) if s.filesystem_type() == nix::sys::statfs::CGROUP2_SUPER_MAGIC => Host::Unified,
            _ if Path::new("/sys/fs/cgroup/unified").is_dir() => Host::Hybrid,
            _ => Host::Legacy,
        }
    }

    pub fn describe(self) -> &'static str {
        match self {
            Host::Unified => "cgroup v2",
            Host::Hybrid => "a hybrid cgroup v1/v2 hierarchy whose controllers are all v1",
            Host::Legacy => "cgroup v1",
        }
    }

    /// Fail with what is missing unless this is a cgroup v2 host.
    pub fn require_v2(self, what: &str) -> Result<(), CgroupError> {
        match self {
            Host::Unified => Ok(()),
            _ => Err(CgroupError::Unsupported {
                what: what.into(),
                host: self.describe(),
            }),
        }
    }
}

/// This process's cgroup v2 path (from /proc/self/cgroup's `0::` line), absolute under [`ROOT`].
pub fn own_cgroup() -> Option<PathBuf> {
    let text = std::fs::read_to_string("/proc/self/cgroup").ok()?;
    let rel = text.lines().find_map(|l| l.strip_prefix("0::"))?;
    Some(Path::new(ROOT).join(rel.trim_start_matches('/')))
}

/// The root of the user's delegated subtree: the `user@UID.service` directory above `own`, else
/// `own`'s parent.
pub fn delegation_root(own: &Path) -> PathBuf {
    own.ancestors()
        .find(|a| {
            a.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("user@") && n.ends_with(".service"))
        })
        .or_else(|| own.parent())
        .unwrap_or(Path::new(ROOT))
        .to_path_buf()
}

fn controllers_of(dir: &Path) -> Vec<String> {
    std::fs::read_to_string(dir.join("cgroup.controllers"))
        .unwrap_or_default()
        .split_whitespace()
        .map(String::from)
        .collect()
}

/// Check that every controller in `needed` is delegated to us.
pub fn check_controllers(needed: &[&str]) -> Result<(), CgroupError> {
    Host::detect().require_v2("resource limits")?;
    let own = own_cgroup().unwrap_or_else(|| PathBuf::from(ROOT));
    let root = delegation_root(&own);
    let have = controllers_of(&root);
    match needed.iter().find(|c| !have.iter().any(|h| h == *c)) {
        None => Ok(()),
        Some(c) => Err(CgroupError::MissingController {
            controller: (*c).into(),
            dir: root.display().to_string(),
            have: if have.is_empty() {
                "none".into()
            } else {
                have.join(" ")
            },
        }),
    }
}

/// How the container's cgroup is made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Manager {
    /// A transient scope from the user's systemd manager, reached on this bus socket.
    Systemd { bus: PathBuf },
    /// A directory beside roost's own cgroup, written directly.
    Cgroupfs,
}

/// A container's cgroup, as the plan asks for it.
#[derive(Debug, Clone)]
pub struct CgroupPlan {
    /// The container id (names the scope or directory).
    pub id: String,
    pub manager: Manager,
    /// `--cgroup-parent`: a slice (systemd) or a directory (cgroupfs) to create it in.
    pub parent: Option<String>,
    /// The pod whose cgroup is the parent instead (made first if it is not there).
    pub pod: Option<PodCgroup>,
    pub resources: Resources,
    /// Whether the container gets a cgroup namespace of its own (`--cgroupns private`).
    pub private_ns: bool,
    /// Whether the process starting the container (monitor or foreground run) moves in too
    /// (`--cgroups split` and `no-conmon` leave it where it is).
    pub with_supervisor: bool,
    /// Whether the container sees /proc files computed from this cgroup (see `runtime::procfs`).
    pub proc_view: bool,
}

/// A container's cgroup once made: the directory of its processes, and of the whole unit.
#[derive(Debug, Clone)]
pub struct Made {
    /// `…/roost-ID.scope/container`: the limits, the freezer, the statistics.
    pub container: PathBuf,
    /// `…/roost-ID.scope` (or `…/roost-ID`).
    pub unit: PathBuf,
    /// Where the supervisor was before (cgroupfs: moved back there to remove the directories).
    pub supervisor_from: Option<PathBuf>,
    /// Made by roost (cgroupfs), so removed by roost; a systemd scope goes by itself.
    pub cgroupfs: bool,
    /// The pod's directory (cgroupfs): removed with its last container's cgroup.
    pub pod_dir: Option<PathBuf>,
}

/// Make the container's cgroup for `pid` (not yet running the container's program) and apply the
/// limits. `supervisor` is our own pid when we move in beside it.
pub fn create(plan: &CgroupPlan, pid: i32) -> Result<Made, CgroupError> {
    let own = own_cgroup().ok_or_else(|| CgroupError::NotWritable(ROOT.into()))?;
    let me = std::process::id() as i32;
    let mut pids = vec![pid as u32];
    if plan.with_supervisor {
        pids.push(me as u32);
    }
    let (unit, home, pod_dir) = match &plan.manager {
        Manager::Systemd { bus } => (systemd_scope(plan, bus, &own, &pids)?, None, None),
        Manager::Cgroupfs => {
            let made = cgroupfs_dir(plan, &own)?;
            (made.unit, Some(made.home), made.pod_dir)
        }
    };
    let container = unit.join("container");
    mkdir(&container)?;
    write(&container.join("cgroup.procs"), &pid.to_string())?;
    if plan.with_supervisor {
        let sup = unit.join("supervisor");
        mkdir(&sup)?;
        write(&sup.join("cgroup.procs"), &me.to_string())?;
    }
    enable_controllers(&unit, &plan.resources.controllers())?;
    apply(&container, &plan.resources)?;
    Ok(Made {
        container,
        unit,
        supervisor_from: home.filter(|_| plan.with_supervisor),
        cgroupfs: plan.manager == Manager::Cgroupfs,
        pod_dir,
    })
}

fn mkdir(dir: &Path) -> Result<(), CgroupError> {
    match std::fs::create_dir(dir) {
        Err(e) if e.kind() != std::io::ErrorKind::AlreadyExists => Err(io_err("create", dir)(e)),
        _ => Ok(()),
    }
}

fn write(file: &Path, value: &str) -> Result<(), CgroupError> {
    tracing::debug!(file = %file.display(), value, "cgroup write");
    std::fs::write(file, value).map_err(io_err("write", file))
}

fn systemd_scope(
    plan: &CgroupPlan,
    bus: &Path,
    own: &Path,
    pids: &[u32],
) -> Result<PathBuf, CgroupError> {
    let unit = format!("roost-{}.scope", plan.id);
    let pod_slice = match &plan.pod {
        Some(pod) => Some(pod::ensure_slice(pod, bus)?),
        None => None,
    };
    let slice = pod_slice
        .as_deref()
        .or(plan.parent.as_deref())
        .unwrap_or("user.slice");
    let desc = format!("roost container {}", &plan.id[..plan.id.len().min(12)]);
    let props = [
        dbus::Prop::Str("Description", &desc),
        dbus::Prop::Str("Slice", slice),
        dbus::Prop::U32s("PIDs", pids),
        dbus::Prop::Bool("Delegate", true),
        dbus::Prop::Str("CollectMode", "inactive-or-failed"),
    ];
    dbus::start_transient(bus, &unit, &props).map_err(|source| CgroupError::Systemd {
        unit: unit.clone(),
        source,
    })?;
    // The scope's cgroup: where systemd moved the container's pid.
    let text = std::fs::read_to_string(format!("/proc/{}/cgroup", pids[0]))
        .map_err(io_err("read the cgroup of", Path::new("/proc")))?;
    let rel = text
        .lines()
        .find_map(|l| l.strip_prefix("0::"))
        .unwrap_or("");
    let dir = Path::new(ROOT).join(rel.trim_start_matches('/'));
    if dir.file_name().and_then(|n| n.to_str()) == Some(&unit) {
        Ok(dir)
    } else {
        Err(CgroupError::NotWritable(own.display().to_string()))
    }
}

/// Where the cgroupfs manager made a container's cgroup.
struct CgroupfsDirs {
    /// `roost-ID`.
    unit: PathBuf,
    /// The cgroup roost is in now (its processes may have moved to a leaf).
    home: PathBuf,
    /// The pod's directory `roost-ID` is in, if any.
    pod_dir: Option<PathBuf>,
}

/// The cgroupfs manager: `roost-ID` under our own cgroup when it is ours to divide (writable, with
/// the controllers), else beside it; or in `--cgroup-parent`; in the pod's directory, made there,
/// for a container of a pod with a cgroup.
fn cgroupfs_dir(plan: &CgroupPlan, own: &Path) -> Result<CgroupfsDirs, CgroupError> {
    let name = format!("roost-{}", plan.id);
    let controllers = plan.resources.controllers();
    let base_needs = match &plan.pod {
        Some(pod) => pod.controllers_with(&controllers),
        None => controllers.clone(),
    };
    let parent = plan.pod.as_ref().map_or(&plan.parent, |p| &p.parent);
    let (base, home) = cgroupfs_base(parent.as_deref(), own, &base_needs)?;
    let Some(pod) = &plan.pod else {
        return Ok(CgroupfsDirs {
            unit: make_child(&base, &name, &controllers)?,
            home,
            pod_dir: None,
        });
    };
    let pod_dir = pod::ensure_dir(pod, &base, &base_needs, &controllers)?;
    Ok(CgroupfsDirs {
        unit: make_child(&pod_dir, &name, &controllers)?,
        home,
        pod_dir: Some(pod_dir),
    })
}

/// The directory the cgroupfs manager makes cgroups in (`parent` under the root; else our own
/// cgroup, divided, when it offers `controllers` to us; else the one above it), and where roost is
/// now.
fn cgroupfs_base(
    parent: Option<&str>,
    own: &Path,
    controllers: &[&str],
) -> Result<(PathBuf, PathBuf), CgroupError> {
    if let Some(p) = parent {
        return Ok((
            Path::new(ROOT).join(p.trim_start_matches('/')),
            own.to_path_buf(),
        ));
    }
    // Already divided by an earlier container: roost is in the leaf, and the cgroup above is ours.
    let own = match own.file_name() {
        Some(n) if n == LEAF => own.parent().unwrap_or(own),
        _ => own,
    };
    let offered = controllers_of(own);
    if nix::unistd::access(&own.join("cgroup.procs"), nix::unistd::AccessFlags::W_OK).is_ok()
        && controllers.iter().all(|c| offered.iter().any(|o| o == c))
    {
        let home = vacate(own)?;
        return Ok((own.to_path_buf(), home));
    }
    let parent = own.parent().unwrap_or(Path::new(ROOT));
    Ok((parent.to_path_buf(), own.to_path_buf()))
}

/// The leaf that takes the processes of a cgroup roost divides (cgroup v2 allows no processes in
/// a cgroup whose controllers are handed to its children).
pub const LEAF: &str = "init";

/// Move every process of `dir` (roost among them) into its leaf [`LEAF`], unless it has handed
/// controllers on already; returns where roost is now.
fn vacate(dir: &Path) -> Result<PathBuf, CgroupError> {
    let leaf = dir.join(LEAF);
    let procs = dir.join("cgroup.procs");
    let on = std::fs::read_to_string(dir.join("cgroup.subtree_control")).unwrap_or_default();
    if !on.trim().is_empty() {
        return Ok(leaf);
    }
    mkdir(&leaf)?;
    // Processes may fork meanwhile: again until none is left (a few rounds at most).
    for _ in 0..10 {
        let text = std::fs::read_to_string(&procs).map_err(io_err("read", &procs))?;
        if text.trim().is_empty() {
            break;
        }
        for pid in text.split_whitespace() {
            // A process that exited meanwhile (ESRCH) is no obstacle.
            match std::fs::write(leaf.join("cgroup.procs"), pid) {
                Err(e) if e.raw_os_error() != Some(libc::ESRCH) => {
                    return Err(io_err("move a process into", &leaf)(e));
                }
                _ => {}
            }
        }
    }
    Ok(leaf)
}

/// `parent/name`, with `controllers` on in `parent`'s subtree.
fn make_child(parent: &Path, name: &str, controllers: &[&str]) -> Result<PathBuf, CgroupError> {
    let dir = parent.join(name);
    create_in(parent, &dir, false)?;
    if let Err(e) = enable_controllers(parent, controllers) {
        let _ = std::fs::remove_dir(&dir);
        return Err(e);
    }
    Ok(dir)
}

/// Create the cgroup `dir` in `parent` (one that is there already is an error unless `exists_ok`);
/// a parent we may not write is [`CgroupError::NotWritable`].
fn create_in(parent: &Path, dir: &Path, exists_ok: bool) -> Result<(), CgroupError> {
    match std::fs::create_dir(dir) {
        Err(e) if exists_ok && e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::PermissionDenied | std::io::ErrorKind::ReadOnlyFilesystem
            ) =>
        {
            Err(CgroupError::NotWritable(parent.display().to_string()))
        }
        Err(e) => Err(io_err("create", dir)(e)),
        Ok(()) => Ok(()),
    }
}

/// Turn `controllers` on for `dir`'s children (each must be offered in `dir`'s cgroup.controllers).
fn enable_controllers(dir: &Path, controllers: &[&str]) -> Result<(), CgroupError> {
    let have = controllers_of(dir);
    let on = std::fs::read_to_string(dir.join("cgroup.subtree_control")).unwrap_or_default();
    for c in controllers {
        if on.split_whitespace().any(|o| o == *c) {
            continue;
        }
        if !have.iter().any(|h| h == c) {
            return Err(CgroupError::MissingController {
                controller: (*c).into(),
                dir: dir.display().to_string(),
                have: if have.is_empty() {
                    "none".into()
                } else {
                    have.join(" ")
                },
            });
        }
        write(&dir.join("cgroup.subtree_control"), &format!("+{c}"))?;
    }
    Ok(())
}

/// Write the limits into `dir` (also what `update` does).
pub fn apply(dir: &Path, r: &Resources) -> Result<(), CgroupError> {
    for (file, value) in r.files() {
        write(&dir.join(&file), &value)?;
    }
    Ok(())
}

/// Remove the container's leaf once it has ended, and for cgroupfs the whole directory (a systemd
/// scope goes by itself once its supervisor has exited). The supervisor moves back first.
pub fn remove(made: &Made) {
    let _ = std::fs::remove_dir(&made.container);
    if let Some(from) = &made.supervisor_from {
        let _ = std::fs::write(from.join("cgroup.procs"), std::process::id().to_string());
        let _ = std::fs::remove_dir(made.unit.join("supervisor"));
    }
    if made.cgroupfs {
        let _ = std::fs::remove_dir(&made.unit);
    }
    // Busy while another of the pod's containers has its cgroup there.
    if let Some(dir) = &made.pod_dir {
        let _ = std::fs::remove_dir(dir);
    }
}

/// Whether the OOM killer killed a process of the cgroup at `dir` (memory.events `oom_kill`).
pub fn oom_killed(dir: &Path) -> bool {
    std::fs::read_to_string(dir.join("memory.events"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("oom_kill "))
        .and_then(|n| n.trim().parse::<u64>().ok())
        .is_some_and(|n| n > 0)
}

/// Freeze or thaw the cgroup at `dir`, and wait until the kernel says it is done.
pub fn freeze(dir: &Path, frozen: bool) -> Result<(), CgroupError> {
    let want = if frozen { "1" } else { "0" };
    write(&dir.join("cgroup.freeze"), want)?;
    let events = dir.join("cgroup.events");
    let mut tries = 0;
    loop {
        let text = std::fs::read_to_string(&events).map_err(io_err("read", &events))?;
        let state = text.lines().find_map(|l| l.strip_prefix("frozen "));
        if state.is_none_or(|s| s.trim() == want) || tries >= 5000 {
            return Ok(());
        }
        tries += 1;
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
}
