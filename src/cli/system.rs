//! `info`, `version`, `system df`, `system info`, `unshare`.
use std::collections::BTreeMap;
use std::os::unix::process::CommandExt;

use clap::{Args, Subcommand};
use serde::Serialize;
use serde_json::Value;

use super::format::{self, Format, JsonStyle, Table};
use super::out;
use crate::cli::lazy::Lazy;
use crate::engine::Ctx;
use crate::error::Error;

#[derive(Debug, Subcommand)]
pub enum SystemCommand {
    /// Check the store for consistency (and repair it)
    #[command(after_long_help = CHECK_EXAMPLES)]
    Check(Lazy<CheckArgs>),
    /// Show disk usage of images
    Df(Lazy<DfArgs>),
    /// Display system information
    Info(Lazy<InfoArgs>),
    /// Show events (as `roost events`)
    Events(Lazy<super::events::EventsArgs>),
    /// Remove unused images and leftovers
    Prune(Lazy<SystemPruneArgs>),
    /// Migrate containers to a new podman version (nothing to do: roost has no pause process and
    /// reads older records as they are)
    Migrate(Lazy<MigrateArgs>),
    /// Install roost-restart.service for your systemd user manager: containers with
    /// --restart=always or unless-stopped start again when it starts (at boot, with lingering)
    #[command(after_long_help = RESTART_UNIT_EXAMPLES)]
    RestartUnit(Lazy<RestartUnitArgs>),
    /// Manage connections to podman services (roost runs locally and uses none)
    #[command(subcommand)]
    Connection(super::connection::ConnectionCommand),
}

const RESTART_UNIT_EXAMPLES: &str = "\
The unit runs `roost start --all --filter restart-policy=always --filter restart-policy=unless-stopped`
(podman's podman-restart.service, which also starts unless-stopped containers you did not stop).

Examples:
  roost system restart-unit && systemctl --user daemon-reload && systemctl --user enable roost-restart.service
  loginctl enable-linger $USER     # start your user manager at boot, before you log in
  roost system restart-unit --print";

#[derive(Debug, Args)]
pub struct RestartUnitArgs {
    /// Print the unit instead of writing it to ~/.config/systemd/user/
    #[arg(long, conflicts_with = "remove")]
    pub print: bool,
    /// Remove the unit from ~/.config/systemd/user/ (disable it first)
    #[arg(long)]
    pub remove: bool,
}

#[derive(Debug, Args)]
pub struct MigrateArgs {
    /// OCI runtime for every container (roost has its own runtime; accepted and ignored)
    #[arg(long, value_name = "RUNTIME")]
    pub new_runtime: Option<String>,
}

const CHECK_EXAMPLES: &str = "\
What is checked: container records against their directories and layers, images against their
layers, configs and manifests, layer records against their directories and blobs (and, unless
--quick, every blob against its digest), and the leftovers of killed commands: staging entries,
step containers of builds that no longer run, and container directories without a record.

Examples:
  roost system check
  roost system check --quick --repair
  roost system check --repair --force";

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Remove damaged images that containers use, and those containers (with --repair)
    #[arg(short, long)]
    pub force: bool,
    /// Skip the slow checks (reading every blob to compare it with its digest)
    #[arg(short, long)]
    pub quick: bool,
    /// Remove what is damaged or left over (damaged images in use by containers only with --force)
    #[arg(short, long)]
    pub repair: bool,
}

#[derive(Debug, Args)]
pub struct InfoArgs {
    /// Format the output: `json` or a Go template
    #[arg(short, long, value_name = "FORMAT", allow_hyphen_values = true)]
    pub format: Option<String>,
}

#[derive(Debug, Args)]
pub struct VersionArgs {
    /// Format the output: `json` or a Go template
    #[arg(short, long, value_name = "FORMAT", allow_hyphen_values = true)]
    pub format: Option<String>,
}

#[derive(Debug, Args)]
pub struct DfArgs {
    /// Show details per image
    #[arg(short, long)]
    pub verbose: bool,
    /// Format the output: `json` or a Go template
    #[arg(long, value_name = "FORMAT", allow_hyphen_values = true)]
    pub format: Option<String>,
}

#[derive(Debug, Args)]
pub struct SystemPruneArgs {
    /// Remove all unused images, not only dangling ones
    #[arg(short, long)]
    pub all: bool,
    /// Do not ask for confirmation
    #[arg(short, long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct UnshareArgs {
    /// Run the command in the rootless network namespace too (where the bridge networks are; it
    /// exists while a container is on one)
    #[arg(long)]
    pub rootless_netns: bool,
    /// Command to run (default: $SHELL, or /bin/sh)
    #[arg(
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "COMMAND"
    )]
    pub command: Vec<String>,
}

