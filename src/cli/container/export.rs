//! `export`: a container's file system as a tar archive.
use std::path::PathBuf;

use clap::Args;
use clap_complete::engine::ArgValueCandidates;

use crate::cli::complete::container_names;
use crate::engine::Ctx;
use crate::error::Error;

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Write to a file instead of stdout
    #[arg(short, long, value_name = "FILE", value_hint = clap::ValueHint::FilePath)]
    pub output: Option<PathBuf>,
    /// Container to export
    #[arg(value_name = "CONTAINER", add = ArgValueCandidates::new(container_names))]
    pub container: String,
}

pub fn export(ctx: &Ctx, args: &ExportArgs) -> Result<i32, Error> {
    crate::cli::write_archive(args.output.as_deref(), "export", |w| {
        crate::engine::container::export(ctx, &args.container, w)
    })?;
    Ok(0)
}
