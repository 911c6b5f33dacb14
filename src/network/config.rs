//! Network definitions in podman's (and netavark's) JSON shape: what `network create` makes, what
//! `network inspect` prints, and what netavark is handed. Creating one is pure: a name, the options
//! and the networks that exist already give the new definition.
#![deny(clippy::print_stdout, clippy::print_stderr)]

use std::collections::BTreeMap;
use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use super::NetworkError;
use super::cidr::Cidr;

/// The network every rootless podman knows without creating it.
pub const DEFAULT_NAME: &str = "podman";
/// podman's fixed id for it.
pub const DEFAULT_ID: &str = "2f259bab93aaaaa2542ba43ef33eb990d0999ee1b9924b557b7be53c0b7a1bb9";
const DEFAULT_SUBNET: &str = "10.88.0.0/16";
/// podman's first default subnet pool: /24 networks from 10.89.0.0 on.
const POOL_START: &str = "10.89.0.0/24";

/// A network, as podman stores it (`networks/NAME.json`) and netavark reads it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Network {
    pub name: String,
    pub id: String,
    pub driver: String,
    pub network_interface: String,
    pub created: String,
    #[serde(default)]
    pub subnets: Vec<Subnet>,
    #[serde(default)]
    pub ipv6_enabled: bool,
    #[serde(default)]
    pub internal: bool,
    #[serde(default)]
    pub dns_enabled: bool,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub options: BTreeMap<String, String>,
    #[serde(default)]
    pub ipam_options: BTreeMap<String, String>,
    /// `--dns`: the servers of the network's containers (aardvark-dns forwards to them when the
    /// network has DNS; without, they are the containers' resolv.conf servers).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub network_dns_servers: Vec<IpAddr>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Subnet {
    pub subnet: Cidr,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateway: Option<IpAddr>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease_range: Option<LeaseRange>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LeaseRange {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_ip: Option<IpAddr>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_ip: Option<IpAddr>,
}

/// What `network create` is asked for.
#[derive(Debug, Clone, Default)]
pub struct CreateNetworkOptions {
    pub name: Option<String>,
    pub driver: Option<String>,
    pub subnets: Vec<String>,
    pub gateways: Vec<String>,
    pub ip_ranges: Vec<String>,
    pub internal: bool,
    pub disable_dns: bool,
    pub ipv6: bool,
    pub labels: BTreeMap<String, String>,
    pub options: BTreeMap<String, String>,
    pub interface_name: Option<String>,
    /// `--ignore`: an existing network of that name is not an error.
    pub ignore: bool,
    /// `--dns`: servers for the network's containers.
    pub dns: Vec<String>,
    /// `--ipam-driver`: `host-local` (the default) or `none`.
    pub ipam_driver: Option<String>,
}

/// The implicit default network (`podman`, 10.88.0.0/16 on `podman0`, no DNS), as podman has it.
pub fn default_network(created: &str) -> Network {
    let subnet: Cidr = DEFAULT_SUBNET.parse().expect("constant subnet");
    Network {
        name: DEFAULT_NAME.into(),
        id: DEFAULT_ID.into(),
        driver: "bridge".into(),
        network_interface: "podman0".into(),
        created: created.into(),
        subnets: vec![Subnet {
            subnet,
            gateway: subnet.nth(1),
            lease_range: None,
        }],
        ipv6_enabled: false,
        internal: false,
        dns_enabled: false,
        labels: BTreeMap::new(),
        options: BTreeMap::new(),
        ipam_options: host_local(),
        network_dns_servers: Vec::new(),
    }
}

/// The definition handed to netavark: networks are isolated from each other unless their `isolate`
/// option says otherwise (Docker's default for user-defined networks; netavark routes between
/// bridges without it).
pub fn for_netavark(net: &Network) -> Network {
    let mut n = net.clone();
    n.options
        .entry("isolate".into())
        .or_insert_with(|| "true".into());
    n
}

fn host_local() -> BTreeMap<String, String> {
    BTreeMap::from([("driver".to_string(), "host-local".to_string())])
}

/// podman's name rule: `[a-zA-Z0-9][a-zA-Z0-9_.-]*`.
pub fn validate_name(name: &str) -> Result<(), NetworkError> {
    let mut chars = name.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphanumeric());
    if first_ok && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')) {
        Ok(())
    } else {
        Err(NetworkError::InvalidName(name.to_string()))
    }
}

