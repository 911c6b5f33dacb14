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
        // Another user (`-u`) keeps the container's `--group-add` groups (podman).
        group_add: c.spec.group_add.iter().map(u32::to_string).collect(),
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
        umask: c.spec.umask(),
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
    // Opened before this process enters the container's root.
    let sessions = match opts.detach {
        true => Some(Sessions::open(ctx, &c)?),
        false => None,
    };
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
        ExecOutcome::Detached(pid) => {
            if let (Some(sessions), Some(pid)) = (sessions, pid) {
                sessions.record(&session, pid);
            }
            ExecReport { exit_code: None }
        }
    })
}

/// The file in a detached exec session's directory that holds its process's pid (podman's name).
const EXEC_PID: &str = "exec_pid";

/// The detached exec sessions (`exec -d`) of a container, while their processes run: directory
/// `exec/SESSION/` in the container's directory, with the process's pid in `exec_pid`. Sessions
/// whose process has ended are dropped when the next one starts, and all when the container stops.
struct Sessions {
    dir: std::fs::File,
}

impl Sessions {
    /// The container's session directory, made if missing, with the ended sessions removed.
    fn open(ctx: &Ctx, c: &Container) -> Result<Sessions, EngineError> {
        let store = ctx.store()?;
        let path = sessions_dir(&store, &c.record.id);
        for (id, _) in sessions(&path)
            .into_iter()
            .filter(|&(_, pid)| !runs_in(pid, c))
        {
            let _ = std::fs::remove_dir_all(path.join(id));
        }
        std::fs::create_dir_all(&path)
            .and_then(|()| std::fs::File::open(&path))
            .map(|dir| Sessions { dir })
            .map_err(|e| EngineError::io("create", &path, e))
    }

    /// Record session `id`, whose process is `pid`. Best effort: the process runs either way, and a
    /// session that is not recorded is only missing from `inspect`'s `ExecIDs`.
    fn record(&self, id: &str, pid: i32) {
        use rustix::fs::{Mode, OFlags};
        let written = rustix::fs::mkdirat(&self.dir, id, Mode::from_raw_mode(0o700))
            .and_then(|()| {
                rustix::fs::openat(
                    &self.dir,
                    id,
                    OFlags::DIRECTORY | OFlags::RDONLY,
                    Mode::empty(),
                )
            })
            .and_then(|session| {
                let flags = OFlags::CREATE | OFlags::EXCL | OFlags::WRONLY | OFlags::CLOEXEC;
                rustix::fs::openat(&session, EXEC_PID, flags, Mode::from_raw_mode(0o600))
            })
            .map_err(std::io::Error::from)
            .and_then(|f| {
                std::io::Write::write_all(&mut std::fs::File::from(f), pid.to_string().as_bytes())
            });
        if let Err(e) = written {
            tracing::warn!(session = id, error = %e, "could not record the exec session");
        }
    }
}

fn sessions_dir(store: &crate::store::Store, id: &str) -> PathBuf {
    store.container_dir(id).join("exec")
}

/// The sessions recorded in `dir`: their ids and pids (`None` when unreadable).
fn sessions(dir: &std::path::Path) -> Vec<(String, Option<i32>)> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| {
            let pid = std::fs::read_to_string(e.path().join(EXEC_PID))
                .ok()
                .and_then(|t| t.trim().parse::<i32>().ok());
            Some((e.file_name().to_str()?.to_string(), pid))
        })
        .collect()
}

/// Whether process `pid` runs in `c`: alive while the container runs and, where both can be read,
/// in the pid namespace of the container's pid 1.
fn runs_in(pid: Option<i32>, c: &Container) -> bool {
    let ns = |p: i32| std::fs::read_link(format!("/proc/{p}/ns/pid")).ok();
    let Some(pid) = pid.filter(|&p| p > 0) else {
        return false;
    };
    let same_ns = match (ns(pid), ns(c.state.pid)) {
        (Some(theirs), Some(container)) => theirs == container,
        _ => true,
    };
    c.state.status == Status::Running && c.state.pid > 0 && alive(pid) && same_ns
}

/// Whether `pid` exists and is no zombie: a detached process's parent is the container's pid 1,
/// which need not reap it.
fn alive(pid: i32) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    // `PID (COMM) STATE …`: COMM may hold anything, so the state follows the last `)`.
    stat.rsplit_once(')')
        .and_then(|(_, rest)| rest.split_whitespace().next())
        .is_some_and(|state| !matches!(state, "Z" | "X"))
}

/// The ids of `c`'s detached exec sessions whose processes still run (`inspect`'s `ExecIDs`).
pub fn exec_ids(store: &crate::store::Store, c: &Container) -> Vec<String> {
    let mut ids: Vec<String> = sessions(&sessions_dir(store, &c.record.id))
        .into_iter()
        .filter(|&(_, pid)| runs_in(pid, c))
        .map(|(id, _)| id)
        .collect();
    ids.sort();
    ids
}

/// Whether exec session `session` of `c` still runs (`None`: it has no such session).
pub(super) fn session_state(
    store: &crate::store::Store,
    c: &Container,
    session: &str,
) -> Option<bool> {
    sessions(&sessions_dir(store, &c.record.id))
        .into_iter()
        .find(|(id, _)| id == session)
        .map(|(_, pid)| runs_in(pid, c))
}

/// Drop exec session `session` of container `id`.
pub(super) fn forget_session(store: &crate::store::Store, id: &str, session: &str) {
    let _ = std::fs::remove_dir_all(sessions_dir(store, id).join(session));
}

/// Drop the container's exec sessions (it has stopped: their processes are gone).
pub(super) fn forget_sessions(store: &crate::store::Store, id: &str) {
    let _ = std::fs::remove_dir_all(sessions_dir(store, id));
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
        cgroup: c.state.cgroup.clone(),
    })
}

/// The container's security settings, widened to all capabilities and no seccomp with
/// `exec --privileged` (podman's meaning).
fn spec_for_exec(spec: &super::ContainerSpec, privileged: bool) -> super::ContainerSpec {
    let mut s = spec.clone();
    s.privileged |= privileged;
    s
}
