//! `pull` and `push`.
use super::{PullArgs, PushArgs, RegistryArgs};
use crate::cli::progress::Progress;
use crate::cli::{ctx, out};
use crate::engine::Ctx;
use crate::engine::image::{PullOptions, PullPolicy, PushOptions};
use crate::error::Error;
use crate::registry::Credentials;

/// `--creds USER[:PASSWORD]` (asks for the password on the terminal when it is missing).
pub(super) fn credentials(creds: Option<&str>) -> Result<Option<Credentials>, Error> {
    let Some(c) = creds else { return Ok(None) };
    let (user, pass) = match c.split_once(':') {
        Some((u, p)) => (u.to_string(), p.to_string()),
        None => (c.to_string(), super::login::read_password_tty()?),
    };
    if user.is_empty() {
        return Err(Error::Usage(
            "--creds: the username must not be empty".into(),
        ));
    }
    Ok(Some(Credentials {
        username: user,
        password: pass,
    }))
}

fn engine_ctx_with_auth(ctx: &Ctx, reg: &RegistryArgs) -> Ctx {
    Ctx {
        auth: ctx::with_authfile(ctx, reg.authfile.as_ref()),
        ..ctx.clone()
    }
}

/// `--all-tags`: the image must name a repository only (podman's words).
fn has_tag_or_digest(image: &str) -> bool {
    let last = image.rsplit('/').next().unwrap_or(image);
    image.contains('@') || last.contains(':')
}

/// The references to pull for `image`: itself, or with `--all-tags` each tag of its repository.
fn references(ctx: &Ctx, args: &PullArgs, opts: &PullOptions) -> Result<Vec<String>, Error> {
    if !args.all_tags {
        return Ok(vec![opts.reference.clone()]);
    }
    if has_tag_or_digest(&opts.reference) {
        return Err(Error::Usage(format!(
            "tag can't be used with --all-tags/-a: `{}`",
            opts.reference
        )));
    }
    Ok(crate::engine::image::all_tags(ctx, opts)?)
}

pub fn pull(ctx: &Ctx, args: &PullArgs) -> Result<i32, Error> {
    let ctx = engine_ctx_with_auth(ctx, &args.registry);
    let platform = args.platform.platform()?;
    let credentials = credentials(args.registry.creds.as_deref())?;
    let progress = Progress::new(args.registry.quiet);
    let retry = args.registry.retry.retry()?;
    for image in &args.images {
        let mut opts = PullOptions {
            reference: image.clone(),
            platform: platform.clone(),
            policy: PullPolicy::Always,
            tls_verify: args.registry.tls_verify,
            credentials: credentials.clone(),
            retry,
            cert_dir: args.registry.cert_dir.clone(),
            decryption_keys: args.decryption_key.clone(),
        };
        for reference in references(&ctx, args, &opts)? {
            opts.reference = reference;
            let report = crate::engine::image::pull(&ctx, &opts, &progress)?;
            out(&format!("{}\n", report.id.hex()))?;
        }
    }
    Ok(0)
}

pub fn push(ctx: &Ctx, args: &PushArgs) -> Result<i32, Error> {
    let ctx = engine_ctx_with_auth(ctx, &args.registry);
    let opts = PushOptions {
        image: args.image.clone(),
        destination: args.destination.clone(),
        tls_verify: args.registry.tls_verify,
        credentials: credentials(args.registry.creds.as_deref())?,
        compression: if args.compression_format == "zstd" {
            crate::engine::image::Compression::Zstd
        } else {
            crate::engine::image::Compression::Gzip
        },
        retry: args.registry.retry.retry()?,
        cert_dir: args.registry.cert_dir.clone(),
    };
    let progress = Progress::new(args.registry.quiet);
    let report = crate::engine::image::push(&ctx, &opts, &progress)?;
    if let Some(f) = &args.digestfile {
        std::fs::write(f, report.digest.to_string())
            .map_err(|e| Error::io(format!("write `{}`", f.display()), e))?;
    }
    Ok(0)
}
