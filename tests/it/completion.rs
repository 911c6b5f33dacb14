//! Shell completion as a user meets it: an interactive bash under tmux with bash-completion loaded,
//! roost's own script, podman's script with roost installed as `podman`, and smoke tests of the zsh and
//! fish scripts. Names come from the store: images, running or stopped containers, volumes, networks.
use std::fs;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::harness::*;
use crate::store::pull;

/// A Debian user's default PATH, behind a directory holding `roost` and `podman -> roost`.
fn user_path(bin: &Path) -> String {
    format!(
        "{}:/usr/local/bin:/usr/bin:/bin:/usr/local/games:/usr/games",
        bin.display()
    )
}

/// `HOME/bin` with `roost` and `podman` links to the binary under test, readable by the test user.
fn install_links(env: &Env) -> PathBuf {
    let bin = env.home.join("bin");
    fs::create_dir_all(&bin).unwrap();
    for name in ["roost", "podman"] {
        symlink(roost_bin(), bin.join(name)).unwrap();
    }
    bin
}

/// The repository's generated completion script for `shell`, copied where the test user can read it.
fn script(env: &Env, file: &str) -> PathBuf {
    let src = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("completions")
        .join(file);
    let dst = env.home.join(file.replace('/', "-"));
    fs::copy(&src, &dst).unwrap_or_else(|e| panic!("copy {}: {e}", src.display()));
    dst
}

/// An interactive bash in a tmux session of the test user; dropped, the server is killed.
struct Tmux<'a> {
    env: &'a Env,
    socket: String,
}

