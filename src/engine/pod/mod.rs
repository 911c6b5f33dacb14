//! Pods (podman's pod model): containers that share network, IPC and UTS namespaces (and with
//! `--share pid` the pid namespace, with `--userns` a user namespace), held by an infra container that runs roost's built-in pause
//! process. A pod is a JSON record in the store (`pods/ID.json`); its containers are ordinary
//! containers whose spec names the pod, and which join the infra container's namespaces (the network
//! through `--network container:INFRA`, the others through `runtime::plan::JoinedNamespaces`).
mod clone;
mod infra;
pub mod service;
mod store;

use std::collections::BTreeMap;
use std::path::PathBuf;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::container::{self, Container, CreateOptions, Status};
use super::image::PullProgress;
use super::{Ctx, EngineError};
use crate::runtime::cgroup::{PodCgroup, Resources};

pub use clone::{ClonePodOptions, clone};
pub use store::names;

/// The namespaces a pod's containers can share (podman's `--share`).
pub const SHAREABLE: [&str; 5] = ["cgroup", "ipc", "net", "pid", "uts"];

/// What is stored about a pod.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PodRecord {
    pub id: String,
    pub name: String,
    pub created: Timestamp,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// The host name of the pod's UTS namespace (the pod's name unless `--hostname`).
    pub hostname: String,
    /// Shared namespaces, sorted (`ipc`, `net`, `uts` by default; `cgroup` is accepted and recorded).
    pub share: Vec<String>,
    #[serde(default)]
    pub share_parent: bool,
    /// The infra container (None with `--infra=false`).
    #[serde(default)]
    pub infra_id: Option<String>,
    #[serde(default)]
    pub exit_policy: String,
    #[serde(default)]
    pub create_command: Vec<String>,
    /// `--userns` (None: roost's own, podman's `host`): the infra container holds the user
    /// namespace, which the other containers enter.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub userns: Option<String>,
    /// `--uidmap`/`--gidmap` (and `--subuidname`'s maps): the maps of the user namespace the infra
    /// container holds.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub uidmap: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub gidmap: Vec<String>,
    /// `-v`: mounts every container of the pod gets (unless it mounts something of its own there).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub volumes: Vec<container::Mount>,
    /// `--infra-conmon-pidfile`: where `pod start` writes the pid of the infra container's monitor
    /// (a generated unit's `PIDFile=`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub infra_pid_file: Option<PathBuf>,
    /// `kube play --service-container`: the id of the service container that stands for the pod
    /// (see `service`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_container: Option<String>,
    /// `pod create --memory`, `--cpus`, ...: limits on the pod's cgroup, which holds its
    /// containers' (see `PodRecord::cgroup`).
    #[serde(default, skip_serializing_if = "is_unlimited")]
    pub resources: Resources,
    /// `pod create --cgroup-parent`: where the pod's cgroup is made.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cgroup_parent: Option<String>,
    /// `--shm-size` in bytes: the pod's /dev/shm is then the infra container's own tmpfs of that
    /// size, which its other containers get a clone of the mount of (None: a directory of roost's
    /// runtime dir, bound into each).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shm_size: Option<u64>,
}

fn is_unlimited(r: &Resources) -> bool {
    !r.any()
}

impl PodRecord {
    pub fn shares(&self, ns: &str) -> bool {
        self.infra_id.is_some() && self.share.iter().any(|s| s == ns)
    }

    /// The pod's cgroup, if it has one: only when it has limits or `--cgroup-parent` (as a
    /// container gets a cgroup only when it asks for one), and then only for containers that make
    /// theirs in it (`--share-parent`).
    pub fn cgroup(&self) -> Option<PodCgroup> {
        (self.share_parent && (self.resources.any() || self.cgroup_parent.is_some())).then(|| {
            PodCgroup {
                id: self.id.clone(),
                parent: self.cgroup_parent.clone(),
                resources: self.resources.clone(),
            }
        })
    }

    /// Whether the infra container holds a user namespace of the pod's own (`--userns`,
    /// `--uidmap`, `--subuidname`), which the other containers enter.
    pub fn has_userns(&self) -> bool {
        self.userns.is_some() || !self.uidmap.is_empty() || !self.gidmap.is_empty()
    }
}

/// A pod and its containers (the infra container first).
#[derive(Debug, Clone)]
pub struct Pod {
    pub record: PodRecord,
    pub containers: Vec<Container>,
}

