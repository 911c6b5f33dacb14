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
        .flat_map(|c| {
            [
                c.record.name.clone(),
                crate::store::short_id(&c.record.id).to_string(),
            ]
        });
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

/// Candidates for `--log-level`.
pub fn log_levels() -> Vec<CompletionCandidate> {
    candidates(crate::logging::LEVELS.map(String::from))
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
        "slirp",
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
const DIRECTIVE_DEFAULT: u32 = 0;
const DIRECTIVE_NO_SPACE: u32 = 2;
const DIRECTIVE_NO_FILE_COMP: u32 = 4;

/// cobra's name of a directive, printed on stderr after the candidates.
fn directive_name(d: u32) -> String {
    let names: Vec<&str> = [
        (1, "ShellCompDirectiveError"),
        (DIRECTIVE_NO_SPACE, "ShellCompDirectiveNoSpace"),
        (DIRECTIVE_NO_FILE_COMP, "ShellCompDirectiveNoFileComp"),
        (8, "ShellCompDirectiveFilterFileExt"),
        (16, "ShellCompDirectiveFilterDirs"),
        (32, "ShellCompDirectiveKeepOrder"),
    ]
    .into_iter()
    .filter(|(bit, _)| d & bit != 0)
    .map(|(_, n)| n)
    .collect();
    if names.is_empty() {
        "ShellCompDirectiveDefault".to_string()
    } else {
        names.join(", ")
    }
}

/// Whether `args` (without the program name) is a cobra completion request.
pub fn is_cobra_request(args: &[OsString]) -> bool {
    args.first()
        .is_some_and(|a| a == "__complete" || a == "__completeNoDesc")
}

/// The words typed before the one being completed, as the command they name reads them.
struct Line<'c> {
    /// The (sub)command the words name.
    cmd: &'c clap::Command,
    /// Its path below the root (`["container", "inspect"]`).
    path: Vec<String>,
    /// The positional arguments given so far.
    positionals: Vec<String>,
    /// The flag whose value is being completed (the last word was a flag that takes one).
    pending: Option<&'c clap::Arg>,
    /// After `--`, or inside a trailing command (`run IMAGE CMD -x`): no more flags.
    flags_done: bool,
    /// The flags given, by id, with their last value.
    given: Vec<(String, Option<String>)>,
}

fn takes_value(a: &clap::Arg) -> bool {
    a.get_num_args()
        .map_or_else(|| a.get_action().takes_values(), |n| n.min_values() > 0)
}

fn long_flag<'c>(cmd: &'c clap::Command, name: &str) -> Option<&'c clap::Arg> {
    cmd.get_arguments().find(|a| {
        a.get_long() == Some(name) || a.get_all_aliases().is_some_and(|v| v.contains(&name))
    })
}

fn short_flag(cmd: &clap::Command, c: char) -> Option<&clap::Arg> {
    cmd.get_arguments().find(|a| a.get_short() == Some(c))
}

/// Read `words` the way the command line parser would, far enough to know what comes next.
fn parse_line<'c>(root: &'c clap::Command, words: &[String]) -> Line<'c> {
    let mut line = Line {
        cmd: root,
        path: vec![],
        positionals: vec![],
        pending: None,
        flags_done: false,
        given: vec![],
    };
    for w in words {
        if let Some(flag) = line.pending.take() {
            line.given
                .push((flag.get_id().to_string(), Some(w.clone())));
            continue;
        }
        if !line.flags_done && w == "--" {
            line.flags_done = true;
        } else if !line.flags_done && w.starts_with("--") {
            let (name, value) = match w[2..].split_once('=') {
                Some((n, v)) => (n, Some(v.to_string())),
                None => (&w[2..], None),
            };
            if let Some(a) = long_flag(line.cmd, name) {
                if value.is_none() && takes_value(a) {
                    line.pending = Some(a);
                } else {
                    line.given.push((a.get_id().to_string(), value));
                }
            }
        } else if !line.flags_done && w.starts_with('-') && w.len() > 1 {
            for (i, c) in w.char_indices().skip(1) {
                let Some(a) = short_flag(line.cmd, c) else {
                    break;
                };
                if takes_value(a) {
                    let rest = &w[i + c.len_utf8()..];
                    if rest.is_empty() {
                        line.pending = Some(a);
                    } else {
                        let v = rest.strip_prefix('=').unwrap_or(rest);
                        line.given
                            .push((a.get_id().to_string(), Some(v.to_string())));
                    }
                    break;
                }
                line.given.push((a.get_id().to_string(), None));
            }
        } else if line.positionals.is_empty()
            && let Some(sub) = line.cmd.find_subcommand(w)
        {
            line.cmd = sub;
            line.path.push(sub.get_name().to_string());
        } else {
            line.positionals.push(w.clone());
            // A trailing command (`run IMAGE CMD ARGS…`): what follows is its own.
            let next = positional_at(line.cmd, line.positionals.len());
            if next.is_some_and(|a| a.is_trailing_var_arg_set()) {
                line.flags_done = true;
            }
        }
    }
    line
}

