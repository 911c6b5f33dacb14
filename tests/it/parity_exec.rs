//! podman parity of `run`/`exec`/`top` and mounts (issue 10; podman's 075-exec, 085-top, 060-mount,
//! 190-run-ipcns, 195-run-namespaces): `--umask`, comma lists in `--group-add` (kept by `exec
//! --user`), detached exec sessions (`ExecIDs`, `exec_pid`, 125 when one fails to start), ps(1)
//! options to `top`, `--mount type=glob|ramfs`, `container:NAME` namespace modes and `--http-proxy`.
use std::path::Path;

use crate::harness::{Env, OutputExt, assert_no_leaks, image};

/// `run -d NAME … IMAGE ARGS…` with `flags`; the container's id.
fn detached(env: &Env, name: &str, flags: &[&str], args: &[&str]) -> String {
    let img = image("busybox");
    let mut argv = vec!["run", "-d", "--name", name];
    argv.extend(flags);
    argv.push(&img);
    argv.extend(args);
    env.roost(0, &argv).stdout_text().trim().to_string()
}

/// `run --rm FLAGS… IMAGE ARGS…`, expecting `code`; (stdout, stderr).
fn run_rm(env: &Env, code: i32, flags: &[&str], args: &[&str]) -> (String, String) {
    let img = image("busybox");
    let mut argv = vec!["run", "--rm"];
    argv.extend(flags);
    argv.push(&img);
    argv.extend(args);
    let out = env.roost(code, &argv);
    (out.stdout_text(), out.stderr_text())
}

#[test]
fn umask_applies_to_the_container_and_its_execs() {
    let env = Env::new("umask_applies_to_the_container_and_its_execs");
    let (out, _) = run_rm(&env, 0, &[], &["grep", "Umask", "/proc/self/status"]);
    assert!(out.contains("0022"), "{out}");
    let (out, _) = run_rm(
        &env,
        0,
        &["--umask", "0724"],
        &["grep", "Umask", "/proc/self/status"],
    );
    assert!(out.contains("0724"), "{out}");
    let name = env.safename("umask");
    detached(&env, &name, &["--umask", "0724"], &["sleep", "600"]);
    let out = env
        .roost(0, &["exec", &name, "sh", "-c", "touch /f; stat -c %a /f"])
        .stdout_text();
    assert_eq!(out.trim(), "42");
    let err = env
        .roost(
            125,
            &["run", "--rm", "--umask", "999", &image("busybox"), "true"],
        )
        .stderr_text();
    assert!(err.contains("invalid umask `999`"), "{err}");
    env.roost(0, &["rm", "-f", "-t0", &name]);
    assert_no_leaks(&env);
}

#[test]
fn group_add_takes_comma_lists_and_exec_user_keeps_them() {
    let env = Env::new("group_add_takes_comma_lists_and_exec_user_keeps_them");
    let name = env.safename("groups");
    detached(&env, &name, &["--group-add", "1,2,3"], &["sleep", "600"]);
    let id_g = |user: &str| {
        env.roost(0, &["exec", "--user", user, &name, "id", "-G"])
            .stdout_text()
            .trim()
            .to_string()
    };
    assert_eq!(id_g("root:root"), "0 1 2 3");
    assert_eq!(id_g("1000:1000"), "1000 1 2 3");
    assert_eq!(id_g("root:1000"), "1000 1 2 3");
    let groups = env
        .roost(
            0,
            &[
                "exec",
                &name,
                "grep",
                "-h",
                "^Groups:",
                "/proc/1/status",
                "/proc/self/status",
            ],
        )
        .stdout_text();
    let lines: Vec<&str> = groups.lines().collect();
    assert_eq!(lines.len(), 2, "{groups}");
    assert_eq!(lines[0], lines[1]);
    env.roost(0, &["rm", "-f", "-t0", &name]);
    assert_no_leaks(&env);
}

/// The `exec_pid` files under the store.
fn exec_pid_files(env: &Env) -> Vec<String> {
    let root = env
        .roost(0, &["info", "--format", "{{.Store.GraphRoot}}"])
        .stdout_text()
        .trim()
        .to_string();
    let mut found = Vec::new();
    let mut dirs = vec![std::path::PathBuf::from(root)];
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let t = e.file_type().unwrap();
            if t.is_dir() {
                dirs.push(e.path());
            } else if e.file_name() == "exec_pid" {
                found.push(e.path().display().to_string());
            }
        }
    }
    found
}

