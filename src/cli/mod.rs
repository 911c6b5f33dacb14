//! Command-line layer: clap definitions, turning flags into engine options, and printing reports.
//! This is the only layer that reads the environment or writes to stdout/stderr (errors are printed once,
//! in `main`).

pub(crate) mod argv;
mod auto_update;
mod cobra;
mod complete;
pub(crate) mod compose;
mod connection;
pub(crate) mod container;
mod ctx;
mod doctor;
mod events;
pub mod format;
mod generate;
mod generate_systemd;
pub(crate) mod image;
pub(crate) mod kube;
mod lazy;
pub(crate) mod network;
pub(crate) mod pod;
mod pod_limits;
mod progress;
mod quadlet;
mod secret;
mod system;
mod volume;

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand};

use crate::error::Error;
use lazy::Lazy;

/// roost: rootless, daemonless, podman-compatible containers.
#[derive(Debug, Parser)]
#[command(
    name = "roost",
    about = "Manage pods, containers and images",
    long_about = "Manage pods, containers and images without root and without a daemon (podman-compatible)",
    disable_version_flag = true,
    // As cobra: a repeated single-value option takes its last value (`--name a --name b`).
    args_override_self = true,
    max_term_width = 100,
    after_long_help = "Examples:\n  roost pull 127.0.0.1:5000/busybox\n  roost images --format '{{.Repository}}:{{.Tag}}'\n  roost save -o busybox.tar busybox"
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Option<lazy::Entered<Command>>,
}

#[derive(Debug, Clone, Args)]
pub struct GlobalArgs {
    /// Path to the persistent store (default: $XDG_DATA_HOME/roost)
    #[arg(long, global = true, value_name = "PATH", value_hint = clap::ValueHint::DirPath)]
    pub root: Option<PathBuf>,
    /// Path to the runtime state directory (default: $XDG_RUNTIME_DIR/roost)
    #[arg(long, global = true, value_name = "PATH", value_hint = clap::ValueHint::DirPath)]
    pub runroot: Option<PathBuf>,
    /// Log messages at and above this level: trace, debug, info, warn, error
    #[arg(long, global = true, value_name = "LEVEL", default_value = "warn",
          add = clap_complete::engine::ArgValueCandidates::new(complete::log_levels))]
    pub log_level: String,
    /// Storage driver for container root file systems: overlay, fuse-overlayfs or vfs
    #[arg(long, global = true, value_name = "DRIVER", value_parser = ["overlay", "fuse-overlayfs", "vfs"])]
    pub storage_driver: Option<String>,
    /// Print the version and exit
    #[arg(short = 'v', long)]
    pub version: bool,
    /// Same as --log-level=debug (docker compatibility)
    #[arg(short = 'D', long, global = true)]
    pub debug: bool,
    /// Write roost's own output (not containers' output or logs) to this file (before the command:
    /// `generate` has an --out of its own)
    #[arg(long, value_name = "PATH", value_hint = clap::ValueHint::FilePath)]
    pub out: Option<PathBuf>,
    /// Discard roost's own output (not containers' output or logs)
    #[arg(long, global = true)]
    pub noout: bool,
    /// Use a podman service (not supported: roost has no service; before the command: `-r` is
    /// `system check --repair`)
    #[arg(short = 'r', long)]
    pub remote: bool,
    /// URL of a podman service (not supported: roost has no service)
    #[arg(long, global = true, value_name = "URL", hide_short_help = true)]
    pub url: Option<String>,
    /// Name of a service connection (not supported: roost has no service; `default` means local)
    #[arg(long, visible_alias = "context", global = true, value_name = "NAME")]
    pub connection: Option<String>,
    /// SSH identity for a service connection (not supported: roost has no service)
    #[arg(long, global = true, value_name = "PATH", hide_short_help = true)]
    pub identity: Option<PathBuf>,
    /// SSH mode of a service connection: golang or native (only meaningful with a service)
    #[arg(long, global = true, value_name = "MODE", value_parser = ["golang", "native"])]
    pub ssh: Option<String>,
    /// Where events are recorded: file, journald or none (default: containers.conf's events_logger, else file)
    #[arg(long, global = true, value_name = "BACKEND", value_parser = ["file", "journald", "none"])]
    pub events_backend: Option<String>,
    /// Cgroup manager for containers with limits: systemd (a transient scope; the default with a user D-Bus) or cgroupfs (a cgroup beside or under roost's own)
    #[arg(long, global = true, value_name = "MANAGER", value_parser = ["cgroupfs", "systemd"])]
    pub cgroup_manager: Option<String>,
    /// Path of the network helper (accepted for podman compatibility; roost finds slirp4netns and pasta in PATH)
    #[arg(long, global = true, value_name = "PATH", value_hint = clap::ValueHint::FilePath)]
    pub network_cmd_path: Option<PathBuf>,
    /// OCI runtime: only roost's built-in runtime (`roost`) is available
    #[arg(long, global = true, value_name = "NAME")]
    pub runtime: Option<String>,
    /// A global flag for the OCI runtime, without its leading `--` (roost's built-in runtime takes
    /// none: it refuses each one when it runs a container)
    #[arg(long, global = true, value_name = "FLAG")]
    pub runtime_flag: Vec<String>,
    /// The containers-mounts.conf(5) file of host paths copied into every container (default:
    /// ~/.config/containers/mounts.conf, /etc/containers/mounts.conf, /usr/share/containers/mounts.conf)
    #[arg(long, global = true, hide = true, value_name = "PATH", value_hint = clap::ValueHint::FilePath)]
    pub default_mounts_file: Option<PathBuf>,
    /// Directory for temporary state (accepted for podman compatibility; roost keeps it under --runroot)
    #[arg(long, global = true, value_name = "PATH", value_hint = clap::ValueHint::DirPath)]
    pub tmpdir: Option<PathBuf>,
}

