//! `rm --depend` and `rm -t`: containers that depend on another (`--network container:`) go first
//! or block its removal, as in podman (test/system/055-rm.bats).

use std::time::Duration;

use crate::harness::{Env, OutputExt, assert_no_leaks, image, wait_for};
use crate::store::pull;

fn id_of(env: &Env, name: &str) -> String {
    env.roost(0, &["inspect", "--format", "{{.Id}}", name])
        .stdout_text()
        .trim()
        .to_string()
}

#[test]
fn rm_depend_removes_dependents_first() {
    let env = Env::new("rm_depend_removes_dependents_first");
    pull(&env, "busybox");
    let bb = image("busybox");
    let (a, b, c) = (env.safename("a"), env.safename("b"), env.safename("c"));
    env.roost(
        0,
        &[
            "run",
            "-d",
            "--network",
            "none",
            "--name",
            &a,
            &bb,
            "sleep",
            "300",
        ],
    );
    env.roost(
        0,
        &[
            "create",
            "--network",
            &format!("container:{a}"),
            "--name",
            &b,
            &bb,
            "true",
        ],
    );
    env.roost(
        0,
        &[
            "create",
            "--network",
            &format!("container:{b}"),
            "--name",
            &c,
            &bb,
            "true",
        ],
    );
    let (ida, idb) = (id_of(&env, &a), id_of(&env, &b));
    // Without --depend, podman refuses and names the dependent.
    let err = env.roost(125, &["rm", "-f", &a]).stderr_text();
    assert!(
        err.contains(&format!(
            "container {ida} has dependent containers which must be removed before it: {idb}"
        )),
        "{err}"
    );
    assert_eq!(id_of(&env, &a), ida, "nothing was removed");
    // Removing the dependents along with it in one command is fine.
    let out = env.roost(0, &["rm", &c, &b]).stdout_text();
    assert_eq!(out, format!("{c}\n{b}\n"));
    env.roost(
        0,
        &[
            "create",
            "--network",
            &format!("container:{a}"),
            "--name",
            &b,
            &bb,
            "true",
        ],
    );
    env.roost(
        0,
        &[
            "create",
            "--network",
            &format!("container:{b}"),
            "--name",
            &c,
            &bb,
            "true",
        ],
    );
    let (idb, idc) = (id_of(&env, &b), id_of(&env, &c));
    // --depend: the whole chain, the deepest first.
    let out = env.roost(0, &["rm", "-f", "--depend", &a]).stdout_text();
    assert_eq!(out, format!("{idc}\n{idb}\n{a}\n"));
    assert_eq!(env.roost(0, &["ps", "-a", "-q"]).stdout_text(), "");
    assert_no_leaks(&env);
}

#[test]
fn rm_time_needs_force_and_takes_minus_one() {
    let env = Env::new("rm_time_needs_force_and_takes_minus_one");
    pull(&env, "busybox");
    let n = env.safename("t");
    env.roost(0, &["create", "--name", &n, &image("busybox"), "true"]);
    let err = env.roost(125, &["rm", "-t", "3", &n]).stderr_text();
    assert!(
        err.contains("--force option must be specified to use the --time option"),
        "{err}"
    );
    assert_eq!(
        env.roost(0, &["rm", "-f", "-t", "-1", &n]).stdout_text(),
        format!("{n}\n")
    );
    // A running container gets the stop signal and the time to act on it before it is killed:
    // its TERM trap writes to a volume that outlives it.
    let r = env.safename("r");
    let vol = env.safename("v");
    let mount = format!("{vol}:/out");
    env.roost(
        0,
        &[
            "run",
            "-d",
            "--name",
            &r,
            "-v",
            &mount,
            &image("busybox"),
            "sh",
            "-c",
            "trap 'echo bye > /out/bye; exit 0' TERM; echo ready; while true; do sleep 0.1; done",
        ],
    );
    assert!(
        wait_for(Duration::from_secs(10), || env
            .roost(0, &["logs", &r])
            .stdout_text()
            == "ready\n"),
        "the container never became ready"
    );
    let rm = env.roost(0, &["rm", "-f", "-t", "10", &r]);
    assert!(
        !rm.stderr_text().contains("SIGKILL"),
        "{}",
        rm.stderr_text()
    );
    let bye = env.roost(
        0,
        &[
            "run",
            "--rm",
            "-v",
            &mount,
            &image("busybox"),
            "cat",
            "/out/bye",
        ],
    );
    assert_eq!(bye.stdout_text(), "bye\n", "the TERM trap did not run");
    env.roost(0, &["volume", "rm", &vol]);
    assert_no_leaks(&env);
}
