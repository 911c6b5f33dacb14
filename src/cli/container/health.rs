//! The `--health-*` flags of `run`/`create`, and `healthcheck run`.
use clap::{Args, Subcommand};
use clap_complete::engine::ArgValueCandidates;

use crate::cli::complete::running_containers;
use crate::cli::lazy::Lazy;
use crate::engine::Ctx;
use crate::engine::container::health::{self, HealthRequest, HealthStatus};
use crate::error::Error;

/// Healthcheck flags (podman's names and defaults).
#[derive(Debug, Clone, Default, Args)]
pub struct HealthArgs {
    /// Command run in the container to check its health: a string run by /bin/sh, a JSON array
    /// (`["CMD","curl","-f","http://localhost/"]`), or `none` to disable the image's check
    #[arg(long, value_name = "COMMAND")]
    pub health_cmd: Option<String>,
    /// Time between checks (Go duration: 30s, 1m; `disable`: only `healthcheck run`) [default: 30s]
    #[arg(long, value_name = "DURATION")]
    pub health_interval: Option<String>,
    /// Longest a check may take before it counts as failed [default: 30s]
    #[arg(long, value_name = "DURATION")]
    pub health_timeout: Option<String>,
    /// Consecutive failures after which the container is unhealthy [default: 3]
    #[arg(long, value_name = "N")]
    pub health_retries: Option<String>,
    /// Time after the start during which failures do not count [default: 0s]
    #[arg(long, value_name = "DURATION")]
    pub health_start_period: Option<String>,
    /// What to do once the container is unhealthy [default: none]
    #[arg(long, value_name = "ACTION", value_parser = ["none", "kill", "restart", "stop"])]
    pub health_on_failure: Option<String>,
    /// Where the check results go: local (the container's directory), events_logger, or a directory
    #[arg(long, value_name = "DESTINATION")]
    pub health_log_destination: Option<String>,
    /// Results kept in the log (0: all) [default: 5]
    #[arg(long, value_name = "N")]
    pub health_max_log_count: Option<String>,
    /// Characters of each check's output kept in the log (0: all) [default: 500]
    #[arg(long, value_name = "N")]
    pub health_max_log_size: Option<String>,
    /// Startup check, run until it passes before the regular check starts
    #[arg(long, value_name = "COMMAND")]
    pub health_startup_cmd: Option<String>,
    /// Time between startup checks [default: 30s]
    #[arg(long, value_name = "DURATION")]
    pub health_startup_interval: Option<String>,
    /// Longest a startup check may take [default: 30s]
    #[arg(long, value_name = "DURATION")]
    pub health_startup_timeout: Option<String>,
    /// Consecutive startup check failures after which the container is restarted (0: never)
    #[arg(long, value_name = "N")]
    pub health_startup_retries: Option<String>,
    /// Startup check successes needed before the regular check starts (0: one)
    #[arg(long, value_name = "N")]
    pub health_startup_success: Option<String>,
    /// Disable the image's healthcheck
    #[arg(long)]
    pub no_healthcheck: bool,
}

impl HealthArgs {
    pub fn request(&self) -> HealthRequest {
        HealthRequest {
            cmd: self.health_cmd.clone(),
            interval: self.health_interval.clone(),
            timeout: self.health_timeout.clone(),
            start_period: self.health_start_period.clone(),
            retries: self.health_retries.clone(),
            on_failure: self.health_on_failure.clone(),
            log_destination: self.health_log_destination.clone(),
            max_log_count: self.health_max_log_count.clone(),
            max_log_size: self.health_max_log_size.clone(),
            startup_cmd: self.health_startup_cmd.clone(),
            startup_interval: self.health_startup_interval.clone(),
            startup_timeout: self.health_startup_timeout.clone(),
            startup_retries: self.health_startup_retries.clone(),
            startup_success: self.health_startup_success.clone(),
            no_healthcheck: self.no_healthcheck,
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum HealthcheckCommand {
    /// Run a container's healthcheck once: exit 0 when it passes, 1 when it fails
    #[command(after_long_help = "Examples:\n  roost healthcheck run web")]
    Run(Lazy<HealthcheckRunArgs>),
}

#[derive(Debug, Args)]
pub struct HealthcheckRunArgs {
    /// The running container
    #[arg(add = ArgValueCandidates::new(running_containers))]
    pub container: String,
}

pub fn healthcheck(ctx: &Ctx, cmd: &HealthcheckCommand) -> Result<i32, Error> {
    match cmd {
        HealthcheckCommand::Run(a) => run(ctx, a),
    }
}

/// podman's output: nothing when the check passes; otherwise the status (`unhealthy`, or
/// `starting` while failures do not count yet) and exit 1.
fn run(ctx: &Ctx, a: &HealthcheckRunArgs) -> Result<i32, Error> {
    let report = health::run_check(ctx, &a.container)?;
    if report.passed {
        return Ok(0);
    }
    let status = match report.status {
        HealthStatus::Starting => "starting",
        _ => "unhealthy",
    };
    crate::cli::out(&format!("{status}\n")).map(|()| 1)
}
