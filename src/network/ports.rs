//! Published ports: podman's `-p` syntax, and how `port` and `ps` print a mapping.
//!
//! `[[IP:][HOST_PORT[-END]]:]CONTAINER_PORT[-END][/PROTOCOL]`, where IP may be `[v6]`; an empty or missing
//! host port means "pick a free one".
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, UdpSocket};

use serde::{Deserialize, Serialize};

#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord,
)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    #[default]
    Tcp,
    Udp,
}

impl Protocol {
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
        }
    }
}

/// One published range: `range` consecutive host ports starting at `host_port` reach as many
/// container ports starting at `container_port`. `host_port` 0 means "not chosen yet".
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortMapping {
    /// The host address to listen on; `None` is every address (podman shows `0.0.0.0`).
    #[serde(default)]
    pub host_ip: Option<IpAddr>,
    pub host_port: u16,
    pub container_port: u16,
    #[serde(default = "one")]
    pub range: u16,
    pub protocol: Protocol,
}

fn one() -> u16 {
    1
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("invalid port publication `{spec}`: {why}")]
pub struct PortError {
    pub spec: String,
    pub why: String,
}

fn err(spec: &str, why: impl Into<String>) -> PortError {
    PortError {
        spec: spec.to_string(),
        why: why.into(),
    }
}

/// `N` or `N-M` → (first, count).
fn port_range(spec: &str, s: &str, what: &str) -> Result<(u16, u16), PortError> {
    let num = |t: &str| -> Result<u16, PortError> {
        match t.parse::<u16>() {
            Ok(0) | Err(_) => Err(err(
                spec,
                format!("{what} port `{t}` is not a number between 1 and 65535"),
            )),
            Ok(n) => Ok(n),
        }
    };
    match s.split_once('-') {
        None => Ok((num(s)?, 1)),
        Some((a, b)) => {
            let (a, b) = (num(a)?, num(b)?);
            if b < a {
                return Err(err(
                    spec,
                    format!("{what} port range `{s}` ends before it starts"),
                ));
            }
            Ok((a, b - a + 1))
        }
    }
}

/// Parse one `-p` value; several protocols (`80/tcp,udp`) give several mappings.
pub fn parse_publish(spec: &str) -> Result<Vec<PortMapping>, PortError> {
    let (rest, protos) = match spec.rsplit_once('/') {
        Some((r, p)) => (r, p),
        None => (spec, "tcp"),
    };
    let protocols = protocols(spec, protos)?;
    let (host_ip, rest) = host_ip(spec, rest)?;
    let (host, ctr) = match rest.split_once(':') {
        Some((h, c)) => (h, c),
        None => ("", rest),
    };
    let (container_port, range) = port_range(spec, ctr, "container")?;
    let host_port = if host.is_empty() {
        0
    } else {
        host_port(spec, host, range)?
    };
    if u32::from(host_port) + u32::from(range) > 65536
        || u32::from(container_port) + u32::from(range) > 65536
    {
        return Err(err(spec, "the port range goes past 65535"));
    }
    Ok(protocols
        .into_iter()
        .map(|protocol| PortMapping {
            host_ip,
            host_port,
            container_port,
            range,
            protocol,
        })
        .collect())
}

/// The protocols of `-p` value `spec` (`tcp,udp`).
fn protocols(spec: &str, protos: &str) -> Result<Vec<Protocol>, PortError> {
    let mut protocols = Vec::new();
    for p in protos.split(',') {
        protocols.push(match p {
            "tcp" => Protocol::Tcp,
            "udp" => Protocol::Udp,
            "sctp" => return Err(err(spec, "sctp cannot be published rootless")),
            other => {
                return Err(err(
                    spec,
                    format!("unknown protocol `{other}`: use tcp or udp"),
                ));
            }
        });
    }
    Ok(protocols)
}

/// The host address of `-p` value `spec` (before `rest`, its ports), if any, and the ports.
fn host_ip<'a>(spec: &str, rest: &'a str) -> Result<(Option<IpAddr>, &'a str), PortError> {
    // An IPv6 host address is bracketed: [::1]:8080:80.
    let (ip, rest) = if let Some(r) = rest.strip_prefix('[') {
        let (ip, after) = r
            .split_once(']')
            .ok_or_else(|| err(spec, "missing `]` after the IPv6 address"))?;
        let after = after
            .strip_prefix(':')
            .ok_or_else(|| err(spec, "expected `:` after the host address"))?;
        (Some(ip), after)
    } else {
        let parts: Vec<&str> = rest.split(':').collect();
        match parts.len() {
            1 | 2 => (None, rest),
            3 => (Some(parts[0]), &rest[parts[0].len() + 1..]),
            _ => {
                return Err(err(
                    spec,
                    "too many `:`: use [[IP:][HOST_PORT]:]CONTAINER_PORT",
                ));
            }
        }
    };
    let host_ip = match ip {
        None | Some("") => None,
        Some(a) => Some(
            a.parse::<IpAddr>()
                .map_err(|_| err(spec, format!("`{a}` is not an IP address")))?,
        ),
    };
    Ok((host_ip, rest))
}

