//! Log drivers beyond k8s-file on a machine without systemd's journal (this build machine): an
//! explicit `--log-driver journald` is refused, naming the journal's socket, while containers.conf's
//! `log_driver = "journald"` falls back to a file with a warning; `passthrough` hands the container
//! our stdout and stderr and `logs` says there is no log. (With a journal: tests/vm/scenarios/journald.sh.)

use crate::harness::{Env, OutputExt, env_with_busybox, image};

const SOCKET: &str = "/run/systemd/journal/socket";

fn write_containers_conf(env: &Env, text: &str) {
    let path = env.config.join("containers/containers.conf");
    std::fs::write(&path, text).expect("write containers.conf");
    std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o644))
        .expect("chmod containers.conf");
}

fn no_journal_here() {
    assert!(
        !std::path::Path::new(SOCKET).exists(),
        "these tests are for a machine without a journal, and {SOCKET} exists"
    );
}

#[test]
fn journald_without_a_journal_is_refused() {
    no_journal_here();
    let env = env_with_busybox("journald_without_a_journal_is_refused");
    let name = env.safename("c");
    for verb in ["run", "create"] {
        let out = env.roost(
            125,
            &[
                verb,
                "--name",
                &name,
                "--log-driver",
                "journald",
                &image("busybox"),
                "true",
            ],
        );
        let err = out.stderr_text();
        assert!(err.contains("journald log driver needs"), "{err}");
        assert!(err.contains(SOCKET), "{err}");
        assert!(err.contains("Hint:") && err.contains("k8s-file"), "{err}");
    }
    // Nothing was created.
    let all = env.roost(0, &["ps", "-a", "--format", "{{.Names}}"]);
    assert!(!all.stdout_text().contains(&name), "{}", all.stdout_text());
}

#[test]
fn containers_conf_journald_falls_back_to_a_file() {
    no_journal_here();
    let env = env_with_busybox("containers_conf_journald_falls_back_to_a_file");
    write_containers_conf(&env, "[containers]\nlog_driver = \"journald\"\n");
    let name = env.safename("c");
    let out = env.roost(
        0,
        &["run", "--name", &name, &image("busybox"), "echo", "hello"],
    );
    assert_eq!(out.stdout_text(), "hello\n");
    let err = out.stderr_text();
    assert!(
        err.contains("log_driver is journald but there is no journal") && err.contains(SOCKET),
        "{err}"
    );
    let driver = env.roost(
        0,
        &[
            "inspect",
            "--format",
            "{{.HostConfig.LogConfig.Type}}",
            &name,
        ],
    );
    assert_eq!(driver.stdout_text(), "k8s-file\n");
    assert_eq!(env.roost(0, &["logs", &name]).stdout_text(), "hello\n");
}

#[test]
fn containers_conf_log_driver_is_checked() {
    let env = env_with_busybox("containers_conf_log_driver_is_checked");
    write_containers_conf(&env, "[containers]\nlog_driver = \"syslog\"\n");
    let out = env.roost(125, &["create", &image("busybox"), "true"]);
    let err = out.stderr_text();
    assert!(err.contains("invalid log driver `syslog`"), "{err}");
}

#[test]
fn json_file_is_k8s_file() {
    let env = env_with_busybox("json_file_is_k8s_file");
    let name = env.safename("c");
    env.roost(
        0,
        &[
            "run",
            "--name",
            &name,
            "--log-driver",
            "json-file",
            &image("busybox"),
            "echo",
            "hi",
        ],
    );
    let driver = env.roost(
        0,
        &[
            "inspect",
            "--format",
            "{{.HostConfig.LogConfig.Type}}",
            &name,
        ],
    );
    assert_eq!(driver.stdout_text(), "k8s-file\n");
    assert_eq!(env.roost(0, &["logs", &name]).stdout_text(), "hi\n");
}

#[test]
fn passthrough_hands_over_our_stdio() {
    let env = env_with_busybox("passthrough_hands_over_our_stdio");
    let fg = env.safename("fg");
    let out = env.roost(
        0,
        &[
            "run",
            "--name",
            &fg,
            "--log-driver",
            "passthrough",
            &image("busybox"),
            "sh",
            "-c",
            "echo out; echo err >&2",
        ],
    );
    assert_eq!(out.stdout_text(), "out\n");
    assert!(out.stderr_text().contains("err\n"), "{}", out.stderr_text());
    // Detached: the monitor passes our stdout and stderr on (the output ends when it exits).
    let bg = env.safename("bg");
    let out = env.roost(
        0,
        &[
            "run",
            "-d",
            "--name",
            &bg,
            "--log-driver",
            "passthrough",
            &image("busybox"),
            "sh",
            "-c",
            "echo detached-out; echo detached-err >&2",
        ],
    );
    assert!(
        out.stdout_text().contains("detached-out\n"),
        "{}",
        out.stdout_text()
    );
    assert!(
        out.stderr_text().contains("detached-err\n"),
        "{}",
        out.stderr_text()
    );
    assert_eq!(env.roost(0, &["wait", &bg]).stdout_text(), "0\n");
    for name in [&fg, &bg] {
        let err = env.roost(125, &["logs", name]).stderr_text();
        assert!(err.contains("passthrough log driver"), "{err}");
        assert!(err.contains("Hint:"), "{err}");
    }
}

#[test]
fn passthrough_refuses_a_tty() {
    let env = env_with_busybox("passthrough_refuses_a_tty");
    let out = env.roost(
        125,
        &[
            "create",
            "-t",
            "--log-driver",
            "passthrough",
            &image("busybox"),
            "true",
        ],
    );
    assert!(
        out.stderr_text()
            .contains("passthrough log driver cannot be used with --tty"),
        "{}",
        out.stderr_text()
    );
}
