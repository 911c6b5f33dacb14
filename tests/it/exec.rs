//! `exec` and `top` against a running container (a foreground `run … sleep` in the background).

use std::process::Child;
use std::thread;
use std::time::{Duration, Instant};

use crate::harness::{Env, OutputExt, assert_no_leaks, image, run_with_timeout};

/// A running container: the background `roost run` that keeps it up, removed (and waited for) on drop.
struct Sleeper<'a> {
    env: &'a Env,
    name: String,
    run: Option<Child>,
}

impl<'a> Sleeper<'a> {
    fn start(env: &'a Env, what: &str) -> Sleeper<'a> {
        let name = env.safename(what);
        let run = env.roost_spawn(&["run", "--name", &name, &image("busybox"), "sleep", "1000"]);
        let s = Sleeper {
            env,
            name,
            run: Some(run),
        };
        s.wait_running();
        s
    }

    fn wait_running(&self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let mut cmd = self.env.roost_cmd(&["exec", &self.name, "true"]);
            let out = run_with_timeout(&mut cmd, None, Duration::from_secs(30)).unwrap();
            if out.status.success() {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "container {} never ran: {}",
                self.name,
                out.stderr_text()
            );
            thread::sleep(Duration::from_millis(100));
        }
    }

    /// `roost exec FLAGS… NAME CMD…`; stdout.
    fn exec(&self, code: i32, flags: &[&str], cmd: &[&str]) -> String {
        let mut argv = vec!["exec"];
        argv.extend(flags);
        argv.push(&self.name);
        argv.extend(cmd);
        self.env.roost(code, &argv).stdout_text()
    }
}

impl Drop for Sleeper<'_> {
    fn drop(&mut self) {
        let mut rm = self.env.roost_cmd(&["rm", "-f", &self.name]);
        let _ = run_with_timeout(&mut rm, None, Duration::from_secs(30));
        if let Some(mut run) = self.run.take() {
            let _ = run.kill();
            let _ = run.wait();
        }
    }
}

#[test]
fn exec_runs_commands_in_the_container() {
    let env = Env::new("exec_runs_commands_in_the_container");
    {
        let c = Sleeper::start(&env, "c");
        assert_eq!(c.exec(0, &[], &["echo", "hi"]), "hi\n");
        c.exec(7, &[], &["sh", "-c", "exit 7"]);
        assert_eq!(
            c.exec(0, &["-e", "FOO=bar"], &["sh", "-c", "echo $FOO"]),
            "bar\n"
        );
        // The container's environment is kept.
        assert!(c.exec(0, &[], &["env"]).contains("container=podman"));
        assert_eq!(c.exec(0, &["-u", "1000"], &["id", "-u"]), "1000\n");
        assert_eq!(
            c.exec(0, &["-u", "nobody:nogroup"], &["id", "-g"]),
            "65534\n"
        );
        assert_eq!(c.exec(0, &["-w", "/tmp"], &["pwd"]), "/tmp\n");
        // Its uts and pid namespaces: the container's hostname, pid 1 is its sleep.
        let hostname = c.exec(0, &[], &["cat", "/etc/hostname"]);
        assert_eq!(c.exec(0, &[], &["hostname"]), hostname);
        let ps = c.exec(0, &[], &["ps", "-o", "pid,args"]);
        let lines: Vec<&str> = ps.lines().skip(1).collect();
        assert!(
            lines.len() <= 3 && lines[0].trim() == "1 sleep 1000",
            "unexpected processes:\n{ps}"
        );
        // Its root: the image's files, not the host's.
        c.exec(0, &[], &["test", "-x", "/bin/busybox"]);
    }
    assert_no_leaks(&env);
}

#[test]
fn exec_stdin_tty_and_detach() {
    let env = Env::new("exec_stdin_tty_and_detach");
    {
        let c = Sleeper::start(&env, "c");
        // -i passes stdin on; without it the command reads nothing.
        let out = env.roost_stdin(0, &["exec", "-i", &c.name, "cat"], b"hello\n");
        assert_eq!(out.stdout_text(), "hello\n");
        let out = env.roost_stdin(0, &["exec", &c.name, "cat"], b"hello\n");
        assert_eq!(out.stdout_text(), "");
        // -t: a pty from the container's own devpts is the controlling terminal.
        let out = c.exec(0, &["-t"], &["tty"]);
        assert_eq!(out.trim_end(), "/dev/pts/0");
        // -d: returns at once, the process keeps running in the container.
        assert_eq!(c.exec(0, &["-d"], &["sleep", "500"]), "");
        let top = env
            .roost(0, &["top", &c.name, "pid,ppid,args"])
            .stdout_text();
        assert!(
            top.lines()
                .any(|l| l.ends_with("sleep 500") && l.split_whitespace().nth(1) == Some("1")),
            "the detached sleep is not a child of the container's pid 1:\n{top}"
        );
    }
    assert_no_leaks(&env);
}

