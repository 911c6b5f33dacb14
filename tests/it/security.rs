//! Security defaults and regressions: capabilities, seccomp, no-new-privileges, masked paths, no host
//! descriptor in the container (CVE-2024-21626), no way to reach the roost binary (CVE-2019-5736),
//! rlimits, and clear errors for what this machine cannot do.
use crate::harness::*;
use crate::store::pull;

fn status_field(env: &Env, extra: &[&str], field: &str) -> String {
    let mut args = vec!["run", "--rm"];
    args.extend_from_slice(extra);
    let img = image("busybox");
    args.extend_from_slice(&[&img, "grep", field, "/proc/self/status"]);
    let out = env.roost(0, &args);
    out.stdout_text()
        .split_whitespace()
        .nth(1)
        .unwrap_or_default()
        .to_string()
}

#[test]
fn podman_default_capabilities_and_seccomp() {
    let env = Env::new("podman_default_capabilities_and_seccomp");
    pull(&env, "busybox");
    // CHOWN DAC_OVERRIDE FOWNER FSETID KILL NET_BIND_SERVICE SETFCAP SETGID SETPCAP SETUID SYS_CHROOT
    assert_eq!(status_field(&env, &[], "CapEff:"), "00000000800405fb");
    assert_eq!(status_field(&env, &[], "CapBnd:"), "00000000800405fb");
    assert_eq!(
        status_field(&env, &[], "Seccomp:"),
        "2",
        "the default seccomp filter is loaded"
    );
    // A non-root user keeps the set in the bounding set only.
    assert_eq!(
        status_field(&env, &["-u", "user"], "CapEff:"),
        "0000000000000000"
    );
    assert_eq!(
        status_field(&env, &["-u", "user"], "CapBnd:"),
        "00000000800405fb"
    );
    assert_eq!(
        status_field(&env, &["--cap-drop", "ALL"], "CapBnd:"),
        "0000000000000000"
    );
    assert_eq!(
        status_field(
            &env,
            &["--cap-drop", "ALL", "--cap-add", "net_admin"],
            "CapEff:"
        ),
        "0000000000001000"
    );
    assert_eq!(status_field(&env, &["--privileged"], "Seccomp:"), "0");
    assert_eq!(
        status_field(&env, &["--security-opt", "seccomp=unconfined"], "Seccomp:"),
        "0"
    );
    assert_eq!(
        status_field(
            &env,
            &["--security-opt", "no-new-privileges"],
            "NoNewPrivs:"
        ),
        "1"
    );
    assert_eq!(
        status_field(&env, &["--security-opt", "no-new-privileges"], "Seccomp:"),
        "2"
    );
    // The filter and the capability set bite: sethostname needs CAP_SYS_ADMIN.
    let out = env.roost(1, &["run", "--rm", &image("busybox"), "hostname", "other"]);
    assert!(
        out.stderr_text().contains("not permitted"),
        "{}",
        out.stderr_text()
    );
    env.roost(
        0,
        &[
            "run",
            "--rm",
            "--privileged",
            &image("busybox"),
            "hostname",
            "other",
        ],
    );
    assert_no_leaks(&env);
}

#[test]
fn masked_and_read_only_paths() {
    let env = Env::new("masked_and_read_only_paths");
    pull(&env, "busybox");
    let img = image("busybox");
    let out = env.roost(0, &["run", "--rm", &img, "sh", "-c", "wc -c < /proc/timer_list; ls /proc/acpi | wc -l; echo 1 > /proc/sys/kernel/domainname; echo rc=$?"]);
    let text = out.stdout_text();
    assert!(
        text.starts_with("0\n0\n"),
        "/proc/timer_list and /proc/acpi are masked: {text}"
    );
    assert!(
        text.contains("rc=1") || text.contains("rc=2"),
        "/proc/sys is read-only: {text}"
    );
    assert_no_leaks(&env);
}

