//! Tests against the real kernel. Loading a filter or dropping capabilities cannot be undone, and
//! the test harness is multi-threaded, so each such test re-runs this test binary with only the
//! matching `*_child` test selected and an environment variable that tells that test to act; in
//! a normal run the `*_child` tests return at once.

#![allow(clippy::print_stderr)] // tests report skips and timings on stderr

use std::process::Command;

use nix::errno::Errno;

use super::caps::{self, CapSet, Capability};
use super::no_new_privileges;
use super::seccomp::{compile, compile_cached, default_profile};

const CHILD_ENV: &str = "ROOST_SECURITY_TEST_CHILD";

/// Run `test` (a full test path) in a fresh copy of this binary and fail with its output if it
/// fails or did not run.
fn run_child(test: &str) {
    let exe = std::env::current_exe().expect("the test binary has a path");
    let out = Command::new(exe)
        .args([test, "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, test)
        .output()
        .expect("the test binary runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stdout.contains("1 passed"),
        "child {test} failed ({}):\n{stdout}\n{stderr}",
        out.status
    );
}

fn in_child(test: &str) -> bool {
    std::env::var(CHILD_ENV).is_ok_and(|v| v.ends_with(test))
}

#[test]
fn default_filter_denies_and_allows() {
    run_child("runtime::security::tests::default_filter_child");
}

#[test]
fn default_filter_child() {
    if !in_child("default_filter_child") {
        return;
    }
    let profile = default_profile();
    let filter = compile(&profile, &CapSet::podman_default()).unwrap();
    // Like a container child without CAP_SYS_ADMIN in its namespace: no_new_privs first.
    no_new_privileges().unwrap();
    filter.load().unwrap();

    assert!(nix::unistd::getpid().as_raw() > 0);
    let host = nix::unistd::gethostname().unwrap();
    // Denied by a capability rule (no CAP_SYS_ADMIN): EPERM, even for root, and harmless if
    // it were not denied, since it sets the same name.
    assert_eq!(nix::unistd::sethostname(&host), Err(Errno::EPERM));
    // A personality value outside the allowed ones falls to the default action: ENOSYS.
    use nix::sys::personality::{self, Persona};
    assert_eq!(
        personality::set(Persona::ADDR_NO_RANDOMIZE),
        Err(Errno::ENOSYS)
    );
    // chroot is allowed with podman's default set (CAP_SYS_CHROOT)…
    let chroot = nix::unistd::chroot("/nonexistent-roost-dir");
    assert_eq!(chroot, Err(Errno::ENOENT));
    // …and denied by a second filter compiled for a set without it (filters stack), loaded
    // from the BPF cache this time.
    let dir = tempfile::tempdir().unwrap();
    compile_cached(&profile, &CapSet::empty(), dir.path()).unwrap();
    let cached = compile_cached(&profile, &CapSet::empty(), dir.path()).unwrap();
    cached.load().unwrap();
    assert_eq!(
        nix::unistd::chroot("/nonexistent-roost-dir"),
        Err(Errno::EPERM)
    );
    assert!(nix::unistd::getppid().as_raw() > 0);
}

/// `Cap*` masks of the calling thread from /proc.
fn thread_caps() -> std::collections::HashMap<String, u64> {
    let status = std::fs::read_to_string("/proc/thread-self/status").unwrap();
    status
        .lines()
        .filter_map(|l| l.strip_prefix("Cap"))
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.to_string(), u64::from_str_radix(v.trim(), 16).unwrap()))
        .collect()
}

fn root_with_setpcap() -> bool {
    nix::unistd::geteuid().is_root() && thread_caps()["Eff"] & (1 << 8) != 0
}

#[test]
fn apply_caps_for_root() {
    if !root_with_setpcap() {
        eprintln!("skipped: needs root with CAP_SETPCAP");
        return;
    }
    run_child("runtime::security::tests::apply_caps_for_root_child");
}

#[test]
fn apply_caps_for_root_child() {
    if !in_child("apply_caps_for_root_child") {
        return;
    }
    let before = thread_caps();
    let mut want = CapSet::podman_default();
    want.insert(Capability::parse("NET_ADMIN").unwrap());
    let want_bits = want.bits() & before["Bnd"] & before["Prm"];
    let want: CapSet = want
        .iter()
        .filter(|c| want_bits & (1 << c.number()) != 0)
        .collect();
    caps::apply(&want, true).unwrap();
    let after = thread_caps();
    assert_eq!(after["Bnd"], want.bits());
    assert_eq!(after["Eff"], want.bits());
    assert_eq!(after["Prm"], want.bits());
    assert_eq!(after["Inh"], 0);
    assert_eq!(after.get("Amb").copied().unwrap_or(0), 0);
}

#[test]
fn apply_caps_for_user() {
    if !root_with_setpcap() {
        eprintln!("skipped: needs root with CAP_SETPCAP");
        return;
    }
    run_child("runtime::security::tests::apply_caps_for_user_child");
}

#[test]
fn apply_caps_for_user_child() {
    if !in_child("apply_caps_for_user_child") {
        return;
    }
    let before = thread_caps();
    let want: CapSet = CapSet::podman_default()
        .iter()
        .filter(|c| before["Bnd"] & (1 << c.number()) != 0)
        .collect();
    caps::apply(&want, false).unwrap();
    let mid = thread_caps();
    assert_eq!(mid["Bnd"], want.bits());
    assert_eq!(mid["Eff"], (1 << 6) | (1 << 7), "SETGID and SETUID only");
    let id = nix::unistd::Uid::from_raw(1000);
    nix::unistd::setresuid(id, id, id).unwrap();
    let after = thread_caps();
    assert_eq!(after["Bnd"], want.bits());
    assert_eq!(after["Eff"], 0);
    assert_eq!(after["Prm"], 0);
}
