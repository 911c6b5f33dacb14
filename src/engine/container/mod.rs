//! Container use cases: create, run, start, stop, remove, list.

pub mod attach;
mod auto_size;
mod base;
mod capture;
mod cleanup;
mod clone;
mod commit;
mod cp;
mod cp_fs;
pub mod default_mounts;
pub mod detach;
pub mod devices;
mod diff;
mod diff_copy;
mod exec;
mod export;
mod files;
mod flag_error;
mod glob_mount;
pub mod health;
pub mod idmap;
pub mod journal_log;
mod lifecycle;
pub mod logs;
mod monitor;
pub mod mount;
mod mount_spec;
mod names;
mod namespaces;
pub mod network_settings;
mod op_error;
pub mod process;
pub mod resources;
mod restart;
mod rootfs;
mod run;
pub mod sdnotify;
mod size;
mod spec;
pub mod sysctl;
pub(crate) mod tee;
pub mod timezone;
mod top;
mod users;
mod view;
pub mod volumes;
mod wait;

use std::collections::BTreeMap;
use std::path::PathBuf;

use jiff::Timestamp;

pub use cleanup::{cleanup, cleanup_exec};
pub use clone::clone_container;
pub(crate) use commit::container_layer_tar;
pub use commit::{CommitFormat, CommitOptions, commit};
pub use cp::{CopyOptions, Location, copy};
pub use diff::{Change, ChangeKind, diff};
pub use exec::{ExecOptions, exec, exec_ids};
pub use export::export;
pub use flag_error::FlagError;
pub use lifecycle::{
    StopOutcome, find, find_settled, kill, kill_for_removal, list, list_in_pod, remove,
    remove_containers, remove_one, removed_exit_code, restart, restart_pending, stop,
    wait_and_record, wait_stopped,
};
pub use monitor::container_log_path;
pub use monitor::{MonitorOptions, monitor, spawn_monitor, start_detached};
pub use mount_spec::{Mount, MountKind, MountSpecError, parse_mount, parse_tmpfs, parse_volume};
pub(crate) use names::generate as generate_name;
pub use names::{parse_signal, validate as validate_name};
pub use namespaces::Namespaces;
pub use op_error::OpError;
pub use process::{DEFAULT_UMASK, parse_umask};
pub use restart::{Restart, parse_restart};
pub use run::{Ended, run_attached};
pub use size::{ContainerSize, size, tree_size};
pub use spec::{ContainerSpec, RootSource, State, Status};
pub use top::{TopOutput, top, top_or_ps};
pub use users::ContainerUsers;
pub use view::FsError;
pub use view::storage_dirs;
pub use volumes::remove_anonymous_volumes;
pub use wait::{WaitCondition, WaitError, wait_for};

use super::image::{PullOptions, PullPolicy, PullProgress};
use super::storage::Driver;
use super::{Ctx, EngineError};
use crate::oci::Platform;
use crate::runtime::security::caps::CapArg;
use crate::runtime::{Bind, IdMaps, Plan, Process};
use crate::store::{ContainerRecord, Store};

