//! The service container of `kube play --service-container` (podman's): the process a systemd unit
//! (Quadlet `.kube`, `Type=notify`, `NotifyAccess=all`) watches in place of the pods.
//!
//! Design (the simplest that looks like podman's from systemd's side, and reuses what roost has):
//! - The service container is an ordinary container outside the pods, running the infra image's
//!   pause process with no network; each pod it serves names it (`PodRecord::service_container`),
//!   and its spec says it is one (`ContainerSpec::service`, `inspect`'s `IsService`).
//! - `kube play` starts it last, once the pods' containers run, with `--sdnotify=conmon`: its
//!   monitor (`roost __monitor`, as for a Quadlet `.container`) sends `MAINPID=<itself>` and
//!   `READY=1`. So systemd hears READY only when the containers run, and then watches a process
//!   that lives as long as the pods do. Without NOTIFY_SOCKET nothing is sent and `kube play`
//!   returns as usual, the service container running.
//! - No watcher process is added: the pod members' monitors already see each exit. A member's
//!   monitor that records its container's end for good (no restart) stops the service container
//!   when no member of its pods runs any more; the service's monitor then ends with the exit code
//!   `--service-exit-code-propagation` asks for, computed from the members' recorded exits. That
//!   ends the unit's main process: systemd runs `ExecStopPost=roost kube down`, which removes the
//!   pods, and with the last of them the service container.
#![deny(clippy::print_stdout, clippy::print_stderr)]

use serde::{Deserialize, Serialize};

use super::{PodRecord, store};
use crate::engine::container::sdnotify::SdNotifyMode;
use crate::engine::container::{self, Container, CreateOptions, Status};
use crate::engine::image::{PullPolicy, PullProgress};
use crate::engine::{Ctx, EngineError};

/// `--service-exit-code-propagation`: how the service container's exit reflects the containers'.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Propagation {
    /// 0, whatever the containers did (podman's default).
    #[default]
    None,
    /// Non-zero (the first failed container's code) when every container failed.
    All,
    /// Non-zero (the first failed container's code) when any container failed.
    Any,
}

