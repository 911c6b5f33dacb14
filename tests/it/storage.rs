//! Storage drivers for container roots: `--storage-driver fuse-overlayfs|vfs` (and `overlay`, the
//! default), `storage.conf`'s `driver`, the cached probe, `info`, and that nothing (mount, fuse-overlayfs
//! daemon, directory) outlives a container, however it ends.

use std::fs;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use crate::harness::{
    Cleanup, Env, OutputExt, assert_no_leaks, env_with_busybox, image, out, run_with_timeout,
};
use crate::store::{entries, store_root};

/// `roost --storage-driver DRIVER ARGS`, expected to exit 0; its stdout.
fn with(env: &Env, driver: &str, args: &[&str]) -> String {
    let mut full = vec!["--storage-driver", driver];
    full.extend_from_slice(args);
    out(env, &full)
}

/// fuse-overlayfs daemons serving something of this env.
fn fuse_daemons(env: &Env) -> Vec<i32> {
    let needle = env.root.to_string_lossy().into_owned();
    let mut pids = Vec::new();
    for p in fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(pid) = p.file_name().to_str().and_then(|n| n.parse::<i32>().ok()) else {
            continue;
        };
        let cmdline =
            String::from_utf8_lossy(&fs::read(p.path().join("cmdline")).unwrap_or_default())
                .replace('\0', " ");
        if cmdline.starts_with("/usr/bin/fuse-overlayfs ") && cmdline.contains(&needle) {
            pids.push(pid);
        }
    }
    pids
}

/// Mount-table lines of any process that mention this env.
fn mounts(env: &Env) -> Vec<String> {
    let needle = env.root.to_string_lossy().into_owned();
    let mut found = Vec::new();
    for p in fs::read_dir("/proc").into_iter().flatten().flatten() {
        if !p
            .file_name()
            .to_string_lossy()
            .bytes()
            .all(|b| b.is_ascii_digit())
        {
            continue;
        }
        if let Ok(text) = fs::read_to_string(p.path().join("mountinfo")) {
            found.extend(
                text.lines()
                    .filter(|l| l.contains(&needle))
                    .map(str::to_string),
            );
        }
    }
    found
}

/// Polls until no fuse-overlayfs daemon and no mount of this env is left (2 s), then asserts it, the
/// empty container lists and the harness's leak check.
fn assert_nothing_left(env: &Env, after: &str) {
    let deadline = Instant::now() + Duration::from_secs(2);
    while (!fuse_daemons(env).is_empty() || !mounts(env).is_empty()) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(
        fuse_daemons(env),
        Vec::<i32>::new(),
        "{after}: fuse-overlayfs daemons"
    );
    assert_eq!(mounts(env), Vec::<String>::new(), "{after}: mounts");
    assert_eq!(out(env, &["ps", "-a", "-q"]), "", "{after}: ps -a");
    assert_eq!(
        entries(&store_root(env).join("containers")),
        Vec::<String>::new(),
        "{after}: store containers/"
    );
    assert_no_leaks(env);
}

fn sorted_lines(s: &str) -> Vec<String> {
    let mut v: Vec<String> = s.lines().map(str::to_string).collect();
    v.sort();
    v
}

