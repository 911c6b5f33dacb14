//! The pid, IPC, UTS and cgroup namespace modes of a container (`--pid`, `--ipc`, `--uts`,
//! `--cgroupns`, podman-run(1)): roost's own (`host`), the container's (private, the default), or
//! another container's (`container:NAME`), which the container enters when it starts.
use std::path::PathBuf;

use super::{FlagError, Status};
use crate::engine::EngineError;
use crate::runtime::plan::{JoinedNamespaces, SharedNamespaces};
use crate::store::Store;

/// The prefix of a mode naming another container's namespace.
const CONTAINER: &str = "container:";

/// A container's namespace modes: `host` shares roost's, empty is the container's own (podman's
/// `private`), `container:ID` is that container's.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Namespaces {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub pid: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub ipc: String,
    /// `--ipc` as given when it names a private namespace (`private`, `shareable`, `none`), for
    /// inspect's `IpcMode`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub ipc_mode: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub uts: String,
    /// `--cgroupns container:ID` (`private` and `host` are the cgroup settings', see `resources`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub cgroup: String,
    /// `--shm-size`: the size of the private IPC namespace's /dev/shm in bytes (None: 64 MB).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shm_size: Option<u64>,
}

impl Namespaces {
    /// Parses `--pid`, `--ipc`, `--uts` and `--cgroupns` values (podman-run(1)): `host`, `private`
    /// or `container:NAME`; for IPC also `shareable` (private, which others may join) and `none`
    /// (private, without /dev/shm). Only `container:NAME` is kept of `--cgroupns`.
    pub fn parse(
        pid: Option<&str>,
        ipc: Option<&str>,
        uts: Option<&str>,
        cgroup: Option<&str>,
    ) -> Result<Namespaces, EngineError> {
        let one = |flag: &str, v: Option<&str>, extra: &[&str]| match v {
            None | Some("" | "private") => Ok(String::new()),
            Some("host") => Ok("host".to_string()),
            Some(v) if extra.contains(&v) => Ok(String::new()),
            Some(v) if v.strip_prefix(CONTAINER).is_some_and(|n| !n.is_empty()) => {
                Ok(v.to_string())
            }
            Some(v) => Err(FlagError::Namespace {
                flag: flag.to_string(),
                value: v.to_string(),
                shareable: !extra.is_empty(),
            }),
        };
        Ok(Namespaces {
            pid: one("--pid", pid, &[])?,
            ipc: one("--ipc", ipc, &["shareable", "none"])?,
            ipc_mode: match ipc {
                Some(v @ ("private" | "shareable" | "none")) => v.to_string(),
                _ => String::new(),
            },
            uts: one("--uts", uts, &[])?,
            cgroup: match cgroup {
                Some(v) if v.starts_with(CONTAINER) => one("--cgroupns", Some(v), &[])?,
                _ => String::new(),
            },
            shm_size: None,
        })
    }

    /// podman's `HostConfig.IpcMode`: `host`, `container:ID`, or the private namespace's kind
    /// (`shareable` by default).
    pub fn ipc_mode(&self) -> &str {
        match (self.ipc.as_str(), self.ipc_mode.as_str()) {
            ("host", _) => "host",
            (joined, _) if joined.starts_with(CONTAINER) => joined,
            (_, "") => "shareable",
            (_, m) => m,
        }
    }

    /// What the runtime shares with the caller.
    pub fn shared(&self) -> SharedNamespaces {
        SharedNamespaces {
            pid: self.pid == "host",
            ipc: self.ipc == "host",
            uts: self.uts == "host",
            no_shm: self.ipc_mode == "none",
            shm_size: self.shm_size,
            ..Default::default()
        }
    }

    /// The kinds and modes, for walking them.
    fn modes_mut(&mut self) -> [(&'static str, &mut String); 4] {
        [
            ("pid", &mut self.pid),
            ("ipc", &mut self.ipc),
            ("uts", &mut self.uts),
            ("cgroup", &mut self.cgroup),
        ]
    }

    /// The ids of the containers whose namespaces this one enters (once [`Namespaces::resolve`]d).
    pub fn donors(&self) -> impl Iterator<Item = &str> {
        [&self.pid, &self.ipc, &self.uts, &self.cgroup]
            .into_iter()
            .filter_map(|v| v.strip_prefix(CONTAINER))
    }

    /// For a new container: each `container:NAME` as `container:ID`. An IPC namespace can be joined
    /// only when its container made it shareable (podman's default).
    pub fn resolve(&self, store: &Store) -> Result<Namespaces, EngineError> {
        let mut out = self.clone();
        for (kind, mode) in out.modes_mut() {
            let Some(name) = mode.strip_prefix(CONTAINER) else {
                continue;
            };
            let donor = super::find(store, name)?;
            if kind == "ipc" && matches!(donor.spec.namespaces.ipc_mode(), "private" | "none") {
                return Err(FlagError::IpcNotShareable(donor.record.id).into());
            }
            *mode = format!("{CONTAINER}{}", donor.record.id);
        }
        Ok(out)
    }

    /// At start: the namespaces of the containers this one joins, which must be running. One that
    /// is roost's own (the other container shares it, `host`) is shared the same way.
    pub fn join(
        &self,
        store: &Store,
        join: &mut JoinedNamespaces,
        shared: &mut SharedNamespaces,
    ) -> Result<(), EngineError> {
        let mut modes = self.clone();
        for (kind, mode) in modes.modes_mut() {
            let Some(id) = mode.strip_prefix(CONTAINER) else {
                continue;
            };
            let donor = super::find(store, id)?;
            if donor.state.status != Status::Running || donor.state.pid <= 0 {
                return Err(FlagError::DonorNotRunning {
                    ns: kind,
                    container: donor.record.name,
                }
                .into());
            }
            let path = PathBuf::from(format!("/proc/{}/ns/{kind}", donor.state.pid));
            let ours = std::fs::read_link(format!("/proc/self/ns/{kind}")).ok();
            let host = ours.is_some() && std::fs::read_link(&path).ok() == ours;
            let (joined, is_shared) = match kind {
                "pid" => (&mut join.pid, &mut shared.pid),
                "ipc" => (&mut join.ipc, &mut shared.ipc),
                "uts" => (&mut join.uts, &mut shared.uts),
                _ => (&mut join.cgroup, &mut shared.cgroup),
            };
            match host {
                true => *is_shared = true,
                false => *joined = Some(path),
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::Namespaces;

    #[test]
    fn ipc_mode_is_podmans() {
        let mode = |v: Option<&str>| {
            Namespaces::parse(None, v, None, None)
                .unwrap()
                .ipc_mode()
                .to_string()
        };
        assert_eq!(mode(None), "shareable");
        assert_eq!(mode(Some("host")), "host");
        assert_eq!(mode(Some("none")), "none");
        assert_eq!(mode(Some("private")), "private");
        assert_eq!(mode(Some("shareable")), "shareable");
        assert_eq!(mode(Some("container:db")), "container:db");
    }

    #[test]
    fn container_modes_parse() {
        let ns = Namespaces::parse(
            Some("container:a"),
            Some("container:b"),
            Some("host"),
            Some("container:c"),
        )
        .unwrap();
        assert_eq!(ns.donors().collect::<Vec<_>>(), ["a", "b", "c"]);
        assert_eq!(ns.uts, "host");
        let private = Namespaces::parse(None, None, None, Some("private")).unwrap();
        assert_eq!(private.cgroup, "");
        for bad in ["container:", "bogus", "ns:/x"] {
            assert!(
                Namespaces::parse(Some(bad), None, None, None).is_err(),
                "{bad}"
            );
        }
    }
}
