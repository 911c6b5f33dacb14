//! Killed commands and `system check`: `pull`, `build`, `run -d`, `rm -f` and `commit` are SIGKILLed
//! at random points (a seeded RNG, printed on failure), and the store must check consistent (or be
//! repaired by `--repair`) with nothing leaked; plus the leftovers each kind of kill used to leave:
//! build step containers, container directories without a record, `--rm` containers that failed to
//! start, and containers whose monitor was killed.

use std::fs;
use std::os::unix::fs::chown;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::Duration;

use nix::sys::signal::{Signal, kill, killpg};
use nix::unistd::Pid;
use rand::{Rng, SeedableRng};

use crate::harness::{Env, OutputExt, assert_no_leaks, image, run_with_timeout, wait_for};
use crate::store::{entries, pull, store_root};

/// A build context under the test's home, owned by the test user.
fn context(env: &Env, containerfile: &str) -> PathBuf {
    let dir = env.home.join(format!("ctx-{}", rand::random::<u32>()));
    fs::create_dir_all(&dir).unwrap();
    fs::write(dir.join("Containerfile"), containerfile).unwrap();
    let u = env.user();
    if u.switch {
        for p in [dir.clone(), dir.join("Containerfile")] {
            chown(&p, Some(u.uid), Some(u.gid)).unwrap();
        }
    }
    dir
}

fn ids(env: &Env, args: &[&str]) -> Vec<String> {
    env.roost(0, args).stdout_lines()
}

fn container_dirs(env: &Env) -> Vec<String> {
    entries(&store_root(env).join("containers"))
}

/// SIGKILL the process group of `child` (roost and the roost it re-executed in the user namespace)
/// and wait until every process of it is gone, so that its locks are free.
fn kill_group(child: &mut Child) {
    let group = Pid::from_raw(child.id() as i32);
    let _ = killpg(group, Signal::SIGKILL);
    let _ = child.wait();
    assert!(
        wait_for(Duration::from_secs(10), || killpg(group, None).is_err()),
        "the killed command's processes did not go away"
    );
}

/// Start `args` and SIGKILL it after `delay` (or when it ends first).
fn kill_after(env: &Env, args: &[&str], delay: Duration) {
    let mut cmd = env.roost_cmd(args);
    cmd.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let mut child = cmd.spawn().expect("spawn roost");
    wait_for(delay, || !matches!(child.try_wait(), Ok(None)));
    kill_group(&mut child);
}

/// After a kill: `system check` passes, or `--repair` repairs it and a second check passes; the
/// containers left are whole (inspectable, removable), nothing leaks, and a normal command works.
fn recovered(env: &Env, what: &str) {
    let check = env.roost_cmd(&["system", "check"]).output().unwrap();
    if !check.status.success() {
        let repair = env
            .roost_cmd(&["system", "check", "--repair"])
            .output()
            .unwrap();
        assert!(
            repair.status.success(),
            "{what}: `system check --repair` failed:\n{}{}\n(check said:\n{})",
            repair.stdout_text(),
            repair.stderr_text(),
            check.stdout_text()
        );
        let again = env.roost(0, &["system", "check"]);
        assert!(again.stdout_text().contains("No problems found"), "{what}");
    }
    for id in ids(env, &["ps", "-a", "-q", "--no-trunc"]) {
        env.roost(0, &["inspect", &id]);
    }
    env.roost(0, &["rm", "-a", "-f"]);
    assert!(
        ids(env, &["ps", "-a", "-q", "--external"]).is_empty(),
        "{what}: containers left after rm -af"
    );
    assert_no_leaks(env);
    env.roost(0, &["run", "--rm", &image("busybox"), "true"]);
}

