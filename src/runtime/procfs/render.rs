//! The files of the /proc view, computed from the container's cgroup and the host's own files:
//! pure functions, so every figure can be checked on any machine.
use std::collections::HashMap;

/// The kernel's USER_HZ: /proc/stat counts in these ticks.
const USER_HZ: u64 = 100;

/// What the container's cgroup says (the container leaf: memory.*, cpu.*, cpuset.*, pids.*).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Cgroup {
    /// memory.max in bytes (None: `max`).
    pub memory_max: Option<u64>,
    pub memory_current: u64,
    /// memory.stat, in bytes.
    pub memory_stat: HashMap<String, u64>,
    /// memory.swap.max in bytes (None: `max`, or no swap accounting).
    pub swap_max: Option<u64>,
    pub swap_current: u64,
    /// cpu.max as (quota, period) microseconds (None: `max`).
    pub cpu_quota: Option<(u64, u64)>,
    /// cpuset.cpus.effective (empty: unknown).
    pub cpuset: Vec<u32>,
    /// cpu.stat `user_usec` and `system_usec`.
    pub user_usec: u64,
    pub system_usec: u64,
    /// pids.current.
    pub tasks: u64,
}

impl Cgroup {
    /// Parse the cgroup's files as read (`None` for a file that could not be read).
    pub fn parse(files: &CgroupFiles) -> Cgroup {
        let num = |s: &Option<String>| {
            s.as_deref()
                .and_then(|v| v.trim().parse::<u64>().ok())
                .unwrap_or(0)
        };
        let limit = |s: &Option<String>| s.as_deref().and_then(|v| v.trim().parse::<u64>().ok());
        let cpu_stat = keyed(files.cpu_stat.as_deref().unwrap_or(""));
        Cgroup {
            memory_max: limit(&files.memory_max),
            memory_current: num(&files.memory_current),
            memory_stat: keyed(files.memory_stat.as_deref().unwrap_or("")),
            swap_max: limit(&files.swap_max),
            swap_current: num(&files.swap_current),
            cpu_quota: files.cpu_max.as_deref().and_then(parse_cpu_max),
            cpuset: files
                .cpuset
                .as_deref()
                .map(parse_cpu_list)
                .unwrap_or_default(),
            user_usec: cpu_stat.get("user_usec").copied().unwrap_or(0),
            system_usec: cpu_stat.get("system_usec").copied().unwrap_or(0),
            tasks: num(&files.pids_current),
        }
    }
}

/// The raw text of the cgroup files [`Cgroup::parse`] reads.
#[derive(Debug, Clone, Default)]
pub struct CgroupFiles {
    pub memory_max: Option<String>,
    pub memory_current: Option<String>,
    pub memory_stat: Option<String>,
    pub swap_max: Option<String>,
    pub swap_current: Option<String>,
    pub cpu_max: Option<String>,
    pub cpuset: Option<String>,
    pub cpu_stat: Option<String>,
    pub pids_current: Option<String>,
}

/// `key value` lines (memory.stat, cpu.stat).
fn keyed(text: &str) -> HashMap<String, u64> {
    text.lines()
        .filter_map(|l| {
            let (k, v) = l.split_once(' ')?;
            Some((k.to_string(), v.trim().parse().ok()?))
        })
        .collect()
}

/// A byte limit file's value (None: `max`), to compare limits by.
pub fn bytes_limit(text: &str) -> Option<f64> {
    text.trim().parse::<u64>().ok().map(|b| b as f64)
}

/// cpu.max's CPUs' worth (None: no quota), to compare quotas of different periods by.
pub fn cpu_share(text: &str) -> Option<f64> {
    parse_cpu_max(text).map(|(q, p)| q as f64 / p as f64)
}

/// cpu.max: `QUOTA PERIOD`, or `max PERIOD`.
fn parse_cpu_max(text: &str) -> Option<(u64, u64)> {
    let mut w = text.split_whitespace();
    let quota = w.next()?.parse().ok()?;
    let period = w.next()?.parse().ok().filter(|p| *p > 0)?;
    Some((quota, period))
}

