//! `kube down` (and `kube play --down`): remove the pods a file describes (with their containers and
//! files), the roost secrets made from its Secrets, and with `force` the volumes of its
//! PersistentVolumeClaims (and of the claims its pods mount), as podman does.
use super::Manifest;
use crate::engine::{Ctx, EngineError};

#[derive(Debug, Clone, Default)]
pub struct DownReport {
    /// Pods that were running when they were removed.
    pub stopped: Vec<String>,
    pub pods: Vec<String>,
    pub secrets: Vec<String>,
    pub volumes: Vec<String>,
}

/// `kube down FILE`.
pub fn down(
    ctx: &Ctx,
    source_name: &str,
    text: &str,
    force: bool,
) -> Result<DownReport, EngineError> {
    let m = super::parse(source_name, text)?;
    remove(ctx, &m, force)
}

/// Whether `pod` is one of `base`'s replicas (`base-pod`, `base-pod-N`).
fn is_replica(pod: &str, deployment: &str) -> bool {
    let Some(rest) = pod.strip_prefix(deployment) else {
        return false;
    };
    match rest.strip_prefix("-pod") {
        Some("") => true,
        Some(n) => n
            .strip_prefix('-')
            .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit())),
        None => false,
    }
}

pub(super) fn remove(ctx: &Ctx, m: &Manifest, force: bool) -> Result<DownReport, EngineError> {
    let mut report = DownReport::default();
    let pod_names: Vec<String> = m
        .pods
        .iter()
        .filter_map(|p| p.metadata.name.clone())
        .collect();
    let deployments: Vec<String> = m
        .deployments
        .iter()
        .filter_map(|d| d.metadata.name.clone())
        .collect();
    for pod in crate::engine::pod::list(ctx)? {
        let name = &pod.record.name;
        let ours = pod_names.contains(name) || deployments.iter().any(|d| is_replica(name, d));
        if !ours {
            continue;
        }
        let running = pod
            .containers
            .iter()
            .any(|c| c.state.status == crate::engine::container::Status::Running);
        crate::engine::pod::remove(ctx, &pod, true, Some(0))?;
        if running {
            report.stopped.push(pod.record.id.clone());
        }
        report.pods.push(pod.record.id);
    }
    for s in &m.secrets {
        let Some(name) = s.metadata.name.as_deref() else {
            continue;
        };
        if let Ok(r) = crate::engine::secret::find(ctx, name) {
            let rm = crate::engine::secret::remove(ctx, std::slice::from_ref(&r.id), false, true)?;
            report.secrets.extend(rm.removed);
        }
    }
    if force {
        // The claims of the file, and those its pods mount (as in YAML from `kube generate`).
        let mut names: Vec<String> = m
            .claims
            .iter()
            .filter_map(|c| c.metadata.name.clone())
            .collect();
        for super::play::PodDef { spec, .. } in super::play::pods_of(m) {
            for v in spec
                .volumes
                .iter()
                .filter_map(|v| v.persistent_volume_claim.as_ref())
            {
                if !names.contains(&v.claim_name) {
                    names.push(v.claim_name.clone());
                }
            }
        }
        let existing: Vec<String> = names
            .into_iter()
            .filter(|n| crate::engine::volume::exists(ctx, n).unwrap_or(false))
            .collect();
        if !existing.is_empty() {
            let rm = crate::engine::volume::remove(
                ctx,
                &existing,
                false,
                true,
                None,
                &crate::engine::container::ContainerUsers,
            )?;
            if let Some(e) = rm.errors.into_iter().next() {
                return Err(e);
            }
            report.volumes.extend(rm.removed);
        }
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replicas_are_named_after_their_deployment() {
        assert!(is_replica("web-pod", "web"));
        assert!(is_replica("web-pod-3", "web"));
        assert!(!is_replica("web-pod-x", "web"));
        assert!(!is_replica("webx-pod", "web"));
        assert!(!is_replica("web", "web"));
    }
}
