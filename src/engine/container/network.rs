//! A container's network: the mode and ports asked for at create time, resolved into what is stored
//! (random host ports chosen once, so `port` and restarts agree), the helper started for each run,
//! and the contents of its /etc/hosts and /etc/resolv.conf.
use std::net::{IpAddr, Ipv4Addr, TcpListener, UdpSocket};
use std::path::PathBuf;

use nix::unistd::Pid;
use serde::{Deserialize, Serialize};

use super::Container;
use crate::engine::{Ctx, EngineError};
use crate::network::helper::Running;
use crate::network::{self, Helper, Mode, PortMapping, Protocol};
use crate::store::Store;

/// The network flags of `create`/`run`.
#[derive(Debug, Clone, Default)]
pub struct NetworkRequest {
    /// `--network`; empty means the default (pasta, or slirp4netns without pasta).
    pub mode: String,
    /// `-p`, parsed.
    pub publish: Vec<PortMapping>,
    /// `-P`: publish every exposed port on a random host port.
    pub publish_all: bool,
    /// `--expose`.
    pub expose: Vec<String>,
    pub dns: Vec<String>,
    pub dns_search: Vec<String>,
    pub dns_options: Vec<String>,
    /// `--add-host HOST:IP`.
    pub add_hosts: Vec<String>,
    pub no_hosts: bool,
    pub mac_address: Option<String>,
    /// Check at create that the host ports can be listened on (`run`, which starts the container
    /// right away: a port that is taken then fails before any container exists).
    pub ports_must_be_free: bool,
}

/// What is stored about a container's network besides its mode.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct NetworkSpec {
    /// Published ports, host ports chosen.
    #[serde(default)]
    pub ports: Vec<PortMapping>,
    /// Exposed ports (`EXPOSE`, `--expose`) as `80/tcp`.
    #[serde(default)]
    pub exposed: Vec<String>,
    #[serde(default)]
    pub dns: Vec<String>,
    #[serde(default)]
    pub dns_search: Vec<String>,
    #[serde(default)]
    pub dns_options: Vec<String>,
    #[serde(default)]
    pub add_hosts: Vec<(String, String)>,
    #[serde(default)]
    pub no_hosts: bool,
    #[serde(default)]
    pub mac_address: Option<String>,
}

fn invalid(msg: impl Into<String>) -> EngineError {
    EngineError::Invalid(msg.into())
}

/// Which helper `private`/the default means: pasta when installed (podman 5's default), else
/// slirp4netns.
pub fn default_helper(helpers: &crate::helpers::Helpers) -> Helper {
    if helpers.find("pasta").is_some() || helpers.find("slirp4netns").is_none() {
        Helper::Pasta
    } else {
        Helper::Slirp4netns
    }
}

/// A host port nobody uses now, for `-p CONTAINER_PORT` and `-P`.
fn free_port(ip: Option<IpAddr>, proto: Protocol) -> Result<u16, EngineError> {
    let ip = ip.unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
    let port = match proto {
        Protocol::Tcp => TcpListener::bind((ip, 0)).and_then(|l| l.local_addr()),
        Protocol::Udp => UdpSocket::bind((ip, 0)).and_then(|s| s.local_addr()),
    }
    .map_err(|e| EngineError::io("find a free port on", ip.to_string(), e))?
    .port();
    Ok(port)
}

/// `HOST:IP` (or `HOST=IP`; `host-gateway` names the host) → (host, ip).
fn parse_add_host(s: &str) -> Result<(String, String), EngineError> {
    let (h, ip) = s
        .split_once(['=', ':'])
        .filter(|(h, ip)| !h.is_empty() && !ip.is_empty())
        .ok_or_else(|| invalid(format!("invalid --add-host `{s}`: use HOST:IP")))?;
    let ip = ip.trim_start_matches('[').trim_end_matches(']');
    if ip != "host-gateway" && ip.parse::<IpAddr>().is_err() {
        return Err(invalid(format!(
            "invalid --add-host `{s}`: `{ip}` is not an IP address (or host-gateway)"
        )));
    }
    Ok((h.to_string(), ip.to_string()))
}

