//! Finding, listing, waiting for and removing containers.
use jiff::Timestamp;
use nix::unistd::Pid;

use super::{Container, State, Status};
use crate::engine::events::{self, Event};
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
                .map(|i| crate::store::short_id(i).to_string())
                .collect::<Vec<_>>()
                .join(", "),
        }),
    }
}

/// A running container whose process is gone (its monitor was killed, or the machine rebooted) is
/// reported as exited, without writing: the reader cannot know the exit code. One whose process runs
/// but whose monitor is gone is marked `monitor_lost`, with an error saying so (see [`monitor_lost`]).
///
/// A container recorded as running since before the machine booted runs no more, whatever process
/// has its old pids now (after a reboot they are reused: `start --all` at boot must not take
/// one for the container).
fn refresh(mut c: Container) -> Container {
    let stale = c.state.status == Status::Running
        && c.state
            .started_at
            .is_some_and(|t| started_before(t, boot_time()));
    let alive = |pid: i32| !stale && alive(pid);
    if c.state.paused && c.state.status == Status::Running && c.state.pid > 0 && alive(c.state.pid)
    {
        c.state.status = Status::Paused;
        return c;
    }
    if c.state.status == Status::Running
        && c.state.pid > 0
        && c.state.monitor_pid > 0
        && alive(c.state.pid)
        && !alive(c.state.monitor_pid)
    {
        c.state.monitor_lost = true;
        c.state.error = monitor_lost(c.state.monitor_pid);
    }
    // Only when its monitor is gone too: a live monitor is about to record the real exit code.
    if c.state.status == Status::Running
        && c.state.pid > 0
        && !alive(c.state.pid)
        && (c.state.monitor_pid <= 0 || !alive(c.state.monitor_pid))
    {
        c.state.status = Status::Exited;
        c.state.exit_code = if c.state.exit_code == 0 {
            137
        } else {
            c.state.exit_code
        };
    }
    c
}

/// What `inspect` says (`State.Error`) of a container whose monitor is gone.
pub fn monitor_lost(monitor: i32) -> String {
    format!(
        "the container's monitor (pid {monitor}) is gone: the container runs without its network helper and its log; `restart` it to get them back, or `stop` or `rm -f` it"
    )
}

/// When the machine booted (`btime` of /proc/stat, seconds since the epoch); 0 if unknown.
fn boot_time() -> i64 {
    static BOOT: std::sync::OnceLock<i64> = std::sync::OnceLock::new();
    *BOOT.get_or_init(|| {
        std::fs::read_to_string("/proc/stat")
            .ok()
            .and_then(|s| parse_btime(&s))
            .unwrap_or(0)
    })
}

fn parse_btime(stat: &str) -> Option<i64> {
    stat.lines()
        .find_map(|l| l.strip_prefix("btime "))
        .and_then(|v| v.trim().parse().ok())
}

/// Whether something that started at `t` did so before a boot at `btime` (a second of slack
/// for the rounding of `btime`).
fn started_before(t: Timestamp, btime: i64) -> bool {
    btime > 0 && t.as_second() < btime - 1
}

