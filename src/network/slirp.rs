//! slirp4netns: a user-mode TCP/IP stack (libslirp) behind a tap device in the container's network
//! namespace. Published ports go through its API socket (`add_hostfwd`), so no second forwarding
//! process runs; connections from the host's loopback arrive from the gateway address (10.0.2.2),
//! others keep their source address.
use std::io::{BufRead, BufReader, Write};
use std::net::{IpAddr, Ipv4Addr};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::SlirpOptions;
use super::helper::{self, HelperError, Running};
use super::ports::PortMapping;

pub struct Config<'a> {
    /// An open `/proc/PID/ns/net` of the container, which slirp4netns joins.
    pub netns: std::os::fd::RawFd,
    pub options: &'a SlirpOptions,
    pub ports: &'a [PortMapping],
    pub mac_address: Option<&'a str>,
    /// The API socket's path (in the container's runtime directory). Socket addresses are limited to
    /// 107 bytes, so slirp4netns binds it relative to its working directory and we connect through
    /// `/proc/self/fd/DIR/NAME`.
    pub api_socket: &'a Path,
    pub log: &'a Path,
}

/// The network slirp4netns gives the container: `10.0.2.0/24` unless `cidr=` says otherwise.
fn network(o: &SlirpOptions) -> Ipv4Addr {
    o.cidr
        .as_deref()
        .and_then(|c| c.split_once('/'))
        .and_then(|(a, _)| a.parse().ok())
        .unwrap_or(Ipv4Addr::new(10, 0, 2, 0))
}

fn offset(net: Ipv4Addr, n: u32) -> Ipv4Addr {
    Ipv4Addr::from(u32::from(net) + n)
}

/// The container's address (`.100`), the gateway that reaches the host (`.2`), the DNS forwarder (`.3`).
pub fn guest_addr(o: &SlirpOptions) -> Ipv4Addr {
    offset(network(o), 100)
}
pub fn gateway(o: &SlirpOptions) -> Ipv4Addr {
    offset(network(o), 2)
}
pub fn dns(o: &SlirpOptions) -> Ipv4Addr {
    offset(network(o), 3)
}

pub fn args(cfg: &Config<'_>, ready_fd: i32, exit_fd: i32) -> Vec<String> {
    let o = cfg.options;
    let mut a = vec![
        "--configure".to_string(),
        format!("--mtu={}", o.mtu),
        format!("--ready-fd={ready_fd}"),
        format!("--exit-fd={exit_fd}"),
        format!(
            "--api-socket={}",
            cfg.api_socket
                .file_name()
                .map(|n| n.to_string_lossy())
                .unwrap_or_default()
        ),
        "--enable-sandbox".into(),
        "--enable-seccomp".into(),
    ];
    if !o.allow_host_loopback {
        a.push("--disable-host-loopback".into());
    }
    if let Some(c) = &o.cidr {
        a.push(format!("--cidr={c}"));
    }
    if o.enable_ipv6 {
        a.push("--enable-ipv6".into());
    }
    if let Some(x) = &o.outbound_addr {
        a.push(format!("--outbound-addr={x}"));
    }
    if let Some(x) = &o.outbound_addr6 {
        a.push(format!("--outbound-addr6={x}"));
    }
    if let Some(m) = cfg.mac_address {
        a.push(format!("--macaddress={m}"));
    }
    a.push("--netns-type=path".into());
    a.push(format!("/proc/self/fd/{}", cfg.netns));
    a.push("tap0".into());
    a
}

/// slirp4netns started, maybe not ready yet.
pub struct Starting {
    helper: helper::Starting,
    /// What to forward once it is ready, and where.
    ports: Vec<PortMapping>,
    guest: Ipv4Addr,
    api_socket: PathBuf,
}

