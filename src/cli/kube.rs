//! `roost kube play|down|generate` (and `generate kube`): pods, containers, volumes and secrets from
//! Kubernetes YAML, and YAML from pods and containers (podman's flags and output).
use std::io::Read;
use std::path::{Path, PathBuf};

use clap::Args;
use clap_complete::engine::ArgValueCandidates;

use crate::cli::out;
use crate::cli::progress::Progress;
use crate::engine::Ctx;
use crate::engine::container::network_settings::NetworkRequest;
use crate::engine::kube::{self as engine, GenerateOptions, PlayOptions};
use crate::error::Error;

#[derive(Debug, clap::Subcommand)]
pub enum KubeCommand {
    /// Create pods, containers, volumes and secrets from Kubernetes YAML (Pod, Deployment,
    /// PersistentVolumeClaim, ConfigMap, Secret)
    Play(PlayArgs),
    /// Remove the pods (and secrets; with --force volumes) that `kube play` made from a YAML file
    Down(DownArgs),
    /// Write Kubernetes YAML for pods or containers (`kube play` accepts it back)
    Generate(GenerateArgs),
}

impl KubeCommand {
    /// `generate` only reads records; the others make or remove containers.
    pub fn needs_userns(&self) -> bool {
        !matches!(self, KubeCommand::Generate(_))
    }
}

#[derive(Debug, Args)]
#[command(
    after_long_help = "Examples:\n  roost kube play app.yaml\n  roost kube play --replace --network pasta app.yaml\n  roost kube generate mypod > app.yaml && roost kube down app.yaml && roost kube play app.yaml"
)]
pub struct PlayArgs {
    /// Remove what a previous play of the file made, then play it again
    #[arg(long)]
    pub replace: bool,
    /// Start the pods after creating them (`--start=false` only creates them)
    #[arg(long, num_args = 0..=1, default_missing_value = "true", default_value = "true", value_name = "BOOL")]
    pub start: bool,
    /// The pods' network: pasta[:OPTS], slirp4netns[:OPTS], none, host, or bridge network names
    #[arg(long, value_name = "MODE", default_value = "", hide_default_value = true, add = ArgValueCandidates::new(crate::cli::complete::network_modes))]
    pub network: String,
    /// Build images from directories named like them next to the YAML (`--build=false`: never;
    /// default: only images that are missing)
    #[arg(long, num_args = 0..=1, default_missing_value = "true", value_name = "BOOL")]
    pub build: Option<bool>,
    /// Where --build looks for the images' directories (default: the YAML file's directory)
    #[arg(long, value_name = "DIR", value_hint = clap::ValueHint::DirPath)]
    pub context_dir: Option<PathBuf>,
    /// Print no pull or build progress
    #[arg(short, long)]
    pub quiet: bool,
    /// Tear down what the YAML describes instead (as `kube down`)
    #[arg(long)]
    pub down: bool,
    /// Require HTTPS and verify certificates when pulling
    #[arg(long, num_args = 0..=1, default_missing_value = "true", value_name = "BOOL")]
    pub tls_verify: Option<bool>,
    /// The YAML file, `-` for stdin
    #[arg(value_name = "FILE|-", value_hint = clap::ValueHint::FilePath)]
    pub file: String,
}

#[derive(Debug, Args)]
pub struct DownArgs {
    /// Also remove the volumes of the YAML's PersistentVolumeClaims
    #[arg(long)]
    pub force: bool,
    /// The YAML file, `-` for stdin
    #[arg(value_name = "FILE|-", value_hint = clap::ValueHint::FilePath)]
    pub file: String,
}

#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// Write the YAML to this file instead of stdout
    #[arg(short, long, value_name = "FILE", value_hint = clap::ValueHint::FilePath)]
    pub filename: Option<PathBuf>,
    /// Also write a Service for each pod's published ports
    #[arg(short, long)]
    pub service: bool,
    /// Pods or containers
    #[arg(value_name = "POD|CONTAINER", required = true, add = ArgValueCandidates::new(crate::cli::complete::pod_and_container_names))]
    pub names: Vec<String>,
}

