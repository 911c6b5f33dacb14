//! Who runs a container's healthcheck on schedule. With a systemd user manager: a transient timer
//! per container, as podman makes (`systemd-run --user --on-unit-inactive=INTERVAL … roost
//! healthcheck run ID`), stopped when the container stops. Without one (containers in CI, WSL,
//! minimal servers): the container's monitor, which waits on a timerfd next to the container's
//! output and starts `roost healthcheck run ID` when it expires; the next interval counts from the
//! end of a check, as with the timer's `OnUnitInactiveSec`.
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use nix::sys::time::TimeSpec;
use nix::sys::timerfd::{ClockId, Expiration, TimerFd, TimerFlags, TimerSetTimeFlags};

use super::{HealthConfig, state};
use crate::engine::Ctx;
use crate::engine::container::Container;

/// How the checks of one container are scheduled (kept by its monitor across restarts).
pub struct Schedule {
    id: String,
    hc: HealthConfig,
    state_path: PathBuf,
    container_dir: PathBuf,
    /// `roost --root … --runroot …`.
    roost: Vec<String>,
    how: How,
}

enum How {
    Systemd { runtime_base: PathBuf },
    Monitor(Box<MonitorTimer>),
}

/// The monitor's timer, or the check it started and waits for.
struct MonitorTimer {
    timer: TimerFd,
    running: Option<(Child, OwnedFd)>,
}

impl Schedule {
    /// The schedule of `c`, or None when it has no check that runs on its own (no healthcheck, or
    /// `--health-interval disable` with no startup check): nothing is added to the monitor then.
    pub fn for_container(
        ctx: &Ctx,
        store: &crate::store::Store,
        c: &Container,
    ) -> Option<Schedule> {
        let hc = c.spec.healthcheck.clone()?;
        if hc.interval.is_zero() && hc.startup.is_none() {
            return None;
        }
        let exe = std::env::current_exe().ok()?;
        let roost = vec![
            exe.to_string_lossy().into_owned(),
            "--root".into(),
            ctx.paths.data.to_string_lossy().into_owned(),
            "--runroot".into(),
            ctx.paths.runtime.to_string_lossy().into_owned(),
        ];
        let how = match systemd_user_manager(ctx) {
            Some(runtime_base) => How::Systemd { runtime_base },
            None => How::Monitor(Box::new(MonitorTimer::new()?)),
        };
        let container_dir = store.container_dir(&c.record.id);
        Some(Schedule {
            id: c.record.id.clone(),
            state_path: state::state_path(&container_dir, &c.record.id, &hc),
            container_dir,
            hc,
            roost,
            how,
        })
    }

    /// The container (re)started: its health starts over and the first check is due one interval
    /// from now.
    pub fn started(&mut self) {
        if let Err(e) = state::reset(&self.container_dir, &self.state_path) {
            tracing::warn!(container = %self.id, "healthcheck: {e}");
        }
        let interval = self.hc.next_interval(false);
        if let How::Systemd { runtime_base } = &self.how {
            match start_timer(runtime_base, &self.id, interval, &self.roost) {
                Ok(()) => return,
                Err(why) => {
                    tracing::warn!(container = %self.id, "healthcheck timer: {why}; the monitor runs the checks");
                    match MonitorTimer::new() {
                        Some(t) => self.how = How::Monitor(Box::new(t)),
                        None => return,
                    }
                }
            }
        }
        if let How::Monitor(t) = &mut self.how
            && t.running.is_none()
        {
            t.arm(interval);
        }
    }

    /// The container ended: its timer goes (a check under way finishes on its own).
    pub fn stopped(&mut self) {
        match &mut self.how {
            How::Systemd { runtime_base } => stop_timer(runtime_base, &self.id),
            How::Monitor(t) => t.arm(Duration::ZERO),
        }
    }

