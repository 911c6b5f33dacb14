//! What one user can reach of another's roost: the store, its database and the containers' files are
//! private (0700 directories, 0600 files), an older world-readable store is tightened on the next
//! command, and without XDG_RUNTIME_DIR each user gets a runtime directory of their own that nobody else
//! can pre-create. These tests run roost as two users, so they need root.
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::harness::*;
use crate::store::{pull, store_root};

const SECRET: &str = "DB_PASSWORD=privacy-secret-4711";

/// A path's permission bits (of the link itself for a symbolic link).
pub(crate) fn mode(p: &Path) -> u32 {
    fs::symlink_metadata(p)
        .unwrap_or_else(|e| panic!("stat {}: {e}", p.display()))
        .permissions()
        .mode()
        & 0o7777
}

fn assert_mode(p: &Path, want: u32) {
    assert_eq!(
        mode(p),
        want,
        "mode of {} is {:o}, want {want:o}",
        p.display(),
        mode(p)
    );
}

fn chmod(p: &Path, m: u32) {
    fs::set_permissions(p, fs::Permissions::from_mode(m))
        .unwrap_or_else(|e| panic!("chmod {}: {e}", p.display()));
}

fn db_files(env: &Env) -> Vec<PathBuf> {
    ["roost.db", "roost.db-wal", "roost.db-shm"]
        .iter()
        .map(|f| store_root(env).join(f))
        .collect()
}

/// A detached container that has printed its first line (so its log exists); returns its full id.
fn run_detached(env: &Env, name: &str) -> String {
    let id = env
        .roost(
            0,
            &[
                "run",
                "-d",
                "--name",
                name,
                "-e",
                SECRET,
                &bb(),
                "sh",
                "-c",
                "echo started; exec sleep 1000",
            ],
        )
        .stdout_text()
        .trim()
        .to_string();
    assert!(
        wait_for(Duration::from_secs(10), || out(env, &["logs", name])
            .contains("started")),
        "container {name} did not start"
    );
    id
}

/// A directory both users can create names in, like /tmp (sticky, world-writable).
fn shared_tmp(env: &Env) -> PathBuf {
    let tmp = env.root.join("tmp");
    fs::create_dir(&tmp).expect("create the shared tmp");
    chmod(&tmp, 0o1777);
    tmp
}

#[test]
fn store_database_and_container_files_are_private() {
    let env = env_with_busybox("store_database_and_container_files_are_private");
    let _c = Cleanup(&env);
    let name = env.safename("c");
    let id = run_detached(&env, &name);

    let root = store_root(&env);
    assert_mode(&root, 0o700);
    for f in db_files(&env) {
        assert_mode(&f, 0o600);
    }
    let dir = root.join("containers").join(&id);
    assert_mode(&dir, 0o700);
    assert_mode(&dir.join("ctr.log"), 0o600);
    for e in fs::read_dir(&dir)
        .expect("read the container dir")
        .flatten()
    {
        if e.file_type().expect("file type").is_file() {
            assert_mode(&e.path(), 0o600);
        }
    }
    assert_mode(&env.runtime.join("roost"), 0o700);

    // Another unprivileged user reaches none of it: not the files, not `inspect` through --root.
    let other = Env::new_as("store_database_privacy_other", second_user());
    for f in db_files(&env) {
        other.run_as_user(1, "cat", &[f.to_str().expect("utf-8 path")]);
    }
    other.run_as_user(2, "ls", &[root.to_str().expect("utf-8 path")]);
    let root_arg = root.to_string_lossy().into_owned();
    let mut inspect = other.roost_cmd(&["--root", &root_arg, "inspect", &name]);
    let seen = run_with_timeout(&mut inspect, None, other.timeout).expect("run inspect");
    assert_ne!(seen.status.code(), Some(0), "{}", seen.stdout_text());
    assert!(
        !seen.stdout_text().contains(SECRET) && !seen.stderr_text().contains(SECRET),
        "another user read the container's environment:\n{}",
        seen.stdout_text()
    );
    env.roost(0, &["rm", "-f", &name]);
}

