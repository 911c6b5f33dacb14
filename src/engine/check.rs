//! `system check`: is the store consistent (records against files, images against their layers and
//! blobs, leftovers of killed commands), and `--repair` removes what is damaged or left over. Also
//! [`reclaim`], the part of the repair that is always safe, which `build` and `system prune` run too.
use std::collections::{BTreeSet, HashSet};
use std::io::Read;

use super::container::{self, Container};
use super::{Ctx, EngineError};
use crate::oci::Digest;
use crate::store::Store;

#[derive(Debug, Clone, Copy, Default)]
pub struct CheckOptions {
    /// Remove what is damaged or left over.
    pub repair: bool,
    /// Skip reading every blob to compare it with its digest.
    pub quick: bool,
    /// With `repair`, also remove damaged images that containers use, and those containers.
    pub force: bool,
}

/// What kind of object a problem is about (the report is grouped by it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    /// A killed command's staging entry under `tmp/`.
    Staging,
    /// The step container of a build that no longer runs.
    BuildContainer,
    /// A container directory with no record (a killed `create`/`run`).
    OrphanDir,
    Container,
    Image,
    Layer,
}

impl Kind {
    pub fn title(self) -> &'static str {
        match self {
            Kind::Staging => "Leftover staging entries",
            Kind::BuildContainer => "Leftover build containers",
            Kind::OrphanDir => "Orphaned container directories",
            Kind::Container => "Damaged containers",
            Kind::Image => "Damaged images",
            Kind::Layer => "Damaged layers",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Problem {
    pub kind: Kind,
    /// The object: an id, or a path for staging entries.
    pub object: String,
    pub what: String,
    /// `--repair` removed it.
    pub repaired: bool,
    /// Why `--repair` left it (e.g. in use by containers, without `--force`).
    pub kept: Option<String>,
}

#[derive(Debug, Default)]
pub struct CheckReport {
    pub problems: Vec<Problem>,
}

impl CheckReport {
    fn add(&mut self, kind: Kind, object: impl Into<String>, what: impl Into<String>) {
        self.problems.push(Problem {
            kind,
            object: object.into(),
            what: what.into(),
            repaired: false,
            kept: None,
        });
    }
}

/// What [`reclaim`] removed.
#[derive(Debug, Default)]
pub struct Reclaimed {
    pub build_containers: Vec<String>,
    pub orphan_dirs: Vec<String>,
}

/// Step containers whose build is gone.
fn dead_build_containers(store: &Store) -> Result<Vec<Container>, EngineError> {
    Ok(store
        .containers()?
        .into_iter()
        .map(Container::from_record)
        .filter(|c| {
            c.spec
                .builder
                .as_deref()
                .is_some_and(|t| !store.owner_alive(t))
        })
        .collect())
}

fn remove_orphan_dir(ctx: &Ctx, store: &Store, id: &str) -> Result<(), EngineError> {
    let dir = store.container_dir(id);
    crate::store::remove_tree(&dir).map_err(|e| EngineError::io("remove", &dir, e))?;
    let _ = crate::store::remove_tree(&container::runtime_dir(ctx, id));
    Ok(())
}

/// Remove what killed commands leave and no live process owns: the step containers of builds that are
/// gone (killing their processes) and container directories with no record whose maker is gone.
/// Must run inside the user namespace (the files belong to subordinate ids).
pub fn reclaim(ctx: &Ctx, store: &mut Store) -> Result<Reclaimed, EngineError> {
    let mut done = Reclaimed::default();
    for c in dead_build_containers(store)? {
        let c = container::find(store, &c.record.id)?;
        container::remove_one(ctx, store, &c, true)?;
        done.build_containers.push(c.record.id);
    }
    for id in store.orphan_container_dirs()? {
        remove_orphan_dir(ctx, store, &id)?;
        done.orphan_dirs.push(id);
    }
    Ok(done)
}

/// `system check [--repair] [--quick] [--force]`.
pub fn check(ctx: &Ctx, opts: CheckOptions) -> Result<CheckReport, EngineError> {
    let mut report = CheckReport::default();
    let Some(mut store) = ctx.store_if_exists()? else {
        return Ok(report);
    };
    check_leftovers(&store, &mut report)?;
    let damaged_layers = check_layers(&store, opts.quick, &mut report)?;
    let damaged_images = check_images(&store, opts.quick, &damaged_layers, &mut report)?;
    check_containers(&store, &mut report)?;
    if opts.repair {
        repair(ctx, &mut store, opts, &damaged_images, &mut report)?;
    }
    Ok(report)
}

fn check_leftovers(store: &Store, report: &mut CheckReport) -> Result<(), EngineError> {
    for p in store.dead_staging() {
        report.add(
            Kind::Staging,
            p.display().to_string(),
            "left by a roost process that no longer runs",
        );
    }
    for c in dead_build_containers(store)? {
        report.add(
            Kind::BuildContainer,
            c.record.id,
            "its build no longer runs",
        );
    }
    for id in store.orphan_container_dirs()? {
        report.add(
            Kind::OrphanDir,
            id,
            "no container record, and the command that made it no longer runs",
        );
    }
    Ok(())
}

/// Whether the blob at `path` has digest `d` (read in full).
fn blob_matches(store: &Store, d: &Digest) -> bool {
    let Ok(mut f) = std::fs::File::open(store.blob_path(d)) else {
        return false;
    };
    let mut h = crate::oci::Sha256Writer::new();
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        match f.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => std::io::Write::write_all(&mut h, &buf[..n]).expect("hashing cannot fail"),
            Err(_) => return false,
        }
    }
    &h.finish() == d
}

