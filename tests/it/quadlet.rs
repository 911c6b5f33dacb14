//! Quadlet (podman-systemd.unit(5)) and `--sdnotify`, on the build machine (no systemd here: the
//! VM scenario tests/vm/scenarios/quadlet.sh runs the units for real). The generated units are
//! checked against podman's documented layout; `quadlet install|list|print|rm` round trip without a
//! user manager; the notify socket is a datagram socket the test listens on.
use std::os::unix::fs::{PermissionsExt, chown};
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::harness::*;

/// Write `text` to `path` as the test user's file (its directories too).
fn write_as_user(env: &Env, path: &Path, text: &str) {
    let mut made = Vec::new();
    let mut p = path.parent();
    while let Some(d) = p.filter(|d| !d.exists()) {
        made.push(d.to_path_buf());
        p = d.parent();
    }
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
    let u = env.user();
    for f in made.iter().map(PathBuf::as_path).chain([path]) {
        chown(f, Some(u.uid), Some(u.gid)).unwrap();
    }
}

fn quadlet_dir(env: &Env) -> PathBuf {
    env.config.join("containers/systemd")
}

/// The values of `key` in `[group]` of a unit's text.
fn values(text: &str, group: &str, key: &str) -> Vec<String> {
    let mut current = String::new();
    let mut out = Vec::new();
    for l in text.lines() {
        if let Some(g) = l.strip_prefix('[').and_then(|g| g.strip_suffix(']')) {
            current = g.to_string();
        } else if current == group
            && let Some(v) = l.strip_prefix(&format!("{key}="))
        {
            out.push(v.to_string());
        }
    }
    out
}

/// The `---NAME---` sections of `--dryrun` output.
fn units(dryrun: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for l in dryrun.lines() {
        if let Some(n) = l.strip_prefix("---").and_then(|l| l.strip_suffix("---")) {
            out.push((n.to_string(), String::new()));
        } else if let Some((_, t)) = out.last_mut() {
            t.push_str(l);
            t.push('\n');
        }
    }
    out
}

const WEB: &str = "[Unit]\nDescription=web server\n\n[Container]\nImage=busybox\nPublishPort=127.0.0.1:8080:80\nVolume=www.volume:/www:ro\nEnvironment=GREETING=hello \"NAME=roost user\"\nHealthCmd=wget -q -O /dev/null http://127.0.0.1/\nExec=httpd -f -p 80 -h /www\n\n[Service]\nRestart=always\n\n[Install]\nWantedBy=default.target\n";

#[test]
fn dryrun_makes_podmans_unit_layout() {
    let env = Env::new("quadlet_dryrun");
    let dir = quadlet_dir(&env);
    write_as_user(&env, &dir.join("web.container"), WEB);
    write_as_user(&env, &dir.join("www.volume"), "[Volume]\nLabel=app=web\n");
    write_as_user(
        &env,
        &dir.join("web.container.d/10-more.conf"),
        "[Container]\nLabel=tier=front\n",
    );
    let text = out(&env, &["quadlet", "generate", "--dryrun"]);
    let units = units(&text);
    let names: Vec<&str> = units.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["www-volume.service", "web.service"], "{text}");
    let roost = roost_bin().canonicalize().unwrap();
    let roost = roost.display();

    let web = &units[1].1;
    assert_eq!(
        values(web, "Service", "ExecStart"),
        [format!(
            "{roost} run --name systemd-%N --replace --rm --cgroups=split --sdnotify=conmon -d -v systemd-www:/www:ro --publish 127.0.0.1:8080:80 --env GREETING=hello --env \"NAME=roost user\" --label tier=front --health-cmd \"wget -q -O /dev/null http://127.0.0.1/\" busybox httpd -f -p 80 -h /www"
        )],
        "{web}"
    );
    for (key, want) in [
        ("Type", "notify"),
        ("NotifyAccess", "all"),
        ("KillMode", "mixed"),
        ("Delegate", "yes"),
        ("SyslogIdentifier", "%N"),
        ("Restart", "always"),
    ] {
        assert_eq!(values(web, "Service", key), [want], "{key} in {web}");
    }
    assert_eq!(
        values(web, "Service", "Environment"),
        ["PODMAN_SYSTEMD_UNIT=%n"]
    );
    assert_eq!(
        values(web, "Service", "ExecStop"),
        [format!("{roost} rm -v -f -i systemd-%N")]
    );
    assert_eq!(
        values(web, "Service", "ExecStopPost"),
        [format!("-{roost} rm -v -f -i systemd-%N")]
    );
    assert_eq!(values(web, "Unit", "Requires"), ["www-volume.service"]);
    assert_eq!(values(web, "Unit", "After"), ["www-volume.service"]);
    assert_eq!(values(web, "Unit", "RequiresMountsFor"), ["%t/containers"]);
    assert_eq!(
        values(web, "Unit", "SourcePath"),
        [dir.join("web.container").display().to_string()]
    );
    assert_eq!(values(web, "Install", "WantedBy"), ["default.target"]);
    assert_eq!(values(web, "X-Container", "Image"), ["busybox"]);

    let vol = &units[0].1;
    assert_eq!(
        values(vol, "Service", "ExecStart"),
        [format!(
            "{roost} volume create --ignore --label app=web systemd-www"
        )]
    );
    assert_eq!(values(vol, "Service", "Type"), ["oneshot"]);
    assert_eq!(values(vol, "Service", "RemainAfterExit"), ["yes"]);
}

