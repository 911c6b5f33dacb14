//! podman's command-line conventions, as its own system tests (tests/conformance.sh) exercise them:
//! global flags, usage errors, `rm`'s words and exit codes, `ps` filters and sorting, CID files,
//! inspect of a missing object, Go field names in templates.

use crate::harness::{Env, OutputExt, assert_no_leaks, bb, env_with_busybox, image};
use crate::store::pull;

#[test]
fn global_flags_missing_and_unknown_commands() {
    let env = Env::new("global_flags_missing_and_unknown_commands");
    // No command: the help, then podman's error.
    let o = env.roost(125, &[]);
    assert!(o.stdout_text().contains("Usage:"), "{}", o.stdout_text());
    assert!(
        o.stderr_text()
            .starts_with("Error: missing command 'roost COMMAND'"),
        "{}",
        o.stderr_text()
    );
    let o = env.roost(125, &["--root", "/nonexistent", "volume"]);
    assert!(
        o.stderr_text()
            .starts_with("Error: missing command 'roost volume COMMAND'"),
        "{}",
        o.stderr_text()
    );
    let o = env.roost(125, &["volume", "nosuchcommand"]);
    assert!(
        o.stderr_text()
            .starts_with("Error: unrecognized command `roost volume nosuchcommand`"),
        "{}",
        o.stderr_text()
    );
    // --out: roost's output goes to the file; --noout: nowhere.
    let file = env.home.join("version.json");
    let f = file.to_str().expect("utf-8 path");
    let o = env.roost(0, &["--out", f, "version", "--format", "json"]);
    assert_eq!(o.stdout_text(), "");
    let written = std::fs::read_to_string(&file).expect("--out file");
    assert!(written.contains("\"Version\""), "{written}");
    assert_eq!(env.roost(0, &["--noout", "volume", "ls"]).stdout_text(), "");
    // Repeated single-value options: the last one wins, as with cobra.
    let o = env.roost(0, &["version", "--format", "x", "--format", "json"]);
    assert!(o.stdout_text().starts_with('{'), "{}", o.stdout_text());
    // What roost cannot do is refused with a reason, not taken for a typo.
    let o = env.roost(125, &["--remote", "ps"]);
    assert!(
        o.stderr_text()
            .contains("remote connections are not supported")
    );
    let o = env.roost(125, &["--url", "unix:///x.sock", "ps"]);
    assert!(
        o.stderr_text()
            .contains("remote connections are not supported")
    );
    let o = env.roost(125, &["--runtime", "crun", "ps"]);
    assert!(o.stderr_text().contains("OCI runtime \"crun\" not found"));
    env.roost(
        0,
        &[
            "--events-backend",
            "file",
            "--cgroup-manager",
            "cgroupfs",
            "ps",
        ],
    );
    env.roost(0, &["--context", "default", "-D", "ps"]);
}

#[test]
fn rm_as_podman_prints_and_exits() {
    let env = Env::new("rm_as_podman_prints_and_exits");
    pull(&env, "busybox");
    let bb = image("busybox");
    let (run, made) = (env.safename("run"), env.safename("made"));
    let id = env
        .roost(0, &["run", "-d", "--name", &run, &bb, "sleep", "300"])
        .stdout_text()
        .trim()
        .to_string();
    env.roost(0, &["create", "--name", &made, &bb, "true"]);
    // Running, without -f: 2 and podman's words.
    let o = env.roost(2, &["rm", &run]);
    assert_eq!(
        o.stderr_text().lines().next(),
        Some(format!(
            "Error: cannot remove container {id} as it is running - running or paused containers cannot be removed without force: container state improper"
        ).as_str())
    );
    // Missing: 1; with -f, not an error and nothing printed; the others named are removed and
    // printed as given.
    let o = env.roost(1, &["rm", "nosuch-x"]);
    assert!(
        o.stderr_text().starts_with(
            "Error: no container with ID or name \"nosuch-x\" found: no such container"
        ),
        "{}",
        o.stderr_text()
    );
    let o = env.roost(0, &["rm", "-f", "-t", "0", "nosuch-x", &made, &run]);
    assert_eq!(o.stdout_lines(), [made.clone(), run.clone()]);
    assert_eq!(o.stderr_text(), "");
    assert_no_leaks(&env);
}

