use super::user::tests::{GROUP, PASSWD};
use super::*;

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

fn image(entrypoint: Option<&[&str]>, cmd: Option<&[&str]>) -> ContainerConfig {
    ContainerConfig {
        entrypoint: entrypoint.map(strings),
        cmd: cmd.map(strings),
        ..Default::default()
    }
}

fn host() -> Vec<(String, String)> {
    [
        ("HOST_A", "1"),
        ("HOST_B", "2"),
        ("LANG", "C.UTF-8"),
        ("PATH", "/host/bin"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

fn run(config: &ContainerConfig, flags: &ProcessFlags) -> Result<ProcessSpec, ProcessError> {
    resolve(config, flags, &host(), Some(PASSWD), Some(GROUP))
}

fn args(config: &ContainerConfig, flags: &ProcessFlags) -> Vec<String> {
    run(config, flags).unwrap().args
}

const SH_ENTRY: &[&str] = &["/bin/sh", "-c", "exec_entry p1_entry"];
const EXEC_ENTRY: &[&str] = &["exec_entry", "p1_entry"];
const EXEC_CMD: &[&str] = &["exec_cmd", "p1_cmd"];
const SH_CMD: &[&str] = &["/bin/sh", "-c", "exec_cmd p1_cmd"];

/// The Dockerfile reference's table "how CMD and ENTRYPOINT interact" (shell forms as the builder stores
/// them). Where a shell-form ENTRYPOINT meets a CMD, the table shows the effective command; the argv
/// still carries the CMD, which `sh -c` ignores as `$0…`.
#[test]
fn dockerfile_entrypoint_cmd_matrix() {
    type Row = (
        Option<&'static [&'static str]>,
        Option<&'static [&'static str]>,
        &'static [&'static str],
    );
    let rows: &[Row] = &[
        (Some(SH_ENTRY), None, SH_ENTRY),
        (Some(EXEC_ENTRY), None, EXEC_ENTRY),
        (None, Some(EXEC_CMD), EXEC_CMD),
        (
            Some(SH_ENTRY),
            Some(EXEC_CMD),
            &["/bin/sh", "-c", "exec_entry p1_entry", "exec_cmd", "p1_cmd"],
        ),
        (
            Some(EXEC_ENTRY),
            Some(EXEC_CMD),
            &["exec_entry", "p1_entry", "exec_cmd", "p1_cmd"],
        ),
        (None, Some(SH_CMD), SH_CMD),
        (
            Some(EXEC_ENTRY),
            Some(SH_CMD),
            &["exec_entry", "p1_entry", "/bin/sh", "-c", "exec_cmd p1_cmd"],
        ),
    ];
    for (entry, cmd, want) in rows {
        assert_eq!(
            args(&image(*entry, *cmd), &ProcessFlags::default()),
            *want,
            "{entry:?} {cmd:?}"
        );
    }
    let err = run(&image(None, None), &ProcessFlags::default()).unwrap_err();
    assert!(matches!(err, ProcessError::NoCommand));
    assert_eq!(
        err.to_string(),
        "no command or entrypoint provided, and no CMD or ENTRYPOINT from image"
    );
}

