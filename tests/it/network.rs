//! Container networks: pasta and slirp4netns, published ports reached by a real TCP client on
//! 127.0.0.1, `port`, the generated /etc/hosts and /etc/resolv.conf, and no helper left behind.
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

use crate::harness::*;

/// GET / on 127.0.0.1:port, retrying while the server comes up.
pub(crate) fn http_get(port: u16) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let attempt = (|| -> std::io::Result<String> {
            let mut s = TcpStream::connect(("127.0.0.1", port))?;
            s.set_read_timeout(Some(Duration::from_secs(5)))?;
            s.write_all(b"GET / HTTP/1.0\r\nHost: localhost\r\n\r\n")?;
            let mut body = String::new();
            s.read_to_string(&mut body)?;
            if body.is_empty() {
                return Err(std::io::Error::other("empty answer"));
            }
            Ok(body)
        })();
        match attempt {
            Ok(b) => return b,
            Err(e) if Instant::now() > deadline => panic!("GET 127.0.0.1:{port}: {e}"),
            Err(_) => std::thread::sleep(Duration::from_millis(50)),
        }
    }
}

/// busybox httpd serving `hello from NAME` on port 80, logging each client to stderr.
pub(crate) const HTTPD: &str =
    "echo hello from $HOSTNAME > /tmp/index.html; exec httpd -f -v -p 80 -h /tmp";

pub(crate) fn published_round_trip(mode: &str, expected_source: &str) {
    let env = Env::new(&format!("published_round_trip_{mode}"));
    let name = env.safename("web");
    let port = free_port();
    env.roost(
        0,
        &[
            "run",
            "-d",
            "--name",
            &name,
            "--network",
            mode,
            "--hostname",
            "web1",
            "-p",
            &format!("127.0.0.1:{port}:80"),
            &image("busybox"),
            "sh",
            "-c",
            HTTPD,
        ],
    );
    let body = http_get(port);
    assert!(body.contains("200 OK"), "{body}");
    assert!(body.contains("hello from web1"), "{body}");
    // The server saw the client's address as the mode forwards it.
    let logs = env.roost(0, &["logs", &name]).stderr_text();
    assert!(logs.contains(expected_source), "{mode}: {logs}");
    let port_out = env.roost(0, &["port", &name]).stdout_text();
    assert_eq!(port_out, format!("80/tcp -> 127.0.0.1:{port}\n"));
    assert_eq!(
        env.roost(0, &["port", &name, "80"]).stdout_text(),
        format!("127.0.0.1:{port}\n")
    );
    let ps = env
        .roost(
            0,
            &[
                "ps",
                "--format",
                "{{.Ports}}",
                "--filter",
                &format!("name={name}"),
            ],
        )
        .stdout_text();
    assert_eq!(ps.trim(), format!("127.0.0.1:{port}->80/tcp"));
    let inspect = env
        .roost(
            0,
            &[
                "inspect",
                "--format",
                "{{json .NetworkSettings.Ports}}",
                &name,
            ],
        )
        .stdout_text();
    assert!(
        inspect.contains(&format!(
            r#""80/tcp":[{{"HostIp":"127.0.0.1","HostPort":"{port}"}}]"#
        )),
        "{inspect}"
    );
    env.roost(0, &["rm", "-f", &name]);
    assert_no_leaks(&env);
    // The port is free again.
    TcpListener::bind(("127.0.0.1", port)).expect("port released after rm -f");
}

#[test]
fn publish_with_pasta_keeps_the_source_address() {
    published_round_trip("pasta", "127.0.0.1");
}

#[test]
fn publish_with_slirp4netns() {
    // slirp4netns rewrites the host's loopback to its gateway address.
    published_round_trip("slirp4netns", "10.0.2.2");
}

#[test]
fn publish_all_and_random_ports() {
    let env = Env::new("publish_all_and_random_ports");
    let name = env.safename("web");
    env.roost(
        0,
        &[
            "run",
            "-d",
            "--name",
            &name,
            "--expose",
            "80",
            "-P",
            "-p",
            "127.0.0.1::8080",
            &image("busybox"),
            "sh",
            "-c",
            HTTPD,
        ],
    );
    let lines = env.roost(0, &["port", &name]).stdout_lines();
    assert_eq!(lines.len(), 2, "{lines:?}");
    let host_port = |line: &str| -> u16 { line.rsplit(':').next().unwrap().parse().unwrap() };
    let eighty = lines
        .iter()
        .find(|l| l.starts_with("80/tcp -> 0.0.0.0:"))
        .expect("80 published");
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("8080/tcp -> 127.0.0.1:")),
        "{lines:?}"
    );
    assert!(http_get(host_port(eighty)).contains("hello from"));
    env.roost(0, &["rm", "-f", &name]);
    assert_no_leaks(&env);
}

