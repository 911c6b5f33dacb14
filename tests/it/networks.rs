//! User-defined bridge networks: the `network` verbs, and containers on networks reaching each other
//! by address and by name through aardvark-dns, in the rootless network namespace that goes away with
//! the last container. Traffic stays inside namespaces the tests make.

use std::path::PathBuf;
use std::process::Child;
use std::time::Duration;

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;

use crate::harness::*;

/// The holder's pid file: present while the rootless network namespace exists.
fn netns_pid_file(env: &Env) -> PathBuf {
    env.vars()
        .into_iter()
        .find(|(k, _)| *k == "XDG_RUNTIME_DIR")
        .map(|(_, v)| v.join("roost/netns/pid"))
        .expect("the env sets XDG_RUNTIME_DIR")
}

/// No container, no rootless network namespace, no helper left.
fn assert_network_gone(env: &Env) {
    let pid = netns_pid_file(env);
    assert!(
        wait_for(Duration::from_secs(5), || !pid.exists()),
        "the rootless network namespace is still held"
    );
    assert_no_leaks(env);
}

/// A detached busybox httpd serving /etc on port 8080.
fn web(env: &Env, name: &str, extra: &[&str]) {
    let img = bb();
    let mut args = vec!["run", "-d", "--name", name];
    args.extend(extra);
    args.extend([img.as_str(), "httpd", "-f", "-p", "8080", "-h", "/etc"]);
    env.roost(0, &args);
}

fn run_on(env: &Env, code: i32, net: &str, script: &str) -> String {
    let img = bb();
    env.roost(
        code,
        &["run", "--rm", "--network", net, &img, "sh", "-c", script],
    )
    .stdout_text()
}

#[test]
fn network_verbs_and_formats() {
    let env = Env::new("network_verbs_and_formats");
    let a = env.safename("a");
    assert_eq!(
        out(&env, &["network", "create", "--label", "k=v", &a]),
        format!("{a}\n")
    );
    let ls = out(&env, &["network", "ls"]);
    let mut lines = ls.lines();
    assert!(lines.next().unwrap().starts_with("NETWORK ID"), "{ls}");
    assert!(ls.contains("podman ") && ls.contains(&a), "{ls}");
    let names = out(
        &env,
        &["network", "ls", "--format", "{{.Name}} {{.Driver}}"],
    );
    assert_eq!(names, sorted(&[&format!("{a} bridge"), "podman bridge"]));
    // podman-network-ls(1): `-q` prints names.
    assert_eq!(
        out(&env, &["network", "ls", "-q", "--filter", "label=k=v"]),
        format!("{a}\n")
    );
    assert_eq!(
        out(
            &env,
            &[
                "network",
                "ls",
                "--format",
                "{{.Name}}",
                "--filter",
                "name=^podman$"
            ]
        ),
        "podman\n"
    );
    let json: serde_json::Value =
        serde_json::from_str(&out(&env, &["network", "ls", "--format", "json"])).unwrap();
    assert_eq!(json.as_array().unwrap().len(), 2);
    let inspect: serde_json::Value =
        serde_json::from_str(&out(&env, &["network", "inspect", &a])).unwrap();
    let n = &inspect[0];
    assert_eq!(n["name"], a.as_str());
    assert_eq!(n["driver"], "bridge");
    assert_eq!(n["subnets"][0]["subnet"], "10.89.0.0/24");
    assert_eq!(n["subnets"][0]["gateway"], "10.89.0.1");
    assert_eq!(n["dns_enabled"], true);
    assert_eq!(n["labels"]["k"], "v");
    assert_eq!(n["id"].as_str().unwrap().len(), 64);
    assert_eq!(
        out(
            &env,
            &[
                "network",
                "inspect",
                "--format",
                "{{.NetworkInterface}} {{range .Subnets}}{{.Subnet}}{{end}}",
                &a
            ]
        ),
        "podman1 10.89.0.0/24\n"
    );
    let def: serde_json::Value =
        serde_json::from_str(&out(&env, &["network", "inspect", "podman"])).unwrap();
    assert_eq!(def[0]["subnets"][0]["subnet"], "10.88.0.0/16");
    // The next network takes the next subnet; an overlapping one is refused.
    let b = env.safename("b");
    out(
        &env,
        &["network", "create", "--internal", "--disable-dns", &b],
    );
    assert_eq!(
        out(
            &env,
            &[
                "network",
                "inspect",
                "-f",
                "{{range .Subnets}}{{.Subnet}}{{end}} {{.Internal}} {{.DNSEnabled}}",
                &b
            ]
        ),
        "10.89.1.0/24 true false\n"
    );
    let e = env.roost(
        125,
        &["network", "create", "--subnet", "10.89.1.128/25", "x"],
    );
    assert!(
        e.stderr_text().contains("already used"),
        "{}",
        e.stderr_text()
    );
    let e = env.roost(125, &["network", "create", &a]);
    assert!(
        e.stderr_text().contains("already exists"),
        "{}",
        e.stderr_text()
    );
    env.roost(0, &["network", "create", "--ignore", &a]);
    env.roost(0, &["network", "exists", &a]);
    env.roost(1, &["network", "exists", "nope"]);
    let e = env.roost(1, &["network", "rm", "nope"]);
    assert!(
        e.stderr_text().contains("network not found"),
        "{}",
        e.stderr_text()
    );
    let e = env.roost(125, &["network", "rm", "podman"]);
    assert!(
        e.stderr_text().contains("cannot be removed"),
        "{}",
        e.stderr_text()
    );
    assert_eq!(out(&env, &["network", "rm", &b]), format!("{b}\n"));
    let e = env.roost(125, &["network", "create", "-d", "macvlan", "m"]);
    assert!(
        e.stderr_text().contains("not supported"),
        "{}",
        e.stderr_text()
    );
    assert_eq!(out(&env, &["network", "prune", "-f"]), format!("{a}\n"));
    assert_eq!(out(&env, &["network", "ls", "-q"]).lines().count(), 1);
    assert_no_leaks(&env);
}

