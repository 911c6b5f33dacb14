//! `--network slirp`: slirp4netns's network without its process. The container's child makes a tap
//! device in its new network namespace (`runtime`, with [`tap_config`]) and passes it back; roost
//! runs libslirp (loaded at run time, `sys::slirp`) on it in a thread of whoever holds the container
//! (its monitor, or a foreground `run`), in the host's network namespace. Published ports are
//! libslirp's host forwards: a client on the host's loopback arrives from the gateway (10.0.2.2),
//! any other keeps its source address. The host's loopback is out of reach unless
//! `allow_host_loopback=true`. The stack ends with its holder, so no helper can outlive the
//! container, and its ports are closed when [`Running`] is dropped.
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::fd::OwnedFd;

use super::SlirpOptions;
use super::helper::HelperError;
use super::ports::{PortMapping, Protocol};
use super::slirp::{dns, gateway, guest_addr};
use crate::sys::slirp::{Forward, StackConfig};
use crate::sys::tap::TapConfig;

/// The container's IPv6 address, gateway and DNS (slirp4netns's).
const PREFIX6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 0);
const GUEST6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 0x100);
const GATEWAY6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 2);
const DNS6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 3);

/// Whether libslirp can be loaded here: its version, or why not.
pub fn available() -> Result<&'static str, String> {
    crate::sys::slirp::load().map(|api| api.version.as_str())
}

fn prefix(o: &SlirpOptions) -> u8 {
    o.cidr
        .as_deref()
        .and_then(|c| c.split_once('/'))
        .and_then(|(_, p)| p.parse().ok())
        .unwrap_or(24)
}

fn netmask(o: &SlirpOptions) -> Ipv4Addr {
    Ipv4Addr::from(u32::MAX.checked_shl(32 - u32::from(prefix(o))).unwrap_or(0))
}

/// "aa:bb:cc:dd:ee:ff" → bytes.
fn parse_mac(s: &str) -> Option<[u8; 6]> {
    let b: Vec<u8> = s
        .split(':')
        .map(|p| u8::from_str_radix(p, 16).ok())
        .collect::<Option<_>>()?;
    b.try_into().ok()
}

/// The tap device the container's child makes: `tap0` with slirp4netns's addresses.
pub fn tap_config(o: &SlirpOptions, mac: Option<&str>) -> TapConfig {
    TapConfig {
        name: "tap0".into(),
        mtu: o.mtu,
        mac: mac.and_then(parse_mac),
        addr: guest_addr(o),
        prefix: prefix(o),
        gateway: gateway(o),
        ipv6: o.enable_ipv6.then_some((GUEST6, 64, GATEWAY6)),
    }
}

fn stack_config(o: &SlirpOptions) -> StackConfig {
    let mask = netmask(o);
    let net = Ipv4Addr::from(u32::from(guest_addr(o)) & u32::from(mask));
    StackConfig {
        network: net,
        netmask: mask,
        host: gateway(o),
        dns: dns(o),
        dhcp_start: Ipv4Addr::from(u32::from(net) + 15),
        ipv6: o.enable_ipv6.then_some((PREFIX6, GATEWAY6, DNS6)),
        mtu: o.mtu as usize,
        disable_host_loopback: !o.allow_host_loopback,
    }
}

/// The stack's forwards for `ports`. A port published on every address gets an IPv4 forward and,
/// when the container has IPv6, an IPv6 one (both families reach it, as with pasta); one published
/// on an address gets a forward of that family. libslirp connects within a family only, so an IPv6
/// client reaches the container's IPv6 address.
fn forwards(o: &SlirpOptions, ports: &[PortMapping]) -> Result<Vec<Forward>, HelperError> {
    let mut out = Vec::new();
    for m in ports {
        let what = || {
            let host = m.host_ip.map_or("*".to_string(), |a| match a {
                IpAddr::V4(a) => a.to_string(),
                IpAddr::V6(a) => format!("[{a}]"),
            });
            format!("{host}:{}/{}", m.host_port, m.protocol.as_str())
        };
        let v4 = IpAddr::V4(guest_addr(o));
        let v6 = IpAddr::V6(GUEST6);
        let pairs: Vec<(IpAddr, IpAddr, bool)> = match m.host_ip {
            None => {
                let mut p = vec![(IpAddr::V4(Ipv4Addr::UNSPECIFIED), v4, false)];
                if o.enable_ipv6 {
                    p.push((IpAddr::V6(Ipv6Addr::UNSPECIFIED), v6, true));
                }
                p
            }
            Some(a @ IpAddr::V4(_)) => vec![(a, v4, false)],
            Some(a @ IpAddr::V6(_)) if o.enable_ipv6 => vec![(a, v6, false)],
            Some(IpAddr::V6(_)) => {
                return Err(HelperError::Publish {
                    what: what(),
                    why: "the container has no IPv6 (the network's enable_ipv6=false): publish on an IPv4 address or drop enable_ipv6=false".into(),
                });
            }
        };
        for (host, guest, optional) in pairs {
            for (h, c) in m.pairs() {
                out.push(Forward {
                    udp: m.protocol == Protocol::Udp,
                    host,
                    host_port: h,
                    guest,
                    guest_port: c,
                    optional,
                });
            }
        }
    }
    Ok(out)
}

