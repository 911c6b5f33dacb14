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
    let out = env.roost(125, &["run", "--rm", "--userns=auto:size=0", &img, "true"]);
    assert!(
        out.stderr_text().contains("invalid auto option `size=0`"),
        "{}",
        out.stderr_text()
    );
    let out = env.roost(125, &["run", "--rm", "--userns=container:x", &img, "true"]);
    assert!(out.stderr_text().contains("invalid --userns `container:x`"));
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

/// keep-id's user is in the container's own /etc/passwd and /etc/group when its root is writable (as
/// podman does), so tools that replace those files by rename (sed -i, useradd, usermod) work; once,
/// across restarts. A read-only root gets the entries in bound copies.
fn keep_id_user_is_in_the_containers_own_files(env: &Env, driver: Option<&str>) {
    let img = busybox(env);
    let user = test_user();
    let (name, gid) = (user.name.clone(), user.gid);
    let script = format!(
        "grep -c '^{name}:' /etc/passwd; grep -c ':{gid}:' /etc/group; \
         sed -i 's/^{name}:[^:]*:/{name}:x:/' /etc/passwd && grep '^{name}:' /etc/passwd | cut -d: -f2"
    );
    let args = [
        "run",
        "--rm",
        "--userns=keep-id",
        "-u",
        "0",
        &img,
        "sh",
        "-c",
        &script,
    ];
    let out = env.roost(0, &driver_args(driver, &args));
    assert_eq!(out.stdout_lines(), vec!["1", "1", "x"], "{driver:?}");

    let c = env.safename("twice");
    let count = format!("grep -c '^{name}:' /etc/passwd");
    let args = [
        "create",
        "--name",
        &c,
        "--userns=keep-id",
        &img,
        "sh",
        "-c",
        &count,
    ];
    env.roost(0, &driver_args(driver, &args));
    for _ in 0..2 {
        let out = env.roost(0, &driver_args(driver, &["start", "-a", &c]));
        assert_eq!(out.stdout_lines(), vec!["1"], "{driver:?}");
    }
    env.roost(0, &driver_args(driver, &["rm", &c]));

    let args = [
        "run",
        "--rm",
        "--read-only",
        "--userns=keep-id",
        &img,
        "sh",
        "-c",
        &count,
    ];
    let out = env.roost(0, &driver_args(driver, &args));
    assert_eq!(out.stdout_lines(), vec!["1"], "{driver:?}");
}

#[test]
fn keep_id_user_is_in_the_containers_own_passwd() {
    let env = Env::new("keep_id_user_is_in_the_containers_own_passwd");
    keep_id_user_is_in_the_containers_own_files(&env, None);
    keep_id_user_is_in_the_containers_own_files(&env, Some("vfs"));
    assert_no_leaks(&env);
}

/// The test user's first subordinate uid (/etc/subuid).
fn first_subuid() -> u64 {
    let name = &test_user().name;
    let text = std::fs::read_to_string("/etc/subuid").unwrap();
    text.lines()
        .find_map(|l| {
            let mut f = l.split(':');
            (f.next() == Some(name.as_str())).then(|| f.next().unwrap().parse().unwrap())
        })
        .expect("the test user has subordinate ids")
}

/// The uid_map and gid_map a container shows (ids of roost's namespace on the right).
type MapLines = Vec<(u64, u64, u64)>;

fn container_maps(env: &Env, args: &[&str]) -> (MapLines, MapLines) {
    let mut all = vec!["run", "--rm"];
    all.extend(args);
    all.extend([
        "sh",
        "-c",
        "cat /proc/self/uid_map; echo --; cat /proc/self/gid_map",
    ]);
    let text = env.roost(0, &all).stdout_text();
    let (u, g) = text.split_once("--\n").unwrap();
    (map_lines(u), map_lines(g))
}

fn maps_caller(map: &[(u64, u64, u64)]) -> bool {
    map.iter()
        .any(|(_, outside, size)| *outside == 0 && *size > 0)
}