#[test]
fn ps_filters_sort_and_fields() {
    let env = Env::new("ps_filters_sort_and_fields");
    pull(&env, "busybox");
    let bb = image("busybox");
    let (a, b, c) = (env.safename("a"), env.safename("b"), env.safename("c"));
    for (n, code) in [(&a, 0), (&b, 1), (&c, 0)] {
        env.roost(
            code,
            &[
                "run",
                "--network",
                "none",
                "--label",
                "k=v",
                "--name",
                n,
                &bb,
                "sh",
                "-c",
                &format!("exit {code}"),
            ],
        );
    }
    let names = |args: &[&str]| {
        let mut all = vec!["ps", "--format", "{{.Names}}"];
        all.extend_from_slice(args);
        env.roost(0, &all).stdout_lines()
    };
    // A status filter chooses the states itself (no -a needed); the same key twice: either value.
    assert_eq!(
        names(&["--filter", "status=stopped", "--sort", "names"]),
        [a.clone(), b.clone(), c.clone()]
    );
    assert_eq!(
        names(&["-a", "--filter", "exited=1"]),
        std::slice::from_ref(&b)
    );
    assert_eq!(
        names(&[
            "-a",
            "--filter",
            &format!("name={a}"),
            "--filter",
            &format!("name={b}"),
            "--sort",
            "created"
        ]),
        [a.clone(), b.clone()]
    );
    // Different keys: all must match.
    assert_eq!(
        names(&[
            "-a",
            "--filter",
            &format!("name={a}"),
            "--filter",
            "exited=1"
        ]),
        Vec::<String>::new()
    );
    // id: a prefix in either case, or a regular expression.
    let id = env
        .roost(0, &["inspect", "--format", "{{.ID}}", &c])
        .stdout_text()
        .trim()
        .to_string();
    assert_eq!(
        names(&["-a", "--filter", &format!("id={}", id[..6].to_uppercase())]),
        std::slice::from_ref(&c)
    );
    assert_eq!(
        names(&["-a", "--filter", &format!("id=^{}", &id[..6])]),
        std::slice::from_ref(&c)
    );
    assert_eq!(names(&["-a", "--filter", "until=1h"]), Vec::<String>::new());
    assert_eq!(
        names(&["-a", "--filter", &format!("since={a}"), "--sort", "names"]),
        [b.clone(), c.clone()]
    );
    // Labels read as podman's `k=v` text.
    let o = env.roost(
        0,
        &[
            "ps",
            "-a",
            "--filter",
            &format!("name={a}"),
            "--format",
            "{{.Labels}}",
        ],
    );
    assert_eq!(o.stdout_text(), "k=v\n");
    let o = env.roost(125, &["ps", "--filter", "bogus=1"]);
    assert!(
        o.stderr_text().contains("invalid filter `bogus=1`"),
        "{}",
        o.stderr_text()
    );
    env.roost(0, &["rm", "-a"]);
    assert_no_leaks(&env);
}

#[test]
fn cidfiles_and_missing_objects() {
    let env = Env::new("cidfiles_and_missing_objects");
    pull(&env, "busybox");
    let bb = image("busybox");
    let cidfile = env.home.join("cid");
    let f = cidfile.to_str().expect("utf-8 path");
    let id = env
        .roost(
            0,
            &[
                "run",
                "-d",
                "--network",
                "none",
                "--cidfile",
                f,
                &bb,
                "sleep",
                "300",
            ],
        )
        .stdout_text()
        .trim()
        .to_string();
    assert_eq!(std::fs::read_to_string(&cidfile).expect("cidfile"), id);
    // A CID file that exists is not overwritten.
    let o = env.roost(125, &["create", "--cidfile", f, &bb, "true"]);
    assert!(
        o.stderr_text().contains("container id file exists"),
        "{}",
        o.stderr_text()
    );
    env.roost(0, &["stop", "-t", "0", "--cidfile", f]);
    let missing = env.home.join("no-such-file");
    let m = missing.to_str().expect("utf-8 path");
    let o = env.roost(125, &["stop", "--cidfile", m]);
    assert_eq!(
        o.stderr_text().lines().next(),
        Some(format!("Error: reading CIDFile: open {m}: no such file or directory").as_str())
    );
    assert_eq!(
        env.roost(0, &["stop", "--cidfile", m, "--ignore"])
            .stdout_text(),
        ""
    );
    env.roost(0, &["rm", "--cidfile", f]);
    // inspect without --type: what exists, then what does not.
    let o = env.roost(125, &["inspect", "nosuch-object"]);
    assert_eq!(o.stdout_text(), "[]\n");
    assert!(
        o.stderr_text()
            .starts_with("Error: no such object: \"nosuch-object\"")
    );
    // Go field names of podman's structs reach the JSON's `Id`.
    let o = env.roost(0, &["image", "inspect", "--format", "{{.ID}}={{.Id}}", &bb]);
    let (go, json) = o
        .stdout_text()
        .trim()
        .split_once('=')
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .expect("two ids");
    assert_eq!(go, json);
    assert_no_leaks(&env);
}

