//! Published ports of containers on bridge networks: the listening sockets are made by the roost
//! command in the host's network namespace and passed to the holder, which accepts there and connects
//! from inside the rootless network namespace to the container's address (as podman's rootlessport
//! does). TCP only.
#![deny(clippy::print_stdout, clippy::print_stderr)]

use std::net::{IpAddr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::os::fd::OwnedFd;
use std::sync::Arc;
use std::thread;

use super::NetworkError;
use super::ports::{PortMapping, Protocol};

/// One listening socket and where its connections go.
pub struct Forwarder {
    listener: Arc<TcpListener>,
}

impl Forwarder {
    /// Serve `listener` (in the host namespace) by connecting to `target` from `netns`.
    pub fn start(listener: OwnedFd, target: SocketAddr, netns: &OwnedFd) -> Forwarder {
        let listener = Arc::new(TcpListener::from(listener));
        let l = Arc::clone(&listener);
        let netns = netns.try_clone().ok();
        thread::spawn(move || {
            for conn in l.incoming() {
                let Ok(conn) = conn else { break };
                let ns = netns.as_ref().and_then(|n| n.try_clone().ok());
                thread::spawn(move || {
                    // setns switches only this thread: its sockets are made in the rootless namespace.
                    if let Some(ns) = ns
                        && nix::sched::setns(&ns, nix::sched::CloneFlags::CLONE_NEWNET).is_ok()
                    {
                        relay(conn, target);
                    }
                });
            }
        });
        Forwarder { listener }
    }
}

impl Drop for Forwarder {
    fn drop(&mut self) {
        // Wakes the accepting thread (accept fails on a shut-down listener), which then ends.
        let _ = nix::sys::socket::shutdown(
            std::os::fd::AsRawFd::as_raw_fd(&*self.listener),
            nix::sys::socket::Shutdown::Both,
        );
    }
}

fn relay(client: TcpStream, target: SocketAddr) {
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

/// Listening sockets for `ports` in this (the host's) network namespace, one per host port, with the
/// container port each forwards to.
pub fn listen(ports: &[PortMapping]) -> Result<Vec<(OwnedFd, u16)>, NetworkError> {
    let mut out = Vec::new();
    for p in ports {
        if p.protocol != Protocol::Tcp {
            return Err(NetworkError::Unsupported(format!(
                "publishing {} ports on bridge networks",
                p.protocol.as_str()
            )));
        }
        let ip = p.host_ip.unwrap_or(IpAddr::from([0, 0, 0, 0]));
        for (host, container) in p.pairs() {
            let addr = SocketAddr::new(ip, host);
            let l = TcpListener::bind(addr)
                .map_err(|e| NetworkError::Holder(format!("cannot listen on {addr}/tcp: {e}")))?;
            out.push((OwnedFd::from(l), container));
        }
    }
    Ok(out)
}
