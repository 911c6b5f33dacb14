//! `stop`/`kill`/`restart` and restart policies (podman test/system/050-stop.bats).

use std::time::{Duration, Instant};

use super::{ps_field, run_detached};
use crate::harness::{
    Cleanup, OutputExt, assert_no_leaks, bb, env_with_busybox, out, pids_with_cmdline, wait_for,
};

// ---------------------------------------------------------------------------------------------
// stop / kill / restart / restart policies
// ---------------------------------------------------------------------------------------------

#[test]
fn stop_escalates_to_sigkill() {
    let env = env_with_busybox("stop_escalates_to_sigkill");
    let _c = Cleanup(&env);
    let n = env.safename("s");
    run_detached(&env, &["--name", &n, &bb(), "sleep", "300"]);
    let start = Instant::now();
    let o = env.roost(0, &["stop", "-t", "1", &n]);
    let took = start.elapsed();
    assert_eq!(o.stdout_text(), format!("{n}\n"));
    assert!(
        took >= Duration::from_millis(900),
        "stop -t 1 took only {took:?}"
    );
    assert!(took < Duration::from_secs(5), "stop -t 1 took {took:?}");
    let err = o.stderr_text();
    assert!(
        err.contains("StopSignal SIGTERM failed to stop container")
            && err.contains("resorting to SIGKILL"),
        "no WARN line:\n{err}"
    );
    let status = ps_field(&env, &n, "{{.Status}}");
    assert!(status.starts_with("Exited (137)"), "{status}");
    assert_eq!(out(&env, &["wait", &n]), "137\n");
    assert_eq!(out(&env, &["ps", "-q"]), "");
    // Stopping a stopped container is fine.
    env.roost(0, &["stop", &n]);
    out(&env, &["rm", &n]);
    assert_no_leaks(&env);
}

#[test]
fn stop_with_a_term_trap_is_quick_and_clean() {
    let env = env_with_busybox("stop_with_a_term_trap_is_quick_and_clean");
    let _c = Cleanup(&env);
    let n = env.safename("t");
    run_detached(
        &env,
        &[
            "--name",
            &n,
            &bb(),
            "sh",
            "-c",
            "trap 'exit 0' TERM; echo ready; while true; do sleep 0.1; done",
        ],
    );
    assert!(wait_for(Duration::from_secs(10), || out(
        &env,
        &["logs", &n]
    ) == "ready\n"));
    let start = Instant::now();
    let o = env.roost(0, &["stop", &n]);
    let took = start.elapsed();
    assert!(took < Duration::from_secs(3), "stop took {took:?}");
    assert!(!o.stderr_text().contains("SIGKILL"), "{}", o.stderr_text());
    assert_eq!(out(&env, &["wait", &n]), "0\n");
    assert!(ps_field(&env, &n, "{{.Status}}").starts_with("Exited (0)"));

    // --stop-signal is honoured.
    let m = env.safename("u");
    run_detached(
        &env,
        &[
            "--name",
            &m,
            "--stop-signal",
            "USR1",
            &bb(),
            "sh",
            "-c",
            "trap 'exit 7' USR1; echo ready; while true; do sleep 0.1; done",
        ],
    );
    assert!(wait_for(Duration::from_secs(10), || out(
        &env,
        &["logs", &m]
    ) == "ready\n"));
    let o = env.roost(0, &["stop", "-t", "10", &m]);
    assert!(!o.stderr_text().contains("SIGKILL"), "{}", o.stderr_text());
    assert_eq!(out(&env, &["wait", &m]), "7\n");
    out(&env, &["rm", &n, &m]);
    assert_no_leaks(&env);
}

#[test]
fn kill_sends_signals_and_restart_revives() {
    let env = env_with_busybox("kill_sends_signals_and_restart_revives");
    let _c = Cleanup(&env);
    let n = env.safename("k");
    run_detached(
        &env,
        &[
            "--name",
            &n,
            &bb(),
            "sh",
            "-c",
            "trap 'echo got-usr1' USR1; echo ready; while true; do sleep 0.1; done",
        ],
    );
    assert!(wait_for(Duration::from_secs(10), || out(
        &env,
        &["logs", &n]
    ) == "ready\n"));
    assert_eq!(out(&env, &["kill", "-s", "USR1", &n]), format!("{n}\n"));
    assert!(
        wait_for(Duration::from_secs(5), || out(&env, &["logs", &n])
            == "ready\ngot-usr1\n"),
        "trap did not run: {}",
        out(&env, &["logs", &n])
    );
    assert_eq!(
        ps_field(&env, &n, "{{.State}}"),
        "running",
        "USR1 must not stop it"
    );
    out(&env, &["kill", &n]);
    assert_eq!(out(&env, &["wait", &n]), "137\n");
    assert!(ps_field(&env, &n, "{{.Status}}").starts_with("Exited (137)"));
    // kill on a stopped container is an error.
    env.roost(125, &["kill", &n]);

    // restart: Up again, same ID, the command ran again.
    let id = ps_field(&env, &n, "{{.ID}}");
    env.roost(0, &["restart", &n]);
    assert!(
        ps_field(&env, &n, "{{.Status}}").starts_with("Up "),
        "{}",
        ps_field(&env, &n, "{{.Status}}")
    );
    assert_eq!(ps_field(&env, &n, "{{.ID}}"), id);
    assert!(wait_for(Duration::from_secs(10), || out(
        &env,
        &["logs", &n]
    )
    .matches("ready")
    .count()
        == 2));
    // restart of a running container.
    let pid_before = ps_field(&env, &n, "{{.Pid}}");
    env.roost(0, &["restart", "-t", "0", &n]);
    assert_eq!(ps_field(&env, &n, "{{.State}}"), "running");
    assert_ne!(ps_field(&env, &n, "{{.Pid}}"), pid_before);
    out(&env, &["rm", "-f", &n]);
    assert_no_leaks(&env);
}

