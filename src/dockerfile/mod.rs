//! The Dockerfile/Containerfile language, parsed (pure: no file system, no environment). Execution
//! lives in `engine::build`; variables are expanded there with [`words::expand`], since their values
//! are only known while building.
#![deny(clippy::print_stdout, clippy::print_stderr)]

mod instruction;
pub mod lexer;
pub mod words;

pub use instruction::{
    ArgDecl, Command, CopyArgs, Healthcheck, Instruction, Kind, RunArgs, parse_instruction,
};

/// A parse error, with the file and line it is about (`Dockerfile:3: unknown instruction`). What it
/// quotes from the file is escaped and cut (a line may be megabytes long).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}: {what}")]
pub struct ParseError {
    pub file: String,
    pub line: usize,
    pub what: String,
}

impl ParseError {
    pub fn new(file: &str, line: usize, what: impl Into<String>) -> ParseError {
        ParseError {
            file: file.to_string(),
            line,
            what: crate::oci::printable(&what.into(), 2 * crate::oci::QUOTE_LIMIT),
        }
    }
}

/// A parsed Dockerfile: the ARGs before the first FROM and the stages.
#[derive(Debug, Clone)]
pub struct Dockerfile {
    /// The name errors use (`Dockerfile`, `Containerfile`, …).
    pub file: String,
    pub escape: char,
    /// `ARG`s before the first `FROM` (usable in `FROM` lines only, unless redeclared in a stage).
    pub meta_args: Vec<ArgDecl>,
    pub stages: Vec<Stage>,
}

/// One `FROM` and what follows it up to the next `FROM`.
#[derive(Debug, Clone)]
pub struct Stage {
    pub line: usize,
    /// The `FROM` line as written (after the keyword).
    pub original: String,
    /// The image (unexpanded), a stage name, or `scratch`.
    pub base: String,
    /// `AS name`, lowercased (names are case-insensitive).
    pub name: Option<String>,
    /// `--platform`, unexpanded.
    pub platform: Option<String>,
    pub instructions: Vec<Instruction>,
}

impl Dockerfile {
    /// The stage named `name` (case-insensitive) or with that index.
    pub fn stage_index(&self, name: &str) -> Option<usize> {
        let lower = name.to_ascii_lowercase();
        self.stages
            .iter()
            .position(|s| s.name.as_deref() == Some(lower.as_str()))
            .or_else(|| {
                name.parse::<usize>()
                    .ok()
                    .filter(|i| *i < self.stages.len())
            })
    }
}

