//! podman's command-line conventions, as its own system tests (tests/conformance.sh) exercise them:
//! global flags, usage errors, `rm`'s words and exit codes, `ps` filters and sorting, CID files,
//! inspect of a missing object, Go field names in templates.

use crate::harness::{Env, OutputExt, assert_no_leaks, image};
use crate::store::pull;

#[test]
fn global_flags_missing_and_unknown_commands() {
    let env = Env::new("global_flags_missing_and_unknown_commands");
    // No command: the help, then podman's error.
    let o = env.roost(125, &[]);
    assert!(o.stdout_text().contains("Usage:"), "{}", o.stdout_text());
    assert!(
        o.stderr_text()
            .starts_with("Error: missing command 'roost COMMAND'"),
        "{}",
        o.stderr_text()
    );
    let o = env.roost(125, &["--root", "/nonexistent", "volume"]);
    assert!(
        o.stderr_text()
            .starts_with("Error: missing command 'roost volume COMMAND'"),
        "{}",
        o.stderr_text()
    );
    let o = env.roost(125, &["volume", "nosuchcommand"]);
    assert!(
        o.stderr_text()
            .starts_with("Error: unrecognized command `roost volume nosuchcommand`"),
        "{}",
        o.stderr_text()
    );
    // --out: roost's output goes to the file; --noout: nowhere.
    let file = env.home.join("version.json");
    let f = file.to_str().expect("utf-8 path");
    let o = env.roost(0, &["--out", f, "version", "--format", "json"]);
    assert_eq!(o.stdout_text(), "");
    let written = std::fs::read_to_string(&file).expect("--out file");
    assert!(written.contains("\"Version\""), "{written}");
    assert_eq!(env.roost(0, &["--noout", "volume", "ls"]).stdout_text(), "");
    // Repeated single-value options: the last one wins, as with cobra.
    let o = env.roost(0, &["version", "--format", "x", "--format", "json"]);
    assert!(o.stdout_text().starts_with('{'), "{}", o.stdout_text());
    // What roost cannot do is refused with a reason, not taken for a typo.
    let o = env.roost(125, &["--remote", "ps"]);
    assert!(
        o.stderr_text()
            .contains("remote connections are not supported")
    );
    let o = env.roost(125, &["--url", "unix:///x.sock", "ps"]);
    assert!(
        o.stderr_text()
            .contains("remote connections are not supported")
    );
    let o = env.roost(125, &["--runtime", "crun", "ps"]);
    assert!(o.stderr_text().contains("OCI runtime `crun` not found"));
    env.roost(
        0,
        &[
            "--events-backend",
            "file",
            "--cgroup-manager",
            "cgroupfs",
            "ps",
        ],
    );
    env.roost(0, &["--context", "default", "-D", "ps"]);
}

#[test]
fn rm_as_podman_prints_and_exits() {
    let env = Env::new("rm_as_podman_prints_and_exits");
    pull(&env, "busybox");
    let bb = image("busybox");
    let (run, made) = (env.safename("run"), env.safename("made"));
    let id = env
        .roost(0, &["run", "-d", "--name", &run, &bb, "sleep", "300"])
        .stdout_text()
        .trim()
        .to_string();
    env.roost(0, &["create", "--name", &made, &bb, "true"]);
    // Running, without -f: 2 and podman's words.
    let o = env.roost(2, &["rm", &run]);
    assert_eq!(
        o.stderr_text().lines().next(),
        Some(format!(
            "Error: cannot remove container {id} as it is running - running or paused containers cannot be removed without force: container state improper"
        ).as_str())
    );
    // Missing: 1; with -f, not an error and nothing printed; the others named are removed and
    // printed as given.
    let o = env.roost(1, &["rm", "nosuch-x"]);
    assert!(
        o.stderr_text().starts_with(
            "Error: no container with ID or name \"nosuch-x\" found: no such container"
        ),
        "{}",
        o.stderr_text()
    );
    let o = env.roost(0, &["rm", "-f", "-t", "0", "nosuch-x", &made, &run]);
    assert_eq!(o.stdout_lines(), [made.clone(), run.clone()]);
    assert_eq!(o.stderr_text(), "");
    assert_no_leaks(&env);
}

