//! Resource limits of a container: checked against the host at `create` (podman's warnings on a
//! cgroup v1 host, an error naming the missing controller on v2), planned at start, read back at
//! the end (OOM kills), and changed by `update`.
//!
//! A container gets a cgroup of its own only when it asks for one (a limit, `--cgroups enabled`,
//! `--cgroup-parent`): otherwise it stays in the cgroup of whoever started it, and starting it
//! talks to no D-Bus and writes no cgroup file (podman always makes one; `run --rm` stays fast).
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::{Container, State, Status};
use crate::engine::{Ctx, EngineError};
use crate::runtime::cgroup::{
    self, CgroupPlan, CgroupsMode, Host, Made, Manager, PodCgroup, Resources,
};
use crate::store::Store;

/// What is wrong with a container's resource flags, or with the container for a cgroup operation.
#[derive(Debug, thiserror::Error)]
pub enum ResourceError {
    #[error(
        "resource limits and --cgroup-parent need a cgroup: they cannot be used with --cgroups=disabled"
    )]
    Disabled,
    #[error(
        "cgroup parent `{0}` is not a slice: with the systemd cgroup manager, --cgroup-parent must name a slice such as `user.slice`"
    )]
    NotASlice(String),
    #[error(
        "{what}: container `{container}` is not running (state {state}): container state improper"
    )]
    NotRunning {
        what: String,
        container: String,
        state: &'static str,
    },
    #[error(
        "{what} needs the container's own cgroup, and `{container}` has none: roost makes one only for a container started with a resource limit or `--cgroups=enabled` (recreate it with one of those)"
    )]
    NoCgroup { what: String, container: String },
    #[error(
        "\"{container}\" is {state}, can only {} a {} container: container state improper",
        if *.frozen { "pause" } else { "unpause" },
        if *.frozen { "running" } else { "paused" }
    )]
    PauseState {
        container: String,
        state: &'static str,
        frozen: bool,
    },
}

/// The cgroup flags besides the limits.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct CgroupSpec {
    /// `--cgroups` as given (None: podman's default, `enabled`, without asking for a cgroup).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mode: Option<CgroupsMode>,
    /// `--cgroup-parent`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
    /// `--cgroupns host`.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub ns_host: bool,
    /// `--oom-score-adj`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub oom_score_adj: Option<i32>,
    /// `systemd` or `cgroupfs`, chosen at create time (when the container has a cgroup).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub manager: String,
    /// `--no-proc-view`: the host's /proc files even with a memory or CPU limit.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub no_proc_view: bool,
    /// The cgroup of the container's pod, which its own is made in (see `pod::member_cgroup`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pod: Option<PodCgroup>,
}

/// Where the user's bus is, and `--cgroup-manager`: read at the edge, used only when a container
/// has a cgroup.
#[derive(Debug, Clone, Default)]
pub struct CgroupSettings {
    pub manager: Option<String>,
    pub bus_address: Option<String>,
    pub runtime_dir: Option<std::path::PathBuf>,
}

impl CgroupSettings {
    fn bus(&self) -> Option<std::path::PathBuf> {
        cgroup::dbus::session_bus(self.bus_address.as_deref(), self.runtime_dir.as_deref())
    }
}

/// Whether a container with these flags gets a cgroup of its own.
fn wanted(r: &Resources, spec: &CgroupSpec) -> bool {
    r.any()
        || spec.mode == Some(CgroupsMode::Enabled)
        || spec.parent.is_some()
        || spec.pod.is_some()
}

