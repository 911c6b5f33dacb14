//! `auto-update`: containers labelled `io.containers.autoupdate=registry|local` that run from a
//! systemd unit (the `PODMAN_SYSTEMD_UNIT` label they got from it) are updated as podman does
//! (podman-auto-update(1)): when the registry (`registry`) or the local store (`local`) has
//! another image under the container's image name, the new image is pulled (registry), the unit
//! restarted, and, if the restarted unit fails or its container does not come up running (and
//! healthy, with a healthcheck), the previous image is tagged back and the unit restarted again.
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use super::UNIT_VARIABLE;
use crate::engine::container::{self, Container, Status};
use crate::engine::image::{PullOptions, PullPolicy, PullProgress};
use crate::engine::{Ctx, EngineError};
use crate::oci::{Digest, Platform, Reference};

/// The label that opts a container in, and its values.
pub const AUTO_UPDATE_LABEL: &str = "io.containers.autoupdate";

/// How long a restarted unit's container may take to run (and pass its first health check).
const SETTLE: Duration = Duration::from_secs(120);

#[derive(Debug, Clone, Default)]
pub struct AutoUpdateOptions {
    pub dry_run: bool,
    /// Roll back to the previous image when the updated unit fails (podman's default: true).
    pub rollback: bool,
    pub tls_verify: Option<bool>,
}

/// One container's outcome, in podman's columns.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AutoUpdateReport {
    pub unit: String,
    /// `ID12 (NAME)`.
    pub container: String,
    #[serde(rename = "ContainerID")]
    pub container_id: String,
    pub container_name: String,
    pub image: String,
    pub policy: String,
    /// `pending` (dry run), `true`, `false`, `rolled back` or `failed`.
    pub updated: String,
}

#[derive(Debug, thiserror::Error)]
pub enum AutoUpdateError {
    #[error(
        "auto-updating container `{0}`: no {UNIT_VARIABLE} label found: it does not run from a systemd unit"
    )]
    NoUnit(String),
    #[error(
        "auto-updating container `{container}`: invalid auto-update policy `{policy}`: use registry or local"
    )]
    Policy { container: String, policy: String },
    #[error(
        "auto-updating container `{container}`: image `{image}` is not a fully-qualified reference (REGISTRY/NAME:TAG), which the registry policy needs"
    )]
    Unqualified { container: String, image: String },
    #[error("no systemd user manager is reachable (no bus at `{bus}`): cannot restart `{unit}`")]
    NoManager { bus: String, unit: String },
    #[error("restarting unit `{unit}` failed")]
    Restart {
        unit: String,
        #[source]
        source: crate::runtime::cgroup::dbus::DbusError,
    },
    #[error("unit `{unit}` restarted, but its container is not {what}")]
    NotUp { unit: String, what: &'static str },
}

impl AutoUpdateError {
    pub fn hint(&self) -> Option<String> {
        match self {
            AutoUpdateError::NoManager { .. } => Some(
                "run it where your systemd user manager runs (a login session, or `loginctl enable-linger` and `systemd-run --user`); `--dry-run` works without one".into(),
            ),
            AutoUpdateError::NoUnit(_) => Some(
                "run the container from a unit (`roost generate systemd --new`, or Quadlet) or drop its io.containers.autoupdate label".into(),
            ),
            _ => None,
        }
    }
}

/// A container to consider: running, labelled, in a unit.
struct Candidate {
    c: Container,
    unit: String,
    policy: Policy,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Policy {
    Registry,
    Local,
}

impl Policy {
    fn name(self) -> &'static str {
        match self {
            Policy::Registry => "registry",
            Policy::Local => "local",
        }
    }
}

/// Update every labelled container; the reports, and the errors of those that could not be checked
/// or updated (the others still are).
pub fn auto_update(
    ctx: &Ctx,
    opts: &AutoUpdateOptions,
) -> Result<(Vec<AutoUpdateReport>, Vec<EngineError>), EngineError> {
    let (candidates, mut errors) = candidates(ctx)?;
    let mut reports = Vec::new();
    // One restart per unit, even for several containers in it (a pod's).
    let mut units: BTreeMap<String, Vec<Candidate>> = BTreeMap::new();
    for cand in candidates {
        units.entry(cand.unit.clone()).or_default().push(cand);
    }
    for (unit, cands) in units {
        match update_unit(ctx, opts, &unit, &cands) {
            Ok(updated) => {
                reports.extend(cands.iter().map(|c| report(c, &updated)));
            }
            Err(e) => {
                reports.extend(cands.iter().map(|c| report(c, "failed")));
                errors.push(e);
            }
        }
    }
    Ok((reports, errors))
}

