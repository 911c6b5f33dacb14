//! `build` / `image build`: flags to [`BuildOptions`], progress printed as podman prints it.
use std::collections::BTreeMap;
use std::io::{BufRead, IsTerminal, Read};
use std::path::{Path, PathBuf};

use clap::Args;

use crate::cli::lazy::Lazy;
use crate::cli::out;
use crate::cli::progress::Progress;
use crate::engine::Ctx;
use crate::engine::build::{BuildOptions, BuildProgress, ContextSource, DockerfileSource};
use crate::engine::container::CommitFormat;
use crate::engine::image::{PullPolicy, PullProgress};
use crate::error::Error;
use crate::oci::Digest;

#[derive(Debug, Args)]
pub struct BuildArgs {
    /// Containerfile to use (default: CONTEXT/Containerfile, then CONTEXT/Dockerfile); `-` reads it from stdin
    #[arg(short = 'f', long = "file", value_name = "PATH", value_hint = clap::ValueHint::FilePath)]
    pub file: Option<String>,
    /// Name (and tag) for the image; can be given several times
    #[arg(short = 't', long = "tag", value_name = "NAME")]
    pub tags: Vec<String>,
    /// ARG=VALUE for the Containerfile (ARG alone takes the value from the environment)
    #[arg(long = "build-arg", value_name = "ARG=VALUE")]
    pub build_args: Vec<String>,
    /// File of ARG=VALUE lines
    #[arg(long = "build-arg-file", value_name = "PATH", value_hint = clap::ValueHint::FilePath)]
    pub build_arg_files: Vec<PathBuf>,
    /// Build up to this stage (name or index)
    #[arg(long, value_name = "STAGE")]
    pub target: Option<String>,
    /// Add an image label KEY=VALUE
    #[arg(long = "label", value_name = "KEY=VALUE")]
    pub labels: Vec<String>,
    /// Label the image io.buildah.version (the buildah version roost's build follows), as buildah
    /// does; =false leaves it out
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "true", value_name = "BOOL")]
    pub identity_label: bool,
    /// Add an image annotation KEY=VALUE (OCI format only)
    #[arg(long = "annotation", value_name = "KEY=VALUE")]
    pub annotations: Vec<String>,
    /// Squash the layers this build adds into one
    #[arg(long)]
    pub squash: bool,
    /// Squash all layers, the base image's too, into one
    #[arg(long)]
    pub squash_all: bool,
    /// Image format: oci or docker
    #[arg(long, value_name = "FORMAT", allow_hyphen_values = true, default_value = "oci", value_parser = ["oci", "docker"])]
    pub format: String,
    /// Write the image id to this file
    #[arg(long, value_name = "PATH", value_hint = clap::ValueHint::FilePath)]
    pub iidfile: Option<PathBuf>,
    /// Print only the image id
    #[arg(short, long)]
    pub quiet: bool,
    /// Secret for RUN --mount=type=secret: id=ID,src=PATH (or id=ID,env=VAR)
    #[arg(long = "secret", value_name = "id=ID,src=PATH")]
    pub secrets: Vec<String>,
    /// Platform to build for (only the host's is supported)
    #[arg(long, value_name = "OS/ARCH")]
    pub platform: Option<String>,
    /// Architecture to build for (only the host's: roost does not emulate others)
    #[arg(long, value_name = "ARCH")]
    pub arch: Option<String>,
    /// Architecture variant to build for (with the host's architecture only)
    #[arg(long, value_name = "VARIANT")]
    pub variant: Option<String>,
    /// Set every created time to this many seconds since the epoch (reproducible builds)
    #[arg(long, value_name = "SECONDS")]
    pub timestamp: Option<i64>,
    /// Stages to build in parallel (accepted; stages are built one after another)
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub jobs: u32,
    /// Do not use cached steps
    #[arg(long)]
    pub no_cache: bool,
    /// Pull policy for base images: always, missing, never or newer
    #[arg(long, value_name = "POLICY", num_args = 0..=1, default_missing_value = "always", default_value = "missing")]
    pub pull: String,
    /// Cache intermediate steps (default: $BUILDAH_LAYERS, else true)
    #[arg(long, value_name = "BOOL", num_args = 0..=1, default_missing_value = "true", value_parser = clap::builder::BoolishValueParser::new())]
    pub layers: Option<bool>,
    /// Network for RUN steps: host, none or default (host for now)
    #[arg(long, value_name = "MODE")]
    pub network: Option<String>,
    /// Require HTTPS and verify certificates when pulling base images and fetching ADD URLs
    #[arg(long, value_name = "BOOL", num_args = 0..=1, default_missing_value = "true", value_parser = clap::value_parser!(bool))]
    pub tls_verify: Option<bool>,
    /// Same as --pull=never
    #[arg(long, hide = true)]
    pub pull_never: bool,
    /// Registry credentials file (default: the one `login` writes)
    #[arg(long, value_name = "PATH", value_hint = clap::ValueHint::FilePath)]
    pub authfile: Option<PathBuf>,
    /// Write the build output to this file instead of stdout
    #[arg(long, value_name = "PATH", value_hint = clap::ValueHint::FilePath)]
    pub logfile: Option<PathBuf>,
    /// Ignore file to use instead of the context's .containerignore or .dockerignore
    #[arg(long, value_name = "PATH", value_hint = clap::ValueHint::FilePath)]
    pub ignorefile: Option<PathBuf>,
    /// Resource limit for RUN steps: TYPE=SOFT[:HARD] (e.g. nofile=1024:2048)
    #[arg(long = "ulimit", value_name = "TYPE=SOFT[:HARD]")]
    pub ulimits: Vec<String>,
    /// Security options for RUN steps: no-new-privileges, seccomp=unconfined|PROFILE.json
    #[arg(long = "security-opt", value_name = "OPTION")]
    pub security_opts: Vec<String>,
    /// Set an environment variable in RUN steps and the built image: ENV[=VALUE] (ENV alone takes the value from your environment)
    #[arg(long = "env", value_name = "ENV[=VALUE]")]
    pub env: Vec<String>,
    /// DNS server for the resolv.conf of RUN steps (`none`: keep the image's own)
    #[arg(long = "dns", value_name = "IP")]
    pub dns: Vec<String>,
    /// DNS resolver option for the resolv.conf of RUN steps
    #[arg(long = "dns-option", value_name = "OPTION")]
    pub dns_option: Vec<String>,
    /// DNS search domain for the resolv.conf of RUN steps (`.` for none)
    #[arg(long = "dns-search", value_name = "DOMAIN")]
    pub dns_search: Vec<String>,
    /// Supplementary group for the process of RUN steps (a name or an id; `keep-groups` is not supported)
    #[arg(long = "group-add", value_name = "GROUP")]
    pub group_add: Vec<String>,
    /// Bind mount a host directory or file into RUN steps: HOST-DIR:CONTAINER-DIR[:OPTIONS] (ro, rw, z, Z); nothing written under it is kept in the image
    #[arg(
        short = 'v',
        long = "volume",
        value_name = "HOST-DIR:CONTAINER-DIR[:OPTIONS]"
    )]
    pub volume: Vec<String>,
    /// Remove intermediate containers even when the build fails (accepted: roost always removes them)
    #[arg(long, value_name = "BOOL", num_args = 0..=1, default_missing_value = "true", value_parser = clap::value_parser!(bool))]
    pub force_rm: Option<bool>,
    #[command(flatten)]
    pub retry: crate::cli::image::RetryArgs,
    /// Keep the result in local storage (always done; for `buildx build --load`)
    #[arg(long, hide = true)]
    pub load: bool,
    /// Build context: a directory, or `-` for a tar (or a Containerfile) on stdin
    #[arg(value_name = "CONTEXT", value_hint = clap::ValueHint::DirPath)]
    pub context: Option<String>,
}