/// What `create`/`run` are asked for (the CLI's flags, parsed).
#[derive(Debug, Clone, Default)]
pub struct CreateOptions {
    pub image: String,
    /// `--rootfs`: the root is a directory of the user's (then `image` is unused).
    pub root: RootSource,
    pub name: Option<String>,
    pub command: Vec<String>,
    pub entrypoint: Option<String>,
    pub env: Vec<String>,
    pub workdir: Option<String>,
    pub user: Option<String>,
    pub hostname: Option<String>,
    /// `--network`, `-p` and the other network flags.
    pub net: network_settings::NetworkRequest,
    pub read_only: bool,
    /// `--read-only-tmpfs=false`: a read-only container gets no tmpfs on /run, /tmp and /var/tmp.
    pub no_read_only_tmpfs: bool,
    /// `--image-volume` (None: containers.conf's `image_volume_mode`, else anonymous volumes).
    pub image_volume: Option<volumes::ImageVolumeMode>,
    pub remove: bool,
    pub tty: bool,
    pub interactive: bool,
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
    pub pull: Option<PullPolicy>,
    pub stop_signal: Option<i32>,
    pub stop_timeout: Option<u32>,
    pub no_new_privileges: bool,
    pub privileged: bool,
    pub cap_add: Vec<String>,
    pub cap_drop: Vec<String>,
    pub seccomp: Option<String>,
    pub log_driver: Option<String>,
    pub log_opts: logs::LogOptions,
    pub restart: Option<Restart>,
    pub tls_verify: Option<bool>,
    /// `--retry`, `--retry-delay` for the image's pull.
    pub retry: super::image::Retry,
    /// `--decryption-key KEY[:PASSPHRASE]` for the image's pull.
    pub decryption_keys: Vec<String>,
    /// The platform to pull the image for (`--platform`, `--arch`, `--os`, `--variant`); the
    /// host's when None.
    pub platform: Option<Platform>,
    pub env_files: Vec<(PathBuf, String)>,
    pub env_host: bool,
    /// `--http-proxy=false`: the caller's proxy variables are not passed on.
    pub no_http_proxy: bool,
    pub unset_env: Vec<String>,
    pub unset_env_all: bool,
    pub group_add: Vec<String>,
    pub init: bool,
    /// `--umask`; podman's 0022 when `None`.
    pub umask: Option<u32>,
    pub ulimits: Vec<String>,
    /// `--sysctl KEY=VALUE`.
    pub sysctls: Vec<String>,
    /// `--device HOST[:CONTAINER][:PERMISSIONS]`, as given.
    pub devices: Vec<String>,
    /// `--tz`: a zone name or `local`.
    pub timezone: Option<String>,
    /// The caller's environment, for `-e KEY` and `--env-host`.
    pub host_env: Vec<(String, String)>,
    /// `-v`, `--mount` and `--tmpfs`, parsed (bind sources absolute).
    pub mounts: Vec<Mount>,
    /// `--volumes-from CONTAINER[:OPTIONS]`, as given.
    pub volumes_from: Vec<String>,
    /// `--userns`, `--uidmap`, `--gidmap` and the caller's namespace.
    pub userns: idmap::UsernsRequest,
    /// Bridge networks (`--network NAME…`, `--ip`, `--network-alias`, `--mac-address`).
    pub networks: BTreeMap<String, crate::network::netavark::PerNetwork>,
    /// `--link NAME[:ALIAS]`.
    pub links: Vec<String>,
    /// `--pid`, `--ipc`, `--uts`: `host` or private (empty).
    pub namespaces: Namespaces,
    /// `--requires`: containers (names or ids) started before this one.
    pub requires: Vec<String>,
    /// `--health-*` and `--no-healthcheck`.
    pub health: health::HealthRequest,
    /// `--pod NAME|ID`: the pod to join (see `engine::pod::member_options`).
    pub pod: Option<String>,
    /// This is the infra container of the pod `pod` names (by id), made by `pod create`.
    pub pod_infra: bool,
    /// `--memory`, `--cpus` and the other limits, parsed.
    pub resources: crate::runtime::cgroup::Resources,
    /// `--cgroups`, `--cgroup-parent`, `--cgroupns`, `--oom-score-adj`.
    pub cgroup: resources::CgroupSpec,
    /// `--sdnotify`.
    pub sdnotify: sdnotify::SdNotifyMode,
    /// A service container (`kube play --service-container`), see `engine::pod::service`.
    pub service: Option<crate::engine::pod::service::Propagation>,
    /// The command line that creates the container (podman's `CreateCommand`).
    pub create_command: Vec<String>,
    /// `--secret NAME[,type=…,target=…,uid=…,gid=…,mode=…]` as given (see `engine::secret::use_`).
    pub secrets: Vec<String>,
}

/// A container that exists in the store.
#[derive(Debug, Clone)]
pub struct Container {
    pub record: ContainerRecord,
    pub spec: ContainerSpec,
    pub state: State,
}

impl Container {
    /// A container roost made for itself (a `build` step), not the user's: `ps` shows it only with
    /// `--external`, and `rm -a`, `stop -a` and `container prune` leave it to its build.
    pub fn is_external(&self) -> bool {
        self.spec.builder.is_some()
    }

    /// Its image's id as podman shows it (`Image`): empty for a `--rootfs` container, which has none.
    pub fn image_id(&self) -> Option<&crate::oci::Digest> {
        self.spec.root.is_image().then_some(&self.record.image_id)
    }

    /// What stands for its image in listings (`ps`): the image's name, or the `--rootfs` directory.
    pub fn image_label(&self) -> String {
        match &self.spec.root {
            RootSource::Image => self.record.image.clone(),
            RootSource::Dir { path, overlay } => {
                format!("{}{}", path.display(), if *overlay { ":O" } else { "" })
            }
        }
    }

