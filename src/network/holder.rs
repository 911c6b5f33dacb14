//! `roost __netns`: the process that holds the user's rootless network namespace (by descriptor: it
//! stays in the host's, where it starts slirp4netns for the namespace's way out). It keeps each
//! attached container's network namespace open, allocates addresses, runs netavark inside the
//! rootless namespace, relays published ports, and detaches a container by itself when its process
//! exits. It exits as soon as no container is attached, so nothing outlives the containers (the
//! namespace, with its bridges and firewall rules, goes with it; slirp4netns sees its exit pipe
//! close). It also holds the user namespace for later roost commands to join.
#![deny(clippy::print_stdout, clippy::print_stderr)]

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

use nix::fcntl::{Flock, FlockArg};
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::socket::{self, AddressFamily, SockFlag, SockType, UnixAddr};

use super::NetworkError;
use super::config::Network;
use super::forward::{Forwarder, Target};
use super::ipam::Ipam;
use super::netavark::{Call, NetworkInterface, PerNetwork};
use super::proto::{MAX_MESSAGE, Request, Response};

/// The files of the rootless network namespace under the runtime directory.
#[derive(Debug, Clone)]
pub struct NetnsDir(pub PathBuf);

impl NetnsDir {
    pub fn new(runtime: &Path) -> NetnsDir {
        NetnsDir(runtime.join("netns"))
    }
    pub fn socket(&self) -> PathBuf {
        self.0.join("sock")
    }
    pub fn lock(&self) -> PathBuf {
        self.0.join("lock")
    }
    pub fn netavark(&self) -> PathBuf {
        self.0.join("netavark")
    }

    /// Take the lock that orders holder start-up, attachment and holder exit.
    pub fn take_lock(&self, wait: bool) -> Result<Option<Flock<fs::File>>, NetworkError> {
        fs::create_dir_all(&self.0).map_err(|e| NetworkError::io("create", &self.0, e))?;
        let path = self.lock();
        let file = fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| NetworkError::io("open", &path, e))?;
        let arg = if wait {
            FlockArg::LockExclusive
        } else {
            FlockArg::LockExclusiveNonblock
        };
        match Flock::lock(file, arg) {
            Ok(l) => Ok(Some(l)),
            Err((_, nix::Error::EWOULDBLOCK)) if !wait => Ok(None),
            Err((_, e)) => Err(NetworkError::io("lock", path, e.into())),
        }
    }
}

struct Attachment {
    name: String,
    pidfd: OwnedFd,
    netns: OwnedFd,
    nets: BTreeMap<String, (Network, PerNetwork)>,
    status: BTreeMap<String, NetworkInterface>,
    forwarders: Vec<Forwarder>,
    /// Where the published ports relay to.
    target: Target,
}

impl Attachment {
    /// Relay each published port's host socket to the container's address.
    fn forward(
        &mut self,
        listeners: Vec<(OwnedFd, (u16, super::ports::Protocol))>,
        rootless_netns: &OwnedFd,
    ) {
        for (l, port) in listeners {
            self.forwarders.push(Forwarder::start(
                l,
                port,
                self.target.clone(),
                rootless_netns,
            ));
        }
    }

    /// Point the published ports at the container's first IPv4 address on the networks it is on
    /// now (none when it has none left).
    fn retarget(&self) {
        let ip = self
            .status
            .values()
            .flat_map(|a| a.addresses.iter())
            .find(|(ip, _)| ip.is_ipv4())
            .map(|(ip, _)| *ip);
        if let Ok(mut t) = self.target.lock() {
            *t = ip;
        }
    }
}

/// The addresses one setup allocated: given back when dropped, unless the setup succeeded and
/// [`Allocation::keep`] was called.
struct Allocation<'a> {
    ipam: &'a mut Ipam,
    container: &'a str,
    networks: Vec<String>,
}

impl Allocation<'_> {
    fn allocate(
        &mut self,
        net: &Network,
        requested: &[std::net::IpAddr],
    ) -> Result<Vec<std::net::IpAddr>, NetworkError> {
        let ips = self.ipam.allocate(net, self.container, requested)?;
        self.networks.push(net.name.clone());
        Ok(ips)
    }

    fn keep(mut self) {
        self.networks.clear();
    }
}

impl Drop for Allocation<'_> {
    fn drop(&mut self) {
        for n in &self.networks {
            self.ipam.release(n, self.container);
        }
    }
}