#[test]
fn exec_failures_have_podman_exit_codes() {
    let env = Env::new("exec_failures_have_podman_exit_codes");
    {
        let c = Sleeper::start(&env, "c");
        let err = env
            .roost(127, &["exec", &c.name, "no-such-command"])
            .stderr_text();
        assert!(err.contains("not found"), "{err}");
        env.roost(126, &["exec", &c.name, "/etc/passwd"]);
        // A working directory that cannot be entered says why, with podman's status for its
        // runtime's message: 127 only when it is missing.
        for dir in ["/proc/self/fd/0", "/etc/passwd"] {
            let err = env
                .roost(125, &["exec", "-w", dir, &c.name, "true"])
                .stderr_text();
            assert_eq!(
                err.lines().next().unwrap_or_default(),
                format!("Error: chdir to `{dir}`: Not a directory: OCI runtime error")
            );
        }
        let err = env
            .roost(127, &["exec", "-w", "/nonexistent", &c.name, "true"])
            .stderr_text();
        assert!(
            err.contains("chdir to `/nonexistent`: No such file or directory"),
            "{err}"
        );
        let err = env
            .roost(125, &["exec", "nonexistent", "true"])
            .stderr_text();
        assert_eq!(
            err.lines().next().unwrap_or_default(),
            "Error: no container with name or ID \"nonexistent\" found: no such container"
        );
        let stopped = env.safename("stopped");
        env.roost(
            0,
            &["create", "--name", &stopped, &image("busybox"), "true"],
        );
        let err = env.roost(125, &["exec", &stopped, "true"]).stderr_text();
        assert_eq!(
            err.lines().next().unwrap_or_default(),
            "Error: can only create exec sessions on running containers: container state improper"
        );
        env.roost(0, &["rm", &stopped]);
    }
    assert_no_leaks(&env);
}

#[test]
fn top_lists_the_container_processes() {
    let env = Env::new("top_lists_the_container_processes");
    {
        let c = Sleeper::start(&env, "c");
        let out = env.roost(0, &["top", &c.name]).stdout_text();
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(
            lines[0].split_whitespace().collect::<Vec<_>>(),
            [
                "USER", "PID", "PPID", "%CPU", "ELAPSED", "TTY", "TIME", "COMMAND"
            ],
            "{out}"
        );
        let row: Vec<&str> = lines[1].split_whitespace().collect();
        assert_eq!(row[..3], ["root", "1", "0"], "{out}");
        assert_eq!(row[5], "?", "{out}");
        assert_eq!(row[7..], ["sleep", "1000"], "{out}");
        assert_eq!(lines.len(), 2, "{out}");
        let out = env.roost(0, &["top", &c.name, "pid", "comm"]).stdout_text();
        assert_eq!(
            out.lines()
                .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
                .collect::<Vec<_>>(),
            ["PID COMMAND", "1 sleep"]
        );
        // ps(1) options: the host's ps in the container's pid namespace (busybox's ps in the image
        // takes no `-o` list with spaces), showing the container's processes only.
        let out = env
            .roost(0, &["top", &c.name, "-eo", "pid comm"])
            .stdout_text();
        let rows: Vec<String> = out
            .lines()
            .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
            .collect();
        assert_eq!(rows[..2], ["PID COMMAND", "1 sleep"], "{out}");
        assert!(rows[2..].iter().all(|r| r.ends_with(" ps")), "{out}");
        // Not a descriptor: ps(1) options, which ps refuses (podman: 125).
        let err = env
            .roost(125, &["top", &c.name, "--no-such-option"])
            .stderr_text();
        assert!(err.contains("ps(1) in container"), "{err}");
        env.roost(125, &["top", "nonexistent"]);
    }
    assert_no_leaks(&env);
}

