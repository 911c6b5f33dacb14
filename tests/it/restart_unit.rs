//! Containers with `--restart=always|unless-stopped` after a reboot: `start --all --filter
//! restart-policy=` (what roost-restart.service runs) and `system restart-unit`, which installs
//! that unit for the user's systemd. The reboot itself is the VM scenario `restart`.
use crate::harness::*;

fn exe() -> String {
    std::fs::canonicalize(roost_bin())
        .expect("the roost binary exists")
        .display()
        .to_string()
}

fn status(env: &Env, name: &str) -> String {
    out(env, &["inspect", "--format", "{{.State.Status}}", name])
        .trim()
        .to_string()
}

#[test]
fn start_all_by_restart_policy_skips_unless_stopped_containers_the_user_stopped() {
    let env = env_with_busybox("restart_filter");
    let _c = Cleanup(&env);
    let [always, unless, no] = ["always", "unless", "no"].map(|n| env.safename(n));
    for (name, policy) in [
        (&always, "always"),
        (&unless, "unless-stopped"),
        (&no, "no"),
    ] {
        env.roost(
            0,
            &[
                "create",
                "--name",
                name,
                &format!("--restart={policy}"),
                &bb(),
                "sleep",
                "1000",
            ],
        );
    }
    let boot = [
        "start",
        "--all",
        "--filter",
        "restart-policy=always",
        "--filter",
        "restart-policy=unless-stopped",
    ];
    let started = out(&env, &boot);
    assert_eq!(started.lines().count(), 2, "{started}");
    assert_eq!(status(&env, &always), "running");
    assert_eq!(status(&env, &unless), "running");
    assert_eq!(status(&env, &no), "created");
    // A user's `stop` keeps an unless-stopped container down; an always one comes back.
    env.roost(0, &["stop", "-t", "0", &always, &unless]);
    out(&env, &boot);
    assert_eq!(status(&env, &always), "running");
    assert_ne!(status(&env, &unless), "running");
    // Named containers are filtered too.
    let o = out(
        &env,
        &["start", "--filter", "restart-policy=no", &no, &unless],
    );
    assert_eq!(o, format!("{no}\n"));
    let ps = out(
        &env,
        &[
            "ps",
            "--filter",
            "restart-policy=always",
            "--format",
            "{{.Names}}",
        ],
    );
    assert_eq!(ps.trim(), always);
}

#[test]
fn a_bad_restart_policy_filter_is_refused() {
    let env = Env::new("restart_filter_bad");
    let e = env.roost(125, &["ps", "-a", "--filter", "restart-policy=sometimes"]);
    assert!(
        e.stderr_text().contains("sometimes invalid restart policy"),
        "{}",
        e.stderr_text()
    );
}

#[test]
fn restart_unit_is_installed_for_this_roost() {
    let env = Env::new("restart_unit");
    let path = env.config.join("systemd/user/roost-restart.service");
    let o = env.roost(0, &["system", "restart-unit"]);
    assert_eq!(o.stdout_text(), format!("{}\n", path.display()));
    assert!(
        o.stderr_text()
            .contains("systemctl --user enable roost-restart.service")
    );
    let text = std::fs::read_to_string(&path).expect("the unit file");
    let exe = exe();
    assert!(text.contains(&format!("\nExecStart={exe} $LOGGING start --all --filter restart-policy=always --filter restart-policy=unless-stopped\n")), "{text}");
    assert!(text.contains("\nType=oneshot\nRemainAfterExit=true\n"));
    assert!(text.contains("\n[Install]\nWantedBy=default.target\n"));
    assert_eq!(out(&env, &["system", "restart-unit", "--print"]), text);
    env.roost(0, &["system", "restart-unit", "--remove"]);
    assert!(!path.exists());
    // Removing what is not there is fine, and says nothing.
    assert_eq!(out(&env, &["system", "restart-unit", "--remove"]), "");
}
