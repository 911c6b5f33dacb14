//! `roost volume …`: create, ls, inspect, rm, prune, exists (podman's flags and output).
use std::collections::BTreeMap;

use clap::Args;
use clap_complete::engine::ArgValueCandidates;
use serde::Serialize;

use crate::cli::complete::volume_names;
use crate::cli::format::{self, Format, JsonStyle, Table};
use crate::cli::out;
use crate::engine::Ctx;
use crate::engine::container::ContainerUsers;
use crate::engine::volume::{self as engine, CreateVolumeOptions, VolumeInfo};
use crate::error::Error;

#[derive(Debug, clap::Subcommand)]
pub enum VolumeCommand {
    /// Create a new volume
    Create(CreateArgs),
    /// List volumes
    #[command(visible_alias = "list")]
    Ls(LsArgs),
    /// Show details of volumes
    Inspect(InspectArgs),
    /// Remove volumes
    #[command(visible_alias = "remove")]
    Rm(RmArgs),
    /// Remove all volumes no container uses
    Prune(PruneArgs),
    /// Check whether a volume exists (exit 0 if it does, 1 if not)
    Exists(ExistsArgs),
}

impl VolumeCommand {
    /// Removing volume data may touch files owned by subordinate ids (written by containers).
    pub fn needs_userns(&self) -> bool {
        matches!(
            self,
            VolumeCommand::Rm(_) | VolumeCommand::Prune(_) | VolumeCommand::Create(_)
        )
    }
}

#[derive(Debug, Args)]
pub struct CreateArgs {
    /// Set metadata for the volume (KEY=VALUE)
    #[arg(short, long, value_name = "KEY=VALUE")]
    pub label: Vec<String>,
    /// Driver options: UID=, GID=, nocopy, o=uid=N,gid=N
    #[arg(short, long, value_name = "KEY=VALUE")]
    pub opt: Vec<String>,
    /// Do not fail if the volume already exists
    #[arg(long)]
    pub ignore: bool,
    /// Volume driver (only `local`)
    #[arg(short, long, value_name = "DRIVER", default_value = "local", value_parser = ["local"])]
    pub driver: String,
    /// Name of the volume (default: a random one)
    #[arg(value_name = "NAME")]
    pub name: Option<String>,
}

#[derive(Debug, Args)]
pub struct LsArgs {
    /// Print only volume names
    #[arg(short, long)]
    pub quiet: bool,
    /// Pretty-print with a Go template, `json`, or `table …`
    #[arg(long, value_name = "FORMAT", allow_hyphen_values = true)]
    pub format: Option<String>,
    /// Filter output (name, label, dangling, driver)
    #[arg(short, long, value_name = "KEY=VALUE")]
    pub filter: Vec<String>,
    /// Omit the table heading
    #[arg(short, long)]
    pub noheading: bool,
}

#[derive(Debug, Args)]
pub struct InspectArgs {
    /// Format the output with a Go template or `json`
    #[arg(short, long, value_name = "FORMAT", allow_hyphen_values = true)]
    pub format: Option<String>,
    /// Inspect all volumes
    #[arg(short, long)]
    pub all: bool,
    #[arg(value_name = "VOLUME", add = ArgValueCandidates::new(volume_names))]
    pub names: Vec<String>,
}

#[derive(Debug, Args)]
pub struct RmArgs {
    /// Remove all volumes
    #[arg(short, long)]
    pub all: bool,
    /// Remove volumes in use, and the containers using them
    #[arg(short, long)]
    pub force: bool,
    #[arg(value_name = "VOLUME", add = ArgValueCandidates::new(volume_names))]
    pub names: Vec<String>,
}

#[derive(Debug, Args)]
pub struct PruneArgs {
    /// Do not ask for confirmation
    #[arg(short, long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct ExistsArgs {
    #[arg(value_name = "VOLUME", add = ArgValueCandidates::new(volume_names))]
    pub name: String,
}

/// podman's volume report (inspect, `ls --format json` and templates).
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct VolumeView {
    name: String,
    driver: String,
    mountpoint: String,
    created_at: String,
    labels: BTreeMap<String, String>,
    scope: &'static str,
    options: BTreeMap<String, String>,
    mount_count: u32,
    needs_copy_up: bool,
    needs_chown: bool,
    anonymous: bool,
}

fn view(v: &VolumeInfo) -> VolumeView {
    let r = &v.record;
    VolumeView {
        name: r.name.clone(),
        driver: r.driver.clone(),
        mountpoint: r.mountpoint.display().to_string(),
        created_at: format::rfc3339_nano(&r.created.to_zoned(jiff::tz::TimeZone::system())),
        labels: r.labels.clone(),
        scope: "local",
        options: r.options.clone(),
        mount_count: v.mount_count,
        needs_copy_up: r.needs_copy_up,
        needs_chown: r.needs_chown,
        anonymous: r.anonymous,
    }
}

