//! Detached containers and `logs` (rotation, `--follow`, `--log-driver none`).

use std::fs;
use std::time::{Duration, Instant};

use super::{finish, ps_field, run_detached};
use crate::harness::{Cleanup, OutputExt, assert_no_leaks, bb, env_with_busybox, out};
use crate::store::store_root;

// ---------------------------------------------------------------------------------------------
// Detached containers and logs
// ---------------------------------------------------------------------------------------------

#[test]
fn detached_logs() {
    let env = env_with_busybox("detached_logs");
    let _c = Cleanup(&env);
    let n = env.safename("l");
    run_detached(
        &env,
        &[
            "--name",
            &n,
            &bb(),
            "sh",
            "-c",
            "echo out; echo err >&2; sleep 0.3; echo done",
        ],
    );
    assert_eq!(out(&env, &["wait", &n]), "0\n");

    let o = env.roost(0, &["logs", &n]);
    assert_eq!(o.stdout_text(), "out\ndone\n");
    assert_eq!(o.stderr_text(), "err\n");
    let o = env.roost(0, &["logs", "--tail", "1", &n]);
    assert_eq!(o.stdout_text(), "done\n");
    assert_eq!(o.stderr_text(), "");

    let o = env.roost(0, &["logs", "-t", &n]);
    let mut stamps = Vec::new();
    for l in o.stdout_lines().iter().chain(
        o.stderr_text()
            .lines()
            .map(str::to_string)
            .collect::<Vec<_>>()
            .iter(),
    ) {
        let (ts, rest) = l
            .split_once(' ')
            .unwrap_or_else(|| panic!("no timestamp: {l:?}"));
        let t: jiff::Timestamp = ts
            .parse()
            .unwrap_or_else(|e| panic!("{ts:?} is not RFC 3339 ({e}): {l:?}"));
        assert!(["out", "err", "done"].contains(&rest), "{l:?}");
        stamps.push((rest.to_string(), t));
    }
    assert_eq!(stamps.len(), 3);
    let t = |w: &str| stamps.iter().find(|(r, _)| r == w).unwrap().1;
    assert!(t("done") >= t("out"), "{stamps:?}");
    assert!(
        t("done").duration_since(t("out")).as_secs_f64() >= 0.25,
        "{stamps:?}"
    );

    // --since in the future, --until in the past: nothing.
    let o = env.roost(0, &["logs", "--since", "2099-01-01T00:00:00Z", &n]);
    assert_eq!(o.stdout_text() + &o.stderr_text(), "");
    let o = env.roost(0, &["logs", "--until", "2000-01-01T00:00:00Z", &n]);
    assert_eq!(o.stdout_text() + &o.stderr_text(), "");

    // -n prefixes the name.
    let o = env.roost(0, &["logs", "-n", &n]);
    assert_eq!(o.stdout_text(), format!("{n} out\n{n} done\n"));

    out(&env, &["rm", &n]);
    assert_no_leaks(&env);
}

/// `--log-opt max-size`: the log is rotated to `ctr.log.1`, and `logs` shows both files.
#[test]
fn log_opt_max_size_rotates() {
    let env = env_with_busybox("log_opt_max_size_rotates");
    let _c = Cleanup(&env);
    let n = env.safename("r");
    let id = run_detached(
        &env,
        &[
            "--name",
            &n,
            "--log-opt",
            "max-size=1k",
            "--log-opt",
            "tag=ignored",
            &bb(),
            "sh",
            "-c",
            "i=0; while [ $i -lt 100 ]; do echo line $i; i=$((i+1)); done",
        ],
    );
    assert_eq!(out(&env, &["wait", &n]), "0\n");
    let dir = store_root(&env).join("containers").join(&id);
    let cur = std::fs::metadata(dir.join("ctr.log"))
        .expect("ctr.log")
        .len();
    let old = std::fs::metadata(dir.join("ctr.log.1"))
        .expect("ctr.log.1")
        .len();
    assert!(cur <= 1000 && old <= 1000, "{cur} {old}");
    let lines = env.roost(0, &["logs", &n]).stdout_lines();
    assert_eq!(
        lines.last().map(String::as_str),
        Some("line 99"),
        "{lines:?}"
    );
    assert!(lines.len() > 20 && lines.len() < 100, "{lines:?}");
    let first: usize = lines[0]["line ".len()..].parse().unwrap();
    let want: Vec<String> = (first..100).map(|i| format!("line {i}")).collect();
    assert_eq!(lines, want);
    env.roost(
        125,
        &["run", "--rm", "--log-opt", "max-size=lots", &bb(), "true"],
    );
    out(&env, &["rm", &n]);
    assert_no_leaks(&env);
}

#[test]
fn logs_follow_ends_with_the_container() {
    let env = env_with_busybox("logs_follow_ends_with_the_container");
    let _c = Cleanup(&env);
    let n = env.safename("f");
    run_detached(
        &env,
        &[
            "--name",
            &n,
            &bb(),
            "sh",
            "-c",
            "echo first; sleep 1.5; echo second",
        ],
    );
    let start = Instant::now();
    let child = env.roost_spawn(&["logs", "-f", &n]);
    let o = finish(child, Instant::now() + Duration::from_secs(30));
    assert_eq!(o.status.code(), Some(0), "{o:?}");
    assert_eq!(o.stdout_text(), "first\nsecond\n");
    assert!(
        start.elapsed() >= Duration::from_millis(800),
        "logs -f returned before the container ended ({:?})",
        start.elapsed()
    );
    assert_eq!(ps_field(&env, &n, "{{.State}}"), "exited");
    // -f on an exited container returns at once.
    let o = env.roost(0, &["logs", "-f", &n]);
    assert_eq!(o.stdout_text(), "first\nsecond\n");
    out(&env, &["rm", &n]);
    assert_no_leaks(&env);
}

#[test]
fn log_driver_none_keeps_no_logs() {
    let env = env_with_busybox("log_driver_none_keeps_no_logs");
    let _c = Cleanup(&env);
    let n = env.safename("none");
    let id = run_detached(
        &env,
        &["--name", &n, "--log-driver", "none", &bb(), "echo", "hi"],
    );
    assert_eq!(out(&env, &["wait", &n]), "0\n");
    let o = env
        .roost_cmd(&["logs", &n])
        .output()
        .expect("run roost logs");
    assert_eq!(o.stdout_text(), "", "--log-driver none printed logs");
    assert!(!o.stderr_text().contains("hi"), "{}", o.stderr_text());
    assert!(
        !store_root(&env)
            .join("containers")
            .join(&id)
            .join("ctr.log")
            .exists()
            || fs::read(
                store_root(&env)
                    .join("containers")
                    .join(&id)
                    .join("ctr.log")
            )
            .unwrap()
            .is_empty(),
        "--log-driver none wrote ctr.log"
    );
    out(&env, &["rm", &n]);
    assert_no_leaks(&env);
}
