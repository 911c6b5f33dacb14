//! `top` of a container in the host's pid namespace (`--pid=host`): its processes come from its
//! own cgroup, which this cgroup v1 build machine cannot give; listing the shared namespace would
//! show every process of the user, so roost refuses, naming what is missing. The cgroup listing
//! itself is tested in the VM tier (tests/vm/scenarios/cgroups.sh).
use crate::harness::*;
use crate::store::pull;

#[test]
fn top_of_a_host_pid_container_needs_its_cgroup() {
    let env = Env::new("top_of_a_host_pid_container_needs_its_cgroup");
    pull(&env, "busybox");
    let name = env.safename("hostpid");
    env.roost(
        0,
        &[
            "run",
            "-d",
            "--name",
            &name,
            "--pid",
            "host",
            &image("busybox"),
            "sleep",
            "1000",
        ],
    );
    let err = env.roost(125, &["top", &name, "pid", "args"]).stderr_text();
    assert!(
        err.starts_with("Error: top of a container in the host's pid namespace (--pid=host) is not available: this host has"),
        "{err}"
    );
    assert!(err.contains("Hint:"), "{err}");
    // A container with a pid namespace of its own is still listed from it.
    let own = env.safename("ownpid");
    env.roost(
        0,
        &[
            "run",
            "-d",
            "--name",
            &own,
            &image("busybox"),
            "sleep",
            "1000",
        ],
    );
    let out = env.roost(0, &["top", &own, "pid", "args"]).stdout_text();
    assert_eq!(
        out.lines()
            .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
            .collect::<Vec<_>>(),
        ["PID COMMAND", "1 sleep 1000"]
    );
    env.roost(0, &["rm", "-f", "-t", "0", &name, &own]);
}
