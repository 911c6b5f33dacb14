//! A tap device for the built-in user-mode network: created and configured by the container's
//! child inside its new network namespace (where it holds CAP_NET_ADMIN), with the classic ioctls
//! (no netlink needed): loopback up, the tap's MTU, MAC, IPv4 address, IPv6 address and default
//! routes.
use std::ffi::c_char;
use std::io;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

/// What the tap device gets.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TapConfig {
    pub name: String,
    pub mtu: u32,
    pub mac: Option<[u8; 6]>,
    pub addr: Ipv4Addr,
    pub prefix: u8,
    pub gateway: Ipv4Addr,
    /// Address, prefix length and gateway, when IPv6 is wanted (skipped where the kernel has none).
    pub ipv6: Option<(Ipv6Addr, u8, Ipv6Addr)>,
}

/// struct ifreq: the name and a 24-byte union (a sockaddr, flags, mtu, ifindex).
#[repr(C, align(8))]
struct IfReq {
    name: [c_char; libc::IFNAMSIZ],
    data: [u8; 24],
}

impl IfReq {
    fn new(name: &str) -> io::Result<IfReq> {
        if name.len() >= libc::IFNAMSIZ || name.contains('\0') {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("bad interface name `{name}`"),
            ));
        }
        let mut r = IfReq {
            name: [0; libc::IFNAMSIZ],
            data: [0; 24],
        };
        for (d, s) in r.name.iter_mut().zip(name.bytes()) {
            *d = s as c_char;
        }
        Ok(r)
    }

    fn set_sockaddr_in(&mut self, a: Ipv4Addr) {
        self.data = [0; 24];
        self.data[..2].copy_from_slice(&(libc::AF_INET as u16).to_ne_bytes());
        self.data[4..8].copy_from_slice(&a.octets());
    }
}

/// struct rtentry (64-bit glibc layout).
#[repr(C)]
struct RtEntry {
    rt_pad1: libc::c_ulong,
    rt_dst: libc::sockaddr,
    rt_gateway: libc::sockaddr,
    rt_genmask: libc::sockaddr,
    rt_flags: libc::c_ushort,
    rt_pad2: libc::c_short,
    rt_pad3: libc::c_ulong,
    rt_tos: libc::c_uchar,
    rt_class: libc::c_uchar,
    rt_pad4: [libc::c_short; 3],
    rt_metric: libc::c_short,
    rt_dev: *mut c_char,
    rt_mtu: libc::c_ulong,
    rt_window: libc::c_ulong,
    rt_irtt: libc::c_ushort,
}

/// struct in6_ifreq.
#[repr(C)]
struct In6IfReq {
    addr: libc::in6_addr,
    prefixlen: u32,
    ifindex: libc::c_int,
}

/// struct in6_rtmsg.
#[repr(C)]
struct In6RtMsg {
    dst: libc::in6_addr,
    src: libc::in6_addr,
    gateway: libc::in6_addr,
    kind: u32,
    dst_len: u16,
    src_len: u16,
    metric: u32,
    info: libc::c_ulong,
    flags: u32,
    ifindex: libc::c_int,
}

fn sockaddr_v4(a: Ipv4Addr) -> libc::sockaddr {
    // SAFETY: sockaddr is plain old data; all zeroes is a valid value.
    let mut s: libc::sockaddr = unsafe { std::mem::zeroed() };
    s.sa_family = libc::AF_INET as libc::sa_family_t;
    // sockaddr_in: port (2 bytes) then the address, inside sa_data.
    for (i, b) in a.octets().iter().enumerate() {
        s.sa_data[2 + i] = *b as c_char;
    }
    s
}

fn check(r: libc::c_int, what: &str) -> io::Result<()> {
    if r < 0 {
        let e = io::Error::last_os_error();
        return Err(io::Error::new(e.kind(), format!("{what}: {e}")));
    }
    Ok(())
}

