//! Container verbs: run, create, start, ps, rm (more come with the full run capability).

mod attach;
mod bridge_networks;
mod commit;
mod cp;
mod diff;
mod exec;
mod export;
pub mod health;
pub mod inspect;
mod lifecycle;
pub(crate) mod logs;
mod mount;
mod port;
mod ps;
pub mod resources;
mod run;
mod stats;
pub(crate) mod userns;

use clap::Args;
use clap_complete::engine::ArgValueCandidates;

/// The container IDs in `--cidfile` files (as `run --cidfile` writes them); with `ignore`, a file
/// that does not exist names nothing.
pub(crate) fn read_cidfiles(
    files: &[std::path::PathBuf],
    ignore: bool,
) -> Result<Vec<String>, crate::error::Error> {
    let mut ids = Vec::new();
    for f in files {
        match std::fs::read_to_string(f) {
            Ok(text) if !text.trim().is_empty() => ids.push(text.trim().to_string()),
            Ok(_) => {
                return Err(crate::error::Error::Usage(format!(
                    "CIDFile `{}` is empty: it should hold a container ID",
                    f.display()
                )));
            }
            Err(e) if ignore && e.kind() == std::io::ErrorKind::NotFound => {}
            // podman's words, which scripts match.
            Err(e) => {
                let why = e
                    .raw_os_error()
                    .map(|n| nix::errno::Errno::from_raw(n).desc().to_string())
                    .unwrap_or_else(|| e.to_string())
                    .to_lowercase();
                return Err(crate::engine::EngineError::from(
                    crate::engine::container::OpError::CidFile {
                        path: f.to_path_buf(),
                        why,
                    },
                )
                .into());
            }
        }
    }
    Ok(ids)
}

pub use attach::{AttachArgs, attach};
pub use commit::{CommitArgs, commit};
pub use cp::{CpArgs, cp};
pub use diff::{DiffArgs, diff};
pub use exec::{exec, top};
pub use export::{ExportArgs, export};
pub use lifecycle::{
    KillArgs, MonitorArgs, PauseArgs, StopArgs, WaitArgs, kill, monitor, pause, restart, stop, wait,
};
pub use logs::{LogOpts, LogsArgs, logs, show_logs};
pub use mount::{MountArgs, UnmountArgs, mount, unmount};
pub use port::port;
pub use ps::{format_fields as ps_format_fields, ps};
pub use resources::{UpdateArgs, update};
pub(crate) use run::security_opts;
pub use run::{create, rm, run, start};
pub use stats::{StatsArgs, StatsOpts, show_stats, stats};

use super::complete::{
    container_names, image_names, network_modes, running_containers, startable_containers,
};
use crate::cli::lazy::Lazy;

/// `roost container …`: the container verbs under one group (podman's `container` command).
#[derive(Debug, clap::Subcommand)]
pub enum ContainerCommand {
    /// Run a command in a new container
    #[command(disable_help_flag = true)]
    Run(Lazy<RunArgs>),
    /// Create a container without starting it
    #[command(disable_help_flag = true)]
    Create(Lazy<CreateArgs>),
    /// Start containers
    Start(Lazy<StartArgs>),
    /// List containers
    #[command(visible_alias = "ls", visible_alias = "list")]
    Ps(Lazy<PsArgs>),
    /// Remove containers
    Rm(Lazy<RmArgs>),
    /// Stop running containers
    Stop(Lazy<StopArgs>),
    /// Send a signal to running containers
    Kill(Lazy<KillArgs>),
    /// Wait for containers to stop
    Wait(Lazy<WaitArgs>),
    /// Restart containers
    Restart(Lazy<StopArgs>),
    /// Mount a container's root file system (inside `roost unshare`)
    Mount(Lazy<MountArgs>),
    /// Unmount a container's root file system
    #[command(name = "unmount", visible_alias = "umount")]
    Unmount(Lazy<UnmountArgs>),
    /// Show a container's output
    Logs(Lazy<LogsArgs>),
    /// Attach to a running container's output (and its stdin, if it was created with -i)
    Attach(Lazy<AttachArgs>),
    /// Show details of containers
    Inspect(Lazy<ContainerInspectArgs>),
    /// Check whether a container exists (exit 0 if it does, 1 if not)
    Exists(Lazy<ExistsArgs>),
    /// Remove all stopped containers
    Prune(Lazy<PruneArgs>),
    /// Rename a container
    Rename(Lazy<RenameArgs>),
    /// List the published ports of a container
    Port(Lazy<PortArgs>),
    /// Create a new image from a container's changes
    Commit(Lazy<CommitArgs>),
    /// Copy files between a container and the host
    Cp(Lazy<CpArgs>),
    /// Show the changes to a container's file system
    Diff(Lazy<DiffArgs>),
    /// Export a container's file system as a tar archive
    Export(Lazy<ExportArgs>),
    /// Clean up what containers that are not running left behind (podman runs it when a container
    /// exits; roost's monitor does that work itself)
    Cleanup(Lazy<lifecycle::CleanupArgs>),
}