pub fn dispatch(ctx: &Ctx, cmd: SystemCommand) -> Result<i32, Error> {
    match cmd {
        SystemCommand::Check(a) => check(ctx, &a),
        SystemCommand::Df(a) => df(ctx, &a),
        SystemCommand::Info(a) => info(ctx, &a),
        SystemCommand::Events(a) => super::events::events(ctx, &a),
        // podman stops its pause process and rewrites records made by an older podman here; roost
        // keeps no process between commands and reads every record version, so it succeeds.
        SystemCommand::Migrate(_) => Ok(0),
        SystemCommand::RestartUnit(a) => restart_unit(ctx, &a),
        SystemCommand::Connection(c) => super::connection::dispatch(&c),
        SystemCommand::Prune(a) => super::image::dispatch(
            ctx,
            super::image::ImageCommand::Prune(Lazy(super::image::PruneArgs {
                all: a.all,
                force: a.force,
            })),
        ),
    }
}

/// `system restart-unit`: write (or print, or remove) roost-restart.service for this roost.
fn restart_unit(ctx: &Ctx, a: &RestartUnitArgs) -> Result<i32, Error> {
    use crate::engine::systemd::restart_unit;
    if a.remove {
        if restart_unit::remove(&ctx.paths.config_home)? {
            out(&format!(
                "{}\n",
                restart_unit::user_path(&ctx.paths.config_home).display()
            ))?;
        }
        return Ok(0);
    }
    let exe = std::env::current_exe()
        .map_err(|e| Error::io("find roost's own path (/proc/self/exe)", e))?;
    if a.print {
        return out(&restart_unit::text(&exe)).map(|()| 0);
    }
    let path = restart_unit::install(&ctx.paths.config_home, &exe)?;
    out(&format!("{}\n", path.display()))?;
    #[allow(clippy::print_stderr)]
    {
        eprintln!(
            "Enable it with: systemctl --user daemon-reload && systemctl --user enable {}\n(and `loginctl enable-linger` to have it run at boot before you log in)",
            restart_unit::NAME
        );
    }
    Ok(0)
}

/// `system check`: the problems by kind, then a summary line; exit 0 when the store is consistent
/// (or was repaired), 125 with the list when not.
pub fn check(ctx: &Ctx, a: &CheckArgs) -> Result<i32, Error> {
    use crate::engine::check::{self, CheckOptions};
    let report = check::check(
        ctx,
        CheckOptions {
            repair: a.repair,
            quick: a.quick,
            force: a.force,
        },
    )?;
    let mut problems = report.problems.clone();
    problems.sort_by_key(|p| p.kind);
    let mut text = String::new();
    let mut kind = None;
    for p in &problems {
        if kind != Some(p.kind) {
            text.push_str(&format!("{}:\n", p.kind.title()));
            kind = Some(p.kind);
        }
        let outcome = match (&p.kept, p.repaired) {
            (_, true) => " (removed)".to_string(),
            (Some(why), false) => format!(" (kept: {why})"),
            (None, false) => String::new(),
        };
        text.push_str(&format!("  {}: {}{outcome}\n", p.object, p.what));
    }
    let left = problems.iter().filter(|p| !p.repaired).count();
    if problems.is_empty() {
        text.push_str("No problems found\n");
    } else if left == 0 {
        text.push_str(&format!("Repaired {} problem(s)\n", problems.len()));
    }
    out(&text)?;
    if left == 0 {
        return Ok(0);
    }
    #[allow(clippy::print_stderr)]
    {
        eprintln!("Error: the store has {left} problem(s) (listed above)");
        if a.repair {
            eprintln!(
                "Hint: run `roost system check --repair --force` to remove damaged images that containers use, with those containers"
            );
        } else {
            eprintln!(
                "Hint: run `roost system check --repair` to remove what is damaged or left over"
            );
        }
    }
    Err(Error::Reported(125))
}

