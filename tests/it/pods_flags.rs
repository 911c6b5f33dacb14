//! `pod create`'s flags that Quadlet `.pod` units use: `--ip`/`--ip6`/`--network-alias` (the pod's
//! attachment to its bridge network), `-v` (mounts every container of the pod gets),
//! `--uidmap`/`--gidmap`/`--subuidname` (the user namespace the infra container holds), `--shm-size`
//! (the pod's sized, shared /dev/shm); `stop`/`pod stop` of a member waiting for its restart; and the `run` flags of
//! Quadlet `.container` keys (`--shm-size`, `--read-only-tmpfs`).
use std::time::Duration;

use crate::harness::*;

struct Cleanup<'a>(&'a Env, Vec<(&'static str, String)>);

impl Drop for Cleanup<'_> {
    fn drop(&mut self) {
        let _ = self
            .0
            .roost_cmd(&["pod", "rm", "-a", "-f", "-t", "0"])
            .output();
        let _ = self.0.roost_cmd(&["rm", "-a", "-f", "-t", "0"]).output();
        for (kind, name) in &self.1 {
            let _ = self.0.roost_cmd(&[kind, "rm", "-f", name]).output();
        }
    }
}

#[test]
fn pod_ip_alias_and_volumes_reach_every_member() {
    let env = env_with_busybox("pod_create_flags_net_volumes");
    let net = env.safename("net");
    let vol = env.safename("vol");
    let _c = Cleanup(
        &env,
        vec![("network", net.clone()), ("volume", vol.clone())],
    );
    out(
        &env,
        &["network", "create", "--subnet", "192.168.78.0/24", &net],
    );
    let host_dir = env.home.join(env.safename("site"));
    let d = host_dir.display();
    env.run_as_user(
        0,
        "sh",
        &[
            "-c",
            &format!("mkdir -p {d} && echo 'from the host' > {d}/index.html"),
        ],
    );
    let pod = env.safename("pod");
    let site = format!("{}:/site:ro", host_dir.display());
    let shared = format!("{vol}:/shared");
    env.roost(
        0,
        &[
            "pod",
            "create",
            "--name",
            &pod,
            "--network",
            &net,
            "--ip",
            "192.168.78.40",
            "--network-alias",
            "podweb",
            "-v",
            &shared,
            "-v",
            &site,
        ],
    );
    let a = sleeper_in(&env, &pod, "a");
    // The pod's address, on its network: the members share it.
    let addr = out(&env, &["exec", &a, "ip", "addr", "show", "eth0"]);
    assert!(addr.contains("inet 192.168.78.40/24"), "{addr}");
    // Others on the network find the pod by its alias.
    let seen = env
        .roost(
            0,
            &[
                "run",
                "--rm",
                "--network",
                &net,
                &bb(),
                "nslookup",
                "podweb",
            ],
        )
        .stdout_text();
    assert!(seen.contains("Address: 192.168.78.40"), "{seen}");
    // Every member gets the pod's volumes: one writes, another reads; the bind is read-only.
    out(&env, &["exec", &a, "sh", "-c", "echo shared > /shared/f"]);
    let b = env
        .roost(
            0,
            &[
                "run",
                "--rm",
                "--pod",
                &pod,
                &bb(),
                "sh",
                "-c",
                "cat /shared/f /site/index.html; touch /site/x 2>/dev/null || echo read-only",
            ],
        )
        .stdout_text();
    assert_eq!(b, "shared\nfrom the host\nread-only\n");
    // A member's own mount at the same place takes the pod's place.
    let own = env
        .roost(
            0,
            &[
                "run",
                "--rm",
                "--pod",
                &pod,
                "--tmpfs",
                "/shared",
                &bb(),
                "ls",
                "/shared",
            ],
        )
        .stdout_text();
    assert_eq!(own, "");
    assert!(
        out(&env, &["volume", "ls", "-q"]).lines().any(|l| l == vol),
        "the named volume was made"
    );
}

#[test]
fn pod_network_flags_and_shm_size_without_ipc_are_refused_clearly() {
    let env = env_with_busybox("pod_create_flags_refused");
    let _c = Cleanup(&env, Vec::new());
    let pod = env.safename("pod");
    // `pod create --name POD ARGS…`, refused: its error.
    let refused = |args: &[&str]| {
        let mut a = vec!["pod", "create", "--name", &pod];
        a.extend_from_slice(args);
        env.roost(125, &a).stderr_text()
    };
    let e = refused(&["--ip", "10.88.0.9"]);
    assert!(e.contains("--ip") && e.contains("bridge network"), "{e}");
    let e = refused(&["--network", "bridge", "--ip6", "10.88.0.9"]);
    assert!(e.contains("--ip6") && e.contains("IPv6"), "{e}");
    let e = refused(&["--share", "net", "--shm-size", "128m"]);
    assert!(
        e.contains("shmsize") && e.contains("IPC") && e.contains("--share net"),
        "{e}"
    );
    let e = refused(&["--infra=false", "--shm-size", "128m"]);
    assert!(e.contains("shmsize") && e.contains("--infra=false"), "{e}");
    let e = refused(&["-v", "/data"]);
    assert!(e.contains("/data") && e.contains("source"), "{e}");
    let e = refused(&["--subuidname", "roosttest2"]);
    assert!(
        e.contains("--subuidname") && e.contains("roosttest2") && e.contains("not mapped"),
        "{e}"
    );
    // Nothing was left behind by the refusals.
    assert_eq!(out(&env, &["pod", "ps", "-q"]), "");
}

