//! Use cases: `fn(&Ctx, XxxOptions) -> Result<XxxReport>`. No clap, no printing, no environment reads:
//! everything the engine needs comes in through [`Ctx`] and the options.
#![deny(clippy::print_stdout, clippy::print_stderr)]

pub mod build;
pub mod check;
pub mod complete;
pub mod container;
pub mod doctor;
pub mod events;
pub mod image;
pub mod kube;
mod layer;
pub mod network;
pub mod pod;
pub mod quadlet;
pub mod secret;
pub mod storage;
pub mod system;
pub mod systemd;
pub mod users;
pub mod volume;

use std::path::PathBuf;

use crate::archive::{ApplyOptions, Ownership, Whiteouts};
use crate::paths::Paths;
use crate::registry::{AuthFiles, LazyConf};
use crate::store::{Store, StoreError};
use crate::userns::{Joined, Mapping};

/// Everything a use case may depend on, resolved once by the CLI layer.
#[derive(Clone)]
pub struct Ctx {
    pub paths: Paths,
    pub mapping: Mapping,
    /// The user namespace this process runs in (`None` outside, or for real root).
    pub joined: Option<Joined>,
    /// registries.conf, read when first needed.
    pub registries: LazyConf,
    pub auth: AuthFiles,
    /// A storage driver forced by `--storage-driver` or `storage.conf`; otherwise probed.
    pub storage_driver: Option<storage::Forced>,
    /// What `--network private` (and no `--network`) means when containers.conf says
    /// (`default_rootless_network_cmd`); otherwise found on first use: see [`Ctx::default_network`].
    pub default_network: Option<crate::network::Helper>,
    /// containers.conf's pasta options and host.containers.internal address.
    pub network_conf: crate::network::NetworkConf,
    /// Running without real root (including inside our own user namespace, where uid is 0).
    pub rootless: bool,
    /// How long a registry may take to connect or to send the next bytes (`ROOST_REGISTRY_TIMEOUT`).
    pub registry_timeout: std::time::Duration,
    /// `--cgroup-manager` and where the user's bus is (used only for containers with a cgroup).
    pub cgroup: container::resources::CgroupSettings,
    /// Where events are recorded (`events_logger`, `--events-backend`).
    pub events: events::EventsConf,
    /// containers.conf's `[containers] log_driver`, and the file that set it.
    pub log_driver: Option<(String, PathBuf)>,
    /// `NOTIFY_SOCKET`: set when roost runs in a `Type=notify` systemd unit (see `--sdnotify`).
    pub notify_socket: Option<container::sdnotify::NotifySocket>,
    /// containers.conf's `[containers] mounts` (`--mount` syntax), added to every new container.
    pub conf_mounts: Vec<String>,
    /// `--default-mounts-file`: the containers-mounts.conf(5) file to use instead of the usual ones.
    pub default_mounts_file: Option<PathBuf>,
    /// `--runtime-flag`s, for the runtime to check when it runs a container.
    pub runtime_flags: Vec<String>,
    /// The `--userns` of a container that gives none: `$PODMAN_USERNS`, else containers.conf's
    /// `[containers] userns`.
    pub default_userns: Option<String>,
    /// The name roost was called by in messages that name a command: `podman` under podman's
    /// name, else `roost`.
    pub program: &'static str,
    /// containers.conf's `[engine] image_volume_mode`: what the image's VOLUMEs get by default.
    pub image_volume_mode: Option<container::volumes::ImageVolumeMode>,
    /// A store a use case opened and handed back for the next one in this command (`run` creates,
    /// then starts): see [`Ctx::keep_store`].
    pub spare_store: SpareStore,
}

/// At most one open [`Store`] kept for reuse. A copy of a [`Ctx`] starts without one.
#[derive(Default)]
pub struct SpareStore(std::sync::Mutex<Option<Store>>);

impl Clone for SpareStore {
    fn clone(&self) -> Self {
        SpareStore::default()
    }
}

impl Ctx {
    /// What `--network private` (and no `--network`) means: containers.conf's choice, else the
    /// built-in network when libslirp is installed, else pasta, else slirp4netns. Probed here
    /// rather than for every command (loading libslirp is for the commands that make containers).
    pub fn default_network(&self) -> crate::network::Helper {
        self.default_network
            .unwrap_or_else(|| container::network_settings::default_helper(crate::helpers::get()))
    }

    /// Open the store for writing (creating it if needed), or take the one kept by
    /// [`Ctx::keep_store`].
    pub fn store(&self) -> Result<Store, EngineError> {
        match self.spare_store.0.lock().ok().and_then(|mut s| s.take()) {
            Some(store) => Ok(store),
            None => Ok(Store::open(&self.paths.data)?),
        }
    }