    pub fn from_record(record: ContainerRecord) -> Container {
        let spec = serde_json::from_str(&record.spec).unwrap_or_default();
        let state = State::from_json(&record.state);
        Container {
            record,
            spec,
            state,
        }
    }
}

/// A fresh container id: 64 hex digits.
fn new_id() -> String {
    let bytes: [u8; 32] = rand::random();
    hex::encode(bytes)
}

/// Resolve the image for a new container, pulling it when the policy says so.
fn image_for(
    ctx: &Ctx,
    store: &Store,
    opts: &CreateOptions,
    progress: &dyn PullProgress,
) -> Result<crate::oci::Digest, EngineError> {
    let policy = opts.pull.unwrap_or(PullPolicy::Missing);
    if policy == PullPolicy::Missing || policy == PullPolicy::Never {
        match super::image::lookup(store, &opts.image) {
            Ok(id) => return Ok(id),
            Err(EngineError::ImageNotKnown(_)) if policy == PullPolicy::Missing => {}
            Err(EngineError::ImageNotKnown(_)) => {
                return Err(EngineError::NeverPull(opts.image.clone()));
            }
            Err(e) => return Err(e),
        }
    }
    let pulled = super::image::pull(
        ctx,
        &PullOptions {
            reference: opts.image.clone(),
            platform: opts.platform.clone().unwrap_or_else(Platform::host),
            policy,
            tls_verify: opts.tls_verify,
            credentials: None,
            retry: opts.retry,
            cert_dir: None,
            decryption_keys: opts.decryption_keys.clone(),
        },
        progress,
    )?;
    Ok(pulled.id)
}

/// `create`: record a container for an image, ready to start.
pub fn create(
    ctx: &Ctx,
    opts: &CreateOptions,
    progress: &dyn PullProgress,
) -> Result<Container, EngineError> {
    // In a pod: the pod's namespaces and settings replace the container's own (engine::pod).
    let in_pod = super::pod::member_options(ctx, opts)?;
    let opts = in_pod.as_ref().unwrap_or(opts);
    let flags = Flags::parse(ctx, opts)?;
    let mut store = ctx.store()?;
    let base = base::Base::resolve(ctx, &store, opts, progress)?;
    let id = new_id();
    let secrets = super::secret::use_::resolve(ctx, &opts.secrets)?;
    // An auto range is taken when the container is recorded: two creates must not pick the same one.
    let _auto_lock = match opts.userns.mode.as_deref() {
        Some(m) if m.starts_with("auto") => Some(store.lock_named("userns-auto")?),
        _ => None,
    };
    let inputs = Inputs::resolve(ctx, &mut store, opts, &base, &id)?;
    let name = inputs.name.clone();
    let new_volumes = inputs.new_volumes.clone();
    let mut spec = spec(ctx, opts, &base, flags, inputs);
    spec.secrets = secrets.iter().map(|(u, _)| u.clone()).collect();
    let record = ContainerRecord {
        id: id.clone(),
        name,
        image_id: base.image_id,
        image: base.image,
        created: Timestamp::now(),
        spec: serde_json::to_string(&spec).expect("spec serializes"),
        state: State::default().to_json(),
    };
    let record = persist(
        ctx,
        &mut store,
        record,
        &spec,
        &new_volumes,
        opts.name.is_none(),
        &secrets,
    )?;
    let c = Container {
        record,
        spec,
        state: State::default(),
    };
    use crate::engine::events::Event;
    let mut events: Vec<Event> = new_volumes
        .iter()
        .map(|v| Event::volume("create", v))
        .collect();
    events.push(Event::container("create", &c));
    crate::engine::events::record_all(ctx, &events);
    // `run` starts the container next, in this process.
    ctx.keep_store(store);
    Ok(c)
}

/// The flags of a new container that are checked before anything is looked up or pulled.
struct Flags {
    ulimits: Vec<process::Ulimit>,
    sysctls: std::collections::BTreeMap<String, String>,
    cap_add: Vec<CapArg>,
    cap_drop: Vec<CapArg>,
    cgroup: resources::CgroupSpec,
    limits: Option<crate::runtime::cgroup::Resources>,
    storage_driver: Driver,
    log_driver: journal_log::Driver,
}

