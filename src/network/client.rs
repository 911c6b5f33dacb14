//! The roost side of the rootless network namespace: find its holder or start one (with slirp4netns
//! for the way out), then ask it to attach or detach a container.
#![deny(clippy::print_stdout, clippy::print_stderr)]

use std::collections::BTreeMap;
use std::fs;
use std::io::Read;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use nix::sys::socket::{self, AddressFamily, SockFlag, SockType, UnixAddr};

use super::NetworkError;
use super::config::Network;
use super::holder::NetnsDir;
use super::netavark::{Attached, PerNetwork};
use super::ports::PortMapping;
use super::proto::{MAX_MESSAGE, Request, Response};

/// How to start a holder: the roost binary and the directories it must use.
#[derive(Debug, Clone)]
pub struct Launch {
    pub exe: PathBuf,
    pub data: PathBuf,
    pub runtime: PathBuf,
}

fn connect(dir: &NetnsDir) -> Option<OwnedFd> {
    let sock = socket::socket(
        AddressFamily::Unix,
        SockType::SeqPacket,
        SockFlag::SOCK_CLOEXEC,
        None,
    )
    .ok()?;
    let addr = UnixAddr::new(&dir.socket()).ok()?;
    socket::connect(sock.as_raw_fd(), &addr).ok()?;
    Some(sock)
}

fn exchange(sock: &OwnedFd, req: &Request, fds: &[i32]) -> Result<Response, NetworkError> {
    let text = serde_json::to_vec(req).expect("a request serializes");
    let lost = |e: std::io::Error| NetworkError::Holder(format!("lost the holder: {e}"));
    crate::sys::fdpass::send(sock.as_fd(), &text, fds).map_err(lost)?;
    let (answer, _) = crate::sys::fdpass::recv(sock.as_fd(), MAX_MESSAGE).map_err(lost)?;
    if answer.is_empty() {
        return Err(NetworkError::Holder("the holder exited".into()));
    }
    serde_json::from_slice(&answer)
        .map_err(|e| NetworkError::Holder(format!("unexpected answer: {e}")))
}

/// Open the network namespace of process `pid` (before it makes itself non-dumpable, after which
/// only its owner's capabilities let us).
pub fn open_netns(pid: i32) -> Result<fs::File, NetworkError> {
    let path = format!("/proc/{pid}/ns/net");
    fs::File::open(&path).map_err(|e| NetworkError::io("open", &path, e))
}

/// Attach the container whose pid 1 is `pid` (network namespace `netns`) to `networks`, starting the
/// rootless network namespace if it is not there. Returns the interfaces made, per network.
#[allow(clippy::too_many_arguments)]
pub fn setup(
    launch: &Launch,
    container_id: &str,
    container_name: &str,
    pid: i32,
    netns: &fs::File,
    networks: Vec<(Network, PerNetwork)>,
    ports: Vec<PortMapping>,
) -> Result<BTreeMap<String, Attached>, NetworkError> {
    let dir = NetnsDir::new(&launch.runtime);
    let _lock = dir.take_lock(true)?;
    let sock = match connect(&dir) {
        Some(s) => s,
        None => {
            start(launch, &dir)?;
            connect(&dir).ok_or_else(|| {
                NetworkError::Holder("the holder started but does not answer".into())
            })?
        }
    };
    let listeners = super::forward::listen(&ports)?;
    let mut fds = vec![netns.as_raw_fd()];
    fds.extend(listeners.iter().map(|(l, _)| l.as_raw_fd()));
    let req = Request::Setup {
        container_id: container_id.into(),
        container_name: container_name.into(),
        pid,
        networks,
        forwards: listeners.iter().map(|(_, p)| *p).collect(),
    };
    match exchange(&sock, &req, &fds)? {
        Response::Attached(s) => Ok(s),
        Response::Failed { message } => Err(NetworkError::Holder(message)),
        Response::Done => Ok(BTreeMap::new()),
    }
}

/// Detach a container from `networks` (all when None). Nothing to do when no holder runs.
pub fn teardown(
    runtime: &Path,
    container_id: &str,
    networks: Option<Vec<String>>,
) -> Result<(), NetworkError> {
    let Some(sock) = connect(&NetnsDir::new(runtime)) else {
        return Ok(());
    };
    let req = Request::Teardown {
        container_id: container_id.into(),
        networks,
    };
    match exchange(&sock, &req, &[]) {
        Ok(Response::Failed { message }) => Err(NetworkError::Holder(message)),
        // A holder that exited meanwhile had nothing attached.
        Ok(_) | Err(NetworkError::Holder(_)) => Ok(()),
        Err(e) => Err(e),
    }
}

