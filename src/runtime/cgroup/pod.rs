//! A pod's cgroup: the parent of its containers' cgroups, holding the pod's limits for all of them
//! together (podman's `pod create --memory` and friends). With systemd it is a transient slice
//! `PARENT-roost_pod_ID.slice` whose limits are unit properties (so systemd keeps them when it
//! reapplies its own settings); with cgroupfs a directory `roost-pod-ID` beside where a container's
//! own would go. Either is made by the first of the pod's containers that starts, and found again
//! by the next: nothing needs making at `pod create`, and a reboot loses nothing. The slice is
//! stopped by `pod rm`; the directory goes with the last container's cgroup.
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::dbus::{self, Prop};
use super::{CgroupError, Resources};

/// What a container of a pod needs to make or find the pod's cgroup.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PodCgroup {
    /// The pod's id (names the slice or directory).
    pub id: String,
    /// `pod create --cgroup-parent`: a slice (systemd) or a directory (cgroupfs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
    /// The pod's limits.
    #[serde(default)]
    pub resources: Resources,
}

impl PodCgroup {
    /// The systemd slice: a dash-separated name places it in its parent slice (`user.slice` unless
    /// `--cgroup-parent` names another).
    pub fn slice(&self) -> String {
        let parent = self.parent.as_deref().unwrap_or("user.slice");
        let prefix = parent.strip_suffix(".slice").unwrap_or(parent);
        match prefix {
            "" | "-" => format!("roost_pod_{}.slice", self.id),
            p => format!("{p}-roost_pod_{}.slice", self.id),
        }
    }