impl GlobalArgs {
    /// Refuse what roost cannot do (a podman service, another runtime) with a reason, before any work.
    fn check(&self) -> Result<(), Error> {
        let service = |flag: &str| {
            Err(Error::Usage(format!(
                "{flag}: remote connections are not supported: roost runs containers itself, without a podman service (drop {flag})"
            )))
        };
        if self.remote {
            return service("--remote");
        }
        if self.url.is_some() {
            return service("--url");
        }
        if self.identity.is_some() {
            return service("--identity");
        }
        if let Some(c) = self.connection.as_deref().filter(|c| *c != "default") {
            return Err(Error::Usage(format!(
                "connection `{c}` not found: roost has no service connections, it runs locally (drop --connection)"
            )));
        }
        if let Some(r) = self.runtime.as_deref().filter(|r| *r != "roost") {
            return Err(Error::Usage(format!(
                "OCI runtime \"{r}\" not found: roost runs containers with its own built-in runtime (drop --runtime)"
            )));
        }
        Ok(())
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a command in a new container
    #[command(disable_help_flag = true)]
    Run(Lazy<container::RunArgs>),
    /// Create a container without starting it
    #[command(disable_help_flag = true)]
    Create(Lazy<container::CreateArgs>),
    /// Start containers
    Start(Lazy<container::StartArgs>),
    /// List containers
    #[command(visible_alias = "list", visible_alias = "ls")]
    Ps(Lazy<container::PsArgs>),
    /// Remove containers
    Rm(Lazy<container::RmArgs>),
    /// Stop running containers (the stop signal, then SIGKILL after a timeout)
    Stop(Lazy<container::StopArgs>),
    /// Send a signal to running containers
    Kill(Lazy<container::KillArgs>),
    /// Wait for containers to stop and print their exit codes
    Wait(Lazy<container::WaitArgs>),
    /// Restart containers
    Restart(Lazy<container::StopArgs>),
    /// Show a container's output
    Logs(Lazy<container::LogsArgs>),
    /// Attach to a running container's output (and its stdin, if it was created with -i)
    Attach(Lazy<container::AttachArgs>),
    /// Pause containers (the cgroup v2 freezer of their own cgroup)
    Pause(Lazy<container::PauseArgs>),
    /// Change the resource limits of a container
    Update(Lazy<container::UpdateArgs>),
    /// Show resource usage of containers (CPU, memory, network and block I/O, PIDs)
    Stats(Lazy<container::StatsArgs>),
    /// Unpause containers
    Unpause(Lazy<container::PauseArgs>),
    /// Runs a detached container (internal)
    #[command(name = "__monitor", hide = true)]
    Monitor(Lazy<container::MonitorArgs>),
    /// Create a new image from a container's changes
    Commit(Lazy<container::CommitArgs>),
    /// Copy files between a container and the host
    Cp(Lazy<container::CpArgs>),
    /// Show the changes to a container's file system
    Diff(Lazy<container::DiffArgs>),
    /// Export a container's file system as a tar archive
    Export(Lazy<container::ExportArgs>),
    /// Mount a container's root file system (inside `roost unshare`)
    Mount(Lazy<container::MountArgs>),
    /// Unmount a container's root file system
    #[command(name = "unmount", visible_alias = "umount")]
    Unmount(Lazy<container::UnmountArgs>),
    /// Manage containers
    #[command(subcommand)]
    Container(container::ContainerCommand),
    /// Run a process in a running container
    Exec(Lazy<container::ExecArgs>),
    /// Manage healthchecks of containers
    #[command(subcommand)]
    Healthcheck(container::health::HealthcheckCommand),
    /// Display the running processes of a container
    Top(Lazy<container::TopArgs>),
    /// List the published ports of a container
    Port(Lazy<container::PortArgs>),
    /// Build an image from a Containerfile
    Build(Lazy<image::BuildArgs>),
    /// Build images (docker buildx compatibility: `buildx build` is `build`)
    #[command(subcommand)]
    Buildx(image::BuildxCommand),
    /// Pull an image from a registry
    Pull(Lazy<image::PullArgs>),
    /// Push an image to a registry
    Push(Lazy<image::PushArgs>),
    /// List images in local storage
    Images(Lazy<image::ImagesArgs>),
    /// Remove one or more images from local storage
    Rmi(Lazy<image::RmiArgs>),
    /// Add names to a local image
    Tag(Lazy<image::TagArgs>),
    /// Remove names from a local image
    Untag(Lazy<image::UntagArgs>),
    /// Show details of images
    Inspect(Lazy<image::InspectArgs>),
    /// Show the history of an image
    History(Lazy<image::HistoryArgs>),
    /// Save images to an archive
    Save(Lazy<image::SaveArgs>),
    /// Load images from an archive
    Load(Lazy<image::LoadArgs>),
    /// Import a tarball to create a file system image
    Import(Lazy<image::ImportArgs>),
    /// Update containers that run from systemd units to their image's newest version
    AutoUpdate(Lazy<auto_update::AutoUpdateArgs>),
    /// Log in to a container registry
    Login(Lazy<image::LoginArgs>),
    /// Log out of a container registry
    Logout(Lazy<image::LogoutArgs>),
    /// Run a command in a modified user namespace
    Unshare(Lazy<system::UnshareArgs>),
    /// Display system information
    Info(Lazy<system::InfoArgs>),
    /// Show events (what happened to containers, images, volumes, networks and pods)
    Events(Lazy<events::EventsArgs>),
    /// Display the roost version
    Version(Lazy<system::VersionArgs>),
    /// Check every rootless prerequisite and print the fix for each one that fails
    Doctor(Lazy<doctor::DoctorArgs>),
    /// Manage images
    #[command(subcommand)]
    Image(image::ImageCommand),
    /// Rename a container
    Rename(Lazy<container::RenameArgs>),
    /// Manage roost
    #[command(subcommand)]
    System(system::SystemCommand),
    /// Manage volumes
    #[command(subcommand)]
    Volume(volume::VolumeCommand),
    /// Manage networks
    #[command(subcommand)]
    Network(network::NetworkCommand),
    /// Manage pods
    #[command(subcommand)]
    Pod(pod::PodCommand),
    /// Manage Quadlet files (systemd units for containers)
    #[command(subcommand)]
    Quadlet(quadlet::QuadletCommand),
    /// Manage secrets
    #[command(subcommand)]
    Secret(secret::SecretCommand),
    /// Play, tear down and generate Kubernetes YAML
    #[command(subcommand)]
    Kube(kube::KubeCommand),
    /// Run compose workloads with an installed compose provider (podman-compose)
    Compose(Lazy<compose::ComposeArgs>),
    /// Holds the rootless network namespace (internal)
    #[command(name = "__netns", hide = true)]
    Netns(Lazy<network::NetnsArgs>),
    /// Print a shell completion script (bash, zsh or fish)
    Completion(Lazy<generate::CompletionArgs>),
    /// Generate documentation
    #[command(subcommand)]
    Generate(generate::GenerateCommand),
}

impl Command {
    /// Whether the command reads or writes layer files, which belong to subordinate ids and so must be
    /// handled inside the user namespace.
    fn needs_userns(&self) -> bool {
        use image::ImageCommand as I;
        match self {
            Command::Build(_)
            | Command::Buildx(image::BuildxCommand::Build(_))
            | Command::Pull(_)
            | Command::Push(_)
            | Command::Rmi(_)
            | Command::Save(_)
            | Command::Load(_) => true,
            Command::Import(_) | Command::Unshare(_) | Command::AutoUpdate(_) => true,
            Command::Run(_) | Command::Create(_) | Command::Start(_) | Command::Rm(_) => true,
            Command::Stop(_) | Command::Kill(_) | Command::Restart(_) | Command::Monitor(_) => true,
            // To signal the container with --sig-proxy, as `kill` does.
            Command::Attach(_) => true,
            Command::Image(i) => matches!(
                i,
                I::Build(_)
                    | I::Pull(_)
                    | I::Push(_)
                    | I::Rm(_)
                    | I::Save(_)
                    | I::Load(_)
                    | I::Import(_)
                    | I::Prune(_)
            ),
            Command::System(system::SystemCommand::Prune(_) | system::SystemCommand::Check(_)) => {
                true
            }
            Command::Container(c) => c.needs_userns(),
            Command::Commit(_) | Command::Cp(_) | Command::Diff(_) | Command::Export(_) => true,
            // Not `exec`/`top`: roost entering its user namespace may get one of its own, while these
            // join the container's (`runtime::exec`), which only its owner outside can do.
            Command::Volume(v) => v.needs_userns(),
            Command::Network(n) => n.needs_userns(),
            Command::Pod(p) => p.needs_userns(),
            Command::Kube(k) => k.needs_userns(),
            Command::Netns(_) => true,
            _ => false,
        }
    }
}

/// The whole command tree with every command's arguments (their [`lazy::Lazy`] parts added): for
/// help, errors, completion and the generated files, which walk more than the command being run.
pub(crate) fn full_command() -> clap::Command {
    lazy::eager(Cli::command)
}

/// Parse the command line and run it; returns the exit status.
pub fn run() -> Result<i32, Error> {
    // Started from inside the user namespace (a monitor): no need to enter it again.
    let joined = crate::userns::inherited();
    complete::complete_env();
    let args: Vec<OsString> = std::env::args_os().collect();
    if args.len() > 1 && complete::is_cobra_request(&args[1..]) {
        return complete::cobra(args[0].clone(), &args[1..]);
    }
    if quadlet::invoked_as_generator(&args) {
        return quadlet::generator_main(&args);
    }
    let as_podman = invoked_as_podman(&args);
    // Only the command entered (see lazy::Entered).
    let mut cli_cmd = lazy::entering(argv::entered_word(&args), Cli::command);
    // podman prints its version whatever follows `--version` (podman-compose sends `--version ''`).
    if argv::asks_for_version(&cli_cmd, &args) {
        println!("{}", system::version_line(as_podman));
        return Ok(0);
    }
    // Only for parsing: `args` stay as they were (for messages).
    let parsed = argv::separate_container_command(&cli_cmd, args.clone());
    let matches = match cli_cmd.try_get_matches_from_mut(&parsed) {
        Ok(m) => m,
        Err(_) => {
            // Errors, help and suggestions name every command, as they can only with the whole tree.
            cli_cmd = Cli::command();
            let parsed = argv::separate_container_command(&cli_cmd, args.clone());
            match cli_cmd.try_get_matches_from_mut(&parsed) {
                Ok(m) => m,
                Err(e) => return clap_exit(e, &args),
            }
        }
    };
    if let Some(message) = cobra::latest_conflict(&cli_cmd, &matches) {
        return Err(Error::Usage(message));
    }
    let cli = Cli::from_arg_matches(&matches).map_err(|e| Error::Usage(e.to_string()))?;
    if cli.global.version {
        println!("{}", system::version_line(as_podman));
        return Ok(0);
    }
    let Some(lazy::Entered(command)) = cli.command else {
        return missing_command(&args);
    };
    cli.global.check()?;
    let level = log_level(&cli.global, &matches)?;
    let path = matched_path(&args, &matches);
    // The command tree and its matches are megabytes: a monitor that waits for months on its
    // container must not keep them.
    drop(matches);
    drop(cli_cmd);
    crate::logging::init(level);
    tracing::info!(
        "{} filtering at log level {}",
        persona(&args),
        level.as_str().to_lowercase()
    );
    tracing::debug!("Called {path}.PersistentPreRunE({})", shell_words(&args));
    tracing::trace!(command = %path, "parsed the command line");
    redirect_output(&cli.global)?;
    let result = run_command(command, &cli.global, joined, as_podman);
    // podman's last words at debug level, whether the command failed or not.
    tracing::debug!("Shutting down engines");
    result
}

/// The command line as one string, for the debug log.
fn shell_words(args: &[OsString]) -> String {
    args.iter()
        .map(|a| a.to_string_lossy())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Run a parsed command, in the user namespace when it needs it.
fn run_command(
    command: Command,
    global: &GlobalArgs,
    mut joined: Option<crate::userns::Joined>,
    as_podman: bool,
) -> Result<i32, Error> {
    match command {
        Command::Completion(a) => return generate::completion(&a),
        Command::Generate(g)
            if !matches!(
                g,
                generate::GenerateCommand::Systemd(_) | generate::GenerateCommand::Kube(_)
            ) =>
        {
            return generate::generate(&g);
        }
        Command::Version(a) => return system::version(&a, as_podman),
        // Files and systemd only: no store, no user namespace.
        Command::Quadlet(q) => return quadlet::dispatch(&q),
        Command::System(system::SystemCommand::Connection(c)) => return connection::dispatch(&c),
        _ => {}
    }
    if command.needs_userns() && joined.is_none() {
        // Only what entering needs, resolved outside (from the real uid); the whole context
        // (registries.conf, containers.conf, storage.conf…) is built inside.
        let paths = ctx::paths(global)?;
        let mapping = crate::userns::Mapping::detect(std::path::Path::new("/etc"))?;
        if mapping != crate::userns::Mapping::Root {
            ctx::warn_once(&paths, &mapping);
            ctx::init_helpers(&paths);
            joined = Some(crate::userns::enter(&mapping, &paths)?);
        }
    }
    let ctx = ctx::build(global, joined)?;
    dispatch(&ctx, command)
}

/// The level of `--log-level`/`--debug`. As podman, a level it does not know and both flags
/// together end roost with status 1 (podman checks them before any command runs).
fn log_level(global: &GlobalArgs, matches: &clap::ArgMatches) -> Result<tracing::Level, Error> {
    let given = |m: &clap::ArgMatches| {
        m.value_source("log_level") == Some(clap::parser::ValueSource::CommandLine)
    };
    let mut m = matches;
    let mut explicit = given(m);
    while let Some((_, sub)) = m.subcommand() {
        m = sub;
        explicit |= given(m);
    }
    let fail = |message: String| {
        #[allow(clippy::print_stderr)]
        {
            eprintln!("{message}");
        }
        Error::Reported(1)
    };
    if global.debug && explicit {
        return Err(fail(
            "Setting --log-level and --debug is not allowed".to_string(),
        ));
    }
    let name = if global.debug {
        "debug"
    } else {
        &global.log_level
    };
    crate::logging::parse_level(name).map_err(|_| {
        fail(format!(
            "Log Level {name:?} is not supported, choose from: {}",
            crate::logging::LEVELS.join(", ")
        ))
    })
}

/// Where `out` writes instead of stdout (`--out FILE`, `--noout`), set once before any output.
static OUTPUT: std::sync::OnceLock<std::fs::File> = std::sync::OnceLock::new();

/// Where a program roost runs for the user (`unshare CMD`) writes its stdout: `--out`'s file as
/// podman does (it hands such a program its redirected stdout), else roost's own stdout.
pub(crate) fn redirected_stdout() -> Option<std::process::Stdio> {
    OUTPUT
        .get()?
        .try_clone()
        .ok()
        .map(std::process::Stdio::from)
}

fn redirect_output(global: &GlobalArgs) -> Result<(), Error> {
    let path = match (&global.out, global.noout) {
        (_, true) => std::path::Path::new("/dev/null"),
        (Some(p), false) => p.as_path(),
        (None, false) => return Ok(()),
    };
    let file = std::fs::File::create(path)
        .map_err(|e| Error::io(format!("open --out file `{}`", path.display()), e))?;
    let _ = OUTPUT.set(file);
    Ok(())
}

/// The (sub)commands clap matched, from the root (`roost --root x image ls` → `roost image ls`),
/// without building the command tree again as [`command_path`] does.
fn matched_path(args: &[OsString], matches: &clap::ArgMatches) -> String {
    let mut path = vec![bin_name(args)];
    let mut m = matches;
    while let Some((name, sub)) = m.subcommand() {
        path.push(name.to_string());
        m = sub;
    }
    path.join(" ")
}

/// The words of `args` that name (sub)commands, from the root: `roost --root x image ls` → `roost image ls`.
fn command_path(args: &[OsString]) -> String {
    let mut cmd = full_command();
    let mut path = vec![bin_name(args)];
    let mut words = args.iter().skip(1).filter_map(|a| a.to_str());
    while let Some(a) = words.next() {
        if let Some(flag) = a.strip_prefix('-').filter(|f| !f.is_empty()) {
            // Skip the value of an option that takes one (`--root DIR`, `-f FORMAT`).
            let takes_value = |arg: &clap::Arg| arg.get_action().takes_values();
            let valued = match flag.strip_prefix('-') {
                Some(long) if !long.contains('=') => cmd
                    .get_arguments()
                    .find(|arg| arg.get_long() == Some(long))
                    .is_some_and(takes_value),
                Some(_) => false,
                None => {
                    flag.chars().count() == 1
                        && cmd
                            .get_arguments()
                            .find(|arg| arg.get_short().map(String::from).as_deref() == Some(flag))
                            .is_some_and(takes_value)
                }
            };
            if valued {
                words.next();
            }
            continue;
        }
        let Some(sub) = cmd
            .get_subcommands()
            .find(|c| c.get_name() == a || c.get_all_aliases().any(|al| al == a))
            .cloned()
        else {
            break;
        };
        path.push(sub.get_name().to_string());
        cmd = sub;
    }
    path.join(" ")
}

fn bin_name(args: &[OsString]) -> String {
    persona(args).to_string()
}

/// A command that needs a subcommand, given none: its help, then podman's error (status 125).
fn missing_command(args: &[OsString]) -> Result<i32, Error> {
    let path = command_path(args);
    out(&format!("{}\n", help_text(args, &path)))?;
    Err(Error::Usage(format!("missing command '{path} COMMAND'")))
}

/// The help of the command at `path`, in podman's layout. As podman, the root's help leaves out
/// `--remote` when a connection is chosen (`CONTAINER_HOST`, `CONTAINER_CONNECTION`, `--url`,
/// `--connection`): then every command is remote anyway.
fn help_text(args: &[OsString], path: &str) -> String {
    let chosen = ["CONTAINER_HOST", "CONTAINER_CONNECTION"]
        .iter()
        .any(|v| std::env::var_os(v).is_some_and(|x| !x.is_empty()))
        || args.iter().filter_map(|a| a.to_str()).any(|a| {
            ["--url", "--connection", "--context"]
                .iter()
                .any(|f| a == *f || a.starts_with(&format!("{f}=")))
        });
    let hide: &[&str] = if chosen { &["remote"] } else { &[] };
    cobra::help(&full_command(), path, hide)
}

/// The command whose help `args` ask for: the command path, or after `help` the words that follow
/// it (`podman help image ls` is `podman image ls --help`).
fn help_path(args: &[OsString]) -> String {
    let at = (1..args.len()).find(|&i| {
        args[i] == "help"
            && !args[i - 1]
                .to_str()
                .is_some_and(|p| p.starts_with('-') && i > 1)
    });
    match at {
        Some(i) => {
            let mut rest = args.to_vec();
            rest.remove(i);
            command_path(&rest)
        }
        None => command_path(args),
    }
}

/// Whether roost runs under podman's name (a `podman` link, or `podman-…` such as `podman-remote`),
/// for the version it reports and the name its help and errors use.
fn invoked_as_podman(args: &[OsString]) -> bool {
    args.first()
        .and_then(|a| std::path::Path::new(a).file_name())
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.starts_with("podman"))
}

/// [`persona`] of this process's own command line.
pub(crate) fn program_name() -> &'static str {
    persona(&std::env::args_os().collect::<Vec<_>>())
}

