//! Thinning of the pure ACKs libslirp sends the guest. libslirp acknowledges every data segment
//! from the guest at once, each with a frame of its own; when the relay reads several segments of
//! a connection in a row, every ACK but the last is superseded before the guest could use it, yet
//! each costs a write to the tap device and a pass through the guest's TCP stack. The relay
//! holds the newest pure ACK back while it reads, and writes it before anything else (or before
//! it waits): the guest gets one cumulative ACK per burst, as from a receiver that delays ACKs.
//! A duplicate ACK (same number) is never merged, so the guest's loss detection is unchanged.

/// Pure ACKs are 54 (IPv4) or 74 (IPv6) bytes; with TCP options at most 14 + 40 + 60.
const MAX_FRAME: usize = 128;

/// A connection as seen in one direction: IP version, addresses and ports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Flow {
    v6: bool,
    addrs_ports: [u8; 36],
}

/// A pure ACK: its connection and acknowledgement number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ack {
    flow: Flow,
    number: u32,
}

/// The TCP header offset, payload length and address range of an IPv4 (no options, not a
/// fragment) or IPv6 (no extension header) TCP frame.
fn tcp_layout(f: &[u8]) -> Option<(usize, usize, std::ops::Range<usize>)> {
    let be16 = |i: usize| Some(u16::from_be_bytes([*f.get(i)?, *f.get(i + 1)?]));
    match be16(12)? {
        0x0800 => {
            let plain = f.get(14)? & 0x0f == 5 && be16(20)? & 0x3fff == 0;
            (plain && *f.get(23)? == 6).then_some((
                34,
                usize::from(be16(16)?).checked_sub(20)?,
                26..34,
            ))
        }
        0x86dd => (*f.get(20)? == 6).then_some((54, usize::from(be16(18)?), 22..54)),
        _ => None,
    }
}

/// `frame` (Ethernet) as a pure ACK: TCP with the ACK flag alone and no payload.
pub fn pure_ack(frame: &[u8]) -> Option<Ack> {
    let (tcp, segment, addrs) = tcp_layout(frame)?;
    let header = usize::from(frame.get(tcp + 12)? >> 4) * 4;
    let ack_only = *frame.get(tcp + 13)? == 0x10;
    if !ack_only || segment != header || frame.len() > MAX_FRAME {
        return None;
    }
    let mut addrs_ports = [0u8; 36];
    let a = frame.get(addrs)?;
    addrs_ports[..a.len()].copy_from_slice(a);
    addrs_ports[32..].copy_from_slice(frame.get(tcp..tcp + 4)?);
    let number = u32::from_be_bytes(frame.get(tcp + 8..tcp + 12)?.try_into().ok()?);
    Some(Ack {
        flow: Flow {
            v6: tcp == 54,
            addrs_ports,
        },
        number,
    })
}

/// The pure ACK held back, if any.
pub struct Held {
    ack: Option<Ack>,
    frame: [u8; MAX_FRAME],
    len: usize,
}

impl Held {
    pub const fn new() -> Held {
        Held {
            ack: None,
            frame: [0; MAX_FRAME],
            len: 0,
        }
    }

    /// Whether `next` makes the held ACK useless: the same connection, acknowledging further
    /// (sequence numbers wrap around).
    pub fn superseded_by(&self, next: Option<Ack>) -> bool {
        match (self.ack, next) {
            (Some(held), Some(next)) => {
                held.flow == next.flow && (next.number.wrapping_sub(held.number) as i32) > 0
            }
            _ => false,
        }
    }

    /// Hold `frame`, which is `ack` (from [`pure_ack`]), in place of the held one.
    pub fn keep(&mut self, ack: Ack, frame: &[u8]) {
        self.frame[..frame.len()].copy_from_slice(frame);
        self.len = frame.len();
        self.ack = Some(ack);
    }