fn report(cand: &Candidate, updated: &str) -> AutoUpdateReport {
    let c = &cand.c;
    AutoUpdateReport {
        unit: cand.unit.clone(),
        container: format!(
            "{} ({})",
            crate::store::short_id(&c.record.id),
            c.record.name
        ),
        container_id: c.record.id.clone(),
        container_name: c.record.name.clone(),
        image: c.record.image.clone(),
        policy: cand.policy.name().into(),
        updated: updated.into(),
    }
}

fn candidates(ctx: &Ctx) -> Result<(Vec<Candidate>, Vec<EngineError>), EngineError> {
    let mut out = Vec::new();
    let mut errors = Vec::new();
    for c in container::list(ctx)? {
        let Some(policy) = c.spec.labels.get(AUTO_UPDATE_LABEL) else {
            continue;
        };
        if c.state.status != Status::Running {
            continue;
        }
        let policy = match policy.as_str() {
            "registry" | "image" => Policy::Registry,
            "local" => Policy::Local,
            "disabled" | "" => continue,
            other => {
                errors.push(
                    AutoUpdateError::Policy {
                        container: c.record.name.clone(),
                        policy: other.into(),
                    }
                    .into(),
                );
                continue;
            }
        };
        let Some(unit) = c.spec.labels.get(UNIT_VARIABLE).cloned() else {
            errors.push(AutoUpdateError::NoUnit(c.record.name.clone()).into());
            continue;
        };
        out.push(Candidate { c, unit, policy });
    }
    Ok((out, errors))
}

/// Check (and unless a dry run, update) the containers of one unit; returns podman's `Updated`.
fn update_unit(
    ctx: &Ctx,
    opts: &AutoUpdateOptions,
    unit: &str,
    cands: &[Candidate],
) -> Result<String, EngineError> {
    let mut stale = Vec::new();
    for cand in cands {
        if let Some(newer) = newer_image(ctx, opts, cand)? {
            stale.push((cand, newer));
        }
    }
    if stale.is_empty() {
        return Ok("false".into());
    }
    if opts.dry_run {
        return Ok("pending".into());
    }
    let bus = manager_bus(ctx, unit)?;
    for (cand, newer) in &stale {
        if let Newer::Remote = newer {
            pull(ctx, opts, &cand.c.record.image)?;
        }
    }
    let outcome = restart_unit(&bus, unit).and_then(|()| wait_up(ctx, unit));
    let Err(failure) = outcome else {
        return Ok("true".into());
    };
    if !opts.rollback {
        return Err(failure);
    }
    tracing::warn!(unit, error = %failure, "the updated unit failed: rolling back");
    for (cand, _) in &stale {
        // The name goes back to the image the container ran.
        crate::engine::image::tag(
            ctx,
            &cand.c.record.image_id.to_string(),
            std::slice::from_ref(&cand.c.record.image),
        )?;
    }
    restart_unit(&bus, unit)?;
    wait_up(ctx, unit)?;
    Ok("rolled back".into())
}

/// Where a newer image is.
enum Newer {
    Remote,
    Local,
}

/// Whether the container's image name now means another image: in the registry (its manifest digest
/// is none the local image has) or in the local store.
fn newer_image(
    ctx: &Ctx,
    opts: &AutoUpdateOptions,
    cand: &Candidate,
) -> Result<Option<Newer>, EngineError> {
    let c = &cand.c;
    match cand.policy {
        Policy::Local => {
            let store = ctx.store()?;
            let now = crate::engine::image::lookup(&store, &c.record.image)?;
            Ok((now != c.record.image_id).then_some(Newer::Local))
        }
        Policy::Registry => {
            let reference = Reference::parse(&c.record.image)?;
            if !reference.is_qualified() {
                return Err(AutoUpdateError::Unqualified {
                    container: c.record.name.clone(),
                    image: c.record.image.clone(),
                }
                .into());
            }
            let store = ctx.store()?;
            let known: Vec<Digest> = store
                .image(&c.record.image_id)?
                .map(|r| r.digests)
                .unwrap_or_default();
            let remote = remote_digests(ctx, opts, &reference)?;
            Ok((!remote.iter().any(|d| known.contains(d))).then_some(Newer::Remote))
        }
    }
}

