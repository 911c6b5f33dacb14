//! `--network slirp`: libslirp run by roost itself (the monitor, or a foreground `run`) on a tap
//! device the container makes. The same guarantees as slirp4netns: published ports (the source
//! address of a client that is not on the host's loopback kept) freed when `run`, `rm -f` return
//! or the holder dies, the host reachable through its own addresses but its loopback only when
//! allowed, IPv6, the DNS forwarder's address, and no process left behind.
use std::io::{Read, Write};
use std::net::{IpAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

use crate::harness::*;
use crate::network::{
    HTTPD, HostServices, LOOPBACK_ONLY, PUBLIC, answering_server, host_ipv4, probe_host,
    published_round_trip, udp_round_trip,
};

#[test]
fn publish_with_builtin() {
    // As slirp4netns: a client on the host's loopback arrives from the gateway address.
    published_round_trip("slirp", "10.0.2.2");
}

#[test]
fn udp_through_builtin() {
    udp_round_trip("slirp");
}

/// GET / on ip:port (a connection to one of the host's own addresses comes from that address),
/// retrying while the server comes up.
fn get_from(ip: IpAddr, port: u16) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let attempt = (|| -> std::io::Result<String> {
            let mut s = TcpStream::connect((ip, port))?;
            assert_eq!(s.local_addr()?.ip(), ip);
            s.set_read_timeout(Some(Duration::from_secs(5)))?;
            s.write_all(b"GET / HTTP/1.0\r\n\r\n")?;
            let mut body = String::new();
            s.read_to_string(&mut body)?;
            if body.is_empty() {
                return Err(std::io::Error::other("empty answer"));
            }
            Ok(body)
        })();
        match attempt {
            Ok(b) => return b,
            Err(e) if Instant::now() > deadline => panic!("GET {ip}:{port}: {e}"),
            Err(_) => std::thread::sleep(Duration::from_millis(50)),
        }
    }
}

/// A detached busybox httpd (`HTTPD`) on the built-in network, published as `publish`: its name.
fn httpd_on(env: &Env, publish: &str) -> String {
    let name = env.safename("web");
    let args = [
        "run",
        "-d",
        "--name",
        &name,
        "--network",
        "slirp",
        "-p",
        publish,
    ];
    let busybox = image("busybox");
    env.roost(0, &[&args[..], &[&busybox, "sh", "-c", HTTPD]].concat());
    name
}

#[test]
fn builtin_keeps_the_source_address_of_other_clients() {
    let env = Env::new("builtin_keeps_the_source_address_of_other_clients");
    let ip = host_ipv4().expect("the test host needs an address other than loopback");
    let port = free_port();
    let name = httpd_on(&env, &format!("{port}:80"));
    let body = get_from(ip.into(), port);
    assert!(body.contains("200 OK"), "{body}");
    let logs = env.roost(0, &["logs", &name]).stderr_text();
    assert!(logs.contains(&format!("{ip}]:")), "{logs}");
    assert!(!logs.contains("10.0.2.2"), "{logs}");
    env.roost(0, &["rm", "-f", "-t", "0", &name]);
    TcpListener::bind(("0.0.0.0", port)).expect("port released after rm -f");
    assert_no_leaks(&env);
}

#[test]
fn builtin_publishes_on_both_families() {
    let env = Env::new("builtin_publishes_on_both_families");
    let v6: IpAddr = "::1".parse().unwrap();
    // A port without a host address: both families reach it, as with pasta.
    let port = free_port();
    let name = httpd_on(&env, &format!("{port}:80"));
    assert!(get_from(v6, port).contains("200 OK"));
    assert!(get_from("127.0.0.1".parse().unwrap(), port).contains("200 OK"));
    env.roost(0, &["rm", "-f", "-t", "0", &name]);
    TcpListener::bind(("::1", port)).expect("IPv6 port released after rm -f");
    // An IPv6 host address: that address only.
    let port = free_port();
    let name = httpd_on(&env, &format!("[::1]:{port}:80"));
    assert!(get_from(v6, port).contains("200 OK"));
    assert!(TcpStream::connect(("127.0.0.1", port)).is_err());
    env.roost(0, &["rm", "-f", "-t", "0", &name]);
    // Without IPv6 in the container, an IPv6 host address is refused, saying why.
    let busybox = image("busybox");
    let err = env
        .roost(
            125,
            &[
                "run",
                "--rm",
                "--network",
                "slirp:enable_ipv6=false",
                "-p",
                &format!("[::1]:{port}:80"),
                &busybox,
                "true",
            ],
        )
        .stderr_text();
    assert!(err.contains("enable_ipv6"), "{err}");
    assert_no_leaks(&env);
}

#[test]
fn builtin_reaches_the_host_loopback_only_when_allowed() {
    let env = Env::new("builtin_reaches_the_host_loopback_only_when_allowed");
    let host = HostServices::start();
    let script = host.script(&["host.containers.internal", "10.0.2.2"]);
    let (hosts, loopback, public) = probe_host(&env, "slirp", &script);
    assert!(!loopback.contains(LOOPBACK_ONLY), "{loopback}\n{hosts}");
    let (ip, _) = host
        .public
        .expect("the test host needs an address other than loopback");
    assert!(
        hosts.contains(&format!("{ip}\thost.containers.internal")),
        "{hosts}"
    );
    assert!(public.contains(PUBLIC), "{public}\n{hosts}");
    let (hosts, loopback, _) = probe_host(&env, "slirp:allow_host_loopback=true", &script);
    assert!(
        hosts.contains("10.0.2.2\thost.containers.internal"),
        "{hosts}"
    );
    assert!(loopback.contains(LOOPBACK_ONLY), "{loopback}\n{hosts}");
    assert_no_leaks(&env);
}

