//! `roost pod …`: create, start, stop, restart, kill, rm, prune, ps, inspect, exists, top, stats
//! (podman's flags and output), and `run/create --pod`.
use std::collections::BTreeMap;

use clap::Args;
use clap_complete::engine::ArgValueCandidates;
use serde::Serialize;

use crate::cli::complete::pod_names;
use crate::cli::format::{self, Format, JsonStyle, Table};
use crate::cli::lazy::Lazy;
use crate::cli::out;
use crate::cli::pod_limits::InspectLimits;
use crate::cli::progress::Progress;
use crate::engine::container::{self as ctr, Status};
use crate::engine::pod::{self as engine, CreatePodOptions, Pod};
use crate::engine::{Ctx, EngineError};
use crate::error::Error;

#[derive(Debug, clap::Subcommand)]
pub enum PodCommand {
    /// Create a pod (its infra container holds the shared namespaces and published ports)
    Create(Box<CreateArgs>),
    /// Create a copy of a pod and its containers
    Clone(Box<CloneArgs>),
    /// Start pods (the infra container first)
    Start(Lazy<TargetArgs>),
    /// Stop pods (their containers, then the infra container)
    Stop(Lazy<StopArgs>),
    /// Restart pods
    Restart(Lazy<TargetArgs>),
    /// Send a signal to the containers of pods
    Kill(Lazy<KillArgs>),
    /// Pause pods (the cgroup v2 freezer of each container)
    Pause(Lazy<TargetArgs>),
    /// Unpause pods
    Unpause(Lazy<TargetArgs>),
    /// Remove pods and their containers
    #[command(visible_alias = "remove")]
    Rm(Lazy<RmArgs>),
    /// Remove every pod none of whose containers runs
    Prune(Lazy<PruneArgs>),
    /// List pods
    #[command(visible_alias = "ls", visible_alias = "list")]
    Ps(Lazy<PsArgs>),
    /// Show details of pods
    Inspect(Lazy<InspectArgs>),
    /// Check whether a pod exists (exit 0 if it does, 1 if not)
    Exists(Lazy<ExistsArgs>),
    /// Display the running processes of the containers of a pod
    Top(Lazy<TopArgs>),
    /// Show resource use of the containers of pods (from their cgroups)
    Stats(Lazy<StatsArgs>),
    /// Show the logs of the containers of a pod
    Logs(Lazy<LogsArgs>),
}

impl PodCommand {
    /// These make, start, signal or remove containers.
    pub fn needs_userns(&self) -> bool {
        !matches!(
            self,
            PodCommand::Ps(_)
                | PodCommand::Inspect(_)
                | PodCommand::Exists(_)
                | PodCommand::Top(_)
                | PodCommand::Stats(_)
                | PodCommand::Logs(_)
        )
    }
}

#[derive(Debug, Args)]
pub struct CreateArgs {
    /// Name of the pod (default: a generated one)
    #[arg(long, value_name = "NAME", short = 'n')]
    pub name: Option<String>,
    /// Set metadata on the pod (KEY=VALUE)
    #[arg(short, long, value_name = "KEY=VALUE")]
    pub label: Vec<String>,
    /// The pod's host name (default: its name)
    #[arg(long, value_name = "NAME")]
    pub hostname: Option<String>,
    /// Namespaces the containers share: ipc, net, uts (the default), pid, cgroup, or none; `+ns` adds to the default
    #[arg(long, value_name = "NS[,NS]")]
    pub share: Option<String>,
    /// Make the pod's cgroup the parent of its containers' (default true; the pod has a cgroup when it has resource limits or --cgroup-parent)
    #[arg(long, num_args = 0..=1, default_missing_value = "true", value_name = "BOOL")]
    pub share_parent: Option<bool>,
    /// Where the pod's cgroup is made: a slice (systemd cgroup manager, e.g. `work.slice`) or a cgroup path (cgroupfs)
    #[arg(long, value_name = "PATH")]
    pub cgroup_parent: Option<String>,
    /// Create an infra container holding the shared namespaces (on by default)
    #[arg(long, num_args = 0..=1, default_missing_value = "true", value_name = "BOOL", default_value = "true")]
    pub infra: bool,
    /// Image of the infra container (default: roost's built-in pause process)
    #[arg(long, value_name = "IMAGE", add = ArgValueCandidates::new(crate::cli::complete::image_names))]
    pub infra_image: Option<String>,
    /// Command of the infra container (a JSON array or a single word)
    #[arg(long, value_name = "COMMAND")]
    pub infra_command: Option<String>,
    /// Name of the infra container (default: the pod id's first 12 digits, then `-infra`)
    #[arg(long, value_name = "NAME")]
    pub infra_name: Option<String>,
    /// Write the pod's ID to this file
    #[arg(long, value_name = "FILE", value_hint = clap::ValueHint::FilePath)]
    pub pod_id_file: Option<std::path::PathBuf>,
    /// Write the pid of the infra container's monitor to this file when the pod starts
    #[arg(long, value_name = "FILE", value_hint = clap::ValueHint::FilePath)]
    pub infra_conmon_pidfile: Option<std::path::PathBuf>,
    /// Replace a pod of the same name (removing it and its containers)
    #[arg(long, num_args = 0..=1, default_missing_value = "true", value_name = "BOOL", default_value = "false")]
    pub replace: bool,
    /// Publish a port of the pod on the host ([[IP:][HOST_PORT]:]CONTAINER_PORT[/PROTOCOL])
    #[arg(short, long, value_name = "PORT")]
    pub publish: Vec<String>,
    /// The pod's network: pasta[:OPTS], slirp4netns[:OPTS], slirp[:OPTS], private, none, host, or bridge network names
    #[arg(long, value_name = "MODE", default_value = "", hide_default_value = true, add = ArgValueCandidates::new(crate::cli::complete::network_modes))]
    pub network: String,
    /// DNS servers for the pod's containers
    #[arg(long, value_name = "IP")]
    pub dns: Vec<String>,
    /// DNS search domains
    #[arg(long, value_name = "DOMAIN")]
    pub dns_search: Vec<String>,
    /// DNS options
    #[arg(long, value_name = "OPTION")]
    pub dns_option: Vec<String>,
    /// Add a line to the pod's /etc/hosts (HOST:IP, several names as HOST;HOST:IP)
    #[arg(long, value_name = "HOST:IP")]
    pub add_host: Vec<String>,
    /// Do not write the pod's /etc/hosts
    #[arg(long)]
    pub no_hosts: bool,
    /// User namespace of the pod's containers, held by its infra container: host (roost's own, the default), keep-id[:uid=U,gid=G,size=S], auto[:size=N,...] (a range of your subordinate ids for the pod alone) or nomap (your subordinate ids, without your own)
    #[arg(long, value_name = "MODE")]
    pub userns: Option<String>,
    /// Map the pod's container uids to ids of the rootless namespace (0 = you, 1.. = /etc/subuid):
    /// CONTAINER:HOST:SIZE, repeatable; the infra container holds the user namespace its
    /// containers share
    #[arg(long, value_name = "CONTAINER:HOST:SIZE", conflicts_with = "userns")]
    pub uidmap: Vec<String>,
    /// Map the pod's container gids like --uidmap (the same as --uidmap when omitted)
    #[arg(long, value_name = "CONTAINER:HOST:SIZE", conflicts_with = "userns")]
    pub gidmap: Vec<String>,
    /// Map the pod's container uids to the /etc/subuid ranges of user NAME (ranges delegated to
    /// you: a rootless roost maps no others), from 0, then your own uid after them
    #[arg(long, value_name = "NAME", conflicts_with_all = ["uidmap", "userns"])]
    pub subuidname: Option<String>,
    /// Map the pod's container gids to the /etc/subgid ranges of user NAME (default: --subuidname's)
    #[arg(long, value_name = "NAME", conflicts_with_all = ["gidmap", "userns"])]
    pub subgidname: Option<String>,
    /// Static IPv4 address of the pod (its infra container) on its bridge network (one network only)
    #[arg(long, value_name = "IPV4")]
    pub ip: Option<String>,
    /// Static IPv6 address of the pod (its infra container) on its bridge network (one network only)
    #[arg(long, value_name = "IPV6")]
    pub ip6: Option<String>,
    /// DNS alias of the pod on its bridge networks (repeatable): the pod's containers answer to it
    #[arg(long, value_name = "NAME")]
    pub network_alias: Vec<String>,
    /// Bind mount or volume that every container of the pod gets: SOURCE:CONTAINER-DIR[:OPTIONS]
    /// (a host path or a volume name; ro, rw, z, Z, U, O, nocopy); a container's own mount at the
    /// same CONTAINER-DIR takes its place
    #[arg(short, long, value_name = "SRC:DEST[:OPTS]")]
    pub volume: Vec<String>,
    /// Size of the pod's shared /dev/shm (bytes, or with k, m, g; 0 for no limit): a tmpfs of the
    /// infra container's that its other containers share (needs ipc in --share)
    #[arg(long, value_name = "SIZE")]
    pub shm_size: Option<String>,
    /// What the pod does when its last container exits: continue (default) or stop
    #[arg(long, value_name = "POLICY", value_parser = ["continue", "stop"])]
    pub exit_policy: Option<String>,
    #[command(flatten)]
    pub limits: super::pod_limits::PodLimitArgs,
    /// Name of the pod (as podman, instead of --name)
    #[arg(value_name = "NAME", conflicts_with = "name")]
    pub pod_name: Option<String>,
}