#[derive(Debug, Args)]
pub struct ContainerInspectArgs {
    /// Format the output with a Go template or `json`
    #[arg(short, long, value_name = "FORMAT", allow_hyphen_values = true)]
    pub format: Option<String>,
    #[arg(required = true, value_name = "CONTAINER", add = ArgValueCandidates::new(container_names))]
    pub containers: Vec<String>,
}

#[derive(Debug, Args)]
pub struct ExistsArgs {
    #[arg(value_name = "CONTAINER", add = ArgValueCandidates::new(container_names))]
    pub container: String,
}

#[derive(Debug, Args)]
pub struct PruneArgs {
    /// Do not ask for confirmation
    #[arg(short, long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct RenameArgs {
    #[arg(value_name = "CONTAINER", add = ArgValueCandidates::new(container_names))]
    pub container: String,
    #[arg(value_name = "NAME")]
    pub name: String,
}

/// Run a `container …` subcommand.
pub fn dispatch(
    ctx: &crate::engine::Ctx,
    cmd: ContainerCommand,
) -> Result<i32, crate::error::Error> {
    match cmd {
        ContainerCommand::Run(a) => run(ctx, &a),
        ContainerCommand::Create(a) => create(ctx, &a),
        ContainerCommand::Start(a) => start(ctx, &a),
        ContainerCommand::Ps(a) => ps(ctx, &a),
        ContainerCommand::Rm(a) => rm(ctx, &a),
        ContainerCommand::Stop(a) => stop(ctx, &a),
        ContainerCommand::Kill(a) => kill(ctx, &a),
        ContainerCommand::Wait(a) => wait(ctx, &a),
        ContainerCommand::Restart(a) => restart(ctx, &a),
        ContainerCommand::Logs(a) => logs(ctx, &a),
        ContainerCommand::Attach(a) => attach(ctx, &a),
        ContainerCommand::Inspect(a) => super::image::inspect(
            ctx,
            &super::image::InspectArgs {
                format: a.0.format,
                kind: Some("container".into()),
                names: a.0.containers,
            },
        ),
        ContainerCommand::Exists(a) => {
            let Some(store) = ctx.store_if_exists()? else {
                return Ok(1);
            };
            Ok(
                if crate::engine::container::find(&store, &a.container).is_ok() {
                    0
                } else {
                    1
                },
            )
        }
        ContainerCommand::Prune(a) => run::prune(ctx, a.force),
        ContainerCommand::Rename(a) => run::rename(ctx, &a.container, &a.name),
        ContainerCommand::Port(a) => port(ctx, &a),
        ContainerCommand::Commit(a) => commit(ctx, &a),
        ContainerCommand::Cp(a) => cp(ctx, &a),
        ContainerCommand::Diff(a) => diff(ctx, &a),
        ContainerCommand::Export(a) => export(ctx, &a),
        ContainerCommand::Mount(a) => mount(ctx, &a),
        ContainerCommand::Unmount(a) => unmount(ctx, &a),
        ContainerCommand::Cleanup(a) => lifecycle::cleanup(ctx, &a),
    }
}

impl ContainerCommand {
    /// Whether the subcommand must run inside the user namespace.
    pub fn needs_userns(&self) -> bool {
        !matches!(
            self,
            ContainerCommand::Ps(_)
                | ContainerCommand::Logs(_)
                | ContainerCommand::Inspect(_)
                | ContainerCommand::Exists(_)
                | ContainerCommand::Wait(_)
                | ContainerCommand::Rename(_)
                | ContainerCommand::Port(_)
        )
    }
}

