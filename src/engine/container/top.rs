//! `top`: the processes of a running container, in the columns podman's `top` (psgo) names with its
//! format descriptors.
use super::exec::running;
use crate::engine::{Ctx, EngineError};
use crate::runtime::procs::{self, IdMap, ProcessInfo};

/// podman's default descriptors.
pub const DEFAULT_DESCRIPTORS: &[&str] = &[
    "user", "pid", "ppid", "pcpu", "etime", "tty", "time", "args",
];

/// A column: its descriptor names (psgo's name, then the AIX `%` form) and heading.
struct Column {
    names: &'static [&'static str],
    header: &'static str,
}

const COLUMNS: &[Column] = &[
    Column {
        names: &["args", "%a"],
        header: "COMMAND",
    },
    Column {
        names: &["comm", "%c"],
        header: "COMMAND",
    },
    Column {
        names: &["etime", "%t"],
        header: "ELAPSED",
    },
    Column {
        names: &["group", "%G"],
        header: "GROUP",
    },
    Column {
        names: &["hgroup"],
        header: "HGROUP",
    },
    Column {
        names: &["hpid"],
        header: "HPID",
    },
    Column {
        names: &["huser"],
        header: "HUSER",
    },
    Column {
        names: &["nice", "%n"],
        header: "NI",
    },
    Column {
        names: &["pcpu", "%C"],
        header: "%CPU",
    },
    Column {
        names: &["pgid", "%r"],
        header: "PGID",
    },
    Column {
        names: &["pid", "%p"],
        header: "PID",
    },
    Column {
        names: &["ppid", "%P"],
        header: "PPID",
    },
    Column {
        names: &["rgroup", "%g"],
        header: "RGROUP",
    },
    Column {
        names: &["rss"],
        header: "RSS",
    },
    Column {
        names: &["ruser", "%u"],
        header: "RUSER",
    },
    Column {
        names: &["state"],
        header: "STATE",
    },
    Column {
        names: &["time", "%x"],
        header: "TIME",
    },
    Column {
        names: &["tty", "%y"],
        header: "TTY",
    },
    Column {
        names: &["user", "%U"],
        header: "USER",
    },
    Column {
        names: &["vsz", "%z"],
        header: "VSZ",
    },
];

/// The table `top` prints.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TopReport {
    pub headers: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

/// Descriptors as given: separate arguments, or comma/space-separated in one (`pid,user`). Empty means
/// podman's defaults. Unknown names are an error (psgo's `unknown descriptor`).
pub fn parse_descriptors(args: &[String]) -> Result<Vec<&'static str>, EngineError> {
    let given: Vec<&str> = args
        .iter()
        .flat_map(|a| a.split([',', ' ']))
        .filter(|d| !d.is_empty())
        .collect();
    if given.is_empty() {
        return Ok(DEFAULT_DESCRIPTORS.to_vec());
    }
    given
        .into_iter()
        .map(|d| {
            COLUMNS
                .iter()
                .find(|c| c.names.contains(&d))
                .map(|c| c.names[0])
                .ok_or_else(|| super::OpError::TopDescriptor(d.to_string()).into())
        })
        .collect()
}

fn header(descriptor: &str) -> &'static str {
    COLUMNS
        .iter()
        .find(|c| c.names[0] == descriptor)
        .map_or("?", |c| c.header)
}

/// Go's `time.Duration.String()` (psgo prints durations with it): `1h2m3.5s`, `1.5ms`, `0s`.
pub fn go_duration(nanos: u64) -> String {
    if nanos == 0 {
        return "0s".into();
    }
    let frac = |value: u64, unit: u64, suffix: &str| {
        let whole = value / unit;
        let rest = value % unit;
        if rest == 0 {
            return format!("{whole}{suffix}");
        }
        let digits = unit.ilog10() as usize;
        let f = format!("{rest:0digits$}");
        format!("{whole}.{}{suffix}", f.trim_end_matches('0'))
    };
    if nanos < 1_000 {
        return format!("{nanos}ns");
    }
    if nanos < 1_000_000 {
        return frac(nanos, 1_000, "µs");
    }
    if nanos < 1_000_000_000 {
        return frac(nanos, 1_000_000, "ms");
    }
    let secs = nanos / 1_000_000_000;
    let (h, m) = (secs / 3600, (secs / 60) % 60);
    let s = frac(nanos % 60_000_000_000, 1_000_000_000, "s");
    match (h, m) {
        (0, 0) => s,
        (0, m) => format!("{m}m{s}"),
        (h, m) => format!("{h}h{m}m{s}"),
    }
}

/// The terminal a `tty_nr` names, as ps shows it: `pts/0`, `tty1`, `ttyS0`, or `?`.
pub fn tty_name(tty_nr: u64) -> String {
    let major = (tty_nr >> 8) & 0xfff;
    let minor = (tty_nr & 0xff) | ((tty_nr >> 12) & 0xfff00);
    match major {
        0 => "?".into(),
        136..=143 => format!("pts/{}", minor + (major - 136) * 256),
        4 if minor < 64 => format!("tty{minor}"),
        4 => format!("ttyS{}", minor - 64),
        _ => "?".into(),
    }
}

