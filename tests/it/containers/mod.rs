//! The container side: `run` (exit codes, process semantics, namespaces), `create`/`start`,
//! `ps`, `rm`, `logs`, `stop`/`kill`/`restart`, restart policies, `--rm` cleanup, concurrency and a
//! killed monitor. Expectations follow podman (test/system/030-run.bats, 035-logs.bats,
//! 050-stop.bats, 055-rm.bats) where roost claims compatibility. One file per topic; the helpers
//! they share live here.

mod cleanup;
mod exit_codes;
mod lifecycle;
mod logs;
mod process;
mod ps;
mod stop;

use std::fs;
use std::io::Read;
use std::process::{Child, Output};
use std::thread;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;

use crate::harness::{Env, bb, out};
use crate::store::{entries, store_root};

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// `run --rm busybox ARGS...` expected to exit 0; its stdout.
fn run_bb(env: &Env, args: &[&str]) -> String {
    let img = bb();
    let mut full = vec!["run", "--rm"];
    let split = args.iter().position(|a| *a == "--").unwrap_or(0);
    // Options before `--` go before the image, the command after it.
    let (opts, cmd) = if split > 0 {
        (&args[..split], &args[split + 1..])
    } else {
        (&args[..0], args)
    };
    full.extend_from_slice(opts);
    full.push(&img);
    full.extend_from_slice(cmd);
    out(env, &full)
}

/// `run -d ARGS` (ARGS include the image); returns the printed full container ID.
fn run_detached(env: &Env, args: &[&str]) -> String {
    let mut full = vec!["run", "-d"];
    full.extend_from_slice(args);
    let id = out(env, &full).trim().to_string();
    assert_container_id(&id);
    id
}

fn assert_container_id(id: &str) {
    assert!(
        id.len() == 64
            && id
                .bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()),
        "not a full 64-hex container ID: {id:?}"
    );
}

/// `{{TEMPLATE}}` of the container named NAME in `ps -a` (empty when it is not listed). Picks
/// the row in Rust rather than with `--filter name=` (a regex in podman, see
/// `ps_name_filter_is_a_regex`).
fn ps_field(env: &Env, name: &str, template: &str) -> String {
    let format = format!("{{{{.Names}}}}\t{template}");
    out(env, &["ps", "-a", "--format", &format])
        .lines()
        .find_map(|l| {
            l.split_once('\t')
                .filter(|(n, _)| *n == name)
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_default()
}

/// `$XDG_DATA_HOME/roost/containers` entries.
fn container_dirs(env: &Env) -> Vec<String> {
    entries(&store_root(env).join("containers"))
}

/// `$XDG_RUNTIME_DIR/roost/containers` entries.
fn runtime_container_dirs(env: &Env) -> Vec<String> {
    entries(&env.runtime.join("roost/containers"))
}

/// Lines of any process's mount table (every process, not just the test user's) that mention
/// the env's tree.
fn mounts_mentioning(env: &Env) -> Vec<String> {
    let needle = env.root.to_string_lossy().into_owned();
    let mut found = Vec::new();
    let Ok(procs) = fs::read_dir("/proc") else {
        return found;
    };
    for p in procs.flatten() {
        if !p
            .file_name()
            .to_string_lossy()
            .bytes()
            .all(|b| b.is_ascii_digit())
        {
            continue;
        }
        let Ok(text) = fs::read_to_string(p.path().join("mountinfo")) else {
            continue;
        };
        for l in text.lines().filter(|l| l.contains(&needle)) {
            found.push(format!("{}: {l}", p.path().display()));
        }
    }
    found
}

/// Waits for a `roost_spawn`ed child until `deadline` (then kills its process group) and
/// collects its output.
fn finish(mut child: Child, deadline: Instant) -> Output {
    drop(child.stdin.take());
    let mut so = child.stdout.take().expect("stdout is piped");
    let mut se = child.stderr.take().expect("stderr is piped");
    let to = thread::spawn(move || {
        let mut b = Vec::new();
        let _ = so.read_to_end(&mut b);
        b
    });
    let te = thread::spawn(move || {
        let mut b = Vec::new();
        let _ = se.read_to_end(&mut b);
        b
    });
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait for roost") {
            break s;
        }
        if Instant::now() >= deadline {
            let _ = killpg(Pid::from_raw(child.id() as i32), Signal::SIGKILL);
            let s = child.wait().expect("wait for killed roost");
            panic!(
                "spawned roost (pid {}) did not finish in time; killed ({s})",
                child.id()
            );
        }
        thread::sleep(Duration::from_millis(20));
    };
    Output {
        status,
        stdout: to.join().unwrap(),
        stderr: te.join().unwrap(),
    }
}

/// Busybox/podman `/proc/self/{u,g}id_map` rows as (inside, outside, count).
fn id_map_rows(text: &str) -> Vec<(u32, u32, u32)> {
    text.lines()
        .map(|l| {
            let f: Vec<u32> = l
                .split_whitespace()
                .map(|n| {
                    n.parse()
                        .unwrap_or_else(|e| panic!("bad map row {l:?}: {e}"))
                })
                .collect();
            assert_eq!(f.len(), 3, "bad map row {l:?}");
            (f[0], f[1], f[2])
        })
        .collect()
}
