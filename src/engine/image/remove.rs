//! `rmi` and `image prune`: untag and delete images, then the layers and blobs nothing uses any more.
//! Which containers use an image is in their records; `rmi -f` removes them through the caller's
//! [`Users`].
use super::lookup::{lookup, normalize_name, short_matches};
use crate::engine::users::Users;
use crate::engine::{Ctx, EngineError};
use crate::oci::Digest;
use crate::store::Store;

#[derive(Debug, Clone, Default)]
pub struct RemoveOptions {
    pub images: Vec<String>,
    pub force: bool,
    pub all: bool,
    /// Missing images are not an error.
    pub ignore: bool,
}

/// What `rmi` did, item by item (it keeps going after a failure, as podman does).
#[derive(Debug, Default)]
pub struct RemoveReport {
    pub untagged: Vec<String>,
    pub deleted: Vec<Digest>,
    pub errors: Vec<EngineError>,
}

impl RemoveReport {
    /// podman's rmi exit codes: 1 when the only failures are unknown images, 125 for anything else.
    pub fn exit_code(&self) -> i32 {
        if self.errors.is_empty() {
            0
        } else if self
            .errors
            .iter()
            .all(|e| matches!(e, EngineError::ImageNotKnown(_)))
        {
            1
        } else if self
            .errors
            .iter()
            .any(|e| matches!(e, EngineError::ImageInUse { .. }))
        {
            2
        } else {
            125
        }
    }
}

fn is_id_like(input: &str) -> bool {
    input.starts_with("sha256:")
        || (input.len() >= 3 && input.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// Delete image `id` with all its names, then its unused layers and blobs. An image that containers use
/// is kept (exit status 2, as podman), unless `force`, which removes those containers first.
fn delete(store: &mut Store, id: &Digest, report: &mut RemoveReport) -> Result<(), EngineError> {
    if let Some(c) = store.containers()?.into_iter().find(|c| &c.image_id == id) {
        return Err(EngineError::ImageInUse { container: c.id });
    }
    let rec = store
        .image(id)?
        .ok_or_else(|| EngineError::ImageNotKnown(id.to_string()))?;
    store.remove_image(id)?;
    report.untagged.extend(rec.names.iter().cloned());
    report.deleted.push(id.clone());
    collect_garbage(store, &rec.layers, &[rec.id.clone(), rec.digest.clone()])
}

/// Delete a damaged image (`system check --repair`): as `rmi` of its id, refused while containers use it.
pub(crate) fn delete_damaged(store: &mut Store, id: &Digest) -> Result<(), EngineError> {
    delete(store, id, &mut RemoveReport::default())
}

/// Remove layers (of `candidates`) that no image uses any more, and blobs no image refers to.
fn collect_garbage(
    store: &mut Store,
    candidates: &[Digest],
    blobs: &[Digest],
) -> Result<(), EngineError> {
    let unused = store.unused_layers()?;
    for l in candidates.iter().rev().filter(|l| unused.contains(l)) {
        store.remove_layer(l)?;
    }
    let images = store.images()?;
    for b in blobs {
        let used = images.iter().any(|i| &i.id == b || i.digests.contains(b));
        if !used {
            let _ = std::fs::remove_file(store.blob_path(b));
        }
    }
    Ok(())
}

fn remove_one(
    store: &mut Store,
    input: &str,
    force: bool,
    report: &mut RemoveReport,
) -> Result<(), EngineError> {
    let id = lookup(store, input)?;
    let rec = store
        .image(&id)?
        .ok_or_else(|| EngineError::ImageNotKnown(input.to_string()))?;
    if !is_id_like(input) && rec.names.len() > 1 {
        // By name, with other names left: only that name goes (the image stays tagged).
        let full = normalize_name(input).unwrap_or_default();
        let name = rec
            .names
            .iter()
            .find(|n| **n == full || short_matches(n, input))
            .cloned();
        if let Some(name) = name {
            store.remove_name(&name)?;
            report.untagged.push(name);
            return Ok(());
        }
    }
    if is_id_like(input) && rec.names.len() > 1 && !force {
        return Err(EngineError::MultipleTags {
            id: id.hex().to_string(),
            names: rec.names.join(", "),
        });
    }
    delete(store, &id, report)
}

/// `rmi`.
pub fn remove(
    ctx: &Ctx,
    opts: &RemoveOptions,
    users: &dyn Users,
) -> Result<RemoveReport, EngineError> {
    let report = remove_images(ctx, opts, users)?;
    let untagged = report
        .untagged
        .iter()
        .map(|n| crate::engine::events::Event::image("untag", "", n));
    let removed = report
        .deleted
        .iter()
        .map(|id| crate::engine::events::Event::image("remove", &id.to_string(), &id.to_string()));
    crate::engine::events::record_all(ctx, &untagged.chain(removed).collect::<Vec<_>>());
    Ok(report)
}

fn remove_images(
    ctx: &Ctx,
    opts: &RemoveOptions,
    users: &dyn Users,
) -> Result<RemoveReport, EngineError> {
    let mut report = RemoveReport::default();
    let Some(mut store) = ctx.store_if_exists()? else {
        if !opts.ignore {
            report.errors.extend(
                opts.images
                    .iter()
                    .map(|i| EngineError::ImageNotKnown(i.clone())),
            );
        }
        return Ok(report);
    };
    store.clean_staging();
    if opts.force {
        // podman's `rmi -f` also removes the containers that use the images.
        let targets: Vec<Digest> = if opts.all {
            store.images()?.into_iter().map(|r| r.id).collect()
        } else {
            opts.images
                .iter()
                .filter_map(|i| lookup(&store, i).ok())
                .collect()
        };
        let using: Vec<String> = store
            .containers()?
            .into_iter()
            .filter(|c| targets.contains(&c.image_id))
            .map(|c| c.id)
            .collect();
        if !using.is_empty() {
            report.errors.extend(users.remove_all(ctx, &using)?);
        }
    }
    if opts.all {
        for rec in store.images()? {
            if let Err(e) = delete(&mut store, &rec.id, &mut report) {
                report.errors.push(e);
            }
        }
        let unused = store.unused_layers()?;
        collect_garbage(&mut store, &unused, &[])?;
        return Ok(report);
    }
    for input in &opts.images {
        match remove_one(&mut store, input, opts.force, &mut report) {
            Err(EngineError::ImageNotKnown(_)) if opts.ignore => {}
            Err(e) => report.errors.push(e),
            Ok(()) => {}
        }
    }
    Ok(report)
}

/// `image prune`: remove dangling images (with `all`, every image) that no container uses, and
/// layers nothing uses.
pub fn prune(ctx: &Ctx, all: bool, users: &dyn Users) -> Result<Vec<Digest>, EngineError> {
    let Some(mut store) = ctx.store_if_exists()? else {
        return Ok(Vec::new());
    };
    store.clean_staging();
    users.reclaim(ctx, &mut store)?;
    let used: std::collections::HashSet<Digest> = store
        .containers()?
        .into_iter()
        .map(|c| c.image_id)
        .collect();
    let mut report = RemoveReport::default();
    for rec in store.images()? {
        if (all || rec.names.is_empty()) && !used.contains(&rec.id) {
            delete(&mut store, &rec.id, &mut report)?;
        }
    }
    let unused = store.unused_layers()?;
    collect_garbage(&mut store, &unused, &[])?;
    let removed = report
        .deleted
        .iter()
        .map(|id| crate::engine::events::Event::image("remove", &id.to_string(), &id.to_string()));
    crate::engine::events::record_all(ctx, &removed.collect::<Vec<_>>());
    Ok(report.deleted)
}
