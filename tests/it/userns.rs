//! `--userns=keep-id`, `--uidmap`/`--gidmap`: a nested user namespace inside roost's rootless one.

use std::os::unix::fs::MetadataExt;

use crate::harness::{Env, OutputExt, assert_no_leaks, image, test_user};
use crate::store::pull;

fn busybox(env: &Env) -> String {
    pull(env, "busybox");
    image("busybox")
}

/// /proc/self/uid_map (or gid_map) as (inside, outside, size) triples.
fn map_lines(text: &str) -> Vec<(u64, u64, u64)> {
    text.lines()
        .map(|l| {
            let n: Vec<u64> = l.split_whitespace().map(|n| n.parse().unwrap()).collect();
            (n[0], n[1], n[2])
        })
        .collect()
}

#[test]
fn keep_id_runs_as_the_caller_with_a_nested_map() {
    let env = Env::new("keep_id_runs_as_the_caller_with_a_nested_map");
    let img = busybox(&env);
    let user = test_user();
    let out = env.roost(0, &["run", "--rm", "--userns=keep-id", &img, "id", "-u"]);
    assert_eq!(out.stdout_text().trim(), user.uid.to_string());
    let out = env.roost(0, &["run", "--rm", "--userns=keep-id", &img, "id", "-g"]);
    assert_eq!(out.stdout_text().trim(), user.gid.to_string());
    // Seen from the nested namespace, the parent is roost's: 0 there is the caller.
    let out = env.roost(
        0,
        &[
            "run",
            "--rm",
            "--userns=keep-id",
            &img,
            "cat",
            "/proc/self/uid_map",
        ],
    );
    let map = map_lines(&out.stdout_text());
    let uid = u64::from(user.uid);
    assert!(map.contains(&(uid, 0, 1)), "{map:?}");
    assert!(map.contains(&(0, 1, uid)), "{map:?}");
    // The user gets an /etc/passwd and /etc/group entry (podman adds one when the image has none).
    let out = env.roost(
        0,
        &[
            "run",
            "--rm",
            "--userns=keep-id",
            &img,
            "sh",
            "-c",
            "whoami; id -gn",
        ],
    );
    assert_eq!(
        out.stdout_lines(),
        vec![user.name.clone(), user.name.clone()]
    );
    // -u wins over keep-id's user.
    let out = env.roost(
        0,
        &[
            "run",
            "--rm",
            "--userns=keep-id",
            "-u",
            "0",
            &img,
            "id",
            "-u",
        ],
    );
    assert_eq!(out.stdout_text().trim(), "0");
    assert_no_leaks(&env);
}

#[test]
fn keep_id_files_in_a_bind_mount_belong_to_the_caller() {
    let env = Env::new("keep_id_files_in_a_bind_mount_belong_to_the_caller");
    let img = busybox(&env);
    let dir = env.home.join("shared");
    env.run_as_user(0, "mkdir", &[dir.to_str().unwrap()]);
    let v = format!("{}:/data", dir.display());
    env.roost(
        0,
        &[
            "run",
            "--rm",
            "--userns=keep-id",
            "-v",
            &v,
            &img,
            "sh",
            "-c",
            "echo hi > /data/f && mkdir /data/d",
        ],
    );
    let user = test_user();
    for name in ["f", "d"] {
        let m = std::fs::metadata(dir.join(name)).unwrap();
        assert_eq!((m.uid(), m.gid()), (user.uid, user.gid), "{name}");
    }
    assert_no_leaks(&env);
}

#[test]
fn keep_id_options_create_start_exec_and_inspect() {
    let env = Env::new("keep_id_options_create_start_exec_and_inspect");
    let img = busybox(&env);
    let name = env.safename("k");
    env.roost(
        0,
        &[
            "create",
            "--name",
            &name,
            "--userns=keep-id:uid=500,gid=600",
            &img,
            "sleep",
            "1000",
        ],
    );
    let out = env.roost(
        0,
        &[
            "inspect",
            &name,
            "--format",
            "{{.HostConfig.UsernsMode}} {{index .HostConfig.IDMappings.UidMap 1}}",
        ],
    );
    assert_eq!(out.stdout_text().trim(), "keep-id:uid=500,gid=600 500:0:1");
    env.roost(0, &["start", &name]);
    let out = env.roost(0, &["exec", &name, "id"]);
    assert!(
        out.stdout_text()
            .starts_with(&format!("uid=500({0}) gid=600({0})", test_user().name)),
        "{}",
        out.stdout_text()
    );
    let out = env.roost(0, &["exec", &name, "cat", "/proc/self/gid_map"]);
    assert!(map_lines(&out.stdout_text()).contains(&(600, 0, 1)));
    env.roost(0, &["rm", "-f", "-t", "0", &name]);
    assert_no_leaks(&env);
}

