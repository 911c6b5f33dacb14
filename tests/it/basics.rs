//! The CLI's outer contract (version, help, usage errors) and self-tests of the harness.

use std::time::Duration;

use crate::harness::{Env, Leak, OutputExt, assert_no_leaks, find_leaks, require_world};

#[test]
fn version_prints_cargo_version() {
    require_world();
    let env = Env::new("version_prints_cargo_version");
    let out = env.roost(0, &["--version"]);
    assert!(
        out.stdout_text()
            .starts_with(&format!("roost version {}, ", env!("CARGO_PKG_VERSION"))),
        "{}",
        out.stdout_text()
    );
    assert_no_leaks(&env);
}

#[test]
fn help_exits_zero() {
    require_world();
    let env = Env::new("help_exits_zero");
    let out = env.roost(0, &["--help"]);
    assert!(
        !out.stdout.is_empty(),
        "`roost --help` printed nothing on stdout"
    );
}

#[test]
fn unknown_subcommand_is_a_usage_error() {
    require_world();
    let env = Env::new("unknown_subcommand_is_a_usage_error");
    let out = env.roost(125, &["no-such-subcommand"]);
    let err = out.stderr_text();
    assert!(
        err.starts_with("Error: "),
        "stderr does not start with `Error: `:\n{err}"
    );
    assert!(!err.contains("panicked"), "roost panicked:\n{err}");
    assert!(!err.contains("RUST_BACKTRACE"), "roost panicked:\n{err}");
    assert!(out.stdout.is_empty(), "usage error printed on stdout");
}

// --- harness self-tests ---------------------------------------------------------------------

#[test]
fn harness_runs_as_test_user() {
    require_world();
    let env = Env::new("harness_runs_as_test_user");
    let user = env.user();
    let uid = env.run_as_user(0, "id", &["-u"]).stdout_text();
    assert_eq!(uid.trim(), user.uid.to_string());
    if user.switch {
        assert_ne!(user.uid, 0, "the test user must not be root");
        // Switching from root drops supplementary groups: only the primary group is left.
        let groups = env.run_as_user(0, "id", &["-G"]).stdout_text();
        assert_eq!(groups.trim(), user.gid.to_string());
    }
    let stat = env.run_as_user(0, "stat", &["-c", "%a %u", env.runtime.to_str().unwrap()]);
    assert_eq!(stat.stdout_text().trim(), format!("700 {}", user.uid));
}

#[test]
fn harness_environment_is_clean_and_private() {
    require_world();
    let env = Env::new("harness_environment_is_clean_and_private");
    let out = env.run_as_user(0, "env", &[]);
    let mut names: Vec<String> = out
        .stdout_lines()
        .iter()
        .map(|l| l.split('=').next().unwrap_or_default().to_string())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "HOME",
            "LANG",
            "PATH",
            "XDG_CACHE_HOME",
            "XDG_CONFIG_HOME",
            "XDG_DATA_HOME",
            "XDG_RUNTIME_DIR"
        ]
    );
    let home = env.run_as_user(0, "pwd", &[]).stdout_text();
    assert_eq!(home.trim(), env.home.to_str().unwrap());
    let conf = env.run_as_user(
        0,
        "cat",
        &[env
            .config
            .join("containers/registries.conf")
            .to_str()
            .unwrap()],
    );
    assert!(conf.stdout_text().contains("insecure = true"));
}

#[test]
fn harness_passes_stdin() {
    require_world();
    let env = Env::new("harness_passes_stdin");
    let mut cmd = env.command("cat", &[]);
    let out = crate::harness::run_with_timeout(&mut cmd, Some(b"hello\n"), env.timeout).unwrap();
    assert_eq!(out.stdout, b"hello\n");
}

#[test]
#[should_panic(expected = "expected exit code 0, got exit code 1")]
fn harness_reports_exit_code_mismatch() {
    require_world();
    let env = Env::new("harness_reports_exit_code_mismatch");
    env.run_as_user(0, "false", &[]);
}

#[test]
#[should_panic(expected = "timed out after")]
fn harness_kills_on_timeout() {
    require_world();
    let mut env = Env::new("harness_kills_on_timeout");
    env.timeout = Duration::from_millis(300);
    env.run_as_user(0, "sleep", &["30"]);
}

#[test]
fn harness_detects_leaked_process() {
    require_world();
    let env = Env::new("harness_detects_leaked_process");
    // A process of the test user whose environment points into the env's tree.
    let mut child = env.command("sleep", &["30"]).spawn().unwrap();
    let leaks = find_leaks(&env);
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(
        leaks
            .iter()
            .any(|l| matches!(l, Leak::Process { pid, .. } if *pid == child.id() as i32)),
        "sleep {} not reported: {leaks:?}",
        child.id()
    );
    assert_no_leaks(&env);
}