#[test]
fn world_readable_store_of_an_older_roost_is_tightened() {
    let env = env_with_busybox("world_readable_store_of_an_older_roost_is_tightened");
    // What an older roost left: the root 0755, the database 0644, the runtime dir 0755.
    let root = store_root(&env);
    chmod(&root, 0o755);
    for f in db_files(&env) {
        if f.exists() {
            chmod(&f, 0o644);
        }
    }
    chmod(&env.runtime.join("roost"), 0o755);
    env.roost(0, &["images", "-q"]);
    assert_mode(&root, 0o700);
    assert!(db_files(&env)[0].exists());
    for f in db_files(&env) {
        if f.exists() {
            assert_mode(&f, 0o600);
        }
    }
    assert_mode(&env.runtime.join("roost"), 0o700);
    // Layer contents keep the image's modes (the private root is what protects them).
    let out = env.roost(
        0,
        &[
            "run",
            "--rm",
            &bb(),
            "stat",
            "-c",
            "%a",
            "/bin",
            "/etc/passwd",
        ],
    );
    assert_eq!(out.stdout_lines(), ["755", "644"]);
}

#[test]
fn store_made_first_by_another_command_is_private() {
    // `network create` writes below the store before anything opened it.
    let env = Env::new("store_made_first_by_another_command_is_private");
    let net = env.safename("n");
    env.roost(0, &["network", "create", &net]);
    assert_mode(&store_root(&env), 0o700);
    assert_mode(&env.runtime.join("roost"), 0o700);
    env.roost(0, &["network", "rm", &net]);
}

#[test]
fn containers_keep_podmans_umask() {
    let env = env_with_busybox("containers_keep_podmans_umask");
    // Whatever the user's own umask is.
    let mut cmd = env.command(
        "sh",
        &[
            "-c",
            &format!(
                "umask 077; exec {} run --rm {} sh -c 'umask; touch /tmp/f; stat -c %a /tmp/f'",
                roost_bin().display(),
                bb()
            ),
        ],
    );
    cmd.env("PATH", TEST_PATH);
    let out = env.run_cmd(cmd, 0);
    assert_eq!(out.stdout_lines(), ["0022", "644"]);
}

#[test]
fn two_users_without_runtime_dir_each_get_their_own() {
    let a = Env::new("two_users_without_runtime_dir_a");
    let tmp = shared_tmp(&a);
    let a = a.without_runtime_dir(&tmp);
    let b = Env::new_as("two_users_without_runtime_dir_b", second_user()).without_runtime_dir(&tmp);
    let _ca = Cleanup(&a);
    let _cb = Cleanup(&b);
    pull(&a, "busybox");
    pull(&b, "busybox");
    let ida = a
        .roost(0, &["run", "-d", &bb(), "sleep", "1000"])
        .stdout_text();
    let idb = b
        .roost(0, &["run", "-d", &bb(), "sleep", "1000"])
        .stdout_text();
    assert_eq!(out(&a, &["ps", "-q", "--no-trunc"]), ida);
    assert_eq!(out(&b, &["ps", "-q", "--no-trunc"]), idb);
    for env in [&a, &b] {
        let dir = tmp.join(format!("roost-run-{}", env.user().uid));
        let meta = fs::symlink_metadata(&dir).expect("the user's runtime dir");
        assert_eq!(meta.uid(), env.user().uid, "{}", dir.display());
        assert_mode(&dir, 0o700);
        assert!(
            dir.join("roost").is_dir(),
            "runtime state in {}",
            dir.display()
        );
    }
    assert!(
        !tmp.join("roost-run-0").exists(),
        "a runtime dir for uid 0 was made (the uid inside the user namespace)"
    );
    a.roost(0, &["rm", "-f", ida.trim()]);
    b.roost(0, &["rm", "-f", idb.trim()]);
}

