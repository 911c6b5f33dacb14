//! `attach` and `start -a [-i]`: output and stdin through the monitor's attach socket.

use std::io::Write;
use std::time::{Duration, Instant};

use crate::harness::{Env, OutputExt, assert_no_leaks, image};

/// Wait for a spawned `roost` and return its output, killing it after a minute.
fn finish(child: std::process::Child) -> std::process::Output {
    let pid = child.id();
    let start = Instant::now();
    let waiter = std::thread::spawn(move || child.wait_with_output().expect("wait for roost"));
    while !waiter.is_finished() {
        if start.elapsed() > Duration::from_secs(60) {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(-(pid as i32)),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    waiter.join().expect("waiter thread")
}

#[test]
fn attach_prints_output_and_exits_with_the_container_code() {
    let env = Env::new("attach_prints_output_and_exits_with_the_container_code");
    let name = env.safename("a");
    env.roost(
        0,
        &[
            "run",
            "-d",
            "--name",
            &name,
            &image("busybox"),
            "sh",
            "-c",
            "sleep 1; echo hi; echo oops >&2; exit 3",
        ],
    );
    let first = env.roost_spawn(&["attach", &name]);
    let second = env.roost_spawn(&["attach", "--no-stdin", &name]);
    for out in [finish(first), finish(second)] {
        assert_eq!(out.status.code(), Some(3), "{out:?}");
        assert_eq!(out.stdout_text(), "hi\n");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("oops"),
            "{out:?}"
        );
    }
    // The log still has everything, and the socket is gone with the monitor.
    let logs = env.roost(0, &["logs", &name]);
    assert_eq!(logs.stdout_text(), "hi\n");
    env.roost(125, &["attach", &name]);
    env.roost(0, &["rm", &name]);
    assert_no_leaks(&env);
}

#[test]
fn start_attach_interactive_passes_stdin() {
    let env = Env::new("start_attach_interactive_passes_stdin");
    let name = env.safename("c");
    env.roost(
        0,
        &["create", "-i", "--name", &name, &image("busybox"), "cat"],
    );
    let out = env.roost_stdin(0, &["start", "-a", "-i", &name], b"hello\n");
    assert_eq!(out.stdout_text(), "hello\n");
    // Output written before anything could attach is seen too: start -a attaches first.
    let quick = env.safename("q");
    env.roost(
        0,
        &[
            "create",
            "--name",
            &quick,
            &image("busybox"),
            "echo",
            "early",
        ],
    );
    let out = env.roost(0, &["start", "-a", &quick]);
    assert_eq!(out.stdout_text(), "early\n");
    let logs = env.roost(0, &["logs", &name]);
    assert_eq!(logs.stdout_text(), "hello\n");
    env.roost(0, &["rm", &name, &quick]);
    assert_no_leaks(&env);
}

#[test]
fn attach_interactive_container_after_run_d() {
    let env = Env::new("attach_interactive_container_after_run_d");
    let name = env.safename("i");
    env.roost(
        0,
        &[
            "run",
            "-d",
            "-i",
            "--name",
            &name,
            &image("busybox"),
            "sh",
            "-c",
            "read x; echo got $x",
        ],
    );
    let mut child = env.roost_spawn(&["attach", &name]);
    child
        .stdin
        .take()
        .expect("piped stdin")
        .write_all(b"line\n")
        .expect("write stdin");
    let out = finish(child);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(out.stdout_text(), "got line\n");
    env.roost(0, &["rm", &name]);
    assert_no_leaks(&env);
}