/// The flags `run` and `create` share (podman's names).
#[derive(Debug, Clone, Args)]
pub struct CreateArgs {
    /// Print help (`-h` is --hostname, as in podman)
    #[arg(long, action = clap::ArgAction::Help)]
    pub help: Option<bool>,
    /// Name for the container
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
    /// Write the container's ID to this file (which must not exist yet)
    #[arg(long, value_name = "FILE", value_hint = clap::ValueHint::FilePath)]
    pub cidfile: Option<std::path::PathBuf>,
    /// Remove an existing container of the same --name first (stopping it if it runs)
    #[arg(long)]
    pub replace: bool,
    /// With NOTIFY_SOCKET set (a systemd `Type=notify` unit): `conmon` (roost's monitor sends READY
    /// once the container runs), `container` (the container gets the socket and sends READY itself),
    /// `healthy` (READY once the first healthcheck passes) or `ignore`
    #[arg(long, value_name = "MODE", value_parser = crate::engine::container::sdnotify::SdNotifyMode::NAMES, default_value = "container")]
    pub sdnotify: String,
    /// Set environment variables (KEY=VALUE, or KEY to take it from your environment)
    #[arg(short, long, value_name = "KEY[=VALUE]")]
    pub env: Vec<String>,
    /// Read environment variables from a file (KEY=VALUE lines)
    #[arg(long, value_name = "FILE", value_hint = clap::ValueHint::FilePath)]
    pub env_file: Vec<std::path::PathBuf>,
    /// Pass your whole environment into the container
    #[arg(long)]
    pub env_host: bool,
    /// Pass your proxy variables (http_proxy, https_proxy, ftp_proxy, no_proxy and their upper-case
    /// forms) into the container, under the image's environment and -e (default true)
    #[arg(long, value_name = "BOOL", num_args = 0..=1, default_value_t = true, default_missing_value = "true", action = clap::ArgAction::Set)]
    pub http_proxy: bool,
    /// Remove a variable the image sets
    #[arg(long, value_name = "KEY")]
    pub unset_env: Vec<String>,
    /// Remove every variable the image sets
    #[arg(long)]
    pub unset_env_all: bool,
    /// Add supplementary groups (names or ids; several separated by commas)
    #[arg(long, value_name = "GROUP", value_delimiter = ',')]
    pub group_add: Vec<String>,
    /// Override the image's ENTRYPOINT (a string, or a JSON array)
    #[arg(long, value_name = "COMMAND")]
    pub entrypoint: Option<String>,
    /// Working directory inside the container
    #[arg(short, long, value_name = "DIR")]
    pub workdir: Option<String>,
    /// User (name or uid) and optional group to run as: USER[:GROUP]
    #[arg(short, long, value_name = "USER[:GROUP]")]
    pub user: Option<String>,
    /// Give the container all capabilities, no seccomp filter and no masked paths (within the user namespace)
    #[arg(long)]
    pub privileged: bool,
    /// Add capabilities (e.g. NET_ADMIN, or ALL)
    #[arg(long, value_name = "CAP")]
    pub cap_add: Vec<String>,
    /// Drop capabilities (e.g. CHOWN, or ALL)
    #[arg(long, value_name = "CAP")]
    pub cap_drop: Vec<String>,
    /// Security options: no-new-privileges, seccomp=unconfined|FILE, label=… (accepted)
    #[arg(long, value_name = "OPTION")]
    pub security_opt: Vec<String>,
    /// Resource limits: TYPE=SOFT[:HARD] (e.g. nofile=1024:2048)
    #[arg(long, value_name = "TYPE=SOFT[:HARD]")]
    pub ulimit: Vec<String>,
    /// Kernel parameter of the container's own namespaces, set when it starts: KEY=VALUE, repeatable.
    /// net.* (not with --network=host), and kernel.msgmax, kernel.msgmnb, kernel.msgmni, kernel.sem,
    /// kernel.shmall, kernel.shmmax, kernel.shmmni, kernel.shm_rmid_forced and fs.mqueue.* (not with
    /// --ipc=host)
    #[arg(long, value_name = "KEY=VALUE")]
    pub sysctl: Vec<String>,
    /// Bind a host device node into the container: HOST-DEVICE[:CONTAINER-DEVICE][:PERMISSIONS] (permissions r, w, m; default rwm). As in rootless podman the node is bound from the host: the container gets the access you have to it, and without w only its mount is read-only. A directory brings every device under it
    #[arg(long, value_name = "HOST-DEVICE[:CONTAINER-DEVICE][:PERMISSIONS]")]
    pub device: Vec<String>,
    /// Time zone of the container: an area-based zone such as Europe/Berlin, or `local` for the host's; its zoneinfo file becomes /etc/localtime
    #[arg(long, value_name = "TIMEZONE")]
    pub tz: Option<String>,
    /// Run a small init as pid 1 that reaps zombies and forwards signals
    #[arg(long)]
    pub init: bool,
    /// The umask of the container's processes, in octal (default 0022)
    #[arg(long, value_name = "UMASK")]
    pub umask: Option<String>,
    /// PID namespace: private (default), host (see the caller's processes; /proc is the caller's) or
    /// container:NAME (another container's)
    #[arg(long, value_name = "MODE")]
    pub pid: Option<String>,
    /// IPC namespace: shareable (the default: private, which others may join), private, none (no
    /// /dev/shm), host (the caller's /dev/shm) or container:NAME (a shareable container's; /dev/shm
    /// stays the joining container's own)
    #[arg(long, value_name = "MODE")]
    pub ipc: Option<String>,
    /// Size of the container's /dev/shm (a tmpfs of its private IPC namespace; default 64m): a
    /// number with an optional unit b, k, m or g
    #[arg(long, value_name = "SIZE")]
    pub shm_size: Option<String>,
    /// UTS namespace: private (default), host (the caller's host name) or container:NAME
    #[arg(long, value_name = "MODE")]
    pub uts: Option<String>,
    /// Containers to start before this one (names or ids, comma-separated, repeatable)
    #[arg(long, value_name = "CONTAINER[,CONTAINER]", value_delimiter = ',', add = ArgValueCandidates::new(container_names))]
    pub requires: Vec<String>,
    /// Give the container a secret: NAME[,type=mount|env][,target=PATH|VAR][,uid=N,gid=N,mode=0444]
    #[arg(long = "secret", value_name = "NAME[,OPTS]", add = ArgValueCandidates::new(crate::cli::complete::secret_names))]
    pub secret: Vec<String>,
    #[command(flatten)]
    pub health: health::HealthArgs,
    /// Run in a pod (name or ID); `new:NAME` creates the pod, which takes this container's ports and network flags
    #[arg(long, value_name = "POD", add = ArgValueCandidates::new(crate::cli::complete::pod_names))]
    pub pod: Option<String>,
    /// Run in the pod whose ID this file holds (as `pod create --pod-id-file` writes it)
    #[arg(long, value_name = "FILE", value_hint = clap::ValueHint::FilePath)]
    pub pod_id_file: Option<std::path::PathBuf>,
    /// Suppress the pull progress when the image is pulled
    #[arg(short, long)]
    pub quiet: bool,
    #[command(flatten)]
    pub cgroup: resources::CgroupArgs,
    /// User namespace: private (default: roost's rootless namespace, or $PODMAN_USERNS, or
    /// containers.conf's userns), host (the same, for a rootless tool), keep-id[:uid=UID,gid=GID,size=SIZE]
    /// (your ids inside as yourself), auto[:size=N,uidmapping=C:[@]H:N,gidmapping=C:[@]H:N] (a range of
    /// your subordinate ids no other auto container uses, without your own id), nomap (all your
    /// subordinate ids, without your own) or ns:PATH (join that user namespace). Not with --pod (nor
    /// are --uidmap and --gidmap): a pod's containers share its user namespace, set by `pod create
    /// --userns`
    #[arg(long, value_name = "MODE")]
    pub userns: Option<String>,
    /// Map container uids to ids of the rootless namespace (0 = you, 1.. = /etc/subuid):
    /// CONTAINER:HOST:SIZE, repeatable
    #[arg(long, value_name = "CONTAINER:HOST:SIZE")]
    pub uidmap: Vec<String>,
    /// Map container gids like --uidmap (the same as --uidmap when omitted)
    #[arg(long, value_name = "CONTAINER:HOST:SIZE")]
    pub gidmap: Vec<String>,
    /// Map container uids to the /etc/subuid ranges of user NAME (which must be ranges delegated to
    /// you: a rootless roost maps no others), from container uid 0 on, then your own uid after them
    /// (it owns roost's storage)
    #[arg(long, value_name = "NAME", conflicts_with_all = ["uidmap", "userns"])]
    pub subuidname: Option<String>,
    /// Map container gids to the /etc/subgid ranges of user NAME (default: --subuidname's)
    #[arg(long, value_name = "NAME", conflicts_with_all = ["gidmap", "userns"])]
    pub subgidname: Option<String>,
    /// Restart policy: no, on-failure[:N], always, unless-stopped
    #[arg(long, value_name = "POLICY")]
    pub restart: Option<String>,
    /// Logging driver: k8s-file (default; alias json-file), journald (the systemd journal; read back
    /// with `logs` or `journalctl CONTAINER_NAME=NAME`), passthrough (the container's stdout and
    /// stderr are the caller's, e.g. a systemd unit's; not on a terminal) or none. Default:
    /// containers.conf's `[containers] log_driver`
    #[arg(long, value_name = "DRIVER", value_parser = ["k8s-file", "json-file", "journald", "passthrough", "none"])]
    pub log_driver: Option<String>,
    /// Logging driver options: max-size=SIZE (rotate to `<log>.1`), path=FILE, tag=TAG (journald's
    /// CONTAINER_TAG and SYSLOG_IDENTIFIER; default the short ID)
    #[arg(long, value_name = "NAME=VALUE")]
    pub log_opt: Vec<String>,
    /// Container host name
    #[arg(short = 'h', long, value_name = "NAME")]
    pub hostname: Option<String>,
    /// Network mode: slirp[:OPTIONS] (slirp4netns's network run by roost itself with libslirp, no
    /// helper process; the default when libslirp is installed), pasta[:OPTIONS] (the default
    /// otherwise, when pasta is installed), slirp4netns[:OPTIONS], private (the default),
    /// none, host, container:NAME|ID, ns:PATH
    /// (repeatable: each bridge network given again joins that one too, as a comma list does)
    #[arg(long, visible_alias = "net", value_name = "MODE", add = ArgValueCandidates::new(network_modes))]
    pub network: Vec<String>,
    /// Publish a container's port to the host: [[IP:][HOST_PORT]:]CONTAINER_PORT[/PROTOCOL], ranges as
    /// 8000-8010:80-90
    #[arg(short = 'p', long, value_name = "[[IP:][HOST]:]PORT[/PROTO]")]
    pub publish: Vec<String>,
    /// Publish every exposed port (EXPOSE, --expose) to a random host port
    #[arg(short = 'P', long)]
    pub publish_all: bool,
    /// Expose a port or range (PORT[-END][/PROTO]) without publishing it
    #[arg(long, value_name = "PORT[/PROTO]")]
    pub expose: Vec<String>,
    /// DNS server for /etc/resolv.conf (`none`: keep the image's /etc/resolv.conf)
    #[arg(long, value_name = "IP")]
    pub dns: Vec<String>,
    /// DNS search domain for /etc/resolv.conf (`.` for none)
    #[arg(long, value_name = "DOMAIN")]
    pub dns_search: Vec<String>,
    /// DNS resolver option for /etc/resolv.conf
    #[arg(long, visible_alias = "dns-opt", value_name = "OPTION")]
    pub dns_option: Vec<String>,
    /// Add a line to /etc/hosts: HOST:IP, several names as HOST;HOST:IP (IP may be host-gateway)
    #[arg(long, value_name = "HOST:IP")]
    pub add_host: Vec<String>,
    /// Do not write /etc/hosts: keep the image's
    #[arg(long)]
    pub no_hosts: bool,
    /// MAC address of the container's network interface (pasta, slirp4netns, slirp)
    #[arg(long, value_name = "MAC")]
    pub mac_address: Option<String>,
    /// Static IPv4/IPv6 address on the (single) bridge network
    #[arg(long, value_name = "ADDRESS")]
    pub ip: Vec<String>,
    /// Static IPv6 address on the (single) bridge network (as --ip with an IPv6 address)
    #[arg(long, value_name = "IPV6")]
    pub ip6: Vec<String>,
    /// DNS alias of the container on its bridge networks (its short id and its --hostname are
    /// always names there)
    #[arg(long, value_name = "NAME")]
    pub network_alias: Vec<String>,
    /// Add a hosts entry for another container on a shared bridge network: NAME[:ALIAS] (needs
    /// `--network NET`: with pasta or slirp4netns containers cannot reach each other)
    #[arg(long, value_name = "NAME[:ALIAS]")]
    pub link: Vec<String>,
    /// Mount the container's root file system read-only
    #[arg(long)]
    pub read_only: bool,
    /// With --read-only: mount a tmpfs on /run, /tmp and /var/tmp (the default; =false leaves
    /// them read-only too)
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "true", value_name = "BOOL")]
    pub read_only_tmpfs: bool,
    /// Bind mount or volume: [HOST-DIR|VOLUME:]CONTAINER-DIR[:OPTIONS] (ro, rw, z, Z, U, O, nocopy)
    #[arg(short, long, value_name = "[SRC:]DEST[:OPTS]")]
    pub volume: Vec<String>,
    /// What the image's VOLUMEs get: bind (an anonymous volume each, the default; also spelled
    /// anonymous), tmpfs, or ignore (none: they stay the image's directories); default:
    /// containers.conf's `image_volume_mode`
    #[arg(long, value_name = "MODE", value_parser = ["bind", "anonymous", "tmpfs", "ignore"])]
    pub image_volume: Option<String>,
    /// Attach a mount: type=bind|volume|tmpfs|ramfs|glob|devpts,src=…,dst=…[,ro][,tmpfs-size=…][,tmpfs-mode=…]
    /// (glob: a bind of each host path the source glob matches, at its own path or in dst; bind and
    /// glob take no-dereference: a source that is a symlink appears as that symlink)
    #[arg(long, value_name = "type=TYPE,…")]
    pub mount: Vec<String>,
    /// Mount a tmpfs: DEST[:OPTIONS] (size=, mode=, ro, exec)
    #[arg(long, value_name = "DEST[:OPTS]")]
    pub tmpfs: Vec<String>,
    /// Mount the volumes and bind mounts of another container, at the same places:
    /// CONTAINER[:OPTIONS] (ro or rw overrides their mode; z)
    #[arg(long, value_name = "CONTAINER[:OPTS]")]
    pub volumes_from: Vec<String>,
    /// Remove the container when it exits
    #[arg(long)]
    pub rm: bool,
    /// Allocate a pseudo-TTY
    #[arg(short, long)]
    pub tty: bool,
    /// Keep stdin open
    #[arg(short, long)]
    pub interactive: bool,
    /// Set metadata labels (KEY=VALUE)
    #[arg(short, long, value_name = "KEY=VALUE")]
    pub label: Vec<String>,
    /// Read labels from a file of KEY=VALUE lines (`#` starts a comment line); --label wins
    #[arg(long, value_name = "FILE", value_hint = clap::ValueHint::FilePath)]
    pub label_file: Vec<std::path::PathBuf>,
    /// Set annotations (KEY=VALUE)
    #[arg(long, value_name = "KEY=VALUE")]
    pub annotation: Vec<String>,
    /// Pull policy: always, missing, never, newer
    #[arg(long, value_name = "POLICY", default_value = "missing")]
    pub pull: String,
    #[command(flatten)]
    pub platform: crate::cli::image::PlatformArgs,
    #[command(flatten)]
    pub retry: crate::cli::image::RetryArgs,
    /// Signal to stop the container with (default: the image's STOPSIGNAL or SIGTERM)
    #[arg(long, value_name = "SIGNAL")]
    pub stop_signal: Option<String>,
    /// Seconds to wait before killing the container on stop
    #[arg(long, value_name = "SECONDS")]
    pub stop_timeout: Option<u32>,
    /// Private key (PEM) for the image's encrypted layers when it is pulled, with the key's
    /// passphrase if it has one (repeatable)
    #[arg(long, value_name = "KEY[:PASSPHRASE]")]
    pub decryption_key: Vec<String>,
    /// Require HTTPS when pulling (false allows plain HTTP)
    #[arg(long, value_name = "BOOL", num_args = 0..=1, default_missing_value = "true", value_parser = clap::value_parser!(bool))]
    pub tls_verify: Option<bool>,
    /// The first argument is not an image but a directory to use as the container's root
    /// (`PATH[:O]`: with :O, an overlay over it whose changes go away with the container)
    #[arg(long)]
    pub rootfs: bool,
    /// Image to run (with --rootfs: the root directory, PATH[:O])
    #[arg(value_name = "IMAGE", add = ArgValueCandidates::new(image_names))]
    pub image: String,
    /// Command and arguments (default: the image's CMD)
    #[arg(
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "COMMAND"
    )]
    pub command: Vec<String>,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Run in the background and print the container ID
    #[arg(short, long)]
    pub detach: bool,
    /// Key sequence that detaches from a `-it` container and leaves it running (`ctrl-<key>` or a
    /// character, comma-separated; an empty string disables it)
    #[arg(long, value_name = "KEYS", default_value = crate::engine::container::detach::DEFAULT_DETACH_KEYS)]
    pub detach_keys: String,
    /// Forward the signals roost receives to the container's process (not with -t)
    #[arg(long, value_name = "BOOL", default_value_t = true, num_args = 0..=1,
          default_missing_value = "true", action = clap::ArgAction::Set)]
    pub sig_proxy: bool,
    #[command(flatten)]
    pub create: CreateArgs,
}

