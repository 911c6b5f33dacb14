//! `exec`: run another process in a running container, with the container's environment and identity
//! unless the flags say otherwise (podman-exec(1)).
use std::path::PathBuf;

use super::process::{self, ProcessFlags};
use super::{Container, Status, lifecycle};
use crate::engine::{Ctx, EngineError};
use crate::oci::ContainerConfig;
use crate::runtime::{ExecOutcome, ExecPlan, Process};

/// What `exec` is asked for (the CLI's flags, parsed).
#[derive(Debug, Clone, Default)]
pub struct ExecOptions {
    pub container: String,
    pub command: Vec<String>,
    /// `-e KEY=VAL`, `-e KEY`, `-e 'PREFIX*'` (the last two from `host_env`).
    pub env: Vec<String>,
    /// `--env-file`s, already read: (path, contents).
    pub env_files: Vec<(PathBuf, String)>,
    /// `-u USER[:GROUP]`; the container's user when `None`.
    pub user: Option<String>,
    /// `-w DIR`; the container's working directory when `None`.
    pub workdir: Option<String>,
    pub tty: bool,
    pub interactive: bool,
    pub detach: bool,
    /// Accepted: roost does not drop capabilities or load seccomp filters for containers yet, so an
    /// exec'd process already has the container's full privileges.
    pub privileged: bool,
    /// The caller's environment, for `-e KEY` and globs.
    pub host_env: Vec<(String, String)>,
    /// `--preserve-fds N`: descriptors 3 to 3+N-1, which the caller must have passed to us.
    pub preserve_fds: u32,
}

/// How an exec ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExecReport {
    /// The process's exit status; `None` when it was left running (`-d`).
    pub exit_code: Option<i32>,
}

/// The running container named `key`, with its pid 1.
pub(super) fn running(
    ctx: &Ctx,
    key: &str,
    what: &'static str,
) -> Result<(Container, i32), EngineError> {
    let Some(store) = ctx.store_if_exists()? else {
        return Err(EngineError::NoSuchContainer(key.to_string()));
    };
    let c = lifecycle::find(&store, key)?;
    if c.state.status != Status::Running || c.state.pid <= 0 {
        return Err(EngineError::StateImproper(what.to_string()));
    }
    let pid = c.state.pid;
    Ok((c, pid))
}

/// The process to run: the container's environment, then `--env-file`s and `-e`; the container's user
/// and working directory unless `-u`/`-w` are given (names resolved in the container's own files).
fn process_for(
    ctx: &Ctx,
    c: &Container,
    pid: i32,
    opts: &ExecOptions,
) -> Result<Process, EngineError> {
    // A default HOME is the container user's; another user (`-u`) gets their own (podman).
    let env = c
        .spec
        .env
        .iter()
        .filter(|e| !(opts.user.is_some() && c.spec.home_default && e.starts_with("HOME=")))
        .cloned()
        .collect();
    let config = ContainerConfig {
        env: Some(env),
        working_dir: Some(c.spec.cwd.clone()),
        ..ContainerConfig::default()
    };
    let flags = ProcessFlags {
        command: opts.command.clone(),
        // `[]`: no entrypoint, so the command is exactly what was given.
        entrypoint: Some("[]".into()),
        env: opts.env.clone(),
        env_files: opts.env_files.clone(),
        workdir: opts.workdir.clone(),
        user: opts.user.clone(),
        tty: opts.tty,
        ..ProcessFlags::default()
    };
    let (passwd, group) = if opts.user.is_some() {
        (
            super::rootfs::read_file(ctx, c, pid, "etc/passwd"),
            super::rootfs::read_file(ctx, c, pid, "etc/group"),
        )
    } else {
        (None, None)
    };
    let p = process::resolve(
        &config,
        &flags,
        &opts.host_env,
        passwd.as_deref(),
        group.as_deref(),
    )?;
    let (uid, gid, additional_gids) = match opts.user {
        Some(_) => (p.uid, p.gid, p.additional_gids),
        None => (c.spec.uid, c.spec.gid, c.spec.additional_gids.clone()),
    };
    Ok(Process {
        args: p.args,
        env: p.env,
        cwd: p.cwd,
        uid,
        gid,
        additional_gids,
        no_new_privileges: c.spec.no_new_privileges,
        terminal: false,
        init: false,
        rlimits: vec![],
    })
}

/// `exec`: start the command in the container and wait for it (or not, with `detach`). Must be called
/// while the process is single-threaded, from outside any user namespace of roost's own: the
/// container's user namespace is joined (see `runtime::exec`).
pub fn exec(ctx: &Ctx, opts: &ExecOptions) -> Result<ExecReport, EngineError> {
    if opts.command.is_empty() {
        return Err(super::OpError::ExecNoCommand.into());
    }
    if let Some(fd) =
        (3..3 + opts.preserve_fds as i32).find(|&fd| !crate::sys::process::is_inherited(fd))
    {
        return Err(super::OpError::PreserveFd(fd).into());
    }
    let (c, pid) = running(
        ctx,
        &opts.container,
        "can only create exec sessions on running containers",
    )?;
    let plan = plan_for(ctx, &c, pid, opts)?;
    tracing::debug!(container = %c.record.id, pid, args = ?plan.process.args, "exec");
    let session = hex::encode(rand::random::<[u8; 32]>());
    let event = |status: &str| {
        crate::engine::events::Event::container(status, &c).with_attribute("execID", &session)
    };
    crate::engine::events::record(ctx, event("exec"));
    // This process ends up in the container's root: the log is opened before.
    let log = crate::engine::events::hold(ctx);
    Ok(match crate::runtime::exec::exec(&plan)? {
        ExecOutcome::Exited(code) => {
            log.record(&event("exec_died").with_exit_code(code));
            ExecReport {
                exit_code: Some(code),
            }
        }
        ExecOutcome::Detached => ExecReport { exit_code: None },
    })
}

/// What to run for `opts` in `c`, whose pid 1 is `pid`.
pub(super) fn plan_for(
    ctx: &Ctx,
    c: &Container,
    pid: i32,
    opts: &ExecOptions,
) -> Result<ExecPlan, EngineError> {
    Ok(ExecPlan {
        pid,
        process: process_for(ctx, c, pid, opts)?,
        tty: opts.tty,
        interactive: opts.interactive,
        detach: opts.detach,
        preserve_fds: opts.preserve_fds,
        security: super::security(ctx, &spec_for_exec(&c.spec, opts.privileged))?,
        die_with_parent: false,
    })
}

/// The container's security settings, widened to all capabilities and no seccomp with
/// `exec --privileged` (podman's meaning).
fn spec_for_exec(spec: &super::ContainerSpec, privileged: bool) -> super::ContainerSpec {
    let mut s = spec.clone();
    s.privileged |= privileged;
    s
}
