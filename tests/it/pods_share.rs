//! Pods sharing more than network, IPC and UTS: `pod create --share pid` (the infra process is pid 1
//! of a pid namespace every container of the pod is born into), `--userns keep-id` (the infra
//! container holds a user namespace that the others enter, `exec` included), and `pod clone`.
use crate::harness::*;

struct PodCleanup<'a>(&'a Env);

impl Drop for PodCleanup<'_> {
    fn drop(&mut self) {
        let _ = self
            .0
            .roost_cmd(&["pod", "rm", "-a", "-f", "-t", "0"])
            .output();
        let _ = self.0.roost_cmd(&["rm", "-a", "-f"]).output();
    }
}

/// `ps -o pid,args` lines of busybox, as (pid, command).
fn processes(text: &str) -> Vec<(u32, String)> {
    text.lines()
        .filter_map(|l| {
            let (pid, args) = l.trim().split_once(' ')?;
            Some((pid.parse().ok()?, args.trim().to_string()))
        })
        .collect()
}

#[test]
fn share_pid_members_see_each_other_and_the_infra_is_pid_1() {
    let env = env_with_busybox("pod_share_pid");
    let _cleanup = PodCleanup(&env);
    let pod = env.safename("pod");
    env.roost(0, &["pod", "create", "--share", "+pid", "--name", &pod]);
    let shared = out(
        &env,
        &["pod", "inspect", &pod, "--format", "{{.SharedNamespaces}}"],
    );
    assert_eq!(shared.trim(), "[ipc net pid uts]");
    let a = env.safename("a");
    env.roost(
        0,
        &[
            "run",
            "-d",
            "--pod",
            &pod,
            "--name",
            &a,
            &bb(),
            "sleep",
            "100",
        ],
    );
    let seen = out(
        &env,
        &["run", "--rm", "--pod", &pod, &bb(), "ps", "-o", "pid,args"],
    );
    let procs = processes(&seen);
    assert!(procs.contains(&(1, "/catatonit -P".into())), "{seen}");
    assert!(
        procs.iter().any(|(p, c)| *p > 1 && c == "sleep 100"),
        "{seen}"
    );
    // exec enters the same pid namespace.
    let from_exec = out(&env, &["exec", &a, "ps", "-o", "pid,args"]);
    assert!(
        processes(&from_exec).contains(&(1, "/catatonit -P".into())),
        "{from_exec}"
    );
    // A member may not ask for a pid namespace of its own.
    let e = env
        .roost(
            125,
            &["create", "--pod", &pod, "--pid", "host", &bb(), "true"],
        )
        .stderr_text();
    assert!(e.contains("--pid") && e.contains("PID"), "{e}");
    env.roost(0, &["pod", "rm", "-f", "-t", "0", &pod]);
    assert_eq!(out(&env, &["ps", "-aq"]), "");
}

#[test]
fn default_pod_keeps_a_pid_namespace_per_container() {
    let env = env_with_busybox("pod_private_pid");
    let _cleanup = PodCleanup(&env);
    let pod = env.safename("pod");
    env.roost(0, &["pod", "create", "--name", &pod]);
    let seen = out(
        &env,
        &["run", "--rm", "--pod", &pod, &bb(), "ps", "-o", "pid,args"],
    );
    let procs = processes(&seen);
    assert_eq!(procs.len(), 1, "{seen}");
    assert_eq!(procs[0].0, 1, "{seen}");
}