/// Parsed once per process: the size of the build variant does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, clap::Subcommand)]
pub enum BuildxCommand {
    /// Build an image from a Containerfile (the same as `build`)
    Build(Lazy<BuildArgs>),
    /// Show the version of the builder
    Version,
}

/// `buildx build` is `build`; `buildx version` names the buildah release roost's builder follows.
pub fn buildx(ctx: &Ctx, cmd: &BuildxCommand) -> Result<i32, Error> {
    match cmd {
        BuildxCommand::Build(a) => build(ctx, a),
        BuildxCommand::Version => {
            out(&format!(
                "buildah {}\n",
                crate::engine::system::BUILDAH_COMPAT_VERSION
            ))?;
            Ok(0)
        }
    }
}

/// Prints what podman prints: STEP lines, cache hits, ids (stdout); warnings on stderr.
struct Printer {
    quiet: bool,
    pull: Progress,
    /// --logfile: the output goes here instead.
    log: Option<std::cell::RefCell<std::fs::File>>,
}

/// Build output as `build` prints it (for `kube play --build`).
pub(crate) fn printer(quiet: bool) -> impl BuildProgress {
    Printer {
        quiet,
        pull: Progress::new(quiet),
        log: None,
    }
}

impl Printer {
    fn line(&self, text: &str) {
        if let Some(f) = &self.log {
            use std::io::Write;
            let _ = writeln!(f.borrow_mut(), "{text}");
        } else if !self.quiet {
            let _ = out(&format!("{text}\n"));
        }
    }
}