    /// The controllers a container with `own` needs above it: its own and the pod's limits'.
    pub fn controllers_with(&self, own: &[&'static str]) -> Vec<&'static str> {
        let mut all = self.resources.controllers();
        all.extend_from_slice(own);
        all.sort_unstable();
        all.dedup();
        all
    }

    /// The cgroupfs directory's name.
    pub fn dir_name(&self) -> String {
        format!("roost-pod-{}", self.id)
    }

    /// The files to write into the pod's cgroup: the limits given, without a container's default
    /// pids limit (podman sets none on a pod).
    pub fn files(&self) -> Vec<(String, String)> {
        let r = &self.resources;
        r.files()
            .into_iter()
            .filter(|(k, _)| k != "pids.max" || r.pids_limit.is_some())
            .collect()
    }
}

/// Make the pod's slice through the user's systemd at `bus`, unless it is there already (started
/// by another of the pod's containers); returns its name.
pub fn ensure_slice(pod: &PodCgroup, bus: &Path) -> Result<String, CgroupError> {
    let slice = pod.slice();
    let desc = format!("roost pod {}", &pod.id[..pod.id.len().min(12)]);
    let mut props = vec![Prop::Str("Description", &desc)];
    props.extend(
        systemd_props(&pod.files()).map_err(|file| CgroupError::NoProperty {
            file,
            unit: slice.clone(),
        })?,
    );
    match dbus::start_transient(bus, &slice, &props) {
        Err(dbus::DbusError::Call { name, .. }) if name == dbus::UNIT_EXISTS => Ok(slice),
        Err(source) => Err(CgroupError::Systemd {
            unit: slice,
            source,
        }),
        Ok(()) => Ok(slice),
    }
}

/// `pod rm`: stop the pod's slice (and whatever is left in it), if systemd has it.
pub fn stop_slice(pod: &PodCgroup, bus: &Path) -> Result<(), CgroupError> {
    let slice = pod.slice();
    match dbus::stop_unit(bus, &slice) {
        Err(dbus::DbusError::Call { name, .. }) if name == dbus::NO_SUCH_UNIT => Ok(()),
        Err(source) => Err(CgroupError::Systemd {
            unit: slice,
            source,
        }),
        Ok(()) => Ok(()),
    }
}

/// Make (or find) the pod's directory in `base` with `base_needs` on in `base` (the pod's controllers
/// and its containers', [`PodCgroup::controllers_with`]) and `controllers` on for its containers, and
/// write the pod's limits into it.
pub fn ensure_dir(
    pod: &PodCgroup,
    base: &Path,
    base_needs: &[&str],
    controllers: &[&str],
) -> Result<PathBuf, CgroupError> {
    let dir = base.join(pod.dir_name());
    super::enable_controllers(base, base_needs)?;
    super::create_in(base, &dir, true)?;
    super::enable_controllers(&dir, controllers)?;
    for (file, value) in pod.files() {
        super::write(&dir.join(&file), &value)?;
    }
    Ok(dir)
}

/// The systemd properties that set these cgroup files on a unit (systemd.resource-control(5));
/// `Err` names a file no property sets.
fn systemd_props(files: &[(String, String)]) -> Result<Vec<Prop<'static>>, String> {
    let mut props = Vec::new();
    for (file, value) in files {
        let bytes = || value_u64(value).ok_or_else(|| file.clone());
        match file.as_str() {
            "memory.max" => props.push(Prop::U64("MemoryMax", bytes()?)),
            "memory.low" => props.push(Prop::U64("MemoryLow", bytes()?)),
            "memory.swap.max" => props.push(Prop::U64("MemorySwapMax", bytes()?)),
            "pids.max" => props.push(Prop::U64("TasksMax", bytes()?)),
            "cpu.weight" => props.push(Prop::U64("CPUWeight", bytes()?)),
            "cpu.max" => props.extend(cpu_max_props(value).ok_or_else(|| file.clone())?),
            "cpuset.cpus" => props.push(Prop::Bytes(
                "AllowedCPUs",
                cpu_mask(value).ok_or_else(|| file.clone())?,
            )),
            "cpuset.mems" => props.push(Prop::Bytes(
                "AllowedMemoryNodes",
                cpu_mask(value).ok_or_else(|| file.clone())?,
            )),
            "io.weight" => {
                let w = value.strip_prefix("default ").and_then(value_u64);
                props.push(Prop::U64("IOWeight", w.ok_or_else(|| file.clone())?));
            }
            "io.max" => props.push(io_max_prop(value).ok_or_else(|| file.clone())?),
            _ => return Err(file.clone()),
        }
    }
    Ok(props)
}

/// A cgroup number, `max` being systemd's infinity.
fn value_u64(v: &str) -> Option<u64> {
    match v.trim() {
        "max" => Some(u64::MAX),
        n => n.parse().ok(),
    }
}

/// `cpu.max`'s `QUOTA PERIOD` (µs) as systemd's quota per second and period.
fn cpu_max_props(value: &str) -> Option<[Prop<'static>; 2]> {
    let (quota, period) = value.split_once(' ')?;
    let period: u64 = period.trim().parse().ok().filter(|p| *p > 0)?;
    let per_sec = match value_u64(quota)? {
        u64::MAX => u64::MAX,
        q => q.checked_mul(1_000_000)? / period,
    };
    Some([
        Prop::U64("CPUQuotaPerSecUSec", per_sec),
        Prop::U64("CPUQuotaPeriodUSec", period),
    ])
}

/// A cpu (or memory node) list such as `0-2,4` as systemd's bitmask bytes (bit N of byte N/8).
fn cpu_mask(list: &str) -> Option<Vec<u8>> {
    let mut mask = Vec::new();
    for part in list.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (a, b) = part.split_once('-').unwrap_or((part, part));
        let (a, b): (usize, usize) = (a.trim().parse().ok()?, b.trim().parse().ok()?);
        if a > b || b >= 8192 {
            return None;
        }
        for n in a..=b {
            if mask.len() <= n / 8 {
                mask.resize(n / 8 + 1, 0);
            }
            mask[n / 8] |= 1 << (n % 8);
        }
    }
    Some(mask)
}

