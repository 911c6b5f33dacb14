//! Volumes: named, anonymous and image-declared volumes, bind mounts, tmpfs, copy-up, and the
//! `volume` commands.

use crate::harness::{Env, OutputExt, assert_no_leaks, image};
use crate::store::pull;

fn busybox(env: &Env) -> String {
    pull(env, "busybox");
    image("busybox")
}

#[test]
fn named_volume_is_shared_and_survives_its_containers() {
    let env = Env::new("named_volume_is_shared_and_survives_its_containers");
    let img = busybox(&env);
    let vol = env.safename("data");
    let mount = format!("{vol}:/data");
    env.roost(
        0,
        &[
            "run",
            "--rm",
            "-v",
            &mount,
            &img,
            "sh",
            "-c",
            "echo kept > /data/f",
        ],
    );
    let c = env.safename("c");
    env.roost(0, &["create", "--name", &c, "-v", &mount, &img, "true"]);
    let out = env.roost(0, &["run", "--rm", "-v", &mount, &img, "cat", "/data/f"]);
    assert_eq!(out.stdout_text(), "kept\n");
    // In use by `c`: rm fails with podman's status 2 and leaves it.
    let err = env.roost(2, &["volume", "rm", &vol]);
    assert!(
        err.stderr_text().contains("volume is being used"),
        "{}",
        err.stderr_text()
    );
    env.roost(0, &["rm", &c]);
    env.roost(0, &["volume", "exists", &vol]);
    env.roost(0, &["volume", "rm", &vol]);
    env.roost(1, &["volume", "exists", &vol]);
    assert_no_leaks(&env);
}

#[test]
fn bind_mounts_read_write_and_read_only() {
    let env = Env::new("bind_mounts_read_write_and_read_only");
    let img = busybox(&env);
    let dir = env.home.join("shared");
    env.run_as_user(0, "mkdir", &[dir.to_str().unwrap()]);
    let rw = format!("{}:/d", dir.display());
    env.roost(
        0,
        &["run", "--rm", "-v", &rw, &img, "sh", "-c", "echo hi > /d/f"],
    );
    assert_eq!(std::fs::read_to_string(dir.join("f")).unwrap(), "hi\n");
    let ro = format!("{}:/d:ro", dir.display());
    let out = env.roost(
        1,
        &["run", "--rm", "-v", &ro, &img, "sh", "-c", "echo no > /d/g"],
    );
    assert!(
        out.stderr_text().contains("Read-only file system"),
        "{}",
        out.stderr_text()
    );
    assert!(!dir.join("g").exists());
    let out = env.roost(125, &["run", "--rm", "-v", "/no/such/dir:/d", &img, "true"]);
    assert!(
        out.stderr_text()
            .contains("statfs /no/such/dir: no such file or directory"),
        "{}",
        out.stderr_text()
    );
    assert_no_leaks(&env);
}

#[test]
fn anonymous_volume_is_removed_by_rm_v() {
    let env = Env::new("anonymous_volume_is_removed_by_rm_v");
    let img = busybox(&env);
    let c = env.safename("c");
    env.roost(0, &["create", "--name", &c, "-v", "/anon", &img, "true"]);
    let vols = env.roost(0, &["volume", "ls", "-q"]).stdout_lines();
    assert_eq!(vols.len(), 1, "{vols:?}");
    assert_eq!(vols[0].len(), 64);
    let anon = env.roost(
        0,
        &["volume", "inspect", "--format", "{{.Anonymous}}", &vols[0]],
    );
    assert_eq!(anon.stdout_text(), "true\n");
    env.roost(0, &["rm", "-v", &c]);
    assert!(
        env.roost(0, &["volume", "ls", "-q"])
            .stdout_text()
            .is_empty()
    );
    // `run --rm` removes its anonymous volumes too.
    env.roost(0, &["run", "--rm", "-v", "/anon", &img, "true"]);
    assert!(
        env.roost(0, &["volume", "ls", "-q"])
            .stdout_text()
            .is_empty()
    );
    assert_no_leaks(&env);
}

#[test]
fn volumes_are_populated_from_the_image() {
    let env = Env::new("volumes_are_populated_from_the_image");
    let img = busybox(&env);
    let vol = env.safename("etc");
    let mount = format!("{vol}:/etc");
    env.roost(0, &["run", "--rm", "-v", &mount, &img, "true"]);
    let other = format!("{vol}:/mnt");
    let out = env.roost(0, &["run", "--rm", "-v", &other, &img, "ls", "/mnt"]);
    assert!(
        out.stdout_lines().contains(&"passwd".to_string()),
        "{}",
        out.stdout_text()
    );
    let copy_up = env.roost(
        0,
        &["volume", "inspect", "--format", "{{.NeedsCopyUp}}", &vol],
    );
    assert_eq!(copy_up.stdout_text(), "false\n");
    env.roost(0, &["volume", "rm", &vol]);
    assert_no_leaks(&env);
}