impl Flags {
    fn parse(ctx: &Ctx, opts: &CreateOptions) -> Result<Flags, EngineError> {
        let ulimits = process::parse_ulimits(&opts.ulimits)?;
        let sysctls = sysctl::parse_all(&opts.sysctls, &opts.net.mode, &opts.namespaces)?;
        if let Some(tz) = &opts.timezone {
            timezone::zone_file(tz)?;
        }
        let cap_add = CapArg::parse_all(&opts.cap_add)?;
        let cap_drop = CapArg::parse_all(&opts.cap_drop)?;
        let mut cgroup = opts.cgroup.clone();
        let limits = resources::check(ctx, &opts.resources, &mut cgroup)?;
        Ok(Flags {
            ulimits,
            sysctls,
            cap_add,
            cap_drop,
            cgroup,
            limits,
            storage_driver: storage_driver(ctx, &opts.root)?,
            log_driver: log_driver(ctx, opts)?,
        })
    }
}

/// The request, with the ids other `auto` containers hold and those the image needs when it asks
/// for `auto`.
fn userns_request(
    store: &Store,
    req: &idmap::UsernsRequest,
    layers: &[crate::oci::Digest],
) -> Result<idmap::UsernsRequest, EngineError> {
    let mut req = req.clone();
    if !req.mode.as_deref().is_some_and(|m| m.starts_with("auto")) {
        return Ok(req);
    }
    req.image_span = auto_size::image_span(store, layers);
    for r in store.containers()? {
        let c = Container::from_record(r);
        if let Some(m) = c.spec.id_maps.as_ref().filter(|_| c.spec.userns_auto) {
            req.taken.0.extend(m.uids.iter().copied());
            req.taken.1.extend(m.gids.iter().copied());
        }
    }
    Ok(req)
}

/// What a new container's options and its image resolve to in the store: its process, name,
/// networks, mounts, healthcheck and the containers it requires.
struct Inputs {
    process: process::ProcessSpec,
    hostname: String,
    userns: idmap::Userns,
    extra_passwd: Option<String>,
    extra_group: Option<String>,
    name: String,
    stop_signal: i32,
    networks: BTreeMap<String, crate::network::netavark::PerNetwork>,
    network: String,
    net: crate::engine::network::NetworkSpec,
    mounts: Vec<Mount>,
    /// Volumes made for this container (forgotten again if it cannot be made).
    new_volumes: Vec<String>,
    healthcheck: Option<health::HealthConfig>,
    requires: Vec<String>,
    /// `--pid`, `--ipc`, `--uts`, `--cgroupns` with other containers named by id.
    namespaces: Namespaces,
}

