//! `attach` and `start -a [-i]`: output and stdin through the monitor's attach socket.

use std::io::Write;
use std::time::{Duration, Instant};

use crate::harness::{Env, OutputExt, assert_no_leaks, image};

/// Wait for a spawned `roost` and return its output, killing it after a minute.
fn finish(child: std::process::Child) -> std::process::Output {
    let pid = child.id();
    let start = Instant::now();
    let waiter = std::thread::spawn(move || child.wait_with_output().expect("wait for roost"));
    while !waiter.is_finished() {
        if start.elapsed() > Duration::from_secs(60) {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(-(pid as i32)),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    waiter.join().expect("waiter thread")
}

#[test]
fn attach_prints_output_and_exits_with_the_container_code() {
    let env = Env::new("attach_prints_output_and_exits_with_the_container_code");
    let name = env.safename("a");
    env.roost(
        0,
        &[
            "run",
            "-d",
            "--name",
            &name,
            &image("busybox"),
            "sh",
            "-c",
            "sleep 1; echo hi; echo oops >&2; exit 3",
        ],
    );
    let first = env.roost_spawn(&["attach", &name]);
    let second = env.roost_spawn(&["attach", "--no-stdin", &name]);
    for out in [finish(first), finish(second)] {
        assert_eq!(out.status.code(), Some(3), "{out:?}");
        assert_eq!(out.stdout_text(), "hi\n");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("oops"),
            "{out:?}"
        );
    }
    // The log still has everything, and the socket is gone with the monitor.
    let logs = env.roost(0, &["logs", &name]);
    assert_eq!(logs.stdout_text(), "hi\n");
    env.roost(125, &["attach", &name]);
    env.roost(0, &["rm", &name]);
    assert_no_leaks(&env);
}

#[test]
fn start_attach_interactive_passes_stdin() {
    let env = Env::new("start_attach_interactive_passes_stdin");
    let name = env.safename("c");
    env.roost(
        0,
        &["create", "-i", "--name", &name, &image("busybox"), "cat"],
    );
    let out = env.roost_stdin(0, &["start", "-a", "-i", &name], b"hello\n");
    assert_eq!(out.stdout_text(), "hello\n");
    // Output written before anything could attach is seen too: start -a attaches first.
    let quick = env.safename("q");
    env.roost(
        0,
        &[
            "create",
            "--name",
            &quick,
            &image("busybox"),
            "echo",
            "early",
        ],
    );
    let out = env.roost(0, &["start", "-a", &quick]);
    assert_eq!(out.stdout_text(), "early\n");
    let logs = env.roost(0, &["logs", &name]);
    assert_eq!(logs.stdout_text(), "hello\n");
    env.roost(0, &["rm", &name, &quick]);
    assert_no_leaks(&env);
}

#[test]
fn attach_interactive_container_after_run_d() {
    let env = Env::new("attach_interactive_container_after_run_d");
    let name = env.safename("i");
    env.roost(
        0,
        &[
            "run",
            "-d",
            "-i",
            "--name",
            &name,
            &image("busybox"),
            "sh",
            "-c",
            "read x; echo got $x",
        ],
    );
    let mut child = env.roost_spawn(&["attach", &name]);
    child
        .stdin
        .take()
        .expect("piped stdin")
        .write_all(b"line\n")
        .expect("write stdin");
    let out = finish(child);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(out.stdout_text(), "got line\n");
    env.roost(0, &["rm", &name]);
    assert_no_leaks(&env);
}

fn state(env: &Env, name: &str) -> String {
    env.roost(0, &["inspect", "--format", "{{.State.Status}}", name])
        .stdout_text()
        .trim()
        .to_string()
}

fn wait_until(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    cond()
}

#[test]
fn detach_keys_leave_the_container_running() {
    let env = Env::new("detach_keys_leave_the_container_running");
    let name = env.safename("d");
    env.roost(
        0,
        &["run", "-d", "-i", "--name", &name, &image("busybox"), "cat"],
    );
    // podman's default ctrl-p,ctrl-q: what came before reaches the container, then we leave.
    env.roost_stdin(0, &["attach", &name], b"one\n\x10\x11two\n");
    assert_eq!(state(&env, &name), "running");
    let logged = |text: &str| {
        wait_until(Duration::from_secs(10), || {
            env.roost(0, &["logs", &name]).stdout_text() == text
        })
    };
    assert!(logged("one\n"));
    // Another sequence; a lone ctrl-p is ordinary input.
    env.roost_stdin(
        0,
        &["attach", "--detach-keys", "ctrl-a,d", &name],
        b"\x10x\n\x01d",
    );
    assert_eq!(state(&env, &name), "running");
    assert!(logged("one\n\x10x\n"));
    // Bad sequences are refused as podman does.
    let err = env
        .roost(125, &["attach", "--detach-keys", "ctrl-1", &name])
        .stderr_text();
    assert!(err.contains("invalid detach keys"), "{err}");
    // An empty sequence turns detaching off: the keys go to the container and our EOF ends `cat`.
    let out = env.roost_stdin(0, &["attach", "--detach-keys", "", &name], b"\x10\x11end\n");
    assert_eq!(out.stdout_text(), "\x10\x11end\n");
    assert!(logged("one\n\x10x\n\x10\x11end\n"));
    assert!(wait_until(Duration::from_secs(10), || state(&env, &name) == "exited"));
    // start -a -i takes the keys too.
    env.roost_stdin(0, &["start", "-a", "-i", &name], b"again\n\x10\x11");
    assert_eq!(state(&env, &name), "running");
    assert!(logged("one\n\x10x\n\x10\x11end\nagain\n"));
    env.roost(0, &["rm", "-f", "-t", "0", &name]);
    assert_no_leaks(&env);
}

#[test]
fn attach_relays_a_terminal() {
    let env = Env::new("attach_relays_a_terminal");
    let name = env.safename("t");
    env.roost(
        0,
        &[
            "run",
            "-d",
            "-i",
            "-t",
            "--name",
            &name,
            &image("busybox"),
            "sh",
            "-c",
            "read x; stty size; tty; echo got:$x",
        ],
    );
    // `script` gives the client a terminal of a known size; the container's pty takes that size.
    let cmd = format!(
        "stty rows 33 cols 77; exec {} attach {name}",
        crate::harness::roost_bin().display()
    );
    // The client has its terminal in raw mode once it passed the size on.
    let attached: Ready = Box::new(|_| pty_size(&env, &name) == "33 77");
    let out = in_terminal(&env, &cmd, &[(attached, b"hello\r")]);
    let text = out.stdout_text();
    assert!(text.contains("33 77\r\n"), "{text:?}");
    assert!(text.contains("/dev/pts/0\r\n"), "{text:?}");
    assert!(text.contains("got:hello\r\n"), "{text:?}");
    // The terminal's output is the log's stdout.
    let logs = env.roost(0, &["logs", &name]).stdout_text();
    assert!(logs.contains("got:hello"), "{logs:?}");
    assert_eq!(
        env.roost(0, &["inspect", "--format", "{{.State.ExitCode}}", &name])
            .stdout_text()
            .trim(),
        "0"
    );
    env.roost(0, &["rm", &name]);
    assert_no_leaks(&env);
}

#[test]
fn sig_proxy_forwards_signals_unless_turned_off() {
    let env = Env::new("sig_proxy_forwards_signals_unless_turned_off");
    let name = env.safename("s");
    env.roost(
        0,
        &[
            "run",
            "-d",
            "--name",
            &name,
            &image("busybox"),
            "sh",
            "-c",
            "trap 'echo got-int' INT; echo ready; while true; do echo tick; sleep 0.2; done",
        ],
    );
    assert!(wait_until(Duration::from_secs(10), || env
        .roost(0, &["logs", &name])
        .stdout_text()
        .contains("ready")));
    // The client relays (and so proxies signals) once the container's output reaches it.
    let relaying = |child: &mut std::process::Child| {
        use std::io::Read;
        let mut out = child.stdout.take().expect("piped stdout");
        let mut byte = [0u8; 1];
        assert_eq!(out.read(&mut byte).expect("read attach output"), 1);
        // Keep reading so the client never blocks on a full pipe.
        std::thread::spawn(move || std::io::copy(&mut out, &mut std::io::sink()));
    };
    // Ctrl-C at a terminal: SIGINT to the client's whole process group.
    let ctrl_c = |child: &std::process::Child| {
        let _ = nix::sys::signal::killpg(
            nix::unistd::Pid::from_raw(child.id() as i32),
            nix::sys::signal::Signal::SIGINT,
        );
    };
    // --sig-proxy=false: the signal is the client's own (it ends), the container never sees it.
    let mut off = env.roost_spawn(&["attach", "--sig-proxy=false", &name]);
    relaying(&mut off);
    ctrl_c(&off);
    let _ = finish(off);
    // Had the container seen the SIGINT, its trap would have logged before the next ticks.
    let ticks = |env: &Env| {
        env.roost(0, &["logs", &name])
            .stdout_text()
            .matches("tick")
            .count()
    };
    let seen = ticks(&env);
    assert!(wait_until(Duration::from_secs(10), || ticks(&env) >= seen + 3));
    assert!(
        !env.roost(0, &["logs", &name])
            .stdout_text()
            .contains("got-int")
    );
    assert_eq!(state(&env, &name), "running");
    // The default forwards it.
    let mut on = env.roost_spawn(&["attach", &name]);
    relaying(&mut on);
    ctrl_c(&on);
    assert!(wait_until(Duration::from_secs(10), || env
        .roost(0, &["logs", &name])
        .stdout_text()
        .contains("got-int")));
    env.roost(0, &["rm", "-f", "-t", "0", &name]);
    let _ = finish(on);
    assert_no_leaks(&env);
}

/// What a step of [`in_terminal`] waits for before it types.
type Ready<'a> = Box<dyn Fn(&str) -> bool + 'a>;

/// `script -qec CMD` as the test user: for each step, wait until `ready` holds (it is given the
/// terminal's output so far), then type its input; then wait for `script` to end (stdin still
/// open: its end would be a ^D to the terminal); its output.
fn in_terminal(env: &Env, cmd: &str, steps: &[(Ready, &[u8])]) -> std::process::Output {
    use std::io::Read;
    use std::sync::{Arc, Mutex};
    let mut child = env.command("script", &["-qec", cmd, "/dev/null"]);
    child
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = child.spawn().expect("spawn script");
    let mut stdin = child.stdin.take().unwrap();
    let mut out = child.stdout.take().unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let reader = {
        let seen = Arc::clone(&seen);
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n @ 1..) = out.read(&mut buf) {
                seen.lock().unwrap().extend_from_slice(&buf[..n]);
            }
        })
    };
    let text = || String::from_utf8_lossy(&seen.lock().unwrap()).into_owned();
    for (ready, input) in steps {
        assert!(
            wait_until(Duration::from_secs(30), || ready(&text())),
            "the terminal never got ready for {:?}; output so far: {:?}",
            String::from_utf8_lossy(input),
            text()
        );
        stdin.write_all(input).unwrap();
    }
    let mut output = finish(child);
    drop(stdin);
    reader.join().expect("reader thread");
    output.stdout = seen.lock().unwrap().clone();
    output
}