#[test]
fn tmpfs_mounts_a_tmpfs() {
    let env = Env::new("tmpfs_mounts_a_tmpfs");
    let img = busybox(&env);
    let out = env.roost(
        0,
        &[
            "run",
            "--rm",
            "--tmpfs",
            "/scratch",
            &img,
            "grep",
            "/scratch",
            "/proc/mounts",
        ],
    );
    assert!(
        out.stdout_text().starts_with("tmpfs /scratch tmpfs "),
        "{}",
        out.stdout_text()
    );
    let out = env.roost(
        0,
        &[
            "run",
            "--rm",
            "--mount",
            "type=tmpfs,dst=/t,tmpfs-size=1m",
            &img,
            "grep",
            "/t",
            "/proc/mounts",
        ],
    );
    assert!(
        out.stdout_text().contains("size=1024k"),
        "{}",
        out.stdout_text()
    );
    let err = env.roost(125, &["run", "--rm", "--tmpfs", "rel", &img, "true"]);
    assert!(
        err.stderr_text().contains("must be an absolute path"),
        "{}",
        err.stderr_text()
    );
    assert_no_leaks(&env);
}

#[test]
fn volume_commands() {
    let env = Env::new("volume_commands");
    let a = env.safename("a");
    let b = env.safename("b");
    assert_eq!(
        env.roost(0, &["volume", "create", "--label", "k=v", &a])
            .stdout_text(),
        format!("{a}\n")
    );
    env.roost(0, &["volume", "create", &b]);
    let err = env.roost(125, &["volume", "create", &b]);
    assert!(
        err.stderr_text().contains("already exists"),
        "{}",
        err.stderr_text()
    );
    env.roost(0, &["volume", "create", "--ignore", &b]);
    env.roost(125, &["volume", "create", "bad/name"]);
    let table = env.roost(0, &["volume", "ls"]).stdout_lines();
    assert_eq!(
        table[0].split_whitespace().collect::<Vec<_>>(),
        ["DRIVER", "VOLUME", "NAME"]
    );
    assert_eq!(table.len(), 3, "{table:?}");
    let labelled = env.roost(0, &["volume", "ls", "-q", "--filter", "label=k=v"]);
    assert_eq!(labelled.stdout_lines(), vec![a.clone()]);
    let named = env.roost(
        0,
        &[
            "volume",
            "ls",
            "--format",
            "{{.Name}} {{.Driver}}",
            "-f",
            &format!("name={b}"),
        ],
    );
    assert_eq!(named.stdout_text(), format!("{b} local\n"));
    let json = env.roost(0, &["volume", "inspect", &a]);
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).expect("inspect JSON");
    assert_eq!(v[0]["Name"], a.as_str());
    assert_eq!(v[0]["Driver"], "local");
    assert_eq!(v[0]["Scope"], "local");
    assert_eq!(v[0]["Labels"]["k"], "v");
    assert!(
        v[0]["Mountpoint"]
            .as_str()
            .unwrap()
            .ends_with(&format!("volumes/{a}/_data"))
    );
    let ls_json = env.roost(0, &["volume", "ls", "--format", "json"]);
    let l: serde_json::Value = serde_json::from_slice(&ls_json.stdout).expect("ls JSON");
    assert_eq!(l.as_array().unwrap().len(), 2);
    env.roost(1, &["volume", "rm", "no-such-volume"]);
    env.roost(125, &["volume", "inspect", "no-such-volume"]);
    // Named volumes are pruned only with --all (podman); without it, only anonymous ones.
    assert!(
        env.roost(0, &["volume", "prune", "-f"])
            .stdout_text()
            .is_empty()
    );
    let pruned = env
        .roost(0, &["volume", "prune", "-f", "-a"])
        .stdout_lines();
    assert_eq!(pruned.len(), 2, "{pruned:?}");
    assert!(
        env.roost(0, &["volume", "ls", "-q"])
            .stdout_text()
            .is_empty()
    );
    assert_no_leaks(&env);
}