#[test]
fn port_errors_are_clear() {
    let env = Env::new("port_errors_are_clear");
    // `run --rm FLAGS… busybox true` exits 125 and says `why`.
    let refused = |flags: &[&str], why: &str| {
        let img = image("busybox");
        let mut args = vec!["run", "--rm"];
        args.extend_from_slice(flags);
        args.extend([img.as_str(), "true"]);
        let err = env.roost(125, &args).stderr_text();
        assert!(err.contains(why), "{flags:?}: {err}");
    };
    refused(&["-p", "80:80"], "net.ipv4.ip_unprivileged_port_start");
    refused(&["-p", "8080:80-81"], "invalid port publication");
    refused(
        &["--network", "none", "-p", "8080:80"],
        "cannot publish ports",
    );
    refused(&["--network", "slirp4netns:mtu=1"], "mtu");
    // A host port already taken fails the start (126, as podman) and leaves nothing behind.
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let out = env.roost(
        126,
        &[
            "run",
            "--rm",
            "-p",
            &format!("127.0.0.1:{port}:80"),
            &image("busybox"),
            "true",
        ],
    );
    assert!(!out.stderr_text().is_empty());
    assert_no_leaks(&env);
    let ps = env.roost(0, &["ps", "-aq"]).stdout_text();
    assert!(ps.is_empty(), "{ps}");
}

#[test]
fn hosts_and_resolv_conf() {
    let env = Env::new("hosts_and_resolv_conf");
    let name = env.safename("c");
    let out = env.roost(
        0,
        &[
            "run",
            "--rm",
            "--name",
            &name,
            "--hostname",
            "box",
            "--network",
            "slirp4netns:allow_host_loopback=true",
            "--add-host",
            "db.local:10.9.8.7",
            "--add-host",
            "gw:host-gateway",
            "--dns",
            "192.0.2.53",
            "--dns-search",
            "example.test",
            "--dns-option",
            "ndots:3",
            &image("busybox"),
            "sh",
            "-c",
            "cat /etc/hosts; echo ---; cat /etc/resolv.conf",
        ],
    );
    let text = out.stdout_text();
    let (hosts, resolv) = text.split_once("---\n").unwrap();
    assert!(hosts.contains("127.0.0.1\tlocalhost"), "{hosts}");
    assert!(hosts.contains("10.9.8.7\tdb.local\n"), "{hosts}");
    assert!(hosts.contains("10.0.2.2\tgw\n"), "{hosts}");
    assert!(
        hosts.contains("10.0.2.2\thost.containers.internal"),
        "{hosts}"
    );
    assert!(
        hosts.contains(&format!("10.0.2.100\tbox {name}\n")),
        "{hosts}"
    );
    assert_eq!(
        resolv,
        "search example.test\nnameserver 192.0.2.53\noptions ndots:3\n"
    );
    // slirp4netns's own DNS forwarder by default; the image's /etc/hosts with --no-hosts.
    let out = env.roost(
        0,
        &[
            "run",
            "--rm",
            "--network",
            "slirp4netns",
            "--no-hosts",
            &image("busybox"),
            "sh",
            "-c",
            "cat /etc/resolv.conf; echo ---; cat /etc/hosts 2>&1; true",
        ],
    );
    let text = out.stdout_text();
    assert!(text.contains("nameserver 10.0.2.3\n"), "{text}");
    assert!(!text.contains("host.containers.internal"), "{text}");
    // pasta copies the host's address and routes: the container's own name resolves to it; with
    // --map-gw, host.containers.internal is the gateway, which pasta maps to the host.
    let out = env.roost(
        0,
        &[
            "run",
            "--rm",
            "--network",
            "pasta:--map-gw",
            &image("busybox"),
            "sh",
            "-c",
            "ip -4 route show default; echo ---; cat /etc/hosts",
        ],
    );
    let text = out.stdout_text();
    let (route, hosts) = text.split_once("---\n").unwrap();
    let gw = route.split_whitespace().nth(2).expect("a default route");
    assert!(
        hosts.contains(&format!("{gw}\thost.containers.internal")),
        "{text}"
    );
    assert_no_leaks(&env);
}