/// `create`: validate the limits and check that this host can apply them. Returns what to store:
/// None when the container gets no cgroup (none asked for, or a cgroup v1 host, where podman too
/// warns and ignores them). The chosen manager is written into `spec`.
pub fn check(
    ctx: &Ctx,
    r: &Resources,
    spec: &mut CgroupSpec,
) -> Result<Option<Resources>, EngineError> {
    r.validate()?;
    if spec.mode == Some(CgroupsMode::Disabled) && (r.any() || spec.parent.is_some()) {
        return Err(ResourceError::Disabled.into());
    }
    if r.memory_swappiness.is_some() {
        tracing::warn!(
            "--memory-swappiness is ignored: it is a cgroup v1 setting, and rootless containers only get cgroup v2 limits"
        );
    }
    if r.oom_kill_disable {
        tracing::warn!(
            "--oom-kill-disable is ignored: cgroup v2 has no way to turn the OOM killer off (use a larger --memory)"
        );
    }
    if !wanted(r, spec) {
        return Ok(None);
    }
    let host = Host::detect();
    if host != Host::Unified {
        tracing::warn!(
            "Resource limits are not supported and ignored on cgroups V1 rootless systems (this host has {}): to use them, {}",
            host.describe(),
            cgroup::UNIFIED_HINT
        );
        return Ok(None);
    }
    let controllers = r.controllers();
    match &spec.pod {
        Some(pod) => cgroup::check_controllers(&pod.controllers_with(&controllers))?,
        None => cgroup::check_controllers(&controllers)?,
    }
    spec.manager = manager_name(ctx);
    let parent = spec.pod.as_ref().map_or(&spec.parent, |p| &p.parent);
    if spec.manager == "systemd"
        && let Some(p) = parent
        && !p.ends_with(".slice")
    {
        return Err(ResourceError::NotASlice(p.clone()).into());
    }
    Ok(Some(r.clone()))
}

/// The cgroup manager a container created now gets: `--cgroup-manager`, else systemd when the
/// user's bus is there.
fn manager_name(ctx: &Ctx) -> String {
    match ctx.cgroup.manager.as_deref() {
        Some(m) => m.to_string(),
        None if ctx.cgroup.bus().is_some() => "systemd".into(),
        None => "cgroupfs".into(),
    }
}

/// `pod rm`: stop the pod's systemd slice (a cgroupfs directory went with its last container's
/// cgroup). Nothing to do for a pod without a cgroup, or without the user's bus.
pub fn remove_pod_cgroup(ctx: &Ctx, pod: &PodCgroup) -> Result<(), EngineError> {
    if manager_name(ctx) != "systemd" || Host::detect() != Host::Unified {
        return Ok(());
    }
    match ctx.cgroup.bus() {
        Some(bus) => Ok(cgroup::pod::stop_slice(pod, &bus)?),
        None => Ok(()),
    }
}

/// The cgroup the plan asks for (None: the container stays in its starter's cgroup).
pub fn plan(ctx: &Ctx, c: &Container) -> Option<CgroupPlan> {
    let resources = c.spec.resources.clone()?;
    let cg = &c.spec.cgroup;
    let manager = match (cg.manager.as_str(), ctx.cgroup.bus()) {
        ("systemd", Some(bus)) => Manager::Systemd { bus },
        _ => Manager::Cgroupfs,
    };
    Some(CgroupPlan {
        id: c.record.id.clone(),
        manager,
        parent: cg.parent.clone(),
        pod: cg.pod.clone(),
        private_ns: !cg.ns_host,
        with_supervisor: !matches!(cg.mode, Some(CgroupsMode::Split | CgroupsMode::NoConmon)),
        proc_view: !cg.no_proc_view
            && (limits_what_proc_shows(&resources)
                || cg
                    .pod
                    .as_ref()
                    .is_some_and(|p| limits_what_proc_shows(&p.resources))),
        resources,
    })
}

/// Whether a limit changes what /proc/meminfo, /proc/cpuinfo or /proc/stat should say (memory, a
/// CPU quota, a cpuset): only then does the container get the /proc view of its cgroup.
fn limits_what_proc_shows(r: &Resources) -> bool {
    r.memory.is_some_and(|m| m > 0)
        || r.nano_cpus.is_some_and(|n| n > 0)
        || r.cpu_quota.is_some_and(|q| q > 0)
        || r.cpuset_cpus.is_some()
}

