//! One run of a container's healthcheck (`healthcheck run`, and what the scheduler starts): exec the
//! check command in the container with its timeout, record the result, and apply
//! `--health-on-failure` once the container is unhealthy.
use std::io::Read;
use std::os::fd::{AsFd, OwnedFd};
use std::time::{Duration, Instant};

use jiff::Timestamp;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};

use super::state::{self, HealthLog, Status, Verdict};
use super::{HealthConfig, HealthError, OnFailure};
use crate::engine::container::{Container, ExecOptions, Status as CtrStatus, lifecycle};
use crate::engine::{Ctx, EngineError};

/// At most this much of a check's output is read (the log keeps `--health-max-log-size` of it).
const MAX_OUTPUT: usize = 64 * 1024;

/// How a check went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckReport {
    /// The check command succeeded.
    pub passed: bool,
    /// The container's health after it.
    pub status: Status,
}

/// Run the healthcheck of the running container `key` once and record the result.
pub fn run_check(ctx: &Ctx, key: &str) -> Result<CheckReport, EngineError> {
    let Some(store) = ctx.store_if_exists()? else {
        return Err(EngineError::NoSuchContainer(key.to_string()));
    };
    let c = lifecycle::find(&store, key)?;
    let id = c.record.id.clone();
    let hc = c
        .spec
        .healthcheck
        .clone()
        .ok_or_else(|| HealthError::NoHealthcheck(key.to_string()))?;
    if c.state.status != CtrStatus::Running || c.state.pid <= 0 {
        return Err(HealthError::NotRunning(key.to_string()).into());
    }
    let dir = store.container_dir(&id);
    let path = state::state_path(&dir, &id, &hc);
    drop(store);
    let startup = hc.startup.is_some() && !state::read_state(&path).startup_passed;
    let (test, timeout) = match (&hc.startup, startup) {
        (Some(s), true) => (&s.test, s.timeout),
        _ => (&hc.test, hc.timeout),
    };
    let entry = exec_with_timeout(ctx, &c, command(test), timeout)?;
    // A container that is being stopped or restarted meanwhile fails its check for that reason:
    // not a result (and no second --health-on-failure action).
    if !still_running(ctx, &c)? {
        return Err(HealthError::NotRunning(key.to_string()).into());
    }
    let passed = entry.exit_code == 0;
    tracing::debug!(container = %id, startup, code = entry.exit_code, "healthcheck");
    let in_start_period = state::within(c.state.started_at, hc.start_period);
    let (st, verdict) = state::record(&dir, &path, &hc, startup, entry, in_start_period)?;
    let mut event = crate::engine::events::Event::container("health_status", &c);
    event.health_status = st.status.as_str().to_string();
    event.health_failing_streak = st.failing_streak;
    event.health_log = st.log.last().map(|l| l.output.clone()).unwrap_or_default();
    crate::engine::events::record(ctx, event);
    match verdict {
        Verdict::Continue => {}
        Verdict::Unhealthy => act(ctx, &id, hc.on_failure)?,
        Verdict::StartupFailed => act(ctx, &id, OnFailure::Restart)?,
    }
    Ok(CheckReport {
        passed,
        status: st.status,
    })
}

/// Whether `c` still runs as it did when the check started, and nobody is stopping it.
fn still_running(ctx: &Ctx, c: &Container) -> Result<bool, EngineError> {
    let store = ctx.store()?;
    let now = lifecycle::find(&store, &c.record.id)?;
    Ok(now.state.status == CtrStatus::Running
        && now.state.pid == c.state.pid
        && !now.state.stopped_by_user)
}

/// The words to exec for a Docker `Test`: `CMD-SHELL` runs its string with `/bin/sh -c`.
fn command(test: &[String]) -> Vec<String> {
    match test.split_first() {
        Some((kind, rest)) if kind == "CMD-SHELL" => {
            vec!["/bin/sh".into(), "-c".into(), rest.join(" ")]
        }
        Some((_, rest)) => rest.to_vec(),
        None => vec![],
    }
}