/// Names from the container's /etc/passwd or /etc/group (`name:x:id:…`), else the number.
fn name_of(id: Option<u32>, file: Option<&str>) -> String {
    let Some(id) = id else {
        return "?".into();
    };
    file.and_then(|f| {
        f.lines().find_map(|l| {
            let mut p = l.split(':');
            let name = p.next()?;
            (p.nth(1)?.parse::<u32>().ok()? == id).then(|| name.to_string())
        })
    })
    .unwrap_or_else(|| id.to_string())
}

/// What is needed to render a row: the container's id maps and name files, clock facts.
struct Lookup {
    uids: IdMap,
    gids: IdMap,
    passwd: Option<String>,
    group: Option<String>,
    uptime: f64,
    ticks: u64,
    page_kib: u64,
}

impl Lookup {
    fn cell(&self, d: &str, p: &ProcessInfo) -> String {
        // In whole centiseconds (the precision of /proc/uptime), so no float noise shows.
        let elapsed = ((self.uptime - p.start_ticks as f64 / self.ticks as f64) * 100.0)
            .round()
            .max(0.0)
            / 100.0;
        let cpu = p.cpu_ticks as f64 / self.ticks as f64;
        match d {
            "args" if p.args.is_empty() => format!("[{}]", p.comm),
            "args" => p.args.join(" "),
            "comm" => p.comm.clone(),
            "etime" => go_duration((elapsed * 1e9) as u64),
            "group" => name_of(self.gids.inside(p.egid), self.group.as_deref()),
            "rgroup" => name_of(self.gids.inside(p.rgid), self.group.as_deref()),
            "user" => name_of(self.uids.inside(p.euid), self.passwd.as_deref()),
            "ruser" => name_of(self.uids.inside(p.ruid), self.passwd.as_deref()),
            "huser" => host_user(p.euid),
            "hgroup" => host_group(p.egid),
            "hpid" => p.host_pid.to_string(),
            "nice" => p.nice.to_string(),
            "pcpu" if elapsed > 0.0 => format!("{:.3}", cpu / elapsed * 100.0),
            "pcpu" => "0.000".into(),
            "pgid" => p.pgid.to_string(),
            "pid" => p.pid.to_string(),
            "ppid" => p.ppid.to_string(),
            "rss" => (p.rss_pages * self.page_kib).to_string(),
            "vsz" => (p.vsize / 1024).to_string(),
            "state" => p.state.to_string(),
            "time" => go_duration(cpu as u64 * 1_000_000_000),
            "tty" => tty_name(p.tty_nr),
            _ => "?".into(),
        }
    }
}

fn host_user(uid: u32) -> String {
    nix::unistd::User::from_uid(uid.into())
        .ok()
        .flatten()
        .map_or_else(|| uid.to_string(), |u| u.name)
}

fn host_group(gid: u32) -> String {
    nix::unistd::Group::from_gid(gid.into())
        .ok()
        .flatten()
        .map_or_else(|| gid.to_string(), |g| g.name)
}

/// The container's processes: those in its pid namespace, or, when it shares the host's
/// (`--pid=host`), those in its own cgroup (a container without one is refused: the namespace
/// would list every process of the user).
fn processes(c: &super::Container, pid: i32) -> Result<Vec<ProcessInfo>, EngineError> {
    if c.spec.namespaces.pid != "host" {
        return Ok(procs::container_processes(pid)?);
    }
    let dir = super::resources::cgroup_of(
        c,
        "top of a container in the host's pid namespace (--pid=host)",
    )?;
    Ok(procs::cgroup_processes(&dir)?)
}

/// What container `top` shows: podman's descriptors as columns, or ps(1)'s own output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TopOutput {
    Table(TopReport),
    Ps(String),
}

/// Longest ps(1) output read.
const MAX_PS_OUTPUT: usize = 4 << 20;

/// How long ps(1) may take.
const PS_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// Container `top` (podman-top(1)): format descriptors, or, when the arguments are not all
/// descriptors, ps(1) options for the container's own ps. A single argument is split as a shell
/// would (`top CTR "-eo pid,comm"`); several are passed as they are (podman's rule). The line of
/// ps itself is left out.
pub fn top_or_ps(ctx: &Ctx, key: &str, args: &[String]) -> Result<TopOutput, EngineError> {
    if parse_descriptors(args).is_ok() {
        return top(ctx, key, args).map(TopOutput::Table);
    }
    let (c, _) = running(ctx, key, "top can only be used on running containers")?;
    let mut argv = vec!["ps".to_string()];
    match args {
        [one] => argv.extend(
            crate::engine::quadlet::unit::split_words(one)
                .map_err(|why| super::OpError::TopPsArgument(one.clone(), why))?,
        ),
        _ => argv.extend(args.iter().cloned()),
    }
    // podman-top(1): the host's ps in the container's pid namespace (any ps(1) option works, whatever
    // ps the image has, if any); the container's own ps when it may trace its processes itself
    // (CAP_SYS_PTRACE), or when the host has no ps.
    let host = if ptrace_allowed(&c) {
        None
    } else {
        super::capture::capture_host(&c, &argv, PS_TIMEOUT, MAX_PS_OUTPUT)?
    };
    let run = match host {
        Some(run) => run,
        None => super::capture::capture(ctx, &c, argv, PS_TIMEOUT, MAX_PS_OUTPUT)?,
    };
    let output = String::from_utf8_lossy(&run.output).into_owned();
    match (run.timed_out, run.exit_code) {
        (false, 0) => Ok(TopOutput::Ps(without_ps_line(&output, &args.join(" ")))),
        (timed_out, code) => Err(super::OpError::TopPs {
            container: c.record.name.clone(),
            status: if timed_out { None } else { Some(code) },
            output: output.trim().to_string(),
        }
        .into()),
    }
}

