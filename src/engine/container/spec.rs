//! What is stored about a container: the spec it was created with and its current state (JSON in the
//! store; field names follow podman's inspect output where they overlap).
use std::collections::BTreeMap;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::oci::Digest;
use crate::runtime::security::caps::CapArg;

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ContainerSpec {
    pub args: Vec<String>,
    pub env: Vec<String>,
    pub cwd: String,
    pub uid: u32,
    pub gid: u32,
    #[serde(default)]
    pub additional_gids: Vec<u32>,
    /// `--group-add` as gids (also in `additional_gids`): an `exec --user` process gets them too.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub group_add: Vec<u32>,
    /// `-u` as given (or the image's User).
    #[serde(default)]
    pub user: String,
    pub hostname: String,
    /// Chain ids of the image's layers, bottom first (none for a `--rootfs` container).
    pub layers: Vec<Digest>,
    /// Where the root file system comes from: the image's layers, or a directory of the user's.
    #[serde(default, skip_serializing_if = "RootSource::is_image")]
    pub root: RootSource,
    #[serde(default)]
    pub read_only: bool,
    /// `--read-only-tmpfs=false` (with `--read-only`: no tmpfs on /run, /tmp and /var/tmp).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub no_read_only_tmpfs: bool,
    /// The `--network` mode: `pasta[:OPTS]`, `slirp4netns[:OPTS]`, `none`, `host`, `container:ID`,
    /// `ns:PATH`.
    pub network: String,
    /// Published ports, DNS and hosts settings.
    #[serde(default)]
    pub net: crate::engine::network::NetworkSpec,
    #[serde(default)]
    pub remove: bool,
    #[serde(default)]
    pub tty: bool,
    #[serde(default)]
    pub interactive: bool,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
    pub stop_signal: i32,
    pub stop_timeout: u32,
    #[serde(default)]
    pub entrypoint: Vec<String>,
    #[serde(default)]
    pub command: Vec<String>,
    #[serde(default)]
    pub no_new_privileges: bool,
    #[serde(default)]
    pub privileged: bool,
    /// `--cap-add` and `--cap-drop`, stored as capability names.
    #[serde(default)]
    pub cap_add: Vec<CapArg>,
    #[serde(default)]
    pub cap_drop: Vec<CapArg>,
    #[serde(default)]
    pub seccomp: Option<String>,
    #[serde(default = "default_log_driver")]
    pub log_driver: String,
    /// `--restart`, stored in the flag's form.
    #[serde(default)]
    pub restart: super::Restart,
    #[serde(default)]
    pub init: bool,
    /// `--umask` (podman's 0022 when not given).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub umask: Option<u32>,
    /// `--ulimit`, stored in the flag's form.
    #[serde(default, deserialize_with = "super::process::deserialize_ulimits")]
    pub ulimits: Vec<super::process::Ulimit>,
    /// `--tz`: the zone whose zoneinfo file is the container's /etc/localtime (`local`: the host's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
    /// `--sysctl`: namespaced kernel parameters set at each start.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub sysctls: std::collections::BTreeMap<String, String>,
    /// `--ulimit host`: the caller's limits as they are, none of roost's defaults.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub ulimit_host: bool,
    /// Volumes, binds and tmpfs mounts (`-v`, `--mount`, `--tmpfs`, the image's VOLUMEs).
    #[serde(default)]
    pub mounts: Vec<super::Mount>,
    /// `--log-opt`: rotation size and log path.
    #[serde(default)]
    pub log_opts: super::logs::LogOptions,
    /// `--userns` as shown by inspect (`keep-id`, `nomap`, `host`, …; empty by default).
    #[serde(default)]
    pub userns: String,
    /// The maps of the container's own user namespace, nested in roost's (None: shares roost's).
    #[serde(default)]
    pub id_maps: Option<super::idmap::NestedMaps>,
    /// Whether `id_maps` is a range `--userns=auto` allocated (no other auto container may share it).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub userns_auto: bool,
    /// Whether the container's layers are the copies with ids shifted for `id_maps`
    /// (`engine::storage::idmapped`); containers from before roost shifted them use the layers as stored.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub shifted_layers: bool,
    /// Whether `HOME` in `env` is the user's home added by default (not from the image or the flags):
    /// `exec -u USER` then gives USER's home instead, as podman does.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub home_default: bool,
    /// keep-id's /etc/passwd and /etc/group lines, added to the container's own files when its root is
    /// writable, else to bind-mounted copies of the image's.
    #[serde(default)]
    pub extra_passwd: Option<String>,
    #[serde(default)]
    pub extra_group: Option<String>,
    /// Bridge networks by name, with this container's options on each (network mode `bridge`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub networks: BTreeMap<String, crate::network::netavark::PerNetwork>,
    /// `--link NAME[:ALIAS]`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub links: Vec<String>,
    /// How the root file system is made; fixed at create time (containers from before the choice
    /// existed are overlay ones).
    #[serde(default)]
    pub storage_driver: crate::engine::storage::Driver,
    /// For a `build` step's container: the staging token of the build that runs it (see
    /// `Store::owner_alive`). Such containers are not the user's: `ps` lists them only with
    /// `--external`, and once that build is gone the next build, `system prune` or
    /// `system check --repair` removes them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub builder: Option<String>,
    /// `--pid`, `--ipc`, `--uts` modes (private when empty).
    #[serde(default)]
    pub namespaces: super::Namespaces,
    /// `--requires`: ids of the containers started before this one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub requires: Vec<String>,
    /// The healthcheck (the image's, or from `--health-*`); None: no check.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub healthcheck: Option<super::health::HealthConfig>,
    /// The id of the pod the container belongs to (`--pod`; its infra container too), see `engine::pod`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod: Option<String>,
    /// Resource limits; `Some` when the container gets a cgroup of its own (see `resources`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<crate::runtime::cgroup::Resources>,
    /// `--cgroups`, `--cgroup-parent`, `--cgroupns`, `--oom-score-adj`.
    #[serde(default)]
    pub cgroup: super::resources::CgroupSpec,
    /// `--sdnotify` (podman's default, `container`, is not stored).
    #[serde(
        default,
        skip_serializing_if = "super::sdnotify::SdNotifyMode::is_default"
    )]
    pub sdnotify: super::sdnotify::SdNotifyMode,
    /// This is a service container (`kube play --service-container`), with how its exit reflects
    /// its pods' containers (see `engine::pod::service`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<crate::engine::pod::service::Propagation>,
    /// The command line that created the container (podman's `CreateCommand`), for
    /// `generate systemd --new`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub create_command: Vec<String>,
    /// `--secret`: names, ids and where they go (never the values; see `engine::secret::use_`).
    pub secrets: Vec<crate::engine::secret::SecretUse>,
}

