//! Integration-test harness: drives the real `roost` binary as an unprivileged user, each test in a
//! private XDG tree, against the loopback registries built by `tests/world.sh`.
//!
//! ```ignore
//! #[test]
//! fn pull_busybox() {
//!     require_world();
//!     let env = Env::new("pull_busybox");
//!     env.roost(0, &["pull", "-q", &image("busybox")]);
//!     let out = env.roost(0, &["images", "--format", "{{.Repository}}"]);
//!     assert!(out.stdout_text().contains("busybox"));
//!     assert_no_leaks(&env);
//! }
//! ```
//!
//! Knobs (environment of the test process):
//! - `ROOST_TEST_REGISTRY` (default `127.0.0.1:5000`), `ROOST_TEST_AUTH_REGISTRY` (`127.0.0.1:5001`,
//!   user `roost`, password `hunter2`), `ROOST_TEST_ARCHIVES` (`/tmp/roost-world/archives`)
//! - `ROOST_TEST_USER` (default `roosttest`): who runs roost when the tests run as root
//! - `ROOST_TEST_TIMEOUT` (seconds, default 120): per command
//! - `ROOST_TEST_KEEP=1`: keep each test's directory tree for inspection

// Not every test module uses every helper.
#![allow(dead_code)]

use std::ffi::OsStr;
use std::fmt::Write as _;
use std::fs;
use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::os::unix::fs::{PermissionsExt, chown};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::OnceLock;
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill, killpg};
use nix::unistd::{Pid, User, geteuid};
use rand::Rng;
use rand::distr::Alphanumeric;

/// Where every test's private tree lives: `/tmp/roost-it/<test>-<random>/`.
pub const TEST_ROOT: &str = "/tmp/roost-it";
/// PATH handed to roost and to `run_as_user` programs (never the developer's PATH).
pub const TEST_PATH: &str = "/usr/local/bin:/usr/bin:/bin:/usr/local/games:/usr/games";
/// Credentials of the basic-auth registry (see tests/world.sh).
pub const AUTH_USER: &str = "roost";
pub const AUTH_PASSWORD: &str = "hunter2";

const WORLD_MISSING: &str = "test world is not set up: run `sudo tests/world.sh`";

// ---------------------------------------------------------------------------------------------
// The world: registries, archives, the test user
// ---------------------------------------------------------------------------------------------

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name)
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| default.to_string())
}

/// Anonymous registry, `host:port`.
pub fn registry() -> String {
    env_or("ROOST_TEST_REGISTRY", "127.0.0.1:5000")
}

/// Registry requiring basic auth (`AUTH_USER`/`AUTH_PASSWORD`), `host:port`.
pub fn auth_registry() -> String {
    env_or("ROOST_TEST_AUTH_REGISTRY", "127.0.0.1:5001")
}

/// Directory holding `{busybox,layered}.{oci,docker}.tar`.
pub fn archives_dir() -> PathBuf {
    PathBuf::from(env_or("ROOST_TEST_ARCHIVES", "/tmp/roost-world/archives"))
}

/// One of the world's archives, e.g. `archive("busybox.oci.tar")`.
pub fn archive(file: &str) -> PathBuf {
    archives_dir().join(file)
}

/// Fully qualified reference on the anonymous registry: `image("busybox")` →
/// `127.0.0.1:5000/busybox:latest`; a name that already has a tag or digest is kept as is.
pub fn image(name: &str) -> String {
    qualify(&registry(), name)
}

/// Like [`image`], on the basic-auth registry.
pub fn auth_image(name: &str) -> String {
    qualify(&auth_registry(), name)
}

fn qualify(registry: &str, name: &str) -> String {
    let has_tag = name.contains('@') || name.rsplit('/').next().is_some_and(|n| n.contains(':'));
    if has_tag {
        format!("{registry}/{name}")
    } else {
        format!("{registry}/{name}:latest")
    }
}

/// Panics unless the test world is up: both registries answer `/v2/`, the archives exist and,
/// when running as root, the test user exists. Tests never skip silently.
pub fn require_world() {
    static WORLD: OnceLock<Result<(), String>> = OnceLock::new();
    if let Err(why) = WORLD.get_or_init(check_world) {
        panic!("{WORLD_MISSING} ({why})");
    }
}