/// Build a new network definition. `existing` includes the default network; `id` and `created` are
/// supplied by the caller (random and now).
pub fn build(
    opts: &CreateNetworkOptions,
    existing: &[Network],
    name: String,
    id: String,
    created: String,
) -> Result<Network, NetworkError> {
    validate_name(&name)?;
    let driver = opts.driver.clone().unwrap_or_else(|| "bridge".into());
    if driver != "bridge" {
        return Err(NetworkError::Unsupported(format!(
            "driver `{driver}` (only `bridge` networks are supported)"
        )));
    }
    let (options, interface) = bridge_options(opts)?;
    let ipam = ipam_driver(opts)?;
    let used: Vec<Cidr> = existing
        .iter()
        .flat_map(|n| n.subnets.iter().map(|s| s.subnet))
        .collect();
    let (subnets, ipv6_enabled) = if ipam == "none" {
        (Vec::new(), opts.ipv6)
    } else {
        let mut subnets = requested_subnets(opts, &used)?;
        let v6 = add_default_subnets(&mut subnets, &used, opts.ipv6)?;
        (subnets, v6)
    };
    let network_interface = bridge_name(interface, existing)?;
    Ok(Network {
        name,
        id,
        driver,
        network_interface,
        created,
        subnets,
        ipv6_enabled,
        internal: opts.internal,
        // aardvark-dns listens on the gateway: a network without addresses has none.
        dns_enabled: !opts.disable_dns && ipam != "none",
        labels: opts.labels.clone(),
        options,
        ipam_options: BTreeMap::from([("driver".to_string(), ipam.to_string())]),
        network_dns_servers: dns_servers(&opts.dns)?,
    })
}

/// `--ipam-driver`: `host-local` hands out addresses from the subnets; `none` gives the
/// containers' interfaces no address (and so takes no subnet). `dhcp` needs a macvlan network.
fn ipam_driver(opts: &CreateNetworkOptions) -> Result<&'static str, NetworkError> {
    match opts.ipam_driver.as_deref() {
        None | Some("" | "host-local") => Ok("host-local"),
        Some("none")
            if opts.subnets.is_empty() && opts.gateways.is_empty() && opts.ip_ranges.is_empty() =>
        {
            Ok("none")
        }
        Some("none") => Err(NetworkError::Invalid(
            "none ipam driver is set but subnets are given".into(),
        )),
        Some("dhcp") => Err(NetworkError::Unsupported(
            "ipam driver `dhcp` (it needs a macvlan network; roost has bridge networks only)"
                .into(),
        )),
        Some(other) => Err(NetworkError::Unsupported(format!(
            "ipam driver `{other}` (use host-local or none)"
        ))),
    }
}

/// `--dns`: IP addresses.
fn dns_servers(items: &[String]) -> Result<Vec<IpAddr>, NetworkError> {
    items
        .iter()
        .map(|d| d.parse().map_err(|_| NetworkError::BadAddress(d.clone())))
        .collect()
}

/// The `--opt`s a bridge takes, checked, and the interface name asked for (`--interface-name` or
/// the `com.docker.network.bridge.name` option).
fn bridge_options(
    opts: &CreateNetworkOptions,
) -> Result<(BTreeMap<String, String>, Option<String>), NetworkError> {
    let mut options = BTreeMap::new();
    let mut interface = opts.interface_name.clone();
    for (k, v) in &opts.options {
        match k.as_str() {
            "mtu" | "metric" => {
                v.parse::<u32>()
                    .map_err(|_| NetworkError::BadOption(format!("{k}={v}")))?;
                options.insert(k.clone(), v.clone());
            }
            "isolate" => {
                if !matches!(v.as_str(), "true" | "false" | "strict") {
                    return Err(NetworkError::BadOption(format!("{k}={v}")));
                }
                options.insert(k.clone(), v.clone());
            }
            "com.docker.network.bridge.name" => interface = Some(v.clone()),
            _ => return Err(NetworkError::BadOption(k.clone())),
        }
    }
    Ok((options, interface))
}

/// The `--subnet`s with their `--gateway` and `--ip-range` (by position), none overlapping `used`.
fn requested_subnets(
    opts: &CreateNetworkOptions,
    used: &[Cidr],
) -> Result<Vec<Subnet>, NetworkError> {
    if opts.gateways.len() > opts.subnets.len() {
        return Err(NetworkError::Invalid(
            "cannot set more gateways than subnets".into(),
        ));
    }
    if opts.ip_ranges.len() > opts.subnets.len() {
        return Err(NetworkError::Invalid(
            "cannot set more ranges than subnets".into(),
        ));
    }
    let mut subnets = Vec::new();
    for (i, s) in opts.subnets.iter().enumerate() {
        let subnet: Cidr = s.parse().map_err(|_| NetworkError::BadSubnet(s.clone()))?;
        if let Some(u) = used.iter().find(|u| u.overlaps(&subnet)) {
            return Err(NetworkError::SubnetInUse {
                subnet: subnet.to_string(),
                other: u.to_string(),
            });
        }
        let gateway = match opts.gateways.get(i) {
            Some(g) => {
                let ip: IpAddr = g.parse().map_err(|_| NetworkError::BadAddress(g.clone()))?;
                if !subnet.contains(ip) {
                    return Err(NetworkError::Invalid(format!(
                        "gateway {ip} not in subnet {subnet}"
                    )));
                }
                Some(ip)
            }
            None => subnet.nth(1),
        };
        let lease_range = match opts.ip_ranges.get(i) {
            Some(r) => Some(lease_range(r, &subnet)?),
            None => None,
        };
        subnets.push(Subnet {
            subnet,
            gateway,
            lease_range,
        });
    }
    Ok(subnets)
}