#[test]
fn the_generator_writes_units_and_install_links() {
    let env = Env::new("quadlet_generator");
    let dir = quadlet_dir(&env);
    write_as_user(&env, &dir.join("web.container"), WEB);
    write_as_user(&env, &dir.join("www.volume"), "[Volume]\n");
    write_as_user(
        &env,
        &dir.join("net.network"),
        "[Network]\nSubnet=10.89.7.0/24\nGateway=10.89.7.1\n",
    );
    write_as_user(
        &env,
        &dir.join("app@.container"),
        "[Container]\nImage=busybox\nNetwork=net.network\nNotify=yes\n[Install]\nWantedBy=default.target\nDefaultInstance=a\n",
    );
    // systemd runs a generator by its name, with NORMAL_DIR EARLY_DIR LATE_DIR.
    let gen_dir = env.root.join("gen");
    std::fs::create_dir_all(&gen_dir).unwrap();
    let link = gen_dir.join("roost-user-generator");
    std::os::unix::fs::symlink(roost_bin(), &link).unwrap();
    let normal = env.root.join("out/normal");
    let out_dir = env.root.join("out");
    std::fs::create_dir_all(&out_dir).unwrap();
    std::fs::set_permissions(&out_dir, std::fs::Permissions::from_mode(0o777)).unwrap();
    let early = env.root.join("out/early");
    let late = env.root.join("out/late");
    env.run_cmd(
        env.command(
            &link,
            &[
                normal.to_str().unwrap(),
                early.to_str().unwrap(),
                late.to_str().unwrap(),
            ],
        ),
        0,
    );
    for f in [
        "web.service",
        "www-volume.service",
        "net-network.service",
        "app@.service",
    ] {
        assert!(normal.join(f).is_file(), "{f} not generated");
    }
    assert_eq!(
        std::fs::read_link(normal.join("default.target.wants/web.service")).unwrap(),
        Path::new("../web.service")
    );
    assert_eq!(
        std::fs::read_link(normal.join("default.target.wants/app@a.service")).unwrap(),
        Path::new("../app@.service")
    );
    let app = std::fs::read_to_string(normal.join("app@.service")).unwrap();
    let exec = values(&app, "Service", "ExecStart").join("");
    assert!(
        exec.contains("--name systemd-%p_%i")
            && exec.contains("--network systemd-net")
            && exec.contains("--sdnotify=container"),
        "{app}"
    );
    assert_eq!(values(&app, "Unit", "Requires"), ["net-network.service"]);
    let net = std::fs::read_to_string(normal.join("net-network.service")).unwrap();
    assert!(
        values(&net, "Service", "ExecStart")[0].ends_with(
            "network create --ignore --subnet 10.89.7.0/24 --gateway 10.89.7.1 systemd-net"
        ),
        "{net}"
    );
}

