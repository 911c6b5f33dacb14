//! The resource-limit flags of `run`/`create` and `update` (podman's names and syntax), and `update`.
use clap::Args;

use crate::engine::Ctx;
use crate::engine::container::resources::CgroupSpec;
use crate::error::Error;
use crate::runtime::cgroup::{CgroupsMode, Resources, limits};

/// Limits a container's cgroup applies (shared by `run`, `create` and `update`).
#[derive(Debug, Clone, Args, Default)]
pub struct LimitArgs {
    /// Memory limit (e.g. 64m, 1g)
    #[arg(short = 'm', long, value_name = "SIZE")]
    pub memory: Option<String>,
    /// Memory soft limit (memory.low)
    #[arg(long, value_name = "SIZE")]
    pub memory_reservation: Option<String>,
    /// Memory plus swap limit (-1: unlimited; default: twice --memory)
    #[arg(long, value_name = "SIZE")]
    pub memory_swap: Option<String>,
    /// Swappiness 0-100 (cgroup v1 only: ignored with a warning)
    #[arg(long, value_name = "0-100")]
    pub memory_swappiness: Option<String>,
    /// Number of CPUs (e.g. 0.5: cpu.max 50000 100000)
    #[arg(long, value_name = "NUMBER")]
    pub cpus: Option<String>,
    /// CPU shares, relative weight (2-262144; cpu.weight)
    #[arg(short = 'c', long, value_name = "SHARES")]
    pub cpu_shares: Option<u64>,
    /// CPU CFS period in microseconds (with --cpu-quota)
    #[arg(long, value_name = "MICROSECONDS")]
    pub cpu_period: Option<u64>,
    /// CPU CFS quota in microseconds per period (e.g. --cpu-period=100000 --cpu-quota=20000)
    #[arg(long, value_name = "MICROSECONDS", allow_negative_numbers = true)]
    pub cpu_quota: Option<i64>,
    /// CPUs the container may run on (e.g. 0-2,4)
    #[arg(long, value_name = "LIST")]
    pub cpuset_cpus: Option<String>,
    /// Memory nodes the container may use (e.g. 0)
    #[arg(long, value_name = "LIST")]
    pub cpuset_mems: Option<String>,
    /// Maximum number of processes (-1 or 0: unlimited; default 2048 when the container has a cgroup)
    #[arg(long, value_name = "N", allow_negative_numbers = true)]
    pub pids_limit: Option<i64>,
    /// Block IO weight 10-1000 (io.weight)
    #[arg(long, value_name = "WEIGHT")]
    pub blkio_weight: Option<String>,
    /// Limit reads from a device: DEVICE:RATE (e.g. /dev/sda:1mb)
    #[arg(long, value_name = "DEVICE:RATE")]
    pub device_read_bps: Vec<String>,
    /// Limit writes to a device: DEVICE:RATE
    #[arg(long, value_name = "DEVICE:RATE")]
    pub device_write_bps: Vec<String>,
    /// Limit read operations per second from a device: DEVICE:N
    #[arg(long, value_name = "DEVICE:N")]
    pub device_read_iops: Vec<String>,
    /// Limit write operations per second to a device: DEVICE:N
    #[arg(long, value_name = "DEVICE:N")]
    pub device_write_iops: Vec<String>,
}

/// The cgroup flags of `run`/`create`.
#[derive(Debug, Clone, Args, Default)]
pub struct CgroupArgs {
    #[command(flatten)]
    pub limits: LimitArgs,
    /// Cgroup mode: enabled (a cgroup of its own), disabled, no-conmon or split
    #[arg(long, value_name = "MODE", value_parser = ["enabled", "disabled", "no-conmon", "split"])]
    pub cgroups: Option<String>,
    /// Slice (systemd) or cgroup path (cgroupfs) to create the container's cgroup in
    #[arg(long, value_name = "PATH")]
    pub cgroup_parent: Option<String>,
    /// Cgroup namespace: private (default), host, or container:NAME (another container's)
    #[arg(long, value_name = "MODE", value_parser = parse_cgroupns)]
    pub cgroupns: Option<String>,
    /// Write a cgroup file of the container: FILE=VALUE (e.g. memory.high=1g)
    #[arg(long, value_name = "FILE=VALUE")]
    pub cgroup_conf: Vec<String>,
    /// Disable the OOM killer (cgroup v1 only: ignored with a warning)
    #[arg(long)]
    pub oom_kill_disable: bool,
    /// OOM score adjustment, -1000 to 1000 (rootless: it can only be raised)
    #[arg(long, value_name = "N", allow_negative_numbers = true, value_parser = clap::value_parser!(i32).range(-1000..=1000))]
    pub oom_score_adj: Option<i32>,
    /// Show the host's /proc/meminfo, /proc/cpuinfo, /proc/stat, /proc/uptime, /proc/loadavg and
    /// /sys/devices/system/cpu/online even with a memory or CPU limit (by default they are computed
    /// from the container's cgroup, and a container whose CPU quota is worth fewer CPUs than it may
    /// run on is pinned to that many, so that nproc agrees)
    #[arg(long)]
    pub no_proc_view: bool,
}

