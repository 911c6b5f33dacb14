//! The roost side of the rootless network namespace: find its holder or start one (with slirp4netns
//! for the way out), then ask it to attach or detach a container.
#![deny(clippy::print_stdout, clippy::print_stderr)]

use std::collections::BTreeMap;
use std::fs;
use std::io::Read;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::process::Command;

use nix::sys::socket::{self, AddressFamily, SockFlag, SockType, UnixAddr};

use super::NetworkError;
use super::config::Network;
use super::holder::NetnsDir;
use super::netavark::{NetworkInterface, PerNetwork};
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
    exchange_fds(sock, req, fds).map(|(r, _)| r)
}

/// [`exchange`], with the descriptors that came with the answer.
fn exchange_fds(
    sock: &OwnedFd,
    req: &Request,
    fds: &[i32],
) -> Result<(Response, Vec<OwnedFd>), NetworkError> {
    let text = serde_json::to_vec(req).expect("a request serializes");
    let lost = |e: std::io::Error| NetworkError::Holder(format!("lost the holder: {e}"));
    crate::sys::fdpass::send(sock.as_fd(), &text, fds).map_err(lost)?;
    let (answer, got) = crate::sys::fdpass::recv(sock.as_fd(), MAX_MESSAGE).map_err(lost)?;
    if answer.is_empty() {
        return Err(NetworkError::Holder("the holder exited".into()));
    }
    let response = serde_json::from_slice(&answer)
        .map_err(|e| NetworkError::Holder(format!("unexpected answer: {e}")))?;
    Ok((response, got))
}

/// The rootless network namespace, from its holder (`unshare --rootless-netns`). There is none
/// while no container is on a bridge network: it is made for the first and goes with the last.
pub fn rootless_netns(runtime: &Path) -> Result<OwnedFd, NetworkError> {
    let none = || {
        NetworkError::Invalid(
            "there is no rootless network namespace: it exists while a container is on a bridge network"
                .into(),
        )
    };
    let sock = connect(&NetnsDir::new(runtime)).ok_or_else(none)?;
    match exchange_fds(&sock, &Request::Netns, &[])? {
        (Response::Netns, mut fds) if !fds.is_empty() => Ok(fds.remove(0)),
        (Response::Failed { message }, _) => Err(NetworkError::Holder(message)),
        _ => Err(none()),
    }
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
) -> Result<BTreeMap<String, NetworkInterface>, NetworkError> {
    let dir = NetnsDir::new(&launch.runtime);
    let _lock = dir.take_lock(true)?;
    let sock = match connect(&dir) {
        Some(s) => s,
        None => {
            start(launch)?;
            connect(&dir).ok_or_else(|| {
                NetworkError::Holder("the holder started but does not answer".into())
            })?
        }
    };
    let listeners = super::forward::listen(&ports)?;
    let mut fds = vec![netns.as_raw_fd()];
    fds.extend(listeners.iter().map(|(l, _, _)| l.as_raw_fd()));
    let req = Request::Setup {
        container_id: container_id.into(),
        container_name: container_name.into(),
        pid,
        networks,
        forwards: listeners.iter().map(|(_, p, proto)| (*p, *proto)).collect(),
    };
    match exchange(&sock, &req, &fds)? {
        Response::Attached(s) => Ok(s),
        Response::Failed { message } => Err(NetworkError::Holder(message)),
        Response::Done | Response::Netns => Ok(BTreeMap::new()),
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
pub fn status(runtime: &Path, container_id: &str) -> BTreeMap<String, NetworkInterface> {
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

/// Set the container's networks up again (`network reload`); returns its interfaces. An error when
/// no holder runs or the container is not attached.
pub fn reload(
    runtime: &Path,
    container_id: &str,
) -> Result<BTreeMap<String, NetworkInterface>, NetworkError> {
    let sock = connect(&NetnsDir::new(runtime)).ok_or_else(|| {
        NetworkError::Invalid(format!(
            "container {container_id} is not attached to any network"
        ))
    })?;
    let req = Request::Reload {
        container_id: container_id.into(),
    };
    match exchange(&sock, &req, &[])? {
        Response::Attached(s) => Ok(s),
        Response::Failed { message } => Err(NetworkError::Holder(message)),
        Response::Done | Response::Netns => Ok(BTreeMap::new()),
    }
}

/// Start `roost __netns` (which starts slirp4netns for its namespace). Called under the lock.
fn start(launch: &Launch) -> Result<(), NetworkError> {
    let (ready_r, ready_w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
        .map_err(|e| NetworkError::io("create a pipe for", "the holder", e.into()))?;
    let devnull =
        || fs::File::open("/dev/null").map_err(|e| NetworkError::io("open", "/dev/null", e));
    let mut cmd = Command::new(&launch.exe);
    cmd.arg("--root")
        .arg(&launch.data)
        .arg("--runroot")
        .arg(&launch.runtime)
        .args(["__netns", "--ready-fd", &ready_w.as_raw_fd().to_string()])
        .stdin(devnull()?)
        .stdout(devnull()?)
        .stderr(devnull()?);
    let mut child = crate::sys::process::spawn_detached(&mut cmd, &[ready_w.as_raw_fd()])
        .map_err(|e| NetworkError::io("start", &launch.exe, e))?;
    drop(ready_w);
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
    Ok(())
}