/// Check and complete the network flags; returns the mode to store and the rest.
pub fn resolve(
    store: &Store,
    default: Helper,
    req: &NetworkRequest,
    image_exposed: &[String],
) -> Result<(String, NetworkSpec), EngineError> {
    let mode = network::parse_mode(&req.mode, default).map_err(|e| invalid(e.to_string()))?;
    let stored_mode = match &mode {
        Mode::Container(key) => {
            let other = super::lifecycle::find(store, key)?;
            format!("container:{}", other.record.id)
        }
        // The networks themselves are checked and stored by `engine::network::resolve_for_create`.
        Mode::Bridge(_) => crate::engine::network::BRIDGE_MODE.to_string(),
        Mode::Pasta(_) | Mode::Slirp4netns(_) if req.mode.is_empty() || req.mode == "private" => {
            default.name().to_string()
        }
        _ => req.mode.clone(),
    };
    let mut exposed: Vec<(u16, Protocol)> = Vec::new();
    for e in image_exposed.iter().chain(&req.expose) {
        let (p, n, proto) = network::ports::parse_expose(e).map_err(|e| invalid(e.to_string()))?;
        for port in p..p.saturating_add(n) {
            if !exposed.contains(&(port, proto)) {
                exposed.push((port, proto));
            }
        }
    }
    let mut ports = req.publish.clone();
    if req.publish_all {
        for &(p, proto) in &exposed {
            if !ports
                .iter()
                .any(|m| m.protocol == proto && m.pairs().any(|(_, c)| c == p))
            {
                ports.push(PortMapping {
                    host_ip: None,
                    host_port: 0,
                    container_port: p,
                    range: 1,
                    protocol: proto,
                });
            }
        }
    }
    if !ports.is_empty() && !mode.can_publish() {
        if mode == Mode::Host {
            tracing::warn!(
                "port mappings have been discarded: the host network mode publishes nothing"
            );
            ports.clear();
        } else {
            return Err(invalid(format!(
                "cannot publish ports with --network {}: the container has no network of its own to forward them to",
                mode.kind()
            )));
        }
    }
    let ports = assign_host_ports(ports)?;
    if req.ports_must_be_free {
        // pasta listens on IPv6 too; slirp4netns and the bridge relay on IPv4 only.
        network::ports::check_free(&ports, matches!(mode, Mode::Pasta(_)))
            .map_err(network::NetworkError::from)?;
    }
    let add_hosts = req
        .add_hosts
        .iter()
        .map(|h| parse_add_host(h))
        .collect::<Result<_, _>>()?;
    // `--dns none`: no /etc/resolv.conf of roost's; the image's stays as it is.
    if req.dns.iter().any(|d| d == "none") && req.dns.len() > 1 {
        return Err(invalid("--dns none cannot be combined with DNS servers"));
    }
    for d in req.dns.iter().filter(|d| *d != "none") {
        if d.parse::<IpAddr>().is_err() {
            return Err(invalid(format!("invalid --dns `{d}`: not an IP address")));
        }
    }
    Ok((
        stored_mode,
        NetworkSpec {
            ports,
            exposed: exposed
                .iter()
                .map(|(p, proto)| format!("{p}/{}", proto.as_str()))
                .collect(),
            dns: req.dns.clone(),
            dns_search: req.dns_search.clone(),
            dns_options: req.dns_options.clone(),
            add_hosts,
            no_hosts: req.no_hosts,
            mac_address: req.mac_address.clone(),
        },
    ))
}

/// Pick host ports where none was given (each port of a range on its own), and refuse ports an
/// unprivileged user cannot bind.
fn assign_host_ports(ports: Vec<PortMapping>) -> Result<Vec<PortMapping>, EngineError> {
    let start = network::unprivileged_port_start();
    let mut out = Vec::new();
    for m in ports {
        if m.host_port == 0 {
            for (_, c) in m.pairs() {
                out.push(PortMapping {
                    host_port: free_port(m.host_ip, m.protocol)?,
                    container_port: c,
                    range: 1,
                    ..m.clone()
                });
            }
            continue;
        }
        if m.host_port < start {
            return Err(invalid(format!(
                "cannot publish host port {} rootless: ports below {start} are privileged (net.ipv4.ip_unprivileged_port_start = {start}); \
                 use a port of {start} or above, or lower it: sudo sysctl net.ipv4.ip_unprivileged_port_start={}",
                m.host_port, m.host_port
            )));
        }
        out.push(m);
    }
    Ok(out)
}

