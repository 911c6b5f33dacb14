//! Statistics read from a container's cgroup (and its network namespace), for `stats`.
use std::path::Path;

/// One reading.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sample {
    /// CPU time used, in nanoseconds (cpu.stat `usage_usec`).
    pub cpu_ns: u64,
    /// memory.current.
    pub mem_usage: u64,
    /// memory.max (None: `max`).
    pub mem_limit: Option<u64>,
    /// io.stat `rbytes`, `wbytes`, summed over devices.
    pub block_read: u64,
    pub block_write: u64,
    /// pids.current.
    pub pids: u64,
    /// Bytes received and sent on the container's interfaces other than `lo`.
    pub net_rx: u64,
    pub net_tx: u64,
}

fn read(dir: &Path, file: &str) -> String {
    std::fs::read_to_string(dir.join(file)).unwrap_or_default()
}

fn keyed(text: &str, key: &str) -> Option<u64> {
    text.lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(' ')?.trim().parse().ok())
}

/// Read the cgroup at `dir`; `pid` (a process of the container, 0 for none) gives the network.
pub fn sample(dir: &Path, pid: i32) -> Sample {
    let cpu = read(dir, "cpu.stat");
    let (mut block_read, mut block_write) = (0, 0);
    for line in read(dir, "io.stat").lines() {
        for kv in line.split_whitespace().skip(1) {
            match kv.split_once('=') {
                Some(("rbytes", v)) => block_read += v.parse::<u64>().unwrap_or(0),
                Some(("wbytes", v)) => block_write += v.parse::<u64>().unwrap_or(0),
                _ => {}
            }
        }
    }
    let (net_rx, net_tx) = if pid > 0 {
        net_dev(&std::fs::read_to_string(format!("/proc/{pid}/net/dev")).unwrap_or_default())
    } else {
        (0, 0)
    };
    Sample {
        cpu_ns: keyed(&cpu, "usage_usec").unwrap_or(0) * 1000,
        mem_usage: read(dir, "memory.current").trim().parse().unwrap_or(0),
        mem_limit: read(dir, "memory.max").trim().parse().ok(),
        block_read,
        block_write,
        pids: read(dir, "pids.current").trim().parse().unwrap_or(0),
        net_rx,
        net_tx,
    }
}

/// Received and sent bytes from /proc/net/dev, without the loopback interface.
pub fn net_dev(text: &str) -> (u64, u64) {
    text.lines()
        .skip(2)
        .filter_map(|l| l.split_once(':'))
        .filter(|(name, _)| name.trim() != "lo")
        .fold((0, 0), |(rx, tx), (_, rest)| {
            let f: Vec<u64> = rest
                .split_whitespace()
                .map(|v| v.parse().unwrap_or(0))
                .collect();
            (
                rx + f.first().copied().unwrap_or(0),
                tx + f.get(8).copied().unwrap_or(0),
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn net_dev_skips_loopback() {
        let text = "Inter-|   Receive                                                |  Transmit\n face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n    lo:     100       1    0    0    0     0          0         0      100       1    0    0    0     0       0          0\n  eth0:    2000      10    0    0    0     0          0         0      300       3    0    0    0     0       0          0\n";
        assert_eq!(net_dev(text), (2000, 300));
    }

    #[test]
    fn reads_a_cgroup_dir() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(
            d.path().join("cpu.stat"),
            "usage_usec 1500\nuser_usec 1000\n",
        )
        .unwrap();
        std::fs::write(d.path().join("memory.current"), "4096\n").unwrap();
        std::fs::write(d.path().join("memory.max"), "max\n").unwrap();
        std::fs::write(d.path().join("pids.current"), "3\n").unwrap();
        std::fs::write(
            d.path().join("io.stat"),
            "8:0 rbytes=10 wbytes=20 rios=1 wios=2\n8:16 rbytes=5 wbytes=0\n",
        )
        .unwrap();
        let s = sample(d.path(), 0);
        assert_eq!(s.cpu_ns, 1_500_000);
        assert_eq!(s.mem_usage, 4096);
        assert_eq!(s.mem_limit, None);
        assert_eq!((s.block_read, s.block_write), (15, 20));
        assert_eq!(s.pids, 3);
    }
}
