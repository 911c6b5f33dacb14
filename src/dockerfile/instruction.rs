//! One logical line to a typed instruction: keyword, flags, JSON (exec) or shell form.
use super::ParseError;
use super::lexer::{Heredoc, Logical};
use super::words::split_raw;

/// A process to run: exec form (`["a", "b"]`) or shell form (run with the stage's SHELL).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Exec(Vec<String>),
    Shell(String),
}

/// `ARG name[=default]`; the default is expanded when the ARG is reached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArgDecl {
    pub name: String,
    pub default: Option<String>,
    /// The line of the `ARG` instruction.
    pub line: usize,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunArgs {
    /// `--mount=…` values, unparsed (the executor parses and expands them).
    pub mounts: Vec<String>,
    pub network: Option<String>,
    pub security: Option<String>,
    pub command: Command,
    pub heredocs: Vec<Heredoc>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopyArgs {
    /// ADD rather than COPY (archives extracted, URLs fetched).
    pub add: bool,
    pub from: Option<String>,
    pub chown: Option<String>,
    pub chmod: Option<String>,
    pub link: bool,
    /// `--parents` (refused by the builder for now).
    pub parents: bool,
    pub checksum: Option<String>,
    pub excludes: Vec<String>,
    /// Sources then destination, unexpanded (quotes kept in shell form).
    pub args: Vec<String>,
    /// JSON form: each argument is a plain string.
    pub json: bool,
    pub heredocs: Vec<Heredoc>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Healthcheck {
    /// `["CMD", …]` or `["CMD-SHELL", "…"]`.
    pub test: Vec<String>,
    /// Nanoseconds, 0 = default.
    pub interval: i64,
    pub timeout: i64,
    pub start_period: i64,
    pub start_interval: i64,
    pub retries: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    From {
        base: String,
        name: Option<String>,
        platform: Option<String>,
    },
    Run(RunArgs),
    Copy(CopyArgs),
    Workdir(String),
    /// (key, value) pairs, unexpanded.
    Env(Vec<(String, String)>),
    Arg(Vec<ArgDecl>),
    Label(Vec<(String, String)>),
    Maintainer(String),
    /// Ports, unexpanded words.
    Expose(Vec<String>),
    /// Paths; JSON form or unexpanded words.
    Volume(Vec<String>),
    User(String),
    Cmd(Command),
    Entrypoint(Command),
    Shell(Vec<String>),
    StopSignal(String),
    /// `None` for `HEALTHCHECK NONE`.
    Healthcheck(Option<Healthcheck>),
    /// The trigger instruction, as written.
    Onbuild(String),
}

/// An instruction with where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instruction {
    pub line: usize,
    /// `KEYWORD rest` as written (keyword upper-cased), for progress and history.
    pub original: String,
    pub kind: Kind,
}

/// Flags as written: (name, value).
type Flags = Vec<(String, Option<String>)>;

/// `--name=value` / `--name` flags at the start of `rest`; returns them and what follows.
fn take_flags<'a>(
    rest: &'a str,
    allowed: &[&str],
    keyword: &str,
    err: &dyn Fn(String) -> ParseError,
) -> Result<(Flags, &'a str), ParseError> {
    let mut flags = Vec::new();
    let mut s = rest.trim_start();
    while let Some(body) = s.strip_prefix("--") {
        let end = body.find(char::is_whitespace).unwrap_or(body.len());
        let word = &body[..end];
        if word.is_empty() {
            break;
        }
        let (name, value) = match word.split_once('=') {
            Some((n, v)) => (n, Some(v.to_string())),
            None => (word, None),
        };
        if !allowed.contains(&name) {
            return Err(err(format!("unknown flag `--{name}` for {keyword}")));
        }
        flags.push((name.to_string(), value));
        s = body[end..].trim_start();
    }
    Ok((flags, s))
}

fn flag(flags: &[(String, Option<String>)], name: &str) -> Option<String> {
    flags
        .iter()
        .rev()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.clone().unwrap_or_default())
}

fn bool_flag(flags: &[(String, Option<String>)], name: &str) -> bool {
    flag(flags, name).is_some_and(|v| v.is_empty() || v == "true")
}

/// `["a", "b"]` when the text is a JSON array of strings.
fn json_array(s: &str) -> Option<Vec<String>> {
    let t = s.trim();
    if !t.starts_with('[') {
        return None;
    }
    serde_json::from_str::<Vec<String>>(t).ok()
}

fn command(s: &str) -> Command {
    match json_array(s) {
        Some(v) => Command::Exec(v),
        None => Command::Shell(s.to_string()),
    }
}