#[test]
fn uidmap_builds_the_map_from_repeated_flags() {
    let env = Env::new("uidmap_builds_the_map_from_repeated_flags");
    let img = busybox(&env);
    let out = env.roost(
        0,
        &[
            "run",
            "--rm",
            "--uidmap",
            "0:1:1000",
            "--uidmap",
            "1000:0:1",
            &img,
            "sh",
            "-c",
            "cat /proc/self/uid_map; echo --; cat /proc/self/gid_map; echo --; id -u; touch /x",
        ],
    );
    let text = out.stdout_text();
    let parts: Vec<&str> = text.split("--\n").collect();
    assert_eq!(map_lines(parts[0]), vec![(0, 1, 1000), (1000, 0, 1)]);
    assert_eq!(
        map_lines(parts[1]),
        vec![(0, 1, 1000), (1000, 0, 1)],
        "gidmap copies uidmap"
    );
    assert_eq!(parts[2].trim(), "0");
    assert_no_leaks(&env);
}

#[test]
fn bad_maps_fail_clearly() {
    let env = Env::new("bad_maps_fail_clearly");
    let img = busybox(&env);
    let out = env.roost(
        125,
        &["run", "--rm", "--uidmap", "0:0:99999999", &img, "true"],
    );
    assert!(
        out.stderr_text()
            .contains("invalid --uidmap `0:0:99999999`: host ids 0-99999998 are not all in the rootless user namespace"),
        "{}",
        out.stderr_text()
    );
    let out = env.roost(125, &["run", "--rm", "--gidmap", "0:1", &img, "true"]);
    assert!(out.stderr_text().contains("expected CONTAINER:HOST:SIZE"));
    let out = env.roost(125, &["run", "--rm", "--userns=auto", &img, "true"]);
    assert!(out.stderr_text().contains("invalid --userns `auto`"));
    let out = env.roost(
        125,
        &[
            "run",
            "--rm",
            "--userns=keep-id",
            "--uidmap",
            "0:0:1",
            &img,
            "true",
        ],
    );
    assert!(out.stderr_text().contains("cannot be combined"));
    let out = env.roost(125, &["run", "--rm", "--uidmap", "0:1:1000", &img, "true"]);
    assert!(out.stderr_text().contains("must map host id 0"));
    // Nothing was created.
    let out = env.roost(0, &["ps", "-a", "-q"]);
    assert_eq!(out.stdout_text(), "");
    assert_no_leaks(&env);
}

#[test]
fn default_and_host_share_roosts_namespace() {
    let env = Env::new("default_and_host_share_roosts_namespace");
    let img = busybox(&env);
    let uid = test_user().uid;
    for extra in [None, Some("--userns=host"), Some("--userns=")] {
        let mut args = vec!["run", "--rm"];
        args.extend(extra);
        args.extend([img.as_str(), "sh", "-c", "id -u; cat /proc/self/uid_map"]);
        let out = env.roost(0, &args);
        let lines = out.stdout_lines();
        assert_eq!(lines[0], "0", "{extra:?}");
        let map = map_lines(&lines[1..].join("\n"));
        assert_eq!(map[0], (0, u64::from(uid), 1), "{extra:?}: {map:?}");
    }
    let name = env.safename("d");
    env.roost(0, &["create", "--name", &name, &img, "true"]);
    let out = env.roost(
        0,
        &["inspect", &name, "--format", "[{{.HostConfig.UsernsMode}}]"],
    );
    assert_eq!(out.stdout_text().trim(), "[]");
    env.roost(0, &["rm", &name]);
    assert_no_leaks(&env);
}