#[derive(Debug, Args)]
pub struct CloneArgs {
    /// The pod to copy
    #[arg(value_name = "POD", add = ArgValueCandidates::new(pod_names))]
    pub pod: String,
    /// Name of the new pod (default: the original's, then `-clone`)
    #[arg(value_name = "NAME")]
    pub new_name: Option<String>,
    /// Name of the new pod (as the NAME argument)
    #[arg(long, short = 'n', value_name = "NAME", conflicts_with = "new_name")]
    pub name: Option<String>,
    /// Remove the original pod and its containers once copied
    #[arg(long)]
    pub destroy: bool,
    /// Start the new pod
    #[arg(long)]
    pub start: bool,
    /// The new pod's host name
    #[arg(long, value_name = "NAME")]
    pub hostname: Option<String>,
    /// Set metadata on the new pod (KEY=VALUE), over the original's
    #[arg(short, long, value_name = "KEY=VALUE")]
    pub label: Vec<String>,
    /// Name of the new pod's infra container
    #[arg(long, value_name = "NAME")]
    pub infra_name: Option<String>,
    /// What the new pod does when its last container exits: continue or stop
    #[arg(long, value_name = "POLICY", value_parser = ["continue", "stop"])]
    pub exit_policy: Option<String>,
}

#[derive(Debug, Args)]
pub struct TargetArgs {
    /// All pods
    #[arg(short, long)]
    pub all: bool,
    /// Read the pod's ID from this file
    #[arg(long, value_name = "FILE", value_hint = clap::ValueHint::FilePath)]
    pub pod_id_file: Vec<std::path::PathBuf>,
    #[arg(value_name = "POD", add = ArgValueCandidates::new(pod_names))]
    pub pods: Vec<String>,
}

#[derive(Debug, Args)]
pub struct StopArgs {
    /// All pods
    #[arg(short, long)]
    pub all: bool,
    /// Ignore pods that do not exist
    #[arg(short, long)]
    pub ignore: bool,
    /// Seconds to wait before killing the containers
    #[arg(short, long, value_name = "SECONDS")]
    pub time: Option<u32>,
    /// Read the pod's ID from this file
    #[arg(long, value_name = "FILE", value_hint = clap::ValueHint::FilePath)]
    pub pod_id_file: Vec<std::path::PathBuf>,
    #[arg(value_name = "POD", add = ArgValueCandidates::new(pod_names))]
    pub pods: Vec<String>,
}

#[derive(Debug, Args)]
pub struct KillArgs {
    /// All pods
    #[arg(short, long)]
    pub all: bool,
    /// The signal to send
    #[arg(short, long, value_name = "SIGNAL", default_value = "KILL")]
    pub signal: String,
    #[arg(value_name = "POD", add = ArgValueCandidates::new(pod_names))]
    pub pods: Vec<String>,
}

#[derive(Debug, Args)]
pub struct RmArgs {
    /// All pods
    #[arg(short, long)]
    pub all: bool,
    /// Stop and remove running containers too
    #[arg(short, long)]
    pub force: bool,
    /// Ignore pods that do not exist
    #[arg(short, long)]
    pub ignore: bool,
    /// Seconds to wait for the containers to stop before killing them (with -f; 0 kills at once)
    #[arg(short, long, value_name = "SECONDS")]
    pub time: Option<u32>,
    /// Read the pod's ID from this file
    #[arg(long, value_name = "FILE", value_hint = clap::ValueHint::FilePath)]
    pub pod_id_file: Vec<std::path::PathBuf>,
    #[arg(value_name = "POD", add = ArgValueCandidates::new(pod_names))]
    pub pods: Vec<String>,
}

