//! A container's /etc/hosts and /etc/resolv.conf: written into its runtime directory before it starts
//! (bind-mounted over the image's), and, on bridge networks, completed in place once it is attached.
use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;

use super::ContainerNetwork;
use crate::engine::{Ctx, EngineError};
use crate::network::netavark::{NetworkInterface, PerNetwork};
use crate::network::{self, Mode, client, defs};

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
        Mode::Slirp4netns(o) | Mode::Builtin(o) => (
            Some(network::slirp::guest_addr(o)),
            if o.allow_host_loopback {
                Some(network::slirp::gateway(o))
            } else {
                host_address(&[])
            },
        ),
        Mode::Pasta(extra) => {
            let options = network::pasta::merged_options(&conf.pasta_options, extra);
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

/// The container's /etc/hosts (`None` with `--no-hosts`: the image's own).
pub fn hosts_file(
    net: &ContainerNetwork,
    conf: &network::NetworkConf,
) -> Result<Option<String>, EngineError> {
    let n = &net.settings;
    if n.no_hosts {
        return Ok(None);
    }
    if net.mode == Mode::Host {
        return Ok(Some(host_network_hosts(net, conf)));
    }
    let (own, host) = addresses(&net.mode, conf);
    let mut s = base_hosts(conf);
    s.push_str(
        "127.0.0.1\tlocalhost localhost.localdomain localhost4 localhost4.localdomain4\n\
         ::1\tlocalhost localhost.localdomain localhost6 localhost6.localdomain6\n",
    );
    for (h, ip) in &n.add_hosts {
        let ip = if ip == "host-gateway" {
            host.as_deref()
                .ok_or_else(|| EngineError::from(super::NetFlagError::NoHostGateway(h.clone())))?
        } else {
            ip.as_str()
        };
        s.push_str(&format!("{ip}\t{}\n", h.replace(';', " ")));
    }
    if let Some(h) = &host {
        s.push_str(&format!(
            "{h}\thost.containers.internal host.docker.internal\n"
        ));
    }
    // Names the file already has keep their entries (podman adds only the others).
    let free = free_names(&s, &[&net.hostname, &net.name]);
    if !free.is_empty() {
        let own = own.unwrap_or_else(|| "127.0.1.1".into());
        s.push_str(&format!("{own}\t{}\n", free.join(" ")));
    }
    Ok(Some(s))
}

/// Of `names`, those no entry of hosts-file text `hosts` has, each once.
fn free_names<'a>(hosts: &str, names: &[&'a str]) -> Vec<&'a str> {
    let mut free: Vec<&str> = Vec::new();
    for n in names {
        if !names_host(hosts, n) && !free.contains(n) {
            free.push(n);
        }
    }
    free
}

/// A container that joins another's network namespace (`--network container:X`, a pod's members)
/// shares X's /etc/hosts, `shared`: add the joining container's `names` on 127.0.0.1, those the
/// file does not have yet (podman), under the file's lock. The file is changed in place: it is
/// bind-mounted.
pub fn join_shared_hosts(shared: &Path, names: &[&str]) -> Result<(), EngineError> {
    edit_in_place(shared, |text| {
        let free = free_names(text, names);
        if free.is_empty() {
            return text.to_string();
        }
        with_lines(text, &[format!("127.0.0.1\t{}", free.join(" "))])
    })
}

/// The container `name` leaves the shared /etc/hosts `shared`: its 127.0.0.1 entry goes.
pub fn leave_shared_hosts(shared: &Path, name: &str) -> Result<(), EngineError> {
    remove_addresses(shared, &[Ipv4Addr::LOCALHOST.into()], &[name])
}

/// `network connect`: the container's `names` on its new addresses `ips`, in its hosts file
/// `hosts` (in place: it is bind-mounted).
pub fn add_addresses(hosts: &Path, ips: &[IpAddr], names: &[&str]) -> Result<(), EngineError> {
    let entries: Vec<String> = ips
        .iter()
        .map(|ip| format!("{ip}\t{}", names.join(" ")))
        .collect();
    edit_in_place(hosts, |text| with_lines(text, &entries))
}

/// Hosts-file text `text` with `lines` added at its end (on lines of their own).
fn with_lines(text: &str, lines: &[String]) -> String {
    let mut new = text.to_string();
    if !new.is_empty() && !new.ends_with('\n') {
        new.push('\n');
    }
    for l in lines {
        new.push_str(l);
        new.push('\n');
    }
    new
}

/// `network disconnect`: the entries of `ips` that name one of `names` leave the hosts file
/// `hosts` (podman: an entry of the address with one of the names goes whole).
pub fn remove_addresses(hosts: &Path, ips: &[IpAddr], names: &[&str]) -> Result<(), EngineError> {
    edit_in_place(hosts, |text| {
        text.lines()
            .filter(|l| {
                let mut f = l.split('#').next().unwrap_or_default().split_whitespace();
                let ip = f.next().and_then(|a| a.parse::<IpAddr>().ok());
                !(ip.is_some_and(|ip| ips.contains(&ip)) && f.any(|n| names.contains(&n)))
            })
            .map(|l| format!("{l}\n"))
            .collect()
    })
}