impl Pod {
    pub fn infra(&self) -> Option<&Container> {
        let id = self.record.infra_id.as_deref()?;
        self.containers.iter().find(|c| c.record.id == id)
    }

    pub fn is_infra(&self, c: &Container) -> bool {
        self.record.infra_id.as_deref() == Some(c.record.id.as_str())
    }

    /// podman's pod states: `Created` (nothing ran yet), `Running` (all run), `Degraded` (some run),
    /// `Paused`, `Exited` (all have ended), `Stopped` (some ended, none runs).
    pub fn status(&self) -> &'static str {
        let n = self.containers.len();
        let count = |f: &dyn Fn(Status) -> bool| {
            self.containers.iter().filter(|c| f(c.state.status)).count()
        };
        let running = count(&|s| s == Status::Running);
        let paused = count(&|s| s == Status::Paused);
        let ended = count(&|s| matches!(s, Status::Exited | Status::Stopped));
        match () {
            _ if n == 0 => "Created",
            _ if running == n => "Running",
            _ if running > 0 => "Degraded",
            _ if paused == n => "Paused",
            _ if ended == n => "Exited",
            _ if ended > 0 => "Stopped",
            _ => "Created",
        }
    }

    /// The containers that are not the infra container, oldest first.
    pub fn members(&self) -> impl Iterator<Item = &Container> {
        self.containers.iter().filter(|c| !self.is_infra(c))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PodError {
    #[error("no pod with name or ID {0} found: no such pod")]
    NoSuchPod(String),
    #[error("name \"{0}\" is in use: pod already exists")]
    NameInUse(String),
    #[error("more than one pod matches `{input}`: {matches}")]
    Ambiguous { input: String, matches: String },
    #[error("failed to {op} `{}`", path.display())]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "pod {0} has running containers: cannot remove a pod with running containers without force"
    )]
    Running(String),
    #[error("the infra container of pod `{0}` is gone: the pod cannot start containers")]
    NoInfra(String),
    #[error("malformed pod record `{}`: {why}", path.display())]
    Malformed { path: PathBuf, why: String },
    #[error("invalid kernel namespace to share `{ns}`: use {allowed} or none")]
    Share { ns: String, allowed: String },
    #[error(
        "{0} on a pod needs its infra container, which holds the user namespace (drop --infra=false)"
    )]
    UsernsWithoutInfra(String),
    #[error(
        "pod create --userns `{0}` is not supported yet: use keep-id, auto, nomap or --uidmap/--gidmap, or give the containers --userns outside a pod"
    )]
    UsernsModeForPod(String),
    #[error("invalid pod exit policy `{0}`: use continue or stop")]
    ExitPolicy(String),
    #[error(
        "cannot set network options (-p, --network, --dns, --add-host) on a pod without an infra container (--infra=false)"
    )]
    NetworkWithoutInfra,
    #[error(
        "cannot set {flag} on a container in pod `{pod}`: it shares the pod's network; set it when the pod is created (`roost pod create {flag} …`)"
    )]
    MemberNetwork { pod: String, flag: &'static str },
    /// podman's words; `create --help` says where the mode is set instead (`pod create --userns`).
    #[error(
        "cannot set user namespace mode when joining pod with infra container: invalid argument"
    )]
    MemberUserns,
    #[error(
        "cannot set {flag} on a container in pod `{pod}`: it shares the pod's {} namespace",
        ns.to_uppercase()
    )]
    MemberNamespace {
        pod: String,
        flag: &'static str,
        ns: &'static str,
    },
    #[error(
        "cannot set --hostname on a container in pod `{0}`: it shares the pod's UTS namespace; use `roost pod create --hostname`"
    )]
    MemberHostname(String),
    #[error(
        "cannot start a container in pod `{pod}`: its infra container `{infra}` is not running"
    )]
    InfraNotRunning { pod: String, infra: String },
    #[error(
        "roost has no built-in pause process for {0}: give the pod an infra image with --infra-image IMAGE --infra-command CMD"
    )]
    NoPauseBinary(&'static str),
    #[error(
        "container `{container}` is not in pod `{pod}`: pick one of its containers (`roost ps --pod --filter pod={pod}`)"
    )]
    NotMember { pod: String, container: String },
    /// podman's words for a /dev/shm size where there is no private IPC namespace to give it to.
    #[error(
        "cannot set shmsize when the pod does not share the IPC namespace (--share {share}): its containers each have their own /dev/shm; add ipc to --share or drop --shm-size"
    )]
    ShmSizeWithoutIpc { share: String },
    #[error(
        "--share-parent=false: the pod's containers would not be in its cgroup, so its resource limits and --cgroup-parent would hold nothing; drop them or --share-parent=false"
    )]
    LimitsWithoutParent,
    #[error("pod `{0}` has no paused containers")]
    NonePaused(String),
    #[error("pod `{0}` has no running containers: start it with `roost pod start {0}`")]
    NoneRunning(String),
}

