//! The errors of bridge networks and the rootless network namespace.
#![deny(clippy::print_stdout, clippy::print_stderr)]

use std::net::IpAddr;
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum NetworkError {
    #[error(
        "network name {0} invalid: names must match [a-zA-Z0-9][a-zA-Z0-9_.-]*: invalid argument"
    )]
    InvalidName(String),
    #[error("{0} is not supported")]
    Unsupported(String),
    #[error("unsupported bridge network option {0}")]
    BadOption(String),
    #[error("{0}")]
    Invalid(String),
    #[error("invalid subnet `{0}`")]
    BadSubnet(String),
    #[error("invalid IP address `{0}`")]
    BadAddress(String),
    #[error("subnet {subnet} is already used on the host or by another config ({other})")]
    SubnetInUse { subnet: String, other: String },
    #[error("could not find free subnet from subnet pools")]
    PoolExhausted,
    #[error(
        "IPAM error: requested ip address {ip} is already allocated to container ID {container} on network {network}"
    )]
    AddressInUse {
        ip: IpAddr,
        network: String,
        container: String,
    },
    #[error("IPAM error: failed to find free IP in range: {0}")]
    Exhausted(String),
    #[error("unable to find network with name or ID {0}: network not found")]
    NotFound(String),
    #[error("network name {0} already used: network already exists")]
    Exists(String),
    #[error("default network {0} cannot be removed")]
    Default(String),
    #[error("network {name} is being used: containers {containers}")]
    InUse { name: String, containers: String },
    #[error("failed to {op} `{path}`")]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("malformed network file `{path}`")]
    Json {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("netavark: {0}")]
    Netavark(String),
    #[error("rootless network namespace: {0}")]
    Holder(String),
    #[error(transparent)]
    PortBusy(#[from] super::PortBusy),
}

impl NetworkError {
    pub(crate) fn io(op: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        NetworkError::Io {
            op,
            path: path.into(),
            source,
        }
    }

    pub fn hint(&self) -> Option<String> {
        match self {
            NetworkError::PortBusy(e) => e.hint(),
            _ => None,
        }
    }

    /// podman's `network rm` statuses: 1 for a missing network, 2 for one in use; a host port
    /// that cannot be published fails the container's start: 126, as podman.
    pub fn exit_code(&self) -> i32 {
        match self {
            NetworkError::NotFound(_) => 1,
            NetworkError::InUse { .. } => 2,
            NetworkError::PortBusy(_) => 126,
            _ => 125,
        }
    }
}
