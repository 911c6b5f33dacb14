//! Shell completion: the shell asks the binary (clap_complete's dynamic `COMPLETE=shell` protocol), and
//! image names come straight from the store's database (no network, no user namespace, no lock).
use clap::{Args, CommandFactory};
use clap_complete::engine::CompletionCandidate;

use super::{Cli, GlobalArgs, out};
use crate::error::Error;
use crate::paths::{PathEnv, Paths};
use crate::store::Store;

/// Answer a completion request from the shell and exit, when `COMPLETE` is set; otherwise return.
pub fn complete_env() {
    clap_complete::CompleteEnv::with_factory(Cli::command).complete();
}

fn store(global: Option<&GlobalArgs>) -> Option<Store> {
    let mut env = PathEnv::from_process();
    if let Some(g) = global {
        env.root = g.root.clone();
        env.runroot = g.runroot.clone();
    }
    let paths = Paths::resolve(&env).ok()?;
    Store::open_existing(&paths.data).ok().flatten()
}

/// Names (`registry/repo:tag`, and the short `repo:tag` after the registry) and short ids of local images.
fn names(store: &Store) -> Vec<String> {
    let mut out = store.all_names().unwrap_or_default();
    if let Ok(images) = store.images() {
        out.extend(images.iter().map(|i| i.id.short().to_string()));
    }
    out
}

/// Candidates for an IMAGE argument.
pub fn image_names() -> Vec<CompletionCandidate> {
    store(None)
        .map(|s| names(&s))
        .unwrap_or_default()
        .into_iter()
        .map(CompletionCandidate::new)
        .collect()
}

/// Candidates for a CONTAINER argument: names and short ids.
pub fn container_names() -> Vec<CompletionCandidate> {
    let Some(store) = store(None) else {
        return vec![];
    };
    let list = store.containers().unwrap_or_default();
    list.iter()
        .flat_map(|c| [c.name.clone(), c.id[..12].to_string()])
        .map(CompletionCandidate::new)
        .collect()
}

#[derive(Debug, Args)]
pub struct CompleteArgs {
    /// What to list: images or containers
    #[arg(value_parser = ["images", "containers"])]
    pub kind: String,
    /// Only names starting with this
    #[arg(default_value = "")]
    pub prefix: String,
}

/// `roost __complete images PREFIX`: one name per line.
pub fn run(global: &GlobalArgs, args: &CompleteArgs) -> Result<i32, Error> {
    let Some(store) = store(Some(global)) else {
        return Ok(0);
    };
    let text: String = names(&store)
        .into_iter()
        .filter(|n| n.starts_with(&args.prefix))
        .map(|n| n + "\n")
        .collect();
    out(&text).map(|()| 0)
}