#[derive(Debug, Args)]
pub struct StartArgs {
    /// Start every container that is not running
    #[arg(long, conflicts_with = "attach")]
    pub all: bool,
    /// Start only the containers that match (as `ps --filter`, and `restart-policy=`); without
    /// containers named, any container
    #[arg(short, long, value_name = "KEY=VALUE")]
    pub filter: Vec<String>,
    /// Attach to the container's output and wait for it
    #[arg(short, long)]
    pub attach: bool,
    /// Pass our stdin to the container (with --attach; the container must have been created with -i)
    #[arg(short, long)]
    pub interactive: bool,
    /// Key sequence that detaches (with --attach) and leaves the container running; an empty string
    /// disables it
    #[arg(long, value_name = "KEYS", default_value = crate::engine::container::detach::DEFAULT_DETACH_KEYS)]
    pub detach_keys: String,
    /// Forward the signals roost receives to the container's process (with --attach, not with -t)
    #[arg(long, value_name = "BOOL", default_value_t = true, num_args = 0..=1,
          default_missing_value = "true", action = clap::ArgAction::Set)]
    pub sig_proxy: bool,
    /// Containers to start
    #[arg(value_name = "CONTAINER", add = ArgValueCandidates::new(startable_containers))]
    pub containers: Vec<String>,
}

