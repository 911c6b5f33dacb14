//! libslirp, loaded at run time (dlopen: roost runs where it is not installed), driving a
//! container's tap device: the user-mode TCP/IP stack that slirp4netns is built on, run in our own
//! process instead of a helper. [`run`] owns one stack for its whole life on the calling thread:
//! one poll loop over the tap device, libslirp's sockets, its timers and a stop descriptor.
use std::ffi::{CStr, c_char, c_int, c_void};
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::sync::OnceLock;
use std::time::Instant;

/// The library's file name (Debian's libslirp0, Fedora's libslirp).
pub const LIBRARY: &str = "libslirp.so.0";

type SlirpPtr = *mut c_void;
type AddPollCb = unsafe extern "C" fn(c_int, c_int, *mut c_void) -> c_int;
type GetREventsCb = unsafe extern "C" fn(c_int, *mut c_void) -> c_int;
type TimerCb = unsafe extern "C" fn(*mut c_void);

/// SlirpCb (libslirp.h), up to the fields of config version 4.
#[repr(C)]
struct SlirpCb {
    send_packet: unsafe extern "C" fn(*const c_void, usize, *mut c_void) -> isize,
    guest_error: unsafe extern "C" fn(*const c_char, *mut c_void),
    clock_get_ns: unsafe extern "C" fn(*mut c_void) -> i64,
    timer_new: unsafe extern "C" fn(TimerCb, *mut c_void, *mut c_void) -> *mut c_void,
    timer_free: unsafe extern "C" fn(*mut c_void, *mut c_void),
    timer_mod: unsafe extern "C" fn(*mut c_void, i64, *mut c_void),
    register_poll_fd: unsafe extern "C" fn(c_int, *mut c_void),
    unregister_poll_fd: unsafe extern "C" fn(c_int, *mut c_void),
    notify: unsafe extern "C" fn(*mut c_void),
    init_completed: unsafe extern "C" fn(SlirpPtr, *mut c_void),
    timer_new_opaque: unsafe extern "C" fn(c_int, *mut c_void, *mut c_void) -> *mut c_void,
}

/// SlirpConfig (libslirp.h), up to the fields of version 4.
#[repr(C)]
struct SlirpConfig {
    version: u32,
    restricted: c_int,
    in_enabled: bool,
    vnetwork: libc::in_addr,
    vnetmask: libc::in_addr,
    vhost: libc::in_addr,
    in6_enabled: bool,
    vprefix_addr6: libc::in6_addr,
    vprefix_len: u8,
    vhost6: libc::in6_addr,
    vhostname: *const c_char,
    tftp_server_name: *const c_char,
    tftp_path: *const c_char,
    bootfile: *const c_char,
    vdhcp_start: libc::in_addr,
    vnameserver: libc::in_addr,
    vnameserver6: libc::in6_addr,
    vdnssearch: *const *const c_char,
    vdomainname: *const c_char,
    if_mtu: usize,
    if_mru: usize,
    disable_host_loopback: bool,
    enable_emu: bool,
    outbound_addr: *const libc::sockaddr_in,
    outbound_addr6: *const libc::sockaddr_in6,
    disable_dns: bool,
    disable_dhcp: bool,
}

/// The entry points roost uses, resolved once per process.
pub struct Api {
    new: unsafe extern "C" fn(*const SlirpConfig, *const SlirpCb, *mut c_void) -> SlirpPtr,
    cleanup: unsafe extern "C" fn(SlirpPtr),
    pollfds_fill: unsafe extern "C" fn(SlirpPtr, *mut u32, AddPollCb, *mut c_void),
    pollfds_poll: unsafe extern "C" fn(SlirpPtr, c_int, GetREventsCb, *mut c_void),
    input: unsafe extern "C" fn(SlirpPtr, *const u8, c_int),
    handle_timer: unsafe extern "C" fn(SlirpPtr, c_int, *mut c_void),
    add_hostfwd:
        unsafe extern "C" fn(SlirpPtr, c_int, libc::in_addr, c_int, libc::in_addr, c_int) -> c_int,
    /// slirp_add_hostxfwd (libslirp 4.5 on): forwards with IPv6 host and guest addresses.
    add_hostxfwd: Option<
        unsafe extern "C" fn(
            SlirpPtr,
            *const libc::sockaddr,
            libc::socklen_t,
            *const libc::sockaddr,
            libc::socklen_t,
            c_int,
        ) -> c_int,
    >,
    /// The SlirpConfig version this library takes (4 from libslirp 4.7 on).
    config_version: u32,
    pub version: String,
}

