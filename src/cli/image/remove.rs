//! `rmi`, `image prune`, `tag`, `untag`, `image exists`.

use super::{ExistsArgs, PruneArgs, RmiArgs, TagArgs, UntagArgs};
use crate::cli::out;
use crate::engine::Ctx;
use crate::engine::image::RemoveOptions;
use crate::error::Error;

pub fn rmi(ctx: &Ctx, args: &RmiArgs) -> Result<i32, Error> {
    if args.images.is_empty() && !args.all {
        return Err(Error::Usage(
            "image name or ID must be specified (or use --all)".into(),
        ));
    }
    if !args.images.is_empty() && args.all {
        return Err(Error::Usage(
            "when using the --all switch, you may not pass any images names or IDs".into(),
        ));
    }
    let opts = RemoveOptions {
        images: args.images.clone(),
        force: args.force,
        all: args.all,
        ignore: args.ignore,
    };
    let report =
        crate::engine::image::remove(ctx, &opts, &crate::engine::container::ContainerUsers)?;
    let mut text = String::new();
    for n in &report.untagged {
        text.push_str(&format!("Untagged: {n}\n"));
    }
    for d in &report.deleted {
        text.push_str(&format!("Deleted: {}\n", d.hex()));
    }
    out(&text)?;
    for e in &report.errors {
        #[allow(clippy::print_stderr)]
        {
            eprintln!("Error: {}", chain(e));
        }
    }
    match report.exit_code() {
        0 => Ok(0),
        code => Err(Error::Reported(code)),
    }
}

/// An error and its causes, `: `-separated (bulk commands report each failed item this way).
fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(x) = src {
        s.push_str(": ");
        s.push_str(&x.to_string());
        src = x.source();
    }
    s
}

pub fn prune(ctx: &Ctx, args: &PruneArgs) -> Result<i32, Error> {
    if !args.force {
        let what = if args.all {
            "all images not in use by containers"
        } else {
            "all dangling images"
        };
        if !crate::cli::confirm(&format!("This command removes {what}.")) {
            return Ok(0);
        }
    }
    let deleted =
        crate::engine::image::prune(ctx, args.all, &crate::engine::container::ContainerUsers)?;
    out(&deleted
        .iter()
        .map(|d| format!("{}\n", d.hex()))
        .collect::<String>())
    .map(|()| 0)
}

pub fn tag(ctx: &Ctx, args: &TagArgs) -> Result<i32, Error> {
    crate::engine::image::tag(ctx, &args.image, &args.targets)?;
    Ok(0)
}

pub fn untag(ctx: &Ctx, args: &UntagArgs) -> Result<i32, Error> {
    crate::engine::image::untag(ctx, &args.image, &args.names)?;
    Ok(0)
}

pub fn exists(ctx: &Ctx, args: &ExistsArgs) -> Result<i32, Error> {
    let Some(store) = ctx.store_if_exists()? else {
        return Ok(1);
    };
    match crate::engine::image::lookup(&store, &args.image) {
        Ok(_) => Ok(0),
        Err(crate::engine::EngineError::ImageNotKnown(_)) => Ok(1),
        Err(e) => Err(e.into()),
    }
}