/// `--link NAME[:ALIAS]` needs a bridge network that both containers are on: with pasta or
/// slirp4netns each container is alone in its namespace and cannot reach another by name.
pub fn check_links(store: &Store, stored_mode: &str, links: &[String]) -> Result<(), EngineError> {
    let Some(first) = links.first() else {
        return Ok(());
    };
    if stored_mode != crate::engine::network::BRIDGE_MODE {
        let mode = stored_mode.split(':').next().unwrap_or(stored_mode);
        return Err(invalid(format!(
            "--link `{first}` needs a bridge network: with --network {mode} the container has a network of its own and no route to other containers; \
             create one with `roost network create NET` and run both containers with `--network NET` (they then reach each other by name)"
        )));
    }
    for link in links {
        let name = link.split_once(':').map_or(link.as_str(), |(n, _)| n);
        super::lifecycle::find(store, name)?;
    }
    Ok(())
}

/// The network namespace the container joins instead of making one (`container:`, `ns:`).
pub fn joined_namespace(store: &Store, c: &Container) -> Result<Option<PathBuf>, EngineError> {
    if let Some(id) = c.spec.network.strip_prefix("container:") {
        let other = super::lifecycle::find(store, id)?;
        if other.state.pid <= 0 || other.state.status != super::Status::Running {
            return Err(invalid(format!(
                "cannot join the network of container `{}`: it is not running",
                other.record.name
            )));
        }
        return Ok(Some(PathBuf::from(format!(
            "/proc/{}/ns/net",
            other.state.pid
        ))));
    }
    if let Some(p) = c.spec.network.strip_prefix("ns:") {
        return Ok(Some(PathBuf::from(p)));
    }
    Ok(None)
}

/// The container's parsed mode (stored modes always parse; a bad one reads as `none`).
pub fn mode_of(c: &Container) -> Mode {
    network::parse_mode(&c.spec.network, Helper::Pasta).unwrap_or(Mode::None)
}

enum Phase {
    Idle,
    Pasta(network::helper::Starting),
    Slirp(network::slirp::Starting),
    Up(Running),
}

/// Starts the container's network helper when the container exists and stops it when dropped
/// (after the container has ended).
pub struct Attached {
    /// Bridge networks, through the rootless network namespace.
    bridge: Option<crate::engine::network::BridgeAttach>,
    mode: Mode,
    ports: Vec<PortMapping>,
    mac: Option<String>,
    /// containers.conf's pasta options.
    pasta_options: Vec<String>,
    dir: PathBuf,
    phase: Phase,
    /// roost runs rootless (in its user namespace), not as real root.
    rootless: bool,
}

/// What starts `c`'s network for one run.
pub fn attach(ctx: &Ctx, c: &Container) -> Attached {
    let mode = mode_of(c);
    Attached {
        bridge: matches!(mode, Mode::Bridge(_)).then(|| {
            crate::engine::network::BridgeAttach::new(ctx, c).with_ports(c.spec.net.ports.clone())
        }),
        mode,
        ports: c.spec.net.ports.clone(),
        mac: c.spec.net.mac_address.clone(),
        pasta_options: ctx.network_conf.pasta_options.clone(),
        dir: super::runtime_dir(ctx, &c.record.id),
        phase: Phase::Idle,
        rootless: ctx.rootless,
    }
}

impl Attached {
    /// Kill the user-mode helper and wait until it is gone, so that its host ports are free.
    pub fn stop_and_wait(&mut self) {
        self.phase = Phase::Idle;
    }

    /// Kill the user-mode helper without waiting for it: the caller exits soon after (a
    /// foreground `run`), and the kernel's teardown of the helper's tap device need not delay it.
    pub fn abandon(&mut self) {
        if let Phase::Up(r) = &mut self.phase {
            r.abandon();
        }
    }
}

use crate::runtime::AttachError;

impl crate::runtime::Attach for Attached {
    fn created(&mut self, pid: Pid) -> Result<(), AttachError> {
        if let Some(b) = &mut self.bridge {
            return b.created(pid);
        }
        if !matches!(self.mode, Mode::Pasta(_) | Mode::Slirp4netns(_)) {
            return Ok(());
        }
        let path = format!("/proc/{}/ns/net", pid.as_raw());
        let ns =
            std::fs::File::open(&path).map_err(|error| AttachError::OpenNetns { path, error })?;
        let netns = std::os::fd::AsRawFd::as_raw_fd(&ns);
        self.phase = match &self.mode {
            Mode::Pasta(extra) => {
                let log = self.dir.join("pasta.log");
                let options = pasta_options(&self.pasta_options, extra);
                let cfg = network::pasta::Config {
                    netns,
                    ports: &self.ports,
                    extra: &options,
                    mac_address: self.mac.as_deref(),
                    log: &log,
                    real_root: !self.rootless,
                };
                Phase::Pasta(network::pasta::spawn(&cfg).map_err(with_hint)?)
            }
            Mode::Slirp4netns(o) => {
                let log = self.dir.join("slirp4netns.log");
                let sock = self.dir.join("slirp4netns.sock");
                let cfg = network::slirp::Config {
                    netns,
                    options: o,
                    ports: &self.ports,
                    mac_address: self.mac.as_deref(),
                    api_socket: &sock,
                    log: &log,
                };
                Phase::Slirp(network::slirp::spawn(&cfg).map_err(with_hint)?)
            }
            _ => Phase::Idle,
        };
        Ok(())
    }

