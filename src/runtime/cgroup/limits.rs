//! The resource limits a container asks for (podman's `--memory`, `--cpus`, … flags), typed and
//! validated as podman validates them, and what they become in cgroup v2 files.
use serde::{Deserialize, Serialize};

/// A block device throttle (`--device-read-bps /dev/sda:1mb`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Throttle {
    pub path: String,
    pub major: u64,
    pub minor: u64,
    pub rate: u64,
}

/// `--cgroups`: podman's modes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum CgroupsMode {
    #[default]
    Enabled,
    Disabled,
    NoConmon,
    Split,
}

impl CgroupsMode {
    pub fn parse(s: &str) -> Result<CgroupsMode, LimitError> {
        Ok(match s {
            "enabled" => CgroupsMode::Enabled,
            "disabled" => CgroupsMode::Disabled,
            "no-conmon" => CgroupsMode::NoConmon,
            "split" => CgroupsMode::Split,
            _ => return Err(LimitError::CgroupsMode(s.into())),
        })
    }
    pub fn as_str(self) -> &'static str {
        match self {
            CgroupsMode::Enabled => "enabled",
            CgroupsMode::Disabled => "disabled",
            CgroupsMode::NoConmon => "no-conmon",
            CgroupsMode::Split => "split",
        }
    }
}

/// Everything limit-related a container was created with (all unset by default).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Resources {
    /// Bytes (`memory.max`).
    pub memory: Option<i64>,
    /// Bytes (`memory.low`).
    pub memory_reservation: Option<i64>,
    /// Memory plus swap in bytes, -1 unlimited (`memory.swap.max` is this minus `memory`).
    pub memory_swap: Option<i64>,
    pub memory_swappiness: Option<i64>,
    /// `--cpus` as nano-CPUs (podman's NanoCpus).
    pub nano_cpus: Option<i64>,
    pub cpu_period: Option<u64>,
    pub cpu_quota: Option<i64>,
    pub cpu_shares: Option<u64>,
    pub cpuset_cpus: Option<String>,
    pub cpuset_mems: Option<String>,
    /// -1 or 0: unlimited.
    pub pids_limit: Option<i64>,
    pub blkio_weight: Option<u16>,
    pub device_read_bps: Vec<Throttle>,
    pub device_write_bps: Vec<Throttle>,
    pub device_read_iops: Vec<Throttle>,
    pub device_write_iops: Vec<Throttle>,
    /// `--cgroup-conf KEY=VALUE`: written as they are into the container's cgroup.
    pub cgroup_conf: Vec<(String, String)>,
    pub oom_kill_disable: bool,
}

/// podman's default `pids_limit` (containers.conf), applied when a cgroup is made and no
/// `--pids-limit` was given.
pub const DEFAULT_PIDS_LIMIT: i64 = 2048;
/// The kernel's default CFS period (`cpu.max`'s second field).
pub const DEFAULT_CPU_PERIOD: u64 = 100_000;
/// podman's smallest memory limit.
const MIN_MEMORY: i64 = 6 * 1024 * 1024;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum LimitError {
    #[error(
        "invalid size `{value}` for `--{flag}`: use a number with an optional unit b, k, m or g (e.g. 64m)"
    )]
    Size { flag: &'static str, value: String },
    #[error("invalid value `{value}` for `--{flag}`: {why}")]
    Value {
        flag: &'static str,
        value: String,
        why: &'static str,
    },
    #[error("minimum memory limit allowed is 6MB")]
    MemoryTooSmall,
    #[error("minimum memory limit can not be less than memory reservation limit, see usage")]
    ReservationAboveLimit,
    #[error("you should always set the memory limit when using the memoryswap limit, see usage")]
    SwapWithoutMemory,
    #[error("minimum memoryswap limit should be larger than memory limit, see usage")]
    SwapBelowMemory,
    /// `--cpus` with `--cpu-period` or `--cpu-quota` (podman's words; `--cpus` is the pair).
    #[error("{0} and --cpus cannot be set together")]
    CpusAnd(&'static str),
    #[error("invalid value `{0}` for `--cgroups`: use enabled, disabled, no-conmon or split")]
    CgroupsMode(String),
    #[error(
        "invalid `--{flag}` `{value}`: use DEVICE:RATE with DEVICE a block device (e.g. /dev/sda:1mb)"
    )]
    Throttle { flag: &'static str, value: String },
    #[error("`--{flag}`: `{path}` is not a block device")]
    NotBlockDevice { flag: &'static str, path: String },
    #[error(
        "invalid `--cgroup-conf` `{0}`: use FILE=VALUE with a cgroup file name (e.g. memory.high=1g)"
    )]
    CgroupConf(String),
}

