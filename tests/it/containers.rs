//! The container side: `run` (exit codes, process semantics, namespaces), `create`/`start`,
//! `ps`, `rm`, `logs`, `stop`/`kill`/`restart`, restart policies, `--rm` cleanup, concurrency and a
//! killed monitor. Expectations follow podman (test/system/030-run.bats, 035-logs.bats,
//! 050-stop.bats, 055-rm.bats) where roost claims compatibility.

use std::fs;
use std::io::Read;
use std::process::{Child, Output};
use std::thread;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill, killpg};
use nix::unistd::Pid;

use crate::harness::{
    Cleanup, Env, OutputExt, assert_no_leaks, bb, env_with_busybox, image, out, pids_with_cmdline,
    wait_for,
};
use crate::store::{entries, pull, store_root, subid_start};

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// `run --rm busybox ARGS...` expected to exit 0; its stdout.
fn run_bb(env: &Env, args: &[&str]) -> String {
    let img = bb();
    let mut full = vec!["run", "--rm"];
    let split = args.iter().position(|a| *a == "--").unwrap_or(0);
    // Options before `--` go before the image, the command after it.
    let (opts, cmd) = if split > 0 {
        (&args[..split], &args[split + 1..])
    } else {
        (&args[..0], args)
    };
    full.extend_from_slice(opts);
    full.push(&img);
    full.extend_from_slice(cmd);
    out(env, &full)
}

/// `run -d ARGS` (ARGS include the image); returns the printed full container ID.
fn run_detached(env: &Env, args: &[&str]) -> String {
    let mut full = vec!["run", "-d"];
    full.extend_from_slice(args);
    let id = out(env, &full).trim().to_string();
    assert_container_id(&id);
    id
}

fn assert_container_id(id: &str) {
    assert!(
        id.len() == 64
            && id
                .bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()),
        "not a full 64-hex container ID: {id:?}"
    );
}

/// `{{TEMPLATE}}` of the container named NAME in `ps -a` (empty when it is not listed). Picks
/// the row in Rust rather than with `--filter name=` (a regex in podman, see
/// `ps_name_filter_is_a_regex`).
fn ps_field(env: &Env, name: &str, template: &str) -> String {
    let format = format!("{{{{.Names}}}}\t{template}");
    out(env, &["ps", "-a", "--format", &format])
        .lines()
        .find_map(|l| {
            l.split_once('\t')
                .filter(|(n, _)| *n == name)
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_default()
}

/// `$XDG_DATA_HOME/roost/containers` entries.
fn container_dirs(env: &Env) -> Vec<String> {
    entries(&store_root(env).join("containers"))
}

/// `$XDG_RUNTIME_DIR/roost/containers` entries.
fn runtime_container_dirs(env: &Env) -> Vec<String> {
    entries(&env.runtime.join("roost/containers"))
}

/// Lines of any process's mount table (every process, not just the test user's) that mention
/// the env's tree.
fn mounts_mentioning(env: &Env) -> Vec<String> {
    let needle = env.root.to_string_lossy().into_owned();
    let mut found = Vec::new();
    let Ok(procs) = fs::read_dir("/proc") else {
        return found;
    };
    for p in procs.flatten() {
        if !p
            .file_name()
            .to_string_lossy()
            .bytes()
            .all(|b| b.is_ascii_digit())
        {
            continue;
        }
        let Ok(text) = fs::read_to_string(p.path().join("mountinfo")) else {
            continue;
        };
        for l in text.lines().filter(|l| l.contains(&needle)) {
            found.push(format!("{}: {l}", p.path().display()));
        }
    }
    found
}

/// Waits for a `roost_spawn`ed child until `deadline` (then kills its process group) and
/// collects its output.
fn finish(mut child: Child, deadline: Instant) -> Output {
    drop(child.stdin.take());
    let mut so = child.stdout.take().expect("stdout is piped");
    let mut se = child.stderr.take().expect("stderr is piped");
    let to = thread::spawn(move || {
        let mut b = Vec::new();
        let _ = so.read_to_end(&mut b);
        b
    });
    let te = thread::spawn(move || {
        let mut b = Vec::new();
        let _ = se.read_to_end(&mut b);
        b
    });
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait for roost") {
            break s;
        }
        if Instant::now() >= deadline {
            let _ = killpg(Pid::from_raw(child.id() as i32), Signal::SIGKILL);
            let s = child.wait().expect("wait for killed roost");
            panic!(
                "spawned roost (pid {}) did not finish in time; killed ({s})",
                child.id()
            );
        }
        thread::sleep(Duration::from_millis(20));
    };
    Output {
        status,
        stdout: to.join().unwrap(),
        stderr: te.join().unwrap(),
    }
}

/// Busybox/podman `/proc/self/{u,g}id_map` rows as (inside, outside, count).
fn id_map_rows(text: &str) -> Vec<(u32, u32, u32)> {
    text.lines()
        .map(|l| {
            let f: Vec<u32> = l
                .split_whitespace()
                .map(|n| {
                    n.parse()
                        .unwrap_or_else(|e| panic!("bad map row {l:?}: {e}"))
                })
                .collect();
            assert_eq!(f.len(), 3, "bad map row {l:?}");
            (f[0], f[1], f[2])
        })
        .collect()
}

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
// 1. Exit codes
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

