//! The flags and commands podman's clients (podman-compose, distrobox, toolbox) call, each checked on
//! its own with busybox: `--pid/--ipc/--uts host`, `--requires`, `--ulimit host`,
//! `--mount type=devpts`, `--dns none`, `run -q`, `start --all`, `logs --color`, `system migrate`.

use crate::harness::{Cleanup, Env, OutputExt, assert_no_leaks, bb, env_with_busybox, out};

fn run_out(env: &Env, code: i32, args: &[&str]) -> String {
    let img = bb();
    let mut full = vec!["run", "--rm"];
    let at = args.iter().position(|a| *a == "--").unwrap_or(args.len());
    full.extend_from_slice(&args[..at]);
    full.push(&img);
    if at < args.len() {
        full.extend_from_slice(&args[at + 1..]);
    }
    env.roost(code, &full).stdout_text()
}

#[test]
fn pid_host_sees_the_callers_processes() {
    let env = env_with_busybox("pid_host_sees_the_callers_processes");
    let me = format!("/proc/{}", std::process::id());
    run_out(&env, 0, &["--pid", "host", "--", "test", "-d", &me]);
    run_out(&env, 1, &["--", "test", "-d", &me]);
    run_out(&env, 0, &["--pid", "private", "--", "true"]);
    let bad = env.roost(125, &["run", "--rm", "--pid", "bogus", &bb(), "true"]);
    assert!(
        bad.stderr_text().contains("--pid `bogus`"),
        "{}",
        bad.stderr_text()
    );
    assert_no_leaks(&env);
}

#[test]
fn ipc_and_uts_host_share_the_callers_namespaces() {
    let env = env_with_busybox("ipc_and_uts_host_share_the_callers_namespaces");
    let host_ipc = std::fs::read_link("/proc/self/ns/ipc").unwrap();
    let host_ipc = host_ipc.to_string_lossy();
    let shared = run_out(
        &env,
        0,
        &["--ipc", "host", "--", "readlink", "/proc/self/ns/ipc"],
    );
    assert_eq!(shared.trim(), host_ipc);
    let own = run_out(
        &env,
        0,
        &["--ipc", "shareable", "--", "readlink", "/proc/self/ns/ipc"],
    );
    assert_ne!(own.trim(), host_ipc);
    let host_name = nix::unistd::gethostname().unwrap();
    let name = run_out(
        &env,
        0,
        &["--uts", "host", "-h", "ignored", "--", "hostname"],
    );
    assert_eq!(name.trim(), host_name.to_string_lossy());
    let name = run_out(&env, 0, &["-h", "inner", "--", "hostname"]);
    assert_eq!(name.trim(), "inner");
    assert_no_leaks(&env);
}

#[test]
fn requires_starts_the_required_container_first() {
    let env = env_with_busybox("requires_starts_the_required_container_first");
    let _c = Cleanup(&env);
    let (a, b) = (env.safename("a"), env.safename("b"));
    env.roost(0, &["create", "--name", &a, &bb(), "sleep", "600"]);
    env.roost(
        0,
        &[
            "create",
            "--name",
            &b,
            "--requires",
            &a,
            &bb(),
            "sleep",
            "600",
        ],
    );
    env.roost(0, &["start", &b]);
    assert_eq!(
        out(&env, &["inspect", "--format", "{{.State.Status}}", &a]).trim(),
        "running"
    );
    // A required container is not removed while the one that needs it exists.
    env.roost(0, &["stop", "-t", "0", &a, &b]);
    env.roost(125, &["rm", &a]);
    env.roost(0, &["rm", &b, &a]);
    let missing = env.roost(125, &["create", "--requires", "nosuch", &bb()]);
    assert!(
        missing.stderr_text().contains("nosuch"),
        "{}",
        missing.stderr_text()
    );
    assert_no_leaks(&env);
}

#[test]
fn ulimit_host_keeps_the_callers_limits() {
    let env = env_with_busybox("ulimit_host_keeps_the_callers_limits");
    let (soft, _) =
        nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE).unwrap();
    let n = run_out(
        &env,
        0,
        &["--ulimit", "host", "--", "sh", "-c", "ulimit -n"],
    );
    assert_eq!(n.trim(), soft.to_string());
    let mixed = env.roost(
        125,
        &[
            "run",
            "--rm",
            "--ulimit",
            "host",
            "--ulimit",
            "nofile=64",
            &bb(),
            "true",
        ],
    );
    assert!(
        mixed.stderr_text().contains("--ulimit host"),
        "{}",
        mixed.stderr_text()
    );
    assert_no_leaks(&env);
}