/// A size as podman's `units.RAMInBytes`: a number (fractions allowed) with an optional binary unit
/// `b`, `k`, `m`, `g`, `t`, `p` (case-insensitive, optionally followed by `b`/`ib`).
pub fn parse_size(flag: &'static str, s: &str) -> Result<i64, LimitError> {
    let bad = || LimitError::Size {
        flag,
        value: s.into(),
    };
    let t = s.trim().to_ascii_lowercase();
    let split = t
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let unit = unit.trim_start();
    let unit = unit
        .strip_suffix("ib")
        .or_else(|| unit.strip_suffix('b'))
        .unwrap_or(unit);
    let shift = match unit {
        "" => 0,
        "k" => 10,
        "m" => 20,
        "g" => 30,
        "t" => 40,
        "p" => 50,
        _ => return Err(bad()),
    };
    let n: f64 = num.parse().map_err(|_| bad())?;
    if !n.is_finite() || n < 0.0 {
        return Err(bad());
    }
    let v = n * (1u64 << shift) as f64;
    if v > i64::MAX as f64 {
        return Err(bad());
    }
    Ok(v as i64)
}

/// `--memory-swap`: -1 (unlimited) or a size.
pub fn parse_swap(s: &str) -> Result<i64, LimitError> {
    if s.trim() == "-1" {
        return Ok(-1);
    }
    parse_size("memory-swap", s)
}

/// `--cpus`: a positive decimal, as nano-CPUs.
pub fn parse_cpus(s: &str) -> Result<i64, LimitError> {
    let v: f64 = s.trim().parse().map_err(|_| LimitError::Value {
        flag: "cpus",
        value: s.into(),
        why: "use a decimal number of CPUs, e.g. 0.5",
    })?;
    if !v.is_finite() || v <= 0.0 || v > 1_000_000.0 {
        return Err(LimitError::Value {
            flag: "cpus",
            value: s.into(),
            why: "the number of CPUs must be greater than 0",
        });
    }
    Ok((v * 1e9).round() as i64)
}

/// `--cpuset-cpus`/`--cpuset-mems`: a list such as `0-3,5`.
pub fn parse_cpuset(flag: &'static str, s: &str) -> Result<String, LimitError> {
    let bad = || LimitError::Value {
        flag,
        value: s.into(),
        why: "use a list of numbers and ranges, e.g. 0-2,4",
    };
    for part in s.split(',') {
        let (a, b) = part.split_once('-').unwrap_or((part, part));
        let a: u32 = a.parse().map_err(|_| bad())?;
        let b: u32 = b.parse().map_err(|_| bad())?;
        if a > b {
            return Err(bad());
        }
    }
    Ok(s.to_string())
}

/// `--blkio-weight`: 10 to 1000.
pub fn parse_blkio_weight(s: &str) -> Result<u16, LimitError> {
    match s.trim().parse::<u16>() {
        Ok(w) if (10..=1000).contains(&w) => Ok(w),
        _ => Err(LimitError::Value {
            flag: "blkio-weight",
            value: s.into(),
            why: "range of blkio weight is from 10 to 1000",
        }),
    }
}

/// `--memory-swappiness`: 0 to 100 (-1: the default).
pub fn parse_swappiness(s: &str) -> Result<i64, LimitError> {
    match s.trim().parse::<i64>() {
        Ok(v) if (-1..=100).contains(&v) => Ok(v),
        _ => Err(LimitError::Value {
            flag: "memory-swappiness",
            value: s.into(),
            why: "range of memory swappiness is from 0 to 100",
        }),
    }
}

