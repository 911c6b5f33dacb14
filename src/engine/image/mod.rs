//! Image use cases: lookup, list, tag, remove, inspect, history, pull, push, save, load, import.

mod decrypt;
mod error;
mod filter;
mod import;
mod load;
mod lookup;
mod pull;
mod push;
mod remove;
mod save;
mod tree;

use jiff::Timestamp;

pub use error::ImageError;
pub use filter::{Filter, parse_filters};
pub(crate) use import::apply_changes;
pub use import::{ImportOptions, import};
pub use load::load;
pub(crate) use load::record_image;
pub use lookup::{lookup, normalize_name};
pub use pull::{PullOptions, PullPolicy, PullProgress, all_tags, pull};
pub use push::{Compression, PushOptions, push};
pub(crate) use remove::delete_damaged;
pub use remove::{RemoveOptions, prune, remove};
pub use save::{SaveFormat, SaveOptions, save};
pub use tree::{ImageTree, TreeLayer, tree};

use super::{Ctx, EngineError};
use crate::oci::{Digest, ImageConfig, Manifest, ManifestKind, Reference};
use crate::store::{ImageRecord, Store};

/// `--retry` and `--retry-delay`: how often a failed registry request is tried again, and the fixed
/// wait between attempts (a doubling backoff when `None`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retry {
    pub count: u32,
    pub delay: Option<std::time::Duration>,
}

impl Default for Retry {
    /// podman's default: 3 retries, backing off.
    fn default() -> Self {
        Retry {
            count: 3,
            delay: None,
        }
    }
}

impl Retry {
    /// No retry at all.
    pub const NONE: Retry = Retry {
        count: 0,
        delay: None,
    };
}

/// A current-thread network runtime and a registry client, alive only for one pull or push (no runtime
/// thread may exist when a container is cloned).
pub(crate) fn registry_client(
    ctx: &Ctx,
    tls_verify: Option<bool>,
    credentials: Option<crate::registry::Credentials>,
    retry: Retry,
    cert_dir: Option<&std::path::Path>,
) -> Result<(tokio::runtime::Runtime, crate::registry::Client), EngineError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| EngineError::io("start the network runtime for", &ctx.paths.data, e))?;
    let client = crate::registry::Client::new(crate::registry::ClientOptions {
        tls_verify,
        credentials,
        auth: ctx.auth.clone(),
        conf: ctx.registries.get()?.clone(),
        user_agent: format!("roost/{}", env!("CARGO_PKG_VERSION")),
        retries: retry.count,
        retry_delay: retry.delay,
        cert_dir: cert_dir.map(std::path::Path::to_path_buf),
        timeout: ctx.registry_timeout,
    })?;
    Ok((runtime, client))
}

/// An image with its config, for listing and inspecting.
#[derive(Debug, Clone)]
pub struct ImageInfo {
    pub record: ImageRecord,
    pub config: ImageConfig,
    /// Raw manifest, when it is an image manifest.
    pub manifest: Option<Manifest>,
}

/// Load an image's config and manifest from the blob store.
pub fn info(store: &Store, record: ImageRecord) -> Result<ImageInfo, EngineError> {
    let config_bytes = store.read_blob(&record.id)?;
    let config: ImageConfig =
        serde_json::from_slice(&config_bytes).map_err(|e| EngineError::Malformed {
            what: "image config",
            source_name: record.id.to_string(),
            why: e.to_string(),
        })?;
    let manifest = store
        .read_blob(&record.digest)
        .ok()
        .and_then(|b| ManifestKind::parse(&record.manifest_media, &b).ok())
        .and_then(|k| match k {
            ManifestKind::Image(m) => Some(m),
            ManifestKind::Index(_) => None,
        });
    Ok(ImageInfo {
        record,
        config,
        manifest,
    })
}

/// `images`: every image that passes the filters, newest first.
pub fn list(ctx: &Ctx, filters: &[Filter]) -> Result<Vec<ImageRecord>, EngineError> {
    let Some(store) = ctx.store_if_exists()? else {
        return Ok(Vec::new());
    };
    let mut all = store.images()?;
    all.sort_by(|a, b| {
        b.created
            .unwrap_or(b.added)
            .cmp(&a.created.unwrap_or(a.added))
    });
    let resolved = filter::resolve(&store, filters)?;
    Ok(all
        .into_iter()
        .filter(|img| resolved.iter().all(|f| f.matches(img)))
        .collect())
}

/// `image inspect`: the images named, in order.
pub fn inspect(ctx: &Ctx, names: &[String]) -> Result<Vec<ImageInfo>, EngineError> {
    let Some(store) = ctx.store_if_exists()? else {
        return Err(EngineError::ImageNotKnown(
            names.first().cloned().unwrap_or_default(),
        ));
    };
    names
        .iter()
        .map(|n| {
            let id = lookup(&store, n)?;
            let rec = store
                .image(&id)?
                .ok_or_else(|| EngineError::ImageNotKnown(n.clone()))?;
            info(&store, rec)
        })
        .collect()
}