fn check_world() -> Result<(), String> {
    for reg in [registry(), auth_registry()] {
        registry_status(&reg).map_err(|e| format!("registry {reg}: {e}"))?;
    }
    let bb = archive("busybox.oci.tar");
    if !bb.is_file() {
        return Err(format!("{} is missing", bb.display()));
    }
    if geteuid().is_root() {
        test_user_lookup()?;
    }
    Ok(())
}

/// HTTP status of `GET /v2/` (200 anonymous, 401 with auth): anything from a distribution
/// registry counts as "answering".
fn registry_status(addr: &str) -> Result<u16, String> {
    let sock = addr
        .to_socket_addrs()
        .map_err(|e| e.to_string())?
        .next()
        .ok_or("no address")?;
    let mut s =
        TcpStream::connect_timeout(&sock, Duration::from_secs(3)).map_err(|e| e.to_string())?;
    s.set_read_timeout(Some(Duration::from_secs(5)))
        .map_err(|e| e.to_string())?;
    write!(s, "GET /v2/ HTTP/1.0\r\nHost: {addr}\r\n\r\n").map_err(|e| e.to_string())?;
    let mut head = [0u8; 64];
    let n = s.read(&mut head).map_err(|e| e.to_string())?;
    let head = String::from_utf8_lossy(&head[..n]);
    let code = head
        .strip_prefix("HTTP/1.")
        .and_then(|r| r.get(2..5))
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| format!("not an HTTP answer: {head:?}"))?;
    match code {
        200 | 401 => Ok(code),
        other => Err(format!("GET /v2/ answered {other}")),
    }
}

/// The identity roost runs as.
#[derive(Clone, Debug)]
pub struct TestUser {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
    /// True when the test process is root and switches to this user for every command.
    pub switch: bool,
}

fn test_user_lookup() -> Result<TestUser, String> {
    let name = env_or("ROOST_TEST_USER", "roosttest");
    match User::from_name(&name) {
        Ok(Some(u)) => Ok(TestUser {
            name,
            uid: u.uid.as_raw(),
            gid: u.gid.as_raw(),
            switch: true,
        }),
        Ok(None) => Err(format!("user `{name}` does not exist")),
        Err(e) => Err(format!("cannot look up user `{name}`: {e}")),
    }
}

/// A second unprivileged user (`ROOST_TEST_USER2`, default `roosttest2`, made by tests/world.sh), for
/// tests of what one user can reach of another's store. Needs the tests to run as root.
pub fn second_user() -> TestUser {
    world_user("ROOST_TEST_USER2", "roosttest2", "as two users")
}

/// A user without /etc/subuid or /etc/subgid ranges (`ROOST_TEST_USER3`, default `roostnosub`, made
/// by tests/world.sh): roost maps only their own id. Needs the tests to run as root.
pub fn user_without_subids() -> TestUser {
    world_user(
        "ROOST_TEST_USER3",
        "roostnosub",
        "as a user without subordinate ids",
    )
}

/// The user tests/world.sh made, named by `var` (default `default`), which root switches to; `how`
/// says in the failure why the test needs root.
fn world_user(var: &str, default: &str, how: &str) -> TestUser {
    assert!(
        geteuid().is_root(),
        "this test runs roost {how}: run the tests as root (`sudo tests/run`)"
    );
    let name = env_or(var, default);
    match User::from_name(&name) {
        Ok(Some(u)) => TestUser {
            name,
            uid: u.uid.as_raw(),
            gid: u.gid.as_raw(),
            switch: true,
        },
        _ => panic!("{WORLD_MISSING} (user `{name}` does not exist)"),
    }
}

/// Root: the configured test user. Otherwise: ourselves.
pub fn test_user() -> &'static TestUser {
    static USER: OnceLock<TestUser> = OnceLock::new();
    USER.get_or_init(|| {
        if geteuid().is_root() {
            test_user_lookup().unwrap_or_else(|e| panic!("{WORLD_MISSING} ({e})"))
        } else {
            let me = nix::unistd::getuid();
            let name = User::from_uid(me)
                .ok()
                .flatten()
                .map_or_else(|| me.to_string(), |u| u.name);
            TestUser {
                name,
                uid: me.as_raw(),
                gid: nix::unistd::getgid().as_raw(),
                switch: false,
            }
        }
    })
}