/// The host port of `-p` value `spec`, for a container port range of `range` ports.
fn host_port(spec: &str, host: &str, range: u16) -> Result<u16, PortError> {
    let (h, n) = port_range(spec, host, "host")?;
    if n != range && n != 1 {
        return Err(err(
            spec,
            "the host and container port ranges must be the same length",
        ));
    }
    if n == 1 && range > 1 {
        return Err(err(
            spec,
            "a container port range needs a host port range of the same length",
        ));
    }
    Ok(h)
}

/// An `EXPOSE`/`--expose` entry: `80`, `80/udp`, `8000-8010/tcp` → (first port, count, protocol).
pub fn parse_expose(spec: &str) -> Result<(u16, u16, Protocol), PortError> {
    let (ports, proto) = spec.split_once('/').unwrap_or((spec, "tcp"));
    let protocol = match proto {
        "tcp" => Protocol::Tcp,
        "udp" => Protocol::Udp,
        other => return Err(err(spec, format!("unknown protocol `{other}`"))),
    };
    let (p, n) = port_range(spec, ports, "exposed")?;
    Ok((p, n, protocol))
}

impl PortMapping {
    fn host_ip_text(&self) -> String {
        match self.host_ip {
            None => "0.0.0.0".into(),
            Some(IpAddr::V6(a)) => format!("[{a}]"),
            Some(a) => a.to_string(),
        }
    }

    /// The individual (host port, container port) pairs.
    pub fn pairs(&self) -> impl Iterator<Item = (u16, u16)> + '_ {
        (0..self.range).map(|i| (self.host_port + i, self.container_port + i))
    }
}

/// `ps`'s form: `0.0.0.0:8080->80/tcp`, ranges as `0.0.0.0:8000-8002->80-82/tcp`.
impl fmt::Display for PortMapping {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ip = self.host_ip_text();
        let proto = self.protocol.as_str();
        if self.range == 1 {
            write!(
                f,
                "{ip}:{}->{}/{proto}",
                self.host_port, self.container_port
            )
        } else {
            let n = self.range - 1;
            write!(
                f,
                "{ip}:{}-{}->{}-{}/{proto}",
                self.host_port,
                self.host_port + n,
                self.container_port,
                self.container_port + n
            )
        }
    }
}

/// `roost port CTR` lines: `80/tcp -> 0.0.0.0:8080`, one per port, sorted by container port.
pub fn port_lines(ports: &[PortMapping], only: Option<(u16, Option<Protocol>)>) -> Vec<String> {
    let mut rows: Vec<(u16, Protocol, String)> = Vec::new();
    for m in ports {
        for (h, c) in m.pairs() {
            if let Some((want, proto)) = only
                && (want != c || proto.is_some_and(|p| p != m.protocol))
            {
                continue;
            }
            let host = format!("{}:{h}", m.host_ip_text());
            rows.push((c, m.protocol, host));
        }
    }
    rows.sort();
    rows.into_iter()
        .map(|(c, p, host)| {
            if only.is_some() {
                host
            } else {
                format!("{c}/{} -> {host}", p.as_str())
            }
        })
        .collect()
}

/// A host port that cannot be listened on.
#[derive(Debug, thiserror::Error)]
#[error("cannot publish host port {port}/{} on {addr}: {why}", .protocol.as_str())]
pub struct PortBusy {
    /// `0.0.0.0`, `[::]`…
    pub addr: String,
    pub port: u16,
    pub protocol: Protocol,
    pub why: String,
    /// Someone else holds it (rather than, say, a missing address).
    pub in_use: bool,
}

impl PortBusy {
    pub fn hint(&self) -> Option<String> {
        let ss = match self.protocol {
            Protocol::Tcp => "ss -ltnp",
            Protocol::Udp => "ss -lunp",
        };
        self.in_use.then(|| {
            format!(
                "stop the program that holds it (`{ss} 'sport = :{p}'` shows which), publish another host port (`-p {next}:…`), or publish on one host address where it is free (`-p IP:{p}:…`)",
                p = self.port,
                next = self.port.wrapping_add(1).max(1),
            )
        })
    }
}

