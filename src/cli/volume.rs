//! `roost volume …`: create, ls, inspect, rm, prune, exists (podman's flags and output).
use std::collections::BTreeMap;

use clap::Args;
use clap_complete::engine::ArgValueCandidates;
use serde::Serialize;

use crate::cli::complete::volume_names;
use crate::cli::format::{self, Format, JsonStyle, Table};
use crate::cli::lazy::Lazy;
use crate::cli::out;
use crate::engine::Ctx;
use crate::engine::container::ContainerUsers;
use crate::engine::volume::{self as engine, CreateVolumeOptions, VolumeInfo};
use crate::error::Error;

#[derive(Debug, clap::Subcommand)]
pub enum VolumeCommand {
    /// Create a new volume
    Create(Lazy<CreateArgs>),
    /// List volumes
    #[command(visible_alias = "list")]
    Ls(Lazy<LsArgs>),
    /// Show details of volumes
    Inspect(Lazy<InspectArgs>),
    /// Remove volumes
    #[command(visible_alias = "remove")]
    Rm(Lazy<RmArgs>),
    /// Remove all volumes no container uses
    Prune(Lazy<PruneArgs>),
    /// Check whether a volume exists (exit 0 if it does, 1 if not)
    Exists(Lazy<ExistsArgs>),
    /// Export the content of a volume as a tar
    Export(Lazy<ExportArgs>),
    /// Import a tarball into a volume
    Import(Lazy<ImportArgs>),
    /// Mount volumes and print their mount points (inside `roost unshare`)
    Mount(Lazy<MountArgs>),
    /// Unmount volumes mounted with `volume mount`
    #[command(visible_alias = "umount")]
    Unmount(Lazy<MountArgs>),
}

impl VolumeCommand {
    /// Removing volume data may touch files owned by subordinate ids (written by containers).
    pub fn needs_userns(&self) -> bool {
        matches!(
            self,
            VolumeCommand::Rm(_)
                | VolumeCommand::Prune(_)
                | VolumeCommand::Create(_)
                | VolumeCommand::Export(_)
                | VolumeCommand::Import(_)
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
    /// Seconds to wait before forcibly stopping running containers that use the volume (with --force)
    #[arg(short, long, value_name = "SECONDS", allow_negative_numbers = true)]
    pub time: Option<i64>,
    #[arg(value_name = "VOLUME", add = ArgValueCandidates::new(volume_names))]
    pub names: Vec<String>,
}

#[derive(Debug, Args)]
pub struct PruneArgs {
    /// Do not ask for confirmation
    #[arg(short, long)]
    pub force: bool,
    /// Remove all unused volumes, both anonymous and named
    #[arg(short, long)]
    pub all: bool,
    /// Provide filter values (e.g. 'label=<key>=<value>')
    #[arg(long, value_name = "KEY=VALUE")]
    pub filter: Vec<String>,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Write to a specified file (default: stdout, which must be redirected)
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<std::path::PathBuf>,
    #[arg(value_name = "VOLUME", add = ArgValueCandidates::new(volume_names))]
    pub name: String,
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    #[arg(value_name = "VOLUME", add = ArgValueCandidates::new(volume_names))]
    pub name: String,
    /// A tarball (optionally compressed), or `-` for stdin
    #[arg(value_name = "SOURCE")]
    pub source: String,
}

#[derive(Debug, Args)]
#[command(
    after_long_help = "Examples:\n  roost unshare sh -c 'ls $(roost volume mount data)'\n  roost unshare roost volume unmount data"
)]
pub struct MountArgs {
    #[arg(value_name = "VOLUME", required = true, add = ArgValueCandidates::new(volume_names))]
    pub names: Vec<String>,
}

#[derive(Debug, Args)]
pub struct ExistsArgs {
    #[arg(value_name = "VOLUME", add = ArgValueCandidates::new(volume_names))]
    pub name: String,
}

/// podman's volume report (inspect, `ls --format json` and templates).
#[derive(Serialize, Default)]
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
        created_at: format::rfc3339_nano(&r.created.to_zoned(crate::localtime::local())),
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
            // podman prunes a volume created without a name as it does a container's anonymous one.
            anonymous: a.name.is_none(),
        },
    )?;
    out(&format!("{}\n", v.name)).map(|()| 0)
}

