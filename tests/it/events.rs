//! `roost events`: the event log the engine writes (file backend by default), its filters, times,
//! formats and follow mode.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::time::Duration;

use crate::harness::{Env, OutputExt, env_with_busybox, image, wait_for};

fn log_path(env: &Env) -> PathBuf {
    env.runtime.join("roost/events/events.log")
}

/// `events --stream=false` with `args`, one line per event.
fn events(env: &Env, args: &[&str]) -> Vec<String> {
    let mut all = vec!["events", "--stream=false"];
    all.extend_from_slice(args);
    env.roost(0, &all).stdout_lines()
}

fn write_containers_conf(env: &Env, text: &str) {
    let path = env.config.join("containers/containers.conf");
    std::fs::write(&path, text).expect("write containers.conf");
    std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o644))
        .expect("chmod containers.conf");
}

#[test]
fn run_rm_records_podmans_lifecycle() {
    let env = env_with_busybox("run_rm_records_podmans_lifecycle");
    let name = env.safename("c");
    env.roost(
        3,
        &[
            "run",
            "--rm",
            "--name",
            &name,
            &image("busybox"),
            "sh",
            "-c",
            "exit 3",
        ],
    );
    let filter = format!("container={name}");
    let statuses = events(&env, &["--filter", &filter, "--format", "{{.Status}}"]);
    assert_eq!(
        statuses,
        [
            "create", "init", "start", "attach", "died", "cleanup", "remove"
        ]
    );
    // The default line, as podman prints it.
    let lines = events(&env, &["--filter", &filter, "--filter", "event=start"]);
    assert_eq!(lines.len(), 1, "{lines:?}");
    let line = &lines[0];
    assert!(
        line.contains(" +0000 UTC container start ") || line.contains(" container start "),
        "{line}"
    );
    assert!(
        line.ends_with(&format!("(image={}, name={name})", image("busybox"))),
        "{line}"
    );
    // died carries the exit code.
    let died = events(
        &env,
        &[
            "--filter",
            &filter,
            "--filter",
            "event=died",
            "--format",
            "json",
        ],
    );
    let v: serde_json::Value = serde_json::from_str(&died[0]).expect("JSON line");
    assert_eq!(v["ContainerExitCode"], 3, "{v}");
}

#[test]
fn json_lines_have_podmans_fields() {
    let env = env_with_busybox("json_lines_have_podmans_fields");
    let name = env.safename("c");
    env.roost(
        0,
        &[
            "create",
            "--name",
            &name,
            "--label",
            "app=web",
            &image("busybox"),
            "true",
        ],
    );
    env.roost(0, &["rm", &name]);
    let filter = format!("container={name}");
    let lines = events(&env, &["--filter", &filter, "--format", "json"]);
    assert_eq!(lines.len(), 2, "{lines:?}");
    for l in &lines {
        let v: serde_json::Value = serde_json::from_str(l).expect("each line is one JSON object");
        assert_eq!(v["Type"], "container");
        assert_eq!(v["Name"], name.as_str());
        assert_eq!(v["ID"].as_str().map(str::len), Some(64), "{v}");
        assert_eq!(v["Image"], image("busybox").as_str());
        assert_eq!(v["Attributes"]["app"], "web", "{v}");
        assert!(
            v["time"].as_i64().is_some() && v["timeNano"].as_i64().is_some(),
            "{v}"
        );
    }
    // Labels filter through the attributes; a template sees the same fields.
    let got = events(
        &env,
        &[
            "--filter",
            "label=app=web",
            "--format",
            "{{.Status}} {{.Name}}",
        ],
    );
    assert_eq!(got, [format!("create {name}"), format!("remove {name}")]);
    assert!(events(&env, &["--filter", "label=app=db"]).is_empty());
    // IDs are cut to 12 unless --no-trunc.
    let short = events(&env, &["--filter", &filter, "--filter", "event=create"]);
    let long = events(
        &env,
        &[
            "--filter",
            &filter,
            "--filter",
            "event=create",
            "--no-trunc",
        ],
    );
    assert!(long[0].len() == short[0].len() + 52, "{short:?} {long:?}");
}