/// The stack, running in a thread of ours; dropping it stops it and closes its host sockets.
#[derive(Debug)]
pub struct Running {
    /// Closing it tells the thread to stop.
    stop: Option<OwnedFd>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Running {
    /// Stop without waiting: the process is about to exit, which ends the thread anyway.
    pub fn abandon(&mut self) {
        self.stop.take();
        self.thread.take();
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.stop.take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Start the stack on `tap` and publish `ports`; returns once they listen (or failed to).
pub fn start(
    tap: OwnedFd,
    o: &SlirpOptions,
    ports: &[PortMapping],
) -> Result<Running, HelperError> {
    let api = crate::sys::slirp::load().map_err(|why| HelperError::NoLibslirp { why })?;
    let cfg = stack_config(o);
    let fwd = forwards(o, ports)?;
    // A port published on every address fails when either family's is taken, rather than being
    // published on the other alone (as pasta's; the error names who holds it).
    super::ports::check_free(ports, o.enable_ipv6)?;
    let start_err = |source| HelperError::Start {
        program: "libslirp".into(),
        source,
    };
    let (stop_r, stop_w) =
        nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(|e| start_err(e.into()))?;
    let (tx, rx) = std::sync::mpsc::sync_channel(1);
    tracing::debug!(version = %api.version, ports = fwd.len(), "start libslirp");
    let thread = std::thread::Builder::new()
        .name("slirp".into())
        .stack_size(256 * 1024)
        .spawn(move || {
            crate::sys::slirp::run(api, &cfg, tap, &fwd, stop_r, |r| {
                let _ = tx.send(r);
            })
        })
        .map_err(start_err)?;
    let running = Running {
        stop: Some(stop_w),
        thread: Some(thread),
    };
    match rx.recv() {
        Ok(Ok(())) => Ok(running),
        Ok(Err((f, e))) => Err(HelperError::Publish {
            what: format!(
                "{}/{}",
                std::net::SocketAddr::new(f.host, f.host_port),
                if f.udp { "udp" } else { "tcp" }
            ),
            why: e.to_string(),
        }),
        Err(_) => Err(HelperError::Failed {
            program: "libslirp".into(),
            detail: String::new(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses() {
        let o = SlirpOptions {
            cidr: Some("10.5.0.0/16".into()),
            enable_ipv6: true,
            ..SlirpOptions::default()
        };
        let t = tap_config(&o, Some("02:42:ac:11:00:02"));
        assert_eq!(t.addr.to_string(), "10.5.0.100");
        assert_eq!(t.prefix, 16);
        assert_eq!(t.gateway.to_string(), "10.5.0.2");
        assert_eq!(t.mac, Some([2, 0x42, 0xac, 0x11, 0, 2]));
        assert_eq!(t.ipv6.unwrap().0.to_string(), "fd00::100");
        let s = stack_config(&o);
        assert_eq!(s.netmask.to_string(), "255.255.0.0");
        assert_eq!(s.network.to_string(), "10.5.0.0");
        assert_eq!(s.dns.to_string(), "10.5.0.3");
        assert!(s.disable_host_loopback);
        let ports = [PortMapping {
            host_ip: Some("::1".parse().unwrap()),
            host_port: 8080,
            container_port: 80,
            range: 1,
            protocol: Protocol::Tcp,
        }];
        let f = forwards(&o, &ports).unwrap();
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].guest.to_string(), "fd00::100");
        assert!(!f[0].optional);
        let every = [PortMapping {
            host_ip: None,
            ..ports[0].clone()
        }];
        let f = forwards(&o, &every).unwrap();
        let hosts: Vec<String> = f
            .iter()
            .map(|f| format!("{}>{}", f.host, f.guest))
            .collect();
        assert_eq!(hosts, ["0.0.0.0>10.5.0.100", "::>fd00::100"]);
        assert!(f[1].optional);
        let v4only = SlirpOptions {
            enable_ipv6: false,
            ..o.clone()
        };
        assert_eq!(forwards(&v4only, &every).unwrap().len(), 1);
        assert!(forwards(&v4only, &ports).is_err());
    }
}