    fn ready(&mut self) -> Result<(), AttachError> {
        if let Some(b) = &mut self.bridge {
            return b.ready();
        }
        let phase = std::mem::replace(&mut self.phase, Phase::Idle);
        self.phase = match phase {
            Phase::Pasta(s) => Phase::Up(s.wait().map_err(with_hint)?),
            Phase::Slirp(s) => Phase::Up(s.wait().map_err(with_hint)?),
            other => other,
        };
        Ok(())
    }
}

/// containers.conf's pasta options, then the container's own (podman's order).
fn pasta_options(conf: &[String], own: &[String]) -> Vec<String> {
    conf.iter().chain(own).cloned().collect()
}

/// A helper's failure, with what to do about it.
fn with_hint(e: network::helper::HelperError) -> AttachError {
    let hint = e.hint();
    AttachError::helper(e, hint)
}

/// The address of the host's default-route interface and its gateway (what pasta copies into the
/// container).
fn host_route() -> Option<(Ipv4Addr, Ipv4Addr)> {
    let table = std::fs::read_to_string("/proc/net/route").ok()?;
    let (iface, gw) = table.lines().skip(1).find_map(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        (f.len() > 2 && f[1] == "00000000")
            .then(|| (f[0].to_string(), u32::from_str_radix(f[2], 16).ok()))
    })?;
    let gw = Ipv4Addr::from(u32::from_be(gw?));
    let addr = nix::ifaddrs::getifaddrs().ok()?.find_map(|a| {
        (a.interface_name == iface)
            .then(|| a.address.and_then(|s| s.as_sockaddr_in().map(|s| s.ip())))
            .flatten()
    })?;
    Some((addr, gw))
}

/// The host's first IPv4 address that is not loopback, link-local or one of `exclude`, in
/// interface order (podman's choice for `host.containers.internal`).
fn host_address(exclude: &[Ipv4Addr]) -> Option<Ipv4Addr> {
    nix::ifaddrs::getifaddrs().ok()?.find_map(|a| {
        let ip = a.address?.as_sockaddr_in()?.ip();
        let usable = !ip.is_loopback()
            && !ip.is_link_local()
            && !ip.is_unspecified()
            && !ip.is_broadcast()
            && !ip.is_multicast();
        (usable && !exclude.contains(&ip)).then_some(ip)
    })
}

/// The container's own address and the host's as the container reaches it, for /etc/hosts.
///
/// The host's loopback is reached only when the user opted in (slirp4netns's
/// `allow_host_loopback=true`, pasta's `--map-gw`): then through the gateway. Otherwise it is an
/// address of the host's own that the container's traffic reaches through the helper (never the
/// container's own address, which pasta copies from the host), or none at all.
fn addresses(mode: &Mode, conf: &network::NetworkConf) -> (Option<String>, Option<String>) {
    let (own, host) = match mode {
        Mode::Slirp4netns(o) => (
            Some(network::slirp::guest_addr(o)),
            if o.allow_host_loopback {
                Some(network::slirp::gateway(o))
            } else {
                host_address(&[])
            },
        ),
        Mode::Pasta(extra) => {
            let options = pasta_options(&conf.pasta_options, extra);
            let opt = |names: &[&str]| {
                network::pasta::option_value(&options, names).and_then(|v| v.parse().ok())
            };
            let route = host_route();
            let own = opt(&["-a", "--address"]).or(route.map(|(a, _)| a));
            let host = if let Some(mapped) = opt(&["--map-host-loopback"]) {
                Some(mapped)
            } else if network::pasta::maps_gateway(&options) {
                opt(&["-g", "--gateway"]).or(route.map(|(_, gw)| gw))
            } else {
                host_address(&own.into_iter().collect::<Vec<_>>())
            };
            (own, host)
        }
        // Through the rootless network namespace's slirp4netns (which keeps the host's loopback
        // out); the container's own addresses are added once it is attached.
        Mode::Bridge(_) => (None, host_address(&[])),
        _ => (None, None),
    };
    let host = match conf.host_containers_internal_ip.as_deref() {
        Some("none") => None,
        Some(ip) => Some(ip.to_string()),
        None => host.map(|h| h.to_string()),
    };
    (own.map(|o| o.to_string()), host)
}

