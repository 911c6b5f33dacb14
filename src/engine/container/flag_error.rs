//! What can be wrong with the flags of `create`/`run` that the container itself checks (name,
//! signals, namespaces, user namespace, seccomp profile, log options), each naming the flag or value.
use crate::runtime::security::profile::ProfileError;
use crate::runtime::security::seccomp::SeccompError;

#[derive(Debug, thiserror::Error)]
pub enum FlagError {
    #[error("names must match [a-zA-Z0-9][a-zA-Z0-9_.-]*: invalid argument `{0}`")]
    Name(String),
    /// podman's (docker's `ParseSignal`) wording.
    #[error("invalid signal: {0}")]
    Signal(String),
    #[error("valid signals are 1 through 64")]
    SignalRange,
    #[error(
        "{flag} `{value}`: joining another container's namespace is not supported; use host or private"
    )]
    JoinNamespace { flag: String, value: String },
    #[error("invalid {flag} `{value}`: use host or private{}", if *.shareable { " (or shareable, none)" } else { "" })]
    Namespace {
        flag: String,
        value: String,
        shareable: bool,
    },
    #[error(transparent)]
    Userns(#[from] super::idmap::IdMapError),
    #[error(transparent)]
    SeccompProfile(#[from] ProfileError),
    #[error(transparent)]
    Seccomp(#[from] SeccompError),
    #[error("invalid log option `{0}`: expected NAME=VALUE")]
    LogOptSyntax(String),
    #[error("invalid log option `{0}`: the path must be absolute")]
    LogPath(String),
    #[error("invalid log option `{0}`: supported are max-size, path and tag")]
    LogOptKey(String),
    #[error("invalid max-size `{0}`: use e.g. 10mb, 512k or 4096")]
    MaxSize(String),
    #[error("invalid restart policy `{0}`: use no, on-failure[:N], always or unless-stopped")]
    Restart(String),
    #[error(
        "invalid detach keys `{0}`: use single characters or ctrl-<a-z, @, [, \\, ], ^ or _>, separated by commas"
    )]
    DetachKeys(String),
}
