//! podman's command-line conventions, which come from cobra: the wording of a rejected command line
//! (`unknown flag: --x`, `flag needs an argument: 'h' in -h`, `"podman ps" takes no arguments`)
//! followed by `See 'podman ps --help'`, and the help layout (`Usage:` on a line of its own,
//! `Available Commands:`, `Options:`) that tools and podman's tests read.
use std::ffi::OsString;

use clap::Command;
use clap::error::{ContextKind, ContextValue, ErrorKind};

use crate::error::Error;

/// The subcommand of `root` that `path` (`podman image ls`, the first word being the binary) names.
pub fn find<'c>(root: &'c Command, path: &str) -> &'c Command {
    let mut cmd = root;
    for word in path.split(' ').skip(1) {
        match cmd.find_subcommand(word) {
            Some(sub) => cmd = sub,
            None => break,
        }
    }
    cmd
}

/// A parse error of clap in cobra's words, for the command at `path`; `None` for errors cobra words
/// no differently (those keep clap's message).
pub fn flag_error(e: &clap::Error, root: &Command, path: &str, args: &[OsString]) -> Option<Error> {
    let cmd = find(root, path);
    let invalid = match e.get(ContextKind::InvalidArg) {
        Some(ContextValue::String(s)) => s.clone(),
        _ => String::new(),
    };
    let message = match e.kind() {
        ErrorKind::UnknownArgument if invalid.starts_with("--") => {
            format!(
                "unknown flag: {}",
                invalid.split('=').next().unwrap_or(&invalid)
            )
        }
        ErrorKind::UnknownArgument if invalid.starts_with('-') && invalid.len() > 1 => {
            let c = invalid.chars().nth(1).unwrap_or('-');
            format!("unknown shorthand flag: '{c}' in {invalid}")
        }
        ErrorKind::UnknownArgument => too_many_args(cmd, path, args),
        ErrorKind::InvalidValue if matches!(e.get(ContextKind::InvalidValue), Some(ContextValue::String(v)) if v.is_empty()) =>
        {
            format!(
                "flag needs an argument: {}",
                typed_flag(cmd, root, &invalid, args)
            )
        }
        ErrorKind::ArgumentConflict => latest_conflict_words(e)?,
        _ => return None,
    };
    Some(Error::Flags {
        message,
        command: path.to_string(),
    })
}

/// clap's conflict of `--latest` with `--all` or with a positional argument, in podman's words.
fn latest_conflict_words(e: &clap::Error) -> Option<String> {
    let name = |kind| match e.get(kind) {
        Some(ContextValue::String(s)) => Some(s.clone()),
        Some(ContextValue::Strings(v)) => v.first().cloned(),
        _ => None,
    };
    let a = name(ContextKind::InvalidArg)?;
    let b = name(ContextKind::PriorArg)?;
    let flag = |s: &str| s.split_whitespace().next().unwrap_or_default().to_string();
    let other = if flag(&a) == "--latest" {
        b
    } else if flag(&b) == "--latest" {
        a
    } else {
        return None;
    };
    if flag(&other) == "--all" {
        return Some("--all and --latest cannot be used together".to_string());
    }
    if !other.starts_with(['<', '[']) {
        return None;
    }
    Some(format!(
        "--latest and {} cannot be used together",
        latest_noun(&other)
    ))
}

/// What `--latest` stands for, after the name of the argument given with it: `containers`, `pods`
/// or `arguments`.
fn latest_noun(name: &str) -> &'static str {
    let upper = name.to_uppercase();
    if upper.contains("POD") {
        "pods"
    } else if upper.contains("CONTAINER") {
        "containers"
    } else {
        "arguments"
    }
}

/// cobra's argument-count errors: `"podman ps" takes no arguments`, `accepts at most 1 arg(s),
/// received 2`.
fn too_many_args(cmd: &Command, path: &str, args: &[OsString]) -> String {
    let positionals: Vec<&clap::Arg> = cmd.get_positionals().collect();
    if positionals.is_empty() {
        return format!("\"{path}\" takes no arguments");
    }
    let max = positionals.len();
    // The words after the command path that are not flags (an estimate: flag values count too).
    let depth = path.split(' ').count();
    let received = args
        .iter()
        .skip(depth)
        .filter_map(|a| a.to_str())
        .filter(|a| !a.starts_with('-'))
        .count()
        .max(max + 1);
    format!("accepts at most {max} arg(s), received {received}")
}