/// `--device-read-bps` and friends: `DEVICE:RATE`, where RATE is a size (bps) or a count (iops).
/// The device is looked up here, for its major and minor numbers.
pub fn parse_throttle(flag: &'static str, s: &str, iops: bool) -> Result<Throttle, LimitError> {
    let bad = || LimitError::Throttle {
        flag,
        value: s.into(),
    };
    let (path, rate) = s.rsplit_once(':').ok_or_else(bad)?;
    if !path.starts_with('/') {
        return Err(bad());
    }
    let rate = if iops {
        rate.parse::<u64>().map_err(|_| bad())?
    } else {
        parse_size(flag, rate).map_err(|_| bad())? as u64
    };
    let not_block = || LimitError::NotBlockDevice {
        flag,
        path: path.into(),
    };
    let st = nix::sys::stat::stat(path).map_err(|_| not_block())?;
    if st.st_mode & libc::S_IFMT != libc::S_IFBLK {
        return Err(not_block());
    }
    Ok(Throttle {
        path: path.into(),
        major: libc::major(st.st_rdev) as u64,
        minor: libc::minor(st.st_rdev) as u64,
        rate,
    })
}

/// `--cgroup-conf FILE=VALUE`.
pub fn parse_cgroup_conf(s: &str) -> Result<(String, String), LimitError> {
    match s.split_once('=') {
        Some((k, v))
            if !k.is_empty() && !k.contains('/') && k.contains('.') && !k.starts_with('.') =>
        {
            Ok((k.into(), v.into()))
        }
        _ => Err(LimitError::CgroupConf(s.into())),
    }
}

impl Resources {
    /// Whether any limit is set.
    pub fn any(&self) -> bool {
        *self != Resources::default()
    }

    /// podman's cross-flag checks.
    pub fn validate(&self) -> Result<(), LimitError> {
        if let Some(m) = self.memory.filter(|m| *m > 0) {
            if m < MIN_MEMORY {
                return Err(LimitError::MemoryTooSmall);
            }
            if self.memory_reservation.is_some_and(|r| r > m) {
                return Err(LimitError::ReservationAboveLimit);
            }
        }
        match (self.memory_swap, self.memory) {
            (Some(s), None) if s > 0 => return Err(LimitError::SwapWithoutMemory),
            (Some(s), Some(m)) if s > 0 && s < m => return Err(LimitError::SwapBelowMemory),
            _ => {}
        }
        if self.nano_cpus.is_some() {
            if self.cpu_period.is_some() {
                return Err(LimitError::CpusAnd("--cpu-period"));
            }
            if self.cpu_quota.is_some() {
                return Err(LimitError::CpusAnd("--cpu-quota"));
            }
        }
        if let Some(p) = self.cpu_period
            && !(1000..=1_000_000).contains(&p)
        {
            return Err(LimitError::Value {
                flag: "cpu-period",
                value: p.to_string(),
                why: "the CPU period must be between 1000 and 1000000 microseconds",
            });
        }
        if let Some(q) = self.cpu_quota
            && q != -1
            && q < 1000
        {
            return Err(LimitError::Value {
                flag: "cpu-quota",
                value: q.to_string(),
                why: "the CPU quota must be -1 (none) or at least 1000 microseconds",
            });
        }
        if let Some(s) = self.cpu_shares
            && !(2..=262_144).contains(&s)
        {
            return Err(LimitError::Value {
                flag: "cpu-shares",
                value: s.to_string(),
                why: "CPU shares must be between 2 and 262144",
            });
        }
        Ok(())
    }