impl Propagation {
    pub const NAMES: [&'static str; 3] = ["none", "all", "any"];

    pub fn parse(s: &str) -> Result<Propagation, String> {
        match s {
            "" | "none" => Ok(Propagation::None),
            "all" => Ok(Propagation::All),
            "any" => Ok(Propagation::Any),
            _ => Err(format!(
                "invalid service exit code propagation `{s}`: use none, all or any"
            )),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Propagation::None => "none",
            Propagation::All => "all",
            Propagation::Any => "any",
        }
    }

    /// The service's exit code from its containers' (in pod and creation order; 0 for one that
    /// has not ended).
    pub fn exit_code(self, codes: &[i32]) -> i32 {
        let first_failed = codes.iter().copied().find(|c| *c != 0).unwrap_or(0);
        match self {
            Propagation::None => 0,
            Propagation::Any => first_failed,
            Propagation::All if !codes.is_empty() && codes.iter().all(|c| *c != 0) => first_failed,
            Propagation::All => 0,
        }
    }
}

/// Create a service container (not started), named `<8 hex digits>-service` as podman names it.
pub fn create(
    ctx: &Ctx,
    propagation: Propagation,
    labels: std::collections::BTreeMap<String, String>,
    progress: &dyn PullProgress,
) -> Result<Container, EngineError> {
    super::infra::ensure_image(ctx, &ctx.store()?)?;
    let opts = CreateOptions {
        image: super::infra::INFRA_IMAGE.to_string(),
        name: Some(format!(
            "{}-service",
            hex::encode(rand::random::<[u8; 4]>())
        )),
        pull: Some(PullPolicy::Never),
        net: container::network_settings::NetworkRequest {
            mode: "none".into(),
            ..Default::default()
        },
        stop_timeout: Some(10),
        sdnotify: SdNotifyMode::Conmon,
        service: Some(propagation),
        labels,
        ..CreateOptions::default()
    };
    container::create(ctx, &opts, progress)
}

/// Start the service container (once the pods' containers run: its monitor sends READY=1); stop
/// it again if they have all ended meanwhile (their monitors found it not running yet).
pub fn start(ctx: &Ctx, id: &str) -> Result<(), EngineError> {
    let c = container::find(&ctx.store()?, id)?;
    container::start_detached(ctx, &c)?;
    stop_when_done(ctx, id)
}

/// `pod start` of a pod a service container stands for (`kube play --start=false`, or after the
/// pods ended): the service container starts too once the pod's containers run, as podman starts
/// it with the pod.
pub(super) fn pod_started(ctx: &Ctx, pod: &PodRecord) -> Result<(), EngineError> {
    let Some(service) = &pod.service_container else {
        return Ok(());
    };
    let c = match container::find(&ctx.store()?, service) {
        Ok(c) => c,
        // Removed by hand: the pod runs without it.
        Err(EngineError::NoSuchContainer(_)) => return Ok(()),
        Err(e) => return Err(e),
    };
    if matches!(c.state.status, Status::Running | Status::Paused) {
        return Ok(());
    }
    start(ctx, service)
}

/// Called by a pod member's monitor once its container has ended for good: the service container
/// of its pod stops when no member of the service's pods runs any more (a failure is only logged:
/// the member's exit is recorded either way).
pub fn member_ended(ctx: &Ctx, c: &Container) {
    let Some(pod_id) = c.spec.pod.as_deref() else {
        return;
    };
    let Ok(record) = store::find(ctx, pod_id) else {
        return;
    };
    let Some(service) = record.service_container else {
        return;
    };
    if record.infra_id.as_deref() == Some(c.record.id.as_str()) {
        return;
    }
    if let Err(e) = stop_when_done(ctx, &service) {
        tracing::debug!(service = %service, error = %e, "stop the service container");
    }
}

/// The pods `service` serves.
fn pods_of(ctx: &Ctx, service: &str) -> Result<Vec<PodRecord>, EngineError> {
    Ok(store::all(ctx)?
        .into_iter()
        .filter(|p| p.service_container.as_deref() == Some(service))
        .collect())
}

/// The members (not the infra containers) of `pods`, in pod order, oldest first.
fn members<'a>(pods: &'a [PodRecord], all: &'a [Container]) -> impl Iterator<Item = &'a Container> {
    pods.iter().flat_map(move |p| {
        let mut m: Vec<&Container> = all
            .iter()
            .filter(|c| c.spec.pod.as_deref() == Some(p.id.as_str()))
            .filter(|c| p.infra_id.as_deref() != Some(c.record.id.as_str()))
            .collect();
        m.sort_by_key(|c| c.record.created);
        m
    })
}

/// Whether member `c` still counts for its service container: it runs, or it has exited and its
/// monitor is about to start it again (its restart policy, e.g. a restartPolicy Always member).
fn still_running(c: &Container) -> bool {
    matches!(c.state.status, Status::Running | Status::Paused) || container::restart_pending(c)
}

fn stop_when_done(ctx: &Ctx, service: &str) -> Result<(), EngineError> {
    let pods = pods_of(ctx, service)?;
    let all = container::list(ctx)?;
    let running = members(&pods, &all).any(still_running);
    let svc = all.iter().find(|c| c.record.id == service);
    if !running && svc.is_some_and(|s| s.state.status == Status::Running) {
        container::stop(ctx, service, None)?;
    }
    Ok(())
}

/// What the service container's monitor ends with: `--service-exit-code-propagation` applied to
/// the exits of its pods' containers.
pub fn exit_code(ctx: &Ctx, service: &Container) -> i32 {
    let Some(propagation) = service.spec.service else {
        return 0;
    };
    if propagation == Propagation::None {
        return 0;
    }
    let (Ok(pods), Ok(all)) = (pods_of(ctx, &service.record.id), container::list(ctx)) else {
        return 0;
    };
    let codes: Vec<i32> = members(&pods, &all)
        .map(|c| match c.state.status {
            Status::Exited | Status::Stopped => c.state.exit_code,
            _ => 0,
        })
        .collect();
    propagation.exit_code(&codes)
}

/// After `pod` was removed: its service container goes too once no pod names it (podman's rule).
pub(super) fn pod_removed(ctx: &Ctx, pod: &PodRecord) -> Result<(), EngineError> {
    let Some(service) = &pod.service_container else {
        return Ok(());
    };
    if !pods_of(ctx, service)?.is_empty() {
        return Ok(());
    }
    let report = container::remove(ctx, std::slice::from_ref(service), false, true, true)?;
    report.errors.into_iter().next().map_or(Ok(()), Err)
}

/// A service container no pod names (`kube play` failed before any pod was made) is removed.
pub fn discard_if_unused(ctx: &Ctx, service: &str) {
    if pods_of(ctx, service).is_ok_and(|p| p.is_empty()) {
        let _ = container::remove(ctx, &[service.to_string()], false, true, true);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn propagation_parses_podman_names_and_refuses_others() {
        for n in Propagation::NAMES {
            assert_eq!(Propagation::parse(n).unwrap().as_str(), n);
        }
        assert_eq!(Propagation::parse("").unwrap(), Propagation::None);
        let e = Propagation::parse("some").unwrap_err();
        assert!(
            e.contains("`some`") && e.contains("none, all or any"),
            "{e}"
        );
    }

    #[test]
    fn exit_codes_follow_the_policy() {
        let cases: [(Propagation, &[i32], i32); 9] = [
            (Propagation::None, &[3, 4], 0),
            (Propagation::Any, &[0, 3, 4], 3),
            (Propagation::Any, &[0, 0], 0),
            (Propagation::Any, &[], 0),
            (Propagation::All, &[3, 4], 3),
            (Propagation::All, &[0, 4], 0),
            (Propagation::All, &[137], 137),
            (Propagation::All, &[], 0),
            (Propagation::None, &[], 0),
        ];
        for (p, codes, want) in cases {
            assert_eq!(p.exit_code(codes), want, "{p:?} {codes:?}");
        }
    }
}
