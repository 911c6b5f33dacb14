//! `kube play --service-container` (what a Quadlet `.kube` unit runs): a `<id>-service` container
//! stands for the pods, `inspect` and `ps` show it, `kube down` removes it; with NOTIFY_SOCKET its
//! monitor sends MAINPID and READY=1 once the pods run, and it ends when their containers have
//! ended. The systemd side (a real user manager) is tests/vm/scenarios/quadlet-kube.sh.
use std::time::Duration;

use crate::harness::*;
use crate::kube::{PodCleanup, yaml_file};
use crate::quadlet::NotifyListener;

fn inspect(env: &Env, name: &str, format: &str) -> String {
    out(env, &["inspect", "--format", format, name])
        .trim()
        .to_string()
}

/// A pod whose one container runs until /tmp/stop exists, then exits with 3.
fn waiting_pod(env: &Env, pod: &str) -> String {
    let yaml = format!(
        r#"apiVersion: v1
kind: Pod
metadata:
  name: {pod}
spec:
  restartPolicy: Never
  containers:
  - name: main
    image: {bb}
    command: ["sh", "-c", "while [ ! -e /tmp/stop ]; do sleep 0.1; done; exit 3"]
"#,
        bb = bb()
    );
    yaml_file(env, &format!("{pod}.yaml"), &yaml)
}

/// The names of the running service containers, as `ps` lists them.
fn services(env: &Env) -> Vec<String> {
    out(env, &["ps", "--format", "{{.Names}}"])
        .lines()
        .filter(|n| n.ends_with("-service"))
        .map(str::to_string)
        .collect()
}

#[test]
fn kube_play_service_container_is_listed_inspected_and_removed_by_down() {
    let env = env_with_busybox("kube_service_container");
    let _cleanup = PodCleanup(&env);
    let pod = env.safename("svc");
    let file = waiting_pod(&env, &pod);
    out(&env, &["kube", "play", "--service-container=true", &file]);
    let found = services(&env);
    assert_eq!(found.len(), 1, "{found:?}");
    let service = found[0].clone();
    let prefix = service.strip_suffix("-service").unwrap();
    assert!(
        prefix.len() == 8 && prefix.bytes().all(|b| b.is_ascii_hexdigit()),
        "podman's `<8 hex digits>-service` name: {service}"
    );
    assert_eq!(inspect(&env, &service, "{{.IsService}}"), "true");
    assert_eq!(inspect(&env, &service, "{{.State.Status}}"), "running");
    assert_eq!(
        inspect(&env, &service, "{{.Config.KubeExitCodePropagation}}"),
        "none"
    );
    let member = format!("{pod}-main");
    assert_eq!(inspect(&env, &member, "{{.IsService}}"), "false");
    assert_eq!(inspect(&env, &member, "{{.State.Status}}"), "running");

    // --replace (what a unit's restart runs) replaces the service container with the pods.
    out(
        &env,
        &["kube", "play", "--replace", "--service-container", &file],
    );
    env.roost(1, &["container", "exists", &service]);
    let again = services(&env);
    assert_eq!(again.len(), 1, "{again:?}");

    out(&env, &["kube", "down", &file]);
    env.roost(1, &["container", "exists", &again[0]]);
    assert_eq!(out(&env, &["pod", "ps", "-q"]), "");
    assert_eq!(out(&env, &["ps", "-aq"]), "");
    assert_no_leaks(&env);
}

#[test]
fn kube_service_container_notifies_and_ends_with_its_pods() {
    let env = env_with_busybox("kube_service_notify");
    let _cleanup = PodCleanup(&env);
    let pod = env.safename("nfy");
    let file = waiting_pod(&env, &pod);
    let n = NotifyListener::new(&env);
    let mut cmd = env.roost_cmd(&[
        "kube",
        "play",
        "--service-container=true",
        "--service-exit-code-propagation=any",
        &file,
    ]);
    cmd.env("NOTIFY_SOCKET", &n.path);
    env.run_cmd(cmd, 0);
    let service = services(&env).pop().expect("a service container");
    // One message, from the service container's monitor: its pid and READY (the pod's containers
    // and its infra container send nothing).
    let msg = n.recv();
    let monitor = inspect(&env, &service, "{{.State.ConmonPid}}");
    assert_eq!(msg, format!("MAINPID={monitor}\nREADY=1\n"));
    assert!(n.nothing_pending(), "a second notification");
    assert_eq!(
        inspect(&env, &format!("{pod}-main"), "{{.State.Status}}"),
        "running"
    );
    assert_eq!(
        inspect(&env, &service, "{{.Config.KubeExitCodePropagation}}"),
        "any"
    );

    // The pod's container ends: the service container (and its monitor, the unit's main
    // process) ends with it.
    out(
        &env,
        &["exec", &format!("{pod}-main"), "touch", "/tmp/stop"],
    );
    let ended = wait_for(Duration::from_secs(30), || {
        inspect(&env, &service, "{{.State.Status}}") == "exited"
    });
    assert!(ended, "{}", out(&env, &["ps", "-a"]));
    let gone = wait_for(Duration::from_secs(10), || {
        !std::path::Path::new(&format!("/proc/{monitor}")).exists()
    });
    assert!(gone, "the service's monitor {monitor} still runs");
    assert_eq!(
        inspect(&env, &format!("{pod}-main"), "{{.State.ExitCode}}"),
        "3"
    );

    out(&env, &["kube", "down", &file]);
    assert_eq!(out(&env, &["ps", "-aq"]), "");
    assert_no_leaks(&env);
}