/// Problems with a blob the store relies on: missing, or (unless `quick`) not matching its digest.
fn blob_problem(store: &Store, d: &Digest, quick: bool) -> Option<String> {
    if !store.has_blob(d) {
        return Some(format!("blob `{d}` is missing"));
    }
    (!quick && !blob_matches(store, d)).then(|| format!("blob `{d}` does not match its digest"))
}

/// Layer records whose files are gone or whose blob is missing or corrupt; returns their chain ids.
fn check_layers(
    store: &Store,
    quick: bool,
    report: &mut CheckReport,
) -> Result<HashSet<Digest>, EngineError> {
    let mut damaged = HashSet::new();
    for l in store.layers()? {
        let problem = if !store.layer_diff(&l.chain_id).is_dir() {
            Some("its directory is missing".to_string())
        } else {
            blob_problem(store, &l.blob_digest, quick)
        };
        if let Some(what) = problem {
            report.add(Kind::Layer, l.chain_id.to_string(), what);
            damaged.insert(l.chain_id);
        }
    }
    Ok(damaged)
}

/// Images with a missing or damaged layer, config or manifest; returns their ids.
fn check_images(
    store: &Store,
    quick: bool,
    damaged_layers: &HashSet<Digest>,
    report: &mut CheckReport,
) -> Result<Vec<Digest>, EngineError> {
    let mut damaged = Vec::new();
    for img in store.images()? {
        let mut what = Vec::new();
        for l in &img.layers {
            if damaged_layers.contains(l) {
                what.push(format!("layer `{l}` is damaged"));
            } else if store.layer(l)?.is_none() {
                what.push(format!("layer `{l}` is missing"));
            }
        }
        what.extend(blob_problem(store, &img.id, quick));
        what.extend(blob_problem(store, &img.digest, quick));
        if !what.is_empty() {
            report.add(Kind::Image, img.id.to_string(), what.join("; "));
            damaged.push(img.id);
        }
    }
    Ok(damaged)
}