/// A kernel CPU list (`0-3,5`).
pub fn parse_cpu_list(text: &str) -> Vec<u32> {
    let mut cpus = Vec::new();
    for part in text.trim().split(',').filter(|p| !p.is_empty()) {
        match part.split_once('-') {
            Some((a, b)) => {
                if let (Ok(a), Ok(b)) = (a.parse::<u32>(), b.parse::<u32>()) {
                    cpus.extend(a..=b.min(a.saturating_add(4096)));
                }
            }
            None => cpus.extend(part.parse::<u32>().ok()),
        }
    }
    cpus
}

/// The host CPUs the container is shown: as many of its cpuset's as its quota is worth (rounded
/// up), at least one. `host` is used when the cpuset is unknown. `seed` (the container's) picks
/// where in the set they start, as [`cpu_window`] does for the CPUs the container is pinned to.
pub fn visible_cpus(cg: &Cgroup, host: &[u32], seed: u64) -> Vec<u32> {
    let set: &[u32] = if cg.cpuset.is_empty() {
        host
    } else {
        &cg.cpuset
    };
    let n = match cg.cpu_quota {
        Some((q, p)) => q.div_ceil(p.max(1)).max(1) as usize,
        None => set.len(),
    };
    let v = cpu_window(set, n, seed);
    if v.is_empty() { vec![0] } else { v }
}

/// `n` of the CPUs in `set`, consecutive (wrapping) from a place `seed` picks, in ascending order:
/// containers limited to fewer CPUs than the host has are spread over it rather than all put on
/// the first ones.
pub fn cpu_window(set: &[u32], n: usize, seed: u64) -> Vec<u32> {
    if n >= set.len() {
        return set.to_vec();
    }
    let start = (seed % set.len() as u64) as usize;
    let mut v: Vec<u32> = (0..n.max(1))
        .map(|i| set[(start + i) % set.len()])
        .collect();
    v.sort_unstable();
    v
}

/// A container's seed for [`cpu_window`]: from its (random, hex) id.
pub fn cpu_seed(id: &str) -> u64 {
    u64::from_str_radix(id.get(..12).unwrap_or(id), 16).unwrap_or(0)
}

/// /sys/devices/system/cpu/online for `n` CPUs.
pub fn online(n: usize) -> String {
    match n {
        0 | 1 => "0\n".into(),
        n => format!("0-{}\n", n - 1),
    }
}

/// A meminfo value line as the kernel prints it.
fn meminfo_line(key: &str, kb: u64) -> String {
    format!("{:<16}{:>8} kB\n", format!("{key}:"), kb)
}

/// A `Key: N kB` value of the host's meminfo.
fn meminfo_value(host: &str, key: &str) -> Option<u64> {
    host.lines().find_map(|l| {
        let (k, rest) = l.split_once(':')?;
        (k == key).then(|| rest.split_whitespace().next()?.parse().ok())?
    })
}