#[test]
fn kube_service_exit_code_propagation_is_checked() {
    let env = env_with_busybox("kube_service_flags");
    let _cleanup = PodCleanup(&env);
    let pod = env.safename("bad");
    let file = waiting_pod(&env, &pod);
    let r = env.roost(
        125,
        &[
            "kube",
            "play",
            "--service-container",
            "--service-exit-code-propagation=sometimes",
            &file,
        ],
    );
    let err = r.stderr_text();
    assert!(
        err.contains("sometimes") && err.contains("none") && err.contains("any"),
        "{err}"
    );
    let r = env.roost(
        125,
        &["kube", "play", "--service-exit-code-propagation=all", &file],
    );
    assert!(
        r.stderr_text().contains("--service-container"),
        "{}",
        r.stderr_text()
    );
    assert_eq!(out(&env, &["pod", "ps", "-q"]), "");
    assert_eq!(out(&env, &["ps", "-aq"]), "");
}

/// `--start=false --service-container=true` (podman's rule): the service container is made with
/// the pods, neither runs; `pod start` starts the pod and then its service container, which
/// notifies and ends with the pod's containers as when `kube play` starts them.
#[test]
fn kube_start_false_makes_the_service_container_and_pod_start_starts_it() {
    let env = env_with_busybox("kube_service_start_false");
    let _cleanup = PodCleanup(&env);
    let pod = env.safename("later");
    let file = waiting_pod(&env, &pod);
    out(
        &env,
        &[
            "kube",
            "play",
            "--start=false",
            "--service-container=true",
            &file,
        ],
    );
    let service = out(&env, &["ps", "-a", "--format", "{{.Names}}"])
        .lines()
        .find(|n| n.ends_with("-service"))
        .expect("a service container")
        .to_string();
    let member = format!("{pod}-main");
    assert_eq!(inspect(&env, &service, "{{.State.Status}}"), "created");
    assert_eq!(inspect(&env, &member, "{{.State.Status}}"), "created");

    let n = NotifyListener::new(&env);
    let mut cmd = env.roost_cmd(&["pod", "start", &pod]);
    cmd.env("NOTIFY_SOCKET", &n.path);
    env.run_cmd(cmd, 0);
    assert_eq!(inspect(&env, &member, "{{.State.Status}}"), "running");
    assert_eq!(inspect(&env, &service, "{{.State.Status}}"), "running");
    let monitor = inspect(&env, &service, "{{.State.ConmonPid}}");
    assert_eq!(n.recv(), format!("MAINPID={monitor}\nREADY=1\n"));

    out(&env, &["exec", &member, "touch", "/tmp/stop"]);
    let ended = wait_for(Duration::from_secs(30), || {
        inspect(&env, &service, "{{.State.Status}}") == "exited"
    });
    assert!(ended, "{}", out(&env, &["ps", "-a"]));
    out(&env, &["kube", "down", &file]);
    assert_eq!(out(&env, &["ps", "-aq"]), "");
}

/// A member that its restart policy restarts (restartPolicy Always) has not ended: while it
/// restarts, another pod's container ending for good does not stop the service container.
#[test]
fn kube_service_container_outlives_a_member_that_restarts() {
    let env = env_with_busybox("kube_service_restarting");
    let _cleanup = PodCleanup(&env);
    let (once, again) = (env.safename("once"), env.safename("again"));
    let yaml = format!(
        r#"apiVersion: v1
kind: Pod
metadata:
  name: {once}
spec:
  restartPolicy: Never
  containers:
  - name: main
    image: {bb}
    command: ["sh", "-c", "while [ ! -e /tmp/stop ]; do sleep 0.1; done"]
---
apiVersion: v1
kind: Pod
metadata:
  name: {again}
spec:
  restartPolicy: Always
  containers:
  - name: flappy
    image: {bb}
    command: ["sh", "-c", "exit 1"]
"#,
        bb = bb()
    );
    let file = yaml_file(&env, "restarting.yaml", &yaml);
    out(&env, &["kube", "play", "--service-container=true", &file]);
    let service = services(&env).pop().expect("a running service container");
    let flappy = format!("{again}-flappy");
    // It has restarted a few times (and spends most of its time waiting to start again).
    let restarted = wait_for(Duration::from_secs(30), || {
        inspect(&env, &flappy, "{{.RestartCount}}")
            .parse::<u32>()
            .is_ok_and(|n| n >= 3)
    });
    assert!(restarted, "{}", out(&env, &["ps", "-a"]));
    out(
        &env,
        &["exec", &format!("{once}-main"), "touch", "/tmp/stop"],
    );
    let main_ended = wait_for(Duration::from_secs(20), || {
        inspect(&env, &format!("{once}-main"), "{{.State.Status}}") == "exited"
    });
    assert!(main_ended);
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(
        inspect(&env, &service, "{{.State.Status}}"),
        "running",
        "the service container stopped while {flappy} restarts"
    );
    out(&env, &["kube", "down", &file]);
    assert_eq!(out(&env, &["ps", "-aq"]), "");
}