/// The container ended: note whether the OOM killer ended it, and remove its cgroup.
pub fn ended(store: &mut Store, id: &str, made: Option<&Made>) -> Result<(), EngineError> {
    let Some(m) = made else {
        return Ok(());
    };
    let oom = cgroup::oom_killed(&m.container);
    cgroup::remove(m);
    if let Some(r) = store.container(id)? {
        let mut st = State::from_json(&r.state);
        st.oom_killed = oom;
        st.cgroup = None;
        store.set_container_state(id, &st.to_json())?;
    }
    Ok(())
}

/// The cgroup of a running container, or why there is none.
pub fn cgroup_of(c: &Container, what: &str) -> Result<std::path::PathBuf, EngineError> {
    Host::detect().require_v2(what)?;
    if !matches!(c.state.status, Status::Running | Status::Paused) {
        return Err(ResourceError::NotRunning {
            what: what.to_string(),
            container: c.record.name.clone(),
            state: c.state.status.as_str(),
        }
        .into());
    }
    match &c.state.cgroup {
        Some(p) if Path::new(p).is_dir() => Ok(p.clone()),
        _ => Err(ResourceError::NoCgroup {
            what: what.to_string(),
            container: c.record.name.clone(),
        }
        .into()),
    }
}

/// `pause` (`frozen`) or `unpause` one container, with the cgroup freezer.
pub fn pause(ctx: &Ctx, name: &str, frozen: bool) -> Result<String, EngineError> {
    Host::detect().require_v2("pausing a container")?;
    let mut store = ctx.store()?;
    let c = super::lifecycle::find(&store, name)?;
    let want = if frozen {
        Status::Running
    } else {
        Status::Paused
    };
    if c.state.status != want {
        return Err(ResourceError::PauseState {
            container: c.record.name.clone(),
            state: c.state.status.as_str(),
            frozen,
        }
        .into());
    }
    let dir = cgroup_of(&c, "pausing a container")?;
    cgroup::freeze(&dir, frozen)?;
    super::lifecycle::set_paused(&mut store, &c.record.id, frozen)?;
    let status = if frozen { "pause" } else { "unpause" };
    crate::engine::events::record(ctx, crate::engine::events::Event::container(status, &c));
    Ok(c.record.id)
}

/// One container's statistics (`sample` is None for a container without a cgroup of its own).
#[derive(Debug, Clone)]
pub struct StatsReport {
    pub id: String,
    pub name: String,
    pub started_at: Option<jiff::Timestamp>,
    pub sample: Option<cgroup::stats::Sample>,
}

/// `stats`: the named containers (each must have a cgroup), or every running one (`all`: every one).
pub fn stats(ctx: &Ctx, names: &[String], all: bool) -> Result<Vec<StatsReport>, EngineError> {
    Host::detect().require_v2("stats")?;
    let report = |c: &Container, sample| StatsReport {
        id: c.record.id.clone(),
        name: c.record.name.clone(),
        started_at: c.state.started_at,
        sample,
    };
    if names.is_empty() {
        return Ok(super::lifecycle::list(ctx)?
            .iter()
            .filter(|c| all || matches!(c.state.status, Status::Running | Status::Paused))
            .map(|c| {
                let sample = c
                    .state
                    .cgroup
                    .as_deref()
                    .filter(|d| d.is_dir())
                    .map(|d| cgroup::stats::sample(d, c.state.pid));
                report(c, sample)
            })
            .collect());
    }
    let store = ctx.store()?;
    names
        .iter()
        .map(|n| {
            let c = super::lifecycle::find(&store, n)?;
            let dir = cgroup_of(&c, "stats")?;
            let sample = cgroup::stats::sample(&dir, c.state.pid);
            Ok(report(&c, Some(sample)))
        })
        .collect()
}

