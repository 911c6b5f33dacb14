//! Container networking, rootless: the `--network` modes, published ports, and the user-mode network
//! helpers (`pasta`, `slirp4netns`) that connect a container's network namespace to the host.
//!
//! User-defined bridge networks are rootless as podman does them: one per-user network namespace holds
//! the bridges (kept by `roost __netns`, connected outward by slirp4netns), netavark wires containers
//! into it with veth pairs and aardvark-dns answers names on each network's gateway.
#![deny(clippy::print_stdout, clippy::print_stderr)]

pub mod builtin;
pub mod cidr;
pub mod client;
pub mod config;
pub mod defs;
mod dns_ready;
mod error;
pub mod forward;
pub mod helper;
pub mod holder;
pub mod ipam;
pub mod netavark;
pub mod pasta;
pub mod ports;
pub mod proto;
pub mod slirp;

use std::path::PathBuf;

pub use config::{DEFAULT_NAME, Network};
pub use error::NetworkError;
pub use ports::{PortBusy, PortMapping, Protocol, parse_publish};

/// The user-mode helper that gives a container its own network stack.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Helper {
    Pasta,
    Slirp4netns,
    /// libslirp in roost's own process (`--network slirp`).
    Builtin,
}

impl Helper {
    pub fn name(self) -> &'static str {
        match self {
            Helper::Pasta => "pasta",
            Helper::Slirp4netns => "slirp4netns",
            Helper::Builtin => "slirp",
        }
    }
}

/// containers.conf's settings for container networks (read once by the CLI).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NetworkConf {
    /// `[network] pasta_options`: pasta arguments put before those of `--network pasta:…`.
    pub pasta_options: Vec<String>,
    /// `[containers] host_containers_internal_ip`: the address `host.containers.internal` names
    /// (`none`: no such entry); unset, roost picks one that reaches the host.
    pub host_containers_internal_ip: Option<String>,
    /// `[containers] dns_servers`, `dns_searches`, `dns_options`: resolv.conf's defaults, before
    /// the `--dns*` flags' (podman puts both in, containers.conf's first).
    pub dns_servers: Vec<String>,
    pub dns_searches: Vec<String>,
    pub dns_options: Vec<String>,
    /// `[containers] base_hosts_file`: the file /etc/hosts starts from (the image's own with
    /// `image`, none when unset).
    pub base_hosts_file: Option<String>,
    /// `[network] default_host_ips`: the host addresses `-p` publishes on when it names none.
    pub default_host_ips: Vec<std::net::IpAddr>,
}

/// A parsed `--network` value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    /// The host's network namespace.
    Host,
    /// A namespace with only loopback.
    None,
    /// pasta with extra command-line options (`pasta:-T,8080`).
    Pasta(Vec<String>),
    Slirp4netns(SlirpOptions),
    /// libslirp run by roost itself (the container's monitor, or a foreground `run`), with
    /// slirp4netns's addresses and options.
    Builtin(SlirpOptions),
    /// Another container's namespace (name or id).
    Container(String),
    /// An existing namespace file.
    Ns(PathBuf),
    /// User-defined networks by name.
    Bridge(Vec<String>),
}

/// podman's slirp4netns options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlirpOptions {
    pub allow_host_loopback: bool,
    pub mtu: u32,
    pub cidr: Option<String>,
    pub enable_ipv6: bool,
    pub outbound_addr: Option<String>,
    pub outbound_addr6: Option<String>,
    /// `rootlesskit` or `slirp4netns`; both forward through slirp4netns's own port API here.
    pub port_handler: String,
}

