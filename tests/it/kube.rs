//! `kube play/down/generate`: a Pod's containers reach each other on localhost and its hostPort
//! answers on 127.0.0.1; a Deployment's replicas are pods of their own; ConfigMaps and Secrets feed
//! env and volumes; `kube down` leaves nothing; `kube generate` YAML plays back into an equivalent
//! pod; bad YAML is refused with its line.
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

use crate::harness::*;

/// GET / on 127.0.0.1:port, retrying while the server comes up.
pub(crate) fn http_get(port: u16) -> String {
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
pub(crate) struct PodCleanup<'a>(pub &'a Env);

impl Drop for PodCleanup<'_> {
    fn drop(&mut self) {
        let _ = self.0.roost_cmd(&["pod", "rm", "-a", "-f"]).output();
        let _ = self.0.roost_cmd(&["rm", "-a", "-f"]).output();
    }
}

/// Writes `text` into the env's home as `name` (readable by the test user) and returns its path.
pub(crate) fn yaml_file(env: &Env, name: &str, text: &str) -> String {
    let path = env.home.join(name);
    std::fs::write(&path, text).unwrap();
    std::os::unix::fs::chown(&path, Some(env.user().uid), Some(env.user().gid)).unwrap();
    path.to_string_lossy().into_owned()
}

/// A container's logs once they contain `needle`.
fn logs_with(env: &Env, ctr: &str, needle: &str) -> String {
    let mut last = String::new();
    let found = wait_for(Duration::from_secs(20), || {
        last = env.roost(0, &["logs", ctr]).stdout_text();
        last.contains(needle)
    });
    assert!(found, "logs of {ctr} never showed {needle:?}: {last}");
    last
}

const HTTPD: &str = "echo hello from $(hostname) > /tmp/index.html; exec httpd -f -p 80 -h /tmp";

#[test]
fn kube_play_pod_localhost_hostport_and_down_leaves_nothing() {
    let env = env_with_busybox("kube_play_pod");
    let _cleanup = PodCleanup(&env);
    let pod = env.safename("app");
    let port = free_port();
    let yaml = format!(
        r#"apiVersion: v1
kind: Pod
metadata:
  name: {pod}
  labels:
    app: demo
spec:
  restartPolicy: Never
  containers:
  - name: web
    image: {bb}
    command: ["sh", "-c"]
    args: ["{HTTPD}"]
    ports:
    - containerPort: 80
      hostPort: {port}
      hostIP: 127.0.0.1
  - name: client
    image: {bb}
    command: ["sh", "-c", "for i in $(seq 200); do wget -qO- http://localhost:80/ && break; sleep 0.1; done; exec sleep 600"]
"#,
        bb = bb()
    );
    let file = yaml_file(&env, "pod.yaml", &yaml);
    let played = out(&env, &["kube", "play", &file]);
    let lines: Vec<&str> = played.lines().collect();
    assert_eq!(lines[0], "Pod:", "{played}");
    assert_eq!(lines[1].len(), 64, "{played}");
    assert_eq!(lines[2], "Container:", "{played}");
    assert_eq!(lines[3].len(), 64, "{played}");
    assert_eq!(lines[4].len(), 64, "{played}");
    let pod_id = lines[1].to_string();
    // The client reaches the web container on localhost; the hostPort answers on 127.0.0.1.
    logs_with(&env, &format!("{pod}-client"), &format!("hello from {pod}"));
    assert!(http_get(port).contains(&format!("hello from {pod}")));
    let names = out(
        &env,
        &[
            "ps",
            "--filter",
            &format!("pod={pod}"),
            "--format",
            "{{.Names}}",
        ],
    );
    let mut names: Vec<&str> = names.lines().filter(|n| !n.ends_with("-infra")).collect();
    names.sort();
    assert_eq!(names, [format!("{pod}-client"), format!("{pod}-web")]);
    let labels = out(&env, &["pod", "inspect", "--format", "{{.Labels}}", &pod]);
    assert!(labels.contains("app:demo"), "{labels}");
    // Playing it again is refused while the pod exists.
    let again = env.roost(125, &["kube", "play", &file]);
    assert!(
        again.stderr_text().contains("already exists"),
        "{}",
        again.stderr_text()
    );

    // kube down: no pods, containers, files or ports left.
    let down = out(&env, &["kube", "down", &file]);
    assert!(
        down.contains("Pods stopped:") && down.contains("Pods removed:"),
        "{down}"
    );
    assert!(down.contains(&pod_id), "{down}");
    assert_eq!(out(&env, &["pod", "ps", "-q"]), "");
    assert_eq!(out(&env, &["ps", "-aq"]), "");
    assert!(!env.data.join("roost/kube").join(&pod_id).exists());
    TcpListener::bind(("127.0.0.1", port)).expect("the hostPort is free after kube down");
}