#[test]
fn image_pull_and_tag_events() {
    let env = Env::new("image_pull_and_tag_events");
    env.roost(0, &["pull", "-q", &image("busybox")]);
    let tag = env.safename("t");
    env.roost(0, &["tag", &image("busybox"), &tag]);
    env.roost(
        0,
        &[
            "untag",
            &image("busybox"),
            &format!("localhost/{tag}:latest"),
        ],
    );
    let got = events(
        &env,
        &[
            "--filter",
            "type=image",
            "--format",
            "{{.Status}} {{.Name}}",
        ],
    );
    assert_eq!(
        got,
        [
            format!("pull {}", image("busybox")),
            format!("tag localhost/{tag}:latest"),
            format!("untag localhost/{tag}:latest"),
        ]
    );
    let lines = events(&env, &["--filter", "event=pull"]);
    assert!(
        lines[0].contains(" image pull ") && lines[0].ends_with(&format!(" {}", image("busybox"))),
        "{lines:?}"
    );
}

#[test]
fn volume_and_network_events_and_filters() {
    let env = Env::new("volume_and_network_events_and_filters");
    let (v1, v2, net) = (env.safename("v1"), env.safename("v2"), env.safename("n"));
    env.roost(0, &["volume", "create", &v1]);
    env.roost(0, &["volume", "create", &v2]);
    env.roost(0, &["volume", "rm", &v1]);
    env.roost(0, &["network", "create", &net]);
    env.roost(0, &["network", "rm", &net]);
    let lines = events(&env, &["--filter", &format!("volume={v1}")]);
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(
        lines[0].ends_with(&format!(" volume create {v1}")),
        "{lines:?}"
    );
    assert!(
        lines[1].ends_with(&format!(" volume remove {v1}")),
        "{lines:?}"
    );
    // One key's values are alternatives; different keys must all match.
    let fmt = ["--format", "{{.Status}} {{.Name}}"];
    let (f1, f2) = (format!("volume={v1}"), format!("volume={v2}"));
    let both = [&["--filter", &*f1, "--filter", &*f2][..], &fmt].concat();
    assert_eq!(events(&env, &both).len(), 3);
    let and = [
        &["--filter", "type=volume", "--filter", "event=create"][..],
        &fmt,
    ]
    .concat();
    assert_eq!(
        events(&env, &and),
        [format!("create {v1}"), format!("create {v2}")]
    );
    // podman's network lines (500-networking.bats matches them).
    let nets = events(&env, &["--filter", "type=network"]);
    assert_eq!(nets.len(), 2, "{nets:?}");
    for (line, status) in nets.iter().zip(["create", "remove"]) {
        let tail = line
            .split(&format!(" network {status} "))
            .nth(1)
            .unwrap_or_default();
        let (id, rest) = tail.split_once(' ').unwrap_or_default();
        assert!(
            id.len() == 64 && id.bytes().all(|b| b.is_ascii_hexdigit()),
            "{line}"
        );
        assert_eq!(rest, format!("(name={net}, type=bridge)"), "{line}");
    }
}

#[test]
fn since_and_until_and_bad_input() {
    let env = Env::new("since_and_until_and_bad_input");
    let v = env.safename("v");
    env.roost(0, &["volume", "create", &v]);
    assert_eq!(events(&env, &["--since", "1h"]).len(), 1);
    assert_eq!(events(&env, &["--since", "2099-01-01T00:00:00Z"]).len(), 0);
    assert_eq!(events(&env, &["--until", "1000000000"]).len(), 0);
    assert_eq!(events(&env, &["--until", "2099-01-01T00:00:00Z"]).len(), 1);
    for (args, want) in [
        (
            &["--since", "yesterday-ish"][..],
            "--since: invalid time `yesterday-ish`",
        ),
        (&["--until", "5 parsecs"][..], "--until: invalid time"),
        (
            &["--filter", "colour=blue"][..],
            "`colour` is an invalid filter",
        ),
        (
            &["--filter", "type=thing"][..],
            "unknown event type `thing`",
        ),
        (
            &["--filter", "event=exploded"][..],
            "unknown event status `exploded`",
        ),
        (&["--filter", "novalue"][..], "invalid filter `novalue`"),
    ] {
        let mut all = vec!["events", "--stream=false"];
        all.extend_from_slice(args);
        let err = env.roost(125, &all).stderr_text();
        assert!(err.contains(want), "{args:?}: {err}");
    }
}

