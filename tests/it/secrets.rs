//! Secrets: `secret create/ls/inspect/rm/exists` with the `file` driver (data kept 0600 in a 0700
//! directory, out of another user's reach, never shown without --showsecret), and `run --secret` as a
//! file (with uid/gid/mode) or an environment variable, absent from the container's inspect output.
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;

use crate::harness::*;

const VALUE: &str = "hunter2-s3cr3t";

fn create(env: &Env, name: &str, value: &str) -> String {
    env.roost_stdin(0, &["secret", "create", name, "-"], value.as_bytes())
        .stdout_text()
        .trim()
        .to_string()
}

#[test]
fn secret_lifecycle_keeps_data_private() {
    let env = Env::new("secret_lifecycle");
    let name = env.safename("db");
    let id = create(&env, &name, VALUE);
    assert_eq!(id.len(), 25, "{id}");
    assert!(id.chars().all(|c| c.is_ascii_hexdigit()), "{id}");

    // A second secret from a file, with a label.
    let file = env.home.join("pw.txt");
    std::fs::write(&file, "from-a-file").unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let other = env.safename("other");
    env.roost(
        0,
        &[
            "secret",
            "create",
            "--label",
            "tier=db",
            &other,
            file.to_str().unwrap(),
        ],
    );
    // A third from an environment variable (--env names it).
    let from_env = env.safename("envsrc");
    let mut cmd = env.roost_cmd(&["secret", "create", "--env", &from_env, "ROOST_TEST_SECRET"]);
    cmd.env("ROOST_TEST_SECRET", "from-the-env");
    env.run_cmd(cmd, 0);
    let shown = out(
        &env,
        &[
            "secret",
            "inspect",
            "--showsecret",
            "--format",
            "{{.SecretData}}",
            &from_env,
        ],
    );
    assert_eq!(shown.trim(), "from-the-env");
    env.roost(0, &["secret", "rm", &from_env]);
    // Same name again: refused unless --replace.
    let dup = env.roost_stdin(125, &["secret", "create", &name, "-"], b"x");
    assert!(
        dup.stderr_text().contains("already exists"),
        "{}",
        dup.stderr_text()
    );

    // The store: data files 0600 in a 0700 directory; another user cannot read them.
    let dir = env.data.join("roost/secrets/filedriver");
    let meta = std::fs::metadata(&dir).unwrap();
    assert_eq!(meta.permissions().mode() & 0o777, 0o700);
    let data_file = dir.join(&id);
    let mode = std::fs::metadata(&data_file).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    assert_eq!(std::fs::read_to_string(&data_file).unwrap(), VALUE);
    let u2 = second_user();
    let denied = std::process::Command::new("cat")
        .arg(&data_file)
        .uid(u2.uid)
        .gid(u2.gid)
        .output()
        .unwrap();
    assert!(!denied.status.success(), "the second user read the secret");
    assert!(!String::from_utf8_lossy(&denied.stdout).contains(VALUE));

    // ls: table, quiet, filters, format.
    let ls = out(&env, &["secret", "ls"]);
    assert!(ls.starts_with("ID"), "{ls}");
    assert!(
        ls.contains(&name) && ls.contains(&other) && ls.contains("file"),
        "{ls}"
    );
    let q = out(
        &env,
        &["secret", "ls", "-q", "--filter", &format!("name={name}")],
    );
    assert_eq!(q.trim(), id);
    let labelled = out(
        &env,
        &[
            "secret",
            "ls",
            "--noheading",
            "--filter",
            "label=tier=db",
            "--format",
            "{{.Name}}",
        ],
    );
    assert_eq!(labelled.trim(), other);

    // inspect: podman's shape, no data unless --showsecret.
    let text = out(&env, &["secret", "inspect", &name]);
    assert!(!text.contains(VALUE), "{text}");
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v[0]["ID"], id.as_str());
    assert_eq!(v[0]["Spec"]["Name"], name.as_str());
    assert_eq!(v[0]["Spec"]["Driver"]["Name"], "file");
    assert!(v[0].get("SecretData").is_none());
    let shown = out(
        &env,
        &[
            "secret",
            "inspect",
            "--showsecret",
            "--format",
            "{{.SecretData}}",
            &name,
        ],
    );
    assert_eq!(shown.trim(), VALUE);

    // --replace keeps the id and changes the data.
    let replaced = env
        .roost_stdin(
            0,
            &["secret", "create", "--replace", &name, "-"],
            b"new-value",
        )
        .stdout_text();
    assert_eq!(replaced.trim(), id);
    let shown = out(
        &env,
        &[
            "secret",
            "inspect",
            "--showsecret",
            "--format",
            "{{.SecretData}}",
            &name,
        ],
    );
    assert_eq!(shown.trim(), "new-value");

    // exists and rm.
    env.roost(0, &["secret", "exists", &name]);
    let gone = env.roost(125, &["secret", "rm", "nosuch-secret"]);
    assert!(
        gone.stderr_text().contains("no such secret"),
        "{}",
        gone.stderr_text()
    );
    env.roost(0, &["secret", "rm", "--ignore", "nosuch-secret"]);
    assert_eq!(out(&env, &["secret", "rm", &name]).trim(), id);
    env.roost(1, &["secret", "exists", &name]);
    assert!(!data_file.exists());
    env.roost(0, &["secret", "rm", "--all"]);
    assert_eq!(out(&env, &["secret", "ls", "-q"]), "");
}

