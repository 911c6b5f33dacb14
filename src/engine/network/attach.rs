//! Joining one run of a container to its network: the runtime's [`Attach`] for a
//! [`ContainerNetwork`]. Bridge networks go through the rootless network namespace's holder
//! (`network::client`); the other private modes get a pasta or slirp4netns helper of their own.
//! Also `network connect`/`disconnect`'s part for a running container, and inspect's interfaces.
use std::collections::BTreeMap;
use std::path::PathBuf;

use nix::unistd::Pid;

use super::{ContainerNetwork, Network};
use crate::engine::{Ctx, EngineError};
use crate::network::client::{self, Launch};
use crate::network::helper::Running;
use crate::network::netavark::{NetworkInterface, PerNetwork};
use crate::network::{self, Mode, PortMapping, config, defs};
use crate::runtime::{Attach, AttachError};

fn launch(ctx: &Ctx) -> Result<Launch, EngineError> {
    Ok(Launch {
        exe: std::env::current_exe().map_err(|e| EngineError::io("find", "/proc/self/exe", e))?,
        data: ctx.paths.data.clone(),
        runtime: ctx.paths.runtime.clone(),
    })
}

enum Phase {
    Idle,
    Pasta(network::helper::Starting),
    Slirp(network::slirp::Starting),
    Up(Running),
    /// `--network slirp`: libslirp in a thread of ours.
    Builtin(network::builtin::Running),
}

/// Attaches a container's network for one run: once the container's namespaces exist, while it
/// builds its root. Dropped after the container has ended, it stops the helper or detaches the
/// container from its bridge networks.
pub struct NetworkAttachment {
    /// Bridge networks, through the rootless network namespace.
    bridge: Option<BridgeAttachment>,
    mode: Mode,
    ports: Vec<PortMapping>,
    mac: Option<String>,
    /// containers.conf's pasta options.
    pasta_options: Vec<String>,
    dir: PathBuf,
    phase: Phase,
    /// roost runs rootless (in its user namespace), not as real root.
    rootless: bool,
    /// The hosts file shared with the container whose namespace this one joins, and this
    /// container's name: its entry there goes when the run ends.
    shared_hosts: Option<(PathBuf, String)>,
}

impl NetworkAttachment {
    pub fn new(ctx: &Ctx, net: ContainerNetwork) -> NetworkAttachment {
        NetworkAttachment {
            mode: net.mode.clone(),
            ports: net.settings.ports.clone(),
            mac: net.settings.mac_address.clone(),
            pasta_options: ctx.network_conf.pasta_options.clone(),
            dir: net.dir.clone(),
            phase: Phase::Idle,
            rootless: ctx.rootless,
            shared_hosts: net.shared_hosts.clone().map(|p| (p, net.name.clone())),
            bridge: matches!(net.mode, Mode::Bridge(_)).then(|| BridgeAttachment::new(ctx, net)),
        }
    }

    /// Kill the user-mode helper and wait until it is gone, so that its host ports are free.
    pub fn stop_and_wait(&mut self) {
        self.phase = Phase::Idle;
    }

    /// Kill the user-mode helper; wait for its death only when it holds host ports (`-p`), which
    /// must be free before anyone sees the container ended. A helper without any is reaped by
    /// [`NetworkAttachment::stop_and_wait`] later: its death tears down its tap device, tens of
    /// milliseconds that `stop` and `rm -f` need not wait for.
    pub fn release(&mut self) {
        if !self.ports.is_empty() {
            return self.stop_and_wait();
        }
        if let Phase::Up(r) = &mut self.phase {
            r.kill();
        } else {
            self.phase = Phase::Idle;
        }
    }

    /// Kill the user-mode helper without waiting for it: the caller exits soon after (a
    /// foreground `run`), and the kernel's teardown of the helper's tap device need not delay it.
    pub fn abandon(&mut self) {
        match &mut self.phase {
            Phase::Up(r) => r.abandon(),
            Phase::Builtin(r) => r.abandon(),
            _ => {}
        }
    }
}

