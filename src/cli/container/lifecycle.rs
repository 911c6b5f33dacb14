//! `stop`, `kill`, `wait`, `restart`, `container cleanup`, and the hidden `__monitor`.
use clap::Args;
use clap_complete::engine::ArgValueCandidates;

use crate::cli::complete::{container_names, running_containers};
use crate::cli::out;
use crate::engine::Ctx;
use crate::engine::container::{self as engine, Status};
use crate::error::Error;

#[derive(Debug, Args)]
pub struct StopArgs {
    /// Seconds to wait before killing the container (default: its --stop-timeout, 10)
    #[arg(short, long, alias = "timeout", value_name = "SECONDS")]
    pub time: Option<u32>,
    /// Stop all running containers
    #[arg(short, long)]
    pub all: bool,
    /// Do not fail for containers (or --cidfile files) that do not exist
    #[arg(short, long)]
    pub ignore: bool,
    /// Read the container's ID from this file (as `run --cidfile` writes it)
    #[arg(long, value_name = "FILE", value_hint = clap::ValueHint::FilePath)]
    pub cidfile: Vec<std::path::PathBuf>,
    /// Stop the running containers that match this filter (the keys of `ps --filter`)
    #[arg(short, long, value_name = "KEY=VALUE")]
    pub filter: Vec<String>,
    #[arg(value_name = "CONTAINER", add = ArgValueCandidates::new(running_containers))]
    pub containers: Vec<String>,
}

#[derive(Debug, Args)]
pub struct KillArgs {
    /// Signal to send (name or number)
    #[arg(
        short,
        long,
        value_name = "SIGNAL",
        default_value = "KILL",
        allow_hyphen_values = true
    )]
    pub signal: String,
    /// Signal all running containers
    #[arg(short, long)]
    pub all: bool,
    /// Read the container's ID from this file (as `run --cidfile` writes it)
    #[arg(long, value_name = "FILE", value_hint = clap::ValueHint::FilePath)]
    pub cidfile: Vec<std::path::PathBuf>,
    #[arg(value_name = "CONTAINER", add = ArgValueCandidates::new(running_containers))]
    pub containers: Vec<String>,
}

#[derive(Debug, Args)]
pub struct WaitArgs {
    /// Condition to wait for: stopped/exited (default), created, running, paused, healthy or unhealthy
    #[arg(long, value_name = "STATE", default_value = "stopped")]
    pub condition: Vec<String>,
    /// Do not fail for containers that do not exist
    #[arg(short, long)]
    pub ignore: bool,
    #[arg(required = true, value_name = "CONTAINER", add = ArgValueCandidates::new(container_names))]
    pub containers: Vec<String>,
}

#[derive(Debug, Args)]
pub struct MonitorArgs {
    pub id: String,
    #[arg(long)]
    pub ready_fd: i32,
    /// Wait briefly for a first attach client before starting the container (`start -a`)
    #[arg(long)]
    pub wait_attach: bool,
    /// The systemd notify socket to use for `--sdnotify` (the monitor's own environment has none)
    #[arg(long)]
    pub notify_socket: Option<String>,
    /// Restarts already made by the restart policy (a foreground `run` hands its container over)
    #[arg(long, default_value_t = 0)]
    pub restarts: u32,
}

/// The containers a bulk command acts on: every running one (`--all`), the running ones that match
/// `filters`, or those named (on the command line, or in `cidfiles`).
fn targets(
    ctx: &Ctx,
    all: bool,
    keys: &[String],
    cidfiles: &[std::path::PathBuf],
    filters: &[String],
    ignore: bool,
) -> Result<Vec<String>, Error> {
    if all || !filters.is_empty() {
        let running = engine::list(ctx)?
            .into_iter()
            .filter(|c| c.state.status == Status::Running && !c.is_external())
            .collect();
        return Ok(super::ps::apply_filters(running, filters)?
            .into_iter()
            .map(|c| c.record.id)
            .collect());
    }
    let mut keys = keys.to_vec();
    keys.extend(super::read_cidfiles(cidfiles, ignore)?);
    if keys.is_empty() && cidfiles.is_empty() {
        return Err(Error::Usage(
            "specify one or more containers (or use --all)".into(),
        ));
    }
    Ok(keys)
}

fn warn(text: &str) {
    #[allow(clippy::print_stderr)]
    {
        eprintln!("{text}");
    }
}

/// podman's warning when the stop signal did not end the container in time; only when it had time
/// to work (`-t 0` kills at once).
fn warn_if_killed(key: &str, o: &engine::StopOutcome, time: Option<u32>) {
    if o.killed && time != Some(0) {
        let name = nix::sys::signal::Signal::try_from(o.signal)
            .map(|s| s.as_str().to_string())
            .unwrap_or(o.signal.to_string());
        warn(&format!(
            "WARN StopSignal {name} failed to stop container {key} in {} seconds, resorting to SIGKILL",
            time.unwrap_or(10)
        ));
    }
}