/// Whether `c` has exited but its monitor runs on to start it again (its restart policy): it has
/// not ended for good.
pub fn restart_pending(c: &Container) -> bool {
    matches!(c.state.status, Status::Exited | Status::Stopped)
        && c.state.monitor_pid > 0
        && alive(c.state.monitor_pid)
        && c.spec.restart.should_restart(
            c.state.exit_code,
            c.state.restart_count,
            c.state.stopped_by_user,
        )
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

/// [`find`], but a container whose process has ended while its monitor is still finishing (stopping
/// its network helper, recording the exit) is waited for (up to 2 s): `start` right after the end
/// starts it again instead of finding it still running.
pub fn find_settled(store: &Store, key: &str) -> Result<Container, EngineError> {
    let c = find(store, key)?;
    if c.state.status == Status::Running && c.state.pid > 0 && !alive(c.state.pid) {
        wait_recorded(store, &c);
        return find(store, key);
    }
    Ok(c)
}

/// All containers, newest first.
pub fn list(ctx: &Ctx) -> Result<Vec<Container>, EngineError> {
    listed(ctx, |store| store.containers())
}

/// The containers of pod `pod_id`, newest first.
pub fn list_in_pod(ctx: &Ctx, pod_id: &str) -> Result<Vec<Container>, EngineError> {
    listed(ctx, |store| store.containers_of_pod(pod_id))
}

/// The records `query` reads from the store (none if nothing was ever stored), refreshed.
fn listed(
    ctx: &Ctx,
    query: impl FnOnce(&Store) -> crate::store::Result<Vec<crate::store::ContainerRecord>>,
) -> Result<Vec<Container>, EngineError> {
    let Some(store) = ctx.store_if_exists()? else {
        return Ok(vec![]);
    };
    Ok(query(&store)?
        .into_iter()
        .map(|r| refresh(Container::from_record(r)))
        .collect())
}

/// Wait for the container's pid 1 (our child) and record how it ended. Returns the exit status.
pub fn wait_and_record(store: &mut Store, id: &str, pid: Pid) -> Result<i32, EngineError> {
    let code = crate::runtime::wait::wait_exit(pid);
    record_exit(store, id, code)
}

/// Record that the container ended with `code`.
pub fn record_exit(store: &mut Store, id: &str, code: i32) -> Result<i32, EngineError> {
    let mut state = store
        .container(id)?
        .map(|r| State::from_json(&r.state))
        .unwrap_or_default();
    state.status = Status::Exited;
    state.stopping = false;
    state.exit_code = code;
    state.finished_at = Some(Timestamp::now());
    state.pid = 0;
    store.set_container_state(id, &state.to_json())?;
    // Its exec sessions ended with its pid namespace.
    super::exec::forget_sessions(store, id);
    Ok(code)
}

#[derive(Debug, Default)]
pub struct RemoveReport {
    pub removed: Vec<String>,
    pub errors: Vec<EngineError>,
}

/// Wait (at most `limit`) until `pid` has exited: woken by its pidfd when the kernel has one, else
/// by polling.
fn wait_dead(pid: i32, limit: std::time::Duration) {
    use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
    use std::os::fd::AsFd;
    if let Ok(fd) = crate::sys::fdpass::pidfd_open(pid) {
        let ms = PollTimeout::try_from(limit.as_millis().min(60_000) as i32)
            .unwrap_or(PollTimeout::NONE);
        let mut pfd = [PollFd::new(fd.as_fd(), PollFlags::POLLIN)];
        loop {
            match poll(&mut pfd, ms) {
                Err(nix::errno::Errno::EINTR) => continue,
                _ => return,
            }
        }
    }
    let start = std::time::Instant::now();
    while alive(pid) && start.elapsed() < limit {
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}

/// After the container's process died: give its monitor (or foreground `run`) a moment to stop the
/// network helper and record the exit, so that the host ports it published are free when `rm`
/// returns. Not when that process is gone (a killed monitor) or is us.
fn wait_recorded(store: &Store, c: &Container) {
    let monitor = c.state.monitor_pid;
    if monitor <= 0 || monitor == std::process::id() as i32 {
        return;
    }
    // Finely at first: the monitor usually records the exit within milliseconds of the death.
    for i in 0..500 {
        let running = store
            .container(&c.record.id)
            .ok()
            .flatten()
            .is_some_and(|r| State::from_json(&r.state).status == Status::Running);
        if !running || !alive(monitor) {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(if i < 100 {
            1
        } else {
            5
        }));
    }
}

/// Remove one container: stop it when `force`, delete its files, then its record.
pub fn remove_one(
    ctx: &Ctx,
    store: &mut Store,
    c: &Container,
    force: bool,
) -> Result<(), EngineError> {
    if c.state.status == Status::Paused && !force {
        return Err(EngineError::RemoveRunning(c.record.id.clone()));
    }
    let thawed;
    let c = if c.state.status == Status::Paused {
        thawed = thaw_if_paused(store, c.clone())?;
        &thawed
    } else {
        c
    };
    if c.state.status == Status::Running {
        if !force {
            return Err(EngineError::RemoveRunning(c.record.id.clone()));
        }
        if c.state.pid > 0 {
            // Its monitor must neither restart it nor report a failure (a systemd unit's main
            // process: `ExecStop=roost rm -f` is a clean stop).
            kill_for_removal(store, c)?;
            wait_dead(c.state.pid, std::time::Duration::from_secs(1));
            wait_recorded(store, c);
        }
    }
    if !c.spec.networks.is_empty() {
        crate::engine::network::detach_networks(ctx, &c.record.id)?;
    }
    super::rootfs::stop_leftovers(ctx, store, c);
    let dir = store.container_dir(&c.record.id);
    crate::store::remove_tree(&dir).map_err(|e| EngineError::io("remove", &dir, e))?;
    // `wait` on a container that `--rm` removed still gets its exit code (podman keeps it too).
    let latest = store
        .container(&c.record.id)?
        .map(|r| State::from_json(&r.state))
        .unwrap_or_default();
    if latest.status == Status::Exited {
        let exits = ctx.paths.runtime.join("exits");
        if std::fs::create_dir_all(&exits).is_ok() {
            let _ = std::fs::write(exits.join(&c.record.id), latest.exit_code.to_string());
        }
    }
    let rt = super::runtime_dir(ctx, &c.record.id);
    let _ = crate::store::remove_tree(&rt);
    store.remove_container(&c.record.id)?;
    events::record(ctx, Event::container("remove", c));
    Ok(())
}

/// A `--rm` container that failed before (or while) it started: remove it, its files and its
/// anonymous volumes, whatever state the failure left it in. Best effort: the start's own error is
/// what the user needs to see.
pub fn discard_unstarted(ctx: &Ctx, id: &str) {
    let Ok(mut store) = ctx.store() else {
        return;
    };
    if let Ok(c) = find(&store, id)
        && remove_one(ctx, &mut store, &c, true).is_ok()
    {
        let _ = super::volumes::remove_anonymous_volumes(&mut store, &c);
    }
}

/// `rm`: remove containers by name or id (all with `all`), reporting each.
pub fn remove(
    ctx: &Ctx,
    keys: &[String],
    all: bool,
    force: bool,
    ignore: bool,
) -> Result<RemoveReport, EngineError> {
    remove_with_volumes(ctx, keys, all, force, ignore, false)
}

/// `rm -v`: like [`remove`], and with `volumes` the containers' anonymous volumes go too.
pub fn remove_with_volumes(
    ctx: &Ctx,
    keys: &[String],
    all: bool,
    force: bool,
    ignore: bool,
    volumes: bool,
) -> Result<RemoveReport, EngineError> {
    remove_containers(ctx, keys, all, force, ignore, volumes, false)
}

/// The containers that depend on `id`, directly or through others, each after those that depend on
/// it (so removing them in this order never leaves one behind without what it needs).
fn dependents(all: &[Container], id: &str) -> Vec<String> {
    fn visit(all: &[Container], id: &str, seen: &mut Vec<String>, out: &mut Vec<String>) {
        for c in all.iter().filter(|c| c.spec.depends_on().contains(&id)) {
            if seen.contains(&c.record.id) {
                continue;
            }
            seen.push(c.record.id.clone());
            visit(all, &c.record.id, seen, out);
            out.push(c.record.id.clone());
        }
    }
    let (mut seen, mut out) = (vec![id.to_string()], Vec::new());
    visit(all, id, &mut seen, &mut out);
    out
}

/// The removal order for `targets`: with `depend`, each one's dependents come first; otherwise a
/// target that containers not removed with it depend on is an error, as in podman.
fn removal_order(
    all: &[Container],
    targets: Vec<Result<Container, EngineError>>,
    depend: bool,
) -> Vec<Result<Container, EngineError>> {
    let named: Vec<String> = targets
        .iter()
        .filter_map(|t| t.as_ref().ok().map(|c| c.record.id.clone()))
        .collect();
    let direct = |id: &str| -> Vec<String> {
        all.iter()
            .filter(|c| c.spec.depends_on().contains(&id))
            .map(|c| c.record.id.clone())
            .collect()
    };
    // Without --depend: blocked are the targets that something staying depends on.
    let mut blocked: Vec<String> = Vec::new();
    loop {
        let before = blocked.len();
        let more: Vec<String> = named
            .iter()
            .filter(|_| !depend)
            .filter(|id| !blocked.contains(id))
            .filter(|id| {
                direct(id)
                    .iter()
                    .any(|d| !named.contains(d) || blocked.contains(d))
            })
            .cloned()
            .collect();
        blocked.extend(more);
        if blocked.len() == before {
            break;
        }
    }
    let mut order: Vec<Result<Container, EngineError>> = Vec::new();
    let listed = |order: &[Result<Container, EngineError>], id: &str| {
        order
            .iter()
            .any(|o| o.as_ref().is_ok_and(|c| c.record.id == id))
    };
    for t in targets {
        let Ok(c) = t else {
            order.push(t);
            continue;
        };
        if listed(&order, &c.record.id) {
            continue;
        }
        if blocked.contains(&c.record.id) {
            order.push(Err(super::OpError::HasDependents {
                container: c.record.id.clone(),
                dependents: direct(&c.record.id).join(", "),
            }
            .into()));
            continue;
        }
        for d in dependents(all, &c.record.id) {
            if !listed(&order, &d)
                && let Some(dc) = all.iter().find(|x| x.record.id == d)
            {
                order.push(Ok(dc.clone()));
            }
        }
        order.push(Ok(c));
    }
    order
}

/// `rm`: [`remove_with_volumes`], and with `depend` the containers that depend on each target
/// (`--network container:`) are removed first.
pub fn remove_containers(
    ctx: &Ctx,
    keys: &[String],
    all: bool,
    force: bool,
    ignore: bool,
    volumes: bool,
    depend: bool,
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
    // Removed containers are reported as they were named (podman prints the user's words).
    let mut given: std::collections::HashMap<String, String> = std::collections::HashMap::new();
    let targets: Vec<Result<Container, EngineError>> = if all {
        store
            .containers()?
            .into_iter()
            .map(|r| refresh(Container::from_record(r)))
            .filter(|c| !c.is_external())
            .map(Ok)
            .collect()
    } else {
        keys.iter()
            .map(|k| {
                find(&store, k).inspect(|c| {
                    given
                        .entry(c.record.id.clone())
                        .or_insert_with(|| k.clone());
                })
            })
            .collect()
    };
    let everyone: Vec<Container> = store
        .containers()?
        .into_iter()
        .map(|r| refresh(Container::from_record(r)))
        .collect();
    for t in removal_order(&everyone, targets, depend) {
        let removed = t.and_then(|c| {
            remove_one(ctx, &mut store, &c, force)?;
            if volumes {
                let gone = super::volumes::remove_anonymous_volumes(&mut store, &c)?;
                events::record_all(
                    ctx,
                    &gone
                        .iter()
                        .map(|v| Event::volume("remove", v))
                        .collect::<Vec<_>>(),
                );
            }
            Ok(c.record.id)
        });
        match removed {
            Ok(id) => report.removed.push(given.remove(&id).unwrap_or(id)),
            Err(EngineError::NoSuchContainer(_)) if ignore => {}
            Err(e) => report.errors.push(e),
        }
    }
    Ok(report)
}

fn set_stopping(store: &mut Store, id: &str, stopping: bool) -> Result<(), EngineError> {
    Ok(store.set_container_stopping(id, stopping)?)
}

/// SIGKILL a running container for its removal, recorded first as stopped by the user so that its
/// monitor neither restarts it (`--restart always`) nor reports a failure, and as being removed
/// (see `State::removing`).
pub fn kill_for_removal(store: &mut Store, c: &Container) -> Result<(), EngineError> {
    if c.state.status != Status::Running || c.state.pid <= 0 {
        return Ok(());
    }
    // Already marked (`pod rm -f` marks all its containers, then removes each): no second write.
    if !(c.state.stopped_by_user && c.state.removing) {
        let mut st = store
            .container(&c.record.id)?
            .map(|r| State::from_json(&r.state))
            .unwrap_or_default();
        st.stopped_by_user = true;
        st.removing = true;
        store.set_container_state(&c.record.id, &st.to_json())?;
    }
    let _ = nix::sys::signal::kill(
        Pid::from_raw(c.state.pid),
        nix::sys::signal::Signal::SIGKILL,
    );
    Ok(())
}

fn set_stopped_by_user(store: &mut Store, id: &str) -> Result<(), EngineError> {
    let mut st = store
        .container(id)?
        .map(|r| State::from_json(&r.state))
        .unwrap_or_default();
    st.stopped_by_user = true;
    store.set_container_state(id, &st.to_json())?;
    Ok(())
}

/// The exit code of a container that was removed after it exited (`run --rm`), if known.
pub fn removed_exit_code(ctx: &Ctx, id: &str) -> Option<i32> {
    std::fs::read_to_string(ctx.paths.runtime.join("exits").join(id))
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// Wait until the store says the container is no longer running (its monitor or CLI recorded the exit),
/// or its process is gone; `timeout` None waits forever.
pub fn wait_stopped(
    store: &Store,
    id: &str,
    timeout: Option<std::time::Duration>,
) -> Result<Container, EngineError> {
    let start = std::time::Instant::now();
    loop {
        let c = find(store, id)?;
        if c.state.status != Status::Running {
            return Ok(c);
        }
        if timeout.is_some_and(|t| start.elapsed() >= t) {
            return Ok(c);
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

/// After `stop` recorded a container whose monitor waited to restart it as stopped by the user:
/// wait until the monitor has seen that and ended (None), or had started the container already
/// (the running container, to stop as any other).
fn wait_restart_settled(store: &Store, id: &str) -> Result<Option<Container>, EngineError> {
    let start = std::time::Instant::now();
    loop {
        let c = match find(store, id) {
            Ok(c) => c,
            Err(EngineError::NoSuchContainer(_)) => return Ok(None),
            Err(e) => return Err(e),
        };
        if c.state.status == Status::Running && c.state.pid > 0 {
            return Ok(Some(c));
        }
        let monitor_gone = c.state.monitor_pid <= 0 || !alive(c.state.monitor_pid);
        if monitor_gone || start.elapsed() >= std::time::Duration::from_secs(15) {
            return Ok(None);
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

/// What `stop` did to one container.
#[derive(Debug)]
pub struct StopOutcome {
    /// The stop signal did not end it in time and SIGKILL was sent.
    pub killed: bool,
    pub signal: i32,
}

/// `stop`: the stop signal, then SIGKILL after `timeout` seconds (podman's order).
pub fn stop(ctx: &Ctx, key: &str, timeout: Option<u32>) -> Result<StopOutcome, EngineError> {
    let mut store = ctx.store()?;
    let found = find(&store, key)?;
    let c = thaw_if_paused(&mut store, found)?;
    let signal = c.spec.stop_signal;
    let not_running = StopOutcome {
        killed: false,
        signal,
    };
    let c = if c.state.status == Status::Running && c.state.pid > 0 {
        c
    } else if restart_pending(&c) {
        // Its monitor waits to start it again (its restart policy): recorded as stopped by the
        // user, it stays stopped. The monitor may be starting it already: then it is stopped below.
        set_stopped_by_user(&mut store, &c.record.id)?;
        match wait_restart_settled(&store, &c.record.id)? {
            Some(running) => running,
            None => {
                events::record(ctx, Event::container("stop", &c));
                return Ok(not_running);
            }
        }
    } else {
        return Ok(not_running);
    };
    set_stopped_by_user(&mut store, &c.record.id)?;
    set_stopping(&mut store, &c.record.id, true)?;
    let pid = Pid::from_raw(c.state.pid);
    let sig =
        nix::sys::signal::Signal::try_from(signal).unwrap_or(nix::sys::signal::Signal::SIGTERM);
    let _ = nix::sys::signal::kill(pid, sig);
    let wait = std::time::Duration::from_secs(u64::from(timeout.unwrap_or(c.spec.stop_timeout)));
    // A `--rm` container may be gone (removed by its monitor) by the time we look: that is stopped too.
    let still_running = match wait_stopped(&store, &c.record.id, Some(wait)) {
        Ok(after) => after.state.status == Status::Running,
        Err(EngineError::NoSuchContainer(_)) => false,
        Err(e) => return Err(e),
    };
    let mut killed = false;
    if still_running {
        killed = true;
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL);
        match wait_stopped(
            &store,
            &c.record.id,
            Some(std::time::Duration::from_secs(10)),
        ) {
            Ok(_) | Err(EngineError::NoSuchContainer(_)) => {}
            Err(e) => return Err(e),
        }
    }
    // Still running after SIGKILL (a process that cannot die): it is not stopping any more.
    set_stopping(&mut store, &c.record.id, false)?;
    if c.state.monitor_lost {
        // Nobody else will record the end or tidy up. The real status is unknown (we are not the
        // parent): the signal that ended it is the best guess.
        let code = 128 + if killed { libc::SIGKILL } else { signal };
        record_exit(&mut store, &c.record.id, code)?;
        super::rootfs::stop_leftovers(ctx, &store, &c);
        if c.spec.remove {
            discard_unstarted(ctx, &c.record.id);
        }
    }
    events::record(ctx, Event::container("stop", &c));
    Ok(StopOutcome { killed, signal })
}

/// `restart`: stop (as `stop`), then start in the background; returns the container and how the
/// stop went.
pub fn restart(
    ctx: &Ctx,
    key: &str,
    timeout: Option<u32>,
) -> Result<(Container, StopOutcome), EngineError> {
    let stopped = stop(ctx, key, timeout)?;
    let c = find(&ctx.store()?, key)?;
    super::monitor::start_detached(ctx, &c)?;
    events::record(ctx, Event::container("restart", &c));
    Ok((c, stopped))
}

/// `kill -s SIGNAL`.
pub fn kill(ctx: &Ctx, key: &str, signal: i32) -> Result<String, EngineError> {
    let mut store = ctx.store()?;
    let found = find(&store, key)?;
    let c = thaw_if_paused(&mut store, found)?;
    if c.state.status != Status::Running || c.state.pid <= 0 {
        return Err(super::OpError::KillNotRunning {
            container: c.record.id.clone(),
            state: c.state.status.as_str(),
        }
        .into());
    }
    if !(1..=64).contains(&signal) {
        return Err(super::OpError::SignalNumber(signal).into());
    }
    // As podman: a container the user signalled is not restarted by its restart policy.
    set_stopped_by_user(&mut store, &c.record.id)?;
    crate::sys::process::send_signal(c.state.pid, signal)
        .map_err(|e| EngineError::io("signal", format!("container {}", c.record.id), e))?;
    events::record(ctx, Event::container("kill", &c));
    Ok(c.record.id)
}

/// Record whether the container is paused (`pause`/`unpause`, and a thaw before a signal).
pub(super) fn set_paused(store: &mut Store, id: &str, paused: bool) -> Result<(), EngineError> {
    if let Some(r) = store.container(id)? {
        let mut st = State::from_json(&r.state);
        st.paused = paused;
        store.set_container_state(id, &st.to_json())?;
    }
    Ok(())
}

/// Before `stop`, `kill` or `rm -f` signal a paused container: thaw it (its processes then see the
/// signal), and hand it back as running.
pub fn thaw_if_paused(store: &mut Store, mut c: Container) -> Result<Container, EngineError> {
    if c.state.status != Status::Paused {
        return Ok(c);
    }
    if let Some(dir) = c.state.cgroup.as_deref() {
        crate::runtime::cgroup::freeze(dir, false)?;
    }
    set_paused(store, &c.record.id, false)?;
    c.state.status = Status::Running;
    c.state.paused = false;
    Ok(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_container_started_before_the_boot_is_stale() {
        let stat = "cpu  1 2 3\nintr 5\nbtime 1700000000\nprocesses 9\n";
        let btime = parse_btime(stat).expect("btime");
        assert_eq!(btime, 1_700_000_000);
        let before = Timestamp::from_second(1_699_999_000).unwrap();
        let after = Timestamp::from_second(1_700_000_100).unwrap();
        assert!(started_before(before, btime));
        assert!(!started_before(after, btime));
        // Unknown boot time: nothing is stale.
        assert!(!started_before(before, 0));
    }
}