/// The positional argument that takes the `index`th positional word (the last one when it takes
/// several).
fn positional_at(cmd: &clap::Command, index: usize) -> Option<&clap::Arg> {
    let all: Vec<&clap::Arg> = cmd.get_positionals().filter(|a| !a.is_hide_set()).collect();
    if let Some(a) = all.get(index) {
        return Some(a);
    }
    let last = all.last()?;
    let many = last.get_num_args().is_some_and(|n| n.max_values() > 1)
        || matches!(last.get_action(), clap::ArgAction::Append);
    many.then_some(*last)
}

fn value_name(a: &clap::Arg) -> String {
    a.get_value_names()
        .and_then(|v| v.first())
        .map(ToString::to_string)
        .unwrap_or_else(|| a.get_id().to_string())
        .to_uppercase()
}

/// Candidates and the directive for the word being completed.
struct Answer {
    values: Vec<(String, Option<String>)>,
    directive: u32,
}

impl Answer {
    fn none(directive: u32) -> Answer {
        Answer {
            values: vec![],
            directive,
        }
    }

    /// `names` that start with `prefix`; no file names.
    fn names(names: impl IntoIterator<Item = String>, prefix: &str) -> Answer {
        let mut values: Vec<(String, Option<String>)> = vec![];
        for n in names {
            if n.starts_with(prefix) && !values.iter().any(|(v, _)| *v == n) {
                values.push((n, None));
            }
        }
        Answer {
            values,
            directive: DIRECTIVE_NO_FILE_COMP,
        }
    }

    fn candidates(found: Vec<CompletionCandidate>, prefix: &str) -> Answer {
        let mut a = Answer::none(DIRECTIVE_NO_FILE_COMP);
        for c in found.into_iter().filter(|c| !c.is_hide_set()) {
            let v = c.get_value().to_string_lossy().into_owned();
            if v.starts_with(prefix) && !a.values.iter().any(|(x, _)| *x == v) {
                let help = c.get_help().map(|h| first_line_of(&h.to_string()));
                a.values.push((v, help));
            }
        }
        a
    }
}

fn first_line_of(text: &str) -> String {
    text.lines().next().unwrap_or_default().to_string()
}

/// The flags `line`'s command takes that start with `typed` (`--long`, and `-s` too when only `-`
/// is typed), leaving out those given already unless they may be repeated.
fn flag_names(line: &Line, typed: &str) -> Answer {
    let mut a = Answer::none(DIRECTIVE_NO_FILE_COMP);
    for arg in line.cmd.get_arguments() {
        if arg.is_positional() || arg.is_hide_set() {
            continue;
        }
        let repeatable = matches!(
            arg.get_action(),
            clap::ArgAction::Append | clap::ArgAction::Count
        );
        if !repeatable && line.given.iter().any(|(id, _)| id == arg.get_id().as_str()) {
            continue;
        }
        let help = arg.get_help().map(|h| first_line_of(&h.to_string()));
        let mut names = vec![];
        if let Some(l) = arg.get_long() {
            names.push(format!("--{l}"));
        }
        if let Some(c) = arg.get_short() {
            names.push(format!("-{c}"));
        }
        for n in names.into_iter().filter(|n| n.starts_with(typed)) {
            a.values.push((n, help.clone()));
        }
    }
    a
}

fn is_pathlike(name: &str) -> bool {
    [
        "PATH", "FILE", "DIR", "CONTEXT", "COMMAND", "ARG", "URI", "SRC", "DEST", "SOURCE",
    ]
    .iter()
    .any(|w| name.contains(w))
}

