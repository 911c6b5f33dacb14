//! `roost pull`: IDs, layer application (whiteouts, ownership), errors, dedup, concurrency and a
//! pull killed half-way.

use std::io::{BufRead, BufReader};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::PathBuf;
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;

use crate::harness::{Env, OutputExt, assert_no_leaks, image, registry, wait_for};
use crate::store::{
    assert_hex_id, assert_no_staging, blobs, image_ids, inspect, layer_dirs, pull, store_root,
    subid_start, tmp_entries,
};

#[test]
fn pull_prints_the_image_id() {
    let env = Env::new("pull_prints_the_image_id");
    let out = env.roost(0, &["pull", &image("busybox")]);
    let id = out.stdout_text().trim().to_string();
    assert_hex_id(&id);
    assert_eq!(out.stdout_lines().len(), 1, "stdout carries only the ID");
    let err = out.stderr_text();
    assert!(
        err.contains("Trying to pull"),
        "no progress on stderr:\n{err}"
    );
    assert!(
        err.contains("Writing manifest"),
        "no progress on stderr:\n{err}"
    );
    let inspected = env.roost(0, &["inspect", "--format", "{{.Id}}", &image("busybox")]);
    assert_eq!(inspected.stdout_text().trim(), id);
    assert_no_leaks(&env);
}

#[test]
fn pull_quiet_prints_only_the_id() {
    let env = Env::new("pull_quiet_prints_only_the_id");
    let out = env.roost(0, &["pull", "-q", &image("busybox")]);
    assert_hex_id(out.stdout_text().trim());
    assert!(
        !out.stderr_text().contains("Copying"),
        "-q still printed progress:\n{}",
        out.stderr_text()
    );
    assert_no_leaks(&env);
}

fn graph_dirs(env: &Env, name: &str) -> (Option<PathBuf>, PathBuf) {
    let v = inspect(env, &image(name));
    let data = &v["GraphDriver"]["Data"];
    let upper = PathBuf::from(
        data["UpperDir"]
            .as_str()
            .expect("GraphDriver.Data.UpperDir"),
    );
    let lower = data["LowerDir"].as_str().map(PathBuf::from);
    (lower, upper)
}

#[test]
fn pull_layered_applies_whiteouts() {
    let env = Env::new("pull_layered_applies_whiteouts");
    pull(&env, "layered");
    assert_eq!(layer_dirs(&env).len(), 2, "layered has two layers");
    let (lower, upper) = graph_dirs(&env, "layered");
    let lower = lower.expect("a two-layer image has a LowerDir");
    assert!(
        upper.starts_with(store_root(&env).join("layers")),
        "{upper:?}"
    );

    // The top layer records the deletion of /bin/wget as an overlay whiteout (char 0/0) ...
    let wget = upper.join("bin/wget");
    let md = std::fs::symlink_metadata(&wget)
        .unwrap_or_else(|e| panic!("{} missing in the top layer: {e}", wget.display()));
    assert!(
        md.file_type().is_char_device(),
        "{} is not a whiteout",
        wget.display()
    );
    assert_eq!(md.rdev(), 0, "whiteout must be device 0/0");
    assert!(
        !upper.join("bin/.wh.wget").exists(),
        "the .wh. marker itself was extracted"
    );
    // ... and adds its own files; the base layer still has wget.
    assert!(upper.join("etc/layer2").is_file());
    assert!(upper.join("opt/data/f").is_file());
    assert!(std::fs::symlink_metadata(lower.join("bin/wget")).is_ok());

    // The same seen from inside the user namespace.
    let out = env.roost(
        0,
        &["unshare", "stat", "-c", "%F %t:%T", wget.to_str().unwrap()],
    );
    assert_eq!(out.stdout_text().trim(), "character special file 0:0");
    assert_no_leaks(&env);
}