#[test]
fn cli_overrides_table() {
    // (image entrypoint, image cmd, --entrypoint, command, expected argv; empty = NoCommand)
    type Row = (
        Option<&'static [&'static str]>,
        Option<&'static [&'static str]>,
        Option<&'static str>,
        &'static [&'static str],
        &'static [&'static str],
    );
    let rows: &[Row] = &[
        // command replaces Cmd, keeps the entrypoint
        (
            Some(EXEC_ENTRY),
            Some(EXEC_CMD),
            None,
            &["x", "y"],
            &["exec_entry", "p1_entry", "x", "y"],
        ),
        (None, Some(EXEC_CMD), None, &["ls", "-l"], &["ls", "-l"]),
        // --entrypoint replaces the entrypoint and drops the image's Cmd
        (
            Some(EXEC_ENTRY),
            Some(EXEC_CMD),
            Some("/bin/bash"),
            &[],
            &["/bin/bash"],
        ),
        (
            None,
            Some(EXEC_CMD),
            Some("/bin/bash"),
            &["-c", "id"],
            &["/bin/bash", "-c", "id"],
        ),
        // a string with blanks is one argument; a JSON array is split
        (None, None, Some("/bin/sh -c"), &[], &["/bin/sh -c"]),
        (
            None,
            Some(EXEC_CMD),
            Some(r#"["python3","--version"]"#),
            &[],
            &["python3", "--version"],
        ),
        (None, None, Some(r#"["a", 1]"#), &[], &[r#"["a", 1]"#]),
        // --entrypoint "" clears it (and Cmd): the command alone runs
        (
            Some(EXEC_ENTRY),
            Some(EXEC_CMD),
            Some(""),
            &["echo", "hi"],
            &["echo", "hi"],
        ),
        (Some(EXEC_ENTRY), Some(EXEC_CMD), Some(""), &[], &[]),
        (Some(EXEC_ENTRY), Some(EXEC_CMD), Some(r#"[""]"#), &[], &[]),
        // --entrypoint '[]' clears it but keeps Cmd (podman's makeCommand)
        (Some(EXEC_ENTRY), Some(EXEC_CMD), Some("[]"), &[], EXEC_CMD),
        // an image entrypoint of [""] counts as none
        (
            Some(&[""]),
            None,
            None,
            &["echo", "hello"],
            &["echo", "hello"],
        ),
        (Some(&[""]), Some(&[]), None, &[], &[]),
        (Some(&[]), Some(&[]), None, &[], &[]),
    ];
    for (entry, cmd, flag, command, want) in rows {
        let flags = ProcessFlags {
            entrypoint: flag.map(str::to_string),
            command: strings(command),
            ..Default::default()
        };
        let got = run(&image(*entry, *cmd), &flags);
        match got {
            Ok(spec) => assert_eq!(spec.args, *want, "{entry:?} {cmd:?} {flag:?} {command:?}"),
            Err(ProcessError::NoCommand) => assert!(want.is_empty(), "{flag:?} {command:?}"),
            Err(e) => panic!("{e}"),
        }
    }
}

fn env_of(config: &ContainerConfig, flags: &ProcessFlags) -> Vec<String> {
    run(config, flags).unwrap().env
}

fn with_cmd(env: &[&str]) -> ContainerConfig {
    ContainerConfig {
        cmd: Some(strings(&["sh"])),
        env: Some(strings(env)),
        ..Default::default()
    }
}

#[test]
fn default_environment() {
    let flags = ProcessFlags {
        hostname: Some("0123456789ab".into()),
        tty: true,
        ..Default::default()
    };
    assert_eq!(
        env_of(&with_cmd(&[]), &flags),
        [
            &format!("PATH={DEFAULT_PATH}"),
            "container=podman",
            "HOSTNAME=0123456789ab",
            "HOME=/root",
            "TERM=xterm",
        ]
    );
    // the image's PATH and TERM replace the defaults in place; no tty, no TERM; no hostname, no HOSTNAME
    let image = with_cmd(&["PATH=/opt/bin", "LANG=C", "TERM=vt100"]);
    assert_eq!(
        env_of(&image, &ProcessFlags::default()),
        [
            "PATH=/opt/bin",
            "container=podman",
            "HOME=/root",
            "LANG=C",
            "TERM=vt100"
        ]
    );
    assert_eq!(default_hostname("0123456789abcdef0123"), "0123456789ab");
    assert_eq!(default_hostname("abc"), "abc");
}

#[test]
fn environment_precedence_table() {
    let file = |text: &str| (PathBuf::from("/tmp/a.env"), text.to_string());
    // (flags, key, expected value or None for absent)
    let rows: Vec<(ProcessFlags, &str, Option<&str>)> = vec![
        (ProcessFlags::default(), "FOO", Some("image")),
        (
            ProcessFlags {
                env: strings(&["FOO=cli"]),
                ..Default::default()
            },
            "FOO",
            Some("cli"),
        ),
        (
            ProcessFlags {
                env_files: vec![file("FOO=file")],
                ..Default::default()
            },
            "FOO",
            Some("file"),
        ),
        (
            ProcessFlags {
                env_files: vec![file("FOO=file")],
                env: strings(&["FOO=cli"]),
                ..Default::default()
            },
            "FOO",
            Some("cli"),
        ),
        (
            ProcessFlags {
                env_files: vec![file("FOO=one"), file("FOO=two")],
                ..Default::default()
            },
            "FOO",
            Some("two"),
        ),
        (
            ProcessFlags {
                env: strings(&["FOO=a", "FOO=b"]),
                ..Default::default()
            },
            "FOO",
            Some("b"),
        ),
        // a name alone takes the host value, or leaves what was there
        (
            ProcessFlags {
                env: strings(&["HOST_A"]),
                ..Default::default()
            },
            "HOST_A",
            Some("1"),
        ),
        (
            ProcessFlags {
                env: strings(&["FOO"]),
                ..Default::default()
            },
            "FOO",
            Some("image"),
        ),
        (
            ProcessFlags {
                env_files: vec![file("HOST_B\n")],
                ..Default::default()
            },
            "HOST_B",
            Some("2"),
        ),
        (
            ProcessFlags {
                env: strings(&["HOST_*"]),
                ..Default::default()
            },
            "HOST_B",
            Some("2"),
        ),
        // --env-host comes after the image, before files and -e
        (
            ProcessFlags {
                env_host: true,
                ..Default::default()
            },
            "PATH",
            Some("/host/bin"),
        ),
        (
            ProcessFlags {
                env_host: true,
                ..Default::default()
            },
            "LANG",
            Some("C.UTF-8"),
        ),
        (
            ProcessFlags {
                env_host: true,
                env: strings(&["LANG=fr"]),
                ..Default::default()
            },
            "LANG",
            Some("fr"),
        ),
        // unsetting applies to defaults, image and host, not to files or -e
        (
            ProcessFlags {
                unset_env: strings(&["FOO"]),
                ..Default::default()
            },
            "FOO",
            None,
        ),
        (
            ProcessFlags {
                unset_env: strings(&["PATH"]),
                ..Default::default()
            },
            "PATH",
            None,
        ),
        (
            ProcessFlags {
                unset_env_all: true,
                ..Default::default()
            },
            "container",
            None,
        ),
        (
            ProcessFlags {
                unset_env_all: true,
                env: strings(&["FOO=cli"]),
                ..Default::default()
            },
            "FOO",
            Some("cli"),
        ),
        // HOME: the image's wins over passwd; unsetting it restores the passwd default; -e wins
        (ProcessFlags::default(), "HOME", Some("/image/home")),
        (
            ProcessFlags {
                unset_env: strings(&["HOME"]),
                ..Default::default()
            },
            "HOME",
            Some("/root"),
        ),
        (
            ProcessFlags {
                env: strings(&["HOME=/foo"]),
                ..Default::default()
            },
            "HOME",
            Some("/foo"),
        ),
        // HOSTNAME: the flag's unless set explicitly
        (
            ProcessFlags {
                hostname: Some("box".into()),
                ..Default::default()
            },
            "HOSTNAME",
            Some("box"),
        ),
        (
            ProcessFlags {
                hostname: Some("box".into()),
                env: strings(&["HOSTNAME=x"]),
                ..Default::default()
            },
            "HOSTNAME",
            Some("x"),
        ),
    ];
    let image = with_cmd(&["FOO=image", "HOME=/image/home", "MALFORMED"]);
    for (flags, key, want) in rows {
        let env = env_of(&image, &flags);
        let got = env.iter().find_map(|e| e.strip_prefix(&format!("{key}=")));
        assert_eq!(got, want, "{key} with {flags:?}: {env:?}");
        assert_eq!(
            env.iter()
                .filter(|e| e.starts_with(&format!("{key}=")))
                .count(),
            usize::from(want.is_some())
        );
        assert!(!env.iter().any(|e| e == "MALFORMED"));
    }
}

#[test]
fn env_errors_name_their_source() {
    let flags = ProcessFlags {
        env: strings(&["=x"]),
        ..Default::default()
    };
    let err = run(&with_cmd(&[]), &flags).unwrap_err();
    assert!(
        matches!(err, ProcessError::Env(EnvError::EmptyName(_))),
        "{err:?}"
    );
    let flags = ProcessFlags {
        env_files: vec![(PathBuf::from("/e.env"), "A=1\n=x\n".into())],
        ..Default::default()
    };
    let err = run(&with_cmd(&[]), &flags).unwrap_err();
    assert!(
        matches!(err, ProcessError::Env(EnvError::File { line: 2, .. })),
        "{err:?}"
    );
}

#[test]
fn user_table() {
    // (image User, -u, --group-add, uid, gid, additional gids, HOME)
    type Row = (
        Option<&'static str>,
        Option<&'static str>,
        &'static [&'static str],
        u32,
        u32,
        &'static [u32],
        &'static str,
    );
    let rows: &[Row] = &[
        (None, None, &[], 0, 0, &[0, 1, 2, 10], "/root"),
        (
            Some("alice"),
            None,
            &[],
            1000,
            1000,
            &[10, 50],
            "/home/alice",
        ),
        (Some("alice"), Some("bin"), &[], 1, 1, &[1, 2], "/bin"),
        (
            Some("alice"),
            Some(""),
            &[],
            1000,
            1000,
            &[10, 50],
            "/home/alice",
        ),
        (
            None,
            Some("alice:users"),
            &["wheel", "4000"],
            1000,
            100,
            &[10, 4000],
            "/home/alice",
        ),
        (
            None,
            Some("alice"),
            &["staff", "users"],
            1000,
            1000,
            &[10, 50, 100],
            "/home/alice",
        ),
        (None, Some("5000:5000"), &[], 5000, 5000, &[], "/"),
        (None, Some("5000"), &["keep-groups"], 5000, 0, &[], "/"),
        (Some("2"), None, &[], 2, 2, &[1, 2], "/sbin"),
    ];
    for (image_user, flag, group_add, uid, gid, gids, home) in rows {
        let config = ContainerConfig {
            user: image_user.map(str::to_string),
            cmd: Some(strings(&["id"])),
            ..Default::default()
        };
        let flags = ProcessFlags {
            user: flag.map(str::to_string),
            group_add: strings(group_add),
            ..Default::default()
        };
        let spec = run(&config, &flags).unwrap();
        assert_eq!(
            (spec.uid, spec.gid, spec.additional_gids.as_slice()),
            (*uid, *gid, *gids),
            "{image_user:?} {flag:?} {group_add:?}"
        );
        assert!(
            spec.env.contains(&format!("HOME={home}")),
            "{flag:?}: {:?}",
            spec.env
        );
        assert_eq!(spec.user_home.as_deref().unwrap_or("/"), *home);
    }
}

#[test]
fn user_errors() {
    let flags = ProcessFlags {
        user: Some("nobody".into()),
        ..Default::default()
    };
    let err = run(&with_cmd(&[]), &flags).unwrap_err();
    assert_eq!(
        err.to_string(),
        "unable to find user nobody: no matching entries in passwd file"
    );
    let flags = ProcessFlags {
        group_add: strings(&["ghosts"]),
        ..Default::default()
    };
    assert!(matches!(
        run(&with_cmd(&[]), &flags).unwrap_err(),
        ProcessError::User(UserError::UnknownGroup(_))
    ));
    // without an /etc/passwd only ids work
    let flags = ProcessFlags {
        user: Some("alice".into()),
        ..Default::default()
    };
    assert!(resolve(&with_cmd(&[]), &flags, &[], None, None).is_err());
    let flags = ProcessFlags {
        user: Some("1000".into()),
        ..Default::default()
    };
    let spec = resolve(&with_cmd(&[]), &flags, &[], None, None).unwrap();
    assert_eq!((spec.uid, spec.gid, spec.user_home), (1000, 0, None));
    assert!(spec.env.contains(&"HOME=/".to_string()));
}

#[test]
fn workdir_table() {
    // (image WorkingDir, -w, expected or None for an error)
    let rows = [
        (None, None, Some("/")),
        (Some(""), None, Some("/")),
        (Some("/app"), None, Some("/app")),
        (Some("app"), None, Some("/app")),
        (Some("/app"), Some("/srv"), Some("/srv")),
        (None, Some("/srv/x"), Some("/srv/x")),
        (Some("/app"), Some(""), Some("/app")),
        (None, Some("srv"), None),
        (None, Some("./srv"), None),
    ];
    for (image_dir, flag, want) in rows {
        let config = ContainerConfig {
            working_dir: image_dir.map(str::to_string),
            cmd: Some(strings(&["pwd"])),
            ..Default::default()
        };
        let flags = ProcessFlags {
            workdir: flag.map(str::to_string),
            ..Default::default()
        };
        match (run(&config, &flags), want) {
            (Ok(spec), Some(w)) => assert_eq!(spec.cwd, w),
            (Err(ProcessError::RelativeWorkdir(d)), None) => assert_eq!(Some(d.as_str()), flag),
            (got, _) => panic!("{image_dir:?} {flag:?}: {got:?}"),
        }
    }
}

#[test]
fn umask_table() {
    assert_eq!(parse_umask("0724").unwrap(), 0o724);
    assert_eq!(parse_umask("22").unwrap(), 0o022);
    assert_eq!(parse_umask("7").unwrap(), 0o7);
    for bad in ["", "8", "00022", "0x22", "-1", "u=rwx"] {
        assert!(parse_umask(bad).is_err(), "{bad:?} must be refused");
    }
}

#[test]
fn http_proxy_passes_the_callers_proxy_variables_over_the_image_under_the_flags() {
    let host: Vec<(String, String)> = [
        ("http_proxy", "http://p:3128"),
        ("NO_PROXY", "localhost"),
        ("HTTPS_PROXY", "http://host:1"),
        ("OTHER", "x"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let mut config = image(None, Some(&["sh"]));
    config.env = Some(strings(&["HTTPS_PROXY=http://image:2"]));
    let flags = ProcessFlags {
        env: strings(&["NO_PROXY=flag"]),
        http_proxy: true,
        ..ProcessFlags::default()
    };
    let env = resolve(&config, &flags, &host, Some(PASSWD), Some(GROUP))
        .unwrap()
        .env;
    assert!(env.contains(&"http_proxy=http://p:3128".to_string()));
    // podman: the caller's proxy variables win over the image's (070-build "ftp-proxy is passed
    // through"), `--env`/`--env-file` over both.
    assert!(env.contains(&"HTTPS_PROXY=http://host:1".to_string()));
    assert!(env.contains(&"NO_PROXY=flag".to_string()));
    assert!(!env.iter().any(|e| e.starts_with("OTHER=")));
    let off = ProcessFlags {
        http_proxy: false,
        ..flags
    };
    let env = resolve(&config, &off, &host, Some(PASSWD), Some(GROUP))
        .unwrap()
        .env;
    assert!(!env.iter().any(|e| e.starts_with("http_proxy=")));
}
