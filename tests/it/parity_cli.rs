//! podman parity of the command line (issue 10), as podman's own system tests check it: cobra's
//! words for a rejected command line, the persona roost takes under a `podman…` name, `version`,
//! `start --all/--filter`, signal validation, `StoppedByUser`, `run --replace`, `--label-file`,
//! `system df` and `container inspect` of a missing container.
use std::os::unix::fs::symlink;
use std::path::PathBuf;

use crate::harness::{Env, OutputExt, assert_no_leaks, env_with_busybox, roost_bin, wait_for};

/// `HOME/bin/NAME` linked to the binary under test.
fn linked_as(env: &Env, name: &str) -> PathBuf {
    let bin = env.home.join("bin");
    std::fs::create_dir_all(&bin).expect("bin dir");
    let link = bin.join(name);
    symlink(roost_bin(), &link).expect("symlink");
    link
}

#[test]
fn rejected_command_lines_in_cobras_words() {
    let env = Env::new("rejected_command_lines_in_cobras_words");
    let podman = linked_as(&env, "podman-remote");
    let run = |code, args: &[&str]| env.run_cmd(env.command(&podman, args), code);
    let cases: [(&[&str], &str); 7] = [
        (
            &["run", "-h"],
            "Error: flag needs an argument: 'h' in -h\nSee 'podman run --help'\n",
        ),
        (
            &["run", "--name"],
            "Error: flag needs an argument: --name\nSee 'podman run --help'\n",
        ),
        (
            &["bad", "--invalid"],
            "Error: unknown flag: --invalid\nSee 'podman --help'\n",
        ),
        (
            &["ps", "--bogus"],
            "Error: unknown flag: --bogus\nSee 'podman ps --help'\n",
        ),
        (
            &["ps", "-Z"],
            "Error: unknown shorthand flag: 'Z' in -Z\nSee 'podman ps --help'\n",
        ),
        (
            &["ps", "invalid-arg"],
            "Error: \"podman ps\" takes no arguments\nSee 'podman ps --help'\n",
        ),
        (
            &["start", "--all", "x"],
            "Error: either start all containers or the container(s) provided in the arguments\n",
        ),
    ];
    for (args, want) in cases {
        assert_eq!(run(125, args).stderr_text(), want, "{args:?}");
    }
    // A bad value of an option that takes a value beginning with `-`: the value, not a flag.
    let o = run(125, &["history", "--format", "--{{.ID}}--", "nosuchimage"]);
    assert!(!o.stderr_text().contains("flag"), "{}", o.stderr_text());
    // Under its own name roost says `roost`.
    let o = env.roost(125, &["ps", "--bogus"]);
    assert_eq!(
        o.stderr_text(),
        "Error: unknown flag: --bogus\nSee 'roost ps --help'\n"
    );
    assert_no_leaks(&env);
}

#[test]
fn version_as_podman() {
    let env = Env::new("version_as_podman");
    let podman = linked_as(&env, "podman");
    let o = env.run_cmd(env.command(&podman, &["version"]), 0);
    let text = o.stdout_text();
    let first = text.lines().next().unwrap_or_default();
    assert!(first.starts_with("Version:      4."), "{text}");
    for field in ["API Version:", "Go Version:   rustc ", "Built:", "OS/Arch:"] {
        assert!(text.contains(field), "no `{field}`:\n{text}");
    }
    let json = env
        .run_cmd(env.command(&podman, &["version", "--format", "json"]), 0)
        .stdout_text();
    let v: serde_json::Value = serde_json::from_str(&json).expect("json");
    assert_eq!(
        v["Client"]["Version"].as_str(),
        first.split_whitespace().nth(1)
    );
    assert!(
        v["Client"]["Built"].as_i64().unwrap_or(0) > 1_546_300_800,
        "{json}"
    );
    assert_no_leaks(&env);
}

#[test]
fn signals_are_validated_as_podman() {
    let env = Env::new("signals_are_validated_as_podman");
    for (s, want) in [
        ("0", "Error: invalid signal: 0\n"),
        ("-0", "Error: invalid signal: 0\n"),
        ("SIGBADSIG", "Error: invalid signal: SIGBADSIG\n"),
        ("-SIG", "Error: invalid signal: SIG\n"),
        ("65", "Error: valid signals are 1 through 64\n"),
        ("-65", "Error: valid signals are 1 through 64\n"),
    ] {
        let o = env.roost(125, &["kill", "-s", s, "nosuchcontainer"]);
        assert_eq!(o.stderr_text(), want, "kill -s {s}");
    }
    assert_no_leaks(&env);
}

