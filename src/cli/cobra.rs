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
        _ => return None,
    };
    Some(Error::Flags {
        message,
        command: path.to_string(),
    })
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
