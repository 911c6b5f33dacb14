//! Real podman clients, unchanged, driving roost: podman-compose, distrobox and toolbox, each run by
//! a script in tests/clients/ as the test user with a `podman -> roost` symlink first on a Debian
//! login PATH (no /usr/sbin), and Debian's own podman (a dependency of podman-toolbox) after it.
//! `tests/world.sh` installs the clients and pushes the offline images they use.

use std::fs;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::harness::{Cleanup, Env, OutputExt, free_port, image, roost_bin, run_with_timeout};

/// Debian's default PATH for a login user.
const LOGIN_PATH: &str = "/usr/local/bin:/usr/bin:/bin:/usr/local/games:/usr/games";

fn world_dir() -> PathBuf {
    PathBuf::from(std::env::var("TB").unwrap_or_else(|_| "/tmp/roost-world".into()))
}

fn podman_compose() -> PathBuf {
    world_dir().join("venv/bin/podman-compose")
}

fn require_client(path: &Path) {
    assert!(
        path.exists(),
        "{} is missing: run `sudo tests/world.sh`",
        path.display()
    );
}

/// Runs tests/clients/SCRIPT as the test user with `podman` resolving to roost; panics with the
/// script's output unless it exits 0 having printed `OK`.
fn run_client(env: &Env, script: &str, body: &str, vars: &[(&str, String)]) {
    let bin = env.root.join("bin");
    fs::create_dir(&bin).expect("create the bin dir");
    symlink(roost_bin(), bin.join("podman")).expect("symlink podman -> roost");
    fs::set_permissions(&bin, fs::Permissions::from_mode(0o755)).expect("chmod bin dir");
    let path = env.root.join(script);
    fs::write(&path, body).expect("write the client script");
    fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).expect("chmod the script");

    let user = env.user().name.clone();
    let mut cmd = env.command("/bin/bash", &[path.to_str().expect("utf-8 path")]);
    cmd.env("PATH", format!("{}:{LOGIN_PATH}", bin.display()))
        .env("USER", &user)
        .env("LOGNAME", &user)
        .env("SHELL", "/bin/bash")
        .env("REG", crate::harness::registry());
    for (k, v) in vars {
        cmd.env(k, v);
    }
    let out = run_with_timeout(&mut cmd, None, Duration::from_secs(600))
        .unwrap_or_else(|e| panic!("{script}: {e}"));
    let text = format!(
        "{script} exited {:?}\n--- stdout\n{}\n--- stderr\n{}",
        out.status.code(),
        out.stdout_text(),
        out.stderr_text()
    );
    assert!(
        out.status.success() && out.stdout_text().lines().any(|l| l == "OK"),
        "{text}"
    );
}

#[test]
fn podman_compose_two_services() {
    require_client(&podman_compose());
    let env = Env::new("podman_compose_two_services");
    let _cleanup = Cleanup(&env);
    env.roost(0, &["pull", "-q", &image("compose-base:bookworm")]);
    run_client(
        &env,
        "compose.sh",
        include_str!("../clients/compose.sh"),
        &[
            ("HOSTPORT", free_port().to_string()),
            ("PODMAN_COMPOSE", podman_compose().display().to_string()),
        ],
    );
}

#[test]
fn distrobox_create_enter_rm() {
    require_client(Path::new("/usr/bin/distrobox"));
    let env = Env::new("distrobox_create_enter_rm");
    let _cleanup = Cleanup(&env);
    let img = image("devbox:bookworm");
    env.roost(0, &["pull", "-q", &img]);
    run_client(
        &env,
        "distrobox.sh",
        include_str!("../clients/distrobox.sh"),
        &[("IMAGE", img), ("NAME", env.safename("box"))],
    );
    assert!(env.home.join("x").is_file(), "~/x is not in the real HOME");
}

#[test]
fn toolbox_create_run() {
    require_client(Path::new("/usr/bin/toolbox"));
    let env = Env::new("toolbox_create_run");
    let _cleanup = Cleanup(&env);
    let img = image("devbox:bookworm");
    env.roost(0, &["pull", "-q", &img]);
    run_client(
        &env,
        "toolbox.sh",
        include_str!("../clients/toolbox.sh"),
        &[("IMAGE", img), ("NAME", env.safename("tb"))],
    );
}