#[test]
fn kube_play_deployment_replicas_are_pods_and_start_false_and_replace() {
    let env = env_with_busybox("kube_deployment");
    let _cleanup = PodCleanup(&env);
    let dep = env.safename("dep");
    let yaml = format!(
        r#"apiVersion: apps/v1
kind: Deployment
metadata:
  name: {dep}
spec:
  replicas: 2
  selector:
    matchLabels: {{app: x}}
  template:
    metadata:
      labels: {{app: x}}
    spec:
      containers:
      - name: c
        image: {bb}
        command: ["sleep", "600"]
        workingDir: /tmp
        securityContext:
          capabilities:
            drop: [NET_RAW]
"#,
        bb = bb()
    );
    let file = yaml_file(&env, "dep.yaml", &yaml);
    env.roost(0, &["kube", "play", "--start=false", &file]);
    let pods = out(&env, &["pod", "ps", "--format", "{{.Name}} {{.Status}}"]);
    let mut pods: Vec<&str> = pods.lines().collect();
    pods.sort();
    assert_eq!(
        pods,
        [
            format!("{dep}-pod-0 Created"),
            format!("{dep}-pod-1 Created")
        ]
    );
    let state = out(
        &env,
        &[
            "inspect",
            "--format",
            "{{.State.Status}} {{.Config.WorkingDir}}",
            &format!("{dep}-pod-1-c"),
        ],
    );
    assert_eq!(state.trim(), "created /tmp");
    // --replace tears the replicas down and plays them again, started (here without a network).
    env.roost(
        0,
        &["kube", "play", "--replace", "--network", "none", &file],
    );
    let links = out(
        &env,
        &["exec", &format!("{dep}-pod-1-c"), "cat", "/proc/net/dev"],
    );
    let links: Vec<&str> = links
        .lines()
        .skip(2)
        .filter_map(|l| l.split(':').next())
        .map(str::trim)
        .collect();
    assert_eq!(links, ["lo"]);
    let pods = out(&env, &["pod", "ps", "--format", "{{.Name}} {{.Status}}"]);
    let mut pods: Vec<&str> = pods.lines().collect();
    pods.sort();
    assert_eq!(
        pods,
        [
            format!("{dep}-pod-0 Running"),
            format!("{dep}-pod-1 Running")
        ]
    );
    let caps = out(
        &env,
        &[
            "exec",
            &format!("{dep}-pod-0-c"),
            "grep",
            "CapBnd",
            "/proc/self/status",
        ],
    );
    assert!(
        !caps.contains("00000000a80425fb"),
        "NET_RAW still in the bounding set: {caps}"
    );
    let down = out(&env, &["kube", "play", "--down", &file]);
    assert_eq!(down.matches('\n').count(), 6, "{down}");
    assert_eq!(out(&env, &["pod", "ps", "-q"]), "");
    assert_eq!(out(&env, &["ps", "-aq"]), "");
}

