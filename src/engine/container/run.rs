//! `run` in the foreground and `start --attach`: spawn the container as our child, wait, record.
use jiff::Timestamp;

use super::sdnotify::SdNotifyMode;
use super::{Container, State, Status, lifecycle, plan};
use crate::engine::events::{self, Event};
use crate::engine::{Ctx, EngineError};
use crate::runtime::SpawnError;

/// How a foreground container ended.
#[derive(Debug)]
pub enum Ended {
    Exited(i32),
    /// It never started; the error carries podman's 125/126/127.
    Failed(SpawnError),
}

/// Start `c` and wait for it. With `remove`, everything about it is deleted afterwards. With
/// `sig_proxy`, the signals we receive go to the container's process.
pub fn run_attached(ctx: &Ctx, c: &Container, sig_proxy: bool) -> Result<Ended, EngineError> {
    let ended = attached(ctx, c, sig_proxy);
    // Whatever failed (before the start or while recording the end), `--rm` leaves nothing.
    if c.spec.remove && !matches!(ended, Ok(Ended::Exited(_))) {
        lifecycle::discard_unstarted(ctx, &c.record.id);
    }
    ended
}

fn attached(ctx: &Ctx, c: &Container, sig_proxy: bool) -> Result<Ended, EngineError> {
    super::monitor::start_required(ctx, c)?;
    let mut store = ctx.store()?;
    let mut plan = plan(ctx, &store, c)?;
    plan.process.terminal = c.spec.tty;
    // `--sdnotify`: in the foreground, we are the container's monitor.
    let notify = ctx
        .notify_socket
        .as_ref()
        .filter(|_| c.spec.sdnotify != SdNotifyMode::Ignore);
    if let Some(sock) = notify
        .filter(|_| c.spec.sdnotify == SdNotifyMode::Container)
        .and_then(|s| s.path())
    {
        super::sdnotify::pass_into(&mut plan, &sock);
    }
    if !c.spec.interactive {
        stdin_from_null(c)?;
    }
    // fuse-overlayfs runs in this process's mount namespace, mounted before the clone copies it.
    let fuse = match super::rootfs::mount(ctx, c, &plan.rootfs) {
        Ok(f) => f,
        Err(e) => {
            remove_if_asked(ctx, &mut store, c)?;
            return Err(e);
        }
    };
    // Stops the network helper when dropped, after the container has ended.
    let mut net = super::network_settings::attachment(ctx, c);
    let mut log = super::tee::LazyLog::new(&store, c);
    // With a terminal the output is copied from the pty. Otherwise it comes through pipes to us
    // when it is logged, and so does any descriptor of ours that is a terminal (runtime::relay).
    let mut tee = if c.spec.tty {
        None
    } else {
        super::tee::Tee::redirect(super::tee::Tee::needed(c.spec.interactive, log.enabled()))?
    };
    let spawned = crate::runtime::spawn_with(&plan, &mut net);
    if let Some(t) = tee.as_mut() {
        t.restore();
    }
    let spawned = match spawned {
        Ok(s) => s,
        Err(e) => {
            drop(fuse);
            let mut st = c.state.clone();
            st.error = e.to_string();
            st.exit_code = e.exit_code();
            store.set_container_state(&c.record.id, &st.to_json())?;
            remove_if_asked(ctx, &mut store, c)?;
            return Ok(Ended::Failed(e));
        }
    };
    record_started(ctx, &mut store, c, &spawned)?;
    if let Some(sock) = notify {
        super::sdnotify::announce(sock, c.spec.sdnotify, std::process::id());
    }
    if sig_proxy {
        crate::sys::process::forward_signals(spawned.pid.as_raw());
    }
    let pid = spawned.pid;
    if let Some(m) = spawned.terminal {
        crate::runtime::terminal::relay_pty_logged(m, &mut |data| log.write(false, data));
        log.finish();
    } else if let Some(t) = tee {
        t.copy(pid, &mut log);
    }
    let code = crate::runtime::wait::wait_exit(pid);
    drop(spawned.proc_view);
    if c.spec.net.ports.is_empty() {
        // The helper dies while we tidy up; we exit soon, so init reaps it.
        net.abandon();
    } else {
        // Its host ports must be free before anyone sees the container ended (a next `run -p`
        // may want them).
        net.stop_and_wait();
    }
    // Before the exit is recorded: whoever waits for it finds the OOM flag and no cgroup left.
    super::resources::ended(&mut store, &c.record.id, spawned.cgroup.as_ref())?;
    super::monitor::died_events(ctx, c, code);
    let code = lifecycle::record_exit(&mut store, &c.record.id, code);
    drop(fuse);
    let code = code?;
    restart_if_wanted(ctx, &store, c, code)?;
    if c.spec.remove {
        let c = lifecycle::find(&store, &c.record.id)?;
        remove_if_asked(ctx, &mut store, &c)?;
    }
    Ok(Ended::Exited(code))
}

/// The restart policy, after the first run in the foreground: a background monitor starts the
/// container again (podman's cleanup process does; `run` itself ends with this exit code).
fn restart_if_wanted(
    ctx: &Ctx,
    store: &crate::store::Store,
    c: &Container,
    code: i32,
) -> Result<(), EngineError> {
    let now = lifecycle::find(store, &c.record.id)?;
    if c.spec.remove
        || !c
            .spec
            .restart
            .should_restart(code, 0, now.state.stopped_by_user)
    {
        return Ok(());
    }
    super::monitor::hand_over_restart(ctx, &now)
}

/// Without -i the container reads nothing from us (podman gives it /dev/null).
fn stdin_from_null(c: &Container) -> Result<(), EngineError> {
    let null =
        std::fs::File::open("/dev/null").map_err(|e| EngineError::io("open", "/dev/null", e))?;
    crate::sys::process::dup_onto(std::os::fd::AsFd::as_fd(&null), 0)
        .map_err(|e| EngineError::io("redirect stdin of", &c.record.id, e))
}

/// `--rm`: remove `c` and its anonymous volumes.
fn remove_if_asked(
    ctx: &Ctx,
    store: &mut crate::store::Store,
    c: &Container,
) -> Result<(), EngineError> {
    if c.spec.remove {
        lifecycle::remove_one(ctx, store, c, true)?;
        let gone = super::volumes::remove_anonymous_volumes(store, c)?;
        events::record_all(
            ctx,
            &gone
                .iter()
                .map(|v| Event::volume("remove", v))
                .collect::<Vec<_>>(),
        );
    }
    Ok(())
}

/// Record that `c` runs as `spawned`, with us as its monitor.
fn record_started(
    ctx: &Ctx,
    store: &mut crate::store::Store,
    c: &Container,
    spawned: &crate::runtime::spawn::Spawned,
) -> Result<(), EngineError> {
    let state = State {
        status: Status::Running,
        pid: spawned.pid.as_raw(),
        monitor_pid: std::process::id() as i32,
        started_at: Some(Timestamp::now()),
        cgroup: spawned.cgroup.as_ref().map(|m| m.container.clone()),
        rlimits: super::start_ulimits(ctx, c),
        ..State::default()
    };
    store.set_container_state(&c.record.id, &state.to_json())?;
    super::volumes::mark_populated(store, c)?;
    crate::userns::register_holder(&ctx.paths.runtime);
    // One write for the three (podman's order for an attached run).
    events::record_all(
        ctx,
        &["init", "start", "attach"].map(|s| Event::container(s, c)),
    );
    Ok(())
}