fn sorted(lines: &[&str]) -> String {
    let mut v: Vec<&str> = lines.to_vec();
    v.sort();
    v.iter().map(|l| format!("{l}\n")).collect()
}

#[test]
fn containers_resolve_each_other_by_name_and_alias() {
    let env = env_with_busybox("containers_resolve_each_other_by_name_and_alias");
    let c = Cleanup(&env);
    let net = env.safename("net");
    out(&env, &["network", "create", &net]);
    let srv = env.safename("srv");
    web(
        &env,
        &srv,
        &["--network", &net, "--network-alias", "websrv"],
    );
    let text = run_on(
        &env,
        0,
        &net,
        &format!(
            "grep nameserver /etc/resolv.conf; nslookup {srv} | grep -A1 Name:; \
             wget -q -O - http://websrv:8080/hostname; wget -q -O - http://{srv}:8080/hostname"
        ),
    );
    assert!(text.contains("nameserver 10.89.0.1"), "{text}");
    assert!(text.contains("Address: 10.89.0.2"), "{text}");
    let hostname = out(&env, &["inspect", "--format", "{{.Config.Hostname}}", &srv]);
    assert_eq!(text.matches(hostname.trim()).count(), 2, "{text}");
    // inspect and ps show the network.
    let ip = out(
        &env,
        &[
            "inspect",
            "--format",
            &format!("{{{{(index .NetworkSettings.Networks \"{net}\").IPAddress}}}}"),
            &srv,
        ],
    );
    assert_eq!(ip, "10.89.0.2\n");
    assert_eq!(
        out(&env, &["ps", "--format", "{{.Networks}}"]),
        format!("{net}\n")
    );
    // In use: refused without -f; with -f the container goes too.
    let e = env.roost(2, &["network", "rm", &net]);
    assert!(
        e.stderr_text().contains("is being used"),
        "{}",
        e.stderr_text()
    );
    out(&env, &["network", "rm", "-f", &net]);
    assert_eq!(out(&env, &["ps", "-a", "-q"]), "");
    drop(c);
    assert_network_gone(&env);
}

#[test]
fn networks_are_isolated_and_internal_has_no_way_out() {
    let env = env_with_busybox("networks_are_isolated_and_internal_has_no_way_out");
    let c = Cleanup(&env);
    let (a, b, i) = (env.safename("a"), env.safename("b"), env.safename("i"));
    out(&env, &["network", "create", &a]);
    out(&env, &["network", "create", &b]);
    out(&env, &["network", "create", "--internal", &i]);
    let srv = env.safename("srv");
    web(&env, &srv, &["--network", &a]);
    // Same network: reachable. Other network: neither the address nor the name.
    run_on(
        &env,
        0,
        &a,
        "timeout 5 wget -q -O /dev/null http://10.89.0.2:8080/hostname",
    );
    let text = run_on(
        &env,
        0,
        &b,
        &format!(
            "timeout 2 wget -q -O /dev/null http://10.89.0.2:8080/hostname && echo reached; \
             timeout 2 nslookup {srv} >/dev/null 2>&1 && echo resolved; ip route"
        ),
    );
    assert!(
        !text.contains("reached") && !text.contains("resolved"),
        "{text}"
    );
    assert!(text.contains("default via 10.89.1.1"), "{text}");
    let routes = run_on(&env, 0, &i, "ip route");
    assert!(
        !routes.contains("default"),
        "internal network has a default route: {routes}"
    );
    drop(c);
    assert_network_gone(&env);
}