/// /etc/hosts for a container not on the host network (`None` with `--no-hosts`: the image's own).
pub fn hosts_file(
    c: &Container,
    conf: &network::NetworkConf,
) -> Result<Option<String>, EngineError> {
    let n = &c.spec.net;
    if n.no_hosts {
        return Ok(None);
    }
    let mode = mode_of(c);
    let (own, host) = addresses(&mode, conf);
    let mut s = String::from(
        "127.0.0.1\tlocalhost localhost.localdomain localhost4 localhost4.localdomain4\n\
         ::1\tlocalhost localhost.localdomain localhost6 localhost6.localdomain6\n",
    );
    for (h, ip) in &n.add_hosts {
        let ip = if ip == "host-gateway" {
            host.as_deref().ok_or_else(|| {
                invalid(format!(
                    "--add-host `{h}:host-gateway`: no address of the host is reachable from this container \
                     (the host's loopback is not, unless you allow it); set host_containers_internal_ip in containers.conf, \
                     give the address yourself (--add-host {h}:IP), or allow the host's loopback (--network pasta:--map-gw, slirp4netns:allow_host_loopback=true)"
                ))
            })?
        } else {
            ip.as_str()
        };
        s.push_str(&format!("{ip}\t{h}\n"));
    }
    if let Some(h) = &host {
        s.push_str(&format!(
            "{h}\thost.containers.internal host.docker.internal\n"
        ));
    }
    let own = own.unwrap_or_else(|| "127.0.1.1".into());
    s.push_str(&format!("{own}\t{} {}\n", c.spec.hostname, c.record.name));
    Ok(Some(s))
}

