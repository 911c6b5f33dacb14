//! The flags behind the Quadlet keys roost once refused (see `UNSUPPORTED_KEYS` in
//! src/engine/quadlet/convert/keys.rs): each one's effect in a real container, build, network or pull.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::harness::{Cleanup, Env, OutputExt, bb, env_with_busybox, free_port, image, registry};

/// A directory under the test's home with `files`, owned by the test user.
fn owned_dir(env: &Env, files: &[(&str, &str)]) -> PathBuf {
    let dir = env.home.join(format!("d-{}", rand::random::<u32>()));
    fs::create_dir_all(&dir).unwrap();
    for (name, content) in files {
        fs::write(dir.join(name), content).unwrap();
    }
    let u = env.user();
    if u.switch {
        for p in std::iter::once(dir.clone()).chain(files.iter().map(|(n, _)| dir.join(n))) {
            std::os::unix::fs::chown(&p, Some(u.uid), Some(u.gid)).unwrap();
        }
    }
    dir
}

fn text(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// `--tz` (Timezone=): the zone's file is the container's /etc/localtime; `local` is the host's;
/// an unknown zone is refused with podman's words.
#[test]
fn tz_sets_the_containers_localtime() {
    let env = env_with_busybox("tz_sets_the_containers_localtime");
    let _c = Cleanup(&env);
    let out = env.roost(
        0,
        &["run", "--rm", "--tz", "Asia/Tokyo", &bb(), "date", "+%Z"],
    );
    assert_eq!(out.stdout_text().trim(), "JST");
    let out = env.roost(0, &["run", "--rm", &bb(), "date", "+%Z"]);
    assert_eq!(out.stdout_text().trim(), "UTC", "no --tz: the image's zone");
    let id = env
        .roost(0, &["create", "--tz", "Asia/Tokyo", &bb()])
        .stdout_text();
    let tz = env.roost(
        0,
        &["inspect", "--format", "{{.Config.Timezone}}", id.trim()],
    );
    assert_eq!(tz.stdout_text().trim(), "Asia/Tokyo");
    let host = fs::read("/etc/localtime").unwrap();
    let out = env.roost(
        0,
        &[
            "run",
            "--rm",
            "--tz",
            "local",
            &bb(),
            "cat",
            "/etc/localtime",
        ],
    );
    assert_eq!(out.stdout, host, "local: the host's zone file");
    // An image whose /etc/localtime links into its own zoneinfo (as Debian's and Fedora's do).
    let ctx = owned_dir(
        &env,
        &[(
            "Containerfile",
            &format!(
                "FROM {}\nRUN mkdir -p /usr/share/zoneinfo/Etc && touch /usr/share/zoneinfo/Etc/UTC && \
                 ln -s /usr/share/zoneinfo/Etc/UTC /etc/localtime\n",
                bb()
            ),
        )],
    );
    let tag = format!("localhost/{}", env.safename("lt"));
    env.roost(0, &["build", "-q", "-t", &tag, text(&ctx)]);
    let out = env.roost(
        0,
        &["run", "--rm", "--tz", "Asia/Tokyo", &tag, "date", "+%Z"],
    );
    assert_eq!(
        out.stdout_text().trim(),
        "JST",
        "through the image's symlink"
    );
    for bad in ["Mars/Olympus_Mons", "../../etc/passwd"] {
        let e = env.roost(125, &["run", "--rm", "--tz", bad, &bb(), "true"]);
        assert!(
            e.stderr_text()
                .contains(&format!("unknown time zone {bad}")),
            "{}",
            e.stderr_text()
        );
    }
}

/// `--device` (AddDevice=): the host's node is bound into the container, under another name too;
/// a path that is not a device node is refused, naming it.
#[test]
fn device_binds_the_host_node() {
    let env = env_with_busybox("device_binds_the_host_node");
    let _c = Cleanup(&env);
    let out = env.roost(
        0,
        &[
            "run",
            "--rm",
            "--device",
            "/dev/null:/dev/mynull",
            "--device",
            "/dev/zero:r",
            &bb(),
            "sh",
            "-c",
            "test -c /dev/mynull && echo x > /dev/mynull && head -c 3 /dev/zero | od -An -c",
        ],
    );
    assert_eq!(
        out.stdout_text().split_whitespace().collect::<Vec<_>>(),
        ["\\0", "\\0", "\\0"]
    );
    let e = env.roost(
        125,
        &["run", "--rm", "--device", "/etc/passwd", &bb(), "true"],
    );
    assert!(
        e.stderr_text()
            .contains("`/etc/passwd` is not a device node"),
        "{}",
        e.stderr_text()
    );
    let e = env.roost(
        125,
        &["run", "--rm", "--device", "/dev/null:x", &bb(), "true"],
    );
    assert!(
        e.stderr_text().contains("invalid --device"),
        "{}",
        e.stderr_text()
    );
}

/// `build --env`, `--dns*`, `--group-add` and `-v` (the `.build` keys): seen by RUN steps; the
/// variable stays in the image, the bind's content does not.
#[test]
fn build_flags_reach_run_steps() {
    let env = Env::new("build_flags_reach_run_steps");
    let shared = owned_dir(&env, &[("file", "from the host\n")]);
    let ctx = owned_dir(
        &env,
        &[(
            "Containerfile",
            &format!(
                "FROM {}\nRUN echo \"A=$A\" > /a && cat /etc/resolv.conf > /r && id -G > /g && \
                 cat /shared/file > /v && ls /shared > /ls\n",
                bb()
            ),
        )],
    );
    let tag = format!("localhost/{}", env.safename("b"));
    env.roost(
        0,
        &[
            "build",
            "-q",
            "-t",
            &tag,
            "--env",
            "A=from-env",
            "--dns",
            "192.0.2.1",
            "--dns-search",
            "example.test",
            "--dns-option",
            "ndots:3",
            "--group-add",
            "4242",
            "-v",
            &format!("{}:/shared:ro", text(&shared)),
            text(&ctx),
        ],
    );
    let show = |f: &str| env.roost(0, &["run", "--rm", &tag, "cat", f]).stdout_text();
    assert_eq!(show("/a"), "A=from-env\n");
    let r = show("/r");
    assert!(
        r.contains("nameserver 192.0.2.1")
            && r.contains("search example.test")
            && r.contains("ndots:3"),
        "{r}"
    );
    assert!(show("/g").split_whitespace().any(|g| g == "4242"));
    assert_eq!(show("/v"), "from the host\n");
    let out = env.roost(
        0,
        &[
            "run",
            "--rm",
            &tag,
            "sh",
            "-c",
            "echo $A; [ -e /shared/file ] && echo kept || echo gone",
        ],
    );
    let lines = out.stdout_lines();
    assert_eq!(lines[0], "from-env", "--env is in the image's config");
    assert_eq!(lines[1], "gone", "the bind's content is not in the image");
    let e = env.roost(125, &["build", "-t", &tag, "-v", "data:/data", text(&ctx)]);
    assert!(
        e.stderr_text().contains("host paths only"),
        "{}",
        e.stderr_text()
    );
}

/// `network create --dns` (`.network` DNS=): without aardvark-dns the servers are the containers'
/// nameservers; `--ipam-driver none` gives the interface no address.
#[test]
fn network_dns_and_ipam_driver() {
    let env = env_with_busybox("network_dns_and_ipam_driver");
    let _c = Cleanup(&env);
    let net = env.safename("n");
    env.roost(
        0,
        &[
            "network",
            "create",
            "--disable-dns",
            "--dns",
            "192.0.2.53",
            &net,
        ],
    );
    let out = env.roost(
        0,
        &[
            "run",
            "--rm",
            "--network",
            &net,
            &bb(),
            "cat",
            "/etc/resolv.conf",
        ],
    );
    let servers: Vec<String> = out
        .stdout_lines()
        .into_iter()
        .filter(|l| l.starts_with("nameserver"))
        .collect();
    assert_eq!(servers, ["nameserver 192.0.2.53"]);
    let none = env.safename("none");
    env.roost(0, &["network", "create", "--ipam-driver", "none", &none]);
    let out = env.roost(
        0,
        &[
            "run",
            "--rm",
            "--network",
            &none,
            &bb(),
            "ip",
            "-4",
            "addr",
            "show",
            "eth0",
        ],
    );
    assert!(
        !out.stdout_text().contains("inet "),
        "{}",
        out.stdout_text()
    );
    let e = env.roost(
        125,
        &[
            "network",
            "create",
            "--ipam-driver",
            "dhcp",
            &env.safename("x"),
        ],
    );
    assert!(e.stderr_text().contains("dhcp"), "{}", e.stderr_text());
    env.roost(0, &["network", "rm", &net, &none]);
}

/// `pull --all-tags` (`.image` AllTags=): every tag of the repository; a tag with it is refused.
#[test]
fn pull_all_tags() {
    let env = env_with_busybox("pull_all_tags");
    let repo = format!("{}/{}/all", registry(), env.safename("r"));
    for t in ["v1", "v2"] {
        env.roost(
            0,
            &[
                "push",
                "-q",
                "--tls-verify=false",
                &bb(),
                &format!("{repo}:{t}"),
            ],
        );
    }
    env.roost(0, &["rmi", "-a"]);
    env.roost(
        0,
        &["pull", "-q", "--tls-verify=false", "--all-tags", &repo],
    );
    let names = env
        .roost(0, &["images", "--format", "{{.Repository}}:{{.Tag}}"])
        .stdout_text();
    for t in ["v1", "v2"] {
        assert!(names.contains(&format!("{repo}:{t}")), "{names}");
    }
    let e = env.roost(125, &["pull", "--all-tags", &format!("{repo}:v1")]);
    assert!(
        e.stderr_text()
            .contains("tag can't be used with --all-tags"),
        "{}",
        e.stderr_text()
    );
}

/// `--retry`/`--retry-delay` (Retry=, RetryDelay=): a registry that refuses connections is tried
/// again after the fixed delay; a bad delay is refused.
#[test]
fn retry_delay_spaces_the_attempts() {
    let env = Env::new("retry_delay_spaces_the_attempts");
    let port = free_port();
    let img = format!("127.0.0.1:{port}/nothing:1");
    let t = Instant::now();
    env.roost(
        125,
        &["pull", "--retry", "2", "--retry-delay", "1500ms", &img],
    );
    assert!(t.elapsed() >= Duration::from_secs(3), "{:?}", t.elapsed());
    let t = Instant::now();
    env.roost(
        125,
        &["create", "--retry", "0", "--retry-delay", "5s", &img],
    );
    assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
    let e = env.roost(125, &["pull", "--retry-delay", "soon", &image("busybox")]);
    assert!(
        e.stderr_text().contains("invalid --retry-delay `soon`"),
        "{}",
        e.stderr_text()
    );
}

/// `--cert-dir` (`.image` CertDir=): its `*.crt` is trusted for the registry's TLS. The registry is
/// an `openssl s_server` with a self-signed certificate (it answers HTTP with a status page, so a
/// pull that gets past TLS fails on the manifest instead).
#[test]
fn cert_dir_trusts_its_certificates() {
    let env = Env::new("cert_dir_trusts_its_certificates");
    let dir = owned_dir(&env, &[]);
    let (key, crt) = (dir.join("srv.key"), dir.join("srv.crt"));
    let made = std::process::Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
        ])
        .args([
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ])
        // A server certificate (webpki refuses a CA as the end entity), trusted as its own root.
        .args(["-addext", "basicConstraints=critical,CA:FALSE"])
        .args(["-keyout", text(&key), "-out", text(&crt)])
        .output()
        .expect("run openssl");
    assert!(made.status.success(), "{}", made.stderr_text());
    let certs = owned_dir(&env, &[("ca.crt", &fs::read_to_string(&crt).unwrap())]);
    let port = free_port();
    let mut server = std::process::Command::new("openssl")
        .args([
            "s_server",
            "-quiet",
            "-www",
            "-accept",
            &format!("127.0.0.1:{port}"),
        ])
        .args(["-cert", text(&crt), "-key", text(&key)])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start openssl s_server");
    let up = crate::harness::wait_for(Duration::from_secs(10), || {
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
    });
    let img = format!("127.0.0.1:{port}/x:1");
    let untrusted = env
        .roost_cmd(&["pull", "--retry", "0", &img])
        .output()
        .unwrap();
    let trusted = env
        .roost_cmd(&["pull", "--retry", "0", "--cert-dir", text(&certs), &img])
        .output()
        .unwrap();
    let _ = server.kill();
    let _ = server.wait();
    assert!(up, "openssl s_server did not listen");
    assert!(
        untrusted.stderr_text().contains("TLS handshake"),
        "{}",
        untrusted.stderr_text()
    );
    let e = trusted.stderr_text();
    assert!(
        !e.contains("TLS handshake") && e.contains("manifest"),
        "{e}"
    );
    let e = env.roost(
        125,
        &["pull", "--cert-dir", text(&env.home.join("none")), &img],
    );
    assert!(
        e.stderr_text().contains("--cert-dir"),
        "{}",
        e.stderr_text()
    );
}
