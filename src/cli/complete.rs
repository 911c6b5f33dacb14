//! Shell completion. The shell asks the binary, in one of two protocols:
//! - roost's own scripts (`completion bash|zsh|fish`) use clap_complete's dynamic `COMPLETE=shell`
//!   protocol;
//! - podman's scripts (cobra's) call `podman __complete ARGS… WORD` (or `__completeNoDesc`), so a
//!   roost installed as `podman` completes with the user's existing podman completion.
//!
//! Both are answered by the same clap definitions. Names come straight from the store (no network, no
//! user namespace, no lock): images, containers (all, running or startable, as podman offers them per
//! command), volumes, networks and the network modes.
use std::ffi::OsString;

use clap::CommandFactory;
use clap_complete::engine::CompletionCandidate;

use super::{Cli, out};
use crate::engine::container::{Container, Status};
use crate::error::Error;
use crate::paths::{PathEnv, Paths};
use crate::store::Store;

/// Answer a completion request from the shell and exit, when `COMPLETE` is set; otherwise return.
pub fn complete_env() {
    clap_complete::CompleteEnv::with_factory(Cli::command).complete();
}

fn paths() -> Option<Paths> {
    Paths::resolve(&PathEnv::from_process()).ok()
}

fn store() -> Option<Store> {
    Store::open_existing(&paths()?.data).ok().flatten()
}

fn candidates(names: impl IntoIterator<Item = String>) -> Vec<CompletionCandidate> {
    names.into_iter().map(CompletionCandidate::new).collect()
}

/// Candidates for an IMAGE argument: names (`registry/repo:tag`, and the short `repo:tag` after the
/// registry) and short ids of local images.
pub fn image_names() -> Vec<CompletionCandidate> {
    let Some(store) = store() else {
        return vec![];
    };
    let mut names = store.all_names().unwrap_or_default();
    if let Ok(images) = store.images() {
        names.extend(images.iter().map(|i| i.id.short().to_string()));
    }
    candidates(names)
}

/// Names and short ids of the containers whose recorded status passes `keep`.
fn containers_where(keep: impl Fn(Status) -> bool) -> Vec<CompletionCandidate> {
    let Some(store) = store() else {
        return vec![];
    };
    let records = store.containers().unwrap_or_default();
    let kept = records
        .into_iter()
        .map(Container::from_record)
        .filter(|c| keep(c.state.status))
        .flat_map(|c| [c.record.name.clone(), c.record.id[..12].to_string()]);
    candidates(kept)
}

/// Candidates for a CONTAINER argument: every container.
pub fn container_names() -> Vec<CompletionCandidate> {
    containers_where(|_| true)
}

/// Candidates for commands that act on running containers (`exec`, `stop`, `kill`, `attach`, `top`…).
pub fn running_containers() -> Vec<CompletionCandidate> {
    containers_where(|s| s == Status::Running)
}

/// Candidates for `start`: containers that are not running.
pub fn startable_containers() -> Vec<CompletionCandidate> {
    containers_where(|s| matches!(s, Status::Created | Status::Stopped | Status::Exited))
}

/// Candidates for a VOLUME argument.
pub fn volume_names() -> Vec<CompletionCandidate> {
    let volumes = store().and_then(|s| s.volumes().ok()).unwrap_or_default();
    candidates(volumes.into_iter().map(|v| v.name))
}

/// Candidates for a POD|CONTAINER argument (`kube generate`).
pub fn pod_and_container_names() -> Vec<CompletionCandidate> {
    let mut all = pod_names();
    all.extend(container_names());
    all
}

/// Candidates for a SECRET argument.
pub fn secret_names() -> Vec<CompletionCandidate> {
    let names = paths()
        .map(|p| crate::engine::secret::names(&p.data))
        .unwrap_or_default();
    candidates(names)
}

/// Candidates for a POD argument.
pub fn pod_names() -> Vec<CompletionCandidate> {
    let names = paths()
        .map(|p| crate::engine::pod::names(&p.data))
        .unwrap_or_default();
    candidates(names)
}

/// Candidates for a NETWORK argument (the implicit `podman` network included).
pub fn network_names() -> Vec<CompletionCandidate> {
    let names = paths()
        .map(|p| crate::engine::network::names(&p.data))
        .unwrap_or_default();
    candidates(names)
}

/// Candidates for `--network`: the per-container modes, then the bridge networks.
pub fn network_modes() -> Vec<CompletionCandidate> {
    let modes = [
        "pasta",
        "slirp4netns",
        "private",
        "none",
        "host",
        "container:",
        "ns:",
    ];
    let mut out = candidates(modes.map(String::from));
    out.extend(network_names());
    out
}

/// cobra's `ShellCompDirective` bits, as podman's completion scripts read them.
const DIRECTIVE_NO_FILE_COMP: u32 = 4;

/// Whether `args` (without the program name) is a cobra completion request.
pub fn is_cobra_request(args: &[OsString]) -> bool {
    args.first()
        .is_some_and(|a| a == "__complete" || a == "__completeNoDesc")
}

/// `PROGRAM __complete ARGS… WORD` (cobra's protocol, which podman's completion scripts speak): one
/// candidate a line (`value\tdescription`, or only the value for `__completeNoDesc`), then
/// `:DIRECTIVE`. Without candidates the directive is 0, so the shell falls back to file names.
pub fn cobra(program: OsString, args: &[OsString]) -> Result<i32, Error> {
    let descriptions = args[0] == "__complete";
    let mut words: Vec<OsString> = std::iter::once(program)
        .chain(args[1..].iter().cloned())
        .collect();
    if words.len() == 1 {
        words.push(OsString::new());
    }
    let index = words.len() - 1;
    // As cobra does, flags are offered only once the word starts with `-`.
    let flags = words[index].to_string_lossy().starts_with('-');
    let cwd = std::env::current_dir().ok();
    let found: Vec<CompletionCandidate> =
        clap_complete::engine::complete(&mut Cli::command(), words, index, cwd.as_deref())
            .unwrap_or_default()
            .into_iter()
            .filter(|c| flags || !c.get_value().to_string_lossy().starts_with('-'))
            .collect();
    let mut text = String::new();
    for c in &found {
        if c.is_hide_set() {
            continue;
        }
        text.push_str(&c.get_value().to_string_lossy());
        if descriptions && let Some(help) = c.get_help() {
            let help = help.to_string();
            if let Some(first) = help.lines().next() {
                text.push('\t');
                text.push_str(first);
            }
        }
        text.push('\n');
    }
    let directive = if found.is_empty() {
        0
    } else {
        DIRECTIVE_NO_FILE_COMP
    };
    text.push_str(&format!(":{directive}\n"));
    out(&text).map(|()| 0)
}
