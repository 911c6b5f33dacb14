//! IPv4/IPv6 subnets in CIDR form (`10.89.0.0/24`), with the arithmetic that IP allocation needs.
#![deny(clippy::print_stdout, clippy::print_stderr)]

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A subnet: an address and a prefix length, with the host bits zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Cidr {
    addr: IpAddr,
    prefix: u8,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid CIDR address `{0}`")]
pub struct CidrError(pub String);

impl Cidr {
    /// The subnet of `addr/prefix`, host bits cleared.
    pub fn new(addr: IpAddr, prefix: u8) -> Option<Cidr> {
        if prefix > max_prefix(addr) {
            return None;
        }
        let bits = to_bits(addr) & mask(addr, prefix);
        Some(Cidr {
            addr: from_bits(addr, bits),
            prefix,
        })
    }

    pub fn addr(&self) -> IpAddr {
        self.addr
    }

    pub fn is_ipv6(&self) -> bool {
        self.addr.is_ipv6()
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        ip.is_ipv6() == self.addr.is_ipv6()
            && to_bits(ip) & mask(ip, self.prefix) == to_bits(self.addr)
    }

    /// Whether two subnets share any address.
    pub fn overlaps(&self, other: &Cidr) -> bool {
        self.contains(other.addr) || other.contains(self.addr)
    }

    /// The `n`th address of the subnet (0 is the network address), if it is inside.
    pub fn nth(&self, n: u128) -> Option<IpAddr> {
        let size = self.size();
        (n < size).then(|| from_bits(self.addr, to_bits(self.addr) + n))
    }

    /// The offset of `ip` in the subnet.
    pub fn offset(&self, ip: IpAddr) -> Option<u128> {
        self.contains(ip).then(|| to_bits(ip) - to_bits(self.addr))
    }

    /// Number of addresses (saturating for a /0 IPv6 subnet).
    pub fn size(&self) -> u128 {
        let host_bits = u32::from(max_prefix(self.addr) - self.prefix);
        1u128.checked_shl(host_bits).unwrap_or(u128::MAX)
    }

    /// The last address (IPv4 broadcast).
    pub fn last(&self) -> IpAddr {
        from_bits(self.addr, to_bits(self.addr) + (self.size() - 1))
    }

    /// The subnet of the same size that follows this one.
    pub fn next(&self) -> Option<Cidr> {
        let bits = to_bits(self.addr).checked_add(self.size())?;
        let limit = if self.addr.is_ipv6() {
            u128::MAX
        } else {
            u128::from(u32::MAX)
        };
        (bits <= limit).then(|| Cidr {
            addr: from_bits(self.addr, bits),
            prefix: self.prefix,
        })
    }
}

fn max_prefix(ip: IpAddr) -> u8 {
    if ip.is_ipv6() { 128 } else { 32 }
}

fn to_bits(ip: IpAddr) -> u128 {
    match ip {
        IpAddr::V4(a) => u128::from(u32::from(a)),
        IpAddr::V6(a) => u128::from(a),
    }
}

fn from_bits(like: IpAddr, bits: u128) -> IpAddr {
    match like {
        IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::from(bits as u32)),
        IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::from(bits)),
    }
}

fn mask(ip: IpAddr, prefix: u8) -> u128 {
    let width = u32::from(max_prefix(ip));
    let ones = if width == 128 {
        u128::MAX
    } else {
        (1u128 << width) - 1
    };
    let host = u32::from(max_prefix(ip) - prefix);
    ones & !(1u128.checked_shl(host).unwrap_or(0).wrapping_sub(1))
}

impl FromStr for Cidr {
    type Err = CidrError;
    fn from_str(s: &str) -> Result<Cidr, CidrError> {
        let bad = || CidrError(s.to_string());
        let (a, p) = s.split_once('/').ok_or_else(bad)?;
        let addr: IpAddr = a.parse().map_err(|_| bad())?;
        let prefix: u8 = p.parse().map_err(|_| bad())?;
        Cidr::new(addr, prefix).ok_or_else(bad)
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

impl Serialize for Cidr {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Cidr {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Cidr, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(s: &str) -> Cidr {
        s.parse().unwrap()
    }

    #[test]
    fn parse_and_normalise() {
        assert_eq!(c("10.89.0.7/24").to_string(), "10.89.0.0/24");
        assert_eq!(c("fd00::1/64").to_string(), "fd00::/64");
        assert!("10.0.0.0".parse::<Cidr>().is_err());
        assert!("10.0.0.0/33".parse::<Cidr>().is_err());
        assert!("x/8".parse::<Cidr>().is_err());
    }

    #[test]
    fn arithmetic() {
        let n = c("10.89.0.0/24");
        assert_eq!(n.size(), 256);
        assert_eq!(n.nth(1), Some("10.89.0.1".parse().unwrap()));
        assert_eq!(n.nth(256), None);
        assert_eq!(n.last().to_string(), "10.89.0.255");
        assert_eq!(n.next().unwrap().to_string(), "10.89.1.0/24");
        assert_eq!(n.offset("10.89.0.9".parse().unwrap()), Some(9));
        assert!(n.contains("10.89.0.200".parse().unwrap()));
        assert!(!n.contains("10.89.1.1".parse().unwrap()));
        assert!(c("10.88.0.0/16").overlaps(&c("10.88.5.0/24")));
        assert!(!c("10.88.0.0/16").overlaps(&c("10.89.0.0/24")));
        assert_eq!(c("255.255.255.0/24").next(), None);
        assert_eq!(c("0.0.0.0/0").size(), 1 << 32);
        assert_eq!(c("fd00::/64").nth(1).unwrap().to_string(), "fd00::1");
    }
}
