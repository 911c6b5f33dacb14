//! What keeps an operation on a container (`exec`, `kill`, `attach`, `rm`, `top`, `mount`, a start
//! through the monitor) from being done, each naming the container or the value at fault.
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum OpError {
    #[error(
        "cannot commit container {container}: its root is the directory `{}` (--rootfs), not an image's layers; use `roost export` or `roost import` instead", dir.display()
    )]
    CommitRootfs { container: String, dir: PathBuf },
    #[error("invalid --sysctl `{0}`: use KEY=VALUE (e.g. net.ipv4.ip_forward=1)")]
    SysctlFormat(String),
    #[error(
        "--sysctl `{0}` is not allowed: a container may set net.*, fs.mqueue.*, kernel.msgmax, kernel.msgmnb, kernel.msgmni, kernel.sem, kernel.shmall, kernel.shmmax, kernel.shmmni and kernel.shm_rmid_forced"
    )]
    SysctlNotNamespaced(String),
    #[error("--sysctl `{key}` is not allowed with --{ns}=host: it would change the host's setting")]
    SysctlHostNamespace { key: String, ns: &'static str },
    #[error(
        "container {0} is running or paused, refusing to clean up (stop it first, or `rm -f` it): container state improper"
    )]
    CleanupRunning(String),
    #[error(
        "exec session {session} of container {container} is still running: it is cleaned up once it ends"
    )]
    ExecSessionRunning { session: String, container: String },
    #[error("container {container} has no exec session {session}: no such exec session")]
    NoExecSession { session: String, container: String },
    #[error("exec requires the name or ID of a container and a command to run")]
    ExecNoCommand,
    #[error(
        "file descriptor {0} is not available - the preserve-fds option requires that all file descriptors must be passed"
    )]
    PreserveFd(i32),
    #[error(
        "cannot run command \"{program} {command}\" in rootless mode, must execute `{program} unshare` first"
    )]
    NeedsUnshare {
        program: &'static str,
        command: String,
    },
    #[error("the container monitor exited before the container started")]
    MonitorExited,
    #[error(
        "container {container} has dependent containers which must be removed before it: {dependents}: container already exists"
    )]
    HasDependents {
        container: String,
        dependents: String,
    },
    #[error(
        "can only kill running containers. {container} is in state {state}: container state improper"
    )]
    KillNotRunning {
        container: String,
        state: &'static str,
    },
    #[error("invalid signal {0}")]
    SignalNumber(i32),
    #[error("'{0}': unknown descriptor")]
    TopDescriptor(String),
    #[error("ps(1) argument `{0}`: {1}")]
    TopPsArgument(String, String),
    #[error("ps(1) in container {container} {}: {output}", match .status { Some(s) => format!("exited with status {s}"), None => "timed out".to_string() })]
    TopPs {
        container: String,
        status: Option<i32>,
        output: String,
    },
    #[error("you can only attach to running containers: {container} is in state {state}")]
    AttachNotRunning {
        container: String,
        state: &'static str,
    },
    #[error("--health-on-failure={action} failed for container {container}")]
    HealthOnFailure {
        action: &'static str,
        container: String,
    },
    /// A `--cidfile` that cannot be read (podman's words, which scripts match).
    #[error("reading CIDFile: open {}: {why}", path.display())]
    CidFile { path: PathBuf, why: String },
}

#[cfg(test)]
mod tests {
    use crate::engine::EngineError;
    use crate::engine::build::BuildError;
    use crate::engine::container::resources::ResourceError;
    use crate::engine::container::{FlagError, OpError};
    use crate::engine::image::ImageError;
    use crate::engine::network::NetFlagError;

    /// The typed errors that replaced `EngineError::Invalid(String)` say what it said, exit 125.
    #[test]
    fn typed_errors_keep_their_words_and_exit_code() {
        let cases: Vec<(EngineError, &str)> = vec![
            (
                OpError::KillNotRunning {
                    container: "abc".into(),
                    state: "exited",
                }
                .into(),
                "can only kill running containers. abc is in state exited: container state improper",
            ),
            (
                FlagError::Namespace {
                    flag: "--ipc".into(),
                    value: "x".into(),
                    shareable: true,
                }
                .into(),
                "invalid --ipc `x`: use host, private or container:NAME (or shareable, none)",
            ),
            (
                FlagError::Namespace {
                    flag: "--pid".into(),
                    value: "x".into(),
                    shareable: false,
                }
                .into(),
                "invalid --pid `x`: use host, private or container:NAME",
            ),
            (
                FlagError::DetachKeys("q".into()).into(),
                "invalid detach keys `q`: use single characters or ctrl-<a-z, @, [, \\, ], ^ or _>, separated by commas",
            ),
            (
                ResourceError::PauseState {
                    container: "web".into(),
                    state: "paused",
                    frozen: true,
                }
                .into(),
                "\"web\" is paused, can only pause a running container: container state improper",
            ),
            (
                NetFlagError::PrivilegedPort {
                    port: 80,
                    start: 1024,
                }
                .into(),
                "cannot publish host port 80 rootless: ports below 1024 are privileged (net.ipv4.ip_unprivileged_port_start = 1024); \
                 use a port of 1024 or above, or lower it: sudo sysctl net.ipv4.ip_unprivileged_port_start=80",
            ),
            (
                ImageError::PullPolicy("sometimes".into()).into(),
                "invalid pull policy `sometimes`: use always, missing, never or newer",
            ),
            (
                BuildError::StageNotBuilt("b".into()).into(),
                "stage `b` was not built before it is used",
            ),
        ];
        for (e, text) in cases {
            assert_eq!(e.to_string(), text);
            assert_eq!(e.exit_code(), 125, "{text}");
        }
    }
}
