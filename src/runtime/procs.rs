//! The processes of a container, read from /proc: those whose pid namespace is its pid 1's.
use std::path::Path;

/// One process, with ids and times as the kernel reports them to us.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProcessInfo {
    /// Pid as seen from this process.
    pub host_pid: i32,
    /// Pid inside the container's pid namespace.
    pub pid: i32,
    /// Parent pid inside the container (0 when the parent is outside it).
    pub ppid: i32,
    /// Real and effective uid/gid as seen from this process (map them with [`IdMap`]).
    pub ruid: u32,
    pub euid: u32,
    pub rgid: u32,
    pub egid: u32,
    pub comm: String,
    /// The command line (empty for kernel threads and zombies).
    pub args: Vec<String>,
    pub state: char,
    pub tty_nr: u64,
    /// User + system time, in clock ticks.
    pub cpu_ticks: u64,
    /// Start time after boot, in clock ticks.
    pub start_ticks: u64,
    pub nice: i64,
    pub pgid: i32,
    /// Virtual size in bytes and resident pages.
    pub vsize: u64,
    pub rss_pages: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum ProcsError {
    #[error("failed to read `{path}`")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot parse `{path}`")]
    Parse { path: String },
}

/// The fields of /proc/PID/stat after the command name, from `state` (field 3) on.
pub fn parse_stat(stat: &str) -> Option<(String, Vec<&str>)> {
    let open = stat.find('(')?;
    let close = stat.rfind(')')?;
    let comm = stat.get(open + 1..close)?.to_string();
    let rest: Vec<&str> = stat.get(close + 1..)?.split_whitespace().collect();
    (rest.len() >= 22).then_some((comm, rest))
}

/// The last `NSpid:` value of /proc/PID/status (the pid in the innermost namespace).
pub fn ns_pid(status: &str) -> Option<i32> {
    status
        .lines()
        .find_map(|l| l.strip_prefix("NSpid:"))?
        .split_whitespace()
        .last()?
        .parse()
        .ok()
}

fn status_ids(status: &str, key: &str) -> Option<(u32, u32)> {
    let mut f = status
        .lines()
        .find_map(|l| l.strip_prefix(key))?
        .split_whitespace();
    Some((f.next()?.parse().ok()?, f.next()?.parse().ok()?))
}

fn read(path: &Path) -> Result<String, ProcsError> {
    std::fs::read_to_string(path).map_err(|source| ProcsError::Read {
        path: path.display().to_string(),
        source,
    })
}

/// The pid namespace of `pid`, as the link text `pid:[INODE]`.
fn pid_ns(pid: &str) -> Option<std::path::PathBuf> {
    std::fs::read_link(format!("/proc/{pid}/ns/pid")).ok()
}

fn info(dir: &Path, host_pid: i32) -> Option<ProcessInfo> {
    let stat = std::fs::read_to_string(dir.join("stat")).ok()?;
    let status = std::fs::read_to_string(dir.join("status")).ok()?;
    let (comm, f) = parse_stat(&stat)?;
    let num = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    let (ruid, euid) = status_ids(&status, "Uid:")?;
    let (rgid, egid) = status_ids(&status, "Gid:")?;
    let args = std::fs::read(dir.join("cmdline"))
        .map(|b| {
            b.split(|c| *c == 0)
                .filter(|a| !a.is_empty())
                .map(|a| String::from_utf8_lossy(a).into_owned())
                .collect()
        })
        .unwrap_or_default();
    // Indices into `f`: stat field N is f[N - 3].
    Some(ProcessInfo {
        host_pid,
        pid: ns_pid(&status).unwrap_or(host_pid),
        ppid: f.get(1).and_then(|v| v.parse().ok()).unwrap_or(0),
        ruid,
        euid,
        rgid,
        egid,
        comm,
        args,
        state: f[0].chars().next().unwrap_or('?'),
        tty_nr: num(4),
        cpu_ticks: num(11) + num(12),
        start_ticks: num(19),
        nice: f.get(16).and_then(|v| v.parse().ok()).unwrap_or(0),
        pgid: f.get(2).and_then(|v| v.parse().ok()).unwrap_or(0),
        vsize: num(20),
        rss_pages: num(21),
    })
}

/// Every process in the pid namespace of `pid` (a container's pid 1), sorted by pid inside it. Parent
/// and process-group ids are translated into the namespace (0 when outside it).
pub fn container_processes(pid: i32) -> Result<Vec<ProcessInfo>, ProcsError> {
    let ns =
        std::fs::read_link(format!("/proc/{pid}/ns/pid")).map_err(|source| ProcsError::Read {
            path: format!("/proc/{pid}/ns/pid"),
            source,
        })?;
    let entries = std::fs::read_dir("/proc").map_err(|source| ProcsError::Read {
        path: "/proc".into(),
        source,
    })?;
    let mut procs: Vec<ProcessInfo> = entries
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            let host_pid: i32 = name.parse().ok()?;
            (pid_ns(&name)? == ns).then(|| info(&e.path(), host_pid))?
        })
        .collect();
    let inside: std::collections::HashMap<i32, i32> =
        procs.iter().map(|p| (p.host_pid, p.pid)).collect();
    for p in &mut procs {
        p.ppid = inside.get(&p.ppid).copied().unwrap_or(0);
        p.pgid = inside.get(&p.pgid).copied().unwrap_or(0);
    }
    procs.sort_by_key(|p| p.pid);
    Ok(procs)
}

