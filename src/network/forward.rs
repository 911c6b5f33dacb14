//! Published ports of containers on bridge networks: the sockets are made by the roost command in the
//! host's network namespace and passed to the holder, which relays from inside the rootless network
//! namespace to the container's address (as podman's rootlessport does). TCP connections are relayed
//! one to one; UDP datagrams through one upstream socket per client address, dropped after a minute
//! of silence.
#![deny(clippy::print_stdout, clippy::print_stderr)]

use std::collections::HashMap;
use std::net::{IpAddr, Shutdown, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use super::NetworkError;
use super::ports::{PortMapping, Protocol};

/// How long a UDP client may stay silent before its upstream socket is closed.
const UDP_IDLE: Duration = Duration::from_secs(60);

/// The container address a container's published ports relay to: its first IPv4 address on its
/// networks, changed when networks are connected or disconnected; `None` while it has none (a
/// connection is then closed at once).
pub type Target = Arc<Mutex<Option<IpAddr>>>;

fn target_of(target: &Target, port: u16) -> Option<SocketAddr> {
    target
        .lock()
        .ok()
        .and_then(|t| *t)
        .map(|ip| SocketAddr::new(ip, port))
}

/// One host socket and where its traffic goes; dropping it stops the relay.
pub struct Forwarder {
    socket: Arc<OwnedFd>,
    stopped: Arc<AtomicBool>,
}

/// Enter `netns` on this thread only: sockets it makes from now on live in the rootless namespace.
fn enter(netns: Option<&OwnedFd>) -> bool {
    netns.is_some_and(|ns| nix::sched::setns(ns, nix::sched::CloneFlags::CLONE_NEWNET).is_ok())
}

impl Forwarder {
    /// Serve `socket` (in the host namespace) by relaying to `port` of `target` from `netns`.
    pub fn start(
        socket: OwnedFd,
        (port, proto): (u16, Protocol),
        target: Target,
        netns: &OwnedFd,
    ) -> Forwarder {
        let netns = netns.try_clone().ok();
        let stopped = Arc::new(AtomicBool::new(false));
        let socket = Arc::new(socket);
        let fd = match socket.try_clone() {
            Ok(fd) => fd,
            Err(_) => return Forwarder { socket, stopped },
        };
        match proto {
            Protocol::Tcp => {
                let listener = TcpListener::from(fd);
                thread::spawn(move || {
                    for conn in listener.incoming() {
                        let Ok(conn) = conn else { break };
                        let Some(target) = target_of(&target, port) else {
                            continue;
                        };
                        let ns = netns.as_ref().and_then(|n| n.try_clone().ok());
                        thread::spawn(move || {
                            if enter(ns.as_ref()) {
                                relay_tcp(conn, target);
                            }
                        });
                    }
                });
            }
            Protocol::Udp => {
                let host = UdpSocket::from(fd);
                let stop = Arc::clone(&stopped);
                thread::spawn(move || {
                    if enter(netns.as_ref()) {
                        relay_udp(host, &target, port, &stop);
                    }
                });
            }
        }
        Forwarder { socket, stopped }
    }
}

impl Drop for Forwarder {
    fn drop(&mut self) {
        self.stopped.store(true, Ordering::SeqCst);
        // Wakes the thread blocked in accept/recv on it, which then ends.
        let _ =
            nix::sys::socket::shutdown(self.socket.as_raw_fd(), nix::sys::socket::Shutdown::Both);
    }
}

fn relay_tcp(client: TcpStream, target: SocketAddr) {
    let Ok(upstream) = TcpStream::connect(target) else {
        return;
    };
    let (Ok(mut c2), Ok(mut u2)) = (client.try_clone(), upstream.try_clone()) else {
        return;
    };
    let up = thread::spawn(move || {
        let _ = std::io::copy(&mut c2, &mut u2);
        let _ = u2.shutdown(Shutdown::Write);
    });
    let (mut c, mut u) = (client, upstream);
    let _ = std::io::copy(&mut u, &mut c);
    let _ = c.shutdown(Shutdown::Write);
    let _ = up.join();
}

/// Datagrams from clients on `host` go to `port` of `target` from a socket per client (made in the
/// rootless namespace, where this thread runs); the answers go back to that client.
fn relay_udp(host: UdpSocket, target: &Target, port: u16, stopped: &AtomicBool) {
    let sessions: Arc<Mutex<HashMap<SocketAddr, UdpSocket>>> = Arc::default();
    let mut buf = vec![0u8; 65536];
    while let Ok((n, client)) = host.recv_from(&mut buf) {
        if stopped.load(Ordering::SeqCst) {
            break;
        }
        let existing = sessions
            .lock()
            .ok()
            .and_then(|s| s.get(&client).and_then(|u| u.try_clone().ok()));
        let upstream = match existing {
            Some(u) => u,
            None => {
                let Some(target) = target_of(target, port) else {
                    continue;
                };
                let bind: SocketAddr = match target {
                    SocketAddr::V4(_) => (IpAddr::from([0, 0, 0, 0]), 0).into(),
                    SocketAddr::V6(_) => (IpAddr::from([0u16; 8]), 0).into(),
                };
                let Ok(u) = UdpSocket::bind(bind).and_then(|u| u.connect(target).map(|()| u))
                else {
                    continue;
                };
                let (Ok(reader), Ok(back), Ok(stored)) =
                    (u.try_clone(), host.try_clone(), u.try_clone())
                else {
                    continue;
                };
                if let Ok(mut s) = sessions.lock() {
                    s.insert(client, stored);
                }
                let sessions = Arc::clone(&sessions);
                thread::spawn(move || {
                    let _ = reader.set_read_timeout(Some(UDP_IDLE));
                    let mut buf = vec![0u8; 65536];
                    while let Ok(n) = reader.recv(&mut buf) {
                        let _ = back.send_to(&buf[..n], client);
                    }
                    if let Ok(mut s) = sessions.lock() {
                        s.remove(&client);
                    }
                });
                u
            }
        };
        let _ = upstream.send(&buf[..n]);
    }
}

/// Sockets for `ports` in this (the host's) network namespace, one per host port, with the container
/// port and protocol each relays to.
pub fn listen(ports: &[PortMapping]) -> Result<Vec<(OwnedFd, u16, Protocol)>, NetworkError> {
    let mut out = Vec::new();
    for p in ports {
        let ip = p.host_ip.unwrap_or(IpAddr::from([0, 0, 0, 0]));
        for (host, container) in p.pairs() {
            let addr = SocketAddr::new(ip, host);
            let fd = match p.protocol {
                Protocol::Tcp => TcpListener::bind(addr).map(OwnedFd::from),
                Protocol::Udp => UdpSocket::bind(addr).map(OwnedFd::from),
            }
            .map_err(|e| {
                NetworkError::Holder(format!(
                    "cannot listen on {addr}/{}: {e}",
                    p.protocol.as_str()
                ))
            })?;
            out.push((fd, container, p.protocol));
        }
    }
    Ok(out)
}
