//! `generate systemd --new` for a pod: the units' commands, run in the order systemd runs them
//! (pod unit's ExecStartPre and ExecStart, the container unit's ExecStart, then the stops), make,
//! start, and remove the pod and its container: `pod create --replace --pod-id-file
//! --infra-conmon-pidfile`, `pod start/stop/rm --pod-id-file`, `run --pod-id-file`.
use crate::harness::*;

struct Cleanup<'a>(&'a Env);

impl Drop for Cleanup<'_> {
    fn drop(&mut self) {
        let _ = self
            .0
            .roost_cmd(&["pod", "rm", "-a", "-f", "-t", "0"])
            .output();
        let _ = self.0.roost_cmd(&["rm", "-a", "-f"]).output();
    }
}

/// The values of `key=` in `unit`, continuation lines joined.
fn values(unit: &str, key: &str) -> Vec<String> {
    let joined = unit.replace(" \\\n\t", " ");
    joined
        .lines()
        .filter_map(|l| l.strip_prefix(&format!("{key}=")))
        .map(String::from)
        .collect()
}

/// Run one command line of the unit `service` as systemd would (`%t`, `%n` expanded), with the
/// test's roost: the status it exits with.
fn run_line(env: &Env, service: &str, line: &str) -> std::process::Output {
    let runtime = env.runtime.display().to_string();
    let expanded = line
        .replace("%t", &runtime)
        .replace("%n", &format!("{service}.service"));
    let words: Vec<&str> = expanded.split_whitespace().collect();
    if words[0] == "/bin/rm" {
        let status = std::process::Command::new(words[0])
            .args(&words[1..])
            .status()
            .expect("rm runs");
        assert!(status.success());
        return std::process::Command::new("true").output().expect("true");
    }
    env.roost(0, &words[1..])
}

#[test]
fn new_pod_units_create_start_stop_and_remove_the_pod() {
    let env = env_with_busybox("pod_units");
    let _c = Cleanup(&env);
    let pod = env.safename("p");
    let ctr = env.safename("c");
    env.roost(0, &["pod", "create", "--name", &pod, "--label", "x=1"]);
    env.roost(
        0,
        &[
            "create",
            "--pod",
            &pod,
            "--name",
            &ctr,
            &bb(),
            "sleep",
            "1000",
        ],
    );
    let o = env.roost(
        0,
        &[
            "generate", "systemd", "--new", "--name", "--format", "json", &pod,
        ],
    );
    let units: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(&o.stdout_text()).expect("a JSON object");
    let pod_service = format!("pod-{pod}");
    let ctr_service = format!("container-{ctr}");
    let pod_unit = units[&pod_service].as_str().expect("the pod's unit");
    let ctr_unit = units[&ctr_service].as_str().expect("the container's unit");
    assert!(
        pod_unit.contains(&format!(
            "pod create --infra-conmon-pidfile %t/{pod_service}.pid --pod-id-file %t/{pod_service}.pod-id"
        )),
        "{pod_unit}"
    );
    assert!(pod_unit.contains("--replace"), "{pod_unit}");
    assert!(
        ctr_unit.contains(&format!("--pod-id-file %t/{pod_service}.pod-id")),
        "{ctr_unit}"
    );

    // Start: the existing pod (and its container) is replaced by the unit's.
    let old_id = out(&env, &["pod", "inspect", "--format", "{{.ID}}", &pod]);
    for line in values(pod_unit, "ExecStartPre") {
        run_line(&env, &pod_service, &line);
    }
    for line in values(pod_unit, "ExecStart") {
        run_line(&env, &pod_service, &line);
    }
    for line in values(ctr_unit, "ExecStart") {
        run_line(&env, &ctr_service, &line);
    }
    let shown = out(
        &env,
        &[
            "pod",
            "inspect",
            "--format",
            "{{.ID}} {{.State}} {{.NumContainers}} {{.Labels}}",
            &pod,
        ],
    );
    let id_file = env.runtime.join(format!("{pod_service}.pod-id"));
    let new_id = std::fs::read_to_string(&id_file).expect("the pod id file");
    assert_ne!(new_id.trim(), old_id.trim());
    assert_eq!(
        shown.trim(),
        format!("{} Running 2 map[x:1]", new_id.trim())
    );
    // The pid file names the infra container's monitor (the unit's main process).
    let pid_file = env.runtime.join(format!("{pod_service}.pid"));
    let pid: i32 = std::fs::read_to_string(&pid_file)
        .expect("the infra pid file")
        .trim()
        .parse()
        .expect("a pid");
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).expect("the monitor runs");
    let infra = out(
        &env,
        &["pod", "inspect", "--format", "{{.InfraContainerID}}", &pod],
    );
    let cmdline = String::from_utf8_lossy(&cmdline).into_owned();
    assert!(
        cmdline.contains("__monitor") && cmdline.contains(infra.trim()),
        "{cmdline}"
    );
    let ran = out(&env, &["exec", &ctr, "echo", "hi"]);
    assert_eq!(ran, "hi\n");

    // Stop: the container unit first (systemd stops what requires the pod's unit), then the pod's.
    for key in ["ExecStop", "ExecStopPost"] {
        for line in values(ctr_unit, key) {
            run_line(&env, &ctr_service, &line);
        }
    }
    for key in ["ExecStop", "ExecStopPost"] {
        for line in values(pod_unit, key) {
            run_line(&env, &pod_service, &line);
        }
    }
    env.roost(1, &["pod", "exists", &pod]);
    assert_eq!(out(&env, &["ps", "-aq"]), "");
    // Stopping again (the pod gone, the id file left) is not an error.
    for line in values(pod_unit, "ExecStop") {
        run_line(&env, &pod_service, &line);
    }
}