#[test]
fn kill_with_realtime_signal_and_stopped_by_user() {
    let env = env_with_busybox("kill_with_realtime_signal_and_stopped_by_user");
    let c = env.safename("c");
    let bb = crate::harness::bb();
    env.roost(
        0,
        &[
            "run",
            "-d",
            "--restart=always",
            "--name",
            &c,
            &bb,
            "sh",
            "-c",
            "trap 'exit 42' 64; while :; do sleep 0.1; done",
        ],
    );
    let by_user = |env: &Env| {
        env.roost(0, &["inspect", "--format", "{{.State.StoppedByUser}}", &c])
            .stdout_text()
    };
    assert_eq!(by_user(&env), "false\n");
    // 64 (SIGRTMAX) is a signal nix has no name for; the shell ends on it.
    env.roost(0, &["kill", "-s", "64", &c]);
    assert_eq!(env.roost(0, &["wait", &c]).stdout_text(), "42\n");
    assert_eq!(by_user(&env), "true\n");
    // The user ended it: the restart policy leaves it stopped.
    let state = env
        .roost(0, &["inspect", "--format", "{{.State.Status}}", &c])
        .stdout_text();
    assert_eq!(state, "exited\n");
    env.roost(0, &["rm", &c]);
    assert_no_leaks(&env);
}

#[test]
fn start_all_and_filter() {
    let env = env_with_busybox("start_all_and_filter");
    let bb = crate::harness::bb();
    let (a, b) = (env.safename("a"), env.safename("b"));
    let id_a = env
        .roost(
            0,
            &["create", "--name", &a, "--restart=always", &bb, "true"],
        )
        .stdout_text();
    env.roost(
        0,
        &["create", "--name", &b, "--restart=on-failure", &bb, "true"],
    );
    // Named containers are narrowed by the filter and printed as named.
    let o = env.roost(
        0,
        &["start", "--filter", "restart-policy=on-failure", &a, &b],
    );
    assert_eq!(o.stdout_text(), format!("{b}\n"));
    // --filter alone: any container, printed by id.
    let o = env.roost(0, &["start", "--filter", "restart-policy=always"]);
    assert_eq!(o.stdout_text(), id_a);
    let o = env.roost(125, &["start", "--filter", "restart-policy=fakepolicy"]);
    assert_eq!(
        o.stderr_text(),
        "Error: fakepolicy invalid restart policy\n"
    );
    env.roost(0, &["rm", "-f", "-t0", &a, &b]);
    assert_no_leaks(&env);
}

#[test]
fn replace_label_file_and_inspect_of_a_missing_container() {
    let env = env_with_busybox("replace_label_file_and_inspect_of_a_missing_container");
    let bb = crate::harness::bb();
    let c = env.safename("c");
    let file1 = env.home.join("labels1,with-comma");
    let file2 = env.home.join("labels2");
    std::fs::write(&file1, "simple=value1\n\n# a comment\n").unwrap();
    std::fs::write(&file2, "simple=abc\nspecial=b#c=d\n").unwrap();
    let (f1, f2) = (file1.to_str().unwrap(), file2.to_str().unwrap());
    let first = env
        .roost(0, &["create", "--name", &c, &bb, "true"])
        .stdout_text();
    let second = env
        .roost(
            0,
            &[
                "create",
                "--replace",
                "--name",
                &c,
                "--label-file",
                f1,
                "--label-file",
                f2,
                "--label",
                "cli=yes",
                &bb,
                "true",
            ],
        )
        .stdout_text();
    assert_ne!(first, second, "--replace made a new container");
    let labels = env
        .roost(0, &["inspect", "--format", "{{json .Config.Labels}}", &c])
        .stdout_text();
    let labels: serde_json::Value = serde_json::from_str(&labels).expect("labels json");
    assert_eq!(labels["simple"], "abc");
    assert_eq!(labels["special"], "b#c=d");
    assert_eq!(labels["cli"], "yes");
    env.roost(0, &["rm", &c]);
    let o = env.roost(125, &["container", "inspect", &c]);
    assert!(
        o.stderr_text()
            .contains(&format!("no such container \"{c}\"")),
        "{}",
        o.stderr_text()
    );
    assert_no_leaks(&env);
}

