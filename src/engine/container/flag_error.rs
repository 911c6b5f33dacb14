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
    /// podman's wording (Go's `time.LoadLocation`).
    #[error("finding timezone: unknown time zone {0}")]
    Timezone(String),
    #[error("invalid --device `{value}`: {why}")]
    Device { value: String, why: String },
    #[error("invalid umask `{0}`: use up to four octal digits, e.g. 0027")]
    Umask(String),
    #[error("valid signals are 1 through 64")]
    SignalRange,
    #[error(
        "container {0} is not allowed: non-shareable IPC (hint: use IpcMode:shareable for the donor container)"
    )]
    IpcNotShareable(String),
    #[error(
        "cannot join the {ns} namespace of container {container}: it is not running (start it first)"
    )]
    DonorNotRunning { ns: &'static str, container: String },
    #[error("invalid {flag} `{value}`: use host, private or container:NAME{}", if *.shareable { " (or shareable, none)" } else { "" })]
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
    #[error("invalid log driver `{0}`: use k8s-file, journald, passthrough or none")]
    LogDriver(String),
    #[error(
        "the journald log driver needs the systemd journal, and there is none here (no journald listening on `{0}`)"
    )]
    NoJournal(String),
    #[error(
        "the passthrough log driver cannot be used with --tty: the container's output is the caller's stdout and stderr"
    )]
    PassthroughTty,
    #[error("invalid max-size `{0}`: use e.g. 10mb, 512k or 4096")]
    MaxSize(String),
    #[error("invalid restart policy `{0}`: use no, on-failure[:N], always or unless-stopped")]
    Restart(String),
    #[error(
        "invalid detach keys `{0}`: use single characters or ctrl-<a-z, @, [, \\, ], ^ or _>, separated by commas"
    )]
    DetachKeys(String),
    #[error("--rootfs `{}`: {why}", .path.display())]
    Rootfs {
        path: std::path::PathBuf,
        why: String,
    },
}