/// The roost binary to execute. As root it is a 0755 copy in a world-readable directory (made
/// once per test process), so the test user can run it whatever the checkout's permissions are.
pub fn roost_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let built = PathBuf::from(env!("CARGO_BIN_EXE_roost"));
        if !test_user().switch {
            return built;
        }
        remove_stale_bin_dirs();
        let dir = PathBuf::from(format!("/tmp/roost-it-bin-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir(&dir).expect("create the roost binary directory");
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).expect("chmod binary dir");
        let bin = dir.join("roost");
        fs::copy(&built, &bin)
            .unwrap_or_else(|e| panic!("copy {} to {}: {e}", built.display(), bin.display()));
        fs::set_permissions(&bin, fs::Permissions::from_mode(0o755)).expect("chmod roost binary");
        bin
    })
}

/// `/tmp/roost-it-bin-<pid>` of test processes that are gone (libtest has no global teardown).
fn remove_stale_bin_dirs() {
    let Ok(entries) = fs::read_dir("/tmp") else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name();
        let Some(pid) = name.to_str().and_then(|n| n.strip_prefix("roost-it-bin-")) else {
            continue;
        };
        if pid.parse::<u32>().is_ok() && !Path::new("/proc").join(pid).exists() {
            let _ = fs::remove_dir_all(e.path());
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Env: one private tree per test
// ---------------------------------------------------------------------------------------------

/// A test's private world: its own HOME and XDG dirs, owned by the test user, removed on drop.
/// Dropping an `Env` (when the test has not already panicked) also checks for leaked processes
/// and mounts, so every test gets the leak check even without calling [`assert_no_leaks`].
pub struct Env {
    pub name: String,
    pub root: PathBuf,
    pub home: PathBuf,
    pub data: PathBuf,
    pub config: PathBuf,
    pub runtime: PathBuf,
    pub cache: PathBuf,
    /// Per-command timeout; the process group is killed when it expires.
    pub timeout: Duration,
    user: TestUser,
    suffix: String,
    /// False after [`Env::without_runtime_dir`]: commands get no XDG_RUNTIME_DIR.
    xdg_runtime: bool,
    /// TMPDIR for the commands, when set (where roost's runtime fallback goes).
    tmpdir: Option<PathBuf>,
}

impl Env {
    /// Checks the world ([`require_world`]) and creates the tree.
    pub fn new(test_name: &str) -> Env {
        Env::new_as(test_name, test_user().clone())
    }

    /// Like [`Env::new`], with roost run by `user` (e.g. [`second_user`]).
    pub fn new_as(test_name: &str, user: TestUser) -> Env {
        require_world();
        ensure_test_root();
        let suffix: String = rand::rng()
            .sample_iter(Alphanumeric)
            .take(8)
            .map(|c| char::from(c).to_ascii_lowercase())
            .collect();
        let root = Path::new(TEST_ROOT).join(format!("{}-{suffix}", sanitize(test_name)));
        let env = Env {
            name: test_name.to_string(),
            home: root.join("home"),
            data: root.join("data"),
            config: root.join("config"),
            runtime: root.join("run"),
            cache: root.join("cache"),
            root,
            timeout: default_timeout(),
            user,
            suffix,
            xdg_runtime: true,
            tmpdir: None,
        };
        env.create_tree();
        env
    }

    fn create_tree(&self) {
        let dirs = [
            (&self.root, 0o755),
            (&self.home, 0o755),
            (&self.data, 0o755),
            (&self.config, 0o755),
            (&self.runtime, 0o700),
            (&self.cache, 0o755),
        ];
        for (dir, mode) in dirs {
            fs::create_dir(dir).unwrap_or_else(|e| panic!("create {}: {e}", dir.display()));
            self.own(dir, mode);
        }
        let containers = self.config.join("containers");
        fs::create_dir(&containers).expect("create config/containers");
        self.own(&containers, 0o755);
        let conf = containers.join("registries.conf");
        fs::write(&conf, registries_conf()).expect("write registries.conf");
        self.own(&conf, 0o644);
    }

    /// chown to the test user (when switching) and chmod.
    fn own(&self, path: &Path, mode: u32) {
        if self.user.switch {
            chown(path, Some(self.user.uid), Some(self.user.gid))
                .unwrap_or_else(|e| panic!("chown {}: {e}", path.display()));
        }
        fs::set_permissions(path, fs::Permissions::from_mode(mode))
            .unwrap_or_else(|e| panic!("chmod {}: {e}", path.display()));
    }

    pub fn user(&self) -> &TestUser {
        &self.user
    }

    /// Commands get no XDG_RUNTIME_DIR (as after `su -`), and TMPDIR=`tmpdir`, where roost's fallback
    /// runtime directory then goes (a directory several envs may share, like /tmp).
    pub fn without_runtime_dir(mut self, tmpdir: &Path) -> Env {
        self.xdg_runtime = false;
        self.tmpdir = Some(tmpdir.to_path_buf());
        self
    }

    /// A name unique to this test, for containers, images, volumes (podman's `safename`):
    /// `safename("c1")` → `<test>-<random>-c1`, lowercase.
    pub fn safename(&self, what: &str) -> String {
        format!("{}-{}-{}", sanitize(&self.name), self.suffix, what).to_ascii_lowercase()
    }

    /// The environment every command sees, nothing else.
    pub fn vars(&self) -> Vec<(&'static str, PathBuf)> {
        let mut vars = vec![
            ("PATH", PathBuf::from(TEST_PATH)),
            ("HOME", self.home.clone()),
            ("XDG_DATA_HOME", self.data.clone()),
            ("XDG_CONFIG_HOME", self.config.clone()),
            ("XDG_RUNTIME_DIR", self.runtime.clone()),
            ("XDG_CACHE_HOME", self.cache.clone()),
            ("LANG", PathBuf::from("C.UTF-8")),
        ];
        if !self.xdg_runtime {
            vars.retain(|(k, _)| *k != "XDG_RUNTIME_DIR");
        }
        if let Some(t) = &self.tmpdir {
            vars.push(("TMPDIR", t.clone()));
        }
        vars
    }

    /// A `Command` for `program` as the test user, with this env's clean environment, cwd HOME,
    /// its own process group (so a timeout kills its children too), and null stdin.
    pub fn command(&self, program: impl AsRef<OsStr>, args: &[&str]) -> Command {
        let mut cmd = Command::new(program);
        cmd.args(args)
            .env_clear()
            .envs(self.vars())
            .current_dir(&self.home);
        cmd.stdin(Stdio::null()).process_group(0);
        if self.user.switch {
            // std calls setgroups(0) before setgid/setuid when switching from root.
            cmd.uid(self.user.uid).gid(self.user.gid);
        }
        cmd
    }

    /// `roost ARGS` as a `Command`, for tests that need something the helpers don't offer.
    pub fn roost_cmd(&self, args: &[&str]) -> Command {
        self.command(roost_bin(), args)
    }

    /// Runs `roost ARGS`; panics with the command line, exit status, stdout and stderr unless it
    /// exits with `code` (podman's `run_podman`).
    pub fn roost(&self, code: i32, args: &[&str]) -> Output {
        self.run_checked(self.roost_cmd(args), code, None)
    }

    /// Like [`Env::roost`], with `input` on stdin.
    pub fn roost_stdin(&self, code: i32, args: &[&str], input: &[u8]) -> Output {
        self.run_checked(self.roost_cmd(args), code, Some(input))
    }

    /// Starts `roost ARGS` with stdin, stdout and stderr piped and returns at once (kill and
    /// concurrency tests). The child leads its own process group.
    pub fn roost_spawn(&self, args: &[&str]) -> Child {
        let mut cmd = self.roost_cmd(args);
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        cmd.spawn()
            .unwrap_or_else(|e| panic!("spawn {}: {e}", render(&cmd)))
    }

    /// Runs another program (`ls`, `tar`, `cat` ...) as the test user with this env; same
    /// checking as [`Env::roost`].
    pub fn run_as_user(&self, code: i32, program: &str, args: &[&str]) -> Output {
        self.run_checked(self.command(program, args), code, None)
    }

    /// Runs a `Command` built by the test (e.g. [`Env::roost_cmd`] with an extra variable); same
    /// checking as [`Env::roost`].
    pub fn run_cmd(&self, cmd: Command, code: i32) -> Output {
        self.run_checked(cmd, code, None)
    }

    fn run_checked(&self, mut cmd: Command, code: i32, input: Option<&[u8]>) -> Output {
        let line = render(&cmd);
        let out = run_with_timeout(&mut cmd, input, self.timeout)
            .unwrap_or_else(|e| panic!("{e}\ncommand: {line}"));
        if out.status.code() != Some(code) {
            panic!("{}", describe_failure(&line, code, &out));
        }
        out
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        // A failed test still ends what it left running (its detached containers' monitors), but
        // only a passing one is failed for leaking.
        let panicking = thread::panicking();
        let leaks = if panicking {
            find_leaks(self)
        } else {
            wait_for_no_leaks(self)
        };
        kill_leaked(&leaks);
        if std::env::var_os("ROOST_TEST_KEEP").is_some_and(|v| v != "0") {
            eprintln!("ROOST_TEST_KEEP: kept {}", self.root.display());
        } else {
            self.remove_tree();
        }
        if !leaks.is_empty() && !panicking {
            panic!("{}", describe_leaks(self, &leaks));
        }
    }
}

impl Env {
    fn remove_tree(&self) {
        if fs::remove_dir_all(&self.root).is_ok() || !self.root.exists() {
            return;
        }
        if !geteuid().is_root() {
            // Files owned by subordinate ids are only removable from inside the user namespace.
            // The failed removal may have taken HOME and XDG_RUNTIME_DIR already; roost needs them.
            for (dir, mode) in [(&self.home, 0o755), (&self.runtime, 0o700)] {
                if fs::create_dir_all(dir).is_ok() {
                    let _ = fs::set_permissions(dir, fs::Permissions::from_mode(mode));
                }
            }
            let root = self.root.to_string_lossy().into_owned();
            let mut cmd = self.roost_cmd(&["unshare", "rm", "-rf", &root]);
            let _ = run_with_timeout(&mut cmd, None, Duration::from_secs(60));
        }
        if let Err(e) = fs::remove_dir_all(&self.root)
            && e.kind() != std::io::ErrorKind::NotFound
        {
            eprintln!("warning: could not remove {}: {e}", self.root.display());
        }
    }
}

fn default_timeout() -> Duration {
    let secs = env_or("ROOST_TEST_TIMEOUT", "120").parse().unwrap_or(120);
    Duration::from_secs(secs)
}

fn ensure_test_root() {
    let root = Path::new(TEST_ROOT);
    if fs::create_dir(root).is_ok() {
        // Sticky and world-writable like /tmp: root and non-root runs share it.
        let _ = fs::set_permissions(root, fs::Permissions::from_mode(0o1777));
    }
}

fn sanitize(name: &str) -> String {
    let s: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '-'
            }
        })
        .take(40)
        .collect();
    if s.is_empty() { "test".into() } else { s }
}