#[test]
fn pod_uidmap_and_subuidname_make_the_pods_user_namespace() {
    let env = env_with_busybox("pod_create_flags_userns");
    let _c = Cleanup(&env, Vec::new());
    let pod = env.safename("pod");
    env.roost(
        0,
        &[
            "pod", "create", "--name", &pod, "--uidmap", "0:1:5000", "--uidmap", "5000:0:1",
            "--gidmap", "0:1:6000", "--gidmap", "6000:0:1",
        ],
    );
    let a = sleeper_in(&env, &pod, "a");
    let maps = |c: &str| {
        out(
            &env,
            &[
                "exec",
                c,
                "sh",
                "-c",
                "cat /proc/self/uid_map /proc/self/gid_map; readlink /proc/self/ns/user",
            ],
        )
    };
    let first = maps(&a);
    let words: Vec<&str> = first.split_whitespace().collect();
    assert_eq!(
        &words[..12],
        [
            "0", "1", "5000", "5000", "0", "1", "0", "1", "6000", "6000", "0", "1"
        ],
        "{first}"
    );
    // Another member enters the same user namespace.
    let b = sleeper_in(&env, &pod, "b");
    assert_eq!(maps(&b), first);
    // A member cannot ask for maps of its own.
    let e = env
        .roost(
            125,
            &["create", "--pod", &pod, "--gidmap", "0:1:10", &bb(), "true"],
        )
        .stderr_text();
    assert!(e.contains("user namespace"), "{e}");
    // --subuidname: the user's own /etc/subuid range, from container uid 0.
    let sub = env.safename("sub");
    let me = env.user().name.clone();
    env.roost(0, &["pod", "create", "--name", &sub, "--subuidname", &me]);
    let text = env
        .roost(
            0,
            &[
                "run",
                "--rm",
                "--pod",
                &sub,
                &bb(),
                "cat",
                "/proc/self/uid_map",
                "/proc/self/gid_map",
            ],
        )
        .stdout_text();
    let lines: Vec<Vec<&str>> = text
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    // The range alone (the caller's own id left out, as podman), for uids and gids alike.
    assert_eq!(lines.len(), 2, "{text}");
    for line in &lines {
        assert_eq!(&line[..2], ["0", "1"], "{text}");
        assert!(line[2].parse::<u32>().unwrap() > 1000, "{text}");
    }
}

fn restart_count(env: &Env, name: &str) -> u32 {
    out(env, &["inspect", "--format", "{{.RestartCount}}", name])
        .trim()
        .parse()
        .unwrap()
}

fn status(env: &Env, name: &str) -> String {
    out(env, &["inspect", "--format", "{{.State.Status}}", name])
        .trim()
        .to_string()
}

/// A member that fails at once spends nearly all its time in its monitor's pause before the next
/// restart: `pod stop` (and `stop`) then must keep it stopped.
#[test]
fn stop_keeps_a_member_waiting_for_its_restart_stopped() {
    let env = env_with_busybox("pod_stop_restarting_member");
    let _c = Cleanup(&env, Vec::new());
    let pod = env.safename("pod");
    env.roost(0, &["pod", "create", "--name", &pod]);
    let m = env.safename("m");
    env.roost(
        0,
        &[
            "run",
            "-d",
            "--pod",
            &pod,
            "--restart",
            "always",
            "--name",
            &m,
            &bb(),
            "false",
        ],
    );
    assert!(
        wait_for(Duration::from_secs(20), || restart_count(&env, &m) >= 3),
        "the member was not restarted"
    );
    env.roost(0, &["pod", "stop", "-t", "1", &pod]);
    let after_stop = restart_count(&env, &m);
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(
        restart_count(&env, &m),
        after_stop,
        "restarted after pod stop"
    );
    assert_eq!(status(&env, &m), "exited");
    // `stop` of the container itself, once the pod runs again.
    env.roost(0, &["pod", "start", &pod]);
    assert!(
        wait_for(Duration::from_secs(20), || restart_count(&env, &m) >= 3),
        "the member was not restarted"
    );
    env.roost(0, &["stop", "-t", "1", &m]);
    let after_stop = restart_count(&env, &m);
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(restart_count(&env, &m), after_stop, "restarted after stop");
    assert_eq!(status(&env, &m), "exited");
}

