//! `wait --condition` (podman-wait(1)): blocks until a container reaches one of the named states, or
//! (`healthy`/`unhealthy`) until its healthcheck reports that status.
#![deny(clippy::print_stdout, clippy::print_stderr)]

use std::str::FromStr;
use std::time::Duration;

use super::{Container, Status, find, health};
use crate::engine::EngineError;
use crate::store::Store;

/// podman's wait conditions (`configured` is podman's name for `created`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitCondition {
    Created,
    Running,
    Paused,
    Stopped,
    Healthy,
    Unhealthy,
}

/// Every condition podman accepts, for the error message.
const ACCEPTED: &str = "configured, created, exited, healthy, initialized, paused, removing, running, stopped, stopping, unhealthy";

#[derive(Debug, thiserror::Error)]
pub enum WaitError {
    #[error("invalid condition `{0}`: use one of {ACCEPTED}")]
    Condition(String),
    #[error(
        "cannot wait for condition `{condition}` on container `{name}`: it has no healthcheck (create it with --health-cmd)"
    )]
    NoHealthcheck {
        name: String,
        condition: &'static str,
    },
    #[error("container `{name}` is {status}: its health cannot become `{condition}` until it runs")]
    NotRunning {
        name: String,
        status: &'static str,
        condition: &'static str,
    },
}

impl FromStr for WaitCondition {
    type Err = WaitError;

    fn from_str(s: &str) -> Result<WaitCondition, WaitError> {
        Ok(match s.trim().to_ascii_lowercase().as_str() {
            "configured" | "created" => WaitCondition::Created,
            // podman's transient states collapse to the ones roost records.
            "initialized" | "running" => WaitCondition::Running,
            "paused" => WaitCondition::Paused,
            "exited" | "stopped" | "stopping" | "removing" => WaitCondition::Stopped,
            "healthy" => WaitCondition::Healthy,
            "unhealthy" => WaitCondition::Unhealthy,
            _ => return Err(WaitError::Condition(s.to_string())),
        })
    }
}

impl WaitCondition {
    fn is_health(self) -> bool {
        matches!(self, WaitCondition::Healthy | WaitCondition::Unhealthy)
    }

    fn as_str(self) -> &'static str {
        match self {
            WaitCondition::Created => "created",
            WaitCondition::Running => "running",
            WaitCondition::Paused => "paused",
            WaitCondition::Stopped => "stopped",
            WaitCondition::Healthy => "healthy",
            WaitCondition::Unhealthy => "unhealthy",
        }
    }

    /// Whether `c` (with health `h`) is in this condition now.
    fn met(self, c: &Container, h: Option<health::HealthStatus>) -> bool {
        let s = c.state.status;
        match self {
            WaitCondition::Created => s == Status::Created,
            WaitCondition::Running => s == Status::Running,
            WaitCondition::Paused => s == Status::Paused,
            // podman's wait for an exit returns once the container does not run: a created
            // container, which never ran (or failed to start), too.
            WaitCondition::Stopped => {
                matches!(s, Status::Stopped | Status::Exited | Status::Created)
            }
            WaitCondition::Healthy => h == Some(health::HealthStatus::Healthy),
            WaitCondition::Unhealthy => h == Some(health::HealthStatus::Unhealthy),
        }
    }
}

/// Waits until container `id` meets one of `conds` (checked every 20 ms, as `wait_stopped` does)
/// and returns it then. A health condition on a container without a healthcheck, or on one that
/// is not running (its health can no longer change), is an error.
pub fn wait_for(
    store: &Store,
    id: &str,
    conds: &[WaitCondition],
) -> Result<Container, EngineError> {
    loop {
        let c = find(store, id)?;
        let health = health::state_of(store, &c).map(|h| h.status);
        if conds.iter().any(|w| w.met(&c, health)) {
            return Ok(c);
        }
        let only_health = conds.iter().all(|w| w.is_health());
        if only_health {
            let condition = conds.first().map_or("healthy", |w| w.as_str());
            if health.is_none() {
                return Err(WaitError::NoHealthcheck {
                    name: c.record.name.clone(),
                    condition,
                }
                .into());
            }
            if matches!(c.state.status, Status::Stopped | Status::Exited) {
                return Err(WaitError::NotRunning {
                    name: c.record.name.clone(),
                    status: c.state.status.as_str(),
                    condition,
                }
                .into());
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conditions_parse_as_podman_names_them() {
        assert_eq!(
            "configured".parse::<WaitCondition>().unwrap(),
            WaitCondition::Created
        );
        assert_eq!(
            "exited".parse::<WaitCondition>().unwrap(),
            WaitCondition::Stopped
        );
        assert_eq!(
            "HEALTHY".parse::<WaitCondition>().unwrap(),
            WaitCondition::Healthy
        );
        assert_eq!(
            "unhealthy".parse::<WaitCondition>().unwrap(),
            WaitCondition::Unhealthy
        );
        let e = "ready".parse::<WaitCondition>().unwrap_err().to_string();
        assert!(e.contains("`ready`") && e.contains("healthy"), "{e}");
    }
}