#[test]
fn follow_mode_sees_new_events_and_ends_at_until() {
    let env = Env::new("follow_mode_sees_new_events_and_ends_at_until");
    let (first, second) = (env.safename("a"), env.safename("b"));
    env.roost(0, &["volume", "create", &first]);
    let until = jiff::Timestamp::now() + jiff::SignedDuration::from_secs(8);
    let until = until.to_string();
    let mut child = env.roost_spawn(&[
        "events",
        "--since",
        "10m",
        "--until",
        &until,
        "--filter",
        "type=volume",
        "--format",
        "{{.Name}}",
    ]);
    let mut lines = BufReader::new(child.stdout.take().expect("piped stdout")).lines();
    let next =
        |lines: &mut std::io::Lines<_>| lines.next().and_then(Result::ok).unwrap_or_default();
    // The logged event first: the reader is reading.
    assert_eq!(next(&mut lines), first);
    env.roost(0, &["volume", "create", &second]);
    assert_eq!(next(&mut lines), second);
    // Then nothing more, and it ends by itself once --until passes.
    assert!(lines.next().is_none(), "the stream ends at --until");
    let status = child.wait().expect("wait for events");
    assert!(status.success(), "{status:?}");
}

#[test]
fn follow_mode_ends_on_sigint() {
    let env = Env::new("follow_mode_ends_on_sigint");
    let mut child = env.roost_spawn(&["events"]);
    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
    // It is waiting for events once it watches the log directory.
    let dir = log_path(&env)
        .parent()
        .map(PathBuf::from)
        .unwrap_or_default();
    assert!(wait_for(Duration::from_secs(20), || dir.is_dir()));
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGINT).expect("SIGINT");
    let ended = wait_for(Duration::from_secs(20), || {
        child.try_wait().ok().flatten().is_some()
    });
    assert!(ended, "events did not end on SIGINT");
}

#[test]
fn concurrent_writers_do_not_interleave() {
    let env = Env::new("concurrent_writers_do_not_interleave");
    // A small log so that rotation races with the writers too.
    write_containers_conf(&env, "[engine]\nevents_logfile_max_size = 4000\n");
    let names: Vec<String> = (0..12).map(|i| env.safename(&format!("v{i}"))).collect();
    let children: Vec<_> = names
        .iter()
        .map(|n| env.roost_spawn(&["volume", "create", n]))
        .collect();
    for c in children {
        let out = c.wait_with_output().expect("volume create");
        assert!(out.status.success(), "{}", out.stderr_text());
    }
    let text = std::fs::read_to_string(log_path(&env)).expect("read the log");
    assert!(
        text.len() <= 4000,
        "the log was rotated: {} bytes",
        text.len()
    );
    for line in text.lines() {
        serde_json::from_str::<serde_json::Value>(line)
            .unwrap_or_else(|e| panic!("not one JSON event per line ({e}): {line:?}"));
    }
    // Without rotation, every write arrives whole.
    let env = Env::new("concurrent_writers_do_not_interleave_2");
    let children: Vec<_> = names
        .iter()
        .map(|n| env.roost_spawn(&["volume", "create", n]))
        .collect();
    for c in children {
        assert!(
            c.wait_with_output()
                .expect("volume create")
                .status
                .success()
        );
    }
    let mut got = events(&env, &["--format", "{{.Name}}"]);
    got.sort();
    let mut want = names.clone();
    want.sort();
    assert_eq!(got, want);
}