fn prefix(stage: Option<(usize, usize)>) -> String {
    stage.map_or(String::new(), |(i, n)| format!("[{i}/{n}] "))
}

fn short(id: &Digest) -> &str {
    &id.hex()[..12]
}

impl BuildProgress for Printer {
    fn step(&self, stage: Option<(usize, usize)>, n: usize, total: usize, instruction: &str) {
        self.line(&format!("{}STEP {n}/{total}: {instruction}", prefix(stage)));
    }
    fn cached(&self, id: &Digest) {
        self.line(&format!("--> Using cache {}", id.hex()));
    }
    fn step_done(&self, id: &Digest) {
        self.line(&format!("--> {}", short(id)));
    }
    fn commit(&self, stage: Option<(usize, usize)>, name: Option<&str>) {
        self.line(format!("{}COMMIT {}", prefix(stage), name.unwrap_or("")).trim_end());
    }
    fn tagged(&self, name: &str) {
        self.line(&format!("Successfully tagged {name}"));
    }
    fn warning(&self, message: &str) {
        if let Some(f) = &self.log {
            use std::io::Write;
            let _ = writeln!(f.borrow_mut(), "[Warning] {message}");
            return;
        }
        #[allow(clippy::print_stderr)]
        {
            eprintln!("[Warning] {message}");
        }
    }
    fn pull(&self) -> &dyn PullProgress {
        &self.pull
    }
}

/// `KEY=VALUE` lines (comments and blank lines skipped).
fn arg_file(path: &Path) -> Result<Vec<String>, Error> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::io(format!("read `{}`", path.display()), e))?;
    Ok(text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_string)
        .collect())
}

/// Build arguments: files first, then flags; `KEY` alone takes the environment's value (or is skipped).
fn build_args(args: &BuildArgs) -> Result<BTreeMap<String, String>, Error> {
    let mut items = Vec::new();
    for f in &args.build_arg_files {
        items.extend(arg_file(f)?);
    }
    items.extend(args.build_args.iter().cloned());
    let mut out = BTreeMap::new();
    for i in items {
        match i.split_once('=') {
            Some((k, v)) if !k.is_empty() => {
                out.insert(k.to_string(), v.to_string());
            }
            None if !i.is_empty() => {
                if let Ok(v) = std::env::var(&i) {
                    out.insert(i, v);
                }
            }
            _ => {
                return Err(Error::Usage(format!(
                    "invalid --build-arg `{i}`: expected ARG=VALUE"
                )));
            }
        }
    }
    Ok(out)
}

/// `--env ENV[=VALUE]`: `ENV` alone takes the value from our environment (and is skipped when it is
/// not set there), as buildah does.
fn build_env(items: &[String]) -> Result<Vec<(String, String)>, Error> {
    let mut out = Vec::new();
    for i in items {
        match i.split_once('=') {
            Some((k, v)) if !k.is_empty() => out.push((k.to_string(), v.to_string())),
            None if !i.is_empty() => {
                if let Ok(v) = std::env::var(i) {
                    out.push((i.clone(), v));
                }
            }
            _ => {
                return Err(Error::Usage(format!(
                    "invalid --env `{i}`: expected ENV=VALUE or ENV"
                )));
            }
        }
    }
    Ok(out)
}

/// `--dns`: addresses, or `none` alone.
fn build_dns(items: &[String]) -> Result<Vec<String>, Error> {
    if items.iter().any(|d| d == "none") && items.len() > 1 {
        return Err(Error::Usage(
            "--dns none cannot be combined with DNS servers".into(),
        ));
    }
    for d in items.iter().filter(|d| *d != "none") {
        if d.parse::<std::net::IpAddr>().is_err() {
            return Err(Error::Usage(format!(
                "invalid --dns `{d}`: not an IP address"
            )));
        }
    }
    Ok(items.to_vec())
}