impl Drop for NetworkAttachment {
    fn drop(&mut self) {
        if let Some((path, name)) = &self.shared_hosts
            && path.exists()
            && let Err(e) = super::hostfiles::leave_shared_hosts(path, name)
        {
            tracing::debug!(error = %e, "remove the container's entry from the shared hosts file");
        }
    }
}

impl Attach for NetworkAttachment {
    fn created(&mut self, pid: Pid) -> Result<(), AttachError> {
        if let Some(b) = &mut self.bridge {
            return b.created(pid);
        }
        if !matches!(self.mode, Mode::Pasta(_) | Mode::Slirp4netns(_)) {
            return Ok(());
        }
        let path = format!("/proc/{}/ns/net", pid.as_raw());
        let ns =
            std::fs::File::open(&path).map_err(|error| AttachError::OpenNetns { path, error })?;
        let netns = std::os::fd::AsRawFd::as_raw_fd(&ns);
        self.phase = match &self.mode {
            Mode::Pasta(extra) => {
                let log = self.dir.join("pasta.log");
                let options = network::pasta::merged_options(&self.pasta_options, extra);
                let cfg = network::pasta::Config {
                    netns,
                    ports: &self.ports,
                    extra: &options,
                    mac_address: self.mac.as_deref(),
                    log: &log,
                    real_root: !self.rootless,
                };
                Phase::Pasta(network::pasta::spawn(&cfg).map_err(with_hint)?)
            }
            Mode::Slirp4netns(o) => {
                let log = self.dir.join("slirp4netns.log");
                let sock = self.dir.join("slirp4netns.sock");
                let cfg = network::slirp::Config {
                    netns,
                    options: o,
                    ports: &self.ports,
                    mac_address: self.mac.as_deref(),
                    api_socket: &sock,
                    log: &log,
                };
                Phase::Slirp(network::slirp::spawn(&cfg).map_err(with_hint)?)
            }
            _ => Phase::Idle,
        };
        Ok(())
    }

    fn ready(&mut self) -> Result<(), AttachError> {
        if let Some(b) = &mut self.bridge {
            return b.ready();
        }
        let phase = std::mem::replace(&mut self.phase, Phase::Idle);
        self.phase = match phase {
            Phase::Pasta(s) => Phase::Up(s.wait().map_err(with_hint)?),
            Phase::Slirp(s) => Phase::Up(s.wait().map_err(with_hint)?),
            other => other,
        };
        Ok(())
    }

    fn tap(&mut self, tap: std::os::fd::OwnedFd) -> Result<(), AttachError> {
        if let Mode::Builtin(o) = &self.mode {
            let running = network::builtin::start(tap, o, &self.ports).map_err(with_hint)?;
            self.phase = Phase::Builtin(running);
        }
        Ok(())
    }
}

/// A helper's failure, with what to do about it.
fn with_hint(e: network::helper::HelperError) -> AttachError {
    let hint = e.hint();
    AttachError::helper(e, hint)
}

/// A container on bridge networks: attached once its namespace exists, detached when dropped (the
/// holder also does so by itself when the container's process exits).
struct BridgeAttachment {
    ctx: Ctx,
    net: ContainerNetwork,
    pid: Option<(i32, std::fs::File)>,
    attached: bool,
}

impl BridgeAttachment {
    fn new(ctx: &Ctx, net: ContainerNetwork) -> BridgeAttachment {
        BridgeAttachment {
            ctx: ctx.clone(),
            net,
            pid: None,
            attached: false,
        }
    }
}

impl Attach for BridgeAttachment {
    fn created(&mut self, pid: Pid) -> Result<(), AttachError> {
        if !self.net.networks.is_empty() {
            let netns =
                client::open_netns(pid.as_raw()).map_err(|e| AttachError::helper(e, None))?;
            self.pid = Some((pid.as_raw(), netns));
        }
        Ok(())
    }