/// /etc/resolv.conf: `--dns*` flags over the host's file; slirp4netns answers DNS itself at `.3`,
/// and a loopback server of the host cannot be reached from a namespace of our own.
pub fn resolv_conf(c: &Container, host_resolv: &str) -> String {
    let n = &c.spec.net;
    let mode = mode_of(c);
    let mut servers: Vec<String> = Vec::new();
    let mut search: Vec<String> = Vec::new();
    let mut options: Vec<String> = Vec::new();
    for line in host_resolv.lines() {
        let mut f = line.split_whitespace();
        match (f.next(), mode == Mode::Host) {
            (Some("nameserver"), host) => {
                if let Some(a) = f.next()
                    && (host || !a.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback()))
                {
                    servers.push(a.to_string());
                }
            }
            (Some("search" | "domain"), _) => search.extend(f.map(str::to_string)),
            (Some("options"), _) => options.extend(f.map(str::to_string)),
            _ => {}
        }
    }
    if let Mode::Slirp4netns(o) = &mode {
        servers = vec![network::slirp::dns(o).to_string()];
    }
    if !n.dns.is_empty() {
        servers = n.dns.clone();
    }
    if !n.dns_search.is_empty() {
        search = n
            .dns_search
            .iter()
            .filter(|s| s.as_str() != ".")
            .cloned()
            .collect();
    }
    if !n.dns_options.is_empty() {
        options = n.dns_options.clone();
    }
    let mut s = String::new();
    if !search.is_empty() {
        s.push_str(&format!("search {}\n", search.join(" ")));
    }
    for a in servers {
        s.push_str(&format!("nameserver {a}\n"));
    }
    if !options.is_empty() {
        s.push_str(&format!("options {}\n", options.join(" ")));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn container(network: &str, net: NetworkSpec) -> Container {
        let mut c = Container::from_record(crate::store::ContainerRecord {
            id: "abc".into(),
            name: "web".into(),
            image_id: crate::oci::Digest::sha256_of(b"x"),
            image: "busybox".into(),
            created: jiff::Timestamp::now(),
            spec: "{}".into(),
            state: "{}".into(),
        });
        c.spec.network = network.into();
        c.spec.hostname = "abc".into();
        c.spec.net = net;
        c
    }

    #[test]
    fn add_host_forms() {
        assert_eq!(
            parse_add_host("db:10.0.0.5").unwrap(),
            ("db".into(), "10.0.0.5".into())
        );
        assert_eq!(
            parse_add_host("gw=host-gateway").unwrap(),
            ("gw".into(), "host-gateway".into())
        );
        assert_eq!(parse_add_host("v6:[::1]").unwrap().1, "::1");
        assert!(parse_add_host("db").is_err());
        assert!(parse_add_host("db:notanip").is_err());
    }

    #[test]
    fn slirp_files() {
        let conf = network::NetworkConf::default();
        let c = container(
            "slirp4netns:allow_host_loopback=true",
            NetworkSpec {
                add_hosts: vec![
                    ("db".into(), "10.1.2.3".into()),
                    ("gw".into(), "host-gateway".into()),
                ],
                ..NetworkSpec::default()
            },
        );
        let hosts = hosts_file(&c, &conf).unwrap().unwrap();
        assert!(hosts.contains("10.1.2.3\tdb\n"), "{hosts}");
        assert!(hosts.contains("10.0.2.2\tgw\n"), "{hosts}");
        assert!(
            hosts.contains("10.0.2.2\thost.containers.internal"),
            "{hosts}"
        );
        assert!(hosts.ends_with("10.0.2.100\tabc web\n"), "{hosts}");
        let r = resolv_conf(
            &c,
            "nameserver 127.0.0.53\nsearch example.org\noptions edns0\n",
        );
        assert_eq!(
            r,
            "search example.org\nnameserver 10.0.2.3\noptions edns0\n"
        );
    }

    #[test]
    fn host_loopback_only_when_allowed() {
        let conf = network::NetworkConf::default();
        // The gateway reaches the host's loopback: never named without the opt-in.
        for mode in ["slirp4netns", "pasta"] {
            let hosts = hosts_file(&container(mode, NetworkSpec::default()), &conf)
                .unwrap()
                .unwrap();
            assert!(!hosts.contains("10.0.2.2\t"), "{mode}: {hosts}");
            if let Some((_, gw)) = host_route() {
                assert!(!hosts.contains(&format!("{gw}\t")), "{mode}: {hosts}");
            }
        }
        if let Some((_, gw)) = host_route() {
            let hosts = hosts_file(&container("pasta:--map-gw", NetworkSpec::default()), &conf)
                .unwrap()
                .unwrap();
            assert!(
                hosts.contains(&format!("{gw}\thost.containers.internal")),
                "{hosts}"
            );
        }
        // containers.conf's choice wins; `none` drops the entry, and host-gateway has nothing to
        // stand for then.
        let set = |ip: &str| network::NetworkConf {
            host_containers_internal_ip: Some(ip.into()),
            ..network::NetworkConf::default()
        };
        let c = container("pasta", NetworkSpec::default());
        let hosts = hosts_file(&c, &set("192.0.2.77")).unwrap().unwrap();
        assert!(
            hosts.contains("192.0.2.77\thost.containers.internal"),
            "{hosts}"
        );
        let hosts = hosts_file(&c, &set("none")).unwrap().unwrap();
        assert!(!hosts.contains("host.containers.internal"), "{hosts}");
        let c = container(
            "pasta",
            NetworkSpec {
                add_hosts: vec![("gw".into(), "host-gateway".into())],
                ..NetworkSpec::default()
            },
        );
        let e = hosts_file(&c, &set("none")).unwrap_err().to_string();
        assert!(
            e.contains("gw:host-gateway") && e.contains("--map-gw"),
            "{e}"
        );
    }

    #[test]
    fn dns_flags_override() {
        let c = container(
            "pasta",
            NetworkSpec {
                dns: vec!["192.0.2.53".into()],
                dns_search: vec![".".into()],
                dns_options: vec!["ndots:2".into()],
                no_hosts: true,
                ..NetworkSpec::default()
            },
        );
        assert!(
            hosts_file(&c, &network::NetworkConf::default())
                .unwrap()
                .is_none()
        );
        let r = resolv_conf(&c, "nameserver 10.255.255.53\nsearch example.org\n");
        assert_eq!(r, "nameserver 192.0.2.53\noptions ndots:2\n");
        let c = container("pasta", NetworkSpec::default());
        let r = resolv_conf(&c, "nameserver 127.0.0.53\nnameserver 10.255.255.53\n");
        assert_eq!(r, "nameserver 10.255.255.53\n");
    }

    #[test]
    fn low_ports_name_the_sysctl() {
        let start = network::unprivileged_port_start();
        if start == 0 {
            return;
        }
        let e = assign_host_ports(network::parse_publish(&format!("{}:80", start - 1)).unwrap())
            .unwrap_err();
        assert!(
            e.to_string()
                .contains("net.ipv4.ip_unprivileged_port_start"),
            "{e}"
        );
    }
}
