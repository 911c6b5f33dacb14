//! Pods: containers sharing the infra container's network, IPC and UTS namespaces; ports published
//! on the pod; `pod ps`/`pod inspect`/`ps --pod` output; the pod verbs and their errors.
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

use crate::harness::*;

/// GET / on 127.0.0.1:port, retrying while the server comes up.
fn http_get(port: u16) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let attempt = (|| -> std::io::Result<String> {
            let mut s = TcpStream::connect(("127.0.0.1", port))?;
            s.set_read_timeout(Some(Duration::from_secs(5)))?;
            s.write_all(b"GET / HTTP/1.0\r\nHost: localhost\r\n\r\n")?;
            let mut body = String::new();
            s.read_to_string(&mut body)?;
            if body.is_empty() {
                return Err(std::io::Error::other("empty answer"));
            }
            Ok(body)
        })();
        match attempt {
            Ok(b) => return b,
            Err(e) if Instant::now() > deadline => panic!("GET 127.0.0.1:{port}: {e}"),
            Err(_) => std::thread::sleep(Duration::from_millis(50)),
        }
    }
}

/// Removes every pod (with its containers) when dropped.
struct PodCleanup<'a>(&'a Env);

impl Drop for PodCleanup<'_> {
    fn drop(&mut self) {
        let _ = self.0.roost_cmd(&["pod", "rm", "-a", "-f"]).output();
        let _ = self.0.roost_cmd(&["rm", "-a", "-f"]).output();
    }
}

const HTTPD: &str = "echo hello from $(hostname) > /tmp/index.html; exec httpd -f -p 80 -h /tmp";

#[test]
fn pod_members_share_localhost_and_published_ports_free_after_rm() {
    let env = env_with_busybox("pod_members_share_localhost");
    let _cleanup = PodCleanup(&env);
    let pod = env.safename("pod");
    let port = free_port();
    let id = out(
        &env,
        &[
            "pod",
            "create",
            "--name",
            &pod,
            "-p",
            &format!("127.0.0.1:{port}:80"),
        ],
    );
    let id = id.trim();
    assert_eq!(id.len(), 64, "{id}");
    let web = env.safename("web");
    env.roost(
        0,
        &[
            "run",
            "-d",
            "--pod",
            &pod,
            "--name",
            &web,
            &bb(),
            "sh",
            "-c",
            HTTPD,
        ],
    );
    // Another container of the pod reaches the server on localhost, and has the pod's host name.
    let wget = "for i in $(seq 100); do wget -qO- http://127.0.0.1:80/ && break; sleep 0.1; done; hostname";
    let got = out(
        &env,
        &["run", "--rm", "--pod", &pod, &bb(), "sh", "-c", wget],
    );
    assert_eq!(got, format!("hello from {pod}\n{pod}\n"));
    // The pod's published port answers from the host.
    let body = http_get(port);
    assert!(body.contains(&format!("hello from {pod}")), "{body}");
    // ps shows the pod columns, and filters by pod name.
    let ps = out(
        &env,
        &[
            "ps",
            "--pod",
            "--filter",
            &format!("pod={pod}"),
            "--format",
            "{{.Names}} {{.PodName}} {{.IsInfra}}",
        ],
    );
    let mut lines: Vec<&str> = ps.lines().collect();
    lines.sort();
    assert_eq!(
        lines,
        [
            format!("{}-infra {pod} true", &id[..12]),
            format!("{web} {pod} false"),
        ]
    );
    let table = out(&env, &["ps", "--pod"]);
    let header = table.lines().next().unwrap();
    assert!(header.ends_with("POD ID        PODNAME"), "{table}");
    assert_eq!(
        out(&env, &["ps", "-q", "--filter", "pod=nosuchpod"]),
        "",
        "a filter naming no pod matches nothing"
    );
    // `pod rm -f` removes the running pod, its containers, and frees the host port.
    assert_eq!(out(&env, &["pod", "rm", "-f", &pod]), format!("{id}\n"));
    assert_eq!(out(&env, &["ps", "-aq"]), "");
    assert_eq!(out(&env, &["pod", "ps", "-q"]), "");
    TcpListener::bind(("127.0.0.1", port)).expect("the pod's port is free after pod rm -f");
    env.roost(1, &["pod", "exists", &pod]);
}