#[test]
fn static_ip_is_honoured_and_conflicts_are_refused() {
    let env = env_with_busybox("static_ip_is_honoured_and_conflicts_are_refused");
    let c = Cleanup(&env);
    let net = env.safename("net");
    out(
        &env,
        &["network", "create", "--subnet", "192.168.77.0/24", &net],
    );
    let img = bb();
    let first = env.safename("first");
    env.roost(
        0,
        &[
            "run",
            "-d",
            "--name",
            &first,
            "--network",
            &net,
            "--ip",
            "192.168.77.50",
            "--mac-address",
            "02:42:ac:11:00:09",
            &img,
            "sleep",
            "300",
        ],
    );
    let shown = out(&env, &["exec", &first, "ip", "addr", "show", "eth0"]);
    assert!(shown.contains("inet 192.168.77.50/24"), "{shown}");
    assert!(shown.contains("02:42:ac:11:00:09"), "{shown}");
    let e = env.roost(
        125,
        &[
            "run",
            "--rm",
            "--network",
            &format!("{net}:ip=192.168.77.50"),
            &img,
            "true",
        ],
    );
    assert!(
        e.stderr_text().contains("already allocated"),
        "{}",
        e.stderr_text()
    );
    let e = env.roost(
        125,
        &["create", "--network", &net, "--ip", "10.1.1.1", &img],
    );
    assert!(
        e.stderr_text().contains("not in any subnet"),
        "{}",
        e.stderr_text()
    );
    drop(c);
    assert_network_gone(&env);
}

#[test]
fn connect_and_disconnect_a_running_container() {
    let env = env_with_busybox("connect_and_disconnect_a_running_container");
    let c = Cleanup(&env);
    let (a, b) = (env.safename("a"), env.safename("b"));
    out(&env, &["network", "create", &a]);
    out(&env, &["network", "create", &b]);
    let srv = env.safename("srv");
    let host = env.safename("host");
    web(&env, &srv, &["--network", &a, "--hostname", &host]);
    out(&env, &["network", "connect", "--alias", "second", &b, &srv]);
    let addrs = out(&env, &["exec", &srv, "ip", "-4", "addr"]);
    assert!(
        addrs.contains("10.89.0.2") && addrs.contains("10.89.1.2"),
        "{addrs}"
    );
    // Its names on each network: the short id, the hostname it was given, then its aliases.
    let id = out(&env, &["inspect", "--format", "{{.Id}}", &srv]);
    let aliases = |net: &str| {
        out(
            &env,
            &[
                "inspect",
                "--format",
                &format!("{{{{(index .NetworkSettings.Networks \"{net}\").Aliases}}}}"),
                &srv,
            ],
        )
    };
    assert_eq!(aliases(&a), format!("[{} {host}]\n", &id[..12]));
    assert_eq!(aliases(&b), format!("[{} {host} second]\n", &id[..12]));
    // A container on b alone now reaches it, by its alias and its hostname too (aardvark-dns
    // reloads its records when netavark signals it, asynchronously, so the names may take a
    // moment to appear).
    run_on(
        &env,
        0,
        &b,
        &format!(
            "for i in $(seq 25); do timeout 5 wget -q -O /dev/null http://second:8080/hostname \
             && timeout 5 wget -q -O /dev/null http://{host}:8080/hostname && exit 0; sleep 0.2; done; exit 1"
        ),
    );
    let nets = out(
        &env,
        &[
            "inspect",
            "--format",
            "{{range $k, $v := .NetworkSettings.Networks}}{{$k}} {{end}}",
            &srv,
        ],
    );
    assert_eq!(nets.split_whitespace().count(), 2, "{nets}");
    out(&env, &["network", "disconnect", &b, &srv]);
    let addrs = out(&env, &["exec", &srv, "ip", "-4", "addr"]);
    assert!(!addrs.contains("10.89.1."), "{addrs}");
    let e = env.roost(125, &["network", "disconnect", &b, &srv]);
    assert!(
        e.stderr_text().contains("not connected"),
        "{}",
        e.stderr_text()
    );
    drop(c);
    assert_network_gone(&env);
}

