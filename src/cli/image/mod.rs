//! `roost image …` and the top-level image verbs (`pull`, `images`, `rmi`, …): flags and handlers.

mod archive;
mod build;
mod list;
mod login;
mod pull;
mod remove;
mod tree;

use std::path::PathBuf;

use clap::{Args, Subcommand};
use clap_complete::engine::ArgValueCandidates;

pub use archive::{import, load, save};
pub(crate) use build::printer as build_printer;
pub use build::{BuildArgs, BuildxCommand, build, buildx};
pub use list::{
    history, history_format_fields, images, images_format_fields, inspect, template_doc,
};
pub use login::{login, logout};
pub use pull::{pull, push};
pub use remove::{rmi, tag, untag};

use super::complete::image_names;
use crate::cli::lazy::Lazy;
use crate::engine::Ctx;
use crate::error::Error;

#[derive(Debug, Subcommand)]
#[allow(clippy::large_enum_variant)] // parsed once per process
pub enum ImageCommand {
    /// Build an image from a Containerfile
    Build(Lazy<BuildArgs>),
    /// Pull an image from a registry
    Pull(Lazy<PullArgs>),
    /// Push an image to a registry
    Push(Lazy<PushArgs>),
    /// List images in local storage
    #[command(visible_alias = "list")]
    Ls(Lazy<ImagesArgs>),
    /// Remove images from local storage
    #[command(visible_alias = "remove")]
    Rm(Lazy<RmiArgs>),
    /// Add names to a local image
    Tag(Lazy<TagArgs>),
    /// Remove names from a local image
    Untag(Lazy<UntagArgs>),
    /// Show details of images
    Inspect(Lazy<ImageInspectArgs>),
    /// Show the history of an image
    History(Lazy<HistoryArgs>),
    /// Remove unused images
    Prune(Lazy<PruneArgs>),
    /// Save images to an archive
    Save(Lazy<SaveArgs>),
    /// Load images from an archive
    Load(Lazy<LoadArgs>),
    /// Import a tarball to create a file system image
    Import(Lazy<ImportArgs>),
    /// Check whether an image exists in local storage (exit 0 if it does, 1 if not)
    Exists(Lazy<ExistsArgs>),
    /// Show an image's layers as a tree (--whatrequires: the images built on it)
    Tree(Lazy<TreeArgs>),
}

pub fn dispatch(ctx: &Ctx, cmd: ImageCommand) -> Result<i32, Error> {
    match cmd {
        ImageCommand::Build(a) => build(ctx, &a),
        ImageCommand::Pull(a) => pull(ctx, &a),
        ImageCommand::Push(a) => push(ctx, &a),
        ImageCommand::Ls(a) => images(ctx, &a),
        ImageCommand::Rm(a) => rmi(ctx, &a),
        ImageCommand::Tag(a) => tag(ctx, &a),
        ImageCommand::Untag(a) => untag(ctx, &a),
        ImageCommand::Inspect(a) => {
            let a = InspectArgs {
                format: a.0.format,
                names: a.0.names,
                kind: Some("image".into()),
            };
            inspect(ctx, &a)
        }
        ImageCommand::History(a) => history(ctx, &a),
        ImageCommand::Prune(a) => remove::prune(ctx, &a),
        ImageCommand::Save(a) => save(ctx, &a),
        ImageCommand::Load(a) => load(ctx, &a),
        ImageCommand::Import(a) => import(ctx, &a),
        ImageCommand::Exists(a) => remove::exists(ctx, &a),
        ImageCommand::Tree(a) => tree::tree(ctx, &a),
    }
}

/// Registry access flags shared by pull, push, login.
#[derive(Debug, Clone, Args)]
pub struct RegistryArgs {
    /// Path of the authentication file (default: ${XDG_RUNTIME_DIR}/containers/auth.json)
    #[arg(long, value_name = "PATH", env = "REGISTRY_AUTH_FILE", hide_env_values = true, value_hint = clap::ValueHint::FilePath)]
    pub authfile: Option<PathBuf>,
    /// Credentials (USERNAME[:PASSWORD]) for the registry
    #[arg(long, value_name = "USERNAME[:PASSWORD]")]
    pub creds: Option<String>,
    /// Require HTTPS and verify certificates (false allows plain HTTP)
    #[arg(long, value_name = "BOOL", num_args = 0..=1, default_missing_value = "true", value_parser = clap::value_parser!(bool))]
    pub tls_verify: Option<bool>,
    #[command(flatten)]
    pub retry: RetryArgs,
    /// Directory of certificates for the registry: CA certificates (*.crt) trusted besides the system's, and a client certificate (NAME.cert with NAME.key)
    #[arg(long, value_name = "PATH", value_hint = clap::ValueHint::DirPath)]
    pub cert_dir: Option<PathBuf>,
    /// Suppress progress output
    #[arg(short, long)]
    pub quiet: bool,
}