/// "4.7.0" → the highest SlirpConfig version it knows.
fn config_version(version: &str) -> u32 {
    let mut parts = version.split('.').map(|p| p.parse::<u32>().unwrap_or(0));
    let (major, minor) = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    match (major, minor) {
        (0..=3, _) => 0,
        (4, 0..=4) => 1,
        (4, 5..=6) => 3,
        _ => 4,
    }
}

fn open() -> Result<Api, String> {
    // SAFETY: loading libslirp runs only its (glib's) constructors, which have no preconditions.
    let lib = unsafe { libloading::Library::new(LIBRARY) }.map_err(|e| e.to_string())?;
    // SAFETY: each symbol is libslirp's function of that name, declared with its C signature from
    // libslirp.h (4.x, stable ABI).
    let api = unsafe {
        let version: libloading::Symbol<unsafe extern "C" fn() -> *const c_char> = lib
            .get(b"slirp_version_string\0")
            .map_err(|e| e.to_string())?;
        let v = CStr::from_ptr(version()).to_string_lossy().into_owned();
        macro_rules! sym {
            ($name:literal) => {
                *lib.get($name).map_err(|e| e.to_string())?
            };
        }
        Api {
            new: sym!(b"slirp_new\0"),
            cleanup: sym!(b"slirp_cleanup\0"),
            pollfds_fill: sym!(b"slirp_pollfds_fill\0"),
            pollfds_poll: sym!(b"slirp_pollfds_poll\0"),
            input: sym!(b"slirp_input\0"),
            handle_timer: sym!(b"slirp_handle_timer\0"),
            add_hostfwd: sym!(b"slirp_add_hostfwd\0"),
            add_hostxfwd: lib.get(b"slirp_add_hostxfwd\0").ok().map(|f| *f),
            config_version: config_version(&v),
            version: v,
        }
    };
    if api.config_version == 0 {
        return Err(format!(
            "libslirp {} is too old (4.0 or later needed)",
            api.version
        ));
    }
    // The function pointers stay valid for the life of the process.
    std::mem::forget(lib);
    Ok(api)
}

/// libslirp, loaded on first use; the error says why it could not be (not installed, too old).
pub fn load() -> Result<&'static Api, String> {
    static API: OnceLock<Result<Api, String>> = OnceLock::new();
    API.get_or_init(open).as_ref().map_err(Clone::clone)
}

/// The virtual network libslirp presents to the container.
#[derive(Debug, Clone)]
pub struct StackConfig {
    pub network: Ipv4Addr,
    pub netmask: Ipv4Addr,
    /// The gateway, which is the host.
    pub host: Ipv4Addr,
    pub dns: Ipv4Addr,
    pub dhcp_start: Ipv4Addr,
    /// The IPv6 prefix (/64), gateway and DNS, when enabled.
    pub ipv6: Option<(Ipv6Addr, Ipv6Addr, Ipv6Addr)>,
    pub mtu: usize,
    pub disable_host_loopback: bool,
}

