//! `roost login`/`logout` and pulls from the basic-auth registry.

use crate::harness::{
    AUTH_PASSWORD, AUTH_USER, Env, OutputExt, assert_no_leaks, auth_image, auth_registry,
};

fn auth_json(env: &Env) -> std::path::PathBuf {
    env.runtime.join("containers/auth.json")
}

#[test]
fn pull_without_login_asks_for_it() {
    let env = Env::new("pull_without_login_asks_for_it");
    let out = env.roost(125, &["pull", &auth_image("busybox")]);
    let err = out.stderr_text();
    assert!(err.contains("authentication"), "{err}");
    assert!(err.contains("roost login"), "no hint to log in:\n{err}");
    assert!(out.stdout.is_empty());
    assert_no_leaks(&env);
}

#[test]
fn login_wrong_password_writes_nothing() {
    let env = Env::new("login_wrong_password_writes_nothing");
    let out = env.roost(
        125,
        &["login", "-u", AUTH_USER, "-p", "wrong", &auth_registry()],
    );
    let err = out.stderr_text();
    assert!(err.starts_with("Error: "), "{err}");
    assert!(!err.contains("wrong"), "the password was echoed:\n{err}");
    assert!(
        !auth_json(&env).exists(),
        "failed login wrote {}",
        auth_json(&env).display()
    );
    assert_no_leaks(&env);
}

#[test]
fn login_pull_logout() {
    let env = Env::new("login_pull_logout");
    let reg = auth_registry();
    let out = env.roost(0, &["login", "-u", AUTH_USER, "-p", AUTH_PASSWORD, &reg]);
    assert_eq!(out.stdout_text().trim(), "Login Succeeded!");
    let file: serde_json::Value =
        serde_json::from_slice(&std::fs::read(auth_json(&env)).expect("auth.json written"))
            .unwrap();
    assert!(file["auths"][&reg]["auth"].is_string(), "{file}");
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(auth_json(&env)).unwrap().permissions(),
    );
    assert_eq!(mode & 0o077, 0, "auth.json is readable by others: {mode:o}");

    let out = env.roost(0, &["login", "--get-login", &reg]);
    assert_eq!(out.stdout_text().trim(), AUTH_USER);
    let out = env.roost(0, &["pull", "-q", &auth_image("busybox")]);
    assert_eq!(out.stdout_text().trim().len(), 64);

    let out = env.roost(0, &["logout", &reg]);
    assert_eq!(
        out.stdout_text().trim(),
        format!("Removed login credentials for {reg}")
    );
    let out = env.roost(125, &["logout", &reg]);
    assert_eq!(
        out.stderr_text().trim(),
        format!("Error: not logged into {reg}")
    );
    env.roost(125, &["login", "--get-login", &reg]);
    env.roost(0, &["rmi", "-a"]);
    env.roost(125, &["pull", &auth_image("busybox")]);
    assert_no_leaks(&env);
}

#[test]
fn login_password_stdin_and_logout_all() {
    let env = Env::new("login_password_stdin_and_logout_all");
    let reg = auth_registry();
    let out = env.roost_stdin(
        0,
        &["login", "-u", AUTH_USER, "--password-stdin", &reg],
        format!("{AUTH_PASSWORD}\n").as_bytes(),
    );
    assert_eq!(out.stdout_text().trim(), "Login Succeeded!");
    env.roost(0, &["pull", "-q", &auth_image("busybox")]);
    env.roost(0, &["logout", "-a"]);
    env.roost(125, &["login", "--get-login", &reg]);
    let out = env.roost_stdin(
        125,
        &["login", "-u", AUTH_USER, "--password-stdin", &reg],
        b"nope\n",
    );
    assert!(out.stderr_text().starts_with("Error: "));
    assert_no_leaks(&env);
}

#[test]
fn pull_with_creds_needs_no_login() {
    let env = Env::new("pull_with_creds_needs_no_login");
    let creds = format!("{AUTH_USER}:{AUTH_PASSWORD}");
    let out = env.roost(
        0,
        &["pull", "-q", "--creds", &creds, &auth_image("layered")],
    );
    assert_eq!(out.stdout_text().trim().len(), 64);
    assert!(!auth_json(&env).exists(), "--creds must not be persisted");
    env.roost(
        125,
        &[
            "pull",
            "--creds",
            &format!("{AUTH_USER}:bad"),
            &auth_image("busybox"),
        ],
    );
    assert_no_leaks(&env);
}

#[test]
fn authfile_is_honoured() {
    let env = Env::new("authfile_is_honoured");
    let reg = auth_registry();
    let authfile = env.home.join("my-auth.json");
    let af = authfile.to_str().unwrap();
    env.roost(
        0,
        &[
            "login",
            "--authfile",
            af,
            "-u",
            AUTH_USER,
            "-p",
            AUTH_PASSWORD,
            &reg,
        ],
    );
    let file: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&authfile).unwrap()).unwrap();
    assert!(file["auths"][&reg]["auth"].is_string(), "{file}");
    assert!(
        !auth_json(&env).exists(),
        "--authfile login also wrote the default file"
    );

    env.roost(125, &["pull", &auth_image("busybox")]);
    env.roost(0, &["pull", "-q", "--authfile", af, &auth_image("busybox")]);
    let out = env.roost(0, &["login", "--authfile", af, "--get-login", &reg]);
    assert_eq!(out.stdout_text().trim(), AUTH_USER);
    env.roost(0, &["logout", "--authfile", af, &reg]);
    env.roost(0, &["rmi", "-a"]);
    env.roost(125, &["pull", "--authfile", af, &auth_image("busybox")]);
    assert_no_leaks(&env);
}
