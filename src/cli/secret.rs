//! `roost secret …`: create, ls, inspect, rm, exists (podman's flags and output, the `file` driver).
use std::collections::BTreeMap;
use std::io::Read;

use clap::Args;
use clap_complete::engine::ArgValueCandidates;
use serde::Serialize;

use crate::cli::complete::secret_names;
use crate::cli::format::{self, Format, JsonStyle, Table};
use crate::cli::lazy::Lazy;
use crate::cli::out;
use crate::engine::secret::{self as engine, CreateSecretOptions, SecretRecord};
use crate::engine::{Ctx, EngineError};
use crate::error::Error;

#[derive(Debug, clap::Subcommand)]
pub enum SecretCommand {
    /// Create a secret from a file, stdin (`-`) or an environment variable (`--env`)
    Create(Lazy<CreateArgs>),
    /// List secrets
    #[command(visible_alias = "list")]
    Ls(Lazy<LsArgs>),
    /// Show details of secrets (the data only with --showsecret)
    Inspect(Lazy<InspectArgs>),
    /// Remove secrets (containers keep the copies they were given)
    #[command(visible_alias = "remove")]
    Rm(Lazy<RmArgs>),
    /// Check whether a secret exists (exit 0 if it does, 1 if not)
    Exists(Lazy<ExistsArgs>),
}

#[derive(Debug, Args)]
pub struct CreateArgs {
    /// Secret driver (only `file`, podman's default)
    #[arg(short, long, value_name = "DRIVER", default_value = "file")]
    pub driver: String,
    /// Options for the driver (KEY=VALUE)
    #[arg(long, value_name = "KEY=VALUE", value_delimiter = ',')]
    pub driver_opts: Vec<String>,
    /// Read the secret's data from the environment variable named by the second argument
    #[arg(short, long)]
    pub env: bool,
    /// Set metadata on the secret (KEY=VALUE)
    #[arg(short, long, value_name = "KEY=VALUE")]
    pub label: Vec<String>,
    /// Replace a secret of the same name
    #[arg(long)]
    pub replace: bool,
    /// Name of the secret
    #[arg(value_name = "NAME")]
    pub name: String,
    /// File with the data, `-` for stdin (with --env: the variable's name)
    #[arg(value_name = "FILE|-", value_hint = clap::ValueHint::FilePath)]
    pub source: String,
}

#[derive(Debug, Args)]
pub struct LsArgs {
    /// Filter output (name=, id=, label=)
    #[arg(short, long, value_name = "KEY=VALUE")]
    pub filter: Vec<String>,
    /// Pretty-print with a Go template, `json`, or `table …`
    #[arg(long, value_name = "FORMAT")]
    pub format: Option<String>,
    /// Omit the table heading
    #[arg(short, long)]
    pub noheading: bool,
    /// Print only secret IDs
    #[arg(short, long)]
    pub quiet: bool,
}

#[derive(Debug, Args)]
pub struct InspectArgs {
    /// Format the output with a Go template or `json`
    #[arg(short, long, value_name = "FORMAT")]
    pub format: Option<String>,
    /// Human-readable output instead of JSON
    #[arg(long)]
    pub pretty: bool,
    /// Show the secret's data
    #[arg(long)]
    pub showsecret: bool,
    #[arg(value_name = "SECRET", required = true, add = ArgValueCandidates::new(secret_names))]
    pub names: Vec<String>,
}

#[derive(Debug, Args)]
pub struct RmArgs {
    /// Remove all secrets
    #[arg(short, long)]
    pub all: bool,
    /// Ignore secrets that do not exist
    #[arg(short, long)]
    pub ignore: bool,
    #[arg(value_name = "SECRET", add = ArgValueCandidates::new(secret_names))]
    pub names: Vec<String>,
}

#[derive(Debug, Args)]
pub struct ExistsArgs {
    #[arg(value_name = "SECRET", add = ArgValueCandidates::new(secret_names))]
    pub name: String,
}

/// The fields `secret ls` templates can use (for completion).
pub(crate) fn ls_format_fields() -> serde_json::Value {
    format::template_fields::<ListView>(&[])
}

/// The fields `secret inspect` templates can use (for completion).
pub(crate) fn inspect_format_fields() -> serde_json::Value {
    format::template_fields::<InspectView>(&[])
}

/// podman's `secret ls` row.
#[derive(Serialize, Default)]
#[serde(rename_all = "PascalCase")]
struct ListView {
    #[serde(rename = "ID")]
    id: String,
    name: String,
    driver: String,
    created_at: String,
    updated_at: String,
}

#[derive(Serialize, Default)]
#[serde(rename_all = "PascalCase")]
struct DriverView {
    name: String,
    options: BTreeMap<String, String>,
}

#[derive(Serialize, Default)]
#[serde(rename_all = "PascalCase")]
struct SpecView {
    name: String,
    driver: DriverView,
    labels: BTreeMap<String, String>,
}

/// podman's `secret inspect` object.
#[derive(Serialize, Default)]
#[serde(rename_all = "PascalCase")]
struct InspectView {
    #[serde(rename = "ID")]
    id: String,
    created_at: String,
    updated_at: String,
    spec: SpecView,
    #[serde(skip_serializing_if = "Option::is_none")]
    secret_data: Option<String>,
}

fn stamp(t: jiff::Timestamp) -> String {
    format::rfc3339_nano(&t.to_zoned(crate::localtime::local()))
}

