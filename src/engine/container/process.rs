//! The pure part of `run`/`create`: an image's process defaults plus the `podman run` flags become the
//! process to exec (argv, environment, working directory, identity), following docker's and podman's
//! documented rules (podman-run(1), the Dockerfile reference on ENTRYPOINT/CMD).
#![deny(clippy::print_stdout, clippy::print_stderr)]

mod env;
mod ulimit;
mod user;

use std::path::PathBuf;

pub use env::EnvError;
pub use ulimit::{Ulimit, UlimitError, at_start, deserialize_ulimits, parse_ulimits};
pub use user::{UserError, group_add_gids, parse_user_spec, resolve_user};

use crate::oci::ContainerConfig;
use env::EnvList;

/// podman's default `PATH`, used when the image sets none.
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// The umask of a container's processes unless `--umask` says otherwise (podman's, the OCI default).
pub const DEFAULT_UMASK: u32 = 0o022;

/// `--umask`: one to four octal digits (podman-run(1)).
pub fn parse_umask(s: &str) -> Result<u32, crate::engine::EngineError> {
    let octal = !s.is_empty() && s.len() <= 4 && s.bytes().all(|b| (b'0'..=b'7').contains(&b));
    octal
        .then(|| u32::from_str_radix(s, 8).ok())
        .flatten()
        .ok_or_else(|| super::FlagError::Umask(s.to_string()).into())
}

/// The value of `container=` in every container's environment. Kept as podman's `podman` rather than
/// `roost`: scripts test `$container = podman` to detect a podman container, and roost aims to run them
/// unchanged.
pub const CONTAINER_ENV: &str = "podman";

/// The `podman run` flags that shape the process, as the CLI parsed them.
#[derive(Debug, Clone, Default)]
pub struct ProcessFlags {
    /// The arguments after the image; when non-empty they replace the image's `Cmd`.
    pub command: Vec<String>,
    /// `--entrypoint`: a plain string is one argument, a JSON array of strings is the whole
    /// entrypoint, `""` clears it. Any `--entrypoint` but `'[]'` also drops the image's `Cmd`.
    pub entrypoint: Option<String>,
    /// `-e KEY=VAL`, `-e KEY` (the host's value, if set), `-e 'PREFIX*'` (matching host variables).
    pub env: Vec<String>,
    /// `--env-file`s, already read: (path, contents).
    pub env_files: Vec<(PathBuf, String)>,
    /// `--env-host`: copy the whole host environment (under the image's, before files and `-e`).
    pub env_host: bool,
    /// `--unset-env`: drop these from podman's defaults, the image's environment and the host's.
    pub unset_env: Vec<String>,
    /// `--unset-env-all`: drop all of those.
    pub unset_env_all: bool,
    /// `-w`: must be absolute.
    pub workdir: Option<String>,
    /// `-u user[:group]`.
    pub user: Option<String>,
    /// `--group-add` names or gids (`keep-groups` alone is accepted and adds nothing).
    pub group_add: Vec<String>,
    /// The container's hostname, exported as `HOSTNAME`. When `--hostname` was not given the caller
    /// passes the default here, see [`default_hostname`]. `None` exports no `HOSTNAME`.
    pub hostname: Option<String>,
    /// `-t`: adds `TERM=xterm` unless the image sets `TERM`.
    pub tty: bool,
    /// `--http-proxy` (podman's default): the caller's proxy variables ([`PROXY_ENV`]) over the
    /// image's environment, under the flags'.
    pub http_proxy: bool,
}

/// The proxy variables `--http-proxy` passes on (podman-run(1)).
pub const PROXY_ENV: &[&str] = &[
    "http_proxy",
    "HTTP_PROXY",
    "https_proxy",
    "HTTPS_PROXY",
    "ftp_proxy",
    "FTP_PROXY",
    "no_proxy",
    "NO_PROXY",
];

