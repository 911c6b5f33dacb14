//! The `ExecStart=` of a `--new` unit: the container's create command turned into a `run` that
//! systemd can supervise, as podman's generator does it: `run --cidfile=%t/%n.ctr-id
//! --cgroups=no-conmon --rm`, `--sdnotify=conmon` unless the container chose a mode, `-d` unless it
//! detaches already, `--replace` for a named container, and the container's own flags without
//! `--rm`, `--cgroups`, `--cidfile`, `--restart` (and `--pod`, `--pod-id-file` in a pod).
use super::SystemdError;
use super::escape::systemd_args;

/// Where the `--new` unit keeps the container's ID (`run --cidfile`, `stop/rm --cidfile`).
pub const CID_FILE: &str = "%t/%n.ctr-id";

pub struct Input<'a> {
    pub id: &'a str,
    /// The command line the container was created with (`roost [GLOBAL…] run|create FLAGS… IMAGE [CMD…]`).
    pub create_command: &'a [String],
    /// The index of the image in `create_command` (None: no positional was found).
    pub image_at: Option<usize>,
    pub executable: &'a str,
    /// The pod's `--pod-id-file` in the pod's `--new` unit.
    pub pod_id_file: Option<&'a str>,
    /// The container's environment, for `-e KEY` without a value (the unit sets it).
    pub container_env: &'a [String],
}

pub struct RunCommand {
    /// The words of `ExecStart=`, escaped for systemd.
    pub words: Vec<String>,
    /// `--restart` of the create command, as a unit's `Restart=`.
    pub restart: Option<String>,
    /// `--restart=on-failure:N`: `StartLimitBurst=N`.
    pub start_limit_burst: Option<String>,
    /// `KEY=VALUE` (escaped) for each `-e KEY` the container took from its creator's environment.
    pub extra_env: Vec<String>,
}

/// What the create command's flags say (only the ones the unit depends on).
#[derive(Default)]
struct Seen {
    detach: Option<bool>,
    name: bool,
    replace: Option<bool>,
    sdnotify: Option<String>,
    restart: Option<String>,
    env_names: Vec<String>,
}

pub fn build(input: &Input) -> Result<RunCommand, SystemdError> {
    let cmd = input.create_command;
    let verb = cmd
        .iter()
        .position(|a| a == "run" || a == "create")
        .filter(|&i| i > 0)
        .ok_or_else(|| SystemdError::BadCreateCommand {
            id: input.id.to_string(),
            command: cmd.to_vec(),
        })?;
    let rest = &cmd[verb + 1..];
    let flags_end = input
        .image_at
        .filter(|&at| at > verb)
        .map_or(rest.len(), |at| at - verb - 1);
    let (flags, positional) = rest.split_at(flags_end);
    let seen = scan(flags);
    // The create command's own words are escaped for systemd; the unit's (`%t/%n`) are not.
    let mut words = vec![super::escape::systemd_arg(input.executable)];
    words.extend(systemd_args(&cmd[1..verb]));
    words.extend(
        [
            "run",
            &format!("--cidfile={CID_FILE}"),
            "--cgroups=no-conmon",
            "--rm",
        ]
        .map(String::from),
    );
    if let Some(f) = input.pod_id_file {
        words.extend(["--pod-id-file".to_string(), f.to_string()]);
    }
    let sdnotify_ignored = seen.sdnotify.as_deref() == Some("ignore");
    if seen.sdnotify.is_none() || sdnotify_ignored {
        words.push("--sdnotify=conmon".into());
    }
    let detach = seen.detach == Some(true);
    if !detach {
        words.push("-d".into());
    }
    let add_replace = seen.name && seen.replace != Some(true);
    if add_replace {
        words.push("--replace".into());
    }
    let drop = Drop {
        pod: input.pod_id_file.is_some(),
        sdnotify: sdnotify_ignored,
        detach_false: !detach && seen.detach.is_some(),
        replace_false: add_replace && seen.replace.is_some(),
    };
    words.extend(systemd_args(&filter(flags, &drop)));
    words.extend(systemd_args(positional));
    let (restart, start_limit_burst) = restart_policy(seen.restart.as_deref());
    Ok(RunCommand {
        words,
        restart,
        start_limit_burst,
        extra_env: extra_env(&seen.env_names, input.container_env),
    })
}

/// Read the flags the unit depends on.
fn scan(flags: &[String]) -> Seen {
    let mut seen = Seen::default();
    let mut i = 0;
    while i < flags.len() {
        let arg = flags[i].as_str();
        let next = flags.get(i + 1).cloned();
        if let Some(long) = arg.strip_prefix("--") {
            let (key, inline) = match long.split_once('=') {
                Some((k, v)) => (k, Some(v.to_string())),
                None => (long, None),
            };
            let valued = ["name", "env", "sdnotify", "restart"].contains(&key);
            let value = || inline.clone().or_else(|| next.clone());
            match key {
                "detach" => seen.detach = Some(inline.as_deref() != Some("false")),
                "replace" => seen.replace = Some(inline.as_deref() != Some("false")),
                "name" => seen.name = true,
                "env" => seen.env_names.extend(value()),
                "sdnotify" => seen.sdnotify = value(),
                "restart" => seen.restart = value(),
                _ => {}
            }
            if valued && inline.is_none() {
                i += 1;
            }
        } else if let Some(shorts) = arg.strip_prefix('-') {
            if let Some(v) = shorts.strip_prefix('e') {
                seen.env_names.extend(if v.is_empty() {
                    next.clone()
                } else {
                    Some(v.to_string())
                });
                if v.is_empty() {
                    i += 1;
                }
            } else if shorts == "d=false" {
                seen.detach = Some(false);
            } else if shorts.chars().all(|c| c.is_ascii_alphabetic()) && shorts.contains('d') {
                seen.detach = Some(true);
            }
        }
        i += 1;
    }
    seen
}