/// Container records without their directory, with an unreadable spec or missing layers.
fn check_containers(store: &Store, report: &mut CheckReport) -> Result<(), EngineError> {
    for r in store.containers()? {
        let mut what = Vec::new();
        let spec = serde_json::from_str::<container::ContainerSpec>(&r.spec);
        if spec.is_err() {
            what.push("its spec is unreadable".to_string());
        }
        if !store.container_dir(&r.id).is_dir() {
            what.push("its directory is missing".to_string());
        }
        for l in spec.map(|s| s.layers).unwrap_or_default() {
            if !store.layer_diff(&l).is_dir() {
                what.push(format!("its layer `{l}` is missing"));
            }
        }
        if !what.is_empty() {
            report.add(Kind::Container, r.id, what.join("; "));
        }
    }
    Ok(())
}

fn repair(
    ctx: &Ctx,
    store: &mut Store,
    opts: CheckOptions,
    damaged_images: &[Digest],
    report: &mut CheckReport,
) -> Result<(), EngineError> {
    store.clean_staging();
    let reclaimed = reclaim(ctx, store)?;
    let still_staged: BTreeSet<String> = store
        .dead_staging()
        .into_iter()
        .map(|p| p.display().to_string())
        .collect();
    for p in &mut report.problems {
        p.repaired = match p.kind {
            Kind::Staging => !still_staged.contains(&p.object),
            Kind::BuildContainer => reclaimed.build_containers.contains(&p.object),
            Kind::OrphanDir => reclaimed.orphan_dirs.contains(&p.object),
            Kind::Container | Kind::Image | Kind::Layer => false,
        };
    }
    repair_containers(ctx, store, report)?;
    repair_images(ctx, store, opts, damaged_images, report)?;
    repair_layers(store, report)
}

/// Damaged containers are removed (whatever of them is left).
fn repair_containers(
    ctx: &Ctx,
    store: &mut Store,
    report: &mut CheckReport,
) -> Result<(), EngineError> {
    for p in report
        .problems
        .iter_mut()
        .filter(|p| p.kind == Kind::Container)
    {
        match container::find(store, &p.object) {
            Ok(c) => container::remove_one(ctx, store, &c, true)?,
            Err(EngineError::NoSuchContainer(_)) => {}
            Err(e) => return Err(e),
        }
        p.repaired = true;
    }
    Ok(())
}

/// Damaged images are removed, unless containers use them (with `force` those containers go first).
fn repair_images(
    ctx: &Ctx,
    store: &mut Store,
    opts: CheckOptions,
    damaged: &[Digest],
    report: &mut CheckReport,
) -> Result<(), EngineError> {
    let in_use: Vec<(String, Digest)> = store
        .containers()?
        .into_iter()
        .map(|c| (c.id, c.image_id))
        .collect();
    for id in damaged {
        let users: Vec<String> = in_use
            .iter()
            .filter(|(_, img)| img == id)
            .map(|(c, _)| c.clone())
            .collect();
        let p = report
            .problems
            .iter_mut()
            .find(|p| p.kind == Kind::Image && p.object == id.to_string())
            .expect("every damaged image was reported");
        if !users.is_empty() && !opts.force {
            p.kept = Some(format!(
                "in use by container(s) {}: use --force to remove them too",
                users
                    .iter()
                    .map(|u| crate::store::short_id(u))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
            continue;
        }
        for u in &users {
            if let Ok(c) = container::find(store, u) {
                container::remove_one(ctx, store, &c, true)?;
                crate::engine::container::remove_anonymous_volumes(store, &c)?;
            }
        }
        super::image::delete_damaged(store, id)?;
        p.repaired = true;
    }
    Ok(())
}

/// Damaged layers that no image uses any more (after the images went) are removed.
fn repair_layers(store: &mut Store, report: &mut CheckReport) -> Result<(), EngineError> {
    let unused: HashSet<Digest> = store.unused_layers()?.into_iter().collect();
    for p in report.problems.iter_mut().filter(|p| p.kind == Kind::Layer) {
        let Ok(d) = p.object.parse::<Digest>() else {
            continue;
        };
        if store.layer(&d)?.is_none() {
            p.repaired = true;
        } else if unused.contains(&d) {
            store.remove_layer(&d)?;
            p.repaired = true;
        } else {
            p.kept = Some("an image that is kept uses it".into());
        }
    }
    Ok(())
}
