//! Running netavark (podman's network stack) in the rootless network namespace: it creates the bridge,
//! the veth pair into the container's namespace, the addresses, routes and firewall rules, and starts
//! aardvark-dns. It reads podman's JSON on stdin and answers with the interfaces it made.
#![deny(clippy::print_stdout, clippy::print_stderr)]

use std::collections::BTreeMap;
use std::io::Write;
use std::net::IpAddr;
use std::path::Path;
use std::process::Stdio;

use serde::{Deserialize, Serialize};

use super::NetworkError;
use super::config::Network;

/// One container's attachment to one network (netavark's `PerNetworkOptions`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PerNetwork {
    pub interface_name: String,
    #[serde(default)]
    pub static_ips: Vec<IpAddr>,
    #[serde(default)]
    pub aliases: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub static_mac: Option<String>,
}

/// A published port (netavark's `PortMapping`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PortMapping {
    pub host_ip: String,
    pub container_port: u16,
    pub host_port: u16,
    pub range: u16,
    pub protocol: String,
}

/// What netavark reads on stdin.
#[derive(Debug, Serialize)]
struct Input<'a> {
    container_id: &'a str,
    container_name: &'a str,
    networks: BTreeMap<&'a str, &'a PerNetwork>,
    network_info: BTreeMap<&'a str, &'a Network>,
    port_mappings: &'a [PortMapping],
}

/// What netavark answers per network (its `StatusBlock`).
#[derive(Debug, Clone, Default, Deserialize)]
struct StatusBlock {
    #[serde(default)]
    dns_server_ips: Option<Vec<IpAddr>>,
    #[serde(default)]
    interfaces: Option<BTreeMap<String, Interface>>,
}

#[derive(Debug, Clone, Deserialize)]
struct Interface {
    mac_address: String,
    #[serde(default)]
    subnets: Option<Vec<NetAddress>>,
}

#[derive(Debug, Clone, Deserialize)]
struct NetAddress {
    ipnet: String,
    #[serde(default)]
    gateway: Option<IpAddr>,
}

/// A container's interface on one network, as inspect shows it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct NetworkInterface {
    pub network_id: String,
    pub interface: String,
    pub mac: String,
    /// `ADDRESS/PREFIX` of each address.
    pub addresses: Vec<(IpAddr, u8)>,
    pub gateways: Vec<IpAddr>,
    pub dns_servers: Vec<IpAddr>,
    pub aliases: Vec<String>,
}

/// One netavark call: `setup` or `teardown` of `networks` for a container whose network namespace is at
/// `netns`. `config` holds aardvark-dns's files.
pub struct Call<'a> {
    pub config: &'a Path,
    /// The rootless network namespace, where netavark runs.
    pub rootless_netns: std::os::fd::BorrowedFd<'a>,
    pub netns: &'a Path,
    pub container_id: &'a str,
    pub container_name: &'a str,
    pub networks: Vec<(&'a Network, &'a PerNetwork)>,
    pub ports: &'a [PortMapping],
}

impl Call<'_> {
    fn run(&self, verb: &str) -> Result<Vec<u8>, NetworkError> {
        let netavark = crate::helpers::find("netavark").ok_or_else(|| {
            NetworkError::Netavark("not installed (apt-get install netavark aardvark-dns)".into())
        })?;
        let input = Input {
            container_id: self.container_id,
            container_name: self.container_name,
            networks: self
                .networks
                .iter()
                .map(|(n, p)| (n.name.as_str(), *p))
                .collect(),
            network_info: self
                .networks
                .iter()
                .map(|(n, _)| (n.name.as_str(), *n))
                .collect(),
            port_mappings: self.ports,
        };
        let json = serde_json::to_vec(&input).expect("netavark input serializes");
        let mut cmd = crate::helpers::command(&netavark);
        cmd.arg("--config")
            .arg(self.config)
            .args(["--rootless", "true"]);
        if let Some(a) = crate::helpers::find("aardvark-dns") {
            cmd.arg("--aardvark-binary").arg(a);
        }
        cmd.arg(verb)
            .arg(self.netns)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        tracing::debug!(verb, input = %String::from_utf8_lossy(&json), "netavark");
        let mut child = crate::sys::fdpass::spawn_in_netns(&mut cmd, self.rootless_netns)
            .map_err(|e| NetworkError::io("run", &netavark, e))?;
        if let Some(mut stdin) = child.stdin.take() {
            let _ = stdin.write_all(&json);
        }
        let out = child
            .wait_with_output()
            .map_err(|e| NetworkError::io("run", &netavark, e))?;
        if !out.status.success() {
            return Err(NetworkError::Netavark(error_text(&out.stdout, &out.stderr)));
        }
        Ok(out.stdout)
    }

    /// Wire the container in; returns its interface per network name.
    pub fn setup(&self) -> Result<BTreeMap<String, NetworkInterface>, NetworkError> {
        let out = self.run("setup")?;
        let blocks: BTreeMap<String, StatusBlock> = serde_json::from_slice(&out)
            .map_err(|e| NetworkError::Netavark(format!("unexpected answer: {e}")))?;
        let mut result = BTreeMap::new();
        for (net, per) in &self.networks {
            let block = blocks.get(&net.name).cloned().unwrap_or_default();
            let (interface, iface) = block
                .interfaces
                .unwrap_or_default()
                .into_iter()
                .next()
                .unwrap_or_else(|| {
                    (
                        per.interface_name.clone(),
                        Interface {
                            mac_address: String::new(),
                            subnets: None,
                        },
                    )
                });
            let subnets = iface.subnets.unwrap_or_default();
            result.insert(
                net.name.clone(),
                NetworkInterface {
                    network_id: net.id.clone(),
                    interface,
                    mac: iface.mac_address,
                    addresses: subnets
                        .iter()
                        .filter_map(|s| parse_ipnet(&s.ipnet))
                        .collect(),
                    gateways: subnets.iter().filter_map(|s| s.gateway).collect(),
                    dns_servers: block.dns_server_ips.unwrap_or_default(),
                    aliases: per.aliases.clone(),
                },
            );
        }
        Ok(result)
    }

    /// Take the container's interfaces out again (and the firewall rules, DNS entries; the bridge and
    /// aardvark-dns too when it was the last container).
    pub fn teardown(&self) -> Result<(), NetworkError> {
        self.run("teardown").map(|_| ())
    }
}

fn parse_ipnet(s: &str) -> Option<(IpAddr, u8)> {
    let (a, p) = s.split_once('/')?;
    Some((a.parse().ok()?, p.parse().ok()?))
}

/// netavark prints `{"error": "..."}` on stdout when it fails.
fn error_text(stdout: &[u8], stderr: &[u8]) -> String {
    #[derive(Deserialize)]
    struct E {
        error: String,
    }
    if let Ok(e) = serde_json::from_slice::<E>(stdout) {
        return e.error;
    }
    let text = String::from_utf8_lossy(stderr).trim().to_string();
    if text.is_empty() {
        String::from_utf8_lossy(stdout).trim().to_string()
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_and_addresses() {
        assert_eq!(error_text(br#"{"error":"boom"}"#, b""), "boom");
        assert_eq!(error_text(b"", b"bad\n"), "bad");
        assert_eq!(
            parse_ipnet("10.89.0.2/24"),
            Some(("10.89.0.2".parse().unwrap(), 24))
        );
    }
}