/// The digests the registry has for `reference` now: the index's and this platform's manifest's.
fn remote_digests(
    ctx: &Ctx,
    opts: &AutoUpdateOptions,
    reference: &Reference,
) -> Result<Vec<Digest>, EngineError> {
    let (runtime, client) = crate::engine::image::registry_client(
        ctx,
        opts.tls_verify,
        None,
        crate::engine::image::Retry::NONE,
        None,
    )?;
    let resolved = runtime.block_on(client.resolve(reference, &Platform::host()))?;
    Ok([Some(resolved.manifest_digest), resolved.index_digest]
        .into_iter()
        .flatten()
        .collect())
}

struct Quiet;
impl PullProgress for Quiet {}

fn pull(ctx: &Ctx, opts: &AutoUpdateOptions, image: &str) -> Result<(), EngineError> {
    crate::engine::image::pull(
        ctx,
        &PullOptions {
            decryption_keys: Vec::new(),
            reference: image.to_string(),
            platform: Platform::host(),
            policy: PullPolicy::Always,
            tls_verify: opts.tls_verify,
            credentials: None,
            retry: crate::engine::image::Retry::default(),
            cert_dir: None,
        },
        &Quiet,
    )?;
    Ok(())
}

/// The user manager's bus, or why there is none.
fn manager_bus(ctx: &Ctx, unit: &str) -> Result<PathBuf, EngineError> {
    let runtime = &ctx.paths.runtime_base;
    crate::runtime::cgroup::dbus::session_bus(ctx.cgroup.bus_address.as_deref(), Some(runtime))
        .ok_or_else(|| {
            AutoUpdateError::NoManager {
                bus: runtime.join("bus").display().to_string(),
                unit: unit.to_string(),
            }
            .into()
        })
}

fn restart_unit(bus: &std::path::Path, unit: &str) -> Result<(), EngineError> {
    crate::runtime::cgroup::dbus::restart_unit(bus, unit).map_err(|source| {
        AutoUpdateError::Restart {
            unit: unit.to_string(),
            source,
        }
        .into()
    })
}

/// After a restart: the unit's (new) container runs, and passes its health check if it has one.
fn wait_up(ctx: &Ctx, unit: &str) -> Result<(), EngineError> {
    let deadline = Instant::now() + SETTLE;
    loop {
        let store = ctx.store()?;
        let of_unit = container::list(ctx)?
            .into_iter()
            .filter(|c| c.spec.labels.get(UNIT_VARIABLE).map(String::as_str) == Some(unit))
            .collect::<Vec<_>>();
        let running: Vec<&Container> = of_unit
            .iter()
            .filter(|c| c.state.status == Status::Running)
            .collect();
        // A container without a healthcheck counts as healthy once it runs.
        let health = |c: &Container| {
            Some(
                container::health::state_of(&store, c)
                    .map_or_else(|| "healthy".to_string(), |h| h.status.as_str().to_string()),
            )
        };
        if running.is_empty()
            && !of_unit.is_empty()
            && of_unit.iter().all(|c| c.state.status != Status::Created)
        {
            return Err(AutoUpdateError::NotUp {
                unit: unit.to_string(),
                what: "running",
            }
            .into());
        }
        if !running.is_empty() {
            match running
                .iter()
                .map(|c| health(c))
                .find(|h| h.as_deref() != Some("healthy"))
            {
                None => return Ok(()),
                Some(Some(h)) if h == "unhealthy" => {
                    return Err(AutoUpdateError::NotUp {
                        unit: unit.to_string(),
                        what: "healthy",
                    }
                    .into());
                }
                Some(_) => {}
            }
        }
        drop(store);
        if Instant::now() >= deadline {
            return Err(AutoUpdateError::NotUp {
                unit: unit.to_string(),
                what: "running and healthy",
            }
            .into());
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}