/// Rewrite the hosts file `path` with `change`, in place, holding its lock.
fn edit_in_place(path: &Path, change: impl FnOnce(&str) -> String) -> Result<(), EngineError> {
    use std::io::{Read, Seek, Write};
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .map_err(|e| EngineError::io("open", path, e))?;
    let mut f = nix::fcntl::Flock::lock(file, nix::fcntl::FlockArg::LockExclusive)
        .map_err(|(_, e)| EngineError::io("lock", path, e.into()))?;
    let mut text = String::new();
    f.read_to_string(&mut text)
        .map_err(|e| EngineError::io("read", path, e))?;
    let new = change(&text);
    if new == text {
        return Ok(());
    }
    f.set_len(0)
        .and_then(|()| f.rewind())
        .and_then(|()| f.write_all(new.as_bytes()))
        .map_err(|e| EngineError::io("write", path, e))
}

/// containers.conf's `base_hosts_file`: the entries every container's /etc/hosts starts with
/// (an absolute path; `none` or unset: none).
fn base_hosts(conf: &network::NetworkConf) -> String {
    let Some(path) = conf
        .base_hosts_file
        .as_deref()
        .filter(|p| p.starts_with('/'))
    else {
        return String::new();
    };
    match std::fs::read_to_string(path) {
        Ok(text) => text
            .lines()
            .filter(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
            .map(|l| format!("{l}\n"))
            .collect(),
        Err(e) => {
            tracing::warn!("ignoring base_hosts_file `{path}`: {e}");
            String::new()
        }
    }
}

/// Whether an entry of hosts-file text `hosts` names `name`.
fn names_host(hosts: &str, name: &str) -> bool {
    hosts.lines().any(|l| {
        let entry = l.split('#').next().unwrap_or_default();
        entry.split_whitespace().skip(1).any(|n| n == name)
    })
}

/// /etc/hosts on the host network: the host's own, with `--add-host` entries, the host itself as
/// `host.containers.internal` (its loopback, which the container shares; containers.conf's
/// `host_containers_internal_ip` wins) and the container's name.
fn host_network_hosts(net: &ContainerNetwork, conf: &network::NetworkConf) -> String {
    let host = std::fs::read_to_string("/etc/hosts").unwrap_or_default();
    let mut extra = String::new();
    for (h, ip) in &net.settings.add_hosts {
        let ip = if ip == "host-gateway" {
            "127.0.0.1"
        } else {
            ip
        };
        extra.push_str(&format!("{ip}\t{h}\n"));
    }
    match conf.host_containers_internal_ip.as_deref() {
        Some("none") => {}
        ip => extra.push_str(&format!(
            "{}\thost.containers.internal host.docker.internal\n",
            ip.unwrap_or("127.0.0.1")
        )),
    }
    format!("{host}\n{extra}127.0.1.1\t{} {}\n", net.hostname, net.name)
}

/// /etc/resolv.conf: `--dns*` flags over the host's file; slirp4netns answers DNS itself at `.3`,
/// and a loopback server of the host cannot be reached from a namespace of our own.
pub fn resolv_conf(
    net: &ContainerNetwork,
    conf: &network::NetworkConf,
    host_resolv: &str,
) -> String {
    let n = &net.settings;
    let mode = &net.mode;
    let mut servers: Vec<String> = Vec::new();
    let mut search: Vec<String> = Vec::new();
    let mut options: Vec<String> = Vec::new();
    for line in host_resolv.lines() {
        let mut f = line.split_whitespace();
        match (f.next(), *mode == Mode::Host) {
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
    if let Mode::Slirp4netns(o) | Mode::Builtin(o) = mode {
        servers = vec![network::slirp::dns(o).to_string()];
    }
    // containers.conf's settings, then the flags', replace the host's (podman).
    let chosen = |conf: &[String], flags: &[String]| -> Option<Vec<String>> {
        (!conf.is_empty() || !flags.is_empty()).then(|| conf.iter().chain(flags).cloned().collect())
    };
    if let Some(s) = chosen(&conf.dns_servers, &n.dns) {
        servers = s;
    }
    if let Some(s) = chosen(&conf.dns_searches, &n.dns_search) {
        search = s.into_iter().filter(|s| s.as_str() != ".").collect();
    }
    if let Some(o) = chosen(&conf.dns_options, &n.dns_options) {
        options = o;
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

/// Once the container is attached to its bridge networks (`interfaces`): add its addresses and
/// `--link`s to its hosts file, and point its resolv.conf at the networks' DNS.
pub fn add_attachment(
    ctx: &Ctx,
    net: &ContainerNetwork,
    interfaces: &BTreeMap<String, NetworkInterface>,
) {
    let mut lines = String::new();
    for a in interfaces.values() {
        for (ip, _) in &a.addresses {
            lines.push_str(&format!("{ip}\t{} {}\n", net.hostname, net.name));
        }
    }
    lines.push_str(&link_lines(ctx, net));
    append_hosts(&net.dir, &lines);
    use_network_dns(ctx, net);
}

/// `/etc/hosts` lines for `--link NAME[:ALIAS]`: the linked container's address on a shared network.
fn link_lines(ctx: &Ctx, net: &ContainerNetwork) -> String {
    let mut lines = String::new();
    for link in &net.links {
        let theirs = client::status(&ctx.paths.runtime, &link.id);
        let shared = theirs
            .iter()
            .find(|(name, _)| net.networks.contains_key(*name))
            .and_then(|(_, a)| a.addresses.first());
        if let Some((ip, _)) = shared {
            lines.push_str(&format!("{ip}\t{} {}\n", link.alias, link.name));
        }
    }
    lines
}

/// Append to the container's hosts file in place (it is bind-mounted, so the container sees it).
fn append_hosts(dir: &Path, lines: &str) {
    use std::io::Write;
    if lines.is_empty() {
        return;
    }
    let path = dir.join("hosts");
    if let Ok(mut f) = std::fs::OpenOptions::new().append(true).open(&path) {
        let _ = f.write_all(lines.as_bytes());
    }
}

/// What a container's /etc/resolv.conf needs from its bridge networks: aardvark-dns.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NetworkDns {
    /// aardvark-dns on the gateway of each network with DNS; empty when none has it.
    pub nameservers: Vec<IpAddr>,
    /// podman's search domain for container names.
    pub search: Vec<String>,
    /// Some network has aardvark-dns (its search domain applies).
    pub aardvark: bool,
}

impl NetworkDns {
    #[cfg(test)]
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

/// The resolver settings for a container on bridge networks `networks` (empty for other modes).
fn network_dns(ctx: &Ctx, networks: &BTreeMap<String, PerNetwork>) -> NetworkDns {
    let mut e = NetworkDns::default();
    for name in networks.keys() {
        let Ok(net) = defs::find(&ctx.paths.data, name) else {
            continue;
        };
        if !net.dns_enabled {
            // `network create --dns` without aardvark-dns: the servers themselves.
            for d in &net.network_dns_servers {
                if !e.nameservers.contains(d) {
                    e.nameservers.push(*d);
                }
            }
            continue;
        }
        e.aardvark = true;
        for s in &net.subnets {
            if let Some(g) = s.gateway
                && !e.nameservers.contains(&g)
            {
                e.nameservers.push(g);
            }
        }
    }
    if e.aardvark && !e.nameservers.is_empty() {
        e.search.push("dns.podman".into());
    }
    e
}

/// Point the container's resolv.conf at aardvark-dns on its networks' gateways (podman's servers for
/// a network with DNS), keeping its search domains and options, unless `--dns` chose servers. The
/// file is rewritten in place: the container bind-mounts it.
fn use_network_dns(ctx: &Ctx, net: &ContainerNetwork) {
    let mut e = network_dns(ctx, &net.networks);
    // Search domains of the user's (containers.conf or --dns-search) replace the networks' own.
    if !ctx.network_conf.dns_searches.is_empty() || !net.settings.dns_search.is_empty() {
        e.search.clear();
    }
    if e.nameservers.is_empty() || !net.settings.dns.is_empty() {
        return;
    }
    let path = net.dir.join("resolv.conf");
    let old = std::fs::read_to_string(&path).unwrap_or_default();
    let _ = std::fs::write(&path, e.merged_resolv_conf(&old));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::network::NetworkSpec;

    fn container(network: &str, settings: NetworkSpec) -> ContainerNetwork {
        ContainerNetwork {
            id: "abc".into(),
            name: "web".into(),
            hostname: "abc".into(),
            mode: network::parse_mode(network, || network::Helper::Pasta).unwrap(),
            networks: BTreeMap::new(),
            settings,
            links: Vec::new(),
            dir: std::path::PathBuf::new(),
            shared_hosts: None,
        }
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
            &conf,
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
        let r = resolv_conf(
            &c,
            &network::NetworkConf::default(),
            "nameserver 10.255.255.53\nsearch example.org\n",
        );
        assert_eq!(r, "nameserver 192.0.2.53\noptions ndots:2\n");
        let c = container("pasta", NetworkSpec::default());
        let r = resolv_conf(
            &c,
            &network::NetworkConf::default(),
            "nameserver 127.0.0.53\nnameserver 10.255.255.53\n",
        );
        assert_eq!(r, "nameserver 10.255.255.53\n");
    }

    #[test]
    fn resolv_conf_keeps_search_and_options() {
        let e = NetworkDns {
            nameservers: vec!["10.89.0.1".parse().unwrap()],
            search: vec!["dns.podman".into()],
            aardvark: true,
        };
        assert_eq!(
            e.merged_resolv_conf("search example.com\nnameserver 9.9.9.9\noptions ndots:2\n"),
            "search dns.podman example.com\nnameserver 10.89.0.1\noptions ndots:2\n"
        );
        assert_eq!(e.resolv_conf(), "search dns.podman\nnameserver 10.89.0.1\n");
    }
}
