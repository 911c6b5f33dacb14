//! `save`, `load` and `import`.
use std::io::{IsTerminal, Read};

use super::{ImportArgs, LoadArgs, SaveArgs};
use crate::cli::out;
use crate::engine::Ctx;
use crate::engine::image::{ImportOptions, SaveFormat, SaveOptions};
use crate::error::Error;

pub fn save(ctx: &Ctx, args: &SaveArgs) -> Result<i32, Error> {
    let format: SaveFormat = args.format.parse()?;
    if args.images.len() > 1 && format == SaveFormat::DockerArchive && !args.multi_image_archive {
        return Err(Error::Usage(
            "saving several images as a docker-archive needs --multi-image-archive (-m)".into(),
        ));
    }
    let opts = SaveOptions {
        images: args.images.clone(),
        format,
    };
    if format == SaveFormat::OciDir {
        let dir = args
            .output
            .as_ref()
            .ok_or_else(|| Error::Usage("oci-dir needs an output directory: -o DIR".into()))?;
        crate::engine::image::save(ctx, &opts, None, Some(dir))?;
        return Ok(0);
    }
    crate::cli::write_archive(args.output.as_deref(), "save", |w| {
        crate::engine::image::save(ctx, &opts, Some(w), None)
    })?;
    Ok(0)
}

fn input(path: Option<&std::path::Path>) -> Result<Box<dyn Read + Send>, Error> {
    match path {
        Some(p) if p.as_os_str() != "-" => {
            let f = std::fs::File::open(p)
                .map_err(|e| Error::io(format!("open `{}`", p.display()), e))?;
            Ok(Box::new(std::io::BufReader::with_capacity(1 << 20, f)))
        }
        _ => {
            if std::io::stdin().is_terminal() {
                return Err(Error::Usage(
                    "cannot read an archive from a terminal: use -i FILE or a pipe".into(),
                ));
            }
            Ok(Box::new(std::io::BufReader::with_capacity(
                1 << 20,
                std::io::stdin(),
            )))
        }
    }
}

pub fn load(ctx: &Ctx, args: &LoadArgs) -> Result<i32, Error> {
    let source = match args.input.as_deref() {
        Some(p) if p.as_os_str() != "-" => p.display().to_string(),
        _ => "stdin".to_string(),
    };
    let report = crate::engine::image::load(ctx, input(args.input.as_deref())?, &source)?;
    out(&report
        .loaded
        .iter()
        .map(|n| format!("Loaded image: {n}\n"))
        .collect::<String>())
    .map(|()| 0)
}

pub fn import(ctx: &Ctx, args: &ImportArgs) -> Result<i32, Error> {
    let path = std::path::Path::new(&args.source);
    if args.source.starts_with("http://") || args.source.starts_with("https://") {
        return Err(Error::Usage(format!(
            "importing from a URL (`{}`) is not supported yet: download it and import the file",
            args.source
        )));
    }
    let opts = ImportOptions {
        reference: args.reference.clone(),
        changes: args.change.clone(),
        message: args.message.clone(),
        source_name: args.source.clone(),
    };
    let id = crate::engine::image::import(ctx, input(Some(path))?, &opts)?;
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
