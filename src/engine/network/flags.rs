//! What can be wrong with a container's network flags (`--network`, `-p`, `--expose`, `--dns`,
//! `--add-host`, `--link`), each naming the flag and its value.
use crate::network::ModeError;
use crate::network::ports::PortError;

#[derive(Debug, thiserror::Error)]
pub enum NetFlagError {
    #[error("invalid --add-host `{0}`: use HOST:IP or HOST;HOST...:IP")]
    AddHostSyntax(String),
    #[error("invalid --add-host `{arg}`: `{ip}` is not an IP address (or host-gateway)")]
    AddHostIp { arg: String, ip: String },
    #[error(
        "--add-host `{0}:host-gateway`: no address of the host is reachable from this container \
         (the host's loopback is not, unless you allow it); set host_containers_internal_ip in containers.conf, \
         give the address yourself (--add-host {0}:IP), or allow the host's loopback (--network pasta:--map-gw, slirp4netns:allow_host_loopback=true)"
    )]
    NoHostGateway(String),
    #[error(transparent)]
    Mode(#[from] ModeError),
    #[error(transparent)]
    Expose(#[from] PortError),
    #[error(
        "cannot publish ports with --network {0}: the container has no network of its own to forward them to"
    )]
    PublishWithoutNetwork(String),
    #[error("--dns none cannot be combined with DNS servers")]
    DnsNone,
    #[error("invalid --dns `{0}`: not an IP address")]
    Dns(String),
    #[error(
        "cannot publish host port {port} rootless: ports below {start} are privileged (net.ipv4.ip_unprivileged_port_start = {start}); \
         use a port of {start} or above, or lower it: sudo sysctl net.ipv4.ip_unprivileged_port_start={port}"
    )]
    PrivilegedPort { port: u16, start: u16 },
    #[error(
        "--link `{link}` needs a bridge network: with --network {mode} the container has a network of its own and no route to other containers; \
         create one with `roost network create NET` and run both containers with `--network NET` (they then reach each other by name)"
    )]
    LinkNeedsBridge { link: String, mode: String },
    #[error(
        "--network slirp needs libslirp (libslirp.so.0), which cannot be loaded here ({0}); install it (Debian's libslirp0, Fedora's libslirp) or use --network pasta or slirp4netns"
    )]
    NoLibslirp(String),
    #[error("cannot join the network of container `{0}`: it is not running")]
    JoinNotRunning(String),
}