#[test]
fn runtime_dir_planted_by_another_user_is_refused() {
    let a = Env::new("runtime_dir_planted_a");
    let tmp = shared_tmp(&a);
    let a = a.without_runtime_dir(&tmp);
    let b = Env::new_as("runtime_dir_planted_b", second_user());
    let planted = tmp.join(format!("roost-run-{}", a.user().uid));
    let planted_arg = planted.to_string_lossy().into_owned();

    // A directory the other user made first, open to everyone.
    b.run_as_user(0, "mkdir", &["-m", "777", &planted_arg]);
    let refused = a.roost(125, &["run", "--rm", &bb(), "true"]).stderr_text();
    assert!(
        refused.contains(&planted_arg)
            && refused.contains(&format!("owned by uid {}", b.user().uid))
            && refused.contains("Hint: ")
            && refused.contains("XDG_RUNTIME_DIR"),
        "{refused}"
    );
    assert_eq!(
        fs::read_dir(&planted)
            .expect("read the planted dir")
            .count(),
        0,
        "roost wrote into the other user's directory"
    );
    fs::remove_dir(&planted).expect("remove the planted dir");

    // A symlink to a directory of the other user's.
    let target = b.home.join("trap");
    b.run_as_user(
        0,
        "mkdir",
        &["-m", "777", target.to_str().expect("utf-8 path")],
    );
    b.run_as_user(
        0,
        "ln",
        &["-s", target.to_str().expect("utf-8 path"), &planted_arg],
    );
    let refused = a.roost(125, &["images"]).stderr_text();
    assert!(
        refused.contains(&planted_arg) && refused.contains("symbolic link"),
        "{refused}"
    );
    assert_eq!(fs::read_dir(&target).expect("read the trap").count(), 0);
    fs::remove_file(&planted).expect("remove the planted symlink");

    // With it gone, the user gets a private directory of their own.
    pull(&a, "busybox");
    a.roost(0, &["run", "--rm", &bb(), "true"]);
    assert!(
        fs::symlink_metadata(&planted)
            .expect("the runtime dir")
            .is_dir()
    );
    assert_eq!(fs::metadata(&planted).expect("stat").uid(), a.user().uid);
    assert_mode(&planted, 0o700);
}

#[test]
fn unusable_xdg_runtime_dir_falls_back_with_one_warning() {
    let env = env_with_busybox("unusable_xdg_runtime_dir_falls_back");
    let _c = Cleanup(&env);
    let tmp = shared_tmp(&env);
    let missing = env.root.join("no-such-runtime-dir");
    let fallback = tmp.join(format!("roost-run-{}", env.user().uid));
    let cmd = |args: &[&str]| {
        let mut c = env.roost_cmd(args);
        c.env("XDG_RUNTIME_DIR", &missing).env("TMPDIR", &tmp);
        c
    };
    let first = env.run_cmd(cmd(&["run", "-d", &bb(), "sleep", "1000"]), 0);
    let warning = first.stderr_text();
    assert!(
        warning.contains("WARNING: XDG_RUNTIME_DIR")
            && warning.contains(&missing.to_string_lossy().into_owned())
            && warning.contains(&fallback.to_string_lossy().into_owned()),
        "{warning}"
    );
    let id = first.stdout_text();
    let again = env.run_cmd(cmd(&["ps", "-q", "--no-trunc"]), 0);
    assert_eq!(again.stdout_text(), id);
    assert!(
        !again.stderr_text().contains("WARNING"),
        "{}",
        again.stderr_text()
    );
    // The re-executed roost (uid 0 inside) kept its state where the outer one looks for it.
    assert!(
        fallback.join("roost/userns-holders").is_file(),
        "no runtime state in {}",
        fallback.display()
    );
    assert!(!tmp.join("roost-run-0").exists());
    env.run_cmd(cmd(&["rm", "-f", id.trim()]), 0);
}

#[test]
fn root_without_runtime_dir_is_not_locked_out_by_a_user() {
    // A user without XDG_RUNTIME_DIR runs a container first (an older roost then left a
    // `roost-run-0` of theirs in the shared tmp), then real root does, with no XDG_RUNTIME_DIR either.
    assert!(
        nix::unistd::geteuid().is_root(),
        "this test runs roost as root: run the tests as root"
    );
    let user = Env::new("root_without_runtime_dir_user");
    let tmp = shared_tmp(&user);
    let user = user.without_runtime_dir(&tmp);
    pull(&user, "busybox");
    user.roost(0, &["run", "--rm", &bb(), "true"]);

    let home = user.root.join("root-home");
    fs::create_dir(&home).expect("create root's home");
    let mut cmd = std::process::Command::new(roost_bin());
    cmd.args(["run", "--rm", &bb(), "echo", "hello from root"])
        .env_clear()
        .env("PATH", TEST_PATH)
        .env("HOME", &home)
        .env("XDG_CONFIG_HOME", &user.config)
        .env("TMPDIR", &tmp)
        .current_dir(&home);
    let out = run_with_timeout(&mut cmd, None, user.timeout).expect("run as root");
    assert_eq!(
        out.status.code(),
        Some(0),
        "stdout: {}\nstderr: {}",
        out.stdout_text(),
        out.stderr_text()
    );
    assert_eq!(out.stdout_text(), "hello from root\n");
}
