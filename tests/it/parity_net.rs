//! podman parity for networking and namespace options (podman's test/system 500-networking,
//! 190-run-ipcns): `network ls/rm/inspect` flags and output, repeated `--network`, containers.conf's
//! network settings (`CONTAINERS_CONF_OVERRIDE`), `--uts host`, `--network host`'s hosts file,
//! `--ipc none`, and inspect's per-mode `Networks`.

use std::path::Path;

use crate::harness::*;

/// `roost ARGS` with `CONTAINERS_CONF_OVERRIDE=conf`, expected to exit 0; its stdout.
fn out_with_conf(env: &Env, conf: &Path, args: &[&str]) -> String {
    let mut cmd = env.roost_cmd(args);
    cmd.env("CONTAINERS_CONF_OVERRIDE", conf);
    env.run_cmd(cmd, 0).stdout_text()
}

fn inspect_json(env: &Env, key: &str) -> serde_json::Value {
    let text = out(env, &["inspect", key]);
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    v[0].clone()
}

#[test]
fn network_ls_and_rm_flags() {
    let env = Env::new("network_ls_and_rm_flags");
    let net = env.safename("n");
    out(&env, &["network", "create", &net]);
    // `-n` is `--noheading`; `-q` prints names, sorted.
    let ls = out(&env, &["network", "ls", "-n"]);
    assert!(!ls.contains("NETWORK ID"), "{ls}");
    assert!(ls.contains(&net), "{ls}");
    let names = out(&env, &["network", "ls", "-q"]);
    assert_eq!(names, format!("{net}\npodman\n"));
    // With --force a missing network is no error; -t takes -1.
    let bogus = env.safename("bogus");
    let e = env.roost(1, &["network", "rm", &bogus]).stderr_text();
    assert!(e.contains("network not found"), "{e}");
    assert_eq!(
        out(&env, &["network", "rm", "-t", "-1", "--force", &bogus]),
        ""
    );
    assert_eq!(
        out(&env, &["network", "rm", "--force", &bogus, &net]),
        format!("{net}\n")
    );
}

#[test]
fn repeated_network_flags_join_every_network() {
    let env = env_with_busybox("repeated_network_flags_join_every_network");
    let (n1, n2) = (env.safename("n1"), env.safename("n2"));
    out(&env, &["network", "create", &n1]);
    out(&env, &["network", "create", &n2]);
    let c = env.safename("c");
    // `--net` is `--network`'s alias: the argument after it is its value, not the image.
    out(
        &env,
        &[
            "create",
            "--name",
            &c,
            "--net",
            &n1,
            "--net",
            &n2,
            &bb(),
            "true",
        ],
    );
    let v = inspect_json(&env, &c);
    let nets = v["NetworkSettings"]["Networks"].as_object().unwrap();
    assert!(nets.contains_key(&n1) && nets.contains_key(&n2), "{nets:?}");
    // A per-container mode cannot be combined with others.
    let e = env
        .roost(
            125,
            &["create", "--net", "host", "--net", &n1, &bb(), "true"],
        )
        .stderr_text();
    assert!(e.contains("cannot be combined"), "{e}");
    out(&env, &["rm", &c]);
    out(&env, &["network", "rm", &n1, &n2]);
}

#[test]
fn network_inspect_lists_running_containers() {
    let env = env_with_busybox("network_inspect_lists_running_containers");
    let net = env.safename("n");
    out(
        &env,
        &["network", "create", "--subnet", "10.91.7.0/24", &net],
    );
    let containers = |env: &Env| {
        out(
            env,
            &[
                "network",
                "inspect",
                "--format",
                "{{json .Containers}}",
                &net,
            ],
        )
    };
    assert_eq!(containers(&env).trim(), "{}");
    let c = env.safename("c");
    out(
        &env,
        &[
            "create",
            "--name",
            &c,
            "--network",
            &net,
            &bb(),
            "sleep",
            "300",
        ],
    );
    assert_eq!(containers(&env).trim(), "{}", "only running containers");
    out(&env, &["start", &c]);
    let id = out(&env, &["inspect", "--format", "{{.Id}}", &c]);
    let v: serde_json::Value = serde_json::from_str(&containers(&env)).unwrap();
    let entry = &v[id.trim()];
    assert_eq!(entry["name"], c.as_str(), "{v}");
    let eth0 = &entry["interfaces"]["eth0"];
    assert_eq!(eth0["subnets"][0]["ipnet"], "10.91.7.2/24", "{v}");
    assert_eq!(eth0["subnets"][0]["gateway"], "10.91.7.1", "{v}");
    assert!(eth0["mac_address"].as_str().is_some_and(|m| m.len() == 17));
    // The default JSON has them too.
    let full: serde_json::Value =
        serde_json::from_str(&out(&env, &["network", "inspect", &net])).unwrap();
    assert!(full[0]["containers"][id.trim()].is_object(), "{full}");
    out(&env, &["rm", "-f", "-t0", &c]);
    out(&env, &["network", "rm", &net]);
}