/// `--retry` and `--retry-delay` (`pull`, `push`, `create`, `run`, `build`).
#[derive(Debug, Clone, Args)]
pub struct RetryArgs {
    /// Number of times to retry a failed transfer from or to a registry
    #[arg(long, default_value_t = 3, value_name = "N")]
    pub retry: u32,
    /// Fixed delay between retries of a failed transfer, a duration such as 2s or 500ms (default: start at 200ms and back off exponentially)
    #[arg(long, value_name = "DURATION")]
    pub retry_delay: Option<String>,
}

impl RetryArgs {
    /// The retry policy asked for; a bad `--retry-delay` is a usage error.
    pub fn retry(&self) -> Result<crate::engine::image::Retry, Error> {
        let delay = self
            .retry_delay
            .as_deref()
            .map(|d| {
                crate::engine::container::health::parse_duration(d)
                    .map_err(|e| Error::Usage(format!("invalid --retry-delay `{d}`: {e}")))
            })
            .transpose()?;
        Ok(crate::engine::image::Retry {
            count: self.retry,
            delay,
        })
    }
}

/// The platform of the image to pull: `--platform`, `--arch`, `--os`, `--variant` (`pull`,
/// `create`, `run`).
#[derive(Debug, Clone, Default, Args)]
pub struct PlatformArgs {
    /// Platform to pull (OS/ARCH[/VARIANT]); defaults to the host's
    #[arg(long, value_name = "OS/ARCH")]
    pub platform: Option<String>,
    /// Architecture to pull instead of the host's
    #[arg(long, value_name = "ARCH")]
    pub arch: Option<String>,
    /// Operating system to pull instead of the host's
    #[arg(long, value_name = "OS")]
    pub os: Option<String>,
    /// Architecture variant to pull (e.g. v7)
    #[arg(long, value_name = "VARIANT")]
    pub variant: Option<String>,
}

impl PlatformArgs {
    /// The platform asked for (the host's when no flag is given).
    pub fn platform(&self) -> Result<crate::oci::Platform, Error> {
        crate::oci::Platform::from_flags(
            self.platform.as_deref(),
            self.os.as_deref(),
            self.arch.as_deref(),
            self.variant.as_deref(),
        )
        .map_err(|e| Error::Usage(e.to_string()))
    }

    /// Whether any of the flags is given.
    pub fn given(&self) -> bool {
        self.platform.is_some()
            || self.arch.is_some()
            || self.os.is_some()
            || self.variant.is_some()
    }
}

#[derive(Debug, Args)]
pub struct PullArgs {
    #[command(flatten)]
    pub registry: RegistryArgs,
    /// Pull every tagged image of the repository (IMAGE without a tag or digest)
    #[arg(short, long)]
    pub all_tags: bool,
    #[command(flatten)]
    pub platform: PlatformArgs,
    /// Private key (PEM) for the image's encrypted layers, with the key's passphrase if it has one
    /// (repeatable)
    #[arg(long, value_name = "KEY[:PASSPHRASE]")]
    pub decryption_key: Vec<String>,
    /// Image references to pull
    #[arg(required = true, value_name = "IMAGE", add = ArgValueCandidates::new(image_names))]
    pub images: Vec<String>,
}

#[derive(Debug, Args)]
pub struct PushArgs {
    #[command(flatten)]
    pub registry: RegistryArgs,
    /// Compression for layers that are stored uncompressed: gzip or zstd
    #[arg(long, value_name = "FORMAT", allow_hyphen_values = true, default_value = "gzip", value_parser = ["gzip", "zstd"])]
    pub compression_format: String,
    /// Write the pushed manifest's digest to this file
    #[arg(long, value_name = "PATH", value_hint = clap::ValueHint::FilePath)]
    pub digestfile: Option<PathBuf>,
    /// Image to push
    #[arg(value_name = "IMAGE", add = ArgValueCandidates::new(image_names))]
    pub image: String,
    /// Where to push it (default: the image's name)
    #[arg(value_name = "DESTINATION")]
    pub destination: Option<String>,
}

