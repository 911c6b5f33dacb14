//! podman parity of the command line, part two (issue 10): `--help` in podman's layout (which
//! podman's tests parse to find every command), `--latest` conflicts in podman's words, podman's
//! log lines and `--log-level` checks, `--noout`, `system connection ls` and `images --sort`.
use crate::harness::{Env, OutputExt, assert_no_leaks, bb, env_with_busybox};

#[test]
fn help_in_podmans_layout() {
    let env = Env::new("help_in_podmans_layout");
    let root = env.roost(0, &["--help"]).stdout_text();
    assert_eq!(
        root.lines().next(),
        Some("Manage pods, containers and images")
    );
    for part in [
        "\nUsage:\n  roost [options] [command]\n",
        "\nAvailable Commands:\n",
        "\n  image       Manage images\n",
        "\nOptions:\n",
        " --remote ",
        " --log-level ",
    ] {
        assert!(root.contains(part), "no {part:?} in:\n{root}");
    }
    assert!(
        !root.contains("__monitor"),
        "hidden command listed:\n{root}"
    );
    // `help` and `-h` print the same.
    assert_eq!(env.roost(0, &["help"]).stdout_text(), root);
    assert_eq!(env.roost(0, &["-h"]).stdout_text(), root);
    // With a connection chosen every command is remote: no --remote.
    let mut cmd = env.roost_cmd(&["--help"]);
    cmd.env("CONTAINER_HOST", "unix:///nowhere");
    assert!(!env.run_cmd(cmd, 0).stdout_text().contains(" --remote "));
    let ps = env.roost(0, &["ps", "--help"]).stdout_text();
    for part in [
        "List containers\n",
        "\nUsage:\n  roost ps [options]\n",
        "\nAliases:\n  ps, list, ls\n",
        "\n  -a, --all ",
    ] {
        assert!(ps.contains(part), "no {part:?} in:\n{ps}");
    }
    assert!(
        !ps.contains("--root"),
        "global flags in a command's help:\n{ps}"
    );
    // A flag whose value may be left out still shows its default (podman's `--pull ... (default
    // "missing")`); booleans written `--flag[=BOOL]` stay plain.
    let build = env.roost(0, &["build", "--help"]).stdout_text();
    let pull = build
        .lines()
        .find(|l| l.contains(" --pull "))
        .unwrap_or_default();
    assert!(pull.ends_with("(default \"missing\")"), "{build}");
    let layers = build
        .lines()
        .find(|l| l.contains(" --layers"))
        .unwrap_or_default();
    assert!(!layers.contains("(default \""), "{layers}");
    let attach = env.roost(0, &["attach", "--help"]).stdout_text();
    assert!(
        attach.contains("\nUsage:\n  roost attach [options] CONTAINER\n"),
        "{attach}"
    );
    let image = env.roost(0, &["help", "image"]).stdout_text();
    assert!(
        image.contains("\nUsage:\n  roost image [command]\n"),
        "{image}"
    );
    assert!(image.contains("\n  ls          List images"), "{image}");
    // A group without its command: its help, then podman's error.
    let out = env.roost(125, &["image"]);
    assert!(out.stdout_text().contains("Available Commands:"));
    assert!(
        out.stderr_text()
            .starts_with("Error: missing command 'roost image COMMAND'"),
        "{}",
        out.stderr_text()
    );
}

#[test]
fn latest_conflicts_in_podmans_words() {
    let env = Env::new("latest_conflicts_in_podmans_words");
    for (args, want) in [
        (
            &["pod", "logs", "-l", "nonexistent"][..],
            "Error: --latest and pods cannot be used together",
        ),
        (
            &["pod", "inspect", "-l", "nonexistent"][..],
            "Error: --latest and pods cannot be used together",
        ),
    ] {
        let err = env.roost(125, args).stderr_text();
        assert!(err.starts_with(want), "roost {args:?}:\n{err}");
    }
}

