//! Detached containers: a small per-container monitor process (`roost __monitor ID`, no daemon) owns the
//! container's stdio, writes its log, records its exit, applies the restart policy and cleans up. The CLI
//! that started it waits only until the container runs.
use std::io::{Read, Write};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};

use jiff::Timestamp;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};

use super::attach::{STREAM_STDERR, STREAM_STDOUT, Server, Slot};
use super::journal_log::{Driver, JournalLog};
use super::logs::{Discard, K8sFile, LogFile, LogWriter, Records};
use super::sdnotify::{NotifySocket, SdNotifyMode};
use super::{Container, State, Status, lifecycle, plan};
use crate::engine::events::{self, Event};
use crate::engine::{Ctx, EngineError};
use crate::runtime::Failure;
use crate::runtime::message::{decode, encode};

/// What the monitor tells the command that started it, once: the container runs, or why not.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
enum StartReport {
    Started,
    Failed(Failure),
}

/// Send `report` on the ready pipe, if it has not been used yet (later starts, by the restart
/// policy, have nobody waiting).
fn report_start(ready: &mut Option<std::fs::File>, report: &StartReport) {
    if let Some(mut r) = ready.take() {
        let _ = r.write_all(&encode(report));
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
    let extra: &[&str] = if wait_attach { &["--wait-attach"] } else { &[] };
    spawn_monitor_with(ctx, c, extra)
}

/// A foreground `run` whose container ended and that its restart policy starts again: a monitor
/// takes it over in the background (as podman's cleanup process does), counting from one restart.
/// The caller does not wait for it: `run` ends with the container's first exit code.
pub fn hand_over_restart(ctx: &Ctx, c: &Container) -> Result<(), EngineError> {
    spawn_monitor_with(ctx, c, &["--restarts", "1"]).map(drop)
}

/// Start `__monitor` for `c` with `extra` arguments.
fn spawn_monitor_with(
    ctx: &Ctx,
    c: &Container,
    extra: &[&str],
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
        .args(["--events-backend", ctx.events.backend.as_str()]);
    // A restart is a start too: it gets the same default mounts and runtime flags.
    if let Some(f) = &ctx.default_mounts_file {
        cmd.arg("--default-mounts-file").arg(f);
    }
    for f in &ctx.runtime_flags {
        cmd.arg(format!("--runtime-flag={f}"));
    }
    cmd.args([
        "__monitor",
        &c.record.id,
        "--ready-fd",
        &ready_w.as_raw_fd().to_string(),
    ])
    .args(extra);
    // `--sdnotify`: the monitor is told the socket; neither it nor its children inherit it.
    cmd.env_remove("NOTIFY_SOCKET");
    if let Some(sock) = &ctx.notify_socket
        && c.spec.sdnotify != SdNotifyMode::Ignore
    {
        cmd.arg("--notify-socket").arg(&sock.0);
    }
    cmd.stdin(
        devnull
            .try_clone()
            .map_err(|e| EngineError::io("open", "/dev/null", e))?,
    );
    // `--log-driver passthrough`: the container's stdout and stderr are ours (a unit's journal
    // stream), through the monitor.
    if Driver::of(c) != Driver::Passthrough {
        cmd.stdout(
            devnull
                .try_clone()
                .map_err(|e| EngineError::io("open", "/dev/null", e))?,
        )
        .stderr(devnull);
    }
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
        let mut report = Vec::new();
        let _ = self.ready.read_to_end(&mut report);
        let result = Self::outcome(&report);
        if result.is_err()
            && let Some((ctx, id)) = &self.remove_on_failure
        {
            lifecycle::discard_unstarted(ctx, id);
        }
        result
    }

    fn outcome(report: &[u8]) -> Result<(), EngineError> {
        if report.is_empty() {
            return Err(super::OpError::MonitorExited.into());
        }
        match decode(report) {
            Some(StartReport::Started) => Ok(()),
            Some(StartReport::Failed(f)) => Err(EngineError::StartFailed(f)),
            None => Err(EngineError::StartFailed(Failure {
                code: 125,
                message: String::from_utf8_lossy(report).into_owned(),
                hint: None,
            })),
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

/// How `__monitor` was asked to run.
#[derive(Debug, Default)]
pub struct MonitorOptions {
    /// Wait briefly for a first attach client (`start -a`).
    pub wait_attach: bool,
    /// `--sdnotify`'s socket.
    pub notify: Option<NotifySocket>,
    /// Restarts already made (a foreground `run` handing its container over): the first start
    /// here is a restart, after the policy's pause.
    pub restarts: u32,
}

/// The monitor: run the container (again, per the restart policy) until it is done.
pub fn monitor(
    ctx: &Ctx,
    id: &str,
    ready: OwnedFd,
    opts: MonitorOptions,
) -> Result<i32, EngineError> {
    let MonitorOptions {
        wait_attach,
        mut notify,
        mut restarts,
    } = opts;
    let mut ready = Some(std::fs::File::from(ready));
    // While we run, later roost commands join this user namespace (so they can signal the container).
    crate::userns::register_holder(&ctx.paths.runtime);
    let mut store = ctx.store()?;
    let c = lifecycle::find(&store, id)?;
    let mut writer = open_log(&store, &c)?;
    let mut server = Server::bind(ctx, id).inspect_err(|e| report_failure(&mut ready, e))?;
    if wait_attach {
        server.wait_first_client(std::time::Duration::from_secs(5));
    }
    // Only a container with a healthcheck has one: nothing else is added to the loop.
    let mut health = super::health::Schedule::for_container(ctx, &store, &c);
    if restarts > 0 {
        restart_pause();
    }
    // `--sdnotify=container`: the socket the container gets, at each (re)start.
    let container_socket = notify
        .as_ref()
        .filter(|_| c.spec.sdnotify == SdNotifyMode::Container)
        .and_then(NotifySocket::path);
    loop {
        let started = start_run(ctx, &mut store, id, &mut ready, container_socket.as_deref())?;
        let (run, streams) = match started {
            Started::Running(run, streams) => (run, streams),
            Started::Failed(code) => return Ok(code),
        };
        record_running(
            &mut store,
            id,
            &run,
            restarts,
            super::start_ulimits(ctx, &c),
        )?;
        let mut started = vec![Event::container("init", &c), Event::container("start", &c)];
        if restarts > 0 {
            started.insert(0, Event::container("restart", &c));
        }
        events::record_all(ctx, &started);
        // Before `start` returns: a generated unit's `PIDFile=` names it (as conmon's pid file).
        write_pid_file(ctx, id);
        // Before `run -d` returns: its timer exists once the container runs, as with podman.
        if let Some(h) = health.as_mut() {
            h.started();
        }
        // Before `run -d` returns (systemd's main process until then): the first start only.
        if let Some(sock) = notify.take() {
            super::sdnotify::announce(&sock, c.spec.sdnotify, std::process::id());
        }
        report_start(&mut ready, &StartReport::Started);
        let sources = connect_clients(&mut server, streams, c.spec.interactive, run.pid);
        // The container may run for months: wait holding only what copying its output needs.
        drop(store);
        pump(&mut writer, &mut server, sources, health.as_mut());
        if let Some(h) = health.as_mut() {
            h.stopped();
        }
        store = ctx.store()?;
        let code = finish_run(ctx, &mut store, &c, *run)?;
        // The exit is recorded: attached clients read it from the store once we close them.
        server.close_clients(std::time::Duration::from_secs(2));
        // The pause before a restart; a `stop` (or `pod stop`) meanwhile keeps it stopped.
        let again = restart_wanted(&store, id, &c, code, restarts)? && {
            restart_pause();
            !stopped_by_user(&store, id)?
        };
        if !again {
            let stopped = stopped_by_user(&store, id)?;
            remove_if_asked(ctx, &mut store, id, &c)?;
            drop(store);
            // `kube play --service-container` (engine::pod::service): the service container ends
            // with what its pods' containers did, and a member's end may end the service.
            if c.spec.service.is_some() {
                return Ok(crate::engine::pod::service::exit_code(ctx, &c));
            }
            if c.spec.pod.is_some() {
                crate::engine::pod::service::member_ended(ctx, &c);
            }
            // The monitor is the main process of a Quadlet unit: a container that `stop` or
            // `rm -f` ended is a clean end of it (systemd would mark the unit failed otherwise),
            // one that failed on its own is not (so `Restart=on-failure` restarts it).
            return Ok(if stopped { 0 } else { code });
        }
        restarts += 1;
    }
}

/// The pause before a restart: short, as podman restarts at once, but a window for `stop`.
fn restart_pause() {
    std::thread::sleep(std::time::Duration::from_millis(100));
}

/// The monitor's pid, for a systemd unit that starts the container (best effort: nothing else
/// reads it).
fn write_pid_file(ctx: &Ctx, id: &str) {
    let path = super::runtime_dir(ctx, id).join(super::MONITOR_PID_FILE);
    if let Err(e) = std::fs::write(&path, format!("{}\n", std::process::id())) {
        tracing::debug!(path = %path.display(), error = %e, "write the monitor's pid file");
    }
}

/// The container's log: its `ctr.log` (or `--log-opt path=`), the journal, or nothing with
/// `--log-driver none` or `passthrough`.
pub fn open_records(
    store: &crate::store::Store,
    c: &Container,
) -> Result<Box<dyn Records>, EngineError> {
    Ok(match Driver::of(c) {
        Driver::K8sFile => {
            let log = container_log_path(store, c);
            let f = LogFile::open(&log, c.spec.log_opts.max_size)
                .map_err(|e| EngineError::io("open", &log, e))?;
            Box::new(K8sFile(f))
        }
        Driver::Journald => Box::new(
            JournalLog::open(c)
                .map_err(|e| EngineError::io("connect to", crate::sys::journal::SOCKET, e))?,
        ),
        Driver::None | Driver::Passthrough => Box::new(Discard),
    })
}

fn open_log(
    store: &crate::store::Store,
    c: &Container,
) -> Result<LogWriter<Box<dyn Records>>, EngineError> {
    Ok(LogWriter::with(open_records(store, c)?))
}

fn report_failure(ready: &mut Option<std::fs::File>, e: &EngineError) {
    report_start(ready, &StartReport::Failed(e.report()));
}

/// One run of the container, while it runs: what the monitor holds for it.
struct Run {
    pid: nix::unistd::Pid,
    /// Stops the network helper when dropped.
    net: crate::engine::network::NetworkAttachment,
    /// A fuse-overlayfs root, unmounted when dropped.
    fuse: Option<crate::engine::storage::fuse::FuseMount>,
    /// Its cgroup, when it asked for one.
    cgroup: Option<crate::runtime::cgroup::Made>,
    /// The server of its /proc view (a thread: it ends before any restart clones again).
    proc_view: Option<crate::runtime::procfs::Server>,
    /// Its root mount, held open (see [`hold_root`]).
    root: Option<std::fs::File>,
}

/// Hold the container's root mount (`/proc/PID/root`, `O_PATH`) while it runs. The last reference
/// to an overlay's mount flushes its upper file system (`syncfs`: every dirty page of the file
/// system the store is on, often tens of milliseconds); without this hold the container's own exit
/// does that, and `rm -f` and `pod rm -f` wait for it. For a container being removed the monitor
/// lets go only once the exit is recorded; otherwise before (a `start` right after `stop` must not
/// mount the upper dir while the old mount still flushes it). Best effort: None when the root
/// cannot be opened (the container has already ended).
fn hold_root(pid: nix::unistd::Pid) -> Option<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC)
        .open(format!("/proc/{}/root", pid.as_raw()))
        .inspect_err(|e| tracing::debug!(error = %e, "hold the container's root"))
        .ok()
}

/// Our ends of the running container's stdio.
struct Streams {
    /// The pty master, with `-t`.
    terminal: Option<OwnedFd>,
    /// The read ends of its stdout and stderr pipes (`None` with `--log-driver passthrough`).
    stdout: Option<OwnedFd>,
    stderr: Option<OwnedFd>,
    /// The write end of its stdin pipe, with `-i`.
    stdin: Option<OwnedFd>,
}

/// How starting the container went.
enum Started {
    Running(Box<Run>, Streams),
    /// It did not start (recorded and reported); the monitor ends with this status.
    Failed(i32),
}

/// The container's stdio for one run: pipes for its output (and with `-i`, its input); with
/// `--log-driver passthrough`, its stdout and stderr are the monitor's own.
struct Stdio {
    out: Option<((OwnedFd, OwnedFd), (OwnedFd, OwnedFd))>,
    stdin: Option<OwnedFd>,
    devnull: std::fs::File,
}

impl Stdio {
    /// Make the pipes our own stdio, for the container to inherit.
    fn redirect(interactive: bool, passthrough: bool) -> Result<Stdio, EngineError> {
        let pipe = |what: &'static str| {
            nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
                .map_err(|e| EngineError::io("create a pipe for", what, e.into()))
        };
        let devnull = std::fs::File::open("/dev/null")
            .map_err(|e| EngineError::io("open", "/dev/null", e))?;
        // With -i the container reads a pipe that attach clients feed; otherwise /dev/null.
        let stdin = if interactive {
            let (in_r, in_w) = pipe("stdin")?;
            redirect(&in_r, 0)?;
            Some(in_w)
        } else {
            redirect(&devnull, 0)?;
            None
        };
        let out = if passthrough {
            None
        } else {
            let out = pipe("logs")?;
            let err = pipe("logs")?;
            redirect(&out.1, 1)?;
            redirect(&err.1, 2)?;
            Some((out, err))
        };
        Ok(Stdio {
            out,
            stdin,
            devnull,
        })
    }

    /// Back to /dev/null once the container has its copies; only the read ends stay ours.
    #[allow(clippy::type_complexity)]
    fn restore(self) -> Result<(Option<OwnedFd>, Option<OwnedFd>, Option<OwnedFd>), EngineError> {
        redirect(&self.devnull, 0)?;
        let Some((out, err)) = self.out else {
            return Ok((None, None, self.stdin));
        };
        for fd in 1..3 {
            redirect(&self.devnull, fd)?;
        }
        Ok((Some(out.0), Some(err.0), self.stdin))
    }
}

