//! `run`: what belongs to the container's command, exit codes, stdin without `-i`.

use std::time::{Duration, Instant};

use super::{container_dirs, finish, ps_field, run_detached};
use crate::harness::{
    Cleanup, OutputExt, assert_no_leaks, bb, env_with_busybox, image, out, wait_for,
};

/// Everything after the image (`run`, `create`) or the container (`exec`) is the container's
/// command, even words that are roost flags (`-v`, `-d`, `--help`), as in podman.
#[test]
fn arguments_after_the_image_belong_to_the_container() {
    let env = env_with_busybox("arguments_after_the_image_belong_to_the_container");
    let _cleanup = Cleanup(&env);
    let img = bb();
    assert_eq!(
        out(
            &env,
            &["run", "--rm", &img, "echo", "-v", "--help", "-n", "x"]
        ),
        "-v --help -n x\n"
    );
    assert_eq!(
        out(
            &env,
            &["run", "--rm", "--entrypoint", "echo", &img, "--help"]
        ),
        "--help\n"
    );
    let n = env.safename("c");
    out(
        &env,
        &[
            "create",
            "--name",
            &n,
            "--entrypoint",
            "echo",
            &img,
            "-d",
            "-t",
        ],
    );
    assert_eq!(out(&env, &["start", "-a", &n]), "-d -t\n");
    out(&env, &["rm", &n]);
    let up = env.safename("up");
    run_detached(&env, &["--name", &up, &img, "sleep", "1000"]);
    let ls = out(&env, &["exec", &up, "ls", "-la", "/"]);
    assert!(
        ls.lines()
            .any(|l| l.starts_with('d') && l.ends_with(" bin")),
        "{ls}"
    );
    assert_eq!(
        out(&env, &["exec", &up, "echo", "-u", "--help"]),
        "-u --help\n"
    );
    out(&env, &["rm", "-f", "-t", "0", &up]);
    assert_no_leaks(&env);
}

// ---------------------------------------------------------------------------------------------
// Exit codes
// ---------------------------------------------------------------------------------------------

#[test]
fn run_exit_code_matrix() {
    let env = env_with_busybox("run_exit_code_matrix");
    let img = bb();

    env.roost(0, &["run", "--rm", &img, "true"]);
    env.roost(1, &["run", "--rm", &img, "false"]);
    env.roost(3, &["run", "--rm", &img, "sh", "-c", "exit 3"]);

    let o = env.roost(127, &["run", "--rm", &img, "no-such-command"]);
    let err = o.stderr_text();
    assert!(
        err.contains("Error: executable file `no-such-command` not found in $PATH"),
        "podman's not-found message expected:\n{err}"
    );
    let o = env.roost(127, &["run", "--rm", &img, "/no/such/command"]);
    assert!(
        o.stderr_text().starts_with("Error: "),
        "{}",
        o.stderr_text()
    );

    let o = env.roost(126, &["run", "--rm", &img, "/etc/passwd"]);
    let err = o.stderr_text();
    assert!(
        err.starts_with("Error: ") && err.contains("permission denied"),
        "126 needs a permission-denied error:\n{err}"
    );
    env.roost(126, &["run", "--rm", &img, "/etc"]);

    let missing = image("no-such-image-for-roost");
    let o = env.roost(125, &["run", "--rm", "--pull", "never", &missing, "true"]);
    assert!(
        o.stderr_text().starts_with("Error: "),
        "{}",
        o.stderr_text()
    );

    let o = env.roost(125, &["run", "--rm", "--no-such-flag", &img, "true"]);
    assert!(
        o.stderr_text().starts_with("Error: "),
        "{}",
        o.stderr_text()
    );
    assert!(o.stdout.is_empty());

    // None of these left a container behind.
    assert_eq!(out(&env, &["ps", "-a", "-q"]), "");
    assert_eq!(container_dirs(&env), Vec::<String>::new());
    assert_no_leaks(&env);
}

/// Killed by a signal → 128+N. (`sh -c 'kill -9 $$'` cannot do it: the shell is the pid
/// namespace's init, and the kernel drops SIGKILL sent to init from inside its namespace,
/// under podman too, so the signal comes from outside. Only SIGKILL: init without a handler
/// ignores SIGTERM even from outside.)
#[test]
fn run_killed_by_signal_exits_128_plus_n() {
    let env = env_with_busybox("run_killed_by_signal_exits_128_plus_n");
    let _c = Cleanup(&env);
    let name = env.safename("k");
    let child = env.roost_spawn(&["run", "--rm", "--name", &name, &bb(), "sleep", "300"]);
    assert!(
        wait_for(Duration::from_secs(20), || ps_field(
            &env,
            &name,
            "{{.State}}"
        ) == "running"),
        "container never ran"
    );
    env.roost(0, &["kill", &name]);
    let o = finish(child, Instant::now() + Duration::from_secs(30));
    assert_eq!(o.status.code(), Some(137), "run after SIGKILL: {o:?}");

    assert!(wait_for(Duration::from_secs(5), || out(
        &env,
        &["ps", "-a", "-q"]
    )
    .is_empty()));
    assert_no_leaks(&env);
}

/// Without `-i` the container's stdin is /dev/null (podman): `read` sees EOF at once even while
/// roost's own stdin is an open pipe, and `cat` ends.
#[test]
fn run_without_interactive_has_null_stdin() {
    let env = env_with_busybox("run_without_interactive_has_null_stdin");
    let _c = Cleanup(&env);
    let mut child = env.roost_spawn(&[
        "run",
        "--rm",
        &bb(),
        "sh",
        "-c",
        "read x; echo \"read=$? x=$x\"; cat; echo cat-done",
    ]);
    // Keep our end of roost's stdin open (and silent) while it runs.
    let stdin = child.stdin.take();
    let start = Instant::now();
    let o = finish(child, Instant::now() + Duration::from_secs(12));
    drop(stdin);
    assert_eq!(o.status.code(), Some(0), "{o:?}");
    assert_eq!(o.stdout_text(), "read=1 x=\ncat-done\n");
    assert!(
        start.elapsed() < Duration::from_secs(10),
        "run waited for roost's stdin ({:?})",
        start.elapsed()
    );
    assert_no_leaks(&env);
}

/// podman's `wait` returns at once for a container that does not run: 0 for one that never ran, the
/// recorded code for one whose start failed; `start` failing is podman's 125 (127 is `run`'s).
#[test]
fn wait_on_a_container_that_never_ran_returns_at_once() {
    let env = env_with_busybox("wait_on_a_container_that_never_ran_returns_at_once");
    let _cleanup = Cleanup(&env);
    let name = env.safename("never");
    env.roost(0, &["create", "--name", &name, &bb(), "/no/such/command"]);
    let started = Instant::now();
    assert_eq!(out(&env, &["wait", &name]), "0\n");
    let failed = env.roost(125, &["start", &name]);
    assert!(
        failed.stderr_text().contains("/no/such/command"),
        "{}",
        failed.stderr_text()
    );
    assert_eq!(out(&env, &["wait", &name]), "127\n");
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "wait returned at once"
    );
    // A condition that is not an exit still waits for it.
    let mut running = env.roost_cmd(&["wait", "--condition", "running", &name]);
    let mut child = running.spawn().expect("spawn wait");
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        child.try_wait().expect("try_wait").is_none(),
        "still waiting"
    );
    let _ = child.kill();
    let _ = child.wait();
    env.roost(0, &["rm", &name]);
    assert_no_leaks(&env);
}