/// The name roost answers to in help and usage errors: `podman` under podman's name, else `roost`.
fn persona(args: &[OsString]) -> &'static str {
    if invoked_as_podman(args) {
        "podman"
    } else {
        "roost"
    }
}

/// clap's own exits: help and version go to stdout with status 0; usage errors are podman's 125.
fn clap_exit(e: clap::Error, args: &[OsString]) -> Result<i32, Error> {
    use clap::error::ErrorKind;
    match e.kind() {
        ErrorKind::DisplayHelp => {
            out(&help_text(args, &help_path(args)))?;
            Ok(0)
        }
        ErrorKind::DisplayVersion => {
            let _ = e.print();
            Ok(0)
        }
        ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => missing_command(args),
        ErrorKind::InvalidSubcommand => {
            if let Some(message) = cobra::unknown_root_flag(&full_command(), args) {
                return Err(Error::Flags {
                    message,
                    command: bin_name(args),
                });
            }
            let word = e
                .get(clap::error::ContextKind::InvalidSubcommand)
                .map(ToString::to_string)
                .unwrap_or_default();
            let suggestion = match e.get(clap::error::ContextKind::SuggestedSubcommand) {
                Some(clap::error::ContextValue::Strings(s)) if !s.is_empty() => {
                    format!(" (did you mean `{}`?)", s.join("`, `"))
                }
                _ => String::new(),
            };
            Err(Error::Usage(format!(
                "unrecognized command `{} {word}`{suggestion}",
                command_path(args)
            )))
        }
        _ => {
            let path = command_path(args);
            if let Some(err) = cobra::flag_error(&e, &full_command(), &path, args) {
                return Err(err);
            }
            // clap's message up to its usage section, on one line: what was wrong and what was missing.
            let text = e.render().to_string();
            let message: Vec<&str> = text
                .lines()
                .take_while(|l| !l.starts_with("Usage:") && !l.starts_with("For more information"))
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .collect();
            Err(Error::Usage(
                message.join(" ").trim_start_matches("error: ").to_string(),
            ))
        }
    }
}