#[test]
fn modes_none_and_slirp_options() {
    let env = Env::new("modes_none_and_slirp_options");
    let out = env.roost(
        0,
        &[
            "run",
            "--rm",
            "--network",
            "none",
            &image("busybox"),
            "ip",
            "-o",
            "link",
        ],
    );
    let links = out.stdout_lines();
    assert_eq!(links.len(), 1, "{links:?}");
    assert!(links[0].contains(": lo:"), "{links:?}");
    let out = env.roost(
        0,
        &[
            "run",
            "--rm",
            "--network",
            "slirp4netns:mtu=1500,cidr=10.5.0.0/24",
            &image("busybox"),
            "sh",
            "-c",
            "ip -o link show tap0; ip -4 -o addr show tap0",
        ],
    );
    let text = out.stdout_text();
    assert!(text.contains("mtu 1500"), "{text}");
    assert!(text.contains("10.5.0.100/24"), "{text}");
    let mode = env
        .roost(
            0,
            &["create", "--network", "private", &image("busybox"), "true"],
        )
        .stdout_text();
    let id = mode.trim();
    let shown = env
        .roost(
            0,
            &["inspect", "--format", "{{.HostConfig.NetworkMode}}", id],
        )
        .stdout_text();
    // The built-in network when libslirp is installed (it is in the test world), as `doctor` says.
    assert_eq!(shown.trim(), "slirp");
    env.roost(0, &["rm", id]);
    // containers.conf's default_rootless_network_cmd picks the default helper (podman 5's key).
    let conf = env.config.join("containers/containers.conf");
    std::fs::write(
        &conf,
        "[network]\ndefault_rootless_network_cmd = \"slirp4netns\"\n",
    )
    .unwrap();
    let id = env
        .roost(0, &["create", &image("busybox"), "true"])
        .stdout_text();
    let shown = env
        .roost(
            0,
            &[
                "inspect",
                "--format",
                "{{.HostConfig.NetworkMode}}",
                id.trim(),
            ],
        )
        .stdout_text();
    assert_eq!(shown.trim(), "slirp4netns");
    env.roost(0, &["rm", id.trim()]);
    assert_no_leaks(&env);
}

#[test]
fn container_mode_shares_the_network() {
    let env = Env::new("container_mode_shares_the_network");
    let web = env.safename("web");
    env.roost(
        0,
        &[
            "run",
            "-d",
            "--name",
            &web,
            &image("busybox"),
            "sh",
            "-c",
            HTTPD,
        ],
    );
    let out = env.roost(
        0,
        &[
            "run", "--rm", "--network", &format!("container:{web}"), &image("busybox"), "sh", "-c",
            "for i in 1 2 3 4 5 6 7 8 9 10; do wget -q -O - http://127.0.0.1:80/ && exit 0; sleep 0.2; done; exit 1",
        ],
    );
    assert!(
        out.stdout_text().starts_with("hello from"),
        "{}",
        out.stdout_text()
    );
    env.roost(0, &["rm", "-f", &web]);
    let out = env.roost(
        125,
        &[
            "run",
            "--rm",
            "--network",
            "container:nonesuch",
            &image("busybox"),
            "true",
        ],
    );
    assert!(
        out.stderr_text().contains("nonesuch"),
        "{}",
        out.stderr_text()
    );
    assert_no_leaks(&env);
}

#[test]
fn killed_foreground_run_leaves_no_helper() {
    killed_foreground_run_frees_its_port("killed_foreground_run_leaves_no_helper", &[]);
}

/// A foreground `run -p` (with `network` flags) killed with SIGKILL: whatever forwarded the port
/// (a helper tied to the process, or a thread of it) is gone with it, and the port is free again.
pub(crate) fn killed_foreground_run_frees_its_port(test: &str, network: &[&str]) {
    let env = Env::new(test);
    let name = env.safename("fg");
    let port = free_port();
    let publish = format!("127.0.0.1:{port}:80");
    let img = image("busybox");
    let mut args = vec!["run", "--name", &name];
    args.extend_from_slice(network);
    args.extend(["-p", &publish, &img, "sh", "-c", HTTPD]);
    let mut child = env.roost_spawn(&args);
    assert!(http_get(port).contains("hello from"));
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    let _ = child.wait();
    let deadline = Instant::now() + Duration::from_secs(5);
    while TcpListener::bind(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "the published port stayed bound");
        std::thread::sleep(Duration::from_millis(50));
    }
    env.roost(0, &["rm", "-f", &name]);
    assert_no_leaks(&env);
}