impl PodError {
    pub fn hint(&self) -> Option<String> {
        match self {
            PodError::NoSuchPod(_) => Some("list pods with `roost pod ps`".into()),
            PodError::Running(_) => Some(
                "stop it first (`roost pod stop`) or remove it with its containers: `roost pod rm -f`"
                    .into(),
            ),
            PodError::NoInfra(p) => Some(format!("remove the pod: `roost pod rm -f {p}`")),
            _ => None,
        }
    }
}

/// `pod create`'s options.
#[derive(Debug, Clone, Default)]
pub struct CreatePodOptions {
    pub name: Option<String>,
    pub labels: BTreeMap<String, String>,
    pub hostname: Option<String>,
    /// `--share` as given (None: podman's default, `ipc,net,uts`; a leading `+` adds to it).
    pub share: Option<String>,
    pub share_parent: bool,
    /// `--infra` (on by default).
    pub infra: bool,
    pub infra_image: Option<String>,
    pub infra_command: Option<Vec<String>>,
    pub infra_name: Option<String>,
    /// `-p`, `--network`, `--dns*`, `--add-host`, `--no-hosts`: given to the infra container.
    pub net: container::network_settings::NetworkRequest,
    /// Bridge networks of `--network NAME`.
    pub networks: BTreeMap<String, crate::network::netavark::PerNetwork>,
    /// `--userns` (mode None: roost's own user namespace).
    pub userns: container::idmap::UsernsRequest,
    pub exit_policy: Option<String>,
    pub create_command: Vec<String>,
    pub tls_verify: Option<bool>,
    /// `--replace`: remove a pod of the same name (and its containers) first.
    pub replace: bool,
    /// `--infra-conmon-pidfile`.
    pub infra_pid_file: Option<PathBuf>,
    /// The service container that stands for the pod (`kube play --service-container`).
    pub service_container: Option<String>,
    /// `-v`: mounts every container of the pod gets.
    pub volumes: Vec<container::Mount>,
    /// The pod's limits (see `PodRecord::resources`).
    pub resources: Resources,
    /// `--cgroup-parent`.
    pub cgroup_parent: Option<String>,
    /// `--shm-size` in bytes (the pod must share ipc).
    pub shm_size: Option<u64>,
}

/// `--share`: the namespaces to share, sorted.
pub fn parse_share(share: Option<&str>) -> Result<Vec<String>, EngineError> {
    let default = ["ipc", "net", "uts"];
    let (mut out, list): (Vec<String>, &str) = match share {
        None => return Ok(default.map(String::from).to_vec()),
        Some(s) if s.starts_with('+') => (default.map(String::from).to_vec(), &s[1..]),
        Some(s) => (Vec::new(), s),
    };
    for ns in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let ns = if ns == "none" { continue } else { ns };
        if !SHAREABLE.contains(&ns) {
            return Err(PodError::Share {
                ns: ns.to_string(),
                allowed: SHAREABLE.join(", "),
            }
            .into());
        }
        if !out.iter().any(|s| s == ns) {
            out.push(ns.to_string());
        }
    }
    out.sort();
    Ok(out)
}