#[test]
fn link_adds_a_hosts_alias() {
    let env = env_with_busybox("link_adds_a_hosts_alias");
    let c = Cleanup(&env);
    let net = env.safename("net");
    out(&env, &["network", "create", "--disable-dns", &net]);
    let srv = env.safename("srv");
    web(&env, &srv, &["--network", &net]);
    let img = bb();
    let text = env
        .roost(
            0,
            &["run", "--rm", "--network", &net, "--link", &format!("{srv}:db"), &img, "sh", "-c", "grep db /etc/hosts && timeout 5 wget -q -O /dev/null http://db:8080/hostname && echo ok"],
        )
        .stdout_text();
    assert!(
        text.contains("10.89.0.2\tdb") && text.ends_with("ok\n"),
        "{text}"
    );
    drop(c);
    assert_network_gone(&env);
}

#[test]
fn killed_run_and_rm_f_leave_nothing() {
    let env = env_with_busybox("killed_run_and_rm_f_leave_nothing");
    let c = Cleanup(&env);
    let net = env.safename("net");
    out(&env, &["network", "create", &net]);
    let img = bb();
    let name = env.safename("k");
    let mut child: Child = env.roost_spawn(&[
        "run",
        "--rm",
        "--name",
        &name,
        "--network",
        &net,
        &img,
        "sleep",
        "300",
    ]);
    assert!(
        wait_for(Duration::from_secs(20), || out(
            &env,
            &["ps", "--format", "{{.Names}}"]
        )
        .contains(&name)),
        "container never ran"
    );
    assert!(netns_pid_file(&env).exists());
    let _ = killpg(Pid::from_raw(child.id() as i32), Signal::SIGKILL);
    let _ = child.wait();
    out(&env, &["rm", "-f", &name]);
    assert_network_gone(&env);
    // A detached one removed with rm -f, and one that exits by itself.
    let d = env.safename("d");
    env.roost(
        0,
        &[
            "run",
            "-d",
            "--name",
            &d,
            "--network",
            &net,
            &img,
            "sleep",
            "300",
        ],
    );
    out(&env, &["rm", "-f", &d]);
    assert_network_gone(&env);
    env.roost(0, &["run", "-d", "--network", &net, &img, "true"]);
    assert_network_gone(&env);
    drop(c);
}

#[test]
fn published_port_on_a_bridge_network() {
    use std::io::{Read, Write};
    let env = env_with_busybox("published_port_on_a_bridge_network");
    let c = Cleanup(&env);
    let net = env.safename("net");
    out(&env, &["network", "create", &net]);
    let port = free_port();
    let srv = env.safename("srv");
    let publish = format!("127.0.0.1:{port}:8080");
    web(&env, &srv, &["--network", &net, "-p", &publish]);
    let mut body = String::new();
    let got = wait_for(Duration::from_secs(10), || {
        body.clear();
        std::net::TcpStream::connect(("127.0.0.1", port))
            .and_then(|mut s| {
                s.write_all(b"GET /hostname HTTP/1.0\r\n\r\n")?;
                s.read_to_string(&mut body)
            })
            .is_ok()
            && body.contains("200 OK")
    });
    assert!(got, "no answer through the published port: {body:?}");
    let hostname = out(&env, &["inspect", "--format", "{{.Config.Hostname}}", &srv]);
    assert!(body.ends_with(&hostname), "{body:?}");
    drop(c);
    assert_network_gone(&env);
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
        "the port is still open"
    );
}

/// The body of `GET /hostname` through `port` on the host's loopback, or the failure.
fn get_hostname(port: u16) -> Result<String, String> {
    use std::io::{Read, Write};
    let mut body = String::new();
    std::net::TcpStream::connect(("127.0.0.1", port))
        .and_then(|mut s| {
            s.set_read_timeout(Some(Duration::from_secs(3)))?;
            s.write_all(b"GET /hostname HTTP/1.0\r\n\r\n")?;
            s.read_to_string(&mut body)
        })
        .map_err(|e| e.to_string())?;
    if body.contains("200 OK") {
        Ok(body)
    } else {
        Err(format!("no answer: {body:?}"))
    }
}

