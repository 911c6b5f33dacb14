//! `unshare`, `__complete`, `info`, `version`, usage errors, `--log-level`.

use crate::harness::{Env, OutputExt, assert_no_leaks, image};
use crate::store::{pull, subid_start};

#[test]
fn unshare_runs_as_root_in_the_user_namespace() {
    let env = Env::new("unshare_runs_as_root_in_the_user_namespace");
    assert_eq!(env.roost(0, &["unshare", "id", "-u"]).stdout_text(), "0\n");
    let map = env
        .roost(0, &["unshare", "cat", "/proc/self/uid_map"])
        .stdout_lines();
    let rows: Vec<Vec<u64>> = map
        .iter()
        .map(|l| l.split_whitespace().map(|n| n.parse().unwrap()).collect())
        .collect();
    assert!(
        rows.contains(&vec![0, u64::from(env.user().uid), 1]),
        "{map:?}"
    );
    let start = u64::from(subid_start("/etc/subuid"));
    assert!(
        rows.iter()
            .any(|r| r[0] == 1 && r[1] == start && r[2] > 1000),
        "{map:?}"
    );
    // Exit status of the command is passed through.
    env.roost(3, &["unshare", "sh", "-c", "exit 3"]);
    assert_no_leaks(&env);
}

#[test]
fn complete_images_lists_names() {
    // podman's (cobra's) protocol: candidates a line, then `:DIRECTIVE`.
    let env = Env::new("complete_images_lists_names");
    pull(&env, "busybox");
    pull(&env, "layered");
    let out = env.roost(0, &["__completeNoDesc", "rmi", "127"]);
    let lines = out.stdout_lines();
    assert_eq!(lines.last().map(String::as_str), Some(":4"), "{lines:?}");
    let names = &lines[..lines.len() - 1];
    assert!(names.contains(&image("busybox")), "{lines:?}");
    assert!(names.contains(&image("layered")), "{lines:?}");
    assert!(names.iter().all(|l| l.starts_with("127")), "{lines:?}");
    let none = env.roost(0, &["__complete", "rmi", "zzz-no-such"]);
    assert_eq!(
        none.stdout_text(),
        ":4\n",
        "an image argument never falls back to file names"
    );
    assert_eq!(
        none.stderr_text(),
        "Completion ended with directive: ShellCompDirectiveNoFileComp\n"
    );
    assert_no_leaks(&env);
}

/// `__completeNoDesc ARGS…`: the candidates (stdout) without the directive line.
fn candidates(env: &Env, args: &[&str]) -> (Vec<String>, String) {
    let mut all = vec!["__completeNoDesc"];
    all.extend_from_slice(args);
    let out = env.roost(0, &all);
    let mut lines = out.stdout_lines();
    let directive = lines.pop().unwrap_or_default();
    (lines, directive)
}