/// The whole life of a container under `driver`: changes made by exec (a new file, a deleted image
/// file, renames across directories, a replaced directory), cp both ways, diff, commit of the running
/// container, rm -f; then the committed image shows the changes under the same driver and under
/// the kernel overlay.
fn round_trip(test: &str, driver: &str) {
    let env = env_with_busybox(test);
    let _c = Cleanup(&env);
    let name = env.safename("c");
    let bb = image("busybox");
    with(
        &env,
        driver,
        &["run", "-d", "--name", &name, &bb, "sleep", "300"],
    );
    assert_eq!(
        out(
            &env,
            &["inspect", "--format", "{{.GraphDriver.Name}}", &name]
        )
        .trim(),
        driver,
        "the container records its driver"
    );
    assert_eq!(
        out(&env, &["exec", "-u", "nobody", &name, "id", "-un"]).trim(),
        "nobody",
        "user names resolve from the container's files"
    );
    // Later commands don't need the flag: the container keeps its driver.
    let script = "echo new > /new && rm /bin/wget && mkdir /d1 /d2 && echo moved > /d1/f && \
                  mv /d1/f /d2/f && mv /etc/passwd /root/passwd && rm -rf /home && mkdir /home && \
                  echo h > /home/h && cat /new /d2/f";
    assert_eq!(
        out(&env, &["exec", &name, "sh", "-c", script]),
        "new\nmoved\n"
    );
    let host_file = env.home.join("in.txt");
    fs::write(&host_file, "from host\n").unwrap();
    out(
        &env,
        &[
            "cp",
            host_file.to_str().unwrap(),
            &format!("{name}:/in.txt"),
        ],
    );
    let copied = env.home.join("new.out");
    out(
        &env,
        &["cp", &format!("{name}:/new"), copied.to_str().unwrap()],
    );
    assert_eq!(fs::read_to_string(&copied).unwrap(), "new\n");
    let diff = sorted_lines(&out(&env, &["diff", &name]));
    for want in [
        "A /new",
        "A /in.txt",
        "A /d1",
        "A /d2",
        "A /d2/f",
        "A /root/passwd",
        "C /bin",
        "D /bin/wget",
        "C /etc",
        "D /etc/passwd",
        "A /home/h",
    ] {
        assert!(
            diff.iter().any(|l| l == want),
            "diff lacks `{want}`: {diff:?}"
        );
    }
    assert!(!diff.iter().any(|l| l.contains(".wh.")), "{diff:?}");
    let img = format!("localhost/{}:latest", env.safename("img"));
    out(&env, &["commit", "-q", &name, &img]);
    let exported = env.roost(0, &["export", &name]).stdout;
    let listing = tar_names(&exported);
    assert!(listing.iter().any(|n| n == "new"), "export: {listing:?}");
    assert!(
        !listing.iter().any(|n| n == "bin/wget"),
        "export: {listing:?}"
    );
    out(&env, &["rm", "-f", "-t", "0", &name]);

    let check = "cat /new /in.txt /d2/f /root/passwd | head -3; ls /home; \
                 for f in /bin/wget /d1/f /etc/passwd; do [ -e $f ] && echo still $f; done; true";
    let want = "new\nfrom host\nmoved\nh\n";
    assert_eq!(
        with(&env, driver, &["run", "--rm", &img, "sh", "-c", check]),
        want
    );
    assert_eq!(
        with(&env, "overlay", &["run", "--rm", &img, "sh", "-c", check]),
        want
    );
    out(&env, &["rmi", &img]);
    assert_nothing_left(&env, driver);
}

fn tar_names(tar: &[u8]) -> Vec<String> {
    let mut a = tar::Archive::new(tar);
    a.entries()
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            e.path()
                .unwrap()
                .to_string_lossy()
                .trim_end_matches('/')
                .to_string()
        })
        .collect()
}

#[test]
fn fuse_overlayfs_round_trip() {
    round_trip("fuse_overlayfs_round_trip", "fuse-overlayfs");
}

#[test]
fn vfs_round_trip() {
    round_trip("vfs_round_trip", "vfs");
}

/// Nothing is left after `run --rm`, `rm -f` of a running container, a container that exited on its
/// own, and `rm -f` after its monitor was SIGKILLed.
fn no_leaks(test: &str, driver: &str) {
    let env = env_with_busybox(test);
    let _c = Cleanup(&env);
    let bb = image("busybox");
    assert_eq!(
        with(
            &env,
            driver,
            &["run", "--rm", &bb, "sh", "-c", "echo x > /x && cat /x"]
        ),
        "x\n"
    );
    assert_nothing_left(&env, "run --rm");

    let a = env.safename("a");
    with(
        &env,
        driver,
        &["run", "-d", "--name", &a, &bb, "sleep", "300"],
    );
    if driver == "fuse-overlayfs" {
        let daemons = fuse_daemons(&env);
        let lines: Vec<String> = daemons
            .iter()
            .map(|p| {
                String::from_utf8_lossy(&fs::read(format!("/proc/{p}/cmdline")).unwrap_or_default())
                    .replace('\0', " ")
            })
            .collect();
        assert_eq!(daemons.len(), 1, "one daemon while it runs: {lines:?}");
    }
    out(&env, &["rm", "-f", "-t", "0", &a]);
    assert_nothing_left(&env, "rm -f of a running container");

    let b = env.safename("b");
    with(&env, driver, &["run", "-d", "--name", &b, &bb, "true"]);
    out(&env, &["wait", &b]);
    let deadline = Instant::now() + Duration::from_secs(5);
    while !fuse_daemons(&env).is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(
        fuse_daemons(&env),
        Vec::<i32>::new(),
        "the monitor ends the daemon when the container exits"
    );
    out(&env, &["rm", &b]);
    assert_nothing_left(&env, "rm of an exited container");

    let m = env.safename("m");
    let id = with(
        &env,
        driver,
        &["run", "-d", "--name", &m, &bb, "sleep", "300"],
    );
    let monitors = monitor_pids(id.trim());
    assert_eq!(monitors.len(), 1, "{monitors:?}");
    kill(Pid::from_raw(monitors[0]), Signal::SIGKILL).unwrap();
    out(&env, &["rm", "-f", "-t", "0", &m]);
    assert_nothing_left(&env, "rm -f after the monitor was killed");
}

fn monitor_pids(id: &str) -> Vec<i32> {
    let mut pids = Vec::new();
    for p in fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(pid) = p.file_name().to_str().and_then(|n| n.parse::<i32>().ok()) else {
            continue;
        };
        let cmdline =
            String::from_utf8_lossy(&fs::read(p.path().join("cmdline")).unwrap_or_default())
                .replace('\0', " ");
        if cmdline.contains("__monitor") && cmdline.contains(id) {
            pids.push(pid);
        }
    }
    pids
}