/// Check that every host port of `ports` can be listened on, on each address the helper listens
/// on: the mapping's own address, else `0.0.0.0` and, with `ipv6`, `[::]` as well (pasta listens
/// on both, and when one of them is taken it would publish on the other alone, silently).
/// A port is checked by binding it and letting it go, as the helper does (TCP with SO_REUSEADDR,
/// so connections that are closing do not count).
pub fn check_free(ports: &[PortMapping], ipv6: bool) -> Result<(), PortBusy> {
    let any4 = IpAddr::V4(Ipv4Addr::UNSPECIFIED);
    let any6 = IpAddr::V6(Ipv6Addr::UNSPECIFIED);
    for m in ports {
        let addrs = match m.host_ip {
            Some(a) => vec![a],
            None if ipv6 => vec![any4, any6],
            None => vec![any4],
        };
        for (host, _) in m.pairs().filter(|(h, _)| *h != 0) {
            for &addr in &addrs {
                probe(addr, host, m.protocol)?;
            }
        }
    }
    Ok(())
}

fn probe(addr: IpAddr, port: u16, protocol: Protocol) -> Result<(), PortBusy> {
    let sa = SocketAddr::new(addr, port);
    let res = match protocol {
        Protocol::Tcp => TcpListener::bind(sa).map(drop),
        Protocol::Udp => UdpSocket::bind(sa).map(drop),
    };
    let Err(e) = res else {
        return Ok(());
    };
    // A host without IPv6: the helper does not listen there either.
    if addr.is_ipv6()
        && addr.is_unspecified()
        && matches!(
            e.raw_os_error(),
            Some(libc::EAFNOSUPPORT | libc::EADDRNOTAVAIL)
        )
    {
        return Ok(());
    }
    let in_use = e.kind() == std::io::ErrorKind::AddrInUse;
    let why = if in_use {
        let held = holders(port, protocol);
        if held.is_empty() {
            "address already in use".to_string()
        } else {
            format!("address already in use ({} taken)", held.join(", "))
        }
    } else {
        e.to_string()
    };
    Err(PortBusy {
        addr: match addr {
            IpAddr::V6(a) => format!("[{a}]"),
            a => a.to_string(),
        },
        port,
        protocol,
        why,
        in_use,
    })
}

/// The local addresses listening on `port` in this network namespace, from /proc/net.
fn holders(port: u16, protocol: Protocol) -> Vec<String> {
    // Listening TCP sockets are in state 0A; bound UDP sockets in 07.
    let (files, state) = match protocol {
        Protocol::Tcp => (["/proc/net/tcp", "/proc/net/tcp6"], "0A"),
        Protocol::Udp => (["/proc/net/udp", "/proc/net/udp6"], "07"),
    };
    let mut out = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(f).unwrap_or_default();
        for line in text.lines().skip(1) {
            let fields: Vec<&str> = line.split_whitespace().collect();
            if fields.get(3) != Some(&state) {
                continue;
            }
            let Some(local) = fields.get(1).and_then(|l| proc_net_addr(l)) else {
                continue;
            };
            let text = local.to_string();
            if local.port() == port && !out.contains(&text) {
                out.push(text);
            }
        }
    }
    out
}

/// `0100007F:1F90` (IPv4) or 32 hex digits then `:PORT` (IPv6): the kernel prints each 32-bit
/// word of the address as it lies in memory, read as a native integer.
fn proc_net_addr(s: &str) -> Option<SocketAddr> {
    let (addr, port) = s.split_once(':')?;
    let port = u16::from_str_radix(port, 16).ok()?;
    let mut bytes = Vec::with_capacity(16);
    for i in (0..addr.len()).step_by(8) {
        let word = u32::from_str_radix(addr.get(i..i + 8)?, 16).ok()?;
        bytes.extend_from_slice(&word.to_ne_bytes());
    }
    let ip = match bytes.len() {
        4 => IpAddr::from(<[u8; 4]>::try_from(bytes).ok()?),
        16 => IpAddr::from(<[u8; 16]>::try_from(bytes).ok()?),
        _ => return None,
    };
    Some(SocketAddr::new(ip, port))
}