#[test]
fn container_cleanup_of_stopped_containers_and_its_conflicts() {
    let env = Env::new("container_cleanup_of_stopped_containers_and_its_conflicts");
    let _c = crate::harness::Cleanup(&env);
    pull(&env, "busybox");
    let bb = image("busybox");
    // podman-container-cleanup(1): --exec conflicts with --all and with --rmi.
    let e = env.roost(125, &["container", "cleanup", "--all", "--exec=s1"]);
    assert_eq!(
        e.stderr_text(),
        "Error: --all and --exec cannot be set together\n"
    );
    let e = env.roost(125, &["container", "cleanup", "--rmi", "--exec=s1", "x"]);
    assert_eq!(
        e.stderr_text(),
        "Error: --exec and --rmi cannot be set together\n"
    );
    env.roost(125, &["container", "cleanup"]);
    let done = env.safename("done");
    env.roost(0, &["run", "--name", &done, &bb, "true"]);
    let id = env
        .roost(0, &["inspect", "--format", "{{.Id}}", &done])
        .stdout_text()
        .trim()
        .to_string();
    // A stopped container: cleaned up (its ID printed) and kept.
    let out = env.roost(0, &["container", "cleanup", &done]);
    assert_eq!(out.stdout_text(), format!("{id}\n"));
    env.roost(0, &["container", "exists", &done]);
    // A running one is refused, by name, and the others are still cleaned up.
    let up = env.safename("up");
    env.roost(0, &["run", "-d", "--name", &up, &bb, "sleep", "100"]);
    let out = env.roost(125, &["container", "cleanup", &up, &done]);
    assert!(
        out.stderr_text()
            .contains("is running or paused, refusing to clean up"),
        "{}",
        out.stderr_text()
    );
    assert_eq!(out.stdout_text(), format!("{id}\n"));
    // An exec session it does not have.
    let e = env.roost(125, &["container", "cleanup", "--exec", "nosuch", &up]);
    assert!(
        e.stderr_text().contains("no such exec session"),
        "{}",
        e.stderr_text()
    );
    // --all skips running containers; --rm removes what was cleaned up.
    let out = env.roost(0, &["container", "cleanup", "--all", "--rm"]);
    assert_eq!(out.stdout_text(), format!("{id}\n"));
    env.roost(1, &["container", "exists", &done]);
    env.roost(0, &["container", "exists", &up]);
    env.roost(0, &["rm", "-f", "-t", "0", &up]);
    assert_no_leaks(&env);
}

#[test]
fn inspect_ulimits_are_those_of_the_last_start() {
    let env = Env::new("inspect_ulimits_are_those_of_the_last_start");
    let _c = crate::harness::Cleanup(&env);
    pull(&env, "busybox");
    let id = env
        .roost(0, &["create", &image("busybox"), "sh", "-c", "ulimit -u"])
        .stdout_text()
        .trim()
        .to_string();
    // None before the first start (podman's `"Ulimits": []`).
    let v: serde_json::Value =
        serde_json::from_slice(&env.roost(0, &["inspect", &id]).stdout).expect("inspect JSON");
    assert_eq!(v[0]["HostConfig"]["Ulimits"], serde_json::json!([]));
    // Each start: RLIMIT_NPROC at the caller's hard limit (podman, rootless), applied and shown.
    let nproc = |limit: u64| {
        let script = format!(
            "ulimit -u {limit} && {} start -a {id} && {} inspect --format \
             '{{{{range .HostConfig.Ulimits}}}}{{{{.Name}}}}={{{{.Soft}}}}:{{{{.Hard}}}}{{{{end}}}}' {id}",
            crate::harness::roost_bin().display(),
            crate::harness::roost_bin().display()
        );
        env.run_as_user(0, "bash", &["-c", &script]).stdout_text()
    };
    assert_eq!(nproc(3000), "3000\nRLIMIT_NPROC=3000:3000\n");
    assert_eq!(nproc(2999), "2999\nRLIMIT_NPROC=2999:2999\n");
    // A --ulimit of its own wins.
    let out = env.roost(
        0,
        &[
            "run",
            "--rm",
            "--ulimit",
            "nproc=500:600",
            &image("busybox"),
            "sh",
            "-c",
            "ulimit -u",
        ],
    );
    assert_eq!(out.stdout_text(), "500\n");
    env.roost(0, &["rm", &id]);
    assert_no_leaks(&env);
}

