//! `attach`, and `start -a [-i]` through it: relay a detached container's output (and, with `-i`, our
//! stdin) over its monitor's attach socket (see `engine::container::attach` for the framing).
//!
//! `attach` runs inside the user namespace (it joins the one the monitors hold), like `kill`: that is
//! what lets `--sig-proxy` signal the container's process whatever uid it runs as.
use std::io::Write;
use std::os::fd::AsFd;
use std::os::unix::net::UnixStream;

use clap::Args;
use clap_complete::engine::ArgValueCandidates;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};

use crate::cli::complete::running_containers;
use crate::engine::container::attach::{self as sock, STREAM_STDERR, STREAM_STDIN};
use crate::engine::container::detach::{DEFAULT_DETACH_KEYS, DetachWatch, parse_detach_keys};
use crate::engine::container::{self as engine, Status};
use crate::engine::{Ctx, EngineError};
use crate::error::Error;

#[derive(Debug, Args)]
#[command(
    after_long_help = "Examples:\n  roost attach web\n  roost attach --no-stdin web\n  roost attach --detach-keys ctrl-a,d web\n  roost create -i --name c busybox cat && echo hi | roost start -a -i c"
)]
pub struct AttachArgs {
    /// Key sequence that detaches and leaves the container running (`ctrl-<key>` or a character,
    /// comma-separated; an empty string disables it)
    #[arg(long, value_name = "KEYS", default_value = DEFAULT_DETACH_KEYS)]
    pub detach_keys: String,
    /// Do not pass our stdin to the container
    #[arg(long)]
    pub no_stdin: bool,
    /// Forward the signals we receive (SIGINT, SIGTERM, …) to the container's process (not with a
    /// terminal, where they are keys)
    #[arg(long, value_name = "BOOL", default_value_t = true, num_args = 0..=1,
          default_missing_value = "true", action = clap::ArgAction::Set)]
    pub sig_proxy: bool,
    /// Container to attach to
    #[arg(value_name = "CONTAINER", add = ArgValueCandidates::new(running_containers))]
    pub container: String,
}

/// How a client relays.
pub struct Relay {
    /// Pass our stdin on.
    pub stdin: bool,
    pub sig_proxy: bool,
    /// The detach sequence (empty: none).
    pub detach_keys: Vec<u8>,
}

/// `attach CONTAINER`: exits with the container's exit code once it ends, or 0 when detached.
pub fn attach(ctx: &Ctx, a: &AttachArgs) -> Result<i32, Error> {
    let detach_keys = parse_detach_keys(&a.detach_keys)?;
    let store = ctx.store()?;
    let c = engine::find(&store, &a.container)?;
    drop(store);
    if c.state.status != Status::Running {
        return Err(EngineError::from(engine::OpError::AttachNotRunning {
            container: c.record.id.clone(),
            state: c.state.status.as_str(),
        })
        .into());
    }
    let stream = sock::connect(ctx, &c.record.id)?;
    let how = Relay {
        stdin: !a.no_stdin && c.spec.interactive,
        sig_proxy: a.sig_proxy,
        detach_keys,
    };
    relay_attach_socket(ctx, &c, stream, &how)
}