fn registries_conf() -> String {
    let mut conf = String::from("# written by the roost test harness\n");
    for reg in [registry(), auth_registry()] {
        let _ = write!(
            conf,
            "\n[[registry]]\nlocation = \"{reg}\"\ninsecure = true\n"
        );
    }
    conf
}

// ---------------------------------------------------------------------------------------------
// Running commands
// ---------------------------------------------------------------------------------------------

/// A command line as one could paste it into a shell (env vars omitted).
pub fn render(cmd: &Command) -> String {
    std::iter::once(cmd.get_program())
        .chain(cmd.get_args())
        .map(|a| shell_quote(&a.to_string_lossy()))
        .collect::<Vec<_>>()
        .join(" ")
}

fn shell_quote(s: &str) -> String {
    let plain = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:=@,+%".contains(c));
    if plain {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

fn status_text(status: &ExitStatus) -> String {
    match (status.code(), status.signal()) {
        (Some(c), _) => format!("exit code {c}"),
        (None, Some(sig)) => format!("killed by signal {sig}"),
        _ => format!("{status}"),
    }
}

fn describe_failure(line: &str, expected: i32, out: &Output) -> String {
    format!(
        "command: {line}\nexpected exit code {expected}, got {}\n--- stdout ---\n{}\n--- stderr ---\n{}\n---",
        status_text(&out.status),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    )
}

fn reader(mut r: impl Read + Send + 'static) -> mpsc::Receiver<Vec<u8>> {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = r.read_to_end(&mut buf);
        let _ = tx.send(buf);
    });
    rx
}