#[test]
fn mount_type_devpts_mounts_a_new_instance() {
    let env = env_with_busybox("mount_type_devpts_mounts_a_new_instance");
    let script = "grep ' /mnt/pts ' /proc/mounts; test -c /mnt/pts/ptmx";
    let mounts = run_out(
        &env,
        0,
        &[
            "--mount",
            "type=devpts,destination=/mnt/pts",
            "--",
            "sh",
            "-c",
            script,
        ],
    );
    assert!(mounts.starts_with("devpts /mnt/pts devpts"), "{mounts}");
    // Over the default /dev/pts, as distrobox and toolbox ask for.
    run_out(
        &env,
        0,
        &[
            "--mount",
            "type=devpts,destination=/dev/pts",
            "--",
            "test",
            "-c",
            "/dev/pts/ptmx",
        ],
    );
    let bad = env.roost(
        125,
        &[
            "run",
            "--rm",
            "--mount",
            "type=devpts,destination=/x,src=/tmp",
            &bb(),
            "true",
        ],
    );
    assert!(bad.stderr_text().contains("src"), "{}", bad.stderr_text());
    assert_no_leaks(&env);
}

#[test]
fn dns_none_keeps_the_images_resolv_conf() {
    let env = env_with_busybox("dns_none_keeps_the_images_resolv_conf");
    // busybox has no /etc/resolv.conf of its own: roost's is the only one there can be.
    run_out(&env, 0, &["--", "test", "-e", "/etc/resolv.conf"]);
    run_out(
        &env,
        1,
        &["--dns", "none", "--", "test", "-e", "/etc/resolv.conf"],
    );
    env.roost(
        125,
        &[
            "run",
            "--rm",
            "--dns",
            "none",
            "--dns",
            "1.1.1.1",
            &bb(),
            "true",
        ],
    );
    assert_no_leaks(&env);
}

#[test]
fn run_quiet_prints_no_pull_progress() {
    let env = Env::new("run_quiet_prints_no_pull_progress");
    let o = env.roost(0, &["run", "-q", "--rm", &bb(), "echo", "hi"]);
    assert_eq!(o.stdout_text(), "hi\n");
    assert_eq!(o.stderr_text(), "");
    assert_no_leaks(&env);
}

#[test]
fn start_all_starts_every_stopped_container() {
    let env = env_with_busybox("start_all_starts_every_stopped_container");
    let _c = Cleanup(&env);
    let (a, b) = (env.safename("a"), env.safename("b"));
    for n in [&a, &b] {
        env.roost(0, &["create", "-q", "--name", n, &bb(), "sleep", "600"]);
    }
    let started = out(&env, &["start", "--all"]);
    assert_eq!(started.lines().count(), 2, "{started}");
    for n in [&a, &b] {
        assert_eq!(
            out(&env, &["inspect", "--format", "{{.State.Status}}", n]).trim(),
            "running"
        );
    }
    env.roost(125, &["start", "--all", &a]);
    env.roost(0, &["rm", "-f", "-t", "0", &a, &b]);
    assert_no_leaks(&env);
}

#[test]
fn logs_color_colors_the_name_prefix() {
    let env = env_with_busybox("logs_color_colors_the_name_prefix");
    let name = env.safename("c");
    env.roost(0, &["run", "--name", &name, &bb(), "echo", "hi"]);
    let plain = out(&env, &["logs", "--names", &name]);
    assert_eq!(plain, format!("{name} hi\n"));
    let colored = out(&env, &["logs", "--names", "--color", &name]);
    assert_eq!(colored, format!("\x1b[32m{name}\x1b[0m hi\n"));
    assert_eq!(
        out(&env, &["logs", "--names", "--color", "--no-color", &name]),
        plain
    );
    env.roost(0, &["rm", &name]);
    assert_no_leaks(&env);
}

#[test]
fn system_migrate_succeeds() {
    let env = Env::new("system_migrate_succeeds");
    env.roost(0, &["system", "migrate"]);
    env.roost(0, &["system", "migrate", "--new-runtime", "crun"]);
    assert_no_leaks(&env);
}