/// Strip one level of matching quotes (for `ENV key value`'s key and the like).
fn pairs(
    words: &[String],
    legacy_rest: &str,
    keyword: &str,
    err: &dyn Fn(String) -> ParseError,
) -> Result<Vec<(String, String)>, ParseError> {
    if words.is_empty() {
        return Err(err(format!("{keyword} requires at least one argument")));
    }
    if !words[0].contains('=') {
        // Legacy `ENV key value…`: one pair, the value is the rest of the line.
        let value = legacy_rest
            .trim_start()
            .strip_prefix(words[0].as_str())
            .unwrap_or("")
            .trim();
        if keyword == "ENV" && value.is_empty() {
            return Err(err(format!(
                "{keyword} names `{}` without a value: use `{keyword} {}=VALUE`",
                words[0], words[0]
            )));
        }
        return Ok(vec![(words[0].clone(), value.to_string())]);
    }
    words
        .iter()
        .map(|w| match w.split_once('=') {
            Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
            _ => Err(err(format!(
                "{keyword} `{w}`: expected KEY=VALUE (all pairs in one instruction need `=`)"
            ))),
        })
        .collect()
}

/// Go's duration syntax (`30s`, `1m30s`, `1.5s`, `100ms`), in nanoseconds.
pub fn parse_duration(s: &str) -> Option<i64> {
    if s == "0" {
        return Some(0);
    }
    let mut total = 0f64;
    let mut rest = s;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let n = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let num: f64 = rest[..n].parse().ok()?;
        rest = &rest[n..];
        let u = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let mult = match &rest[..u] {
            "ns" => 1.0,
            "us" | "µs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return None,
        };
        total += num * mult;
        rest = &rest[u..];
    }
    Some(total as i64)
}

/// Parse one logical line.
pub fn parse_instruction(l: &Logical, escape: char, file: &str) -> Result<Instruction, ParseError> {
    let keyword = l.keyword.to_ascii_uppercase();
    let err = |what: String| ParseError::new(file, l.line, what);
    let rest = l.rest.as_str();
    let original = if rest.is_empty() {
        keyword.clone()
    } else {
        format!("{keyword} {rest}")
    };
    let need_args = |what: &str| {
        if rest.trim().is_empty() {
            Err(err(format!("{keyword} requires {what}")))
        } else {
            Ok(())
        }
    };
    let kind = match keyword.as_str() {
        "FROM" => from(rest, escape, &err)?,
        "RUN" => run(l, rest, &err)?,
        "COPY" | "ADD" => copy(l, &keyword, rest, escape, &err)?,
        "WORKDIR" => {
            need_args("a path")?;
            Kind::Workdir(rest.trim().to_string())
        }
        "ENV" => Kind::Env(pairs(&split_raw(rest, escape), rest, "ENV", &err)?),
        "LABEL" => Kind::Label(pairs(&split_raw(rest, escape), rest, "LABEL", &err)?),
        "ARG" => arg(l, rest, escape, &err)?,
        "MAINTAINER" => {
            need_args("a name")?;
            Kind::Maintainer(rest.trim().to_string())
        }
        "EXPOSE" => {
            need_args("at least one port")?;
            Kind::Expose(split_raw(rest, escape))
        }
        "VOLUME" => {
            need_args("at least one path")?;
            Kind::Volume(json_array(rest).unwrap_or_else(|| split_raw(rest, escape)))
        }
        "USER" => {
            need_args("a user")?;
            Kind::User(rest.trim().to_string())
        }
        "CMD" => Kind::Cmd(command(rest)),
        "ENTRYPOINT" => Kind::Entrypoint(command(rest)),
        "SHELL" => match json_array(rest) {
            Some(v) if !v.is_empty() => Kind::Shell(v),
            _ => {
                return Err(err(
                    "SHELL requires the JSON form, e.g. SHELL [\"/bin/sh\", \"-c\"]".into(),
                ));
            }
        },
        "STOPSIGNAL" => {
            need_args("a signal")?;
            Kind::StopSignal(rest.trim().to_string())
        }
        "HEALTHCHECK" => healthcheck(rest, &err)?,
        "ONBUILD" => onbuild(l, rest, escape, file, &err)?,
        _ => return Err(err(format!("unknown instruction `{}`", l.keyword))),
    };
    Ok(Instruction {
        line: l.line,
        original,
        kind,
    })
}

type ErrFn<'a> = &'a dyn Fn(String) -> ParseError;

