//! `commit`: create an image from a container's changes.
use clap::Args;
use clap_complete::engine::ArgValueCandidates;

use crate::cli::complete::container_names;
use crate::cli::out;
use crate::engine::Ctx;
use crate::engine::container::{CommitFormat, CommitOptions};
use crate::error::Error;

#[derive(Debug, Args)]
pub struct CommitArgs {
    /// Apply a Dockerfile instruction to the image config (CMD, ENTRYPOINT, ENV, EXPOSE, LABEL,
    /// STOPSIGNAL, USER, VOLUME, WORKDIR)
    #[arg(short, long, value_name = "CHANGE")]
    pub change: Vec<String>,
    /// Commit message, recorded in the image history
    #[arg(short, long, value_name = "MESSAGE")]
    pub message: Option<String>,
    /// Author of the image
    #[arg(short, long, value_name = "AUTHOR")]
    pub author: Option<String>,
    /// Suppress progress output
    #[arg(short, long)]
    pub quiet: bool,
    /// Manifest and config format: oci or docker
    #[arg(short, long, value_name = "FORMAT", allow_hyphen_values = true, default_value = "oci", value_parser = ["oci", "docker"])]
    pub format: String,
    /// Pause the container while committing (accepted; roost commits without pausing)
    #[arg(short, long, value_name = "BOOL", num_args = 0..=1, default_missing_value = "true",
          value_parser = clap::value_parser!(bool))]
    pub pause: Option<bool>,
    /// Container to commit
    #[arg(value_name = "CONTAINER", add = ArgValueCandidates::new(container_names))]
    pub container: String,
    /// Name for the new image
    #[arg(value_name = "IMAGE")]
    pub image: Option<String>,
}

pub fn commit(ctx: &Ctx, args: &CommitArgs) -> Result<i32, Error> {
    let opts = CommitOptions {
        container: args.container.clone(),
        image: args.image.clone(),
        changes: args.change.clone(),
        message: args.message.clone(),
        author: args.author.clone(),
        format: if args.format == "docker" {
            CommitFormat::Docker
        } else {
            CommitFormat::Oci
        },
    };
    let id = crate::engine::container::commit(ctx, &opts)?;
    if !args.quiet {
        #[allow(clippy::print_stderr)]
        {
            eprintln!(
                "Getting image source signatures\nCopying blob done\nCopying config {} done\nWriting manifest to image destination",
                id.short()
            );
        }
    }
    out(&format!("{}\n", id.hex())).map(|()| 0)
}