#[test]
fn pull_maps_ownership_into_subordinate_ids() {
    let env = Env::new("pull_maps_ownership_into_subordinate_ids");
    pull(&env, "busybox");
    let layers = layer_dirs(&env);
    assert_eq!(layers.len(), 1, "busybox has one layer: {layers:?}");
    let diff = store_root(&env)
        .join("layers")
        .join(&layers[0])
        .join("diff");

    // uid 1000 in the image is subuid start + 999 on the host; root is the user itself.
    let home = std::fs::metadata(diff.join("home/user")).expect("/home/user in busybox");
    assert_eq!(home.uid(), subid_start("/etc/subuid") + 999);
    assert_eq!(home.gid(), subid_start("/etc/subgid") + 999);
    let passwd = std::fs::metadata(diff.join("etc/passwd")).expect("/etc/passwd in busybox");
    assert_eq!(passwd.uid(), env.user().uid);

    // Inside `roost unshare` the image's own ids come back.
    let d = diff.to_str().unwrap();
    let out = env.roost(
        0,
        &[
            "unshare",
            "stat",
            "-c",
            "%u:%g",
            &format!("{d}/home/user"),
            &format!("{d}/etc/passwd"),
        ],
    );
    assert_eq!(out.stdout_lines(), ["1000:1000", "0:0"]);
    assert_no_leaks(&env);
}

#[test]
fn pull_errors_are_engine_errors() {
    let env = Env::new("pull_errors_are_engine_errors");
    let missing = format!("{}/busybox:no-such-tag", registry());
    let out = env.roost(125, &["pull", &missing]);
    let err = out.stderr_text().to_lowercase();
    assert!(
        err.contains("manifest unknown") || err.contains("not found"),
        "pull of a missing tag does not say so:\n{err}"
    );
    assert!(out.stdout.is_empty());

    let out = env.roost(125, &["pull", "UPPER"]);
    let err = out.stderr_text();
    assert!(err.starts_with("Error: "), "{err}");
    assert!(
        err.contains("UPPER"),
        "error does not name the reference:\n{err}"
    );

    let missing_repo = format!("{}/{}/nothing:latest", registry(), env.safename("none"));
    env.roost(125, &["pull", &missing_repo]);

    assert!(layer_dirs(&env).is_empty(), "failed pulls stored layers");
    assert_no_staging(&env, "failed pulls");
    assert!(image_ids(&env).is_empty());
    assert_no_leaks(&env);
}

#[test]
fn pull_twice_stores_one_copy() {
    let env = Env::new("pull_twice_stores_one_copy");
    let first = pull(&env, "busybox");
    let blobs_before = blobs(&env);
    let second = pull(&env, "busybox");
    assert_eq!(first, second);
    assert_eq!(layer_dirs(&env).len(), 1);
    assert_eq!(blobs(&env), blobs_before, "second pull added blobs");
    assert_eq!(image_ids(&env).len(), 1);
    // layered shares busybox's base layer.
    pull(&env, "layered");
    assert_eq!(layer_dirs(&env).len(), 2);
    assert_no_staging(&env, "pulls");
    assert_no_leaks(&env);
}

#[test]
fn concurrent_pulls_share_the_layers() {
    let env = Env::new("concurrent_pulls_share_the_layers");
    let reference = image("layered");
    let a = env.roost_spawn(&["pull", "-q", &reference]);
    let b = env.roost_spawn(&["pull", "-q", &reference]);
    let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    for out in [&a, &b] {
        assert!(
            out.status.success(),
            "concurrent pull failed ({}):\n{}",
            out.status,
            out.stderr_text()
        );
    }
    assert_eq!(a.stdout_text().trim(), b.stdout_text().trim());
    assert_eq!(layer_dirs(&env).len(), 2, "{:?}", layer_dirs(&env));
    assert_eq!(image_ids(&env).len(), 1);
    assert_no_staging(&env, "concurrent pulls");
    assert_no_leaks(&env);
}