#[derive(Debug, Clone, Args)]
pub struct RmArgs {
    /// Remove all containers
    #[arg(short, long)]
    pub all: bool,
    /// Stop and remove running containers
    #[arg(short, long)]
    pub force: bool,
    /// Seconds to wait for a running container to stop before it is killed (with --force; -1 waits
    /// for ever)
    #[arg(
        short = 't',
        long = "time",
        value_name = "SECONDS",
        allow_negative_numbers = true
    )]
    pub time: Option<i64>,
    /// Also remove the containers that depend on these (`--network container:`), first
    #[arg(long)]
    pub depend: bool,
    /// Do not fail for containers that do not exist
    #[arg(short, long)]
    pub ignore: bool,
    /// Remove the containers' anonymous volumes too
    #[arg(short, long)]
    pub volumes: bool,
    /// Read the container's ID from this file (as `run --cidfile` writes it)
    #[arg(long, value_name = "FILE", value_hint = clap::ValueHint::FilePath)]
    pub cidfile: Vec<std::path::PathBuf>,
    /// Remove the containers that match this filter (the keys of `ps --filter`)
    #[arg(long, value_name = "KEY=VALUE")]
    pub filter: Vec<String>,
    /// Containers to remove
    #[arg(value_name = "CONTAINER", add = ArgValueCandidates::new(container_names))]
    pub containers: Vec<String>,
}