#[derive(Debug, Args)]
pub struct PruneArgs {
    /// Do not ask for confirmation
    #[arg(short, long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct PsArgs {
    /// Show only pod IDs
    #[arg(short, long)]
    pub quiet: bool,
    /// Do not truncate IDs
    #[arg(long)]
    pub no_trunc: bool,
    /// Show the names of the containers of each pod
    #[arg(long)]
    pub ctr_names: bool,
    /// Show the IDs of the containers of each pod
    #[arg(long)]
    pub ctr_ids: bool,
    /// Show the status of the containers of each pod
    #[arg(long)]
    pub ctr_status: bool,
    /// Filter output: name, id, status, label, ctr-names, ctr-ids, ctr-status, ctr-number
    #[arg(short, long, value_name = "KEY=VALUE")]
    pub filter: Vec<String>,
    /// Pretty-print with a Go template, `json`, or `table …`
    #[arg(long, value_name = "FORMAT", allow_hyphen_values = true)]
    pub format: Option<String>,
    /// Omit the table heading
    #[arg(long)]
    pub noheading: bool,
    /// Show only the latest pod
    #[arg(short, long)]
    pub latest: bool,
    /// Sort by created, id, name, number or status
    #[arg(long, value_name = "KEY", value_parser = ["created", "id", "name", "number", "status"])]
    pub sort: Option<String>,
}

#[derive(Debug, Args)]
pub struct InspectArgs {
    /// A Go template, or `json`
    #[arg(short, long, value_name = "FORMAT", allow_hyphen_values = true)]
    pub format: Option<String>,
    /// The latest pod
    #[arg(short, long)]
    pub latest: bool,
    #[arg(value_name = "POD", add = ArgValueCandidates::new(pod_names))]
    pub pods: Vec<String>,
}

#[derive(Debug, Args)]
pub struct ExistsArgs {
    #[arg(value_name = "POD", add = ArgValueCandidates::new(pod_names))]
    pub pod: String,
}

#[derive(Debug, Args)]
pub struct TopArgs {
    #[arg(value_name = "POD", add = ArgValueCandidates::new(pod_names))]
    pub pod: String,
    /// ps descriptors (podman's: user, pid, ppid, pcpu, etime, tty, time, args, comm, …)
    #[arg(value_name = "DESCRIPTOR")]
    pub descriptors: Vec<String>,
}

#[derive(Debug, Args)]
pub struct StatsArgs {
    /// All pods
    #[arg(short, long)]
    pub all: bool,
    /// Output: json, or a Go template (fields .ID .Name .CPUPerc .MemUsage .MemPerc .NetIO .BlockIO .PIDS)
    #[arg(long, value_name = "FORMAT")]
    pub format: Option<String>,
    /// Print one reading and exit
    #[arg(long)]
    pub no_stream: bool,
    /// Do not clear the screen between readings
    #[arg(long)]
    pub no_reset: bool,
    /// Seconds between readings
    #[arg(short, long, value_name = "SECONDS", default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..))]
    pub interval: u64,
    #[arg(value_name = "POD", add = ArgValueCandidates::new(pod_names))]
    pub pods: Vec<String>,
}

#[derive(Debug, Args)]
pub struct LogsArgs {
    /// Only this container of the pod (name or ID)
    #[arg(short, long, value_name = "CONTAINER", add = ArgValueCandidates::new(crate::cli::complete::container_names))]
    pub container: Option<String>,
    /// Follow the logs until the pod's containers stop
    #[arg(short, long)]
    pub follow: bool,
    /// Show only the last N lines of each container (-1: all)
    #[arg(long, value_name = "N", default_value_t = -1, allow_hyphen_values = true)]
    pub tail: i64,
    /// Show timestamps
    #[arg(short, long)]
    pub timestamps: bool,
    /// Show lines since this time (RFC 3339, or a duration such as 10m)
    #[arg(long, value_name = "TIME")]
    pub since: Option<String>,
    /// Show lines before this time (RFC 3339, or a duration such as 10m)
    #[arg(long, value_name = "TIME")]
    pub until: Option<String>,
    /// Prefix each line with the container's name instead of its ID
    #[arg(short, long)]
    pub names: bool,
    /// The latest pod
    #[arg(short, long, conflicts_with = "pod")]
    pub latest: bool,
    #[arg(value_name = "POD", required_unless_present = "latest", add = ArgValueCandidates::new(pod_names))]
    pub pod: Option<String>,
}

pub fn dispatch(ctx: &Ctx, cmd: PodCommand) -> Result<i32, Error> {
    match cmd {
        PodCommand::Create(a) => create(ctx, &a),
        PodCommand::Clone(a) => clone(ctx, &a),
        PodCommand::Start(a) => {
            let keys = with_id_files(&a.pods, &a.pod_id_file, false)?;
            each(ctx, &keys, a.all, false, |p| engine::start(ctx, p))
        }
        PodCommand::Stop(a) => {
            let keys = with_id_files(&a.pods, &a.pod_id_file, a.ignore)?;
            if keys.is_empty() && !a.all && a.ignore && !a.pod_id_file.is_empty() {
                return Ok(0);
            }
            each(ctx, &keys, a.all, a.ignore, |p| {
                engine::stop(ctx, p, a.time)
            })
        }
        PodCommand::Restart(a) => {
            let keys = with_id_files(&a.pods, &a.pod_id_file, false)?;
            each(ctx, &keys, a.all, false, |p| {
                engine::stop(ctx, p, None)?;
                engine::start(ctx, &engine::find(ctx, &p.record.id)?)
            })
        }
        PodCommand::Kill(a) => {
            let signal = ctr::parse_signal(&a.signal)
                .map_err(|_| Error::Usage(format!("invalid signal: {}", a.signal)))?;
            each(ctx, &a.pods, a.all, false, |p| engine::kill(ctx, p, signal))
        }
        PodCommand::Pause(a) => {
            let keys = with_id_files(&a.pods, &a.pod_id_file, false)?;
            each(ctx, &keys, a.all, false, |p| engine::pause(ctx, p, true))
        }
        PodCommand::Unpause(a) => {
            let keys = with_id_files(&a.pods, &a.pod_id_file, false)?;
            each(ctx, &keys, a.all, false, |p| engine::pause(ctx, p, false))
        }
        PodCommand::Rm(a) => rm(ctx, &a),
        PodCommand::Prune(_) => {
            let removed = engine::prune(ctx)?;
            out(&removed
                .iter()
                .map(|id| format!("{id}\n"))
                .collect::<String>())
            .map(|()| 0)
        }
        PodCommand::Ps(a) => ps(ctx, &a),
        PodCommand::Inspect(a) => inspect(ctx, &a),
        PodCommand::Exists(a) => Ok(if engine::exists(ctx, &a.pod)? { 0 } else { 1 }),
        PodCommand::Top(a) => top(ctx, &a),
        PodCommand::Stats(a) => stats(ctx, &a),
        PodCommand::Logs(a) => logs(ctx, &a),
    }
}