impl<'a> Tmux<'a> {
    fn start(env: &'a Env, rc: &str) -> Tmux<'a> {
        let rcfile = env.home.join("bashrc");
        fs::write(&rcfile, rc).unwrap();
        let socket = env.home.join("tmux.sock").display().to_string();
        let shell = format!("bash --rcfile {} -i", rcfile.display());
        env.run_as_user(
            0,
            "tmux",
            &[
                "-S",
                &socket,
                "new-session",
                "-d",
                "-x",
                "220",
                "-y",
                "50",
                &shell,
            ],
        );
        let t = Tmux { env, socket };
        assert!(
            wait_for(Duration::from_secs(10), || t.screen().contains("READY$")),
            "the shell did not start:\n{}",
            t.screen()
        );
        t
    }

    fn keys(&self, keys: &[&str]) {
        let mut args = vec!["-S", &self.socket, "send-keys", "-t", "0"];
        args.extend_from_slice(keys);
        self.env.run_as_user(0, "tmux", &args);
    }

    fn screen(&self) -> String {
        let out = self
            .env
            .command(
                "tmux",
                &["-S", &self.socket, "capture-pane", "-p", "-t", "0"],
            )
            .output()
            .expect("run tmux capture-pane");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Type `line`, press Tab twice (complete, then list), and wait until the screen shows every one
    /// of `want`; returns the screen and clears the line.
    fn complete(&self, line: &str, want: &[&str]) -> String {
        self.keys(&["-l", line]);
        self.keys(&["Tab"]);
        self.keys(&["Tab"]);
        let ok = wait_for(Duration::from_secs(10), || {
            let s = self.screen();
            want.iter().all(|w| s.contains(w))
        });
        let screen = self.screen();
        assert!(
            ok,
            "`{line}<Tab><Tab>` should show {want:?}; screen:\n{screen}"
        );
        self.keys(&["C-u", "C-l"]);
        assert!(
            wait_for(Duration::from_secs(5), || !self.screen().contains(line)),
            "the line was not cleared"
        );
        screen
    }
}

impl Drop for Tmux<'_> {
    fn drop(&mut self) {
        let _ = self
            .env
            .command("tmux", &["-S", &self.socket, "kill-server"])
            .status();
    }
}

/// Containers in every state the completers tell apart, a volume and a network.
struct Fixture {
    running: String,
    stopped: String,
    volume: String,
    network: String,
}

fn fixture(env: &Env) -> Fixture {
    pull(env, "busybox");
    let f = Fixture {
        running: env.safename("running"),
        stopped: env.safename("stopped"),
        volume: env.safename("vol"),
        network: env.safename("net"),
    };
    let img = image("busybox");
    env.roost(
        0,
        &["run", "-d", "--name", &f.running, &img, "sleep", "300"],
    );
    env.roost(0, &["create", "--name", &f.stopped, &img, "true"]);
    env.roost(0, &["volume", "create", &f.volume]);
    env.roost(0, &["network", "create", &f.network]);
    f
}

fn cleanup(env: &Env, f: &Fixture) {
    env.roost(0, &["rm", "-f", "-t", "0", &f.running, &f.stopped]);
    env.roost(0, &["network", "rm", &f.network]);
}

fn rc(env: &Env, bin: &Path, completion: &Path) -> String {
    let vars: String = env
        .vars()
        .iter()
        .filter(|(k, _)| *k != "PATH")
        .map(|(k, v)| format!("export {k}={}\n", v.display()))
        .collect();
    format!(
        "{vars}export PATH={}\n. /usr/share/bash-completion/bash_completion\n. {}\nPS1='READY$ '\n",
        user_path(bin),
        completion.display()
    )
}

#[test]
fn bash_completes_names_in_a_real_shell() {
    let env = Env::new("bash_completes_names_in_a_real_shell");
    let f = fixture(&env);
    let bin = install_links(&env);
    let t = Tmux::start(&env, &rc(&env, &bin, &script(&env, "bash/roost")));

    // Through the `:`s of a reference (a word break for bash).
    let reg = registry();
    let s = t.complete(&format!("roost rmi {reg}/b"), &[&image("busybox")]);
    assert!(
        s.contains(&format!("roost rmi {}", image("busybox"))),
        "{s}"
    );
    // Running containers for exec and stop, the others for start.
    for verb in ["exec", "stop"] {
        let s = t.complete(&format!("roost {verb} "), &[&f.running]);
        assert!(
            !s.contains(&f.stopped),
            "`{verb}` offers a stopped container:\n{s}"
        );
    }
    let s = t.complete("roost start ", &[&f.stopped]);
    assert!(
        !s.contains(&f.running),
        "`start` offers a running container:\n{s}"
    );
    t.complete("roost volume rm ", &[&f.volume]);
    t.complete("roost network rm ", &[&f.network, "podman"]);
    t.complete(
        "roost run --network ",
        &[
            "pasta",
            "slirp4netns",
            "none",
            "host",
            "container:",
            &f.network,
        ],
    );
    drop(t);
    cleanup(&env, &f);
    assert_no_leaks(&env);
}

#[test]
fn installed_as_podman_it_answers_podmans_completion() {
    // The user's existing podman completion (cobra's `__complete` protocol) asks the binary.
    let env = Env::new("installed_as_podman_it_answers_podmans_completion");
    let podman_script = Path::new("/usr/share/bash-completion/completions/podman");
    assert!(
        podman_script.is_file(),
        "tests/world.sh installs podman's completion script"
    );
    let f = fixture(&env);
    let bin = install_links(&env);
    let t = Tmux::start(&env, &rc(&env, &bin, podman_script));
    let reg = registry();
    let s = t.complete(&format!("podman rmi {reg}/b"), &[&image("busybox")]);
    assert!(
        s.contains(&format!("podman rmi {}", image("busybox"))),
        "{s}"
    );
    let s = t.complete("podman exec ", &[&f.running]);
    assert!(!s.contains(&f.stopped), "{s}");
    t.complete("podman network rm ", &[&f.network]);
    drop(t);

    // The protocol itself: candidates with descriptions, then the directive.
    let out = env.roost(0, &["__complete", "start", ""]);
    let lines = out.stdout_lines();
    assert!(lines.contains(&f.stopped), "{lines:?}");
    assert!(!lines.contains(&f.running), "{lines:?}");
    assert_eq!(lines.last().map(String::as_str), Some(":4"), "{lines:?}");
    let out = env.roost(0, &["__complete", "start", "--a"]);
    assert!(
        out.stdout_lines()
            .iter()
            .any(|l| l.starts_with("--attach\t")),
        "flags come with their description once the word starts with -: {}",
        out.stdout_text()
    );
    cleanup(&env, &f);
    assert_no_leaks(&env);
}

#[test]
fn zsh_and_fish_scripts_complete_names() {
    let env = Env::new("zsh_and_fish_scripts_complete_names");
    pull(&env, "busybox");
    let bin = install_links(&env);
    let path = user_path(&bin);
    let zsh = script(&env, "zsh/_roost");
    let fish = script(&env, "fish/roost.fish");
    // zsh: the script loads under compinit; the protocol it speaks answers with the image.
    let load = format!(
        "export PATH={path}; autoload -U compinit; compinit -u; source {}; echo loaded",
        zsh.display()
    );
    let out = env.run_as_user(0, "zsh", &["-f", "-c", &load]);
    assert_eq!(out.stdout_text().trim(), "loaded", "{}", out.stderr_text());
    let mut cmd = env.command(
        bin.join("roost"),
        &["--", "roost", "rmi", &format!("{}/b", registry())],
    );
    cmd.env("COMPLETE", "zsh")
        .env("_CLAP_COMPLETE_INDEX", "2")
        .env("_CLAP_IFS", "\n");
    let out = cmd.output().unwrap();
    // zsh gets the `:`s of what it would insert escaped.
    let escaped = image("busybox").replace(':', "\\:");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains(&escaped),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    // fish: `complete -C` prints what Tab would offer.
    let ask = format!(
        "set PATH {} $PATH; source {}; complete -C 'roost rmi {}/b'",
        bin.display(),
        fish.display(),
        registry()
    );
    let out = env.run_as_user(0, "fish", &["--no-config", "-c", &ask]);
    assert!(
        out.stdout_text().contains(&image("busybox")),
        "{}{}",
        out.stdout_text(),
        out.stderr_text()
    );
    assert_no_leaks(&env);
}

/// `--format {{.` completes the template fields of the command's rows (and their methods), as
/// podman does from its Go types, with or without objects; a `--format` that is no template
/// completes none.
#[test]
fn format_completes_the_template_fields_of_each_command() {
    let env = Env::new("format_completes_the_template_fields_of_each_command");
    let fields = |args: &[&str]| -> Vec<String> {
        let mut all = vec!["__completeNoDesc"];
        all.extend_from_slice(args);
        all.extend_from_slice(&["--format", "{{."]);
        env.roost(0, &all)
            .stdout_lines()
            .into_iter()
            .filter(|l| l.starts_with("{{."))
            .collect()
    };
    let has = |list: &[String], field: &str| list.iter().any(|l| l == field);
    let ps = fields(&["ps"]);
    assert!(has(&ps, "{{.Names}}") && has(&ps, "{{.Label}}"), "{ps:?}");
    assert!(has(&fields(&["pod", "ps"]), "{{.InfraID}}"));
    assert!(has(&fields(&["images"]), "{{.Repository}}"));
    assert!(has(&fields(&["history"]), "{{.CreatedBy}}"));
    assert!(has(&fields(&["volume", "inspect"]), "{{.Mountpoint}}"));
    assert!(has(&fields(&["network", "ls"]), "{{.DNSEnabled}}"));
    assert!(has(&fields(&["system", "events"]), "{{.Status}}"));
    let secret = fields(&["secret", "inspect"]);
    assert!(
        has(&secret, "{{.Spec.") && has(&secret, "{{.ID}}"),
        "{secret:?}"
    );
    let images = env
        .roost(0, &["__completeNoDesc", "images", "--format", "{{.Rep"])
        .stdout_lines();
    assert_eq!(
        images,
        ["{{.RepoDigests}}", "{{.RepoTags}}", "{{.Repository}}", ":2"],
        "only the fields that start so"
    );
    assert_eq!(fields(&["build"]), Vec::<String>::new());
}