pub fn stop(ctx: &Ctx, a: &StopArgs) -> Result<i32, Error> {
    let mut code = 0;
    let keys = targets(ctx, a.all, &a.containers, &a.cidfile, &a.filter, a.ignore)?;
    for key in keys {
        match engine::stop(ctx, &key, a.time) {
            Ok(o) => {
                warn_if_killed(&key, &o, a.time);
                out(&format!("{key}\n"))?;
            }
            Err(crate::engine::EngineError::NoSuchContainer(_)) if a.ignore => {}
            Err(e) => {
                warn(&format!("Error: {e}"));
                code = 125;
            }
        }
    }
    if code == 0 {
        Ok(0)
    } else {
        Err(Error::Reported(code))
    }
}

pub fn kill(ctx: &Ctx, a: &KillArgs) -> Result<i32, Error> {
    let sig = engine::parse_signal(&a.signal)?;
    let mut code = 0;
    for key in targets(ctx, a.all, &a.containers, &a.cidfile, &[], false)? {
        match engine::kill(ctx, &key, sig) {
            Ok(_) => out(&format!("{key}\n"))?,
            Err(e) => {
                warn(&format!("Error: {e}"));
                code = 125;
            }
        }
    }
    if code == 0 {
        Ok(0)
    } else {
        Err(Error::Reported(code))
    }
}

/// `container cleanup`: see podman-container-cleanup(1).
#[derive(Debug, Args)]
pub struct CleanupArgs {
    /// Clean up all containers (that are not running)
    #[arg(short, long)]
    pub all: bool,
    /// Clean up this exec session (`exec -d` prints its ID) of the one container named, once it has
    /// ended
    #[arg(long, value_name = "SESSION")]
    pub exec: Option<String>,
    /// Clean up the container created last
    #[arg(short, long)]
    pub latest: bool,
    /// Then remove the container (with --exec: only the exec session)
    #[arg(long)]
    pub rm: bool,
    /// Then remove the container's image (unless another container uses it)
    #[arg(long)]
    pub rmi: bool,
    #[arg(value_name = "CONTAINER", add = ArgValueCandidates::new(container_names))]
    pub containers: Vec<String>,
}

/// Print an error of one container among several (the command goes on with the others).
fn report(e: &dyn std::fmt::Display) {
    #[allow(clippy::print_stderr)]
    {
        eprintln!("Error: {e}");
    }
}

/// `container cleanup`: each container's (or exec session's) ID once cleaned up, `--rm` and `--rmi`
/// after; a container that cannot be cleaned up is reported and the others still are (exit 125).
pub fn cleanup(ctx: &Ctx, a: &CleanupArgs) -> Result<i32, Error> {
    let conflict =
        |x: &str, y: &str| Err(Error::Usage(format!("{x} and {y} cannot be set together")));
    if a.all && a.exec.is_some() {
        return conflict("--all", "--exec");
    }
    if a.exec.is_some() && a.rmi {
        return conflict("--exec", "--rmi");
    }
    let picked = [a.all, a.latest, !a.containers.is_empty()]
        .iter()
        .filter(|x| **x)
        .count();
    if picked != 1 {
        return Err(Error::Usage(
            "name the containers to clean up, or use one of --all and --latest".into(),
        ));
    }
    let keys: Vec<String> = if a.all || a.latest {
        let mut list = engine::list(ctx)?;
        if a.latest {
            list.sort_by_key(|c| std::cmp::Reverse(c.record.created));
            list.truncate(1);
        }
        list.into_iter()
            .filter(|c| !(a.all && matches!(c.state.status, Status::Running | Status::Paused)))
            .map(|c| c.record.id)
            .collect()
    } else {
        a.containers.clone()
    };
    if let Some(session) = &a.exec {
        let [key] = keys.as_slice() else {
            return Err(Error::Usage(
                "--exec cleans up a session of one container: name exactly one".into(),
            ));
        };
        engine::cleanup_exec(ctx, key, session)?;
        out(&format!("{session}\n"))?;
        return Ok(0);
    }
    let mut failed = false;
    for key in &keys {
        let c = match engine::cleanup(ctx, key) {
            Ok(c) => c,
            Err(e) => {
                report(&e);
                failed = true;
                continue;
            }
        };
        if a.rm
            && let Err(e) =
                engine::remove(ctx, std::slice::from_ref(&c.record.id), false, false, false)
                    .map(|r| r.errors)
                    .and_then(|errs| errs.into_iter().next().map_or(Ok(()), Err))
        {
            report(&e);
            failed = true;
            continue;
        }
        out(&format!("{}\n", c.record.id))?;
        if a.rmi
            && let Some(image) = c.image_id()
        {
            let opts = crate::engine::image::RemoveOptions {
                images: vec![image.to_string()],
                force: false,
                all: false,
                ignore: false,
            };
            let removed = crate::engine::image::remove(ctx, &opts, &engine::ContainerUsers)?;
            for e in &removed.errors {
                report(e);
                failed = true;
            }
        }
    }
    if failed {
        return Err(Error::Reported(125));
    }
    Ok(0)
}