/// A published port: connections to host:host_port go to guest:guest_port. Both addresses are
/// of one family (libslirp cannot translate between them); an IPv6 host socket takes IPv6 clients
/// only (an IPv4 forward on the same port takes the others).
#[derive(Debug, Clone, Copy)]
pub struct Forward {
    pub udp: bool,
    pub host: IpAddr,
    pub host_port: u16,
    pub guest: IpAddr,
    pub guest_port: u16,
    /// A failure to add it is not an error (the IPv6 half of a port published on every address,
    /// on a host without IPv6).
    pub optional: bool,
}

/// libslirp's SLIRP_HOSTFWD_UDP and SLIRP_HOSTFWD_V6ONLY.
const HOSTFWD_UDP: c_int = 1;
const HOSTFWD_V6ONLY: c_int = 2;

/// Add one forward to the live stack `slirp`.
fn add_forward(api: &Api, slirp: SlirpPtr, f: &Forward) -> io::Result<()> {
    let r = match (f.host, f.guest) {
        // SAFETY: slirp is a live stack; the addresses are passed by value.
        (IpAddr::V4(h), IpAddr::V4(g)) => unsafe {
            (api.add_hostfwd)(
                slirp,
                c_int::from(f.udp),
                in4(h),
                c_int::from(f.host_port),
                in4(g),
                c_int::from(f.guest_port),
            )
        },
        (IpAddr::V6(h), IpAddr::V6(g)) => {
            let Some(add) = api.add_hostxfwd else {
                return Err(io::Error::other(format!(
                    "libslirp {} cannot forward IPv6 (4.5 or later can)",
                    api.version
                )));
            };
            let (host, guest) = (sockaddr6(h, f.host_port), sockaddr6(g, f.guest_port));
            let len = std::mem::size_of::<libc::sockaddr_in6>() as libc::socklen_t;
            let flags = HOSTFWD_V6ONLY | if f.udp { HOSTFWD_UDP } else { 0 };
            // SAFETY: slirp is a live stack; both sockaddr_in6 outlive the call, which copies them.
            unsafe {
                add(
                    slirp,
                    (&raw const host).cast(),
                    len,
                    (&raw const guest).cast(),
                    len,
                    flags,
                )
            }
        }
        _ => return Err(io::Error::from(io::ErrorKind::InvalidInput)),
    };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

fn sockaddr6(a: Ipv6Addr, port: u16) -> libc::sockaddr_in6 {
    libc::sockaddr_in6 {
        sin6_family: libc::AF_INET6 as libc::sa_family_t,
        sin6_port: port.to_be(),
        sin6_flowinfo: 0,
        sin6_addr: in6(a),
        sin6_scope_id: 0,
    }
}

struct Timer {
    /// The library's timer id (timer_new_opaque) or callback (timer_new), and its argument.
    id: Option<c_int>,
    cb: Option<TimerCb>,
    cb_opaque: *mut c_void,
    /// When it fires, in ms of [`State::epoch`]; None when not armed.
    expire_ms: Option<i64>,
}

/// What the callbacks reach through libslirp's opaque pointer.
struct State {
    api: &'static Api,
    slirp: SlirpPtr,
    tap: RawFd,
    epoch: Instant,
    timers: Vec<*mut Timer>,
    pollfds: Vec<libc::pollfd>,
}

fn now_ms(epoch: Instant) -> i64 {
    i64::try_from(epoch.elapsed().as_millis()).unwrap_or(i64::MAX)
}

/// A frame from the stack to the guest. A full tap queue drops it, as libslirp allows.
unsafe extern "C" fn send_packet(buf: *const c_void, len: usize, opaque: *mut c_void) -> isize {
    // SAFETY: opaque is the State that `run` keeps alive while the stack exists; buf holds len
    // bytes (libslirp's frame), valid for the call; write(2) of them.
    unsafe { libc::write((*(opaque as *const State)).tap, buf, len) }
}

unsafe extern "C" fn guest_error(msg: *const c_char, _opaque: *mut c_void) {
    // SAFETY: libslirp passes a NUL-terminated message.
    let m = unsafe { CStr::from_ptr(msg) };
    tracing::debug!(message = %m.to_string_lossy(), "libslirp: guest error");
}

unsafe extern "C" fn clock_get_ns(opaque: *mut c_void) -> i64 {
    // SAFETY: opaque is the live State (see send_packet).
    let epoch = unsafe { (*(opaque as *const State)).epoch };
    i64::try_from(epoch.elapsed().as_nanos()).unwrap_or(i64::MAX)
}

fn add_timer(opaque: *mut c_void, t: Timer) -> *mut c_void {
    let p = Box::into_raw(Box::new(t));
    // SAFETY: opaque is the live State; no other reference to it is held during the callback.
    unsafe { (*(opaque as *mut State)).timers.push(p) };
    p as *mut c_void
}

unsafe extern "C" fn timer_new(
    cb: TimerCb,
    cb_opaque: *mut c_void,
    opaque: *mut c_void,
) -> *mut c_void {
    add_timer(
        opaque,
        Timer {
            id: None,
            cb: Some(cb),
            cb_opaque,
            expire_ms: None,
        },
    )
}

unsafe extern "C" fn timer_new_opaque(
    id: c_int,
    cb_opaque: *mut c_void,
    opaque: *mut c_void,
) -> *mut c_void {
    add_timer(
        opaque,
        Timer {
            id: Some(id),
            cb: None,
            cb_opaque,
            expire_ms: None,
        },
    )
}

unsafe extern "C" fn timer_free(timer: *mut c_void, opaque: *mut c_void) {
    // SAFETY: timer came from add_timer (a Box we own) and opaque is the live State; the timer is
    // removed from the list before it is freed, so it is freed once.
    unsafe {
        let st = opaque as *mut State;
        let t = timer as *mut Timer;
        if let Some(i) = (*st).timers.iter().position(|p| *p == t) {
            (*st).timers.remove(i);
            drop(Box::from_raw(t));
        }
    }
}

unsafe extern "C" fn timer_mod(timer: *mut c_void, expire_ms: i64, _opaque: *mut c_void) {
    // SAFETY: timer came from add_timer and is not freed yet (libslirp frees it through timer_free).
    unsafe { (*(timer as *mut Timer)).expire_ms = Some(expire_ms) };
}

unsafe extern "C" fn register_poll_fd(_fd: c_int, _opaque: *mut c_void) {}
unsafe extern "C" fn unregister_poll_fd(_fd: c_int, _opaque: *mut c_void) {}
unsafe extern "C" fn notify(_opaque: *mut c_void) {}
unsafe extern "C" fn init_completed(_slirp: SlirpPtr, _opaque: *mut c_void) {}

const POLL_MAP: [(c_int, libc::c_short); 5] = [
    (1, libc::POLLIN),
    (2, libc::POLLOUT),
    (4, libc::POLLPRI),
    (8, libc::POLLERR),
    (16, libc::POLLHUP),
];

unsafe extern "C" fn add_poll(fd: c_int, events: c_int, opaque: *mut c_void) -> c_int {
    let mut ev = 0;
    for (s, p) in POLL_MAP {
        if events & s != 0 {
            ev |= p;
        }
    }
    // SAFETY: opaque is the live State; no other reference to it is held during the callback.
    let pollfds = unsafe { &mut (*(opaque as *mut State)).pollfds };
    pollfds.push(libc::pollfd {
        fd,
        events: ev,
        revents: 0,
    });
    c_int::try_from(pollfds.len() - 1).unwrap_or(c_int::MAX)
}

unsafe extern "C" fn get_revents(idx: c_int, opaque: *mut c_void) -> c_int {
    // SAFETY: opaque is the live State; idx is one add_poll returned for this round.
    let rev = unsafe {
        let pollfds = &(*(opaque as *const State)).pollfds;
        usize::try_from(idx)
            .ok()
            .and_then(|i| pollfds.get(i))
            .map_or(0, |p| p.revents)
    };
    POLL_MAP
        .iter()
        .filter(|(_, p)| rev & p != 0)
        .fold(0, |acc, (s, _)| acc | s)
}

fn in4(a: Ipv4Addr) -> libc::in_addr {
    libc::in_addr {
        s_addr: u32::from(a).to_be(),
    }
}

fn in6(a: Ipv6Addr) -> libc::in6_addr {
    libc::in6_addr {
        s6_addr: a.octets(),
    }
}

fn slirp_config(api: &Api, cfg: &StackConfig) -> SlirpConfig {
    let (prefix6, host6, dns6) = cfg.ipv6.unwrap_or((
        Ipv6Addr::UNSPECIFIED,
        Ipv6Addr::UNSPECIFIED,
        Ipv6Addr::UNSPECIFIED,
    ));
    SlirpConfig {
        version: api.config_version,
        restricted: 0,
        in_enabled: true,
        vnetwork: in4(cfg.network),
        vnetmask: in4(cfg.netmask),
        vhost: in4(cfg.host),
        in6_enabled: cfg.ipv6.is_some(),
        vprefix_addr6: in6(prefix6),
        vprefix_len: 64,
        vhost6: in6(host6),
        vhostname: std::ptr::null(),
        tftp_server_name: std::ptr::null(),
        tftp_path: std::ptr::null(),
        bootfile: std::ptr::null(),
        vdhcp_start: in4(cfg.dhcp_start),
        vnameserver: in4(cfg.dns),
        vnameserver6: in6(dns6),
        vdnssearch: std::ptr::null(),
        vdomainname: std::ptr::null(),
        if_mtu: cfg.mtu,
        if_mru: cfg.mtu,
        disable_host_loopback: cfg.disable_host_loopback,
        enable_emu: false,
        outbound_addr: std::ptr::null(),
        outbound_addr6: std::ptr::null(),
        disable_dns: false,
        disable_dhcp: false,
    }
}

const CALLBACKS: SlirpCb = SlirpCb {
    send_packet,
    guest_error,
    clock_get_ns,
    timer_new,
    timer_free,
    timer_mod,
    register_poll_fd,
    unregister_poll_fd,
    notify,
    init_completed,
    timer_new_opaque,
};

/// Run a stack on `tap` until `stop` becomes readable (or hangs up): publish `forwards`, report
/// the outcome of the setup through `started` (a failed forward ends the stack), then relay. The
/// stack's host sockets (published ports, connections) are all closed when this returns.
pub fn run(
    api: &'static Api,
    cfg: &StackConfig,
    tap: OwnedFd,
    forwards: &[Forward],
    stop: OwnedFd,
    started: impl FnOnce(Result<(), (Forward, io::Error)>),
) {
    let config = slirp_config(api, cfg);
    let state = Box::into_raw(Box::new(State {
        api,
        slirp: std::ptr::null_mut(),
        tap: tap.as_raw_fd(),
        epoch: Instant::now(),
        timers: Vec::new(),
        pollfds: Vec::new(),
    }));
    // SAFETY: config and the callbacks are valid for the call (libslirp copies what it keeps);
    // state stays alive until after slirp_cleanup below.
    let slirp = unsafe { (api.new)(&config, &CALLBACKS, state as *mut c_void) };
    // SAFETY: state is ours; no callback runs outside the library calls below.
    unsafe { (*state).slirp = slirp };
    let mut outcome = Ok(());
    if slirp.is_null() {
        let unspecified = IpAddr::V4(Ipv4Addr::UNSPECIFIED);
        outcome = Err((
            forwards.first().copied().unwrap_or(Forward {
                udp: false,
                host: unspecified,
                host_port: 0,
                guest: unspecified,
                guest_port: 0,
                optional: false,
            }),
            io::Error::other("libslirp refused the network configuration"),
        ));
    }
    for f in forwards {
        if outcome.is_err() {
            break;
        }
        match add_forward(api, slirp, f) {
            Err(e) if f.optional => {
                tracing::debug!(host = %f.host, port = f.host_port, error = %e, "libslirp: optional forward skipped");
            }
            Err(e) => outcome = Err((*f, e)),
            Ok(()) => {}
        }
    }
    let ok = outcome.is_ok();
    if ok {
        widen_backlogs(state, api, slirp);
    }
    started(outcome);
    if ok {
        relay(state, &stop);
    }
    // SAFETY: the stack is done: cleanup closes its sockets and frees its timers (through
    // timer_free, which needs state); then nothing refers to state any more.
    unsafe {
        if !slirp.is_null() {
            (api.cleanup)(slirp);
        }
        let st = Box::from_raw(state);
        for t in st.timers {
            drop(Box::from_raw(t));
        }
    }
    drop(tap);
}

/// libslirp listens on a published port with a backlog of one: when a few clients connect at
/// once, the host's accept queue overflows, the kernel drops their SYNs and each dropped client
/// waits a second for its retransmission. Give every listening socket of the stack (its host
/// forwards, all made by now) the system's usual backlog instead.
fn widen_backlogs(state: *mut State, api: &Api, slirp: SlirpPtr) {
    let mut timeout = u32::MAX;
    // SAFETY: state is live (see relay); the library adds its descriptors through add_poll with
    // no reference held across the call. The list is refilled before every poll, so this extra
    // fill leaves nothing behind.
    let fds: Vec<RawFd> = unsafe {
        (*state).pollfds.clear();
        (api.pollfds_fill)(slirp, &mut timeout, add_poll, state as *mut c_void);
        (*state).pollfds.iter().map(|p| p.fd).collect()
    };
    for fd in fds.into_iter().filter(|fd| is_listening(*fd)) {
        // SAFETY: listen(2) on a socket the stack owns and keeps open; on a listening socket it
        // only changes the backlog.
        if unsafe { libc::listen(fd, libc::SOMAXCONN) } < 0 {
            tracing::debug!(fd, error = %io::Error::last_os_error(), "libslirp: keep backlog");
        }
    }
}

/// Whether `fd` is a listening socket.
fn is_listening(fd: RawFd) -> bool {
    let mut on: c_int = 0;
    let mut len = std::mem::size_of::<c_int>() as libc::socklen_t;
    // SAFETY: getsockopt(2) writes at most `len` bytes into `on`, which outlives the call; a
    // descriptor that is no socket only makes it fail.
    let r = unsafe {
        libc::getsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_ACCEPTCONN,
            &mut on as *mut c_int as *mut c_void,
            &mut len,
        )
    };
    r == 0 && on != 0
}

