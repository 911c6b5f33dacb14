//! pasta (Debian's `passt` package): connects the container's network namespace to the host's
//! network by translating its packets to ordinary sockets. It copies the host's addresses and
//! routes into the namespace, forwards published ports (keeping the client's source address), and
//! needs no daemon of ours.
use std::os::fd::AsRawFd;
use std::path::Path;

use super::helper::{self, HelperError, Starting};
use super::ports::{PortMapping, Protocol};

/// What to start pasta with.
pub struct Config<'a> {
    /// An open `/proc/PID/ns/net` of the container. pasta opens the namespace after dropping its
    /// privileges, when the container's /proc entries are no longer its to read, so it gets the
    /// descriptor as `/proc/self/fd/N` instead.
    pub netns: std::os::fd::RawFd,
    pub ports: &'a [PortMapping],
    /// containers.conf's `pasta_options`, then those of `--network pasta:OPT,OPT`.
    pub extra: &'a [String],
    pub mac_address: Option<&'a str>,
    /// Where pasta's messages go.
    pub log: &'a Path,
    /// roost runs as real root: pasta would drop to `nobody` and then could not enter the
    /// namespace, so it keeps uid 0 (`--runas 0`).
    pub real_root: bool,
}

/// podman's own option (not pasta's): let the container reach the host's loopback through the
/// gateway address, which pasta maps to it unless told `--no-map-gw`.
pub const MAP_GW: &str = "--map-gw";

/// Whether `options` (containers.conf's and `--network pasta:`'s) opt in to reaching the host's
/// loopback through the gateway address.
pub fn maps_gateway(options: &[String]) -> bool {
    options.iter().any(|o| o == MAP_GW)
}

/// containers.conf's pasta options, then the container's own (podman's order).
pub fn merged_options(conf: &[String], own: &[String]) -> Vec<String> {
    conf.iter().chain(own).cloned().collect()
}

/// The value of pasta option `names` in `options` (`-a ADDR`, `--address ADDR`, `--address=ADDR`);
/// the last one wins, as in pasta.
pub fn option_value<'a>(options: &'a [String], names: &[&str]) -> Option<&'a str> {
    let mut found = None;
    for (i, o) in options.iter().enumerate() {
        if names.contains(&o.as_str()) {
            found = options.get(i + 1).map(String::as_str);
        } else if let Some((name, value)) = o.split_once('=')
            && names.contains(&name)
        {
            found = Some(value);
        }
    }
    found
}

/// pasta's port spec for one mapping: `[ADDR/]HOST[-END]:CTR[-END]`.
fn port_spec(m: &PortMapping) -> String {
    let addr = m.host_ip.map(|a| format!("{a}/")).unwrap_or_default();
    let end = |p: u16| {
        if m.range > 1 {
            format!("{p}-{}", p + m.range - 1)
        } else {
            p.to_string()
        }
    };
    format!("{addr}{}:{}", end(m.host_port), end(m.container_port))
}

/// The command line (without the program name). `pid_path` is where pasta writes its pid once it
/// is ready, which is our readiness signal.
pub fn args(cfg: &Config<'_>, pid_path: &str) -> Vec<String> {
    let mut a: Vec<String> = vec![
        "--config-net".into(),
        "--foreground".into(),
        "--quiet".into(),
        "--pid".into(),
        pid_path.into(),
        "--netns".into(),
        format!("/proc/self/fd/{}", cfg.netns),
    ];
    let user_has = |flags: &[&str]| cfg.extra.iter().any(|e| flags.contains(&e.as_str()));
    for (proto, flag, ns_flag) in [(Protocol::Tcp, "-t", "-T"), (Protocol::Udp, "-u", "-U")] {
        let specs: Vec<String> = cfg
            .ports
            .iter()
            .filter(|m| m.protocol == proto)
            .map(port_spec)
            .collect();
        if specs.is_empty() {
            if !user_has(&[
                flag,
                if flag == "-t" {
                    "--tcp-ports"
                } else {
                    "--udp-ports"
                },
            ]) {
                a.extend([flag.to_string(), "none".into()]);
            }
        } else {
            for s in specs {
                a.extend([flag.to_string(), s]);
            }
        }
        // Nothing from the container to the host's ports unless asked: the default `auto` would
        // forward every port the host listens on.
        if !user_has(&[
            ns_flag,
            if ns_flag == "-T" {
                "--tcp-ns"
            } else {
                "--udp-ns"
            },
        ]) {
            a.extend([ns_flag.to_string(), "none".into()]);
        }
    }
    if let Some(mac) = cfg.mac_address {
        a.extend(["--ns-mac-addr".into(), mac.to_string()]);
    }
    // The host's loopback is not the containers' to reach unless the user says so (podman's
    // default): without `--no-map-gw`, pasta maps the gateway address to it.
    if !maps_gateway(cfg.extra) && !user_has(&["--no-map-gw"]) {
        a.push("--no-map-gw".into());
    }
    if cfg.real_root {
        a.extend(["--runas".into(), "0".into()]);
    }
    a.extend(cfg.extra.iter().filter(|o| *o != MAP_GW).cloned());
    a
}