/// A small YAML writer for `info` (podman prints YAML by default): maps, lists and scalars.
fn yaml(v: &Value, indent: usize, out: &mut String) {
    let pad = " ".repeat(indent);
    match v {
        Value::Object(m) => {
            for (k, val) in m {
                match val {
                    Value::Object(inner) if !inner.is_empty() => {
                        out.push_str(&format!("{pad}{k}:\n"));
                        yaml(val, indent + 2, out);
                    }
                    Value::Array(a) if !a.is_empty() => {
                        out.push_str(&format!("{pad}{k}:\n"));
                        yaml(val, indent, out);
                    }
                    _ => out.push_str(&format!("{pad}{k}: {}\n", scalar(val))),
                }
            }
        }
        Value::Array(a) => {
            for item in a {
                match item {
                    Value::Object(m) if !m.is_empty() => {
                        let mut inner = String::new();
                        yaml(item, indent + 2, &mut inner);
                        out.push_str(&format!("{pad}- {}", inner.trim_start()));
                    }
                    _ => out.push_str(&format!("{pad}- {}\n", scalar(item))),
                }
            }
        }
        other => out.push_str(&format!("{pad}{}\n", scalar(other))),
    }
}

fn scalar(v: &Value) -> String {
    match v {
        Value::String(s) if s.is_empty() => "\"\"".into(),
        Value::String(s) if s.contains(": ") || s.starts_with(['*', '&', '!', '-', '{', '[']) => {
            format!("{s:?}")
        }
        Value::String(s) => s.clone(),
        Value::Array(_) => "[]".into(),
        Value::Object(_) => "{}".into(),
        other => other.to_string(),
    }
}

pub fn info(ctx: &Ctx, args: &InfoArgs) -> Result<i32, Error> {
    let info = crate::engine::system::info(ctx)?;
    let v = serde_json::to_value(&info).expect("info serializes");
    match Format::parse(args.format.as_deref()) {
        Format::Default => {
            let mut s = String::new();
            yaml(&v, 0, &mut s);
            out(&s)
        }
        Format::Json => out(&format::render_json(&[v], JsonStyle::INSPECT).map(unwrap_single)?),
        // Templates name podman's Go fields (`{{.Host.Arch}}`, `{{.Store.GraphRoot}}`), not the JSON keys.
        f => out(&format::render_inspect(&[go_field_names(v)], &f)?),
    }
    .map(|()| 0)
}

/// JSON keys → Go field names: the first letter upper-cased (`graphRoot` → `GraphRoot`), with podman's
/// spelling for the id maps (`IDMappings`).
fn go_field_names(v: Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.into_iter()
                .map(|(k, v)| {
                    let key = match k.as_str() {
                        "idMappings" => "IDMappings".to_string(),
                        _ => {
                            let mut c = k.chars();
                            c.next()
                                .map(|f| f.to_uppercase().collect::<String>() + c.as_str())
                                .unwrap_or_default()
                        }
                    };
                    (key, go_field_names(v))
                })
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.into_iter().map(go_field_names).collect()),
        other => other,
    }
}

/// `render_json` prints an array; `info --format json` prints the object itself.
fn unwrap_single(s: String) -> String {
    let v: Vec<Value> = serde_json::from_str(&s).unwrap_or_default();
    v.first()
        .map(|o| serde_json::to_string_pretty(o).unwrap_or_default() + "\n")
        .unwrap_or(s)
}

/// The `--version` line. Invoked as `podman`, podman's own line with the compatible version; as
/// roost, roost's version and then the podman version, last, where podman-compose reads it (the last
/// word of `podman --version`).
pub fn version_line(as_podman: bool) -> String {
    let v = crate::engine::system::version();
    if as_podman {
        format!("podman version {}", v.version)
    } else {
        format!(
            "roost version {}, compatible with podman {}",
            v.roost_version, v.version
        )
    }
}

/// `version`: podman's layout; JSON and templates see podman's `Client.Version` (the compatible
/// version) and `Client.RoostVersion`.
pub fn version(args: &VersionArgs, as_podman: bool) -> Result<i32, Error> {
    let v = crate::engine::system::version();
    let client = serde_json::json!({"Client": v});
    match Format::parse(args.format.as_deref()) {
        Format::Default if as_podman => out(&format!(
            "Version:      {}\nAPI Version:  {}\nGo Version:   {}\nBuilt:        {}\nOS/Arch:      {}\n",
            v.version, v.api_version, v.go_version, v.built_time, v.os_arch
        )),
        Format::Default => out(&format!(
            "Version:      {}\nPodman:       {} (compatibility level)\nAPI Version:  {}\nGo Version:   {}\nBuilt:        {}\nOS/Arch:      {}\n",
            v.roost_version, v.version, v.api_version, v.go_version, v.built_time, v.os_arch
        )),
        Format::Json => out(&(serde_json::to_string_pretty(&client).expect("serializes") + "\n")),
        f => out(&format::render_inspect(&[client], &f)?),
    }
    .map(|()| 0)
}