#[test]
fn restart_policy_on_failure_is_bounded() {
    let env = env_with_busybox("restart_policy_on_failure_is_bounded");
    let _c = Cleanup(&env);
    let n = env.safename("p");
    let id = run_detached(
        &env,
        &[
            "--name",
            &n,
            "--restart",
            "on-failure:2",
            &bb(),
            "sh",
            "-c",
            "echo start; exit 1",
        ],
    );
    let settled = wait_for(Duration::from_secs(30), || {
        out(&env, &["logs", &n]).lines().count() >= 3
            && ps_field(&env, &n, "{{.Status}}").starts_with("Exited (1)")
    });
    assert!(
        settled,
        "status {:?}, logs {:?}",
        ps_field(&env, &n, "{{.Status}}"),
        out(&env, &["logs", &n])
    );
    // No fourth start: the monitor, which does the restarting, has given up.
    assert!(
        wait_for(Duration::from_secs(10), || monitor_gone(&id)),
        "the monitor is still running"
    );
    assert_eq!(out(&env, &["logs", &n]), "start\nstart\nstart\n");
    assert!(ps_field(&env, &n, "{{.Status}}").starts_with("Exited (1)"));
    assert_eq!(out(&env, &["wait", &n]), "1\n");

    // on-failure does not restart a success.
    let ok = env.safename("ok");
    let ok_id = run_detached(
        &env,
        &[
            "--name",
            &ok,
            "--restart",
            "on-failure",
            &bb(),
            "sh",
            "-c",
            "echo start",
        ],
    );
    assert_eq!(out(&env, &["wait", &ok]), "0\n");
    assert!(
        wait_for(Duration::from_secs(10), || monitor_gone(&ok_id)),
        "the monitor is still running"
    );
    assert_eq!(out(&env, &["logs", &ok]), "start\n");
    out(&env, &["rm", &n, &ok]);
    assert_no_leaks(&env);
}

#[test]
fn restart_policy_always_stays_stopped_after_stop() {
    let env = env_with_busybox("restart_policy_always_stays_stopped_after_stop");
    let _c = Cleanup(&env);
    let n = env.safename("a");
    let id = run_detached(
        &env,
        &[
            "--name",
            &n,
            "--restart",
            "always",
            &bb(),
            "sh",
            "-c",
            "echo start; sleep 300",
        ],
    );
    assert!(wait_for(Duration::from_secs(10), || out(
        &env,
        &["logs", &n]
    ) == "start\n"));
    env.roost(0, &["stop", "-t", "1", &n]);
    assert!(
        wait_for(Duration::from_secs(10), || monitor_gone(&id)),
        "the monitor is still running"
    );
    let status = ps_field(&env, &n, "{{.Status}}");
    assert!(status.starts_with("Exited (137)"), "{status}");
    assert_eq!(out(&env, &["ps", "-q"]), "");
    assert_eq!(out(&env, &["logs", &n]), "start\n");

    // `always` restarts a container that exits by itself.
    let m = env.safename("b");
    run_detached(
        &env,
        &[
            "--name",
            &m,
            "--restart",
            "always",
            &bb(),
            "sh",
            "-c",
            "echo start; sleep 0.2",
        ],
    );
    assert!(
        wait_for(Duration::from_secs(20), || out(&env, &["logs", &m])
            .lines()
            .count()
            >= 3),
        "{}",
        out(&env, &["logs", &m])
    );
    out(&env, &["stop", "-t", "1", &m]);
    out(&env, &["rm", "-f", &n, &m]);
    assert_no_leaks(&env);
}

/// The container's monitor (which restarts it under a restart policy) has exited.
fn monitor_gone(id: &str) -> bool {
    pids_with_cmdline(&["__monitor", id]).is_empty()
}