#[test]
fn system_df_counts_as_podman() {
    let env = env_with_busybox("system_df_counts_as_podman");
    let bb = crate::harness::bb();
    let (a, b) = (env.safename("a"), env.safename("b"));
    env.roost(0, &["run", "-v", "/vol1", "--name", &a, &bb, "true"]);
    env.roost(
        0,
        &[
            "run", "-d", "-v", "/vol2", "--name", &b, &bb, "sleep", "1000",
        ],
    );
    let rows = env
        .roost(
            0,
            &[
                "system",
                "df",
                "--format",
                "{{.Type}}:{{.Total}}:{{.Active}}:{{.Reclaimable}}",
            ],
        )
        .stdout_text();
    let rows: Vec<&str> = rows.lines().collect();
    assert_eq!(rows[0], "Images:1:1:0B (0%)", "{rows:?}");
    assert!(rows[1].starts_with("Containers:2:1:"), "{rows:?}");
    assert!(rows[2].starts_with("Local Volumes:2:2:"), "{rows:?}");
    let json = env
        .roost(0, &["system", "df", "--format", "json"])
        .stdout_text();
    let v: serde_json::Value = serde_json::from_str(&json).expect("json");
    assert_eq!(v[0]["TotalCount"], 1);
    assert_eq!(v[2]["Size"], "0B");
    let verbose = env.roost(0, &["system", "df", "-v"]).stdout_text();
    assert!(verbose.contains("Containers space usage:"), "{verbose}");
    assert!(verbose.contains(&b) && verbose.contains(&a), "{verbose}");
    env.roost(125, &["system", "df", "-v", "--format", "json"]);
    env.roost(0, &["rm", "-f", "-t0", "-v", &a, &b]);
    assert_no_leaks(&env);
}

#[test]
fn stop_shows_stopping_while_it_waits() {
    let env = env_with_busybox("stop_shows_stopping_while_it_waits");
    let bb = crate::harness::bb();
    let c = env.safename("c");
    // PID 1 without a handler ignores SIGTERM: stop waits its timeout.
    env.roost(0, &["run", "-d", "--name", &c, &bb, "sleep", "1000"]);
    let mut stop = env.roost_spawn(&["stop", "-t", "30", &c]);
    let status = |env: &Env| {
        env.roost(0, &["inspect", "--format", "{{.State.Status}}", &c])
            .stdout_text()
    };
    assert!(
        wait_for(std::time::Duration::from_secs(20), || status(&env)
            == "stopping\n"),
        "never `stopping`: {}",
        status(&env)
    );
    env.roost(0, &["kill", &c]);
    stop.wait().expect("stop exits");
    assert_eq!(status(&env), "exited\n");
    env.roost(0, &["rm", &c]);
    assert_no_leaks(&env);
}

#[test]
fn image_sizes_count_the_manifest_and_config() {
    let env = env_with_busybox("image_sizes_count_the_manifest_and_config");
    let bb = crate::harness::bb();
    // One image: its size (layers and metadata) is all the images' raw size.
    let size = env
        .roost(0, &["image", "inspect", "--format", "{{.Size}}", &bb])
        .stdout_text();
    let raw = env
        .roost(0, &["system", "df", "--format", "{{.RawSize}}"])
        .stdout_text();
    assert_eq!(raw.lines().next(), Some(size.trim()), "{raw}");
    // A committed image shares every layer with its base: its own bytes are its metadata.
    let c = env.safename("c");
    env.roost(0, &["run", "--name", &c, &bb, "true"]);
    let id = env.roost(0, &["commit", "-q", &c]).stdout_text();
    let verbose = env.roost(0, &["system", "df", "-v"]).stdout_text();
    let row = verbose
        .lines()
        .find(|l| l.contains(&id.trim()[..12]))
        .unwrap_or_else(|| panic!("no row for {id}: {verbose}"));
    let cols: Vec<&str> = row.split("  ").filter(|s| !s.trim().is_empty()).collect();
    let unique = cols[cols.len() - 2].trim();
    assert!(unique.ends_with("kB") || unique.ends_with('B'), "{row}");
    assert_ne!(unique, "0B", "{row}");
    env.roost(0, &["rm", &c]);
    env.roost(0, &["rmi", id.trim()]);
    assert_no_leaks(&env);
}