#[test]
fn bind_mount_no_dereference_mounts_a_symlink_as_itself() {
    let env = Env::new("bind_mount_no_dereference_mounts_a_symlink_as_itself");
    let _c = crate::harness::Cleanup(&env);
    pull(&env, "busybox");
    let bb = image("busybox");
    let dir = env.home.join("nodereference");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("data"), "host data\n").unwrap();
    std::os::unix::fs::symlink("data", dir.join("link")).unwrap();
    let link = dir.join("link");
    let script = "readlink /m/link || echo plain; cat /m/link";
    // Without the option the link's target is mounted; with it the link itself (dangling here).
    let plain = format!("type=bind,src={},dst=/m/link", link.display());
    let out = env.roost(
        0,
        &["run", "--rm", "--mount", &plain, &bb, "sh", "-c", script],
    );
    assert_eq!(out.stdout_text(), "plain\nhost data\n");
    let asis = format!("{plain},no-dereference");
    let out = env.roost(
        1,
        &["run", "--rm", "--mount", &asis, &bb, "sh", "-c", script],
    );
    assert_eq!(out.stdout_text(), "data\n");
    // A glob match too, and again at each start (the link from the last start is replaced).
    let glob = format!("type=glob,src={}/*,dst=/m/,no-dereference", dir.display());
    let name = env.safename("c");
    env.roost(
        0,
        &[
            "create", "--name", &name, "--mount", &glob, &bb, "sh", "-c", script,
        ],
    );
    for _ in 0..2 {
        let out = env.roost(0, &["start", "-a", &name]);
        assert_eq!(out.stdout_text(), "data\nhost data\n");
    }
    env.roost(0, &["rm", &name]);
    assert_no_leaks(&env);
}

#[test]
fn sysctl_sets_namespaced_kernel_parameters() {
    let env = Env::new("sysctl_sets_namespaced_kernel_parameters");
    let _c = crate::harness::Cleanup(&env);
    pull(&env, "busybox");
    let bb = image("busybox");
    let name = env.safename("c");
    let out = env.roost(
        0,
        &[
            "run",
            "--name",
            &name,
            "--sysctl",
            "net.ipv4.ip_unprivileged_port_start=81",
            "--sysctl",
            "kernel.msgmax=4097",
            &bb,
            "cat",
            "/proc/sys/net/ipv4/ip_unprivileged_port_start",
            "/proc/sys/kernel/msgmax",
        ],
    );
    assert_eq!(out.stdout_text(), "81\n4097\n");
    let shown = env
        .roost(
            0,
            &["inspect", "--format", "{{json .HostConfig.Sysctls}}", &name],
        )
        .stdout_text();
    assert_eq!(
        shown.trim(),
        r#"{"kernel.msgmax":"4097","net.ipv4.ip_unprivileged_port_start":"81"}"#
    );
    env.roost(0, &["rm", &name]);
    // Not namespaced, or the host's namespace: refused before anything is made.
    let e = env.roost(
        125,
        &["run", "--rm", "--sysctl", "vm.swappiness=1", &bb, "true"],
    );
    assert!(
        e.stderr_text().contains("is not allowed"),
        "{}",
        e.stderr_text()
    );
    let e = env.roost(
        125,
        &[
            "run",
            "--rm",
            "--network",
            "host",
            "--sysctl",
            "net.ipv4.ip_forward=1",
            &bb,
            "true",
        ],
    );
    assert!(
        e.stderr_text().contains("--network=host"),
        "{}",
        e.stderr_text()
    );
    // Completion offers the namespaced ones.
    let out = env.roost(
        0,
        &["__completeNoDesc", "run", "--sysctl", "net.ipv4.ip_unpriv"],
    );
    assert_eq!(
        out.stdout_text(),
        "net.ipv4.ip_unprivileged_port_start\n:4\n"
    );
    assert_no_leaks(&env);
}

#[test]
fn stop_and_restart_warn_when_the_stop_signal_was_not_enough() {
    let env = env_with_busybox("stop_warns");
    let name = env.safename("deaf");
    // sleep as pid 1 ignores SIGTERM (no handler), so only the SIGKILL after -t ends it.
    env.roost(0, &["run", "-d", "--name", &name, &bb(), "sleep", "1000"]);
    for verb in ["restart", "stop"] {
        let r = env.roost(0, &[verb, "-t", "1", &name]);
        let err = r.stderr_text();
        assert!(
            err.contains(&format!(
                "StopSignal SIGTERM failed to stop container {name} in 1 seconds, resorting to SIGKILL"
            )),
            "{verb}: {err}"
        );
    }
    // -t 0 kills at once: no warning (podman).
    env.roost(0, &["start", &name]);
    let err = env.roost(0, &["stop", "-t", "0", &name]).stderr_text();
    assert!(!err.contains("StopSignal"), "{err}");
    env.roost(0, &["rm", "-f", &name]);
}