#[test]
fn kube_play_configmap_and_secret_feed_env_and_volumes() {
    let env = env_with_busybox("kube_configmap_secret");
    let _cleanup = PodCleanup(&env);
    let pod = env.safename("cfg");
    let cm = env.safename("cm");
    let sec = env.safename("sec");
    let claim = env.safename("claim");
    // "s3cr3t" in base64.
    let yaml = format!(
        r#"apiVersion: v1
kind: ConfigMap
metadata:
  name: {cm}
data:
  greeting: hello
  app.conf: "mode=fast"
---
apiVersion: v1
kind: Secret
metadata:
  name: {sec}
data:
  password: czNjcjN0
---
apiVersion: v1
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
  restartPolicy: Never
  containers:
  - name: show
    image: {bb}
    command: ["sh", "-c", "echo G=$GREETING P=$PASS C=$CM_greeting; cat /etc/app/app.conf; echo; cat /etc/sec/password; echo; echo kept > /data/f"]
    env:
    - name: GREETING
      valueFrom:
        configMapKeyRef: {{name: {cm}, key: greeting}}
    - name: PASS
      valueFrom:
        secretKeyRef: {{name: {sec}, key: password}}
    envFrom:
    - prefix: CM_
      configMapRef: {{name: {cm}}}
    volumeMounts:
    - {{name: conf, mountPath: /etc/app}}
    - {{name: creds, mountPath: /etc/sec}}
    - {{name: data, mountPath: /data}}
  volumes:
  - name: data
    persistentVolumeClaim: {{claimName: {claim}}}
  - name: conf
    configMap: {{name: {cm}}}
  - name: creds
    secret: {{secretName: {sec}}}
"#,
        bb = bb()
    );
    // A key the ConfigMap lacks: refused naming it, the pod removed again; the Secret that play
    // stored is replaced by the next play rather than in the way.
    let broken = yaml.replace("key: greeting", "key: nosuchkey");
    let bad_file = yaml_file(&env, "broken.yaml", &broken);
    let r = env.roost(125, &["kube", "play", &bad_file]);
    assert!(r.stderr_text().contains("nosuchkey"), "{}", r.stderr_text());
    assert_eq!(out(&env, &["pod", "ps", "-q"]), "");
    let file = yaml_file(&env, "cfg.yaml", &yaml);
    let played = out(&env, &["kube", "play", &file]);
    assert!(played.starts_with("Secret:\n"), "{played}");
    // (The claim's volume was made by the first attempt, which keeps it as podman does.)
    env.roost(0, &["volume", "exists", &claim]);
    // The last line it prints (the lines before it may be all there is yet).
    let logs = logs_with(&env, &format!("{pod}-show"), "\ns3cr3t\n");
    assert!(logs.contains("G=hello P=s3cr3t C=hello"), "{logs}");
    assert!(logs.contains("mode=fast"), "{logs}");
    assert!(logs.contains("\ns3cr3t\n"), "{logs}");
    // The Secret is a roost secret too, and kube down removes it.
    assert!(out(&env, &["secret", "ls", "--format", "{{.Name}}"]).contains(&sec));
    // The claim's volume outlives the pod, and kube down keeps it without --force.
    assert_eq!(out(&env, &["wait", &format!("{pod}-show")]).trim(), "0");
    let down = out(&env, &["kube", "down", &file]);
    assert!(down.contains("Secrets removed:"), "{down}");
    env.roost(1, &["secret", "exists", &sec]);
    env.roost(0, &["volume", "exists", &claim]);
    let kept = out(
        &env,
        &[
            "run",
            "--rm",
            "-v",
            &format!("{claim}:/data"),
            &bb(),
            "cat",
            "/data/f",
        ],
    );
    assert_eq!(kept.trim(), "kept");
    let down = out(&env, &["kube", "down", "--force", &file]);
    assert_eq!(down, format!("Volumes removed:\n{claim}\n"));
    env.roost(1, &["volume", "exists", &claim]);
    assert_eq!(out(&env, &["pod", "ps", "-q"]), "");
}