impl Default for SlirpOptions {
    fn default() -> Self {
        SlirpOptions {
            allow_host_loopback: false,
            mtu: 65520,
            cidr: None,
            enable_ipv6: false,
            outbound_addr: None,
            outbound_addr6: None,
            port_handler: "rootlesskit".into(),
        }
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ModeError {
    #[error("invalid network mode `{mode}`: {why}")]
    Invalid { mode: String, why: String },
}

fn invalid(mode: &str, why: impl Into<String>) -> ModeError {
    ModeError::Invalid {
        mode: mode.to_string(),
        why: why.into(),
    }
}

fn bool_opt(mode: &str, k: &str, v: &str) -> Result<bool, ModeError> {
    match v {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(invalid(
            mode,
            format!("`{k}` takes true or false, not `{v}`"),
        )),
    }
}

/// `--network slirp`'s options: slirp4netns's, IPv6 on unless turned off, no outbound address or
/// port handler (published ports are the stack's own).
fn parse_builtin(mode: &str, opts: &str) -> Result<SlirpOptions, ModeError> {
    let o = parse_slirp(
        mode,
        opts,
        SlirpOptions {
            enable_ipv6: true,
            ..SlirpOptions::default()
        },
    )?;
    if o.outbound_addr.is_some() || o.outbound_addr6.is_some() || opts.contains("port_handler=") {
        return Err(invalid(
            mode,
            "slirp takes allow_host_loopback, mtu, cidr and enable_ipv6 (use slirp4netns for outbound_addr or port_handler)",
        ));
    }
    Ok(o)
}

fn parse_slirp(mode: &str, opts: &str, defaults: SlirpOptions) -> Result<SlirpOptions, ModeError> {
    let mut o = defaults;
    for kv in opts.split(',').filter(|s| !s.is_empty()) {
        let (k, v) = kv
            .split_once('=')
            .ok_or_else(|| invalid(mode, format!("option `{kv}` needs a value (NAME=VALUE)")))?;
        match k {
            "allow_host_loopback" => o.allow_host_loopback = bool_opt(mode, k, v)?,
            "enable_ipv6" => o.enable_ipv6 = bool_opt(mode, k, v)?,
            "mtu" => {
                o.mtu = v
                    .parse()
                    .ok()
                    .filter(|m| (68..=65521).contains(m))
                    .ok_or_else(|| {
                        invalid(mode, format!("mtu `{v}` is not between 68 and 65521"))
                    })?
            }
            "cidr" => {
                let ok = v.split_once('/').is_some_and(|(a, p)| {
                    a.parse::<std::net::Ipv4Addr>().is_ok()
                        && p.parse::<u8>().is_ok_and(|p| p <= 30)
                });
                if !ok {
                    return Err(invalid(
                        mode,
                        format!("cidr `{v}` is not an IPv4 network like 10.0.2.0/24"),
                    ));
                }
                o.cidr = Some(v.to_string());
            }
            "outbound_addr" => o.outbound_addr = Some(v.to_string()),
            "outbound_addr6" => o.outbound_addr6 = Some(v.to_string()),
            "port_handler" => {
                if v != "rootlesskit" && v != "slirp4netns" {
                    return Err(invalid(mode, "port_handler is rootlesskit or slirp4netns"));
                }
                o.port_handler = v.to_string();
            }
            _ => {
                return Err(invalid(
                    mode,
                    format!(
                        "unknown slirp4netns option `{k}` (known: allow_host_loopback, mtu, cidr, enable_ipv6, outbound_addr, outbound_addr6, port_handler)"
                    ),
                ));
            }
        }
    }
    Ok(o)
}

/// Parse a `--network` value. `default` gives what `private` and an empty value mean; it is asked
/// only for those (finding it may load libslirp).
pub fn parse_mode(s: &str, default: impl FnOnce() -> Helper) -> Result<Mode, ModeError> {
    let (name, opts) = s.split_once(':').unwrap_or((s, ""));
    Ok(match name {
        "" | "private" | "default" => match default() {
            Helper::Pasta => Mode::Pasta(Vec::new()),
            Helper::Slirp4netns => Mode::Slirp4netns(SlirpOptions::default()),
            Helper::Builtin => Mode::Builtin(parse_builtin(s, "")?),
        },
        "host" => Mode::Host,
        "none" => Mode::None,
        "pasta" => Mode::Pasta(
            opts.split(',')
                .filter(|o| !o.is_empty())
                .map(str::to_string)
                .collect(),
        ),
        "slirp4netns" => Mode::Slirp4netns(parse_slirp(s, opts, SlirpOptions::default())?),
        "slirp" => Mode::Builtin(parse_builtin(s, opts)?),
        "container" if !opts.is_empty() => Mode::Container(opts.to_string()),
        "container" => return Err(invalid(s, "use container:NAME or container:ID")),
        "ns" if opts.starts_with('/') => Mode::Ns(PathBuf::from(opts)),
        "ns" => return Err(invalid(s, "use ns:/path/to/netns (an absolute path)")),
        "bridge" => Mode::Bridge(vec!["podman".into()]),
        _ => Mode::Bridge(
            s.split(',')
                .map(|n| n.split(':').next().unwrap_or(n).to_string())
                .collect(),
        ),
    })
}

impl Mode {
    /// Whether the container gets a network namespace of its own.
    pub fn new_namespace(&self) -> bool {
        !matches!(self, Mode::Host | Mode::Container(_) | Mode::Ns(_))
    }

    /// The name podman's `inspect` shows as `NetworkMode`.
    pub fn kind(&self) -> &'static str {
        match self {
            Mode::Host => "host",
            Mode::None => "none",
            Mode::Pasta(_) => "pasta",
            Mode::Slirp4netns(_) => "slirp4netns",
            Mode::Builtin(_) => "slirp",
            Mode::Container(_) => "container",
            Mode::Ns(_) => "ns",
            Mode::Bridge(_) => "bridge",
        }
    }

    /// Whether `-p` can work in this mode.
    pub fn can_publish(&self) -> bool {
        matches!(
            self,
            Mode::Pasta(_) | Mode::Slirp4netns(_) | Mode::Builtin(_) | Mode::Bridge(_)
        )
    }
}

/// The lowest port an unprivileged user may bind, from the host's sysctl.
pub fn unprivileged_port_start() -> u16 {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_unprivileged_port_start")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes() {
        assert_eq!(parse_mode("host", || Helper::Pasta).unwrap(), Mode::Host);
        assert_eq!(
            parse_mode("private", || Helper::Pasta).unwrap(),
            Mode::Pasta(vec![])
        );
        assert_eq!(
            parse_mode("", || Helper::Slirp4netns).unwrap(),
            Mode::Slirp4netns(SlirpOptions::default())
        );
        assert_eq!(
            parse_mode("pasta:-T,8080,--ipv4-only", || Helper::Pasta).unwrap(),
            Mode::Pasta(vec!["-T".into(), "8080".into(), "--ipv4-only".into()])
        );
        let Mode::Slirp4netns(o) = parse_mode(
            "slirp4netns:allow_host_loopback=true,mtu=1500,port_handler=slirp4netns,cidr=10.5.0.0/24",
            || Helper::Pasta,
        )
        .unwrap() else {
            panic!()
        };
        assert!(o.allow_host_loopback);
        assert_eq!(o.mtu, 1500);
        assert_eq!(o.cidr.as_deref(), Some("10.5.0.0/24"));
        assert_eq!(
            parse_mode("container:web", || Helper::Pasta).unwrap(),
            Mode::Container("web".into())
        );
        assert_eq!(
            parse_mode("ns:/run/netns/x", || Helper::Pasta).unwrap(),
            Mode::Ns("/run/netns/x".into())
        );
        assert_eq!(
            parse_mode("net1,net2", || Helper::Pasta).unwrap(),
            Mode::Bridge(vec!["net1".into(), "net2".into()])
        );
        let Mode::Builtin(o) =
            parse_mode("slirp:allow_host_loopback=true", || Helper::Pasta).unwrap()
        else {
            panic!()
        };
        assert!(o.allow_host_loopback && o.enable_ipv6);
        assert_eq!(
            parse_mode("", || Helper::Builtin).unwrap(),
            Mode::Builtin(SlirpOptions {
                enable_ipv6: true,
                ..SlirpOptions::default()
            })
        );
        for bad in [
            "slirp:outbound_addr=1.2.3.4",
            "slirp:port_handler=slirp4netns",
            "slirp:mtu=9",
            "slirp4netns:mtu=9",
            "slirp4netns:bogus=1",
            "slirp4netns:allow_host_loopback",
            "slirp4netns:cidr=10.0.0.0",
            "container:",
            "ns:relative",
        ] {
            assert!(parse_mode(bad, || Helper::Pasta).is_err(), "{bad}");
        }
    }
}