/// Every process in the cgroup `dir` and the cgroups below it (`cgroup.procs`), sorted by pid: the
/// container's processes when it shares a pid namespace with others (`--pid=host`). Parent and
/// process-group ids outside that set are 0.
pub fn cgroup_processes(dir: &Path) -> Result<Vec<ProcessInfo>, ProcsError> {
    let mut pids = Vec::new();
    collect_cgroup_pids(dir, &mut pids)?;
    let mut procs: Vec<ProcessInfo> = pids
        .into_iter()
        .filter_map(|pid| info(Path::new(&format!("/proc/{pid}")), pid))
        .collect();
    let member: std::collections::HashSet<i32> = procs.iter().map(|p| p.host_pid).collect();
    for p in &mut procs {
        p.ppid = if member.contains(&p.ppid) { p.ppid } else { 0 };
        p.pgid = if member.contains(&p.pgid) { p.pgid } else { 0 };
    }
    procs.sort_by_key(|p| p.pid);
    Ok(procs)
}

fn collect_cgroup_pids(dir: &Path, pids: &mut Vec<i32>) -> Result<(), ProcsError> {
    let procs = dir.join("cgroup.procs");
    pids.extend(
        read(&procs)?
            .lines()
            .filter_map(|l| l.trim().parse::<i32>().ok()),
    );
    let entries = std::fs::read_dir(dir).map_err(|source| ProcsError::Read {
        path: dir.display().to_string(),
        source,
    })?;
    for e in entries.flatten() {
        if e.file_type().is_ok_and(|t| t.is_dir()) {
            collect_cgroup_pids(&e.path(), pids)?;
        }
    }
    Ok(())
}

/// A user namespace's id map (`/proc/PID/uid_map` or `gid_map`), to see ids as the container does.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IdMap(Vec<(u32, u32, u32)>);

impl IdMap {
    pub fn parse(text: &str) -> IdMap {
        IdMap(
            text.lines()
                .filter_map(|l| {
                    let mut f = l.split_whitespace().map(|v| v.parse::<u32>().ok());
                    Some((f.next()??, f.next()??, f.next()??))
                })
                .collect(),
        )
    }

    /// The map's lines: (inside, outside, count).
    pub fn ranges(&self) -> &[(u32, u32, u32)] {
        &self.0
    }

    /// Read the map of `pid`'s user namespace (`uid_map` or `gid_map`).
    pub fn read(pid: i32, file: &str) -> Result<IdMap, ProcsError> {
        read(Path::new(&format!("/proc/{pid}/{file}"))).map(|t| IdMap::parse(&t))
    }

    /// The id inside the namespace for an id outside it (`None` when unmapped).
    pub fn inside(&self, outside: u32) -> Option<u32> {
        self.0.iter().find_map(|&(inside, start, count)| {
            (outside >= start && outside - start < count).then(|| inside + (outside - start))
        })
    }
}

/// Seconds since boot (from /proc/uptime).
pub fn uptime() -> Result<f64, ProcsError> {
    let path = Path::new("/proc/uptime");
    read(path)?
        .split_whitespace()
        .next()
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| ProcsError::Parse {
            path: path.display().to_string(),
        })
}

/// The kernel's clock ticks per second.
pub fn clock_ticks() -> u64 {
    nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
        .ok()
        .flatten()
        .and_then(|v| u64::try_from(v).ok())
        .filter(|v| *v > 0)
        .unwrap_or(100)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_with_spaces_and_parens_in_the_name() {
        let stat =
            "42 (a (b) c) S 1 42 42 0 -1 4194560 100 0 0 0 7 3 0 0 20 0 1 0 12345 4096 10 rest";
        let (comm, f) = parse_stat(stat).unwrap();
        assert_eq!(comm, "a (b) c");
        assert_eq!(f[0], "S");
        assert_eq!(f[1], "1");
        assert_eq!(f[19], "12345");
        assert!(parse_stat("42 (x) S 1").is_none());
    }

    #[test]
    fn nspid_takes_the_innermost() {
        assert_eq!(ns_pid("Name:\tsleep\nNSpid:\t15570\t1\n"), Some(1));
        assert_eq!(ns_pid("NSpid:\t7\n"), Some(7));
        assert_eq!(ns_pid("Name:\tx\n"), None);
    }

    #[test]
    fn id_map_translates_ranges() {
        let m =
            IdMap::parse("         0       1001          1\n         1     100000      65536\n");
        assert_eq!(m.inside(1001), Some(0));
        assert_eq!(m.inside(100000), Some(1));
        assert_eq!(m.inside(100999), Some(1000));
        assert_eq!(m.inside(5), None);
    }
}