#[test]
fn exec_detached_with_a_terminal() {
    let env = Env::new("exec_detached_with_a_terminal");
    {
        let c = Sleeper::start(&env, "c");
        // podman: `exec -d -t` gives the process a terminal that stays open while it runs.
        let script = "tty > /tmp/tty; if test -t 0 && test -t 1; then echo yes > /tmp/isatty; fi; \
                      echo output; sleep 1; echo done > /tmp/done";
        assert_eq!(c.exec(0, &["-d", "-t"], &["sh", "-c", script]), "");
        let deadline = Instant::now() + Duration::from_secs(20);
        while c
            .exec(0, &[], &["sh", "-c", "cat /tmp/done 2>/dev/null || true"])
            .is_empty()
        {
            assert!(
                Instant::now() < deadline,
                "the detached process did not finish"
            );
            thread::sleep(Duration::from_millis(200));
        }
        assert!(
            c.exec(0, &[], &["cat", "/tmp/tty"])
                .starts_with("/dev/pts/")
        );
        assert_eq!(c.exec(0, &[], &["cat", "/tmp/isatty"]), "yes\n");
        // Without -t, still no terminal.
        c.exec(
            0,
            &["-d"],
            &["sh", "-c", "tty > /tmp/tty2 || echo none > /tmp/tty2"],
        );
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let got = c.exec(0, &[], &["sh", "-c", "cat /tmp/tty2 2>/dev/null || true"]);
            if !got.is_empty() {
                assert_eq!(got, "none\n");
                break;
            }
            assert!(Instant::now() < deadline, "the second process did not run");
            thread::sleep(Duration::from_millis(200));
        }
    }
    assert_no_leaks(&env);
}

/// `exec -u USER` gives USER's home as HOME, unless the container's HOME was set (image or `-e`) or
/// the exec sets it (podman).
#[test]
fn exec_as_another_user_gets_their_home() {
    let env = Env::new("exec_as_another_user_gets_their_home");
    {
        let c = Sleeper::start(&env, "c");
        let home = ["sh", "-c", "echo $HOME"];
        assert_eq!(c.exec(0, &[], &home), "/root\n");
        assert_eq!(c.exec(0, &["-u", "user"], &home), "/home/user\n");
        assert_eq!(c.exec(0, &["-u", "1234"], &home), "/\n");
        assert_eq!(c.exec(0, &["-u", "user", "-e", "HOME=/x"], &home), "/x\n");
        let name = env.safename("set");
        let img = image("busybox");
        env.roost(
            0,
            &[
                "run",
                "-d",
                "--name",
                &name,
                "-e",
                "HOME=/set",
                &img,
                "sleep",
                "1000",
            ],
        );
        let out = env.roost(0, &["exec", "-u", "user", &name, "sh", "-c", "echo $HOME"]);
        assert_eq!(out.stdout_text(), "/set\n");
        env.roost(0, &["rm", "-f", "-t", "0", &name]);
    }
    assert_no_leaks(&env);
}

/// `exec --preserve-fds N` passes descriptors 3..3+N-1 on; they must have been passed to roost.
#[test]
fn exec_preserve_fds_passes_descriptors_on() {
    let env = Env::new("exec_preserve_fds_passes_descriptors_on");
    {
        let c = Sleeper::start(&env, "c");
        let file = env.home.join("fd3");
        std::fs::write(&file, "passed\n").unwrap();
        let bin = crate::harness::roost_bin().to_str().unwrap();
        let run = |flags: &str, redirect: &str| {
            let script = format!("exec \"$1\" exec {flags} \"$2\" sh -c 'cat <&3' {redirect}");
            let args = ["-c", &script, "sh", bin, &c.name, file.to_str().unwrap()];
            let mut cmd = env.command("/bin/sh", &args);
            run_with_timeout(&mut cmd, None, Duration::from_secs(60)).unwrap()
        };
        let out = run("--preserve-fds 1", "3<\"$3\"");
        assert_eq!(
            (out.status.code(), out.stdout_text().as_str()),
            (Some(0), "passed\n"),
            "{}",
            out.stderr_text()
        );
        // Not asked for: not passed on.
        let out = run("", "3<\"$3\"");
        assert!(!out.status.success() && out.stdout_text().is_empty());
        // Asked for but not passed to roost: refused.
        let out = run("--preserve-fds 1", "3<&-");
        assert_eq!(out.status.code(), Some(125));
        assert!(
            out.stderr_text()
                .contains("file descriptor 3 is not available"),
            "{}",
            out.stderr_text()
        );
    }
    assert_no_leaks(&env);
}
