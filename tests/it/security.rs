//! Security defaults and regressions: capabilities, seccomp, no-new-privileges, masked paths, no host
//! descriptor in the container (CVE-2024-21626), no way to reach the roost binary (CVE-2019-5736),
//! rlimits, and clear errors for what this machine cannot do.
use crate::harness::*;
use crate::store::pull;

fn status_field(env: &Env, extra: &[&str], field: &str) -> String {
    let mut args = vec!["run", "--rm"];
    args.extend_from_slice(extra);
    let img = image("busybox");
    args.extend_from_slice(&[&img, "grep", field, "/proc/self/status"]);
    let out = env.roost(0, &args);
    out.stdout_text()
        .split_whitespace()
        .nth(1)
        .unwrap_or_default()
        .to_string()
}

#[test]
fn podman_default_capabilities_and_seccomp() {
    let env = Env::new("podman_default_capabilities_and_seccomp");
    pull(&env, "busybox");
    // CHOWN DAC_OVERRIDE FOWNER FSETID KILL NET_BIND_SERVICE SETFCAP SETGID SETPCAP SETUID SYS_CHROOT
    assert_eq!(status_field(&env, &[], "CapEff:"), "00000000800405fb");
    assert_eq!(status_field(&env, &[], "CapBnd:"), "00000000800405fb");
    assert_eq!(
        status_field(&env, &[], "Seccomp:"),
        "2",
        "the default seccomp filter is loaded"
    );
    // A non-root user keeps the set in the bounding set only.
    assert_eq!(
        status_field(&env, &["-u", "user"], "CapEff:"),
        "0000000000000000"
    );
    assert_eq!(
        status_field(&env, &["-u", "user"], "CapBnd:"),
        "00000000800405fb"
    );
    assert_eq!(
        status_field(&env, &["--cap-drop", "ALL"], "CapBnd:"),
        "0000000000000000"
    );
    assert_eq!(
        status_field(
            &env,
            &["--cap-drop", "ALL", "--cap-add", "net_admin"],
            "CapEff:"
        ),
        "0000000000001000"
    );
    assert_eq!(status_field(&env, &["--privileged"], "Seccomp:"), "0");
    assert_eq!(
        status_field(&env, &["--security-opt", "seccomp=unconfined"], "Seccomp:"),
        "0"
    );
    assert_eq!(
        status_field(
            &env,
            &["--security-opt", "no-new-privileges"],
            "NoNewPrivs:"
        ),
        "1"
    );
    assert_eq!(
        status_field(&env, &["--security-opt", "no-new-privileges"], "Seccomp:"),
        "2"
    );
    // The filter and the capability set bite: sethostname needs CAP_SYS_ADMIN.
    let out = env.roost(1, &["run", "--rm", &image("busybox"), "hostname", "other"]);
    assert!(
        out.stderr_text().contains("not permitted"),
        "{}",
        out.stderr_text()
    );
    env.roost(
        0,
        &[
            "run",
            "--rm",
            "--privileged",
            &image("busybox"),
            "hostname",
            "other",
        ],
    );
    assert_no_leaks(&env);
}

#[test]
fn masked_and_read_only_paths() {
    let env = Env::new("masked_and_read_only_paths");
    pull(&env, "busybox");
    let img = image("busybox");
    let out = env.roost(0, &["run", "--rm", &img, "sh", "-c", "wc -c < /proc/timer_list; ls /proc/acpi | wc -l; echo 1 > /proc/sys/kernel/domainname; echo rc=$?"]);
    let text = out.stdout_text();
    assert!(
        text.starts_with("0\n0\n"),
        "/proc/timer_list and /proc/acpi are masked: {text}"
    );
    assert!(
        text.contains("rc=1") || text.contains("rc=2"),
        "/proc/sys is read-only: {text}"
    );
    assert_no_leaks(&env);
}

#[test]
fn no_host_descriptor_reaches_the_container() {
    // CVE-2024-21626: a descriptor open in roost's caller must not be visible in the container.
    let env = Env::new("no_host_descriptor_reaches_the_container");
    pull(&env, "busybox");
    let bin = roost_bin().display().to_string();
    let script = format!(
        "exec 7</etc/hostname 8<{home}; {bin} run --rm {img} ls /proc/self/fd",
        home = "/",
        img = image("busybox")
    );
    let out = env.run_as_user(0, "sh", &["-c", &script]);
    let fds: Vec<String> = out.stdout_text().lines().map(str::to_string).collect();
    // 0-2 are stdio, 3 is ls's own directory handle; 7 and 8 must not be there.
    assert_eq!(
        fds,
        ["0", "1", "2", "3"],
        "descriptors in the container: {fds:?}"
    );
    assert_no_leaks(&env);
}

#[test]
fn the_roost_binary_cannot_be_reached_from_inside() {
    // CVE-2019-5736: with --init, pid 1 is roost's own code; its /proc/1/exe (the host binary) must be
    // neither readable nor writable by the container's processes.
    let env = Env::new("the_roost_binary_cannot_be_reached_from_inside");
    pull(&env, "busybox");
    let img = image("busybox");
    let out = env.roost(0, &[
        "run", "--rm", "--init", &img, "sh", "-c",
        "cat /proc/1/exe >/dev/null 2>&1 && echo read; echo x 2>/dev/null >> /proc/1/exe && echo wrote; echo done",
    ]);
    assert_eq!(out.stdout_text(), "done\n");
    assert_no_leaks(&env);
}

#[test]
fn ulimits_apply_and_bad_ones_are_refused() {
    let env = Env::new("ulimits_apply_and_bad_ones_are_refused");
    pull(&env, "busybox");
    let img = image("busybox");
    let out = env.roost(
        0,
        &[
            "run",
            "--rm",
            "--ulimit",
            "nofile=100:200",
            &img,
            "sh",
            "-c",
            "ulimit -n; ulimit -Hn",
        ],
    );
    assert_eq!(out.stdout_text(), "100\n200\n");
    let out = env.roost(125, &["run", "--rm", "--ulimit", "bogus=1", &img, "true"]);
    assert!(
        out.stderr_text().contains("ulimit"),
        "{}",
        out.stderr_text()
    );
    assert_no_leaks(&env);
}

#[test]
fn pause_says_why_it_cannot() {
    let env = Env::new("pause_says_why_it_cannot");
    let out = env.roost(125, &["pause", "whatever"]);
    assert!(
        out.stderr_text().contains("cgroup"),
        "{}",
        out.stderr_text()
    );
}