/// /proc/meminfo: the host's, with the memory lines computed from the cgroup when it has a memory
/// limit (MemTotal is the limit, MemFree what it has not used, and so on); unchanged without one.
pub fn meminfo(host: &str, cg: &Cgroup) -> String {
    let host_total = meminfo_value(host, "MemTotal").unwrap_or(u64::MAX);
    let Some(max) = cg.memory_max else {
        return host.to_string();
    };
    let kb = |b: u64| b / 1024;
    let s = |k: &str| cg.memory_stat.get(k).copied().unwrap_or(0);
    let total = kb(max).min(host_total);
    let used = kb(cg.memory_current).min(total);
    let free = total - used;
    let file = kb(s("file"));
    let reclaimable = file.saturating_sub(kb(s("shmem"))) + kb(s("slab_reclaimable"));
    let host_swap = meminfo_value(host, "SwapTotal").unwrap_or(0);
    let swap_total = cg.swap_max.map_or(host_swap, |m| kb(m).min(host_swap));
    let swap_free = swap_total.saturating_sub(kb(cg.swap_current));
    let values: HashMap<&str, u64> = HashMap::from([
        ("MemTotal", total),
        ("MemFree", free),
        ("MemAvailable", (free + reclaimable).min(total)),
        ("Buffers", 0),
        ("Cached", file),
        ("SwapCached", 0),
        ("Active", kb(s("active_anon") + s("active_file"))),
        ("Inactive", kb(s("inactive_anon") + s("inactive_file"))),
        ("Active(anon)", kb(s("active_anon"))),
        ("Inactive(anon)", kb(s("inactive_anon"))),
        ("Active(file)", kb(s("active_file"))),
        ("Inactive(file)", kb(s("inactive_file"))),
        ("Unevictable", kb(s("unevictable"))),
        ("SwapTotal", swap_total),
        ("SwapFree", swap_free),
        ("Dirty", kb(s("file_dirty"))),
        ("Writeback", kb(s("file_writeback"))),
        ("AnonPages", kb(s("anon"))),
        ("Mapped", kb(s("file_mapped"))),
        ("Shmem", kb(s("shmem"))),
        ("Slab", kb(s("slab"))),
        ("SReclaimable", kb(s("slab_reclaimable"))),
        ("SUnreclaim", kb(s("slab_unreclaimable"))),
        ("KernelStack", kb(s("kernel_stack"))),
        ("PageTables", kb(s("pagetables"))),
    ]);
    host.lines()
        .map(|l| match l.split_once(':') {
            Some((k, _)) if values.contains_key(k) => meminfo_line(k, values[k]),
            _ => format!("{l}\n"),
        })
        .collect()
}

/// /proc/cpuinfo: the host's entries for `cpus`, numbered from 0, with `siblings` and `cpu cores`
/// counting only them. The host's text when it has no `processor` entries to pick from.
pub fn cpuinfo(host: &str, cpus: &[u32]) -> String {
    let blocks: Vec<&str> = host
        .split("\n\n")
        .filter(|b| !b.trim().is_empty())
        .collect();
    let number = |b: &str| {
        b.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            (k.trim() == "processor").then(|| v.trim().parse::<u32>().ok())?
        })
    };
    let chosen: Vec<&str> = blocks
        .iter()
        .copied()
        .filter(|b| number(b).is_some_and(|n| cpus.contains(&n)))
        .collect();
    if chosen.is_empty() {
        return host.to_string();
    }
    let n = chosen.len();
    let mut out = String::new();
    for (i, b) in chosen.iter().enumerate() {
        for l in b.lines() {
            let key = l.split_once(':').map(|(k, _)| k.trim());
            let line = match key {
                Some("processor") => format!("processor\t: {i}"),
                Some("siblings") => format!("siblings\t: {n}"),
                Some("cpu cores") => format!("cpu cores\t: {n}"),
                _ => l.to_string(),
            };
            out.push_str(&line);
            out.push('\n');
        }
        out.push('\n');
    }
    out
}

/// /proc/stat: the `cpu` lines from the cgroup's CPU time (user and system, the rest of `uptime`
/// on `n` CPUs idle), spread evenly over `cpu0`..; the host's other lines as they are.
pub fn stat(host: &str, cg: &Cgroup, n: usize, uptime: f64) -> String {
    let n = n.max(1) as u64;
    let ticks = |usec: u64| usec * USER_HZ / 1_000_000;
    let (user, system) = (ticks(cg.user_usec), ticks(cg.system_usec));
    let idle = ((uptime * (USER_HZ * n) as f64) as u64).saturating_sub(user + system);
    let line = |name: &str, u: u64, s: u64, i: u64| format!("{name} {u} 0 {s} {i} 0 0 0 0 0 0\n");
    let mut out = line("cpu ", user, system, idle);
    for c in 0..n {
        out.push_str(&line(&format!("cpu{c}"), user / n, system / n, idle / n));
    }
    for l in host.lines().filter(|l| !l.starts_with("cpu")) {
        out.push_str(l);
        out.push('\n');
    }
    out
}