/// A free IPv4 subnet when none was given, and a random ULA one for `--ipv6` without an IPv6
/// subnet; whether the network has IPv6.
fn add_default_subnets(
    subnets: &mut Vec<Subnet>,
    used: &[Cidr],
    ipv6: bool,
) -> Result<bool, NetworkError> {
    if subnets.iter().all(|s| s.subnet.is_ipv6()) {
        let subnet = free_subnet(used)?;
        subnets.push(Subnet {
            subnet,
            gateway: subnet.nth(1),
            lease_range: None,
        });
    }
    let ipv6_enabled = ipv6 || subnets.iter().any(|s| s.subnet.is_ipv6());
    if ipv6 && !subnets.iter().any(|s| s.subnet.is_ipv6()) {
        let subnet = random_ula();
        subnets.push(Subnet {
            subnet,
            gateway: subnet.nth(1),
            lease_range: None,
        });
    }
    Ok(ipv6_enabled)
}

/// The bridge's name: the one asked for if no other network has it, else the first free `podmanN`.
fn bridge_name(interface: Option<String>, existing: &[Network]) -> Result<String, NetworkError> {
    match interface {
        Some(i) => {
            if existing.iter().any(|n| n.network_interface == i) {
                return Err(NetworkError::Invalid(format!(
                    "bridge name {i} already in use"
                )));
            }
            Ok(i)
        }
        None => Ok((0..)
            .map(|n| format!("podman{n}"))
            .find(|c| !existing.iter().any(|n| &n.network_interface == c))
            .expect("an unbounded range has a free name")),
    }
}

/// `--ip-range`: a CIDR inside the subnet, or `START-END`.
fn lease_range(r: &str, subnet: &Cidr) -> Result<LeaseRange, NetworkError> {
    let bad = || NetworkError::Invalid(format!("invalid ip range `{r}`"));
    let (start, end) = match r.split_once('-') {
        Some((a, b)) => (
            a.parse::<IpAddr>().map_err(|_| bad())?,
            b.parse::<IpAddr>().map_err(|_| bad())?,
        ),
        None => {
            let c: Cidr = r.parse().map_err(|_| bad())?;
            let first = if c.size() > 2 {
                c.nth(1).ok_or_else(bad)?
            } else {
                c.addr()
            };
            (first, c.last())
        }
    };
    if !subnet.contains(start) || !subnet.contains(end) {
        return Err(NetworkError::Invalid(format!(
            "ip range {r} is not in subnet {subnet}"
        )));
    }
    Ok(LeaseRange {
        start_ip: Some(start),
        end_ip: Some(end),
    })
}

/// The first /24 of podman's pool (10.89.0.0/24 and up) that no network uses.
fn free_subnet(used: &[Cidr]) -> Result<Cidr, NetworkError> {
    let mut candidate: Cidr = POOL_START.parse().expect("constant subnet");
    loop {
        if !used.iter().any(|u| u.overlaps(&candidate)) {
            return Ok(candidate);
        }
        candidate = match candidate.next() {
            Some(c) if c.addr().to_string().starts_with("10.") => c,
            _ => return Err(NetworkError::PoolExhausted),
        };
    }
}