/// `FROM [--platform=P] IMAGE [AS NAME]`.
fn from(rest: &str, escape: char, err: ErrFn) -> Result<Kind, ParseError> {
    let (flags, body) = take_flags(rest, &["platform"], "FROM", err)?;
    let w = split_raw(body, escape);
    let (base, name) = match w.as_slice() {
        [b] => (b.clone(), None),
        [b, as_, n] if as_.eq_ignore_ascii_case("as") => {
            let n = n.to_ascii_lowercase();
            let ok = n.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
                && n.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
            if !ok {
                return Err(err(format!("invalid stage name `{n}`")));
            }
            (b.clone(), Some(n))
        }
        _ => {
            return Err(err(
                "FROM requires one argument: FROM [--platform=P] IMAGE [AS NAME]".into(),
            ));
        }
    };
    Ok(Kind::From {
        base,
        name,
        platform: flag(&flags, "platform"),
    })
}

/// `RUN [--mount=…] [--network=…] [--security=…] COMMAND`.
fn run(l: &Logical, rest: &str, err: ErrFn) -> Result<Kind, ParseError> {
    let (flags, body) = take_flags(rest, &["mount", "network", "security"], "RUN", err)?;
    if body.trim().is_empty() {
        return Err(err("RUN requires a command".into()));
    }
    Ok(Kind::Run(RunArgs {
        mounts: flags
            .iter()
            .filter(|(n, _)| n == "mount")
            .map(|(_, v)| v.clone().unwrap_or_default())
            .collect(),
        network: flag(&flags, "network"),
        security: flag(&flags, "security"),
        command: command(body),
        heredocs: l.heredocs.clone(),
    }))
}

/// `COPY`/`ADD [flags] SRC... DEST`, in the shell or the JSON form.
fn copy(
    l: &Logical,
    keyword: &str,
    rest: &str,
    escape: char,
    err: ErrFn,
) -> Result<Kind, ParseError> {
    let add = keyword == "ADD";
    let allowed: &[&str] = if add {
        &[
            "chown",
            "chmod",
            "link",
            "checksum",
            "keep-git-dir",
            "exclude",
        ]
    } else {
        &["from", "chown", "chmod", "link", "parents", "exclude"]
    };
    let (flags, body) = take_flags(rest, allowed, keyword, err)?;
    let (args, json) = match json_array(body) {
        Some(v) => (v, true),
        None => (split_raw(body, escape), false),
    };
    if args.len() < 2 {
        return Err(err(format!(
            "{keyword} requires at least two arguments: a source and a destination"
        )));
    }
    Ok(Kind::Copy(CopyArgs {
        add,
        from: flag(&flags, "from"),
        chown: flag(&flags, "chown"),
        chmod: flag(&flags, "chmod"),
        link: bool_flag(&flags, "link"),
        parents: bool_flag(&flags, "parents"),
        checksum: flag(&flags, "checksum"),
        excludes: flags
            .iter()
            .filter(|(n, _)| n == "exclude")
            .map(|(_, v)| v.clone().unwrap_or_default())
            .collect(),
        args,
        json,
        heredocs: l.heredocs.clone(),
    }))
}

/// `ARG NAME[=DEFAULT]...`.
fn arg(l: &Logical, rest: &str, escape: char, err: ErrFn) -> Result<Kind, ParseError> {
    let words = split_raw(rest, escape);
    if words.is_empty() {
        return Err(err("ARG requires a name: ARG NAME[=DEFAULT]".into()));
    }
    let decls = words
        .iter()
        .map(|w| {
            let (name, default) = match w.split_once('=') {
                Some((n, d)) => (n.to_string(), Some(d.to_string())),
                None => (w.clone(), None),
            };
            if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return Err(err(format!("invalid ARG name `{name}`")));
            }
            Ok(ArgDecl {
                name,
                default,
                line: l.line,
            })
        })
        .collect::<Result<_, _>>()?;
    Ok(Kind::Arg(decls))
}

/// `ONBUILD INSTRUCTION`: the trigger is parsed now (and must be allowed), kept as text.
fn onbuild(
    l: &Logical,
    rest: &str,
    escape: char,
    file: &str,
    err: ErrFn,
) -> Result<Kind, ParseError> {
    let inner = Logical {
        line: l.line,
        keyword: rest.split_whitespace().next().unwrap_or("").to_string(),
        rest: rest
            .trim()
            .split_once(char::is_whitespace)
            .map(|(_, r)| r.trim().to_string())
            .unwrap_or_default(),
        heredocs: vec![],
    };
    if inner.keyword.is_empty() {
        return Err(err("ONBUILD requires an instruction".into()));
    }
    let up = inner.keyword.to_ascii_uppercase();
    if matches!(up.as_str(), "ONBUILD" | "FROM" | "MAINTAINER") {
        return Err(err(format!("{up} isn't allowed as an ONBUILD trigger")));
    }
    parse_instruction(&inner, escape, file)?;
    Ok(Kind::Onbuild(
        format!("{up} {}", inner.rest).trim().to_string(),
    ))
}