/// `pod create`: record a pod and create its infra container (not started: `pod start` or the first
/// container started in it does that).
pub fn create(
    ctx: &Ctx,
    opts: &CreatePodOptions,
    progress: &dyn PullProgress,
) -> Result<PodRecord, EngineError> {
    let share = parse_share(opts.share.as_deref())?;
    if opts.shm_size.is_some() && !(opts.infra && share.iter().any(|s| s == "ipc")) {
        let share = if opts.infra {
            share.join(",")
        } else {
            "none (--infra=false)".into()
        };
        return Err(PodError::ShmSizeWithoutIpc { share }.into());
    }
    if !opts.share_parent && (opts.resources.any() || opts.cgroup_parent.is_some()) {
        return Err(PodError::LimitsWithoutParent.into());
    }
    let (userns, has_maps) = pod_userns(opts)?;
    if opts.replace
        && let Some(name) = &opts.name
    {
        replace(ctx, name)?;
    }
    let policy = opts
        .exit_policy
        .clone()
        .unwrap_or_else(|| "continue".into());
    if policy != "continue" && policy != "stop" {
        return Err(PodError::ExitPolicy(policy.to_string()).into());
    }
    if !opts.infra {
        let net_flags = !opts.net.publish.is_empty()
            || !opts.net.mode.is_empty()
            || !opts.networks.is_empty()
            || !opts.net.dns.is_empty()
            || !opts.net.add_hosts.is_empty();
        if net_flags {
            return Err(PodError::NetworkWithoutInfra.into());
        }
    }
    let store = ctx.store()?;
    let _lock = store::lock(ctx)?;
    let name = match &opts.name {
        Some(n) => container::validate_name(n)?,
        None => store::free_name(ctx, &store)?,
    };
    if store::find(ctx, &name).is_ok() {
        return Err(PodError::NameInUse(name).into());
    }
    let id = hex::encode(rand::random::<[u8; 32]>());
    let hostname = opts.hostname.clone().unwrap_or_else(|| name.clone());
    let mut record = PodRecord {
        id: id.clone(),
        name,
        created: Timestamp::now(),
        labels: opts.labels.clone(),
        hostname,
        share: if opts.infra { share } else { Vec::new() },
        share_parent: opts.share_parent,
        infra_id: None,
        exit_policy: policy,
        create_command: opts.create_command.clone(),
        userns,
        uidmap: if has_maps {
            opts.userns.uidmap.clone()
        } else {
            Vec::new()
        },
        gidmap: if has_maps {
            opts.userns.gidmap.clone()
        } else {
            Vec::new()
        },
        volumes: opts.volumes.clone(),
        infra_pid_file: opts.infra_pid_file.clone(),
        service_container: opts.service_container.clone(),
        resources: opts.resources.clone(),
        cgroup_parent: opts.cgroup_parent.clone(),
        shm_size: opts.shm_size,
    };
    if opts.infra {
        let c = infra::create(ctx, &store, &record, opts, progress)?;
        record.infra_id = Some(c.record.id);
    }
    if let Err(e) = store::save(ctx, &record) {
        if let Some(infra) = &record.infra_id {
            let _ = container::remove(ctx, std::slice::from_ref(infra), false, true, true);
        }
        return Err(e);
    }
    crate::engine::events::record(
        ctx,
        crate::engine::events::Event::pod("create", &record.id, &record.name),
    );
    Ok(record)
}

/// `--replace`: the pod named `name`, if any, removed with its containers.
fn replace(ctx: &Ctx, name: &str) -> Result<(), EngineError> {
    match store::find(ctx, name) {
        Ok(r) if r.name == name => remove(ctx, &find(ctx, &r.id)?, true, None),
        Ok(_) => Ok(()),
        Err(EngineError::Pod(PodError::NoSuchPod(_))) => Ok(()),
        Err(e) => Err(e),
    }
}

/// `--userns`, `--uidmap`, `--gidmap`: the mode the pod's containers get (None: roost's own
/// namespace, `host` included), and whether the pod has a user namespace of its own (maps), checked
/// as a container's are.
fn pod_userns(opts: &CreatePodOptions) -> Result<(Option<String>, bool), EngineError> {
    let u = &opts.userns;
    if u.mode.is_none() && u.uidmap.is_empty() && u.gidmap.is_empty() {
        return Ok((None, false));
    }
    // A joined namespace has no maps to give the members: not supported for a pod yet.
    if let Some(m) = u.mode.as_deref().filter(|m| m.starts_with("ns:")) {
        return Err(PodError::UsernsModeForPod(m.to_string()).into());
    }
    let resolved = container::idmap::resolve(u).map_err(container::FlagError::from)?;
    if resolved.maps.is_none() {
        return Ok((None, false));
    }
    if !opts.infra {
        let what = match &u.mode {
            Some(m) => format!("--userns `{m}`"),
            None => "--uidmap/--gidmap".into(),
        };
        return Err(PodError::UsernsWithoutInfra(what).into());
    }
    Ok((u.mode.clone(), true))
}

/// Resolve a pod by name, id or id prefix, with its containers.
pub fn find(ctx: &Ctx, key: &str) -> Result<Pod, EngineError> {
    let record = store::find(ctx, key)?;
    let members = container::list_in_pod(ctx, &record.id)?;
    Ok(with_containers(record, &members))
}