/// Plan the container, mount its root, start its network and spawn it, with pipes for its stdio.
fn start_run(
    ctx: &Ctx,
    store: &mut crate::store::Store,
    id: &str,
    ready: &mut Option<std::fs::File>,
    notify_socket: Option<&std::path::Path>,
) -> Result<Started, EngineError> {
    let c = lifecycle::find(store, id)?;
    let stdio = Stdio::redirect(c.spec.interactive, Driver::of(&c) == Driver::Passthrough)?;
    let mut plan = plan(ctx, store, &c).inspect_err(|e| report_failure(ready, e))?;
    if let Some(sock) = notify_socket {
        super::sdnotify::pass_into(&mut plan, sock);
    }
    // With -t the container's stdio is a pty whose master we keep (podman's conmon does too).
    plan.process.terminal = c.spec.tty;
    let mut net = super::network_settings::attachment(ctx, &c);
    // fuse-overlayfs runs in the monitor's mount namespace, mounted before the clone copies it.
    let (fuse, spawned) = match super::rootfs::mount(ctx, &c, &plan.rootfs) {
        Ok(fuse) => (
            fuse,
            crate::runtime::spawn_with(&plan, &mut net).map_err(|e| Failure::from(&e)),
        ),
        Err(e) => (None, Err(e.report())),
    };
    drop(plan);
    let (stdout, stderr, stdin) = stdio.restore()?;
    match spawned {
        Ok(s) => {
            let streams = Streams {
                terminal: s.terminal,
                stdout,
                stderr,
                stdin,
            };
            Ok(Started::Running(
                Box::new(Run {
                    pid: s.pid,
                    net,
                    fuse,
                    cgroup: s.cgroup,
                    proc_view: s.proc_view,
                    root: hold_root(s.pid),
                }),
                streams,
            ))
        }
        Err(failure) => {
            drop(fuse);
            set_state(store, id, |st| {
                st.error = failure.message.clone();
                st.exit_code = failure.code;
            })?;
            let code = failure.code;
            report_start(ready, &StartReport::Failed(failure));
            Ok(Started::Failed(code))
        }
    }
}

