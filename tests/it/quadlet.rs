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
    // User units wait for the network through roost's helper, written with them.
    assert_eq!(
        names,
        [
            "www-volume.service",
            "web.service",
            "roost-user-wait-network-online.service"
        ],
        "{text}"
    );
    assert_eq!(
        values(&units[1].1, "Unit", "Wants"),
        ["roost-user-wait-network-online.service"]
    );
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
    assert_eq!(
        values(web, "Unit", "After"),
        [
            "roost-user-wait-network-online.service",
            "www-volume.service"
        ]
    );
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

/// A datagram socket the test user can send to, and what arrives on it (kube.rs uses it too).
pub(crate) struct NotifyListener {
    pub(crate) path: PathBuf,
    sock: UnixDatagram,
}

impl NotifyListener {
    pub(crate) fn new(env: &Env) -> NotifyListener {
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

    pub(crate) fn recv(&self) -> String {
        let mut buf = [0u8; 4096];
        let n = self
            .sock
            .recv(&mut buf)
            .expect("a notification within 60 s");
        String::from_utf8_lossy(&buf[..n]).into_owned()
    }

    pub(crate) fn nothing_pending(&self) -> bool {
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

/// A `.kube` unit with the keys that add `kube play` flags (AutoUpdate, ConfigMap, PublishPort,
/// LogOpt, KubeDownForce=false): its ExecStart, run as systemd would (PODMAN_SYSTEMD_UNIT and
/// NOTIFY_SOCKET set), notifies once the pod serves the ConfigMap's page on the published port,
/// and `auto-update` sees the unit's auto-updatable container; its ExecStopPost removes the pod
/// and keeps the claim's volume.
#[test]
fn kube_unit_flags_play_and_auto_update_sees_its_containers() {
    use crate::kube::{PodCleanup, http_get};
    let env = env_with_busybox("quadlet_kube_flags");
    let _cleanup = PodCleanup(&env);
    let dir = quadlet_dir(&env);
    let port = free_port();
    let pod = env.safename("qk");
    let claim = env.safename("qkvol");
    let image = format!("localhost/{}:latest", env.safename("qkimg"));
    env.roost(0, &["tag", &bb(), &image]);
    let yaml = format!(
        r#"apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: {claim}
spec:
  accessModes: [ReadWriteOnce]
  resources:
    requests: {{storage: 1Gi}}
---
apiVersion: v1
kind: Pod
metadata:
  name: {pod}
spec:
  containers:
  - name: web
    image: {image}
    command: ["httpd", "-f", "-p", "80", "-h", "/www"]
    ports:
    - containerPort: 80
    volumeMounts:
    - {{name: www, mountPath: /www}}
    - {{name: data, mountPath: /data}}
  - name: helper
    image: {bb}
    command: ["sleep", "600"]
  volumes:
  - name: www
    configMap: {{name: pages}}
  - name: data
    persistentVolumeClaim: {{claimName: {claim}}}
"#,
        bb = bb()
    );
    write_as_user(&env, &dir.join("app.yaml"), &yaml);
    write_as_user(
        &env,
        &dir.join("pages.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: pages\ndata:\n  index.html: served-by-kube-unit\n",
    );
    write_as_user(
        &env,
        &dir.join("app.kube"),
        &format!(
            "[Kube]\nYaml=app.yaml\nConfigMap=pages.yaml\nPublishPort=127.0.0.1:{port}:80\nAutoUpdate=web/local\nLogOpt=tag=qk\nKubeDownForce=false\n"
        ),
    );
    let text = out(&env, &["quadlet", "generate", "--dryrun"]);
    let units = units(&text);
    let app = &units
        .iter()
        .find(|(n, _)| n == "app.service")
        .unwrap_or_else(|| panic!("{text}"))
        .1;
    let run = |line: &str, n: Option<&NotifyListener>| {
        let words: Vec<&str> = line.split_whitespace().collect();
        let mut cmd = env.roost_cmd(&words[1..]);
        cmd.env("PODMAN_SYSTEMD_UNIT", "app.service");
        if let Some(n) = n {
            cmd.env("NOTIFY_SOCKET", &n.path);
        }
        env.run_cmd(cmd, 0)
    };
    let start = values(app, "Service", "ExecStart");
    assert_eq!(start.len(), 1, "{app}");
    let n = NotifyListener::new(&env);
    run(&start[0], Some(&n));
    assert!(n.recv().ends_with("READY=1\n"));
    assert_eq!(http_get(port).lines().last(), Some("served-by-kube-unit"));
    let web = format!("{pod}-web");
    assert_eq!(inspect(&env, &web, "{{.HostConfig.LogConfig.Tag}}"), "qk");

    // auto-update: the unit's container with AutoUpdate=web/local (not the helper), pending once
    // the local image changes.
    let updated = || {
        out(
            &env,
            &[
                "auto-update",
                "--dry-run",
                "--format",
                "{{.Unit}} {{.ContainerName}} {{.Policy}} {{.Updated}}",
            ],
        )
    };
    assert_eq!(updated(), format!("app.service {web} local false\n"));
    let changed = env.safename("changed");
    env.roost(0, &["run", "--name", &changed, &bb(), "touch", "/new"]);
    env.roost(0, &["commit", "-q", &changed, &image]);
    assert_eq!(updated(), format!("app.service {web} local pending\n"));

    let stop = values(app, "Service", "ExecStopPost");
    assert_eq!(stop.len(), 1, "{app}");
    assert!(stop[0].contains("--force=false"), "{}", stop[0]);
    run(&stop[0], None);
    assert_eq!(out(&env, &["pod", "ps", "-q"]), "");
    env.roost(0, &["volume", "exists", &claim]);
}

/// A `.pod` unit with the keys that once made `pod create` fail (IP=, NetworkAlias=, Volume=,
/// UIDMap=): its command lines, run in systemd's order, make the pod, and a container run in it
/// has the pod's address, volume and user namespace; ExecStop and ExecStopPost take it away.
#[test]
fn pod_unit_keys_become_the_pods_settings() {
    let env = env_with_busybox("quadlet_pod_keys");
    let net = "systemd-qpfront".to_string();
    let vol = "systemd-qpdata".to_string();
    struct Cleanup<'a>(&'a Env, [String; 2]);
    impl Drop for Cleanup<'_> {
        fn drop(&mut self) {
            let e = self.0;
            let _ = e.roost_cmd(&["pod", "rm", "-a", "-f", "-t", "0"]).output();
            let _ = e.roost_cmd(&["rm", "-a", "-f", "-t", "0"]).output();
            let _ = e.roost_cmd(&["network", "rm", "-f", &self.1[0]]).output();
            let _ = e.roost_cmd(&["volume", "rm", "-f", &self.1[1]]).output();
        }
    }
    let _cleanup = Cleanup(&env, [net.clone(), vol.clone()]);
    let dir = quadlet_dir(&env);
    write_as_user(
        &env,
        &dir.join("qpfront.network"),
        "[Network]\nSubnet=192.168.79.0/24\n",
    );
    write_as_user(&env, &dir.join("qpdata.volume"), "[Volume]\n");
    write_as_user(
        &env,
        &dir.join("qp.pod"),
        "[Pod]\nNetwork=qpfront.network\nIP=192.168.79.30\nNetworkAlias=qpweb\n\
         Volume=qpdata.volume:/data\nUIDMap=0:1:3000\nUIDMap=3000:0:1\n",
    );
    let text = out(&env, &["quadlet", "generate", "--dryrun"]);
    let units = units(&text);
    let unit = |name: &str| {
        units
            .iter()
            .find(|(n, _)| n == name)
            .unwrap_or_else(|| panic!("no {name}: {text}"))
            .1
            .clone()
    };
    // Each line as systemd runs it (`-`: its failure ignored).
    let run = |line: &str| {
        let (ignore, line) = match line.strip_prefix('-') {
            Some(l) => (true, l),
            None => (false, line),
        };
        let words: Vec<&str> = line.split_whitespace().collect();
        let mut cmd = env.roost_cmd(&words[1..]);
        cmd.env("PODMAN_SYSTEMD_UNIT", "qp-pod.service");
        if ignore {
            cmd.output().unwrap();
        } else {
            env.run_cmd(cmd, 0);
        }
    };
    for line in values(&unit("qpfront-network.service"), "Service", "ExecStart")
        .iter()
        .chain(&values(
            &unit("qpdata-volume.service"),
            "Service",
            "ExecStart",
        ))
    {
        run(line);
    }
    let pod = unit("qp-pod.service");
    for key in ["ExecStartPre", "ExecStart"] {
        for line in values(&pod, "Service", key) {
            run(&line);
        }
    }
    let seen = env
        .roost(
            0,
            &[
                "run", "--rm", "--pod", "systemd-qp", &bb(), "sh", "-c",
                "ip -4 addr show eth0 | grep inet; head -1 /proc/self/uid_map; touch /data/ok && echo data",
            ],
        )
        .stdout_text();
    let words: Vec<&str> = seen.split_whitespace().collect();
    assert!(seen.contains("inet 192.168.79.30/24"), "{seen}");
    assert!(words.windows(3).any(|w| w == ["0", "1", "3000"]), "{seen}");
    assert!(seen.ends_with("data\n"), "{seen}");
    let found = env
        .roost(
            0,
            &["run", "--rm", "--network", &net, &bb(), "nslookup", "qpweb"],
        )
        .stdout_text();
    assert!(found.contains("Address: 192.168.79.30"), "{found}");
    for key in ["ExecStop", "ExecStopPost"] {
        for line in values(&pod, "Service", key) {
            run(&line);
        }
    }
    assert_eq!(out(&env, &["pod", "ps", "-q"]), "");
}
