//! The /proc view (src/runtime/procfs/) on this build machine (cgroup v1: limits are ignored, so
//! there is no cgroup to compute a view from): `--no-proc-view` is accepted, and a limited
//! container keeps the host's /proc files, with no view mount and no warning about FUSE. The view
//! itself is tested in the VM tier (tests/vm/scenarios/procfs.sh) and its figures in unit tests.
use crate::harness::*;
use crate::store::pull;

fn host_memtotal() -> String {
    std::fs::read_to_string("/proc/meminfo")
        .expect("read /proc/meminfo")
        .lines()
        .next()
        .expect("a first line")
        .to_string()
}

#[test]
fn without_a_cgroup_the_container_keeps_the_hosts_proc_files() {
    let env = Env::new("without_a_cgroup_the_container_keeps_the_hosts_proc_files");
    pull(&env, "busybox");
    let img = image("busybox");
    for flags in [&["-m", "64m"][..], &["-m", "64m", "--no-proc-view"], &[]] {
        let mut args = vec!["run", "--rm"];
        args.extend_from_slice(flags);
        args.extend_from_slice(&[
            &img,
            "sh",
            "-c",
            "head -1 /proc/meminfo; grep -c roost-procview /proc/self/mountinfo || true",
        ]);
        let out = env.roost(0, &args);
        assert_eq!(
            out.stdout_text(),
            format!("{}\n0\n", host_memtotal()),
            "{flags:?}"
        );
        assert!(
            !out.stderr_text().contains("FUSE"),
            "{flags:?}: {}",
            out.stderr_text()
        );
    }
}

#[test]
fn no_proc_view_is_a_create_flag() {
    let env = Env::new("no_proc_view_is_a_create_flag");
    let img = image("busybox");
    pull(&env, "busybox");
    env.roost(
        0,
        &["create", "--name", "pv", "--no-proc-view", &img, "true"],
    );
    env.roost(0, &["rm", "pv"]);
    let out = env.roost(125, &["create", "--no-proc-view=maybe", &img, "true"]);
    assert!(
        out.stderr_text().contains("--no-proc-view"),
        "{}",
        out.stderr_text()
    );
}