/// One `io.max` line, `MAJ:MIN KEY=RATE`, as the property for that key (the device named by its
/// /dev/block link, which systemd resolves).
fn io_max_prop(value: &str) -> Option<Prop<'static>> {
    let (dev, limit) = value.split_once(' ')?;
    let (key, rate) = limit.split_once('=')?;
    let name = match key {
        "rbps" => "IOReadBandwidthMax",
        "wbps" => "IOWriteBandwidthMax",
        "riops" => "IOReadIOPSMax",
        "wiops" => "IOWriteIOPSMax",
        _ => return None,
    };
    Some(Prop::PathU64s(
        name,
        vec![(format!("/dev/block/{dev}"), value_u64(rate)?)],
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::cgroup::Throttle;

    fn pod(parent: Option<&str>) -> PodCgroup {
        PodCgroup {
            id: "ab".repeat(32),
            parent: parent.map(String::from),
            resources: Resources::default(),
        }
    }

    #[test]
    fn the_slice_is_named_into_its_parent() {
        let id = "ab".repeat(32);
        assert_eq!(pod(None).slice(), format!("user-roost_pod_{id}.slice"));
        assert_eq!(
            pod(Some("work-web.slice")).slice(),
            format!("work-web-roost_pod_{id}.slice")
        );
        assert_eq!(
            pod(Some("-.slice")).slice(),
            format!("roost_pod_{id}.slice")
        );
    }

    #[test]
    fn a_pod_gets_no_default_pids_limit() {
        let mut p = pod(None);
        p.resources.memory = Some(64 << 20);
        let files = p.files();
        assert!(
            files
                .iter()
                .any(|(k, v)| k == "memory.max" && v == "67108864")
        );
        assert!(!files.iter().any(|(k, _)| k == "pids.max"), "{files:?}");
        p.resources.pids_limit = Some(100);
        assert!(p.files().iter().any(|(k, v)| k == "pids.max" && v == "100"));
    }

    #[test]
    fn limits_become_systemd_properties() {
        let r = Resources {
            memory: Some(64 << 20),
            nano_cpus: Some(1_500_000_000),
            cpu_shares: Some(1024),
            cpuset_cpus: Some("0-2,9".into()),
            blkio_weight: Some(500),
            device_read_bps: vec![Throttle {
                path: "/dev/sda".into(),
                major: 8,
                minor: 0,
                rate: 1 << 20,
            }],
            ..Default::default()
        };
        let p = PodCgroup {
            resources: r,
            ..pod(None)
        };
        let props = systemd_props(&p.files()).unwrap();
        let find = |name: &str| {
            props
                .iter()
                .find(|x| x.name() == name)
                .unwrap_or_else(|| panic!("{name} missing"))
        };
        assert!(matches!(find("MemoryMax"), Prop::U64(_, 67108864)));
        // swap defaults to as much again as the memory
        assert!(matches!(find("MemorySwapMax"), Prop::U64(_, 67108864)));
        assert!(matches!(
            find("CPUQuotaPerSecUSec"),
            Prop::U64(_, 1_500_000)
        ));
        assert!(matches!(find("CPUQuotaPeriodUSec"), Prop::U64(_, 100_000)));
        let weight = crate::runtime::cgroup::limits::shares_to_weight(1024);
        assert!(matches!(find("CPUWeight"), Prop::U64(_, w) if *w == weight));
        assert!(matches!(find("AllowedCPUs"), Prop::Bytes(_, m) if m == &[0b0000_0111, 0b10]));
        assert!(matches!(find("IOWeight"), Prop::U64(..)));
        assert!(
            matches!(find("IOReadBandwidthMax"), Prop::PathU64s(_, v) if v == &[("/dev/block/8:0".to_string(), 1 << 20)])
        );
    }

    #[test]
    fn a_file_without_a_property_is_named() {
        let files = vec![("hugetlb.2MB.max".to_string(), "0".to_string())];
        assert_eq!(
            systemd_props(&files).err().as_deref(),
            Some("hugetlb.2MB.max")
        );
        assert_eq!(cpu_mask("3-1"), None);
        assert_eq!(value_u64("max"), Some(u64::MAX));
    }
}