/// Spawns `cmd` with piped output, feeds `input`, waits up to `timeout`; on expiry kills the
/// whole process group and returns an error carrying what was printed so far.
pub fn run_with_timeout(
    cmd: &mut Command,
    input: Option<&[u8]>,
    timeout: Duration,
) -> Result<Output, String> {
    let start = Instant::now();
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    if input.is_some() {
        cmd.stdin(Stdio::piped());
    }
    let mut child = cmd.spawn().map_err(|e| format!("cannot spawn: {e}"))?;
    if let (Some(mut stdin), Some(input)) = (child.stdin.take(), input) {
        let input = input.to_vec();
        thread::spawn(move || {
            let _ = stdin.write_all(&input);
        });
    }
    let out_rx = reader(child.stdout.take().expect("stdout is piped"));
    let err_rx = reader(child.stderr.take().expect("stderr is piped"));
    let status = wait_until(&mut child, start + timeout);
    let Some(status) = status else {
        let _ = killpg(Pid::from_raw(child.id() as i32), Signal::SIGKILL);
        let _ = child.wait();
        let so = out_rx
            .recv_timeout(Duration::from_secs(2))
            .unwrap_or_default();
        let se = err_rx
            .recv_timeout(Duration::from_secs(2))
            .unwrap_or_default();
        return Err(format!(
            "timed out after {timeout:?} (process group killed)\n--- stdout ---\n{}\n--- stderr ---\n{}\n---",
            String::from_utf8_lossy(&so),
            String::from_utf8_lossy(&se)
        ));
    };
    // A child that outlives the command and keeps our pipes open would hang us here.
    let grace = (start + timeout)
        .saturating_duration_since(Instant::now())
        .max(Duration::from_secs(5));
    let stdout = out_rx.recv_timeout(grace);
    let stderr = err_rx.recv_timeout(grace);
    match (stdout, stderr) {
        (Ok(stdout), Ok(stderr)) => Ok(Output {
            status,
            stdout,
            stderr,
        }),
        _ => Err(format!(
            "command exited ({}) but stdout/stderr stayed open for {grace:?}: a leaked child process holds the pipe",
            status_text(&status)
        )),
    }
}