#[test]
fn maps_may_leave_out_the_caller() {
    let env = Env::new("maps_may_leave_out_the_caller");
    let img = busybox(&env);
    // podman's "current user not mapped": uid, gid or both left out.
    for (uidmap, gidmap) in [
        ("0:1:1000", "0:1:1000"),
        ("0:1:1000", "0:0:1000"),
        ("0:0:1000", "0:1:1000"),
    ] {
        let out = env.roost(
            0,
            &[
                "run", "--rm", "--uidmap", uidmap, "--gidmap", gidmap, &img, "sh", "-c",
                "id -u; id -g; touch /new && stat -c %u:%g /new; cat /etc/hosts >/dev/null && echo hosts",
            ],
        );
        assert_eq!(
            out.stdout_lines(),
            ["0", "0", "0:0", "hosts"],
            "{uidmap} {gidmap}"
        );
    }
    let (uids, gids) = container_maps(&env, &["--uidmap", "0:1:1000", &img]);
    assert_eq!(uids, [(0, 1, 1000)]);
    assert_eq!(gids, [(0, 1, 1000)]);
    assert_no_leaks(&env);
}

#[test]
fn auto_gives_each_container_its_own_range_without_the_caller() {
    let env = Env::new("auto_gives_each_container_its_own_range_without_the_caller");
    let img = busybox(&env);
    let a = env.safename("a");
    env.roost(
        0,
        &[
            "run",
            "-d",
            "--name",
            &a,
            "--userns=auto",
            &img,
            "sleep",
            "100",
        ],
    );
    let out = env.roost(
        0,
        &["inspect", &a, "--format", "{{.HostConfig.UsernsMode}}"],
    );
    assert_eq!(out.stdout_text().trim(), "private");
    let held = map_lines(
        &env.roost(0, &["exec", &a, "cat", "/proc/self/uid_map"])
            .stdout_text(),
    );
    assert_eq!(
        held,
        [(0, 1, 1024)],
        "podman's default size, from the first free id"
    );
    // A second one gets the next range; neither maps the caller.
    let (uids, gids) = container_maps(&env, &["--userns=auto:size=500", &img]);
    assert_eq!(uids, [(0, 1025, 500)]);
    assert_eq!(gids, [(0, 1025, 500)]);
    assert!(!maps_caller(&uids) && !maps_caller(&gids));
    // podman's system test: `@` names a host id, here the first subordinate one (roost's 1).
    let forced = format!("--userns=auto:uidmapping=1:@{}:1", first_subuid());
    let (uids, _) = container_maps(&env, &[&forced, &img]);
    assert!(uids.contains(&(1, 1, 1)), "{uids:?}");
    assert!(!maps_caller(&uids), "{uids:?}");
    // Its root owns the container's files and can write them.
    let out = env.roost(
        0,
        &[
            "run",
            "--rm",
            "--userns=auto",
            &img,
            "sh",
            "-c",
            "stat -c %u /etc/passwd; touch /etc/x && echo ok",
        ],
    );
    assert_eq!(out.stdout_lines(), ["0", "ok"]);
    env.roost(0, &["rm", "-f", "-t", "0", &a]);
    assert_no_leaks(&env);
}

#[test]
fn auto_volumes_and_secrets_are_reachable() {
    let env = Env::new("auto_volumes_and_secrets_are_reachable");
    let img = busybox(&env);
    let vol = env.safename("v");
    let spec = format!("{vol}:/etc");
    // A named volume's first use copies the image's content in, owned by the container's ids.
    let out = env.roost(
        0,
        &[
            "run",
            "--rm",
            "--userns=auto",
            "-v",
            &spec,
            &img,
            "sh",
            "-c",
            "stat -c %u /etc/passwd; echo hi > /etc/new",
        ],
    );
    assert_eq!(out.stdout_text().trim(), "0");
    let out = env.roost(
        0,
        &[
            "run",
            "--rm",
            "--userns=auto",
            "-v",
            &spec,
            &img,
            "cat",
            "/etc/new",
        ],
    );
    assert_eq!(out.stdout_text(), "hi\n");
    let secret_file = env.home.join("secret");
    std::fs::write(&secret_file, "s3cret\n").unwrap();
    let name = env.safename("s");
    env.roost(
        0,
        &["secret", "create", &name, secret_file.to_str().unwrap()],
    );
    let flag = format!("--secret={name}");
    let out = env.roost(
        0,
        &[
            "run",
            "--rm",
            &flag,
            "--userns=auto:size=1000",
            &img,
            "cat",
            &format!("/run/secrets/{name}"),
        ],
    );
    assert_eq!(out.stdout_text(), "s3cret\n");
    env.roost(0, &["secret", "rm", &name]);
    env.roost(0, &["volume", "rm", &vol]);
    assert_no_leaks(&env);
}