#[test]
fn no_host_descriptor_reaches_the_container() {
    // CVE-2024-21626: a descriptor open in roost's caller must not be visible in the container.
    let env = Env::new("no_host_descriptor_reaches_the_container");
    pull(&env, "busybox");
    let bin = roost_bin().display().to_string();
    let script = format!(
        "exec 7</etc/hostname 8<{home}; {bin} run --rm {img} ls /proc/self/fd",
        home = "/",
        img = image("busybox")
    );
    let out = env.run_as_user(0, "sh", &["-c", &script]);
    let fds: Vec<String> = out.stdout_text().lines().map(str::to_string).collect();
    // 0-2 are stdio, 3 is ls's own directory handle; 7 and 8 must not be there.
    assert_eq!(
        fds,
        ["0", "1", "2", "3"],
        "descriptors in the container: {fds:?}"
    );
    assert_no_leaks(&env);
}

#[test]
fn the_roost_binary_cannot_be_reached_from_inside() {
    // CVE-2019-5736: with --init, pid 1 is roost's own code; its /proc/1/exe (the host binary) must be
    // neither readable nor writable by the container's processes.
    let env = Env::new("the_roost_binary_cannot_be_reached_from_inside");
    pull(&env, "busybox");
    let img = image("busybox");
    let out = env.roost(0, &[
        "run", "--rm", "--init", &img, "sh", "-c",
        "cat /proc/1/exe >/dev/null 2>&1 && echo read; echo x 2>/dev/null >> /proc/1/exe && echo wrote; echo done",
    ]);
    assert_eq!(out.stdout_text(), "done\n");
    assert_no_leaks(&env);
}

#[test]
fn ulimits_apply_and_bad_ones_are_refused() {
    let env = Env::new("ulimits_apply_and_bad_ones_are_refused");
    pull(&env, "busybox");
    let img = image("busybox");
    let out = env.roost(
        0,
        &[
            "run",
            "--rm",
            "--ulimit",
            "nofile=100:200",
            &img,
            "sh",
            "-c",
            "ulimit -n; ulimit -Hn",
        ],
    );
    assert_eq!(out.stdout_text(), "100\n200\n");
    let out = env.roost(125, &["run", "--rm", "--ulimit", "bogus=1", &img, "true"]);
    assert!(
        out.stderr_text().contains("ulimit"),
        "{}",
        out.stderr_text()
    );
    assert_no_leaks(&env);
}

#[test]
fn pause_says_why_it_cannot() {
    let env = Env::new("pause_says_why_it_cannot");
    let out = env.roost(125, &["pause", "whatever"]);
    assert!(
        out.stderr_text().contains("cgroup"),
        "{}",
        out.stderr_text()
    );
}

/// In a privileged container (every capability in roost's user namespace, `CAP_SYS_PTRACE` too): open
/// every `/proc/PID/exe` it can, keep what it got, and write through all of it, round after round.
const EXE_ATTACK: &str = r#"
held=""; fd=10; n=0
while :; do
  for e in /proc/[0-9]*/exe; do
    [ "$e" = /proc/$$/exe ] && continue
    # `command`: a failed redirection of `exec` must not end the shell
    if [ $fd -lt 60 ] && eval "command exec $fd<$e" 2>/dev/null; then held="$held $fd"; fd=$((fd+1)); fi
    echo PWNED-BY-CONTAINER 2>/dev/null >>"$e"
  done
  for h in $held; do echo PWNED-BY-CONTAINER 2>/dev/null >>/proc/self/fd/$h; done
  n=$((n+1)); echo $n >/tmp/rounds
done
"#;

fn attack_rounds(env: &Env, bin: &std::path::Path, name: &str) -> u64 {
    let out = env
        .command(bin, &["exec", name, "cat", "/tmp/rounds"])
        .output()
        .expect("run roost exec");
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .unwrap_or(0)
}