#[test]
fn detached_exec_sessions_are_listed_while_they_run() {
    let env = Env::new("detached_exec_sessions_are_listed_while_they_run");
    let name = env.safename("sessions");
    detached(&env, &name, &[], &["sleep", "600"]);
    let ids = || {
        env.roost(0, &["inspect", "--format", "{{len .ExecIDs}}", &name])
            .stdout_text()
            .trim()
            .to_string()
    };
    env.roost(0, &["exec", &name, "true"]);
    assert_eq!(ids(), "0");
    assert!(exec_pid_files(&env).is_empty());
    // A command that is not there: 127 in the foreground, 125 detached; no session either way.
    env.roost(127, &["exec", &name, "no-such-command"]);
    env.roost(125, &["exec", "-d", &name, "no-such-command"]);
    assert_eq!(ids(), "0");
    env.roost(0, &["exec", "-d", &name, "sleep", "600"]);
    assert_eq!(ids(), "1");
    assert_eq!(exec_pid_files(&env).len(), 1);
    // A session whose process ended is no longer listed.
    env.roost(0, &["exec", "-d", &name, "true"]);
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert_eq!(ids(), "1");
    env.roost(0, &["stop", "-t0", &name]);
    assert!(exec_pid_files(&env).is_empty());
    env.roost(0, &["rm", "-f", &name]);
    assert_no_leaks(&env);
}

#[test]
fn top_passes_ps_options_to_the_containers_ps() {
    let env = Env::new("top_passes_ps_options_to_the_containers_ps");
    let name = env.safename("top");
    detached(&env, &name, &[], &["sleep", "600"]);
    // Several arguments go to ps as they are; a single one is split as a shell would.
    for args in [&["-eo", "pid,comm"][..], &["-eo pid,comm"][..]] {
        let mut argv = vec!["top", name.as_str()];
        argv.extend(args);
        let out = env.roost(0, &argv).stdout_text();
        let lines: Vec<Vec<&str>> = out
            .lines()
            .map(|l| l.split_whitespace().collect())
            .collect();
        assert_eq!(lines[0], ["PID", "COMMAND"], "{out}");
        assert_eq!(lines[1], ["1", "sleep"], "{out}");
    }
    // Descriptors still make podman's own table.
    let out = env.roost(0, &["top", &name, "pid", "comm"]).stdout_text();
    assert!(out.starts_with("PID "), "{out}");
    env.roost(0, &["rm", "-f", "-t0", &name]);
    assert_no_leaks(&env);
}

/// Files under the test's home, readable by the test user.
fn host_files(env: &Env, names: &[&str]) -> std::path::PathBuf {
    let dir = env.home.join(format!("glob-{}", rand::random::<u32>()));
    for n in names {
        let p = dir.join(n);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, n).unwrap();
    }
    chmod_tree(&dir);
    dir
}

fn chmod_tree(dir: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o777));
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let mode = if e.path().is_dir() { 0o777 } else { 0o666 };
        let _ = std::fs::set_permissions(e.path(), std::fs::Permissions::from_mode(mode));
        if e.path().is_dir() {
            chmod_tree(&e.path());
        }
    }
}