#[test]
fn ps_filters_sort_and_fields() {
    let env = Env::new("ps_filters_sort_and_fields");
    pull(&env, "busybox");
    let bb = image("busybox");
    let (a, b, c) = (env.safename("a"), env.safename("b"), env.safename("c"));
    for (n, code) in [(&a, 0), (&b, 1), (&c, 0)] {
        env.roost(
            code,
            &[
                "run",
                "--network",
                "none",
                "--label",
                "k=v",
                "--name",
                n,
                &bb,
                "sh",
                "-c",
                &format!("exit {code}"),
            ],
        );
    }
    let names = |args: &[&str]| {
        let mut all = vec!["ps", "--format", "{{.Names}}"];
        all.extend_from_slice(args);
        env.roost(0, &all).stdout_lines()
    };
    // A status filter chooses the states itself (no -a needed); the same key twice: either value.
    assert_eq!(
        names(&["--filter", "status=stopped", "--sort", "names"]),
        [a.clone(), b.clone(), c.clone()]
    );
    assert_eq!(
        names(&["-a", "--filter", "exited=1"]),
        std::slice::from_ref(&b)
    );
    assert_eq!(
        names(&[
            "-a",
            "--filter",
            &format!("name={a}"),
            "--filter",
            &format!("name={b}"),
            "--sort",
            "created"
        ]),
        [a.clone(), b.clone()]
    );
    // Different keys: all must match.
    assert_eq!(
        names(&[
            "-a",
            "--filter",
            &format!("name={a}"),
            "--filter",
            "exited=1"
        ]),
        Vec::<String>::new()
    );
    // id: a prefix in either case, or a regular expression.
    let id = env
        .roost(0, &["inspect", "--format", "{{.ID}}", &c])
        .stdout_text()
        .trim()
        .to_string();
    assert_eq!(
        names(&["-a", "--filter", &format!("id={}", id[..6].to_uppercase())]),
        std::slice::from_ref(&c)
    );
    assert_eq!(
        names(&["-a", "--filter", &format!("id=^{}", &id[..6])]),
        std::slice::from_ref(&c)
    );
    assert_eq!(names(&["-a", "--filter", "until=1h"]), Vec::<String>::new());
    assert_eq!(
        names(&["-a", "--filter", &format!("since={a}"), "--sort", "names"]),
        [b.clone(), c.clone()]
    );
    // Labels read as podman's `k=v` text.
    let o = env.roost(
        0,
        &[
            "ps",
            "-a",
            "--filter",
            &format!("name={a}"),
            "--format",
            "{{.Labels}}",
        ],
    );
    assert_eq!(o.stdout_text(), "k=v\n");
    let o = env.roost(125, &["ps", "--filter", "bogus=1"]);
    assert!(
        o.stderr_text().contains("invalid filter `bogus=1`"),
        "{}",
        o.stderr_text()
    );
    env.roost(0, &["rm", "-a"]);
    assert_no_leaks(&env);
}

#[test]
fn cidfiles_and_missing_objects() {
    let env = Env::new("cidfiles_and_missing_objects");
    pull(&env, "busybox");
    let bb = image("busybox");
    let cidfile = env.home.join("cid");
    let f = cidfile.to_str().expect("utf-8 path");
    let id = env
        .roost(
            0,
            &[
                "run",
                "-d",
                "--network",
                "none",
                "--cidfile",
                f,
                &bb,
                "sleep",
                "300",
            ],
        )
        .stdout_text()
        .trim()
        .to_string();
    assert_eq!(std::fs::read_to_string(&cidfile).expect("cidfile"), id);
    // A CID file that exists is not overwritten.
    let o = env.roost(125, &["create", "--cidfile", f, &bb, "true"]);
    assert!(
        o.stderr_text().contains("container id file exists"),
        "{}",
        o.stderr_text()
    );
    env.roost(0, &["stop", "-t", "0", "--cidfile", f]);
    let missing = env.home.join("no-such-file");
    let m = missing.to_str().expect("utf-8 path");
    let o = env.roost(125, &["stop", "--cidfile", m]);
    assert_eq!(
        o.stderr_text().lines().next(),
        Some(format!("Error: reading CIDFile: open {m}: no such file or directory").as_str())
    );
    assert_eq!(
        env.roost(0, &["stop", "--cidfile", m, "--ignore"])
            .stdout_text(),
        ""
    );
    env.roost(0, &["rm", "--cidfile", f]);
    // inspect without --type: what exists, then what does not.
    let o = env.roost(125, &["inspect", "nosuch-object"]);
    assert_eq!(o.stdout_text(), "[]\n");
    assert!(
        o.stderr_text()
            .starts_with("Error: no such object: \"nosuch-object\"")
    );
    // Go field names of podman's structs reach the JSON's `Id`.
    let o = env.roost(0, &["image", "inspect", "--format", "{{.ID}}={{.Id}}", &bb]);
    let (go, json) = o
        .stdout_text()
        .trim()
        .split_once('=')
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .expect("two ids");
    assert_eq!(go, json);
    assert_no_leaks(&env);
}