/// /proc/uptime: seconds since the container started, and the idle seconds of its `n` CPUs.
pub fn uptime(cg: &Cgroup, n: usize, up: f64) -> String {
    let busy = (cg.user_usec + cg.system_usec) as f64 / 1e6;
    let idle = (up * n.max(1) as f64 - busy).max(0.0);
    format!("{up:.2} {idle:.2}\n")
}

/// /proc/loadavg: the host's load, capped at the container's CPUs (the kernel keeps no load per
/// cgroup), the runnable count capped the same way, and the container's own task count.
pub fn loadavg(host: &str, cg: &Cgroup, n: usize) -> String {
    let mut w = host.split_whitespace();
    let cap = n.max(1) as f64;
    let avg = |w: &mut std::str::SplitWhitespace| {
        w.next()
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
            .min(cap)
    };
    let (a, b, c) = (avg(&mut w), avg(&mut w), avg(&mut w));
    let running = w
        .next()
        .and_then(|rt| rt.split_once('/'))
        .and_then(|(r, _)| r.parse::<u64>().ok())
        .unwrap_or(1)
        .min(n.max(1) as u64)
        .min(cg.tasks.max(1));
    format!("{a:.2} {b:.2} {c:.2} {running}/{} 0\n", cg.tasks.max(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOST_MEMINFO: &str = "MemTotal:        8029868 kB\nMemFree:         1000000 kB\nMemAvailable:    5000000 kB\nBuffers:          100000 kB\nCached:          3000000 kB\nSwapCached:            0 kB\nSwapTotal:       1048572 kB\nSwapFree:        1048572 kB\nShmem:             12345 kB\nAnonPages:        500000 kB\nSReclaimable:     200000 kB\nHugePages_Total:       0\nHugepagesize:       2048 kB\n";

    fn limited(max: u64, current: u64) -> Cgroup {
        Cgroup {
            memory_max: Some(max),
            memory_current: current,
            memory_stat: HashMap::from([
                ("file".to_string(), 8 << 20),
                ("shmem".to_string(), 1 << 20),
                ("anon".to_string(), 2 << 20),
                ("slab_reclaimable".to_string(), 1 << 20),
            ]),
            ..Cgroup::default()
        }
    }

    fn value(text: &str, key: &str) -> u64 {
        meminfo_value(text, key).unwrap_or_else(|| panic!("no {key} in {text}"))
    }

    #[test]
    fn meminfo_shows_the_memory_limit() {
        let m = meminfo(HOST_MEMINFO, &limited(256 << 20, 16 << 20));
        assert_eq!(value(&m, "MemTotal"), 262144);
        assert_eq!(value(&m, "MemFree"), 262144 - 16384);
        // free + file - shmem + reclaimable slab
        assert_eq!(
            value(&m, "MemAvailable"),
            262144 - 16384 + 8192 - 1024 + 1024
        );
        assert_eq!(value(&m, "Cached"), 8192);
        assert_eq!(value(&m, "Buffers"), 0);
        assert_eq!(value(&m, "Shmem"), 1024);
        assert_eq!(value(&m, "AnonPages"), 2048);
        // Lines the cgroup says nothing about stay the host's, in the host's order.
        assert!(m.contains("HugePages_Total:       0\n"), "{m}");
        assert!(
            m.starts_with("MemTotal:         262144 kB\nMemFree:"),
            "{m}"
        );
    }

    #[test]
    fn meminfo_swap_follows_memory_swap_max() {
        let mut cg = limited(64 << 20, 0);
        cg.swap_max = Some(64 << 20);
        cg.swap_current = 1 << 20;
        let m = meminfo(HOST_MEMINFO, &cg);
        assert_eq!(value(&m, "SwapTotal"), 65536);
        assert_eq!(value(&m, "SwapFree"), 65536 - 1024);
        cg.swap_max = Some(0);
        assert_eq!(value(&meminfo(HOST_MEMINFO, &cg), "SwapTotal"), 0);
        // Unlimited swap: the host's.
        cg.swap_max = None;
        assert_eq!(value(&meminfo(HOST_MEMINFO, &cg), "SwapTotal"), 1048572);
    }

    #[test]
    fn meminfo_without_a_memory_limit_or_above_the_host_is_bounded_by_the_host() {
        let none = Cgroup::default();
        assert_eq!(meminfo(HOST_MEMINFO, &none), HOST_MEMINFO);
        let huge = limited(1 << 40, 0);
        assert_eq!(value(&meminfo(HOST_MEMINFO, &huge), "MemTotal"), 8029868);
        // Usage above the limit (it can overshoot briefly) never makes MemFree wrap.
        let over = limited(64 << 20, 65 << 20);
        assert_eq!(value(&meminfo(HOST_MEMINFO, &over), "MemFree"), 0);
    }

    #[test]
    fn cgroup_files_parse() {
        let files = CgroupFiles {
            memory_max: Some("268435456\n".into()),
            memory_current: Some("1234\n".into()),
            memory_stat: Some("anon 4096\nfile 8192\n".into()),
            swap_max: Some("max\n".into()),
            swap_current: None,
            cpu_max: Some("150000 100000\n".into()),
            cpuset: Some("0-3,6\n".into()),
            cpu_stat: Some("usage_usec 30\nuser_usec 20\nsystem_usec 10\n".into()),
            pids_current: Some("3\n".into()),
        };
        let cg = Cgroup::parse(&files);
        assert_eq!(cg.memory_max, Some(268435456));
        assert_eq!(cg.memory_current, 1234);
        assert_eq!(cg.memory_stat["file"], 8192);
        assert_eq!(cg.swap_max, None);
        assert_eq!(cg.cpu_quota, Some((150000, 100000)));
        assert_eq!(cg.cpuset, vec![0, 1, 2, 3, 6]);
        assert_eq!((cg.user_usec, cg.system_usec, cg.tasks), (20, 10, 3));
        let unlimited = CgroupFiles {
            memory_max: Some("max\n".into()),
            cpu_max: Some("max 100000\n".into()),
            ..CgroupFiles::default()
        };
        let cg = Cgroup::parse(&unlimited);
        assert_eq!((cg.memory_max, cg.cpu_quota), (None, None));
    }

    #[test]
    fn cpu_lists() {
        assert_eq!(parse_cpu_list("0-1\n"), vec![0, 1]);
        assert_eq!(parse_cpu_list("0,2-4,7"), vec![0, 2, 3, 4, 7]);
        assert_eq!(parse_cpu_list(""), Vec::<u32>::new());
        assert_eq!(parse_cpu_list("x,1"), vec![1]);
        assert_eq!(online(1), "0\n");
        assert_eq!(online(4), "0-3\n");
    }

    #[test]
    fn visible_cpus_follow_quota_and_cpuset() {
        let host = [0, 1, 2, 3];
        let mut cg = Cgroup {
            cpu_quota: Some((100000, 100000)),
            ..Cgroup::default()
        };
        assert_eq!(visible_cpus(&cg, &host, 0), vec![0]);
        cg.cpu_quota = Some((50000, 100000));
        assert_eq!(visible_cpus(&cg, &host, 0), vec![0]);
        cg.cpu_quota = Some((150000, 100000));
        assert_eq!(visible_cpus(&cg, &host, 0), vec![0, 1]);
        cg.cpuset = vec![2, 3];
        cg.cpu_quota = Some((800000, 100000));
        assert_eq!(visible_cpus(&cg, &host, 0), vec![2, 3]);
        cg.cpu_quota = None;
        assert_eq!(visible_cpus(&cg, &host, 7), vec![2, 3]);
        assert_eq!(visible_cpus(&Cgroup::default(), &[], 0), vec![0]);
    }

    #[test]
    fn cpu_windows_are_spread_by_seed_and_wrap() {
        let set = [0, 1, 2, 3, 5];
        assert_eq!(cpu_window(&set, 2, 0), vec![0, 1]);
        assert_eq!(cpu_window(&set, 2, 3), vec![3, 5]);
        assert_eq!(cpu_window(&set, 2, 4), vec![0, 5]);
        assert_eq!(cpu_window(&set, 3, 9), vec![0, 1, 5]);
        assert_eq!(cpu_window(&set, 9, 1), set.to_vec());
        assert_eq!(cpu_seed("00000000000a"), 10);
        assert_eq!(cpu_seed("zz"), 0);
        let cg = Cgroup {
            cpu_quota: Some((200000, 100000)),
            ..Cgroup::default()
        };
        assert_eq!(visible_cpus(&cg, &set, 3), cpu_window(&set, 2, 3));
    }

    const HOST_CPUINFO: &str = "processor\t: 0\nmodel name\t: QEMU\nsiblings\t: 4\ncpu cores\t: 4\n\nprocessor\t: 1\nmodel name\t: QEMU\nsiblings\t: 4\ncpu cores\t: 4\n\nprocessor\t: 2\nmodel name\t: QEMU\nsiblings\t: 4\ncpu cores\t: 4\n\n";

    #[test]
    fn cpuinfo_keeps_the_visible_cpus_renumbered() {
        let c = cpuinfo(HOST_CPUINFO, &[2]);
        assert_eq!(
            c,
            "processor\t: 0\nmodel name\t: QEMU\nsiblings\t: 1\ncpu cores\t: 1\n\n"
        );
        let c = cpuinfo(HOST_CPUINFO, &[0, 1]);
        assert_eq!(c.matches("processor").count(), 2);
        assert!(c.contains("processor\t: 1\n"));
        assert!(c.contains("siblings\t: 2\n"));
        // No processor entries (another architecture's format): the host's text.
        assert_eq!(cpuinfo("Features: x\n", &[0]), "Features: x\n");
    }

    #[test]
    fn stat_counts_the_cgroups_cpu_time() {
        let host = "cpu  100 0 100 1000 0 0 0 0 0 0\ncpu0 50 0 50 500 0 0 0 0 0 0\ncpu1 50 0 50 500 0 0 0 0 0 0\nintr 5\nctxt 7\nbtime 1700000000\nprocesses 9\n";
        let cg = Cgroup {
            user_usec: 3_000_000,
            system_usec: 1_000_000,
            ..Cgroup::default()
        };
        let s = stat(host, &cg, 1, 10.0);
        assert_eq!(
            s,
            "cpu  300 0 100 600 0 0 0 0 0 0\ncpu0 300 0 100 600 0 0 0 0 0 0\nintr 5\nctxt 7\nbtime 1700000000\nprocesses 9\n"
        );
        let s = stat(host, &cg, 2, 1.0);
        // 2 CPUs for 1 s: 200 ticks, all of them busy (never negative idle).
        assert!(s.starts_with("cpu  300 0 100 0 "), "{s}");
        assert!(s.contains("cpu1 150 0 50 0 "), "{s}");
    }

    #[test]
    fn uptime_and_loadavg() {
        let cg = Cgroup {
            user_usec: 500_000,
            system_usec: 500_000,
            tasks: 3,
            ..Cgroup::default()
        };
        assert_eq!(uptime(&cg, 2, 10.0), "10.00 19.00\n");
        assert_eq!(uptime(&cg, 1, 0.5), "0.50 0.00\n");
        assert_eq!(
            loadavg("3.50 0.25 1.00 4/300 12345\n", &cg, 2),
            "2.00 0.25 1.00 2/3 0\n"
        );
        assert_eq!(loadavg("", &Cgroup::default(), 1), "0.00 0.00 0.00 1/1 0\n");
    }
}