/// A random unique-local /64 (`fdXX:XXXX:XXXX:XXXX::/64`), as podman picks for `--ipv6`.
fn random_ula() -> Cidr {
    let mut bits: [u8; 16] = [0; 16];
    bits[0] = 0xfd;
    let r: [u8; 7] = rand::random();
    bits[1..8].copy_from_slice(&r);
    Cidr::new(IpAddr::from(bits), 64).expect("valid prefix")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts() -> CreateNetworkOptions {
        CreateNetworkOptions::default()
    }

    fn mk(o: &CreateNetworkOptions, existing: &[Network], name: &str) -> Network {
        build(o, existing, name.into(), "x".repeat(64), "now".into()).unwrap()
    }

    #[test]
    fn subnets_come_from_the_pool_in_order() {
        let mut nets = vec![default_network("now")];
        let a = mk(&opts(), &nets, "a");
        assert_eq!(a.subnets[0].subnet.to_string(), "10.89.0.0/24");
        assert_eq!(a.subnets[0].gateway.unwrap().to_string(), "10.89.0.1");
        assert_eq!(a.network_interface, "podman1");
        assert!(a.dns_enabled);
        nets.push(a);
        let b = mk(&opts(), &nets, "b");
        assert_eq!(b.subnets[0].subnet.to_string(), "10.89.1.0/24");
        assert_eq!(b.network_interface, "podman2");
    }

    #[test]
    fn explicit_subnet_gateway_range() {
        let nets = vec![default_network("now")];
        let o = CreateNetworkOptions {
            subnets: vec!["192.168.55.0/24".into()],
            gateways: vec!["192.168.55.254".into()],
            ip_ranges: vec!["192.168.55.128/25".into()],
            internal: true,
            disable_dns: true,
            ..opts()
        };
        let n = mk(&o, &nets, "x");
        assert_eq!(n.subnets[0].gateway.unwrap().to_string(), "192.168.55.254");
        let lr = n.subnets[0].lease_range.as_ref().unwrap();
        assert_eq!(lr.start_ip.unwrap().to_string(), "192.168.55.129");
        assert_eq!(lr.end_ip.unwrap().to_string(), "192.168.55.255");
        assert!(n.internal && !n.dns_enabled);
    }

    #[test]
    fn refusals() {
        let nets = vec![default_network("now")];
        let bad = |o: CreateNetworkOptions, name: &str| {
            build(&o, &nets, name.into(), "x".into(), "now".into()).unwrap_err()
        };
        assert!(matches!(
            bad(
                CreateNetworkOptions {
                    subnets: vec!["10.88.1.0/24".into()],
                    ..opts()
                },
                "a"
            ),
            NetworkError::SubnetInUse { .. }
        ));
        assert!(matches!(bad(opts(), "-x"), NetworkError::InvalidName(_)));
        assert!(matches!(
            bad(
                CreateNetworkOptions {
                    driver: Some("macvlan".into()),
                    ..opts()
                },
                "a"
            ),
            NetworkError::Unsupported(_)
        ));
        assert!(matches!(
            bad(
                CreateNetworkOptions {
                    subnets: vec!["10.5.0.0/24".into()],
                    gateways: vec!["10.6.0.1".into()],
                    ..opts()
                },
                "a"
            ),
            NetworkError::Invalid(_)
        ));
    }

    #[test]
    fn dns_servers_and_ipam_none() {
        let nets = vec![default_network("now")];
        let n = mk(
            &CreateNetworkOptions {
                dns: vec!["192.0.2.53".into(), "2001:db8::53".into()],
                ..opts()
            },
            &nets,
            "d",
        );
        let v = serde_json::to_value(&n).unwrap();
        assert_eq!(v["network_dns_servers"][0], "192.0.2.53");
        assert_eq!(v["network_dns_servers"][1], "2001:db8::53");
        assert!(
            serde_json::to_value(mk(&opts(), &nets, "e")).unwrap()["network_dns_servers"].is_null()
        );
        let bad = |o: CreateNetworkOptions| build(&o, &nets, "x".into(), "x".into(), "now".into());
        assert!(matches!(
            bad(CreateNetworkOptions {
                dns: vec!["dns.example".into()],
                ..opts()
            }),
            Err(NetworkError::BadAddress(_))
        ));
        let none = mk(
            &CreateNetworkOptions {
                ipam_driver: Some("none".into()),
                ..opts()
            },
            &nets,
            "n",
        );
        assert!(none.subnets.is_empty() && !none.dns_enabled);
        assert_eq!(none.ipam_options["driver"], "none");
        assert!(
            bad(CreateNetworkOptions {
                ipam_driver: Some("none".into()),
                subnets: vec!["10.9.0.0/24".into()],
                ..opts()
            })
            .is_err()
        );
        for d in ["dhcp", "magic"] {
            assert!(matches!(
                bad(CreateNetworkOptions {
                    ipam_driver: Some(d.into()),
                    ..opts()
                }),
                Err(NetworkError::Unsupported(_))
            ));
        }
    }

    #[test]
    fn ipv6_adds_a_ula_subnet() {
        let n = mk(
            &CreateNetworkOptions {
                ipv6: true,
                ..opts()
            },
            &[default_network("now")],
            "v6",
        );
        assert!(n.ipv6_enabled);
        assert_eq!(n.subnets.len(), 2);
        assert!(n.subnets[1].subnet.to_string().starts_with("fd"));
    }

    #[test]
    fn json_shape_is_podmans() {
        let v = serde_json::to_value(default_network("2024-01-01T00:00:00Z")).unwrap();
        assert_eq!(v["network_interface"], "podman0");
        assert_eq!(v["subnets"][0]["subnet"], "10.88.0.0/16");
        assert_eq!(v["subnets"][0]["gateway"], "10.88.0.1");
        assert_eq!(v["ipam_options"]["driver"], "host-local");
        assert_eq!(v["dns_enabled"], false);
    }
}