#[test]
fn builtin_ipv6_reaches_the_host_loopback_only_when_allowed() {
    let env = Env::new("builtin_ipv6_reaches_the_host_loopback_only_when_allowed");
    let port = answering_server("::1".parse().unwrap(), LOOPBACK_ONLY);
    // fd00::2 is the gateway, as 10.0.2.2 is for IPv4.
    let script = format!("timeout 5 nc -w 2 fd00::2 {port} </dev/null; true");
    let run = |mode: &str| {
        env.roost(
            0,
            &[
                "run",
                "--rm",
                "--network",
                mode,
                &image("busybox"),
                "sh",
                "-c",
                &script,
            ],
        )
        .stdout_text()
    };
    assert!(!run("slirp").contains(LOOPBACK_ONLY));
    let out = run("slirp:allow_host_loopback=true");
    assert!(out.contains(LOOPBACK_ONLY), "{out}");
    assert_no_leaks(&env);
}

#[test]
fn builtin_interfaces_options_and_inspect() {
    let env = Env::new("builtin_interfaces_options_and_inspect");
    let show = "ip addr show tap0; ip route; ip -6 route; cat /etc/resolv.conf";
    let run = |mode: &str| {
        env.roost(
            0,
            &[
                "run",
                "--rm",
                "--network",
                mode,
                &image("busybox"),
                "sh",
                "-c",
                show,
            ],
        )
        .stdout_text()
    };
    let out = run("slirp");
    for want in [
        "inet 10.0.2.100/24",
        "mtu 65520",
        "inet6 fd00::100/64",
        "default via 10.0.2.2 dev tap0",
        "default via fd00::2 dev tap0",
        "nameserver 10.0.2.3\n",
    ] {
        assert!(out.contains(want), "{want}: {out}");
    }
    let out = run("slirp:mtu=1500,cidr=10.5.0.0/24,enable_ipv6=false");
    for want in [
        "inet 10.5.0.100/24",
        "mtu 1500",
        "default via 10.5.0.2",
        "nameserver 10.5.0.3\n",
    ] {
        assert!(out.contains(want), "{want}: {out}");
    }
    assert!(!out.contains("fd00::100"), "{out}");
    // Reported as what it is; containers.conf may make it the default.
    let mode_of = |args: &[&str]| {
        let mut a = vec!["create"];
        a.extend(args);
        let img = image("busybox");
        a.push(&img);
        a.push("true");
        let id = env.roost(0, &a).stdout_text();
        let shown = env
            .roost(
                0,
                &[
                    "inspect",
                    "--format",
                    "{{.HostConfig.NetworkMode}} {{range $k, $v := .NetworkSettings.Networks}}{{$k}}{{end}}",
                    id.trim(),
                ],
            )
            .stdout_text();
        env.roost(0, &["rm", id.trim()]);
        let (mode, networks) = shown.trim().split_once(' ').unwrap_or_default();
        // As podman: a per-container mode is one network named after it.
        assert_eq!(mode, networks, "{shown}");
        mode.to_string()
    };
    assert_eq!(mode_of(&["--network", "slirp"]), "slirp");
    // The default when libslirp is installed (the test world installs it).
    assert_eq!(mode_of(&[]), "slirp");
    let conf = env.config.join("containers/containers.conf");
    std::fs::write(
        &conf,
        "[network]\ndefault_rootless_network_cmd = \"slirp\"\n",
    )
    .unwrap();
    assert_eq!(mode_of(&[]), "slirp");
    std::fs::write(
        &conf,
        "[network]\ndefault_rootless_network_cmd = \"pasta\"\n",
    )
    .unwrap();
    assert_eq!(mode_of(&[]), "pasta");
    std::fs::remove_file(&conf).unwrap();
    let err = env
        .roost(
            125,
            &[
                "create",
                "--network",
                "slirp:outbound_addr=10.0.0.1",
                &image("busybox"),
            ],
        )
        .stderr_text();
    assert!(err.contains("slirp4netns"), "{err}");
    assert_no_leaks(&env);
}

#[test]
fn builtin_ports_are_free_when_run_and_rm_return() {
    let env = Env::new("builtin_ports_are_free_when_run_and_rm_return");
    let port = free_port();
    let publish = format!("127.0.0.1:{port}:80");
    for _ in 0..3 {
        env.roost(
            0,
            &[
                "run",
                "--rm",
                "--network",
                "slirp",
                "-p",
                &publish,
                &image("busybox"),
                "true",
            ],
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
                "--network",
                "slirp",
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

#[test]
fn killed_foreground_builtin_run_frees_its_port() {
    crate::network::killed_foreground_run_frees_its_port(
        "killed_foreground_builtin_run_frees_its_port",
        &["--network", "slirp"],
    );
}

/// A burst of connections to a published port all complete at once: the host's accept queue takes
/// them while the stack accepts one by one (libslirp's own backlog of 1 dropped the third SYN,
/// and that client waited a second for its retransmission).
#[test]
fn builtin_published_port_takes_a_burst_of_connections() {
    let env = Env::new("builtin_published_port_takes_a_burst_of_connections");
    let port = free_port();
    let name = httpd_on(&env, &format!("127.0.0.1:{port}:80"));
    let ip: IpAddr = [127, 0, 0, 1].into();
    assert!(get_from(ip, port).contains("200 OK"));
    let addr = (ip, port).into();
    let burst: Vec<TcpStream> = (0..32)
        .map(|i| {
            TcpStream::connect_timeout(&addr, Duration::from_millis(500))
                .unwrap_or_else(|e| panic!("connection {i} of a burst of 32: {e}"))
        })
        .collect();
    drop(burst);
    env.roost(0, &["rm", "-f", "-t", "0", &name]);
    assert_no_leaks(&env);
}