impl LimitArgs {
    /// The limits, parsed and validated one by one (the cross-flag checks come at create).
    pub fn resources(&self) -> Result<Resources, Error> {
        let size = |flag, v: &Option<String>| {
            v.as_deref()
                .map(|s| limits::parse_size(flag, s))
                .transpose()
        };
        let throttles = |flag, v: &[String], iops| {
            v.iter()
                .map(|s| limits::parse_throttle(flag, s, iops))
                .collect::<Result<Vec<_>, _>>()
        };
        let r = Resources {
            memory: size("memory", &self.memory).map_err(usage)?,
            memory_reservation: size("memory-reservation", &self.memory_reservation)
                .map_err(usage)?,
            memory_swap: self
                .memory_swap
                .as_deref()
                .map(limits::parse_swap)
                .transpose()
                .map_err(usage)?,
            memory_swappiness: self
                .memory_swappiness
                .as_deref()
                .map(limits::parse_swappiness)
                .transpose()
                .map_err(usage)?,
            nano_cpus: self
                .cpus
                .as_deref()
                .map(limits::parse_cpus)
                .transpose()
                .map_err(usage)?,
            cpu_period: self.cpu_period,
            cpu_quota: self.cpu_quota,
            cpu_shares: self.cpu_shares,
            cpuset_cpus: self
                .cpuset_cpus
                .as_deref()
                .map(|s| limits::parse_cpuset("cpuset-cpus", s))
                .transpose()
                .map_err(usage)?,
            cpuset_mems: self
                .cpuset_mems
                .as_deref()
                .map(|s| limits::parse_cpuset("cpuset-mems", s))
                .transpose()
                .map_err(usage)?,
            pids_limit: self.pids_limit,
            blkio_weight: self
                .blkio_weight
                .as_deref()
                .map(limits::parse_blkio_weight)
                .transpose()
                .map_err(usage)?,
            device_read_bps: throttles("device-read-bps", &self.device_read_bps, false)
                .map_err(usage)?,
            device_write_bps: throttles("device-write-bps", &self.device_write_bps, false)
                .map_err(usage)?,
            device_read_iops: throttles("device-read-iops", &self.device_read_iops, true)
                .map_err(usage)?,
            device_write_iops: throttles("device-write-iops", &self.device_write_iops, true)
                .map_err(usage)?,
            cgroup_conf: Vec::new(),
            oom_kill_disable: false,
        };
        Ok(r)
    }
}

fn usage(e: limits::LimitError) -> Error {
    Error::Usage(e.to_string())
}

impl CgroupArgs {
    /// The limits and the cgroup settings for `CreateOptions`.
    pub fn options(&self) -> Result<(Resources, CgroupSpec), Error> {
        let mut r = self.limits.resources()?;
        r.cgroup_conf = self
            .cgroup_conf
            .iter()
            .map(|c| limits::parse_cgroup_conf(c))
            .collect::<Result<_, _>>()
            .map_err(usage)?;
        r.oom_kill_disable = self.oom_kill_disable;
        r.validate().map_err(usage)?;
        let spec = CgroupSpec {
            mode: self
                .cgroups
                .as_deref()
                .map(CgroupsMode::parse)
                .transpose()
                .map_err(usage)?,
            parent: self.cgroup_parent.clone(),
            ns_host: self.cgroupns.as_deref() == Some("host"),
            oom_score_adj: self.oom_score_adj,
            manager: String::new(),
            no_proc_view: self.no_proc_view,
            pod: None,
        };
        Ok((r, spec))
    }
}

#[derive(Debug, Args)]
pub struct UpdateArgs {
    #[command(flatten)]
    pub limits: LimitArgs,
    #[arg(value_name = "CONTAINER", add = clap_complete::engine::ArgValueCandidates::new(super::running_containers))]
    pub container: String,
}

/// `update`: change a container's limits (at once in its cgroup when it runs).
pub fn update(ctx: &Ctx, a: &UpdateArgs) -> Result<i32, Error> {
    let r = a.limits.resources()?;
    if !r.any() {
        return Err(Error::Usage(
            "update needs at least one limit to change (e.g. --memory 128m or --cpus 1)".into(),
        ));
    }
    let id = crate::engine::container::resources::update(ctx, &a.container, &r)?;
    crate::cli::out(&format!("{id}\n")).map(|()| 0)
}

/// `--cgroupns`: `private`, `host` or `container:NAME`.
fn parse_cgroupns(v: &str) -> Result<String, String> {
    match v {
        "private" | "host" => Ok(v.to_string()),
        _ if v.strip_prefix("container:").is_some_and(|n| !n.is_empty()) => Ok(v.to_string()),
        _ => Err("use private, host or container:NAME".into()),
    }
}