#[test]
fn container_inspect_shows_mounts() {
    let env = Env::new("container_inspect_shows_mounts");
    let img = busybox(&env);
    let c = env.safename("c");
    let vol = env.safename("v");
    let bind = format!("{}:/h:ro", env.home.display());
    env.roost(
        0,
        &[
            "create",
            "--name",
            &c,
            "-v",
            &format!("{vol}:/v"),
            "-v",
            &bind,
            &img,
            "true",
        ],
    );
    let out = env.roost(0, &["container", "inspect", "--format", "json", &c]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("inspect JSON");
    let mounts = v[0]["Mounts"].as_array().expect("Mounts");
    assert_eq!(mounts.len(), 2, "{mounts:?}");
    let vm = mounts.iter().find(|m| m["Type"] == "volume").unwrap();
    assert_eq!(vm["Name"], vol.as_str());
    assert_eq!(vm["Destination"], "/v");
    assert_eq!(vm["RW"], true);
    let bm = mounts.iter().find(|m| m["Type"] == "bind").unwrap();
    assert_eq!(bm["RW"], false);
    assert_eq!(bm["Source"], env.home.to_str().unwrap());
    env.roost(0, &["rm", &c]);
    env.roost(0, &["volume", "rm", &vol]);
    assert_no_leaks(&env);
}

/// `volume mount`/`unmount`: refused outside `roost unshare` in podman's words; inside it, the
/// volume's mount point with its content there (a tmpfs for a `type=tmpfs` volume), which a
/// container then sees.
#[test]
fn volume_mount_works_inside_unshare_only() {
    let env = Env::new("volume_mount_works_inside_unshare_only");
    let img = busybox(&env);
    env.roost(0, &["volume", "create", "data"]);
    env.roost(
        0,
        &[
            "volume",
            "create",
            "--opt",
            "type=tmpfs",
            "--opt",
            "device=tmpfs",
            "scratch",
        ],
    );
    let err = env.roost(125, &["volume", "mount", "data"]).stderr_text();
    assert!(
        err.contains(
            "cannot run command \"roost volume mount\" in rootless mode, must execute `roost unshare` first"
        ),
        "{err}"
    );
    env.roost(125, &["volume", "unmount", "data"]);
    let bin_dir = crate::harness::roost_bin()
        .parent()
        .unwrap()
        .display()
        .to_string();
    let script = format!(
        "set -e; PATH={bin_dir}:$PATH; p=$(roost volume mount data); echo \"$p\"; \
         echo written > \"$p/file\"; s=$(roost volume mount scratch); stat -f -c %T \"$s\"; \
         roost volume umount data scratch; stat -f -c %T \"$s\" | grep -vx tmpfs"
    );
    let out = env
        .roost(0, &["unshare", "sh", "-c", &script])
        .stdout_lines();
    let data = env.data.join("roost/volumes/data/_data");
    assert_eq!(out[0], data.display().to_string());
    assert_eq!(out[1], "tmpfs");
    assert_eq!(&out[2..4], ["data", "scratch"]);
    let seen = env.roost(0, &["run", "--rm", "-v", "data:/v", &img, "cat", "/v/file"]);
    assert_eq!(seen.stdout_text(), "written\n");
    let roost = crate::harness::roost_bin().display().to_string();
    let missing = env.roost(125, &["unshare", &roost, "volume", "mount", "nosuchvolume"]);
    assert!(
        missing.stderr_text().contains("nosuchvolume"),
        "{}",
        missing.stderr_text()
    );
    env.roost(0, &["volume", "rm", "data", "scratch"]);
    assert_no_leaks(&env);
}

/// `--image-volume`: the image's VOLUMEs get an anonymous volume (bind/anonymous, the default), a
/// tmpfs, or nothing (ignore); containers.conf's `[engine] image_volume_mode` sets the default.
#[test]
fn image_volume_mode_decides_what_image_volumes_get() {
    let env = Env::new("image_volume_mode_decides_what_image_volumes_get");
    let img = busybox(&env);
    let tag = env.safename("volimg");
    let containerfile = format!("FROM {img}\nVOLUME /data\n");
    let dir = env.root.display().to_string();
    env.roost_stdin(
        0,
        &["build", "-q", "-f", "-", "-t", &tag, &dir],
        containerfile.as_bytes(),
    );
    let fs_type = |code: i32, extra: &[&str]| {
        let mut args = vec!["run", "--rm"];
        args.extend_from_slice(extra);
        args.extend_from_slice(&[&tag, "stat", "-f", "-c", "%T", "/data"]);
        env.roost(code, &args)
    };
    assert_eq!(
        fs_type(0, &["--image-volume", "tmpfs"]).stdout_text(),
        "tmpfs\n"
    );
    let ignored = fs_type(1, &["--image-volume", "ignore"]);
    assert!(
        ignored.stderr_text().contains("No such file or directory"),
        "{}",
        ignored.stderr_text()
    );
    let volumes_before = env.roost(0, &["volume", "ls", "-q"]).stdout_lines().len();
    let anonymous = env.roost(
        0,
        &[
            "run",
            "-d",
            "--image-volume",
            "anonymous",
            &tag,
            "sleep",
            "60",
        ],
    );
    let id = anonymous.stdout_text().trim().to_string();
    assert_eq!(
        env.roost(0, &["volume", "ls", "-q"]).stdout_lines().len(),
        volumes_before + 1,
        "an anonymous volume for /data"
    );
    env.roost(0, &["rm", "-f", "-v", "-t", "0", &id]);
    let conf = env.config.join("containers/containers.conf");
    std::fs::write(&conf, "[engine]\nimage_volume_mode = \"tmpfs\"\n").unwrap();
    std::fs::set_permissions(&conf, std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
    assert_eq!(fs_type(0, &[]).stdout_text(), "tmpfs\n");
    assert_ne!(
        fs_type(0, &["--image-volume", "bind"]).stdout_text(),
        "tmpfs\n",
        "the flag wins over containers.conf"
    );
    std::fs::write(&conf, "[engine]\nimage_volume_mode = \"sometimes\"\n").unwrap();
    let bad = env.roost(125, &["run", "--rm", &tag, "true"]);
    assert!(
        bad.stderr_text().contains("image_volume_mode"),
        "{}",
        bad.stderr_text()
    );
    std::fs::remove_file(&conf).unwrap();
    env.roost(0, &["rmi", &tag]);
    assert_no_leaks(&env);
}