#[test]
fn kube_generate_plays_back_into_an_equivalent_pod() {
    let env = env_with_busybox("kube_generate");
    let _cleanup = PodCleanup(&env);
    let pod = env.safename("gen");
    let port = free_port();
    let vol = env.safename("data");
    env.roost(
        0,
        &[
            "pod",
            "create",
            "--name",
            &pod,
            "-p",
            &format!("127.0.0.1:{port}:80"),
        ],
    );
    env.roost(
        0,
        &[
            "run",
            "-d",
            "--pod",
            &pod,
            "--name",
            &format!("{pod}-web"),
            "-e",
            "FOO=bar",
            "-v",
            &format!("{vol}:/data"),
            "--cap-drop",
            "NET_RAW",
            &bb(),
            "sh",
            "-c",
            HTTPD,
        ],
    );
    let file = env.home.join("gen.yaml");
    env.roost(0, &["kube", "generate", "-f", file.to_str().unwrap(), &pod]);
    let yaml = std::fs::read_to_string(&file).unwrap();
    assert!(
        yaml.contains("kind: Pod") && yaml.contains(&format!("hostPort: {port}")),
        "{yaml}"
    );
    assert!(
        yaml.contains("name: FOO") && yaml.contains(&format!("claimName: {vol}")),
        "{yaml}"
    );
    assert!(yaml.contains("- NET_RAW"), "{yaml}");
    // `generate kube` is the same command.
    assert_eq!(out(&env, &["generate", "kube", &pod]), yaml);
    let with_service = out(&env, &["kube", "generate", "--service", &pod]);
    assert!(with_service.contains("kind: Service"), "{with_service}");

    let down = out(&env, &["kube", "down", file.to_str().unwrap()]);
    assert!(down.contains("Pods removed:"), "{down}");
    env.roost(1, &["pod", "exists", &pod]);
    out(&env, &["kube", "play", file.to_str().unwrap()]);
    let web = format!("{pod}-web");
    let env_out = out(&env, &["inspect", "--format", "{{.Config.Env}}", &web]);
    assert!(env_out.contains("FOO=bar"), "{env_out}");
    let mounts = out(
        &env,
        &[
            "inspect",
            "--format",
            "{{range .Mounts}}{{.Name}}:{{.Destination}} {{end}}",
            &web,
        ],
    );
    assert!(mounts.contains(&format!("{vol}:/data")), "{mounts}");
    assert!(http_get(port).contains(&format!("hello from {pod}")));
    // The same YAML again gives the same YAML.
    assert_eq!(out(&env, &["kube", "generate", &pod]), yaml);
    out(&env, &["kube", "down", "--force", file.to_str().unwrap()]);
    env.roost(1, &["volume", "exists", &vol]);
}