fn create(ctx: &Ctx, a: &CreateArgs) -> Result<i32, Error> {
    let data = if a.env {
        std::env::var_os(&a.source)
            .map(|v| v.into_encoded_bytes())
            .ok_or_else(|| {
                Error::Usage(format!(
                    "environment variable `{}` is not set: cannot read the secret's data from it",
                    a.source
                ))
            })?
    } else if a.source == "-" {
        let mut buf = Vec::new();
        std::io::stdin()
            .take(engine::MAX_SIZE as u64)
            .read_to_end(&mut buf)
            .map_err(|e| Error::io("read the secret from stdin", e))?;
        buf
    } else {
        std::fs::read(&a.source)
            .map_err(|e| Error::io(format!("read the secret file `{}`", a.source), e))?
    };
    let r = engine::create(
        ctx,
        &CreateSecretOptions {
            name: a.name.clone(),
            data,
            driver: Some(a.driver.clone()),
            driver_options: crate::cli::key_values("--driver-opts", &a.driver_opts)?,
            labels: crate::cli::key_values("--label", &a.label)?,
            replace: a.replace,
        },
    )?;
    out(&format!("{}\n", r.id)).map(|()| 0)
}

fn ls(ctx: &Ctx, a: &LsArgs) -> Result<i32, Error> {
    let filters = a
        .filter
        .iter()
        .map(|f| engine::parse_filter(f).map_err(Error::Usage))
        .collect::<Result<Vec<_>, _>>()?;
    let secrets = engine::list(ctx, &filters)?;
    if a.quiet {
        return out(&secrets
            .iter()
            .map(|r| format!("{}\n", r.id))
            .collect::<String>())
        .map(|()| 0);
    }
    let now = jiff::Timestamp::now();
    let rows: Vec<ListView> = secrets
        .iter()
        .map(|r| ListView {
            id: r.id.clone(),
            name: r.name.clone(),
            driver: r.driver.clone(),
            created_at: format::time_ago(r.created, now),
            updated_at: format::time_ago(r.updated, now),
        })
        .collect();
    let fmt = Format::parse(a.format.as_deref());
    let table = Table {
        name: "secret ls",
        default_template: "table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.CreatedAt}}\t{{.UpdatedAt}}",
        headers: &[("CreatedAt", "CREATED"), ("UpdatedAt", "UPDATED")],
        json: JsonStyle::IMAGES,
    };
    let mut text = format::render_list(&rows, &fmt, &table)?;
    if a.noheading {
        text = format::strip_heading(text, &fmt);
    }
    out(&text).map(|()| 0)
}

fn inspect_view(ctx: &Ctx, r: &SecretRecord, show: bool) -> Result<InspectView, EngineError> {
    let mut options = r.driver_options.clone();
    options
        .entry("path".into())
        .or_insert_with(|| engine::driver_path(ctx).display().to_string());
    let secret_data = if show {
        Some(String::from_utf8_lossy(&engine::data(ctx, r)?).into_owned())
    } else {
        None
    };
    Ok(InspectView {
        id: r.id.clone(),
        created_at: stamp(r.created),
        updated_at: stamp(r.updated),
        spec: SpecView {
            name: r.name.clone(),
            driver: DriverView {
                name: r.driver.clone(),
                options,
            },
            labels: r.labels.clone(),
        },
        secret_data,
    })
}

fn pretty(v: &InspectView) -> String {
    let labels: Vec<String> = v
        .spec
        .labels
        .iter()
        .map(|(k, val)| format!("{k}={val}"))
        .collect();
    let mut s = format!(
        "ID:              {}\nName:            {}\nDriver:          {}\nCreated at:      {}\nUpdated at:      {}\nLabels:          {}\n",
        v.id,
        v.spec.name,
        v.spec.driver.name,
        v.created_at,
        v.updated_at,
        labels.join(", ")
    );
    if let Some(d) = &v.secret_data {
        s.push_str(&format!("SecretData:      {d}\n"));
    }
    s
}

fn inspect(ctx: &Ctx, a: &InspectArgs) -> Result<i32, Error> {
    let mut views = Vec::new();
    let mut first_error = None;
    for n in &a.names {
        match engine::find(ctx, n).and_then(|r| inspect_view(ctx, &r, a.showsecret)) {
            Ok(v) => views.push(v),
            Err(e) => {
                #[allow(clippy::print_stderr)]
                {
                    eprintln!("Error: {e}");
                }
                first_error.get_or_insert(e.exit_code());
            }
        }
    }
    let text = if a.pretty {
        views.iter().map(pretty).collect::<Vec<_>>().join("\n")
    } else {
        format::render_inspect(&views, &Format::parse(a.format.as_deref()))?
    };
    out(&text)?;
    Ok(first_error.unwrap_or(0))
}

fn rm(ctx: &Ctx, a: &RmArgs) -> Result<i32, Error> {
    if a.names.is_empty() != a.all {
        return Err(Error::Usage(
            "`secret rm` takes either secret names or --all".into(),
        ));
    }
    let report = engine::remove(ctx, &a.names, a.all, a.ignore)?;
    out(&report
        .removed
        .iter()
        .map(|id| format!("{id}\n"))
        .collect::<String>())?;
    for e in &report.errors {
        #[allow(clippy::print_stderr)]
        {
            eprintln!("Error: {e}");
        }
    }
    Ok(report.errors.first().map_or(0, EngineError::exit_code))
}

/// Run a `secret …` subcommand.
pub fn dispatch(ctx: &Ctx, cmd: SecretCommand) -> Result<i32, Error> {
    match cmd {
        SecretCommand::Create(a) => create(ctx, &a),
        SecretCommand::Ls(a) => ls(ctx, &a),
        SecretCommand::Inspect(a) => inspect(ctx, &a),
        SecretCommand::Rm(a) => rm(ctx, &a),
        SecretCommand::Exists(a) => Ok(if engine::exists(ctx, &a.name)? { 0 } else { 1 }),
    }
}
