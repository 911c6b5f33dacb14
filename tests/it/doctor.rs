//! `roost doctor` on this machine, as the test user: what passes here (subordinate ids, the setuid
//! id-mapping helpers, every helper with its version, the store) and what fails here, with the fix
//! that applies (this build machine has a hybrid cgroup v1 hierarchy and no systemd; the VM tier's
//! `doctor` scenario is where every check passes). The expected outcome of each machine-dependent
//! check is worked out from the machine itself, independently of roost.

use std::path::Path;

use serde_json::Value;

use crate::harness::{Env, OutputExt, env_with_busybox, run_with_timeout};
use crate::store::{entries, store_root};

/// `doctor --format json`: the checks by name, and the exit status.
fn checks(env: &Env) -> (Vec<Value>, i32) {
    let out = run_with_timeout(
        &mut env.roost_cmd(&["doctor", "--format", "json"]),
        None,
        env.timeout,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "doctor --format json is not JSON ({e}): {}",
            out.stdout_text()
        )
    });
    let list = v.as_array().expect("a JSON array of checks").clone();
    (list, out.status.code().expect("an exit code"))
}

fn get<'a>(checks: &'a [Value], name: &str) -> &'a Value {
    checks
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no check `{name}` in {checks:#?}"))
}

fn status(c: &Value) -> &str {
    c["status"].as_str().expect("status is a string")
}

fn fix(c: &Value) -> &str {
    c["fix"].as_str().unwrap_or_default()
}

#[test]
fn doctor_json_has_every_check_with_a_fix_for_each_that_is_not_ok() {
    let env = Env::new("doctor_json");
    let (list, code) = checks(&env);
    let names: Vec<&str> = list.iter().map(|c| c["name"].as_str().unwrap()).collect();
    for want in [
        "user-namespaces",
        "subuid",
        "subgid",
        "newuidmap",
        "newgidmap",
        "dev-net-tun",
        "dev-fuse",
        "overlay",
        "cgroup-v2",
        "cgroup-delegation",
        "linger",
        "xdg-runtime-dir",
        "libslirp",
        "pasta",
        "slirp4netns",
        "netavark",
        "aardvark-dns",
        "fuse-overlayfs",
        "firewall",
        "unprivileged-ports",
        "disk-space",
        "store",
    ] {
        assert!(names.contains(&want), "no check `{want}` in {names:?}");
    }
    let mut unique = names.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), names.len(), "check names repeat: {names:?}");
    for c in &list {
        assert!(
            ["ok", "warn", "fail"].contains(&status(c)),
            "bad status: {c}"
        );
        assert!(!c["detail"].as_str().unwrap().is_empty(), "no detail: {c}");
        if status(c) == "ok" {
            assert!(c["fix"].is_null(), "an ok check has a fix: {c}");
        } else {
            assert!(!fix(c).is_empty(), "a check that is not ok has no fix: {c}");
        }
    }
    let failed = list.iter().any(|c| status(c) == "fail");
    assert_eq!(
        code,
        i32::from(failed),
        "exit status 1 exactly when a check fails"
    );
}

#[test]
fn doctor_passes_what_this_machine_has() {
    let env = Env::new("doctor_passes");
    let (list, _) = checks(&env);
    let user = env.user().name.clone();
    for name in ["subuid", "subgid"] {
        let c = get(&list, name);
        assert_eq!(status(c), "ok", "{c}");
        let detail = c["detail"].as_str().unwrap();
        assert!(detail.starts_with(&format!("{user}:")), "{c}");
        assert!(detail.contains("65536 ids"), "{c}");
    }
    for name in ["newuidmap", "newgidmap"] {
        let c = get(&list, name);
        assert_eq!(status(c), "ok", "{c}");
        assert!(c["detail"].as_str().unwrap().contains("setuid root"), "{c}");
    }
    // The helpers tests/world.sh installs, each with the version it reports.
    for (name, version) in [
        ("slirp4netns", "slirp4netns version"),
        ("netavark", "netavark 1."),
        ("aardvark-dns", "aardvark-dns 1."),
        ("fuse-overlayfs", "fuse-overlayfs: version"),
        ("pasta", "pasta"),
        ("libslirp", "the default network"),
        ("firewall", "iptables v"),
    ] {
        let c = get(&list, name);
        assert_eq!(status(c), "ok", "{c}");
        assert!(c["detail"].as_str().unwrap().contains(version), "{c}");
    }
    assert_eq!(
        status(get(&list, "store")),
        "ok",
        "a fresh user has no store"
    );
    assert_eq!(
        status(get(&list, "xdg-runtime-dir")),
        "ok",
        "the harness sets XDG_RUNTIME_DIR"
    );
}

