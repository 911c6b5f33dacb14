//! What a roost command and the holder of the rootless network namespace say to each other: one JSON
//! request per SOCK_SEQPACKET message (a `Setup` carries the container's network namespace as an
//! SCM_RIGHTS descriptor), one JSON answer back.
#![deny(clippy::print_stdout, clippy::print_stderr)]

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::config::Network;
use super::netavark::{NetworkInterface, PerNetwork};

/// Largest message either side sends.
pub const MAX_MESSAGE: usize = 1 << 20;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Request {
    /// Attach a container (whose netns descriptor comes with the message) to networks. A container
    /// already attached keeps its other networks (`network connect`).
    Setup {
        container_id: String,
        container_name: String,
        /// The container's pid 1: when it exits, the holder detaches it by itself.
        pid: i32,
        networks: Vec<(Network, PerNetwork)>,
        /// The container port and protocol of each socket passed after the netns descriptor.
        #[serde(default)]
        forwards: Vec<(u16, super::ports::Protocol)>,
    },
    /// Detach a container from the named networks, or from all of them.
    Teardown {
        container_id: String,
        networks: Option<Vec<String>>,
    },
    /// The interfaces of a container (empty when it is not attached).
    Status { container_id: String },
    /// Set a container's networks up again (`network reload`): the same interfaces, addresses
    /// and MAC addresses, with netavark's firewall rules and DNS records made anew.
    Reload { container_id: String },
    /// The rootless network namespace itself (`unshare --rootless-netns`): answered with `Netns`
    /// and its descriptor.
    Netns,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Response {
    Attached(BTreeMap<String, NetworkInterface>),
    Done,
    /// The rootless network namespace's descriptor comes with the message.
    Netns,
    /// A failure, with podman's exit code for it.
    Failed {
        message: String,
    },
}
