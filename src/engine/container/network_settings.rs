//! A container's network settings: the mode and ports asked for at create time, resolved into what
//! is stored (random host ports chosen once, so `port` and restarts agree); the
//! [`ContainerNetwork`] handed to `engine::network` to attach each run and write its hosts files;
//! and `network connect`/`disconnect`, which change what is stored.
use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, TcpListener, UdpSocket};
use std::path::PathBuf;

use super::{Container, Status};
use crate::engine::network::{
    BRIDGE_MODE, ContainerNetwork, Link, NetFlagError, NetworkAttachment, NetworkSpec, attach,
    hostfiles,
};
use crate::engine::{Ctx, EngineError};
use crate::network::netavark::{NetworkInterface, PerNetwork};
use crate::network::{self, Helper, Mode, NetworkError, PortMapping, Protocol};
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

/// Which network `private`/the default means when containers.conf does not say: roost's built-in
/// one when libslirp can be loaded (no helper process: the fastest to start and the smallest, see
/// bench/README.md), else pasta when installed (podman 5's default), else slirp4netns.
pub fn default_helper(helpers: &crate::helpers::Helpers) -> Helper {
    if crate::network::builtin::available().is_ok() {
        return Helper::Builtin;
    }
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

/// `HOST[;HOST...]:IP` (or `=IP`; `host-gateway` names the host) → (hosts, ip), the hosts still
/// separated by `;`.
fn parse_add_host(s: &str) -> Result<(String, String), EngineError> {
    let (h, ip) = s
        .split_once(['=', ':'])
        .filter(|(h, ip)| !ip.is_empty() && h.split(';').all(|n| !n.is_empty()))
        .ok_or_else(|| NetFlagError::AddHostSyntax(s.to_string()))?;
    let ip = ip.trim_start_matches('[').trim_end_matches(']');
    if ip != "host-gateway" && ip.parse::<IpAddr>().is_err() {
        return Err(NetFlagError::AddHostIp {
            arg: s.to_string(),
            ip: ip.to_string(),
        }
        .into());
    }
    Ok((h.to_string(), ip.to_string()))
}

/// `req` with each `-p` that names no host address published on each of containers.conf's
/// `default_host_ips` instead (podman), when there are any.
pub fn with_default_host_ips(req: &NetworkRequest, ips: &[IpAddr]) -> NetworkRequest {
    let mut req = req.clone();
    if ips.is_empty() {
        return req;
    }
    req.publish = req
        .publish
        .into_iter()
        .flat_map(|m| match m.host_ip {
            Some(_) => vec![m],
            None => ips
                .iter()
                .map(|ip| PortMapping {
                    host_ip: Some(*ip),
                    ..m.clone()
                })
                .collect(),
        })
        .collect();
    req
}

/// Check and complete the network flags; returns the mode to store and the rest.
pub fn resolve(
    store: &Store,
    default: impl FnOnce() -> Helper,
    req: &NetworkRequest,
    image_exposed: &[String],
) -> Result<(String, NetworkSpec), EngineError> {
    // The default's probe loads libslirp: pod members (`container:INFRA`), `none`, `host`… skip it.
    let mode = network::parse_mode(&req.mode, default).map_err(NetFlagError::from)?;
    if let Mode::Builtin(_) = mode {
        network::builtin::available().map_err(NetFlagError::NoLibslirp)?;
    }
    let stored_mode = stored_mode(store, &mode, req)?;
    let exposed = exposed_ports(image_exposed, req)?;
    let ports = published_ports(req, &exposed, &mode)?;
    let ports = assign_host_ports(ports)?;
    if req.ports_must_be_free {
        // pasta and the built-in network (with IPv6) listen on IPv6 too; slirp4netns and the
        // bridge relay on IPv4 only.
        let ipv6 = match &mode {
            Mode::Pasta(_) => true,
            Mode::Builtin(o) => o.enable_ipv6,
            _ => false,
        };
        network::ports::check_free(&ports, ipv6).map_err(network::NetworkError::from)?;
    }
    let add_hosts = req
        .add_hosts
        .iter()
        .map(|h| parse_add_host(h))
        .collect::<Result<_, _>>()?;
    check_dns(req)?;
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

/// The network mode as stored: a container's by its id, the default helper by name.
fn stored_mode(store: &Store, mode: &Mode, req: &NetworkRequest) -> Result<String, EngineError> {
    Ok(match mode {
        Mode::Container(key) => {
            let other = super::lifecycle::find(store, key)?;
            format!("container:{}", other.record.id)
        }
        // The networks themselves are checked and stored by `engine::network::resolve_for_create`.
        Mode::Bridge(_) => BRIDGE_MODE.to_string(),
        // The default helper, by its name (`private` and no `--network` are stored resolved).
        Mode::Pasta(_) | Mode::Slirp4netns(_) | Mode::Builtin(_)
            if req.mode.is_empty() || req.mode == "private" =>
        {
            mode.kind().to_string()
        }
        _ => req.mode.clone(),
    })
}

/// The image's and `--expose`d ports, each once.
fn exposed_ports(
    image_exposed: &[String],
    req: &NetworkRequest,
) -> Result<Vec<(u16, Protocol)>, EngineError> {
    let mut exposed: Vec<(u16, Protocol)> = Vec::new();
    for e in image_exposed.iter().chain(&req.expose) {
        let (p, n, proto) = network::ports::parse_expose(e).map_err(NetFlagError::from)?;
        for port in p..p.saturating_add(n) {
            if !exposed.contains(&(port, proto)) {
                exposed.push((port, proto));
            }
        }
    }
    Ok(exposed)
}

/// `--publish`, and with `--publish-all` the exposed ports not published yet; none with `--network
/// host` (a warning), an error with a mode that cannot publish.
fn published_ports(
    req: &NetworkRequest,
    exposed: &[(u16, Protocol)],
    mode: &Mode,
) -> Result<Vec<PortMapping>, EngineError> {
    let mut ports = req.publish.clone();
    if req.publish_all {
        for &(p, proto) in exposed {
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
        if *mode == Mode::Host {
            tracing::warn!(
                "port mappings have been discarded: the host network mode publishes nothing"
            );
            ports.clear();
        } else {
            return Err(NetFlagError::PublishWithoutNetwork(mode.kind().to_string()).into());
        }
    }
    Ok(ports)
}

/// `--dns`: IP addresses, or `none` alone.
fn check_dns(req: &NetworkRequest) -> Result<(), EngineError> {
    // `--dns none`: no /etc/resolv.conf of roost's; the image's stays as it is.
    if req.dns.iter().any(|d| d == "none") && req.dns.len() > 1 {
        return Err(NetFlagError::DnsNone.into());
    }
    for d in req.dns.iter().filter(|d| *d != "none") {
        if d.parse::<IpAddr>().is_err() {
            return Err(NetFlagError::Dns(d.clone()).into());
        }
    }
    Ok(())
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
            return Err(NetFlagError::PrivilegedPort {
                port: m.host_port,
                start,
            }
            .into());
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
    if stored_mode != BRIDGE_MODE {
        let mode = stored_mode.split(':').next().unwrap_or(stored_mode);
        return Err(NetFlagError::LinkNeedsBridge {
            link: first.clone(),
            mode: mode.to_string(),
        }
        .into());
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
        if other.state.pid <= 0 || other.state.status != Status::Running {
            return Err(NetFlagError::JoinNotRunning(other.record.name).into());
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
    network::parse_mode(&c.spec.network, || Helper::Pasta).unwrap_or(Mode::None)
}

/// `c`'s network as `engine::network` needs it (its `--link`s left out: see [`attachment`]).
pub fn container_network(ctx: &Ctx, c: &Container) -> ContainerNetwork {
    let mode = mode_of(c);
    let shared_hosts = match &mode {
        Mode::Container(other) if !c.spec.net.no_hosts => {
            Some(super::runtime_dir(ctx, other).join("hosts"))
        }
        _ => None,
    };
    ContainerNetwork {
        id: c.record.id.clone(),
        name: c.record.name.clone(),
        hostname: c.spec.hostname.clone(),
        mode,
        networks: c.spec.networks.clone(),
        settings: c.spec.net.clone(),
        links: Vec::new(),
        dir: super::runtime_dir(ctx, &c.record.id),
        shared_hosts,
    }
}

/// `c`'s network as its /etc/hosts and /etc/resolv.conf see it: a container that joins another's
/// network namespace (`--network container:X`, a pod's members) shares that network, so its files
/// follow X's mode (a pod made with `--network host` gives its members the host network's files,
/// with `host.containers.internal` on 127.0.0.1, as podman writes them).
pub fn files_network(ctx: &Ctx, c: &Container) -> ContainerNetwork {
    let mut net = container_network(ctx, c);
    if let Mode::Container(other) = &net.mode
        && let Ok(store) = ctx.store()
        && let Ok(o) = super::lifecycle::find(&store, other)
    {
        match mode_of(&o) {
            Mode::Container(_) => {}
            m => net.mode = m,
        }
    }
    net
}

/// What attaches `c`'s network for one run.
pub fn attachment(ctx: &Ctx, c: &Container) -> NetworkAttachment {
    let mut net = container_network(ctx, c);
    net.links = links(ctx, c);
    NetworkAttachment::new(ctx, net)
}

/// `c`'s `--link NAME[:ALIAS]`s to containers that exist.
fn links(ctx: &Ctx, c: &Container) -> Vec<Link> {
    if c.spec.links.is_empty() {
        return Vec::new();
    }
    let Ok(store) = ctx.store() else {
        return Vec::new();
    };
    c.spec
        .links
        .iter()
        .filter_map(|link| {
            let (name, alias) = link.split_once(':').unwrap_or((link, link));
            let other = super::lifecycle::find(&store, name).ok()?;
            Some(Link {
                alias: alias.to_string(),
                id: other.record.id,
                name: other.record.name,
            })
        })
        .collect()
}

/// `c`'s interfaces per bridge network while it runs (for inspect).
pub fn interfaces(ctx: &Ctx, c: &Container) -> BTreeMap<String, NetworkInterface> {
    if c.spec.networks.is_empty() || c.state.status != Status::Running {
        return BTreeMap::new();
    }
    attach::interfaces(ctx, &c.record.id)
}

/// The running containers on network `name` with their interfaces there (`network inspect`'s
/// `containers`), by container id.
pub fn network_containers(
    ctx: &Ctx,
    name: &str,
) -> Result<BTreeMap<String, (String, NetworkInterface)>, EngineError> {
    let mut out = BTreeMap::new();
    for c in super::lifecycle::list(ctx)? {
        if !c.spec.networks.contains_key(name) {
            continue;
        }
        if let Some(i) = interfaces(ctx, &c).remove(name) {
            out.insert(c.record.id.clone(), (c.record.name.clone(), i));
        }
    }
    Ok(out)
}

/// `network connect`: add a network to a container, and attach it now when it runs.
pub fn connect(
    ctx: &Ctx,
    key: &str,
    container_key: &str,
    per: PerNetwork,
) -> Result<(), EngineError> {
    let net = crate::engine::network::resolve_one(ctx, key, &per)?;
    let mut store = ctx.store()?;
    let c = super::lifecycle::find(&store, container_key)?;
    if c.spec.networks.contains_key(&net.name) {
        return Err(NetworkError::Invalid(format!(
            "container {} is already connected to network {}: network is already connected",
            c.record.id, net.name
        ))
        .into());
    }
    if !c.spec.networks.is_empty() || c.spec.network == BRIDGE_MODE {
        // fine: another bridge network
    } else {
        return Err(NetworkError::Invalid(format!(
            "container {} uses network mode `{}`, not bridge networks",
            c.record.id, c.spec.network
        ))
        .into());
    }
    if c.state.status == Status::Running && c.state.pid > 0 {
        let made = attach::attach_network(
            ctx,
            &c.record.id,
            &c.record.name,
            &c.spec.hostname,
            c.state.pid,
            &net,
            per.clone(),
        )?;
        update_hosts(ctx, &c, &made, hostfiles::add_addresses);
    }
    let event = crate::engine::events::Event::network_member(
        "connect",
        &c.record.id,
        &c.record.name,
        &net.name,
    );
    let mut spec = c.spec.clone();
    spec.networks.insert(net.name, per);
    store.set_container_spec(
        &c.record.id,
        &serde_json::to_string(&spec).expect("spec serializes"),
    )?;
    crate::engine::events::record(ctx, event);
    Ok(())
}

/// A change of a hosts file: the file, the addresses, the names.
type HostsEdit = fn(&std::path::Path, &[IpAddr], &[&str]) -> Result<(), EngineError>;

/// After `network connect` or `disconnect` of the running `c`: `edit` its hosts file with its
/// addresses on the network (`interfaces`) and its names (a failure is only logged: the network
/// change is made).
fn update_hosts(
    ctx: &Ctx,
    c: &Container,
    interfaces: &BTreeMap<String, NetworkInterface>,
    edit: HostsEdit,
) {
    let hosts = super::runtime_dir(ctx, &c.record.id).join("hosts");
    if c.spec.net.no_hosts || !hosts.exists() {
        return;
    }
    let ips: Vec<IpAddr> = interfaces
        .values()
        .flat_map(|i| i.addresses.iter().map(|(ip, _)| *ip))
        .collect();
    if let Err(e) = edit(&hosts, &ips, &[&c.spec.hostname, &c.record.name]) {
        tracing::warn!("updating the hosts file of {}: {e}", c.record.name);
    }
}

/// Whether `network reload` has something to do for `c`: it runs, with a network namespace of its
/// own (not the host's, another container's or a path's, and not `none`).
pub fn reloadable(c: &Container) -> bool {
    c.state.status == Status::Running
        && c.state.pid > 0
        && !matches!(
            mode_of(c),
            Mode::Host | Mode::None | Mode::Container(_) | Mode::Ns(_)
        )
}

/// `network reload` of container `key`; returns its id. Its bridge networks are set up again with
/// the same interfaces, addresses and MAC addresses (netavark's firewall rules and DNS records made
/// anew); a container of pasta, slirp4netns or slirp has its helper's own stack, with nothing to
/// restore.
pub fn reload(ctx: &Ctx, key: &str) -> Result<String, EngineError> {
    let c = super::lifecycle::find(&ctx.store()?, key)?;
    if !reloadable(&c) {
        let why = if c.state.status == Status::Running {
            format!(
                "network mode `{}` has no network of its own",
                c.spec.network
            )
        } else {
            "it is not running".to_string()
        };
        return Err(NetworkError::Invalid(format!(
            "cannot reload the network of container {}: {why}",
            c.record.id
        ))
        .into());
    }
    if !c.spec.networks.is_empty() {
        attach::reload_networks(ctx, &c.record.id)?;
    }
    Ok(c.record.id)
}

/// `network disconnect`: take a network from a container (detaching it now when it runs).
pub fn disconnect(ctx: &Ctx, key: &str, container_key: &str) -> Result<(), EngineError> {
    let net = crate::engine::network::inspect(ctx, key)?;
    let mut store = ctx.store()?;
    let c = super::lifecycle::find(&store, container_key)?;
    if !c.spec.networks.contains_key(&net.name) {
        return Err(NetworkError::Invalid(format!(
            "container {} is not connected to network {}",
            c.record.id, net.name
        ))
        .into());
    }
    if c.state.status == Status::Running {
        let mut had = attach::interfaces(ctx, &c.record.id);
        had.retain(|n, _| *n == net.name);
        attach::detach_network(ctx, &c.record.id, &net.name)?;
        update_hosts(ctx, &c, &had, hostfiles::remove_addresses);
    }
    let mut spec = c.spec.clone();
    spec.networks.remove(&net.name);
    store.set_container_spec(
        &c.record.id,
        &serde_json::to_string(&spec).expect("spec serializes"),
    )?;
    crate::engine::events::record(
        ctx,
        crate::engine::events::Event::network_member(
            "disconnect",
            &c.record.id,
            &c.record.name,
            &net.name,
        ),
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert_eq!(
            parse_add_host("a.fqdn;a:127.0.0.1").unwrap(),
            ("a.fqdn;a".into(), "127.0.0.1".into())
        );
        assert!(parse_add_host("a;:127.0.0.1").is_err());
        assert!(parse_add_host("db").is_err());
        assert!(parse_add_host("db:notanip").is_err());
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