/// `roost [--storage-driver DRIVER] ARGS`.
fn driver_args<'a>(driver: Option<&'a str>, args: &[&'a str]) -> Vec<&'a str> {
    let mut full = Vec::new();
    if let Some(d) = driver {
        full.extend(["--storage-driver", d]);
    }
    full.extend_from_slice(args);
    full
}

/// Under keep-id the container sees the image's owners unchanged (busybox's files are 0:0, its
/// /home/user is 1000:1000) while running as the caller, who cannot write what the image gives root.
pub(crate) fn keep_id_sees_the_images_owners(env: &Env, driver: Option<&str>) {
    let img = busybox(env);
    let script = "id -u; stat -c %u:%g / /bin/busybox /home/user; touch /bin/x";
    let args = ["run", "--rm", "--userns=keep-id", &img, "sh", "-c", script];
    let out = env.roost(1, &driver_args(driver, &args));
    let uid = test_user().uid.to_string();
    assert_eq!(
        out.stdout_lines(),
        vec![uid.as_str(), "0:0", "0:0", "1000:1000"],
        "{driver:?}"
    );
    assert!(
        out.stderr_text().contains("/bin/x: Permission denied"),
        "{driver:?}: {}",
        out.stderr_text()
    );
}

/// keep-id's files, as `commit` and `export` record them: what the container saw (the caller's own
/// id for what the keep-id user made, 0 for what root made, the image's ids for the rest).
pub(crate) fn keep_id_commit_and_export_record_the_containers_ids(env: &Env, driver: Option<&str>) {
    let img = busybox(env);
    let user = test_user();
    let name = env.safename(&format!("k{}", driver.unwrap_or("overlay")));
    let own = format!("{}:{}", user.uid, user.gid);
    let script = format!("touch /tmp/root /tmp/mine && chown {own} /tmp/mine");
    let args = [
        "run",
        "--name",
        &name,
        "--userns=keep-id",
        "-u",
        "0",
        &img,
        "sh",
        "-c",
        &script,
    ];
    env.roost(0, &driver_args(driver, &args));
    let tar = env
        .roost(0, &driver_args(driver, &["export", &name]))
        .stdout;
    let mut owners = std::collections::BTreeMap::new();
    for e in tar::Archive::new(&tar[..]).entries().unwrap() {
        let e = e.unwrap();
        let path = e.path().unwrap().to_string_lossy().into_owned();
        let h = e.header();
        owners.insert(path, format!("{}:{}", h.uid().unwrap(), h.gid().unwrap()));
    }
    for (path, want) in [
        ("tmp/root", "0:0"),
        ("tmp/mine", own.as_str()),
        ("bin/busybox", "0:0"),
        ("home/user/", "1000:1000"),
    ] {
        assert_eq!(
            owners.get(path).map(String::as_str),
            Some(want),
            "{driver:?} export {path}"
        );
    }
    let tag = format!("localhost/{name}");
    env.roost(0, &driver_args(driver, &["commit", "-q", &name, &tag]));
    env.roost(0, &driver_args(driver, &["rm", &name]));
    let script = "stat -c %u:%g /tmp/root /tmp/mine /bin/busybox";
    let out = env.roost(
        0,
        &driver_args(driver, &["run", "--rm", &tag, "sh", "-c", script]),
    );
    assert_eq!(
        out.stdout_lines(),
        vec!["0:0", own.as_str(), "0:0"],
        "{driver:?} commit"
    );
    env.roost(0, &["rmi", &tag]);
}

#[test]
fn keep_id_keeps_the_images_owners() {
    let env = Env::new("keep_id_keeps_the_images_owners");
    keep_id_sees_the_images_owners(&env, None);
    // The shifted copies are made once per layer and maps, reused, and go with the image.
    let layers = crate::store::store_root(&env).join("layers");
    let copies = || -> Vec<String> {
        crate::store::entries(&layers)
            .iter()
            .flat_map(|l| crate::store::entries(&layers.join(l).join("idmapped")))
            .collect()
    };
    let first = copies();
    assert_eq!(
        first.len(),
        crate::store::entries(&layers).len(),
        "{first:?}"
    );
    keep_id_sees_the_images_owners(&env, None);
    assert_eq!(copies(), first, "reused");
    env.roost(0, &["rmi", &image("busybox")]);
    assert_eq!(crate::store::entries(&layers), Vec::<String>::new());
    assert_no_leaks(&env);
}

#[test]
fn keep_id_setuid_root_binaries_work() {
    let env = Env::new("keep_id_setuid_root_binaries_work");
    let img = busybox(&env);
    // An image with a setuid-root `su` (busybox as its own file) and a root without a password.
    let name = env.safename("suid");
    let tag = format!("localhost/{name}");
    let prep = "passwd -d root && rm /bin/su && cp /bin/busybox /bin/su && chmod 4755 /bin/su";
    env.roost(0, &["run", "--name", &name, &img, "sh", "-c", prep]);
    env.roost(0, &["commit", "-q", &name, &tag]);
    env.roost(0, &["rm", &name]);
    let out = env.roost(
        0,
        &[
            "run",
            "--rm",
            "--userns=keep-id",
            &tag,
            "sh",
            "-c",
            "stat -c %a:%u:%g /bin/su; id -u; /bin/su -c 'id -u' root </dev/null",
        ],
    );
    let uid = test_user().uid.to_string();
    assert_eq!(out.stdout_lines(), vec!["4755:0:0", uid.as_str(), "0"]);
    env.roost(0, &["rmi", &tag]);
    assert_no_leaks(&env);
}

#[test]
fn keep_id_commit_and_export_record_the_container_ids() {
    let env = Env::new("keep_id_commit_and_export_record_the_container_ids");
    keep_id_commit_and_export_record_the_containers_ids(&env, None);
    assert_no_leaks(&env);
}
