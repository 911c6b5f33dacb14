//! `roost kube play|down|generate` (and `generate kube`): pods, containers, volumes and secrets from
//! Kubernetes YAML, and YAML from pods and containers (podman's flags and output).
use std::io::Read;
use std::path::{Path, PathBuf};

use clap::Args;
use clap_complete::engine::ArgValueCandidates;

use crate::cli::lazy::Lazy;
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
    Play(Lazy<PlayArgs>),
    /// Remove the pods (and secrets; with --force volumes) that `kube play` made from a YAML file
    Down(Lazy<DownArgs>),
    /// Write Kubernetes YAML for pods or containers (`kube play` accepts it back)
    Generate(Lazy<GenerateArgs>),
}

impl KubeCommand {
    /// `generate` only reads records; the others make or remove containers.
    pub fn needs_userns(&self) -> bool {
        !matches!(self, KubeCommand::Generate(_))
    }
}

#[derive(Debug, Args)]
#[command(
    after_long_help = "Examples:\n  roost kube play app.yaml\n  roost kube play --replace --network pasta app.yaml\n  roost kube play --configmap env.yaml --publish 8080:80 app.yaml\n  roost kube play --annotation io.containers.autoupdate=registry app.yaml   (with PODMAN_SYSTEMD_UNIT set: `auto-update` updates its containers)\n  roost kube play --replace --service-container=true app.yaml   (what a Quadlet .kube unit runs)\n  roost kube generate mypod > app.yaml && roost kube down app.yaml && roost kube play app.yaml"
)]
pub struct PlayArgs {
    /// Remove what a previous play of the file made, then play it again
    #[arg(long)]
    pub replace: bool,
    /// Start the pods after creating them (`--start=false` only creates them, and the service
    /// container of --service-container: `pod start` starts it with its pod)
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "true", value_name = "BOOL")]
    pub start: bool,
    /// The pods' network: pasta[:OPTS], slirp4netns[:OPTS], slirp[:OPTS], none, host, or bridge
    /// network names NAME[:ip=IP,alias=A,...] (repeatable for several bridge networks)
    #[arg(long, visible_alias = "net", value_name = "MODE", add = ArgValueCandidates::new(crate::cli::complete::network_modes))]
    pub network: Vec<String>,
    /// Publish a container port: [[IP:][HOSTPORT]:]CONTAINERPORT[/PROTO] (repeatable). It replaces
    /// the YAML's hostPort for the same containerPort and protocol, or adds a publication
    #[arg(long, value_name = "[[IP:][HOSTPORT]:]CONTAINERPORT[/PROTO]")]
    pub publish: Vec<String>,
    /// A YAML file of ConfigMaps the pods' env, envFrom and configMap volumes may use as if they
    /// were in the played file (repeatable, or comma-separated)
    #[arg(long, value_name = "FILE", value_delimiter = ',', value_hint = clap::ValueHint::FilePath)]
    pub configmap: Vec<PathBuf>,
    /// Add an annotation KEY=VALUE to every pod and container (repeatable). podman's
    /// io.containers.autoupdate=registry|local (every container) and
    /// io.containers.autoupdate/NAME=… (the YAML's container NAME) also become the containers'
    /// io.containers.autoupdate label, which `auto-update` reads (as annotations in the YAML do)
    #[arg(long, value_name = "KEY=VALUE")]
    pub annotation: Vec<String>,
    /// Logging driver of every container: k8s-file (default), journald, passthrough or none (see
    /// `run --log-driver`)
    #[arg(long, value_name = "DRIVER", value_parser = ["k8s-file", "json-file", "journald", "passthrough", "none"])]
    pub log_driver: Option<String>,
    /// Logging driver options of every container: max-size=SIZE, path=FILE, tag=TAG (see `run
    /// --log-opt`)
    #[arg(long, value_name = "NAME=VALUE")]
    pub log_opt: Vec<String>,
    /// User namespace of the pods (each pod's containers share it, as with `pod create --userns`):
    /// host (roost's own, the default) or keep-id[:uid=U,gid=G,size=S]
    #[arg(long, value_name = "MODE")]
    pub userns: Option<String>,
    /// Build images from directories named like them next to the YAML (`--build=false`: never;
    /// default: only images that are missing)
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_name = "BOOL")]
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
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_name = "BOOL")]
    pub tls_verify: Option<bool>,
    /// Also make a service container (`<id>-service`) that stands for the pods: the main process of
    /// a systemd unit (Quadlet `.kube`). It starts once the pods' containers run (its monitor sends
    /// READY=1 to NOTIFY_SOCKET) and stops when they have all exited; `kube down` removes it
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false", value_name = "BOOL")]
    pub service_container: bool,
    /// How the service container's exit code reflects the containers': none (0), all (non-zero if
    /// all failed), any (non-zero if any failed); needs --service-container
    #[arg(long, value_name = "HOW", value_parser = engine::Propagation::NAMES)]
    pub service_exit_code_propagation: Option<String>,
    /// The YAML file, `-` for stdin
    #[arg(value_name = "FILE|-", value_hint = clap::ValueHint::FilePath)]
    pub file: String,
}