/// socat from the host with its loader and libraries (tests/world.sh), bound at /tools.
fn socat_args(script: &[&str]) -> Vec<String> {
    let mut a = vec![
        "/tools/ld-linux-x86-64.so.2".to_string(),
        "--library-path".into(),
        "/tools".into(),
        "/tools/socat".into(),
    ];
    a.extend(script.iter().map(|s| s.to_string()));
    a
}

pub(crate) fn udp_round_trip(mode: &str) {
    let env = Env::new(&format!("udp_round_trip_{mode}"));
    let name = env.safename("udp");
    // Any other mode is a user-defined network of that name.
    let bridge = !["pasta", "slirp4netns", "slirp"].contains(&mode);
    let mode = if bridge {
        let net = env.safename(mode);
        env.roost(0, &["network", "create", &net]);
        net
    } else {
        mode.to_string()
    };
    let mode = mode.as_str();
    let port = std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let tools = archives_dir().parent().unwrap().join("tools");
    let bind = format!("{}:/tools:ro", tools.display());
    let publish = format!("127.0.0.1:{port}:90/udp");
    let server = socat_args(&["-u", "UDP-RECV:90", "OPEN:/tmp/udp.txt,creat,append"]);
    let mut args = vec![
        "run",
        "-d",
        "--name",
        &name,
        "--network",
        mode,
        "-p",
        &publish,
        "-v",
        &bind,
    ];
    let img = image("busybox");
    args.push(&img);
    args.extend(server.iter().map(String::as_str));
    env.roost(0, &args);
    assert_eq!(
        env.roost(0, &["port", &name]).stdout_text(),
        format!("90/udp -> 127.0.0.1:{port}\n")
    );
    let client = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        client.send_to(b"datagram\n", ("127.0.0.1", port)).unwrap();
        std::thread::sleep(Duration::from_millis(100));
        let got = env
            .roost_cmd(&["exec", &name, "cat", "/tmp/udp.txt"])
            .output()
            .unwrap();
        if String::from_utf8_lossy(&got.stdout).contains("datagram") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no datagram arrived through {mode}"
        );
    }
    env.roost(0, &["rm", "-f", &name]);
    if bridge {
        env.roost(0, &["network", "rm", mode]);
    }
    assert_no_leaks(&env);
}

#[test]
fn udp_through_a_bridge_network() {
    udp_round_trip("net");
}

#[test]
fn udp_through_pasta() {
    udp_round_trip("pasta");
}

#[test]
fn udp_through_slirp4netns() {
    udp_round_trip("slirp4netns");
}

#[test]
fn published_ports_are_free_when_run_and_rm_return() {
    let env = Env::new("published_ports_are_free_when_run_and_rm_return");
    let port = free_port();
    let publish = format!("127.0.0.1:{port}:80");
    // Back to back on the same host port: each command returns only once the helper that bound
    // the port is gone.
    for _ in 0..3 {
        env.roost(
            0,
            &["run", "--rm", "-p", &publish, &image("busybox"), "true"],
        );
    }
    let name = env.safename("d");
    for _ in 0..3 {
        env.roost(
            0,
            &[
                "run",
                "-d",
                "--name",
                &name,
                "-p",
                &publish,
                &image("busybox"),
                "sleep",
                "100",
            ],
        );
        env.roost(0, &["rm", "-f", "-t", "0", &name]);
    }
    TcpListener::bind(("127.0.0.1", port)).expect("port free after rm -f");
    assert_no_leaks(&env);
}

/// A server on the host answering `msg` to every connection, on `ip` and a free port.
pub(crate) fn answering_server(ip: std::net::IpAddr, msg: &'static str) -> u16 {
    let listener = TcpListener::bind((ip, 0)).unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for mut s in listener.incoming().flatten() {
            let _ = s.write_all(msg.as_bytes());
        }
    });
    port
}

