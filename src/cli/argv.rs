//! The container's command line is everything after the image (`run`, `create`) or the container
//! (`exec`), as in podman (cobra's `SetInterspersed(false)`): `roost run IMAGE -v --help` runs
//! `-v --help` in the container instead of reading roost's `-v` and `--help`. clap has no such
//! mode, so the command line gets a `--` after that first positional argument before clap parses it.
use std::ffi::{OsStr, OsString};

use clap::{Command, CommandFactory};

/// The verbs whose arguments after the first positional belong to the container.
const VERBATIM_AFTER_FIRST: [&str; 3] = ["run", "create", "exec"];

/// `args` with `--` inserted after the image or container of `run`/`create`/`exec` (also under
/// `container`), when something follows it and the user did not write `--` before it.
pub fn separate_container_command(cmd: &Command, mut args: Vec<OsString>) -> Vec<OsString> {
    if let Some(at) = first_positional_of_verb(cmd, &args)
        && at + 1 < args.len()
    {
        args.insert(at + 1, OsString::from("--"));
    }
    args
}

/// Where the image is in a command line that created a container (`roost [FLAGS] run|create
/// FLAGS IMAGE [CMD]`), as roost's own parser reads it.
pub fn image_index(args: &[String]) -> Option<usize> {
    let args: Vec<OsString> = args.iter().map(OsString::from).collect();
    first_positional_of_verb(&super::Cli::command(), &args)
}

/// The index in `args` of the first positional argument of `run`/`create`/`exec`, if that is the
/// verb. Groups (`container`) are walked as they are; only the verb itself is read with its deferred
/// arguments ([`super::lazy::built`]), and any other command ends the walk at once.
fn first_positional_of_verb(root: &Command, args: &[OsString]) -> Option<usize> {
    let mut group = root;
    let mut verb: Option<Command> = None;
    let takes_value = |group: &Command, verb: &Option<Command>, is: &dyn Fn(&clap::Arg) -> bool| {
        let cmd = verb.as_ref().unwrap_or(group);
        takes_value(cmd, is)
            || (!std::ptr::eq(cmd, root) && takes_value(root, &|a| a.is_global_set() && is(a)))
    };
    let mut i = 1;
    while i < args.len() {
        let arg = args[i].to_str()?;
        if arg == "--" {
            return None;
        }
        if let Some(long) = arg.strip_prefix("--") {
            if !long.contains('=') && takes_value(group, &verb, &|a| is_long(a, long)) {
                i += 1;
            }
        } else if let Some(shorts) = arg.strip_prefix('-').filter(|s| !s.is_empty()) {
            for (n, c) in shorts.char_indices() {
                if takes_value(group, &verb, &|a| a.get_short() == Some(c)) {
                    // `-p8080:80` carries its value; `-p 8080:80` takes the next argument.
                    if n + c.len_utf8() == shorts.len() {
                        i += 1;
                    }
                    break;
                }
            }
        } else if verb.is_some() {
            return Some(i);
        } else {
            // Only the container verbs (`volume create`, `network create` … are not).
            let parent_ok = std::ptr::eq(group, root) || group.get_name() == "container";
            let next = group.find_subcommand(OsStr::new(arg))?;
            if next.get_subcommands().next().is_some() {
                group = next;
            } else if parent_ok && VERBATIM_AFTER_FIRST.contains(&next.get_name()) {
                verb = Some(super::lazy::built(next));
            } else {
                return None;
            }
        }
        i += 1;
    }
    None
}

/// Whether `a` is the flag `--long`, by its name or one of its aliases (`--net` is `--network`).
fn is_long(a: &clap::Arg, long: &str) -> bool {
    a.get_long() == Some(long) || a.get_all_aliases().is_some_and(|all| all.contains(&long))
}

/// Whether the command line asks for the version (`--version` or `-v` before any subcommand); as in
/// podman, whatever else it holds is ignored.
pub fn asks_for_version(root: &Command, args: &[OsString]) -> bool {
    let mut i = 1;
    while let Some(arg) = args.get(i).and_then(|a| a.to_str()) {
        match arg {
            "--version" | "-v" => return true,
            "--" => return false,
            _ if arg.starts_with("--") => {
                let long = &arg[2..];
                if !long.contains('=') && takes_value(root, &|a| is_long(a, long)) {
                    i += 1;
                }
            }
            _ => return false,
        }
        i += 1;
    }
    false
}

/// The top-level command the command line enters: its first word that is neither a root flag nor
/// the value of one (`roost --root DIR run …` → `run`). None for `--` or when only flags remain.
pub fn entered_word(args: &[OsString]) -> Option<&str> {
    let root = <super::GlobalArgs as clap::Args>::augment_args(Command::new("roost"));
    let mut words = args.iter().skip(1);
    while let Some(word) = words.next() {
        let word = word.to_str()?;
        let valued = match word.strip_prefix("--") {
            Some("") => return None,
            Some(long) => !long.contains('=') && takes_value(&root, &|a| is_long(a, long)),
            None => match word
                .strip_prefix('-')
                .map(|s| s.chars().collect::<Vec<_>>())
            {
                Some(short) if short.len() == 1 => {
                    takes_value(&root, &|a| a.get_short() == Some(short[0]))
                }
                Some(_) => false,
                None => return Some(word),
            },
        };
        if valued {
            words.next();
        }
    }
    None
}