    /// The controllers these limits need (those named by `--cgroup-conf` files too).
    pub fn controllers(&self) -> Vec<&'static str> {
        let mut c = Vec::new();
        if self.memory.is_some() || self.memory_reservation.is_some() || self.memory_swap.is_some()
        {
            c.push("memory");
        }
        if self.nano_cpus.is_some()
            || self.cpu_quota.is_some()
            || self.cpu_period.is_some()
            || self.cpu_shares.is_some()
        {
            c.push("cpu");
        }
        if self.cpuset_cpus.is_some() || self.cpuset_mems.is_some() {
            c.push("cpuset");
        }
        if self.blkio_weight.is_some() || self.throttles().next().is_some() {
            c.push("io");
        }
        // pids: always, for podman's default limit.
        c.push("pids");
        for (k, _) in &self.cgroup_conf {
            let name = k.split('.').next().unwrap_or("");
            if let Some(known) = ["memory", "cpu", "cpuset", "io", "pids", "hugetlb", "rdma"]
                .into_iter()
                .find(|n| *n == name)
                && !c.contains(&known)
            {
                c.push(known);
            }
        }
        c
    }

    fn throttles(&self) -> impl Iterator<Item = (&'static str, &Throttle)> {
        self.device_read_bps
            .iter()
            .map(|x| ("rbps", x))
            .chain(self.device_write_bps.iter().map(|x| ("wbps", x)))
            .chain(self.device_read_iops.iter().map(|x| ("riops", x)))
            .chain(self.device_write_iops.iter().map(|x| ("wiops", x)))
    }

    /// The cgroup v2 files to write, in order (with podman's default pids limit when none was given).
    /// cpu.max's quota and period as the flags give them (`--cpus` is a quota of the default period).
    fn cpu_max(&self) -> (Option<i64>, Option<u64>) {
        match (self.nano_cpus, self.cpu_quota, self.cpu_period) {
            (Some(n), _, _) => (Some(n * DEFAULT_CPU_PERIOD as i64 / 1_000_000_000), None),
            (None, q, p) => (q, p),
        }
    }

    /// How many CPUs the quota is worth, rounded up (None: no quota).
    pub fn cpu_count(&self) -> Option<usize> {
        let (quota, period) = self.cpu_max();
        let q = u64::try_from(quota?).ok().filter(|q| *q > 0)?;
        Some(
            q.div_ceil(period.unwrap_or(DEFAULT_CPU_PERIOD).max(1))
                .max(1) as usize,
        )
    }

    pub fn files(&self) -> Vec<(String, String)> {
        let mut f: Vec<(String, String)> = Vec::new();
        let mut put = |k: &str, v: String| f.push((k.to_string(), v));
        if let Some(r) = self.memory_reservation {
            put("memory.low", max_or(r));
        }
        if let Some(m) = self.memory {
            put("memory.max", max_or(m));
            // podman: swap defaults to as much again as the memory limit.
            let swap = match self.memory_swap {
                Some(s) if s > 0 => (s - m).to_string(),
                Some(_) => "max".into(),
                None if m > 0 => m.to_string(),
                None => "max".into(),
            };
            put("memory.swap.max", swap);
        }
        let (quota, period) = self.cpu_max();
        if quota.is_some() || period.is_some() {
            let q = quota
                .filter(|q| *q > 0)
                .map_or("max".into(), |q| q.to_string());
            put(
                "cpu.max",
                format!("{q} {}", period.unwrap_or(DEFAULT_CPU_PERIOD)),
            );
        }
        if let Some(s) = self.cpu_shares {
            put("cpu.weight", shares_to_weight(s).to_string());
        }
        if let Some(c) = &self.cpuset_cpus {
            put("cpuset.cpus", c.clone());
        }
        if let Some(m) = &self.cpuset_mems {
            put("cpuset.mems", m.clone());
        }
        put(
            "pids.max",
            match self.pids_limit.unwrap_or(DEFAULT_PIDS_LIMIT) {
                p if p <= 0 => "max".into(),
                p => p.to_string(),
            },
        );
        if let Some(w) = self.blkio_weight {
            put("io.weight", format!("default {}", blkio_to_io_weight(w)));
        }
        for (key, t) in self.throttles() {
            put(
                "io.max",
                format!("{}:{} {key}={}", t.major, t.minor, t.rate),
            );
        }
        for (k, v) in &self.cgroup_conf {
            put(k, v.clone());
        }
        f
    }
}

fn max_or(v: i64) -> String {
    if v > 0 { v.to_string() } else { "max".into() }
}

/// crun's conversion of cgroup v1 shares (2..262144) to v2 weight (1..10000).
pub fn shares_to_weight(shares: u64) -> u64 {
    1 + (shares.saturating_sub(2) * 9999) / 262_142
}