#[test]
fn kube_play_refuses_bad_yaml_with_its_line_and_makes_nothing() {
    let env = env_with_busybox("kube_bad_yaml");
    let _cleanup = PodCleanup(&env);
    let pod = env.safename("bad");
    let yaml = format!(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {pod}\nspec:\n  containers:\n  - name: c\n    image: {}\n    comand: [\"true\"]\n",
        bb()
    );
    let file = yaml_file(&env, "bad.yaml", &yaml);
    let r = env.roost(125, &["kube", "play", &file]);
    let err = r.stderr_text();
    assert!(
        err.contains(&format!("{file}:9:")) && err.contains("comand"),
        "{err}"
    );
    // Broken YAML syntax, an unknown kind, on stdin.
    let r = env.roost_stdin(125, &["kube", "play", "-"], b"kind: Pod\nspec: [oops\n");
    assert!(r.stderr_text().contains("-:"), "{}", r.stderr_text());
    let r = env.roost_stdin(
        125,
        &["kube", "play", "-"],
        b"---\nkind: CronJob\nmetadata: {name: x}\n",
    );
    assert!(
        r.stderr_text().contains("CronJob") && r.stderr_text().contains("-:2"),
        "{}",
        r.stderr_text()
    );
    // resources.limits go through the cgroup flags: applied with delegated cgroup v2 controllers,
    // ignored with podman's warning on cgroup v1, refused clearly (and the pod removed) otherwise.
    let limited = yaml.replace(
        "    comand: [\"true\"]\n",
        "    command: [\"sleep\", \"600\"]\n    resources:\n      limits: {memory: 64Mi}\n",
    );
    let file = yaml_file(&env, "limited.yaml", &limited);
    let r = env.roost_cmd(&["kube", "play", &file]).output().unwrap();
    let err = String::from_utf8_lossy(&r.stderr).into_owned();
    if r.status.success() {
        let mem = out(
            &env,
            &[
                "inspect",
                "--format",
                "{{.HostConfig.Memory}}",
                &format!("{pod}-c"),
            ],
        );
        let expected = if err.contains("ignored on cgroups V1") {
            0
        } else {
            64u64 << 20
        };
        assert_eq!(mem.trim(), expected.to_string(), "{err}");
        out(&env, &["kube", "down", &file]);
    } else {
        assert_eq!(r.status.code(), Some(125), "{err}");
        assert!(err.contains("cgroup"), "{err}");
    }
    assert_eq!(out(&env, &["pod", "ps", "-q"]), "");
    assert_eq!(out(&env, &["ps", "-aq"]), "");
}

#[test]
fn kube_play_builds_images_and_mounts_hostpath_and_a_shared_emptydir() {
    let env = env_with_busybox("kube_build_volumes");
    let _cleanup = PodCleanup(&env);
    let pod = env.safename("vols");
    let image = env.safename("img");
    // The image's directory next to the YAML, and a host directory to mount.
    let ctx_dir = env.home.join(&image);
    let host_dir = env.home.join("hostdir");
    for d in [&ctx_dir, &host_dir] {
        std::fs::create_dir(d).unwrap();
        std::os::unix::fs::chown(d, Some(env.user().uid), Some(env.user().gid)).unwrap();
    }
    std::fs::write(
        ctx_dir.join("Containerfile"),
        format!("FROM {}\nRUN echo built-here > /built\n", bb()),
    )
    .unwrap();
    std::fs::write(host_dir.join("h.txt"), "from-the-host").unwrap();
    let yaml = format!(
        r#"apiVersion: v1
kind: Pod
metadata:
  name: {pod}
spec:
  restartPolicy: Never
  securityContext:
    runAsUser: 1000
    runAsGroup: 1000
  containers:
  - name: writer
    image: localhost/{image}
    command: ["sh", "-c", "cat /built; echo uid=$(id -u); touch /rootfs-test 2>/dev/null || echo read-only-root; cat /host/h.txt; echo; echo shared > /scratch/x"]
    securityContext:
      readOnlyRootFilesystem: true
    volumeMounts:
    - {{name: scratch, mountPath: /scratch}}
    - {{name: host, mountPath: /host, readOnly: true}}
  - name: reader
    image: {bb}
    command: ["sh", "-c", "for i in $(seq 200); do [ -f /scratch/x ] && break; sleep 0.1; done; echo got=$(cat /scratch/x)"]
    volumeMounts:
    - {{name: scratch, mountPath: /scratch}}
  volumes:
  - name: scratch
    emptyDir: {{}}
  - name: host
    hostPath:
      path: {host}
      type: Directory
"#,
        bb = bb(),
        host = host_dir.display()
    );
    let file = yaml_file(&env, "vols.yaml", &yaml);
    let played = out(&env, &["kube", "play", "-q", &file]);
    assert!(played.starts_with("Pod:\n"), "{played}");
    let logs = logs_with(&env, &format!("{pod}-writer"), "from-the-host");
    assert!(logs.contains("built-here"), "{logs}");
    assert!(logs.contains("uid=1000"), "{logs}");
    assert!(logs.contains("read-only-root"), "{logs}");
    logs_with(&env, &format!("{pod}-reader"), "got=shared");
    out(&env, &["kube", "down", &file]);
    assert_eq!(out(&env, &["pod", "ps", "-q"]), "");
    // A hostPath that is not there is refused, and nothing is left.
    let missing = yaml.replace(&host_dir.display().to_string(), "/nonexistent/roost-kube");
    let file = yaml_file(&env, "missing.yaml", &missing);
    let r = env.roost(125, &["kube", "play", "--build=false", &file]);
    assert!(
        r.stderr_text().contains("/nonexistent/roost-kube"),
        "{}",
        r.stderr_text()
    );
    assert_eq!(out(&env, &["pod", "ps", "-q"]), "");
    assert_eq!(out(&env, &["ps", "-aq"]), "");
    env.roost(0, &["rmi", &format!("localhost/{image}")]);
}

/// The flags a Quadlet `.kube` unit passes: `--configmap` files (repeated and comma-separated)
/// feed env, envFrom and volumes; `--publish` replaces the YAML's hostPort of the same
/// containerPort; `--annotation` reaches every container (the auto-update one as a label, with the
/// unit's PODMAN_SYSTEMD_UNIT); `--log-driver`/`--log-opt` and `--userns` apply to every container;
/// `kube down --force=false` keeps the claims' volumes.
#[test]
fn kube_play_takes_configmap_publish_annotation_log_and_userns_flags() {
    let env = env_with_busybox("kube_play_flags");
    let _cleanup = PodCleanup(&env);
    let pod = env.safename("flags");
    let (cm1, cm2, claim) = (
        env.safename("cma"),
        env.safename("cmb"),
        env.safename("vol"),
    );
    let (yaml_port, flag_port) = (free_port(), free_port());
    let a = yaml_file(
        &env,
        "cm-a.yaml",
        &format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {cm1}\ndata:\n  GREETING: hi-from-a\n"
        ),
    );
    let b = yaml_file(
        &env,
        "cm-b.yaml",
        &format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {cm2}\ndata:\n  index.html: page-from-b\n  who: bee\n"
        ),
    );
    let extra = yaml_file(
        &env,
        "cm-c.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: third\ndata:\n  X: x\n",
    );
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
  annotations:
    from.yaml: "yes"
