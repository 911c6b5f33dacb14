//! IP address management for the containers attached to the rootless network namespace. Addresses are
//! handed out by the one process that holds the namespace (see `netns`), so the allocation lives only
//! as long as the containers using it: nothing is left reserved after they are gone.
#![deny(clippy::print_stdout, clippy::print_stderr)]

use std::collections::BTreeMap;
use std::net::IpAddr;

use super::NetworkError;
use super::config::{Network, Subnet};

/// Addresses in use, per network name, with the container holding each.
#[derive(Debug, Default)]
pub struct Ipam {
    used: BTreeMap<String, BTreeMap<IpAddr, String>>,
    /// The address last handed out in each subnet (by network name and subnet): the next one
    /// comes after it (podman's IPAM), so an address given back is not reused at once.
    last: BTreeMap<(String, String), IpAddr>,
}

impl Ipam {
    /// Give `container` one address in each subnet of `net`: the `requested` ones where they fall in
    /// a subnet (refused when taken), else the lowest free address of the lease range.
    pub fn allocate(
        &mut self,
        net: &Network,
        container: &str,
        requested: &[IpAddr],
    ) -> Result<Vec<IpAddr>, NetworkError> {
        let taken = self.used.entry(net.name.clone()).or_default();
        for ip in requested {
            if !net.subnets.iter().any(|s| s.subnet.contains(*ip)) {
                return Err(NetworkError::Invalid(format!(
                    "requested static ip {ip} not in any subnet on network {}",
                    net.name
                )));
            }
            if let Some(owner) = taken.get(ip).filter(|o| *o != container) {
                return Err(NetworkError::AddressInUse {
                    ip: *ip,
                    network: net.name.clone(),
                    container: owner.clone(),
                });
            }
        }
        let mut out = Vec::new();
        for s in &net.subnets {
            let key = (net.name.clone(), s.subnet.to_string());
            let ip = match requested.iter().find(|ip| s.subnet.contains(**ip)) {
                Some(ip) => *ip,
                None => {
                    let after = self.last.get(&key).and_then(|ip| s.subnet.offset(*ip));
                    let ip = free_address(s, taken, container, after)?;
                    self.last.insert(key, ip);
                    ip
                }
            };
            taken.insert(ip, container.to_string());
            out.push(ip);
        }
        Ok(out)
    }

    /// Give back everything `container` holds on `network`.
    pub fn release(&mut self, network: &str, container: &str) {
        if let Some(t) = self.used.get_mut(network) {
            t.retain(|_, c| c != container);
            if t.is_empty() {
                self.used.remove(network);
            }
        }
    }

    #[cfg(test)]
    /// The networks `container` holds addresses on.
    pub fn networks_of(&self, container: &str) -> std::collections::BTreeSet<String> {
        self.used
            .iter()
            .filter(|(_, t)| t.values().any(|c| c == container))
            .map(|(n, _)| n.clone())
            .collect()
    }
}

/// The first free address of `s`'s lease range after offset `after` (wrapping around), or from
/// the start.
fn free_address(
    s: &Subnet,
    taken: &BTreeMap<IpAddr, String>,
    container: &str,
    after: Option<u128>,
) -> Result<IpAddr, NetworkError> {
    let size = s.subnet.size();
    // The network address, and for IPv4 the broadcast address, are never handed out.
    let last = if s.subnet.is_ipv6() {
        size - 1
    } else {
        size.saturating_sub(2)
    };
    let (mut first, mut end) = (1u128, last);
    if let Some(r) = &s.lease_range {
        if let Some(o) = r.start_ip.and_then(|ip| s.subnet.offset(ip)) {
            first = first.max(o);
        }
        if let Some(o) = r.end_ip.and_then(|ip| s.subnet.offset(ip)) {
            end = end.min(o);
        }
    }
    let free = |n: u128| {
        let ip = s.subnet.nth(n).expect("inside the subnet");
        (Some(ip) != s.gateway && taken.get(&ip).is_none_or(|c| c == container)).then_some(ip)
    };
    let start = after
        .filter(|a| (first..end).contains(a))
        .map_or(first, |a| a + 1);
    let found = (start..=end).find_map(free);
    found
        .or_else(|| (first..start).find_map(free))
        .ok_or_else(|| NetworkError::Exhausted(s.subnet.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::network::config::{CreateNetworkOptions, build, default_network};

    fn net(subnet: &str, range: Option<&str>) -> Network {
        build(
            &CreateNetworkOptions {
                subnets: vec![subnet.into()],
                ip_ranges: range.map(|r| vec![r.to_string()]).unwrap_or_default(),
                ..Default::default()
            },
            &[default_network("now")],
            "n".into(),
            "id".into(),
            "now".into(),
        )
        .unwrap()
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn sequential_and_released() {
        let n = net("10.9.0.0/24", None);
        let mut ipam = Ipam::default();
        assert_eq!(ipam.allocate(&n, "a", &[]).unwrap(), vec![ip("10.9.0.2")]);
        assert_eq!(ipam.allocate(&n, "b", &[]).unwrap(), vec![ip("10.9.0.3")]);
        ipam.release("n", "a");
        // Given back, .2 is not reused at once: the next address comes after the last one.
        assert_eq!(ipam.allocate(&n, "c", &[]).unwrap(), vec![ip("10.9.0.4")]);
        assert_eq!(ipam.networks_of("b").len(), 1);
    }

    #[test]
    fn static_ips_and_conflicts() {
        let n = net("10.9.0.0/24", None);
        let mut ipam = Ipam::default();
        assert_eq!(
            ipam.allocate(&n, "a", &[ip("10.9.0.50")]).unwrap(),
            vec![ip("10.9.0.50")]
        );
        let e = ipam.allocate(&n, "b", &[ip("10.9.0.50")]).unwrap_err();
        assert!(matches!(e, NetworkError::AddressInUse { .. }), "{e}");
        assert!(ipam.allocate(&n, "b", &[ip("10.8.0.5")]).is_err());
    }

    #[test]
    fn lease_range_and_exhaustion() {
        let n = net("10.9.0.0/24", Some("10.9.0.10-10.9.0.11"));
        let mut ipam = Ipam::default();
        assert_eq!(ipam.allocate(&n, "a", &[]).unwrap(), vec![ip("10.9.0.10")]);
        assert_eq!(ipam.allocate(&n, "b", &[]).unwrap(), vec![ip("10.9.0.11")]);
        assert!(matches!(
            ipam.allocate(&n, "c", &[]),
            Err(NetworkError::Exhausted(_))
        ));
        // Past the end of the range, allocation wraps around to the first free address.
        ipam.release("n", "a");
        assert_eq!(ipam.allocate(&n, "c", &[]).unwrap(), vec![ip("10.9.0.10")]);
    }
}