    /// What the monitor polls: the timer, or the check under way (None with a systemd timer).
    pub fn fd(&self) -> Option<BorrowedFd<'_>> {
        match &self.how {
            How::Systemd { .. } => None,
            How::Monitor(t) => Some(match &t.running {
                Some((_, pidfd)) => pidfd.as_fd(),
                None => t.timer.as_fd(),
            }),
        }
    }

    /// [`fd`](Self::fd) is readable: the timer expired (start a check) or the check ended (the next
    /// one is due an interval later).
    pub fn ready(&mut self) {
        let How::Monitor(t) = &mut self.how else {
            return;
        };
        match t.running.take() {
            Some((mut child, pidfd)) => {
                let _ = child.wait();
                drop(pidfd);
                let passed = state::read_state(&self.state_path).startup_passed;
                t.arm(self.hc.next_interval(passed));
            }
            None => {
                let _ = t.timer.wait();
                match spawn_check(&self.roost, &self.id) {
                    Ok(running) => t.running = Some(running),
                    Err(e) => {
                        tracing::warn!(container = %self.id, "healthcheck: {e}");
                        t.arm(self.hc.interval);
                    }
                }
            }
        }
    }
}

impl MonitorTimer {
    fn new() -> Option<MonitorTimer> {
        let timer = TimerFd::new(ClockId::CLOCK_MONOTONIC, TimerFlags::TFD_CLOEXEC).ok()?;
        Some(MonitorTimer {
            timer,
            running: None,
        })
    }

    /// Expire once after `after` (zero: disarmed).
    fn arm(&mut self, after: Duration) {
        if after.is_zero() {
            let _ = self.timer.unset();
            return;
        }
        let _ = self.timer.set(
            Expiration::OneShot(TimeSpec::from_duration(after)),
            TimerSetTimeFlags::empty(),
        );
    }
}

/// `roost healthcheck run ID` as a child, with a pidfd that becomes readable when it ends.
fn spawn_check(roost: &[String], id: &str) -> std::io::Result<(Child, OwnedFd)> {
    let child = Command::new(&roost[0])
        .args(&roost[1..])
        .args(["healthcheck", "run", id])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    let pidfd = crate::sys::fdpass::pidfd_open(child.id() as i32)?;
    Ok((child, pidfd))
}

/// The user's runtime directory, when a systemd user manager listens there and `systemd-run` is
/// installed.
fn systemd_user_manager(ctx: &Ctx) -> Option<PathBuf> {
    use std::os::unix::fs::FileTypeExt;
    let base = &ctx.paths.runtime_base;
    let private = base.join("systemd/private");
    let socket = std::fs::metadata(&private).is_ok_and(|m| m.file_type().is_socket());
    (socket && crate::helpers::find("systemd-run").is_some()).then(|| base.clone())
}

fn unit_name(id: &str) -> String {
    format!("roost-health-{id}")
}

fn systemctl(runtime_base: &PathBuf, args: &[&str]) -> std::io::Result<std::process::Output> {
    Command::new("systemctl")
        .arg("--user")
        .args(args)
        .env("XDG_RUNTIME_DIR", runtime_base)
        .stdin(Stdio::null())
        .output()
}

/// podman's transient timer: `systemd-run --user --unit roost-health-ID --on-unit-inactive=INTERVAL
/// --timer-property=AccuracySec=1s roost healthcheck run ID` (with `--on-active` for the first
/// check, and `--collect` so that a failed check leaves no unit behind). Should the service of a
/// check that restarts the container still be there, this fails and the monitor runs the checks.
fn start_timer(
    runtime_base: &PathBuf,
    id: &str,
    interval: Duration,
    roost: &[String],
) -> Result<(), String> {
    // One left by a monitor that did not end normally.
    stop_timer(runtime_base, id);
    let secs = format!("{}ms", interval.as_millis());
    let out = Command::new("systemd-run")
        .args(["--user", "--quiet", "--collect", "--unit"])
        .arg(unit_name(id))
        .arg(format!("--on-active={secs}"))
        .arg(format!("--on-unit-inactive={secs}"))
        .arg("--timer-property=AccuracySec=1s")
        // A monitor that `--health-on-failure=restart` starts outlives the check's service.
        .arg("--property=KillMode=process")
        .args(roost)
        .args(["healthcheck", "run", id])
        .env("XDG_RUNTIME_DIR", runtime_base)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("failed to run systemd-run: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "systemd-run failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

fn stop_timer(runtime_base: &PathBuf, id: &str) {
    let unit = unit_name(id);
    // Not the service: a check under way may be the one restarting the container.
    let _ = systemctl(runtime_base, &["stop", &format!("{unit}.timer")]);
}