#[test]
fn nomap_runs_on_the_subordinate_ids_only() {
    let env = Env::new("nomap_runs_on_the_subordinate_ids_only");
    let img = busybox(&env);
    let name = env.safename("n");
    env.roost(
        0,
        &[
            "run",
            "-d",
            "--name",
            &name,
            "--userns=nomap",
            &img,
            "sleep",
            "100",
        ],
    );
    let out = env.roost(0, &["top", &name, "huser"]);
    assert_eq!(out.stdout_lines()[1].trim(), first_subuid().to_string());
    let (uids, _) = container_maps(&env, &["--userns=nomap", &img]);
    assert_eq!(uids[0].1, 1);
    assert!(!maps_caller(&uids));
    env.roost(0, &["rm", "-f", "-t", "0", &name]);
    assert_no_leaks(&env);
}

#[test]
fn containers_conf_userns_is_the_default() {
    let env = Env::new("containers_conf_userns_is_the_default");
    let img = busybox(&env);
    let conf = env.home.join("userns.conf");
    std::fs::write(&conf, "[containers]\nuserns = \"auto\"\n").unwrap();
    let run = |args: &[&str]| {
        let mut all = vec!["run", "--rm"];
        all.extend(args);
        all.extend([img.as_str(), "cat", "/proc/self/uid_map"]);
        let mut cmd = env.roost_cmd(&all);
        cmd.env("CONTAINERS_CONF_OVERRIDE", &conf);
        map_lines(&env.run_cmd(cmd, 0).stdout_text())
    };
    assert_eq!(run(&[]), [(0, 1, 1024)]);
    // The flag wins, and so do explicit maps.
    let uid = u64::from(test_user().uid);
    assert_eq!(run(&["--userns=host"])[0], (0, uid, 1));
    // (Written as two ranges: the kernel wants each within one of roost's, the caller and the rest.)
    assert_eq!(run(&["--uidmap", "0:0:10"]), [(0, 0, 1), (1, 1, 9)]);
    // $PODMAN_USERNS comes before containers.conf.
    let mut cmd = env.roost_cmd(&["run", "--rm", &img, "cat", "/proc/self/uid_map"]);
    cmd.env("CONTAINERS_CONF_OVERRIDE", &conf);
    cmd.env("PODMAN_USERNS", "keep-id");
    let map = map_lines(&env.run_cmd(cmd, 0).stdout_text());
    assert!(map.contains(&(uid, 0, 1)), "{map:?}");
    let mut cmd = env.roost_cmd(&["create", &img, "true"]);
    cmd.env("CONTAINERS_CONF_OVERRIDE", &conf);
    let id = env.run_cmd(cmd, 0).stdout_text();
    let out = env.roost(
        0,
        &[
            "inspect",
            id.trim(),
            "--format",
            "{{.HostConfig.UsernsMode}}",
        ],
    );
    assert_eq!(out.stdout_text().trim(), "private");
    env.roost(0, &["rm", id.trim()]);
    assert_no_leaks(&env);
}

#[test]
fn ns_joins_an_existing_user_namespace() {
    let env = Env::new("ns_joins_an_existing_user_namespace");
    let img = busybox(&env);
    let name = env.safename("src");
    env.roost(
        0,
        &[
            "run",
            "-d",
            "--name",
            &name,
            "--userns=keep-id",
            &img,
            "sleep",
            "100",
        ],
    );
    let pid = env
        .roost(0, &["inspect", &name, "--format", "{{.State.Pid}}"])
        .stdout_text();
    let show = "readlink /proc/self/ns/user; cat /proc/self/uid_map";
    let expected = env
        .roost(0, &["exec", &name, "sh", "-c", show])
        .stdout_text();
    let mode = format!("--userns=ns:/proc/{}/ns/user", pid.trim());
    let out = env.roost(0, &["run", "--rm", &mode, &img, "sh", "-c", show]);
    assert_eq!(out.stdout_text(), expected);
    let out = env.roost(
        125,
        &["run", "--rm", "--userns=ns:/nonexistent/ns", &img, "true"],
    );
    assert!(
        out.stderr_text().contains("/nonexistent/ns"),
        "{}",
        out.stderr_text()
    );
    env.roost(0, &["rm", "-f", "-t", "0", &name]);
    assert_no_leaks(&env);
}

