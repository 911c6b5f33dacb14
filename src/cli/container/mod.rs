//! Container verbs: run, create, start, ps, rm (more come with the full run capability).

mod exec;
mod ps;
mod run;

use clap::Args;
use clap_complete::engine::ArgValueCandidates;

pub use exec::{exec, top};
pub use ps::ps;
pub use run::{create, rm, run, start};

use super::complete::{container_names, image_names};

/// The flags `run` and `create` share (podman's names).
#[derive(Debug, Clone, Args)]
pub struct CreateArgs {
    /// Print help (`-h` is --hostname, as in podman)
    #[arg(long, action = clap::ArgAction::Help)]
    pub help: Option<bool>,
    /// Name for the container
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
    /// Set environment variables (KEY=VALUE, or KEY to take it from your environment)
    #[arg(short, long, value_name = "KEY[=VALUE]")]
    pub env: Vec<String>,
    /// Read environment variables from a file (KEY=VALUE lines)
    #[arg(long, value_name = "FILE", value_hint = clap::ValueHint::FilePath)]
    pub env_file: Vec<std::path::PathBuf>,
    /// Pass your whole environment into the container
    #[arg(long)]
    pub env_host: bool,
    /// Remove a variable the image sets
    #[arg(long, value_name = "KEY")]
    pub unset_env: Vec<String>,
    /// Remove every variable the image sets
    #[arg(long)]
    pub unset_env_all: bool,
    /// Add supplementary groups (names or ids)
    #[arg(long, value_name = "GROUP")]
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
    /// Container host name
    #[arg(short = 'h', long, value_name = "NAME")]
    pub hostname: Option<String>,
    /// Network mode: host or none (user-mode networks come with the networking capability)
    #[arg(
        long,
        visible_alias = "net",
        value_name = "MODE",
        default_value = "host"
    )]
    pub network: String,
    /// Mount the container's root file system read-only
    #[arg(long)]
    pub read_only: bool,
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
    /// Set annotations (KEY=VALUE)
    #[arg(long, value_name = "KEY=VALUE")]
    pub annotation: Vec<String>,
    /// Pull policy: always, missing, never, newer
    #[arg(long, value_name = "POLICY", default_value = "missing")]
    pub pull: String,
    /// Signal to stop the container with (default: the image's STOPSIGNAL or SIGTERM)
    #[arg(long, value_name = "SIGNAL")]
    pub stop_signal: Option<String>,
    /// Seconds to wait before killing the container on stop
    #[arg(long, value_name = "SECONDS")]
    pub stop_timeout: Option<u32>,
    /// Require HTTPS when pulling (false allows plain HTTP)
    #[arg(long, value_name = "BOOL", num_args = 0..=1, default_missing_value = "true", value_parser = clap::value_parser!(bool))]
    pub tls_verify: Option<bool>,
    /// Image to run
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
    #[command(flatten)]
    pub create: CreateArgs,
}

#[derive(Debug, Args)]
pub struct StartArgs {
    /// Attach to the container's output and wait for it
    #[arg(short, long)]
    pub attach: bool,
    /// Keep stdin open
    #[arg(short, long)]
    pub interactive: bool,
    /// Containers to start
    #[arg(required = true, value_name = "CONTAINER", add = ArgValueCandidates::new(container_names))]
    pub containers: Vec<String>,
}

#[derive(Debug, Args)]
pub struct RmArgs {
    /// Remove all containers
    #[arg(short, long)]
    pub all: bool,
    /// Stop and remove running containers
    #[arg(short, long)]
    pub force: bool,
    /// Do not fail for containers that do not exist
    #[arg(short, long)]
    pub ignore: bool,
    /// Remove anonymous volumes too (accepted; volumes come with the volumes work)
    #[arg(short, long)]
    pub volumes: bool,
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
    /// Filter output (name, id, label, status, ancestor, exited)
    #[arg(short, long, value_name = "KEY=VALUE")]
    pub filter: Vec<String>,
    /// Pretty-print with a Go template, `json`, or `table …`
    #[arg(long, value_name = "FORMAT")]
    pub format: Option<String>,
    /// Omit the table heading
    #[arg(long)]
    pub noheading: bool,
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
    #[arg(value_name = "CONTAINER", add = ArgValueCandidates::new(container_names))]
    pub container: String,
    /// Command and arguments
    #[arg(
        required = true,
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "COMMAND"
    )]
    pub command: Vec<String>,
}

#[derive(Debug, Args)]
pub struct TopArgs {
    /// Container to list the processes of
    #[arg(value_name = "CONTAINER", add = ArgValueCandidates::new(container_names))]
    pub container: String,
    /// Format descriptors (default: user pid ppid pcpu etime tty time args)
    #[arg(value_name = "DESCRIPTORS")]
    pub descriptors: Vec<String>,
}
