//! `container cleanup` (podman-container-cleanup(1)): what a container that is not running may have
//! left behind when its monitor did not end normally (killed, or the machine went down), and an
//! ended `exec -d` session. The monitor does all of this itself when the container exits, so for a
//! container that ended normally there is nothing left to do.
use super::{Container, OpError, Status, exec, find, lifecycle, rootfs};
use crate::engine::events::{self, Event};
use crate::engine::{Ctx, EngineError};

/// Clean up container `key`: a record that still says it runs while its processes are gone gets its
/// exit recorded, a fuse-overlayfs left mounted is ended, and its exec sessions are dropped. A
/// running or paused container is refused. Returns the container (for `--rm`/`--rmi`).
pub fn cleanup(ctx: &Ctx, key: &str) -> Result<Container, EngineError> {
    let mut store = ctx.store()?;
    let c = find(&store, key)?;
    if matches!(c.state.status, Status::Running | Status::Paused) {
        return Err(OpError::CleanupRunning(c.record.id.clone()).into());
    }
    // `find` shows a container whose processes died with its monitor as exited; make it so.
    let recorded = store
        .container(&c.record.id)?
        .map(|r| super::State::from_json(&r.state).status);
    if recorded == Some(Status::Running) {
        lifecycle::record_exit(&mut store, &c.record.id, c.state.exit_code)?;
    }
    rootfs::stop_leftovers(ctx, &store, &c);
    exec::forget_sessions(&store, &c.record.id);
    events::record(ctx, Event::container("cleanup", &c));
    Ok(c)
}

/// Clean up exec session `session` of container `key`: once its process has ended, the session is
/// dropped (roost keeps nothing else of it). A session that still runs is refused.
pub fn cleanup_exec(ctx: &Ctx, key: &str, session: &str) -> Result<Container, EngineError> {
    let store = ctx.store()?;
    let c = find(&store, key)?;
    match exec::session_state(&store, &c, session) {
        None => Err(OpError::NoExecSession {
            session: session.to_string(),
            container: c.record.name.clone(),
        }
        .into()),
        Some(true) => Err(OpError::ExecSessionRunning {
            session: session.to_string(),
            container: c.record.name.clone(),
        }
        .into()),
        Some(false) => {
            exec::forget_session(&store, &c.record.id, session);
            Ok(c)
        }
    }
}