/// Resolve the pods of a bulk command and run `f` on each, printing each pod's id; the errors are
/// printed too, and the exit status is 125 if any failed (the error itself when there is one pod).
fn each(
    ctx: &Ctx,
    keys: &[String],
    all: bool,
    ignore: bool,
    f: impl Fn(&Pod) -> Result<(), EngineError>,
) -> Result<i32, Error> {
    if keys.is_empty() && !all {
        return Err(Error::Usage(
            "you must provide at least one pod name or ID, or --all".into(),
        ));
    }
    let mut errors: Vec<EngineError> = Vec::new();
    let mut pods = Vec::new();
    if all {
        pods = engine::list(ctx)?;
    } else {
        for k in keys {
            match engine::find(ctx, k) {
                Ok(p) => pods.push(p),
                Err(EngineError::Pod(engine::PodError::NoSuchPod(_))) if ignore => {}
                Err(e) => errors.push(e),
            }
        }
    }
    for p in &pods {
        match f(p) {
            Ok(()) => out(&format!("{}\n", p.record.id))?,
            Err(e) => errors.push(e),
        }
    }
    report(errors)
}

/// The first of `errors` as the command's error; the others printed before it.
fn report(mut errors: Vec<EngineError>) -> Result<i32, Error> {
    if errors.is_empty() {
        return Ok(0);
    }
    let last = errors.pop().expect("not empty");
    for e in errors {
        #[allow(clippy::print_stderr)]
        {
            eprintln!("Error: {}", Error::from(e).chain());
        }
    }
    Err(last.into())
}

fn network_request(a: &CreateArgs) -> Result<ctr::network_settings::NetworkRequest, Error> {
    let mut publish = Vec::new();
    for p in &a.publish {
        publish.extend(crate::network::parse_publish(p).map_err(|e| Error::Usage(e.to_string()))?);
    }
    Ok(ctr::network_settings::NetworkRequest {
        mode: a.network.clone(),
        publish,
        dns: a.dns.clone(),
        dns_search: a.dns_search.clone(),
        dns_options: a.dns_option.clone(),
        add_hosts: crate::cli::argv::string_slice(&a.add_host),
        no_hosts: a.no_hosts,
        ..Default::default()
    })
}

/// `--network NAME[,NAME]` naming bridge networks (not a per-container mode).
pub(crate) fn bridge_networks(
    net: &mut ctr::network_settings::NetworkRequest,
) -> Result<BTreeMap<String, crate::network::netavark::PerNetwork>, Error> {
    let mode = net.mode.as_str();
    let is_mode = matches!(
        mode,
        "" | "default" | "host" | "none" | "private" | "pasta" | "slirp4netns" | "slirp"
    ) || ["pasta:", "slirp4netns:", "slirp:", "ns:"]
        .iter()
        .any(|p| mode.starts_with(p));
    if mode.starts_with("container:") {
        return Err(Error::Usage(
            "a pod cannot join another container's network: use --network pasta, slirp4netns, slirp, none, host or a bridge network".into(),
        ));
    }
    if is_mode {
        return Ok(BTreeMap::new());
    }
    let mut list = crate::engine::network::parse_network_flag(mode).map_err(EngineError::from)?;
    for (name, _) in &mut list {
        if name == "bridge" {
            *name = crate::network::DEFAULT_NAME.into();
        }
    }
    net.mode = crate::engine::network::BRIDGE_MODE.to_string();
    Ok(list.into_iter().collect())
}

/// `--ip`, `--ip6` and `--network-alias`: the pod's (its infra container's) settings on its
/// bridge networks, as `run`'s on a container's.
fn pod_network_flags(
    a: &CreateArgs,
    networks: &mut BTreeMap<String, crate::network::netavark::PerNetwork>,
) -> Result<(), Error> {
    let ips = [("--ip", &a.ip, false), ("--ip6", &a.ip6, true)];
    let any = ips.iter().any(|(_, ip, _)| ip.is_some()) || !a.network_alias.is_empty();
    if !any {
        return Ok(());
    }
    if networks.is_empty() {
        let mode = if a.network.is_empty() {
            "the default network mode"
        } else {
            a.network.as_str()
        };
        return Err(Error::Usage(format!(
            "--ip, --ip6 and --network-alias need a bridge network (`--network NAME`), not {mode}"
        )));
    }
    for (flag, ip, v6) in ips {
        let Some(ip) = ip else { continue };
        if networks.len() != 1 {
            return Err(Error::Usage(format!(
                "{flag} can only be set for a single network: the pod joins {}",
                networks.keys().cloned().collect::<Vec<_>>().join(", ")
            )));
        }
        let addr: std::net::IpAddr = ip
            .parse()
            .map_err(|_| Error::Usage(format!("invalid IP address `{ip}` for {flag}")))?;
        if addr.is_ipv6() != v6 {
            let want = if v6 { "IPv6" } else { "IPv4" };
            return Err(Error::Usage(format!(
                "{flag} takes an {want} address, not `{ip}`"
            )));
        }
        for per in networks.values_mut() {
            per.static_ips.push(addr);
        }
    }
    for per in networks.values_mut() {
        per.aliases.extend(a.network_alias.iter().cloned());
    }
    Ok(())
}

/// `-v`: the mounts every container of the pod gets, parsed (relative host paths made absolute
/// here, where the working directory is known).
fn pod_volumes(a: &CreateArgs) -> Result<Vec<ctr::Mount>, Error> {
    let mut out = Vec::new();
    for v in &a.volume {
        let mut m = ctr::parse_volume(v).map_err(|e| Error::from(EngineError::from(e)))?;
        if m.anonymous {
            return Err(Error::Usage(format!(
                "-v `{v}`: a pod's volume needs a source (a volume name or a host directory), so that its containers share it: `-v NAME:{v}`"
            )));
        }
        if m.kind == ctr::MountKind::Bind && !m.source.starts_with('/') {
            let abs = std::path::absolute(&m.source)
                .map_err(|e| Error::io(format!("resolve `{}`", m.source), e))?;
            m.source = abs.to_string_lossy().into_owned();
        }
        out.push(m);
    }
    Ok(out)
}

