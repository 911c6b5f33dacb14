//! Detached containers: a small per-container monitor process (`roost __monitor ID`, no daemon) owns the
//! container's stdio, writes its log, records its exit, applies the restart policy and cleans up. The CLI
//! that started it waits only until the container runs.
use std::io::{Read, Write};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};

use jiff::Timestamp;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};

use super::attach::{STREAM_STDERR, STREAM_STDOUT, Server, Slot};
use super::logs::{LogFile, LogWriter};
use super::{Container, State, Status, lifecycle, plan};
use crate::engine::{Ctx, EngineError};

/// The restart policy (`--restart`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Restart {
    No,
    OnFailure(Option<u32>),
    Always,
    UnlessStopped,
}

pub fn parse_restart(s: &str) -> Result<Restart, EngineError> {
    let (name, arg) = s.split_once(':').map_or((s, None), |(n, a)| (n, Some(a)));
    let bad = || {
        EngineError::Invalid(format!(
            "invalid restart policy `{s}`: use no, on-failure[:N], always or unless-stopped"
        ))
    };
    Ok(match (name, arg) {
        ("" | "no", None) => Restart::No,
        ("on-failure", None) => Restart::OnFailure(None),
        ("on-failure", Some(n)) => Restart::OnFailure(Some(n.parse().map_err(|_| bad())?)),
        ("always", None) => Restart::Always,
        ("unless-stopped", None) => Restart::UnlessStopped,
        _ => return Err(bad()),
    })
}

/// Whether to start the container again after it ended with `code`.
pub fn should_restart(policy: Restart, code: i32, restarts: u32, stopped_by_user: bool) -> bool {
    if stopped_by_user {
        return false;
    }
    match policy {
        Restart::No => false,
        Restart::OnFailure(max) => code != 0 && max.is_none_or(|m| restarts < m),
        Restart::Always | Restart::UnlessStopped => true,
    }
}

/// Path of the container's log (kept with the container, like podman's `ctr.log`).
pub fn log_path(store: &crate::store::Store, id: &str) -> std::path::PathBuf {
    store.container_dir(id).join("ctr.log")
}

/// Where `c` logs: `--log-opt path=` or the container's `ctr.log`.
pub fn container_log_path(store: &crate::store::Store, c: &Container) -> std::path::PathBuf {
    c.spec
        .log_opts
        .path
        .clone()
        .unwrap_or_else(|| log_path(store, &c.record.id))
}

/// Start `c` in the background through a monitor process; returns once it runs (or failed to start).
pub fn start_detached(ctx: &Ctx, c: &Container) -> Result<(), EngineError> {
    spawn_monitor(ctx, c, false)?.ready()
}

/// `--requires`: start the containers `c` needs that are not running, each after its own
/// requirements, as podman does before it starts `c`.
pub fn start_required(ctx: &Ctx, c: &Container) -> Result<(), EngineError> {
    for id in &c.spec.requires {
        let dep = super::find(&ctx.store()?, id)?;
        if dep.state.status != super::Status::Running {
            start_required(ctx, &dep)?;
            start_detached(ctx, &dep)?;
        }
    }
    Ok(())
}

/// A monitor that was started and has not yet reported whether the container runs.
pub struct PendingStart {
    ready: std::fs::File,
    /// A `--rm` container is removed when it fails to start.
    remove_on_failure: Option<(Ctx, String)>,
}