/// A `system df` summary row: podman's `dfSummary` as it marshals it (docker's `TotalCount`, and the
/// sizes as text after the raw ones).
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct DfRow {
    #[serde(rename = "Type")]
    kind: &'static str,
    total: usize,
    active: usize,
    raw_size: u64,
    raw_reclaimable: u64,
    total_count: usize,
    size: String,
    reclaimable: String,
}

impl DfRow {
    fn new(
        kind: &'static str,
        total: usize,
        active: usize,
        raw_size: u64,
        reclaimable: u64,
    ) -> Self {
        // podman rounds the percentage.
        let percent = if raw_size > 0 {
            (reclaimable as f64 / raw_size as f64 * 100.0).round() as i64
        } else {
            0
        };
        DfRow {
            kind,
            total,
            active,
            raw_size,
            raw_reclaimable: reclaimable,
            total_count: total,
            size: df_size(raw_size),
            reclaimable: format!("{} ({percent}%)", df_size(reclaimable)),
        }
    }
}

/// go-units `HumanSize`, as `system df` prints sizes: `14.52MB`, `0B`.
fn df_size(bytes: u64) -> String {
    format::human_size_with_precision(bytes as f64, 4)
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct DfImageRow {
    repository: String,
    tag: String,
    #[serde(rename = "ImageID")]
    image_id: String,
    created: String,
    size: String,
    shared_size: String,
    unique_size: String,
    containers: u32,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct DfContainerRow {
    #[serde(rename = "ContainerID")]
    container_id: String,
    image: String,
    command: String,
    local_volumes: usize,
    #[serde(rename = "RWSize")]
    rw_size: String,
    created: String,
    status: String,
    names: String,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct DfVolumeRow {
    volume_name: String,
    links: usize,
    size: String,
}

pub fn df(ctx: &Ctx, args: &DfArgs) -> Result<i32, Error> {
    if args.verbose && args.format.is_some() {
        return Err(Error::Usage(
            "cannot combine --format and --verbose flags".into(),
        ));
    }
    let usage = crate::engine::system::disk_usage(ctx)?;
    if args.verbose {
        return df_verbose(&usage);
    }
    let table = Table {
        name: "df",
        default_template: "table {{.Type}}\t{{.Total}}\t{{.Active}}\t{{.Size}}\t{{.Reclaimable}}",
        headers: &[],
        json: JsonStyle::IMAGES,
    };
    let fmt = Format::parse(args.format.as_deref());
    out(&format::render_list(&df_rows(&usage), &fmt, &table)?).map(|()| 0)
}

/// `system df --verbose`: images, containers and volumes, one table each.
fn df_verbose(usage: &crate::engine::system::DiskUsage) -> Result<i32, Error> {
    let fmt = Format::Default;
    let images = format::render_list(
        &df_images(usage),
        &fmt,
        &Table {
            name: "df",
            default_template: "table {{.Repository}}\t{{.Tag}}\t{{.ImageID}}\t{{.Created}}\t{{.Size}}\t{{.SharedSize}}\t{{.UniqueSize}}\t{{.Containers}}",
            headers: &[("ImageID", "IMAGE ID")],
            json: JsonStyle::IMAGES,
        },
    )?;
    let containers = format::render_list(
        &df_containers(usage),
        &fmt,
        &Table {
            name: "df",
            default_template: "table {{.ContainerID}}\t{{.Image}}\t{{.Command}}\t{{.LocalVolumes}}\t{{.RWSize}}\t{{.Created}}\t{{.Status}}\t{{.Names}}",
            headers: &[
                ("ContainerID", "CONTAINER ID"),
                ("LocalVolumes", "LOCAL VOLUMES"),
                ("RWSize", "SIZE"),
            ],
            json: JsonStyle::IMAGES,
        },
    )?;
    let volumes = format::render_list(
        &df_volumes(usage),
        &fmt,
        &Table {
            name: "df",
            default_template: "table {{.VolumeName}}\t{{.Links}}\t{{.Size}}",
            headers: &[("VolumeName", "VOLUME NAME")],
            json: JsonStyle::IMAGES,
        },
    )?;
    out(&format!(
        "Images space usage:\n\n{images}\nContainers space usage:\n\n{containers}\nLocal Volumes space usage:\n\n{volumes}"
    ))
    .map(|()| 0)
}

/// `system df`'s summary, as podman counts: an image is active when a container uses it, and what
/// the active images alone hold is not reclaimable; a container is active while it runs (the
/// writable layers of the others are reclaimable); a volume's links are the containers using it
/// (those no container uses are reclaimable).
fn df_rows(usage: &crate::engine::system::DiskUsage) -> Vec<DfRow> {
    let active_images = usage.images.iter().filter(|i| i.containers > 0);
    let used: u64 = active_images.clone().map(|i| i.unique).sum();
    let (mut c_size, mut c_free, mut c_running) = (0, 0, 0);
    for c in &usage.containers {
        c_size += c.rw_size;
        if c.status == "running" {
            c_running += 1;
        } else {
            c_free += c.rw_size;
        }
    }
    let v_size = usage.volumes.iter().map(|v| v.size).sum();
    let v_free = usage
        .volumes
        .iter()
        .filter(|v| v.links == 0)
        .map(|v| v.size)
        .sum();
    vec![
        DfRow::new(
            "Images",
            usage.images.len(),
            active_images.count(),
            usage.images_size,
            usage.images_size.saturating_sub(used),
        ),
        DfRow::new(
            "Containers",
            usage.containers.len(),
            c_running,
            c_size,
            c_free,
        ),
        DfRow::new(
            "Local Volumes",
            usage.volumes.len(),
            usage.volumes.iter().map(|v| v.links).sum(),
            v_size,
            v_free,
        ),
    ]
}

/// `system df --verbose`: a row per image name (or one for an image without any).
fn df_images(usage: &crate::engine::system::DiskUsage) -> Vec<DfImageRow> {
    let now = jiff::Timestamp::now();
    let mut images = Vec::new();
    for i in &usage.images {
        let names: Vec<Option<&String>> = if i.names.is_empty() {
            vec![None]
        } else {
            i.names.iter().map(Some).collect()
        };
        for n in names {
            let (repo, tag) =
                match n.and_then(|n| n.rsplit_once(':').filter(|(_, t)| !t.contains('/'))) {
                    Some((r, t)) => (r.to_string(), t.to_string()),
                    None => ("<none>".into(), "<none>".into()),
                };
            images.push(DfImageRow {
                repository: repo,
                tag,
                image_id: i.id.short().to_string(),
                created: i
                    .created
                    .map(|c| format::time_ago(c, now))
                    .unwrap_or_default(),
                size: df_size(i.size),
                shared_size: df_size(i.shared),
                unique_size: df_size(i.unique),
                containers: i.containers,
            });
        }
    }
    images
}

fn df_containers(usage: &crate::engine::system::DiskUsage) -> Vec<DfContainerRow> {
    let now = jiff::Timestamp::now();
    let short = |s: &str| s.chars().take(12).collect::<String>();
    usage
        .containers
        .iter()
        .map(|c| DfContainerRow {
            container_id: short(&c.id),
            image: short(&c.image_id),
            command: c.command.join(" "),
            local_volumes: c.local_volumes,
            rw_size: df_size(c.rw_size),
            created: format::time_ago(c.created, now),
            status: c.status.to_string(),
            names: c.name.clone(),
        })
        .collect()
}

fn df_volumes(usage: &crate::engine::system::DiskUsage) -> Vec<DfVolumeRow> {
    usage
        .volumes
        .iter()
        .map(|v| DfVolumeRow {
            volume_name: v.name.clone(),
            links: v.links,
            size: df_size(v.size),
        })
        .collect()
}

/// `unshare [--rootless-netns] [COMMAND]`: we are inside the namespace already (the dispatcher entered
/// it); enter the rootless network namespace when asked, then replace this
/// process with the command.
pub fn unshare(ctx: &Ctx, args: &UnshareArgs) -> Result<i32, Error> {
    if args.rootless_netns {
        crate::engine::network::attach::enter_rootless_netns(ctx)?;
    }
    let mut argv = args.command.clone();
    if argv.is_empty() {
        argv.push(
            std::env::var("SHELL")
                .ok()
                .filter(|s| !s.is_empty())
                .unwrap_or_else(|| "/bin/sh".into()),
        );
    }
    let mut env: BTreeMap<&str, String> = BTreeMap::new();
    env.insert("CONTAINERS_GRAPHROOT", ctx.paths.data.display().to_string());
    env.insert(
        "CONTAINERS_RUNROOT",
        ctx.paths.runtime.display().to_string(),
    );
    let mut cmd = std::process::Command::new(&argv[0]);
    cmd.args(&argv[1..]).envs(env);
    if let Some(stdout) = super::redirected_stdout() {
        cmd.stdout(stdout);
    }
    let err = cmd.exec();
    let code = if err.kind() == std::io::ErrorKind::NotFound {
        127
    } else {
        126
    };
    #[allow(clippy::print_stderr)]
    {
        eprintln!("Error: cannot run `{}`: {err}", argv[0]);
    }
    Err(Error::Reported(code))
}