struct Holder {
    /// The runtime directory (where the holder registers its pid with `userns`).
    runtime: PathBuf,
    dir: NetnsDir,
    ipam: Ipam,
    attached: BTreeMap<String, Attachment>,
    listener: OwnedFd,
    /// The rootless network namespace.
    netns: OwnedFd,
    /// slirp4netns, our child.
    slirp: Option<std::process::Child>,
    /// Set when the last container left and no client is coming: we exit, holding the lock until
    /// the socket is gone.
    exiting: Option<Flock<fs::File>>,
}

/// The holder's main: create the namespace, serve until no container is attached. `ready` gets `ok`
/// (or an error) once the socket accepts requests. Must start single-threaded.
pub fn serve(runtime: &Path, ready: OwnedFd) -> Result<(), NetworkError> {
    let dir = NetnsDir::new(runtime);
    let mut ready = fs::File::from(ready);
    // aardvark-dns daemonizes: it is re-parented to us, and reaped.
    let _ = crate::sys::fdpass::become_subreaper();
    let started = new_netns().and_then(|netns| {
        let slirp = start_slirp(&dir, &netns)?;
        let listener = prepare(&dir)?;
        crate::userns::register_netns_holder(runtime)
            .map_err(|e| NetworkError::io("write", crate::userns::netns_holder_file(runtime), e))?;
        Ok((netns, slirp, listener))
    });
    let (netns, (slirp, exit_w), listener) = match started {
        Ok(s) => s,
        Err(e) => {
            let _ = write!(ready, "{e}");
            return Err(e);
        }
    };
    crate::userns::register_holder(runtime);
    let _ = ready.write_all(b"ok");
    drop(ready);
    let mut h = Holder {
        runtime: runtime.to_path_buf(),
        dir,
        ipam: Ipam::default(),
        attached: BTreeMap::new(),
        listener,
        netns,
        slirp: Some(slirp),
        exiting: None,
    };
    h.run();
    drop(exit_w);
    Ok(())
}

/// A new network namespace, held by descriptor: a child cloned into it sends it back and exits.
fn new_netns() -> Result<OwnedFd, NetworkError> {
    use crate::sys::clone::{Cloned, clone_process, exit_now};
    let failed =
        |e: std::io::Error| NetworkError::Holder(format!("cannot create a network namespace: {e}"));
    let (ours, theirs) = socket::socketpair(
        AddressFamily::Unix,
        SockType::SeqPacket,
        None,
        SockFlag::SOCK_CLOEXEC,
    )
    .map_err(|e| failed(e.into()))?;
    match clone_process(libc::CLONE_NEWNET).map_err(|e| failed(e.into()))? {
        Cloned::Child => {
            drop(ours);
            let code = match fs::File::open("/proc/self/ns/net") {
                Ok(ns) => i32::from(
                    crate::sys::fdpass::send(theirs.as_fd(), b"n", &[ns.as_raw_fd()]).is_err(),
                ),
                Err(_) => 1,
            };
            exit_now(code)
        }
        Cloned::Parent(pid) => {
            drop(theirs);
            let got = crate::sys::fdpass::recv(ours.as_fd(), 16);
            let _ = nix::sys::wait::waitpid(pid, None);
            got.map_err(failed)?
                .1
                .pop()
                .ok_or_else(|| failed(std::io::Error::other("the namespace was not passed")))
        }
    }
}