#[derive(Debug, Args)]
pub struct PsArgs {
    /// Show all containers, not only running ones
    #[arg(short, long)]
    pub all: bool,
    /// Show only container IDs
    #[arg(short, long)]
    pub quiet: bool,
    /// Do not truncate output
    #[arg(long)]
    pub no_trunc: bool,
    /// Show the latest container
    #[arg(short, long)]
    pub latest: bool,
    /// Show the N last created containers
    #[arg(short = 'n', long, value_name = "N")]
    pub last: Option<usize>,
    /// Filter output: name, id, label, status, ancestor, exited, volume, network, pod, since,
    /// before, until (the same key repeated: any of the values; different keys: all of them)
    #[arg(short, long, value_name = "KEY=VALUE")]
    pub filter: Vec<String>,
    /// Pretty-print with a Go template, `json`, or `table …`
    #[arg(long, value_name = "FORMAT", allow_hyphen_values = true)]
    pub format: Option<String>,
    /// Omit the table heading
    #[arg(long)]
    pub noheading: bool,
    /// Show the size of each container's writable layer and of its image
    #[arg(short, long)]
    pub size: bool,
    /// Sort by command, created, id, image, names, runningfor or status
    #[arg(long, value_name = "KEY", value_parser = ["command", "created", "id", "image", "names", "runningfor", "status"])]
    pub sort: Option<String>,
    /// Show also the containers that `build` runs its RUN steps in (implies --all)
    #[arg(long)]
    pub external: bool,
    /// Show the pod of each container (POD ID and PODNAME columns)
    #[arg(short, long)]
    pub pod: bool,
}