/// Whether `c` was given CAP_SYS_PTRACE (`--cap-add`, or `--privileged`).
fn ptrace_allowed(c: &super::Container) -> bool {
    c.spec.privileged
        || c.spec.cap_add.iter().any(|cap| match cap {
            crate::runtime::security::caps::CapArg::All => true,
            crate::runtime::security::caps::CapArg::One(one) => {
                crate::runtime::security::caps::Capability::parse("SYS_PTRACE")
                    .is_ok_and(|p| p == *one)
            }
        })
}

/// `output` without the lines that show ps's own command line (`options`, as given).
fn without_ps_line(output: &str, options: &str) -> String {
    output
        .lines()
        .filter(|l| !l.contains(options))
        .map(|l| format!("{l}\n"))
        .collect()
}

/// `top`: list the processes of the running container `key`.
pub fn top(ctx: &Ctx, key: &str, descriptors: &[String]) -> Result<TopReport, EngineError> {
    let descriptors = parse_descriptors(descriptors)?;
    let (c, pid) = running(ctx, key, "top can only be used on running containers")?;
    let lookup = Lookup {
        uids: IdMap::read(pid, "uid_map")?,
        gids: IdMap::read(pid, "gid_map")?,
        passwd: super::rootfs::read_file(ctx, &c, pid, "etc/passwd"),
        group: super::rootfs::read_file(ctx, &c, pid, "etc/group"),
        uptime: procs::uptime()?,
        ticks: procs::clock_ticks(),
        page_kib: nix::unistd::sysconf(nix::unistd::SysconfVar::PAGE_SIZE)
            .ok()
            .flatten()
            .map_or(4, |v| (v as u64 / 1024).max(1)),
    };
    let processes = processes(&c, pid)?;
    Ok(TopReport {
        headers: descriptors.iter().map(|d| header(d).to_string()).collect(),
        rows: processes
            .iter()
            .map(|p| descriptors.iter().map(|d| lookup.cell(d, p)).collect())
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations() {
        for (nanos, want) in [
            (0, "0s"),
            (999, "999ns"),
            (1_500, "1.5µs"),
            (2_000_000, "2ms"),
            (5_435_917_346, "5.435917346s"),
            (60_000_000_000, "1m0s"),
            (3_723_500_000_000, "1h2m3.5s"),
        ] {
            assert_eq!(go_duration(nanos), want, "{nanos}");
        }
    }

    #[test]
    fn tty_names() {
        assert_eq!(tty_name(0), "?");
        assert_eq!(tty_name(136 << 8), "pts/0");
        assert_eq!(tty_name((136 << 8) | 3), "pts/3");
        assert_eq!(tty_name((4 << 8) | 1), "tty1");
        assert_eq!(tty_name((4 << 8) | 64), "ttyS0");
    }

    #[test]
    fn descriptors_table() {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert_eq!(parse_descriptors(&[]).unwrap(), DEFAULT_DESCRIPTORS);
        assert_eq!(
            parse_descriptors(&s(&["pid", "user"])).unwrap(),
            ["pid", "user"]
        );
        assert_eq!(
            parse_descriptors(&s(&["pid,%C", "args"])).unwrap(),
            ["pid", "pcpu", "args"]
        );
        assert_eq!(parse_descriptors(&s(&["%U %p"])).unwrap(), ["user", "pid"]);
        let e = parse_descriptors(&s(&["pid", "bogus"])).unwrap_err();
        assert_eq!(e.to_string(), "'bogus': unknown descriptor");
        assert_eq!(header("pcpu"), "%CPU");
    }

    #[test]
    fn ps_output_leaves_out_ps_itself() {
        let out = "  PID USER     COMMAND\n    1 root     sleep 600\n    7 root     ps -ef\n";
        assert_eq!(
            without_ps_line(out, "-ef"),
            "  PID USER     COMMAND\n    1 root     sleep 600\n"
        );
    }

    #[test]
    fn names_from_files() {
        let passwd = "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534::/:/bin/false\n";
        assert_eq!(name_of(Some(0), Some(passwd)), "root");
        assert_eq!(name_of(Some(65534), Some(passwd)), "nobody");
        assert_eq!(name_of(Some(1000), Some(passwd)), "1000");
        assert_eq!(name_of(None, Some(passwd)), "?");
    }
}