/// The value of flag `flag` for `line`.
fn flag_value(line: &Line, flag: &clap::Arg, typed: &str) -> Answer {
    let long = flag.get_long().unwrap_or_default();
    if long == "format" && typed.starts_with("{{") {
        return template_fields(line, typed);
    }
    if let Some(c) = flag.get::<clap_complete::engine::ArgValueCandidates>() {
        return Answer::candidates(c.candidates(), typed);
    }
    let possible: Vec<String> = flag
        .get_possible_values()
        .iter()
        .filter(|v| !v.is_hide_set())
        .map(|v| v.get_name().to_string())
        .collect();
    if !possible.is_empty() {
        return Answer::names(possible, typed);
    }
    if long == "sysctl" {
        return Answer::names(
            crate::engine::complete::sysctls(std::path::Path::new("/proc/sys"), typed),
            typed,
        );
    }
    if long == "interface-name" {
        return Answer::names(
            crate::engine::complete::host_interfaces(std::path::Path::new("/sys/class/net")),
            typed,
        );
    }
    let pathlike = matches!(
        flag.get_value_hint(),
        clap::ValueHint::AnyPath
            | clap::ValueHint::FilePath
            | clap::ValueHint::DirPath
            | clap::ValueHint::ExecutablePath
    ) || is_pathlike(&value_name(flag));
    Answer::none(if pathlike {
        DIRECTIVE_DEFAULT
    } else {
        DIRECTIVE_NO_FILE_COMP
    })
}

/// podman's image candidates: the full names when nothing is typed; else every name, and every
/// shorter form of it after a `/` (`f29/httpd:latest`, `httpd:latest`), and the short ids, that start
/// with what is typed.
fn image_answer(typed: &str) -> Answer {
    let Some(store) = store() else {
        return Answer::none(DIRECTIVE_NO_FILE_COMP);
    };
    let names = store.all_names().unwrap_or_default();
    let mut out: Vec<String> = vec![];
    if typed.is_empty() {
        out.extend(names);
    } else {
        for n in &names {
            let parts: Vec<&str> = n.split('/').collect();
            out.extend((0..parts.len()).map(|i| parts[i..].join("/")));
        }
        if let Ok(images) = store.images() {
            out.extend(images.iter().map(|i| i.id.short().to_string()));
        }
    }
    Answer::names(out, typed)
}

/// Path candidates inside `view`, each with `prefix` before it.
fn path_answer(
    view: Option<crate::engine::build::view::LayerView>,
    typed: &str,
    prefix: &str,
) -> Answer {
    let Some(view) = view else {
        return Answer::none(DIRECTIVE_DEFAULT);
    };
    let (paths, no_space) = crate::engine::complete::paths_in(&view, typed);
    Answer {
        values: paths
            .into_iter()
            .map(|p| (format!("{prefix}{p}"), None))
            .collect(),
        directive: if no_space {
            DIRECTIVE_NO_SPACE
        } else {
            DIRECTIVE_DEFAULT
        },
    }
}

/// `cp`'s SRC and DEST: `CONTAINER:PATH` (paths in the container once its name is typed, the
/// container names with a `:` before), or a path on the host.
fn cp_answer(typed: &str) -> Answer {
    if let Some((name, path)) = typed.split_once(':') {
        let view = store().and_then(|s| crate::engine::complete::container_view(&s, name));
        return path_answer(view, path, &format!("{name}:"));
    }
    let names: Vec<String> = container_names()
        .into_iter()
        .map(|c| format!("{}:", c.get_value().to_string_lossy()))
        .filter(|n| n.starts_with(typed))
        .collect();
    if names.is_empty() {
        return Answer::none(DIRECTIVE_DEFAULT);
    }
    let mut a = Answer::names(names, typed);
    a.directive = DIRECTIVE_NO_SPACE;
    a
}

/// The positional argument `arg` of `line`, by what its value name says it is.
fn positional_value(line: &Line, arg: &clap::Arg, typed: &str) -> Answer {
    let name = value_name(arg);
    if line.path.last().is_some_and(|c| c == "cp") {
        return cp_answer(typed);
    }
    // `create`/`run IMAGE COMMAND`: paths inside the image.
    let first_is_image = line
        .cmd
        .get_positionals()
        .next()
        .is_some_and(|a| value_name(a) == "IMAGE");
    if name.contains("COMMAND") && first_is_image && line.positionals.len() == 1 {
        let view =
            store().and_then(|s| crate::engine::complete::image_view(&s, &line.positionals[0]));
        return path_answer(view, typed, "");
    }
    if name.contains("IMAGE") {
        return image_answer(typed);
    }
    let mut found: Vec<CompletionCandidate> = vec![];
    let mut known = false;
    if let Some(c) = arg.get::<clap_complete::engine::ArgValueCandidates>() {
        found.extend(c.candidates());
        known = true;
    } else {
        for (word, list) in [
            (
                "CONTAINER",
                container_names as fn() -> Vec<CompletionCandidate>,
            ),
            ("POD", pod_names),
            ("NETWORK", network_names),
            ("VOLUME", volume_names),
            ("SECRET", secret_names),
        ] {
            if name.contains(word) {
                found.extend(list());
                known = true;
            }
        }
        if name.contains("REGISTRY") {
            let p = paths();
            let forced = std::env::var_os("CONTAINERS_REGISTRIES_CONF")
                .filter(|v| !v.is_empty())
                .map(std::path::PathBuf::from);
            let regs = p
                .map(|p| {
                    crate::engine::complete::registries(crate::engine::complete::registry_dirs(
                        &p.config_home,
                        forced,
                    ))
                })
                .unwrap_or_default();
            return Answer::names(regs, typed);
        }
    }
    if known {
        return Answer::candidates(found, typed);
    }
    Answer::none(if is_pathlike(&name) {
        DIRECTIVE_DEFAULT
    } else {
        DIRECTIVE_NO_FILE_COMP
    })
}

