//! A user as Debian makes one, as `su - USER` leaves them: the real home from passwd and its
//! `~/.local/share`, no XDG variable at all (so no `XDG_RUNTIME_DIR`), a Debian user's PATH, no
//! registries.conf. Runs as the second test user, whose real home no other test uses.
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use crate::harness::*;
use crate::privacy::mode;

const DEBIAN_USER_PATH: &str = "/usr/local/bin:/usr/bin:/bin:/usr/local/games:/usr/games";

struct Login {
    user: TestUser,
    home: PathBuf,
}

impl Login {
    fn roost(&self, code: i32, args: &[&str]) -> Output {
        let mut cmd = Command::new(roost_bin());
        cmd.args(args)
            .env_clear()
            .env("HOME", &self.home)
            .env("USER", &self.user.name)
            .env("LOGNAME", &self.user.name)
            .env("SHELL", "/bin/bash")
            .env("PATH", DEBIAN_USER_PATH)
            .env("LANG", "C.UTF-8")
            .current_dir(&self.home)
            .stdin(Stdio::null())
            .process_group(0)
            .uid(self.user.uid)
            .gid(self.user.gid);
        let line = render(&cmd);
        let out = run_with_timeout(&mut cmd, None, Duration::from_secs(120))
            .unwrap_or_else(|e| panic!("{e}\ncommand: {line}"));
        assert_eq!(
            out.status.code(),
            Some(code),
            "{line}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            out.stdout_text(),
            out.stderr_text()
        );
        out
    }

    /// Remove everything roost keeps for this user (layers belong to subordinate ids: from inside).
    fn forget(&self) {
        let store = self.home.join(".local/share/roost");
        if store.exists() {
            let s = store.display().to_string();
            self.roost(0, &["unshare", "rm", "-rf", &s]);
        }
    }
}

#[test]
fn a_login_user_with_the_real_home_layout() {
    require_world();
    let user = second_user();
    let home = nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(user.uid))
        .unwrap()
        .expect("the second test user exists")
        .dir;
    let login = Login { user, home };
    login.forget();

    let img = image("busybox");
    login.roost(0, &["pull", "-q", "--tls-verify=false", &img]);
    let out = login.roost(0, &["run", "--rm", &img, "echo", "hello"]);
    assert_eq!(out.stdout_text(), "hello\n");
    let name = "login-user-web";
    login.roost(0, &["run", "-d", "--name", name, &img, "sleep", "300"]);
    let out = login.roost(0, &["ps", "--format", "{{.Names}} {{.Status}}"]);
    assert!(
        out.stdout_text().starts_with(&format!("{name} Up")),
        "{}",
        out.stdout_text()
    );

    // Where a login user's things are: ~/.local/share/roost, private; runtime state in the
    // per-uid fallback under /tmp, private and theirs.
    let store = login.home.join(".local/share/roost");
    assert_eq!(mode(&store), 0o700);
    assert_eq!(mode(&store.join("roost.db")), 0o600);
    let runtime = PathBuf::from(format!("/tmp/roost-run-{}", login.user.uid));
    let meta = fs::symlink_metadata(&runtime).expect("the runtime fallback exists");
    assert!(meta.is_dir());
    assert_eq!(meta.uid(), login.user.uid);
    assert_eq!(mode(&runtime), 0o700);

    login.roost(0, &["rm", "-f", "-t", "0", name]);
    let out = login.roost(0, &["ps", "-a", "-q"]);
    assert_eq!(out.stdout_text(), "");
    assert!(
        wait_for(Duration::from_secs(10), || pids_with_cmdline(&[
            "__monitor"
        ])
        .into_iter()
        .all(
            |p| fs::metadata(format!("/proc/{p}")).map(|m| m.uid()).ok() != Some(login.user.uid)
        )),
        "a monitor of the login user is still running"
    );
    login.forget();
}
