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
        "host" | "none" | "private" | "pasta" | "slirp4netns"
    ) || ["pasta:", "slirp4netns:", "container:", "ns:"]
        .iter()
        .any(|p| network.starts_with(p))
}

/// The network mode and the bridge networks with this container's options on each. `--network bridge`
/// is the default network, as in podman.
pub fn bridge_networks(a: &CreateArgs) -> Result<(String, BTreeMap<String, PerNetwork>), Error> {
    let per_flags = !a.ip.is_empty() || !a.network_alias.is_empty() || a.mac_address.is_some();
    if is_mode(&a.network) {
        if per_flags {
            return Err(Error::Usage(format!(
                "--ip, --network-alias and --mac-address need a bridge network, not `--network {}`",
                a.network
            )));
        }
        return Ok((a.network.clone(), BTreeMap::new()));
    }
    let mut list =
        engine::parse_network_flag(&a.network).map_err(crate::engine::EngineError::from)?;
    for (name, _) in &mut list {
        if name == "bridge" {
            *name = crate::network::DEFAULT_NAME.into();
        }
    }
    if !a.ip.is_empty() || a.mac_address.is_some() {
        if list.len() != 1 {
            return Err(Error::Usage(
                "--ip and --mac-address can only be set for a single network".into(),
            ));
        }
        let per = &mut list[0].1;
        for ip in &a.ip {
            per.static_ips.push(
                ip.parse()
                    .map_err(|_| Error::Usage(format!("invalid IP address `{ip}` for --ip")))?,
            );
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