fn with_containers(record: PodRecord, all: &[Container]) -> Pod {
    let mut containers: Vec<Container> = all
        .iter()
        .filter(|c| c.spec.pod.as_deref() == Some(record.id.as_str()))
        .cloned()
        .collect();
    containers.sort_by_key(|c| {
        (
            record.infra_id.as_deref() != Some(c.record.id.as_str()),
            c.record.created,
        )
    });
    Pod { record, containers }
}

/// All pods, newest first.
pub fn list(ctx: &Ctx) -> Result<Vec<Pod>, EngineError> {
    let all = container::list(ctx)?;
    let mut pods: Vec<Pod> = store::all(ctx)?
        .into_iter()
        .map(|r| with_containers(r, &all))
        .collect();
    pods.sort_by_key(|p| std::cmp::Reverse(p.record.created));
    Ok(pods)
}

/// Each pod's name and infra container by pod id (for `ps`'s pod columns; none when unreadable).
pub fn list_brief(ctx: &Ctx) -> BTreeMap<String, (String, Option<String>)> {
    store::all(ctx)
        .unwrap_or_default()
        .into_iter()
        .map(|r| (r.id, (r.name, r.infra_id)))
        .collect()
}

/// `pod exists`.
pub fn exists(ctx: &Ctx, key: &str) -> Result<bool, EngineError> {
    match store::find(ctx, key) {
        Ok(_) => Ok(true),
        Err(EngineError::Pod(PodError::NoSuchPod(_))) => Ok(false),
        Err(e) => Err(e),
    }
}

/// `pod start`: the infra container, then the others (each after what it requires).
pub fn start(ctx: &Ctx, pod: &Pod) -> Result<(), EngineError> {
    start_containers(ctx, pod)?;
    service::pod_started(ctx, &pod.record)
}

/// Start the pod's containers (not its service container: `kube play` starts that once all its
/// pods run).
pub(crate) fn start_containers(ctx: &Ctx, pod: &Pod) -> Result<(), EngineError> {
    for c in &pod.containers {
        let fresh = container::find(&ctx.store()?, &c.record.id)?;
        if fresh.state.status != Status::Running {
            container::start_detached(ctx, &fresh)?;
        }
    }
    write_infra_pid_file(ctx, pod)?;
    pod_event(ctx, "start", pod);
    Ok(())
}

/// `--infra-conmon-pidfile`: the infra container's monitor, which runs as long as the pod does.
fn write_infra_pid_file(ctx: &Ctx, pod: &Pod) -> Result<(), EngineError> {
    let (Some(path), Some(infra)) = (&pod.record.infra_pid_file, &pod.record.infra_id) else {
        return Ok(());
    };
    let fresh = container::find(&ctx.store()?, infra)?;
    if fresh.state.monitor_pid <= 0 {
        return Ok(());
    }
    crate::store::write_atomic(path, fresh.state.monitor_pid.to_string().as_bytes(), 0o644)
        .map_err(|e| EngineError::io("write the infra pid file", path, e))
}

fn pod_event(ctx: &Ctx, status: &str, pod: &Pod) {
    crate::engine::events::record(
        ctx,
        crate::engine::events::Event::pod(status, &pod.record.id, &pod.record.name),
    );
}

/// `pod stop`: the containers, then the infra container; returns the first failure.
pub fn stop(ctx: &Ctx, pod: &Pod, timeout: Option<u32>) -> Result<(), EngineError> {
    let mut first = None;
    for c in pod.members().chain(pod.infra()) {
        // A member waiting to be restarted (its restart policy) is stopped too: it stays stopped.
        let live = c.state.status == Status::Running || container::restart_pending(c);
        if live && let Err(e) = container::stop(ctx, &c.record.id, timeout) {
            first.get_or_insert(e);
        }
    }
    if first.is_none() {
        pod_event(ctx, "stop", pod);
    }
    first.map_or(Ok(()), Err)
}

/// `pod kill`: the signal to every running container of the pod.
pub fn kill(ctx: &Ctx, pod: &Pod, signal: i32) -> Result<(), EngineError> {
    let mut first = None;
    for c in pod.members().chain(pod.infra()) {
        if c.state.status == Status::Running
            && let Err(e) = container::kill(ctx, &c.record.id, signal)
        {
            first.get_or_insert(e);
        }
    }
    if first.is_none() {
        pod_event(ctx, "kill", pod);
    }
    first.map_or(Ok(()), Err)
}