/// `--volume HOST-DIR:CONTAINER-DIR[:OPTIONS]`: bind mounts of host paths for RUN steps (relative
/// sources made absolute; named volumes and overlays are not supported by build).
fn build_volumes(items: &[String]) -> Result<Vec<crate::engine::container::Mount>, Error> {
    use crate::engine::container::{MountKind, parse_volume};
    let mut out = Vec::new();
    for v in items {
        let mut m =
            parse_volume(v).map_err(|e| Error::from(crate::engine::EngineError::from(e)))?;
        if m.kind != MountKind::Bind || m.overlay || m.chown {
            return Err(Error::Usage(format!(
                "invalid --volume `{v}`: build mounts host paths only: HOST-DIR:CONTAINER-DIR[:ro|rw|z|Z]"
            )));
        }
        let source = std::path::absolute(&m.source)
            .map_err(|e| Error::io(format!("resolve `{}`", m.source), e))?;
        if !source.exists() {
            return Err(Error::Usage(format!(
                "invalid --volume `{v}`: `{}` does not exist",
                source.display()
            )));
        }
        m.source = source.to_string_lossy().into_owned();
        out.push(m);
    }
    Ok(out)
}

/// `--secret id=ID,src=PATH` or `id=ID,env=VAR` (an env secret is written to a private file).
fn secrets(
    items: &[String],
    scratch: &tempfile::TempDir,
) -> Result<BTreeMap<String, PathBuf>, Error> {
    let mut out = BTreeMap::new();
    for s in items {
        let mut id = None;
        let mut src = None;
        let mut env = None;
        for kv in s.split(',') {
            match kv.split_once('=') {
                Some(("id", v)) => id = Some(v.to_string()),
                Some(("src" | "source", v)) => src = Some(PathBuf::from(v)),
                Some(("env", v)) => env = Some(v.to_string()),
                Some(("type", _)) => {}
                _ => {
                    return Err(Error::Usage(format!(
                        "invalid --secret `{s}`: expected id=ID,src=PATH"
                    )));
                }
            }
        }
        let id = id.ok_or_else(|| Error::Usage(format!("--secret `{s}` has no id=")))?;
        let path = match (src, env) {
            (Some(p), _) => std::path::absolute(&p)
                .map_err(|e| Error::io(format!("resolve `{}`", p.display()), e))?,
            (None, Some(var)) => {
                let value = std::env::var(&var)
                    .map_err(|_| Error::Usage(format!("--secret `{s}`: ${var} is not set")))?;
                let p = scratch.path().join(&id);
                std::fs::write(&p, value).map_err(|e| Error::io("write a secret", e))?;
                p
            }
            (None, None) => {
                return Err(Error::Usage(format!(
                    "--secret `{s}` needs src=PATH or env=VAR"
                )));
            }
        };
        if !path.is_file() {
            return Err(Error::Usage(format!(
                "--secret `{s}`: `{}` is not a file",
                path.display()
            )));
        }
        out.insert(id, path);
    }
    Ok(out)
}

/// Where the Containerfile and the context come from.
fn sources(args: &BuildArgs) -> Result<(DockerfileSource, ContextSource), Error> {
    let stdin_df = args.file.as_deref() == Some("-");
    if args.context.as_deref() == Some("-") {
        return stdin_context(args, stdin_df);
    }
    let context = match &args.context {
        Some(c) => PathBuf::from(c),
        // -f DIR/FILE without a context: the file's directory (podman).
        None => match args.file.as_deref() {
            Some(f) if f != "-" => Path::new(f)
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .map_or_else(|| PathBuf::from("."), Path::to_path_buf),
            _ => PathBuf::from("."),
        },
    };
    if !context.is_dir() {
        return Err(Error::Usage(format!(
            "the build context `{}` is not a directory",
            context.display()
        )));
    }
    let df = match args.file.as_deref() {
        Some("-") => DockerfileSource::Text {
            text: read_stdin()?,
            name: "Dockerfile".into(),
        },
        Some(f) => {
            let p = if Path::new(f).exists() || Path::new(f).is_absolute() {
                PathBuf::from(f)
            } else {
                context.join(f)
            };
            DockerfileSource::Path(p)
        }
        None => DockerfileSource::InContext(None),
    };
    Ok((df, ContextSource::Dir(context)))
}

