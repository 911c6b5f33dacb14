//! Run a command in a running container and read what it prints (a healthcheck, `top`'s ps(1)):
//! exec from a child of ours, since exec leaves its caller inside the container.
use std::io::Read;
use std::os::fd::{AsFd, OwnedFd};
use std::time::{Duration, Instant};

use nix::poll::{PollFd, PollFlags, PollTimeout, poll};

use super::{Container, ExecOptions};
use crate::engine::{Ctx, EngineError};

/// How a captured command went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Captured {
    /// Its stdout and stderr, interleaved, at most the `max` asked for.
    pub output: Vec<u8>,
    /// Its exit status (meaningless when it timed out).
    pub exit_code: i32,
    /// It ran past the timeout and was killed.
    pub timed_out: bool,
}

/// Exec `args` in `c` as the container's user, stdin from /dev/null, reading at most `max` bytes of
/// its output until it ends or `timeout` passes (then it is killed).
pub fn capture(
    ctx: &Ctx,
    c: &Container,
    args: Vec<String>,
    timeout: Duration,
    max: usize,
) -> Result<Captured, EngineError> {
    let opts = ExecOptions {
        container: c.record.id.clone(),
        command: args,
        ..ExecOptions::default()
    };
    let mut plan = super::exec::plan_for(ctx, c, c.state.pid, &opts)?;
    plan.die_with_parent = true;
    let what = format!("a command in container {}", c.record.name);
    let (out_r, out_w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
        .map_err(|e| EngineError::io("create a pipe for", &what, e.into()))?;
    let devnull =
        std::fs::File::open("/dev/null").map_err(|e| EngineError::io("open", "/dev/null", e))?;
    let child = match crate::sys::clone::clone_process(0)
        .map_err(|e| EngineError::io("fork for", &what, e.into()))?
    {
        crate::sys::clone::Cloned::Child => {
            drop(out_r);
            let code = exec_child(&plan, &devnull, &out_w);
            crate::sys::clone::exit_now(code)
        }
        crate::sys::clone::Cloned::Parent(pid) => pid,
    };
    drop(out_w);
    let (output, timed_out) = read_until_exit(child, out_r, timeout, max);
    if timed_out {
        let _ = nix::sys::signal::kill(child, nix::sys::signal::Signal::SIGKILL);
    }
    let exit_code = crate::runtime::wait::wait_exit(child);
    Ok(Captured {
        output,
        exit_code,
        timed_out,
    })
}

/// Run host program `args` so that it sees the processes of `c` (in its pid namespace, with a /proc of
/// that namespace; podman-top(1)'s host ps), reading its output like [`capture`]. `Ok(None)` when the
/// program is not on the host.
pub fn capture_host(
    c: &Container,
    args: &[String],
    timeout: Duration,
    max: usize,
) -> Result<Option<Captured>, EngineError> {
    use std::os::fd::AsRawFd;
    let what = format!("`{}` for container {}", args.join(" "), c.record.name);
    let ns = |kind: &str| {
        let path = format!("/proc/{}/ns/{kind}", c.state.pid);
        std::fs::File::open(&path)
            .map_err(|e| EngineError::io("open", std::path::Path::new(&path), e))
    };
    let (pid_ns, user_ns) = (ns("pid")?, ns("user")?);
    let same_user_ns = |a: &std::fs::File| -> bool {
        use std::os::unix::fs::MetadataExt;
        let ours = std::fs::metadata("/proc/self/ns/user");
        matches!((a.metadata(), ours), (Ok(x), Ok(y)) if x.ino() == y.ino() && x.dev() == y.dev())
    };
    let join_user = (!same_user_ns(&user_ns)).then(|| user_ns.as_raw_fd());
    let (out_r, out_w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
        .map_err(|e| EngineError::io("create a pipe for", &what, e.into()))?;
    let err_w = out_w
        .try_clone()
        .map_err(|e| EngineError::io("create a pipe for", &what, e))?;
    let mut cmd = std::process::Command::new(&args[0]);
    cmd.args(&args[1..])
        .stdin(std::process::Stdio::null())
        .stdout(out_w)
        .stderr(err_w);
    let child = match crate::sys::process::spawn_in_pid_ns(&mut cmd, join_user, pid_ns.as_raw_fd())
    {
        Ok(child) => child,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(EngineError::io("run", std::path::Path::new(&what), e)),
    };
    // Our copies of the pipe's write end go with the command.
    drop(cmd);
    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
    let (output, timed_out) = read_until_exit(pid, out_r, timeout, max);
    if timed_out {
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL);
    }
    let exit_code = crate::runtime::wait::wait_exit(pid);
    Ok(Some(Captured {
        output,
        exit_code,
        timed_out,
    }))
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
        Ok(crate::runtime::ExecOutcome::Detached(_)) => 0,
        Err(e) => {
            let _ = nix::unistd::write(std::io::stderr(), format!("{e}\n").as_bytes());
            e.exit_code()
        }
    }
}

/// Read the check's output until the child `pid` has exited (and the pipe is drained) or `timeout`
/// passes; returns the output and whether it timed out.
fn read_until_exit(
    pid: nix::unistd::Pid,
    out: OwnedFd,
    timeout: Duration,
    max: usize,
) -> (Vec<u8>, bool) {
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
                Ok(n) if output.len() < max => output.extend_from_slice(&buf[..n]),
                Ok(_) => {}
            }
        }
    }
}

fn poll_timeout(d: Duration) -> PollTimeout {
    PollTimeout::try_from(d.max(Duration::from_millis(1))).unwrap_or(PollTimeout::MAX)
}