fn create_options(a: &CreateArgs) -> Result<CreatePodOptions, Error> {
    let mut net = network_request(a)?;
    let mut networks = bridge_networks(&mut net)?;
    pod_network_flags(a, &mut networks)?;
    let (uidmap, gidmap) = crate::cli::container::userns::maps(
        &a.uidmap,
        &a.gidmap,
        a.subuidname.as_deref(),
        a.subgidname.as_deref(),
    )?;
    Ok(CreatePodOptions {
        name: a.name.clone().or_else(|| a.pod_name.clone()),
        labels: crate::cli::key_values("--label", &a.label)?,
        hostname: a.hostname.clone(),
        share: a.share.clone(),
        share_parent: a.share_parent.unwrap_or(true),
        infra: a.infra,
        infra_image: a.infra_image.clone(),
        infra_command: a.infra_command.as_deref().map(|c| {
            serde_json::from_str::<Vec<String>>(c).unwrap_or_else(|_| vec![c.to_string()])
        }),
        infra_name: a.infra_name.clone(),
        net,
        networks,
        userns: ctr::idmap::UsernsRequest {
            uidmap,
            gidmap,
            ..crate::cli::container::userns::request_mode(a.userns.clone().filter(|u| u != "host"))?
        },
        volumes: pod_volumes(a)?,
        exit_policy: a.exit_policy.clone(),
        create_command: std::env::args().collect(),
        tls_verify: None,
        replace: a.replace,
        infra_pid_file: a.infra_conmon_pidfile.clone(),
        service_container: None,
        resources: a.limits.resources()?,
        cgroup_parent: a.cgroup_parent.clone(),
        shm_size: shm_size(a.shm_size.as_deref())?,
    })
}

/// `--shm-size`: bytes, `k`, `m`, `g`; 0 for no limit (podman-pod-create(1)).
fn shm_size(size: Option<&str>) -> Result<Option<u64>, Error> {
    let Some(size) = size else {
        return Ok(None);
    };
    let bytes = crate::runtime::cgroup::limits::parse_size("--shm-size", size)
        .map_err(crate::engine::EngineError::from)?;
    match u64::try_from(bytes) {
        Ok(b) => Ok(Some(b)),
        Err(_) => Err(Error::Usage(format!(
            "invalid --shm-size `{size}`: give a size, e.g. 256m (0 for no limit)"
        ))),
    }
}

fn write_id_file(path: Option<&std::path::Path>, id: &str) -> Result<(), Error> {
    if let Some(p) = path {
        std::fs::write(p, id)
            .map_err(|e| Error::io(format!("write the pod ID file `{}`", p.display()), e))?;
    }
    Ok(())
}

pub fn create(ctx: &Ctx, a: &CreateArgs) -> Result<i32, Error> {
    let opts = create_options(a)?;
    let pod = engine::create(ctx, &opts, &Progress::new(false))?;
    write_id_file(a.pod_id_file.as_deref(), &pod.id)?;
    out(&format!("{}\n", pod.id)).map(|()| 0)
}

fn clone(ctx: &Ctx, a: &CloneArgs) -> Result<i32, Error> {
    let pod = engine::find(ctx, &a.pod)?;
    let opts = engine::ClonePodOptions {
        name: a.name.clone().or_else(|| a.new_name.clone()),
        hostname: a.hostname.clone(),
        labels: crate::cli::key_values("--label", &a.label)?,
        infra_name: a.infra_name.clone(),
        exit_policy: a.exit_policy.clone(),
        destroy: a.destroy,
        start: a.start,
        userns: crate::cli::container::userns::request_mode(None)?,
    };
    let record = engine::clone(ctx, &pod, &opts, &Progress::new(false))?;
    out(&format!("{}\n", record.id)).map(|()| 0)
}

/// `run/create --pod new:NAME` (a pod made for the container, which takes the container's network
/// flags, as podman does), `--pod NAME|ID` and `--pod-id-file FILE`: sets `opts.pod`.
pub fn container_pod(
    ctx: &Ctx,
    opts: &mut ctr::CreateOptions,
    pod: Option<&str>,
    pod_id_file: Option<&std::path::Path>,
) -> Result<(), Error> {
    let key = match (pod, pod_id_file) {
        (Some(_), Some(_)) => {
            return Err(Error::Usage(
                "--pod and --pod-id-file cannot be used together".into(),
            ));
        }
        (Some(p), None) => p.to_string(),
        (None, Some(f)) => std::fs::read_to_string(f)
            .map_err(|e| Error::io(format!("read the pod ID file `{}`", f.display()), e))?
            .trim()
            .to_string(),
        (None, None) => return Ok(()),
    };
    let Some(name) = key.strip_prefix("new:") else {
        opts.pod = Some(key);
        return Ok(());
    };
    let net = std::mem::take(&mut opts.net);
    let pod_opts = CreatePodOptions {
        name: Some(name.to_string()),
        infra: true,
        net: ctr::network_settings::NetworkRequest {
            ports_must_be_free: false,
            ..net
        },
        networks: std::mem::take(&mut opts.networks),
        hostname: opts.hostname.take(),
        create_command: std::env::args().collect(),
        ..Default::default()
    };
    let pod = engine::create(ctx, &pod_opts, &Progress::new(true))?;
    opts.pod = Some(pod.id);
    Ok(())
}

/// The pods named on the command line and in `--pod-id-file` files (missing files skipped with
/// `--ignore`).
fn with_id_files(
    pods: &[String],
    files: &[std::path::PathBuf],
    ignore: bool,
) -> Result<Vec<String>, Error> {
    let mut keys = pods.to_vec();
    for f in files {
        match std::fs::read_to_string(f) {
            Ok(id) => keys.push(id.trim().to_string()),
            Err(e) if ignore && e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                return Err(Error::io(
                    format!("read the pod ID file `{}`", f.display()),
                    e,
                ));
            }
        }
    }
    Ok(keys)
}

fn rm(ctx: &Ctx, a: &RmArgs) -> Result<i32, Error> {
    let keys = with_id_files(&a.pods, &a.pod_id_file, a.ignore)?;
    if keys.is_empty() && !a.all {
        if a.ignore && !a.pod_id_file.is_empty() {
            return Ok(0);
        }
        return Err(Error::Usage(
            "you must provide at least one pod name or ID, or --all".into(),
        ));
    }
    // podman's -t: seconds to wait before killing; with -f and no -t the stop signal is not sent.
    each(ctx, &keys, a.all, a.ignore, |p| {
        engine::remove(ctx, p, a.force, a.time)
    })
}