/// Print each error of a bulk command; the exit status is the first one's (podman).
fn report_errors(errors: &[crate::engine::EngineError]) -> i32 {
    for e in errors {
        #[allow(clippy::print_stderr)]
        {
            eprintln!("Error: {e}");
        }
    }
    match errors.first() {
        None => 0,
        Some(crate::engine::EngineError::Volume(v)) => v.exit_code(),
        Some(_) => 125,
    }
}

fn create(ctx: &Ctx, a: &CreateArgs) -> Result<i32, Error> {
    let v = engine::create(
        ctx,
        &CreateVolumeOptions {
            name: a.name.clone(),
            labels: crate::cli::key_values("--label", &a.label)?,
            options: crate::cli::key_values("--opt", &a.opt)?,
            ignore: a.ignore,
            anonymous: false,
        },
    )?;
    out(&format!("{}\n", v.name)).map(|()| 0)
}

fn ls(ctx: &Ctx, a: &LsArgs) -> Result<i32, Error> {
    let filters = a
        .filter
        .iter()
        .map(|f| engine::parse_filter(f).map_err(crate::engine::EngineError::from))
        .collect::<Result<Vec<_>, _>>()?;
    let vols = engine::list(ctx, &filters, &ContainerUsers)?;
    if a.quiet {
        return out(&vols
            .iter()
            .map(|v| format!("{}\n", v.record.name))
            .collect::<String>())
        .map(|()| 0);
    }
    let rows: Vec<VolumeView> = vols.iter().map(view).collect();
    let fmt = Format::parse(a.format.as_deref());
    let table = Table {
        name: "volume ls",
        default_template: "table {{.Driver}}\t{{.Name}}",
        headers: &[("Name", "VOLUME NAME")],
        json: JsonStyle::IMAGES,
    };
    let mut text = format::render_list(&rows, &fmt, &table)?;
    if a.noheading {
        text = format::strip_heading(text, &fmt);
    }
    out(&text).map(|()| 0)
}

fn inspect(ctx: &Ctx, a: &InspectArgs) -> Result<i32, Error> {
    if a.names.is_empty() && !a.all {
        return Err(Error::Usage(
            "provide one or more volume names or use --all".into(),
        ));
    }
    let infos = if a.all {
        engine::list(ctx, &[], &ContainerUsers)?
    } else {
        a.names
            .iter()
            .map(|n| engine::inspect(ctx, n, &ContainerUsers))
            .collect::<Result<Vec<_>, _>>()?
    };
    let views: Vec<VolumeView> = infos.iter().map(view).collect();
    let fmt = Format::parse(a.format.as_deref());
    out(&format::render_inspect(&views, &fmt)?).map(|()| 0)
}

fn rm(ctx: &Ctx, a: &RmArgs) -> Result<i32, Error> {
    if a.names.is_empty() && !a.all {
        return Err(Error::Usage(
            "choose either one or more volumes or all".into(),
        ));
    }
    let report = engine::remove(ctx, &a.names, a.all, a.force, &ContainerUsers)?;
    out(&report
        .removed
        .iter()
        .map(|n| format!("{n}\n"))
        .collect::<String>())?;
    Ok(report_errors(&report.errors))
}

fn prune(ctx: &Ctx, a: &PruneArgs) -> Result<i32, Error> {
    if !a.force {
        let unused = engine::list(
            ctx,
            &[engine::VolumeFilter::Dangling(true)],
            &ContainerUsers,
        )?;
        let names: String = unused
            .iter()
            .map(|v| format!("{}\n", v.record.name))
            .collect();
        if !crate::cli::confirm(&format!(
            "This will remove all volumes not used by at least one container. The following volumes will be removed:\n{}",
            names.trim_end()
        )) {
            return Ok(0);
        }
    }
    let report = engine::prune(ctx, &ContainerUsers)?;
    out(&report
        .removed
        .iter()
        .map(|n| format!("{n}\n"))
        .collect::<String>())?;
    Ok(report_errors(&report.errors))
}

/// Run a `volume …` subcommand.
pub fn dispatch(ctx: &Ctx, cmd: VolumeCommand) -> Result<i32, Error> {
    match cmd {
        VolumeCommand::Create(a) => create(ctx, &a),
        VolumeCommand::Ls(a) => ls(ctx, &a),
        VolumeCommand::Inspect(a) => inspect(ctx, &a),
        VolumeCommand::Rm(a) => rm(ctx, &a),
        VolumeCommand::Prune(a) => prune(ctx, &a),
        VolumeCommand::Exists(a) => Ok(if engine::exists(ctx, &a.name)? { 0 } else { 1 }),
    }
}