/// The host's first IPv4 address other than loopback and link-local, if it has one.
pub(crate) fn host_ipv4() -> Option<std::net::Ipv4Addr> {
    nix::ifaddrs::getifaddrs().ok()?.find_map(|a| {
        let ip = a.address?.as_sockaddr_in()?.ip();
        (!ip.is_loopback() && !ip.is_link_local()).then_some(ip)
    })
}

/// Host services for the reachability tests: one on 127.0.0.1 only, one on the host's own
/// non-loopback address (when it has one).
pub(crate) struct HostServices {
    pub(crate) loopback: u16,
    pub(crate) public: Option<(std::net::Ipv4Addr, u16)>,
}

pub(crate) const LOOPBACK_ONLY: &str = "answer-from-the-host-loopback";
pub(crate) const PUBLIC: &str = "answer-from-the-host-address";

impl HostServices {
    pub(crate) fn start() -> HostServices {
        HostServices {
            loopback: answering_server([127, 0, 0, 1].into(), LOOPBACK_ONLY),
            public: host_ipv4().map(|ip| (ip, answering_server(ip.into(), PUBLIC))),
        }
    }

    /// A script that prints /etc/hosts, then tries each of `targets` on the loopback server's port
    /// and host.containers.internal on the public one's (each attempt bounded by nc's connect
    /// timeout and `timeout`).
    pub(crate) fn script(&self, targets: &[&str]) -> String {
        let mut s = String::from("cat /etc/hosts; echo ---; ");
        for t in targets {
            s.push_str(&format!(
                "timeout 5 nc -w 2 {t} {} </dev/null; ",
                self.loopback
            ));
        }
        if let Some((_, port)) = self.public {
            s.push_str(&format!(
                "echo ---; timeout 5 nc -w 2 host.containers.internal {port} </dev/null; "
            ));
        }
        s.push_str("true");
        s
    }
}

/// Run `script` on `--network mode`; returns (hosts file, answers from the loopback server's
/// port, answers from the public one).
pub(crate) fn probe_host(env: &Env, mode: &str, script: &str) -> (String, String, String) {
    let out = env
        .roost(
            0,
            &[
                "run",
                "--rm",
                "--network",
                mode,
                &image("busybox"),
                "sh",
                "-c",
                script,
            ],
        )
        .stdout_text();
    let mut parts = out.splitn(3, "---\n").map(str::to_string);
    (
        parts.next().unwrap_or_default(),
        parts.next().unwrap_or_default(),
        parts.next().unwrap_or_default(),
    )
}

#[test]
fn pasta_reaches_the_host_loopback_only_when_allowed() {
    let env = Env::new("pasta_reaches_the_host_loopback_only_when_allowed");
    let host = HostServices::start();
    // Only host.containers.internal: without the gateway mapping, the gateway address is the real
    // gateway, outside this machine.
    let script = host.script(&["host.containers.internal"]);
    for mode in ["private", "pasta"] {
        let (hosts, loopback, _) = probe_host(&env, mode, &script);
        assert!(
            !loopback.contains(LOOPBACK_ONLY),
            "{mode}: {loopback}\n{hosts}"
        );
        // Never the container's own address (pasta gives it the host's).
        let own = hosts.lines().last().unwrap_or_default().split('\t').next();
        let hci = hosts
            .lines()
            .find(|l| l.contains("host.containers.internal"))
            .and_then(|l| l.split('\t').next());
        assert!(hci.is_none() || hci != own, "{mode}: {hosts}");
    }
    // podman's opt-in: the gateway address reaches the host's loopback.
    let (hosts, loopback, _) = probe_host(&env, "pasta:--map-gw", &script);
    assert!(loopback.contains(LOOPBACK_ONLY), "{loopback}\n{hosts}");
    // The same from containers.conf's pasta_options, for every pasta container.
    let conf = env.config.join("containers/containers.conf");
    std::fs::write(&conf, "[network]\npasta_options = [\"--map-gw\"]\n").unwrap();
    let (hosts, loopback, _) = probe_host(&env, "pasta", &script);
    assert!(loopback.contains(LOOPBACK_ONLY), "{loopback}\n{hosts}");
    std::fs::remove_file(&conf).unwrap();
    assert_no_leaks(&env);
}