    /// Keep `store` for this command's next [`Ctx::store`]: each open of the database reads its
    /// write-ahead log again. Only for a use case that the same command follows with another
    /// (`create` before `run`'s start): a long-lived process must not keep one it does not use.
    pub fn keep_store(&self, store: Store) {
        if let Ok(mut spare) = self.spare_store.0.lock() {
            *spare = Some(store);
        }
    }

    /// Open the store for reading; `None` when nothing was ever stored.
    pub fn store_if_exists(&self) -> Result<Option<Store>, EngineError> {
        Ok(Store::open_existing(&self.paths.data)?)
    }

    /// How layers are unpacked in this process.
    pub fn apply_options(&self) -> ApplyOptions {
        ApplyOptions {
            ownership: if self.joined == Some(Joined::Single) {
                Ownership::Xattr
            } else {
                Ownership::Chown
            },
            whiteouts: Whiteouts::Overlay,
            allow_devices: !self.rootless,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Cgroup(#[from] crate::runtime::cgroup::CgroupError),
    #[error(transparent)]
    Limit(#[from] crate::runtime::cgroup::LimitError),
    #[error(transparent)]
    Registry(#[from] crate::registry::RegistryError),
    #[error(transparent)]
    Conf(#[from] crate::registry::ConfError),
    #[error(transparent)]
    Archive(#[from] crate::archive::ArchiveError),
    #[error(transparent)]
    Reference(#[from] crate::oci::ReferenceError),
    #[error(transparent)]
    Platform(#[from] crate::oci::PlatformError),
    #[error(transparent)]
    ContainerFs(#[from] container::FsError),
    #[error("no container with name or ID \"{0}\" found: no such container")]
    NoSuchContainer(String),
    /// `inspect` without `--type`: neither a container nor an image has these names (podman's words).
    #[error("no such object: {}", .0.iter().map(|n| format!("\"{n}\"")).collect::<Vec<_>>().join(", "))]
    NoSuchObject(Vec<String>),
    /// `container inspect` of a name that is no container (podman's words).
    #[error("no such container \"{0}\"")]
    NoSuchContainerToInspect(String),
    #[error(
        "cannot remove container {0} as it is running - running or paused containers cannot be removed without force: container state improper"
    )]
    RemoveRunning(String),
    /// The container did not start (reported by its monitor, or by the runtime).
    #[error(transparent)]
    StartFailed(crate::runtime::Failure),
    #[error(
        "image used by {container}: image is in use by a container: consider listing external containers and force-removing image"
    )]
    ImageInUse { container: String },
    #[error("{0}: image not known")]
    ImageNotKnown(String),
    #[error("`{input}` matches more than one image: {matches}")]
    Ambiguous { input: String, matches: String },
    #[error(
        "unable to delete image `{id}` by ID with more than one tag ({names}): please force removal"
    )]
    MultipleTags { id: String, names: String },
    #[error(
        "layer `{digest}` of `{image}` did not unpack to the content its config names (diff id `{actual}`, expected `{expected}`)"
    )]
    DiffIdMismatch {
        image: String,
        digest: String,
        expected: String,
        actual: String,
    },
    #[error("malformed {what} in `{source_name}`: {why}")]
    Malformed {
        what: &'static str,
        source_name: String,
        why: String,
    },
    #[error("failed to {op} `{path}`")]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "not enough space in `{}` for blob `{digest}` of `{image}` from registry `{registry}`: it needs {needed} bytes, {available} are free",
        path.display()
    )]
    NoSpace {
        path: PathBuf,
        digest: String,
        image: String,
        registry: String,
        needed: u64,
        available: u64,
    },
    #[error("unpacking a layer failed in its worker thread")]
    Worker,
    #[error(transparent)]
    Volume(#[from] volume::VolumeError),
    #[error(transparent)]
    MountSpec(#[from] container::MountSpecError),
    #[error(transparent)]
    Network(#[from] crate::network::NetworkError),
    #[error(transparent)]
    Pod(#[from] pod::PodError),
    #[error(transparent)]
    Secret(#[from] secret::SecretError),
    #[error(transparent)]
    Kube(#[from] kube::KubeError),
    #[error(transparent)]
    Image(#[from] image::ImageError),
    #[error(transparent)]
    Process(#[from] container::process::ProcessError),
    #[error(transparent)]
    NetFlag(#[from] network::NetFlagError),
    #[error(transparent)]
    Flag(#[from] container::FlagError),
    #[error(transparent)]
    JournalLog(#[from] container::journal_log::JournalLogError),
    #[error(transparent)]
    Resource(#[from] container::resources::ResourceError),
    #[error(transparent)]
    Op(#[from] container::OpError),
    #[error("pull policy is `never` and `{0}` is not in local storage")]
    NeverPull(String),
    #[error("not logged into {0}")]
    NotLoggedIn(String),
    #[error("{0}: container state improper")]
    StateImproper(String),
    #[error(transparent)]
    Exec(#[from] crate::runtime::ExecError),
    #[error(transparent)]
    Health(#[from] container::health::HealthError),
    #[error(transparent)]
    SdNotify(#[from] container::sdnotify::SdNotifyError),
    #[error(transparent)]
    Quadlet(#[from] quadlet::manage::ManageError),
    #[error(transparent)]
    Wait(#[from] container::WaitError),
    #[error(transparent)]
    Procs(#[from] crate::runtime::procs::ProcsError),
    #[error(transparent)]
    Storage(#[from] storage::StorageError),
    #[error(transparent)]
    Build(#[from] build::BuildError),
    #[error(transparent)]
    RuntimeFlag(#[from] crate::runtime::flags::UnknownFlag),
    #[error(transparent)]
    Ulimit(#[from] container::process::UlimitError),
    #[error(transparent)]
    Caps(#[from] crate::runtime::security::caps::CapsError),
    #[error(transparent)]
    Events(#[from] events::EventsError),
    #[error(transparent)]
    Systemd(#[from] systemd::SystemdError),
    #[error(transparent)]
    AutoUpdate(#[from] systemd::autoupdate::AutoUpdateError),
}

impl From<crate::runtime::SpawnError> for EngineError {
    fn from(e: crate::runtime::SpawnError) -> EngineError {
        EngineError::StartFailed((&e).into())
    }
}

impl EngineError {
    /// This error as reported to another process (a monitor's to the command that started it).
    pub fn report(&self) -> crate::runtime::Failure {
        crate::runtime::Failure {
            code: self.exit_code(),
            message: self.to_string(),
            hint: self.hint(),
        }
    }

    pub(crate) fn io(
        op: &'static str,
        path: impl Into<PathBuf>,
        source: std::io::Error,
    ) -> EngineError {
        EngineError::Io {
            op,
            path: path.into(),
            source,
        }
    }

    /// What the user can do about it.
    pub fn hint(&self) -> Option<String> {
        match self {
            EngineError::Registry(e) => e.hint(),
            EngineError::Network(e) => e.hint(),
            EngineError::Health(e) => e.hint(),
            EngineError::Quadlet(e) => e.hint(),
            EngineError::Pod(e) => e.hint(),
            EngineError::Secret(e) => e.hint(),
            EngineError::Kube(e) => e.hint(),
            EngineError::Cgroup(e) => e.hint(),
            EngineError::Events(e) => e.hint(),
            EngineError::Systemd(e) => e.hint(),
            EngineError::AutoUpdate(e) => e.hint(),
            EngineError::JournalLog(e) => e.hint(),
            EngineError::Flag(container::FlagError::NoJournal(_)) => Some(
                "run it where systemd's journal runs, or log to a file with --log-driver k8s-file (the default)"
                    .into(),
            ),
            EngineError::ImageNotKnown(_) => {
                Some("see `roost images` for the images in local storage".into())
            }
            EngineError::Ambiguous { .. } => Some("use a longer ID or a full name".into()),
            EngineError::NoSuchObject(_) => {
                Some("see `roost ps -a` and `roost images` for what exists".into())
            }
            EngineError::MultipleTags { .. } => {
                Some("use `roost rmi -f`, or remove the tags one by one".into())
            }
            EngineError::NoSpace { .. } => Some(
                "free some space (e.g. `roost system prune`), or check that the image's size is plausible"
                    .into(),
            ),
            EngineError::NeverPull(_) => {
                Some("pull it first with `roost pull`, or use --pull=missing".into())
            }
            EngineError::StartFailed(f) => f.hint.clone(),
            _ => None,
        }
    }

    /// podman-compatible exit status for this error.
    pub fn exit_code(&self) -> i32 {
        match self {
            EngineError::StartFailed(f) => f.code,
            EngineError::Exec(e) => e.exit_code(),
            EngineError::Build(e) => e.exit_code(),
            // podman's status when the OCI runtime fails to run the container.
            EngineError::RuntimeFlag(_) => 126,
            EngineError::Network(e) => e.exit_code(),
            _ => 125,
        }
    }
}