/// `pod pause` (`frozen`) / `pod unpause`: the cgroup freezer of every running (paused) container of
/// the pod, the infra container last (first when thawing).
pub fn pause(ctx: &Ctx, pod: &Pod, frozen: bool) -> Result<(), EngineError> {
    let want = if frozen {
        Status::Running
    } else {
        Status::Paused
    };
    let mut order: Vec<&Container> = pod.members().chain(pod.infra()).collect();
    if !frozen {
        order.reverse();
    }
    order.retain(|c| c.state.status == want);
    if order.is_empty() {
        let name = pod.record.name.clone();
        return Err(if frozen {
            PodError::NoneRunning(name)
        } else {
            PodError::NonePaused(name)
        }
        .into());
    }
    for c in order {
        container::resources::pause(ctx, &c.record.id, frozen)?;
    }
    Ok(())
}

/// `pod stats`: the running or paused containers of `pods` (their cgroups hold the readings), after
/// checking the host has the cgroup v2 hierarchy they need.
pub fn stats_targets(pods: &[Pod]) -> Result<Vec<String>, EngineError> {
    crate::runtime::cgroup::Host::detect().require_v2("pod stats")?;
    Ok(pods
        .iter()
        .flat_map(|p| p.containers.iter())
        .filter(|c| matches!(c.state.status, Status::Running | Status::Paused))
        .map(|c| c.record.id.clone())
        .collect())
}

/// `pod rm`: the pod's containers (with `force` also running ones, stopped after `timeout`), then the pod.
pub fn remove(ctx: &Ctx, pod: &Pod, force: bool, timeout: Option<u32>) -> Result<(), EngineError> {
    let running = pod
        .containers
        .iter()
        .any(|c| c.state.status == Status::Running);
    // Only the pod's own containers count: the infra container, which merely holds the
    // namespaces, goes with the pod (podman removes a pod whose members have all exited).
    if !force && pod.members().any(|c| c.state.status == Status::Running) {
        return Err(PodError::Running(pod.record.name.clone()).into());
    }
    if running && timeout.is_some_and(|t| t > 0) {
        stop(ctx, pod, timeout)?;
    }
    // Killed all at once, so that their monitors tear down (and record) in parallel rather than one
    // after the other in the removals below.
    // Each is recorded as stopped by the user before its signal: a `--restart always` member's
    // monitor would otherwise start it again while the pod goes away.
    if running && timeout.is_none_or(|t| t == 0) {
        let mut store = ctx.store()?;
        for c in pod.members().chain(pod.infra()) {
            container::kill_for_removal(&mut store, c)?;
        }
    }
    // The members first (they depend on the infra container), then the infra container.
    let ids: Vec<String> = pod
        .members()
        .chain(pod.infra())
        .map(|c| c.record.id.clone())
        .collect();
    if !ids.is_empty() {
        let report = container::remove_containers(ctx, &ids, false, true, true, false, true)?;
        if let Some(e) = report.errors.into_iter().next() {
            return Err(e);
        }
    }
    // Anything started in the pod meanwhile (a `run --pod` racing with us) is removed as well.
    let late: Vec<String> = find(ctx, &pod.record.id)
        .map(|p| p.containers.iter().map(|c| c.record.id.clone()).collect())
        .unwrap_or_default();
    if !late.is_empty() {
        container::remove_containers(ctx, &late, false, true, true, false, true)?;
    }
    if let Some(cg) = pod.record.cgroup()
        && let Err(e) = container::resources::remove_pod_cgroup(ctx, &cg)
    {
        let cause = std::error::Error::source(&e).map(|s| format!(": {s}"));
        tracing::warn!(
            "pod `{}`: its cgroup `{}` is left: {e}{}",
            pod.record.name,
            cg.slice(),
            cause.unwrap_or_default()
        );
    }
    store::delete(ctx, &pod.record.id)?;
    let _ = crate::store::remove_tree(&runtime_dir(ctx, &pod.record.id));
    pod_event(ctx, "remove", pod);
    crate::engine::kube::forget_pod(ctx, &pod.record.id);
    service::pod_removed(ctx, &pod.record)
}

