//! Resource limits on this build machine (cgroup v1 hybrid, no systemd): flag validation (bad
//! values: exit 125 naming the flag), podman's warning that limits are ignored on cgroup v1, and
//! clear refusals of what needs a delegated cgroup v2 (pause, stats, update). The real behaviour
//! is tested in the VM tier: tests/vm/scenarios/cgroups.sh.
use crate::harness::*;
use crate::store::pull;

#[test]
fn bad_limit_values_are_usage_errors() {
    let env = Env::new("bad_limit_values_are_usage_errors");
    let img = image("busybox");
    for (flags, needle) in [
        (&["--memory", "lots"][..], "--memory"),
        (&["-m", "1m"], "minimum memory limit allowed is 6MB"),
        (&["--cpus", "abc"], "--cpus"),
        (&["--cpus", "0"], "greater than 0"),
        (&["--memory-swap", "100m"], "always set the memory limit"),
        (
            &["-m", "100m", "--memory-swap", "50m"],
            "memoryswap limit should be larger",
        ),
        (
            &["-m", "100m", "--memory-reservation", "200m"],
            "memory reservation",
        ),
        (&["--cpus", "1", "--cpu-quota", "20000"], "--cpus"),
        (&["--cpu-period", "10"], "--cpu-period"),
        (&["--cpuset-cpus", "3-1"], "--cpuset-cpus"),
        (&["--blkio-weight", "5"], "from 10 to 1000"),
        (&["--memory-swappiness", "101"], "0 to 100"),
        (
            &["--device-read-bps", "/dev/null:1mb"],
            "not a block device",
        ),
        (&["--device-write-iops", "nocolon"], "DEVICE:RATE"),
        (&["--cgroup-conf", "../escape=1"], "--cgroup-conf"),
        (&["--cgroups", "maybe"], "maybe"),
        (&["--oom-score-adj", "5000"], "5000"),
        (
            &["--cgroups", "disabled", "-m", "64m"],
            "--cgroups=disabled",
        ),
    ] {
        let mut args = vec!["create"];
        args.extend_from_slice(flags);
        args.push(&img);
        let out = env.roost(125, &args);
        assert!(
            out.stderr_text().contains(needle),
            "{flags:?}: expected `{needle}` in: {}",
            out.stderr_text()
        );
    }
    env.roost(0, &["ps", "-a", "-q"]);
}

#[test]
fn limits_on_cgroup_v1_warn_as_podman_and_name_the_fix() {
    let env = Env::new("limits_on_cgroup_v1_warn_as_podman_and_name_the_fix");
    pull(&env, "busybox");
    let img = image("busybox");
    let out = env.roost(
        0,
        &[
            "run", "--rm", "-m", "64m", "--cpus", "0.5", &img, "echo", "ran",
        ],
    );
    assert_eq!(out.stdout_text(), "ran\n");
    let err = out.stderr_text();
    assert!(
        err.contains(
            "Resource limits are not supported and ignored on cgroups V1 rootless systems"
        ),
        "{err}"
    );
    assert!(
        err.contains("Delegate="),
        "the warning names the fix: {err}"
    );
    assert!(err.contains("systemd.unified_cgroup_hierarchy=1"), "{err}");
    // Without a limit: no warning (and no cgroup work at all).
    let out = env.roost(0, &["run", "--rm", &img, "true"]);
    assert_eq!(out.stderr_text(), "");
}

#[test]
fn inspect_shows_no_limits_for_a_container_without_a_cgroup() {
    let env = Env::new("inspect_shows_no_limits_for_a_container_without_a_cgroup");
    pull(&env, "busybox");
    let img = image("busybox");
    let name = "cg-inspect";
    env.roost(
        0,
        &[
            "create",
            "--name",
            name,
            "-m",
            "64m",
            "--oom-score-adj",
            "100",
            &img,
        ],
    );
    let f = "{{.HostConfig.Memory}} {{.HostConfig.PidsLimit}} {{.HostConfig.OomScoreAdj}} {{.State.OOMKilled}}";
    // Ignored on cgroup v1 (as podman does), so not shown as applied.
    assert_eq!(
        env.roost(0, &["inspect", "--format", f, name])
            .stdout_text(),
        "0 0 100 false\n"
    );
    env.roost(0, &["rm", name]);
}