/// `update`: new limits for a container (written into its cgroup when it runs, stored either way).
pub fn update(ctx: &Ctx, name: &str, new: &Resources) -> Result<String, EngineError> {
    let mut store = ctx.store()?;
    let mut c = super::lifecycle::find(&store, name)?;
    let merged = merge(c.spec.resources.clone().unwrap_or_default(), new);
    merged.validate()?;
    if c.state.status == Status::Running {
        let dir = cgroup_of(&c, "update")?;
        cgroup::apply(&dir, &merged)?;
    } else {
        Host::detect().require_v2("update")?;
        cgroup::check_controllers(&merged.controllers())?;
    }
    c.spec.resources = Some(merged);
    store.set_container_spec(
        &c.record.id,
        &serde_json::to_string(&c.spec).expect("spec serializes"),
    )?;
    Ok(c.record.id)
}

/// `new`'s set values over `old`'s.
pub fn merge(mut old: Resources, new: &Resources) -> Resources {
    macro_rules! take {
        ($($f:ident),*) => { $( if new.$f.is_some() { old.$f = new.$f.clone(); } )* };
    }
    take!(
        memory,
        memory_reservation,
        memory_swap,
        memory_swappiness,
        cpu_period,
        cpu_quota,
        cpu_shares,
        cpuset_cpus,
        cpuset_mems,
        pids_limit,
        blkio_weight
    );
    if new.nano_cpus.is_some() {
        old.nano_cpus = new.nano_cpus;
        old.cpu_period = None;
        old.cpu_quota = None;
    } else if new.cpu_period.is_some() || new.cpu_quota.is_some() {
        old.nano_cpus = None;
    }
    for (dst, src) in [
        (&mut old.device_read_bps, &new.device_read_bps),
        (&mut old.device_write_bps, &new.device_write_bps),
        (&mut old.device_read_iops, &new.device_read_iops),
        (&mut old.device_write_iops, &new.device_write_iops),
    ] {
        if !src.is_empty() {
            dst.clone_from(src);
        }
    }
    old
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn update_merges_over_the_old_limits() {
        let old = Resources {
            memory: Some(64 << 20),
            nano_cpus: Some(500_000_000),
            ..Default::default()
        };
        let new = Resources {
            cpu_quota: Some(20_000),
            cpu_period: Some(100_000),
            ..Default::default()
        };
        let m = merge(old, &new);
        assert_eq!(m.memory, Some(64 << 20));
        assert_eq!(m.nano_cpus, None);
        assert_eq!(m.cpu_quota, Some(20_000));
    }

    #[test]
    fn a_cgroup_only_when_asked() {
        let none = CgroupSpec::default();
        assert!(!wanted(&Resources::default(), &none));
        let enabled = CgroupSpec {
            mode: Some(CgroupsMode::Enabled),
            ..Default::default()
        };
        assert!(wanted(&Resources::default(), &enabled));
        let mem = Resources {
            memory: Some(64 << 20),
            ..Default::default()
        };
        assert!(wanted(&mem, &none));
    }

    #[test]
    fn the_proc_view_only_for_memory_and_cpu_limits() {
        let with = |f: fn(&mut Resources)| {
            let mut r = Resources::default();
            f(&mut r);
            limits_what_proc_shows(&r)
        };
        assert!(with(|r| r.memory = Some(64 << 20)));
        assert!(with(|r| r.nano_cpus = Some(1_000_000_000)));
        assert!(with(|r| r.cpu_quota = Some(20_000)));
        assert!(with(|r| r.cpuset_cpus = Some("0".into())));
        assert!(!with(|_| {}));
        assert!(!with(|r| r.pids_limit = Some(20)));
        assert!(!with(|r| r.cpu_shares = Some(512)));
        assert!(!with(|r| r.cpu_quota = Some(-1)));
    }
}