/// slirp4netns gives the namespace a tap device (10.0.2.100, gateway 10.0.2.2) to the outside. It
/// exits when the returned pipe end closes (when we exit, however we exit).
fn start_slirp(
    dir: &NetnsDir,
    netns: &OwnedFd,
) -> Result<(std::process::Child, OwnedFd), NetworkError> {
    use std::io::Read;
    let slirp = &crate::helpers::find("slirp4netns").ok_or_else(|| {
        NetworkError::Holder("slirp4netns is not installed (apt-get install slirp4netns)".into())
    })?;
    let pipe = || {
        nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
            .map_err(|e| NetworkError::io("create a pipe for", slirp, e.into()))
    };
    let (ready_r, ready_w) = pipe()?;
    let (exit_r, exit_w) = pipe()?;
    fs::create_dir_all(&dir.0).map_err(|e| NetworkError::io("create", &dir.0, e))?;
    let log = dir.0.join("slirp4netns.log");
    let mut cmd = crate::helpers::command(slirp);
    cmd.args([
        "--configure",
        "--mtu=65520",
        "--disable-host-loopback",
        "--netns-type=path",
        &format!("--exit-fd={}", exit_r.as_raw_fd()),
        &format!("--ready-fd={}", ready_w.as_raw_fd()),
        &format!("/proc/{}/fd/{}", std::process::id(), netns.as_raw_fd()),
        "tap0",
    ])
    .stdin(std::process::Stdio::null())
    .stdout(std::process::Stdio::null())
    .stderr(fs::File::create(&log).map_err(|e| NetworkError::io("create", &log, e))?);
    let mut child =
        crate::sys::process::spawn_tied(&mut cmd, &[exit_r.as_raw_fd(), ready_w.as_raw_fd()])
            .map_err(|e| NetworkError::io("start", slirp, e))?;
    drop(ready_w);
    drop(exit_r);
    let mut b = [0u8; 1];
    if fs::File::from(ready_r).read_exact(&mut b).is_err() || b[0] != b'1' {
        let _ = child.kill();
        let _ = child.wait();
        let text = fs::read_to_string(&log).unwrap_or_default();
        return Err(NetworkError::Holder(format!(
            "slirp4netns failed: {}",
            text.trim()
        )));
    }
    Ok((child, exit_w))
}

fn prepare(dir: &NetnsDir) -> Result<OwnedFd, NetworkError> {
    fs::create_dir_all(dir.netavark())
        .map_err(|e| NetworkError::io("create", dir.netavark(), e))?;
    let path = dir.socket();
    let _ = fs::remove_file(&path);
    let sock = socket::socket(
        AddressFamily::Unix,
        SockType::SeqPacket,
        SockFlag::SOCK_CLOEXEC,
        None,
    )
    .map_err(|e| NetworkError::io("create", &path, e.into()))?;
    let addr = UnixAddr::new(&path).map_err(|e| NetworkError::io("bind", &path, e.into()))?;
    socket::bind(sock.as_raw_fd(), &addr).map_err(|e| NetworkError::io("bind", &path, e.into()))?;
    socket::listen(&sock, socket::Backlog::new(64).expect("valid backlog"))
        .map_err(|e| NetworkError::io("listen on", &path, e.into()))?;
    Ok(sock)
}

impl Holder {
    fn run(&mut self) {
        loop {
            let ids: Vec<String> = self.attached.keys().cloned().collect();
            let (conn, dead) = {
                let mut pfds = vec![PollFd::new(self.listener.as_fd(), PollFlags::POLLIN)];
                pfds.extend(
                    ids.iter()
                        .map(|id| PollFd::new(self.attached[id].pidfd.as_fd(), PollFlags::POLLIN)),
                );
                let _ = poll(&mut pfds, PollTimeout::from(500u16));
                let ready = |p: &PollFd| p.revents().is_some_and(|r| !r.is_empty());
                let dead: Vec<String> = ids
                    .iter()
                    .zip(&pfds[1..])
                    .filter(|(_, p)| ready(p))
                    .map(|(id, _)| id.clone())
                    .collect();
                (ready(&pfds[0]), dead)
            };
            if conn
                && let Ok(fd) = socket::accept4(self.listener.as_raw_fd(), SockFlag::SOCK_CLOEXEC)
            {
                // accept4 returned a new descriptor, ours alone.
                let fd = crate::sys::process::adopt_fd(fd).ok();
                if let Some(fd) = fd {
                    self.serve_one(&fd);
                }
            }
            for id in dead {
                tracing::debug!(container = %id, "container exited: detaching");
                let _ = self.teardown(&id, None);
            }
            reap_children();
            if self.attached.is_empty() && (self.exiting.is_some() || self.may_exit()) {
                self.exit();
                return;
            }
        }
    }

    /// Whether we may exit: nobody attached and no client about to be. Takes the lock (clients hold
    /// it from finding us to sending their request) and keeps it until we are gone.
    fn may_exit(&mut self) -> bool {
        let Ok(Some(lock)) = self.dir.take_lock(false) else {
            return false;
        };
        let mut pfd = [PollFd::new(self.listener.as_fd(), PollFlags::POLLIN)];
        if poll(&mut pfd, PollTimeout::ZERO).unwrap_or(0) > 0 {
            return false;
        }
        self.exiting = Some(lock);
        true
    }