pub fn spawn(cfg: &Config<'_>) -> Result<Starting, HelperError> {
    let pipe = || {
        nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(|e| HelperError::Start {
            program: "slirp4netns".into(),
            source: e.into(),
        })
    };
    let (ready_r, ready_w) = pipe()?;
    // slirp4netns exits when the read end it holds sees EOF: when we (the write end's only holder)
    // stop or die, so does it.
    let (exit_r, exit_w) = pipe()?;
    let _ = std::fs::remove_file(cfg.api_socket);
    let running = helper::start(
        "slirp4netns",
        &args(cfg, ready_w.as_raw_fd(), exit_r.as_raw_fd()),
        cfg.api_socket.parent(),
        cfg.log,
        &[ready_w.as_raw_fd(), exit_r.as_raw_fd(), cfg.netns],
        vec![exit_w],
    )?;
    drop(ready_w);
    drop(exit_r);
    Ok(Starting {
        helper: helper::Starting {
            running,
            ready: ready_r,
            log: cfg.log.to_path_buf(),
        },
        ports: cfg.ports.to_vec(),
        guest: guest_addr(cfg.options),
        api_socket: cfg.api_socket.to_path_buf(),
    })
}

impl Starting {
    /// Wait until the tap device is configured, then add the port forwards.
    pub fn wait(self) -> Result<Running, HelperError> {
        let Starting {
            helper,
            ports,
            guest,
            api_socket,
        } = self;
        let running = helper.wait()?;
        for m in &ports {
            for (h, c) in m.pairs() {
                add_hostfwd(&api_socket, m, h, c, guest)?;
            }
        }
        Ok(running)
    }
}

/// One `add_hostfwd` request on the API socket (one request per connection).
fn add_hostfwd(
    socket: &Path,
    m: &PortMapping,
    host: u16,
    container: u16,
    guest: Ipv4Addr,
) -> Result<(), HelperError> {
    let api = |source| HelperError::Api {
        path: socket.to_path_buf(),
        source,
    };
    let host_addr = match m.host_ip {
        None => "0.0.0.0".to_string(),
        Some(IpAddr::V6(a)) => a.to_string(),
        Some(a) => a.to_string(),
    };
    let req = serde_json::json!({
        "execute": "add_hostfwd",
        "arguments": {
            "proto": m.protocol.as_str(),
            "host_addr": host_addr,
            "host_port": host,
            "guest_addr": guest.to_string(),
            "guest_port": container,
        }
    });
    let dir = std::fs::File::open(socket.parent().unwrap_or(Path::new("/"))).map_err(api)?;
    let name = socket
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let short = format!("/proc/self/fd/{}/{name}", dir.as_raw_fd());
    let mut s = UnixStream::connect(&short).map_err(api)?;
    s.set_read_timeout(Some(Duration::from_secs(5)))
        .map_err(api)?;
    s.write_all(req.to_string().as_bytes()).map_err(api)?;
    s.shutdown(std::net::Shutdown::Write).map_err(api)?;
    let mut line = String::new();
    BufReader::new(s).read_line(&mut line).map_err(api)?;
    let resp: serde_json::Value = serde_json::from_str(line.trim()).unwrap_or_default();
    if resp.get("return").is_some() {
        return Ok(());
    }
    let why = resp
        .pointer("/error/desc")
        .and_then(|d| d.as_str())
        .map(str::to_string)
        .unwrap_or_else(|| format!("unexpected answer `{}`", line.trim()));
    Err(HelperError::Forward {
        what: format!("{host_addr}:{host}/{}", m.protocol.as_str()),
        why,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_follow_the_cidr() {
        let o = SlirpOptions::default();
        assert_eq!(guest_addr(&o).to_string(), "10.0.2.100");
        assert_eq!(gateway(&o).to_string(), "10.0.2.2");
        assert_eq!(dns(&o).to_string(), "10.0.2.3");
        let o = SlirpOptions {
            cidr: Some("10.5.0.0/24".into()),
            ..SlirpOptions::default()
        };
        assert_eq!(guest_addr(&o).to_string(), "10.5.0.100");
    }

    #[test]
    fn command_line() {
        let o = SlirpOptions {
            allow_host_loopback: true,
            mtu: 1500,
            ..SlirpOptions::default()
        };
        let cfg = Config {
            netns: 42,
            options: &o,
            ports: &[],
            mac_address: None,
            api_socket: Path::new("/run/x/slirp.sock"),
            log: Path::new("/dev/null"),
        };
        let a = args(&cfg, 5, 6).join(" ");
        assert_eq!(
            a,
            "--configure --mtu=1500 --ready-fd=5 --exit-fd=6 --api-socket=slirp.sock \
             --enable-sandbox --enable-seccomp --netns-type=path /proc/self/fd/42 tap0"
        );
    }
}