/// The pod's cgroup under the cgroup root (`user.slice/…/user-roost_pod_ID.slice`), as one of its
/// running containers has it (None: the pod has no cgroup, or nothing of it runs).
pub fn cgroup_path(pod: &Pod) -> Option<String> {
    pod.record.cgroup()?;
    let root = std::path::Path::new(crate::runtime::cgroup::ROOT);
    pod.containers.iter().find_map(|c| {
        let leaf = c.state.cgroup.as_deref()?;
        // `POD/roost-ID(.scope)/container`
        let dir = leaf.parent()?.parent()?;
        let rel = dir.strip_prefix(root).ok()?;
        Some(rel.to_string_lossy().into_owned())
    })
}

/// `pod prune`: remove every pod none of whose containers runs; returns their ids.
pub fn prune(ctx: &Ctx) -> Result<Vec<String>, EngineError> {
    let mut removed = Vec::new();
    for pod in list(ctx)? {
        if pod
            .containers
            .iter()
            .all(|c| !matches!(c.state.status, Status::Running | Status::Paused))
        {
            remove(ctx, &pod, false, None)?;
            removed.push(pod.record.id);
        }
    }
    Ok(removed)
}

/// The pod's cgroup, for a container joining the pod with these cgroup flags: none for one that
/// asks for a cgroup parent of its own, has none (`--cgroups=disabled`), or sees the host's
/// cgroups (`--cgroupns=host`), as podman documents. The container's own limits apply in its own
/// cgroup inside the pod's, so the tighter of the two holds.
pub(super) fn member_cgroup(
    pod: &PodRecord,
    own: &container::resources::CgroupSpec,
) -> Option<PodCgroup> {
    let opted_out = own.parent.is_some()
        || own.ns_host
        || own.mode == Some(crate::runtime::cgroup::CgroupsMode::Disabled);
    pod.cgroup().filter(|_| !opted_out)
}

/// `run/create --pod`: the options of a container that joins `opts.pod`, with the pod's namespaces
/// and settings in place of its own (None when the container joins no pod, or is the infra).
pub fn member_options(
    ctx: &Ctx,
    opts: &CreateOptions,
) -> Result<Option<CreateOptions>, EngineError> {
    let Some(key) = opts.pod.as_deref() else {
        return Ok(None);
    };
    if opts.pod_infra {
        return Ok(None);
    }
    let pod = find(ctx, key)?;
    let name = &pod.record.name;
    let mut o = opts.clone();
    o.pod = Some(pod.record.id.clone());
    // The pod's `-v` mounts, where the container mounts nothing of its own.
    for m in &pod.record.volumes {
        if !o.mounts.iter().any(|c| c.destination == m.destination) {
            o.mounts.push(m.clone());
        }
    }
    o.cgroup.pod = member_cgroup(&pod.record, &opts.cgroup);
    let Some(infra_id) = pod.record.infra_id.clone() else {
        return Ok(Some(o));
    };
    let infra = pod.infra().ok_or_else(|| PodError::NoInfra(name.clone()))?;
    if pod.record.shares("net") {
        let n = &opts.net;
        let set = [
            (!n.publish.is_empty() || n.publish_all, "-p/--publish"),
            (!n.mode.is_empty() || !opts.networks.is_empty(), "--network"),
            (!n.expose.is_empty(), "--expose"),
            (!n.dns.is_empty(), "--dns"),
            (!n.dns_search.is_empty(), "--dns-search"),
            (!n.dns_options.is_empty(), "--dns-option"),
            (!n.add_hosts.is_empty(), "--add-host"),
            (n.no_hosts, "--no-hosts"),
            (n.mac_address.is_some(), "--mac-address"),
        ];
        if let Some((_, flag)) = set.iter().find(|(on, _)| *on) {
            return Err(PodError::MemberNetwork {
                pod: name.to_string(),
                flag,
            }
            .into());
        }
        let pn = &infra.spec.net;
        o.net.mode = format!("container:{infra_id}");
        o.net.dns = pn.dns.clone();
        o.net.dns_search = pn.dns_search.clone();
        o.net.dns_options = pn.dns_options.clone();
        o.net.add_hosts = pn
            .add_hosts
            .iter()
            .map(|(h, ip)| format!("{h}:{ip}"))
            .collect();
        o.net.no_hosts = pn.no_hosts;
        o.net.ports_must_be_free = false;
    }
    if opts.userns.mode.is_some()
        || !opts.userns.uidmap.is_empty()
        || !opts.userns.gidmap.is_empty()
    {
        return Err(PodError::MemberUserns.into());
    }
    // The same maps as the infra container's (so its files and keep-id user are the same), in
    // the user namespace the infra container holds (see `joined_namespaces`).
    o.userns.mode = pod.record.userns.clone();
    o.userns.uidmap = pod.record.uidmap.clone();
    o.userns.gidmap = pod.record.gidmap.clone();
    // An auto range was taken for the infra container: its members use that one, as its maps.
    if let Some(m) = infra
        .spec
        .id_maps
        .as_ref()
        .filter(|_| infra.spec.userns_auto)
    {
        let render = |r: &[container::idmap::MapRange]| r.iter().map(|r| r.render()).collect();
        o.userns.mode = None;
        o.userns.uidmap = render(&m.uids);
        o.userns.gidmap = render(&m.gids);
    }
    for (ns, flag, value) in [
        ("uts", "--uts", &opts.namespaces.uts),
        ("ipc", "--ipc", &opts.namespaces.ipc),
        ("pid", "--pid", &opts.namespaces.pid),
    ] {
        if pod.record.shares(ns) && !value.is_empty() {
            return Err(PodError::MemberNamespace {
                pod: name.to_string(),
                flag,
                ns,
            }
            .into());
        }
    }
    if pod.record.shares("ipc") && opts.namespaces.shm_size.is_some() {
        return Err(PodError::MemberNamespace {
            pod: name.to_string(),
            flag: "--shm-size",
            ns: "ipc",
        }
        .into());
    }
    if pod.record.shares("uts") {
        if opts.hostname.is_some() {
            return Err(PodError::MemberHostname(name.to_string()).into());
        }
        o.hostname = Some(pod.record.hostname.clone());
    }
    if !o.requires.contains(&infra_id) {
        o.requires.insert(0, infra_id);
    }
    Ok(Some(o))
}

