//! `auto-update` on the build machine (no systemd here): `--dry-run` against the test registry and
//! the local store says which units are `pending`; the real run says clearly that no systemd user
//! manager is reachable. The update, restart and rollback themselves are the VM scenario
//! `autoupdate`.
use crate::harness::*;

/// `run -d` as if from a unit: PODMAN_SYSTEMD_UNIT in the environment becomes the label.
fn run_in_unit(env: &Env, unit: &str, args: &[&str]) -> String {
    let mut cmd = env.roost_cmd(args);
    cmd.env("PODMAN_SYSTEMD_UNIT", unit);
    env.run_cmd(cmd, 0).stdout_text().trim().to_string()
}

fn updated(env: &Env) -> String {
    out(
        env,
        &[
            "auto-update",
            "--dry-run",
            "--format",
            "{{.Unit}} {{.Policy}} {{.Updated}}",
        ],
    )
}

#[test]
fn dry_run_reports_a_newer_image_in_the_registry_as_pending() {
    let env = env_with_busybox("autoupdate_registry");
    let _c = Cleanup(&env);
    let image = format!("{}/{}:latest", registry(), env.safename("app"));
    env.roost(0, &["push", &bb(), &image]);
    env.roost(0, &["pull", "-q", &image]);
    let name = env.safename("c");
    let unit = format!("container-{name}.service");
    run_in_unit(
        &env,
        &unit,
        &[
            "run",
            "-d",
            "--name",
            &name,
            "--label",
            "io.containers.autoupdate=registry",
            &image,
            "sleep",
            "1000",
        ],
    );
    assert_eq!(updated(&env), format!("{unit} registry false\n"));
    // A new image under the same tag, pushed from another name so the local one stays.
    let changed = env.safename("changed");
    env.roost(0, &["run", "--name", &changed, &bb(), "touch", "/new"]);
    let next = format!("localhost/{}:next", env.safename("img"));
    env.roost(0, &["commit", "-q", &changed, &next]);
    env.roost(0, &["push", &next, &image]);
    assert_eq!(updated(&env), format!("{unit} registry pending\n"));
    let table = out(&env, &["auto-update", "--dry-run"]);
    let mut lines = table.lines();
    let head: Vec<&str> = lines.next().unwrap().split_whitespace().collect();
    assert_eq!(head, ["UNIT", "CONTAINER", "IMAGE", "POLICY", "UPDATED"]);
    let row = lines.next().unwrap();
    assert!(
        row.contains(&format!("({name})")) && row.ends_with("pending"),
        "{table}"
    );

    // The real run needs the user's systemd to restart the unit: there is none here.
    let e = env.roost(125, &["auto-update"]);
    let err = e.stderr_text();
    assert!(
        err.contains("no systemd user manager is reachable"),
        "{err}"
    );
    assert!(err.contains(&unit), "{err}");
    assert!(e.stdout_text().contains("failed"), "{}", e.stdout_text());
}

#[test]
fn dry_run_reports_a_newer_local_image_as_pending() {
    let env = env_with_busybox("autoupdate_local");
    let _c = Cleanup(&env);
    let tag = format!("localhost/{}:latest", env.safename("app"));
    env.roost(0, &["tag", &bb(), &tag]);
    let name = env.safename("c");
    run_in_unit(
        &env,
        "web.service",
        &[
            "run",
            "-d",
            "--name",
            &name,
            "--label",
            "io.containers.autoupdate=local",
            &tag,
            "sleep",
            "1000",
        ],
    );
    assert_eq!(updated(&env), "web.service local false\n");
    let changed = env.safename("changed");
    env.roost(0, &["run", "--name", &changed, &bb(), "touch", "/new"]);
    env.roost(0, &["commit", "-q", &changed, &tag]);
    assert_eq!(updated(&env), "web.service local pending\n");
    let json = out(&env, &["auto-update", "--dry-run", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_str(&json).expect("JSON");
    assert_eq!(v[0]["Updated"], "pending");
    assert_eq!(v[0]["ContainerName"], name.as_str());
}

#[test]
fn labelled_containers_outside_a_unit_are_errors() {
    let env = env_with_busybox("autoupdate_nounit");
    let _c = Cleanup(&env);
    let name = env.safename("c");
    env.roost(
        0,
        &[
            "run",
            "-d",
            "--name",
            &name,
            "--label",
            "io.containers.autoupdate=local",
            &bb(),
            "sleep",
            "1000",
        ],
    );
    let e = env.roost(125, &["auto-update", "--dry-run"]);
    assert!(
        e.stderr_text()
            .contains("no PODMAN_SYSTEMD_UNIT label found"),
        "{}",
        e.stderr_text()
    );
    let other = env.safename("d");
    run_in_unit(
        &env,
        "x.service",
        &[
            "run",
            "-d",
            "--name",
            &other,
            "--label",
            "io.containers.autoupdate=sometimes",
            &bb(),
            "sleep",
            "1000",
        ],
    );
    let e = env.roost(125, &["auto-update", "--dry-run"]);
    assert!(
        e.stderr_text()
            .contains("invalid auto-update policy `sometimes`"),
        "{}",
        e.stderr_text()
    );
}