#[test]
fn pod_create_replace_and_id_files() {
    let env = env_with_busybox("pod_replace");
    let _c = Cleanup(&env);
    let pod = env.safename("p");
    let first = out(&env, &["pod", "create", "--name", &pod]);
    env.roost(0, &["run", "-d", "--pod", &pod, &bb(), "sleep", "1000"]);
    let e = env
        .roost(125, &["pod", "create", "--name", &pod])
        .stderr_text();
    assert!(e.contains("already exists"), "{e}");
    let id_file = env.root.join("pod.id");
    let id_arg = id_file.display().to_string();
    let second = out(
        &env,
        &[
            "pod",
            "create",
            "--replace",
            "--name",
            &pod,
            "--pod-id-file",
            &id_arg,
        ],
    );
    assert_ne!(first, second);
    assert_eq!(
        std::fs::read_to_string(&id_file).expect("id file"),
        second.trim()
    );
    // The old pod's container went with it.
    assert_eq!(out(&env, &["ps", "-aq"]).lines().count(), 1);
    let c = out(
        &env,
        &[
            "run",
            "-d",
            "--pod-id-file",
            &id_arg,
            &bb(),
            "sleep",
            "1000",
        ],
    );
    let in_pod = out(&env, &["inspect", "--format", "{{.Pod}}", c.trim()]);
    assert_eq!(in_pod.trim(), second.trim());
    env.roost(0, &["pod", "stop", "-t", "0", "--pod-id-file", &id_arg]);
    env.roost(0, &["pod", "start", "--pod-id-file", &id_arg]);
    env.roost(0, &["pod", "rm", "-f", "-t", "0", "--pod-id-file", &id_arg]);
    env.roost(
        0,
        &["pod", "stop", "--ignore", "--pod-id-file", "/nonexistent/x"],
    );
    let e = env
        .roost(125, &["pod", "start", "--pod-id-file", "/nonexistent/x"])
        .stderr_text();
    assert!(e.contains("/nonexistent/x"), "{e}");
}
