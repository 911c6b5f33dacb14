//! `run --rootfs PATH[:O]`: a container whose root is a directory of the user's, not an image.

use std::path::{Path, PathBuf};

use crate::harness::{Cleanup, Env, OutputExt, assert_no_leaks, env_with_busybox, image, out};

fn p(path: &Path) -> &str {
    path.to_str().expect("utf-8 path")
}

/// A busybox tree under the test's home, exported from a container of the image and unpacked by the
/// test user (who then owns its files).
fn busybox_tree(env: &Env) -> PathBuf {
    let c = env.safename("src");
    env.roost(0, &["create", "--name", &c, &image("busybox"), "true"]);
    let tar = env.home.join("bb.tar");
    env.roost(0, &["export", "-o", p(&tar), &c]);
    env.roost(0, &["rm", &c]);
    let dir = env.home.join("bbroot");
    env.run_as_user(0, "mkdir", &[p(&dir)]);
    env.run_as_user(0, "tar", &["-x", "-f", p(&tar), "-C", p(&dir)]);
    dir
}

#[test]
fn rootfs_dir_is_the_root_and_keeps_writes() {
    let env = env_with_busybox("rootfs_dir_is_the_root_and_keeps_writes");
    let dir = busybox_tree(&env);
    let run = env.roost(
        0,
        &[
            "run",
            "--rm",
            "--rootfs",
            p(&dir),
            "sh",
            "-c",
            "echo kept > /note; id -u",
        ],
    );
    assert_eq!(run.stdout_text(), "0\n");
    assert_eq!(
        std::fs::read_to_string(dir.join("note")).expect("note"),
        "kept\n"
    );
    assert_no_leaks(&env);
}

#[test]
fn rootfs_overlay_drops_writes() {
    let env = env_with_busybox("rootfs_overlay_drops_writes");
    let dir = busybox_tree(&env);
    let arg = format!("{}:O", p(&dir));
    let run = env.roost(
        0,
        &[
            "run",
            "--rm",
            "--rootfs",
            &arg,
            "sh",
            "-c",
            "echo x > /gone; cat /gone; rm /bin/ls",
        ],
    );
    assert_eq!(run.stdout_text(), "x\n");
    assert!(
        !dir.join("gone").exists(),
        "a write went through the overlay"
    );
    assert!(
        dir.join("bin/ls").exists(),
        "a delete went through the overlay"
    );
    assert_no_leaks(&env);
}

#[test]
fn rootfs_container_works_with_verbs_and_rm_keeps_the_dir() {
    let env = env_with_busybox("rootfs_container_works_with_verbs_and_rm_keeps_the_dir");
    let _c = Cleanup(&env);
    let dir = busybox_tree(&env);
    let name = env.safename("rf");
    env.roost(
        0,
        &[
            "run",
            "-d",
            "--name",
            &name,
            "--rootfs",
            p(&dir),
            "sh",
            "-c",
            "echo started; sleep 300",
        ],
    );
    let fmt = "{{.Image}}|{{.ImageName}}|{{.Rootfs}}";
    let shown = out(&env, &["inspect", "--format", fmt, &name]);
    assert_eq!(shown.trim(), format!("||{}", p(&dir)));
    let ps = out(&env, &["ps", "--format", "{{.Image}} {{.Names}}"]);
    assert!(ps.contains(&format!("{} {name}", p(&dir))), "{ps}");
    let file = env.home.join("in.txt");
    let write = format!("echo copied > {}", p(&file));
    env.run_as_user(0, "sh", &["-c", &write]);
    env.roost(0, &["cp", p(&file), &format!("{name}:/in.txt")]);
    assert_eq!(out(&env, &["exec", &name, "cat", "/in.txt"]), "copied\n");
    let commit = env.roost(125, &["commit", &name, &env.safename("img")]);
    assert!(
        commit.stderr_text().contains("--rootfs"),
        "{}",
        commit.stderr_text()
    );
    env.roost(0, &["stop", "-t", "0", &name]);
    env.roost(0, &["start", &name]);
    env.roost(0, &["stop", "-t", "0", &name]);
    assert_eq!(out(&env, &["logs", &name]), "started\nstarted\n");
    env.roost(0, &["rm", &name]);
    assert!(
        dir.join("bin/sh").exists(),
        "rm removed the user's directory"
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("in.txt")).expect("cp'd file"),
        "copied\n"
    );
    assert_no_leaks(&env);
}

#[test]
fn rootfs_missing_dir_is_a_clear_error() {
    let env = Env::new("rootfs_missing_dir_is_a_clear_error");
    let missing = env.home.join("nowhere");
    let run = env.roost(125, &["run", "--rm", "--rootfs", p(&missing), "true"]);
    let err = run.stderr_text();
    assert!(
        err.contains("--rootfs") && err.contains(p(&missing)),
        "{err}"
    );
    assert!(err.contains("No such file or directory"), "{err}");
    let file = env.home.join("file");
    env.run_as_user(0, "touch", &[p(&file)]);
    let run = env.roost(125, &["run", "--rm", "--rootfs", p(&file), "true"]);
    assert!(
        run.stderr_text().contains("not a directory"),
        "{}",
        run.stderr_text()
    );
    let run = env.roost(125, &["run", "--rm", "--rootfs", p(&env.home)]);
    assert!(
        run.stderr_text().contains("no command"),
        "{}",
        run.stderr_text()
    );
    let ps = out(&env, &["ps", "-a", "-q"]);
    assert!(ps.is_empty(), "a container was left: {ps}");
}