#[test]
fn pause_stats_and_update_need_cgroup_v2() {
    let env = Env::new("pause_stats_and_update_need_cgroup_v2");
    pull(&env, "busybox");
    let img = image("busybox");
    let name = "cg-refusals";
    env.roost(0, &["run", "-d", "--name", name, &img, "sleep", "600"]);
    for args in [
        &["pause", name][..],
        &["unpause", name],
        &["stats", "--no-stream", name],
        &["stats", "--no-stream", "--format", "json"],
        &["update", "--memory", "128m", name],
    ] {
        let out = env.roost(125, args);
        let err = out.stderr_text();
        assert!(err.contains("cgroup v2"), "{args:?}: {err}");
        assert!(err.contains("Delegate="), "{args:?} names the fix: {err}");
    }
    assert_eq!(
        env.roost(0, &["inspect", "--format", "{{.State.Status}}", name])
            .stdout_text(),
        "running\n"
    );
    env.roost(125, &["update", name]);
    env.roost(0, &["rm", "-f", "-t0", name]);
}

/// `pod create --memory/--cpus/--device-read-bps`: `pod inspect` shows them (podman's JSON keys,
/// unset ones left out; templates and completion by their Go names); they are the pod cgroup's,
/// which every member's own cgroup is made in (here: podman's cgroup v1 warning that they are
/// ignored), unless it has no cgroup; a member's own limits are its own. The pod's cgroup itself
/// is tried in the VM tier (`pod-cgroup`).
#[test]
fn pod_limits_reach_inspect_and_every_member() {
    let env = Env::new("pod_limits_reach_inspect_and_every_member");
    pull(&env, "busybox");
    let img = image("busybox");
    let pod = env.safename("limited");
    env.roost(
        0,
        &[
            "pod", "create", "--name", &pod, "--memory", "64m", "--cpus", "0.5",
        ],
    );
    let json: serde_json::Value =
        serde_json::from_str(&env.roost(0, &["pod", "inspect", &pod]).stdout_text()).unwrap();
    assert_eq!(json["memory_limit"], 64 << 20, "{json}");
    assert_eq!(json["cpu_period"], 100_000, "{json}");
    assert_eq!(json["cpu_quota"], 50_000, "{json}");
    assert!(
        json.get("blkio_weight").is_none(),
        "unset: left out: {json}"
    );
    let fields = env
        .roost(
            0,
            &[
                "pod",
                "inspect",
                &pod,
                "--format",
                "{{.MemoryLimit}} {{.CPUQuota}} {{.BlkioWeight}} {{len .BlkioDeviceReadBps}}",
            ],
        )
        .stdout_text();
    assert_eq!(fields, "67108864 50000 0 0\n");
    let completion = env
        .roost(0, &["__complete", "inspect", &pod, "-f", "{{."])
        .stdout_text();
    assert!(
        completion.lines().any(|l| l == "{{.BlkioDeviceReadBps}}"),
        "{completion}"
    );
    assert_eq!(
        env.roost(
            0,
            &["pod", "inspect", &pod, "--format", "{{.CreateCgroup}}"]
        )
        .stdout_text(),
        "true\n"
    );
    let member = env.roost(0, &["create", "--pod", &pod, &img, "true"]);
    assert!(
        member
            .stderr_text()
            .contains("Resource limits are not supported"),
        "the member is in the pod's cgroup: {}",
        member.stderr_text()
    );
    let id = member.stdout_text();
    let host = env
        .roost(
            0,
            &[
                "inspect",
                id.trim(),
                "--format",
                "{{.HostConfig.Memory}} {{.HostConfig.CgroupParent}}",
            ],
        )
        .stdout_text();
    assert_eq!(
        host.split(' ').next(),
        Some("0"),
        "the pod's limit is not copied into the member's own: {host}"
    );
    let without = env.roost(
        125,
        &["pod", "create", "--share-parent=false", "--memory", "64m"],
    );
    assert!(
        without.stderr_text().contains("--share-parent=false"),
        "{}",
        without.stderr_text()
    );
    let uncontained = env.roost(
        0,
        &[
            "create",
            "--pod",
            &pod,
            "--cgroups",
            "disabled",
            &img,
            "true",
        ],
    );
    assert_eq!(uncontained.stderr_text(), "");
    let plain = env.safename("plain");
    env.roost(0, &["pod", "create", "--name", &plain]);
    let member = env.roost(0, &["create", "--pod", &plain, &img, "true"]);
    assert_eq!(member.stderr_text(), "", "no limits, no warning");
    let bad = env.roost(125, &["pod", "create", "--memory", "lots"]);
    assert!(
        bad.stderr_text().contains("--memory"),
        "{}",
        bad.stderr_text()
    );
    env.roost(0, &["pod", "rm", "-f", &pod, &plain]);
}
