//! The resource limits of a pod: `pod create`'s flags (podman's), and the fields `pod inspect`
//! shows them in.
use clap::Args;
use serde::ser::{Serialize, SerializeMap, Serializer};

use super::container::inspect::blkio_throttles;
use crate::error::Error;
use crate::runtime::cgroup::{Resources, limits::DEFAULT_CPU_PERIOD};

/// podman's resource flags of `pod create`: limits on the pod's cgroup, which its containers' own
/// cgroups are in, so they hold for all of them together.
#[derive(Debug, Clone, Args, Default)]
pub struct PodLimitArgs {
    /// Memory limit of the pod, all its containers together (e.g. 64m, 1g)
    #[arg(short = 'm', long, value_name = "SIZE")]
    pub memory: Option<String>,
    /// Memory plus swap limit of the pod (-1: unlimited; default: twice --memory)
    #[arg(long, value_name = "SIZE")]
    pub memory_swap: Option<String>,
    /// Number of CPUs the pod's containers may use together (e.g. 0.5)
    #[arg(long, value_name = "NUMBER")]
    pub cpus: Option<String>,
    /// CPU shares of the pod, relative weight (2-262144)
    #[arg(long, value_name = "SHARES")]
    pub cpu_shares: Option<u64>,
    /// CPUs the pod's containers may run on (e.g. 0-2,4)
    #[arg(long, value_name = "LIST")]
    pub cpuset_cpus: Option<String>,
    /// Memory nodes the pod's containers may use (e.g. 0)
    #[arg(long, value_name = "LIST")]
    pub cpuset_mems: Option<String>,
    /// Block IO weight of the pod, 10-1000
    #[arg(long, value_name = "WEIGHT")]
    pub blkio_weight: Option<String>,
    /// Limit the pod's containers' reads from a device: DEVICE:RATE (e.g. /dev/sda:1mb)
    #[arg(long, value_name = "DEVICE:RATE")]
    pub device_read_bps: Vec<String>,
    /// Limit the pod's containers' writes to a device: DEVICE:RATE
    #[arg(long, value_name = "DEVICE:RATE")]
    pub device_write_bps: Vec<String>,
}

impl PodLimitArgs {
    /// The limits, parsed and checked together as `run`'s are.
    pub fn resources(&self) -> Result<Resources, Error> {
        let limits = crate::cli::container::resources::LimitArgs {
            memory: self.memory.clone(),
            memory_swap: self.memory_swap.clone(),
            cpus: self.cpus.clone(),
            cpu_shares: self.cpu_shares,
            cpuset_cpus: self.cpuset_cpus.clone(),
            cpuset_mems: self.cpuset_mems.clone(),
            blkio_weight: self.blkio_weight.clone(),
            device_read_bps: self.device_read_bps.clone(),
            device_write_bps: self.device_write_bps.clone(),
            ..Default::default()
        };
        let r = limits.resources()?;
        r.validate().map_err(|e| Error::Usage(e.to_string()))?;
        Ok(r)
    }
}

/// One limit of `pod inspect`: its Go field name (what templates use), its JSON key, its value.
type Field = (&'static str, &'static str, serde_json::Value);

/// podman's `InspectPodData` limit fields, in its order; serialized as in its JSON (its keys, unset
/// limits left out) or, for templates, by their Go names, all of them.
pub struct InspectLimits {
    fields: Vec<Field>,
    go_names: bool,
}

impl InspectLimits {
    pub fn of(r: &Resources) -> InspectLimits {
        let (period, quota) = match r.nano_cpus {
            Some(n) => (
                DEFAULT_CPU_PERIOD,
                n * DEFAULT_CPU_PERIOD as i64 / 1_000_000_000,
            ),
            None => (r.cpu_period.unwrap_or(0), r.cpu_quota.unwrap_or(0)),
        };
        let text = |v: &Option<String>| v.clone().unwrap_or_default();
        let fields = vec![
            ("CPUPeriod", "cpu_period", period.into()),
            ("CPUQuota", "cpu_quota", quota.into()),
            ("CPUShares", "cpu_shares", r.cpu_shares.unwrap_or(0).into()),
            ("CPUSetCPUs", "cpuset_cpus", text(&r.cpuset_cpus).into()),
            ("CPUSetMems", "cpuset_mems", text(&r.cpuset_mems).into()),
            (
                "BlkioDeviceReadBps",
                "device_read_bps",
                blkio_throttles(&r.device_read_bps),
            ),
            (
                "BlkioDeviceWriteBps",
                "device_write_bps",
                blkio_throttles(&r.device_write_bps),
            ),
            ("MemoryLimit", "memory_limit", r.memory.unwrap_or(0).into()),
            (
                "MemorySwap",
                "memory_swap",
                r.memory_swap.unwrap_or(0).into(),
            ),
            (
                "BlkioWeight",
                "blkio_weight",
                r.blkio_weight.unwrap_or(0).into(),
            ),
        ];
        InspectLimits {
            fields,
            go_names: false,
        }
    }

    /// The template form: every field by its Go name (a template sees every field of a struct).
    pub fn go_names(self) -> InspectLimits {
        InspectLimits {
            go_names: true,
            ..self
        }
    }

    fn entries(&self) -> Vec<(&'static str, &serde_json::Value)> {
        let entries = self.fields.iter();
        if self.go_names {
            return entries.map(|(name, _, v)| (*name, v)).collect();
        }
        entries
            .filter(|(_, _, v)| !is_empty(v))
            .map(|(_, key, v)| (*key, v))
            .collect()
    }
}

fn is_empty(v: &serde_json::Value) -> bool {
    match v {
        serde_json::Value::Null => true,
        serde_json::Value::Number(n) => n.as_f64() == Some(0.0),
        serde_json::Value::String(s) => s.is_empty(),
        serde_json::Value::Array(a) => a.is_empty(),
        _ => false,
    }
}

impl Serialize for InspectLimits {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let entries = self.entries();
        let mut map = s.serialize_map(Some(entries.len()))?;
        for (key, value) in entries {
            map.serialize_entry(key, value)?;
        }
        map.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::cgroup::Throttle;

    fn limits() -> InspectLimits {
        let r = Resources {
            memory: Some(64 << 20),
            nano_cpus: Some(500_000_000),
            device_read_bps: vec![Throttle {
                path: "/dev/sda".into(),
                major: 8,
                minor: 0,
                rate: 1 << 20,
            }],
            ..Default::default()
        };
        InspectLimits::of(&r)
    }

    #[test]
    fn json_has_podmans_keys_and_leaves_out_unset_limits() {
        let v = serde_json::to_value(limits()).unwrap();
        assert_eq!(
            v,
            serde_json::json!({
                "cpu_period": 100000,
                "cpu_quota": 50000,
                "device_read_bps": [{"Path": "/dev/sda", "Rate": 1048576}],
                "memory_limit": 67108864,
            })
        );
        assert_eq!(
            serde_json::to_value(InspectLimits::of(&Resources::default())).unwrap(),
            serde_json::json!({})
        );
    }

    #[test]
    fn templates_see_every_field_by_its_go_name() {
        let l = limits();
        let v = serde_json::to_value(l.go_names()).unwrap();
        assert_eq!(v["MemoryLimit"], 67108864);
        assert_eq!(v["BlkioDeviceReadBps"][0]["Rate"], 1048576);
        assert_eq!(v["BlkioWeight"], 0);
        assert_eq!(v["CPUSetCPUs"], "");
        assert_eq!(v.as_object().unwrap().len(), 10);
    }
}
