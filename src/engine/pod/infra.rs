//! A pod's infra container: it holds the pod's namespaces and published ports, running roost's
//! built-in pause process (`share/pause/pause.S`: a static, libc-free executable of a few KB that
//! waits in `pause()` and exits on SIGTERM, SIGINT or SIGHUP). It comes from a local image made on
//! first use, as podman builds its `podman-pause` image from catatonit: no registry is needed.
use super::{CreatePodOptions, PodRecord};
use crate::engine::container::{self, Container, CreateOptions};
use crate::engine::image::{ImportOptions, PullPolicy, PullProgress};
use crate::engine::{Ctx, EngineError};
use crate::store::Store;

/// The local image the infra containers run (podman's is `localhost/podman-pause:VERSION-…`).
pub const INFRA_IMAGE: &str = concat!("localhost/podman-pause:roost-", env!("CARGO_PKG_VERSION"));

/// Where the pause process is in the infra image (podman's `/catatonit -P`).
const PAUSE_PATH: &str = "catatonit";

/// The pause executable for this machine (rebuilt by `share/pause/build.sh`).
#[cfg(target_arch = "x86_64")]
pub fn infra_binary() -> Option<&'static [u8]> {
    Some(include_bytes!("../../../share/pause/pause-x86_64"))
}

#[cfg(not(target_arch = "x86_64"))]
pub fn infra_binary() -> Option<&'static [u8]> {
    None
}

/// The infra image's single layer: the pause executable and the directories a root needs.
fn layer() -> Result<Vec<u8>, EngineError> {
    let binary = infra_binary()
        .ok_or_else(|| EngineError::from(super::PodError::NoPauseBinary(std::env::consts::ARCH)))?;
    let mut tar = tar::Builder::new(Vec::new());
    let dirs = [
        ("dev", 0o755),
        ("proc", 0o755),
        ("sys", 0o755),
        ("etc", 0o755),
        ("run", 0o755),
        ("tmp", 0o1777),
    ];
    let mut append = |path: &str, mode: u32, kind: tar::EntryType, data: &[u8]| {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(kind);
        h.set_mode(mode);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(0);
        h.set_size(data.len() as u64);
        tar.append_data(&mut h, path, data)
    };
    let built = dirs
        .iter()
        .try_for_each(|(d, mode)| append(d, *mode, tar::EntryType::Directory, &[]))
        .and_then(|()| append(PAUSE_PATH, 0o755, tar::EntryType::Regular, binary))
        // So that `top` and `ps` inside name the infra process's user.
        .and_then(|()| {
            append(
                "etc/passwd",
                0o644,
                tar::EntryType::Regular,
                b"root:x:0:0:root:/:/catatonit\n",
            )
        })
        .and_then(|()| append("etc/group", 0o644, tar::EntryType::Regular, b"root:x:0:\n"))
        .and_then(|()| tar.into_inner());
    built.map_err(|e| EngineError::io("build the infra image layer in", "memory", e))
}

/// The infra image, made from the built-in layer the first time it is needed.
pub(super) fn ensure_image(ctx: &Ctx, store: &Store) -> Result<(), EngineError> {
    if crate::engine::image::lookup(store, INFRA_IMAGE).is_ok() {
        return Ok(());
    }
    let layer = layer()?;
    crate::engine::image::import(
        ctx,
        std::io::Cursor::new(layer),
        &ImportOptions {
            reference: Some(INFRA_IMAGE.into()),
            changes: vec![format!(r#"ENTRYPOINT ["/{PAUSE_PATH}", "-P"]"#)],
            message: Some("roost's pod infra image (the built-in pause process)".into()),
            source_name: "roost's built-in pause process".into(),
        },
    )?;
    Ok(())
}

/// Create the infra container of the pod `pod` (not started).
pub(super) fn create(
    ctx: &Ctx,
    store: &Store,
    pod: &PodRecord,
    opts: &CreatePodOptions,
    progress: &dyn PullProgress,
) -> Result<Container, EngineError> {
    let (image, pull) = match &opts.infra_image {
        Some(i) => (i.clone(), PullPolicy::Missing),
        None => {
            ensure_image(ctx, store)?;
            (INFRA_IMAGE.to_string(), PullPolicy::Never)
        }
    };
    let shares_net = pod.share.iter().any(|s| s == "net");
    let mut net = if shares_net {
        opts.net.clone()
    } else {
        container::network_settings::NetworkRequest::default()
    };
    net.ports_must_be_free = false;
    let c = CreateOptions {
        image,
        name: Some(
            opts.infra_name
                .clone()
                .unwrap_or_else(|| format!("{}-infra", crate::store::short_id(&pod.id))),
        ),
        entrypoint: opts
            .infra_command
            .as_ref()
            .map(|cmd| serde_json::to_string(cmd).expect("strings serialize")),
        hostname: pod
            .share
            .iter()
            .any(|s| s == "uts")
            .then(|| pod.hostname.clone()),
        net,
        networks: if shares_net {
            opts.networks.clone()
        } else {
            Default::default()
        },
        pull: Some(pull),
        tls_verify: opts.tls_verify,
        stop_timeout: Some(10),
        pod: Some(pod.id.clone()),
        pod_infra: true,
        // The pod's containers, or its service container, speak to a systemd unit: never the infra.
        sdnotify: container::sdnotify::SdNotifyMode::Ignore,
        userns: container::idmap::UsernsRequest {
            mode: pod.userns.clone(),
            ..opts.userns.clone()
        },
        // In the pod's cgroup, as its other containers.
        cgroup: container::resources::CgroupSpec {
            pod: super::member_cgroup(pod, &Default::default()),
            ..Default::default()
        },
        // The pod's sized /dev/shm is the infra's own, which the other containers clone.
        namespaces: container::Namespaces {
            shm_size: pod.shm_size,
            ..Default::default()
        },
        ..CreateOptions::default()
    };
    container::create(ctx, &c, progress)
}