/// What `{{.` in a `--format` can go on with: the fields of the command's template view (podman
/// completes them from its Go types), or of the field typed so far (`{{.State.`). Inspect commands
/// show an object's: the first argument's, or the first of its kind when none is given.
fn template_fields(line: &Line, typed: &str) -> Answer {
    let Some(doc) = format_doc(line) else {
        return Answer::none(DIRECTIVE_NO_FILE_COMP);
    };
    let Some(body) = typed.strip_prefix("{{.") else {
        return Answer::none(DIRECTIVE_NO_FILE_COMP);
    };
    // `{{.A.B.pre`: the fields of A.B that start with `pre`.
    let (parents, start) = match body.rfind('.') {
        Some(i) => (&body[..i], &body[i + 1..]),
        None => ("", body),
    };
    let mut node = &doc;
    for p in parents.split('.').filter(|p| !p.is_empty()) {
        match node.get(p) {
            Some(n) => node = n,
            None => return Answer::none(DIRECTIVE_NO_FILE_COMP),
        }
    }
    let Some(map) = node.as_object() else {
        return Answer::none(DIRECTIVE_NO_FILE_COMP);
    };
    let lead = if parents.is_empty() {
        "{{.".to_string()
    } else {
        format!("{{{{.{parents}.")
    };
    let mut values = vec![];
    for (k, v) in map {
        if !k.starts_with(start) {
            continue;
        }
        values.push((format!("{lead}{k}}}}}"), None));
        if v.as_object().is_some_and(|m| !m.is_empty()) {
            values.push((format!("{lead}{k}."), None));
        }
    }
    Answer {
        values,
        directive: DIRECTIVE_NO_SPACE,
    }
}

/// The template view `--format` of the command on `line` works on, if it takes a Go template.
fn format_doc(line: &Line) -> Option<serde_json::Value> {
    let path: Vec<&str> = line.path.iter().map(String::as_str).collect();
    let first = line.positionals.first().map(String::as_str);
    match path.as_slice() {
        ["inspect"] => {
            let kind = line
                .given
                .iter()
                .find(|(id, _)| id == "kind")
                .and_then(|(_, v)| v.clone())
                .unwrap_or_else(|| "all".into());
            inspect_template_doc(&kind, first)
        }
        [kind, "inspect"] => inspect_template_doc(kind, first),
        ["ps"] | ["container", "ps"] => Some(super::container::ps_format_fields()),
        ["pod", "ps"] => Some(super::pod::ps_format_fields()),
        ["images"] | ["image", "ls"] => Some(super::image::images_format_fields()),
        ["history"] | ["image", "history"] => Some(super::image::history_format_fields()),
        ["volume", "ls"] => Some(super::volume::format_fields()),
        ["network", "ls"] => Some(super::network::format_fields()),
        ["secret", "ls"] => Some(super::secret::ls_format_fields()),
        ["events"] | ["system", "events"] => Some(super::events::format_fields()),
        _ => None,
    }
}

/// What to offer for the last word of `words` (the words after the program name).
fn answer(root: &clap::Command, words: &[String]) -> Answer {
    let (typed, before) = match words.split_last() {
        Some((last, before)) => (last.as_str(), before),
        None => ("", words),
    };
    let line = parse_line(root, before);
    if let Some(flag) = line.pending {
        return flag_value(&line, flag, typed);
    }
    if !line.flags_done && typed.starts_with('-') {
        if let Some((name, value)) = typed.split_once('=')
            && let Some(flag) = name.strip_prefix("--").and_then(|n| long_flag(line.cmd, n))
        {
            let mut a = flag_value(&line, flag, value);
            for v in &mut a.values {
                v.0 = format!("{name}={}", v.0);
            }
            return a;
        }
        return flag_names(&line, typed);
    }
    if line.positionals.is_empty() && line.cmd.has_subcommands() {
        let subs = line
            .cmd
            .get_subcommands()
            .filter(|s| !s.is_hide_set() && s.get_name() != "help")
            .filter(|s| s.get_name().starts_with(typed))
            .map(|s| {
                let about = s.get_about().map(|h| first_line_of(&h.to_string()));
                (s.get_name().to_string(), about)
            })
            .collect();
        return Answer {
            values: subs,
            directive: DIRECTIVE_NO_FILE_COMP,
        };
    }
    match positional_at(line.cmd, line.positionals.len()) {
        Some(arg) => positional_value(&line, arg, typed),
        // No more arguments.
        None => Answer::none(DIRECTIVE_NO_FILE_COMP),
    }
}