/// Context `-`: a tar (possibly compressed) on stdin is the context; anything else is a
/// Containerfile, with an empty context.
fn stdin_context(
    args: &BuildArgs,
    stdin_df: bool,
) -> Result<(DockerfileSource, ContextSource), Error> {
    if stdin_df {
        return Err(Error::Usage(
            "-f - and a context of - cannot both read stdin".into(),
        ));
    }
    if std::io::stdin().is_terminal() {
        return Err(Error::Usage(
            "context `-` reads a tar or a Containerfile from stdin, which is a terminal".into(),
        ));
    }
    let mut input = std::io::BufReader::with_capacity(1 << 16, std::io::stdin());
    let head = input
        .fill_buf()
        .map_err(|e| Error::io("read stdin", e))?
        .to_vec();
    let compressed = crate::archive::Compression::sniff(&head) != crate::archive::Compression::None;
    let tar = head.len() >= 262 && &head[257..262] == b"ustar";
    if compressed || tar {
        let df = match &args.file {
            Some(f) => DockerfileSource::InContext(Some(f.clone())),
            None => DockerfileSource::InContext(None),
        };
        return Ok((df, ContextSource::Tar(Box::new(input))));
    }
    let mut text = String::new();
    input
        .read_to_string(&mut text)
        .map_err(|e| Error::io("read the Containerfile from stdin", e))?;
    let empty = tempfile::tempdir().map_err(|e| Error::io("create an empty context", e))?;
    Ok((
        DockerfileSource::Text {
            text,
            name: "Dockerfile".into(),
        },
        ContextSource::Empty(empty),
    ))
}

/// `-f -`: the Containerfile from stdin.
fn read_stdin() -> Result<String, Error> {
    let mut s = String::new();
    std::io::stdin()
        .read_to_string(&mut s)
        .map_err(|e| Error::io("read the Containerfile from stdin", e))?;
    Ok(s)
}

/// `--authfile` must name a file (podman's `checking authfile: stat PATH: …`).
fn check_authfile(path: &Path) -> Result<(), Error> {
    std::fs::metadata(path).map(|_| ()).map_err(|e| {
        Error::Usage(format!(
            "checking authfile: stat {}: {}",
            path.display(),
            crate::engine::build::os_words(&e)
        ))
    })
}

/// --ignorefile's patterns, read now so a missing file fails before any work.
fn ignore_file(path: &Path) -> Result<crate::engine::build::Ignore, Error> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::io(format!("read the ignore file `{}`", path.display()), e))?;
    crate::engine::build::Ignore::parse(&text, &path.display().to_string())
        .map_err(|e| Error::Engine(crate::engine::build::BuildError::from(e).into()))
}

/// `--layers` when not given: `$BUILDAH_LAYERS` (1/0, true/false…) as buildah reads it, else true.
fn default_layers() -> bool {
    layers_from(std::env::var("BUILDAH_LAYERS").ok().as_deref())
}

fn layers_from(value: Option<&str>) -> bool {
    !matches!(
        value.map(|v| v.trim().to_ascii_lowercase()),
        Some(v) if ["0", "false", "f", "no", "off"].contains(&v.as_str())
    )
}

/// `--arch` and `--variant` as a platform (`linux/ARCH[/VARIANT]`; the host's architecture when
/// only `--variant` is given).
fn arch_platform(args: &BuildArgs) -> Option<String> {
    if args.arch.is_none() && args.variant.is_none() {
        return None;
    }
    let host = crate::oci::Platform::host();
    let arch = args.arch.as_deref().unwrap_or(&host.architecture);
    Some(match &args.variant {
        Some(v) => format!("{}/{arch}/{v}", host.os),
        None => format!("{}/{arch}", host.os),
    })
}