fn wait_until(child: &mut Child, deadline: Instant) -> Option<ExitStatus> {
    let mut nap = Duration::from_millis(1);
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Some(status),
            Ok(None) => {}
            Err(e) => panic!("wait for child: {e}"),
        }
        if Instant::now() >= deadline {
            return None;
        }
        thread::sleep(nap);
        nap = (nap * 2).min(Duration::from_millis(25));
    }
}

/// Text accessors for `Output`.
pub trait OutputExt {
    fn stdout_text(&self) -> String;
    fn stderr_text(&self) -> String;
    /// stdout split into lines, without the trailing empty one.
    fn stdout_lines(&self) -> Vec<String>;
}

impl OutputExt for Output {
    fn stdout_text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }
    fn stderr_text(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }
    fn stdout_lines(&self) -> Vec<String> {
        self.stdout_text().lines().map(str::to_string).collect()
    }
}

// ---------------------------------------------------------------------------------------------
// Leak checks
// ---------------------------------------------------------------------------------------------

/// Something a test left behind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Leak {
    Process {
        pid: i32,
        uid: u32,
        cmdline: String,
        why: &'static str,
    },
    Mount {
        seen_by: String,
        line: String,
    },
}

/// Panics if a process of the test user (or one of its subordinate ids) still references the
/// env's directory (environment, command line, cwd or root), or if any mount table visible to us
/// or to those processes references it. Waits up to 2 s for processes that are exiting.
pub fn assert_no_leaks(env: &Env) {
    let leaks = wait_for_no_leaks(env);
    if !leaks.is_empty() {
        panic!("{}", describe_leaks(env, &leaks));
    }
}