#[derive(Debug, Args)]
pub struct ExecArgs {
    /// Run in the background, leaving the command running in the container
    #[arg(short, long)]
    pub detach: bool,
    /// Key sequence for detaching (accepted and ignored)
    #[arg(long, value_name = "KEYS")]
    pub detach_keys: Option<String>,
    /// Set environment variables (KEY=VALUE, or KEY to take it from your environment)
    #[arg(short, long, value_name = "KEY[=VALUE]")]
    pub env: Vec<String>,
    /// Read environment variables from a file (KEY=VALUE lines)
    #[arg(long, value_name = "FILE", value_hint = clap::ValueHint::FilePath)]
    pub env_file: Vec<std::path::PathBuf>,
    /// Keep stdin open and pass it to the command
    #[arg(short, long)]
    pub interactive: bool,
    /// Give the command extended privileges (the container's, as roost does not drop any yet)
    #[arg(long)]
    pub privileged: bool,
    /// Pass N more descriptors (3 to 3+N-1) on to the command
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub preserve_fds: u32,
    /// Allocate a pseudo-TTY
    #[arg(short, long)]
    pub tty: bool,
    /// User (name or uid) and optional group to run as: USER[:GROUP]
    #[arg(short, long, value_name = "USER[:GROUP]")]
    pub user: Option<String>,
    /// Working directory inside the container
    #[arg(short, long, value_name = "DIR")]
    pub workdir: Option<String>,
    /// Container to run the command in
    #[arg(value_name = "CONTAINER", add = ArgValueCandidates::new(running_containers))]
    pub container: String,
    /// Command and arguments
    #[arg(
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "COMMAND"
    )]
    pub command: Vec<String>,
}

#[derive(Debug, Args)]
pub struct PortArgs {
    /// Show the ports of every container
    #[arg(short, long)]
    pub all: bool,
    /// Act on the latest container roost knows of
    #[arg(short, long)]
    pub latest: bool,
    /// Container to show the ports of
    #[arg(value_name = "CONTAINER", add = ArgValueCandidates::new(container_names))]
    pub container: Option<String>,
    /// Only this container port: PORT[/PROTOCOL]
    #[arg(value_name = "PORT")]
    pub port: Option<String>,
}

#[derive(Debug, Args)]
pub struct TopArgs {
    /// Container to list the processes of
    #[arg(value_name = "CONTAINER", add = ArgValueCandidates::new(running_containers))]
    pub container: String,
    /// Format descriptors (default: user pid ppid pcpu etime tty time args), or ps(1) options
    /// (e.g. -eo pid,comm), which the host's ps runs with in the container's pid namespace (the
    /// container's own ps when it has CAP_SYS_PTRACE, or when the host has no ps)
    #[arg(
        value_name = "DESCRIPTORS",
        trailing_var_arg = true,
        allow_hyphen_values = true
    )]
    pub descriptors: Vec<String>,
}