/// The container runs: record it (and that its volumes are populated now).
fn record_running(
    store: &mut crate::store::Store,
    id: &str,
    run: &Run,
    restarts: u32,
    rlimits: Vec<super::process::Ulimit>,
) -> Result<(), EngineError> {
    set_state(store, id, |st| {
        st.rlimits = rlimits;
        st.status = Status::Running;
        st.pid = run.pid.as_raw();
        st.monitor_pid = std::process::id() as i32;
        st.started_at = Some(Timestamp::now());
        st.finished_at = None;
        st.exit_code = 0;
        st.error.clear();
        st.stopped_by_user = false;
        st.removing = false;
        st.stopping = false;
        st.restart_count = restarts;
        st.cgroup = run.cgroup.as_ref().map(|m| m.container.clone());
        st.oom_killed = false;
        st.paused = false;
    })?;
    let c = lifecycle::find(store, id)?;
    super::volumes::mark_populated(store, &c)
}

/// Give the attach server the container's terminal and input; returns what to copy its output
/// from (each with whether it is stderr).
fn connect_clients(
    server: &mut Server,
    s: Streams,
    interactive: bool,
    pid: nix::unistd::Pid,
) -> Vec<(OwnedFd, bool)> {
    let mut sources: Vec<(OwnedFd, bool)> = s.stdout.into_iter().map(|f| (f, false)).collect();
    sources.extend(s.stderr.map(|f| (f, true)));
    if sources.is_empty() && s.terminal.is_none() {
        // `--log-driver passthrough`: no output comes through us. The container's pidfd stands in:
        // it turns readable when the container exits, and reading it fails, which ends the copy as
        // an end of output would.
        match crate::sys::fdpass::pidfd_open(pid.as_raw()) {
            Ok(fd) => sources.push((fd, false)),
            Err(e) => tracing::debug!(error = %e, "pidfd of the container"),
        }
    }
    if let Some(master) = s.terminal {
        if let Ok(copy) = crate::sys::process::dup_cloexec(master.as_fd()) {
            server.set_terminal(copy);
        }
        if interactive && let Ok(copy) = crate::sys::process::dup_cloexec(master.as_fd()) {
            server.set_stdin(copy);
        }
        sources.push((master, false));
    } else if let Some(w) = s.stdin {
        server.set_stdin(w);
    }
    sources
}