#[test]
fn per_container_modes_show_as_one_network() {
    let env = env_with_busybox("per_container_modes_show_as_one_network");
    for mode in ["host", "none", "slirp4netns", "pasta"] {
        let id = out(&env, &["create", "--network", mode, &bb(), "true"]);
        let v = inspect_json(&env, id.trim());
        let nets = v["NetworkSettings"]["Networks"].as_object().unwrap();
        assert_eq!(nets.keys().collect::<Vec<_>>(), [mode], "{mode}");
        out(&env, &["rm", id.trim()]);
    }
    assert_eq!(
        out(&env, &["info", "--format", "{{.Host.NetworkBackend}}"]).trim(),
        "netavark"
    );
}

#[test]
fn host_uts_and_host_network_files() {
    let env = env_with_busybox("host_uts_and_host_network_files");
    let host = nix::unistd::gethostname().unwrap();
    let host = host.to_string_lossy();
    let name = out(
        &env,
        &["run", "--rm", "--uts=host", &bb(), "cat", "/etc/hostname"],
    );
    assert_eq!(name.trim(), host);
    // On the host network the host is the container's own loopback.
    let hosts = out(
        &env,
        &["run", "--rm", "--network=host", &bb(), "cat", "/etc/hosts"],
    );
    assert!(
        hosts.contains("127.0.0.1\thost.containers.internal"),
        "{hosts}"
    );
}

#[test]
fn containers_conf_network_settings() {
    let env = env_with_busybox("containers_conf_network_settings");
    let base = env.home.join("base-hosts");
    std::fs::write(&base, "10.1.1.1 alpha\n10.2.2.2 beta #comment\n").unwrap();
    let conf = env.home.join("override.conf");
    std::fs::write(
        &conf,
        format!(
            "[containers]\ndns_searches = [\"example.com\"]\ndns_servers = [\"192.0.2.1\", \"192.0.2.2\"]\n\
             base_hosts_file = \"{}\"\nhost_containers_internal_ip = \"192.0.2.9\"\n\
             [network]\ndefault_host_ips = [\"127.0.0.1\"]\n",
            base.display()
        ),
    )
    .unwrap();
    for p in [&base, &conf] {
        std::os::unix::fs::chown(p, Some(env.user().uid), Some(env.user().gid)).unwrap();
    }
    let resolv = out_with_conf(
        &env,
        &conf,
        &["run", "--rm", &bb(), "cat", "/etc/resolv.conf"],
    );
    assert!(
        resolv.starts_with("search example.com\nnameserver 192.0.2.1\nnameserver 192.0.2.2\n"),
        "{resolv}"
    );
    // containers.conf's servers come before the flags'.
    let resolv = out_with_conf(
        &env,
        &conf,
        &[
            "run",
            "--rm",
            "--dns",
            "192.0.2.3",
            &bb(),
            "cat",
            "/etc/resolv.conf",
        ],
    );
    assert!(
        resolv.contains("192.0.2.2\nnameserver 192.0.2.3\n"),
        "{resolv}"
    );
    let hosts = out_with_conf(&env, &conf, &["run", "--rm", &bb(), "cat", "/etc/hosts"]);
    assert!(
        hosts.starts_with("10.1.1.1 alpha\n10.2.2.2 beta #comment\n"),
        "{hosts}"
    );
    assert!(
        hosts.contains("192.0.2.9\thost.containers.internal"),
        "{hosts}"
    );
    // A host name the base file already names gets no entry of its own.
    let hosts = out_with_conf(
        &env,
        &conf,
        &[
            "run",
            "--rm",
            "--hostname",
            "alpha",
            &bb(),
            "cat",
            "/etc/hosts",
        ],
    );
    assert_eq!(
        hosts.lines().filter(|l| l.contains("alpha")).count(),
        1,
        "{hosts}"
    );
    // `-p` without an address publishes on default_host_ips.
    let id = out_with_conf(&env, &conf, &["create", "-p", "18080:80", &bb(), "true"]);
    let bindings = out(
        &env,
        &[
            "inspect",
            "--format",
            "{{.HostConfig.PortBindings}}",
            id.trim(),
        ],
    );
    assert!(bindings.contains("127.0.0.1"), "{bindings}");
    out(&env, &["rm", id.trim()]);
}