/// The flag as the user wrote it, for `flag needs an argument`: `'h' in -h` or `--hostname`.
/// `invalid` is clap's name of the argument (`--hostname <NAME>`).
fn typed_flag(cmd: &Command, root: &Command, invalid: &str, args: &[OsString]) -> String {
    let long = invalid
        .split_whitespace()
        .next()
        .and_then(|f| f.strip_prefix("--"))
        .unwrap_or_default();
    let short = cmd
        .get_arguments()
        .chain(root.get_arguments())
        .find(|a| a.get_long() == Some(long))
        .and_then(clap::Arg::get_short);
    let last = args.iter().rev().filter_map(|a| a.to_str()).find(|a| {
        *a == format!("--{long}")
            || short.is_some_and(|c| !a.starts_with("--") && a.starts_with('-') && a.ends_with(c))
    });
    match (last, short) {
        (Some(word), Some(c)) if !word.starts_with("--") => format!("'{c}' in {word}"),
        _ => format!("--{long}"),
    }
}

/// Whether `args` (after an unknown command word) hold a flag the root command does not know:
/// cobra reports that before the unknown command (`podman bad --invalid`).
pub fn unknown_root_flag(root: &Command, args: &[OsString]) -> Option<String> {
    args.iter().filter_map(|a| a.to_str()).find_map(|a| {
        let long = a.strip_prefix("--")?.split('=').next()?;
        let known = long.is_empty() || root.get_arguments().any(|x| x.get_long() == Some(long));
        (!known && long != "help").then(|| format!("unknown flag: --{long}"))
    })
}

/// `--help` in podman's layout (cobra with podman's help and usage templates): the summary, a
/// `Description:`, `Usage:` with the synopsis on the next line (`podman ps [options]`, `podman
/// image [command]`), `Aliases:`, `Available Commands:` and `Options:` (the command's own flags;
/// the global ones are listed by the root only). `path` is the command path as typed
/// (`podman image ls`); `hide` names flags left out (`--remote` when a connection is chosen).
pub fn help(root: &Command, path: &str, hide: &[&str]) -> String {
    let cmd = find(root, path);
    let is_root = std::ptr::eq(cmd, root);
    let about = cmd.get_about().map(ToString::to_string).unwrap_or_default();
    let long = cmd
        .get_long_about()
        .map(ToString::to_string)
        .unwrap_or_else(|| about.clone());
    let mut out = format!("{}\n\n", about.trim_end());
    if !long.trim().is_empty() && long.trim() != about.trim() {
        out.push_str(&format!("Description:\n{}\n\n", indent(long.trim())));
    }
    out.push_str(&format!("Usage:\n  {}\n", synopsis(cmd, path, is_root)));
    let aliases: Vec<&str> = cmd.get_visible_aliases().collect();
    if !aliases.is_empty() {
        out.push_str(&format!(
            "\nAliases:\n  {}, {}\n",
            cmd.get_name(),
            aliases.join(", ")
        ));
    }
    let subs = visible_subcommands(cmd);
    if !subs.is_empty() {
        let width = subs
            .iter()
            .map(|s| s.get_name().len())
            .max()
            .unwrap_or(0)
            .max(11);
        out.push_str("\nAvailable Commands:\n");
        for sub in subs {
            let short = sub.get_about().map(ToString::to_string).unwrap_or_default();
            out.push_str(&format!(
                "  {:width$} {}\n",
                sub.get_name(),
                first_line(&short)
            ));
        }
    }
    let flags = flag_lines(cmd, hide);
    if !flags.is_empty() {
        out.push_str(&format!("\nOptions:\n{flags}"));
    }
    if let Some(after) = cmd.get_after_long_help().or(cmd.get_after_help()) {
        out.push_str(&format!("\n{}\n", after.to_string().trim_end()));
    }
    out
}

/// The line under `Usage:`: `PATH [command]` for a command with subcommands, else `PATH [options]
/// ARGS` with the positional arguments in upper case, optional ones in brackets, `...` for lists.
fn synopsis(cmd: &Command, path: &str, is_root: bool) -> String {
    if is_root {
        return format!("{path} [options] [command]");
    }
    if !visible_subcommands(cmd).is_empty() {
        return format!("{path} [command]");
    }
    let mut words = vec![path.to_string()];
    if has_options(cmd) {
        words.push("[options]".to_string());
    }
    for arg in cmd.get_positionals().filter(|a| !a.is_hide_set()) {
        let name = arg
            .get_value_names()
            .and_then(|v| v.first())
            .map(ToString::to_string)
            .unwrap_or_else(|| arg.get_id().to_string())
            .to_uppercase()
            .replace('-', "_");
        let many = arg.get_num_args().is_some_and(|n| n.max_values() > 1)
            || matches!(arg.get_action(), clap::ArgAction::Append);
        words.push(match (arg.is_required_set(), many) {
            (true, false) => name,
            (true, true) => format!("{name} [{name}...]"),
            (false, false) => format!("[{name}]"),
            (false, true) => format!("[{name}...]"),
        });
    }
    words.join(" ")
}