fn dispatch(ctx: &crate::engine::Ctx, command: Command) -> Result<i32, Error> {
    match command {
        Command::Run(a) => container::run(ctx, &a),
        Command::Create(a) => container::create(ctx, &a),
        Command::Start(a) => container::start(ctx, &a),
        Command::Ps(a) => container::ps(ctx, &a),
        Command::Rm(a) => container::rm(ctx, &a),
        Command::Stop(a) => container::stop(ctx, &a),
        Command::Kill(a) => container::kill(ctx, &a),
        Command::Wait(a) => container::wait(ctx, &a),
        Command::Restart(a) => container::restart(ctx, &a),
        Command::Logs(a) => container::logs(ctx, &a),
        Command::Attach(a) => container::attach(ctx, &a),
        Command::Pause(a) => container::pause(ctx, &a, true),
        Command::Unpause(a) => container::pause(ctx, &a, false),
        Command::Update(a) => container::update(ctx, &a),
        Command::Stats(a) => container::stats(ctx, &a),
        Command::Monitor(a) => container::monitor(ctx, &a),
        Command::Commit(a) => container::commit(ctx, &a),
        Command::Cp(a) => container::cp(ctx, &a),
        Command::Diff(a) => container::diff(ctx, &a),
        Command::Export(a) => container::export(ctx, &a),
        Command::Mount(a) => container::mount(ctx, &a),
        Command::Unmount(a) => container::unmount(ctx, &a),
        Command::Exec(a) => container::exec(ctx, &a),
        Command::Healthcheck(h) => container::health::healthcheck(ctx, &h),
        Command::Top(a) => container::top(ctx, &a),
        Command::Port(a) => container::port(ctx, &a),
        Command::Build(a) => image::build(ctx, &a),
        Command::Buildx(b) => image::buildx(ctx, &b),
        Command::Pull(a) => image::pull(ctx, &a),
        Command::Push(a) => image::push(ctx, &a),
        Command::Images(a) => image::images(ctx, &a),
        Command::Rmi(a) => image::rmi(ctx, &a),
        Command::Tag(a) => image::tag(ctx, &a),
        Command::Untag(a) => image::untag(ctx, &a),
        Command::Inspect(a) => image::inspect(ctx, &a),
        Command::History(a) => image::history(ctx, &a),
        Command::Save(a) => image::save(ctx, &a),
        Command::Load(a) => image::load(ctx, &a),
        Command::Import(a) => image::import(ctx, &a),
        Command::AutoUpdate(a) => auto_update::auto_update(ctx, &a),
        Command::Login(a) => image::login(ctx, &a),
        Command::Logout(a) => image::logout(ctx, &a),
        Command::Unshare(a) => system::unshare(ctx, &a),
        Command::Info(a) => system::info(ctx, &a),
        Command::Events(a) => events::events(ctx, &a),
        Command::Doctor(a) => doctor::doctor(ctx, &a),
        Command::Image(i) => image::dispatch(ctx, i),
        Command::Container(c) => container::dispatch(ctx, c),
        Command::Rename(a) => container::dispatch(ctx, container::ContainerCommand::Rename(a)),
        Command::System(s) => system::dispatch(ctx, s),
        Command::Volume(v) => volume::dispatch(ctx, v),
        Command::Network(n) => network::dispatch(ctx, n),
        Command::Pod(p) => pod::dispatch(ctx, p),
        Command::Secret(s) => secret::dispatch(ctx, s),
        Command::Kube(k) => kube::dispatch(ctx, k),
        Command::Generate(generate::GenerateCommand::Kube(a)) => kube::generate(ctx, &a),
        Command::Compose(a) => compose::compose(ctx, &a),
        Command::Netns(a) => network::netns(ctx, &a),
        Command::Generate(generate::GenerateCommand::Systemd(a)) => {
            generate_systemd::systemd(ctx, &a)
        }
        Command::Version(_)
        | Command::Completion(_)
        | Command::Generate(_)
        | Command::Quadlet(_) => {
            unreachable!("handled before the context is built")
        }
    }
}