#[test]
fn bad_keys_and_references_name_the_file_and_line() {
    let env = Env::new("quadlet_bad_keys");
    let dir = quadlet_dir(&env);
    write_as_user(
        &env,
        &dir.join("bad.container"),
        "[Container]\nImage=busybox\n# a comment\nPublishPorts=80:80\n",
    );
    write_as_user(
        &env,
        &dir.join("dangling.container"),
        "[Container]\nImage=busybox\nVolume=missing.volume:/data\n",
    );
    write_as_user(
        &env,
        &dir.join("good.container"),
        "[Container]\nImage=busybox\n",
    );
    write_as_user(
        &env,
        &dir.join("syntax.volume"),
        "[Volume]\nthis is not a key\n",
    );
    // The good file is still made; the others are each reported; the run fails.
    let o = env.roost(1, &["quadlet", "generate", "--dryrun"]);
    let err = o.stderr_text();
    let f = |n: &str| dir.join(n).display().to_string();
    assert!(
        err.contains(&format!(
            "{}:4: unsupported key `PublishPorts` in group `[Container]`",
            f("bad.container")
        )),
        "{err}"
    );
    assert!(
        err.contains(&format!("{}:3: invalid `Volume=`", f("dangling.container")))
            && err.contains("missing.volume"),
        "{err}"
    );
    assert!(
        err.contains(&format!("{}:2: expected `Key=Value`", f("syntax.volume"))),
        "{err}"
    );
    assert!(
        o.stdout_text().contains("---good.service---"),
        "{}",
        o.stdout_text()
    );
    // `quadlet print --unit` of a bad file: its own error, exit 125.
    let o = env.roost(125, &["quadlet", "print", "--unit", "bad"]);
    assert!(
        o.stderr_text().contains("PublishPorts"),
        "{}",
        o.stderr_text()
    );
}

#[test]
fn install_list_print_rm_without_a_user_manager() {
    let env = Env::new("quadlet_install");
    let src = env.home.join("app");
    write_as_user(&env, &src.join("web.container"), WEB);
    write_as_user(&env, &src.join("www.volume"), "[Volume]\n");
    let o = env.roost(0, &["quadlet", "install", src.to_str().unwrap()]);
    let qdir = quadlet_dir(&env);
    assert_eq!(
        o.stdout_text(),
        format!(
            "{}\n{}\n",
            qdir.join("web.container").display(),
            qdir.join("www.volume").display()
        )
    );
    // No user manager here: the units are written, and the message says what to run.
    let err = o.stderr_text();
    assert!(
        err.contains("systemctl --user daemon-reload")
            && err.contains("systemctl --user start www-volume.service web.service"),
        "{err}"
    );
    let units = env.config.join("systemd/user");
    let web = std::fs::read_to_string(units.join("web.service")).unwrap();
    assert_eq!(values(&web, "Service", "Type"), ["notify"]);
    assert!(units.join("www-volume.service").is_file());
    assert_eq!(
        std::fs::read_link(units.join("default.target.wants/web.service")).unwrap(),
        Path::new("../web.service")
    );
    // Installing it again needs --replace.
    let o = env.roost(
        125,
        &[
            "quadlet",
            "install",
            src.join("web.container").to_str().unwrap(),
        ],
    );
    assert!(o.stderr_text().contains("--replace"), "{}", o.stderr_text());
    env.roost(
        0,
        &[
            "quadlet",
            "install",
            "--replace",
            src.join("web.container").to_str().unwrap(),
        ],
    );

    let list = out(&env, &["quadlet", "list"]);
    let lines: Vec<&str> = list.lines().collect();
    assert!(
        lines[0].starts_with("NAME") && lines[0].contains("UNIT NAME"),
        "{list}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("web.container") && l.contains("web.service")),
        "{list}"
    );
    assert_eq!(
        out(&env, &["quadlet", "list", "-q"]),
        "web.container\nwww.volume\n"
    );
    assert_eq!(out(&env, &["quadlet", "print", "web"]), WEB);
    assert_eq!(
        out(&env, &["quadlet", "print", "--unit", "web.container"]),
        web
    );
    let o = env.roost(125, &["quadlet", "print", "nothing"]);
    assert!(
        o.stderr_text().contains("no Quadlet file named `nothing`"),
        "{}",
        o.stderr_text()
    );

    let o = env.roost(0, &["quadlet", "rm", "web"]);
    assert_eq!(o.stdout_text(), "web.service\n");
    assert!(!qdir.join("web.container").exists());
    assert!(!units.join("web.service").exists());
    assert!(std::fs::symlink_metadata(units.join("default.target.wants/web.service")).is_err());
    assert!(units.join("www-volume.service").is_file());
    env.roost(125, &["quadlet", "rm", "web"]);
    env.roost(0, &["quadlet", "rm", "--ignore", "web", "www.volume"]);
    assert!(!units.join("www-volume.service").exists());
    assert_eq!(out(&env, &["quadlet", "list", "-q"]), "");
}