/// The poll loop: frames from the tap device into the stack, the stack's sockets and timers.
///
/// Each round takes at most one frame from the guest, then lets the stack serve its sockets, as
/// slirp4netns's loop does. Reading every waiting frame first, and the ACKs they earned held back
/// until the tap ran dry, did less work per byte but ran the guest's transmissions in this thread
/// (writing an ACK to the tap makes the guest send its next segments in the writer's context),
/// while the guest's sender slept; one frame a round interleaves the two, and the sender does that
/// work itself (see bench/README.md, session 11).
///
/// Every block below touches the live State `run` made only through the raw pointer, in statements
/// that hold no reference across a library call (which may call back into it).
fn relay(state: *mut State, stop: &OwnedFd) {
    // SAFETY: state is live (see above); these are plain copies.
    let (api, slirp, tap, epoch) = unsafe {
        let s = &*state;
        (s.api, s.slirp, s.tap, s.epoch)
    };
    let mut frame = vec![0u8; 65536 + 14];
    loop {
        let mut timeout: u32 = u32::MAX;
        // SAFETY: state is live; the list is filled before the library adds its own descriptors
        // through add_poll, with no reference held across that call.
        unsafe {
            (*state).pollfds.clear();
            for fd in [tap, stop.as_raw_fd()] {
                (*state).pollfds.push(libc::pollfd {
                    fd,
                    events: libc::POLLIN,
                    revents: 0,
                });
            }
            (api.pollfds_fill)(slirp, &mut timeout, add_poll, state as *mut c_void);
        }
        let now = now_ms(epoch);
        // SAFETY: state is live; each timer in the list is a live Box of add_timer's.
        let next_timer = unsafe { (*state).timers.iter().filter_map(|t| (**t).expire_ms).min() };
        let mut wait = i64::from(timeout.min(i32::MAX as u32));
        if let Some(at) = next_timer {
            wait = wait.min((at - now).max(0));
        }
        // SAFETY: poll(2) on our own array of pollfd, whose length we pass.
        let n = unsafe {
            let fds = &mut (*state).pollfds;
            libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, wait as c_int)
        };
        if n < 0 && io::Error::last_os_error().kind() != io::ErrorKind::Interrupted {
            return;
        }
        // SAFETY: state is live; the first two entries are ours (tap, stop).
        let (tap_ready, stopped) = unsafe {
            let fds = &(*state).pollfds;
            (fds[0].revents != 0, fds[1].revents != 0)
        };
        if stopped {
            return;
        }
        if tap_ready {
            relay_frame(api, slirp, tap, &mut frame);
        }
        // SAFETY: slirp is the live stack; get_revents reads the list filled above. With nothing
        // ready (a timeout, or an interrupted poll) the library only runs its clocks.
        unsafe {
            (api.pollfds_poll)(
                slirp,
                c_int::from(n <= 0),
                get_revents,
                state as *mut c_void,
            )
        };
        fire_timers(state, api, slirp, now_ms(epoch));
    }
}