spec:
  restartPolicy: Never
  containers:
  - name: web
    image: {bb}
    command: ["sh", "-c", "exec httpd -f -p 8080 -h /www"]
    envFrom:
    - configMapRef: {{name: {cm1}}}
    env:
    - name: WHO
      valueFrom:
        configMapKeyRef: {{name: {cm2}, key: who}}
    ports:
    - containerPort: 8080
      hostPort: {yaml_port}
      hostIP: 127.0.0.1
    volumeMounts:
    - {{name: www, mountPath: /www}}
    - {{name: data, mountPath: /data}}
  - name: side
    image: {bb}
    command: ["sleep", "600"]
  volumes:
  - name: www
    configMap: {{name: {cm2}}}
  - name: data
    persistentVolumeClaim: {{claimName: {claim}}}
"#,
        bb = bb()
    );
    let file = yaml_file(&env, "flags.yaml", &yaml);
    // keep-id: the server runs as the caller, so on an unprivileged port.
    let publish = format!("127.0.0.1:{flag_port}:8080");
    let mut cmd = env.roost_cmd(&[
        "kube",
        "play",
        "--configmap",
        &format!("{a},{b}"),
        "--configmap",
        &extra,
        "--publish",
        &publish,
        "--annotation",
        "io.containers.autoupdate=local",
        "--annotation",
        "io.containers.autoupdate/side=disabled",
        "--annotation",
        "note=played",
        "--log-driver",
        "k8s-file",
        "--log-opt",
        "tag=kubetag",
        "--userns",
        "keep-id",
        &file,
    ]);
    cmd.env("PODMAN_SYSTEMD_UNIT", "flags-test.service");
    env.run_cmd(cmd, 0);
    let (web, side) = (format!("{pod}-web"), format!("{pod}-side"));

    // --configmap: the volume and both kinds of env reference.
    assert_eq!(http_get(flag_port).lines().last(), Some("page-from-b"));
    let envs = out(&env, &["exec", &web, "sh", "-c", "echo $GREETING $WHO"]);
    assert_eq!(envs.trim(), "hi-from-a bee");
    // --publish replaced the YAML's publication of port 8080.
    TcpListener::bind(("127.0.0.1", yaml_port)).expect("the YAML's hostPort was replaced");
    // --annotation, the auto-update label (the container's own first) and the unit's label.
    let i = |c: &str, f: &str| out(&env, &["inspect", "--format", f, c]).trim().to_string();
    for c in [&web, &side] {
        let ann = i(c, "{{.Config.Annotations}}");
        assert!(
            ann.contains("note:played") && ann.contains("from.yaml:yes"),
            "{c}: {ann}"
        );
        assert_eq!(
            i(c, "{{index .Config.Labels \"PODMAN_SYSTEMD_UNIT\"}}"),
            "flags-test.service"
        );
        assert_eq!(i(c, "{{.HostConfig.LogConfig.Tag}}"), "kubetag");
        // --userns keep-id: the caller's uid inside.
        assert_eq!(
            out(&env, &["exec", c, "id", "-u"]).trim(),
            env.user().uid.to_string()
        );
    }
    assert_eq!(
        i(
            &web,
            "{{index .Config.Labels \"io.containers.autoupdate\"}}"
        ),
        "local"
    );
    assert_eq!(
        i(
            &side,
            "{{index .Config.Labels \"io.containers.autoupdate\"}}"
        ),
        "disabled"
    );

    // kube down --force=false keeps the claim's volume (and --force removes it).
    out(&env, &["kube", "down", "--force=false", &file]);
    assert_eq!(out(&env, &["pod", "ps", "-q"]), "");
    env.roost(0, &["volume", "exists", &claim]);
    TcpListener::bind(("127.0.0.1", flag_port)).expect("the --publish port is free after down");
    out(&env, &["kube", "down", "--force", &file]);
    env.roost(1, &["volume", "exists", &claim]);
}