#[test]
fn ipc_none_has_no_shm() {
    let env = env_with_busybox("ipc_none_has_no_shm");
    env.roost(1, &["run", "--rm", "--ipc=none", &bb(), "ls", "/dev/shm"]);
    env.roost(
        0,
        &["run", "--rm", "--ipc=private", &bb(), "ls", "/dev/shm"],
    );
}

/// `inspect --format {{.RestartCount}}` of `c`, polled until it is `want` (10 s at most).
fn wait_restart_count(env: &Env, c: &str, want: &str) -> String {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let n = out(env, &["inspect", "--format", "{{.RestartCount}}", c]);
        if n.trim() == want || std::time::Instant::now() > deadline {
            return n.trim().to_string();
        }
        std::thread::sleep(std::time::Duration::from_millis(300));
    }
}

#[test]
fn foreground_run_restarts_per_policy_on_a_small_network() {
    let env = env_with_busybox("foreground_run_restarts_per_policy_on_a_small_network");
    let net = env.safename("n");
    // A /29 has 5 addresses: 4 restarts must give theirs back.
    out(
        &env,
        &["network", "create", "--subnet", "10.91.9.0/29", &net],
    );
    let c = env.safename("c");
    // `run` in the foreground ends with the first exit code; the policy restarts it afterwards.
    env.roost(
        1,
        &[
            "run",
            "--name",
            &c,
            "--network",
            &net,
            "--restart",
            "on-failure:4",
            "--userns",
            "keep-id",
            &bb(),
            "false",
        ],
    );
    assert_eq!(wait_restart_count(&env, &c, "4"), "4");
    assert_eq!(out(&env, &["wait", &c]).trim(), "1");
    out(&env, &["run", "--rm", "--network", &net, &bb(), "true"]);
    out(&env, &["rm", &c]);
    out(&env, &["network", "rm", &net]);
    assert_no_leaks(&env);
}

#[test]
fn interfaces_are_made_in_network_order() {
    let env = env_with_busybox("interfaces_are_made_in_network_order");
    let (n1, n2) = (env.safename("n1"), env.safename("n2"));
    out(&env, &["network", "create", &n1]);
    out(&env, &["network", "create", &n2]);
    let script = "ip -o link | cut -d: -f1,2 | sed 's/@.*//' | tr -d ' '";
    // Several runs: one netavark call for both networks made them in either order.
    for _ in 0..3 {
        let links = out(
            &env,
            &[
                "run",
                "--rm",
                "--net",
                &format!("{n2}:interface_name=second"),
                "--net",
                &format!("{n1}:interface_name=first"),
                &bb(),
                "sh",
                "-c",
                script,
            ],
        );
        assert_eq!(links, "1:lo\n2:first\n3:second\n");
    }
    out(&env, &["network", "rm", &n1, &n2]);
    assert_no_leaks(&env);
}

#[test]
fn etc_files_belong_to_the_containers_root() {
    let env = env_with_busybox("etc_files_belong_to_the_containers_root");
    let files = [
        "stat",
        "-c",
        "%u:%g",
        "/etc/hosts",
        "/etc/resolv.conf",
        "/etc/hostname",
    ];
    for userns in [None, Some("--userns=keep-id")] {
        let mut args = vec!["run", "--rm"];
        args.extend(userns);
        let image = bb();
        args.push(&image);
        args.extend(files);
        assert_eq!(out(&env, &args), "0:0\n0:0\n0:0\n", "{userns:?}");
    }
    assert_no_leaks(&env);
}