#[test]
fn auto_pod_members_share_the_infra_range() {
    let env = Env::new("auto_pod_members_share_the_infra_range");
    let img = busybox(&env);
    let pod = env.safename("p");
    env.roost(0, &["pod", "create", "--name", &pod, "--userns=auto"]);
    let member = env.safename("m");
    env.roost(
        0,
        &[
            "run", "-d", "--name", &member, "--pod", &pod, &img, "sleep", "100",
        ],
    );
    let show = "readlink /proc/self/ns/user; cat /proc/self/uid_map";
    let first = env
        .roost(0, &["exec", &member, "sh", "-c", show])
        .stdout_text();
    let flag = format!("--pod={pod}");
    let out = env.roost(0, &["run", "--rm", &flag, &img, "sh", "-c", show]);
    assert_eq!(out.stdout_text(), first, "one namespace, one range");
    let map = map_lines(first.split_once('\n').unwrap().1);
    assert_eq!(map, [(0, 1, 1024)]);
    let out = env.roost(
        0,
        &["inspect", &member, "--format", "{{.HostConfig.UsernsMode}}"],
    );
    assert_eq!(out.stdout_text().trim(), "private");
    let out = env.roost(125, &["pod", "create", "--userns=ns:/proc/1/ns/user"]);
    assert!(
        out.stderr_text().contains("not supported yet"),
        "{}",
        out.stderr_text()
    );
    env.roost(0, &["pod", "rm", "-f", &pod]);
    assert_no_leaks(&env);
}

#[test]
fn auto_is_as_big_as_the_image_needs() {
    let env = Env::new("auto_is_as_big_as_the_image_needs");
    let img = busybox(&env);
    let dir = env.home.join("ctx-auto");
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("Containerfile");
    let text = format!(
        "FROM {img}\nRUN mkdir /data && chown 2500:2600 /data && echo app:x:3000:3000::/:/bin/sh >> /etc/passwd\n"
    );
    std::fs::write(&file, text).unwrap();
    let u = env.user();
    for p in [&dir, &file] {
        nix::unistd::chown(p.as_path(), Some(u.uid.into()), Some(u.gid.into())).unwrap();
    }
    let tag = env.safename("big");
    env.roost(0, &["build", "-q", "-t", &tag, dir.to_str().unwrap()]);
    // podman's heuristic: the highest id of its files and of its /etc/passwd (3000), plus one.
    let out = env.roost(
        0,
        &[
            "run",
            "--rm",
            "--userns=auto",
            &tag,
            "sh",
            "-c",
            "cat /proc/self/uid_map; stat -c %u:%g /data",
        ],
    );
    let lines = out.stdout_lines();
    assert_eq!(map_lines(&lines[0]), [(0, 1, 3001)]);
    assert_eq!(lines[1], "2500:2600");
    env.roost(0, &["rmi", &tag]);
    assert_no_leaks(&env);
}

/// A user without /etc/subuid and /etc/subgid ranges (as many LDAP accounts are) still runs
/// containers: roost's namespace maps only their own id, so devpts is mounted without `gid=5` and
/// setgroups (which that namespace denies) is skipped; a tty, `exec` and a detached container work.
#[test]
fn a_user_without_subordinate_ids_runs_containers() {
    let user = crate::harness::user_without_subids();
    let uid = u64::from(user.uid);
    let env = Env::new_as("a_user_without_subordinate_ids_runs_containers", user);
    let img = busybox(&env);
    let out = env.roost(
        0,
        &[
            "run",
            "--rm",
            &img,
            "sh",
            "-c",
            "id -u; cat /proc/self/uid_map",
        ],
    );
    let lines = out.stdout_lines();
    assert_eq!(lines[0].trim(), "0", "{}", out.stdout_text());
    assert_eq!(
        map_lines(&lines[1..].join("\n")),
        vec![(0, uid, 1)],
        "only the user's own id mapped: {}",
        out.stdout_text()
    );
    let tty = env.roost(0, &["run", "--rm", "-t", &img, "tty"]);
    assert!(
        tty.stdout_text().trim().starts_with("/dev/pts/"),
        "{}",
        tty.stdout_text()
    );
    let name = env.safename("nosub");
    env.roost(0, &["run", "-d", "--name", &name, &img, "sleep", "100"]);
    let out = env.roost(0, &["exec", &name, "echo", "from exec"]);
    assert_eq!(out.stdout_text(), "from exec\n");
    env.roost(0, &["rm", "-f", "-t0", &name]);
    // An id the namespace does not have is an error that says so.
    let unmapped = env.roost(125, &["run", "--rm", "--user", "1000", &img, "id"]);
    assert!(
        unmapped.stderr_text().contains("not mapped")
            && unmapped.stderr_text().contains("/etc/subuid"),
        "{}",
        unmapped.stderr_text()
    );
    assert_no_leaks(&env);
}
