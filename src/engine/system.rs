//! `info`, `version` and `system df`: facts about the host, the store and disk usage.
use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use serde::Serialize;

use super::{Ctx, EngineError};
use crate::oci::Digest;
use crate::userns::IdRange;

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Info {
    pub host: HostInfo,
    pub store: StoreInfo,
    pub registries: BTreeMap<String, Vec<String>>,
    pub version: VersionInfo,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct IdMapEntry {
    #[serde(rename = "container_id")]
    pub container_id: u32,
    #[serde(rename = "host_id")]
    pub host_id: u32,
    pub size: u32,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct IdMappings {
    pub uidmap: Vec<IdMapEntry>,
    pub gidmap: Vec<IdMapEntry>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HelperInfo {
    pub name: String,
    pub path: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HostInfo {
    pub arch: String,
    /// The buildah release whose behaviour `build` follows ([`BUILDAH_COMPAT_VERSION`]).
    pub buildah_version: String,
    pub os: String,
    pub kernel: String,
    pub hostname: String,
    pub cgroup_version: String,
    pub cgroup_note: String,
    pub id_mappings: IdMappings,
    pub security: BTreeMap<String, serde_json::Value>,
    pub helpers: Vec<HelperInfo>,
    pub user_namespace_note: String,
    /// podman's `networkBackend`: bridge networks are set up by netavark.
    pub network_backend: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StoreInfo {
    pub graph_root: String,
    pub run_root: String,
    pub graph_driver_name: String,
    /// Why this driver, and whether this kernel can do it.
    pub graph_driver_note: String,
    pub image_store: BTreeMap<String, usize>,
    pub config_files: Vec<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct VersionInfo {
    /// The podman version roost answers for ([`PODMAN_COMPAT_VERSION`]): clients gate features on it.
    pub version: String,
    #[serde(rename = "APIVersion")]
    pub api_version: String,
    /// roost's own version.
    pub roost_version: String,
    /// The toolchain roost was built with (`rustc X.Y.Z`), in podman's `GoVersion` field.
    pub go_version: String,
    /// When the binary was built (its modification time), Unix seconds and podman's text.
    pub built: i64,
    pub built_time: String,
    #[serde(rename = "OsArch")]
    pub os_arch: String,
    pub os: String,
}

/// The podman release roost is compatible with (see README, "Compatibility level"): Debian 12's
/// podman 4.3's behaviour, which roost's commands follow, plus what podman-compose gates at 4.6:
/// `wait --condition=healthy` for `service_healthy` and `up --wait`. It is below 5.6, so
/// podman-compose does not use `pull --policy` before tearing containers down.
pub const PODMAN_COMPAT_VERSION: &str = "4.6.2";

/// The buildah release podman [`PODMAN_COMPAT_VERSION`] builds with, which `build` follows
/// (`info`'s BuildahVersion, `buildx version`).
pub const BUILDAH_COMPAT_VERSION: &str = "1.31.3";

pub fn version() -> VersionInfo {
    use std::os::unix::fs::MetadataExt;
    let built = std::fs::metadata("/proc/self/exe").map_or(0, |m| m.mtime());
    VersionInfo {
        version: PODMAN_COMPAT_VERSION.to_string(),
        api_version: PODMAN_COMPAT_VERSION.to_string(),
        roost_version: env!("CARGO_PKG_VERSION").to_string(),
        go_version: env!("ROOST_RUSTC_VERSION").to_string(),
        built,
        built_time: jiff::Timestamp::from_second(built)
            .map(|t| t.strftime("%a %b %e %H:%M:%S %Y").to_string())
            .unwrap_or_default(),
        os_arch: format!("linux/{}", crate::oci::Platform::host().architecture),
        os: "linux".to_string(),
    }
}

fn map(ranges: Vec<IdRange>) -> Vec<IdMapEntry> {
    ranges
        .into_iter()
        .map(|r| IdMapEntry {
            container_id: r.container,
            host_id: r.host,
            size: r.size,
        })
        .collect()
}

/// What the cgroup setup allows, in words (resource limits need a delegated cgroup v2 subtree).
fn cgroups() -> (String, String) {
    let unified = Path::new("/sys/fs/cgroup/cgroup.controllers");
    if unified.is_file() {
        let controllers = std::fs::read_to_string(unified).unwrap_or_default();
        return (
            "v2".into(),
            format!(
                "unified hierarchy; controllers at the root: `{}`",
                controllers.trim()
            ),
        );
    }
    if Path::new("/sys/fs/cgroup/unified").is_dir() {
        return (
            "v1".into(),
            "hybrid v1/v2 hierarchy with no delegated cgroup v2 subtree: resource limits cannot be applied rootless"
                .into(),
        );
    }
    (
        "v1".into(),
        "cgroup v1: resource limits cannot be applied rootless".into(),
    )
}

pub fn info(ctx: &Ctx) -> Result<Info, EngineError> {
    let store = store_info(ctx)?;
    let mut registries = BTreeMap::new();
    registries.insert(
        "search".to_string(),
        ctx.registries.get()?.unqualified_search_registries.clone(),
    );
    Ok(Info {
        host: host_info(ctx),
        store,
        registries,
        version: version(),
    })
}

/// `info`'s host part: kernel, cgroups, id mappings and helpers.
fn host_info(ctx: &Ctx) -> HostInfo {
    let uname = nix::sys::utsname::uname().ok();
    let (cgroup_version, cgroup_note) = cgroups();
    let helpers = [
        "newuidmap",
        "newgidmap",
        "fuse-overlayfs",
        "slirp4netns",
        "pasta",
        "netavark",
        "aardvark-dns",
    ]
    .iter()
    .map(|n| HelperInfo {
        name: n.to_string(),
        path: crate::helpers::find(n)
            .map(|p| p.display().to_string())
            .unwrap_or_default(),
    })
    .collect();
    let rootless = !matches!(ctx.mapping, crate::userns::Mapping::Root);
    let note = match &ctx.mapping {
        crate::userns::Mapping::Root => "running as root: no user namespace".to_string(),
        crate::userns::Mapping::Full { .. } => {
            "subordinate ids from /etc/subuid and /etc/subgid".to_string()
        }
        crate::userns::Mapping::Single { uid, .. } => format!(
            "no subordinate ids for uid {uid}: only your own id is mapped and file ownership is kept in xattrs"
        ),
    };
    let mut security = BTreeMap::new();
    security.insert("rootless".to_string(), serde_json::Value::Bool(rootless));
    HostInfo {
        arch: crate::oci::Platform::host().architecture,
        buildah_version: BUILDAH_COMPAT_VERSION.to_string(),
        os: "linux".into(),
        kernel: uname
            .as_ref()
            .map(|u| u.release().to_string_lossy().into_owned())
            .unwrap_or_default(),
        hostname: uname
            .as_ref()
            .map(|u| u.nodename().to_string_lossy().into_owned())
            .unwrap_or_default(),
        cgroup_version,
        cgroup_note,
        id_mappings: IdMappings {
            uidmap: map(ctx.mapping.uid_ranges()),
            gidmap: map(ctx.mapping.gid_ranges()),
        },
        security,
        helpers,
        user_namespace_note: note,
        network_backend: "netavark".into(),
    }
}

/// `info`'s store part: where it is, its driver and how many images it has.
fn store_info(ctx: &Ctx) -> Result<StoreInfo, EngineError> {
    let images = match ctx.store_if_exists()? {
        Some(s) => s.images()?.len(),
        None => 0,
    };
    let driver = super::storage::select(ctx);
    let mut image_store = BTreeMap::new();
    image_store.insert("number".to_string(), images);
    Ok(StoreInfo {
        graph_root: ctx.paths.data.display().to_string(),
        run_root: ctx.paths.runtime.display().to_string(),
        graph_driver_name: driver.driver.to_string(),
        graph_driver_note: driver.why,
        image_store,
        config_files: ctx
            .registries
            .files()?
            .iter()
            .map(|p| p.display().to_string())
            .collect(),
    })
}

/// One image in `system df -v`.
#[derive(Debug, Clone)]
pub struct ImageUsage {
    pub id: Digest,
    pub names: Vec<String>,
    pub created: Option<jiff::Timestamp>,
    pub size: u64,
    /// Bytes of layers this image shares with other images.
    pub shared: u64,
    pub unique: u64,
    pub containers: u32,
}

/// One container in `system df -v`.
#[derive(Debug, Clone)]
pub struct ContainerUsage {
    pub id: String,
    pub image_id: String,
    pub command: Vec<String>,
    /// How many named or anonymous volumes it mounts.
    pub local_volumes: usize,
    /// What it wrote in its writable layer.
    pub rw_size: u64,
    pub created: jiff::Timestamp,
    pub status: &'static str,
    pub name: String,
}

/// One volume in `system df -v`.
#[derive(Debug, Clone)]
pub struct VolumeUsage {
    pub name: String,
    /// How many containers use it.
    pub links: usize,
    pub size: u64,
}

#[derive(Debug, Clone, Default)]
pub struct DiskUsage {
    pub images: Vec<ImageUsage>,
    /// Unique bytes of all unpacked layers.
    pub images_size: u64,
    pub containers: Vec<ContainerUsage>,
    pub volumes: Vec<VolumeUsage>,
}

pub fn disk_usage(ctx: &Ctx) -> Result<DiskUsage, EngineError> {
    let Some(store) = ctx.store_if_exists()? else {
        return Ok(DiskUsage::default());
    };
    let containers: Vec<super::container::Container> = super::container::list(ctx)?
        .into_iter()
        .filter(|c| !c.is_external())
        .collect();
    let (images, images_size) = image_usage(&store, &containers)?;
    let volumes = super::volume::list(ctx, &[], &super::container::ContainerUsers)?
        .into_iter()
        .map(|v| VolumeUsage {
            links: v.users.len(),
            size: super::container::tree_size(&v.record.mountpoint),
            name: v.record.name,
        })
        .collect();
    let containers = containers
        .iter()
        .map(|c| ContainerUsage {
            id: c.record.id.clone(),
            image_id: c.record.image_id.hex().to_string(),
            command: c
                .spec
                .entrypoint
                .iter()
                .chain(&c.spec.command)
                .cloned()
                .collect(),
            local_volumes: c
                .spec
                .mounts
                .iter()
                .filter(|m| m.kind == super::container::MountKind::Volume)
                .count(),
            rw_size: super::container::size(&store, c).map_or(0, |s| s.rw_size),
            created: c.record.created,
            status: c.state.status.as_str(),
            name: c.record.name.clone(),
        })
        .collect();
    Ok(DiskUsage {
        images,
        images_size,
        containers,
        volumes,
    })
}

/// Each image's shared and unique bytes (a layer other images use too is shared) and how many
/// containers use it; and the bytes of all layers.
fn image_usage(
    store: &crate::store::Store,
    containers: &[super::container::Container],
) -> Result<(Vec<ImageUsage>, u64), EngineError> {
    let images = store.images()?;
    let layers: HashMap<Digest, u64> = store
        .layers()?
        .into_iter()
        .map(|l| (l.chain_id, l.size))
        .collect();
    let mut users: HashMap<&Digest, u32> = HashMap::new();
    for img in &images {
        for l in &img.layers {
            *users.entry(l).or_default() += 1;
        }
    }
    let usage: Vec<ImageUsage> = images
        .iter()
        .map(|img| {
            // The manifest and config are the image's own.
            let (mut shared, mut unique) = (0, img.metadata_size);
            for l in &img.layers {
                let size = layers.get(l).copied().unwrap_or(0);
                if users.get(l).copied().unwrap_or(0) > 1 {
                    shared += size
                } else {
                    unique += size
                }
            }
            let used_by = containers
                .iter()
                .filter(|c| c.record.image_id == img.id)
                .count();
            ImageUsage {
                id: img.id.clone(),
                names: img.names.clone(),
                created: img.created,
                size: shared + unique,
                shared,
                unique,
                containers: used_by as u32,
            }
        })
        .collect();
    let metadata: u64 = images.iter().map(|i| i.metadata_size).sum();
    Ok((usage, layers.values().sum::<u64>() + metadata))
}
