//! Networking for containers, below `engine::container`: the container hands a [`ContainerNetwork`]
//! in, and nothing here reads containers or calls container code.
//! - [`crud`]: networks as objects (`network create`, `ls`, `inspect`, `rm`, `prune`, `exists`) and
//!   the `--network NAME:OPTS` syntax;
//! - [`attach`]: joining one run of a container to its network (bridge networks through the
//!   rootless network namespace, or a pasta/slirp4netns helper of its own) and detaching it;
//! - [`hostfiles`]: the container's /etc/hosts and /etc/resolv.conf, written before it starts and
//!   completed once it is attached to bridge networks.
#![deny(clippy::print_stdout, clippy::print_stderr)]

pub mod attach;
pub mod crud;
mod flags;
pub mod hostfiles;

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

pub use crate::network::Network;
pub use crate::network::config::CreateNetworkOptions;
use crate::network::netavark::PerNetwork;
use crate::network::{Mode, PortMapping};
pub use attach::{NetworkAttachment, detach_networks};
pub use crud::{
    create, exists, inspect, list, names, parse_filter, parse_mac, parse_network_flag, prune,
    remove, resolve_for_create, resolve_one,
};
pub use flags::NetFlagError;

/// The names a container answers to on each of its bridge networks besides the aliases it was
/// given: its short id, and its hostname when it has one of its own (podman's rule; the default
/// hostname is the short id). `aliases` in that order, given ones after, none twice.
pub fn aliases_on_network(id: &str, hostname: &str, given: &[String]) -> Vec<String> {
    let mut all = vec![crate::store::short_id(id).to_string()];
    if !hostname.is_empty() {
        all.push(hostname.to_string());
    }
    all.extend(given.iter().cloned());
    let mut seen = std::collections::BTreeSet::new();
    all.retain(|a| seen.insert(a.clone()));
    all
}

/// `spec.network` of a container on bridge networks (podman's NetworkMode).
pub const BRIDGE_MODE: &str = "bridge";

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

/// A container as its networking sees it: who it is and what its stored spec asks for
/// (`engine::container` makes it from the container's record).
#[derive(Debug, Clone)]
pub struct ContainerNetwork {
    pub id: String,
    pub name: String,
    pub hostname: String,
    /// `--network`, parsed.
    pub mode: Mode,
    /// Bridge networks by name, with this container's options on each.
    pub networks: BTreeMap<String, PerNetwork>,
    pub settings: NetworkSpec,
    /// `--link`s to containers that exist, for the hosts file.
    pub links: Vec<Link>,
    /// The container's runtime directory: its hosts and resolv.conf, the helpers' logs.
    pub dir: PathBuf,
    /// The hosts file of the container whose network namespace this one joins (`container:X`):
    /// shared, with this container's names added while it runs.
    pub shared_hosts: Option<PathBuf>,
}

/// A `--link NAME[:ALIAS]` to an existing container.
#[derive(Debug, Clone)]
pub struct Link {
    pub alias: String,
    pub id: String,
    pub name: String,
}

#[cfg(test)]
mod tests {
    use super::aliases_on_network;

    #[test]
    fn a_container_answers_to_its_short_id_its_own_hostname_and_its_aliases() {
        let id = "0123456789abcdef0123";
        let given = vec!["web".to_string(), "0123456789ab".to_string()];
        assert_eq!(
            aliases_on_network(id, "box", &given),
            ["0123456789ab", "box", "web"]
        );
        // The default hostname is the short id: named once.
        assert_eq!(
            aliases_on_network(id, "0123456789ab", &[]),
            ["0123456789ab"]
        );
        assert_eq!(aliases_on_network(id, "", &[]), ["0123456789ab"]);
    }
}