/// Once its output has ended: wait for the container, stop its network, record its exit.
fn finish_run(
    ctx: &Ctx,
    store: &mut crate::store::Store,
    c: &Container,
    run: Run,
) -> Result<i32, EngineError> {
    let id = c.record.id.as_str();
    let Run {
        pid,
        mut net,
        fuse,
        cgroup,
        proc_view,
        root,
    } = run;
    let code = crate::runtime::wait::wait_exit(pid);
    drop(proc_view);
    // The helper goes before the exit is recorded: whoever waits for that (`stop`, `rm -f`) may
    // publish the same host ports next. One without host ports is only killed here, and reaped
    // once the exit is recorded.
    net.release();
    // Before the exit is recorded: whoever waits for it finds the OOM flag and no cgroup left.
    super::resources::ended(store, id, cgroup.as_ref())?;
    let removing = store
        .container(id)?
        .is_none_or(|r| State::from_json(&r.state).removing);
    let mut root = root;
    if !removing {
        drop(root.take());
    }
    // Logged before the exit is recorded, so that whoever waits for that (`stop`) logs after.
    died_events(ctx, c, code);
    let code = lifecycle::record_exit(store, id, code);
    // Being removed: the root's flush happens here, after the exit is recorded.
    drop(root);
    net.stop_and_wait();
    drop(fuse);
    code
}