/// `80`, `80/udp` as given to `roost port CTR PORT`.
pub fn parse_port_query(s: &str) -> Result<(u16, Option<Protocol>), PortError> {
    let (p, proto) = match s.split_once('/') {
        Some((p, pr)) => (p, Some(pr)),
        None => (s, None),
    };
    let port = p.parse::<u16>().map_err(|_| err(s, "not a port number"))?;
    let proto = match proto {
        None => None,
        Some("tcp") => Some(Protocol::Tcp),
        Some("udp") => Some(Protocol::Udp),
        Some(o) => return Err(err(s, format!("unknown protocol `{o}`"))),
    };
    Ok((port, proto))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(spec: &str) -> PortMapping {
        let v = parse_publish(spec).unwrap();
        assert_eq!(v.len(), 1, "{spec}");
        v.into_iter().next().unwrap()
    }

    #[test]
    fn publish_forms() {
        let m = one("8080:80");
        assert_eq!(
            (m.host_ip, m.host_port, m.container_port, m.range),
            (None, 8080, 80, 1)
        );
        assert_eq!(m.protocol, Protocol::Tcp);
        let m = one("127.0.0.1:8080:80/udp");
        assert_eq!(m.host_ip, Some("127.0.0.1".parse().unwrap()));
        assert_eq!(m.protocol, Protocol::Udp);
        let m = one("127.0.0.1::80");
        assert_eq!((m.host_port, m.container_port), (0, 80));
        let m = one("80");
        assert_eq!((m.host_ip, m.host_port, m.container_port), (None, 0, 80));
        let m = one("8000-8010:80-90");
        assert_eq!((m.host_port, m.container_port, m.range), (8000, 80, 11));
        let m = one("[::1]:8080:80");
        assert_eq!(m.host_ip, Some("::1".parse().unwrap()));
        assert_eq!(m.to_string(), "[::1]:8080->80/tcp");
        let m = one("80-82");
        assert_eq!((m.host_port, m.container_port, m.range), (0, 80, 3));
        assert_eq!(parse_publish("53:53/tcp,udp").unwrap().len(), 2);
    }

    #[test]
    fn publish_errors_say_why() {
        for (spec, why) in [
            ("8000-8010:80-85", "same length"),
            ("8080:0", "between 1 and 65535"),
            ("x:80", "between 1 and 65535"),
            ("nope:8080:80", "not an IP address"),
            ("80/sctp", "sctp"),
            ("80/icmp", "unknown protocol"),
            ("1:2:3:4", "too many"),
            ("90-80", "ends before"),
            ("8080:80-82", "needs a host port range"),
            ("65535-65535:65535-65535", ""),
        ] {
            match parse_publish(spec) {
                Err(e) => assert!(e.to_string().contains(why), "{spec}: {e}"),
                Ok(_) if why.is_empty() => {}
                Ok(v) => panic!("{spec} parsed: {v:?}"),
            }
        }
    }

    #[test]
    fn display_and_port_lines() {
        let mut ms = parse_publish("127.0.0.1:8000-8001:80-81").unwrap();
        ms.extend(parse_publish("9090:53/udp").unwrap());
        assert_eq!(ms[0].to_string(), "127.0.0.1:8000-8001->80-81/tcp");
        assert_eq!(
            port_lines(&ms, None),
            [
                "53/udp -> 0.0.0.0:9090",
                "80/tcp -> 127.0.0.1:8000",
                "81/tcp -> 127.0.0.1:8001"
            ]
        );
        assert_eq!(port_lines(&ms, Some((81, None))), ["127.0.0.1:8001"]);
        assert!(port_lines(&ms, Some((53, Some(Protocol::Tcp)))).is_empty());
    }

    #[test]
    fn expose_entries() {
        assert_eq!(parse_expose("80").unwrap(), (80, 1, Protocol::Tcp));
        assert_eq!(parse_expose("53/udp").unwrap(), (53, 1, Protocol::Udp));
        assert_eq!(
            parse_expose("8000-8002/tcp").unwrap(),
            (8000, 3, Protocol::Tcp)
        );
        assert!(parse_expose("80/x").is_err());
    }

    #[test]
    fn proc_net_addresses() {
        let lo = u32::from_ne_bytes([127, 0, 0, 1]);
        let v4 = proc_net_addr(&format!("{lo:08X}:1F90")).unwrap();
        assert_eq!(v4.to_string(), "127.0.0.1:8080");
        let one = u32::from_ne_bytes([0, 0, 0, 1]);
        let v6 = proc_net_addr(&format!("000000000000000000000000{one:08X}:0050")).unwrap();
        assert_eq!(v6.to_string(), "[::1]:80");
        assert!(proc_net_addr("zz:1").is_none());
    }

    #[test]
    fn a_taken_port_is_named_with_its_holder() {
        let taken = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = taken.local_addr().unwrap().port();
        let m = one(&format!("{port}:80"));
        let e = check_free(&[m], true).unwrap_err();
        assert!(e.in_use, "{e}");
        let text = e.to_string();
        assert!(
            text.contains(&format!("host port {port}/tcp on 0.0.0.0"))
                && text.contains(&format!("127.0.0.1:{port} taken")),
            "{text}"
        );
        assert!(e.hint().unwrap().contains(&format!("sport = :{port}")));
        drop(taken);
        check_free(&[one(&format!("{port}:80"))], true).unwrap();
    }
}