// ---------------------------------------------------------------------------------------------
// 2. Process semantics
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

// ---------------------------------------------------------------------------------------------
// 3. Lifecycle: create/start/wait, ps, rm
// ---------------------------------------------------------------------------------------------

#[test]
fn create_start_wait() {
    let env = env_with_busybox("create_start_wait");
    let _c = Cleanup(&env);
    let a = env.safename("a");
    let id = out(
        &env,
        &["create", "--name", &a, &bb(), "echo", "created-out"],
    )
    .trim()
    .to_string();
    assert_container_id(&id);
    assert_eq!(ps_field(&env, &a, "{{.Status}}"), "Created");
    assert_eq!(ps_field(&env, &a, "{{.State}}"), "created");
    assert_eq!(
        out(&env, &["ps", "-q"]),
        "",
        "a created container is not running"
    );
    assert_eq!(out(&env, &["start", "-a", &a]), "created-out\n");
    assert!(
        ps_field(&env, &a, "{{.Status}}").starts_with("Exited (0)"),
        "{}",
        ps_field(&env, &a, "{{.Status}}")
    );

    let b = env.safename("b");
    let idb = out(
        &env,
        &[
            "create",
            "--name",
            &b,
            &bb(),
            "sh",
            "-c",
            "sleep 0.2; exit 5",
        ],
    )
    .trim()
    .to_string();
    // Detached start prints the name or ID as given.
    assert_eq!(out(&env, &["start", &b]), format!("{b}\n"));
    assert_eq!(out(&env, &["wait", &idb]), "5\n");
    assert!(ps_field(&env, &b, "{{.Status}}").starts_with("Exited (5)"));
    assert_eq!(ps_field(&env, &b, "{{.ExitCode}}"), "5");
    // A stopped container can be started again.
    out(&env, &["start", &idb[..12]]);
    assert_eq!(out(&env, &["wait", &b]), "5\n");

    // podman prints each container as it was named.
    let o = env.roost(0, &["rm", &a, &b]);
    assert_eq!(o.stdout_lines(), [a.clone(), b.clone()]);
    assert_eq!(container_dirs(&env), Vec::<String>::new());
    assert_no_leaks(&env);
}