/// `KEY=VALUE` flag values (`--label`, `--annotation`, volume labels); a bare `KEY` has an empty value.
pub(crate) fn key_values(
    flag: &str,
    items: &[String],
) -> Result<std::collections::BTreeMap<String, String>, Error> {
    items
        .iter()
        .map(|i| match i.split_once('=') {
            Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
            None if !i.is_empty() => Ok((i.clone(), String::new())),
            _ => Err(Error::Usage(format!(
                "invalid {flag} `{i}`: expected KEY=VALUE"
            ))),
        })
        .collect()
}

/// Write an archive (`save`, `export`) to `path`, or to stdout when there is none (never a terminal).
/// A file is written next to its target, synced and renamed, so a failure leaves no half-written
/// archive; a reader that stops early (`roost export c | tar t | head`) is not an error.
pub(crate) fn write_archive(
    path: Option<&std::path::Path>,
    verb: &str,
    write: impl FnOnce(&mut dyn std::io::Write) -> Result<(), crate::engine::EngineError>,
) -> Result<(), Error> {
    use std::io::{IsTerminal, Write};
    let Some(path) = path else {
        if std::io::stdout().is_terminal() {
            return Err(Error::Usage(format!(
                "refusing to {verb} to terminal. Use -o flag or redirect"
            )));
        }
        let mut w = std::io::BufWriter::new(std::io::stdout().lock());
        match write(&mut w) {
            Err(e) if closed_pipe(&e) => return Ok(()),
            r => r?,
        }
        return match w.flush() {
            Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
                Err(Error::io("write to stdout", e))
            }
            _ => Ok(()),
        };
    };
    let failed = |e| Error::io(format!("write `{}`", path.display()), e);
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(std::path::Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir)
        .map_err(|e| Error::io(format!("create a file in `{}`", dir.display()), e))?;
    {
        let mut w = std::io::BufWriter::new(tmp.as_file_mut());
        write(&mut w)?;
        w.flush().map_err(failed)?;
    }
    tmp.as_file().sync_all().map_err(failed)?;
    tmp.persist(path).map_err(|e| failed(e.error))?;
    Ok(())
}

