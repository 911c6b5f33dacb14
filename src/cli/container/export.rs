//! `export`: a container's file system as a tar archive.
use std::io::{IsTerminal, Write};
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
    match &args.output {
        Some(path) => {
            // Write next to the target and rename, so a failed export leaves no half-written archive.
            let dir = path
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .unwrap_or(std::path::Path::new("."));
            let mut tmp = tempfile::NamedTempFile::new_in(dir)
                .map_err(|e| Error::io(format!("create a file in `{}`", dir.display()), e))?;
            {
                let mut w = std::io::BufWriter::new(tmp.as_file_mut());
                crate::engine::container::export(ctx, &args.container, &mut w)?;
                w.flush()
                    .map_err(|e| Error::io(format!("write `{}`", path.display()), e))?;
            }
            tmp.persist(path)
                .map_err(|e| Error::io(format!("write `{}`", path.display()), e.error))?;
        }
        None => {
            if std::io::stdout().is_terminal() {
                return Err(Error::Usage(
                    "refusing to export to terminal. Use -o flag or redirect".into(),
                ));
            }
            let mut w = std::io::BufWriter::new(std::io::stdout().lock());
            let done = crate::engine::container::export(ctx, &args.container, &mut w);
            // A reader that stops early (`roost export c | tar t | head`) is not an error.
            match done {
                Err(e) if closed_pipe(&e) => return Ok(0),
                r => r?,
            }
            match w.flush() {
                Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
                    return Err(Error::io("write to stdout", e));
                }
                _ => {}
            }
        }
    }
    Ok(0)
}

/// Whether the error comes from writing to a closed pipe.
fn closed_pipe(e: &crate::engine::EngineError) -> bool {
    let mut cur: Option<&dyn std::error::Error> = Some(e);
    while let Some(err) = cur {
        if let Some(io) = err.downcast_ref::<std::io::Error>()
            && io.kind() == std::io::ErrorKind::BrokenPipe
        {
            return true;
        }
        cur = err.source();
    }
    false
}