#[test]
fn fuse_overlayfs_leaves_nothing() {
    no_leaks("fuse_overlayfs_leaves_nothing", "fuse-overlayfs");
}

#[test]
fn vfs_leaves_nothing() {
    no_leaks("vfs_leaves_nothing", "vfs");
}

fn info_driver(env: &Env, extra: &[(&str, &str)], flag: Option<&str>) -> (String, String) {
    let mut args = vec![];
    if let Some(d) = flag {
        args.extend(["--storage-driver", d]);
    }
    args.extend([
        "info",
        "--format",
        "{{.Store.GraphDriverName}}\t{{.Store.GraphDriverNote}}",
    ]);
    let mut cmd = env.roost_cmd(&args);
    for (k, v) in extra {
        cmd.env(k, v);
    }
    let o = run_with_timeout(&mut cmd, None, Duration::from_secs(30)).unwrap();
    assert!(o.status.success(), "{}", o.stderr_text());
    let text = o.stdout_text();
    let (name, note) = text.trim().split_once('\t').expect("two fields");
    (name.to_string(), note.to_string())
}

#[test]
fn info_says_which_driver_and_why() {
    let env = Env::new("info_says_which_driver_and_why");
    let (name, note) = info_driver(&env, &[], None);
    assert_eq!(
        name, "overlay",
        "this kernel mounts overlay in a user namespace: {note}"
    );
    assert!(note.starts_with("probed:"), "{note}");
    let (name, note) = info_driver(&env, &[], Some("vfs"));
    assert_eq!(
        (name.as_str(), note.as_str()),
        ("vfs", "set by --storage-driver")
    );

    let conf = env.home.join("storage.conf");
    fs::write(&conf, "[storage]\ndriver = \"fuse-overlayfs\"\n").unwrap();
    let conf_s = conf.to_str().unwrap();
    let (name, note) = info_driver(&env, &[("CONTAINERS_STORAGE_CONF", conf_s)], None);
    assert_eq!(name, "fuse-overlayfs");
    assert!(
        note.contains("CONTAINERS_STORAGE_CONF") && note.contains(conf_s),
        "{note}"
    );
    // The flag wins over the file.
    let (name, _) = info_driver(
        &env,
        &[("CONTAINERS_STORAGE_CONF", conf_s)],
        Some("overlay"),
    );
    assert_eq!(name, "overlay");
    assert_no_leaks(&env);
}

/// The probe's answer is kept in the runtime dir and used by later commands: a cached `vfs` (what a
/// kernel without overlay in user namespaces and without FUSE gets) makes new containers vfs ones.
#[test]
fn cached_probe_picks_the_driver() {
    let env = env_with_busybox("cached_probe_picks_the_driver");
    let _c = Cleanup(&env);
    let (name, _) = info_driver(&env, &[], None);
    assert_eq!(name, "overlay");
    let cache = env.runtime.join("roost/storage-driver");
    let cached = fs::read_to_string(&cache).expect("the probe is cached");
    assert!(cached.starts_with("overlay\n"), "{cached:?}");
    fs::write(&cache, "vfs\nprobed: pretend this kernel has neither\n").unwrap();
    let (name, note) = info_driver(&env, &[], None);
    assert_eq!(
        (name.as_str(), note.as_str()),
        ("vfs", "probed: pretend this kernel has neither")
    );
    let c = env.safename("c");
    out(&env, &["create", "--name", &c, &image("busybox"), "true"]);
    assert_eq!(
        out(&env, &["inspect", "--format", "{{.GraphDriver.Name}}", &c]).trim(),
        "vfs"
    );
    let dirs = entries(&store_root(&env).join("containers"));
    assert_eq!(dirs.len(), 1);
    let copy = store_root(&env)
        .join("containers")
        .join(&dirs[0])
        .join("rootfs");
    assert!(
        copy.join("bin/sh").symlink_metadata().is_ok(),
        "create made the copy"
    );
    out(&env, &["start", "-a", &c]);
    out(&env, &["rm", &c]);
    assert_nothing_left(&env, "rm");
}

#[test]
fn keep_id_with_vfs_and_fuse_overlayfs_keeps_the_images_owners() {
    let env = env_with_busybox("keep_id_with_vfs_and_fuse_overlayfs_keeps_the_images_owners");
    let _c = Cleanup(&env);
    for driver in ["vfs", "fuse-overlayfs"] {
        crate::userns::keep_id_sees_the_images_owners(&env, Some(driver));
        crate::userns::keep_id_commit_and_export_record_the_containers_ids(&env, Some(driver));
        assert_nothing_left(&env, driver);
    }
    assert_no_leaks(&env);
}