/// The size (`ROWS COLS`) of container `name`'s terminal, as `stty` inside it reports it.
fn pty_size(env: &Env, name: &str) -> String {
    let out = env
        .roost_cmd(&["exec", name, "stty", "-F", "/dev/pts/0", "size"])
        .output()
        .expect("run roost exec");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[test]
fn run_it_detaches_and_attach_takes_over() {
    let env = Env::new("run_it_detaches_and_attach_takes_over");
    env.roost(0, &["pull", "-q", &image("busybox")]);
    let name = env.safename("it");
    let bin = crate::harness::roost_bin().display().to_string();
    // podman's default keys leave `run -it` and the container runs on.
    let run = format!("{bin} run -it --rm --name {name} {} sh", image("busybox"));
    let prompt: Ready = Box::new(|out| out.contains("# "));
    let answered: Ready = Box::new(|out| out.contains("hi-3"));
    let steps = [
        (prompt, &b"echo hi-$((1+2))\r"[..]),
        (answered, b"\x10\x11"),
    ];
    let out = in_terminal(&env, &run, &steps);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(out.stdout_text().contains("hi-3"), "{out:?}");
    assert_eq!(state(&env, &name), "running");
    // attach picks it up, in a terminal of another size, and gets its exit code.
    let attach = format!("stty rows 21 cols 51; {bin} attach {name}; echo rc=$?");
    let attached: Ready = Box::new(|_| pty_size(&env, &name) == "21 51");
    let out = in_terminal(&env, &attach, &[(attached, b"stty size; exit 5\r")]);
    let text = out.stdout_text();
    assert!(text.contains("21 51\r\n"), "{text:?}");
    assert!(text.contains("rc=5"), "{text:?}");
    // --rm: the monitor removed it.
    assert!(wait_until(Duration::from_secs(10), || env
        .roost(0, &["ps", "-a", "-q"])
        .stdout_text()
        .is_empty()));
    assert_no_leaks(&env);
}

/// `logs NAME`'s stdout, empty while there is no such container yet.
fn logs_text(env: &Env, name: &str) -> String {
    let out = env
        .roost_cmd(&["logs", name])
        .output()
        .expect("run roost logs");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn run_sig_proxy_false_keeps_signals_from_the_container() {
    let env = Env::new("run_sig_proxy_false_keeps_signals_from_the_container");
    env.roost(0, &["pull", "-q", &image("busybox")]);
    let script = "trap 'echo got-int' INT; echo ready; while true; do sleep 0.1; done";
    for proxy in [true, false] {
        let name = env.safename(if proxy { "on" } else { "off" });
        let flag = format!("--sig-proxy={proxy}");
        let mut child = env.roost_spawn(&[
            "run",
            &flag,
            "--name",
            &name,
            &image("busybox"),
            "sh",
            "-c",
            script,
        ]);
        // run copies the container's output once it proxies signals.
        {
            use std::io::Read;
            let mut out = child.stdout.take().expect("piped stdout");
            let mut byte = [0u8; 1];
            assert_eq!(out.read(&mut byte).expect("read run output"), 1);
            std::thread::spawn(move || std::io::copy(&mut out, &mut std::io::sink()));
        }
        let _ = nix::sys::signal::killpg(
            nix::unistd::Pid::from_raw(child.id() as i32),
            nix::sys::signal::Signal::SIGINT,
        );
        let got = wait_until(Duration::from_secs(if proxy { 10 } else { 2 }), || {
            logs_text(&env, &name).contains("got-int")
        });
        assert_eq!(got, proxy, "--sig-proxy={proxy}");
        env.roost(0, &["rm", "-f", "-t", "0", &name]);
        let _ = finish(child);
    }
    assert_no_leaks(&env);
}