/// Start pasta; [`Starting::wait`] returns once it has configured the namespace and bound the ports.
pub fn spawn(cfg: &Config<'_>) -> Result<Starting, HelperError> {
    // pasta listens on 0.0.0.0 and [::] for a port without an address, and carries on with one of
    // them when the other is taken: check both first, so such a port fails the start instead.
    super::ports::check_free(cfg.ports, true)?;
    // pasta opens its pid file by name and writes its pid when it is ready: naming the pipe's write
    // end turns that into a readiness signal with no polling.
    let (ready_r, ready_w) =
        nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(|e| HelperError::Start {
            program: "pasta".into(),
            source: e.into(),
        })?;
    let pid_path = format!("/proc/self/fd/{}", ready_w.as_raw_fd());
    let running = helper::start(
        "pasta",
        &args(cfg, &pid_path),
        None,
        cfg.log,
        &[ready_w.as_raw_fd(), cfg.netns],
        Vec::new(),
    )?;
    drop(ready_w);
    Ok(Starting {
        running,
        ready: ready_r,
        log: cfg.log.to_path_buf(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::network::ports::parse_publish;

    #[test]
    fn command_line() {
        let mut ports = parse_publish("127.0.0.1:8080:80").unwrap();
        ports.extend(parse_publish("9000-9001:90-91/udp").unwrap());
        let cfg = Config {
            netns: 7,
            ports: &ports,
            extra: &[],
            mac_address: Some("92:d0:c6:0a:29:33"),
            log: Path::new("/dev/null"),
            real_root: false,
        };
        let a = args(&cfg, "/proc/self/fd/9").join(" ");
        assert_eq!(
            a,
            "--config-net --foreground --quiet --pid /proc/self/fd/9 --netns /proc/self/fd/7 \
             -t 127.0.0.1/8080:80 -T none -u 9000-9001:90-91 -U none --ns-mac-addr 92:d0:c6:0a:29:33 \
             --no-map-gw"
        );
        let extra = vec!["-T".to_string(), "5432".to_string()];
        let cfg = Config {
            ports: &[],
            extra: &extra,
            mac_address: None,
            real_root: true,
            ..cfg
        };
        let a = args(&cfg, "p").join(" ");
        assert!(
            a.ends_with("-t none -u none -U none --no-map-gw --runas 0 -T 5432"),
            "{a}"
        );
        // `--map-gw` (podman's, not pasta's) leaves the gateway mapped and is not passed on.
        let extra = vec![MAP_GW.to_string(), "-a".into(), "10.0.0.5".into()];
        let cfg = Config {
            extra: &extra,
            real_root: false,
            ..cfg
        };
        let a = args(&cfg, "p").join(" ");
        assert!(a.ends_with("-U none -a 10.0.0.5"), "{a}");
        assert!(!a.contains("map-gw"), "{a}");
    }

    #[test]
    fn option_values() {
        let o: Vec<String> = [
            "-a",
            "10.0.0.5",
            "--gateway=10.0.0.1",
            "--address",
            "10.0.0.6",
        ]
        .map(String::from)
        .to_vec();
        assert_eq!(option_value(&o, &["-a", "--address"]), Some("10.0.0.6"));
        assert_eq!(option_value(&o, &["-g", "--gateway"]), Some("10.0.0.1"));
        assert_eq!(option_value(&o, &["-i"]), None);
        assert!(!maps_gateway(&o));
    }
}