    /// Leave: the namespace, with its bridges, firewall rules and veths, goes with us; aardvark-dns
    /// is stopped here, slirp4netns sees its exit pipe close.
    fn exit(&mut self) {
        let _ = fs::remove_file(self.dir.socket());
        crate::userns::unregister_netns_holder(&self.runtime);
        let dns = self.dir.netavark().join("aardvark-dns");
        if let Some(pid) = fs::read_to_string(dns.join("aardvark.pid"))
            .ok()
            .and_then(|p| p.trim().parse::<i32>().ok())
        {
            let pid = nix::unistd::Pid::from_raw(pid);
            if nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL).is_ok() {
                let _ = nix::sys::wait::waitpid(pid, None);
            }
        }
        let _ = fs::remove_dir_all(&dns);
        if let Some(mut s) = self.slirp.take() {
            let _ = s.kill();
            let _ = s.wait();
        }
        reap_children();
    }

    fn serve_one(&mut self, conn: &OwnedFd) {
        let Ok((msg, mut fds)) = crate::sys::fdpass::recv(conn.as_fd(), MAX_MESSAGE) else {
            return;
        };
        let response = match serde_json::from_slice::<Request>(&msg) {
            Err(e) => Response::Failed {
                message: format!("bad request: {e}"),
            },
            Ok(Request::Setup {
                container_id,
                container_name,
                pid,
                networks,
                forwards,
            }) => match (!fds.is_empty()).then(|| fds.remove(0)) {
                None => Response::Failed {
                    message: "no network namespace was passed".into(),
                },
                Some(netns) => self
                    .setup(
                        &container_id,
                        container_name,
                        pid,
                        netns,
                        networks,
                        fds.into_iter().zip(forwards).collect(),
                    )
                    .map_or_else(
                        |e| Response::Failed {
                            message: e.to_string(),
                        },
                        Response::Attached,
                    ),
            },
            Ok(Request::Teardown {
                container_id,
                networks,
            }) => match self.teardown(&container_id, networks) {
                Ok(()) => Response::Done,
                Err(e) => Response::Failed {
                    message: e.to_string(),
                },
            },
            Ok(Request::Reload { container_id }) => self.reload(&container_id).map_or_else(
                |e| Response::Failed {
                    message: e.to_string(),
                },
                Response::Attached,
            ),
            Ok(Request::Netns) => Response::Netns,
            Ok(Request::Status { container_id }) => Response::Attached(
                self.attached
                    .get(&container_id)
                    .map(|a| a.status.clone())
                    .unwrap_or_default(),
            ),
        };
        let text = serde_json::to_vec(&response).expect("a response serializes");
        let fds = match response {
            Response::Netns => vec![self.netns.as_raw_fd()],
            _ => Vec::new(),
        };
        let _ = crate::sys::fdpass::send(conn.as_fd(), &text, &fds);
    }

    fn netns_path(fd: &OwnedFd) -> PathBuf {
        PathBuf::from(format!(
            "/proc/{}/fd/{}",
            std::process::id(),
            fd.as_raw_fd()
        ))
    }

    /// Attach container `id` (pid 1 `pid`, network namespace `netns`) to `networks`, relaying the
    /// published ports' `listeners` to its address: name its interfaces, allocate its addresses, run
    /// netavark, then record the attachment. A failure gives the addresses back.
    fn setup(
        &mut self,
        id: &str,
        name: String,
        pid: i32,
        netns: OwnedFd,
        networks: Vec<(Network, PerNetwork)>,
        listeners: Vec<(OwnedFd, (u16, super::ports::Protocol))>,
    ) -> Result<BTreeMap<String, NetworkInterface>, NetworkError> {
        // A container started again has a new namespace: the old attachment is stale.
        if let Some(a) = self.attached.get(id)
            && !same_file(&a.netns, &netns)
        {
            let _ = self.teardown(id, None);
        }
        let mut new = self.name_interfaces(id, networks)?;
        let mut allocation = Allocation {
            ipam: &mut self.ipam,
            container: id,
            networks: Vec::new(),
        };
        for (net, per) in &mut new {
            per.static_ips = allocation.allocate(net, &per.static_ips)?;
        }
        let pidfd = if self.attached.contains_key(id) {
            None
        } else {
            Some(
                crate::sys::fdpass::pidfd_open(pid)
                    .map_err(|e| NetworkError::Holder(format!("container process {pid}: {e}")))?,
            )
        };
        let place = Placement {
            config: &self.dir.netavark(),
            rootless_netns: self.netns.as_fd(),
            netns: &Self::netns_path(&netns),
            container_id: id,
            container_name: &name,
        };
        let status = place.setup_in_order(&new)?;
        allocation.keep();
        wait_for_dns(&netns, &name, &new, &status);
        let entry = self
            .attached
            .entry(id.to_string())
            .or_insert_with(|| Attachment {
                name,
                pidfd: pidfd.expect("opened for a first attachment"),
                netns,
                nets: BTreeMap::new(),
                status: BTreeMap::new(),
                forwarders: Vec::new(),
                target: Target::default(),
            });
        for (net, per) in new {
            entry.nets.insert(net.name.clone(), (net, per));
        }
        entry.status.extend(status.clone());
        entry.retarget();
        entry.forward(listeners, &self.netns);
        Ok(status)
    }

    /// `network reload`: tear the container's networks down and set them up again with the
    /// interfaces, addresses and MAC addresses they have (podman), which makes netavark's firewall
    /// rules and DNS records anew. The published ports' relays are ours and stay as they are.
    fn reload(&mut self, id: &str) -> Result<BTreeMap<String, NetworkInterface>, NetworkError> {
        let a = self.attached.get(id).ok_or_else(|| {
            NetworkError::Invalid(format!("container {id} is not attached to any network"))
        })?;
        let nets: Vec<(Network, PerNetwork)> = a
            .nets
            .values()
            .map(|(net, per)| (net.clone(), same_interface(per, a.status.get(&net.name))))
            .collect();
        let place = Placement {
            config: &self.dir.netavark(),
            rootless_netns: self.netns.as_fd(),
            netns: &Self::netns_path(&a.netns),
            container_id: id,
            container_name: &a.name,
        };
        // Whatever is left of the old setup goes first (an error there is no reason to stop).
        if let Err(e) = place.call(&nets).teardown() {
            tracing::debug!(container = %id, error = %e, "network reload: teardown");
        }
        let status = place.setup_in_order(&nets)?;
        let a = self.attached.get_mut(id).expect("looked up above");
        a.status = status.clone();
        a.retarget();
        Ok(status)
    }

    /// The networks of a new attachment with their interface names: given ones kept, the others
    /// the first free `ethN`. A network the container is on already is refused.
    fn name_interfaces(
        &self,
        id: &str,
        networks: Vec<(Network, PerNetwork)>,
    ) -> Result<Vec<(Network, PerNetwork)>, NetworkError> {
        let current = self.attached.get(id);
        let mut used: Vec<String> = current
            .map(|a| {
                a.nets
                    .values()
                    .map(|(_, p)| p.interface_name.clone())
                    .collect()
            })
            .unwrap_or_default();
        let mut new = Vec::new();
        for (net, mut per) in networks {
            if current.is_some_and(|a| a.nets.contains_key(&net.name)) {
                return Err(NetworkError::Invalid(format!(
                    "container {id} is already connected to network {}",
                    net.name
                )));
            }
            if per.interface_name.is_empty() {
                per.interface_name = (0..)
                    .map(|n| format!("eth{n}"))
                    .find(|n| !used.contains(n))
                    .expect("an unbounded range has a free name");
            }
            used.push(per.interface_name.clone());
            new.push((net, per));
        }
        Ok(new)
    }

    fn teardown(&mut self, id: &str, networks: Option<Vec<String>>) -> Result<(), NetworkError> {
        // The last container leaving entirely: the namespace goes with us, so netavark has nothing
        // to undo (its teardown, with aardvark-dns's stop, is most of a short container's cost).
        if networks.is_none()
            && self.attached.len() == 1
            && self.attached.contains_key(id)
            && self.may_exit()
        {
            if let Some(a) = self.attached.remove(id) {
                for n in a.nets.keys() {
                    self.ipam.release(n, id);
                }
            }
            return Ok(());
        }
        let Some(a) = self.attached.get_mut(id) else {
            return Ok(());
        };
        let whole = networks.is_none();
        let names: Vec<String> = match networks {
            Some(n) => {
                if let Some(missing) = n.iter().find(|n| !a.nets.contains_key(*n)) {
                    return Err(NetworkError::Invalid(format!(
                        "container {id} is not connected to network {missing}"
                    )));
                }
                n
            }
            None => a.nets.keys().cloned().collect(),
        };
        let nets: Vec<(Network, PerNetwork)> = names
            .iter()
            .filter_map(|n| a.nets.get(n).cloned())
            .collect();
        let result = if nets.is_empty() {
            Ok(())
        } else {
            Placement {
                config: &self.dir.netavark(),
                rootless_netns: self.netns.as_fd(),
                netns: &Self::netns_path(&a.netns),
                container_id: id,
                container_name: &a.name,
            }
            .call(&nets)
            .teardown()
        };
        for n in &names {
            a.nets.remove(n);
            a.status.remove(n);
            self.ipam.release(n, id);
        }
        a.retarget();
        // A container disconnected from its last network stays attached (its published ports
        // kept) until it ends: it may be connected again.
        if whole {
            self.attached.remove(id);
        }
        result
    }
}