/// Whether the flag of `cmd` that `is` picks out needs a value (a flag with an optional value, such
/// as `--tls-verify`, takes it only after `=`, as in podman). `cmd` need not be built: clap's derive
/// sets every argument's action.
fn takes_value(cmd: &Command, is: &dyn Fn(&clap::Arg) -> bool) -> bool {
    cmd.get_arguments()
        .find(|a| is(a))
        .is_some_and(|a| match a.get_num_args() {
            Some(n) => n.min_values() > 0,
            None => a.get_action().takes_values(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    fn separated(line: &str) -> String {
        let cmd = crate::cli::Cli::command();
        let args = line.split(' ').map(OsString::from).collect();
        separate_container_command(&cmd, args)
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join(" ")
    }

    #[test]
    fn a_double_dash_follows_the_image_or_container() {
        for (line, want) in [
            ("roost run IMG -v", "roost run IMG -- -v"),
            (
                "roost run --log-level debug IMG x",
                "roost run --log-level debug IMG -- x",
            ),
            (
                "roost run --entrypoint echo IMG --help",
                "roost run --entrypoint echo IMG -- --help",
            ),
            (
                "roost --root /r run --rm -v /a:/b -p8080:80 -it -e K=V IMG echo -n x",
                "roost --root /r run --rm -v /a:/b -p8080:80 -it -e K=V IMG -- echo -n x",
            ),
            (
                "roost container create --name=c IMG -d",
                "roost container create --name=c IMG -- -d",
            ),
            (
                "roost exec -u 0 CTR ls -la /",
                "roost exec -u 0 CTR -- ls -la /",
            ),
            (
                "roost run --tls-verify IMG sh",
                "roost run --tls-verify IMG -- sh",
            ),
            (
                "roost run --net n1 --net n2 IMG sh",
                "roost run --net n1 --net n2 IMG -- sh",
            ),
        ] {
            assert_eq!(separated(line), want, "{line}");
        }
    }

    #[test]
    fn version_flag_before_any_subcommand() {
        let cmd = crate::cli::Cli::command();
        let asks = |line: &[&str]| {
            let args: Vec<OsString> = line.iter().map(OsString::from).collect();
            asks_for_version(&cmd, &args)
        };
        assert!(asks(&["podman", "--version", ""]));
        assert!(asks(&["roost", "-v"]));
        assert!(asks(&["roost", "--root", "/r", "--version", "ps"]));
        assert!(!asks(&["roost", "run", "IMG", "--version"]));
        assert!(!asks(&["roost", "--root", "--version"]));
        assert!(!asks(&["roost"]));
    }

    #[test]
    fn other_command_lines_are_left_alone() {
        for line in [
            "roost run IMG",
            "roost run --rm -- IMG -v",
            "roost run --help",
            "roost ps -a",
            "roost image rm IMG other",
            "roost --log-level debug images",
            "roost no-such-verb run IMG x",
            "roost volume create v1 --label mylabel",
            "roost network create n1 --subnet 10.0.0.0/24",
        ] {
            assert_eq!(separated(line), line);
        }
    }
}

/// The values of a flag that podman declares as a string slice (pflag's `StringSlice`): each
/// occurrence is read as a line of comma-separated values, where a value in double quotes may hold
/// commas and `""` stands for a quote (`--add-host '"a;b:10.0.0.1",c:10.0.0.2'` gives two).
pub fn string_slice(values: &[String]) -> Vec<String> {
    values.iter().flat_map(|v| csv_fields(v)).collect()
}

/// The fields of one CSV line (a lenient reading: a stray quote is kept as it is).
fn csv_fields(line: &str) -> Vec<String> {
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut chars = line.chars().peekable();
    let mut quoted = false;
    let mut at_start = true;
    while let Some(c) = chars.next() {
        match c {
            '"' if at_start => quoted = true,
            '"' if quoted && chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            '"' if quoted => quoted = false,
            ',' if !quoted => {
                fields.push(std::mem::take(&mut field));
                at_start = true;
                continue;
            }
            c => field.push(c),
        }
        at_start = false;
    }
    fields.push(field);
    fields
}

#[cfg(test)]
mod string_slice_tests {
    use super::string_slice;

    #[test]
    fn reads_values_as_pflag_does() {
        let v = |s: &[&str]| s.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(string_slice(&v(&["a:1.2.3.4"])), v(&["a:1.2.3.4"]));
        assert_eq!(
            string_slice(&v(&["\"a;b:127.0.0.1\""])),
            v(&["a;b:127.0.0.1"])
        );
        assert_eq!(
            string_slice(&v(&["x:1.1.1.1,\"y,z\"", "w"])),
            v(&["x:1.1.1.1", "y,z", "w"])
        );
        assert_eq!(
            string_slice(&v(&["\"say \"\"hi\"\"\""])),
            v(&["say \"hi\""])
        );
    }
}
