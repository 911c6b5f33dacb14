//! `run`/`create` flags for bridge networks: `--network NAME[:OPTS][,NAME…]`, `--ip`,
//! `--network-alias`, `--mac-address` (and `--link`, passed through).
use std::collections::BTreeMap;

use super::CreateArgs;
use crate::engine::network as engine;
use crate::error::Error;
use crate::network::netavark::PerNetwork;

/// Modes that are not bridge networks (the per-container network modes).
fn is_mode(network: &str) -> bool {
    matches!(
        network,
        "" | "default" | "host" | "none" | "private" | "pasta" | "slirp4netns" | "slirp"
    ) || ["pasta:", "slirp4netns:", "slirp:", "container:", "ns:"]
        .iter()
        .any(|p| network.starts_with(p))
}

/// The network mode and the bridge networks with this container's options on each. `--network bridge`
/// is the default network, as in podman.
pub fn bridge_networks(a: &CreateArgs) -> Result<(String, BTreeMap<String, PerNetwork>), Error> {
    let per_flags = !a.ip.is_empty() || !a.ip6.is_empty() || !a.network_alias.is_empty();
    let network = a.network.last().map(String::as_str).unwrap_or_default();
    if is_mode(network) {
        if a.network.len() > 1 {
            return Err(Error::Usage(format!(
                "--network `{network}` cannot be combined with other --network flags: only bridge networks can be given more than once"
            )));
        }
        if per_flags {
            return Err(Error::Usage(format!(
                "--ip, --ip6 and --network-alias need a bridge network, not `--network {network}`"
            )));
        }
        return Ok((network.to_string(), BTreeMap::new()));
    }
    // `--network a --network b` is `--network a,b` (podman's repeatable flag).
    let mut list = Vec::new();
    for n in &a.network {
        if is_mode(n) {
            return Err(Error::Usage(format!(
                "--network `{n}` cannot be combined with other --network flags: only bridge networks can be given more than once"
            )));
        }
        list.extend(engine::parse_network_flag(n).map_err(crate::engine::EngineError::from)?);
    }
    for (name, _) in &mut list {
        if name == "bridge" {
            *name = crate::network::DEFAULT_NAME.into();
        }
    }
    if !a.ip.is_empty() || !a.ip6.is_empty() || a.mac_address.is_some() {
        if list.len() != 1 {
            return Err(Error::Usage(
                "--ip, --ip6 and --mac-address can only be set for a single network".into(),
            ));
        }
        let per = &mut list[0].1;
        for ip in &a.ip {
            per.static_ips.push(
                ip.parse()
                    .map_err(|_| Error::Usage(format!("invalid IP address `{ip}` for --ip")))?,
            );
        }
        for ip in &a.ip6 {
            match ip.parse::<std::net::IpAddr>() {
                Ok(addr) if addr.is_ipv6() => per.static_ips.push(addr),
                _ => {
                    return Err(Error::Usage(format!(
                        "invalid IPv6 address `{ip}` for --ip6"
                    )));
                }
            }
        }
        if let Some(m) = &a.mac_address {
            per.static_mac = Some(engine::parse_mac(m).map_err(crate::engine::EngineError::from)?);
        }
    }
    for (_, per) in &mut list {
        per.aliases.extend(a.network_alias.iter().cloned());
    }
    Ok((engine::BRIDGE_MODE.to_string(), list.into_iter().collect()))
}

/// inspect's `NetworkSettings` for a container on bridge networks (podman's shape); the addresses
/// only while it runs.
pub fn settings_json(
    ctx: &crate::engine::Ctx,
    c: &crate::engine::container::Container,
) -> serde_json::Value {
    use serde_json::json;
    let status = crate::engine::container::network_settings::interfaces(ctx, c);
    let mut networks = serde_json::Map::new();
    for (name, per) in &c.spec.networks {
        let a = status.get(name).cloned().unwrap_or_default();
        let v4 = a.addresses.iter().find(|(ip, _)| ip.is_ipv4());
        let v6 = a.addresses.iter().find(|(ip, _)| ip.is_ipv6());
        let gw = |v6: bool| {
            a.gateways
                .iter()
                .find(|g| g.is_ipv6() == v6)
                .map(|g| g.to_string())
                .unwrap_or_default()
        };
        let aliases = crate::engine::network::aliases_on_network(
            &c.record.id,
            &c.spec.hostname,
            &per.aliases,
        );
        networks.insert(
            name.clone(),
            json!({
                "EndpointID": "",
                "Gateway": gw(false),
                "IPAddress": v4.map(|(ip, _)| ip.to_string()).unwrap_or_default(),
                "IPPrefixLen": v4.map_or(0, |(_, p)| *p),
                "IPv6Gateway": gw(true),
                "GlobalIPv6Address": v6.map(|(ip, _)| ip.to_string()).unwrap_or_default(),
                "GlobalIPv6PrefixLen": v6.map_or(0, |(_, p)| *p),
                "MacAddress": a.mac,
                "NetworkID": name,
                "DriverOpts": null,
                "IPAMConfig": null,
                "Links": null,
                "Aliases": aliases,
            }),
        );
    }
    let running = c.state.status == crate::engine::container::Status::Running && c.state.pid > 0;
    json!({
        "EndpointID": "",
        "Gateway": "",
        "IPAddress": "",
        "IPPrefixLen": 0,
        "IPv6Gateway": "",
        "GlobalIPv6Address": "",
        "GlobalIPv6PrefixLen": 0,
        "MacAddress": "",
        "Bridge": "",
        "SandboxID": "",
        "HairpinMode": false,
        "LinkLocalIPv6Address": "",
        "LinkLocalIPv6PrefixLen": 0,
        "Ports": {},
        "SandboxKey": if running { format!("/proc/{}/ns/net", c.state.pid) } else { String::new() },
        "Networks": networks,
    })
}