    fn ready(&mut self) -> Result<(), AttachError> {
        match self.pid.take() {
            Some((pid, netns)) => {
                attach_networks(&self.ctx, &self.net, pid, &netns)
                    .map_err(|e| AttachError::helper(e, None))?;
                self.attached = true;
                Ok(())
            }
            None => Ok(()),
        }
    }
}

impl Drop for BridgeAttachment {
    fn drop(&mut self) {
        if self.attached {
            let _ = detach_networks(&self.ctx, &self.net.id);
        }
    }
}

/// For a starting container on bridge networks (whose pid 1 is `pid`, still waiting in its new
/// network namespace): attach it to each network, publishing its ports, then add its addresses and
/// `--link`s to its hosts file.
fn attach_networks(
    ctx: &Ctx,
    net: &ContainerNetwork,
    pid: i32,
    netns: &std::fs::File,
) -> Result<(), EngineError> {
    let mut nets = Vec::new();
    for (name, per) in &net.networks {
        // podman also registers the short id and the hostname as DNS names.
        let mut per = per.clone();
        per.aliases = super::aliases_on_network(&net.id, &net.hostname, &per.aliases);
        nets.push((
            config::for_netavark(&defs::find(&ctx.paths.data, name)?),
            per,
        ));
    }
    // Interfaces in the order the networks were given: eth0 for the first one.
    let interfaces = client::setup(
        &launch(ctx)?,
        &net.id,
        &net.name,
        pid,
        netns,
        nets,
        net.settings.ports.clone(),
    )?;
    super::hostfiles::add_attachment(ctx, net, &interfaces);
    Ok(())
}

/// Attach the running container `id` (`name`, `hostname`, pid 1 `pid`) to one more network
/// (`network connect`), under the names [`super::aliases_on_network`] gives it; returns its
/// interface there.
pub fn attach_network(
    ctx: &Ctx,
    id: &str,
    name: &str,
    hostname: &str,
    pid: i32,
    network: &Network,
    mut per: PerNetwork,
) -> Result<BTreeMap<String, NetworkInterface>, EngineError> {
    per.aliases = super::aliases_on_network(id, hostname, &per.aliases);
    Ok(client::setup(
        &launch(ctx)?,
        id,
        name,
        pid,
        &client::open_netns(pid)?,
        vec![(config::for_netavark(network), per)],
        Vec::new(),
    )?)
}

/// Detach the container `id` from all its bridge networks (it ended, or is being removed).
pub fn detach_networks(ctx: &Ctx, id: &str) -> Result<(), EngineError> {
    Ok(client::teardown(&ctx.paths.runtime, id, None)?)
}

/// Detach the running container `id` from one network (`network disconnect`).
pub fn detach_network(ctx: &Ctx, id: &str, network: &str) -> Result<(), EngineError> {
    Ok(client::teardown(
        &ctx.paths.runtime,
        id,
        Some(vec![network.to_string()]),
    )?)
}

/// Set the running container `id`'s bridge networks up again, as they are (`network reload`).
pub fn reload_networks(ctx: &Ctx, id: &str) -> Result<(), EngineError> {
    client::reload(&ctx.paths.runtime, id)?;
    Ok(())
}

/// Move this thread into the rootless network namespace (`unshare --rootless-netns`), where the
/// bridges of the networks are; a command it then executes runs there.
pub fn enter_rootless_netns(ctx: &Ctx) -> Result<(), EngineError> {
    let ns = client::rootless_netns(&ctx.paths.runtime)?;
    nix::sched::setns(&ns, nix::sched::CloneFlags::CLONE_NEWNET)
        .map_err(|e| EngineError::io("enter", "the rootless network namespace", e.into()))
}

/// The interfaces of the running container `id` on bridge networks, per network (for inspect).
pub fn interfaces(ctx: &Ctx, id: &str) -> BTreeMap<String, NetworkInterface> {
    client::status(&ctx.paths.runtime, id)
}