/// Where netavark wires one container: the namespaces and the container's names.
struct Placement<'a> {
    config: &'a Path,
    rootless_netns: std::os::fd::BorrowedFd<'a>,
    netns: &'a Path,
    container_id: &'a str,
    container_name: &'a str,
}

impl<'a> Placement<'a> {
    fn call(&self, networks: &'a [(Network, PerNetwork)]) -> Call<'a> {
        Call {
            config: self.config,
            rootless_netns: self.rootless_netns,
            netns: self.netns,
            container_id: self.container_id,
            container_name: self.container_name,
            networks: networks.iter().map(|(n, p)| (n, p)).collect(),
            // Published ports are relayed by the holder (`forward`), not by netavark's DNAT rules.
            ports: &[],
        }
    }

    /// Run netavark for each of `networks` in turn, so that the container's interfaces are made
    /// (and numbered by the kernel) in that order: one call for all would leave the order to
    /// netavark. A failure undoes the networks set up before it.
    fn setup_in_order(
        &self,
        networks: &'a [(Network, PerNetwork)],
    ) -> Result<BTreeMap<String, NetworkInterface>, NetworkError> {
        let mut status = BTreeMap::new();
        for (i, one) in networks.iter().enumerate() {
            match self.call(std::slice::from_ref(one)).setup() {
                Ok(s) => status.extend(s),
                Err(e) => {
                    if i > 0 {
                        let _ = self.call(&networks[..i]).teardown();
                    }
                    return Err(e);
                }
            }
        }
        Ok(status)
    }
}

/// `per` pinned to what the container has now on that network (`now`): its interface name,
/// addresses and MAC address.
fn same_interface(per: &PerNetwork, now: Option<&NetworkInterface>) -> PerNetwork {
    let mut per = per.clone();
    if let Some(i) = now {
        per.interface_name = i.interface.clone();
        per.static_ips = i.addresses.iter().map(|(ip, _)| *ip).collect();
        if !i.mac.is_empty() {
            per.static_mac = Some(i.mac.clone());
        }
    }
    per
}

fn same_file(a: &OwnedFd, b: &OwnedFd) -> bool {
    match (nix::sys::stat::fstat(a), nix::sys::stat::fstat(b)) {
        (Ok(x), Ok(y)) => x.st_ino == y.st_ino && x.st_dev == y.st_dev,
        _ => false,
    }
}

/// Reap exited children and re-parented daemons (aardvark-dns) without blocking.
fn reap_children() {
    use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
    while let Ok(s) = waitpid(None, Some(WaitPidFlag::WNOHANG)) {
        if s == WaitStatus::StillAlive {
            break;
        }
    }
}

/// Before the container runs: wait until the DNS server of each of its new networks answers for it
/// (see `dns_ready`), so neither it nor its peers see the server's reload.
fn wait_for_dns(
    netns: &OwnedFd,
    name: &str,
    networks: &[(Network, PerNetwork)],
    status: &BTreeMap<String, NetworkInterface>,
) {
    for (net, per) in networks {
        let Some(iface) = status.get(&net.name) else {
            continue;
        };
        if !net.dns_enabled || iface.dns_servers.is_empty() || iface.addresses.is_empty() {
            continue;
        }
        let asked = per.aliases.first().map_or(name, String::as_str);
        let v4 = iface.addresses.iter().any(|(a, _)| a.is_ipv4());
        if !super::dns_ready::wait(netns.as_fd(), &iface.dns_servers, asked, v4) {
            tracing::warn!(network = %net.name, "the network's DNS server did not answer in time");
        }
    }
}