#[test]
fn disconnect_and_connect_follow_in_hosts_and_published_ports() {
    let env = env_with_busybox("disconnect_and_connect_follow_in_hosts_and_published_ports");
    let c = Cleanup(&env);
    let (a, b) = (env.safename("a"), env.safename("b"));
    out(&env, &["network", "create", &a]);
    out(&env, &["network", "create", &b]);
    let port = free_port();
    let srv = env.safename("srv");
    let publish = format!("127.0.0.1:{port}:8080");
    web(&env, &srv, &["--network", &a, "-p", &publish]);
    assert!(wait_for(Duration::from_secs(10), || get_hostname(port).is_ok()));
    let ip_on = |net: &str| {
        let f = format!("{{{{(index .NetworkSettings.Networks \"{net}\").IPAddress}}}}");
        out(&env, &["inspect", "--format", &f, &srv])
            .trim()
            .to_string()
    };
    let hosts = || out(&env, &["exec", &srv, "cat", "/etc/hosts"]);
    let ip = ip_on(&a);
    assert!(hosts().contains(&format!("{ip}\t")), "{}", hosts());
    // Disconnected: its address leaves /etc/hosts and the published port answers nothing.
    out(&env, &["network", "disconnect", &a, &srv]);
    assert!(!hosts().contains(&ip), "{}", hosts());
    assert!(get_hostname(port).is_err());
    // Connected again: a new address (not the one just given back), in /etc/hosts, and the port
    // relays to it.
    out(&env, &["network", "connect", &a, &srv]);
    let new_ip = ip_on(&a);
    assert_ne!(new_ip, ip);
    assert!(hosts().contains(&format!("{new_ip}\t")), "{}", hosts());
    get_hostname(port).unwrap();
    // On a second network, then off the first: the port follows to the second one's address.
    out(&env, &["network", "connect", &b, &srv]);
    out(&env, &["network", "disconnect", &a, &srv]);
    get_hostname(port).unwrap();
    drop(c);
    assert_network_gone(&env);
}

#[test]
fn network_reload_sets_the_same_interfaces_up_again() {
    let env = env_with_busybox("network_reload_sets_the_same_interfaces_up_again");
    let c = Cleanup(&env);
    let net = env.safename("net");
    out(&env, &["network", "create", &net]);
    let port = free_port();
    let srv = env.safename("srv");
    let publish = format!("127.0.0.1:{port}:8080");
    web(&env, &srv, &["--network", &net, "-p", &publish]);
    assert!(wait_for(Duration::from_secs(10), || get_hostname(port).is_ok()));
    let id = out(&env, &["inspect", "--format", "{{.Id}}", &srv]);
    let f = format!(
        "{{{{(index .NetworkSettings.Networks \"{net}\").IPAddress}}}} {{{{(index .NetworkSettings.Networks \"{net}\").MacAddress}}}}"
    );
    let addresses = || out(&env, &["inspect", "--format", &f, &srv]);
    let link = || out(&env, &["exec", &srv, "cat", "/sys/class/net/eth0/ifindex"]);
    let (before, index) = (addresses(), link());
    // The container's id, and the same address and MAC on a new interface.
    assert_eq!(out(&env, &["network", "reload", &srv]), id);
    assert_eq!(addresses(), before);
    assert_ne!(link(), index, "the interface was not made again");
    get_hostname(port).unwrap();
    // --all takes the running containers with a network of their own; a stopped one named is an
    // error.
    let idle = env.safename("idle");
    out(
        &env,
        &["create", "--name", &idle, "--network", &net, &bb(), "true"],
    );
    assert_eq!(out(&env, &["network", "reload", "--all"]), id);
    let e = env.roost(125, &["network", "reload", &idle]).stderr_text();
    assert!(e.contains("not running"), "{e}");
    env.roost(125, &["network", "reload"]);
    drop(c);
    assert_network_gone(&env);
}

#[test]
fn unshare_rootless_netns_runs_where_the_bridges_are() {
    let env = env_with_busybox("unshare_rootless_netns_runs_where_the_bridges_are");
    let c = Cleanup(&env);
    let e = env
        .roost(125, &["unshare", "--rootless-netns", "true"])
        .stderr_text();
    assert!(e.contains("no rootless network namespace"), "{e}");
    let net = env.safename("net");
    out(
        &env,
        &["network", "create", "--subnet", "10.91.11.0/24", &net],
    );
    let srv = env.safename("srv");
    web(&env, &srv, &["--network", &net]);
    // The network's bridge holds its gateway address, in that namespace only.
    let addrs = out(&env, &["unshare", "--rootless-netns", "ip", "-o", "addr"]);
    assert!(addrs.contains("10.91.11.1/24"), "{addrs}");
    let host = out(&env, &["unshare", "ip", "-o", "addr"]);
    assert!(!host.contains("10.91.11.1/24"), "{host}");
    drop(c);
    assert_network_gone(&env);
}