#[test]
fn cobra_completion_follows_each_arguments_kind() {
    let env = Env::new("cobra_completion_follows_each_arguments_kind");
    let _c = crate::harness::Cleanup(&env);
    pull(&env, "busybox");
    let bb = image("busybox");
    let ctr = env.safename("c");
    env.roost(
        0,
        &[
            "run",
            "--name",
            &ctr,
            &bb,
            "sh",
            "-c",
            "touch /tmp/f1 /tmp/f12 && mkdir /empty",
        ],
    );
    // Flags once the word starts with `-`; a command without more arguments offers nothing and no
    // file names.
    let (flags, d) = candidates(&env, &["ps", "--"]);
    assert!(
        flags.contains(&"--all".to_string()) && d == ":4",
        "{flags:?} {d}"
    );
    assert_eq!(candidates(&env, &["ps", ""]), (vec![], ":4".to_string()));
    assert_eq!(
        candidates(&env, &["rename", "a", "b", ""]),
        (vec![], ":4".to_string())
    );
    // Host paths are the shell's (directive 0, no candidates).
    assert_eq!(candidates(&env, &["build", ""]), (vec![], ":0".to_string()));
    // Images: full names; shorter forms and ids once something is typed.
    let (imgs, _) = candidates(&env, &["create", ""]);
    assert!(imgs.contains(&bb), "{imgs:?}");
    let (short, _) = candidates(&env, &["create", "busy"]);
    assert!(short.contains(&"busybox:latest".to_string()), "{short:?}");
    // `create IMAGE …`: paths inside the image, from its layers.
    let (paths, _) = candidates(&env, &["create", &bb, ""]);
    assert!(
        paths.contains(&"/etc/".to_string()) && paths.contains(&"/bin/".to_string()),
        "{paths:?}"
    );
    let (etc, _) = candidates(&env, &["run", &bb, "/etc/pass"]);
    assert_eq!(etc, ["/etc/passwd"]);
    // `cp`: containers with a colon, then paths in the container (its own files too).
    let (names, d) = candidates(&env, &["cp", ""]);
    assert!(
        names.contains(&format!("{ctr}:")) && d == ":2",
        "{names:?} {d}"
    );
    let (files, _) = candidates(&env, &["cp", &format!("{ctr}:/tmp/f1")]);
    assert_eq!(files, [format!("{ctr}:/tmp/f1"), format!("{ctr}:/tmp/f12")]);
    let (empty, d) = candidates(&env, &["cp", &format!("{ctr}:/empty")]);
    assert_eq!((empty, d.as_str()), (vec![format!("{ctr}:/empty/")], ":2"));
    // Flag values: the host's interfaces; a container's template fields for `inspect --format`.
    let (ifaces, _) = candidates(&env, &["network", "create", "--interface-name", "l"]);
    assert!(ifaces.contains(&"lo".to_string()), "{ifaces:?}");
    let (fields, _) = candidates(&env, &["inspect", &ctr, "-f", "{{."]);
    assert!(fields.contains(&"{{.Args}}".to_string()), "{fields:?}");
    let (image_fields, _) = candidates(&env, &["inspect", "busybox", "-f", "{{.Di"]);
    assert_eq!(image_fields, ["{{.Digest}}"]);
    let (state, _) = candidates(&env, &["container", "inspect", &ctr, "-f", "{{.State.Ru"]);
    assert!(
        state.contains(&"{{.State.Running}}".to_string()),
        "{state:?}"
    );
    env.roost(0, &["rm", &ctr]);
    assert_no_leaks(&env);
}