/// Parse a Dockerfile. `file` is the name used in error messages.
pub fn parse(text: &str, file: &str) -> Result<Dockerfile, ParseError> {
    let lexed = lexer::lex(text, file)?;
    let mut meta_args = Vec::new();
    let mut stages: Vec<Stage> = Vec::new();
    for l in &lexed.lines {
        let inst = parse_instruction(l, lexed.escape, file)?;
        match inst.kind {
            Kind::From {
                base,
                name,
                platform,
            } => {
                if let Some(n) = &name
                    && stages.iter().any(|s| s.name.as_ref() == Some(n))
                {
                    return Err(ParseError::new(
                        file,
                        l.line,
                        format!("duplicate stage name `{n}`"),
                    ));
                }
                stages.push(Stage {
                    line: l.line,
                    original: inst.original,
                    base,
                    name,
                    platform,
                    instructions: Vec::new(),
                });
            }
            Kind::Arg(decls) if stages.is_empty() => meta_args.extend(decls),
            _ => match stages.last_mut() {
                Some(s) => s.instructions.push(inst),
                None => {
                    return Err(ParseError::new(
                        file,
                        l.line,
                        format!(
                            "no FROM before `{}`: a Dockerfile must begin with FROM (ARG may come first)",
                            l.keyword
                        ),
                    ));
                }
            },
        }
    }
    if stages.is_empty() {
        return Err(ParseError::new(
            file,
            lexed.lines.last().map_or(1, |l| l.line),
            "no FROM instruction: the file has no build stage",
        ));
    }
    Ok(Dockerfile {
        file: file.to_string(),
        escape: lexed.escape,
        meta_args,
        stages,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stages_and_meta_args() {
        let df = parse(
            "ARG BASE=busybox\nFROM $BASE AS Build\nRUN echo hi > /x\nFROM --platform=linux/amd64 busybox\nCOPY --from=build /x /x\n",
            "Dockerfile",
        )
        .unwrap();
        assert_eq!(df.meta_args.len(), 1);
        assert_eq!(df.meta_args[0].name, "BASE");
        assert_eq!(df.stages.len(), 2);
        assert_eq!(df.stages[0].name.as_deref(), Some("build"));
        assert_eq!(df.stages[0].base, "$BASE");
        assert_eq!(df.stages[1].platform.as_deref(), Some("linux/amd64"));
        assert_eq!(df.stage_index("BUILD"), Some(0));
        assert_eq!(df.stage_index("1"), Some(1));
        assert_eq!(df.stage_index("2"), None);
    }

    #[test]
    fn errors_name_the_line() {
        let e = parse("FROM x\n\nFOO bar\n", "Containerfile").unwrap_err();
        assert_eq!(e.to_string(), "Containerfile:3: unknown instruction `FOO`");
        let e = parse("RUN x\n", "Dockerfile").unwrap_err();
        assert_eq!(e.line, 1);
        let e = parse("# only a comment\n", "Dockerfile").unwrap_err();
        assert!(e.what.contains("no FROM"), "{e}");
        let e = parse("FROM a AS x\nFROM b AS X\n", "Dockerfile").unwrap_err();
        assert_eq!(e.line, 2);
    }

    mod properties {
        use proptest::prelude::*;

        use super::super::parse;

        /// Containerfile-shaped text: keywords, flags, quotes, escapes, heredocs, continuations.
        fn containerfile() -> impl Strategy<Value = String> {
            let token = prop_oneof![
                "(FROM|RUN|CMD|LABEL|EXPOSE|ENV|ADD|COPY|ENTRYPOINT|VOLUME|USER|WORKDIR|ARG|ONBUILD|STOPSIGNAL|HEALTHCHECK|SHELL|MAINTAINER|from|Run|BOGUS) ",
                Just("\n".to_string()),
                Just("\\\n".to_string()),
                Just("`\n".to_string()),
                Just("# escape=`\n".to_string()),
                Just("# syntax=x\n".to_string()),
                Just("<<EOF\nx\nEOF\n".to_string()),
                Just("<<-'E'\n".to_string()),
                Just("[\"a\", \"b\"]".to_string()),
                Just("[".to_string()),
                Just("\"".to_string()),
                Just("'".to_string()),
                Just("=".to_string()),
                Just(" AS ".to_string()),
                Just("--from=".to_string()),
                Just("--mount=type=cache,target=/x ".to_string()),
                Just("--platform=$P ".to_string()),
                Just("--interval=5s ".to_string()),
                Just("CMD ".to_string()),
                Just("NONE".to_string()),
                Just("${A:-${B}}".to_string()),
                "[ -~]{0,12}",
                "\\PC{0,4}",
            ];
            proptest::collection::vec(token, 0..40).prop_map(|t| t.concat())
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(1000))]

            /// Any text parses or fails with a short, printable message naming the file.
            #[test]
            fn any_text_parses_or_fails_cleanly(text in prop_oneof![containerfile(), "\\PC{0,400}"]) {
                if let Err(e) = parse(&text, "Containerfile") {
                    let msg = e.to_string();
                    prop_assert!(msg.starts_with("Containerfile:"), "{}", msg);
                    prop_assert!(msg.chars().count() < 1000, "{}", msg.len());
                    prop_assert!(!msg.chars().any(char::is_control), "{:?}", msg);
                }
            }
        }
    }
}