#[test]
fn pod_shares_ipc_and_uts_but_not_the_pid_namespace() {
    let env = env_with_busybox("pod_shares_ipc_uts");
    let _cleanup = PodCleanup(&env);
    let pod = env.safename("p");
    env.roost(
        0,
        &["pod", "create", "--name", &pod, "--hostname", "podhost"],
    );
    env.roost(
        0,
        &[
            "run",
            "-d",
            "--pod",
            &pod,
            "--name",
            "a",
            &bb(),
            "sh",
            "-c",
            "echo shared > /dev/shm/x; exec sleep 100",
        ],
    );
    let inode = |c: &str, ns: &str| {
        out(
            &env,
            &["exec", c, "readlink", &format!("/proc/self/ns/{ns}")],
        )
    };
    env.roost(
        0,
        &[
            "run",
            "-d",
            "--pod",
            &pod,
            "--name",
            "b",
            &bb(),
            "sleep",
            "100",
        ],
    );
    assert!(wait_for(Duration::from_secs(10), || {
        env.roost_cmd(&["exec", "b", "cat", "/dev/shm/x"])
            .output()
            .is_ok_and(|o| o.stdout == b"shared\n")
    }));
    for ns in ["ipc", "uts", "net"] {
        assert_eq!(inode("a", ns), inode("b", ns), "{ns} is shared");
    }
    assert_ne!(
        inode("a", "pid"),
        inode("b", "pid"),
        "pid is not shared by default"
    );
    assert_eq!(out(&env, &["exec", "b", "hostname"]), "podhost\n");
    // stop, then start again: the infra container first, then the others.
    env.roost(0, &["pod", "stop", "-t", "0", &pod]);
    assert_eq!(
        out(
            &env,
            &[
                "pod",
                "ps",
                "--format",
                "{{.Status}} {{.NumberOfContainers}}"
            ]
        ),
        "Exited 3\n"
    );
    env.roost(0, &["pod", "start", &pod]);
    assert_eq!(
        out(&env, &["pod", "inspect", "--format", "{{.State}}", &pod]),
        "Running\n"
    );
    assert_eq!(inode("a", "uts"), inode("b", "uts"));
    // A pod with running containers is not removed without -f.
    let e = env.roost(125, &["pod", "rm", &pod]).stderr_text();
    assert!(e.contains("running containers") && e.contains("-f"), "{e}");
    env.roost(0, &["pod", "rm", "-f", "-t", "0", &pod]);
}

#[test]
fn pod_ps_and_inspect_are_podmans_shapes() {
    let env = env_with_busybox("pod_ps_inspect_shapes");
    let _cleanup = PodCleanup(&env);
    let pod = env.safename("shapes");
    let id = out(
        &env,
        &[
            "pod",
            "create",
            "--name",
            &pod,
            "--label",
            "team=blue",
            "--dns",
            "10.0.0.53",
        ],
    );
    let id = id.trim().to_string();
    env.roost(
        0,
        &[
            "create",
            "--pod",
            &id[..12],
            "--name",
            "member",
            &bb(),
            "true",
        ],
    );
    let json: serde_json::Value =
        serde_json::from_str(&out(&env, &["pod", "ps", "--format", "json"])).unwrap();
    let p = &json[0];
    assert_eq!(p["Id"], id.as_str());
    assert_eq!(p["Name"], pod.as_str());
    assert_eq!(p["Status"], "Created");
    assert_eq!(p["Labels"]["team"], "blue");
    assert_eq!(p["Containers"].as_array().unwrap().len(), 2);
    assert_eq!(p["Containers"][1]["Names"], "member");
    assert_eq!(
        out(&env, &["pod", "ps", "--format", "{{.Labels}}"]),
        "team=blue\n"
    );
    assert_eq!(
        out(&env, &["pod", "ps", "--format", "{{json .Labels}}"]),
        "\"team=blue\"\n"
    );
    let table = out(&env, &["pod", "ps", "--ctr-names", "--ctr-status"]);
    let mut rows = table.lines();
    let header = rows.next().unwrap();
    assert!(header.starts_with("POD ID        NAME"), "{table}");
    assert!(
        header.contains("INFRA ID") && header.contains("NAMES"),
        "{table}"
    );
    assert!(rows.next().unwrap().contains(",member"), "{table}");
    assert_eq!(
        out(&env, &["pod", "ps", "-q", "--filter", "ctr-names=member"]),
        format!("{}\n", &id[..12])
    );
    assert_eq!(
        out(&env, &["pod", "ps", "-q", "--filter", "label=team=red"]),
        ""
    );
    let inspect: serde_json::Value =
        serde_json::from_str(&out(&env, &["pod", "inspect", &pod])).unwrap();
    assert_eq!(inspect["Id"], id.as_str(), "one pod is an object");
    assert_eq!(
        inspect["SharedNamespaces"],
        serde_json::json!(["ipc", "net", "uts"])
    );
    assert_eq!(inspect["NumContainers"], 2);
    assert_eq!(
        inspect["InfraConfig"]["DNSServer"],
        serde_json::json!(["10.0.0.53"])
    );
    let infra = inspect["InfraContainerID"].as_str().unwrap().to_string();
    // The infra container runs roost's built-in pause image, without any registry.
    let image = out(&env, &["inspect", "--format", "{{.ImageName}}", &infra]);
    assert!(image.starts_with("localhost/podman-pause:"), "{image}");
    // The member gets the pod's DNS settings.
    env.roost(0, &["pod", "start", &pod]);
    let resolv = out(
        &env,
        &[
            "run",
            "--rm",
            "--pod",
            &pod,
            &bb(),
            "cat",
            "/etc/resolv.conf",
        ],
    );
    assert!(resolv.contains("nameserver 10.0.0.53"), "{resolv}");
    env.roost(0, &["pod", "exists", &pod]);
    env.roost(0, &["pod", "rm", "-f", &pod]);
}

