//! Running containers under the user's systemd: `generate systemd` (units in podman's layout),
//! `roost-restart.service` (containers with a restart policy back after a reboot) and `auto-update`.
pub mod autoupdate;
pub mod escape;
pub mod generate;
pub mod restart_unit;
mod run_command;

pub use generate::{GenerateOptions, Unit, generate};

/// The variable every generated unit sets to its own name (`%n`); a container created inside such a
/// unit records it as a label of the same name (as podman does), which is how `auto-update` finds
/// the unit to restart.
pub const UNIT_VARIABLE: &str = "PODMAN_SYSTEMD_UNIT";

/// The restart policies a unit may have (systemd.service(5)).
pub const RESTART_POLICIES: [&str; 7] = [
    "no",
    "on-success",
    "on-failure",
    "on-abnormal",
    "on-watchdog",
    "on-abort",
    "always",
];

#[derive(Debug, thiserror::Error)]
pub enum SystemdError {
    #[error("`{0}` is not a valid restart policy: use one of {policies}", policies = RESTART_POLICIES.join(", "))]
    RestartPolicy(String),
    #[error(
        "cannot use --new on container `{0}`: no create command was recorded (it was made by another tool or an older roost)"
    )]
    NoCreateCommand(String),
    #[error("container `{id}`'s create command is too short or invalid: {command:?}")]
    BadCreateCommand { id: String, command: Vec<String> },
    #[error("pod `{0}` has no infra container: its unit would have nothing to run")]
    NoInfra(String),
    #[error("pod `{0}` has no containers besides its infra container")]
    EmptyPod(String),
    #[error("--template is not supported for pods")]
    TemplatePod,
    #[error("cannot use --new on pod `{pod}`: it was not made by `pod create` ({command:?})")]
    PodCreateCommand { pod: String, command: Vec<String> },
}

impl SystemdError {
    pub fn hint(&self) -> Option<String> {
        match self {
            SystemdError::NoCreateCommand(_) => Some(
                "generate a unit without --new (it starts the existing container), or recreate the container with `roost create`/`roost run`".into(),
            ),
            SystemdError::NoInfra(_) => Some("recreate the pod with an infra container (`roost pod create` without --infra=false)".into()),
            _ => None,
        }
    }
}
