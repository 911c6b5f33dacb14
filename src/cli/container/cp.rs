//! `cp`: copy files between a container and the host (docker's path rules; `-` is a tar stream).
use std::io::{IsTerminal, Write};

use clap::Args;

use crate::engine::Ctx;
use crate::engine::container::{CopyOptions, Location};
use crate::error::Error;

#[derive(Debug, Args)]
pub struct CpArgs {
    /// Chown copied files to the primary uid/gid of the destination container (`-a=false`: keep the owners)
    #[arg(short, long, value_name = "BOOL", num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "true", value_parser = clap::value_parser!(bool))]
    pub archive: bool,
    /// Allow to overwrite directories with non-directories and vice versa
    #[arg(long)]
    pub overwrite: bool,
    /// Source: a host path, CONTAINER:PATH, or `-` for a tar stream on stdin
    #[arg(value_name = "SRC")]
    pub src: String,
    /// Destination: a host path, CONTAINER:PATH, or `-` for a tar stream on stdout
    #[arg(value_name = "DEST")]
    pub dest: String,
}

pub fn cp(ctx: &Ctx, args: &CpArgs) -> Result<i32, Error> {
    let opts = CopyOptions {
        src: Location::parse(&args.src),
        dest: Location::parse(&args.dest),
        chown: args.archive,
        overwrite: args.overwrite,
    };
    if opts.dest == Location::Stream && std::io::stdout().is_terminal() {
        return Err(Error::Usage(
            "refusing to write a tar stream to a terminal: redirect stdout".into(),
        ));
    }
    if opts.src == Location::Stream && std::io::stdin().is_terminal() {
        return Err(Error::Usage(
            "cannot read a tar stream from a terminal: use a pipe".into(),
        ));
    }
    let mut input = std::io::stdin().lock();
    let mut output = std::io::BufWriter::new(std::io::stdout().lock());
    crate::engine::container::copy(ctx, &opts, &mut input, &mut output)?;
    output
        .flush()
        .map_err(|e| Error::io("write to stdout", e))?;
    Ok(0)
}
