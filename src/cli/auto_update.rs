//! `roost auto-update`: update the containers that run from systemd units and ask for it with the
//! `io.containers.autoupdate` label (podman-auto-update(1)).
use std::path::PathBuf;

use clap::Args;

use super::format::{self, Format, JsonStyle, Table};
use super::out;
use crate::engine::Ctx;
use crate::engine::systemd::autoupdate::{self, AutoUpdateOptions};
use crate::error::Error;

#[derive(Debug, Args)]
#[command(
    after_long_help = "A container takes part when it was created with the label \
io.containers.autoupdate=registry (compare with the registry, pull the new image) or =local \
(compare with the image its name now means in the local store) and runs from a systemd unit \
(`roost generate systemd --new`, or Quadlet): the unit is restarted on the new image, and rolled \
back to the old one if it fails to start or its container is not running and healthy.

Examples:
  roost auto-update --dry-run
  roost auto-update --format '{{.Unit}} {{.Updated}}'
  roost auto-update --rollback=false"
)]
pub struct AutoUpdateArgs {
    /// Check for updates, change nothing (UPDATED says `pending`)
    #[arg(long)]
    pub dry_run: bool,
    /// Roll a unit back to the previous image when it fails after the update
    #[arg(long, value_name = "BOOL", default_value_t = true, num_args = 0..=1,
          default_missing_value = "true", action = clap::ArgAction::Set)]
    pub rollback: bool,
    /// Path of the authentication file (default: ${XDG_RUNTIME_DIR}/containers/auth.json)
    #[arg(long, value_name = "PATH", env = "REGISTRY_AUTH_FILE", hide_env_values = true, value_hint = clap::ValueHint::FilePath)]
    pub authfile: Option<PathBuf>,
    /// Require HTTPS and verify certificates (false allows plain HTTP)
    #[arg(long, value_name = "BOOL", num_args = 0..=1, default_missing_value = "true", value_parser = clap::value_parser!(bool))]
    pub tls_verify: Option<bool>,
    /// Output: `json` or a Go template (fields: Unit, Container, ContainerID, ContainerName, Image, Policy, Updated)
    #[arg(long, value_name = "FORMAT")]
    pub format: Option<String>,
}

const TABLE: Table = Table {
    name: "auto-update",
    default_template: "table {{.Unit}}\t{{.Container}}\t{{.Image}}\t{{.Policy}}\t{{.Updated}}",
    headers: &[],
    json: JsonStyle::PS,
};

pub fn auto_update(ctx: &Ctx, a: &AutoUpdateArgs) -> Result<i32, Error> {
    let ctx = &Ctx {
        auth: super::ctx::with_authfile(ctx, a.authfile.as_ref()),
        ..ctx.clone()
    };
    let opts = AutoUpdateOptions {
        dry_run: a.dry_run,
        rollback: a.rollback,
        tls_verify: a.tls_verify,
    };
    let (reports, errors) = autoupdate::auto_update(ctx, &opts)?;
    let fmt = Format::parse(a.format.as_deref());
    if !reports.is_empty() || matches!(fmt, Format::Json) {
        out(&format::render_list(&reports, &fmt, &TABLE)?)?;
    }
    if errors.is_empty() {
        return Ok(0);
    }
    #[allow(clippy::print_stderr)]
    for e in &errors {
        eprintln!("Error: {e}");
        if let Some(h) = e.hint() {
            eprintln!("Hint: {h}");
        }
    }
    Err(Error::Reported(125))
}
