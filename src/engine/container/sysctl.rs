//! `--sysctl KEY=VALUE` (podman-run(1)): kernel parameters of the container's own namespaces, written
//! under /proc/sys when it starts. Only namespaced ones: the network namespace's `net.*`, and the IPC
//! namespace's message queue, semaphore and shared memory limits (not with that namespace the host's).
use std::collections::BTreeMap;

use super::OpError;
use super::namespaces::Namespaces;
use crate::engine::EngineError;

/// The IPC namespace's parameters besides `fs.mqueue.*`.
pub const IPC_KEYS: [&str; 8] = [
    "kernel.msgmax",
    "kernel.msgmnb",
    "kernel.msgmni",
    "kernel.sem",
    "kernel.shmall",
    "kernel.shmmax",
    "kernel.shmmni",
    "kernel.shm_rmid_forced",
];

/// Which namespace `key` belongs to (`network` or `ipc`), `None` for one that is not namespaced.
pub fn namespace_of(key: &str) -> Option<&'static str> {
    if key.starts_with("net.") {
        Some("network")
    } else if key.starts_with("fs.mqueue.") || IPC_KEYS.contains(&key) {
        Some("ipc")
    } else {
        None
    }
}

/// Parse the `--sysctl` values for a container with network mode `network` and namespaces `ns`.
pub fn parse_all(
    args: &[String],
    network: &str,
    ns: &Namespaces,
) -> Result<BTreeMap<String, String>, EngineError> {
    let mut out = BTreeMap::new();
    for arg in args {
        let (key, value) = arg
            .split_once('=')
            .filter(|(k, _)| !k.trim().is_empty())
            .ok_or_else(|| OpError::SysctlFormat(arg.clone()))?;
        let key = key.trim();
        // A key is a path under /proc/sys: no way out of it.
        if key
            .split('.')
            .any(|p| p.is_empty() || p == ".." || p.contains('/'))
        {
            return Err(OpError::SysctlFormat(arg.clone()).into());
        }
        let host = match namespace_of(key) {
            None => return Err(OpError::SysctlNotNamespaced(key.to_string()).into()),
            Some("network") => network == "host",
            Some(_) => ns.ipc == "host",
        };
        if host {
            let ns = if key.starts_with("net.") {
                "network"
            } else {
                "ipc"
            };
            return Err(OpError::SysctlHostNamespace {
                key: key.to_string(),
                ns,
            }
            .into());
        }
        out.insert(key.to_string(), value.to_string());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_namespaced_keys_of_private_namespaces() {
        let ns = Namespaces::default();
        let ok = parse_all(
            &["net.ipv4.ip_forward=1".into(), "kernel.msgmax=1024".into()],
            "pasta",
            &ns,
        )
        .unwrap();
        assert_eq!(ok["net.ipv4.ip_forward"], "1");
        assert!(parse_all(&["kernel.hostname=x".into()], "pasta", &ns).is_err());
        assert!(parse_all(&["net.ipv4.ip_forward".into()], "pasta", &ns).is_err());
        assert!(parse_all(&["net...x=1".into()], "pasta", &ns).is_err());
        assert!(parse_all(&["net.ipv4.ip_forward=1".into()], "host", &ns).is_err());
        let host_ipc = Namespaces {
            ipc: "host".into(),
            ..Namespaces::default()
        };
        assert!(parse_all(&["fs.mqueue.msg_max=5".into()], "pasta", &host_ipc).is_err());
    }
}
