//! Healthchecks (podman-healthcheck-run(1), the `--health-*` flags of podman-run(1)). Here there is
//! no systemd user manager, so the container's monitor runs the checks on schedule (the systemd
//! timer path is tests/vm/scenarios/health.sh).

use std::time::Duration;

use serde_json::Value;

use crate::harness::{Cleanup, Env, OutputExt, assert_no_leaks, bb, env_with_busybox, wait_for};

const LIMIT: Duration = Duration::from_secs(30);

fn inspect(env: &Env, name: &str) -> Value {
    let out = env.roost(0, &["inspect", name]).stdout_text();
    let v: Value = serde_json::from_str(&out).expect("inspect prints JSON");
    v[0].clone()
}

fn health(env: &Env, name: &str) -> Value {
    inspect(env, name)["State"]["Health"].clone()
}

fn run_d(env: &Env, name: &str, flags: &[&str], cmd: &[&str]) -> String {
    let mut args = vec!["run", "-d", "--name", name];
    args.extend_from_slice(flags);
    let image = bb();
    args.push(&image);
    args.extend_from_slice(cmd);
    env.roost(0, &args).stdout_text().trim().to_string()
}

#[test]
fn a_passing_check_makes_the_container_healthy() {
    let env = env_with_busybox("health_passing");
    let _c = Cleanup(&env);
    let n = env.safename("ok");
    run_d(
        &env,
        &n,
        &["--health-cmd", "echo fine", "--health-interval", "1s"],
        &["sleep", "300"],
    );
    assert!(
        wait_for(LIMIT, || health(&env, &n)["Status"] == "healthy"),
        "never healthy: {}",
        health(&env, &n)
    );
    // podman's shape.
    let h = health(&env, &n);
    assert_eq!(h["FailingStreak"], 0);
    let log = h["Log"].as_array().expect("Log is an array");
    let last = log.last().expect("a check was logged");
    assert_eq!(last["ExitCode"], 0);
    assert_eq!(last["Output"], "fine\n");
    for key in ["Start", "End"] {
        let t = last[key].as_str().expect("a time");
        assert!(t.parse::<jiff::Timestamp>().is_ok(), "{key}: {t}");
    }
    let config = &inspect(&env, &n)["Config"];
    assert_eq!(
        config["Healthcheck"]["Test"],
        serde_json::json!(["CMD-SHELL", "echo fine"])
    );
    assert_eq!(config["Healthcheck"]["Interval"], 1_000_000_000u64);
    assert_eq!(config["Healthcheck"]["Retries"], 3);
    assert_eq!(config["HealthcheckOnFailureAction"], "none");
    // `healthcheck run`: exit 0 and nothing printed.
    assert_eq!(env.roost(0, &["healthcheck", "run", &n]).stdout_text(), "");
    // ps: the status shows it, and the health filter finds it.
    let status = env.roost(
        0,
        &[
            "ps",
            "--format",
            "{{.Status}}",
            "--filter",
            &format!("name={n}"),
        ],
    );
    assert!(
        status.stdout_text().trim_end().ends_with("(healthy)"),
        "{}",
        status.stdout_text()
    );
    let names = |f: &str| {
        env.roost(0, &["ps", "-a", "--format", "{{.Names}}", "--filter", f])
            .stdout_text()
    };
    assert_eq!(names("health=healthy"), format!("{n}\n"));
    assert_eq!(names("health=unhealthy"), "");
    assert_eq!(names("health=none"), "");
    env.roost(0, &["rm", "-f", "-t", "0", &n]);
    assert_no_leaks(&env);
}