    /// The held frame, to be written now; nothing is held afterwards.
    pub fn take(&mut self) -> Option<&[u8]> {
        self.ack.take()?;
        Some(&self.frame[..self.len])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An Ethernet + IPv4 + TCP frame from 10.0.2.2:5201 to 10.0.2.100:40000.
    fn v4(flags: u8, ack: u32, payload: usize) -> Vec<u8> {
        let mut f = vec![0u8; 54 + payload];
        f[12..14].copy_from_slice(&[0x08, 0x00]);
        f[14] = 0x45;
        f[16..18].copy_from_slice(&((40 + payload) as u16).to_be_bytes());
        f[23] = 6;
        f[26..30].copy_from_slice(&[10, 0, 2, 2]);
        f[30..34].copy_from_slice(&[10, 0, 2, 100]);
        f[34..36].copy_from_slice(&5201u16.to_be_bytes());
        f[36..38].copy_from_slice(&40000u16.to_be_bytes());
        f[42..46].copy_from_slice(&ack.to_be_bytes());
        f[46] = 0x50;
        f[47] = flags;
        f
    }

    fn v6_ack(ack: u32) -> Vec<u8> {
        let mut f = vec![0u8; 74];
        f[12..14].copy_from_slice(&[0x86, 0xdd]);
        f[14] = 0x60;
        f[18..20].copy_from_slice(&20u16.to_be_bytes());
        f[20] = 6;
        f[22] = 0xfd;
        f[38] = 0xfd;
        f[62..66].copy_from_slice(&ack.to_be_bytes());
        f[66] = 0x50;
        f[67] = 0x10;
        f
    }

    #[test]
    fn only_pure_acks_qualify() {
        assert_eq!(pure_ack(&v4(0x10, 7, 0)).map(|a| a.number), Some(7));
        assert_eq!(pure_ack(&v6_ack(9)).map(|a| a.number), Some(9));
        assert!(pure_ack(&v4(0x10, 7, 1)).is_none(), "data");
        assert!(pure_ack(&v4(0x18, 7, 0)).is_none(), "PSH");
        assert!(pure_ack(&v4(0x12, 7, 0)).is_none(), "SYN-ACK");
        assert!(pure_ack(&v4(0x11, 7, 0)).is_none(), "FIN");
        assert!(pure_ack(&v4(0x14, 7, 0)).is_none(), "RST");
        let mut fragment = v4(0x10, 7, 0);
        fragment[20] = 0x20;
        assert!(pure_ack(&fragment).is_none());
        let mut udp = v4(0x10, 7, 0);
        udp[23] = 17;
        assert!(pure_ack(&udp).is_none());
        assert!(pure_ack(&v4(0x10, 7, 0)[..40]).is_none(), "truncated");
        assert!(pure_ack(&[]).is_none());
    }

    #[test]
    fn a_later_ack_of_the_same_connection_supersedes() {
        let mut h = Held::new();
        assert!(!h.superseded_by(pure_ack(&v4(0x10, 1, 0))), "nothing held");
        let f = v4(0x10, 100, 0);
        h.keep(pure_ack(&f).unwrap(), &f);
        assert!(h.superseded_by(pure_ack(&v4(0x10, 200, 0))));
        assert!(!h.superseded_by(pure_ack(&v4(0x10, 100, 0))), "duplicate");
        assert!(!h.superseded_by(pure_ack(&v4(0x10, 50, 0))), "older");
        assert!(!h.superseded_by(pure_ack(&v6_ack(200))), "other connection");
        assert!(!h.superseded_by(None), "not a pure ACK");
        let mut other = v4(0x10, 200, 0);
        other[36..38].copy_from_slice(&40001u16.to_be_bytes());
        assert!(!h.superseded_by(pure_ack(&other)), "other port");
        assert_eq!(h.take(), Some(&f[..]));
        assert_eq!(h.take(), None);
    }

    #[test]
    fn acknowledgement_numbers_wrap() {
        let mut h = Held::new();
        let f = v4(0x10, u32::MAX - 10, 0);
        h.keep(pure_ack(&f).unwrap(), &f);
        assert!(h.superseded_by(pure_ack(&v4(0x10, 5, 0))));
    }
}