/// `PROGRAM __complete ARGS… WORD` (cobra's protocol, which podman's completion scripts speak): one
/// candidate a line (`value\tdescription`, or only the value for `__completeNoDesc`), then
/// `:DIRECTIVE`, and cobra's note of the directive on stderr. Object names come from the store, paths
/// inside images and containers from their stored layers; arguments that are host paths leave the
/// completion to the shell (directive 0).
pub fn cobra(_program: OsString, args: &[OsString]) -> Result<i32, Error> {
    let descriptions = args[0] == "__complete";
    let words: Vec<String> = args[1..]
        .iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let mut root = super::full_command();
    root.build();
    let a = answer(&root, &words);
    let mut text = String::new();
    for (value, help) in &a.values {
        text.push_str(value);
        if descriptions && let Some(h) = help.as_deref().filter(|h| !h.is_empty()) {
            text.push('\t');
            text.push_str(h);
        }
        text.push('\n');
    }
    text.push_str(&format!(":{}\n", a.directive));
    out(&text)?;
    eprintln!(
        "Completion ended with directive: {}",
        directive_name(a.directive)
    );
    Ok(0)
}

/// The first name among `kind`'s completion candidates that starts with `typed` (podman tells what
/// an inspect argument is by the candidates it would complete it to).
fn first_candidate(kind: &str, typed: &str) -> Option<String> {
    let list = match kind {
        "image" => {
            return image_answer(typed)
                .values
                .into_iter()
                .next()
                .map(|(v, _)| v);
        }
        "container" => container_names(),
        "volume" => volume_names(),
        "pod" => pod_names(),
        "network" => network_names(),
        _ => return None,
    };
    list.into_iter()
        .map(|c| c.get_value().to_string_lossy().into_owned())
        .find(|v| v.starts_with(typed))
}

/// The template view of an object of `kind` (`container`, `image`, `volume`, `pod`, `network`, or
/// `all`: the first kind, in that order, with a candidate) whose name starts with `name`; without a
/// name, the first container's (podman completes a container's fields by default).
fn inspect_template_doc(kind: &str, name: Option<&str>) -> Option<serde_json::Value> {
    use clap::FromArgMatches;
    const KINDS: [&str; 5] = ["container", "image", "volume", "pod", "network"];
    match kind {
        "volume" => return Some(super::volume::format_fields()),
        "network" => return Some(super::network::format_fields()),
        "secret" => return Some(super::secret::inspect_format_fields()),
        _ => {}
    }
    let (kind, key) = match name {
        None if matches!(kind, "container" | "all") => ("container", None),
        // podman completes the fields of the type; here those of the first object of the kind.
        None => (kind, Some(first_candidate(kind, "")?)),
        Some(n) if kind == "all" => KINDS
            .iter()
            .find_map(|k| first_candidate(k, n).map(|c| (*k, Some(c))))?,
        Some(n) => (kind, Some(first_candidate(kind, n)?)),
    };
    let m = Cli::command().try_get_matches_from(["roost"]).ok()?;
    let global = Cli::from_arg_matches(&m).ok()?.global;
    let ctx = super::ctx::build(&global, None).ok()?;
    let store = ctx.store_if_exists().ok()??;
    let Some(key) = key else {
        let c = Container::from_record(store.containers().ok()?.into_iter().next()?);
        return Some(super::container::inspect::container_json(&ctx, &store, &c));
    };
    match kind {
        "container" => {
            let c = crate::engine::container::find(&store, &key).ok()?;
            Some(super::container::inspect::container_json(&ctx, &store, &c))
        }
        "image" => super::image::template_doc(&ctx, &key),
        "volume" => super::volume::template_doc(&ctx, &key),
        "pod" => super::pod::template_doc(&ctx, &key),
        _ => super::network::template_doc(&ctx, &key),
    }
}