/// An ioctl whose argument is a pointer to `arg`.
fn ioctl<T>(fd: RawFd, req: libc::c_ulong, arg: &mut T, what: &str) -> io::Result<()> {
    // SAFETY: every caller passes the request's documented argument struct (repr(C), the kernel's
    // layout), which outlives the call; the kernel reads or writes only within it.
    check(
        unsafe { libc::ioctl(fd, req as _, arg as *mut T as *mut libc::c_void) },
        what,
    )
}

fn socket(family: libc::c_int) -> io::Result<OwnedFd> {
    // SAFETY: socket(2) takes integers and returns a new descriptor or -1.
    let fd = unsafe { libc::socket(family, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    check(fd, "socket")?;
    // SAFETY: a new descriptor nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Set IFF_UP (and IFF_RUNNING) on `name`.
fn link_up(sock: RawFd, name: &str) -> io::Result<()> {
    let mut r = IfReq::new(name)?;
    ioctl(sock, libc::SIOCGIFFLAGS, &mut r, "SIOCGIFFLAGS")?;
    let flags =
        i16::from_ne_bytes([r.data[0], r.data[1]]) | (libc::IFF_UP | libc::IFF_RUNNING) as i16;
    r.data[..2].copy_from_slice(&flags.to_ne_bytes());
    ioctl(sock, libc::SIOCSIFFLAGS, &mut r, "SIOCSIFFLAGS")
}

/// Open /dev/net/tun as the tap device `cfg.name` (no packet info header), non-blocking.
fn open_tap(name: &str) -> io::Result<OwnedFd> {
    let path = c"/dev/net/tun";
    // SAFETY: open(2) with a NUL-terminated path literal.
    let fd = unsafe {
        libc::open(
            path.as_ptr(),
            libc::O_RDWR | libc::O_CLOEXEC | libc::O_NONBLOCK,
        )
    };
    check(fd, "open /dev/net/tun")?;
    // SAFETY: a new descriptor nothing else owns.
    let tap = unsafe { OwnedFd::from_raw_fd(fd) };
    let mut r = IfReq::new(name)?;
    r.data[..2].copy_from_slice(&((libc::IFF_TAP | libc::IFF_NO_PI) as i16).to_ne_bytes());
    ioctl(tap.as_raw_fd(), libc::TUNSETIFF as _, &mut r, "TUNSETIFF")?;
    // Persistent, so that closing the descriptor when the container ends does not unregister the
    // device there and then: that waits for RCU grace periods (~20 ms, measured with strace as a
    // close(2) of the tap that held up every `run --rm`). The device goes with its network
    // namespace instead, which the kernel dismantles in the background once the container and
    // this descriptor are gone.
    // SAFETY: TUNSETPERSIST takes its flag by value; tap is the tun descriptor just attached.
    let r = unsafe {
        libc::ioctl(
            tap.as_raw_fd(),
            libc::TUNSETPERSIST as _,
            1 as libc::c_ulong,
        )
    };
    check(r, "TUNSETPERSIST")?;
    Ok(tap)
}

fn configure_v4(sock: RawFd, cfg: &TapConfig) -> io::Result<()> {
    let mut r = IfReq::new(&cfg.name)?;
    r.data[..4].copy_from_slice(&(cfg.mtu as i32).to_ne_bytes());
    ioctl(sock, libc::SIOCSIFMTU, &mut r, "SIOCSIFMTU")?;
    if let Some(mac) = cfg.mac {
        let mut r = IfReq::new(&cfg.name)?;
        r.data[..2].copy_from_slice(&libc::ARPHRD_ETHER.to_ne_bytes());
        r.data[2..8].copy_from_slice(&mac);
        ioctl(sock, libc::SIOCSIFHWADDR, &mut r, "SIOCSIFHWADDR")?;
    }
    let mut r = IfReq::new(&cfg.name)?;
    r.set_sockaddr_in(cfg.addr);
    ioctl(sock, libc::SIOCSIFADDR, &mut r, "SIOCSIFADDR")?;
    let mask = u32::MAX
        .checked_shl(32 - u32::from(cfg.prefix))
        .unwrap_or(0);
    r.set_sockaddr_in(Ipv4Addr::from(mask));
    ioctl(sock, libc::SIOCSIFNETMASK, &mut r, "SIOCSIFNETMASK")?;
    link_up(sock, &cfg.name)?;
    let mut rt = RtEntry {
        rt_pad1: 0,
        rt_dst: sockaddr_v4(Ipv4Addr::UNSPECIFIED),
        rt_gateway: sockaddr_v4(cfg.gateway),
        rt_genmask: sockaddr_v4(Ipv4Addr::UNSPECIFIED),
        rt_flags: (libc::RTF_UP | libc::RTF_GATEWAY),
        rt_pad2: 0,
        rt_pad3: 0,
        rt_tos: 0,
        rt_class: 0,
        rt_pad4: [0; 3],
        rt_metric: 0,
        rt_dev: std::ptr::null_mut(),
        rt_mtu: 0,
        rt_window: 0,
        rt_irtt: 0,
    };
    ioctl(sock, libc::SIOCADDRT, &mut rt, "SIOCADDRT")
}

fn ifindex(sock: RawFd, name: &str) -> io::Result<libc::c_int> {
    let mut r = IfReq::new(name)?;
    ioctl(sock, libc::SIOCGIFINDEX, &mut r, "SIOCGIFINDEX")?;
    Ok(i32::from_ne_bytes([
        r.data[0], r.data[1], r.data[2], r.data[3],
    ]))
}

fn in6(a: Ipv6Addr) -> libc::in6_addr {
    libc::in6_addr {
        s6_addr: a.octets(),
    }
}

/// The IPv6 address (no duplicate address detection: nothing else is on this link) and the
/// default route.
fn configure_v6(name: &str, index: libc::c_int, v6: (Ipv6Addr, u8, Ipv6Addr)) -> io::Result<()> {
    let (addr, prefix, gw) = v6;
    std::fs::write(format!("/proc/sys/net/ipv6/conf/{name}/accept_dad"), "0")?;
    let sock = socket(libc::AF_INET6)?;
    let mut r = In6IfReq {
        addr: in6(addr),
        prefixlen: u32::from(prefix),
        ifindex: index,
    };
    ioctl(
        sock.as_raw_fd(),
        libc::SIOCSIFADDR,
        &mut r,
        "SIOCSIFADDR (IPv6)",
    )?;
    let mut rt = In6RtMsg {
        dst: in6(Ipv6Addr::UNSPECIFIED),
        src: in6(Ipv6Addr::UNSPECIFIED),
        gateway: in6(gw),
        kind: 0,
        dst_len: 0,
        src_len: 0,
        metric: 1,
        info: 0,
        flags: u32::from(libc::RTF_UP | libc::RTF_GATEWAY),
        ifindex: index,
    };
    ioctl(
        sock.as_raw_fd(),
        libc::SIOCADDRT,
        &mut rt,
        "SIOCADDRT (IPv6)",
    )
}

/// Create and configure the tap device in the current network namespace and bring up loopback;
/// returns the device's descriptor. IPv6 is skipped when the kernel has none.
pub fn create(cfg: &TapConfig) -> io::Result<OwnedFd> {
    let sock = socket(libc::AF_INET)?;
    link_up(sock.as_raw_fd(), "lo")?;
    let tap = open_tap(&cfg.name)?;
    configure_v4(sock.as_raw_fd(), cfg)?;
    if let Some(v6) = cfg.ipv6
        && std::path::Path::new("/proc/sys/net/ipv6").exists()
    {
        let index = ifindex(sock.as_raw_fd(), &cfg.name)?;
        configure_v6(&cfg.name, index, v6)?;
    }
    Ok(tap)
}