/// A datagram socket the test user can send to, and what arrives on it.
struct NotifyListener {
    path: PathBuf,
    sock: UnixDatagram,
}

impl NotifyListener {
    fn new(env: &Env) -> NotifyListener {
        let dir = env.root.join("notify");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
        let path = dir.join("notify.sock");
        let sock = UnixDatagram::bind(&path).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o777)).unwrap();
        sock.set_read_timeout(Some(Duration::from_secs(60)))
            .unwrap();
        NotifyListener { path, sock }
    }

    fn recv(&self) -> String {
        let mut buf = [0u8; 4096];
        let n = self
            .sock
            .recv(&mut buf)
            .expect("a notification within 60 s");
        String::from_utf8_lossy(&buf[..n]).into_owned()
    }

    fn nothing_pending(&self) -> bool {
        self.sock.set_nonblocking(true).unwrap();
        let mut buf = [0u8; 4096];
        let r = self.sock.recv(&mut buf);
        self.sock.set_nonblocking(false).unwrap();
        r.is_err()
    }
}

fn roost_notify(env: &Env, sock: &Path, code: i32, args: &[&str]) -> String {
    let mut cmd = env.roost_cmd(args);
    cmd.env("NOTIFY_SOCKET", sock);
    env.run_cmd(cmd, code).stdout_text()
}

fn inspect(env: &Env, name: &str, format: &str) -> String {
    out(env, &["inspect", "--format", format, name])
        .trim()
        .to_string()
}

#[test]
fn sdnotify_conmon_sends_ready_and_the_monitors_pid() {
    let env = env_with_busybox("sdnotify_conmon");
    let _c = Cleanup(&env);
    let n = NotifyListener::new(&env);
    roost_notify(
        &env,
        &n.path,
        0,
        &[
            "run",
            "-d",
            "--name",
            "c1",
            "--sdnotify=conmon",
            &bb(),
            "sleep",
            "300",
        ],
    );
    let monitor = inspect(&env, "c1", "{{.State.ConmonPid}}");
    assert_eq!(n.recv(), format!("MAINPID={monitor}\nREADY=1\n"));
    assert_eq!(inspect(&env, "c1", "{{.Config.SdNotifyMode}}"), "conmon");
    // The socket does not reach the container, even with --env-host.
    let env_out = roost_notify(
        &env,
        &n.path,
        0,
        &[
            "run",
            "--rm",
            "--sdnotify=conmon",
            "--env-host",
            &bb(),
            "sh",
            "-c",
            "echo \"[$NOTIFY_SOCKET]\"",
        ],
    );
    assert_eq!(env_out, "[]\n");
    n.recv(); // the foreground run's own MAINPID/READY
    // ignore: nothing is sent.
    roost_notify(
        &env,
        &n.path,
        0,
        &["run", "--rm", "--sdnotify=ignore", &bb(), "true"],
    );
    assert!(n.nothing_pending());
    // Without NOTIFY_SOCKET, nothing changes.
    env.roost(0, &["run", "--rm", "--sdnotify=conmon", &bb(), "true"]);
    assert!(n.nothing_pending());
}

