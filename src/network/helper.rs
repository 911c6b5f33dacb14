//! A network helper process (pasta or slirp4netns) tied to whoever started it: it gets SIGKILL when
//! that process dies (so a killed `run` or monitor leaks no helper), and is stopped and reaped when
//! the handle is dropped.
use std::io::Read;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use nix::poll::{PollFd, PollFlags, PollTimeout, poll};

#[derive(Debug, thiserror::Error)]
pub enum HelperError {
    #[error("failed to start `{program}` for the container's network: {source}")]
    Start {
        program: String,
        #[source]
        source: std::io::Error,
    },
    #[error("`{program}` failed to set up the container's network{detail}")]
    Failed { program: String, detail: String },
    #[error("`{program}` did not set up the container's network within {secs} s{detail}")]
    Timeout {
        program: String,
        secs: u64,
        detail: String,
    },
    #[error("slirp4netns refused to forward {what}: {why}")]
    Forward { what: String, why: String },
    #[error(transparent)]
    PortBusy(#[from] super::PortBusy),
    #[error("--network slirp needs libslirp, which cannot be loaded: {why}")]
    NoLibslirp { why: String },
    #[error("failed to publish {what}: {why}")]
    Publish { what: String, why: String },
    #[error("failed to talk to slirp4netns's API socket `{path}`: {source}")]
    Api {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl HelperError {
    pub fn hint(&self) -> Option<String> {
        if let HelperError::PortBusy(e) = self {
            return e.hint();
        }
        if let HelperError::NoLibslirp { .. } = self {
            return Some(format!(
                "install libslirp ({} from Debian's libslirp0 or Fedora's libslirp), or use --network pasta or slirp4netns",
                crate::sys::slirp::LIBRARY
            ));
        }
        let text = self.to_string();
        if text.contains("/dev/net/tun") {
            return Some(
                "the network helpers need /dev/net/tun readable and writable by you (mode 0666, as most distributions ship it): `sudo chmod 0666 /dev/net/tun`, or use --network none|host".into(),
            );
        }
        if text.contains("Address already in use") || text.contains("address already in use") {
            return Some(
                "another program already listens on that host port: pick another with -p".into(),
            );
        }
        None
    }
}

/// A running helper; dropping it stops it.
#[derive(Debug)]
pub struct Running {
    program: &'static str,
    child: Child,
    /// Wait for it when dropped (see [`Running::abandon`]).
    reap: bool,
    /// Descriptors whose closing tells the helper to exit (slirp4netns's `--exit-fd`).
    _lifeline: Vec<OwnedFd>,
}

impl Running {
    /// Kill it and do not wait: for a process about to exit, whose orphaned helper init reaps.
    /// Its death tears down its tap device, which takes the kernel tens of milliseconds.
    pub fn abandon(&mut self) {
        let _ = self.child.kill();
        self.reap = false;
    }

    /// Kill it without waiting; it is still reaped when dropped (by then it is usually gone).
    pub fn kill(&mut self) {
        let _ = self.child.kill();
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        if self.reap {
            let _ = self.child.wait();
        }
    }
}

/// Start `program` with `args`, its stderr in `log`, keeping `inherit` open across exec, in its own
/// process group (a Ctrl-C meant for the container must not stop its network).
pub fn start(
    program: &'static str,
    args: &[String],
    cwd: Option<&Path>,
    log: &Path,
    inherit: &[std::os::fd::RawFd],
    lifeline: Vec<OwnedFd>,
) -> Result<Running, HelperError> {
    let start_err = |source| HelperError::Start {
        program: program.to_string(),
        source,
    };
    let log_file = std::fs::File::create(log).map_err(start_err)?;
    // Not installed: spawning the bare name fails with "No such file or directory", naming it.
    let exe = crate::helpers::find(program).unwrap_or_else(|| PathBuf::from(program));
    let mut cmd = crate::helpers::command(&exe);
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log_file)
        .process_group(0);
    if let Some(d) = cwd {
        cmd.current_dir(d);
    }
    tracing::debug!(program, ?args, "start network helper");
    let child = crate::sys::process::spawn_tied(&mut cmd, inherit).map_err(start_err)?;
    Ok(Running {
        program,
        child,
        reap: true,
        _lifeline: lifeline,
    })
}

/// The last lines the helper wrote to its log, as `: …` for an error message.
fn log_tail(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.contains("syslog"))
        .collect();
    let tail = lines[lines.len().saturating_sub(3)..].join("; ");
    if tail.is_empty() {
        String::new()
    } else {
        format!(": {tail}")
    }
}

/// A helper started but maybe not ready yet: start it first, wait later, so that it comes up while
/// the container builds its root.
pub struct Starting {
    pub running: Running,
    /// The helper writes here once it is ready.
    pub ready: OwnedFd,
    pub log: PathBuf,
}

impl Starting {
    /// Wait until the helper is ready (at most 10 s).
    pub fn wait(self) -> Result<Running, HelperError> {
        let Starting {
            mut running,
            ready,
            log,
        } = self;
        wait_ready(&mut running, ready, &log, Duration::from_secs(10))?;
        Ok(running)
    }
}

/// Wait until the helper writes to `ready` (its readiness signal) or dies.
fn wait_ready(
    running: &mut Running,
    ready: OwnedFd,
    log: &Path,
    timeout: Duration,
) -> Result<(), HelperError> {
    let program = running.program.to_string();
    let deadline = Instant::now() + timeout;
    let mut file = std::fs::File::from(ready);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(HelperError::Timeout {
                program,
                secs: timeout.as_secs(),
                detail: log_tail(log),
            });
        }
        let ms = u16::try_from(left.as_millis()).unwrap_or(u16::MAX);
        let mut pfd = [PollFd::new(file.as_fd(), PollFlags::POLLIN)];
        match poll(&mut pfd, PollTimeout::from(ms)) {
            Ok(0) | Err(nix::Error::EINTR) => continue,
            Ok(_) => {}
            Err(e) => {
                return Err(HelperError::Start {
                    program,
                    source: e.into(),
                });
            }
        }
        let mut buf = [0u8; 64];
        return match file.read(&mut buf) {
            Ok(n) if n > 0 => Ok(()),
            _ => {
                // EOF: it exited before it was ready.
                let _ = running.child.wait();
                Err(HelperError::Failed {
                    program,
                    detail: log_tail(log),
                })
            }
        };
    }
}