pub fn build(ctx: &Ctx, args: &BuildArgs) -> Result<i32, Error> {
    if let Some(p) = &args.platform {
        crate::engine::build::check_platform(p).map_err(Error::Usage)?;
    }
    if let Some(p) = arch_platform(args) {
        crate::engine::build::check_platform(&p).map_err(Error::Usage)?;
    }
    if args.squash && args.squash_all {
        return Err(Error::Usage(
            "cannot specify --squash-all with --squash".into(),
        ));
    }
    let pull: PullPolicy = if args.pull_never {
        PullPolicy::Never
    } else {
        args.pull.parse()?
    };
    let mut ctx = ctx.clone();
    if let Some(f) = &args.authfile {
        check_authfile(f)?;
        ctx.auth = crate::cli::ctx::with_authfile(&ctx, Some(f));
    }
    let ctx = &ctx;
    let ulimits = crate::engine::container::process::parse_ulimits(&args.ulimits)
        .map_err(|e| Error::Usage(e.to_string()))?;
    let ignore = args.ignorefile.as_deref().map(ignore_file).transpose()?;
    let (no_new_privileges, seccomp) = crate::cli::container::security_opts(&args.security_opts)?;
    let log = match &args.logfile {
        Some(p) => Some(std::cell::RefCell::new(std::fs::File::create(p).map_err(
            |e| Error::io(format!("create the log file `{}`", p.display()), e),
        )?)),
        None => None,
    };
    let network = match args.network.as_deref() {
        None => None,
        Some(n @ ("host" | "none" | "default")) => Some(n.to_string()),
        Some(other) => {
            return Err(Error::Usage(format!(
                "--network `{other}` is not supported for build yet: use host, none or default"
            )));
        }
    };
    let build_args = build_args(args)?;
    let scratch =
        tempfile::tempdir().map_err(|e| Error::io("create a directory for secrets", e))?;
    let secrets = secrets(&args.secrets, &scratch)?;
    let (dockerfile, context) = sources(args)?;
    let opts = BuildOptions {
        dockerfile,
        context,
        tags: args.tags.clone(),
        build_args,
        target: args.target.clone(),
        labels: crate::cli::key_values("--label", &args.labels)?,
        identity_label: args.identity_label,
        annotations: crate::cli::key_values("--annotation", &args.annotations)?,
        squash: args.squash,
        squash_all: args.squash_all,
        format: if args.format == "docker" {
            CommitFormat::Docker
        } else {
            CommitFormat::Oci
        },
        quiet: args.quiet,
        secrets,
        timestamp: args.timestamp,
        no_cache: args.no_cache,
        layers: args.layers.unwrap_or_else(default_layers),
        pull,
        network,
        tls_verify: args.tls_verify,
        ulimits,
        ignore,
        seccomp,
        no_new_privileges,
        env: build_env(&args.env)?,
        dns: build_dns(&args.dns)?,
        dns_search: args.dns_search.clone(),
        dns_options: args.dns_option.clone(),
        group_add: args.group_add.clone(),
        volumes: build_volumes(&args.volume)?,
        retry: args.retry.retry()?,
    };
    let printer = Printer {
        quiet: args.quiet,
        pull: Progress::new(args.quiet || log.is_some()),
        log,
    };
    let report = crate::engine::build::build(ctx, opts, &printer)?;
    if let Some(f) = &args.iidfile {
        std::fs::write(f, report.id.to_string())
            .map_err(|e| Error::io(format!("write `{}`", f.display()), e))?;
    }
    out(&format!("{}\n", report.id.hex()))?;
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct T {
        #[command(flatten)]
        b: BuildArgs,
    }

    #[test]
    fn flags_parse() {
        let t = T::try_parse_from([
            "x",
            "-t",
            "a",
            "-t",
            "b:1",
            "--build-arg",
            "A=1",
            "--pull",
            "--no-cache",
            "--layers=false",
            "-f",
            "F",
            "ctx",
        ])
        .unwrap();
        assert_eq!(t.b.tags, ["a", "b:1"]);
        assert_eq!(t.b.pull, "always");
        assert!(t.b.layers == Some(false) && t.b.no_cache);
        assert_eq!(t.b.context.as_deref(), Some("ctx"));
        let t = T::try_parse_from(["x", "--pull=never"]).unwrap();
        assert_eq!(t.b.pull, "never");
        assert_eq!(t.b.layers, None);
        let t = T::try_parse_from(["x", "--layers=1"]).unwrap();
        assert_eq!(t.b.layers, Some(true));
        let t = T::try_parse_from(["x"]).unwrap();
        assert_eq!(t.b.pull, "missing");
    }

    #[test]
    fn buildah_layers_env() {
        assert!(layers_from(None));
        assert!(layers_from(Some("1")) && layers_from(Some("true")));
        assert!(!layers_from(Some("false")) && !layers_from(Some("0")));
    }

    #[test]
    fn build_arg_values() {
        let t = T::try_parse_from(["x", "--build-arg", "A=1=2", "--build-arg", "B="]).unwrap();
        let m = build_args(&t.b).unwrap();
        assert_eq!(m["A"], "1=2");
        assert_eq!(m["B"], "");
        let t = T::try_parse_from(["x", "--build-arg", "=x"]).unwrap();
        assert!(build_args(&t.b).is_err());
    }
}
