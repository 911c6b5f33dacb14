//! The top-level error: every failure a command can end with, its exit status and a hint.
use crate::cli::format::FormatError;
use crate::engine::EngineError;
use crate::paths::PathsError;
use crate::userns::UsernsError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Engine(#[from] EngineError),
    /// `start` failed to start a container: podman's 125 whatever the cause (a command that is not
    /// found is 127 only for `run`).
    #[error(transparent)]
    Start(EngineError),
    #[error(transparent)]
    Paths(#[from] PathsError),
    #[error(transparent)]
    Userns(#[from] UsernsError),
    #[error(transparent)]
    Format(Box<FormatError>),
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error(transparent)]
    Registry(#[from] crate::registry::RegistryError),
    #[error(transparent)]
    Auth(#[from] crate::registry::AuthError),
    #[error(transparent)]
    Conf(#[from] crate::registry::ConfError),
    #[error(transparent)]
    Compose(#[from] crate::cli::compose::ComposeError),
    #[error("{0}")]
    Usage(String),
    /// A command line the parser rejected (an unknown flag, a missing value), with the command
    /// whose help to see (podman's `See 'podman run --help'`).
    #[error("{message}")]
    Flags { message: String, command: String },
    #[error("failed to {op}")]
    Io {
        op: String,
        #[source]
        source: std::io::Error,
    },
    /// A command that failed in a way it already reported (bulk commands); carries the exit status.
    #[error("")]
    Reported(i32),
}

impl From<FormatError> for Error {
    fn from(e: FormatError) -> Self {
        Error::Format(Box::new(e))
    }
}

impl Error {
    pub fn io(op: impl Into<String>, source: std::io::Error) -> Error {
        Error::Io {
            op: op.into(),
            source,
        }
    }

    /// podman's exit statuses: 125 for engine and usage errors.
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Engine(e) => e.exit_code(),
            Error::Reported(code) => *code,
            _ => 125,
        }
    }

    /// What the user can do about it.
    pub fn hint(&self) -> Option<String> {
        match self {
            Error::Engine(e) | Error::Start(e) => e.hint(),
            Error::Userns(e) => e.hint(),
            Error::Paths(e) => e.hint(),
            Error::Registry(e) => e.hint(),
            Error::Compose(e) => e.hint(),
            _ => None,
        }
    }

    /// The line printed after the error: podman's `See 'CMD --help'` for a rejected command line,
    /// otherwise `Hint: …` when there is a hint.
    pub fn footer(&self) -> Option<String> {
        match self {
            Error::Flags { command, .. } => Some(format!("See '{command} --help'")),
            _ => self.hint().map(|h| format!("Hint: {h}")),
        }
    }

    /// The message with its chain of causes, `: `-separated (podman's style).
    pub fn chain(&self) -> String {
        let mut out = self.to_string();
        let mut src = std::error::Error::source(self);
        // A transparent wrapper's source is the wrapped error's source: skip repeats.
        while let Some(s) = src {
            let text = s.to_string();
            if !text.is_empty() && !out.contains(&text) {
                out.push_str(": ");
                out.push_str(&text);
            }
            src = s.source();
        }
        out
    }
}
