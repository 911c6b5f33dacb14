//! `--rm` leaves nothing, fifty concurrent runs, a killed monitor is noticed.

use std::fs;
use std::process::{Child, Output};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use super::{
    container_dirs, finish, mounts_mentioning, ps_field, run_bb, run_detached,
    runtime_container_dirs,
};
use crate::harness::{
    Cleanup, Env, OutputExt, assert_no_leaks, bb, env_with_busybox, out, pids_with_cmdline,
    wait_for,
};

// ---------------------------------------------------------------------------------------------
// --rm leaves nothing
// ---------------------------------------------------------------------------------------------

fn assert_nothing_left(env: &Env, after: &str) {
    assert_eq!(out(env, &["ps", "-a", "-q"]), "", "{after}: ps -a");
    assert_eq!(
        container_dirs(env),
        Vec::<String>::new(),
        "{after}: store containers/"
    );
    assert_eq!(
        runtime_container_dirs(env),
        Vec::<String>::new(),
        "{after}: runtime containers/"
    );
    assert_no_leaks(env);
    assert_eq!(
        mounts_mentioning(env),
        Vec::<String>::new(),
        "{after}: mounts"
    );
}

#[test]
fn rm_flag_leaves_nothing() {
    let env = env_with_busybox("rm_flag_leaves_nothing");
    let _c = Cleanup(&env);
    assert_eq!(run_bb(&env, &["sh", "-c", "echo hi; touch /file"]), "hi\n");
    assert_nothing_left(&env, "run --rm");
    env.roost(3, &["run", "--rm", &bb(), "sh", "-c", "exit 3"]);
    assert_nothing_left(&env, "run --rm (failing)");
    env.roost(127, &["run", "--rm", &bb(), "no-such-command"]);
    assert_nothing_left(&env, "run --rm (not found)");

    let id = run_detached(&env, &["--rm", &bb(), "sh", "-c", "sleep 0.5; exit 6"]);
    assert_eq!(out(&env, &["wait", &id]), "6\n");
    assert!(
        wait_for(Duration::from_secs(5), || out(&env, &["ps", "-a", "-q"])
            .is_empty()),
        "run -d --rm container still listed after wait"
    );
    assert_nothing_left(&env, "run -d --rm");

    // Stopping a -d --rm container removes it too.
    let n = env.safename("s");
    run_detached(&env, &["--rm", "--name", &n, &bb(), "sleep", "300"]);
    env.roost(0, &["stop", "-t", "0", &n]);
    assert!(wait_for(Duration::from_secs(5), || out(
        &env,
        &["ps", "-a", "-q"]
    )
    .is_empty()));
    assert_nothing_left(&env, "stop of run -d --rm");
}

// ---------------------------------------------------------------------------------------------
// Concurrency
// ---------------------------------------------------------------------------------------------

#[test]
fn fifty_concurrent_runs() {
    const N: usize = 50;
    let env = env_with_busybox("fifty_concurrent_runs");
    let _c = Cleanup(&env);
    let img = bb();
    let start = Instant::now();
    let children: Vec<Child> = (0..N)
        .map(|_| env.roost_spawn(&["run", "--rm", &img, "sh", "-c", "echo $HOSTNAME"]))
        .collect();
    let deadline = Instant::now() + Duration::from_secs(120);
    let outputs: Vec<Output> = children.into_iter().map(|c| finish(c, deadline)).collect();
    let mut hostnames = Vec::new();
    for (i, o) in outputs.iter().enumerate() {
        assert_eq!(o.status.code(), Some(0), "run #{i}: {o:?}");
        let h = o.stdout_text().trim().to_string();
        assert!(
            h.len() == 12 && h.bytes().all(|b| b.is_ascii_hexdigit()),
            "run #{i} hostname {h:?}"
        );
        assert!(
            !o.stderr_text().contains("Error"),
            "run #{i}: {}",
            o.stderr_text()
        );
        hostnames.push(h);
    }
    hostnames.sort();
    hostnames.dedup();
    assert_eq!(hostnames.len(), N, "hostnames not distinct");
    eprintln!("{N} concurrent runs took {:?}", start.elapsed());
    assert_nothing_left(&env, "concurrent run --rm");
}

// ---------------------------------------------------------------------------------------------
// Monitor killed
// ---------------------------------------------------------------------------------------------

#[test]
fn killed_monitor_is_noticed() {
    let env = env_with_busybox("killed_monitor_is_noticed");
    let _c = Cleanup(&env);
    let n = env.safename("m");
    let id = run_detached(&env, &["--name", &n, &bb(), "sleep", "300"]);
    let monitors = pids_with_cmdline(&["__monitor", &id]);
    assert_eq!(monitors.len(), 1, "one monitor for {id}: {monitors:?}");

    let pid: i32 = ps_field(&env, &n, "{{.Pid}}")
        .parse()
        .expect("ps {{.Pid}} is a number");
    assert!(pid > 0);
    let cmdline = fs::read(format!("/proc/{pid}/cmdline")).expect("container pid exists");
    assert_eq!(
        cmdline, b"sleep\x00300\x00",
        "{{.Pid}} is the container's pid 1"
    );
    assert_eq!(
        fs::read_to_string(format!("/proc/{pid}/status"))
            .unwrap()
            .lines()
            .find(|l| l.starts_with("NSpid:"))
            .map(|l| l.split_whitespace().last().unwrap().to_string()),
        Some("1".to_string()),
        "the container process is pid 1 in its namespace"
    );

    kill(Pid::from_raw(monitors[0]), Signal::SIGKILL).unwrap();
    kill(Pid::from_raw(pid), Signal::SIGKILL).unwrap();
    let noticed = wait_for(Duration::from_secs(10), || {
        !ps_field(&env, &n, "{{.Status}}").starts_with("Up")
    });
    assert!(noticed, "still {:?}", ps_field(&env, &n, "{{.Status}}"));
    assert_eq!(ps_field(&env, &n, "{{.State}}"), "exited");
    assert!(ps_field(&env, &n, "{{.Status}}").starts_with("Exited"));
    assert_eq!(out(&env, &["ps", "-q"]), "");
    assert_eq!(out(&env, &["rm", &n]), format!("{n}\n"));
    assert_nothing_left(&env, "rm after a killed monitor");
}