#[test]
fn userns_keep_id_pod_members_share_the_infra_user_namespace() {
    let env = env_with_busybox("pod_userns");
    let _cleanup = PodCleanup(&env);
    let uid = test_user().uid;
    let pod = env.safename("pod");
    env.roost(
        0,
        &[
            "pod", "create", "--userns", "keep-id", "--share", "+pid", "--name", &pod,
        ],
    );
    let inspect = out(&env, &["pod", "inspect", &pod]);
    assert!(inspect.contains(r#""userns": "keep-id""#), "{inspect}");
    let a = env.safename("a");
    env.roost(
        0,
        &[
            "run",
            "-d",
            "--pod",
            &pod,
            "--name",
            &a,
            &bb(),
            "sleep",
            "100",
        ],
    );
    // keep-id: the caller's uid inside, mapped to itself; one namespace for the whole pod (the
    // infra process, pid 1, is in it too).
    let script = "id -u; readlink /proc/self/ns/user; readlink /proc/1/ns/user; \
                  awk '$1 != 0 {print $1, $3}' /proc/self/uid_map";
    let first = out(
        &env,
        &["run", "--rm", "--pod", &pod, &bb(), "sh", "-c", script],
    );
    let lines: Vec<&str> = first.lines().collect();
    assert_eq!(lines[0], uid.to_string(), "{first}");
    assert_eq!(
        lines[1], lines[2],
        "not in the infra's user namespace: {first}"
    );
    assert!(
        lines.contains(&format!("{uid} 1").as_str()),
        "no keep-id mapping: {first}"
    );
    let exec = out(&env, &["exec", &a, "sh", "-c", script]);
    assert_eq!(exec.lines().nth(1), Some(lines[1]), "{exec}");
    assert_eq!(exec.lines().next(), Some(lines[0]), "{exec}");
    // Files the member writes belong to the caller on the host side of the mapping.
    let made = out(
        &env,
        &["exec", &a, "sh", "-c", "touch /tmp/f && stat -c %u /tmp/f"],
    );
    assert_eq!(made.trim(), uid.to_string());
    let e = env
        .roost(
            125,
            &["create", "--pod", &pod, "--userns", "host", &bb(), "true"],
        )
        .stderr_text();
    assert_eq!(
        e,
        "Error: cannot set user namespace mode when joining pod with infra container: invalid argument\n"
    );
}

#[test]
fn pod_clone_copies_settings_and_containers_then_destroys_and_starts() {
    let env = env_with_busybox("pod_clone");
    let _cleanup = PodCleanup(&env);
    let pod = env.safename("pod");
    env.roost(
        0,
        &[
            "pod",
            "create",
            "--name",
            &pod,
            "--hostname",
            "hh",
            "--label",
            "a=1",
            "--share",
            "+pid",
        ],
    );
    let a = env.safename("a");
    env.roost(
        0,
        &["create", "--pod", &pod, "--name", &a, &bb(), "sleep", "100"],
    );
    // Default name, original kept, nothing started.
    let id = out(&env, &["pod", "clone", "--label", "b=2", &pod]);
    let copy = format!("{pod}-clone");
    let fmt =
        "{{.Name}} {{.Hostname}} {{.SharedNamespaces}} {{.Labels}} {{.NumContainers}} {{.State}}";
    let shown = out(&env, &["pod", "inspect", &copy, "--format", fmt]);
    assert_eq!(
        shown.trim(),
        format!("{copy} hh [ipc net pid uts] map[a:1 b:2] 2 Created")
    );
    assert_eq!(id.trim().len(), 64);
    assert!(out(&env, &["pod", "exists", &pod]).is_empty());
    let names = out(
        &env,
        &[
            "ps",
            "-a",
            "--filter",
            &format!("pod={copy}"),
            "--format",
            "{{.Names}}",
        ],
    );
    assert!(names.lines().any(|l| l == format!("{a}-clone")), "{names}");
    // --destroy --start with a new name: the original goes, the copy runs its copied command.
    let third = env.safename("third");
    env.roost(0, &["pod", "clone", "--destroy", "--start", &copy, &third]);
    env.roost(1, &["pod", "exists", &copy]);
    let state = out(&env, &["pod", "inspect", &third, "--format", "{{.State}}"]);
    assert_eq!(state.trim(), "Running");
    let member = format!("{a}-clone-clone");
    let seen = out(&env, &["exec", &member, "sh", "-c", "hostname; ps -o args"]);
    assert!(seen.starts_with("hh\n"), "{seen}");
    assert!(
        seen.contains("/catatonit -P") && seen.contains("sleep 100"),
        "{seen}"
    );
    env.roost(0, &["pod", "exists", &pod]);
}

#[test]
fn members_files_follow_the_pods_network() {
    let env = env_with_busybox("pod_member_files");
    let hostnet = env.safename("hostnet");
    env.roost(
        0,
        &["pod", "create", "--name", &hostnet, "--network", "host"],
    );
    let hosts = env
        .roost(
            0,
            &["run", "--rm", "--pod", &hostnet, &bb(), "cat", "/etc/hosts"],
        )
        .stdout_text();
    // The host network's file, as podman writes it: the host is its own loopback.
    assert!(
        hosts.contains("127.0.0.1\thost.containers.internal"),
        "{hosts}"
    );
    let private = env.safename("private");
    env.roost(
        0,
        &["pod", "create", "--name", &private, "--network", "slirp"],
    );
    let files = env
        .roost(
            0,
            &[
                "run",
                "--rm",
                "--pod",
                &private,
                &bb(),
                "sh",
                "-c",
                "cat /etc/hosts /etc/resolv.conf",
            ],
        )
        .stdout_text();
    // The pod's network answers DNS itself, and names the host.
    assert!(files.contains("nameserver 10.0.2.3"), "{files}");
    assert!(files.contains("host.containers.internal"), "{files}");
    // Only the infra container runs once the members have exited: `pod rm` needs no -f (podman).
    env.roost(0, &["pod", "rm", &hostnet, &private]);
    assert_eq!(env.roost(0, &["pod", "ps", "-q"]).stdout_text().trim(), "");
    assert_eq!(env.roost(0, &["ps", "-aq"]).stdout_text().trim(), "");
}

#[test]
fn pod_members_share_the_infra_hosts_file() {
    let env = env_with_busybox("pod_members_share_the_infra_hosts_file");
    let (pod, infra) = (env.safename("pod"), env.safename("infra"));
    let fqdn = format!("{pod}.fqdn");
    // `--add-host` is read as podman's string slice: quotes go, `;` separates names for one IP.
    env.roost(
        0,
        &[
            "pod",
            "create",
            "--name",
            &pod,
            "--infra-name",
            &infra,
            "--add-host",
            &format!("\"{fqdn};{pod}:127.0.0.1\""),
        ],
    );
    let (c1, c2) = (env.safename("c1"), env.safename("c2"));
    let image = bb();
    let hosts = |name: &str, rm: bool| {
        let mut args = vec!["run", "--pod", &pod, "--name", name];
        if rm {
            args.push("--rm");
        }
        args.extend([image.as_str(), "cat", "/etc/hosts"]);
        env.roost(0, &args).stdout_text()
    };
    let first = hosts(&c1, true);
    assert!(
        first.contains(&format!("127.0.0.1\t{fqdn} {pod}\n")),
        "{first}"
    );
    // The pod's name is on the add-host line already: the infra's entry has only its name.
    assert!(
        first.lines().any(|l| l.ends_with(&format!("\t{infra}"))),
        "{first}"
    );
    assert!(first.contains(&format!("127.0.0.1\t{c1}\n")), "{first}");
    // The first member's entry left with it.
    let second = hosts(&c2, false);
    assert!(!second.contains(&c1), "{second}");
    assert!(second.contains(&format!("127.0.0.1\t{c2}\n")), "{second}");
    assert_eq!(first.lines().count(), second.lines().count());
    let names = env
        .roost(0, &["run", "--rm", "--pod", &pod, &bb(), "hostname", "-f"])
        .stdout_text();
    assert_eq!(names.trim(), fqdn);
    env.roost(0, &["pod", "rm", "-f", "-t0", &pod]);
    assert_no_leaks(&env);
}
