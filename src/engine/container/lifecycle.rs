//! Finding, listing, waiting for and removing containers.
use jiff::Timestamp;
use nix::unistd::Pid;

use super::{Container, State, Status};
use crate::engine::{Ctx, EngineError};
use crate::store::Store;

/// Resolve a name, id or id prefix to one container.
pub fn find(store: &Store, key: &str) -> Result<Container, EngineError> {
    let ids = store.find_containers(key)?;
    match ids.as_slice() {
        [] => Err(EngineError::NoSuchContainer(key.to_string())),
        [id] => {
            let rec = store
                .container(id)?
                .ok_or_else(|| EngineError::NoSuchContainer(key.to_string()))?;
            Ok(refresh(Container::from_record(rec)))
        }
        _ => Err(EngineError::Ambiguous {
            input: key.to_string(),
            matches: ids
                .iter()
                .map(|i| i[..12].to_string())
                .collect::<Vec<_>>()
                .join(", "),
        }),
    }
}

/// A running container whose process is gone (its monitor was killed, or the machine rebooted) is
/// reported as exited, without writing: the reader cannot know the exit code.
fn refresh(mut c: Container) -> Container {
    if c.state.status == Status::Running && c.state.pid > 0 && !alive(c.state.pid) {
        c.state.status = Status::Exited;
        c.state.exit_code = if c.state.exit_code == 0 {
            137
        } else {
            c.state.exit_code
        };
    }
    c
}

fn alive(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // A zombie has exited already.
        Ok(s) => s
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_some_and(|st| st != "Z" && st != "X"),
        Err(_) => false,
    }
}

/// All containers, newest first.
pub fn list(ctx: &Ctx) -> Result<Vec<Container>, EngineError> {
    let Some(store) = ctx.store_if_exists()? else {
        return Ok(vec![]);
    };
    Ok(store
        .containers()?
        .into_iter()
        .map(|r| refresh(Container::from_record(r)))
        .collect())
}

/// Wait for the container's pid 1 (our child) and record how it ended. Returns the exit status.
pub fn wait_and_record(store: &mut Store, id: &str, pid: Pid) -> Result<i32, EngineError> {
    let code = crate::runtime::wait::wait_exit(pid);
    let mut state = store
        .container(id)?
        .map(|r| State::from_json(&r.state))
        .unwrap_or_default();
    state.status = Status::Exited;
    state.exit_code = code;
    state.finished_at = Some(Timestamp::now());
    state.pid = 0;
    store.set_container_state(id, &state.to_json())?;
    Ok(code)
}

#[derive(Debug, Default)]
pub struct RemoveReport {
    pub removed: Vec<String>,
    pub errors: Vec<EngineError>,
}

/// Remove one container: stop it when `force`, delete its files, then its record.
pub fn remove_one(
    ctx: &Ctx,
    store: &mut Store,
    c: &Container,
    force: bool,
) -> Result<(), EngineError> {
    if c.state.status == Status::Running {
        if !force {
            return Err(EngineError::Invalid(format!(
                "cannot remove container {} as it is running - running or paused containers cannot be removed without force",
                c.record.id
            )));
        }
        if c.state.pid > 0 {
            let _ = nix::sys::signal::kill(
                Pid::from_raw(c.state.pid),
                nix::sys::signal::Signal::SIGKILL,
            );
            for _ in 0..200 {
                if !alive(c.state.pid) {
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
        }
    }
    let dir = store.container_dir(&c.record.id);
    crate::store::remove_tree(&dir).map_err(|e| EngineError::io("remove", &dir, e))?;
    let rt = super::runtime_dir(ctx, &c.record.id);
    let _ = crate::store::remove_tree(&rt);
    store.remove_container(&c.record.id)?;
    Ok(())
}

/// `rm`: remove containers by name or id (all with `all`), reporting each.
pub fn remove(
    ctx: &Ctx,
    keys: &[String],
    all: bool,
    force: bool,
    ignore: bool,
) -> Result<RemoveReport, EngineError> {
    let mut report = RemoveReport::default();
    let Some(mut store) = ctx.store_if_exists()? else {
        if !ignore {
            report
                .errors
                .extend(keys.iter().map(|k| EngineError::NoSuchContainer(k.clone())));
        }
        return Ok(report);
    };
    let targets: Vec<Result<Container, EngineError>> = if all {
        store
            .containers()?
            .into_iter()
            .map(|r| Ok(refresh(Container::from_record(r))))
            .collect()
    } else {
        keys.iter().map(|k| find(&store, k)).collect()
    };
    for t in targets {
        match t.and_then(|c| remove_one(ctx, &mut store, &c, force).map(|()| c.record.id)) {
            Ok(id) => report.removed.push(id),
            Err(EngineError::NoSuchContainer(_)) if ignore => {}
            Err(e) => report.errors.push(e),
        }
    }
    Ok(report)
}