/// A row of `pod ps` for templates and the table (podman's `ListPodReporter`).
#[derive(Serialize, Default)]
#[serde(rename_all = "PascalCase")]
struct PsRow {
    id: String,
    #[serde(rename = "ID")]
    id_alias: String,
    name: String,
    status: String,
    created: String,
    #[serde(rename = "InfraID")]
    infra_id: String,
    number_of_containers: usize,
    container_ids: String,
    container_names: String,
    container_statuses: String,
    /// `k=v,k2=v2`, as podman's reporter gives it.
    labels: String,
    /// The labels for the `Label` method.
    #[serde(skip)]
    label_map: BTreeMap<String, String>,
    networks: String,
    cgroup: String,
    namespace: String,
}

/// One pod of `pod ps --format json` (podman's `ListPodsReport`).
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct PsJson {
    cgroup: String,
    containers: Vec<PsContainer>,
    created: String,
    id: String,
    infra_id: String,
    name: String,
    namespace: String,
    networks: Vec<String>,
    status: String,
    labels: BTreeMap<String, String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct PsContainer {
    id: String,
    names: String,
    status: String,
    restart_count: u32,
}

fn networks(p: &Pod) -> Vec<String> {
    p.infra()
        .map(|c| c.spec.networks.keys().cloned().collect())
        .unwrap_or_default()
}

fn ps_row(p: &Pod, no_trunc: bool, now: jiff::Timestamp) -> PsRow {
    let short = |s: &str| {
        if no_trunc {
            s.to_string()
        } else {
            s.chars().take(12).collect()
        }
    };
    let join = |f: &dyn Fn(&ctr::Container) -> String| {
        p.containers.iter().map(f).collect::<Vec<_>>().join(",")
    };
    PsRow {
        id: short(&p.record.id),
        id_alias: short(&p.record.id),
        name: p.record.name.clone(),
        status: p.status().into(),
        created: format::time_ago(p.record.created, now),
        infra_id: p.record.infra_id.as_deref().map(short).unwrap_or_default(),
        number_of_containers: p.containers.len(),
        container_ids: join(&|c| short(&c.record.id)),
        container_names: join(&|c| c.record.name.clone()),
        container_statuses: join(&|c| c.state.status.as_str().to_string()),
        labels: p
            .record
            .labels
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(","),
        label_map: p.record.labels.clone(),
        networks: networks(p).join(","),
        cgroup: String::new(),
        namespace: String::new(),
    }
}

fn ps_json(p: &Pod) -> PsJson {
    PsJson {
        cgroup: String::new(),
        containers: p
            .containers
            .iter()
            .map(|c| PsContainer {
                id: c.record.id.clone(),
                names: c.record.name.clone(),
                status: c.state.status.as_str().into(),
                restart_count: c.state.restart_count,
            })
            .collect(),
        created: format::rfc3339_nano_utc(p.record.created),
        id: p.record.id.clone(),
        infra_id: p.record.infra_id.clone().unwrap_or_default(),
        name: p.record.name.clone(),
        namespace: String::new(),
        networks: networks(p),
        status: p.status().into(),
        labels: p.record.labels.clone(),
    }
}

/// `pod ps --filter KEY=VALUE` (the same key repeated: any of them; different keys: all).
fn pod_matches(p: &Pod, key: &str, v: &str) -> Result<bool, Error> {
    let regex = |v: &str| {
        regex_lite::Regex::new(v)
            .map_err(|e| Error::Usage(format!("invalid filter `{key}={v}`: {e}")))
    };
    Ok(match key {
        "name" => regex(v)?.is_match(&p.record.name),
        "id" => p.record.id.starts_with(&v.to_ascii_lowercase()),
        "status" => {
            const STATES: [&str; 7] = [
                "stopped", "running", "paused", "exited", "dead", "created", "degraded",
            ];
            if !STATES.contains(&v) {
                return Err(Error::Usage(format!(
                    "invalid filter `status={v}`: status must be one of {}",
                    STATES.join(", ")
                )));
            }
            p.status().eq_ignore_ascii_case(v)
        }
        "label" => match v.split_once('=') {
            Some((k, val)) => p.record.labels.get(k).is_some_and(|x| x == val),
            None => p.record.labels.contains_key(v),
        },
        "ctr-names" => {
            let re = regex(v)?;
            p.containers.iter().any(|c| re.is_match(&c.record.name))
        }
        "ctr-ids" => p.containers.iter().any(|c| c.record.id.starts_with(v)),
        "ctr-status" => p.containers.iter().any(|c| c.state.status.as_str() == v),
        "ctr-number" => {
            let n: usize = v.parse().map_err(|_| {
                Error::Usage(format!(
                    "invalid filter `ctr-number={v}`: expected a number"
                ))
            })?;
            p.containers.len() == n
        }
        "network" => networks(p).iter().any(|n| n == v),
        _ => {
            return Err(Error::Usage(format!(
                "invalid filter `{key}={v}`: supported keys are name, id, status, label, ctr-names, ctr-ids, ctr-status, ctr-number, network"
            )));
        }
    })
}

fn filter(pods: Vec<Pod>, filters: &[String]) -> Result<Vec<Pod>, Error> {
    let mut by_key: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for f in filters {
        let (k, v) = f
            .split_once('=')
            .ok_or_else(|| Error::Usage(format!("invalid filter `{f}`: expected KEY=VALUE")))?;
        by_key.entry(k).or_default().push(v);
    }
    let mut out = Vec::new();
    for p in pods {
        let mut keep = true;
        for (k, values) in &by_key {
            let mut any = false;
            for v in values {
                any |= pod_matches(&p, k, v)?;
            }
            keep &= any;
        }
        if keep {
            out.push(p);
        }
    }
    Ok(out)
}

fn ps(ctx: &Ctx, a: &PsArgs) -> Result<i32, Error> {
    let mut pods = filter(engine::list(ctx)?, &a.filter)?;
    if a.latest {
        pods.truncate(1);
    }
    match a.sort.as_deref() {
        Some("id") => pods.sort_by(|x, y| x.record.id.cmp(&y.record.id)),
        Some("name") => pods.sort_by(|x, y| x.record.name.cmp(&y.record.name)),
        Some("number") => pods.sort_by_key(|p| p.containers.len()),
        Some("status") => pods.sort_by(|x, y| x.status().cmp(y.status())),
        Some(_) => pods.sort_by_key(|p| p.record.created),
        None => {}
    }
    if a.quiet {
        let text: String = pods
            .iter()
            .map(|p| {
                let id = if a.no_trunc {
                    &p.record.id[..]
                } else {
                    crate::store::short_id(&p.record.id)
                };
                format!("{id}\n")
            })
            .collect();
        return out(&text).map(|()| 0);
    }
    let fmt = Format::parse(a.format.as_deref());
    if fmt == Format::Json {
        let rows: Vec<PsJson> = pods.iter().map(ps_json).collect();
        return out(&format::render_json(&rows, JsonStyle::PS)?).map(|()| 0);
    }
    let now = jiff::Timestamp::now();
    let rows: Vec<PsRow> = pods.iter().map(|p| ps_row(p, a.no_trunc, now)).collect();
    let mut cols = vec![
        "{{.Id}}",
        "{{.Name}}",
        "{{.Status}}",
        "{{.Created}}",
        "{{.InfraID}}",
    ];
    if a.ctr_ids {
        cols.push("{{.ContainerIds}}");
    }
    if a.ctr_names {
        cols.push("{{.ContainerNames}}");
    }
    if a.ctr_status {
        cols.push("{{.ContainerStatuses}}");
    }
    if !(a.ctr_ids || a.ctr_names || a.ctr_status) {
        cols.push("{{.NumberOfContainers}}");
    }
    let default_template = format!("table {}", cols.join("\t"));
    let table = Table {
        name: "pod ps",
        default_template: &default_template,
        headers: &[
            ("Id", "POD ID"),
            ("ID", "POD ID"),
            ("InfraID", "INFRA ID"),
            ("NumberOfContainers", "# OF CONTAINERS"),
            ("ContainerIds", "IDS"),
            ("ContainerNames", "NAMES"),
            ("ContainerStatuses", "STATUS"),
            ("Namespace", "NAMESPACES"),
        ],
        json: JsonStyle::PS,
    };
    let mut text = format::render_list_with_methods(&rows, &fmt, &table, &PS_METHODS)?;
    if a.noheading {
        text = format::strip_heading(text, &fmt);
    }
    out(&text).map(|()| 0)
}

/// podman's `ListPodReporter` methods.
const PS_METHODS: [format::Method<PsRow>; 1] = [format::Method {
    name: "Label",
    bind: |row| format::label_method(&row.label_map),
}];

/// The fields `pod ps --format` templates can use (for completion).
pub(crate) fn ps_format_fields() -> serde_json::Value {
    format::template_fields::<PsRow>(&[])
}

/// `pod inspect` (podman 4's `InspectPodData`).
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct InspectJson {
    id: String,
    name: String,
    created: String,
    create_command: Vec<String>,
    exit_policy: String,
    state: String,
    hostname: String,
    labels: BTreeMap<String, String>,
    create_cgroup: bool,
    #[serde(skip_serializing_if = "String::is_empty")]
    cgroup_parent: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    cgroup_path: String,
    create_infra: bool,
    #[serde(rename = "InfraContainerID", skip_serializing_if = "Option::is_none")]
    infra_container_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    infra_config: Option<InfraConfig>,
    shared_namespaces: Vec<String>,
    num_containers: usize,
    containers: Vec<InspectContainer>,
    #[serde(flatten)]
    limits: InspectLimits,
}

impl InspectJson {
    /// What `pod inspect --format` templates see: the limits under their Go names, whether set
    /// or not (podman runs templates on its struct, not on its JSON).
    fn template_view(mut self) -> InspectJson {
        self.limits = self.limits.go_names();
        self
    }
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct InfraConfig {
    port_bindings: BTreeMap<String, Vec<HostPort>>,
    host_network: bool,
    #[serde(rename = "StaticIP")]
    static_ip: String,
    #[serde(rename = "StaticMAC")]
    static_mac: String,
    no_manage_resolv_conf: bool,
    #[serde(rename = "DNSServer")]
    dns_server: Vec<String>,
    #[serde(rename = "DNSSearch")]
    dns_search: Vec<String>,
    #[serde(rename = "DNSOption")]
    dns_option: Vec<String>,
    no_manage_hosts: bool,
    host_add: Vec<String>,
    networks: Vec<String>,
    network_mode: String,
    #[serde(rename = "pid_ns")]
    pid_ns: String,
    #[serde(rename = "userns")]
    userns: String,
    #[serde(rename = "uts_ns")]
    uts_ns: String,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct HostPort {
    host_ip: String,
    host_port: String,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct InspectContainer {
    id: String,
    name: String,
    state: String,
}

fn inspect_json(p: &Pod) -> InspectJson {
    let cgroup_path = engine::cgroup_path(p);
    let infra_config = p.infra().map(|c| {
        let n = &c.spec.net;
        let mut bindings: BTreeMap<String, Vec<HostPort>> = BTreeMap::new();
        for m in &n.ports {
            for (h, ctr_port) in m.pairs() {
                bindings
                    .entry(format!("{ctr_port}/{}", m.protocol.as_str()))
                    .or_default()
                    .push(HostPort {
                        host_ip: m.host_ip.map(|a| a.to_string()).unwrap_or_default(),
                        host_port: h.to_string(),
                    });
            }
        }
        InfraConfig {
            port_bindings: bindings,
            host_network: c.spec.network == "host",
            static_ip: String::new(),
            static_mac: n.mac_address.clone().unwrap_or_default(),
            no_manage_resolv_conf: n.dns == ["none"],
            dns_server: n.dns.clone(),
            dns_search: n.dns_search.clone(),
            dns_option: n.dns_options.clone(),
            no_manage_hosts: n.no_hosts,
            host_add: n
                .add_hosts
                .iter()
                .map(|(h, ip)| format!("{h}:{ip}"))
                .collect(),
            networks: c.spec.networks.keys().cloned().collect(),
            network_mode: c.spec.network.split(':').next().unwrap_or("").to_string(),
            pid_ns: "private".into(),
            userns: p.record.userns.clone().unwrap_or_else(|| "host".into()),
            uts_ns: "private".into(),
        }
    });
    InspectJson {
        id: p.record.id.clone(),
        name: p.record.name.clone(),
        created: format::rfc3339_nano_utc(p.record.created),
        create_command: p.record.create_command.clone(),
        exit_policy: p.record.exit_policy.clone(),
        state: p.status().into(),
        hostname: p.record.hostname.clone(),
        labels: p.record.labels.clone(),
        create_cgroup: p.record.cgroup().is_some(),
        cgroup_parent: cgroup_path
            .as_deref()
            .and_then(|c| c.rsplit_once('/'))
            .map(|(parent, _)| parent.to_string())
            .or_else(|| p.record.cgroup_parent.clone())
            .unwrap_or_default(),
        cgroup_path: cgroup_path.unwrap_or_default(),
        create_infra: p.record.infra_id.is_some(),
        infra_container_id: p.record.infra_id.clone(),
        infra_config,
        shared_namespaces: p.record.share.clone(),
        num_containers: p.containers.len(),
        containers: p
            .containers
            .iter()
            .map(|c| InspectContainer {
                id: c.record.id.clone(),
                name: c.record.name.clone(),
                state: c.state.status.as_str().into(),
            })
            .collect(),
        limits: InspectLimits::of(&p.record.resources),
    }
}

/// Pod `name`'s template view (for completing `--format` fields).
pub(crate) fn template_doc(ctx: &Ctx, name: &str) -> Option<serde_json::Value> {
    let p = engine::find(ctx, name).ok()?;
    serde_json::to_value(inspect_json(&p).template_view()).ok()
}

fn inspect(ctx: &Ctx, a: &InspectArgs) -> Result<i32, Error> {
    let pods: Vec<Pod> = if a.latest {
        engine::list(ctx)?.into_iter().take(1).collect()
    } else {
        if a.pods.is_empty() {
            return Err(Error::Usage(
                "you must provide at least one pod name or ID, or --latest".into(),
            ));
        }
        a.pods
            .iter()
            .map(|k| engine::find(ctx, k))
            .collect::<Result<_, _>>()?
    };
    let fmt = Format::parse(a.format.as_deref());
    let templated = matches!(fmt, Format::Template { .. });
    let objs: Vec<InspectJson> = pods
        .iter()
        .map(inspect_json)
        .map(|o| if templated { o.template_view() } else { o })
        .collect();
    let text = match (&fmt, objs.as_slice()) {
        // podman 4 prints one pod as an object, not an array.
        (Format::Default | Format::Json, [one]) => {
            let text = format::render_json(std::slice::from_ref(one), JsonStyle::INSPECT)?;
            unwrap_array(&text)
        }
        _ => format::render_inspect(&objs, &fmt)?,
    };
    out(&text).map(|()| 0)
}

/// `[\n     {…}\n]\n` → `{…}\n`, un-indented by one level.
fn unwrap_array(text: &str) -> String {
    let indent = JsonStyle::INSPECT.indent;
    let inner: Vec<&str> = text.lines().collect();
    let body = &inner[1..inner.len().saturating_sub(1)];
    let mut s: String = body
        .iter()
        .map(|l| l.strip_prefix(indent).unwrap_or(l))
        .collect::<Vec<_>>()
        .join("\n");
    s.push('\n');
    s
}

fn top(ctx: &Ctx, a: &TopArgs) -> Result<i32, Error> {
    let pod = engine::find(ctx, &a.pod)?;
    let running: Vec<&ctr::Container> = pod
        .containers
        .iter()
        .filter(|c| c.state.status == Status::Running)
        .collect();
    if running.is_empty() {
        return Err(
            EngineError::from(engine::PodError::NoneRunning(pod.record.name.clone())).into(),
        );
    }
    let mut headers: Vec<String> = Vec::new();
    let mut rows: Vec<Vec<String>> = Vec::new();
    for c in running {
        let mut descriptors = a.descriptors.clone();
        if descriptors.is_empty() {
            descriptors = [
                "user", "pid", "ppid", "pcpu", "etime", "tty", "time", "args",
            ]
            .map(String::from)
            .to_vec();
        }
        let report = ctr::top(ctx, &c.record.id, &descriptors)?;
        if headers.is_empty() {
            headers = report.headers.clone();
            headers.push("NAME".into());
        }
        for mut r in report.rows {
            r.push(c.record.name.clone());
            rows.push(r);
        }
    }
    let mut tw = tabwriter::TabWriter::new(Vec::new())
        .minwidth(10)
        .padding(2);
    let line = |cells: &[String]| cells.join("\t") + "\n";
    let mut text = line(&headers);
    for r in &rows {
        text.push_str(&line(r));
    }
    use std::io::Write;
    tw.write_all(text.as_bytes())
        .and_then(|()| tw.flush())
        .expect("writing to a Vec cannot fail");
    let table = tw.into_inner().expect("flushing into a Vec cannot fail");
    out(&String::from_utf8_lossy(&table)).map(|()| 0)
}

/// `pod stats`: `stats` of the running containers of the pods named (of every pod without names).
fn stats(ctx: &Ctx, a: &StatsArgs) -> Result<i32, Error> {
    let pods = if a.pods.is_empty() {
        engine::list(ctx)?
    } else {
        a.pods
            .iter()
            .map(|k| engine::find(ctx, k))
            .collect::<Result<Vec<_>, _>>()?
    };
    let ids = engine::stats_targets(&pods)?;
    if ids.is_empty() {
        // Nothing runs (`stats` with no names would show every container's).
        return Ok(0);
    }
    let opts = crate::cli::container::StatsOpts {
        format: a.format.clone(),
        no_stream: a.no_stream,
        no_reset: a.no_reset,
        interval: a.interval,
    };
    crate::cli::container::show_stats(ctx, &ids, false, &opts)
}

/// `pod logs`: the logs of the pod's containers (not the infra container's), each line prefixed
/// with its container's ID (`--names`: name); `-c` picks one container.
fn logs(ctx: &Ctx, a: &LogsArgs) -> Result<i32, Error> {
    let pod = match (&a.pod, a.latest) {
        (Some(k), _) => engine::find(ctx, k)?,
        (None, _) => engine::list(ctx)?
            .into_iter()
            .max_by_key(|p| p.record.created)
            .ok_or_else(|| Error::Usage("no pods to show the logs of: there are none".into()))?,
    };
    let store = ctx.store()?;
    let mut members: Vec<ctr::Container> = pod.members().cloned().collect();
    if let Some(key) = &a.container {
        let want = ctr::find(&store, key)?;
        members.retain(|c| c.record.id == want.record.id);
        if members.is_empty() {
            return Err(EngineError::from(engine::PodError::NotMember {
                pod: pod.record.name.clone(),
                container: key.clone(),
            })
            .into());
        }
    }
    let targets = members
        .into_iter()
        .map(|c| {
            let prefix = if a.names {
                format!("{} ", c.record.name)
            } else {
                format!("{} ", &c.record.id[..12.min(c.record.id.len())])
            };
            (c, prefix)
        })
        .collect();
    let opts = crate::cli::container::LogOpts {
        follow: a.follow,
        tail: a.tail,
        timestamps: a.timestamps,
        since: a.since.clone(),
        until: a.until.clone(),
    };
    crate::cli::container::show_logs(&store, targets, &opts).map(|()| 0)
}
