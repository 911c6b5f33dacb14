//! `pod clone`: a new pod with the settings of an existing one (its infra container's network,
//! shared namespaces, user namespace, labels), changed by the caller's options, and a copy of each
//! of its containers; the original removed with `--destroy`, the copy started with `--start`.
use std::collections::BTreeMap;

use super::{CreatePodOptions, Pod, PodRecord};
use crate::engine::container::{self, network_settings::NetworkRequest};
use crate::engine::image::PullProgress;
use crate::engine::{Ctx, EngineError};

/// `pod clone`'s options: what differs from the original.
#[derive(Debug, Clone, Default)]
pub struct ClonePodOptions {
    /// The new pod's name (default: the original's with `-clone`).
    pub name: Option<String>,
    pub hostname: Option<String>,
    /// Added to (or replacing) the original's labels.
    pub labels: BTreeMap<String, String>,
    pub infra_name: Option<String>,
    pub exit_policy: Option<String>,
    /// Remove the original pod (and its containers) once copied.
    pub destroy: bool,
    /// Start the new pod.
    pub start: bool,
    /// The caller's user namespace request (the mode comes from the original).
    pub userns: container::idmap::UsernsRequest,
}

/// The pod options that make a pod like `pod`, with `o`'s changes.
fn create_options(pod: &Pod, o: &ClonePodOptions) -> CreatePodOptions {
    let r = &pod.record;
    let infra = pod.infra();
    let mut labels = r.labels.clone();
    labels.extend(o.labels.clone());
    let custom_image = infra.filter(|c| c.record.image != super::infra::INFRA_IMAGE);
    let net = infra
        .filter(|_| r.share.iter().any(|s| s == "net"))
        .map(|c| {
            let n = &c.spec.net;
            NetworkRequest {
                mode: c.spec.network.clone(),
                publish: n.ports.clone(),
                dns: n.dns.clone(),
                dns_search: n.dns_search.clone(),
                dns_options: n.dns_options.clone(),
                add_hosts: n
                    .add_hosts
                    .iter()
                    .map(|(h, ip)| format!("{h}:{ip}"))
                    .collect(),
                no_hosts: n.no_hosts,
                mac_address: n.mac_address.clone(),
                ..NetworkRequest::default()
            }
        })
        .unwrap_or_default();
    CreatePodOptions {
        name: Some(
            o.name
                .clone()
                .unwrap_or_else(|| format!("{}-clone", r.name)),
        ),
        labels,
        // The original's host name carries over unless it was just its name.
        hostname: o
            .hostname
            .clone()
            .or_else(|| (r.hostname != r.name).then(|| r.hostname.clone())),
        share: Some(if r.share.is_empty() {
            "none".into()
        } else {
            r.share.join(",")
        }),
        share_parent: r.share_parent,
        infra: r.infra_id.is_some(),
        infra_image: custom_image.map(|c| c.record.image.clone()),
        infra_command: custom_image
            .map(|c| c.spec.entrypoint.clone())
            .filter(|e| !e.is_empty()),
        infra_name: o.infra_name.clone(),
        networks: infra.map(|c| c.spec.networks.clone()).unwrap_or_default(),
        net,
        userns: container::idmap::UsernsRequest {
            mode: r.userns.clone(),
            uidmap: r.uidmap.clone(),
            gidmap: r.gidmap.clone(),
            ..o.userns.clone()
        },
        volumes: r.volumes.clone(),
        exit_policy: Some(
            o.exit_policy
                .clone()
                .unwrap_or_else(|| r.exit_policy.clone()),
        ),
        create_command: r.create_command.clone(),
        tls_verify: None,
        replace: false,
        infra_pid_file: None,
        service_container: None,
        resources: r.resources.clone(),
        cgroup_parent: r.cgroup_parent.clone(),
        shm_size: r.shm_size,
    }
}

/// `pod clone`: the new pod's record.
pub fn clone(
    ctx: &Ctx,
    pod: &Pod,
    o: &ClonePodOptions,
    progress: &dyn PullProgress,
) -> Result<PodRecord, EngineError> {
    let record = super::create(ctx, &create_options(pod, o), progress)?;
    let made = copy_members(ctx, pod, &record);
    if let Err(e) = made {
        if let Ok(p) = super::find(ctx, &record.id) {
            let _ = super::remove(ctx, &p, true, None);
        }
        return Err(e);
    }
    if o.destroy {
        super::remove(ctx, &super::find(ctx, &pod.record.id)?, true, None)?;
    }
    if o.start {
        super::start(ctx, &super::find(ctx, &record.id)?)?;
    }
    Ok(record)
}

/// A copy of each of `pod`'s containers in the new pod `to`, joined to its infra container.
fn copy_members(ctx: &Ctx, pod: &Pod, to: &PodRecord) -> Result<(), EngineError> {
    let old_infra = pod.record.infra_id.clone().unwrap_or_default();
    let new_infra = to.infra_id.clone().unwrap_or_default();
    for c in pod.members() {
        container::clone_container(ctx, c, &format!("{}-clone", c.record.name), |s| {
            s.pod = Some(to.id.clone());
            for r in &mut s.requires {
                if *r == old_infra {
                    r.clone_from(&new_infra);
                }
            }
            if s.network == format!("container:{old_infra}") {
                s.network = format!("container:{new_infra}");
            }
            if to.shares("uts") {
                s.hostname = to.hostname.clone();
            }
        })?;
    }
    Ok(())
}