#[test]
fn slirp4netns_reaches_the_host_loopback_only_when_allowed() {
    let env = Env::new("slirp4netns_reaches_the_host_loopback_only_when_allowed");
    let host = HostServices::start();
    let script = host.script(&["host.containers.internal", "10.0.2.2"]);
    let (hosts, loopback, public) = probe_host(&env, "slirp4netns", &script);
    assert!(!loopback.contains(LOOPBACK_ONLY), "{loopback}\n{hosts}");
    // host.containers.internal is the host's own address, which reaches its other services.
    if let Some((ip, _)) = host.public {
        assert!(
            hosts.contains(&format!("{ip}\thost.containers.internal")),
            "{hosts}"
        );
        assert!(public.contains(PUBLIC), "{public}\n{hosts}");
    }
    let (hosts, loopback, _) = probe_host(&env, "slirp4netns:allow_host_loopback=true", &script);
    assert!(
        hosts.contains("10.0.2.2\thost.containers.internal"),
        "{hosts}"
    );
    assert!(loopback.contains(LOOPBACK_ONLY), "{loopback}\n{hosts}");
    assert_no_leaks(&env);
}

#[test]
fn bridge_networks_do_not_reach_the_host_loopback() {
    let env = Env::new("bridge_networks_do_not_reach_the_host_loopback");
    let host = HostServices::start();
    // The network's gateway, the rootless namespace's way out and host.containers.internal.
    let script = host.script(&["host.containers.internal", "10.0.2.2", "10.88.0.1"]);
    let (hosts, loopback, public) = probe_host(&env, "podman", &script);
    assert!(!loopback.contains(LOOPBACK_ONLY), "{loopback}\n{hosts}");
    if let Some((ip, _)) = host.public {
        assert!(
            hosts.contains(&format!("{ip}\thost.containers.internal")),
            "{hosts}"
        );
        assert!(public.contains(PUBLIC), "{public}\n{hosts}");
    }
    assert_no_leaks(&env);
}

/// pasta listens on 0.0.0.0 and [::] for `-p PORT:…`: a port taken on either fails `run`, names
/// the port and what holds it, and leaves nothing behind.
#[test]
fn a_port_taken_on_one_family_fails_run() {
    let env = Env::new("a_port_taken_on_one_family_fails_run");
    let name = env.safename("web");
    // What a registry on 127.0.0.1:PORT does: 0.0.0.0:PORT cannot be bound, [::]:PORT can.
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let publish = format!("{port}:80");
    let img = image("busybox");
    for flags in [&["-d", "--name", &name][..], &["--rm"][..]] {
        let mut args = vec!["run"];
        args.extend_from_slice(flags);
        args.extend(["-p", &publish, &img, "sleep", "60"]);
        let err = env.roost(126, &args).stderr_text();
        assert!(
            err.contains(&format!("host port {port}/tcp on 0.0.0.0"))
                && err.contains(&format!("127.0.0.1:{port}"))
                && err.contains("Hint:"),
            "{flags:?}: {err}"
        );
        let ps = env.roost(0, &["ps", "-aq"]).stdout_text();
        assert!(ps.is_empty(), "{flags:?}: {ps}");
        assert_no_leaks(&env);
    }
    // A container created while the port was free fails to start once it is taken.
    drop(taken);
    env.roost(
        0,
        &[
            "create",
            "--name",
            &name,
            "-p",
            &publish,
            &image("busybox"),
            "true",
        ],
    );
    let _taken = TcpListener::bind(("127.0.0.1", port)).unwrap();
    let err = env.roost(125, &["start", &name]).stderr_text();
    assert!(err.contains(&format!("host port {port}/tcp")), "{err}");
    env.roost(0, &["rm", "-f", &name]);
    assert_no_leaks(&env);
}

/// With pasta each container is alone in its namespace: `--link` cannot work there and says so.
#[test]
fn link_needs_a_bridge_network() {
    let env = Env::new("link_needs_a_bridge_network");
    for mode in ["private", "pasta", "slirp4netns"] {
        let err = env
            .roost(
                125,
                &[
                    "run",
                    "--rm",
                    "--network",
                    mode,
                    "--link",
                    "web",
                    &image("busybox"),
                    "true",
                ],
            )
            .stderr_text();
        assert!(
            err.contains("--link `web` needs a bridge network")
                && err.contains("roost network create"),
            "{mode}: {err}"
        );
    }
    let ps = env.roost(0, &["ps", "-aq"]).stdout_text();
    assert!(ps.is_empty(), "{ps}");
    assert_no_leaks(&env);
}