pub fn wait(ctx: &Ctx, a: &WaitArgs) -> Result<i32, Error> {
    let conds = wait_conditions(&a.condition)?;
    let want_exit = conds.contains(&engine::WaitCondition::Stopped);
    let store = ctx.store()?;
    for key in &a.containers {
        let c = match engine::find(&store, key) {
            Ok(c) => c,
            Err(crate::engine::EngineError::NoSuchContainer(_)) if a.ignore => {
                out("-1\n")?;
                continue;
            }
            Err(e) => return Err(e.into()),
        };
        if !want_exit {
            // podman prints -1 for a condition that is not an exit.
            engine::wait_for(&store, &c.record.id, &conds)?;
            out("-1\n")?;
            continue;
        }
        match engine::wait_for(&store, &c.record.id, &conds) {
            Ok(done)
                if matches!(
                    done.state.status,
                    Status::Stopped | Status::Exited | Status::Created
                ) =>
            {
                out(&format!("{}\n", done.state.exit_code))?
            }
            Ok(_) => out("-1\n")?,
            Err(crate::engine::EngineError::NoSuchContainer(_)) => {
                // Removed while we waited (`--rm`): its exit code was kept.
                let code = engine::removed_exit_code(ctx, &c.record.id).unwrap_or(-1);
                out(&format!("{code}\n"))?;
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(0)
}

/// `--condition` values (each may be a comma-separated list, as podman's string slice).
fn wait_conditions(raw: &[String]) -> Result<Vec<engine::WaitCondition>, Error> {
    let mut conds = Vec::new();
    for part in raw.iter().flat_map(|r| r.split(',')) {
        conds.push(
            part.parse::<engine::WaitCondition>()
                .map_err(crate::engine::EngineError::from)?,
        );
    }
    Ok(conds)
}

pub fn restart(ctx: &Ctx, a: &StopArgs) -> Result<i32, Error> {
    for key in targets(ctx, a.all, &a.containers, &a.cidfile, &a.filter, a.ignore)? {
        let (c, stopped) = engine::restart(ctx, &key, a.time)?;
        warn_if_killed(&key, &stopped, a.time);
        out(&format!("{}\n", c.record.id))?;
    }
    Ok(0)
}

/// `__monitor ID --ready-fd N`: runs detached, prints nothing.
pub fn monitor(ctx: &Ctx, a: &MonitorArgs) -> Result<i32, Error> {
    let ready = crate::sys::process::adopt_fd(a.ready_fd)
        .map_err(|e| Error::io("adopt the ready descriptor", e))?;
    let notify = a
        .notify_socket
        .clone()
        .map(crate::engine::container::sdnotify::NotifySocket);
    let opts = engine::MonitorOptions {
        wait_attach: a.wait_attach,
        notify,
        restarts: a.restarts,
    };
    Ok(engine::monitor(ctx, &a.id, ready, opts)?)
}

#[derive(Debug, Args)]
pub struct PauseArgs {
    /// Pause all running containers
    #[arg(short, long)]
    pub all: bool,
    #[arg(value_name = "CONTAINER", add = ArgValueCandidates::new(running_containers))]
    pub containers: Vec<String>,
}

/// `pause`/`unpause` (`frozen`): the cgroup freezer of the container's own cgroup v2.
pub fn pause(ctx: &Ctx, a: &PauseArgs, frozen: bool) -> Result<i32, Error> {
    let names: Vec<String> = if a.all {
        let want = if frozen {
            Status::Running
        } else {
            Status::Paused
        };
        engine::list(ctx)?
            .into_iter()
            .filter(|c| c.state.status == want)
            .map(|c| c.record.id)
            .collect()
    } else if a.containers.is_empty() {
        return Err(Error::Usage(format!(
            "{} needs at least one container name or id, or --all",
            if frozen { "pause" } else { "unpause" }
        )));
    } else {
        a.containers.clone()
    };
    let mut failed = None;
    for n in &names {
        match engine::resources::pause(ctx, n, frozen) {
            Ok(id) => out(&format!("{id}\n"))?,
            Err(e) if names.len() == 1 => return Err(e.into()),
            Err(e) => {
                warn(&format!("Error: {e}"));
                failed = Some(125);
            }
        }
    }
    Ok(failed.unwrap_or(0))
}