/// crun's conversion of blkio weight (10..1000) to io.weight (1..10000).
pub fn blkio_to_io_weight(w: u16) -> u64 {
    1 + (u64::from(w).saturating_sub(10) * 9999) / 990
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("memory", "64m"), Ok(64 << 20));
        assert_eq!(parse_size("memory", "64M"), Ok(64 << 20));
        assert_eq!(parse_size("memory", "1g"), Ok(1 << 30));
        assert_eq!(parse_size("memory", "1.5k"), Ok(1536));
        assert_eq!(parse_size("memory", "100"), Ok(100));
        assert_eq!(parse_size("memory", "10MiB"), Ok(10 << 20));
        for bad in ["", "m", "12x", "-5m", "1..2m", "64 mm"] {
            assert!(parse_size("memory", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn cpus_become_cpu_max() {
        let r = Resources {
            nano_cpus: Some(parse_cpus("0.5").unwrap()),
            ..Default::default()
        };
        assert!(
            r.files()
                .contains(&("cpu.max".into(), "50000 100000".into()))
        );
        let r = Resources {
            cpu_period: Some(100_000),
            cpu_quota: Some(20_000),
            ..Default::default()
        };
        assert!(
            r.files()
                .contains(&("cpu.max".into(), "20000 100000".into()))
        );
        assert!(parse_cpus("0").is_err());
        assert!(parse_cpus("abc").is_err());
    }

    #[test]
    fn memory_and_swap() {
        let r = Resources {
            memory: Some(64 << 20),
            ..Default::default()
        };
        let f = r.files();
        assert!(f.contains(&("memory.max".into(), "67108864".into())));
        assert!(f.contains(&("memory.swap.max".into(), "67108864".into())));
        assert!(f.contains(&("pids.max".into(), "2048".into())));
        let r = Resources {
            memory: Some(64 << 20),
            memory_swap: Some(-1),
            ..Default::default()
        };
        assert!(
            r.files()
                .contains(&("memory.swap.max".into(), "max".into()))
        );
        let small = Resources {
            memory: Some(1 << 20),
            ..Default::default()
        };
        assert_eq!(small.validate(), Err(LimitError::MemoryTooSmall));
        let swap_only = Resources {
            memory_swap: Some(100 << 20),
            ..Default::default()
        };
        assert_eq!(swap_only.validate(), Err(LimitError::SwapWithoutMemory));
        let swap_low = Resources {
            memory: Some(100 << 20),
            memory_swap: Some(50 << 20),
            ..Default::default()
        };
        assert_eq!(swap_low.validate(), Err(LimitError::SwapBelowMemory));
        let res_high = Resources {
            memory: Some(100 << 20),
            memory_reservation: Some(200 << 20),
            ..Default::default()
        };
        assert_eq!(res_high.validate(), Err(LimitError::ReservationAboveLimit));
    }

    #[test]
    fn other_flags() {
        assert!(parse_cpuset("cpuset-cpus", "0-2,4").is_ok());
        assert!(parse_cpuset("cpuset-cpus", "2-1").is_err());
        assert!(parse_cpuset("cpuset-cpus", "a").is_err());
        assert_eq!(parse_blkio_weight("500"), Ok(500));
        assert!(parse_blkio_weight("5").is_err());
        assert!(parse_swappiness("101").is_err());
        assert_eq!(shares_to_weight(1024), 39);
        assert_eq!(shares_to_weight(2), 1);
        assert_eq!(shares_to_weight(262_144), 10000);
        assert!(parse_throttle("device-read-bps", "/dev/null:1mb", false).is_err());
        assert!(parse_throttle("device-read-bps", "nocolon", false).is_err());
        assert!(parse_cgroup_conf("memory.high=1G").is_ok());
        assert!(parse_cgroup_conf("../x=1").is_err());
        assert!(CgroupsMode::parse("maybe").is_err());
        let both = Resources {
            nano_cpus: Some(1),
            cpu_quota: Some(2000),
            ..Default::default()
        };
        assert_eq!(both.validate(), Err(LimitError::CpusAnd("--cpu-quota")));
    }
}