#[test]
fn glob_and_ramfs_mounts() {
    let env = Env::new("glob_and_ramfs_mounts");
    let dir = host_files(&env, &["v1a", "v1b", "v2", "foo1/bar1", "foo2/bar2"]);
    let d = dir.display().to_string();
    let glob = |src: &str, extra: &str| format!("type=glob,src={d}/{src}{extra}");
    run_rm(
        &env,
        0,
        &["--mount", &glob("v1*", ",ro")],
        &["ls", &format!("{d}/v1a"), &format!("{d}/v1b")],
    );
    let (_, err) = run_rm(
        &env,
        1,
        &["--mount", &glob("v1*", ",ro")],
        &["ls", &format!("{d}/v2")],
    );
    assert!(err.contains("No such file or directory"), "{err}");
    let (_, err) = run_rm(
        &env,
        1,
        &["--mount", &glob("v2*", ",ro")],
        &["touch", &format!("{d}/v2")],
    );
    assert!(err.contains("Read-only file system"), "{err}");
    let (out, _) = run_rm(
        &env,
        0,
        &["--mount", &glob("foo?/bar?", ",destination=/in,ro")],
        &["ls", "/in"],
    );
    assert_eq!(out.split_whitespace().collect::<Vec<_>>(), ["bar1", "bar2"]);
    let err = env
        .roost(
            125,
            &[
                "run",
                "--rm",
                "--mount",
                &glob("v3*", ""),
                &image("busybox"),
                "true",
            ],
        )
        .stderr_text();
    assert!(
        err.contains(&format!("Error: no file paths matching glob \"{d}/v3*\"")),
        "{err}"
    );
    let (out, _) = run_rm(
        &env,
        0,
        &["--mount", "type=ramfs,destination=/mem"],
        &["stat", "-f", "-c", "%T", "/mem"],
    );
    assert_eq!(out.trim(), "ramfs");
    assert_no_leaks(&env);
}

#[test]
fn namespaces_of_another_container() {
    let env = Env::new("namespaces_of_another_container");
    let donor = env.safename("donor");
    let id = detached(&env, &donor, &[], &["sleep", "600"]);
    let mode = env
        .roost(
            0,
            &["inspect", "--format", "{{.HostConfig.IpcMode}}", &donor],
        )
        .stdout_text();
    assert_eq!(mode.trim(), "shareable");
    let ns = |kind: &str| {
        env.roost(
            0,
            &["exec", &donor, "readlink", &format!("/proc/self/ns/{kind}")],
        )
        .stdout_text()
    };
    for (flag, kind) in [
        ("--ipc", "ipc"),
        ("--uts", "uts"),
        ("--pid", "pid"),
        ("--cgroupns", "cgroup"),
    ] {
        let (out, _) = run_rm(
            &env,
            0,
            &[flag, &format!("container:{donor}")],
            &["readlink", &format!("/proc/self/ns/{kind}")],
        );
        assert_eq!(out, ns(kind), "{flag}");
    }
    let joiner = env.safename("joiner");
    let img = image("busybox");
    env.roost(
        0,
        &[
            "create",
            "--name",
            &joiner,
            "--ipc",
            &format!("container:{donor}"),
            &img,
            "true",
        ],
    );
    let mode = env
        .roost(
            0,
            &["inspect", "--format", "{{.HostConfig.IpcMode}}", &joiner],
        )
        .stdout_text();
    assert_eq!(mode.trim(), format!("container:{id}"));
    env.roost(0, &["rm", &joiner]);
    let private = env.safename("private");
    detached(&env, &private, &["--ipc", "private"], &["sleep", "600"]);
    let (_, err) = run_rm(
        &env,
        125,
        &["--ipc", &format!("container:{private}")],
        &["true"],
    );
    assert!(err.contains("is not allowed: non-shareable IPC"), "{err}");
    env.roost(0, &["rm", "-f", "-t0", &donor, &private]);
    assert_no_leaks(&env);
}

#[test]
fn http_proxy_variables_pass_unless_turned_off() {
    let env = Env::new("http_proxy_variables_pass_unless_turned_off");
    let img = image("busybox");
    // Pulled first: roost's own registry requests would go through the proxy.
    env.roost(0, &["pull", "-q", &img]);
    let show = ["sh", "-c", "echo \"[$http_proxy]\""];
    let mut argv = vec!["run", "--rm", &img];
    argv.extend(show);
    let mut cmd = env.roost_cmd(&argv);
    cmd.env("http_proxy", "http://127.0.0.1:3128");
    assert_eq!(
        env.run_cmd(cmd, 0).stdout_text().trim(),
        "[http://127.0.0.1:3128]"
    );
    let mut argv = vec!["run", "--rm", "--http-proxy=false", &img];
    argv.extend(show);
    let mut cmd = env.roost_cmd(&argv);
    cmd.env("http_proxy", "http://127.0.0.1:3128");
    assert_eq!(env.run_cmd(cmd, 0).stdout_text().trim(), "[]");
    assert_no_leaks(&env);
}