/// Bad `--configmap` files and `--publish` values are refused before anything is made.
#[test]
fn kube_play_refuses_bad_configmap_files_and_publish() {
    let env = env_with_busybox("kube_play_flag_errors");
    let _cleanup = PodCleanup(&env);
    let pod = env.safename("bad");
    let yaml = format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: dup\ndata:\n  A: a\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {pod}\nspec:\n  replicas: 2\n  template:\n    metadata:\n      labels: {{app: x}}\n    spec:\n      containers:\n      - name: c\n        image: {bb}\n        command: [sleep, '60']\n",
        bb = bb()
    );
    let file = yaml_file(&env, "bad.yaml", &yaml);
    let not_cm = yaml_file(
        &env,
        "pod-only.yaml",
        &yaml.replace("kind: ConfigMap", "kind: Secret"),
    );
    let dup = yaml_file(
        &env,
        "dup.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: dup\ndata:\n  B: b\n",
    );
    let cases: [(&[&str], &[&str]); 5] = [
        (
            &["--configmap", "/nonexistent/cm.yaml"],
            &["/nonexistent/cm.yaml"],
        ),
        (
            &["--configmap", &not_cm],
            &["pod-only.yaml", "ConfigMaps only"],
        ),
        (&["--configmap", &dup], &["dup.yaml", "`dup`"]),
        (
            &["--publish", "127.0.0.1:8080:80", "--start=false"],
            &["--publish", "2 pods", "8080"],
        ),
        (&["--publish", "80:http"], &["--publish", "80:http"]),
    ];
    for (flags, want) in cases {
        let mut args = vec!["kube", "play"];
        args.extend_from_slice(flags);
        args.push(&file);
        let r = env.roost(125, &args);
        let err = r.stderr_text();
        for w in want {
            assert!(err.contains(w), "{flags:?}: no {w:?} in: {err}");
        }
        assert_eq!(out(&env, &["pod", "ps", "-q"]), "", "{flags:?}");
    }
    // --network: a mode only alone.
    let r = env.roost(
        125,
        &["kube", "play", "--network", "host", "--network", "x", &file],
    );
    assert!(
        r.stderr_text().contains("cannot be combined"),
        "{}",
        r.stderr_text()
    );
    assert_eq!(out(&env, &["ps", "-aq"]), "");
}