fn wait_for_no_leaks(env: &Env) -> Vec<Leak> {
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        let leaks = find_leaks(env);
        if leaks.is_empty() || Instant::now() >= deadline {
            return leaks;
        }
        thread::sleep(Duration::from_millis(50));
    }
}

fn describe_leaks(env: &Env, leaks: &[Leak]) -> String {
    let mut s = format!(
        "test `{}` leaked resources referencing {}:\n",
        env.name,
        env.root.display()
    );
    for l in leaks {
        let _ = match l {
            Leak::Process {
                pid,
                uid,
                cmdline,
                why,
            } => {
                writeln!(s, "  process {pid} (uid {uid}, {why}): {cmdline}")
            }
            Leak::Mount { seen_by, line } => writeln!(s, "  mount (in {seen_by}): {line}"),
        };
    }
    s
}

fn kill_leaked(leaks: &[Leak]) {
    for l in leaks {
        if let Leak::Process { pid, .. } = l {
            let _ = kill(Pid::from_raw(*pid), Signal::SIGKILL);
        }
    }
}

/// Everything currently leaking for `env` (empty when clean). A fuse-overlayfs daemon (the
/// fuse-overlayfs storage driver) is caught by its command line, which names the container's upper
/// dir, and its mount by the mount tables of every namespace the user's processes are in.
pub fn find_leaks(env: &Env) -> Vec<Leak> {
    let needle = env.root.to_string_lossy().into_owned();
    let uids = owned_uids(env.user());
    let me = std::process::id() as i32;
    let mut leaks = Vec::new();
    let mut mount_tables = vec![(
        "this test process".to_string(),
        PathBuf::from("/proc/self/mountinfo"),
    )];
    let mut seen_ns = std::collections::HashSet::new();
    if let Ok(ns) = fs::read_link("/proc/self/ns/mnt") {
        seen_ns.insert(ns);
    }
    let Ok(procs) = fs::read_dir("/proc") else {
        return leaks;
    };
    for p in procs.flatten() {
        let Some(pid) = p.file_name().to_str().and_then(|n| n.parse::<i32>().ok()) else {
            continue;
        };
        if pid == me {
            continue;
        }
        let Some(uid) = proc_uid(&p.path()) else {
            continue;
        };
        if !uids.iter().any(|(lo, n)| uid >= *lo && uid - lo < *n) {
            continue;
        }
        if let Some(why) = process_references(&p.path(), &needle) {
            let cmdline = read_nul_separated(&p.path().join("cmdline"));
            leaks.push(Leak::Process {
                pid,
                uid,
                cmdline,
                why,
            });
        }
        if let Ok(ns) = fs::read_link(p.path().join("ns/mnt"))
            && seen_ns.insert(ns)
        {
            mount_tables.push((
                format!("mount namespace of pid {pid}"),
                p.path().join("mountinfo"),
            ));
        }
    }
    for (seen_by, table) in mount_tables {
        let Ok(text) = fs::read_to_string(&table) else {
            continue;
        };
        for line in text.lines().filter(|l| references(l, &needle)) {
            leaks.push(Leak::Mount {
                seen_by: seen_by.clone(),
                line: line.to_string(),
            });
        }
    }
    leaks
}

/// The test user's uid plus its /etc/subuid ranges, as (first, count).
fn owned_uids(user: &TestUser) -> Vec<(u32, u32)> {
    let mut ranges = vec![(user.uid, 1)];
    if let Ok(text) = fs::read_to_string("/etc/subuid") {
        for line in text.lines() {
            let mut f = line.split(':');
            let (Some(who), Some(lo), Some(n)) = (f.next(), f.next(), f.next()) else {
                continue;
            };
            if (who == user.name || who == user.uid.to_string())
                && let (Ok(lo), Ok(n)) = (lo.trim().parse(), n.trim().parse())
            {
                ranges.push((lo, n));
            }
        }
    }
    ranges
}

