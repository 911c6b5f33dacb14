//! Network use cases: create, list, inspect, remove, prune, exists, connect, disconnect; and for the
//! container runtime, attaching a starting container to its bridge networks and detaching it.
#![deny(clippy::print_stdout, clippy::print_stderr)]

use std::collections::BTreeMap;
use std::net::IpAddr;

use super::container::{self, Container, Status};
use super::{Ctx, EngineError};
use crate::network::client::{self, Launch};
use crate::network::netavark::{Attached, PerNetwork};
use crate::network::ports::PortMapping;
use crate::network::{NetworkError, config, defs};

pub use crate::network::Network;
pub use crate::network::config::CreateNetworkOptions;

/// `spec.network` of a container on bridge networks (podman's NetworkMode).
pub const BRIDGE_MODE: &str = "bridge";

/// A `network ls --filter`.
#[derive(Debug, Clone, PartialEq)]
pub enum NetworkFilter {
    Name(String),
    Id(String),
    Driver(String),
    Label(String, Option<String>),
}

pub fn parse_filter(f: &str) -> Result<NetworkFilter, NetworkError> {
    let (k, v) = f
        .split_once('=')
        .ok_or_else(|| NetworkError::Invalid(format!("invalid filter {f:?}")))?;
    Ok(match k {
        "name" => NetworkFilter::Name(v.into()),
        "id" => NetworkFilter::Id(v.into()),
        "driver" => NetworkFilter::Driver(v.into()),
        "label" => match v.split_once('=') {
            Some((k, v)) => NetworkFilter::Label(k.into(), Some(v.into())),
            None => NetworkFilter::Label(v.into(), None),
        },
        _ => return Err(NetworkError::Invalid(format!("invalid filter {k:?}"))),
    })
}

fn matches(n: &Network, f: &NetworkFilter) -> bool {
    match f {
        // podman matches names as regular expressions; a substring match covers the usual use.
        NetworkFilter::Name(s) => regex_lite::Regex::new(s)
            .map(|r| r.is_match(&n.name))
            .unwrap_or_else(|_| n.name.contains(s.as_str())),
        NetworkFilter::Id(s) => n.id.starts_with(s.as_str()),
        NetworkFilter::Driver(s) => &n.driver == s,
        NetworkFilter::Label(k, v) => n
            .labels
            .get(k)
            .is_some_and(|x| v.as_ref().is_none_or(|v| v == x)),
    }
}

fn lock(ctx: &Ctx) -> Result<nix::fcntl::Flock<std::fs::File>, EngineError> {
    let dir = defs::dir(&ctx.paths.data);
    std::fs::create_dir_all(&dir).map_err(|e| EngineError::io("create", &dir, e))?;
    let path = dir.join(".lock");
    let f = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| EngineError::io("open", &path, e))?;
    nix::fcntl::Flock::lock(f, nix::fcntl::FlockArg::LockExclusive)
        .map_err(|(_, e)| EngineError::io("lock", &path, e.into()))
}

/// `network create`.
pub fn create(ctx: &Ctx, opts: &CreateNetworkOptions) -> Result<Network, EngineError> {
    let _lock = lock(ctx)?;
    let existing = defs::load_all(&ctx.paths.data)?;
    let name = match &opts.name {
        Some(n) => n.clone(),
        None => (0..)
            .map(|i| format!("podman{}", i + 1))
            .find(|c| !existing.iter().any(|n| &n.name == c))
            .expect("an unbounded range has a free name"),
    };
    if let Some(n) = existing.iter().find(|n| n.name == name) {
        if opts.ignore {
            return Ok(n.clone());
        }
        return Err(NetworkError::Exists(name).into());
    }
    let id = hex::encode(rand::random::<[u8; 32]>());
    let net = config::build(
        opts,
        &existing,
        name,
        id,
        defs::rfc3339(jiff::Timestamp::now()),
    )?;
    defs::save(&ctx.paths.data, &net)?;
    Ok(net)
}

/// `network ls`: every network (the default one included) that passes all filters.
pub fn list(ctx: &Ctx, filters: &[NetworkFilter]) -> Result<Vec<Network>, EngineError> {
    Ok(defs::load_all(&ctx.paths.data)?
        .into_iter()
        .filter(|n| filters.iter().all(|f| matches(n, f)))
        .collect())
}

/// The names of the networks in the store at `data` (for shell completion: no context, no errors).
pub fn names(data: &std::path::Path) -> Vec<String> {
    defs::load_all(data)
        .unwrap_or_default()
        .into_iter()
        .map(|n| n.name)
        .collect()
}