#[test]
fn the_roost_binary_cannot_be_written_through_proc_exe() {
    // CVE-2019-5736 class: the binary is the user's own (as `cargo install` leaves it), so a container
    // whose root is the user on the host could write it through any descriptor of it. Every roost
    // process a container could reach must run a read-only view of it.
    let env = Env::new("the_roost_binary_cannot_be_written_through_proc_exe");
    pull(&env, "busybox");
    let bin_dir = env.home.join("bin");
    std::fs::create_dir(&bin_dir).unwrap();
    let bin = bin_dir.join("roost");
    std::fs::copy(roost_bin(), &bin).unwrap();
    let user = env.user();
    if user.switch {
        for p in [&bin_dir, &bin] {
            std::os::unix::fs::chown(p, Some(user.uid), Some(user.gid)).unwrap();
        }
    }
    let original = std::fs::read(&bin).unwrap();
    let name = env.safename("attacker");
    let img = image("busybox");
    let run = [
        "run",
        "-d",
        "--privileged",
        "--name",
        &name,
        &img,
        "sh",
        "-c",
        EXE_ATTACK,
    ];
    let out = env.command(&bin, &run).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let id = String::from_utf8_lossy(&out.stdout).trim().to_string();

    // The monitor (the roost process closest to the container) runs a read-only view of the binary.
    let monitors = pids_with_cmdline(&["__monitor", &id]);
    assert_eq!(monitors.len(), 1, "one monitor: {monitors:?}");
    let exe = std::fs::File::open(format!("/proc/{}/exe", monitors[0])).unwrap();
    let flags = nix::sys::statvfs::fstatvfs(&exe).unwrap().flags();
    assert!(
        flags.contains(nix::sys::statvfs::FsFlags::ST_RDONLY),
        "the monitor's /proc/PID/exe is on a writable mount ({flags:?})"
    );
    drop(exe);

    // Processes that join the container meanwhile: plain, detached and with a terminal.
    for args in [&["exec"][..], &["exec", "-d"], &["exec", "-t"]] {
        for _ in 0..5 {
            let mut a = args.to_vec();
            a.extend_from_slice(&[&name, "true"]);
            let st = env.command(&bin, &a).status().unwrap();
            assert!(st.success(), "roost {a:?}: {st}");
        }
    }
    // The monitor dies: nothing of roost's keeps the binary busy, and the container goes on with
    // whatever it holds.
    let seen = attack_rounds(&env, &bin, &name);
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(monitors[0]),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    assert!(
        wait_for(std::time::Duration::from_secs(30), || attack_rounds(
            &env, &bin, &name
        ) >= seen + 3),
        "the attacker stopped making rounds"
    );
    let out = env
        .command(&bin, &["rm", "-f", "-t", "0", &name])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        std::fs::read(&bin).unwrap() == original,
        "the container wrote the roost binary"
    );
    assert_no_leaks(&env);
}

/// What a `roost` command run on a terminal left behind: its status, what it printed on the
/// terminal, and the input still waiting on it (what a shell would read next).
struct OnTerminal {
    code: Option<i32>,
    output: String,
    pending_input: String,
}

/// Read what `fd` has now, without waiting.
fn read_available(fd: &std::os::fd::OwnedFd) -> String {
    use nix::fcntl::{FcntlArg, OFlag, fcntl};
    fcntl(fd, FcntlArg::F_SETFL(OFlag::O_NONBLOCK)).expect("set O_NONBLOCK");
    let mut all = Vec::new();
    let mut buf = [0u8; 4096];
    while let Ok(n) = nix::unistd::read(fd, &mut buf) {
        if n == 0 {
            break;
        }
        all.extend_from_slice(&buf[..n]);
    }
    String::from_utf8_lossy(&all).into_owned()
}

/// Run `roost ARGS` as an interactive shell would: a new session whose controlling terminal (a pty
/// of ours, in raw mode) is its stdin, stdout and stderr; `typed` is typed on it first.
fn on_terminal(env: &Env, args: &[&str], typed: &[u8]) -> OnTerminal {
    on_terminal_in(env, args, typed, true)
}