#[test]
fn info_json_describes_the_store() {
    let env = Env::new("info_json_describes_the_store");
    pull(&env, "busybox");
    let out = env.roost(0, &["info", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("info JSON");
    let graph = v["store"]["graphRoot"].as_str().expect("store.graphRoot");
    assert!(
        std::path::Path::new(graph).starts_with(&env.data),
        "{graph}"
    );
    assert_eq!(v["store"]["imageStore"]["number"], 1);
    assert_eq!(v["host"]["os"], "linux");
    assert_eq!(v["host"]["security"]["rootless"], true);
    assert!(v["version"]["Version"].is_string());
    assert!(v["registries"].is_object());
    assert_no_leaks(&env);
}

/// containers.conf's `[engine] helper_binaries_dir` is searched before podman's directories and PATH.
#[test]
fn helper_binaries_dir_is_searched_first() {
    use std::os::unix::fs::PermissionsExt;
    let env = Env::new("helper_binaries_dir_is_searched_first");
    let dir = env.home.join("helpers");
    std::fs::create_dir(&dir).unwrap();
    let netavark = dir.join("netavark");
    std::fs::write(&netavark, "#!/bin/sh\nexit 1\n").unwrap();
    std::fs::set_permissions(&netavark, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::write(
        env.config.join("containers/containers.conf"),
        format!("[engine]\nhelper_binaries_dir = [\"{}\"]\n", dir.display()),
    )
    .unwrap();
    let out = env.roost(0, &["info", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("info JSON");
    let path = |name: &str| {
        v["host"]["helpers"]
            .as_array()
            .expect("host.helpers")
            .iter()
            .find(|h| h["name"] == name)
            .map(|h| h["path"].as_str().unwrap_or_default().to_string())
    };
    assert_eq!(path("netavark"), Some(netavark.display().to_string()));
    // Not configured: found in podman's libexec directory, off the user's PATH.
    let aardvark = path("aardvark-dns").unwrap_or_default();
    assert!(aardvark.ends_with("/podman/aardvark-dns"), "{aardvark}");
    assert_no_leaks(&env);
}

#[test]
fn info_go_templates_use_podman_field_names() {
    let env = Env::new("info_go_templates_use_podman_field_names");
    let arch = env.roost(0, &["info", "--format", "{{.Host.Arch}}"]);
    assert!(!arch.stdout_text().trim().is_empty());
    let graph = env.roost(0, &["info", "--format", "{{.Store.GraphRoot}}"]);
    assert!(
        graph
            .stdout_text()
            .trim()
            .starts_with(env.data.to_str().unwrap())
    );
    let v = env.roost(0, &["info", "--format", "{{.Version.RoostVersion}}"]);
    assert_eq!(v.stdout_text().trim(), env!("CARGO_PKG_VERSION"));
    let v = env.roost(0, &["info", "--format", "{{.Version.Version}}"]);
    assert_eq!(v.stdout_text().trim(), PODMAN_COMPAT);
    assert_no_leaks(&env);
}

/// The podman version roost reports for clients that gate features on it (README, "Compatibility
/// level").
pub const PODMAN_COMPAT: &str = "4.6.2";

#[test]
fn version_outputs() {
    let env = Env::new("version_outputs");
    let out = env.roost(0, &["version"]);
    let text = out.stdout_text();
    assert!(text.contains(env!("CARGO_PKG_VERSION")), "{text}");
    assert!(text.contains("OS/Arch:"), "{text}");
    let roost_line = format!(
        "roost version {}, compatible with podman {PODMAN_COMPAT}\n",
        env!("CARGO_PKG_VERSION")
    );
    assert_eq!(env.roost(0, &["--version"]).stdout_text(), roost_line);
    // podman-compose runs `podman --version ''` and takes the last word; podman ignores the rest.
    assert_eq!(env.roost(0, &["--version", ""]).stdout_text(), roost_line);
    assert_eq!(env.roost(0, &["-v", "ps"]).stdout_text(), roost_line);
    let json = env.roost(0, &["version", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).expect("version JSON");
    assert_eq!(v["Client"]["Version"], PODMAN_COMPAT);
    assert_eq!(v["Client"]["APIVersion"], PODMAN_COMPAT);
    assert_eq!(v["Client"]["RoostVersion"], env!("CARGO_PKG_VERSION"));
    assert_no_leaks(&env);
}

/// Installed as `podman` (a link), roost answers with podman's own version line.
#[test]
fn version_as_podman() {
    let env = Env::new("version_as_podman");
    let link = env.home.join("podman");
    std::os::unix::fs::symlink(crate::harness::roost_bin(), &link).unwrap();
    let link = link.to_str().unwrap();
    let line = format!("podman version {PODMAN_COMPAT}\n");
    assert_eq!(
        env.run_as_user(0, link, &["--version", ""]).stdout_text(),
        line
    );
    let text = env.run_as_user(0, link, &["version"]).stdout_text();
    assert!(
        text.starts_with(&format!("Version:      {PODMAN_COMPAT}\n")),
        "{text}"
    );
    assert_no_leaks(&env);
}

#[test]
fn usage_errors_exit_125() {
    let env = Env::new("usage_errors_exit_125");
    // Templates are only executed with something to render.
    pull(&env, "busybox");
    for args in [
        &["images", "--bogus"][..],
        &["pull"][..],
        &["tag", "only-one"][..],
        &["save", "--format", "no-such-format", "x"][..],
        &["images", "-f", "nonsense"][..],
        &["images", "--format", "{{.NoSuchField}}"][..],
        &["rmi"][..],
    ] {
        let out = env.roost(125, args);
        let err = out.stderr_text();
        assert!(err.starts_with("Error: "), "roost {args:?}: {err}");
        assert!(!err.contains("panicked"), "roost {args:?}: {err}");
        assert!(out.stdout.is_empty(), "roost {args:?} printed on stdout");
    }
    // The missing argument is named.
    let err = env.roost(125, &["pull"]).stderr_text();
    assert!(
        err.to_uppercase().contains("IMAGE"),
        "does not say what is missing:\n{err}"
    );
    assert_no_leaks(&env);
}

#[test]
fn log_level_debug_is_accepted() {
    let env = Env::new("log_level_debug_is_accepted");
    let out = env.roost(0, &["--log-level", "debug", "images", "-q"]);
    assert!(
        out.stdout.is_empty(),
        "logs went to stdout: {}",
        out.stdout_text()
    );
    let err = out.stderr_text();
    assert!(!err.is_empty(), "debug logging printed nothing");
    assert!(
        !err.contains('\u{1b}'),
        "ANSI escapes in logs written to a pipe:\n{err:?}"
    );
    let out = env.roost(0, &["--log-level", "error", "images", "-q"]);
    assert!(out.stderr.is_empty(), "{}", out.stderr_text());
    assert_no_leaks(&env);
}