/// One row of `history`.
#[derive(Debug, Clone)]
pub struct HistoryEntry {
    /// The image id for the top entry, `None` (shown as `<missing>`) below it.
    pub id: Option<Digest>,
    pub created: Option<Timestamp>,
    pub created_by: String,
    pub size: u64,
    pub comment: String,
    pub tags: Vec<String>,
}

/// `history`: the image's build steps, newest first, with the size of the layer each one made.
pub fn history(ctx: &Ctx, name: &str) -> Result<Vec<HistoryEntry>, EngineError> {
    let store = ctx
        .store_if_exists()?
        .ok_or_else(|| EngineError::ImageNotKnown(name.to_string()))?;
    let id = lookup(&store, name)?;
    let rec = store
        .image(&id)?
        .ok_or_else(|| EngineError::ImageNotKnown(name.to_string()))?;
    let layer_sizes: Vec<u64> = rec
        .layers
        .iter()
        .map(|l| store.layer(l).map(|r| r.map_or(0, |r| r.size)))
        .collect::<Result<_, _>>()?;
    let info = info(&store, rec)?;
    let mut sizes = layer_sizes.into_iter();
    let mut out: Vec<HistoryEntry> = if info.config.history.is_empty() {
        // No history recorded: one entry per layer, as podman shows.
        sizes
            .map(|size| HistoryEntry {
                id: None,
                created: info.config.created,
                created_by: String::new(),
                size,
                comment: String::new(),
                tags: vec![],
            })
            .collect()
    } else {
        info.config
            .history
            .iter()
            .map(|h| HistoryEntry {
                id: None,
                created: h.created,
                created_by: h.created_by.clone().unwrap_or_default(),
                size: if h.empty_layer {
                    0
                } else {
                    sizes.next().unwrap_or(0)
                },
                comment: h.comment.clone().unwrap_or_default(),
                tags: vec![],
            })
            .collect()
    };
    out.reverse();
    if let Some(top) = out.first_mut() {
        top.id = Some(info.record.id.clone());
        top.tags = info.record.names.clone();
    }
    Ok(out)
}

/// `tag SOURCE TARGET...`: add names to an image. Short targets get the `localhost/` prefix.
pub fn tag(ctx: &Ctx, source: &str, targets: &[String]) -> Result<(), EngineError> {
    let mut store = ctx.store()?;
    let id = lookup(&store, source)?;
    let names = targets
        .iter()
        .map(|t| normalize_name(t))
        .collect::<Result<Vec<_>, _>>()?;
    for n in names {
        store.add_name(&id, &n)?;
        crate::engine::events::record(
            ctx,
            crate::engine::events::Event::image("tag", &id.to_string(), &n),
        );
    }
    Ok(())
}

/// `untag IMAGE [NAME...]`: remove the given names (all names when none is given). Returns what was removed.
///
/// A NAME with a digest (`repo:tag@sha256:…`, `repo@sha256:…`) names no tag: an image is known by its
/// digests apart from its names (`RepoDigests`), and, as in podman, untagging does not remove those.
/// Such a NAME is accepted when it is one of the image's digests, and removes nothing.
pub fn untag(ctx: &Ctx, image: &str, names: &[String]) -> Result<Vec<String>, EngineError> {
    let mut store = ctx.store()?;
    let id = lookup(&store, image)?;
    let rec = store
        .image(&id)?
        .ok_or_else(|| EngineError::ImageNotKnown(image.to_string()))?;
    let mut tagged = Vec::new();
    for n in names {
        match Reference::parse(n)?.digest() {
            Some(d) if rec.digests.contains(d) => {}
            Some(_) => {
                return Err(ImageError::TagNotKnown {
                    name: n.clone(),
                    image: id.clone(),
                }
                .into());
            }
            None => tagged.push(n.clone()),
        }
    }
    if !names.is_empty() && tagged.is_empty() {
        return Ok(Vec::new());
    }
    let targets: Vec<String> = if names.is_empty() {
        rec.names.clone()
    } else {
        tagged
            .iter()
            .map(|n| {
                let full = normalize_name(n)?;
                // A short name matches the image's own name with that repository.
                Ok(rec
                    .names
                    .iter()
                    .find(|x| **x == full || lookup::short_matches(x, n))
                    .cloned()
                    .unwrap_or(full))
            })
            .collect::<Result<_, EngineError>>()?
    };
    let mut removed = Vec::new();
    for n in targets {
        if !rec.names.contains(&n) {
            return Err(ImageError::TagNotKnown {
                name: n,
                image: id.clone(),
            }
            .into());
        }
        if store.remove_name(&n)? {
            crate::engine::events::record(
                ctx,
                crate::engine::events::Event::image("untag", &id.to_string(), &n),
            );
            removed.push(n);
        }
    }
    Ok(removed)
}