#[test]
fn sdnotify_container_passes_the_socket_in() {
    let env = env_with_busybox("sdnotify_container");
    let _c = Cleanup(&env);
    let n = NotifyListener::new(&env);
    // podman's default mode: the container gets the socket (crun's path) and may send READY itself.
    let got = roost_notify(
        &env,
        &n.path,
        0,
        &[
            "run",
            "--rm",
            &bb(),
            "sh",
            "-c",
            "echo $NOTIFY_SOCKET; test -S $NOTIFY_SOCKET && echo socket",
        ],
    );
    assert_eq!(got, "/run/notify/notify.sock\nsocket\n");
    assert!(n.recv().starts_with("MAINPID="));
    roost_notify(
        &env,
        &n.path,
        0,
        &[
            "run",
            "-d",
            "--name",
            "c2",
            "--sdnotify=container",
            &bb(),
            "sleep",
            "300",
        ],
    );
    let monitor = inspect(&env, "c2", "{{.State.ConmonPid}}");
    assert_eq!(n.recv(), format!("MAINPID={monitor}\n"));
    // The socket stays in the running container for its READY=1 (busybox has no sender to try it).
    let o = env.roost(
        0,
        &[
            "exec",
            "c2",
            "sh",
            "-c",
            "test -S /run/notify/notify.sock && echo yes",
        ],
    );
    assert_eq!(o.stdout_text(), "yes\n");
}

#[test]
fn sdnotify_healthy_waits_for_the_first_passing_check() {
    let env = env_with_busybox("sdnotify_healthy");
    let _c = Cleanup(&env);
    let n = NotifyListener::new(&env);
    let mut cmd = env.roost_cmd(&[
        "run",
        "-d",
        "--name",
        "h1",
        "--sdnotify=healthy",
        "--health-cmd",
        "test -e /tmp/ready",
        "--health-interval",
        "1s",
        &bb(),
        "sleep",
        "300",
    ]);
    cmd.env("NOTIFY_SOCKET", &n.path)
        .stdout(std::process::Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    let monitor_msg = n.recv();
    assert!(
        monitor_msg.starts_with("MAINPID=") && !monitor_msg.contains("READY"),
        "{monitor_msg}"
    );
    // `run` still waits: the check cannot pass yet.
    assert!(child.try_wait().unwrap().is_none());
    assert!(n.nothing_pending());
    env.roost(0, &["exec", "h1", "touch", "/tmp/ready"]);
    assert_eq!(n.recv(), "READY=1\n");
    assert!(child.wait().unwrap().success());
    assert_eq!(inspect(&env, "h1", "{{.State.Health.Status}}"), "healthy");
    // healthy without a healthcheck is refused.
    let o = env.roost(125, &["run", "-d", "--sdnotify=healthy", &bb(), "true"]);
    assert!(
        o.stderr_text().contains("needs a healthcheck"),
        "{}",
        o.stderr_text()
    );
}

#[test]
fn replace_removes_the_container_of_that_name() {
    let env = env_with_busybox("run_replace");
    let _c = Cleanup(&env);
    let first = out(&env, &["run", "-d", "--name", "r1", &bb(), "sleep", "300"]);
    let second = out(
        &env,
        &[
            "run",
            "-d",
            "--replace",
            "--name",
            "r1",
            &bb(),
            "sleep",
            "300",
        ],
    );
    assert_ne!(first, second);
    assert_eq!(inspect(&env, "r1", "{{.Id}}"), second.trim());
    assert_eq!(out(&env, &["ps", "-a", "-q"]).lines().count(), 1);
    let third = out(
        &env,
        &["create", "--replace", "--name", "r1", &bb(), "true"],
    );
    assert_eq!(inspect(&env, "r1", "{{.Id}}"), third.trim());
    // Nothing to replace: fine.
    env.roost(0, &["create", "--replace", "--name", "r2", &bb(), "true"]);
    let o = env.roost(125, &["run", "--replace", &bb(), "true"]);
    assert!(
        o.stderr_text().contains("without --name"),
        "{}",
        o.stderr_text()
    );
}