/// The file's text and how errors name it; the directory `--build` looks in.
fn read_source(file: &str) -> Result<(String, String, PathBuf), Error> {
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    if file == "-" {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(|e| Error::io("read the Kubernetes YAML from stdin", e))?;
        return Ok((text, "-".into(), cwd));
    }
    let text = std::fs::read_to_string(file)
        .map_err(|e| Error::io(format!("read the Kubernetes YAML file `{file}`"), e))?;
    let dir = Path::new(file)
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .map_or(cwd.clone(), |p| cwd.join(p));
    Ok((text, file.to_string(), dir))
}

fn play(ctx: &Ctx, a: &PlayArgs) -> Result<i32, Error> {
    let (text, source_name, context_dir) = read_source(&a.file)?;
    if a.down {
        return print_down(&engine::down(ctx, &source_name, &text, false)?);
    }
    let mut net = NetworkRequest {
        mode: a.network.clone(),
        ..Default::default()
    };
    let networks = crate::cli::pod::bridge_networks(&mut net)?;
    let opts = PlayOptions {
        source_name,
        text,
        context_dir: a.context_dir.clone().unwrap_or(context_dir),
        replace: a.replace,
        start: a.start,
        network: net.mode,
        networks,
        build: a.build,
        tls_verify: a.tls_verify,
    };
    let build = crate::cli::image::build_printer(a.quiet);
    let report = engine::play(ctx, &opts, &Progress::new(a.quiet), &build)?;
    let mut text = String::new();
    if !report.secrets.is_empty() {
        text.push_str(&format!("Secret:\n{}\n\n", report.secrets.join("\n")));
    }
    if !report.volumes.is_empty() {
        text.push_str(&format!("Volume:\n{}\n\n", report.volumes.join("\n")));
    }
    for p in &report.pods {
        text.push_str(&format!("Pod:\n{}\nContainer:\n", p.id));
        for c in &p.containers {
            text.push_str(&format!("{c}\n"));
        }
        text.push('\n');
    }
    out(&text).map(|()| 0)
}

fn print_down(r: &engine::DownReport) -> Result<i32, Error> {
    let mut text = String::new();
    for (title, ids) in [
        ("Pods stopped:", &r.stopped),
        ("Pods removed:", &r.pods),
        ("Secrets removed:", &r.secrets),
        ("Volumes removed:", &r.volumes),
    ] {
        if !ids.is_empty() {
            text.push_str(&format!("{title}\n{}\n", ids.join("\n")));
        }
    }
    out(&text).map(|()| 0)
}

fn down(ctx: &Ctx, a: &DownArgs) -> Result<i32, Error> {
    let (text, source_name, _) = read_source(&a.file)?;
    print_down(&engine::down(ctx, &source_name, &text, a.force)?)
}

pub fn generate(ctx: &Ctx, a: &GenerateArgs) -> Result<i32, Error> {
    let yaml = engine::generate(
        ctx,
        &GenerateOptions {
            names: a.names.clone(),
            service: a.service,
        },
    )?;
    match &a.filename {
        Some(f) => crate::store::write_atomic(f, yaml.as_bytes(), 0o644)
            .map_err(|e| Error::io(format!("write `{}`", f.display()), e))
            .map(|()| 0),
        None => out(&yaml).map(|()| 0),
    }
}

/// Run a `kube …` subcommand.
pub fn dispatch(ctx: &Ctx, cmd: KubeCommand) -> Result<i32, Error> {
    match cmd {
        KubeCommand::Play(a) => play(ctx, &a),
        KubeCommand::Down(a) => down(ctx, &a),
        KubeCommand::Generate(a) => generate(ctx, &a),
    }
}