/// Hand one frame waiting on the (non-blocking) tap device to the stack.
fn relay_frame(api: &Api, slirp: SlirpPtr, tap: RawFd, frame: &mut [u8]) {
    // SAFETY: read(2) into our buffer, at most its length.
    let got = unsafe { libc::read(tap, frame.as_mut_ptr() as *mut c_void, frame.len()) };
    if got > 0 {
        // SAFETY: slirp is the live stack; the frame holds `got` bytes.
        unsafe { (api.input)(slirp, frame.as_ptr(), got as c_int) };
    }
}

/// Run the callbacks of the timers due at `now`.
fn fire_timers(state: *mut State, api: &Api, slirp: SlirpPtr, now: i64) {
    // SAFETY: state is live; each timer in the list is a live Box of add_timer's.
    let due: Vec<*mut Timer> = unsafe {
        (*state)
            .timers
            .iter()
            .copied()
            .filter(|t| (**t).expire_ms.is_some_and(|e| e <= now))
            .collect()
    };
    for t in due {
        // SAFETY: a timer is looked up again before each call (a callback may have freed it);
        // then it is a live Box, and the callback gets the argument the library gave for it.
        unsafe {
            if !(*state).timers.contains(&t) {
                continue;
            }
            (*t).expire_ms = None;
            let (id, cb, arg) = ((*t).id, (*t).cb, (*t).cb_opaque);
            match (id, cb) {
                (Some(id), _) => (api.handle_timer)(slirp, id, arg),
                (None, Some(cb)) => cb(arg),
                (None, None) => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_versions() {
        assert_eq!(config_version("4.7.0"), 4);
        assert_eq!(config_version("4.8.1"), 4);
        assert_eq!(config_version("4.6.1"), 3);
        assert_eq!(config_version("4.1.0"), 1);
        assert_eq!(config_version("3.9"), 0);
    }

    #[test]
    fn listening_sockets() {
        let tcp = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        assert!(is_listening(tcp.as_raw_fd()));
        assert!(!is_listening(udp.as_raw_fd()));
        assert!(!is_listening(-1));
    }
}