impl Inputs {
    fn resolve(
        ctx: &Ctx,
        store: &mut Store,
        opts: &CreateOptions,
        base: &base::Base,
        id: &str,
    ) -> Result<Inputs, EngineError> {
        let info = &base.info;
        let dirs = base.dirs(store);
        let config = info.config.config.clone().unwrap_or_default();
        // In the host's UTS namespace the container's name is the host's (`uname -n`), as in podman.
        let hostname = opts.hostname.clone().unwrap_or_else(|| {
            if opts.namespaces.uts == "host"
                && let Ok(h) = nix::unistd::gethostname()
            {
                return h.to_string_lossy().into_owned();
            }
            process::default_hostname(id)
        });
        let req = userns_request(store, &opts.userns, &info.record.layers)?;
        let userns = idmap::resolve(&req).map_err(FlagError::from)?;
        let process = resolve_process(&dirs, info, opts, &userns, &hostname)?;
        let (extra_passwd, extra_group) = match userns.user {
            Some(user) => files::keep_id_entries(
                &dirs,
                opts.userns.caller_name.as_deref(),
                user,
                &process.cwd,
            ),
            None => (None, None),
        };
        let name = match &opts.name {
            Some(n) => names::validate(n)?,
            None => names::generate(store)?,
        };
        let stop_signal = match opts.stop_signal {
            Some(s) => s,
            None => config
                .stop_signal
                .as_deref()
                .map(names::parse_signal)
                .transpose()?
                .unwrap_or(libc::SIGTERM),
        };
        let keys = |m: &Option<BTreeMap<String, serde_json::Value>>| -> Vec<String> {
            m.as_ref()
                .map(|v| v.keys().cloned().collect())
                .unwrap_or_default()
        };
        let networks = super::network::resolve_for_create(ctx, &opts.networks)?;
        let (network, net) = network_settings::resolve(
            store,
            || ctx.default_network(),
            &network_settings::with_default_host_ips(&opts.net, &ctx.network_conf.default_host_ips),
            &keys(&config.exposed_ports),
        )?;
        network_settings::check_links(store, &network, &opts.links)?;
        let healthcheck = health::resolve(config.healthcheck.as_ref(), &opts.health)?;
        if opts.sdnotify == sdnotify::SdNotifyMode::Healthy && healthcheck.is_none() {
            return Err(sdnotify::SdNotifyError::NoHealthcheck.into());
        }
        // The kernel turns swap off for a tmpfs only for real root.
        let noswap = |m: &Mount| m.tmpfs_data.iter().any(|d| d == "noswap");
        if ctx.rootless && opts.mounts.iter().any(noswap) {
            return Err(mount_spec::MountSpecError::NoswapRootless.into());
        }
        let mut wanted = opts.mounts.clone();
        wanted.extend(devices::mounts(&opts.devices)?);
        let shared = volumes::volumes_from(store, &opts.volumes_from, &wanted)?;
        wanted.extend(shared);
        let image_volume = opts
            .image_volume
            .or(ctx.image_volume_mode)
            .unwrap_or_default();
        let (mounts, new_volumes) =
            volumes::resolve(store, &wanted, &keys(&config.volumes), image_volume)?;
        let namespaces = opts.namespaces.resolve(store)?;
        let requires = opts
            .requires
            .iter()
            .map(|r| find(store, r).map(|c| c.record.id))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Inputs {
            process,
            hostname,
            userns,
            extra_passwd,
            extra_group,
            name,
            stop_signal,
            networks,
            network,
            net,
            mounts,
            new_volumes,
            healthcheck,
            requires,
            namespaces,
        })
    }
}

/// The spec of a new container: its options over its image's configuration.
fn spec(
    ctx: &Ctx,
    opts: &CreateOptions,
    base: &base::Base,
    flags: Flags,
    inputs: Inputs,
) -> ContainerSpec {
    let info = &base.info;
    let config = info.config.config.clone().unwrap_or_default();
    let Inputs {
        process, userns, ..
    } = inputs;
    ContainerSpec {
        args: process.args,
        env: process.env,
        home_default: process.home_default,
        cwd: process.cwd,
        uid: process.uid,
        gid: process.gid,
        additional_gids: process.additional_gids,
        group_add: process.group_add,
        user: opts.user.clone().or(config.user).unwrap_or_default(),
        hostname: inputs.hostname,
        layers: info.record.layers.clone(),
        root: base.root.clone(),
        read_only: opts.read_only,
        no_read_only_tmpfs: opts.no_read_only_tmpfs,
        network: inputs.network,
        net: inputs.net,
        remove: opts.remove,
        tty: opts.tty,
        interactive: opts.interactive,
        labels: opts.labels.clone(),
        annotations: opts.annotations.clone(),
        stop_signal: inputs.stop_signal,
        stop_timeout: opts.stop_timeout.unwrap_or(10),
        entrypoint: config.entrypoint.unwrap_or_default(),
        command: if opts.command.is_empty() {
            config.cmd.unwrap_or_default()
        } else {
            opts.command.clone()
        },
        no_new_privileges: opts.no_new_privileges,
        privileged: opts.privileged,
        cap_add: flags.cap_add,
        cap_drop: flags.cap_drop,
        seccomp: opts.seccomp.clone(),
        log_driver: flags.log_driver.as_str().to_string(),
        log_opts: opts.log_opts.clone(),
        restart: opts.restart.unwrap_or_default(),
        init: opts.init,
        umask: opts.umask,
        ulimits: flags.ulimits,
        ulimit_host: opts.ulimits.iter().any(|u| u == "host"),
        sysctls: flags.sysctls,
        timezone: opts.timezone.clone(),
        mounts: inputs.mounts,
        userns: userns.mode,
        userns_auto: userns.auto,
        // A namespace with only the caller's id stores owners in xattrs: there is nothing to shift.
        shifted_layers: userns.maps.is_some()
            && base.root.is_image()
            && ctx.apply_options().ownership == crate::archive::Ownership::Chown,
        id_maps: userns.maps,
        extra_passwd: inputs.extra_passwd,
        extra_group: inputs.extra_group,
        networks: inputs.networks,
        links: opts.links.clone(),
        storage_driver: flags.storage_driver,
        builder: None,
        namespaces: inputs.namespaces,
        requires: inputs.requires,
        healthcheck: inputs.healthcheck,
        pod: opts.pod.clone(),
        resources: flags.limits,
        cgroup: flags.cgroup,
        sdnotify: opts.sdnotify,
        service: opts.service,
        create_command: opts.create_command.clone(),
        secrets: Vec::new(),
    }
}