#[test]
fn log_levels_as_podman() {
    let env = Env::new("log_levels_as_podman");
    let out = env.roost(1, &["--log-level=telepathic", "version"]);
    assert_eq!(
        out.stderr_text(),
        "Log Level \"telepathic\" is not supported, choose from: trace, debug, info, warn, warning, error, fatal, panic\n"
    );
    let out = env.roost(1, &["--debug", "--log-level=panic", "version"]);
    assert_eq!(
        out.stderr_text(),
        "Setting --log-level and --debug is not allowed\n"
    );
    // logrus's layout on a pipe, and podman's last debug line.
    let err = env
        .roost(0, &["--log-level=debug", "version"])
        .stderr_text();
    assert!(err.contains(" level=debug "), "{err}");
    assert!(err.contains(" level=info "), "{err}");
    assert!(err.contains("msg=\"Shutting down engines\""), "{err}");
    let err = env.roost(0, &["-D", "version"]).stderr_text();
    assert!(err.contains(" level=debug "), "{err}");
    let err = env
        .roost(0, &["--log-level=trace", "version"])
        .stderr_text();
    assert!(err.contains(" level=trace "), "{err}");
    let err = env.roost(0, &["--log-level=info", "version"]).stderr_text();
    assert!(!err.contains(" level=debug "), "{err}");
    for quiet in ["warn", "warning", "error"] {
        let err = env
            .roost(0, &[&format!("--log-level={quiet}"), "version"])
            .stderr_text();
        assert!(!err.contains(" level="), "{quiet}: {err}");
    }
    // Also for a command that fails.
    let out = env.roost(1, &["--log-level=debug", "rm", "no-such-container"]);
    assert!(out.stderr_text().contains("Shutting down engines"));
    assert_no_leaks(&env);
}

#[test]
fn noout_and_system_connection_ls() {
    let env = Env::new("noout_and_system_connection_ls");
    let out = env.roost(0, &["system", "connection", "ls"]);
    assert!(
        out.stdout_text().starts_with("NAME"),
        "{}",
        out.stdout_text()
    );
    let out = env.roost(0, &["--noout", "system", "connection", "ls"]);
    assert!(out.stdout.is_empty(), "{}", out.stdout_text());
    // A program roost runs for the user writes to the redirected stdout too.
    let out = env.roost(0, &["--noout", "unshare", "echo", "hello"]);
    assert!(out.stdout.is_empty(), "{}", out.stdout_text());
    assert_no_leaks(&env);
}

#[test]
fn images_sort_repository_orders_every_name() {
    let env = Env::new("images_sort_repository_orders_every_name");
    let id = crate::store::pull(&env, "busybox");
    for tag in ["x:1", "x:3", "x:2", "a:a"] {
        env.roost(0, &["tag", &id, &format!("example.org/sorted-{tag}")]);
    }
    let out = env.roost(
        0,
        &[
            "images",
            "--format",
            "{{.Repository}}:{{.Tag}}",
            "--sort",
            "repository",
        ],
    );
    let names: Vec<String> = out
        .stdout_lines()
        .into_iter()
        .filter(|l| l.starts_with("example.org/"))
        .collect();
    assert_eq!(
        names,
        [
            "example.org/sorted-a:a",
            "example.org/sorted-x:1",
            "example.org/sorted-x:2",
            "example.org/sorted-x:3"
        ]
    );
    assert_no_leaks(&env);
}

/// Flags that cannot be set together are refused before anything is pulled or made, in podman's
/// words, whichever comes first on the command line; `--platform`/`--arch`/`--os` choose what
/// `create`/`run` pull.
#[test]
fn conflicting_flags_in_podmans_words() {
    let env = env_with_busybox("conflicting_flags_in_podmans_words");
    let cases: [(&str, &str, &str); 3] = [
        ("--cpu-period=1", "--cpus=2", "--cpu-period and --cpus"),
        ("--cpu-quota=1", "--cpus=2", "--cpu-quota and --cpus"),
        (
            "--no-hosts",
            "--add-host=foo:1.1.1.1",
            "--no-hosts and --add-host",
        ),
    ];
    for verb in ["create", "run"] {
        for (a, b, names) in cases {
            for (x, y) in [(a, b), (b, a)] {
                let out = env.roost(125, &[verb, x, y, "nosuchimage"]);
                assert_eq!(
                    out.stderr_text().trim_end(),
                    format!("Error: {names} cannot be set together"),
                    "{verb} {x} {y}"
                );
            }
        }
    }
    for verb in ["create", "pull"] {
        for flag in ["--arch=bar", "--os=bar"] {
            let out = env.roost(125, &[verb, "--platform=foo", flag, "nosuchimage"]);
            assert_eq!(
                out.stderr_text().trim_end(),
                "Error: --platform option can not be specified with --arch or --os"
            );
        }
    }
    let out = env.roost(125, &["create", "--platform=linux", "nosuchimage"]);
    assert!(
        out.stderr_text().contains("invalid platform `linux`"),
        "{}",
        out.stderr_text()
    );
    // The host's platform by name pulls and runs as without it.
    let arch = std::env::consts::ARCH
        .replace("x86_64", "amd64")
        .replace("aarch64", "arm64");
    let platform = format!("linux/{arch}");
    let out = env.roost(
        0,
        &["run", "--rm", "--platform", &platform, &bb(), "echo", "ok"],
    );
    assert_eq!(out.stdout_text(), "ok\n");
    let out = env.roost(0, &["run", "--rm", "--arch", &arch, &bb(), "echo", "ok"]);
    assert_eq!(out.stdout_text(), "ok\n");
}