/// Start the monitor of `c`. With `wait_attach`, it waits (a few seconds at most) for a first attach
/// client before it starts the container, so that client sees all of the output (`start -a`).
pub fn spawn_monitor(
    ctx: &Ctx,
    c: &Container,
    wait_attach: bool,
) -> Result<PendingStart, EngineError> {
    start_required(ctx, c)?;
    let (ready_r, ready_w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
        .map_err(|e| EngineError::io("create a pipe for", "monitor", e.into()))?;
    let exe = std::env::current_exe().map_err(|e| EngineError::io("find", "/proc/self/exe", e))?;
    let devnull =
        std::fs::File::open("/dev/null").map_err(|e| EngineError::io("open", "/dev/null", e))?;
    let mut cmd = std::process::Command::new(exe);
    cmd.arg("--root")
        .arg(&ctx.paths.data)
        .arg("--runroot")
        .arg(&ctx.paths.runtime)
        .args([
            "__monitor",
            &c.record.id,
            "--ready-fd",
            &ready_w.as_raw_fd().to_string(),
        ]);
    if wait_attach {
        cmd.arg("--wait-attach");
    }
    cmd.stdin(
        devnull
            .try_clone()
            .map_err(|e| EngineError::io("open", "/dev/null", e))?,
    )
    .stdout(
        devnull
            .try_clone()
            .map_err(|e| EngineError::io("open", "/dev/null", e))?,
    )
    .stderr(devnull);
    let mut child = crate::sys::process::spawn_detached(&mut cmd, &[ready_w.as_raw_fd()])
        .map_err(|e| EngineError::io("start the monitor for", &c.record.id, e))?;
    drop(ready_w);
    // The monitor keeps running in its own session; reap nothing here (it is reparented when we exit).
    let _ = child.try_wait();
    Ok(PendingStart {
        ready: std::fs::File::from(ready_r),
        remove_on_failure: c.spec.remove.then(|| (ctx.clone(), c.record.id.clone())),
    })
}

impl PendingStart {
    /// Whether the monitor has reported (or died) yet, without blocking.
    pub fn reported(&self) -> bool {
        let mut pfd = [PollFd::new(self.ready.as_fd(), PollFlags::POLLIN)];
        poll(&mut pfd, PollTimeout::ZERO).unwrap_or(0) > 0
    }

    /// Wait until the container runs (or failed to start: a `--rm` one is then removed).
    pub fn ready(mut self) -> Result<(), EngineError> {
        let mut report = String::new();
        let _ = self.ready.read_to_string(&mut report);
        let result = Self::outcome(&report);
        if result.is_err()
            && let Some((ctx, id)) = &self.remove_on_failure
        {
            lifecycle::discard_unstarted(ctx, id);
        }
        result
    }

    fn outcome(report: &str) -> Result<(), EngineError> {
        match report.strip_prefix("ok") {
            Some(_) => Ok(()),
            None if report.is_empty() => Err(EngineError::Invalid(
                "the container monitor exited before the container started".into(),
            )),
            None => {
                let (code, msg) = report.split_once('\t').unwrap_or(("125", report));
                Err(EngineError::StartFailed {
                    code: code.parse().unwrap_or(125),
                    message: msg.to_string(),
                })
            }
        }
    }
}

fn set_state(
    store: &mut crate::store::Store,
    id: &str,
    f: impl FnOnce(&mut State),
) -> Result<(), EngineError> {
    let mut st = store
        .container(id)?
        .map(|r| State::from_json(&r.state))
        .unwrap_or_default();
    f(&mut st);
    store.set_container_state(id, &st.to_json())?;
    Ok(())
}

fn redirect(fd: &impl AsFd, target: i32) -> Result<(), EngineError> {
    crate::sys::process::dup_onto(fd.as_fd(), target)
        .map_err(|e| EngineError::io("redirect the stdio of", "the container", e))
}

/// The monitor: run the container (again, per the restart policy) until it is done.
pub fn monitor(ctx: &Ctx, id: &str, ready: OwnedFd, wait_attach: bool) -> Result<i32, EngineError> {
    let mut ready = Some(std::fs::File::from(ready));
    // While we run, later roost commands join this user namespace (so they can signal the container).
    crate::userns::register_holder(&ctx.paths.runtime);
    let mut store = ctx.store()?;
    let c = lifecycle::find(&store, id)?;
    let policy = parse_restart(&c.spec.restart)?;
    let (log, max_size) = if c.spec.log_driver == "none" {
        ("/dev/null".into(), None)
    } else {
        (container_log_path(&store, &c), c.spec.log_opts.max_size)
    };
    let log_file = LogFile::open(&log, max_size).map_err(|e| EngineError::io("open", &log, e))?;
    let mut writer = LogWriter::new(log_file);
    let devnull =
        std::fs::File::open("/dev/null").map_err(|e| EngineError::io("open", "/dev/null", e))?;
    let mut server = match Server::bind(ctx, id) {
        Ok(s) => s,
        Err(e) => {
            if let Some(mut r) = ready.take() {
                let _ = write!(r, "125\t{e}");
            }
            return Err(e);
        }
    };
    if wait_attach {
        server.wait_first_client(std::time::Duration::from_secs(5));
    }
    let mut restarts = 0u32;
    loop {
        let (out_r, out_w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
            .map_err(|e| EngineError::io("create a pipe for", "logs", e.into()))?;
        let (err_r, err_w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
            .map_err(|e| EngineError::io("create a pipe for", "logs", e.into()))?;
        // With -i the container reads a pipe that attach clients feed; otherwise /dev/null.
        let stdin_pipe = if c.spec.interactive {
            let (in_r, in_w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
                .map_err(|e| EngineError::io("create a pipe for", "stdin", e.into()))?;
            redirect(&in_r, 0)?;
            Some(in_w)
        } else {
            redirect(&devnull, 0)?;
            None
        };
        redirect(&out_w, 1)?;
        redirect(&err_w, 2)?;
        let c = lifecycle::find(&store, id)?;
        let mut plan = match plan(ctx, &store, &c) {
            Ok(p) => p,
            Err(e) => {
                if let Some(mut r) = ready.take() {
                    let _ = write!(r, "{}\t{e}", e.exit_code());
                }
                return Err(e);
            }
        };
        // With -t the container's stdio is a pty whose master we keep (podman's conmon does too).
        plan.process.terminal = c.spec.tty;
        let mut net = super::network::attach(ctx, &c);
        // fuse-overlayfs runs in the monitor's mount namespace, mounted before the clone copies it.
        let (fuse, spawned) = match super::rootfs::mount(ctx, &c, &plan.rootfs) {
            Ok(fuse) => (
                fuse,
                crate::runtime::spawn_with(&plan, &mut net)
                    .map_err(|e| (e.exit_code(), e.to_string())),
            ),
            Err(e) => (None, Err((e.exit_code(), e.to_string()))),
        };
        drop(plan);
        redirect(&devnull, 0)?;
        redirect(&devnull, 1)?;
        redirect(&devnull, 2)?;
        drop(out_w);
        drop(err_w);
        let spawned = match spawned {
            Ok(s) => s,
            Err((code, message)) => {
                drop(fuse);
                set_state(&mut store, id, |st| {
                    st.error = message.clone();
                    st.exit_code = code;
                })?;
                if let Some(mut r) = ready.take() {
                    let _ = write!(r, "{code}\t{message}");
                }
                return Ok(code);
            }
        };
        set_state(&mut store, id, |st| {
            st.status = Status::Running;
            st.pid = spawned.pid.as_raw();
            st.monitor_pid = std::process::id() as i32;
            st.started_at = Some(Timestamp::now());
            st.finished_at = None;
            st.exit_code = 0;
            st.error.clear();
            st.stopped_by_user = false;
            st.restart_count = restarts;
            st.cgroup = spawned.cgroup.as_ref().map(|m| m.container.clone());
            st.oom_killed = false;
            st.paused = false;
        })?;
        super::volumes::mark_populated(&mut store, &c)?;
        if let Some(mut r) = ready.take() {
            let _ = r.write_all(b"ok");
        }
        let mut sources = vec![(out_r, false), (err_r, true)];
        if let Some(master) = spawned.terminal {
            if let Ok(copy) = crate::sys::process::dup_cloexec(master.as_fd()) {
                server.set_terminal(copy);
            }
            if c.spec.interactive
                && let Ok(copy) = crate::sys::process::dup_cloexec(master.as_fd())
            {
                server.set_stdin(copy);
            }
            sources.push((master, false));
        } else if let Some(w) = stdin_pipe {
            server.set_stdin(w);
        }
        // The container may run for months: wait holding only what copying its output needs.
        drop(store);
        pump(&mut writer, &mut server, sources);
        store = ctx.store()?;
        let code = crate::runtime::wait::wait_exit(spawned.pid);
        // The helper goes before the exit is recorded: whoever waits for that (`stop`, `rm -f`) may
        // publish the same host ports next.
        net.stop_and_wait();
        // Before the exit is recorded: whoever waits for it finds the OOM flag and no cgroup left.
        super::resources::ended(&mut store, id, spawned.cgroup.as_ref())?;
        let code = lifecycle::record_exit(&mut store, id, code);
        drop(fuse);
        let code = code?;
        // The exit is recorded: attached clients read it from the store once we close them.
        server.close_clients(std::time::Duration::from_secs(2));
        let st = store
            .container(id)?
            .map(|r| State::from_json(&r.state))
            .unwrap_or_default();
        if !should_restart(policy, code, restarts, st.stopped_by_user) {
            if c.spec.remove {
                let c = lifecycle::find(&store, id)?;
                lifecycle::remove_one(ctx, &mut store, &c, true)?;
                crate::engine::volume::remove_anonymous(&mut store, &c)?;
            }
            return Ok(code);
        }
        restarts += 1;
        std::thread::sleep(std::time::Duration::from_millis(
            100 * u64::from(restarts.min(10)),
        ));
    }
}

/// How long the container's output and the attach socket stay quiet before the monitor gives back
/// memory (milliseconds).
const IDLE_MS: u16 = 250;
/// At most this often.
const SHRINK_EVERY: std::time::Duration = std::time::Duration::from_secs(10);

/// Give back the memory that starting the container used (the store's database connection is already
/// closed): freed heap goes back to the kernel, and the pages of the binary and of the libraries that
/// parsing the command line and spawning touched are unmapped. Done when the container has been quiet
/// for a moment, so that only the code of the wait itself faults back in before the monitor sleeps.
fn shrink() {
    crate::sys::memory::trim_heap();
    crate::sys::memory::release_clean_file_pages();
}

/// Copy the container's output (`sources`: its stdout and stderr pipes, or its pty master, each
/// with whether it is stderr) into the log and to attached clients until all of them close;
/// meanwhile accept clients and pass their input to the container's stdin.
fn pump(writer: &mut LogWriter<impl Write>, server: &mut Server, sources: Vec<(OwnedFd, bool)>) {
    let mut open: Vec<Option<(std::fs::File, bool)>> = sources
        .into_iter()
        .map(|(fd, stderr)| Some((std::fs::File::from(fd), stderr)))
        .collect();
    let mut buf = vec![0u8; 32 * 1024];
    // Shrunk since the last output; and when, so that a container printing every second or so does
    // not have the monitor reread its memory map each time.
    let mut shrunk = false;
    let mut last_shrink: Option<std::time::Instant> = None;
    while open.iter().any(Option::is_some) {
        let idx: Vec<usize> = (0..open.len()).filter(|i| open[*i].is_some()).collect();
        let mut pfds: Vec<PollFd> = idx
            .iter()
            .map(|i| {
                PollFd::new(
                    open[*i].as_ref().expect("filtered").0.as_fd(),
                    PollFlags::POLLIN,
                )
            })
            .collect();
        let slots = server.poll_fds(&mut pfds);
        // Quiet for IDLE_MS, and SHRINK_EVERY after the previous time.
        let wait = last_shrink.map_or(0, |t| SHRINK_EVERY.saturating_sub(t.elapsed()).as_millis());
        let timeout = if shrunk {
            PollTimeout::NONE
        } else {
            PollTimeout::from(u16::try_from(wait.max(u128::from(IDLE_MS))).unwrap_or(u16::MAX))
        };
        let mut polled = poll(&mut pfds, timeout);
        if matches!(polled, Ok(0)) {
            shrink();
            shrunk = true;
            last_shrink = Some(std::time::Instant::now());
            polled = poll(&mut pfds, PollTimeout::NONE);
        }
        match polled {
            Ok(0) | Err(_) => continue,
            Ok(_) => shrunk = false,
        }
        let is_ready = |p: &PollFd| p.revents().is_some_and(|r| !r.is_empty());
        let ready: Vec<usize> = idx
            .iter()
            .zip(&pfds)
            .filter(|(_, p)| is_ready(p))
            .map(|(i, _)| *i)
            .collect();
        let ready_slots: Vec<Slot> = slots
            .iter()
            .zip(&pfds[idx.len()..])
            .filter(|(_, p)| is_ready(p))
            .map(|(s, _)| *s)
            .collect();
        drop(pfds);
        for i in ready {
            let Some((f, stderr)) = open[i].as_mut() else {
                continue;
            };
            let stderr = *stderr;
            let n = match f.read(&mut buf) {
                Ok(n) => n,
                // A pty master shares its non-blocking mode with the copy that feeds stdin.
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::Interrupted
                    ) =>
                {
                    continue;
                }
                // EIO from a pty master: every descriptor of the terminal is closed.
                Err(_) => 0,
            };
            if n == 0 {
                open[i] = None;
            } else {
                let _ = writer.write(stderr, &buf[..n]);
                let stream = if stderr { STREAM_STDERR } else { STREAM_STDOUT };
                server.broadcast(stream, &buf[..n]);
            }
        }
        let _ = writer.flush_complete();
        server.handle(&ready_slots);
    }
    let _ = writer.flush();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn restart_policies() {
        assert_eq!(parse_restart("no").unwrap(), Restart::No);
        assert_eq!(
            parse_restart("on-failure:3").unwrap(),
            Restart::OnFailure(Some(3))
        );
        assert_eq!(parse_restart("always").unwrap(), Restart::Always);
        assert!(parse_restart("sometimes").is_err());
        assert!(parse_restart("on-failure:x").is_err());
        assert!(should_restart(Restart::OnFailure(Some(2)), 1, 1, false));
        assert!(!should_restart(Restart::OnFailure(Some(2)), 1, 2, false));
        assert!(!should_restart(Restart::OnFailure(None), 0, 0, false));
        assert!(should_restart(Restart::Always, 0, 9, false));
        assert!(!should_restart(Restart::Always, 0, 0, true));
    }
}