/// `died` (with the exit code) and `cleanup`, in one write.
pub(super) fn died_events(ctx: &Ctx, c: &Container, code: i32) {
    events::record_all(
        ctx,
        &[
            Event::container("died", c).with_exit_code(code),
            Event::container("cleanup", c),
        ],
    );
}

/// Whether the restart policy starts the container again after it ended with `code`.
fn restart_wanted(
    store: &crate::store::Store,
    id: &str,
    c: &Container,
    code: i32,
    restarts: u32,
) -> Result<bool, EngineError> {
    let st = store
        .container(id)?
        .map(|r| State::from_json(&r.state))
        .unwrap_or_default();
    Ok(c.spec
        .restart
        .should_restart(code, restarts, st.stopped_by_user))
}

/// Whether `stop` or `rm -f` ended the container (true too when `rm -f` already removed it).
fn stopped_by_user(store: &crate::store::Store, id: &str) -> Result<bool, EngineError> {
    Ok(store
        .container(id)?
        .is_none_or(|r| State::from_json(&r.state).stopped_by_user))
}

/// `--rm`: remove the container and its anonymous volumes once it is done.
fn remove_if_asked(
    ctx: &Ctx,
    store: &mut crate::store::Store,
    id: &str,
    c: &Container,
) -> Result<(), EngineError> {
    if c.spec.remove {
        // `rm -f` may have removed it already.
        let c = match lifecycle::find(store, id) {
            Ok(c) => c,
            Err(EngineError::NoSuchContainer(_)) => return Ok(()),
            Err(e) => return Err(e),
        };
        lifecycle::remove_one(ctx, store, &c, true)?;
        let gone = super::volumes::remove_anonymous_volumes(store, &c)?;
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
/// meanwhile accept clients and pass their input to the container's stdin, and run the healthcheck
/// on its schedule.
fn pump(
    writer: &mut LogWriter<impl Records>,
    server: &mut Server,
    sources: Vec<(OwnedFd, bool)>,
    mut health: Option<&mut super::health::Schedule>,
) {
    let mut open: Vec<Option<(std::fs::File, bool)>> = sources
        .into_iter()
        .map(|(fd, stderr)| Some((std::fs::File::from(fd), stderr)))
        .collect();
    let mut buf = vec![0u8; 32 * 1024];
    let mut idle = Idle::default();
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
        let health_at = pfds.len();
        if let Some(fd) = health.as_deref().and_then(super::health::Schedule::fd) {
            pfds.push(PollFd::new(fd, PollFlags::POLLIN));
        }
        if !idle.poll(&mut pfds) {
            continue;
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
            .zip(&pfds[idx.len()..health_at])
            .filter(|(_, p)| is_ready(p))
            .map(|(s, _)| *s)
            .collect();
        let health_ready = pfds[health_at..].iter().any(is_ready);
        drop(pfds);
        if health_ready && let Some(h) = health.as_deref_mut() {
            h.ready();
        }
        copy_output(&mut open, &ready, &mut buf, writer, server);
        let _ = writer.flush_complete();
        server.handle(&ready_slots);
    }
    let _ = writer.flush();
}

/// The monitor's quiet times: shrunk since the last output, and when, so that a container printing
/// every second or so does not have the monitor reread its memory map each time. Code that runs
/// without output (the built-in network's thread, a connection to a published port) faults pages
/// back in while the monitor sleeps, so a shrunk monitor shrinks again now and then: 10 s later,
/// then twice as long each time, at most every minute. (Measuring first would cost more: the code
/// that reads the resident size stays resident.)
struct Idle {
    shrunk: bool,
    last_shrink: Option<std::time::Instant>,
    /// How long a shrunk monitor sleeps before it shrinks again.
    recheck: std::time::Duration,
}

const RECHECK_FIRST: std::time::Duration = std::time::Duration::from_secs(10);
const RECHECK_MAX: std::time::Duration = std::time::Duration::from_secs(60);

impl Default for Idle {
    fn default() -> Self {
        Idle {
            shrunk: false,
            last_shrink: None,
            recheck: RECHECK_FIRST,
        }
    }
}

impl Idle {
    /// Wait for one of `pfds`; when they stay quiet for IDLE_MS (and SHRINK_EVERY after the
    /// previous time), shrink first and then wait on. Whether one of them is ready.
    fn poll(&mut self, pfds: &mut [PollFd]) -> bool {
        loop {
            let polled = poll(pfds, self.timeout());
            match polled {
                Ok(0) => self.quiet(),
                Err(_) => return false,
                Ok(_) => {
                    self.shrunk = false;
                    self.recheck = RECHECK_FIRST;
                    return true;
                }
            }
        }
    }

    fn timeout(&self) -> PollTimeout {
        let ms = if self.shrunk {
            self.recheck.as_millis()
        } else {
            let wait = self
                .last_shrink
                .map_or(0, |t| SHRINK_EVERY.saturating_sub(t.elapsed()).as_millis());
            wait.max(u128::from(IDLE_MS))
        };
        PollTimeout::from(u16::try_from(ms).unwrap_or(u16::MAX))
    }

    /// Nothing happened for the whole timeout: shrink (again, later each time).
    fn quiet(&mut self) {
        if self.shrunk {
            self.recheck = (self.recheck * 2).min(RECHECK_MAX);
        }
        shrink();
        self.shrunk = true;
        self.last_shrink = Some(std::time::Instant::now());
    }
}

/// Copy what the `ready` sources have into the log and to the attached clients; a source that
/// ended is closed (`None`).
fn copy_output(
    open: &mut [Option<(std::fs::File, bool)>],
    ready: &[usize],
    buf: &mut [u8],
    writer: &mut LogWriter<impl Records>,
    server: &mut Server,
) {
    for &i in ready {
        let Some((f, stderr)) = open[i].as_mut() else {
            continue;
        };
        let stderr = *stderr;
        let n = match f.read(buf) {
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
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_reports() {
        assert!(PendingStart::outcome(&encode(&StartReport::Started)).is_ok());
        let failure = Failure {
            code: 127,
            message: "not found".into(),
            hint: Some("check the name".into()),
        };
        let e = PendingStart::outcome(&encode(&StartReport::Failed(failure))).unwrap_err();
        assert_eq!(e.exit_code(), 127);
        assert_eq!(e.to_string(), "not found");
        assert_eq!(e.hint().as_deref(), Some("check the name"));
        let e = PendingStart::outcome(b"").unwrap_err();
        assert!(
            e.to_string()
                .contains("exited before the container started")
        );
    }
}