/// Exec `args` in `c` from a child of ours (exec leaves its caller inside the container), reading
/// its output until it ends or `timeout` passes (then it is killed).
fn exec_with_timeout(
    ctx: &Ctx,
    c: &Container,
    args: Vec<String>,
    timeout: Duration,
) -> Result<HealthLog, EngineError> {
    let opts = ExecOptions {
        container: c.record.id.clone(),
        command: args,
        ..ExecOptions::default()
    };
    let mut plan = crate::engine::container::exec::plan_for(ctx, c, c.state.pid, &opts)?;
    plan.die_with_parent = true;
    let (out_r, out_w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
        .map_err(|e| EngineError::io("create a pipe for", "the healthcheck", e.into()))?;
    let devnull =
        std::fs::File::open("/dev/null").map_err(|e| EngineError::io("open", "/dev/null", e))?;
    let start = Timestamp::now();
    let child = match crate::sys::clone::clone_process(0)
        .map_err(|e| EngineError::io("fork for", "the healthcheck", e.into()))?
    {
        crate::sys::clone::Cloned::Child => {
            drop(out_r);
            let code = exec_child(&plan, &devnull, &out_w);
            crate::sys::clone::exit_now(code)
        }
        crate::sys::clone::Cloned::Parent(pid) => pid,
    };
    drop(out_w);
    let (output, timed_out) = read_until_exit(child, out_r, timeout);
    if timed_out {
        let _ = nix::sys::signal::kill(child, nix::sys::signal::Signal::SIGKILL);
    }
    let code = crate::runtime::wait::wait_exit(child);
    let mut output = String::from_utf8_lossy(&output).into_owned();
    let exit_code = if timed_out {
        output.push_str(&format!(
            "healthcheck command exceeded timeout of {}",
            super::go_duration(timeout)
        ));
        -1
    } else {
        code
    };
    Ok(HealthLog {
        start: state::timestamp(start),
        end: state::timestamp(Timestamp::now()),
        exit_code,
        output,
    })
}

/// The forked side: stdin from /dev/null, stdout and stderr into the pipe, then the exec.
fn exec_child(plan: &crate::runtime::ExecPlan, devnull: &std::fs::File, out: &OwnedFd) -> i32 {
    use crate::sys::process::dup_onto;
    if dup_onto(devnull.as_fd(), 0).is_err()
        || dup_onto(out.as_fd(), 1).is_err()
        || dup_onto(out.as_fd(), 2).is_err()
    {
        return 125;
    }
    match crate::runtime::exec::exec(plan) {
        Ok(crate::runtime::ExecOutcome::Exited(code)) => code,
        Ok(crate::runtime::ExecOutcome::Detached) => 0,
        Err(e) => {
            let _ = nix::unistd::write(std::io::stderr(), format!("{e}\n").as_bytes());
            e.exit_code()
        }
    }
}

/// Read the check's output until the child `pid` has exited (and the pipe is drained) or `timeout`
/// passes; returns the output and whether it timed out.
fn read_until_exit(pid: nix::unistd::Pid, out: OwnedFd, timeout: Duration) -> (Vec<u8>, bool) {
    let deadline = Instant::now() + timeout;
    let pidfd = crate::sys::fdpass::pidfd_open(pid.as_raw()).ok();
    let mut out = Some(std::fs::File::from(out));
    let mut output = Vec::new();
    let mut buf = [0u8; 8192];
    let mut exited = false;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return (output, true);
        }
        // The pipe stays open while something the check started in the background holds it: once
        // the child has exited, only what is already there is read.
        let Some(f) = out.as_mut() else {
            if exited || pidfd.is_none() {
                return (output, false);
            }
            let mut p = [PollFd::new(
                pidfd.as_ref().expect("checked").as_fd(),
                PollFlags::POLLIN,
            )];
            let _ = poll(&mut p, poll_timeout(left));
            exited = p[0].revents().is_some_and(|r| !r.is_empty());
            continue;
        };
        let mut fds = vec![PollFd::new(f.as_fd(), PollFlags::POLLIN)];
        if let Some(p) = &pidfd {
            fds.push(PollFd::new(p.as_fd(), PollFlags::POLLIN));
        }
        let wait = if exited {
            PollTimeout::ZERO
        } else {
            poll_timeout(left)
        };
        match poll(&mut fds, wait) {
            Ok(0) if exited => return (output, false),
            Ok(0) | Err(_) => continue,
            Ok(_) => {}
        }
        let readable = fds[0].revents().is_some_and(|r| !r.is_empty());
        exited |= fds
            .get(1)
            .is_some_and(|p| p.revents().is_some_and(|r| !r.is_empty()));
        drop(fds);
        if readable {
            match f.read(&mut buf) {
                Ok(0) | Err(_) => out = None,
                Ok(n) if output.len() < MAX_OUTPUT => output.extend_from_slice(&buf[..n]),
                Ok(_) => {}
            }
        }
    }
}

fn poll_timeout(d: Duration) -> PollTimeout {
    PollTimeout::try_from(d.max(Duration::from_millis(1))).unwrap_or(PollTimeout::MAX)
}

/// `--health-on-failure` (and a failed startup check's restart): done by roost's own `kill`, `stop`
/// and `restart`, which handle the user namespace wherever this runs (from a timer or a monitor).
fn act(ctx: &Ctx, id: &str, action: OnFailure) -> Result<(), EngineError> {
    let args: &[&str] = match action {
        OnFailure::None => return Ok(()),
        OnFailure::Kill => &["kill", "--signal", "KILL"],
        OnFailure::Stop => &["stop"],
        OnFailure::Restart => &["restart"],
    };
    tracing::debug!(container = %id, action = action.as_str(), "unhealthy");
    let exe = std::env::current_exe().map_err(|e| EngineError::io("find", "/proc/self/exe", e))?;
    let devnull =
        std::fs::File::open("/dev/null").map_err(|e| EngineError::io("open", "/dev/null", e))?;
    let mut cmd = std::process::Command::new(exe);
    cmd.arg("--root")
        .arg(&ctx.paths.data)
        .arg("--runroot")
        .arg(&ctx.paths.runtime)
        .args(args)
        .arg(id)
        .stdin(devnull)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    let failed = |e| EngineError::io("run the --health-on-failure action on", id, e);
    if action == OnFailure::Restart {
        // Not waited for: the container's monitor, which may have started this check, ends
        // with the container, and the new one must not be a child of a check's unit.
        crate::sys::process::spawn_detached(&mut cmd, &[]).map_err(failed)?;
        return Ok(());
    }
    let status = cmd.status().map_err(failed)?;
    if !status.success() {
        return Err(crate::engine::container::OpError::HealthOnFailure {
            action: action.as_str(),
            container: id.to_string(),
        }
        .into());
    }
    Ok(())
}

impl HealthConfig {
    /// The interval until the next check, given whether the startup check has passed.
    pub(super) fn next_interval(&self, startup_passed: bool) -> Duration {
        match &self.startup {
            Some(s) if !startup_passed => s.interval,
            _ => self.interval,
        }
    }
}