#[derive(Debug, Args)]
pub struct DownArgs {
    /// Also remove the volumes of the YAML's PersistentVolumeClaims (`--force=false`: keep them,
    /// the default)
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false", value_name = "BOOL")]
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
        mode: network_mode(&a.network)?,
        ..Default::default()
    };
    let networks = crate::cli::pod::bridge_networks(&mut net)?;
    let mut publish = Vec::new();
    for p in &a.publish {
        publish.extend(
            crate::network::parse_publish(p)
                .map_err(|e| Error::Usage(format!("--publish `{p}`: {e}")))?,
        );
    }
    let mut config_map_files = Vec::new();
    for f in &a.configmap {
        let text = std::fs::read_to_string(f)
            .map_err(|e| Error::io(format!("read the --configmap file `{}`", f.display()), e))?;
        config_map_files.push((f.display().to_string(), text));
    }
    passthrough_off_terminal(a.log_driver.as_deref())?;
    let propagation = a
        .service_exit_code_propagation
        .as_deref()
        .map(engine::Propagation::parse)
        .transpose()
        .map_err(Error::Usage)?;
    if propagation.is_some() && !a.service_container {
        return Err(Error::Usage(
            "--service-exit-code-propagation needs --service-container=true".into(),
        ));
    }
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
        service_container: a.service_container.then(|| propagation.unwrap_or_default()),
        annotations: crate::cli::key_values("--annotation", &a.annotation)?,
        config_map_files,
        publish,
        log_driver: a.log_driver.clone(),
        log_opts: crate::engine::container::logs::parse_log_opts(&a.log_opt)?,
        userns: crate::cli::container::userns::request_mode(
            a.userns.clone().filter(|u| u != "host"),
        )?,
        systemd_unit: std::env::var(crate::engine::systemd::UNIT_VARIABLE)
            .ok()
            .filter(|u| !u.is_empty()),
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

/// `--network` given once, or several bridge networks (`a,b` as `--network a --network b`); a mode
/// (pasta, host, …) only alone.
fn network_mode(flags: &[String]) -> Result<String, Error> {
    if let [one] = flags {
        return Ok(one.clone());
    }
    let is_mode = |n: &str| {
        matches!(
            n,
            "" | "default" | "host" | "none" | "private" | "pasta" | "slirp4netns" | "slirp"
        ) || ["pasta:", "slirp4netns:", "slirp:", "container:", "ns:"]
            .iter()
            .any(|p| n.starts_with(p))
    };
    if let Some(m) = flags.iter().find(|n| is_mode(n)) {
        return Err(Error::Usage(format!(
            "--network `{m}` cannot be combined with other --network flags: only bridge networks can be given more than once"
        )));
    }
    Ok(flags.join(","))
}

/// `--log-driver passthrough` hands the containers our stdio, which must not be a terminal (as
/// for `run`).
fn passthrough_off_terminal(driver: Option<&str>) -> Result<(), Error> {
    use std::io::IsTerminal;
    let terminal = std::io::stdin().is_terminal()
        || std::io::stdout().is_terminal()
        || std::io::stderr().is_terminal();
    if driver == Some("passthrough") && terminal {
        return Err(Error::Usage(
            "the '--log-driver passthrough' option cannot be used on a TTY: redirect the stdin, stdout \
             and stderr of roost (as a systemd unit does), or use another log driver"
                .into(),
        ));
    }
    Ok(())
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