#[test]
fn killed_commands_leave_a_consistent_store() {
    let env = Env::new("killed_commands_leave_a_consistent_store");
    let seed: u64 = std::env::var("ROOST_FAULT_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(rand::random);
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let busybox = image("busybox");
    let trials = 6;
    let ctx = context(
        &env,
        &format!("FROM {busybox}\nRUN echo $RANDOM > /stamp && sleep 0.2\n"),
    );
    let ctx = ctx.to_str().unwrap().to_string();
    let case = |what: &str, args: &[&str], max_ms: u64, rng: &mut rand::rngs::StdRng| {
        let ms = rng.random_range(0..max_ms);
        kill_after(&env, args, Duration::from_millis(ms));
        let what = format!("{what} killed after {ms} ms (ROOST_FAULT_SEED={seed})");
        recovered(&env, &what);
    };
    for _ in 0..trials {
        env.roost(0, &["rmi", "-a", "-f"]);
        case("pull", &["pull", "-q", &busybox], 400, &mut rng);
    }
    pull(&env, "busybox");
    for _ in 0..trials {
        case(
            "build",
            &["build", "--no-cache", "-q", &ctx],
            1500,
            &mut rng,
        );
    }
    for _ in 0..trials {
        case(
            "run -d",
            &["run", "-d", &busybox, "sleep", "100"],
            300,
            &mut rng,
        );
    }
    for _ in 0..trials {
        let id = env.roost(0, &["run", "-d", &busybox, "sleep", "100"]);
        let id = id.stdout_text().trim().to_string();
        case("rm -f", &["rm", "-f", &id], 200, &mut rng);
    }
    for i in 0..trials {
        env.roost(0, &["run", "--name", "src", &busybox, "touch", "/f"]);
        let tag = format!("committed{i}");
        case("commit", &["commit", "src", &tag], 400, &mut rng);
    }
}

/// Item: a killed build left its step container (with its files) for good, listed by `ps -a`.
#[test]
fn killed_build_step_container_is_external_and_reclaimed() {
    let env = Env::new("killed_build_step_container_is_external_and_reclaimed");
    pull(&env, "busybox");
    let busybox = image("busybox");
    let slow = context(&env, &format!("FROM {busybox}\nRUN sleep 100\n"));
    let log = env.home.join("killed-build.log");
    let mut cmd = env.roost_cmd(&["build", slow.to_str().unwrap()]);
    cmd.stdout(Stdio::null())
        .stderr(fs::File::create(&log).unwrap());
    let mut child = cmd.spawn().unwrap();
    let started = wait_for(Duration::from_secs(60), || {
        !ids(&env, &["ps", "-q", "--external"]).is_empty()
    });
    kill_group(&mut child);
    let said = || fs::read_to_string(&log).unwrap_or_default();
    assert!(
        started,
        "the build's RUN step never showed up in `ps --external`; the build said:\n{}",
        said()
    );
    assert!(
        ids(&env, &["ps", "-a", "-q"]).is_empty(),
        "a build's step container is listed as the user's"
    );
    // The step's own processes (a container being set up when the build died) may hold the build's
    // lock a moment longer than the build's process group; until they are gone the build counts as
    // alive, and its step container is not yet left over.
    let mut last = String::new();
    let left_over = wait_for(Duration::from_secs(20), || {
        let check = run_with_timeout(
            &mut env.roost_cmd(&["system", "check"]),
            None,
            Duration::from_secs(120),
        )
        .unwrap();
        last = format!(
            "exit {:?}\n{}{}",
            check.status.code(),
            check.stdout_text(),
            check.stderr_text()
        );
        check.status.code() == Some(125)
            && check.stdout_text().contains("Leftover build containers")
    });
    assert!(
        left_over,
        "system check does not report the killed build's step container; it said: {last}\nthe build said:\n{}",
        said()
    );
    // The next build removes it, and its process and files.
    let quick = context(&env, &format!("FROM {busybox}\nRUN true\n"));
    env.roost(0, &["build", "-q", quick.to_str().unwrap()]);
    assert!(ids(&env, &["ps", "-a", "-q", "--external"]).is_empty());
    assert!(
        container_dirs(&env).is_empty(),
        "{:?}",
        container_dirs(&env)
    );
    env.roost(0, &["system", "check"]);
}

/// Item: a `run -d` killed between making the container's directory and recording it left the
/// directory for good. A dead maker's directory goes with `system prune`; so does one with no maker.
#[test]
fn orphan_container_dirs_are_removed_by_prune() {
    let env = Env::new("orphan_container_dirs_are_removed_by_prune");
    pull(&env, "busybox");
    let dirs = store_root(&env).join("containers");
    let dead = "a".repeat(64);
    let unowned = "b".repeat(64);
    for d in [&dead, &unowned] {
        let p = dirs.join(d).join("diff");
        env.run_as_user(0, "mkdir", &["-p", p.to_str().unwrap()]);
    }
    let owner = dirs.join(&dead).join(".owner");
    env.run_as_user(
        0,
        "sh",
        &[
            "-c",
            &format!("printf 999999999.0000abcd > {}", owner.display()),
        ],
    );
    let check = env.roost(125, &["system", "check"]);
    assert!(
        check
            .stdout_text()
            .contains("Orphaned container directories"),
        "{}",
        check.stdout_text()
    );
    env.roost(0, &["system", "prune", "-f"]);
    assert!(
        container_dirs(&env).is_empty(),
        "{:?}",
        container_dirs(&env)
    );
    env.roost(0, &["system", "check"]);
}

/// Item: `run --rm` that fails before its container starts leaves a `Created` container.
#[test]
fn failed_start_of_rm_container_leaves_nothing() {
    let env = Env::new("failed_start_of_rm_container_leaves_nothing");
    pull(&env, "busybox");
    let busybox = image("busybox");
    let out = env.roost(
        125,
        &[
            "run",
            "--rm",
            "--security-opt",
            "seccomp=/nonexist",
            &busybox,
            "true",
        ],
    );
    assert!(
        out.stderr_text().contains("/nonexist"),
        "{}",
        out.stderr_text()
    );
    assert!(ids(&env, &["ps", "-a", "-q"]).is_empty());
    let out = env.roost(
        125,
        &[
            "run",
            "-d",
            "--rm",
            "--security-opt",
            "seccomp=/nonexist",
            &busybox,
            "true",
        ],
    );
    assert!(
        out.stderr_text().contains("/nonexist"),
        "{}",
        out.stderr_text()
    );
    assert!(ids(&env, &["ps", "-a", "-q"]).is_empty());
    // Without --rm the failed container stays, as in podman.
    env.roost(
        125,
        &[
            "run",
            "--security-opt",
            "seccomp=/nonexist",
            &busybox,
            "true",
        ],
    );
    assert_eq!(ids(&env, &["ps", "-a", "-q"]).len(), 1);
    env.roost(0, &["rm", "-a"]);
    assert!(container_dirs(&env).is_empty());
}

fn inspect_field(env: &Env, id: &str, field: &str) -> String {
    let out = env.roost(0, &["inspect", "--format", &format!("{{{{{field}}}}}"), id]);
    out.stdout_text().trim().to_string()
}

fn alive(pid: i32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
        && kill(Pid::from_raw(pid), None).is_ok()
        && !fs::read_to_string(format!("/proc/{pid}/stat"))
            .unwrap_or_default()
            .contains(") Z ")
}

/// Item: a container whose monitor was killed ran on as `Up` with no network helper and no log.
#[test]
fn lost_monitor_is_shown_and_restart_recovers() {
    let env = Env::new("lost_monitor_is_shown_and_restart_recovers");
    pull(&env, "busybox");
    let out = env.roost(
        0,
        &[
            "run",
            "-d",
            &image("busybox"),
            "sh",
            "-c",
            "echo started; sleep 1000",
        ],
    );
    let id = out.stdout_text().trim().to_string();
    let monitor: i32 = inspect_field(&env, &id, ".State.ConmonPid")
        .parse()
        .unwrap();
    kill(Pid::from_raw(monitor), Signal::SIGKILL).unwrap();
    assert!(wait_for(Duration::from_secs(10), || !alive(monitor)));
    let ps = env.roost(0, &["ps", "--format", "{{.Status}}"]);
    assert!(
        ps.stdout_text().contains("(monitor gone)"),
        "{}",
        ps.stdout_text()
    );
    let error = inspect_field(&env, &id, ".State.Error");
    assert!(error.contains("monitor"), "{error}");
    // `restart` brings back a monitor (and with it the network helper and the log).
    env.roost(0, &["restart", "-t", "0", &id]);
    let ps = env.roost(0, &["ps", "--format", "{{.Status}}"]);
    assert!(
        !ps.stdout_text().contains("monitor gone"),
        "{}",
        ps.stdout_text()
    );
    let again: i32 = inspect_field(&env, &id, ".State.ConmonPid")
        .parse()
        .unwrap();
    assert!(again != monitor && alive(again));
    assert!(inspect_field(&env, &id, ".State.Error").is_empty());
    assert!(wait_for(Duration::from_secs(10), || {
        env.roost(0, &["logs", &id])
            .stdout_text()
            .matches("started")
            .count()
            >= 2
    }));
    // `rm -f` of one whose monitor is gone leaves nothing either.
    let monitor: i32 = inspect_field(&env, &id, ".State.ConmonPid")
        .parse()
        .unwrap();
    kill(Pid::from_raw(monitor), Signal::SIGKILL).unwrap();
    assert!(wait_for(Duration::from_secs(10), || !alive(monitor)));
    env.roost(0, &["rm", "-f", &id]);
    assert!(ids(&env, &["ps", "-a", "-q"]).is_empty());
    assert!(container_dirs(&env).is_empty());
}