#[test]
fn doctor_names_the_fix_for_what_this_machine_lacks() {
    let env = Env::new("doctor_fixes");
    let (list, code) = checks(&env);
    let v2 = get(&list, "cgroup-v2");
    let delegation = get(&list, "cgroup-delegation");
    if Path::new("/sys/fs/cgroup/cgroup.controllers").exists() {
        assert_eq!(status(v2), "ok", "{v2}");
    } else {
        // This build machine: cgroup v1 (hybrid), so nothing is delegated either.
        assert_eq!(status(v2), "fail", "{v2}");
        assert!(
            fix(v2).contains("systemd.unified_cgroup_hierarchy=1"),
            "{v2}"
        );
        assert_eq!(status(delegation), "fail", "{delegation}");
        assert!(
            fix(delegation).contains("/etc/systemd/system/user@.service.d/")
                && fix(delegation).contains("Delegate=cpu cpuset io memory pids"),
            "the fix names the Delegate= drop-in for user@.service: {delegation}"
        );
        assert_eq!(code, 1, "a failed check makes the exit status 1");
    }
    let linger = get(&list, "linger");
    if !Path::new("/run/systemd/system").is_dir() {
        // No systemd here: no user manager, so lingering means nothing; the fix says what to do instead.
        assert_eq!(status(linger), "warn", "{linger}");
        assert!(
            linger["detail"]
                .as_str()
                .unwrap()
                .contains("does not run systemd"),
            "{linger}"
        );
        assert!(
            fix(linger).contains("--restart") && fix(linger).contains("@reboot"),
            "{linger}"
        );
    }
    // The table: every fix printed under its check, and a summary.
    let table = env.run_cmd(env.roost_cmd(&["doctor"]), code).stdout_text();
    for c in list.iter().filter(|c| status(c) != "ok") {
        assert!(table.contains(&format!("fix: {}", fix(c))), "{table}");
    }
    assert!(table.lines().last().unwrap().contains("checks"), "{table}");
}

#[test]
fn doctor_checks_the_store_and_leaves_nothing_behind() {
    let env = env_with_busybox("doctor_store");
    let (list, _) = checks(&env);
    let store = get(&list, "store");
    assert_eq!(status(store), "ok", "{store}");
    assert!(
        store["detail"].as_str().unwrap().contains("is consistent"),
        "{store}"
    );
    // The overlay probe removes its directory (the kernel leaves `work` mode 000 inside it).
    assert_eq!(entries(&store_root(&env).join("tmp")), Vec::<String>::new());
    // A missing blob: the store check fails and says how to repair.
    let blobs = store_root(&env).join("blobs/sha256");
    let victim = entries(&blobs).into_iter().next().expect("a blob");
    std::fs::remove_file(blobs.join(&victim)).unwrap();
    let (list, code) = checks(&env);
    let store = get(&list, "store");
    assert_eq!(status(store), "fail", "{store}");
    assert!(
        store["detail"].as_str().unwrap().contains(&victim),
        "{store}"
    );
    assert!(
        fix(store).contains("roost system check --repair"),
        "{store}"
    );
    assert_eq!(code, 1);
    env.roost(0, &["system", "check", "--repair", "--force"]);
}