#[derive(Debug, Args)]
pub struct ImagesArgs {
    /// Show all images (intermediate images included)
    #[arg(short, long)]
    pub all: bool,
    /// Show digests
    #[arg(long)]
    pub digests: bool,
    /// Filter output (dangling, reference, label, before, since, id)
    #[arg(short, long, value_name = "KEY=VALUE")]
    pub filter: Vec<String>,
    /// Pretty-print with a Go template, `json`, or `table …`
    #[arg(long, value_name = "FORMAT", allow_hyphen_values = true)]
    pub format: Option<String>,
    /// Do not truncate output
    #[arg(long)]
    pub no_trunc: bool,
    /// Omit the table heading
    #[arg(short, long)]
    pub noheading: bool,
    /// Show only image IDs
    #[arg(short, long)]
    pub quiet: bool,
    /// Sort by created, id, repository, size or tag
    #[arg(long, value_name = "KEY", default_value = "created",
          value_parser = ["created", "id", "repository", "size", "tag"])]
    pub sort: String,
    /// Image name to list (a reference filter)
    #[arg(value_name = "IMAGE", add = ArgValueCandidates::new(image_names))]
    pub image: Option<String>,
}

#[derive(Debug, Args)]
pub struct RmiArgs {
    /// Remove all images
    #[arg(short, long)]
    pub all: bool,
    /// Remove images even when they have several names
    #[arg(short, long)]
    pub force: bool,
    /// Do not fail for images that do not exist
    #[arg(short, long)]
    pub ignore: bool,
    /// Images to remove
    #[arg(value_name = "IMAGE", add = ArgValueCandidates::new(image_names))]
    pub images: Vec<String>,
}

#[derive(Debug, Args)]
pub struct TagArgs {
    /// Image to tag
    #[arg(value_name = "IMAGE", add = ArgValueCandidates::new(image_names))]
    pub image: String,
    /// New names
    #[arg(required = true, value_name = "TARGET_NAME")]
    pub targets: Vec<String>,
}

#[derive(Debug, Args)]
pub struct UntagArgs {
    /// Image to untag
    #[arg(value_name = "IMAGE", add = ArgValueCandidates::new(image_names))]
    pub image: String,
    /// Names to remove (all when none is given)
    #[arg(value_name = "NAME")]
    pub names: Vec<String>,
}

#[derive(Debug, Args)]
pub struct InspectArgs {
    /// Format the output with a Go template or `json`
    #[arg(short, long, value_name = "FORMAT", allow_hyphen_values = true)]
    pub format: Option<String>,
    /// What to inspect: container, image or all
    #[arg(short = 't', long = "type", value_name = "TYPE", value_parser = ["image", "container", "all"])]
    pub kind: Option<String>,
    /// Images to inspect
    #[arg(required = true, value_name = "NAME", add = ArgValueCandidates::new(image_names))]
    pub names: Vec<String>,
}

#[derive(Debug, Args)]
pub struct ImageInspectArgs {
    /// Format the output with a Go template or `json`
    #[arg(short, long, value_name = "FORMAT", allow_hyphen_values = true)]
    pub format: Option<String>,
    /// Images to inspect
    #[arg(required = true, value_name = "IMAGE", add = ArgValueCandidates::new(image_names))]
    pub names: Vec<String>,
}

#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// Pretty-print with a Go template, `json`, or `table …`
    #[arg(long, value_name = "FORMAT", allow_hyphen_values = true)]
    pub format: Option<String>,
    /// Display sizes and dates in human-readable form
    #[arg(short = 'H', long, default_value_t = true, num_args = 0..=1, default_missing_value = "true",
          require_equals = true, value_parser = clap::value_parser!(bool))]
    pub human: bool,
    /// Do not truncate output
    #[arg(long, visible_alias = "notruncate")]
    pub no_trunc: bool,
    /// Show only the IDs
    #[arg(short, long)]
    pub quiet: bool,
    /// Image
    #[arg(value_name = "IMAGE", add = ArgValueCandidates::new(image_names))]
    pub image: String,
}