/// `start -a [-i]`: start `c` through its monitor, attached from before its first output.
pub fn start_attached(ctx: &Ctx, c: &engine::Container, how: &Relay) -> Result<i32, Error> {
    let pending = engine::spawn_monitor(ctx, c, true)?;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    // The monitor listens before it starts the container and waits for us: connect as soon as it does.
    let early = loop {
        match sock::connect(ctx, &c.record.id) {
            Ok(s) => break Some(s),
            Err(_) if !pending.reported() && std::time::Instant::now() < deadline => {
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
            Err(_) => break None,
        }
    };
    pending.ready()?;
    let stream = match early {
        Some(s) => s,
        None => sock::connect(ctx, &c.record.id)?,
    };
    let how = Relay {
        stdin: how.stdin && c.spec.interactive,
        sig_proxy: how.sig_proxy,
        detach_keys: how.detach_keys.clone(),
    };
    relay_attach_socket(ctx, c, stream, &how)
}

/// Our terminal, in raw mode while we relay a container's terminal; restored when dropped.
struct RawTerminal(Option<nix::sys::termios::Termios>);

impl RawTerminal {
    fn enter(tty: bool) -> RawTerminal {
        let stdin = std::io::stdin();
        RawTerminal(
            if tty && nix::unistd::isatty(stdin.as_fd()).unwrap_or(false) {
                crate::sys::tty::set_raw(stdin.as_fd()).ok()
            } else {
                None
            },
        )
    }
}

impl Drop for RawTerminal {
    fn drop(&mut self) {
        if let Some(saved) = &self.0 {
            crate::sys::tty::restore(std::io::stdin().as_fd(), saved);
        }
    }
}

/// Our window size (from stdin, else stdout), when one of them is a terminal.
fn window_size() -> Option<(u16, u16)> {
    let stdin = std::io::stdin();
    let stdout = std::io::stdout();
    [stdin.as_fd(), stdout.as_fd()]
        .into_iter()
        .find_map(|fd| crate::sys::tty::window_size(fd).ok())
        .map(|w| (w.ws_row, w.ws_col))
}

/// Copy frames to our stdout/stderr and our stdin to the container until the monitor closes the
/// socket, then return the container's exit code from the store (0 when we detached).
fn relay_attach_socket(
    ctx: &Ctx,
    c: &engine::Container,
    mut stream: UnixStream,
    how: &Relay,
) -> Result<i32, Error> {
    let id = &c.record.id;
    let tty = c.spec.tty;
    // With a terminal, ^C and friends are keys the container's terminal turns into signals.
    if how.sig_proxy && !tty {
        proxy_signals(ctx, id)?;
    }
    let mut stdin_open = how.stdin;
    let _raw = RawTerminal::enter(tty && stdin_open);
    let mut watch = DetachWatch::new(if stdin_open {
        how.detach_keys.clone()
    } else {
        Vec::new()
    });
    let mut size = None;
    let stdin = std::io::stdin();
    let mut incoming = Vec::new();
    let mut buf = vec![0u8; 32 * 1024];
    loop {
        if tty {
            let now = window_size();
            if let Some((rows, cols)) = now
                && now != size
            {
                size = now;
                let _ = stream.write_all(&sock::resize_frame(rows, cols));
            }
        }
        let mut fds = vec![PollFd::new(stream.as_fd(), PollFlags::POLLIN)];
        if stdin_open {
            fds.push(PollFd::new(stdin.as_fd(), PollFlags::POLLIN));
        }
        // With a terminal, look at the window size now and then (SIGWINCH would interrupt the poll
        // too, but only if someone caught it).
        let timeout = if tty {
            PollTimeout::from(200u16)
        } else {
            PollTimeout::NONE
        };
        match poll(&mut fds, timeout) {
            Ok(_) => {}
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(Error::io("wait for the container's output", e.into())),
        }
        let ready = |p: &PollFd| p.revents().is_some_and(|r| !r.is_empty());
        let (sock_ready, stdin_ready) = (ready(&fds[0]), fds.get(1).is_some_and(ready));
        drop(fds);
        if stdin_ready && pass_stdin(&mut stream, &mut watch, &mut buf, &mut stdin_open) {
            return Ok(0);
        }
        if sock_ready && !pass_output(&mut stream, &mut buf, &mut incoming) {
            break;
        }
    }
    drop(_raw);
    exit_code(ctx, id)
}

/// `--sig-proxy` without a terminal: forward the signals we get to container `id`'s process.
fn proxy_signals(ctx: &Ctx, id: &str) -> Result<(), Error> {
    let store = ctx.store()?;
    let pid = engine::find(&store, id)?.state.pid;
    if pid > 0 {
        crate::sys::process::forward_signals(pid);
    }
    Ok(())
}

/// Pass what our stdin has to the container; at its end (or when the monitor takes no more),
/// `stdin_open` turns false. Whether the detach keys were typed.
fn pass_stdin(
    stream: &mut UnixStream,
    watch: &mut DetachWatch,
    buf: &mut [u8],
    stdin_open: &mut bool,
) -> bool {
    let n = nix::unistd::read(std::io::stdin().as_fd(), buf).unwrap_or(0);
    let typed = watch.feed(&buf[..n]);
    if !typed.pass.is_empty()
        && stream
            .write_all(&sock::frame(STREAM_STDIN, &typed.pass))
            .is_err()
    {
        *stdin_open = false;
    }
    if typed.detach {
        return true;
    }
    // An empty stdin frame tells the monitor our stdin ended (it closes the container's).
    if n == 0 {
        let _ = stream.write_all(&sock::frame(STREAM_STDIN, &[]));
        *stdin_open = false;
    }
    false
}

/// Write the frames the monitor sent to our stdout and stderr (`incoming` keeps a partial one).
/// Whether the socket is still open.
fn pass_output(stream: &mut UnixStream, buf: &mut [u8], incoming: &mut Vec<u8>) -> bool {
    let n = match std::io::Read::read(stream, buf) {
        Ok(n) => n,
        Err(e) if e.kind() == std::io::ErrorKind::Interrupted => return true,
        Err(_) => 0,
    };
    if n == 0 {
        return false;
    }
    incoming.extend_from_slice(&buf[..n]);
    while let Some((which, data)) = sock::take_frame(incoming) {
        emit(which == STREAM_STDERR, &data);
    }
    true
}

/// Write container output to our stdout or stderr; a closed stdout does not stop the container.
fn emit(stderr: bool, data: &[u8]) {
    let _ = if stderr {
        let mut e = std::io::stderr().lock();
        e.write_all(data).and_then(|()| e.flush())
    } else {
        let mut o = std::io::stdout().lock();
        o.write_all(data).and_then(|()| o.flush())
    };
}

/// The exit code the monitor recorded (or kept, for a `--rm` container it removed).
fn exit_code(ctx: &Ctx, id: &str) -> Result<i32, Error> {
    let store = ctx.store()?;
    match engine::wait_stopped(&store, id, Some(std::time::Duration::from_secs(10))) {
        Ok(c) => Ok(c.state.exit_code),
        Err(EngineError::NoSuchContainer(_)) => Ok(engine::removed_exit_code(ctx, id).unwrap_or(0)),
        Err(e) => Err(e.into()),
    }
}