fn visible_subcommands(cmd: &Command) -> Vec<&Command> {
    let mut subs: Vec<&Command> = cmd
        .get_subcommands()
        .filter(|s| !s.is_hide_set() && s.get_name() != "help")
        .collect();
    subs.sort_by_key(|s| s.get_name());
    subs
}

fn listed_flags<'c>(cmd: &'c Command, hide: &[&str]) -> Vec<&'c clap::Arg> {
    cmd.get_arguments()
        .filter(|a| !a.is_positional() && !a.is_hide_set())
        .filter(|a| a.get_long() != Some("help") && a.get_long() != Some("version"))
        .filter(|a| !a.get_long().is_some_and(|l| hide.contains(&l)))
        .collect()
}

fn has_options(cmd: &Command) -> bool {
    !listed_flags(cmd, &[]).is_empty()
}

/// pflag's flag table: `  -a, --all          Show all…`, `      --format string   …`, aligned.
fn flag_lines(cmd: &Command, hide: &[&str]) -> String {
    let mut rows: Vec<(String, String)> = vec![];
    for arg in listed_flags(cmd, hide) {
        let mut left = match (arg.get_short(), arg.get_long()) {
            (Some(s), Some(l)) => format!("  -{s}, --{l}"),
            (None, Some(l)) => format!("      --{l}"),
            (Some(s), None) => format!("  -{s}"),
            (None, None) => continue,
        };
        let takes = arg
            .get_num_args()
            .map_or_else(|| arg.get_action().takes_values(), |n| n.min_values() > 0);
        // A value that may be left out (`--pull[=POLICY]`, pflag's NoOptDefVal) with a default of
        // its own (not a boolean's): shown with its value name and default like any other.
        let optional = !takes
            && arg.get_num_args().is_some_and(|n| n.max_values() > 0)
            && arg
                .get_default_values()
                .first()
                .is_some_and(|d| !matches!(d.to_str(), Some("" | "true" | "false")));
        let takes = takes || optional;
        if takes {
            let value = arg
                .get_value_names()
                .and_then(|v| v.first())
                .map(|v| v.to_lowercase())
                .unwrap_or_else(|| "string".to_string());
            left.push(' ');
            left.push_str(&value);
        }
        let mut text = arg
            .get_help()
            .map(|h| {
                h.to_string()
                    .split_whitespace()
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .unwrap_or_default();
        let defaults: Vec<String> = arg
            .get_default_values()
            .iter()
            .map(|v| v.to_string_lossy().into_owned())
            .collect();
        if takes && !defaults.is_empty() && defaults.iter().any(|d| !d.is_empty()) {
            text.push_str(&format!(" (default \"{}\")", defaults.join(",")));
        }
        rows.push((left, text));
    }
    let width = rows.iter().map(|(l, _)| l.len()).max().unwrap_or(0);
    rows.iter()
        .map(|(l, t)| format!("{l:width$}   {t}").trim_end().to_string() + "\n")
        .collect()
}

fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or_default()
}

fn indent(text: &str) -> String {
    text.lines()
        .map(|l| {
            if l.is_empty() {
                String::new()
            } else {
                format!("  {l}")
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// podman's refusal of `--latest` together with what it replaces, for whichever command has it:
/// `--all and --latest cannot be used together`, `--latest and containers cannot be used together`
/// (`pods` for a POD argument, `arguments` for others).
pub fn latest_conflict(root: &Command, matches: &clap::ArgMatches) -> Option<String> {
    let (mut cmd, mut m) = (root, matches);
    while let Some((name, sub)) = m.subcommand() {
        cmd = cmd.find_subcommand(name)?;
        m = sub;
    }
    let set = |id: &str| matches!(m.try_get_one::<bool>(id), Ok(Some(true)));
    if !set("latest") {
        return None;
    }
    if set("all") {
        return Some("--all and --latest cannot be used together".to_string());
    }
    let given = cmd.get_positionals().find(|a| {
        m.value_source(a.get_id().as_str()) == Some(clap::parser::ValueSource::CommandLine)
    })?;
    let name = given
        .get_value_names()
        .and_then(|v| v.first())
        .map(ToString::to_string)
        .unwrap_or_else(|| given.get_id().to_string());
    Some(format!(
        "--latest and {} cannot be used together",
        latest_noun(&name)
    ))
}
