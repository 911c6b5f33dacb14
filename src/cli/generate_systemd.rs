//! `roost generate systemd CONTAINER|POD`: units in podman's layout (deprecated in podman in favour
//! of Quadlet, and still used).
use std::collections::BTreeMap;

use clap::Args;
use clap_complete::engine::ArgValueCandidates;

use super::out;
use crate::engine::Ctx;
use crate::engine::systemd::{self, GenerateOptions, Unit};
use crate::error::Error;

#[derive(Debug, Args)]
#[command(
    after_long_help = "Examples:\n  roost generate systemd --new --name web > ~/.config/systemd/user/container-web.service\n  roost generate systemd --files --name POD\n  roost generate systemd --new --restart-policy=always --stop-timeout 5 CTR"
)]
pub struct SystemdArgs {
    /// Use the container's (pod's) name instead of its ID
    #[arg(short, long)]
    pub name: bool,
    /// Write NAME.service files in the current directory and print their paths
    #[arg(short, long)]
    pub files: bool,
    /// Create a new container (pod) at every start and remove it at stop, instead of starting the existing one
    #[arg(long)]
    pub new: bool,
    /// Print the units as JSON (`json`) instead of their text
    #[arg(long, value_name = "FORMAT", value_parser = ["json"])]
    pub format: Option<String>,
    /// The units' Restart= policy: no, on-success, on-failure, on-abnormal, on-watchdog, on-abort or always
    #[arg(long, value_name = "POLICY", value_parser = systemd::RESTART_POLICIES)]
    pub restart_policy: Option<String>,
    /// The units' RestartSec= (seconds systemd waits before it restarts one)
    #[arg(long, value_name = "SECONDS")]
    pub restart_sec: Option<u32>,
    /// The units' TimeoutStartSec=
    #[arg(long, value_name = "SECONDS")]
    pub start_timeout: Option<u32>,
    /// How long `stop` waits before it kills (default: the container's own stop timeout)
    #[arg(
        long,
        visible_short_alias = 't',
        alias = "time",
        value_name = "SECONDS"
    )]
    pub stop_timeout: Option<u32>,
    /// Unit name prefix for containers
    #[arg(long, value_name = "PREFIX", default_value = "container")]
    pub container_prefix: String,
    /// Unit name prefix for pods
    #[arg(long, value_name = "PREFIX", default_value = "pod")]
    pub pod_prefix: String,
    /// Separator between the prefix and the name or ID
    #[arg(long, value_name = "SEPARATOR", default_value = "-")]
    pub separator: String,
    /// Add Wants= to the units (weak dependencies)
    #[arg(long, value_name = "UNIT")]
    pub wants: Vec<String>,
    /// Add After= to the units (ordering)
    #[arg(long, value_name = "UNIT")]
    pub after: Vec<String>,
    /// Add Requires= to the units (strong dependencies)
    #[arg(long, value_name = "UNIT")]
    pub requires: Vec<String>,
    /// Set a variable in the units (KEY=VALUE, or KEY to take it from this environment)
    #[arg(short, long, value_name = "ENV")]
    pub env: Vec<String>,
    /// Leave out the header (the generator's version and the time)
    #[arg(long)]
    pub no_header: bool,
    /// Make a template unit (NAME@.service; instances name their containers NAME-INSTANCE); implies --new
    #[arg(long)]
    pub template: bool,
    /// The container or pod
    #[arg(value_name = "CONTAINER|POD", add = ArgValueCandidates::new(super::complete::pod_and_container_names))]
    pub target: String,
}

/// podman's words (its users grep for them).
const DEPRECATION: &str = "\nDEPRECATED command:\nIt is recommended to use Quadlets for running containers and pods under systemd.\n\nPlease refer to podman-systemd.unit(5) for details.\n";

pub fn systemd(ctx: &Ctx, a: &SystemdArgs) -> Result<i32, Error> {
    #[allow(clippy::print_stderr)]
    {
        eprint!("{DEPRECATION}");
    }
    let opts = options(a)?;
    let report = systemd::generate(ctx, &a.target, &opts)?;
    let mut shown: BTreeMap<String, String> = BTreeMap::new();
    for unit in &report.units {
        let text = if a.files {
            write_unit(unit)? + if a.format.is_none() { "\n" } else { "" }
        } else {
            unit.content.clone()
        };
        shown.insert(unit.name.clone(), text);
    }
    if a.format.is_some() {
        return out(&json(&shown)?).map(|()| 0);
    }
    out(&shown.into_values().collect::<String>()).map(|()| 0)
}

fn options(a: &SystemdArgs) -> Result<GenerateOptions, Error> {
    let executable = std::env::current_exe()
        .map_err(|e| Error::io("find roost's own path (/proc/self/exe)", e))?;
    Ok(GenerateOptions {
        new: a.new || a.template,
        use_name: a.name,
        restart_policy: a.restart_policy.clone(),
        restart_sec: a.restart_sec,
        start_timeout: a.start_timeout,
        stop_timeout: a.stop_timeout,
        container_prefix: a.container_prefix.clone(),
        pod_prefix: a.pod_prefix.clone(),
        separator: a.separator.clone(),
        wants: a.wants.clone(),
        after: a.after.clone(),
        requires: a.requires.clone(),
        env: unit_env(&a.env),
        no_header: a.no_header,
        template: a.template,
        executable: executable.display().to_string(),
        version: env!("CARGO_PKG_VERSION").to_string(),
        timestamp: jiff::Timestamp::now()
            .to_zoned(crate::localtime::local())
            .strftime("%a %b %e %H:%M:%S %Z %Y")
            .to_string(),
        image_at: super::argv::image_index,
    })
}

/// `--env KEY` takes KEY's value from this environment (and is left out when it is unset).
fn unit_env(env: &[String]) -> Vec<String> {
    env.iter()
        .filter_map(|e| {
            if e.contains('=') {
                Some(e.clone())
            } else {
                std::env::var(e).ok().map(|v| format!("{e}={v}"))
            }
        })
        .collect()
}

/// `--files`: the unit in the current directory; returns its path.
fn write_unit(unit: &Unit) -> Result<String, Error> {
    let cwd = std::env::current_dir().map_err(|e| Error::io("find the current directory", e))?;
    let path = systemd::generate::unit_path(&cwd, unit);
    std::fs::write(&path, &unit.content)
        .map_err(|e| Error::io(format!("write the unit file `{}`", path.display()), e))?;
    Ok(path.display().to_string())
}

/// podman's `json.MarshalIndent(units, "", " ")`: an object by unit name.
fn json(units: &BTreeMap<String, String>) -> Result<String, Error> {
    use serde::Serialize;
    let mut buf = Vec::new();
    let formatter = serde_json::ser::PrettyFormatter::with_indent(b" ");
    let mut ser = serde_json::Serializer::with_formatter(&mut buf, formatter);
    units
        .serialize(&mut ser)
        .map_err(|e| Error::Usage(format!("cannot print the units as JSON: {e}")))?;
    let text = String::from_utf8(buf).expect("serde_json writes UTF-8");
    Ok(text
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
        + "\n")
}
