//! `run`: the container process's environment, user, workdir, entrypoint, hostname, /etc
//! files, read-only rootfs and namespaces.

use std::fs;

use super::{id_map_rows, run_bb, run_detached};
use crate::harness::{Cleanup, OutputExt, assert_no_leaks, bb, env_with_busybox, image, out};
use crate::store::{pull, subid_start};

// ---------------------------------------------------------------------------------------------
// Process semantics
// ---------------------------------------------------------------------------------------------

fn env_lines(text: &str) -> Vec<String> {
    text.lines().map(str::to_string).collect()
}

#[test]
fn run_environment() {
    let env = env_with_busybox("run_environment");

    // Defaults: image PATH, container=podman, HOSTNAME, HOME from passwd.
    let e = env_lines(&run_bb(&env, &["env"]));
    assert!(
        e.contains(&"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into()),
        "{e:?}"
    );
    assert!(e.contains(&"container=podman".into()), "{e:?}");
    assert!(e.contains(&"HOME=/root".into()), "{e:?}");
    assert!(e.iter().any(|l| l.starts_with("HOSTNAME=")), "{e:?}");
    assert!(
        !e.iter().any(|l| l.starts_with("LANG=")),
        "host env leaked: {e:?}"
    );

    // -e K=V, -e K (from roost's environment: LANG=C.UTF-8), -e K unset on the host → absent.
    let e = env_lines(&run_bb(
        &env,
        &[
            "-e",
            "FOO=bar baz",
            "-e",
            "LANG",
            "-e",
            "ROOST_NO_SUCH_VAR",
            "--",
            "env",
        ],
    ));
    assert!(e.contains(&"FOO=bar baz".into()), "{e:?}");
    assert!(e.contains(&"LANG=C.UTF-8".into()), "{e:?}");
    assert!(
        !e.iter().any(|l| l.starts_with("ROOST_NO_SUCH_VAR")),
        "-e of an unset variable must be dropped: {e:?}"
    );

    // Overriding the image's PATH.
    let e = env_lines(&run_bb(&env, &["-e", "PATH=/bin", "--", "/bin/env"]));
    assert!(e.contains(&"PATH=/bin".into()), "{e:?}");
    assert_eq!(
        e.iter().filter(|l| l.starts_with("PATH=")).count(),
        1,
        "{e:?}"
    );

    // --env-file: comments and blank lines skipped, values kept verbatim, -e wins over it.
    let file = env.home.join("vars.env");
    fs::write(&file, "# a comment\n\nA=1\nB=two words\nC=from-file\n").unwrap();
    let file = file.to_str().unwrap();
    let e = env_lines(&run_bb(
        &env,
        &["--env-file", file, "-e", "C=from-flag", "--", "env"],
    ));
    assert!(e.contains(&"A=1".into()), "{e:?}");
    assert!(e.contains(&"B=two words".into()), "{e:?}");
    assert!(e.contains(&"C=from-flag".into()), "{e:?}");
    assert!(!e.iter().any(|l| l.starts_with('#')), "{e:?}");

    // --unset-env removes an image variable.
    let e = env_lines(&run_bb(&env, &["--unset-env", "PATH", "--", "/bin/env"]));
    assert!(!e.iter().any(|l| l.starts_with("PATH=")), "{e:?}");

    // --env-host passes roost's environment.
    let e = env_lines(&run_bb(&env, &["--env-host", "--", "env"]));
    assert!(e.contains(&"LANG=C.UTF-8".into()), "{e:?}");
    assert_no_leaks(&env);
}

#[test]
fn run_user() {
    let env = env_with_busybox("run_user");
    assert_eq!(run_bb(&env, &["id", "-u"]), "0\n");
    assert_eq!(
        run_bb(
            &env,
            &["-u", "user", "--", "sh", "-c", "id -u; id -g; echo $HOME"]
        ),
        "1000\n1000\n/home/user\n"
    );
    assert_eq!(
        run_bb(
            &env,
            &[
                "-u",
                "1000:1000",
                "--",
                "sh",
                "-c",
                "id -u; id -g; echo $HOME"
            ]
        ),
        "1000\n1000\n/home/user\n"
    );
    assert_eq!(
        run_bb(&env, &["-u", "user:nogroup", "--", "id", "-g"]),
        "65534\n"
    );
    // A uid without a passwd entry runs with gid 0 and HOME=/.
    assert_eq!(
        run_bb(
            &env,
            &["-u", "4242", "--", "sh", "-c", "id -u; id -g; echo $HOME"]
        ),
        "4242\n0\n/\n"
    );

    let o = env.roost(125, &["run", "--rm", "-u", "nosuch", &bb(), "id"]);
    assert!(
        o.stderr_text().contains("unable to find user nosuch"),
        "{}",
        o.stderr_text()
    );
    let o = env.roost(125, &["run", "--rm", "-u", "1000:nosuch", &bb(), "id"]);
    assert!(
        o.stderr_text().contains("unable to find group nosuch"),
        "{}",
        o.stderr_text()
    );
    assert_eq!(out(&env, &["ps", "-a", "-q"]), "");
    assert_no_leaks(&env);
}

#[test]
fn run_workdir_and_entrypoint() {
    let env = env_with_busybox("run_workdir_and_entrypoint");
    assert_eq!(run_bb(&env, &["pwd"]), "/\n");
    assert_eq!(run_bb(&env, &["-w", "/tmp", "--", "pwd"]), "/tmp\n");
    // A missing workdir is created (podman does the same).
    assert_eq!(
        run_bb(
            &env,
            &[
                "-w",
                "/new/dir",
                "--",
                "sh",
                "-c",
                "pwd; test -d /new/dir && echo ok"
            ]
        ),
        "/new/dir\nok\n"
    );

    // --entrypoint STRING: the image's Cmd is dropped, the run's arguments follow it.
    assert_eq!(run_bb(&env, &["--entrypoint", "echo", "--", "hi"]), "hi\n");
    assert_eq!(run_bb(&env, &["--entrypoint", "echo", "--"]), "\n");
    // --entrypoint JSON array.
    assert_eq!(
        run_bb(&env, &["--entrypoint", r#"["sh","-c"]"#, "--", "echo $0"]),
        "sh\n"
    );
    assert_eq!(
        run_bb(&env, &["--entrypoint", r#"["echo","a b"]"#, "--", "c"]),
        "a b c\n"
    );
    assert_no_leaks(&env);
}

#[test]
fn run_hostname_and_etc_files() {
    let env = env_with_busybox("run_hostname_and_etc_files");
    let _c = Cleanup(&env);

    assert_eq!(
        run_bb(
            &env,
            &[
                "--hostname",
                "myhost",
                "--",
                "sh",
                "-c",
                "hostname; cat /etc/hostname; echo $HOSTNAME"
            ]
        ),
        "myhost\nmyhost\nmyhost\n"
    );
    let hosts = run_bb(&env, &["-h", "myhost", "--", "cat", "/etc/hosts"]);
    assert!(hosts.contains("localhost"), "{hosts}");
    assert!(
        hosts
            .lines()
            .any(|l| !l.starts_with('#') && l.split_whitespace().any(|w| w == "myhost")),
        "/etc/hosts lacks the hostname:\n{hosts}"
    );

    // Default hostname: the first 12 hex digits of the ID.
    let name = env.safename("h");
    let id = run_detached(
        &env,
        &[
            "--name",
            &name,
            &bb(),
            "sh",
            "-c",
            "hostname; cat /etc/hostname; echo $HOSTNAME; cat /etc/hosts; echo ---; cat /run/.containerenv",
        ],
    );
    assert_eq!(out(&env, &["wait", &name]).trim(), "0");
    let logs = out(&env, &["logs", &name]);
    let mut lines = logs.lines();
    let short = &id[..12];
    for what in ["hostname", "/etc/hostname", "$HOSTNAME"] {
        assert_eq!(lines.next(), Some(short), "{what}:\n{logs}");
    }
    let (hosts, containerenv) = logs.split_once("---\n").expect("marker in logs");
    let host_words: Vec<&str> = hosts
        .lines()
        .filter(|l| !l.starts_with('#'))
        .flat_map(str::split_whitespace)
        .collect();
    assert!(
        host_words.contains(&short),
        "/etc/hosts lacks the hostname:\n{hosts}"
    );
    assert!(
        host_words.contains(&name.as_str()),
        "/etc/hosts lacks the name:\n{hosts}"
    );
    assert!(
        containerenv.contains(&format!("name=\"{name}\"")),
        "/run/.containerenv:\n{containerenv}"
    );
    assert!(
        containerenv.contains(&format!("id=\"{id}\"")),
        "/run/.containerenv:\n{containerenv}"
    );
    assert!(containerenv.contains("rootless=1"), "{containerenv}");
    out(&env, &["rm", &name]);
    assert_no_leaks(&env);
}

#[test]
fn run_read_only_rootfs() {
    let env = env_with_busybox("run_read_only_rootfs");
    pull(&env, "layered");
    for img in [bb(), image("layered")] {
        env.roost(0, &["run", "--rm", "--read-only", &img, "true"]);
        let o = env.roost(1, &["run", "--rm", "--read-only", &img, "touch", "/x"]);
        assert!(
            o.stderr_text().contains("Read-only file system"),
            "{img}: {}",
            o.stderr_text()
        );
        // Without --read-only the same works.
        env.roost(0, &["run", "--rm", &img, "touch", "/x"]);
    }
    assert_eq!(out(&env, &["ps", "-a", "-q"]), "");
    assert_no_leaks(&env);
}

#[test]
fn run_namespaces() {
    let env = env_with_busybox("run_namespaces");

    // --network none: only loopback.
    let dev = run_bb(&env, &["--network", "none", "--", "cat", "/proc/net/dev"]);
    let ifaces: Vec<&str> = dev
        .lines()
        .skip(2)
        .filter_map(|l| l.split(':').next())
        .map(str::trim)
        .collect();
    assert_eq!(ifaces, ["lo"], "/proc/net/dev:\n{dev}");

    // Own pid namespace: the command is pid 1 and alone.
    let ps = run_bb(&env, &["ps"]);
    let procs: Vec<&str> = ps.lines().skip(1).collect();
    assert_eq!(procs.len(), 1, "one process expected:\n{ps}");
    let mut f = procs[0].split_whitespace();
    assert_eq!(f.next(), Some("1"), "{ps}");
    assert!(procs[0].ends_with("ps"), "{ps}");
    assert_eq!(run_bb(&env, &["sh", "-c", "echo $$"]), "1\n");

    // User namespace: root is the test user, 1.. is the subordinate range, same as `unshare`.
    let inside = run_bb(&env, &["cat", "/proc/self/uid_map"]);
    let rows = id_map_rows(&inside);
    let user = env.user();
    assert_eq!(rows[0], (0, user.uid, 1), "{inside}");
    if user.switch {
        assert_eq!(rows.len(), 2, "{inside}");
        assert_eq!(rows[1].0, 1, "{inside}");
        assert_eq!(rows[1].1, subid_start("/etc/subuid"), "{inside}");
    }
    let unshare = out(&env, &["unshare", "cat", "/proc/self/uid_map"]);
    assert_eq!(rows, id_map_rows(&unshare), "run vs unshare uid_map");
    let g_inside = run_bb(&env, &["cat", "/proc/self/gid_map"]);
    let g_unshare = out(&env, &["unshare", "cat", "/proc/self/gid_map"]);
    assert_eq!(id_map_rows(&g_inside), id_map_rows(&g_unshare));

    // Files created as root inside belong to the test user outside (upper dir).
    assert_no_leaks(&env);
}
