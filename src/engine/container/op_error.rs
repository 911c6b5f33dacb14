//! What keeps an operation on a container (`exec`, `kill`, `attach`, `rm`, `top`, `mount`, a start
//! through the monitor) from being done, each naming the container or the value at fault.
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum OpError {
    #[error("exec requires the name or ID of a container and a command to run")]
    ExecNoCommand,
    #[error(
        "file descriptor {0} is not available - the preserve-fds option requires that all file descriptors must be passed"
    )]
    PreserveFd(i32),
    #[error(
        "cannot run command \"roost {0}\" in rootless mode, must execute `roost unshare` first"
    )]
    NeedsUnshare(String),
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