/// Make the container's directory and insert its record; on failure, undo both and forget the
/// volumes made for it.
fn persist(
    ctx: &Ctx,
    store: &mut Store,
    record: ContainerRecord,
    spec: &ContainerSpec,
    new_volumes: &[String],
    generated_name: bool,
    secrets: &[(super::secret::SecretUse, Vec<u8>)],
) -> Result<ContainerRecord, EngineError> {
    let dir = match place_dir(ctx, store, spec, &record.id, secrets) {
        Ok(dir) => dir,
        Err(e) => {
            volumes::forget(store, new_volumes);
            return Err(e);
        }
    };
    add_record(store, record, generated_name).inspect_err(|_| {
        let _ = crate::store::remove_tree(&dir);
        volumes::forget(store, new_volumes);
    })
}

/// The storage driver for a new container (fixed at create), checked to be usable.
/// `--log-driver`, else containers.conf's `log_driver`, else k8s-file. journald needs the journal:
/// asked for with the flag, its absence is an error; by containers.conf (which may be shared with
/// hosts that have one), a warning and k8s-file.
fn log_driver(ctx: &Ctx, opts: &CreateOptions) -> Result<journal_log::Driver, EngineError> {
    use journal_log::Driver as D;
    let parse = |v: &str| D::parse(v).ok_or_else(|| FlagError::LogDriver(v.to_string()));
    let driver = match (&opts.log_driver, &ctx.log_driver) {
        (Some(v), _) => parse(v)?,
        (None, Some((v, file))) => match parse(v)? {
            D::Journald if !journal_log::journal_available() => {
                tracing::warn!(
                    file = %file.display(),
                    "log_driver is journald but there is no journal ({}): logging to a file instead",
                    crate::sys::journal::SOCKET
                );
                D::K8sFile
            }
            d => d,
        },
        (None, None) => D::K8sFile,
    };
    if driver == D::Journald && opts.log_driver.is_some() && !journal_log::journal_available() {
        return Err(FlagError::NoJournal(crate::sys::journal::SOCKET.into()).into());
    }
    if driver == D::Passthrough && opts.tty {
        return Err(FlagError::PassthroughTty.into());
    }
    Ok(driver)
}

/// The storage driver for a new container; the user's `--rootfs` directory as it is is a plain tree,
/// as vfs's copies are.
fn storage_driver(ctx: &Ctx, root: &RootSource) -> Result<Driver, EngineError> {
    if matches!(root, RootSource::Dir { overlay: false, .. }) {
        return Ok(Driver::Vfs);
    }
    let driver = super::storage::select(ctx).driver;
    if driver == Driver::FuseOverlayfs {
        super::storage::fuse::available()
            .map_err(|_| super::storage::StorageError::NoFuseOverlayfs)?;
    }
    Ok(driver)
}

/// The container's process: command, environment, user and working directory. keep-id runs as the
/// caller unless `-u` says otherwise (podman).
fn resolve_process(
    dirs: &[PathBuf],
    info: &super::image::ImageInfo,
    opts: &CreateOptions,
    userns: &idmap::Userns,
    hostname: &str,
) -> Result<process::ProcessSpec, EngineError> {
    match userns.user {
        Some((uid, gid)) if opts.user.is_none() => {
            let mut o = opts.clone();
            o.user = Some(format!("{uid}:{gid}"));
            files::resolve_process(dirs, info, &o, hostname)
        }
        _ => files::resolve_process(dirs, info, opts, hostname),
    }
}