/// `run --shm-size`: the container's own /dev/shm has that size (inspect shows it); a container
/// without one of its own (`--ipc host|none`, or in a pod sharing IPC) is refused.
#[test]
fn shm_size_sizes_a_containers_own_dev_shm() {
    let env = env_with_busybox("run_shm_size");
    let _c = Cleanup(&env, Vec::new());
    let df = env
        .roost(
            0,
            &[
                "run",
                "--rm",
                "--shm-size",
                "3m",
                &bb(),
                "df",
                "-k",
                "/dev/shm",
            ],
        )
        .stdout_text();
    let size = df.lines().nth(1).and_then(|l| l.split_whitespace().nth(1));
    assert_eq!(size, Some("3072"), "{df}");
    let name = env.safename("c");
    env.roost(
        0,
        &[
            "create",
            "--name",
            &name,
            "--shm-size",
            "128m",
            &bb(),
            "true",
        ],
    );
    assert_eq!(
        out(
            &env,
            &["inspect", "--format", "{{.HostConfig.ShmSize}}", &name]
        ),
        "134217728\n"
    );
    let e = env
        .roost(
            125,
            &[
                "run",
                "--rm",
                "--ipc",
                "none",
                "--shm-size",
                "3m",
                &bb(),
                "true",
            ],
        )
        .stderr_text();
    assert!(e.contains("--shm-size") && e.contains("--ipc none"), "{e}");
    let pod = env.safename("pod");
    env.roost(0, &["pod", "create", "--name", &pod]);
    let e = env
        .roost(
            125,
            &["create", "--pod", &pod, "--shm-size", "3m", &bb(), "true"],
        )
        .stderr_text();
    assert!(e.contains("--shm-size") && e.contains("IPC"), "{e}");
}

/// `pod create --shm-size`: the pod's containers share one /dev/shm (a file one writes, another
/// reads) of that size, also in a pod with a user namespace of its own; without the flag it is
/// the unsized directory it always was.
#[test]
fn pod_shm_size_is_one_sized_dev_shm_for_its_containers() {
    let env = env_with_busybox("pod_shm_size");
    let _c = Cleanup(&env, Vec::new());
    for extra in [&[][..], &["--userns", "keep-id"][..]] {
        let pod = env.safename("pod");
        let mut create = vec!["pod", "create", "--name", &pod, "--shm-size", "8m"];
        create.extend_from_slice(extra);
        env.roost(0, &create);
        let writer = env.safename("w");
        let script = "echo from-writer > /dev/shm/note; exec sleep 300";
        env.roost(
            0,
            &[
                "run",
                "-d",
                "--name",
                &writer,
                "--pod",
                &pod,
                &bb(),
                "sh",
                "-c",
                script,
            ],
        );
        assert!(
            wait_for(Duration::from_secs(10), || env
                .roost_cmd(&["exec", &writer, "cat", "/dev/shm/note"])
                .output()
                .is_ok_and(|o| o.status.success())),
            "the writer never wrote"
        );
        let read = "cat /dev/shm/note; df -k /dev/shm | tail -n 1";
        let got = out(
            &env,
            &["run", "--rm", "--pod", &pod, &bb(), "sh", "-c", read],
        );
        let mut lines = got.lines();
        assert_eq!(lines.next(), Some("from-writer"), "{got}");
        let size = lines.next().and_then(|l| l.split_whitespace().nth(1));
        assert_eq!(size, Some("8192"), "{got}");
        env.roost(0, &["pod", "rm", "-f", "-t", "0", &pod]);
    }
    let pod = env.safename("plain");
    env.roost(0, &["pod", "create", "--name", &pod]);
    let df = out(
        &env,
        &["run", "--rm", "--pod", &pod, &bb(), "df", "-k", "/dev/shm"],
    );
    let size = df.lines().nth(1).and_then(|l| l.split_whitespace().nth(1));
    assert_ne!(size, Some("8192"), "{df}");
}

/// `--read-only-tmpfs` (podman's default true): with `--read-only`, /tmp is a writable tmpfs; with
/// `--read-only-tmpfs=false` it is read-only like the rest.
#[test]
fn read_only_tmpfs_can_be_turned_off() {
    let env = env_with_busybox("run_read_only_tmpfs");
    let script = "touch /tmp/x 2>/dev/null && echo writable || echo read-only";
    for (flag, want) in [
        ("--read-only-tmpfs", "writable\n"),
        ("--read-only-tmpfs=true", "writable\n"),
        ("--read-only-tmpfs=false", "read-only\n"),
    ] {
        let got = env
            .roost(
                0,
                &[
                    "run",
                    "--rm",
                    "--read-only",
                    flag,
                    &bb(),
                    "sh",
                    "-c",
                    script,
                ],
            )
            .stdout_text();
        assert_eq!(got, want, "{flag}");
    }
}

/// `run -d --pod POD --name NAME busybox sleep 300` (NAME made unique from `stem`): its name.
fn sleeper_in(env: &Env, pod: &str, stem: &str) -> String {
    let name = env.safename(stem);
    env.roost(
        0,
        &[
            "run",
            "-d",
            "--pod",
            pod,
            "--name",
            &name,
            &bb(),
            "sleep",
            "300",
        ],
    );
    name
}