/// Whether an engine error comes from writing to a closed pipe.
fn closed_pipe(e: &crate::engine::EngineError) -> bool {
    let mut cur: Option<&dyn std::error::Error> = Some(e);
    while let Some(err) = cur {
        if let Some(io) = err.downcast_ref::<std::io::Error>()
            && io.kind() == std::io::ErrorKind::BrokenPipe
        {
            return true;
        }
        cur = err.source();
    }
    false
}

/// podman's prune prompt: print `WARNING! {warning}` and ask; true only for y/Y/yes on stdin.
pub(crate) fn confirm(warning: &str) -> bool {
    use std::io::Write;
    #[allow(clippy::print_stderr)]
    {
        eprint!("WARNING! {warning}\nAre you sure you want to continue? [y/N] ");
    }
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    let _ = std::io::BufRead::read_line(&mut std::io::stdin().lock(), &mut answer);
    matches!(answer.trim(), "y" | "Y" | "yes")
}

/// Print to stdout, treating a closed pipe (`roost images | head -1`) as success.
pub(crate) fn out(text: &str) -> Result<(), Error> {
    use std::io::Write;
    let written = match OUTPUT.get() {
        Some(mut file) => file.write_all(text.as_bytes()),
        None => {
            let mut stdout = std::io::stdout().lock();
            stdout
                .write_all(text.as_bytes())
                .and_then(|()| stdout.flush())
        }
    };
    match written {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(Error::io("write to stdout", e))
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clap_definitions_are_consistent() {
        Cli::command().debug_assert();
    }

    /// What the tree with only the entered command reads from a command line, or None when it
    /// refuses it.
    fn parsed_entering(line: &[&str]) -> Option<String> {
        let args: Vec<OsString> = line.iter().map(OsString::from).collect();
        let mut cmd = lazy::entering(argv::entered_word(&args), Cli::command);
        let parsed = argv::separate_container_command(&cmd, args);
        let m = cmd.try_get_matches_from_mut(&parsed).ok()?;
        Some(format!("{:?}", Cli::from_arg_matches(&m).unwrap()))
    }

    #[test]
    fn the_entered_command_alone_parses_as_the_whole_tree() {
        for line in [
            &[
                "roost",
                "run",
                "--rm",
                "--network",
                "none",
                "busybox",
                "true",
            ][..],
            &[
                "roost",
                "--root",
                "/x",
                "--log-level",
                "debug",
                "run",
                "-it",
                "busybox",
                "sh",
                "-c",
                "exit 3",
            ],
            &[
                "roost",
                "--log-level=info",
                "container",
                "ls",
                "-a",
                "--format",
                "{{.ID}}",
            ],
            &["roost", "ps", "-a", "-q"],
            &["roost", "--storage-driver", "vfs", "images"],
            &["roost", "image", "ls", "--root", "/y"],
            &["roost", "pod", "create", "--name", "p", "--memory", "64m"],
            &["roost", "system", "df"],
            &["roost", "exec", "-it", "c", "ls", "--help"],
            &["roost", "-D", "version"],
        ] {
            let args: Vec<OsString> = line.iter().map(OsString::from).collect();
            let mut whole = Cli::command();
            let parsed = argv::separate_container_command(&whole, args);
            let m = whole.try_get_matches_from_mut(&parsed).unwrap();
            let expected = format!("{:?}", Cli::from_arg_matches(&m).unwrap());
            assert_eq!(parsed_entering(line), Some(expected), "{line:?}");
            let args: Vec<OsString> = line.iter().map(OsString::from).collect();
            let tree = lazy::entering(argv::entered_word(&args), Cli::command);
            assert_eq!(tree.get_subcommands().count(), 1, "{line:?}");
        }
    }

    #[test]
    fn the_entered_word_skips_root_flags_and_their_values() {
        let word = |line: &[&str]| {
            let args: Vec<OsString> = line.iter().map(OsString::from).collect();
            argv::entered_word(&args).map(str::to_string)
        };
        assert_eq!(
            word(&["roost", "--root", "/r", "run", "x"]).as_deref(),
            Some("run")
        );
        assert_eq!(word(&["roost", "--root=/r", "ps"]).as_deref(), Some("ps"));
        assert_eq!(word(&["roost", "--debug", "ps"]).as_deref(), Some("ps"));
        assert_eq!(word(&["roost", "--", "ps"]), None);
        assert_eq!(word(&["roost", "--root", "/r"]), None);
        // An unknown word is no command: the whole tree then parses it, and names the error.
        assert_eq!(parsed_entering(&["roost", "bogus"]), None);
    }

    #[test]
    fn aliases_parse_to_the_same_args() {
        for argv in [
            vec!["roost", "images", "-q"],
            vec!["roost", "image", "ls", "-q"],
            vec!["roost", "image", "list", "-q"],
        ] {
            Cli::try_parse_from(&argv).unwrap_or_else(|e| panic!("{argv:?}: {e}"));
        }
    }
}