fn healthcheck(rest: &str, err: &dyn Fn(String) -> ParseError) -> Result<Kind, ParseError> {
    let (flags, body) = take_flags(
        rest,
        &[
            "interval",
            "timeout",
            "start-period",
            "start-interval",
            "retries",
        ],
        "HEALTHCHECK",
        err,
    )?;
    let body = body.trim();
    let (word, cmd) = body
        .split_once(char::is_whitespace)
        .map(|(a, b)| (a, b.trim()))
        .unwrap_or((body, ""));
    if word.eq_ignore_ascii_case("NONE") {
        if !flags.is_empty() || !cmd.is_empty() {
            return Err(err("HEALTHCHECK NONE takes no options or arguments".into()));
        }
        return Ok(Kind::Healthcheck(None));
    }
    if !word.eq_ignore_ascii_case("CMD") || cmd.is_empty() {
        return Err(err(
            "HEALTHCHECK requires `NONE` or `CMD command` after its options".into(),
        ));
    }
    let test = match command(cmd) {
        Command::Exec(v) => std::iter::once("CMD".to_string()).chain(v).collect(),
        Command::Shell(s) => vec!["CMD-SHELL".to_string(), s],
    };
    let dur = |name: &str| -> Result<i64, ParseError> {
        match flag(&flags, name) {
            None => Ok(0),
            Some(v) => parse_duration(&v)
                .ok_or_else(|| err(format!("HEALTHCHECK --{name}: invalid duration `{v}`"))),
        }
    };
    let retries = match flag(&flags, "retries") {
        None => 0,
        Some(v) => v
            .parse::<i64>()
            .ok()
            .filter(|n| *n >= 0)
            .ok_or_else(|| err(format!("HEALTHCHECK --retries: invalid number `{v}`")))?,
    };
    Ok(Kind::Healthcheck(Some(Healthcheck {
        test,
        interval: dur("interval")?,
        timeout: dur("timeout")?,
        start_period: dur("start-period")?,
        start_interval: dur("start-interval")?,
        retries,
    })))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(line: &str) -> Result<Kind, ParseError> {
        let df = super::super::lexer::lex(line, "Dockerfile")?;
        parse_instruction(&df.lines[0], '\\', "Dockerfile").map(|i| i.kind)
    }

    #[test]
    fn run_forms_and_flags() {
        assert_eq!(
            one("RUN echo hi").unwrap(),
            Kind::Run(RunArgs {
                mounts: vec![],
                network: None,
                security: None,
                command: Command::Shell("echo hi".into()),
                heredocs: vec![],
            })
        );
        let Kind::Run(r) =
            one("run --mount=type=cache,target=/c --network=none [\"/bin/echo\", \"a b\"]")
                .unwrap()
        else {
            panic!()
        };
        assert_eq!(r.mounts, ["type=cache,target=/c"]);
        assert_eq!(r.network.as_deref(), Some("none"));
        assert_eq!(
            r.command,
            Command::Exec(vec!["/bin/echo".into(), "a b".into()])
        );
        // Not valid JSON: shell form.
        let Kind::Run(r) = one("RUN [not json").unwrap() else {
            panic!()
        };
        assert_eq!(r.command, Command::Shell("[not json".into()));
        assert!(one("RUN --bogus=1 x").unwrap_err().what.contains("--bogus"));
        assert!(one("RUN").is_err());
    }

    #[test]
    fn copy_and_add() {
        let Kind::Copy(c) =
            one("COPY --from=build --chown=1:2 --chmod=644 --link a \"b c\" /dst/").unwrap()
        else {
            panic!()
        };
        assert_eq!(c.from.as_deref(), Some("build"));
        assert_eq!(c.chown.as_deref(), Some("1:2"));
        assert_eq!(c.chmod.as_deref(), Some("644"));
        assert!(c.link && !c.add && !c.json);
        assert_eq!(c.args, ["a", "\"b c\"", "/dst/"]);
        let Kind::Copy(c) = one("ADD --checksum=sha256:abc [\"http://x/y\", \"/y\"]").unwrap()
        else {
            panic!()
        };
        assert!(c.add && c.json);
        assert_eq!(c.checksum.as_deref(), Some("sha256:abc"));
        assert!(one("COPY onlyone").is_err());
        assert!(one("ADD --from=x a b").is_err());
    }

    #[test]
    fn env_and_label_syntaxes() {
        assert_eq!(
            one("ENV A=1 B=\"two words\"").unwrap(),
            Kind::Env(vec![
                ("A".into(), "1".into()),
                ("B".into(), "\"two words\"".into())
            ])
        );
        assert_eq!(
            one("ENV A one two  three").unwrap(),
            Kind::Env(vec![("A".into(), "one two  three".into())])
        );
        assert!(one("ENV A").is_err());
        assert!(one("ENV A=1 B").is_err());
        assert_eq!(
            one("LABEL \"com.x\"=y z=").unwrap(),
            Kind::Label(vec![
                ("\"com.x\"".into(), "y".into()),
                ("z".into(), "".into())
            ])
        );
    }

    #[test]
    fn args() {
        assert_eq!(
            one("ARG A B=2").unwrap(),
            Kind::Arg(vec![
                ArgDecl {
                    name: "A".into(),
                    default: None,
                    line: 1
                },
                ArgDecl {
                    name: "B".into(),
                    default: Some("2".into()),
                    line: 1
                }
            ])
        );
        assert!(one("ARG").is_err());
        assert!(one("ARG a-b").is_err());
    }

    #[test]
    fn metadata() {
        assert_eq!(
            one("CMD [\"sh\"]").unwrap(),
            Kind::Cmd(Command::Exec(vec!["sh".into()]))
        );
        assert_eq!(
            one("ENTRYPOINT top -b").unwrap(),
            Kind::Entrypoint(Command::Shell("top -b".into()))
        );
        assert_eq!(
            one("SHELL [\"/bin/bash\", \"-c\"]").unwrap(),
            Kind::Shell(vec!["/bin/bash".into(), "-c".into()])
        );
        assert!(one("SHELL /bin/bash").is_err());
        assert_eq!(
            one("EXPOSE 80 443/tcp").unwrap(),
            Kind::Expose(vec!["80".into(), "443/tcp".into()])
        );
        assert_eq!(
            one("VOLUME [\"/a\", \"/b\"]").unwrap(),
            Kind::Volume(vec!["/a".into(), "/b".into()])
        );
        assert_eq!(
            one("VOLUME /a /b").unwrap(),
            Kind::Volume(vec!["/a".into(), "/b".into()])
        );
        assert_eq!(
            one("STOPSIGNAL SIGKILL").unwrap(),
            Kind::StopSignal("SIGKILL".into())
        );
        assert_eq!(
            one("MAINTAINER me <me@x>").unwrap(),
            Kind::Maintainer("me <me@x>".into())
        );
        assert_eq!(
            one("USER 1000:1000").unwrap(),
            Kind::User("1000:1000".into())
        );
        assert_eq!(one("WORKDIR /a b").unwrap(), Kind::Workdir("/a b".into()));
    }

    #[test]
    fn healthcheck_forms() {
        assert_eq!(one("HEALTHCHECK NONE").unwrap(), Kind::Healthcheck(None));
        let Kind::Healthcheck(Some(h)) =
            one("HEALTHCHECK --interval=5s --retries=3 CMD wget -q localhost").unwrap()
        else {
            panic!()
        };
        assert_eq!(h.test, ["CMD-SHELL", "wget -q localhost"]);
        assert_eq!(h.interval, 5_000_000_000);
        assert_eq!(h.retries, 3);
        let Kind::Healthcheck(Some(h)) = one("HEALTHCHECK CMD [\"true\"]").unwrap() else {
            panic!()
        };
        assert_eq!(h.test, ["CMD", "true"]);
        assert!(one("HEALTHCHECK --interval=5x CMD true").is_err());
        assert!(one("HEALTHCHECK true").is_err());
    }

    #[test]
    fn onbuild() {
        assert_eq!(
            one("ONBUILD run echo hi").unwrap(),
            Kind::Onbuild("RUN echo hi".into())
        );
        assert!(one("ONBUILD FROM x").is_err());
        assert!(one("ONBUILD ONBUILD RUN x").is_err());
        assert!(one("ONBUILD NOPE x").is_err());
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("1m30s"), Some(90_000_000_000));
        assert_eq!(parse_duration("1.5s"), Some(1_500_000_000));
        assert_eq!(parse_duration("100ms"), Some(100_000_000));
        assert_eq!(parse_duration("0"), Some(0));
        assert_eq!(parse_duration("5"), None);
        assert_eq!(parse_duration(""), None);
    }
}