/// Make the container's directory (its root file system): in staging, renamed into place, so a
/// killed `create` leaves nothing half-made (see `Store::stage_container_dir`).
fn place_dir(
    ctx: &Ctx,
    store: &Store,
    spec: &ContainerSpec,
    id: &str,
    secrets: &[(super::secret::SecretUse, Vec<u8>)],
) -> Result<PathBuf, EngineError> {
    let staged = store.stage_container_dir()?;
    let made = rootfs::create(ctx, store, spec, &staged)
        .and_then(|()| super::secret::use_::stage(&staged, secrets))
        .and_then(|()| Ok(store.place_container_dir(&staged, id)?));
    if made.is_err() {
        let _ = crate::store::remove_tree(&staged);
    }
    made
}

/// Insert the container's record. A generated name can be taken by a concurrent `run` between the
/// check and the insert: then another is generated.
fn add_record(
    store: &mut Store,
    mut record: ContainerRecord,
    generated_name: bool,
) -> Result<ContainerRecord, EngineError> {
    let mut tries = 0;
    loop {
        match store.add_container(&record) {
            Err(crate::store::StoreError::NameInUse(_)) if generated_name && tries < 16 => {
                tries += 1;
                record.name = names::generate(store)?;
            }
            Err(e) => return Err(e.into()),
            Ok(()) => return Ok(record),
        }
    }
}

/// Capabilities (podman's default set, `--cap-add/--cap-drop`, all with `--privileged`) and the seccomp
/// filter (podman's default profile, `--security-opt seccomp=FILE|unconfined`; none when privileged).
pub(super) fn security(
    ctx: &Ctx,
    spec: &ContainerSpec,
) -> Result<crate::runtime::Security, EngineError> {
    use crate::runtime::security::{caps::CapSet, seccomp};
    let caps = if spec.privileged {
        CapSet::all()
    } else {
        CapSet::resolve(CapSet::podman_default(), &spec.cap_add, &spec.cap_drop)?
    };
    let profile = match spec.seccomp.as_deref() {
        _ if spec.privileged => None,
        Some("unconfined") => None,
        Some(path) => {
            Some(seccomp::load_profile(std::path::Path::new(path)).map_err(FlagError::from)?)
        }
        None => Some(seccomp::default_profile()),
    };
    let cache = ctx.paths.runtime.join("seccomp");
    let _ = std::fs::create_dir_all(&cache);
    let filter = profile
        .map(|p| {
            seccomp::compile_cached(&p, &caps, &cache)
                .map_err(|e| EngineError::from(FlagError::from(e)))
        })
        .transpose()?;
    Ok(crate::runtime::Security {
        caps,
        seccomp: filter.map(std::sync::Arc::new),
    })
}

/// In a container's runtime directory: the pid of its monitor while it runs detached (as conmon's
/// `conmon.pid`; the `PIDFile=` of a generated unit).
pub const MONITOR_PID_FILE: &str = "monitor.pid";

/// The runtime directory of a container (init files, logs).
pub fn runtime_dir(ctx: &Ctx, id: &str) -> PathBuf {
    ctx.paths.runtime.join("containers").join(id)
}

