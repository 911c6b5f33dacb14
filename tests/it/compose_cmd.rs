//! `roost compose`: an installed compose provider run with roost as its `podman` (podman-compose(1)):
//! the venv's podman-compose found on PATH, a provider named in containers.conf, the warning and
//! how to turn it off, and the error when there is none.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;

use crate::harness::{Cleanup, Env, OutputExt, TEST_PATH, env_with_busybox, image, out};

fn venv_bin() -> PathBuf {
    PathBuf::from(std::env::var("TB").unwrap_or_else(|_| "/tmp/roost-world".into()))
        .join("venv/bin")
}

/// `roost compose ARGS` with `path` as PATH and `vars` set; checked for `code`.
fn compose(
    env: &Env,
    code: i32,
    path: &str,
    vars: &[(&str, &str)],
    args: &[&str],
) -> std::process::Output {
    let mut all = vec!["compose"];
    all.extend_from_slice(args);
    let mut cmd = env.roost_cmd(&all);
    cmd.env("PATH", path);
    for (k, v) in vars {
        cmd.env(k, v);
    }
    env.run_cmd(cmd, code)
}

const WARNING: &str = ">>>> Executing external compose provider";

#[test]
fn compose_runs_podman_compose_from_path_with_roost_as_podman() {
    let pc = venv_bin().join("podman-compose");
    assert!(
        pc.exists(),
        "{} is missing: run `sudo tests/world.sh`",
        pc.display()
    );
    let env = env_with_busybox("compose_runs_podman_compose");
    let _cleanup = Cleanup(&env);
    let project = env.home.join("demo");
    fs::create_dir(&project).expect("create the project dir");
    fs::write(
        project.join("compose.yaml"),
        format!(
            "services:\n  app:\n    image: {}\n    command: [\"sleep\", \"1000\"]\n",
            image("busybox")
        ),
    )
    .expect("write compose.yaml");
    fs::set_permissions(&project, fs::Permissions::from_mode(0o777)).expect("chmod project");
    let dir = project.to_str().expect("utf-8 path");
    // Debian's podman is in /usr/bin, on TEST_PATH: the containers must still be roost's.
    let path = format!("{}:{TEST_PATH}", venv_bin().display());

    let up = compose(
        &env,
        0,
        &path,
        &[],
        &[
            "-f",
            &format!("{dir}/compose.yaml"),
            "-p",
            "demo",
            "up",
            "-d",
        ],
    );
    assert!(up.stderr_text().contains(WARNING), "{}", up.stderr_text());
    let ps = out(
        &env,
        &[
            "ps",
            "--pod",
            "--format",
            "{{.Names}} {{.PodName}} {{.State}}",
        ],
    );
    assert_eq!(
        ps.trim(),
        "demo_app_1 pod_demo running",
        "roost ps after compose up:\n{ps}"
    );

    let down = compose(
        &env,
        0,
        &path,
        &[("PODMAN_COMPOSE_WARNING_LOGS", "false")],
        &["-f", &format!("{dir}/compose.yaml"), "-p", "demo", "down"],
    );
    assert!(
        !down.stderr_text().contains(WARNING),
        "{}",
        down.stderr_text()
    );
    assert_eq!(out(&env, &["ps", "-a", "-q"]), "");
    assert_eq!(out(&env, &["pod", "ps", "-q"]), "");
}

#[test]
fn compose_runs_the_provider_named_in_containers_conf() {
    let env = Env::new("compose_providers_conf");
    let script = env.root.join("my-compose");
    fs::write(&script, "#!/bin/sh\necho \"args: $*\"\npodman --version\n").expect("write provider");
    fs::set_permissions(&script, fs::Permissions::from_mode(0o755)).expect("chmod provider");
    fs::write(
        env.config.join("containers/containers.conf"),
        format!(
            "[engine]\ncompose_providers = [\"{}/missing\", \"{}\"]\ncompose_warning_logs = false\n",
            env.root.display(),
            script.display()
        ),
    )
    .expect("write containers.conf");
    let o = compose(&env, 0, TEST_PATH, &[], &["-p", "x", "up", "-d", "--help"]);
    // Arguments unchanged; `podman` is roost (Debian's /usr/bin/podman says 4.3.1).
    let want = format!(
        "args: -p x up -d --help\npodman version {}\n",
        crate::misc::PODMAN_COMPAT
    );
    assert_eq!(o.stdout_text(), want);
    assert!(!o.stderr_text().contains(WARNING), "{}", o.stderr_text());
}

#[test]
fn compose_without_a_provider_says_how_to_install_one() {
    let env = Env::new("compose_no_provider");
    let o = compose(&env, 125, TEST_PATH, &[], &["up"]);
    let err = o.stderr_text();
    assert!(
        err.contains("Error: no compose provider found: podman-compose is not on PATH"),
        "{err}"
    );
    assert!(err.contains("Hint: install podman-compose"), "{err}");
    let o = compose(
        &env,
        125,
        TEST_PATH,
        &[("PODMAN_COMPOSE_PROVIDER", "/nonexistent/compose")],
        &["up"],
    );
    assert!(
        o.stderr_text()
            .contains("`/nonexistent/compose` ($PODMAN_COMPOSE_PROVIDER)"),
        "{}",
        o.stderr_text()
    );
}
