//! The health state of a container (podman's `healthcheck.log`): status, failing streak and the last
//! checks' results, in the container's directory (or `DIR/ID-healthcheck.log` with
//! `--health-log-destination DIR`). Updated under a lock and replaced atomically.
use std::path::{Path, PathBuf};
use std::time::Duration;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::{HealthConfig, HealthError};

/// The health status, as podman names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    #[default]
    Starting,
    Healthy,
    Unhealthy,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Starting => "starting",
            Status::Healthy => "healthy",
            Status::Unhealthy => "unhealthy",
        }
    }
}

/// One check's result, as inspect shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct HealthLog {
    pub start: String,
    pub end: String,
    pub exit_code: i32,
    pub output: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct HealthState {
    pub status: Status,
    pub failing_streak: u32,
    pub log: Vec<HealthLog>,
    /// The startup check (if any) has passed: the regular check runs.
    #[serde(default)]
    pub startup_passed: bool,
    #[serde(default)]
    pub startup_successes: u32,
    #[serde(default)]
    pub startup_failures: u32,
}

impl HealthState {
    /// podman's `State.Health` object.
    pub fn inspect_json(&self) -> serde_json::Value {
        serde_json::json!({
            "Status": self.status.as_str(),
            "FailingStreak": self.failing_streak,
            "Log": self.log,
        })
    }
}

/// What a check's result asks for next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Nothing to do.
    Continue,
    /// The container is unhealthy: apply `--health-on-failure`.
    Unhealthy,
    /// The startup check failed `--health-startup-retries` times: restart the container.
    StartupFailed,
}

/// Where the state of container `id` is kept.
pub fn state_path(container_dir: &Path, id: &str, hc: &HealthConfig) -> PathBuf {
    match hc.log_destination.as_str() {
        "local" | "events_logger" => container_dir.join("healthcheck.log"),
        dir => Path::new(dir).join(format!("{id}-healthcheck.log")),
    }
}

/// The state, or the initial one when no check has run yet.
pub fn read_state(path: &Path) -> HealthState {
    std::fs::read(path)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default()
}

/// Held while the state is read and replaced (a scheduled check and `healthcheck run` may overlap).
struct Lock(#[allow(dead_code)] nix::fcntl::Flock<std::fs::File>);

fn lock(container_dir: &Path) -> Result<Lock, HealthError> {
    let path = container_dir.join("healthcheck.lock");
    let f = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| HealthError::io("open", &path, e))?;
    nix::fcntl::Flock::lock(f, nix::fcntl::FlockArg::LockExclusive)
        .map(Lock)
        .map_err(|(_, e)| HealthError::io("lock", &path, e.into()))
}

fn write(path: &Path, st: &HealthState) -> Result<(), HealthError> {
    let data = serde_json::to_vec(st).expect("the health state serializes");
    crate::sys::fs::write_atomic(path, &data, 0o600, crate::sys::fs::Existing::Replace)
        .map_err(|e| HealthError::io("write", path, e))
}

/// A (re)started container starts over: `starting`, no streak; the log is kept.
pub fn reset(container_dir: &Path, path: &Path) -> Result<(), HealthError> {
    let _lock = lock(container_dir)?;
    let old = read_state(path);
    write(
        path,
        &HealthState {
            log: old.log,
            ..HealthState::default()
        },
    )
}

/// Record one check's result (`startup`: of the startup check) and work out the new status.
pub fn record(
    container_dir: &Path,
    path: &Path,
    hc: &HealthConfig,
    startup: bool,
    mut entry: HealthLog,
    in_start_period: bool,
) -> Result<(HealthState, Verdict), HealthError> {
    let _lock = lock(container_dir)?;
    let mut st = read_state(path);
    let ok = entry.exit_code == 0;
    let verdict = if startup {
        startup_result(&mut st, hc, ok)
    } else {
        regular_result(&mut st, hc, ok, in_start_period)
    };
    truncate_output(&mut entry.output, hc.max_log_size);
    st.log.push(entry);
    let max = hc.max_log_count as usize;
    if max > 0 && st.log.len() > max {
        st.log.drain(..st.log.len() - max);
    }
    write(path, &st)?;
    Ok((st, verdict))
}

fn regular_result(
    st: &mut HealthState,
    hc: &HealthConfig,
    ok: bool,
    in_start_period: bool,
) -> Verdict {
    if ok {
        st.failing_streak = 0;
        st.status = Status::Healthy;
        return Verdict::Continue;
    }
    // Failures while the container starts up do not count (--health-start-period).
    if in_start_period && st.status == Status::Starting {
        return Verdict::Continue;
    }
    st.failing_streak += 1;
    if st.failing_streak >= hc.retries {
        st.status = Status::Unhealthy;
        return Verdict::Unhealthy;
    }
    Verdict::Continue
}

fn startup_result(st: &mut HealthState, hc: &HealthConfig, ok: bool) -> Verdict {
    let Some(s) = &hc.startup else {
        return Verdict::Continue;
    };
    if ok {
        st.startup_failures = 0;
        st.startup_successes += 1;
        if st.startup_successes >= s.success.max(1) {
            st.startup_passed = true;
        }
        return Verdict::Continue;
    }
    st.startup_successes = 0;
    st.startup_failures += 1;
    if s.retries > 0 && st.startup_failures >= s.retries {
        st.startup_failures = 0;
        return Verdict::StartupFailed;
    }
    Verdict::Continue
}

/// `--health-max-log-size`: at most that many characters of output (0: all of it).
fn truncate_output(out: &mut String, max: u32) {
    let max = max as usize;
    if max > 0
        && let Some((at, _)) = out.char_indices().nth(max)
    {
        out.truncate(at);
        out.push_str("...");
    }
}

/// The times in the log: RFC 3339 with nanoseconds (podman's `time.RFC3339Nano`).
pub fn timestamp(t: Timestamp) -> String {
    t.to_string()
}

/// Whether `started_at` is less than `period` ago.
pub fn within(started_at: Option<Timestamp>, period: Duration) -> bool {
    let Some(t) = started_at else { return false };
    !period.is_zero()
        && Timestamp::now()
            .duration_since(t)
            .unsigned_abs()
            .lt(&period)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hc(retries: u32) -> HealthConfig {
        super::super::resolve(
            None,
            &super::super::HealthRequest {
                cmd: Some("true".into()),
                retries: Some(retries.to_string()),
                max_log_count: Some("2".into()),
                max_log_size: Some("3".into()),
                ..Default::default()
            },
        )
        .unwrap()
        .unwrap()
    }

    fn entry(code: i32) -> HealthLog {
        HealthLog {
            start: String::new(),
            end: String::new(),
            exit_code: code,
            output: "abcdef".into(),
        }
    }

    #[test]
    fn streaks_statuses_and_trimming() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("healthcheck.log");
        let hc = hc(2);
        let rec =
            |code, in_start| record(dir.path(), &path, &hc, false, entry(code), in_start).unwrap();
        assert_eq!(rec(1, true).0.status, Status::Starting);
        assert_eq!(rec(1, false).0.failing_streak, 1);
        let (st, v) = rec(1, false);
        assert_eq!((st.status, v), (Status::Unhealthy, Verdict::Unhealthy));
        let (st, _) = rec(0, false);
        assert_eq!((st.status, st.failing_streak), (Status::Healthy, 0));
        assert_eq!(st.log.len(), 2);
        assert_eq!(st.log[1].output, "abc...");
        reset(dir.path(), &path).unwrap();
        let st = read_state(&path);
        assert_eq!((st.status, st.log.len()), (Status::Starting, 2));
    }
}