#[test]
fn secret_create_refuses_bad_input() {
    let env = Env::new("secret_bad_input");
    let empty = env.roost_stdin(125, &["secret", "create", &env.safename("e"), "-"], b"");
    assert!(
        empty.stderr_text().contains("larger than 0"),
        "{}",
        empty.stderr_text()
    );
    let bad = env.roost_stdin(125, &["secret", "create", "bad/name", "-"], b"x");
    assert!(
        bad.stderr_text().contains("invalid secret name"),
        "{}",
        bad.stderr_text()
    );
    let driver = env.roost_stdin(
        125,
        &[
            "secret",
            "create",
            "--driver",
            "pass",
            &env.safename("p"),
            "-",
        ],
        b"x",
    );
    assert!(
        driver.stderr_text().contains("not supported"),
        "{}",
        driver.stderr_text()
    );
    let missing = env.roost(
        125,
        &["secret", "create", &env.safename("m"), "/nonexistent/file"],
    );
    assert!(
        missing.stderr_text().contains("/nonexistent/file"),
        "{}",
        missing.stderr_text()
    );
}

#[test]
fn run_secret_as_file_and_env_never_in_inspect() {
    let env = env_with_busybox("run_secret");
    let _cleanup = Cleanup(&env);
    let name = env.safename("tok");
    create(&env, &name, VALUE);

    // Default: a read-only file at /run/secrets/NAME, mode 0444, owned by root.
    let o = out(
        &env,
        &[
            "run",
            "--rm",
            "--secret",
            &name,
            &bb(),
            "sh",
            "-c",
            &format!(
                "cat /run/secrets/{name}; echo; stat -c '%u %g %a' /run/secrets/{name}; echo x > /run/secrets/{name} || echo read-only"
            ),
        ],
    );
    assert!(o.contains(VALUE), "{o}");
    assert!(o.contains("0 0 444"), "{o}");
    assert!(o.contains("read-only"), "{o}");

    // A target, uid, gid and mode.
    let o = out(
        &env,
        &[
            "run",
            "--rm",
            "--secret",
            &format!("{name},target=app/token,uid=1000,gid=100,mode=0400"),
            &bb(),
            "sh",
            "-c",
            "stat -c '%u %g %a' /run/secrets/app/token; cat /run/secrets/app/token",
        ],
    );
    assert!(o.contains("1000 100 400"), "{o}");
    assert!(o.contains(VALUE), "{o}");

    // type=env: the variable, named by target (default: the secret's name).
    let o = out(
        &env,
        &[
            "run",
            "--rm",
            "--secret",
            &format!("{name},type=env,target=API_TOKEN"),
            &bb(),
            "sh",
            "-c",
            "echo \"$API_TOKEN\"",
        ],
    );
    assert_eq!(o.trim(), VALUE);
    // One secret both ways; two secrets on one target are refused.
    let both = format!("echo \"$TOKEN\" $(cat /run/secrets/{name})");
    let o = out(
        &env,
        &[
            "run",
            "--rm",
            "--secret",
            &format!("{name},type=env,target=TOKEN"),
            "--secret",
            &name,
            &bb(),
            "sh",
            "-c",
            &both,
        ],
    );
    assert_eq!(o.trim(), format!("{VALUE} {VALUE}"));
    let r = env.roost(
        125,
        &[
            "run",
            "--rm",
            "--secret",
            &name,
            "--secret",
            &name,
            &bb(),
            "true",
        ],
    );
    assert!(
        r.stderr_text().contains("target of two secrets"),
        "{}",
        r.stderr_text()
    );

    // inspect names the secret but never shows its value, not even for an env secret.
    let ctr = env.safename("c");
    env.roost(
        0,
        &[
            "create",
            "--name",
            &ctr,
            "--secret",
            &format!("{name},type=env,target=API_TOKEN"),
            &bb(),
            "true",
        ],
    );
    let text = out(&env, &["inspect", &ctr]);
    assert!(!text.contains(VALUE), "{text}");
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v[0]["Config"]["Secrets"][0]["Name"], name.as_str());

    // Removing a secret in use is safe: the container keeps its copy (podman).
    env.roost(0, &["secret", "rm", &name]);
    let started = out(&env, &["start", "-a", &ctr]);
    assert_eq!(started.trim(), "");
    let logs = out(&env, &["logs", &ctr]);
    assert!(!logs.contains(VALUE), "{logs}");
    env.roost(0, &["rm", &ctr]);
}

#[test]
fn run_secret_errors_name_the_secret() {
    let env = env_with_busybox("run_secret_errors");
    let _cleanup = Cleanup(&env);
    let r = env.roost(
        125,
        &["run", "--rm", "--secret", "nosuch-secret", &bb(), "true"],
    );
    assert!(
        r.stderr_text().contains("nosuch-secret") && r.stderr_text().contains("no such secret"),
        "{}",
        r.stderr_text()
    );
    let name = env.safename("s");
    create(&env, &name, VALUE);
    let r = env.roost(
        125,
        &[
            "run",
            "--rm",
            "--secret",
            &format!("{name},type=env,mode=0400"),
            &bb(),
            "true",
        ],
    );
    assert!(
        r.stderr_text().contains("only to type=mount"),
        "{}",
        r.stderr_text()
    );
    assert_eq!(out(&env, &["ps", "-aq"]), "");
}