#[test]
fn events_logger_none_writes_nothing() {
    let env = Env::new("events_logger_none_writes_nothing");
    write_containers_conf(&env, "[engine]\nevents_logger = \"none\"\n");
    env.roost(0, &["pull", "-q", &image("busybox")]);
    env.roost(0, &["volume", "create", &env.safename("v")]);
    env.roost(0, &["run", "--rm", &image("busybox"), "true"]);
    assert!(!log_path(&env).exists(), "no log with events_logger=none");
    let err = env.roost(125, &["events", "--stream=false"]).stderr_text();
    assert!(err.contains("events are disabled"), "{err}");
    // --events-backend overrides the file (and reaches a detached container's monitor).
    env.roost(
        0,
        &[
            "--events-backend",
            "file",
            "volume",
            "create",
            &env.safename("w"),
        ],
    );
    assert_eq!(
        events(
            &env,
            &["--events-backend", "file", "--format", "{{.Status}}"]
        ),
        ["create"]
    );
    let bad = env.roost(
        125,
        &["--events-backend", "none", "events", "--stream=false"],
    );
    assert!(bad.stderr_text().contains("Hint:"), "{}", bad.stderr_text());
    write_containers_conf(&env, "[engine]\nevents_logger = \"loud\"\n");
    let err = env.roost(125, &["volume", "ls"]).stderr_text();
    assert!(
        err.contains("events_logger `\"loud\"` is not valid"),
        "{err}"
    );
}

#[test]
fn detached_container_exec_and_stop_events() {
    let env = env_with_busybox("detached_container_exec_and_stop_events");
    let name = env.safename("d");
    env.roost(
        0,
        &[
            "run",
            "-d",
            "--name",
            &name,
            &image("busybox"),
            "sleep",
            "100",
        ],
    );
    env.roost(4, &["exec", &name, "sh", "-c", "exit 4"]);
    env.roost(0, &["stop", "-t", "0", &name]);
    env.roost(0, &["rm", &name]);
    let filter = format!("container={name}");
    let statuses = events(&env, &["--filter", &filter, "--format", "{{.Status}}"]);
    assert_eq!(
        statuses,
        [
            "create",
            "init",
            "start",
            "exec",
            "exec_died",
            "died",
            "cleanup",
            "stop",
            "remove"
        ]
    );
    // exec_died is written after exec joined the container's root: through the log opened before.
    let died = events(
        &env,
        &[
            "--filter",
            &filter,
            "--filter",
            "event=exec_died",
            "--format",
            "json",
        ],
    );
    let v: serde_json::Value = serde_json::from_str(&died[0]).expect("JSON line");
    assert_eq!(v["ContainerExitCode"], 4, "{v}");
    assert_eq!(
        v["Attributes"]["execID"].as_str().map(str::len),
        Some(64),
        "{v}"
    );
}

/// podman's template fields `.Time` (Go's time string, as the default line shows it) and
/// `.TimeNano`, which are not keys of the JSON event.
#[test]
fn templates_see_time_and_time_nano() {
    let env = Env::new("templates_see_time_and_time_nano");
    let v = env.safename("v");
    env.roost(0, &["volume", "create", &v]);
    let filter = format!("volume={v}");
    let default = events(&env, &["--filter", &filter]);
    let templated = events(
        &env,
        &[
            "--filter",
            &filter,
            "--format",
            "{{.Time}}|{{.TimeNano}}|{{.Status}}",
        ],
    );
    assert_eq!(templated.len(), 1, "{templated:?}");
    let parts: Vec<&str> = templated[0].split('|').collect();
    assert!(
        default[0].starts_with(parts[0]),
        "{default:?} {templated:?}"
    );
    assert!(
        parts[0].ends_with(" UTC") || parts[0].contains(" +"),
        "{parts:?}"
    );
    let nanos: i64 = parts[1].parse().expect("TimeNano is a number");
    let json = events(&env, &["--filter", &filter, "--format", "json"]);
    let event: serde_json::Value = serde_json::from_str(&json[0]).unwrap();
    assert_eq!(event["timeNano"].as_i64(), Some(nanos));
    assert_eq!(parts[2], "create");
}