fn proc_uid(proc_dir: &Path) -> Option<u32> {
    let status = fs::read_to_string(proc_dir.join("status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("Uid:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn process_references(proc_dir: &Path, needle: &str) -> Option<&'static str> {
    let environ = read_nul_separated(&proc_dir.join("environ"));
    if references(&environ, needle) {
        return Some("environment");
    }
    if references(&read_nul_separated(&proc_dir.join("cmdline")), needle) {
        return Some("command line");
    }
    for (link, why) in [("cwd", "working directory"), ("root", "root directory")] {
        if let Ok(target) = fs::read_link(proc_dir.join(link))
            && references(&target.to_string_lossy(), needle)
        {
            return Some(why);
        }
    }
    None
}

fn read_nul_separated(path: &Path) -> String {
    fs::read(path)
        .map(|b| String::from_utf8_lossy(&b).replace('\0', " "))
        .unwrap_or_default()
}

/// `hay` mentions the directory `needle` itself or something below it (not a sibling that merely
/// shares the prefix).
fn references(hay: &str, needle: &str) -> bool {
    hay.match_indices(needle).any(|(i, _)| {
        hay[i + needle.len()..]
            .chars()
            .next()
            .is_none_or(|c| c == '/' || c.is_whitespace() || c == ',' || c == ':')
    })
}

// ---------------------------------------------------------------------------------------------
// Shorthands the container tests share
// ---------------------------------------------------------------------------------------------

/// `127.0.0.1:5000/busybox:latest`.
/// A TCP port of 127.0.0.1 that was free a moment ago.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("bind 127.0.0.1:0")
        .port()
}

pub fn bb() -> String {
    image("busybox")
}

/// A fresh env with busybox already pulled, so `run`'s stderr carries no pull progress.
pub fn env_with_busybox(name: &str) -> Env {
    let env = Env::new(name);
    env.roost(0, &["pull", "-q", &image("busybox")]);
    env
}

/// Removes every container (`rm -a -f`) when dropped, so a failing test does not leave
/// containers running. Declare it after the `Env` so it drops first.
pub struct Cleanup<'a>(pub &'a Env);

impl Drop for Cleanup<'_> {
    fn drop(&mut self) {
        let _ = self.0.roost_cmd(&["rm", "-a", "-f"]).output();
    }
}

/// Polls `cond` every 50 ms until it holds or `limit` passes; returns whether it held.
/// Pids whose command line contains every needle.
pub fn pids_with_cmdline(needles: &[&str]) -> Vec<i32> {
    let mut pids = Vec::new();
    for p in fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(pid) = p.file_name().to_str().and_then(|n| n.parse::<i32>().ok()) else {
            continue;
        };
        let Ok(raw) = fs::read(p.path().join("cmdline")) else {
            continue;
        };
        let cmdline = String::from_utf8_lossy(&raw).replace('\0', " ");
        if needles.iter().all(|n| cmdline.contains(n)) {
            pids.push(pid);
        }
    }
    pids
}

pub fn wait_for(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        thread::sleep(Duration::from_millis(50));
    }
}

/// `roost ARGS` expected to exit 0; its stdout.
pub fn out(env: &Env, args: &[&str]) -> String {
    env.roost(0, args).stdout_text()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_matches_dir_and_children_only() {
        let n = "/tmp/roost-it/a-x";
        assert!(references("/tmp/roost-it/a-x", n));
        assert!(references("HOME=/tmp/roost-it/a-x/home PATH=/bin", n));
        assert!(references("upperdir=/tmp/roost-it/a-x/d,workdir=/w", n));
        assert!(!references("/tmp/roost-it/a-xy/home", n));
        assert!(!references("/tmp/other", n));
    }

    #[test]
    fn qualify_adds_latest_only_without_tag() {
        assert_eq!(qualify("r:5000", "busybox"), "r:5000/busybox:latest");
        assert_eq!(
            qualify("r:5000", "debian:bookworm"),
            "r:5000/debian:bookworm"
        );
        assert_eq!(qualify("r:5000", "a/b@sha256:00"), "r:5000/a/b@sha256:00");
    }

    #[test]
    fn shell_quote_quotes_when_needed() {
        assert_eq!(shell_quote("pull"), "pull");
        assert_eq!(shell_quote("{{.ID}} x"), "'{{.ID}} x'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(shell_quote(""), "''");
    }
}