/// Which flags of the create command the unit leaves out.
struct Drop {
    pod: bool,
    sdnotify: bool,
    detach_false: bool,
    replace_false: bool,
}

fn filter(flags: &[String], drop: &Drop) -> Vec<String> {
    let mut with_value = vec!["--cgroups", "--cidfile", "--restart"];
    let bare = ["--rm"];
    if drop.pod {
        with_value.extend(["--pod", "--pod-id-file", "--infra-conmon-pidfile"]);
    }
    if drop.sdnotify {
        with_value.push("--sdnotify");
    }
    let mut exact = Vec::new();
    if drop.detach_false {
        exact.extend(["-d=false", "--detach=false"]);
    }
    if drop.replace_false {
        exact.push("--replace=false");
    }
    let mut kept = Vec::new();
    let mut i = 0;
    while i < flags.len() {
        let arg = flags[i].as_str();
        let key = arg.split_once('=').map_or(arg, |(k, _)| k);
        if with_value.contains(&arg) {
            i += 2;
            continue;
        }
        if with_value.contains(&key) || bare.contains(&key) || exact.contains(&arg) {
            i += 1;
            continue;
        }
        kept.push(flags[i].clone());
        i += 1;
    }
    kept
}

/// A container's `--restart` as a unit's `Restart=` (and `StartLimitBurst=` for `on-failure:N`).
fn restart_policy(restart: Option<&str>) -> (Option<String>, Option<String>) {
    match restart {
        None | Some("") => (None, None),
        Some("unless-stopped") => (Some("always".into()), None),
        Some(p) => match p.split_once(':') {
            Some((policy, n)) => (Some(policy.to_string()), Some(n.to_string())),
            None => (Some(p.to_string()), None),
        },
    }
}

/// `-e KEY` took KEY's value from the creator's environment: the unit must set it too.
fn extra_env(names: &[String], container_env: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    for name in names.iter().filter(|n| !n.contains('=')) {
        for entry in container_env {
            if entry.split_once('=').map_or(entry.as_str(), |(k, _)| k) == name {
                out.push(super::escape::systemd_arg(entry));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &str) -> Vec<String> {
        s.split(' ').map(String::from).collect()
    }

    fn run(cmd: &str, image_at: usize) -> RunCommand {
        let cmd = words(cmd);
        build(&Input {
            id: "abc",
            create_command: &cmd,
            image_at: Some(image_at),
            executable: "/usr/bin/roost",
            pod_id_file: None,
            container_env: &["FOO=abc".into(), "BAR=my test".into(), "USER=%a".into()],
        })
        .expect("a run command")
    }

    #[test]
    fn named_container_gets_replace_and_detach() {
        let r = run("roost run --name jadda -d --hostname h img:latest cmd", 7);
        assert_eq!(
            r.words.join(" "),
            "/usr/bin/roost run --cidfile=%t/%n.ctr-id --cgroups=no-conmon --rm --sdnotify=conmon --replace --name jadda -d --hostname h img:latest cmd"
        );
        let r = run("roost run img", 2);
        assert_eq!(
            r.words.join(" "),
            "/usr/bin/roost run --cidfile=%t/%n.ctr-id --cgroups=no-conmon --rm --sdnotify=conmon -d img"
        );
    }

    #[test]
    fn drops_what_the_unit_decides() {
        // podman's goodNewWithIDFiles: the container's command keeps its own flags.
        let r = run(
            "roost run --rm --cgroups=foo --cidfile /x --restart always --detach=false img run --rm --cidfile=foo",
            9,
        );
        assert_eq!(
            r.words.join(" "),
            "/usr/bin/roost run --cidfile=%t/%n.ctr-id --cgroups=no-conmon --rm --sdnotify=conmon -d img run --rm --cidfile=foo"
        );
        assert_eq!(r.restart.as_deref(), Some("always"));
        let r = run(
            "roost --root /r container create --sdnotify=ignore --restart=on-failure:5 img",
            7,
        );
        assert_eq!(
            r.words.join(" "),
            "/usr/bin/roost --root /r container run --cidfile=%t/%n.ctr-id --cgroups=no-conmon --rm --sdnotify=conmon -d img"
        );
        assert_eq!(r.restart.as_deref(), Some("on-failure"));
        assert_eq!(r.start_limit_burst.as_deref(), Some("5"));
        let r = run(
            "roost run --sdnotify=container -dt --restart=unless-stopped img",
            5,
        );
        assert!(
            r.words
                .join(" ")
                .ends_with("--rm --sdnotify=container -dt img")
        );
        assert_eq!(r.restart.as_deref(), Some("always"));
    }

    #[test]
    fn env_from_the_environment_goes_into_the_unit() {
        let r = run("roost run --env FOO --env=BAR --env=MYENV=2 -e USER img", 8);
        assert_eq!(r.extra_env, ["FOO=abc", "\"BAR=my test\"", "USER=%%a"]);
    }

    #[test]
    fn a_command_without_run_is_refused() {
        let cmd = words("roost ps -a");
        let e = build(&Input {
            id: "abc",
            create_command: &cmd,
            image_at: None,
            executable: "/r",
            pod_id_file: None,
            container_env: &[],
        });
        assert!(matches!(e, Err(SystemdError::BadCreateCommand { .. })));
    }
}