/// [`on_terminal`], with the terminal in raw mode or as a shell leaves it (line editing, echo).
fn on_terminal_in(env: &Env, args: &[&str], typed: &[u8], raw: bool) -> OnTerminal {
    use std::os::unix::process::CommandExt;
    let pty = nix::pty::openpty(None, None).expect("openpty");
    if raw {
        let mut mode = nix::sys::termios::tcgetattr(&pty.slave).expect("tcgetattr");
        nix::sys::termios::cfmakeraw(&mut mode);
        nix::sys::termios::tcsetattr(&pty.slave, nix::sys::termios::SetArg::TCSANOW, &mode)
            .expect("tcsetattr");
    }
    let mut cmd = std::process::Command::new(roost_bin());
    cmd.args(args)
        .env_clear()
        .envs(env.vars())
        .current_dir(&env.home);
    for (i, target) in ["stdin", "stdout", "stderr"].iter().enumerate() {
        let fd = pty.slave.try_clone().expect("dup the pty slave");
        match i {
            0 => cmd.stdin(fd),
            1 => cmd.stdout(fd),
            _ => cmd.stderr(fd),
        };
        let _ = target;
    }
    if env.user().switch {
        cmd.uid(env.user().uid).gid(env.user().gid);
    }
    // SAFETY: runs in the forked child before exec, where only async-signal-safe calls are allowed:
    // setsid(2) and ioctl(2) with an integer argument, on descriptor 0 which the child owns.
    unsafe {
        cmd.pre_exec(|| {
            if libc::setsid() < 0 || libc::ioctl(0, libc::TIOCSCTTY, 0) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let line = render(&cmd);
    let mut child = cmd.spawn().unwrap_or_else(|e| panic!("spawn {line}: {e}"));
    nix::unistd::write(&pty.master, typed).expect("type on the terminal");
    let mut status = None;
    let exited = wait_for(env.timeout, || {
        status = child.try_wait().expect("wait");
        status.is_some()
    });
    if !exited {
        let _ = child.kill();
        let _ = child.wait();
    }
    let result = OnTerminal {
        code: status.and_then(|s| s.code()),
        output: read_available(&pty.master),
        pending_input: read_available(&pty.slave),
    };
    assert!(
        exited,
        "{line} did not end on a terminal; it printed:\n{}",
        result.output
    );
    result
}

/// The report of tests/it/tiocsti.c (run in the container) shows no terminal of ours: no
/// controlling terminal, no terminal descriptor, a session of its own, no input typed into ours.
fn assert_no_terminal_reached(how: &str, t: &OnTerminal) {
    let report: std::collections::HashMap<&str, &str> = t
        .output
        .lines()
        .filter_map(|l| l.trim_end_matches('\r').split_once('='))
        .collect();
    let get = |k: &str| {
        *report
            .get(k)
            .unwrap_or_else(|| panic!("{how}: no `{k}` in the output:\n{}", t.output))
    };
    assert_eq!(t.code, Some(0), "{how}: exit status; output:\n{}", t.output);
    assert_eq!(get("tty_nr"), "0", "{how}: controlling terminal");
    assert_eq!(get("own_session"), "1", "{how}: its own session");
    assert_ne!(get("devtty"), "ok", "{how}: /dev/tty let it type");
    for fd in 0..3 {
        assert!(
            !get(&format!("fd{fd}")).contains("pts"),
            "{how}: fd {fd} is a terminal: {}",
            t.output
        );
        assert_eq!(
            get(&format!("isatty{fd}")),
            "0",
            "{how}: fd {fd} is a terminal"
        );
        assert_ne!(get(&format!("sti{fd}")), "ok", "{how}: fd {fd} let it type");
    }
    assert!(
        !t.pending_input.contains("roost-injected"),
        "{how}: the container typed into our terminal: {:?}",
        t.pending_input
    );
}

/// TIOCSTI: a container given the user's terminal could type commands that the user's shell runs
/// once roost returns. No container process gets a terminal of ours (without `-t`), nor one as its
/// controlling terminal, whichever way it is started.
#[test]
fn a_container_cannot_type_into_the_callers_terminal() {
    let env = env_with_busybox("a_container_cannot_type_into_the_callers_terminal");
    let img = image("busybox");
    let tools = archives_dir().parent().unwrap().join("tools");
    let bind = format!("{}:/tools:ro", tools.display());
    let helper = "/tools/tiocsti";
    for extra in [&[][..], &["-i"][..]] {
        let mut args = vec!["run", "--rm", "--network", "none", "-v", &bind];
        args.extend_from_slice(extra);
        args.extend_from_slice(&[&img, helper]);
        let t = on_terminal(&env, &args, b"");
        assert_no_terminal_reached(&format!("run {extra:?}"), &t);
    }

    let name = env.safename("exec");
    env.roost(
        0,
        &[
            "run", "-d", "--name", &name, "-v", &bind, &img, "sleep", "600",
        ],
    );
    for extra in [&[][..], &["-i"][..]] {
        let mut args = vec!["exec"];
        args.extend_from_slice(extra);
        args.extend_from_slice(&[&name, helper]);
        let t = on_terminal(&env, &args, b"");
        assert_no_terminal_reached(&format!("exec {extra:?}"), &t);
    }
    env.roost(0, &["rm", "-f", "-t", "0", &name]);

    let name = env.safename("start");
    env.roost(
        0,
        &["create", "-i", "--name", &name, "-v", &bind, &img, helper],
    );
    let t = on_terminal(&env, &["start", "-a", "-i", &name], b"");
    assert_no_terminal_reached("start -a -i", &t);
    env.roost(0, &["rm", "-f", &name]);

    // The container waits for a line typed through `attach`, then reports.
    let name = env.safename("attach");
    let script = format!("read line; exec {helper}");
    env.roost(
        0,
        &[
            "run", "-d", "-i", "--name", &name, "-v", &bind, &img, "sh", "-c", &script,
        ],
    );
    let t = on_terminal(&env, &["attach", &name], b"go\n");
    assert_no_terminal_reached("attach", &t);
    env.roost(0, &["rm", "-f", &name]);

    // A build step's output goes to the terminal too.
    let dir = env.home.join("tiocsti-build");
    std::fs::create_dir(&dir).unwrap();
    std::fs::copy(tools.join("tiocsti"), dir.join("tiocsti")).unwrap();
    let dockerfile = format!("FROM {img}\nCOPY tiocsti /tiocsti\nRUN /tiocsti\n");
    std::fs::write(dir.join("Containerfile"), dockerfile).unwrap();
    let ctx = dir.to_str().unwrap();
    let tag = env.safename("tiocsti");
    let t = on_terminal(&env, &["build", "-t", &tag, ctx], b"");
    assert_no_terminal_reached("build RUN", &t);
}

/// What is typed on the terminal still reaches `run -i` and `exec -i` (through the relay), and the
/// end of input (ctrl-d) ends their stdin.
#[test]
fn a_terminal_is_relayed_with_its_end_of_input() {
    let env = env_with_busybox("a_terminal_is_relayed_with_its_end_of_input");
    let img = image("busybox");
    let name = env.safename("exec");
    env.roost(0, &["run", "-d", "--name", &name, &img, "sleep", "600"]);
    let cases: [&[&str]; 2] = [
        &["run", "--rm", "--network", "none", "-i", &img, "sh", "-c"],
        &["exec", "-i", &name, "sh", "-c"],
    ];
    for case in cases {
        let mut args = case.to_vec();
        args.push("cat; echo stdin-ended; echo to-stderr >&2");
        // Line editing as a shell leaves it: ctrl-d at the start of a line is the end of input.
        let t = on_terminal_in(&env, &args, b"typed-line\n\x04", false);
        assert_eq!(t.code, Some(0), "{case:?}: {}", t.output);
        let lines: Vec<&str> = t.output.lines().map(|l| l.trim_end_matches('\r')).collect();
        // The terminal echoes the line, the container prints it back.
        assert_eq!(
            lines.iter().filter(|l| **l == "typed-line").count(),
            2,
            "{case:?}: {}",
            t.output
        );
        assert!(lines.contains(&"stdin-ended"), "{case:?}: {}", t.output);
        assert!(lines.contains(&"to-stderr"), "{case:?}: {}", t.output);
    }
    env.roost(0, &["rm", "-f", "-t", "0", &name]);
}

#[test]
fn container_processes_start_with_default_signal_dispositions() {
    // Ignored dispositions survive execve: roost's (Rust ignores SIGPIPE) must not reach the
    // container, or `yes | head` never ends by SIGPIPE.
    let env = Env::new("container_processes_start_with_default_signal_dispositions");
    pull(&env, "busybox");
    let img = image("busybox");
    let out = env.roost(
        0,
        &["run", "--rm", &img, "grep", "SigIgn", "/proc/self/status"],
    );
    assert_roost_ignores_nothing(&out.stdout_text());
    let name = env.safename("c");
    env.roost(0, &["run", "-d", "--name", &name, &img, "sleep", "300"]);
    let out = env.roost(0, &["exec", &name, "grep", "SigIgn", "/proc/self/status"]);
    assert_roost_ignores_nothing(&out.stdout_text());
    env.roost(0, &["rm", "-f", "-t", "0", &name]);
    assert_no_leaks(&env);
}

/// SigIgn of `/proc/PID/status` has none of the signals roost or Rust's runtime ignore (PIPE, INT,
/// QUIT, HUP, TERM, TTIN, TTOU, TSTP, CHLD): whatever else the caller ignored is theirs to pass on.
fn assert_roost_ignores_nothing(status_line: &str) {
    let mask = u64::from_str_radix(status_line.split_whitespace().nth(1).unwrap_or("x"), 16)
        .unwrap_or_else(|_| panic!("not a SigIgn line: {status_line:?}"));
    let ours = [13u32, 2, 3, 1, 15, 21, 22, 20, 17]
        .iter()
        .fold(0u64, |m, s| m | 1 << (s - 1));
    assert_eq!(mask & ours, 0, "ignored in the container: {mask:016x}");
}

/// An image whose /etc is a symlink to an absolute path that exists on the host: the files roost
/// binds on /etc/hosts, /etc/hostname and /etc/resolv.conf are placed by the container's view of
/// that path (inside its root), never created in the host's directory.
#[test]
fn an_image_symlink_cannot_place_roosts_etc_files_on_the_host() {
    let env = Env::new("etc_symlink_stays_inside");
    let bait = env.home.join(env.safename("bait"));
    env.run_as_user(0, "mkdir", &["-p", bait.to_str().unwrap()]);
    let ctx = env.home.join(env.safename("ctx"));
    let ctx_s = ctx.display().to_string();
    env.run_as_user(0, "mkdir", &["-p", &format!("{ctx_s}/root")]);
    env.run_as_user(
        0,
        "ln",
        &["-s", bait.to_str().unwrap(), &format!("{ctx_s}/root/etc")],
    );
    let containerfile = format!(
        "FROM {} AS base\nFROM scratch\nCOPY --from=base /bin /bin\nCOPY root/ /\n",
        crate::harness::bb()
    );
    env.run_as_user(
        0,
        "sh",
        &[
            "-c",
            &format!("printf '%s' '{containerfile}' > {ctx_s}/Containerfile"),
        ],
    );
    let tag = env.safename("etc-link");
    env.roost(0, &["build", "-q", "-t", &tag, &ctx_s]);
    let hosts = env
        .roost(0, &["run", "--rm", &tag, "cat", "/etc/hosts"])
        .stdout_text();
    assert!(
        hosts.contains("localhost"),
        "the container's /etc/hosts: {hosts}"
    );
    let left: Vec<_> = std::fs::read_dir(&bait)
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert!(left.is_empty(), "files created on the host: {left:?}");
    env.roost(0, &["rmi", "-f", &tag]);
}