/// The interfaces of a running container (empty when it is attached to nothing).
pub fn status(runtime: &Path, container_id: &str) -> BTreeMap<String, Attached> {
    let Some(sock) = connect(&NetnsDir::new(runtime)) else {
        return BTreeMap::new();
    };
    let req = Request::Status {
        container_id: container_id.into(),
    };
    match exchange(&sock, &req, &[]) {
        Ok(Response::Attached(s)) => s,
        _ => BTreeMap::new(),
    }
}

/// The pid of the running holder, if any (a process to join the user namespace of).
pub fn holder_pid(runtime: &Path) -> Option<i32> {
    fs::read_to_string(NetnsDir::new(runtime).pid())
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// Start `roost __netns` and, once its namespace exists, slirp4netns for it. Called under the lock.
fn start(launch: &Launch, dir: &NetnsDir) -> Result<(), NetworkError> {
    let cloexec = nix::fcntl::OFlag::O_CLOEXEC;
    let pipe = |what: &'static str| {
        nix::unistd::pipe2(cloexec)
            .map_err(|e| NetworkError::io("create a pipe for", what, e.into()))
    };
    let (ready_r, ready_w) = pipe("the holder")?;
    // slirp4netns exits when this pipe's write end, held by the holder only, closes.
    let (exit_r, exit_w) = pipe("slirp4netns")?;
    let devnull =
        || fs::File::open("/dev/null").map_err(|e| NetworkError::io("open", "/dev/null", e));
    let mut cmd = Command::new(&launch.exe);
    cmd.arg("--root")
        .arg(&launch.data)
        .arg("--runroot")
        .arg(&launch.runtime)
        .args([
            "__netns",
            "--ready-fd",
            &ready_w.as_raw_fd().to_string(),
            "--keep-fd",
            &exit_w.as_raw_fd().to_string(),
        ])
        .stdin(devnull()?)
        .stdout(devnull()?)
        .stderr(devnull()?);
    let mut child =
        crate::sys::process::spawn_detached(&mut cmd, &[ready_w.as_raw_fd(), exit_w.as_raw_fd()])
            .map_err(|e| NetworkError::io("start", &launch.exe, e))?;
    drop(ready_w);
    drop(exit_w);
    let pid = child.id() as i32;
    let mut report = String::new();
    let _ = fs::File::from(ready_r).read_to_string(&mut report);
    let _ = child.try_wait();
    if report != "ok" {
        return Err(NetworkError::Holder(if report.is_empty() {
            "the holder exited before it was ready".into()
        } else {
            report
        }));
    }
    start_slirp(pid, exit_r, &dir.0.join("slirp4netns.log")).inspect_err(|_| {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGKILL,
        );
        let _ = fs::remove_file(dir.socket());
    })
}

/// slirp4netns gives the namespace a tap device (10.0.2.100, gateway 10.0.2.2) to the outside.
fn start_slirp(pid: i32, exit_r: OwnedFd, log: &Path) -> Result<(), NetworkError> {
    let slirp = [
        "/usr/bin/slirp4netns",
        "/usr/local/bin/slirp4netns",
        "/bin/slirp4netns",
    ]
    .iter()
    .map(Path::new)
    .find(|p| p.is_file())
    .ok_or_else(|| {
        NetworkError::Holder("slirp4netns is not installed (apt-get install slirp4netns)".into())
    })?;
    let (ready_r, ready_w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
        .map_err(|e| NetworkError::io("create a pipe for", "slirp4netns", e.into()))?;
    let mut cmd = Command::new(slirp);
    cmd.args([
        "--configure",
        "--mtu=65520",
        "--disable-host-loopback",
        &format!("--exit-fd={}", exit_r.as_raw_fd()),
        &format!("--ready-fd={}", ready_w.as_raw_fd()),
        &pid.to_string(),
        "tap0",
    ])
    .stdin(Stdio::null())
    .stdout(Stdio::null())
    .stderr(fs::File::create(log).map_err(|e| NetworkError::io("create", log, e))?);
    let mut child =
        crate::sys::process::spawn_detached(&mut cmd, &[exit_r.as_raw_fd(), ready_w.as_raw_fd()])
            .map_err(|e| NetworkError::io("start", slirp, e))?;
    drop(ready_w);
    drop(exit_r);
    let mut b = [0u8; 1];
    let ok = fs::File::from(ready_r).read_exact(&mut b).is_ok() && b[0] == b'1';
    if !ok {
        let _ = child.kill();
        let _ = child.wait();
        let text = fs::read_to_string(log).unwrap_or_default();
        return Err(NetworkError::Holder(format!(
            "slirp4netns failed: {}",
            text.trim()
        )));
    }
    // It runs on by itself now, until the holder's end of its exit pipe closes.
    let _ = child.try_wait();
    Ok(())
}
