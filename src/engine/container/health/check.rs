//! One run of a container's healthcheck (`healthcheck run`, and what the scheduler starts): exec the
//! check command in the container with its timeout, record the result, and apply
//! `--health-on-failure` once the container is unhealthy.
use std::time::Duration;

use jiff::Timestamp;

use super::state::{self, HealthLog, Status, Verdict};
use super::{HealthConfig, HealthError, OnFailure};
use crate::engine::container::{Container, Status as CtrStatus, capture, lifecycle};
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

/// Exec the check in `c`, reading its output until it ends or `timeout` passes (then it is killed).
fn exec_with_timeout(
    ctx: &Ctx,
    c: &Container,
    args: Vec<String>,
    timeout: Duration,
) -> Result<HealthLog, EngineError> {
    let start = Timestamp::now();
    let run = capture::capture(ctx, c, args, timeout, MAX_OUTPUT)?;
    let mut output = String::from_utf8_lossy(&run.output).into_owned();
    let exit_code = if run.timed_out {
        output.push_str(&format!(
            "healthcheck command exceeded timeout of {}",
            super::go_duration(timeout)
        ));
        -1
    } else {
        run.exit_code
    };
    Ok(HealthLog {
        start: state::timestamp(start),
        end: state::timestamp(Timestamp::now()),
        exit_code,
        output,
    })
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