#[test]
fn ps_listing_filters_and_formats() {
    let env = env_with_busybox("ps_listing_filters_and_formats");
    let _c = Cleanup(&env);
    let img = bb();
    let up = env.safename("up");
    let done = env.safename("done");
    let created = env.safename("created");
    let up_id = run_detached(
        &env,
        &["--name", &up, "-l", "tier=web", &img, "sleep", "300"],
    );
    let done_id = run_detached(&env, &["--name", &done, &img, "sh", "-c", "exit 4"]);
    assert_eq!(out(&env, &["wait", &done]), "4\n");
    let created_id = out(&env, &["create", "--name", &created, &img, "true"])
        .trim()
        .to_string();

    // Default: running only; -a: everything, newest first.
    let running = out(&env, &["ps", "-q", "--no-trunc"]);
    assert_eq!(running, format!("{up_id}\n"));
    let all = env
        .roost(0, &["ps", "-a", "-q", "--no-trunc"])
        .stdout_lines();
    assert_eq!(all, [created_id.as_str(), done_id.as_str(), up_id.as_str()]);
    let short = env.roost(0, &["ps", "-a", "-q"]).stdout_lines();
    assert_eq!(short, [&created_id[..12], &done_id[..12], &up_id[..12]]);

    // Table.
    let table = env.roost(0, &["ps", "-a"]).stdout_lines();
    let head: Vec<&str> = table[0]
        .split("  ")
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    assert_eq!(
        head,
        [
            "CONTAINER ID",
            "IMAGE",
            "COMMAND",
            "CREATED",
            "STATUS",
            "PORTS",
            "NAMES"
        ]
    );
    assert_eq!(table.len(), 4, "{table:?}");
    let up_row = table
        .iter()
        .find(|l| l.ends_with(&up))
        .expect("row of the running one");
    assert!(up_row.starts_with(&up_id[..12]), "{up_row}");
    assert!(up_row.contains(&img), "{up_row}");
    assert!(up_row.contains("sleep 300"), "{up_row}");
    assert!(up_row.contains("Up "), "{up_row}");
    let noheading = env.roost(0, &["ps", "-a", "--noheading"]).stdout_lines();
    assert_eq!(noheading.len(), 3, "{noheading:?}");

    // Statuses through a template.
    let lines = env
        .roost(0, &["ps", "-a", "--format", "{{.Names}} {{.Status}}"])
        .stdout_lines();
    assert_eq!(lines.len(), 3, "{lines:?}");
    assert!(lines[0] == format!("{created} Created"), "{lines:?}");
    assert!(
        lines[1].starts_with(&format!("{done} Exited (4) ")),
        "{lines:?}"
    );
    assert!(lines[1].ends_with(" ago"), "{lines:?}");
    assert!(lines[2].starts_with(&format!("{up} Up ")), "{lines:?}");

    // Filters.
    let names = |filter: &str| -> Vec<String> {
        env.roost(
            0,
            &["ps", "-a", "--filter", filter, "--format", "{{.Names}}"],
        )
        .stdout_lines()
    };
    assert_eq!(names(&format!("name={up}")), [up.as_str()]);
    assert_eq!(names(&format!("id={}", &done_id[..8])), [done.as_str()]);
    assert_eq!(names("status=running"), [up.as_str()]);
    assert_eq!(names("status=exited"), [done.as_str()]);
    assert_eq!(names("status=created"), [created.as_str()]);
    assert_eq!(names("exited=4"), [done.as_str()]);
    assert_eq!(names("label=tier=web"), [up.as_str()]);
    assert_eq!(names("label=tier"), [up.as_str()]);
    assert_eq!(names(&format!("ancestor={img}")).len(), 3);
    assert_eq!(names("name=no-such-container-name"), Vec::<String>::new());
    // -l: the latest created, whatever its state; -n N: the N latest.
    assert_eq!(
        env.roost(0, &["ps", "-l", "--format", "{{.Names}}"])
            .stdout_lines(),
        [created.as_str()]
    );
    assert_eq!(
        env.roost(0, &["ps", "-a", "-n", "2", "--format", "{{.Names}}"])
            .stdout_lines(),
        [created.as_str(), done.as_str()]
    );

    // JSON.
    let o = env.roost(0, &["ps", "-a", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("ps --format json is not JSON ({e}):\n{}", o.stdout_text()));
    let arr = v.as_array().expect("a JSON array");
    assert_eq!(arr.len(), 3, "{v:#}");
    // podman's `ListContainer` shape (what podman-compose, distrobox and scripts parse).
    let by_name = |n: &str| -> &serde_json::Value {
        arr.iter()
            .find(|c| {
                c["Names"]
                    .as_array()
                    .is_some_and(|a| a.iter().any(|x| x == n))
            })
            .unwrap_or_else(|| panic!("{n} not in {v:#}"))
    };
    for c in arr {
        for field in [
            "AutoRemove",
            "Command",
            "CreatedAt",
            "Created",
            "Exited",
            "ExitedAt",
            "ExitCode",
            "Id",
            "Image",
            "ImageID",
            "IsInfra",
            "Labels",
            "Mounts",
            "Names",
            "Namespaces",
            "Networks",
            "Pid",
            "Pod",
            "PodName",
            "Ports",
            "Size",
            "StartedAt",
            "State",
            "Status",
        ] {
            assert!(c.get(field).is_some(), "field {field} missing: {c:#}");
        }
        assert!(c.get("ID").is_none(), "template-only field in JSON: {c:#}");
        assert!(c["Command"].is_array(), "{c:#}");
        assert!(c["Created"].is_i64(), "{c:#}");
        assert!(c["CreatedAt"].as_str().unwrap().ends_with(" ago"), "{c:#}");
        assert_eq!(c["IsInfra"], false);
        assert_eq!(c["Pod"], "");
        assert_eq!(c["Size"], serde_json::Value::Null);
        assert!(
            c["Namespaces"].is_object() && c["Networks"].is_array(),
            "{c:#}"
        );
    }
    let u = by_name(&up);
    assert_eq!(u["Id"], up_id.as_str());
    assert_eq!(u["Command"], serde_json::json!(["sleep", "300"]));
    assert_eq!(u["Exited"], false);
    assert!(
        u["StartedAt"].as_i64().unwrap() >= u["Created"].as_i64().unwrap(),
        "{u:#}"
    );
    assert_eq!(u["Image"], img.as_str());
    assert_eq!(u["State"], "running");
    assert_eq!(u["Labels"]["tier"], "web");
    assert!(u["Pid"].as_i64().unwrap() > 0, "{u:#}");
    assert!(u["Status"].as_str().unwrap().starts_with("Up "), "{u:#}");
    let d = by_name(&done);
    assert_eq!(d["State"], "exited");
    assert_eq!(d["ExitCode"], 4);
    assert_eq!(d["Exited"], true);
    assert!(d["ExitedAt"].as_i64().unwrap() > 0, "{d:#}");
    assert!(
        d["Status"].as_str().unwrap().starts_with("Exited (4) "),
        "{d:#}"
    );
    assert_eq!(d["Pid"], 0);
    assert_eq!(by_name(&created)["State"], "created");

    out(&env, &["rm", "-f", &up, &done, &created]);
    assert_no_leaks(&env);
}

/// `ps --size`: a SIZE column `12B (virtual 2.13MB)`, `.Size` in templates, `Size` in JSON.
#[test]
fn ps_size_counts_the_writable_layer() {
    let env = env_with_busybox("ps_size_counts_the_writable_layer");
    let _c = Cleanup(&env);
    let n = env.safename("s");
    out(
        &env,
        &[
            "run",
            "--name",
            &n,
            &bb(),
            "sh",
            "-c",
            "echo 0123456789 > /ten",
        ],
    );
    let table = env.roost(0, &["ps", "-a", "--size"]).stdout_lines();
    assert!(table[0].ends_with("SIZE"), "{table:?}");
    assert!(table[1].contains("  11B (virtual "), "{table:?}");
    let s = out(&env, &["ps", "-a", "-s", "--format", "{{.Size}}"]);
    assert!(s.starts_with("11B (virtual "), "{s}");
    let o = env.roost(0, &["ps", "-a", "-s", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("JSON");
    assert_eq!(v[0]["Size"]["rwSize"], 11, "{v:#}");
    assert!(
        v[0]["Size"]["rootFsSize"].as_u64().unwrap() > 1_000_000,
        "{v:#}"
    );
    out(&env, &["rm", &n]);
    assert_no_leaks(&env);
}

/// podman's `--filter name=` is an (unanchored) regular expression.
#[test]
fn ps_name_filter_is_a_regex() {
    let env = env_with_busybox("ps_name_filter_is_a_regex");
    let _c = Cleanup(&env);
    let a = env.safename("x1");
    let b = env.safename("x12");
    for n in [&a, &b] {
        out(&env, &["create", "--name", n, &bb(), "true"]);
    }
    let names = |filter: &str| -> Vec<String> {
        let mut v = env
            .roost(
                0,
                &["ps", "-a", "--filter", filter, "--format", "{{.Names}}"],
            )
            .stdout_lines();
        v.sort();
        v
    };
    // Unanchored: a substring matches both.
    assert_eq!(names(&format!("name={a}")), [a.as_str(), b.as_str()]);
    // Anchors select exactly one.
    assert_eq!(names(&format!("name=^{a}$")), [a.as_str()]);
    assert_eq!(names(&format!("name={a}$")), [a.as_str()]);
    // Regex metacharacters.
    assert_eq!(names("name=x1[0-9]$"), [b.as_str()]);
    assert_eq!(names("name=-x1.?$"), [a.as_str(), b.as_str()]);
    out(&env, &["rm", &a, &b]);
    assert_no_leaks(&env);
}

#[test]
fn name_conflicts_and_rm() {
    let env = env_with_busybox("name_conflicts_and_rm");
    let _c = Cleanup(&env);
    let img = bb();
    let n = env.safename("n");
    let id = run_detached(&env, &["--name", &n, &img, "sleep", "300"]);

    for cmd in ["create", "run"] {
        let o = env.roost(125, &[cmd, "--name", &n, &img, "true"]);
        assert!(
            o.stderr_text().contains("already in use"),
            "{cmd}: {}",
            o.stderr_text()
        );
    }
    assert_eq!(env.roost(0, &["ps", "-a", "-q"]).stdout_lines().len(), 1);

    // Running without -f: 2, still there.
    let o = env.roost(2, &["rm", &n]);
    assert!(o.stderr_text().contains("running"), "{}", o.stderr_text());
    assert_eq!(ps_field(&env, &n, "{{.State}}"), "running");
    // Unknown: 1.
    let o = env.roost(1, &["rm", "no-such-container"]);
    assert!(
        o.stderr_text()
            .contains("no container with ID or name \"no-such-container\" found"),
        "{}",
        o.stderr_text()
    );
    // -f: gone, printed as it was named.
    assert_eq!(out(&env, &["rm", "-f", &n]), format!("{n}\n"));
    assert_eq!(out(&env, &["ps", "-a", "-q"]), "");
    // -i: unknown ignored.
    env.roost(0, &["rm", "-i", "no-such-container"]);
    // The name is free again.
    let id2 = out(&env, &["create", "--name", &n, &img, "true"])
        .trim()
        .to_string();
    assert_ne!(id, id2);

    // rm -a removes the stopped ones; -a -f the running too.
    run_detached(&env, &[&img, "true"]);
    let running = run_detached(&env, &[&img, "sleep", "300"]);
    assert!(wait_for(Duration::from_secs(10), || {
        env.roost(0, &["ps", "-a", "--filter", "status=exited", "-q"])
            .stdout_lines()
            .len()
            == 1
    }));
    env.roost(2, &["rm", "-a"]);
    assert_eq!(
        env.roost(0, &["ps", "-a", "-q", "--no-trunc"])
            .stdout_lines(),
        [running.as_str()],
        "rm -a must remove every stopped container even when one is running"
    );
    out(&env, &["rm", "-a", "-f"]);
    assert_eq!(out(&env, &["ps", "-a", "-q"]), "");
    assert_eq!(container_dirs(&env), Vec::<String>::new());
    assert_eq!(runtime_container_dirs(&env), Vec::<String>::new());
    assert_no_leaks(&env);
}

// ---------------------------------------------------------------------------------------------
// 4. Detached containers and logs
// ---------------------------------------------------------------------------------------------

#[test]
fn detached_logs() {
    let env = env_with_busybox("detached_logs");
    let _c = Cleanup(&env);
    let n = env.safename("l");
    run_detached(
        &env,
        &[
            "--name",
            &n,
            &bb(),
            "sh",
            "-c",
            "echo out; echo err >&2; sleep 0.3; echo done",
        ],
    );
    assert_eq!(out(&env, &["wait", &n]), "0\n");

    let o = env.roost(0, &["logs", &n]);
    assert_eq!(o.stdout_text(), "out\ndone\n");
    assert_eq!(o.stderr_text(), "err\n");
    let o = env.roost(0, &["logs", "--tail", "1", &n]);
    assert_eq!(o.stdout_text(), "done\n");
    assert_eq!(o.stderr_text(), "");

    let o = env.roost(0, &["logs", "-t", &n]);
    let mut stamps = Vec::new();
    for l in o.stdout_lines().iter().chain(
        o.stderr_text()
            .lines()
            .map(str::to_string)
            .collect::<Vec<_>>()
            .iter(),
    ) {
        let (ts, rest) = l
            .split_once(' ')
            .unwrap_or_else(|| panic!("no timestamp: {l:?}"));
        let t: jiff::Timestamp = ts
            .parse()
            .unwrap_or_else(|e| panic!("{ts:?} is not RFC 3339 ({e}): {l:?}"));
        assert!(["out", "err", "done"].contains(&rest), "{l:?}");
        stamps.push((rest.to_string(), t));
    }
    assert_eq!(stamps.len(), 3);
    let t = |w: &str| stamps.iter().find(|(r, _)| r == w).unwrap().1;
    assert!(t("done") >= t("out"), "{stamps:?}");
    assert!(
        t("done").duration_since(t("out")).as_secs_f64() >= 0.25,
        "{stamps:?}"
    );

    // --since in the future, --until in the past: nothing.
    let o = env.roost(0, &["logs", "--since", "2099-01-01T00:00:00Z", &n]);
    assert_eq!(o.stdout_text() + &o.stderr_text(), "");
    let o = env.roost(0, &["logs", "--until", "2000-01-01T00:00:00Z", &n]);
    assert_eq!(o.stdout_text() + &o.stderr_text(), "");

    // -n prefixes the name.
    let o = env.roost(0, &["logs", "-n", &n]);
    assert_eq!(o.stdout_text(), format!("{n} out\n{n} done\n"));

    out(&env, &["rm", &n]);
    assert_no_leaks(&env);
}

/// `--log-opt max-size`: the log is rotated to `ctr.log.1`, and `logs` shows both files.
#[test]
fn log_opt_max_size_rotates() {
    let env = env_with_busybox("log_opt_max_size_rotates");
    let _c = Cleanup(&env);
    let n = env.safename("r");
    let id = run_detached(
        &env,
        &[
            "--name",
            &n,
            "--log-opt",
            "max-size=1k",
            "--log-opt",
            "tag=ignored",
            &bb(),
            "sh",
            "-c",
            "i=0; while [ $i -lt 100 ]; do echo line $i; i=$((i+1)); done",
        ],
    );
    assert_eq!(out(&env, &["wait", &n]), "0\n");
    let dir = store_root(&env).join("containers").join(&id);
    let cur = std::fs::metadata(dir.join("ctr.log"))
        .expect("ctr.log")
        .len();
    let old = std::fs::metadata(dir.join("ctr.log.1"))
        .expect("ctr.log.1")
        .len();
    assert!(cur <= 1000 && old <= 1000, "{cur} {old}");
    let lines = env.roost(0, &["logs", &n]).stdout_lines();
    assert_eq!(
        lines.last().map(String::as_str),
        Some("line 99"),
        "{lines:?}"
    );
    assert!(lines.len() > 20 && lines.len() < 100, "{lines:?}");
    let first: usize = lines[0]["line ".len()..].parse().unwrap();
    let want: Vec<String> = (first..100).map(|i| format!("line {i}")).collect();
    assert_eq!(lines, want);
    env.roost(
        125,
        &["run", "--rm", "--log-opt", "max-size=lots", &bb(), "true"],
    );
    out(&env, &["rm", &n]);
    assert_no_leaks(&env);
}

#[test]
fn logs_follow_ends_with_the_container() {
    let env = env_with_busybox("logs_follow_ends_with_the_container");
    let _c = Cleanup(&env);
    let n = env.safename("f");
    run_detached(
        &env,
        &[
            "--name",
            &n,
            &bb(),
            "sh",
            "-c",
            "echo first; sleep 1.5; echo second",
        ],
    );
    let start = Instant::now();
    let child = env.roost_spawn(&["logs", "-f", &n]);
    let o = finish(child, Instant::now() + Duration::from_secs(30));
    assert_eq!(o.status.code(), Some(0), "{o:?}");
    assert_eq!(o.stdout_text(), "first\nsecond\n");
    assert!(
        start.elapsed() >= Duration::from_millis(800),
        "logs -f returned before the container ended ({:?})",
        start.elapsed()
    );
    assert_eq!(ps_field(&env, &n, "{{.State}}"), "exited");
    // -f on an exited container returns at once.
    let o = env.roost(0, &["logs", "-f", &n]);
    assert_eq!(o.stdout_text(), "first\nsecond\n");
    out(&env, &["rm", &n]);
    assert_no_leaks(&env);
}

#[test]
fn log_driver_none_keeps_no_logs() {
    let env = env_with_busybox("log_driver_none_keeps_no_logs");
    let _c = Cleanup(&env);
    let n = env.safename("none");
    let id = run_detached(
        &env,
        &["--name", &n, "--log-driver", "none", &bb(), "echo", "hi"],
    );
    assert_eq!(out(&env, &["wait", &n]), "0\n");
    let o = env
        .roost_cmd(&["logs", &n])
        .output()
        .expect("run roost logs");
    assert_eq!(o.stdout_text(), "", "--log-driver none printed logs");
    assert!(!o.stderr_text().contains("hi"), "{}", o.stderr_text());
    assert!(
        !store_root(&env)
            .join("containers")
            .join(&id)
            .join("ctr.log")
            .exists()
            || fs::read(
                store_root(&env)
                    .join("containers")
                    .join(&id)
                    .join("ctr.log")
            )
            .unwrap()
            .is_empty(),
        "--log-driver none wrote ctr.log"
    );
    out(&env, &["rm", &n]);
    assert_no_leaks(&env);
}

// ---------------------------------------------------------------------------------------------
// 5. stop / kill / restart / restart policies
// ---------------------------------------------------------------------------------------------

#[test]
fn stop_escalates_to_sigkill() {
    let env = env_with_busybox("stop_escalates_to_sigkill");
    let _c = Cleanup(&env);
    let n = env.safename("s");
    run_detached(&env, &["--name", &n, &bb(), "sleep", "300"]);
    let start = Instant::now();
    let o = env.roost(0, &["stop", "-t", "1", &n]);
    let took = start.elapsed();
    assert_eq!(o.stdout_text(), format!("{n}\n"));
    assert!(
        took >= Duration::from_millis(900),
        "stop -t 1 took only {took:?}"
    );
    assert!(took < Duration::from_secs(5), "stop -t 1 took {took:?}");
    let err = o.stderr_text();
    assert!(
        err.contains("StopSignal SIGTERM failed to stop container")
            && err.contains("resorting to SIGKILL"),
        "no WARN line:\n{err}"
    );
    let status = ps_field(&env, &n, "{{.Status}}");
    assert!(status.starts_with("Exited (137)"), "{status}");
    assert_eq!(out(&env, &["wait", &n]), "137\n");
    assert_eq!(out(&env, &["ps", "-q"]), "");
    // Stopping a stopped container is fine.
    env.roost(0, &["stop", &n]);
    out(&env, &["rm", &n]);
    assert_no_leaks(&env);
}

#[test]
fn stop_with_a_term_trap_is_quick_and_clean() {
    let env = env_with_busybox("stop_with_a_term_trap_is_quick_and_clean");
    let _c = Cleanup(&env);
    let n = env.safename("t");
    run_detached(
        &env,
        &[
            "--name",
            &n,
            &bb(),
            "sh",
            "-c",
            "trap 'exit 0' TERM; echo ready; while true; do sleep 0.1; done",
        ],
    );
    assert!(wait_for(Duration::from_secs(10), || out(
        &env,
        &["logs", &n]
    ) == "ready\n"));
    let start = Instant::now();
    let o = env.roost(0, &["stop", &n]);
    let took = start.elapsed();
    assert!(took < Duration::from_secs(3), "stop took {took:?}");
    assert!(!o.stderr_text().contains("SIGKILL"), "{}", o.stderr_text());
    assert_eq!(out(&env, &["wait", &n]), "0\n");
    assert!(ps_field(&env, &n, "{{.Status}}").starts_with("Exited (0)"));

    // --stop-signal is honoured.
    let m = env.safename("u");
    run_detached(
        &env,
        &[
            "--name",
            &m,
            "--stop-signal",
            "USR1",
            &bb(),
            "sh",
            "-c",
            "trap 'exit 7' USR1; echo ready; while true; do sleep 0.1; done",
        ],
    );
    assert!(wait_for(Duration::from_secs(10), || out(
        &env,
        &["logs", &m]
    ) == "ready\n"));
    let o = env.roost(0, &["stop", "-t", "10", &m]);
    assert!(!o.stderr_text().contains("SIGKILL"), "{}", o.stderr_text());
    assert_eq!(out(&env, &["wait", &m]), "7\n");
    out(&env, &["rm", &n, &m]);
    assert_no_leaks(&env);
}

#[test]
fn kill_sends_signals_and_restart_revives() {
    let env = env_with_busybox("kill_sends_signals_and_restart_revives");
    let _c = Cleanup(&env);
    let n = env.safename("k");
    run_detached(
        &env,
        &[
            "--name",
            &n,
            &bb(),
            "sh",
            "-c",
            "trap 'echo got-usr1' USR1; echo ready; while true; do sleep 0.1; done",
        ],
    );
    assert!(wait_for(Duration::from_secs(10), || out(
        &env,
        &["logs", &n]
    ) == "ready\n"));
    assert_eq!(out(&env, &["kill", "-s", "USR1", &n]), format!("{n}\n"));
    assert!(
        wait_for(Duration::from_secs(5), || out(&env, &["logs", &n])
            == "ready\ngot-usr1\n"),
        "trap did not run: {}",
        out(&env, &["logs", &n])
    );
    assert_eq!(
        ps_field(&env, &n, "{{.State}}"),
        "running",
        "USR1 must not stop it"
    );
    out(&env, &["kill", &n]);
    assert_eq!(out(&env, &["wait", &n]), "137\n");
    assert!(ps_field(&env, &n, "{{.Status}}").starts_with("Exited (137)"));
    // kill on a stopped container is an error.
    env.roost(125, &["kill", &n]);

    // restart: Up again, same ID, the command ran again.
    let id = ps_field(&env, &n, "{{.ID}}");
    env.roost(0, &["restart", &n]);
    assert!(
        ps_field(&env, &n, "{{.Status}}").starts_with("Up "),
        "{}",
        ps_field(&env, &n, "{{.Status}}")
    );
    assert_eq!(ps_field(&env, &n, "{{.ID}}"), id);
    assert!(wait_for(Duration::from_secs(10), || out(
        &env,
        &["logs", &n]
    )
    .matches("ready")
    .count()
        == 2));
    // restart of a running container.
    let pid_before = ps_field(&env, &n, "{{.Pid}}");
    env.roost(0, &["restart", "-t", "0", &n]);
    assert_eq!(ps_field(&env, &n, "{{.State}}"), "running");
    assert_ne!(ps_field(&env, &n, "{{.Pid}}"), pid_before);
    out(&env, &["rm", "-f", &n]);
    assert_no_leaks(&env);
}

#[test]
fn restart_policy_on_failure_is_bounded() {
    let env = env_with_busybox("restart_policy_on_failure_is_bounded");
    let _c = Cleanup(&env);
    let n = env.safename("p");
    run_detached(
        &env,
        &[
            "--name",
            &n,
            "--restart",
            "on-failure:2",
            &bb(),
            "sh",
            "-c",
            "echo start; exit 1",
        ],
    );
    let settled = wait_for(Duration::from_secs(30), || {
        out(&env, &["logs", &n]).lines().count() >= 3
            && ps_field(&env, &n, "{{.Status}}").starts_with("Exited (1)")
    });
    assert!(
        settled,
        "status {:?}, logs {:?}",
        ps_field(&env, &n, "{{.Status}}"),
        out(&env, &["logs", &n])
    );
    // No fourth start.
    thread::sleep(Duration::from_millis(1500));
    assert_eq!(out(&env, &["logs", &n]), "start\nstart\nstart\n");
    assert!(ps_field(&env, &n, "{{.Status}}").starts_with("Exited (1)"));
    assert_eq!(out(&env, &["wait", &n]), "1\n");

    // on-failure does not restart a success.
    let ok = env.safename("ok");
    run_detached(
        &env,
        &[
            "--name",
            &ok,
            "--restart",
            "on-failure",
            &bb(),
            "sh",
            "-c",
            "echo start",
        ],
    );
    assert_eq!(out(&env, &["wait", &ok]), "0\n");
    thread::sleep(Duration::from_millis(1000));
    assert_eq!(out(&env, &["logs", &ok]), "start\n");
    out(&env, &["rm", &n, &ok]);
    assert_no_leaks(&env);
}

#[test]
fn restart_policy_always_stays_stopped_after_stop() {
    let env = env_with_busybox("restart_policy_always_stays_stopped_after_stop");
    let _c = Cleanup(&env);
    let n = env.safename("a");
    run_detached(
        &env,
        &[
            "--name",
            &n,
            "--restart",
            "always",
            &bb(),
            "sh",
            "-c",
            "echo start; sleep 300",
        ],
    );
    assert!(wait_for(Duration::from_secs(10), || out(
        &env,
        &["logs", &n]
    ) == "start\n"));
    env.roost(0, &["stop", "-t", "1", &n]);
    thread::sleep(Duration::from_millis(2000));
    let status = ps_field(&env, &n, "{{.Status}}");
    assert!(status.starts_with("Exited (137)"), "{status}");
    assert_eq!(out(&env, &["ps", "-q"]), "");
    assert_eq!(out(&env, &["logs", &n]), "start\n");

    // `always` restarts a container that exits by itself.
    let m = env.safename("b");
    run_detached(
        &env,
        &[
            "--name",
            &m,
            "--restart",
            "always",
            &bb(),
            "sh",
            "-c",
            "echo start; sleep 0.2",
        ],
    );
    assert!(
        wait_for(Duration::from_secs(20), || out(&env, &["logs", &m])
            .lines()
            .count()
            >= 3),
        "{}",
        out(&env, &["logs", &m])
    );
    out(&env, &["stop", "-t", "1", &m]);
    out(&env, &["rm", "-f", &n, &m]);
    assert_no_leaks(&env);
}

// ---------------------------------------------------------------------------------------------
// 6. --rm leaves nothing
// ---------------------------------------------------------------------------------------------

fn assert_nothing_left(env: &Env, after: &str) {
    assert_eq!(out(env, &["ps", "-a", "-q"]), "", "{after}: ps -a");
    assert_eq!(
        container_dirs(env),
        Vec::<String>::new(),
        "{after}: store containers/"
    );
    assert_eq!(
        runtime_container_dirs(env),
        Vec::<String>::new(),
        "{after}: runtime containers/"
    );
    assert_no_leaks(env);
    assert_eq!(
        mounts_mentioning(env),
        Vec::<String>::new(),
        "{after}: mounts"
    );
}

#[test]
fn rm_flag_leaves_nothing() {
    let env = env_with_busybox("rm_flag_leaves_nothing");
    let _c = Cleanup(&env);
    assert_eq!(run_bb(&env, &["sh", "-c", "echo hi; touch /file"]), "hi\n");
    assert_nothing_left(&env, "run --rm");
    env.roost(3, &["run", "--rm", &bb(), "sh", "-c", "exit 3"]);
    assert_nothing_left(&env, "run --rm (failing)");
    env.roost(127, &["run", "--rm", &bb(), "no-such-command"]);
    assert_nothing_left(&env, "run --rm (not found)");

    let id = run_detached(&env, &["--rm", &bb(), "sh", "-c", "sleep 0.5; exit 6"]);
    assert_eq!(out(&env, &["wait", &id]), "6\n");
    assert!(
        wait_for(Duration::from_secs(5), || out(&env, &["ps", "-a", "-q"])
            .is_empty()),
        "run -d --rm container still listed after wait"
    );
    assert_nothing_left(&env, "run -d --rm");

    // Stopping a -d --rm container removes it too.
    let n = env.safename("s");
    run_detached(&env, &["--rm", "--name", &n, &bb(), "sleep", "300"]);
    env.roost(0, &["stop", "-t", "0", &n]);
    assert!(wait_for(Duration::from_secs(5), || out(
        &env,
        &["ps", "-a", "-q"]
    )
    .is_empty()));
    assert_nothing_left(&env, "stop of run -d --rm");
}

// ---------------------------------------------------------------------------------------------
// 7. Concurrency
// ---------------------------------------------------------------------------------------------

#[test]
fn fifty_concurrent_runs() {
    const N: usize = 50;
    let env = env_with_busybox("fifty_concurrent_runs");
    let _c = Cleanup(&env);
    let img = bb();
    let start = Instant::now();
    let children: Vec<Child> = (0..N)
        .map(|_| env.roost_spawn(&["run", "--rm", &img, "sh", "-c", "echo $HOSTNAME"]))
        .collect();
    let deadline = Instant::now() + Duration::from_secs(120);
    let outputs: Vec<Output> = children.into_iter().map(|c| finish(c, deadline)).collect();
    let mut hostnames = Vec::new();
    for (i, o) in outputs.iter().enumerate() {
        assert_eq!(o.status.code(), Some(0), "run #{i}: {o:?}");
        let h = o.stdout_text().trim().to_string();
        assert!(
            h.len() == 12 && h.bytes().all(|b| b.is_ascii_hexdigit()),
            "run #{i} hostname {h:?}"
        );
        assert!(
            !o.stderr_text().contains("Error"),
            "run #{i}: {}",
            o.stderr_text()
        );
        hostnames.push(h);
    }
    hostnames.sort();
    hostnames.dedup();
    assert_eq!(hostnames.len(), N, "hostnames not distinct");
    eprintln!("{N} concurrent runs took {:?}", start.elapsed());
    assert_nothing_left(&env, "concurrent run --rm");
}

// ---------------------------------------------------------------------------------------------
// 8. Monitor killed
// ---------------------------------------------------------------------------------------------

#[test]
fn killed_monitor_is_noticed() {
    let env = env_with_busybox("killed_monitor_is_noticed");
    let _c = Cleanup(&env);
    let n = env.safename("m");
    let id = run_detached(&env, &["--name", &n, &bb(), "sleep", "300"]);
    let monitors = pids_with_cmdline(&["__monitor", &id]);
    assert_eq!(monitors.len(), 1, "one monitor for {id}: {monitors:?}");

    let pid: i32 = ps_field(&env, &n, "{{.Pid}}")
        .parse()
        .expect("ps {{.Pid}} is a number");
    assert!(pid > 0);
    let cmdline = fs::read(format!("/proc/{pid}/cmdline")).expect("container pid exists");
    assert_eq!(
        cmdline, b"sleep\x00300\x00",
        "{{.Pid}} is the container's pid 1"
    );
    assert_eq!(
        fs::read_to_string(format!("/proc/{pid}/status"))
            .unwrap()
            .lines()
            .find(|l| l.starts_with("NSpid:"))
            .map(|l| l.split_whitespace().last().unwrap().to_string()),
        Some("1".to_string()),
        "the container process is pid 1 in its namespace"
    );

    kill(Pid::from_raw(monitors[0]), Signal::SIGKILL).unwrap();
    kill(Pid::from_raw(pid), Signal::SIGKILL).unwrap();
    let noticed = wait_for(Duration::from_secs(10), || {
        !ps_field(&env, &n, "{{.Status}}").starts_with("Up")
    });
    assert!(noticed, "still {:?}", ps_field(&env, &n, "{{.Status}}"));
    assert_eq!(ps_field(&env, &n, "{{.State}}"), "exited");
    assert!(ps_field(&env, &n, "{{.Status}}").starts_with("Exited"));
    assert_eq!(out(&env, &["ps", "-q"]), "");
    assert_eq!(out(&env, &["rm", &n]), format!("{n}\n"));
    assert_nothing_left(&env, "rm after a killed monitor");
}

// ---------------------------------------------------------------------------------------------
// 9. Generated names
// ---------------------------------------------------------------------------------------------

fn is_generated_name(s: &str) -> bool {
    let Some((a, b)) = s.split_once('_') else {
        return false;
    };
    [a, b]
        .iter()
        .all(|w| !w.is_empty() && w.bytes().all(|c| c.is_ascii_lowercase()))
}

#[test]
fn generated_names() {
    let env = env_with_busybox("generated_names");
    let _c = Cleanup(&env);
    for _ in 0..5 {
        run_detached(&env, &[&bb(), "true"]);
    }
    out(&env, &["create", &bb(), "true"]);
    let names = env
        .roost(0, &["ps", "-a", "--format", "{{.Names}}"])
        .stdout_lines();
    assert_eq!(names.len(), 6, "{names:?}");
    for n in &names {
        assert!(is_generated_name(n), "not adjective_noun: {n:?}");
    }
    let mut uniq = names.clone();
    uniq.sort();
    uniq.dedup();
    assert_eq!(
        uniq.len(),
        names.len(),
        "generated names collide: {names:?}"
    );
    // A generated name works as a reference.
    env.roost(0, &["wait", &names[1]]);
    out(&env, &["rm", "-a", "-f"]);
    assert_no_leaks(&env);
}