/// Pushes a ~30 MB single-layer image of random bytes and returns (reference, image ID).
fn push_big_image(env: &Env) -> (String, String) {
    env.run_as_user(
        0,
        "sh",
        &[
            "-c",
            "mkdir big && head -c 30000000 /dev/urandom > big/blob && tar -C big -cf big.tar blob",
        ],
    );
    let tarball = env.home.join("big.tar");
    let id = env
        .roost(0, &["import", tarball.to_str().unwrap(), "big"])
        .stdout_text()
        .trim()
        .to_string();
    let reference = format!("{}/{}/big:latest", registry(), env.safename("r"));
    env.roost(0, &["push", "big", &reference]);
    env.roost(0, &["rmi", "-a"]);
    assert!(layer_dirs(env).is_empty());
    (reference, id)
}

#[test]
fn killed_pull_is_recovered_by_the_next_pull() {
    let env = Env::new("killed_pull_is_recovered_by_the_next_pull");
    let (reference, id) = push_big_image(&env);

    let mut child = env.roost_spawn(&["pull", &reference]);
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    // Kill while the big blob is in flight: after "Copying blob" shows up.
    let mut seen = Vec::new();
    loop {
        match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(line) => {
                let copying = line.contains("Copying blob");
                seen.push(line);
                if copying {
                    break;
                }
            }
            Err(_) => panic!("pull never started copying a blob; stderr so far: {seen:?}"),
        }
    }
    // ... and its download is staged.
    assert!(
        wait_for(Duration::from_secs(30), || !tmp_entries(&env).is_empty()),
        "the pull staged nothing"
    );
    let group = Pid::from_raw(child.id() as i32);
    killpg(group, Signal::SIGKILL).expect("kill the pull");
    let status = child.wait().unwrap();
    assert!(!status.success(), "the pull finished before it was killed");
    // The roost it re-executed in the user namespace holds the staging lock until it is gone.
    assert!(
        wait_for(Duration::from_secs(10), || killpg(group, None).is_err()),
        "the killed pull's processes did not go away"
    );

    let out = env.roost(0, &["pull", "-q", &reference]);
    assert_eq!(out.stdout_text().trim(), id);
    assert_eq!(image_ids(&env), [format!("sha256:{id}")]);
    assert_eq!(layer_dirs(&env).len(), 1);
    let names = env.roost(0, &["images", "--format", "{{.Repository}}:{{.Tag}}"]);
    assert_eq!(names.stdout_lines(), [reference]);
    // The killed pull's staging (blob download, half-applied layer) must not outlive it.
    assert_no_staging(&env, "a pull following a killed pull");
    assert_no_leaks(&env);
}

/// With a registries.conf of the user's own, podman reads neither the system file nor the system
/// drop-ins (Debian's shortnames.conf aliases `busybox` to docker.io): a short name goes to the
/// user's search registries (containers-registries.conf.d(5)).
#[test]
fn short_names_follow_the_users_registries_conf_alone() {
    let env = Env::new("short_names_follow_the_users_registries_conf_alone");
    let reg = registry();
    std::fs::write(
        env.config.join("containers/registries.conf"),
        format!(
            "unqualified-search-registries = [\"{reg}\"]\n[[registry]]\nlocation = \"{reg}\"\ninsecure = true\n"
        ),
    )
    .unwrap();
    let info = env.roost(0, &["info", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_slice(&info.stdout).expect("info JSON");
    let files = v["store"]["configFiles"]
        .as_array()
        .expect("store.configFiles");
    assert!(
        files
            .iter()
            .all(|f| !f.as_str().unwrap_or_default().starts_with("/etc/")),
        "{files:?}"
    );
    env.roost(0, &["pull", "-q", "busybox"]);
    let names = env.roost(0, &["images", "--format", "{{.Repository}}"]);
    assert_eq!(names.stdout_text(), format!("{reg}/busybox\n"));
    assert_no_leaks(&env);
}
