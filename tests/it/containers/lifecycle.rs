//! `create`/`start`/`wait`, name conflicts and `rm`, generated names.

use std::time::Duration;

use super::{assert_container_id, container_dirs, ps_field, run_detached, runtime_container_dirs};
use crate::harness::{Cleanup, OutputExt, assert_no_leaks, bb, env_with_busybox, out, wait_for};

// ---------------------------------------------------------------------------------------------
// Lifecycle: create/start/wait, rm
// ---------------------------------------------------------------------------------------------

#[test]
fn create_start_wait() {
    let env = env_with_busybox("create_start_wait");
    let _c = Cleanup(&env);
    let a = env.safename("a");
    let id = out(
        &env,
        &["create", "--name", &a, &bb(), "echo", "created-out"],
    )
    .trim()
    .to_string();
    assert_container_id(&id);
    assert_eq!(ps_field(&env, &a, "{{.Status}}"), "Created");
    assert_eq!(ps_field(&env, &a, "{{.State}}"), "created");
    assert_eq!(
        out(&env, &["ps", "-q"]),
        "",
        "a created container is not running"
    );
    assert_eq!(out(&env, &["start", "-a", &a]), "created-out\n");
    assert!(
        ps_field(&env, &a, "{{.Status}}").starts_with("Exited (0)"),
        "{}",
        ps_field(&env, &a, "{{.Status}}")
    );

    let b = env.safename("b");
    let idb = out(
        &env,
        &[
            "create",
            "--name",
            &b,
            &bb(),
            "sh",
            "-c",
            "sleep 0.2; exit 5",
        ],
    )
    .trim()
    .to_string();
    // Detached start prints the name or ID as given.
    assert_eq!(out(&env, &["start", &b]), format!("{b}\n"));
    assert_eq!(out(&env, &["wait", &idb]), "5\n");
    assert!(ps_field(&env, &b, "{{.Status}}").starts_with("Exited (5)"));
    assert_eq!(ps_field(&env, &b, "{{.ExitCode}}"), "5");
    // A stopped container can be started again.
    out(&env, &["start", &idb[..12]]);
    assert_eq!(out(&env, &["wait", &b]), "5\n");

    // podman prints each container as it was named.
    let o = env.roost(0, &["rm", &a, &b]);
    assert_eq!(o.stdout_lines(), [a.clone(), b.clone()]);
    assert_eq!(container_dirs(&env), Vec::<String>::new());
    assert_no_leaks(&env);
}

#[test]
fn name_conflicts_and_rm() {
    let env = env_with_busybox("name_conflicts_and_rm");
    let _c = Cleanup(&env);
    let img = bb();
    let n = env.safename("n");
    let id = run_detached(&env, &["--name", &n, &img, "sleep", "300"]);

    for cmd in ["create", "run"] {
        let o = env.roost(125, &[cmd, "--name", &n, &img, "true"]);
        assert!(
            o.stderr_text().contains("already in use"),
            "{cmd}: {}",
            o.stderr_text()
        );
    }
    assert_eq!(env.roost(0, &["ps", "-a", "-q"]).stdout_lines().len(), 1);

    // Running without -f: 2, still there.
    let o = env.roost(2, &["rm", &n]);
    assert!(o.stderr_text().contains("running"), "{}", o.stderr_text());
    assert_eq!(ps_field(&env, &n, "{{.State}}"), "running");
    // Unknown: 1.
    let o = env.roost(1, &["rm", "no-such-container"]);
    assert!(
        o.stderr_text()
            .contains("no container with ID or name \"no-such-container\" found"),
        "{}",
        o.stderr_text()
    );
    // -f: gone, printed as it was named.
    assert_eq!(out(&env, &["rm", "-f", &n]), format!("{n}\n"));
    assert_eq!(out(&env, &["ps", "-a", "-q"]), "");
    // -i: unknown ignored.
    env.roost(0, &["rm", "-i", "no-such-container"]);
    // The name is free again.
    let id2 = out(&env, &["create", "--name", &n, &img, "true"])
        .trim()
        .to_string();
    assert_ne!(id, id2);

    // rm -a removes the stopped ones; -a -f the running too.
    run_detached(&env, &[&img, "true"]);
    let running = run_detached(&env, &[&img, "sleep", "300"]);
    assert!(wait_for(Duration::from_secs(10), || {
        env.roost(0, &["ps", "-a", "--filter", "status=exited", "-q"])
            .stdout_lines()
            .len()
            == 1
    }));
    env.roost(2, &["rm", "-a"]);
    assert_eq!(
        env.roost(0, &["ps", "-a", "-q", "--no-trunc"])
            .stdout_lines(),
        [running.as_str()],
        "rm -a must remove every stopped container even when one is running"
    );
    out(&env, &["rm", "-a", "-f"]);
    assert_eq!(out(&env, &["ps", "-a", "-q"]), "");
    assert_eq!(container_dirs(&env), Vec::<String>::new());
    assert_eq!(runtime_container_dirs(&env), Vec::<String>::new());
    assert_no_leaks(&env);
}

// ---------------------------------------------------------------------------------------------
// Generated names
// ---------------------------------------------------------------------------------------------

fn is_generated_name(s: &str) -> bool {
    let Some((a, b)) = s.split_once('_') else {
        return false;
    };
    [a, b]
        .iter()
        .all(|w| !w.is_empty() && w.bytes().all(|c| c.is_ascii_lowercase()))
}

#[test]
fn generated_names() {
    let env = env_with_busybox("generated_names");
    let _c = Cleanup(&env);
    for _ in 0..5 {
        run_detached(&env, &[&bb(), "true"]);
    }
    out(&env, &["create", &bb(), "true"]);
    let names = env
        .roost(0, &["ps", "-a", "--format", "{{.Names}}"])
        .stdout_lines();
    assert_eq!(names.len(), 6, "{names:?}");
    for n in &names {
        assert!(is_generated_name(n), "not adjective_noun: {n:?}");
    }
    let mut uniq = names.clone();
    uniq.sort();
    uniq.dedup();
    assert_eq!(
        uniq.len(),
        names.len(),
        "generated names collide: {names:?}"
    );
    // A generated name works as a reference.
    env.roost(0, &["wait", &names[1]]);
    out(&env, &["rm", "-a", "-f"]);
    assert_no_leaks(&env);
}