/// What a container's root file system is made from.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RootSource {
    /// The image's layers (`layers`), under the storage driver's upper dir or copy.
    #[default]
    Image,
    /// `--rootfs PATH[:O]`: an exploded tree of the user's. Without `overlay` the tree itself is the
    /// root (the container writes to it); with it, the tree is the only lower layer of an overlay whose
    /// upper dir is the container's own.
    Dir {
        path: std::path::PathBuf,
        overlay: bool,
    },
}

impl RootSource {
    pub fn is_image(&self) -> bool {
        *self == RootSource::Image
    }

    /// `--rootfs`'s `PATH[:O]` (podman's form: the options after the last colon, when they are
    /// options), the path made absolute against the current directory.
    pub fn parse_dir(arg: &str) -> Result<RootSource, super::FlagError> {
        let bad = |why: &str| super::FlagError::Rootfs {
            path: arg.into(),
            why: why.into(),
        };
        let (path, overlay) = match arg.rsplit_once(':') {
            Some((p, "O")) => (p, true),
            Some((_, o)) if o.split(',').any(|o| o == "O" || o.starts_with("idmap")) => {
                return Err(bad(
                    "the only option roost supports is O (idmap mounts are not supported)",
                ));
            }
            _ => (arg, false),
        };
        if path.is_empty() {
            return Err(bad("no directory given"));
        }
        let path = std::path::absolute(path).map_err(|e| bad(&e.to_string()))?;
        Ok(RootSource::Dir { path, overlay })
    }

    /// The user's directory, for a `--rootfs` container.
    pub fn dir(&self) -> Option<&std::path::Path> {
        match self {
            RootSource::Image => None,
            RootSource::Dir { path, .. } => Some(path),
        }
    }
}

impl ContainerSpec {
    /// The umask the container's processes start with, its own and `exec`'s.
    pub fn umask(&self) -> u32 {
        self.umask.unwrap_or(super::DEFAULT_UMASK)
    }

    /// IDs of the containers this one depends on (`--network container:ID`, `--requires`): `rm`
    /// refuses to remove them while this one exists, and `rm --depend` removes this one with them.
    pub fn depends_on(&self) -> Vec<&str> {
        self.network
            .strip_prefix("container:")
            .into_iter()
            .chain(self.namespaces.donors())
            .chain(self.requires.iter().map(String::as_str))
            .collect()
    }
}

fn default_log_driver() -> String {
    "k8s-file".into()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    #[default]
    Created,
    Running,
    Stopped,
    Exited,
    Paused,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Created => "created",
            Status::Running => "running",
            Status::Stopped => "stopped",
            Status::Exited => "exited",
            Status::Paused => "paused",
        }
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct State {
    pub status: Status,
    #[serde(default)]
    pub pid: i32,
    #[serde(default)]
    pub monitor_pid: i32,
    #[serde(default)]
    pub started_at: Option<Timestamp>,
    #[serde(default)]
    pub finished_at: Option<Timestamp>,
    #[serde(default)]
    pub exit_code: i32,
    #[serde(default)]
    pub error: String,
    #[serde(default)]
    pub restart_count: u32,
    /// Set by `stop`, so the restart policy leaves the container stopped.
    #[serde(default)]
    pub stopped_by_user: bool,
    /// Set by `rm -f` (and `pod rm -f`) with `stopped_by_user` before its SIGKILL: the container
    /// is being removed, so its monitor records the exit before it lets go of the root mount.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub removing: bool,
    /// Not stored: seen when reading, the container runs but the process that started it (its
    /// monitor, or a foreground `run`) is gone, and with it its network helper and its log.
    #[serde(skip)]
    pub monitor_lost: bool,
    /// The container's own cgroup while it runs (when it has one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cgroup: Option<std::path::PathBuf>,
    /// Whether the OOM killer ended it (podman's `State.OOMKilled`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub oom_killed: bool,
    /// Frozen by `pause` (stored with status `running`; read as `paused`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub paused: bool,
    /// `stop` has signalled it and waits for it to end (shown as podman's `stopping` while it runs).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub stopping: bool,
    /// The resource limits of its last start (its `--ulimit`s and roost's defaults), for `inspect`.
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "super::process::deserialize_ulimits"
    )]
    pub rlimits: Vec<super::process::Ulimit>,
}

impl State {
    /// podman's `State.Status`: `stopping` for a running container that `stop` waits for.
    pub fn status_text(&self) -> &'static str {
        if self.stopping && self.status == Status::Running {
            "stopping"
        } else {
            self.status.as_str()
        }
    }
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("state serializes")
    }
    pub fn from_json(s: &str) -> State {
        serde_json::from_str(s).unwrap_or_default()
    }
}