/// The process to exec in the container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessSpec {
    pub args: Vec<String>,
    /// `KEY=VALUE` entries, podman's defaults first.
    pub env: Vec<String>,
    pub cwd: String,
    pub uid: u32,
    pub gid: u32,
    /// Supplementary groups: those in /etc/group listing the user, then `--group-add`.
    pub additional_gids: Vec<u32>,
    /// `--group-add` alone, as gids: `exec --user` adds them to the other user's groups.
    pub group_add: Vec<u32>,
    /// The user's home from /etc/passwd, when it has an entry with one.
    pub user_home: Option<String>,
    /// Whether `HOME` in `env` is the default (the user's home), not from the image or the flags.
    pub home_default: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum ProcessError {
    #[error("no command or entrypoint provided, and no CMD or ENTRYPOINT from image")]
    NoCommand,
    #[error("workdir `{0}` must be an absolute path")]
    RelativeWorkdir(String),
    #[error(transparent)]
    Env(#[from] EnvError),
    #[error(transparent)]
    User(#[from] UserError),
}

/// The default hostname: the first 12 characters of the container ID (as podman and docker use).
pub fn default_hostname(container_id: &str) -> String {
    container_id.chars().take(12).collect()
}

/// Resolve the process. `host_env` is the caller's environment (for `-e KEY`, globs and `--env-host`);
/// `passwd`/`group` are the contents of the container's /etc/passwd and /etc/group (`None` if missing).
pub fn resolve(
    config: &ContainerConfig,
    flags: &ProcessFlags,
    host_env: &[(String, String)],
    passwd: Option<&str>,
    group: Option<&str>,
) -> Result<ProcessSpec, ProcessError> {
    let args = command_line(config, flags)?;
    let cwd = working_dir(config, flags)?;
    let user_spec = flags
        .user
        .as_deref()
        .filter(|u| !u.is_empty())
        .or(config.user.as_deref())
        .unwrap_or("");
    let user = resolve_user(&parse_user_spec(user_spec), passwd, group)?;
    let mut additional_gids = user.supplementary_gids.clone();
    let group_add = group_add_gids(&flags.group_add, group)?;
    for &gid in &group_add {
        if !additional_gids.contains(&gid) {
            additional_gids.push(gid);
        }
    }
    let (env, home_default) = environment(config, flags, host_env, user.home.as_deref())?;
    Ok(ProcessSpec {
        args,
        env,
        cwd,
        uid: user.uid,
        gid: user.gid,
        additional_gids,
        group_add,
        user_home: user.home,
        home_default,
    })
}

/// `--entrypoint` as podman reads it: a JSON array of strings, else one argument.
fn parse_entrypoint(flag: &str) -> Vec<String> {
    serde_json::from_str::<Vec<String>>(flag).unwrap_or_else(|_| vec![flag.to_string()])
}

/// Entrypoint then command. An entrypoint of `[""]` (from the flag or the image) means none; the
/// image's `Cmd` is used only when no command was given and `--entrypoint` was not (podman's
/// `makeCommand`: `--entrypoint '[]'` counts as not given).
fn command_line(
    config: &ContainerConfig,
    flags: &ProcessFlags,
) -> Result<Vec<String>, ProcessError> {
    let cli_entrypoint = flags.entrypoint.as_deref().map(parse_entrypoint);
    let entrypoint = match &cli_entrypoint {
        Some(e) => e.as_slice(),
        None => config.entrypoint.as_deref().unwrap_or_default(),
    };
    let mut args: Vec<String> = match entrypoint {
        [only] if only.is_empty() => Vec::new(),
        e => e.to_vec(),
    };
    if !flags.command.is_empty() {
        args.extend(flags.command.iter().cloned());
    } else if cli_entrypoint.as_ref().is_none_or(|e| e.is_empty()) {
        args.extend(config.cmd.iter().flatten().cloned());
    }
    if args.is_empty() {
        return Err(ProcessError::NoCommand);
    }
    Ok(args)
}

/// `-w`, else the image's `WorkingDir` (made absolute), else `/`.
fn working_dir(config: &ContainerConfig, flags: &ProcessFlags) -> Result<String, ProcessError> {
    if let Some(w) = flags.workdir.as_deref().filter(|w| !w.is_empty()) {
        return if w.starts_with('/') {
            Ok(w.to_string())
        } else {
            Err(ProcessError::RelativeWorkdir(w.to_string()))
        };
    }
    Ok(match config.working_dir.as_deref().unwrap_or("") {
        "" => "/".to_string(),
        w if w.starts_with('/') => w.to_string(),
        w => format!("/{w}"),
    })
}

/// podman's order, later wins: defaults (`PATH`, `container`, `TERM` with a tty), the image's `Env`,
/// the host's (`--env-host`, else only its proxy variables with `--http-proxy`); then
/// `--unset-env`/`--unset-env-all` on all of those; then `--env-file`s and `-e`. `HOSTNAME` and `HOME` (the user's home, else `/`) are added when still unset, as libpod
/// does, so unsetting them restores the defaults. Also says whether `HOME` was added so.
fn environment(
    config: &ContainerConfig,
    flags: &ProcessFlags,
    host_env: &[(String, String)],
    home: Option<&str>,
) -> Result<(Vec<String>, bool), ProcessError> {
    let mut env = EnvList::default();
    env.set("PATH", DEFAULT_PATH);
    env.set("container", CONTAINER_ENV);
    if flags.tty {
        env.set("TERM", "xterm");
    }
    // Entries without `=` are not valid in an image config; they are ignored.
    for (k, v) in config
        .env
        .iter()
        .flatten()
        .filter_map(|e| e.split_once('='))
    {
        env.set(k, v);
    }
    if flags.env_host {
        host_env.iter().for_each(|(k, v)| env.set(k, v));
    } else if flags.http_proxy {
        host_env
            .iter()
            .filter(|(k, _)| PROXY_ENV.contains(&k.as_str()))
            .for_each(|(k, v)| env.set(k, v));
    }
    if flags.unset_env_all {
        env.clear();
    }
    flags.unset_env.iter().for_each(|k| env.remove(k));
    for (path, text) in &flags.env_files {
        env.apply_file(path, text, host_env)?;
    }
    for entry in &flags.env {
        env.apply(entry, host_env)?;
    }
    let at = env.leading(&["PATH", "container"]);
    if let Some(h) = &flags.hostname {
        env.insert_if_missing(at, "HOSTNAME", h);
    }
    let at = env.leading(&["PATH", "container", "HOSTNAME"]);
    let home_default = !env.contains("HOME");
    env.insert_if_missing(at, "HOME", home.unwrap_or("/"));
    Ok((env.into_strings(), home_default))
}

#[cfg(test)]
mod tests;