/// Build the runtime plan for a stored container (and write its init files).
pub fn plan(ctx: &Ctx, store: &Store, c: &Container) -> Result<Plan, EngineError> {
    crate::runtime::flags::check(&ctx.runtime_flags)?;
    let rt = runtime_dir(ctx, &c.record.id);
    let mut binds = files::write_init_files(&rt, c, ctx)?;
    let mut mounts = read_only_tmpfs(
        volumes::runtime_mounts(store, c)?,
        c.spec.read_only && !c.spec.no_read_only_tmpfs,
    );
    let taken: Vec<String> = mounts.iter().map(|m| m.target.clone()).collect();
    mounts.extend(default_mounts::mounts(ctx, &rt, &taken)?);
    mounts.extend(files::localtime_mount(&rt, c)?);
    binds.extend(files::write_user_files(&rt, store, c, &mounts)?);
    let mut join = super::pod::joined_namespaces(ctx, store, c, &mut binds)?;
    let mut shared = crate::runtime::plan::SharedNamespaces {
        cgroup: c.spec.cgroup.ns_host,
        ..c.spec.namespaces.shared()
    };
    c.spec.namespaces.join(store, &mut join, &mut shared)?;
    // `--userns ns:PATH`: the container enters that user namespace as a pod's member enters its infra's.
    if let Some(path) = c.spec.userns.strip_prefix("ns:") {
        join.user = Some(PathBuf::from(path));
    }
    let mut env = c.spec.env.clone();
    let mut secret_binds = Vec::new();
    if !c.spec.secrets.is_empty() {
        let given =
            super::secret::use_::for_start(&store.container_dir(&c.record.id), &c.spec.secrets)?;
        secret_binds = given.binds;
        env.extend(given.env);
    }
    Ok(Plan {
        rootfs: rootfs::plan(store, c),
        hostname: c.spec.hostname.clone(),
        mounts,
        binds: binds
            .into_iter()
            .map(|(source, target)| Bind {
                source,
                target,
                read_only: false,
            })
            .chain(secret_binds.into_iter().map(|(source, target)| Bind {
                source,
                target,
                read_only: true,
            }))
            .collect(),
        process: Process {
            args: c.spec.args.clone(),
            env,
            cwd: c.spec.cwd.clone(),
            uid: c.spec.uid,
            gid: c.spec.gid,
            additional_gids: c.spec.additional_gids.clone(),
            no_new_privileges: c.spec.no_new_privileges,
            terminal: false,
            init: c.spec.init,
            umask: c.spec.umask(),
            rlimits: rlimits(&start_ulimits(ctx, c)),
        },
        // roost runs container commands inside its user namespace already (the CLI enters it before
        // dispatching), so the container shares it: same mapping, no second set of helpers to run. keep-id,
        // nomap and --uidmap nest one more namespace, mapped from roost's by writing the maps directly.
        // A pod's member enters the user namespace its infra container holds (`join.user`).
        maps: match &c.spec.id_maps {
            Some(_) if join.user.is_some() => IdMaps::None,
            Some(m) => IdMaps::Direct {
                uids: m.uids.iter().map(|r| r.to_range()).collect(),
                gids: m.gids.iter().map(|r| r.to_range()).collect(),
            },
            None => IdMaps::None,
        },
        new_network: network_settings::mode_of(c).new_namespace(),
        tap: match network_settings::mode_of(c) {
            crate::network::Mode::Builtin(o) => Some(crate::network::builtin::tap_config(
                &o,
                c.spec.net.mac_address.as_deref(),
            )),
            _ => None,
        },
        join_network: network_settings::joined_namespace(store, c)?,
        shared,
        join,
        masked_paths: if c.spec.privileged {
            vec![]
        } else {
            paths(crate::runtime::plan::MASKED_PATHS)
        },
        readonly_paths: if c.spec.privileged {
            vec![]
        } else {
            paths(crate::runtime::plan::READONLY_PATHS)
        },
        security: security(ctx, &c.spec)?,
        cgroup: resources::plan(ctx, c),
        oom_score_adj: c.spec.cgroup.oom_score_adj,
        sysctls: c
            .spec
            .sysctls
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
    })
}

/// podman's `--read-only-tmpfs` (on by default): with a read-only root, /tmp, /var/tmp and /run stay
/// writable as tmpfs, unless something else is mounted there.
fn read_only_tmpfs(
    mut mounts: Vec<crate::runtime::Mount>,
    read_only: bool,
) -> Vec<crate::runtime::Mount> {
    if read_only {
        for target in ["/run", "/tmp", "/var/tmp"] {
            if !mounts.iter().any(|m| m.target == target) {
                let kind = crate::runtime::MountKind::Tmpfs {
                    data: "mode=1777,size=65536k".into(),
                    read_only: false,
                    noexec: false,
                    copy_up: false,
                    ramfs: false,
                };
                mounts.insert(
                    0,
                    crate::runtime::Mount {
                        target: target.into(),
                        kind,
                    },
                );
            }
        }
    }
    mounts
}

/// The limits `c` starts with now ([`process::at_start`]).
pub(super) fn start_ulimits(ctx: &Ctx, c: &Container) -> Vec<process::Ulimit> {
    process::at_start(&c.spec.ulimits, c.spec.ulimit_host, ctx.rootless)
}

/// `--ulimit` values as the runtime applies them.
fn rlimits(ulimits: &[process::Ulimit]) -> Vec<crate::runtime::plan::Rlimit> {
    let unlimited = |v: u64| {
        if v == process::Ulimit::UNLIMITED {
            libc::RLIM_INFINITY
        } else {
            v
        }
    };
    ulimits
        .iter()
        .map(|l| crate::runtime::plan::Rlimit {
            name: l.resource,
            resource: l.kind,
            soft: unlimited(l.soft),
            hard: unlimited(l.hard),
        })
        .collect()
}

fn paths(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}