#[test]
fn a_failing_check_makes_the_container_unhealthy() {
    let env = env_with_busybox("health_failing");
    let _c = Cleanup(&env);
    let n = env.safename("bad");
    run_d(
        &env,
        &n,
        &[
            "--health-cmd",
            "echo oops; false",
            "--health-interval",
            "1s",
            "--health-retries",
            "2",
        ],
        &["sleep", "300"],
    );
    assert!(
        wait_for(LIMIT, || health(&env, &n)["Status"] == "unhealthy"),
        "never unhealthy: {}",
        health(&env, &n)
    );
    let h = health(&env, &n);
    assert!(h["FailingStreak"].as_u64().unwrap() >= 2, "{h}");
    let last = h["Log"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(
        (last["ExitCode"].clone(), last["Output"].clone()),
        (1.into(), "oops\n".into())
    );
    // `healthcheck run`: exit 1 and the status, as podman.
    assert_eq!(
        env.roost(1, &["healthcheck", "run", &n]).stdout_text(),
        "unhealthy\n"
    );
    let status = env.roost(
        0,
        &[
            "ps",
            "--format",
            "{{.Status}}",
            "--filter",
            "health=unhealthy",
        ],
    );
    assert!(
        status.stdout_text().contains("(unhealthy)"),
        "{}",
        status.stdout_text()
    );
    env.roost(0, &["rm", "-f", "-t", "0", &n]);
    assert_no_leaks(&env);
}

#[test]
fn on_failure_kill_and_restart() {
    let env = env_with_busybox("health_on_failure");
    let _c = Cleanup(&env);
    let killed = env.safename("kill");
    let restarted = env.safename("restart");
    let fail = [
        "--health-interval",
        "1s",
        "--health-retries",
        "1",
        "--stop-timeout",
        "1",
    ];
    let mut flags = vec!["--health-cmd", "false", "--health-on-failure", "kill"];
    flags.extend_from_slice(&fail);
    run_d(&env, &killed, &flags, &["sleep", "300"]);
    // Fails once, then passes: the restarted container turns healthy.
    let mut flags = vec![
        "--health-cmd",
        "test -e /tmp/failed || { touch /tmp/failed; false; }",
        "--health-on-failure",
        "restart",
    ];
    flags.extend_from_slice(&fail);
    run_d(&env, &restarted, &flags, &["sleep", "300"]);
    let first_start = inspect(&env, &restarted)["State"]["StartedAt"].clone();
    assert!(
        wait_for(LIMIT, || {
            let s = &inspect(&env, &killed)["State"];
            s["Status"] == "exited" && s["ExitCode"] == 137
        }),
        "not killed: {}",
        inspect(&env, &killed)["State"]
    );
    assert!(
        wait_for(LIMIT, || {
            let s = &inspect(&env, &restarted)["State"];
            s["Status"] == "running"
                && s["StartedAt"] != first_start
                && s["Health"]["Status"] == "healthy"
        }),
        "not restarted: {}",
        inspect(&env, &restarted)["State"]
    );
    env.roost(0, &["rm", "-f", "-t", "0", &killed, &restarted]);
    assert_no_leaks(&env);
}

#[test]
fn the_images_check_and_no_healthcheck() {
    let env = env_with_busybox("health_image");
    let _c = Cleanup(&env);
    let tag = env.safename("img");
    let df = format!(
        "FROM {}\nHEALTHCHECK --interval=1s --retries=5 CMD echo from-image\n",
        bb()
    );
    env.roost_stdin(
        0,
        &[
            "build",
            "-q",
            "-f",
            "-",
            "-t",
            &tag,
            env.home.to_str().unwrap(),
        ],
        df.as_bytes(),
    );
    let with_image = env.safename("from");
    env.roost(
        0,
        &[
            "run",
            "-d",
            "--name",
            &with_image,
            "--health-timeout",
            "5s",
            &tag,
            "sleep",
            "300",
        ],
    );
    let hc = inspect(&env, &with_image)["Config"]["Healthcheck"].clone();
    assert_eq!(
        hc["Test"],
        serde_json::json!(["CMD-SHELL", "echo from-image"])
    );
    assert_eq!(hc["Interval"], 1_000_000_000u64);
    assert_eq!(hc["Retries"], 5);
    assert_eq!(
        hc["Timeout"], 5_000_000_000u64,
        "the flag adjusts the image's check"
    );
    assert!(wait_for(LIMIT, || health(&env, &with_image)["Status"] == "healthy"));
    let without = env.safename("without");
    env.roost(
        0,
        &[
            "run",
            "-d",
            "--name",
            &without,
            "--no-healthcheck",
            &tag,
            "sleep",
            "300",
        ],
    );
    assert_eq!(inspect(&env, &without)["State"]["Health"], Value::Null);
    let err = env
        .roost(125, &["healthcheck", "run", &without])
        .stderr_text();
    assert!(err.contains("has no defined healthcheck"), "{err}");
    env.roost(0, &["rm", "-f", "-t", "0", &with_image, &without]);
    env.roost(0, &["rmi", &tag]);
    assert_no_leaks(&env);
}

#[test]
fn start_period_startup_check_and_log_limits() {
    let env = env_with_busybox("health_startup");
    let _c = Cleanup(&env);
    // Failures in the start period do not count: `starting`, exit 1.
    let early = env.safename("early");
    run_d(
        &env,
        &early,
        &[
            "--health-cmd",
            "false",
            "--health-interval",
            "disable",
            "--health-start-period",
            "10m",
        ],
        &["sleep", "300"],
    );
    assert_eq!(
        env.roost(1, &["healthcheck", "run", &early]).stdout_text(),
        "starting\n"
    );
    assert_eq!(health(&env, &early)["FailingStreak"], 0);
    // The startup check runs until it passes, then the regular one.
    let slow = env.safename("slow");
    let logs = env.home.join("hlogs");
    std::fs::create_dir(&logs).unwrap();
    std::os::unix::fs::chown(&logs, Some(env.user().uid), Some(env.user().gid)).unwrap();
    let id = run_d(
        &env,
        &slow,
        &[
            "--health-startup-cmd",
            "test -e /tmp/up",
            "--health-startup-interval",
            "1s",
            "--health-cmd",
            "echo abcdef",
            "--health-interval",
            "1s",
            "--health-max-log-count",
            "2",
            "--health-max-log-size",
            "3",
            "--health-log-destination",
            logs.to_str().unwrap(),
        ],
        &["sleep", "300"],
    );
    assert_eq!(
        env.roost(1, &["healthcheck", "run", &slow]).stdout_text(),
        "starting\n"
    );
    env.roost(0, &["exec", &slow, "touch", "/tmp/up"]);
    assert!(
        wait_for(LIMIT, || {
            let h = health(&env, &slow);
            h["Status"] == "healthy"
                && h["Log"]
                    .as_array()
                    .is_some_and(|l| l.len() == 2 && l.iter().all(|e| e["ExitCode"] == 0))
        }),
        "{}",
        health(&env, &slow)
    );
    assert_eq!(health(&env, &slow)["Log"][1]["Output"], "abc...");
    assert!(logs.join(format!("{id}-healthcheck.log")).exists());
    env.roost(0, &["rm", "-f", "-t", "0", &early, &slow]);
    assert_no_leaks(&env);
}

#[test]
fn bad_values_and_wrong_containers_are_refused() {
    let env = env_with_busybox("health_bad");
    let _c = Cleanup(&env);
    for (flags, msg) in [
        (
            &["--health-cmd", "true", "--health-interval", "fast"][..],
            "--health-interval `fast`",
        ),
        (
            &["--health-cmd", "true", "--health-interval", "10ms"][..],
            "at least 1s",
        ),
        (
            &["--health-cmd", "true", "--health-retries", "0"][..],
            "--health-retries `0`",
        ),
        (
            &["--health-cmd", "true", "--health-timeout", "0"][..],
            "--health-timeout `0`",
        ),
        (&["--health-cmd", "[\"CMD\"]"][..], "no command after it"),
        (
            &["--health-cmd", "true", "--no-healthcheck"][..],
            "--no-healthcheck conflicts",
        ),
        (
            &["--health-cmd", "true", "--health-on-failure", "explode"][..],
            "explode",
        ),
        (
            &[
                "--health-cmd",
                "true",
                "--health-log-destination",
                "/nonexistent/dir",
            ][..],
            "no such directory",
        ),
        (
            &["--health-startup-cmd", "true"][..],
            "--health-startup-cmd needs a healthcheck",
        ),
    ] {
        let mut args = vec!["create"];
        args.extend_from_slice(flags);
        let image = bb();
        args.push(&image);
        let err = env.roost(125, &args).stderr_text();
        assert!(err.contains(msg), "{flags:?}: {err}");
    }
    assert_eq!(
        env.roost(0, &["ps", "-a", "-q"]).stdout_text(),
        "",
        "nothing was created"
    );
    let err = env
        .roost(125, &["healthcheck", "run", "nosuch"])
        .stderr_text();
    assert!(err.contains("no such container"), "{err}");
    let n = env.safename("created");
    env.roost(0, &["create", "--name", &n, "--health-cmd", "true", &bb()]);
    let err = env.roost(125, &["healthcheck", "run", &n]).stderr_text();
    assert!(err.contains("is not running"), "{err}");
    env.roost(0, &["rm", &n]);
    assert_no_leaks(&env);
}

/// Nothing is added to the monitor of a container without a healthcheck (no timer), and a check
/// with `--health-interval disable` runs only on demand.
#[test]
fn no_timer_without_a_scheduled_check() {
    let env = env_with_busybox("health_no_timer");
    let _c = Cleanup(&env);
    let plain = env.safename("plain");
    let manual = env.safename("manual");
    let timed = env.safename("timed");
    let plain_id = run_d(&env, &plain, &[], &["sleep", "300"]);
    let manual_id = run_d(
        &env,
        &manual,
        &["--health-cmd", "true", "--health-interval", "disable"],
        &["sleep", "300"],
    );
    let timed_id = run_d(&env, &timed, &["--health-cmd", "true"], &["sleep", "300"]);
    let timers = |id: &str| {
        let pids = crate::harness::pids_with_cmdline(&["__monitor", id]);
        assert_eq!(pids.len(), 1, "one monitor for {id}");
        std::fs::read_dir(format!("/proc/{}/fd", pids[0]))
            .unwrap()
            .flatten()
            .filter(|e| {
                std::fs::read_link(e.path()).is_ok_and(|l| l.to_string_lossy().contains("timerfd"))
            })
            .count()
    };
    assert_eq!(timers(&plain_id), 0);
    assert_eq!(timers(&manual_id), 0);
    assert_eq!(timers(&timed_id), 1);
    assert_eq!(health(&env, &manual)["Status"], "starting");
    env.roost(0, &["healthcheck", "run", &manual]);
    assert_eq!(health(&env, &manual)["Status"], "healthy");
    env.roost(0, &["rm", "-f", "-t", "0", &plain, &manual, &timed]);
    assert_no_leaks(&env);
}