#[test]
fn pod_new_takes_the_containers_ports_and_pod_id_file_works() {
    let env = env_with_busybox("pod_new_and_id_file");
    let _cleanup = PodCleanup(&env);
    let pod = env.safename("newpod");
    let port = free_port();
    let cid = out(
        &env,
        &[
            "run",
            "-d",
            "--pod",
            &format!("new:{pod}"),
            "-p",
            &format!("127.0.0.1:{port}:80"),
            &bb(),
            "sh",
            "-c",
            HTTPD,
        ],
    );
    assert!(http_get(port).contains(&format!("hello from {pod}")));
    assert_eq!(
        out(
            &env,
            &[
                "ps",
                "--format",
                "{{.PodName}}",
                "--filter",
                &format!("id={}", cid.trim())
            ]
        ),
        format!("{pod}\n")
    );
    env.roost(0, &["pod", "rm", "-f", "-t", "0", &pod]);
    TcpListener::bind(("127.0.0.1", port)).expect("port free again");
    // --pod-id-file on pod create, run and pod rm.
    let file = env.home.join("pod.id");
    let f = file.to_str().unwrap();
    let id = out(&env, &["pod", "create", "--pod-id-file", f]);
    assert_eq!(std::fs::read_to_string(&file).unwrap(), id.trim());
    assert_eq!(
        out(
            &env,
            &["run", "--rm", "--pod-id-file", f, &bb(), "echo", "in"]
        ),
        "in\n"
    );
    assert_eq!(out(&env, &["pod", "rm", "-f", "--pod-id-file", f]), id);
}

#[test]
fn pod_bad_input_is_refused_clearly() {
    let env = env_with_busybox("pod_bad_input");
    let _cleanup = PodCleanup(&env);
    let pod = env.safename("bad");
    let e = env
        .roost(125, &["pod", "create", "--share", "net,bogus"])
        .stderr_text();
    assert!(e.contains("`bogus`") && e.contains("ipc"), "{e}");
    let e = env
        .roost(125, &["run", "--rm", "--pod", "nosuchpod", &bb(), "true"])
        .stderr_text();
    assert!(e.contains("no pod with name or ID nosuchpod found"), "{e}");
    assert!(e.contains("roost pod ps"), "hint: {e}");
    env.roost(0, &["pod", "create", "--name", &pod]);
    let e = env
        .roost(125, &["pod", "create", "--name", &pod])
        .stderr_text();
    assert!(e.contains(&format!("name \"{pod}\" is in use")), "{e}");
    let e = env
        .roost(
            125,
            &["create", "--pod", &pod, "-p", "8080:80", &bb(), "true"],
        )
        .stderr_text();
    assert!(
        e.contains("cannot set -p/--publish") && e.contains("pod create"),
        "{e}"
    );
    let e = env
        .roost(
            125,
            &["create", "--pod", &pod, "--hostname", "h", &bb(), "true"],
        )
        .stderr_text();
    assert!(e.contains("--hostname") && e.contains("UTS"), "{e}");
    let e = env
        .roost(125, &["pod", "kill", "-s", "BOGUS", "nosuchpod"])
        .stderr_text();
    assert!(e.contains("invalid signal: BOGUS"), "{e}");
    let e = env.roost(125, &["pod", "rm", "nosuchpod"]).stderr_text();
    assert!(e.contains("no such pod"), "{e}");
    env.roost(0, &["pod", "rm", "-i", "nosuchpod"]);
    let e = env
        .roost(125, &["pod", "create", "--share", "pid,bogus"])
        .stderr_text();
    assert!(e.contains("`bogus`"), "{e}");
    let e = env
        .roost(125, &["pod", "create", "--userns", "ns:/proc/self/ns/user"])
        .stderr_text();
    assert!(e.contains("--userns `ns:/proc/self/ns/user`"), "{e}");
    let e = env
        .roost(
            125,
            &["pod", "create", "--userns", "keep-id", "--infra=false"],
        )
        .stderr_text();
    assert!(e.contains("infra"), "{e}");
    let e = env.roost(125, &["pod", "clone", "nosuchpod"]).stderr_text();
    assert!(e.contains("no such pod"), "{e}");
    // Nothing was left behind by the failures: only the one pod and its infra container.
    assert_eq!(out(&env, &["pod", "ps", "-q"]).lines().count(), 1);
    assert_eq!(out(&env, &["ps", "-aq"]).lines().count(), 1);
    // `pod prune` removes pods with nothing running.
    assert_eq!(out(&env, &["pod", "prune", "-f"]).lines().count(), 1);
    assert_eq!(out(&env, &["pod", "ps", "-q"]), "");
}
