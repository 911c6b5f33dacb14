//! Waiting until a network's DNS server knows a container that was just attached. netavark returns
//! as soon as it has started aardvark-dns (or sent it SIGHUP to reload its records), and the
//! aardvark-dns of Debian 12 rebinds its sockets on a reload: for a moment the gateway's port 53
//! refuses, and a container started in that moment fails its first lookups ("connection refused").
//! So the holder asks the server for the new container's own name, from inside the container's
//! namespace, until the answer has an address — then every container on the network can find it.
//!
//! The query is built by hand: one question, no options — a DNS library would be far more code than
//! the 30 lines it replaces.
#![deny(clippy::print_stdout, clippy::print_stderr)]

use std::io::ErrorKind;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::os::fd::BorrowedFd;
use std::time::{Duration, Instant};

/// The longest we wait for a server: past it the container starts anyway (its lookups may then
/// fail as they would have without the wait).
const PATIENCE: Duration = Duration::from_secs(3);
const ANSWER_WAIT: Duration = Duration::from_millis(100);
const RETRY_PAUSE: Duration = Duration::from_millis(5);
const TYPE_A: u8 = 1;
const TYPE_AAAA: u8 = 28;

/// Wait until each of `servers` answers `name` with an address (IPv4 when `v4`, else IPv6), asking
/// from the network namespace `netns`. Returns whether all did within [`PATIENCE`].
pub fn wait(netns: BorrowedFd<'_>, servers: &[IpAddr], name: &str, v4: bool) -> bool {
    let Some(query) = query(name, if v4 { TYPE_A } else { TYPE_AAAA }) else {
        return true;
    };
    let deadline = Instant::now() + PATIENCE;
    crate::sys::fdpass::in_netns(netns, || {
        servers
            .iter()
            .all(|s| answers(SocketAddr::new(*s, 53), &query, deadline))
    })
    .unwrap_or(false)
}

fn answers(server: SocketAddr, query: &[u8], deadline: Instant) -> bool {
    let bind: SocketAddr = match server {
        SocketAddr::V4(_) => "0.0.0.0:0".parse().expect("a literal address"),
        SocketAddr::V6(_) => "[::]:0".parse().expect("a literal address"),
    };
    let Ok(sock) = UdpSocket::bind(bind) else {
        return false;
    };
    if sock.connect(server).is_err() || sock.set_read_timeout(Some(ANSWER_WAIT)).is_err() {
        return false;
    }
    let mut buf = [0u8; 512];
    while Instant::now() < deadline {
        if sock.send(query).is_ok() {
            match sock.recv(&mut buf) {
                Ok(n) if has_address(&buf[..n], query) => return true,
                Ok(_) => {}
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                    continue;
                }
                Err(_) => {}
            }
        }
        std::thread::sleep(RETRY_PAUSE);
    }
    false
}

/// A standard query, recursion desired, for `name`'s records of type `qtype` (class IN). None for a
/// name DNS cannot carry.
fn query(name: &str, qtype: u8) -> Option<Vec<u8>> {
    let mut q = vec![0x52, 0x4f, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
    for label in name.trim_end_matches('.').split('.') {
        if label.is_empty() || label.len() > 63 {
            return None;
        }
        q.push(label.len() as u8);
        q.extend_from_slice(label.as_bytes());
    }
    q.extend_from_slice(&[0, 0, qtype, 0, 1]);
    Some(q)
}

/// Whether `reply` answers `query` (same id, a response, no error) with at least one record.
fn has_address(reply: &[u8], query: &[u8]) -> bool {
    reply.len() >= 12
        && reply[..2] == query[..2]
        && reply[2] & 0x80 != 0
        && reply[3] & 0x0f == 0
        && u16::from_be_bytes([reply[6], reply[7]]) > 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_carry_the_name_as_labels() {
        let q = query("web.dns.podman", TYPE_A).unwrap();
        assert_eq!(&q[12..], b"\x03web\x03dns\x06podman\x00\x00\x01\x00\x01");
        assert_eq!(query("web", TYPE_AAAA).unwrap()[17..19], [0, 28]);
        assert!(query("a..b", TYPE_A).is_none());
        assert!(query(&"x".repeat(64), TYPE_A).is_none());
    }

    #[test]
    fn only_an_answer_with_records_counts() {
        let q = query("web", TYPE_A).unwrap();
        let mut reply = q.clone();
        reply[2] |= 0x80;
        assert!(!has_address(&reply, &q), "no answer records");
        reply[7] = 1;
        assert!(has_address(&reply, &q));
        reply[3] = 0x03;
        assert!(!has_address(&reply, &q), "NXDOMAIN");
        reply[3] = 0;
        reply[0] ^= 1;
        assert!(!has_address(&reply, &q), "another query's id");
    }
}