/// The pod's shared /dev/shm without `--shm-size` (a directory in roost's runtime dir, on tmpfs),
/// bound into each of its containers when the pod shares IPC (podman mounts one tmpfs per pod).
fn shm_dir(ctx: &Ctx, pod_id: &str) -> PathBuf {
    runtime_dir(ctx, pod_id).join("shm")
}

fn runtime_dir(ctx: &Ctx, pod_id: &str) -> PathBuf {
    ctx.paths.runtime.join("pods").join(pod_id)
}

/// For `container::plan`: the namespaces of the pod's infra container that `c` enters, and the pod's
/// /dev/shm: a directory added to `binds`, or, for a pod with `--shm-size`, the infra's own sized
/// tmpfs (which the infra mounts as a private /dev/shm, and the others clone from it).
pub fn joined_namespaces(
    ctx: &Ctx,
    store: &crate::store::Store,
    c: &Container,
    binds: &mut Vec<(PathBuf, String)>,
) -> Result<crate::runtime::plan::JoinedNamespaces, EngineError> {
    let mut join = crate::runtime::plan::JoinedNamespaces::default();
    let Some(pod_id) = c.spec.pod.as_deref() else {
        return Ok(join);
    };
    let record = store::find(ctx, pod_id)?;
    let Some(infra_id) = record.infra_id.as_deref() else {
        return Ok(join);
    };
    if record.shares("ipc") && record.shm_size.is_none() {
        let shm = shm_dir(ctx, pod_id);
        std::fs::create_dir_all(&shm).map_err(|e| EngineError::io("create", &shm, e))?;
        binds.push((shm, "/dev/shm".into()));
    }
    if infra_id == c.record.id {
        return Ok(join);
    }
    let infra = container::find(store, infra_id)?;
    if infra.state.status != Status::Running || infra.state.pid <= 0 {
        return Err(PodError::InfraNotRunning {
            pod: record.name.clone(),
            infra: infra.record.name.clone(),
        }
        .into());
    }
    let ns = |kind: &str| {
        Some(PathBuf::from(format!(
            "/proc/{}/ns/{kind}",
            infra.state.pid
        )))
    };
    if record.shares("ipc") {
        join.ipc = ns("ipc");
        if record.shm_size.is_some() {
            join.shm = Some(PathBuf::from(format!("/proc/{}", infra.state.pid)));
        }
    }
    if record.shares("uts") {
        join.uts = ns("uts");
    }
    if record.shares("pid") {
        join.pid = ns("pid");
    }
    if record.has_userns() {
        join.user = ns("user");
    }
    Ok(join)
}
