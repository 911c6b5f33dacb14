//! More pod verbs: `pod logs` (prefixes, `-c`, `--tail`, `-f` over every container), `pod
//! pause/unpause/stats` (the cgroup v2 they need named on a host without it), and `wait --condition`
//! as podman-compose calls it (`running`, `healthy`, bad conditions).
use std::time::Duration;

use crate::harness::*;

struct PodCleanup<'a>(&'a Env);

impl Drop for PodCleanup<'_> {
    fn drop(&mut self) {
        let _ = self
            .0
            .roost_cmd(&["pod", "rm", "-a", "-f", "-t", "0"])
            .output();
        let _ = self.0.roost_cmd(&["rm", "-a", "-f"]).output();
    }
}

/// A pod with two containers that print a line, then wait for `/dev/shm/go` (the pod's shared IPC
/// namespace) and print another before exiting, a second later: the `exec` that made the file may
/// still be exiting, and the end of a container's pid 1 kills it (exit 137). Returns
/// (pod, [(name, id)]).
fn chatty_pod(env: &Env) -> (String, Vec<(String, String)>) {
    let pod = env.safename("pod");
    env.roost(0, &["pod", "create", "--name", &pod]);
    let mut ctrs = Vec::new();
    for n in ["a", "b"] {
        let name = env.safename(n);
        let script = format!(
            "echo {n}-start; while [ ! -e /dev/shm/go ]; do sleep 0.05; done; echo {n}-end; sleep 1"
        );
        let id = out(
            env,
            &[
                "run",
                "-d",
                "--pod",
                &pod,
                "--name",
                &name,
                &bb(),
                "sh",
                "-c",
                &script,
            ],
        );
        ctrs.push((name, id.trim().to_string()));
    }
    for (name, _) in &ctrs {
        assert!(
            wait_for(Duration::from_secs(20), || out(env, &["logs", name])
                .contains("-start")),
            "{name} printed nothing"
        );
    }
    (pod, ctrs)
}

#[test]
fn pod_logs_prefixes_picks_and_follows_every_container() {
    let env = env_with_busybox("pod_logs");
    let _cleanup = PodCleanup(&env);
    let (pod, ctrs) = chatty_pod(&env);
    let (a, b) = (&ctrs[0], &ctrs[1]);
    let all = out(&env, &["pod", "logs", &pod]);
    assert!(all.contains(&format!("{} a-start\n", &a.1[..12])), "{all}");
    assert!(all.contains(&format!("{} b-start\n", &b.1[..12])), "{all}");
    let named = out(&env, &["pod", "logs", "--names", &pod]);
    assert!(named.contains(&format!("{} a-start\n", a.0)), "{named}");
    let one = out(&env, &["pod", "logs", "-n", "-c", &b.0, &pod]);
    assert_eq!(one, format!("{} b-start\n", b.0));
    let e = env
        .roost(125, &["pod", "logs", "-c", "nosuch", &pod])
        .stderr_text();
    assert!(e.contains("nosuch"), "{e}");

    // -f shows what both write next (or, started late, their last line) and returns once neither runs.
    let follower = env.roost_spawn(&["pod", "logs", "-f", "--tail", "1", &pod]);
    env.roost(0, &["exec", &a.0, "touch", "/dev/shm/go"]);
    let done = follower.wait_with_output().expect("pod logs -f");
    let text = String::from_utf8_lossy(&done.stdout).into_owned();
    assert!(
        done.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&done.stderr)
    );
    assert!(text.contains("a-end") && text.contains("b-end"), "{text}");
}

#[test]
fn pod_pause_and_stats_name_the_cgroup_v2_they_need() {
    if std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap_or_default()
        .lines()
        .any(|l| l.contains(" - cgroup2 ") && l.split(' ').nth(4) == Some("/sys/fs/cgroup"))
    {
        // A unified host: tests/vm's scenarios cover the real behaviour.
        return;
    }
    let env = env_with_busybox("pod_pause_stats");
    let _cleanup = PodCleanup(&env);
    let pod = env.safename("pod");
    env.roost(0, &["pod", "create", "--name", &pod]);
    env.roost(0, &["run", "-d", "--pod", &pod, &bb(), "sleep", "600"]);
    for args in [
        &["pod", "pause", &pod][..],
        &["pod", "stats", "--no-stream", &pod],
    ] {
        let err = env.roost(125, args).stderr_text();
        assert!(err.contains("cgroup v2"), "{args:?}: {err}");
    }
    let e = env.roost(125, &["pod", "unpause", &pod]).stderr_text();
    assert!(e.contains("has no paused containers"), "{e}");
}

#[test]
fn wait_conditions_as_podman_compose_uses_them() {
    let env = env_with_busybox("wait_conditions");
    let _cleanup = Cleanup(&env);
    let plain = env.safename("plain");
    let checked = env.safename("checked");
    env.roost(0, &["run", "-d", "--name", &plain, &bb(), "sleep", "600"]);
    env.roost(
        0,
        &[
            "run",
            "-d",
            "--name",
            &checked,
            "--health-cmd",
            "true",
            "--health-interval",
            "1s",
            &bb(),
            "sleep",
            "600",
        ],
    );
    assert_eq!(out(&env, &["wait", "--condition=running", &plain]), "-1\n");
    assert_eq!(
        out(&env, &["wait", "--condition=healthy", &checked]),
        "-1\n"
    );
    assert_eq!(
        out(
            &env,
            &["inspect", "--format", "{{.State.Health.Status}}", &checked]
        )
        .trim(),
        "healthy"
    );
    let e = env
        .roost(125, &["wait", "--condition=healthy", &plain])
        .stderr_text();
    assert!(e.contains("has no healthcheck"), "{e}");
    let e = env
        .roost(125, &["wait", "--condition=ready", &plain])
        .stderr_text();
    assert!(e.contains("invalid condition `ready`"), "{e}");
    env.roost(0, &["kill", &plain]);
    let code = out(&env, &["wait", "--condition=stopped,paused", &plain]);
    assert_eq!(code, "137\n");
}

#[test]
fn pod_rm_force_does_not_restart_a_restart_always_member() {
    let env = env_with_busybox("pod_rm_restart");
    let _cleanup = PodCleanup(&env);
    let pod = env.safename("pod");
    let name = env.safename("always");
    env.roost(0, &["pod", "create", "--name", &pod]);
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
            &name,
            &bb(),
            "sleep",
            "1000",
        ],
    );
    env.roost(0, &["pod", "rm", "-f", "-t", "0", &pod]);
    let events = out(
        &env,
        &[
            "events",
            "--stream=false",
            "--filter",
            &format!("container={name}"),
            "--format",
            "{{.Status}}",
        ],
    );
    let starts = events.lines().filter(|l| *l == "start").count();
    assert_eq!(
        starts, 1,
        "the member was started again while its pod was removed; events:\n{events}"
    );
    assert!(!events.lines().any(|l| l == "restart"), "events:\n{events}");
    assert!(events.lines().any(|l| l == "remove"), "events:\n{events}");
}