pub fn inspect(ctx: &Ctx, key: &str) -> Result<Network, EngineError> {
    Ok(defs::find(&ctx.paths.data, key)?)
}

pub fn exists(ctx: &Ctx, key: &str) -> Result<bool, EngineError> {
    match defs::find(&ctx.paths.data, key) {
        Ok(_) => Ok(true),
        Err(NetworkError::NotFound(_)) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// Containers whose spec names network `name`.
fn users(ctx: &Ctx, name: &str) -> Result<Vec<Container>, EngineError> {
    Ok(container::list(ctx)?
        .into_iter()
        .filter(|c| c.spec.networks.contains_key(name))
        .collect())
}

#[derive(Debug, Default)]
pub struct RemoveNetworksReport {
    pub removed: Vec<String>,
    pub errors: Vec<EngineError>,
}

/// `network rm`: with `force`, the containers using a network are removed first (podman).
pub fn remove(ctx: &Ctx, keys: &[String], force: bool) -> RemoveNetworksReport {
    let mut report = RemoveNetworksReport::default();
    for k in keys {
        match remove_one(ctx, k, force) {
            Ok(name) => report.removed.push(name),
            Err(e) => report.errors.push(e),
        }
    }
    report
}

fn remove_one(ctx: &Ctx, key: &str, force: bool) -> Result<String, EngineError> {
    let net = defs::find(&ctx.paths.data, key)?;
    if net.name == config::DEFAULT_NAME {
        return Err(NetworkError::Default(net.name).into());
    }
    let using = users(ctx, &net.name)?;
    if !using.is_empty() {
        if !force {
            return Err(NetworkError::InUse {
                name: net.name.clone(),
                containers: using
                    .iter()
                    .map(|c| c.record.id[..12].to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
            }
            .into());
        }
        let mut store = ctx.store()?;
        for c in &using {
            container::remove_one(ctx, &mut store, c, true)?;
        }
    }
    let _lock = lock(ctx)?;
    defs::remove(&ctx.paths.data, &net.name)?;
    Ok(net.name)
}

/// `network prune`: remove the networks no container uses (never the default one).
pub fn prune(ctx: &Ctx) -> Result<RemoveNetworksReport, EngineError> {
    let all = container::list(ctx)?;
    let unused: Vec<String> = defs::load_all(&ctx.paths.data)?
        .into_iter()
        .filter(|n| n.name != config::DEFAULT_NAME)
        .filter(|n| !all.iter().any(|c| c.spec.networks.contains_key(&n.name)))
        .map(|n| n.name)
        .collect();
    Ok(remove(ctx, &unused, false))
}

/// Parse `--network` values that name networks: `NAME[:ip=…,alias=…,mac=…,interface_name=…]`, several
/// separated by commas (a comma-separated `key=value` continues the previous network's options).
pub fn parse_network_flag(value: &str) -> Result<Vec<(String, PerNetwork)>, NetworkError> {
    let mut out: Vec<(String, PerNetwork)> = Vec::new();
    for part in value.split(',').filter(|p| !p.is_empty()) {
        // `key=value` (before any `:`) continues the previous network's options.
        let (name, opts) = match (part.find(':'), part.find('=')) {
            (_, Some(eq)) if part.find(':').is_none_or(|c| eq < c) => (None, Some(part)),
            (Some(c), _) => (Some(&part[..c]), Some(&part[c + 1..])),
            (None, _) => (Some(part), None),
        };
        if let Some(n) = name {
            config::validate_name(n)?;
            out.push((n.to_string(), PerNetwork::default()));
        }
        let Some((_, per)) = out.last_mut() else {
            return Err(NetworkError::Invalid(format!("invalid network `{value}`")));
        };
        for o in opts.into_iter().flat_map(|o| o.split(',')) {
            let (k, v) = o
                .split_once('=')
                .ok_or_else(|| NetworkError::Invalid(format!("invalid network option `{o}`")))?;
            match k {
                "ip" | "ip6" => per.static_ips.push(
                    v.parse()
                        .map_err(|_| NetworkError::BadAddress(v.to_string()))?,
                ),
                "alias" => per.aliases.push(v.to_string()),
                "mac" => per.static_mac = Some(parse_mac(v)?),
                "interface_name" => per.interface_name = v.to_string(),
                _ => {
                    return Err(NetworkError::Invalid(format!(
                        "unknown bridge network option `{k}`"
                    )));
                }
            }
        }
    }
    Ok(out)
}

/// A MAC address `aa:bb:cc:dd:ee:ff`.
pub fn parse_mac(s: &str) -> Result<String, NetworkError> {
    let parts: Vec<&str> = s.split(':').collect();
    if parts.len() == 6
        && parts
            .iter()
            .all(|p| p.len() == 2 && p.chars().all(|c| c.is_ascii_hexdigit()))
    {
        Ok(s.to_ascii_lowercase())
    } else {
        Err(NetworkError::Invalid(format!("invalid MAC address `{s}`")))
    }
}

/// Check a new container's networks: they exist (names or ids become names), and static addresses
/// fall in their subnets.
pub fn resolve_for_create(
    ctx: &Ctx,
    requested: &BTreeMap<String, PerNetwork>,
) -> Result<BTreeMap<String, PerNetwork>, EngineError> {
    let mut out = BTreeMap::new();
    for (key, per) in requested {
        let net = defs::find(&ctx.paths.data, key)?;
        check_static(&net, per)?;
        out.insert(net.name, per.clone());
    }
    Ok(out)
}

fn check_static(net: &Network, per: &PerNetwork) -> Result<(), NetworkError> {
    for ip in &per.static_ips {
        if !net.subnets.iter().any(|s| s.subnet.contains(*ip)) {
            return Err(NetworkError::Invalid(format!(
                "requested static ip {ip} not in any subnet on network {}",
                net.name
            )));
        }
    }
    Ok(())
}

fn launch(ctx: &Ctx) -> Result<Launch, EngineError> {
    Ok(Launch {
        exe: std::env::current_exe().map_err(|e| EngineError::io("find", "/proc/self/exe", e))?,
        data: ctx.paths.data.clone(),
        runtime: ctx.paths.runtime.clone(),
    })
}

/// The runtime's [`crate::runtime::Attach`] for a container on bridge networks: once the container's
/// namespaces exist, while it builds its root, attach it (a no-op for other network modes).
/// Dropped after the container has ended, it detaches the container (the holder also does so by
/// itself when the container's process exits).
pub struct BridgeAttach {
    ctx: Ctx,
    c: Container,
    pid: Option<(i32, std::fs::File)>,
    ports: Vec<PortMapping>,
    attached: bool,
}

impl BridgeAttach {
    pub fn new(ctx: &Ctx, c: &Container) -> BridgeAttach {
        BridgeAttach {
            ctx: ctx.clone(),
            c: c.clone(),
            pid: None,
            ports: Vec::new(),
            attached: false,
        }
    }

    /// Publish these ports (`-p`): host ports relayed to the container's address.
    pub fn with_ports(mut self, ports: Vec<PortMapping>) -> BridgeAttach {
        self.ports = ports;
        self
    }
}

use crate::runtime::AttachError;

impl crate::runtime::Attach for BridgeAttach {
    fn created(&mut self, pid: nix::unistd::Pid) -> Result<(), AttachError> {
        if !self.c.spec.networks.is_empty() {
            let netns =
                client::open_netns(pid.as_raw()).map_err(|e| AttachError::helper(e, None))?;
            self.pid = Some((pid.as_raw(), netns));
        }
        Ok(())
    }

    fn ready(&mut self) -> Result<(), AttachError> {
        match self.pid.take() {
            Some((pid, netns)) => {
                let ports = std::mem::take(&mut self.ports);
                attach(&self.ctx, &self.c, pid, &netns, ports)
                    .map_err(|e| AttachError::helper(e, None))?;
                self.attached = true;
                Ok(())
            }
            None => Ok(()),
        }
    }
}

impl Drop for BridgeAttach {
    fn drop(&mut self) {
        if self.attached {
            let _ = detach(&self.ctx, &self.c);
        }
    }
}

/// For a starting container on bridge networks (whose pid 1 is `pid`, still waiting in its new
/// network namespace): attach it to each network, then add its addresses and `--link`s to its hosts
/// file. Nothing to do for other network modes.
pub fn attach(
    ctx: &Ctx,
    c: &Container,
    pid: i32,
    netns: &std::fs::File,
    ports: Vec<PortMapping>,
) -> Result<(), EngineError> {
    if c.spec.networks.is_empty() {
        return Ok(());
    }
    let mut nets = Vec::new();
    for (name, per) in &c.spec.networks {
        // podman also registers the short id as a DNS name.
        let mut per = per.clone();
        per.aliases.insert(0, c.record.id[..12].to_string());
        nets.push((
            config::for_netavark(&defs::find(&ctx.paths.data, name)?),
            per,
        ));
    }
    // Interfaces in the order the networks were given: eth0 for the first one.
    let status = client::setup(
        &launch(ctx)?,
        &c.record.id,
        &c.record.name,
        pid,
        netns,
        nets,
        ports,
    )?;
    let mut lines = String::new();
    for a in status.values() {
        for (ip, _) in &a.addresses {
            lines.push_str(&format!("{ip}\t{} {}\n", c.spec.hostname, c.record.name));
        }
    }
    lines.push_str(&link_lines(ctx, c));
    append_hosts(ctx, &c.record.id, &lines);
    fill_resolv_conf(ctx, c);
    Ok(())
}

/// Point the container's resolv.conf at aardvark-dns on its networks' gateways (podman's servers for
/// a network with DNS), keeping its search domains and options, unless `--dns` chose servers. The
/// file is rewritten in place: the container bind-mounts it.
fn fill_resolv_conf(ctx: &Ctx, c: &Container) {
    let e = etc_entries(ctx, &c.spec);
    if e.nameservers.is_empty() || !c.spec.net.dns.is_empty() {
        return;
    }
    let path = container::runtime_dir(ctx, &c.record.id).join("resolv.conf");
    let old = std::fs::read_to_string(&path).unwrap_or_default();
    let _ = std::fs::write(&path, e.merged_resolv_conf(&old));
}

/// `/etc/hosts` lines for `--link NAME[:ALIAS]`: the linked container's address on a shared network.
fn link_lines(ctx: &Ctx, c: &Container) -> String {
    let Ok(store) = ctx.store() else {
        return String::new();
    };
    let mut lines = String::new();
    for link in &c.spec.links {
        let (name, alias) = link.split_once(':').unwrap_or((link, link));
        let Ok(other) = container::find(&store, name) else {
            continue;
        };
        let theirs = client::status(&ctx.paths.runtime, &other.record.id);
        let shared = theirs
            .iter()
            .find(|(net, _)| c.spec.networks.contains_key(*net))
            .and_then(|(_, a)| a.addresses.first());
        if let Some((ip, _)) = shared {
            lines.push_str(&format!("{ip}\t{alias} {}\n", other.record.name));
        }
    }
    lines
}

/// Append to the container's hosts file in place (it is bind-mounted, so the container sees it).
fn append_hosts(ctx: &Ctx, id: &str, lines: &str) {
    use std::io::Write;
    if lines.is_empty() {
        return;
    }
    let path = container::runtime_dir(ctx, id).join("hosts");
    if let Ok(mut f) = std::fs::OpenOptions::new().append(true).open(&path) {
        let _ = f.write_all(lines.as_bytes());
    }
}

/// Detach a container that ended (or is being removed) from all its networks.
pub fn detach(ctx: &Ctx, c: &Container) -> Result<(), EngineError> {
    if c.spec.networks.is_empty() {
        return Ok(());
    }
    Ok(client::teardown(&ctx.paths.runtime, &c.record.id, None)?)
}

/// The interfaces of a running container, per network (for inspect).
pub fn status(ctx: &Ctx, c: &Container) -> BTreeMap<String, Attached> {
    if c.spec.networks.is_empty() || c.state.status != Status::Running {
        return BTreeMap::new();
    }
    client::status(&ctx.paths.runtime, &c.record.id)
}

/// What a container's /etc/resolv.conf and /etc/hosts need from its networks (for `files.rs`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EtcEntries {
    /// aardvark-dns on the gateway of each network with DNS; empty when none has it.
    pub nameservers: Vec<IpAddr>,
    /// podman's search domain for container names.
    pub search: Vec<String>,
}

impl EtcEntries {
    /// resolv.conf text: `search` and `nameserver` lines.
    pub fn resolv_conf(&self) -> String {
        self.merged_resolv_conf("")
    }

    /// `current` with our search domains first and our servers instead of its own.
    pub fn merged_resolv_conf(&self, current: &str) -> String {
        let mut search = self.search.clone();
        let mut rest = String::new();
        for line in current.lines() {
            let mut f = line.split_whitespace();
            match f.next() {
                Some("search" | "domain") => {
                    for d in f {
                        if !search.iter().any(|s| s == d) {
                            search.push(d.to_string());
                        }
                    }
                }
                Some("nameserver") => {}
                _ if line.trim().is_empty() => {}
                _ => {
                    rest.push_str(line);
                    rest.push('\n');
                }
            }
        }
        let mut s = String::new();
        if !search.is_empty() {
            s.push_str(&format!("search {}\n", search.join(" ")));
        }
        for n in &self.nameservers {
            s.push_str(&format!("nameserver {n}\n"));
        }
        s + &rest
    }
}

/// The resolver settings for a container on bridge networks (empty for other modes).
pub fn etc_entries(ctx: &Ctx, spec: &container::ContainerSpec) -> EtcEntries {
    let mut e = EtcEntries::default();
    for name in spec.networks.keys() {
        let Ok(net) = defs::find(&ctx.paths.data, name) else {
            continue;
        };
        if !net.dns_enabled {
            continue;
        }
        for s in &net.subnets {
            if let Some(g) = s.gateway
                && !e.nameservers.contains(&g)
            {
                e.nameservers.push(g);
            }
        }
    }
    if !e.nameservers.is_empty() {
        e.search.push("dns.podman".into());
    }
    e
}

/// `network connect`: add a network to a container, and attach it now when it runs.
pub fn connect(
    ctx: &Ctx,
    key: &str,
    container_key: &str,
    per: PerNetwork,
) -> Result<(), EngineError> {
    let net = defs::find(&ctx.paths.data, key)?;
    check_static(&net, &per)?;
    let mut store = ctx.store()?;
    let c = container::find(&store, container_key)?;
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
        client::setup(
            &launch(ctx)?,
            &c.record.id,
            &c.record.name,
            c.state.pid,
            &client::open_netns(c.state.pid)?,
            vec![(config::for_netavark(&net), per.clone())],
            Vec::new(),
        )?;
    }
    let mut spec = c.spec.clone();
    spec.networks.insert(net.name, per);
    store.set_container_spec(
        &c.record.id,
        &serde_json::to_string(&spec).expect("spec serializes"),
    )?;
    Ok(())
}

/// `network disconnect`: take a network from a container (detaching it now when it runs).
pub fn disconnect(ctx: &Ctx, key: &str, container_key: &str) -> Result<(), EngineError> {
    let net = defs::find(&ctx.paths.data, key)?;
    let mut store = ctx.store()?;
    let c = container::find(&store, container_key)?;
    if !c.spec.networks.contains_key(&net.name) {
        return Err(NetworkError::Invalid(format!(
            "container {} is not connected to network {}",
            c.record.id, net.name
        ))
        .into());
    }
    if c.state.status == Status::Running {
        client::teardown(
            &ctx.paths.runtime,
            &c.record.id,
            Some(vec![net.name.clone()]),
        )?;
    }
    let mut spec = c.spec.clone();
    spec.networks.remove(&net.name);
    store.set_container_spec(
        &c.record.id,
        &serde_json::to_string(&spec).expect("spec serializes"),
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn network_flag_syntax() {
        let v = parse_network_flag("a,b").unwrap();
        assert_eq!(v.len(), 2);
        assert_eq!(v[1].0, "b");
        let v = parse_network_flag("a:ip=10.89.0.5,alias=x,alias=y,mac=AA:bb:cc:dd:ee:ff").unwrap();
        assert_eq!(v.len(), 1);
        assert_eq!(
            v[0].1.static_ips,
            vec!["10.89.0.5".parse::<IpAddr>().unwrap()]
        );
        assert_eq!(v[0].1.aliases, vec!["x", "y"]);
        assert_eq!(v[0].1.static_mac.as_deref(), Some("aa:bb:cc:dd:ee:ff"));
        assert!(parse_network_flag("a:ip=nope").is_err());
        assert!(parse_network_flag("a:zzz=1").is_err());
        assert!(parse_network_flag("ip=1.2.3.4").is_err());
        assert!(parse_mac("aa:bb").is_err());
    }

    #[test]
    fn resolv_conf_keeps_search_and_options() {
        let e = EtcEntries {
            nameservers: vec!["10.89.0.1".parse().unwrap()],
            search: vec!["dns.podman".into()],
        };
        assert_eq!(
            e.merged_resolv_conf("search example.com\nnameserver 9.9.9.9\noptions ndots:2\n"),
            "search dns.podman example.com\nnameserver 10.89.0.1\noptions ndots:2\n"
        );
        assert_eq!(e.resolv_conf(), "search dns.podman\nnameserver 10.89.0.1\n");
    }

    #[test]
    fn filters() {
        let n = config::default_network("now");
        assert!(matches(&n, &parse_filter("name=pod").unwrap()));
        assert!(matches(&n, &parse_filter("driver=bridge").unwrap()));
        assert!(matches(&n, &parse_filter("id=2f25").unwrap()));
        assert!(!matches(&n, &parse_filter("label=a").unwrap()));
        assert!(parse_filter("bogus=1").is_err());
    }
}