fn ls(ctx: &Ctx, a: &LsArgs) -> Result<i32, Error> {
    let filters = parse_filters(&a.filter)?;
    let vols = engine::list(ctx, &filters, &ContainerUsers)?;
    if a.quiet {
        return out(&vols
            .iter()
            .map(|v| format!("{}\n", v.record.name))
            .collect::<String>())
        .map(|()| 0);
    }
    let fmt = Format::parse(a.format.as_deref());
    let rows: Vec<serde_json::Value> = vols.iter().map(|v| ls_row(v, &fmt)).collect();
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

/// A `volume ls` row: in a template, `.Labels` is podman's `KEY=VALUE,…` string, not a map.
fn ls_row(v: &VolumeInfo, fmt: &Format) -> serde_json::Value {
    let mut row = serde_json::to_value(view(v)).unwrap_or_default();
    if matches!(fmt, Format::Template { .. }) {
        let labels: Vec<String> = v
            .record
            .labels
            .iter()
            .map(|(k, val)| format!("{k}={val}"))
            .collect();
        row["Labels"] = serde_json::Value::String(labels.join(","));
    }
    row
}

/// Volume `name`'s template view (for completing `--format` fields).
/// The fields `volume ls` and `volume inspect` templates can use (for completion).
pub(crate) fn format_fields() -> serde_json::Value {
    format::template_fields::<VolumeView>(&[])
}

pub(crate) fn template_doc(ctx: &Ctx, name: &str) -> Option<serde_json::Value> {
    let info = engine::inspect(ctx, name, &ContainerUsers).ok()?;
    serde_json::to_value(view(&info)).ok()
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
    let report = engine::remove(ctx, &a.names, a.all, a.force, a.time, &ContainerUsers)?;
    out(&report
        .removed
        .iter()
        .map(|n| format!("{n}\n"))
        .collect::<String>())?;
    Ok(report_errors(&report.errors))
}

/// `volume mount NAME...`: each volume's mount point, a line each.
fn mount(ctx: &Ctx, a: &MountArgs) -> Result<i32, Error> {
    let mut text = String::new();
    for name in &a.names {
        let path = engine::mount::mount(ctx, name)?;
        text.push_str(&format!("{}\n", path.display()));
    }
    out(&text).map(|()| 0)
}

/// `volume unmount NAME...`: each volume's name, a line each.
fn unmount(ctx: &Ctx, a: &MountArgs) -> Result<i32, Error> {
    let mut text = String::new();
    for name in &a.names {
        text.push_str(&format!("{}\n", engine::mount::unmount(ctx, name)?));
    }
    out(&text).map(|()| 0)
}

fn parse_filters(given: &[String]) -> Result<Vec<engine::VolumeFilter>, Error> {
    Ok(given
        .iter()
        .map(|f| engine::parse_filter(f).map_err(crate::engine::EngineError::from))
        .collect::<Result<Vec<_>, _>>()?)
}

fn prune(ctx: &Ctx, a: &PruneArgs) -> Result<i32, Error> {
    let filters = parse_filters(&a.filter)?;
    if !a.force {
        let unused = engine::prunable(ctx, a.all, &filters, &ContainerUsers)?;
        let (which, none) = if a.all {
            ("all volumes", "No dangling volumes found")
        } else {
            (
                "anonymous local volumes",
                "No dangling anonymous volumes found",
            )
        };
        let warning = format!(
            "This will remove {which} not used by at least one container. The following volumes will be removed:"
        );
        if unused.is_empty() {
            #[allow(clippy::print_stderr)]
            {
                eprintln!("WARNING! {warning}");
            }
            return out(&format!("{none}\n")).map(|()| 0);
        }
        let names: Vec<&str> = unused.iter().map(|v| v.record.name.as_str()).collect();
        if !crate::cli::confirm(&format!("{warning}\n{}", names.join("\n"))) {
            return Ok(0);
        }
    }
    let report = engine::prune(ctx, a.all, &filters, &ContainerUsers)?;
    out(&report
        .removed
        .iter()
        .map(|n| format!("{n}\n"))
        .collect::<String>())?;
    Ok(report_errors(&report.errors))
}

fn export(ctx: &Ctx, a: &ExportArgs) -> Result<i32, Error> {
    use std::io::{IsTerminal, Write};
    match &a.output {
        Some(path) => {
            let file = std::fs::File::create(path)
                .map_err(|e| Error::io(format!("create `{}`", path.display()), e))?;
            let mut w = std::io::BufWriter::new(file);
            engine::export(ctx, &a.name, &mut w)?;
            w.flush()
                .map_err(|e| Error::io(format!("write `{}`", path.display()), e))?;
        }
        None if std::io::stdout().is_terminal() => {
            return Err(Error::Usage(
                "refusing to write a tar to a terminal: use --output or redirect stdout".into(),
            ));
        }
        None => {
            let mut w = std::io::BufWriter::new(std::io::stdout().lock());
            engine::export(ctx, &a.name, &mut w)?;
            w.flush().map_err(|e| Error::io("write to stdout", e))?;
        }
    }
    Ok(0)
}

fn import(ctx: &Ctx, a: &ImportArgs) -> Result<i32, Error> {
    if a.source == "-" {
        engine::import(ctx, &a.name, &mut std::io::stdin().lock())?;
    } else {
        let mut file = std::fs::File::open(&a.source)
            .map_err(|e| Error::io(format!("open `{}`", a.source), e))?;
        engine::import(ctx, &a.name, &mut file)?;
    }
    Ok(0)
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
        VolumeCommand::Export(a) => export(ctx, &a),
        VolumeCommand::Import(a) => import(ctx, &a),
        VolumeCommand::Mount(a) => mount(ctx, &a),
        VolumeCommand::Unmount(a) => unmount(ctx, &a),
    }
}