#[derive(Debug, Args)]
pub struct TreeArgs {
    /// Show the layers stacked on this image by other images, rather than its own
    #[arg(long)]
    pub whatrequires: bool,
    /// Image
    #[arg(value_name = "IMAGE", add = ArgValueCandidates::new(image_names))]
    pub image: String,
}

#[derive(Debug, Args)]
pub struct PruneArgs {
    /// Remove every image not used by a container, not only dangling ones
    #[arg(short, long)]
    pub all: bool,
    /// Do not ask for confirmation
    #[arg(short, long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct SaveArgs {
    /// Write to this file (default: stdout, when it is not a terminal)
    #[arg(short, long, value_name = "PATH", value_hint = clap::ValueHint::FilePath)]
    pub output: Option<PathBuf>,
    /// Archive format: docker-archive, oci-archive or oci-dir
    #[arg(long, value_name = "FORMAT", allow_hyphen_values = true, default_value = "docker-archive",
          value_parser = ["docker-archive", "oci-archive", "oci-dir", "docker-dir"])]
    pub format: String,
    /// Allow several images in one docker-archive
    #[arg(short, long)]
    pub multi_image_archive: bool,
    /// Compress docker-dir layers (accepted for compatibility)
    #[arg(long)]
    pub compress: bool,
    /// Suppress progress output
    #[arg(short, long)]
    pub quiet: bool,
    /// Images to save
    #[arg(required = true, value_name = "IMAGE", add = ArgValueCandidates::new(image_names))]
    pub images: Vec<String>,
}

#[derive(Debug, Args)]
pub struct LoadArgs {
    /// Read from this archive (default: stdin)
    #[arg(short, long, value_name = "PATH", value_hint = clap::ValueHint::FilePath)]
    pub input: Option<PathBuf>,
    /// Suppress progress output
    #[arg(short, long)]
    pub quiet: bool,
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// Apply a Dockerfile instruction to the image config (CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, …)
    #[arg(short, long, value_name = "INSTRUCTION")]
    pub change: Vec<String>,
    /// Commit message for the imported image
    #[arg(short, long, value_name = "MESSAGE")]
    pub message: Option<String>,
    /// Print only the image ID
    #[arg(short, long)]
    pub quiet: bool,
    /// Tarball to import (a path or `-` for stdin)
    #[arg(value_name = "PATH", value_hint = clap::ValueHint::FilePath)]
    pub source: String,
    /// Name for the new image
    #[arg(value_name = "REFERENCE")]
    pub reference: Option<String>,
}

#[derive(Debug, Args)]
pub struct ExistsArgs {
    /// Image
    #[arg(value_name = "IMAGE", add = ArgValueCandidates::new(image_names))]
    pub image: String,
}

#[derive(Debug, Args)]
pub struct LoginArgs {
    /// Path of the authentication file
    #[arg(long, value_name = "PATH", env = "REGISTRY_AUTH_FILE", hide_env_values = true, value_hint = clap::ValueHint::FilePath)]
    pub authfile: Option<PathBuf>,
    /// Username for the registry
    #[arg(short, long, value_name = "USERNAME")]
    pub username: Option<String>,
    /// Password for the registry (prefer --password-stdin)
    #[arg(short, long, value_name = "PASSWORD")]
    pub password: Option<String>,
    /// Read the password from stdin
    #[arg(long)]
    pub password_stdin: bool,
    /// Print the username logged in to the registry and exit
    #[arg(long)]
    pub get_login: bool,
    /// Require HTTPS and verify certificates (false allows plain HTTP)
    #[arg(long, value_name = "BOOL", num_args = 0..=1, default_missing_value = "true", value_parser = clap::value_parser!(bool))]
    pub tls_verify: Option<bool>,
    /// Registry to log in to
    #[arg(value_name = "REGISTRY")]
    pub registry: String,
}

#[derive(Debug, Args)]
pub struct LogoutArgs {
    /// Path of the authentication file
    #[arg(long, value_name = "PATH", env = "REGISTRY_AUTH_FILE", hide_env_values = true, value_hint = clap::ValueHint::FilePath)]
    pub authfile: Option<PathBuf>,
    /// Remove the credentials of every registry
    #[arg(short, long)]
    pub all: bool,
    /// Registry to log out of
    #[arg(value_name = "REGISTRY", required_unless_present = "all")]
    pub registry: Option<String>,
}
