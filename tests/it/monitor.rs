//! The per-container monitor and the logs it (or a foreground `run`) writes: the monitor gives back
//! the memory that starting the container took and keeps working afterwards; foreground containers
//! keep a log as podman's do (`podman logs` after `podman run`).

use std::fs;
use std::time::Duration;

use crate::harness::{
    OutputExt, assert_no_leaks, env_with_busybox, image, pids_with_cmdline, wait_for,
};

/// A `/proc/PID/status` field in kB.
fn status_kb(pid: i32, field: &str) -> u64 {
    fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| {
            l.strip_prefix(field)?
                .trim()
                .strip_suffix("kB")?
                .trim()
                .parse()
                .ok()
        })
        .unwrap_or(0)
}

#[test]
fn idle_monitor_gives_back_the_binary_and_keeps_working() {
    let env = env_with_busybox("idle_monitor_gives_back_the_binary");
    let n = env.safename("m");
    let id = env
        .roost(
            0,
            &[
                "run",
                "-d",
                "-i",
                "--name",
                &n,
                &image("busybox"),
                "sh",
                "-c",
                "sleep 2; echo late; read line; echo got $line; sleep 300",
            ],
        )
        .stdout_text()
        .trim()
        .to_string();
    let monitors = pids_with_cmdline(&["__monitor", &id]);
    assert_eq!(monitors.len(), 1, "one monitor: {monitors:?}");
    let pid = monitors[0];
    // Quiet for a moment, the monitor unmaps the pages of the (large, here unoptimised) binary that
    // starting the container touched: about 8 MB of this debug build, of which it keeps some 2-3 MB
    // (a release build keeps about 0.5 MB).
    let small = wait_for(Duration::from_secs(5), || status_kb(pid, "RssFile:") < 4096);
    assert!(
        small,
        "monitor keeps {} kB of files mapped (VmRSS {} kB)",
        status_kb(pid, "RssFile:"),
        status_kb(pid, "VmRSS:")
    );
    // It still copies output, serves attach clients and records the exit.
    assert!(wait_for(Duration::from_secs(10), || env
        .roost(0, &["logs", &n])
        .stdout_text()
        .contains("late")));
    // What we write waits in the pipe until the client, once connected, reads it.
    let mut attach = env.roost_spawn(&["attach", "--sig-proxy=false", &n]);
    {
        use std::io::Write;
        let mut stdin = attach.stdin.take().expect("piped stdin");
        stdin.write_all(b"hello\n").unwrap();
    }
    assert!(wait_for(Duration::from_secs(10), || env
        .roost(0, &["logs", &n])
        .stdout_text()
        .contains("got hello")));
    env.roost(0, &["rm", "-f", "-t", "0", &n]);
    let _ = attach.wait();
    assert_no_leaks(&env);
}

#[test]
fn foreground_run_keeps_a_log() {
    let env = env_with_busybox("foreground_run_keeps_a_log");
    let bb = image("busybox");
    let n = env.safename("fg");
    let o = env.roost(
        0,
        &[
            "run",
            "--name",
            &n,
            &bb,
            "sh",
            "-c",
            "echo out; echo err >&2; printf partial",
        ],
    );
    assert_eq!(o.stdout_text(), "out\npartial");
    assert_eq!(o.stderr_text(), "err\n");
    // podman logs after podman run: the same streams, from the k8s-file log.
    let logs = env.roost(0, &["logs", &n]);
    assert_eq!(logs.stdout_text(), "out\npartial");
    assert_eq!(logs.stderr_text(), "err\n");
    // Without -t the container writes to pipes, as under podman's conmon.
    let o = env.roost(
        0,
        &["run", "--rm", &bb, "sh", "-c", "test -t 1 || echo notty"],
    );
    assert_eq!(o.stdout_text(), "notty\n");
    // With -t the pty's output is logged (as stdout, like podman).
    let t = env.safename("tty");
    let o = env.roost(0, &["run", "-t", "--name", &t, &bb, "echo", "via-pty"]);
    assert_eq!(o.stdout_text(), "via-pty\r\n");
    assert_eq!(env.roost(0, &["logs", &t]).stdout_text(), "via-pty\r\n");
    // --log-driver none: the output still shows, nothing is kept.
    let q = env.safename("none");
    let o = env.roost(
        0,
        &[
            "run",
            "--log-driver",
            "none",
            "--name",
            &q,
            &bb,
            "echo",
            "hi",
        ],
    );
    assert_eq!(o.stdout_text(), "hi\n");
    assert_eq!(env.roost(0, &["logs", &q]).stdout_text(), "");
    // A container that prints nothing leaves no log file behind.
    let s = env.safename("silent");
    env.roost(0, &["run", "--name", &s, &bb, "true"]);
    let id = env
        .roost(0, &["inspect", "--format", "{{.Id}}", &s])
        .stdout_text()
        .trim()
        .to_string();
    let dir = env.data.join("roost/containers").join(&id);
    assert!(dir.is_dir(), "{} exists", dir.display());
    assert!(!dir.join("ctr.log").exists());
    env.roost(0, &["rm", "-a"]);
    assert_no_leaks(&env);
}

#[test]
fn foreground_run_stops_at_a_closed_stdout() {
    let env = env_with_busybox("foreground_run_stops_at_a_closed_stdout");
    // `yes` must see the broken pipe that `head` leaves, as it would writing there directly.
    let script = format!(
        "{} run --rm {} yes | head -n 2",
        crate::harness::roost_bin().display(),
        image("busybox")
    );
    let o = env.run_as_user(0, "sh", &["-c", &script]);
    assert_eq!(o.stdout_text(), "y\ny\n");
    assert_no_leaks(&env);
}
