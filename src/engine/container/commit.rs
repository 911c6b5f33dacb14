//! `commit`: a new image from a container: the image's layers plus one layer made from the container's
//! upper dir, and a config that carries the container's process settings.
//!
//! The layer tar comes from [`write_layer`] (which turns overlay whiteouts back into `.wh.` entries), minus
//! the empty init-file placeholders the runtime created; it is gzipped and handed to [`ingest`], the same
//! path `import` and `load` take, so the blob is kept, unpacked under its chain id and verified in one go.
use std::collections::BTreeSet;
use std::io::{self, BufReader, Seek, Write};
use std::path::Path;

use flate2::write::GzEncoder;
use jiff::Timestamp;

use super::diff::{ChangeKind, INIT_FILES, Lower, is_placeholder};
use super::{Container, find};
use crate::archive::write_layer;
use crate::engine::image::{apply_changes, normalize_name, record_image};
use crate::engine::layer::{Ingested, LayerSlot, ingest};
use crate::engine::storage::{Driver, vfs, vfs::Staged};
use crate::engine::{Ctx, EngineError};
use crate::oci::{Descriptor, Digest, History, ImageConfig, Manifest, media};
use crate::store::Store;

/// Manifest and config flavour of the new image.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum CommitFormat {
    #[default]
    Oci,
    Docker,
}

#[derive(Debug, Clone, Default)]
pub struct CommitOptions {
    pub container: String,
    pub image: Option<String>,
    pub changes: Vec<String>,
    pub message: Option<String>,
    pub author: Option<String>,
    pub format: CommitFormat,
}

/// `commit`: returns the new image's id.
pub fn commit(ctx: &Ctx, opts: &CommitOptions) -> Result<Digest, EngineError> {
    let names = opts
        .image
        .iter()
        .map(|r| normalize_name(r))
        .collect::<Result<Vec<_>, _>>()?;
    let mut store = ctx.store()?;
    let c = find(&store, &opts.container)?;
    if let Some(dir) = c.spec.root.dir() {
        return Err(super::OpError::CommitRootfs {
            container: c.record.name.clone(),
            dir: dir.to_path_buf(),
        }
        .into());
    }
    let image = store
        .image(&c.record.image_id)?
        .ok_or_else(|| EngineError::ImageNotKnown(c.record.image.clone()))?;
    let base = crate::engine::image::info(&store, image)?.config;
    let mut layers = image_layers(&store, &c)?;
    store.clean_staging();
    let tar = container_layer_tar(&store, &c)?;
    let slot = LayerSlot {
        image: c.record.name.clone(),
        diff_id: None,
        chain_id: None,
        parent: c.spec.layers.last().cloned(),
        blob_digest: None,
    };
    layers.push(ingest(
        &mut store,
        BufReader::new(tar),
        &slot,
        &ctx.apply_options(),
    )?);
    let config = new_config(&base, &c, opts, &layers)?;
    let bytes = serde_json::to_vec(&config).expect("config serializes");
    let manifest = match opts.format {
        CommitFormat::Oci => None,
        CommitFormat::Docker => Some(docker_manifest(&bytes, &layers)),
    };
    let manifest_ref = manifest
        .as_ref()
        .map(|(d, b)| (d, b.as_slice(), media::DOCKER_MANIFEST));
    let id = record_image(&mut store, &bytes, &config, &layers, names, manifest_ref)?;
    crate::engine::events::record(ctx, crate::engine::events::Event::container("commit", &c));
    Ok(id)
}

/// The image's layers as they are stored.
fn image_layers(store: &Store, c: &Container) -> Result<Vec<Ingested>, EngineError> {
    c.spec
        .layers
        .iter()
        .map(|chain| {
            let rec = store.layer(chain)?.ok_or_else(|| {
                EngineError::ImageNotKnown(format!("{} (layer `{chain}`)", c.record.image))
            })?;
            Ok(Ingested::from_record(&rec))
        })
        .collect()
}

/// The container's changes as a gzipped layer tar (rewound): its upper dir, or for vfs a stage of
/// the changes hard-linked from its copy.
pub(crate) fn container_layer_tar(
    store: &Store,
    c: &Container,
) -> Result<std::fs::File, EngineError> {
    match c.spec.storage_driver {
        Driver::Vfs => {
            // The copy has no upper dir: stage one from the changes, hard-linked from the copy.
            let stage = store.staging_path("vfs-commit");
            let staged = stage_vfs_changes(store, c, &stage);
            let tar = staged.and_then(|()| layer_tar(store, c, &stage));
            let _ = crate::store::remove_tree(&stage);
            tar
        }
        Driver::Overlay | Driver::FuseOverlayfs => {
            let upper = store.container_dir(&c.record.id).join("diff");
            layer_tar(store, c, &upper)
        }
    }
}

/// A vfs container's changes as an upper-dir-like tree at `stage` (whiteout files for deletions).
fn stage_vfs_changes(store: &Store, c: &Container, stage: &Path) -> Result<(), EngineError> {
    let changes: Vec<(String, Staged)> = super::diff::changes(store, c)?
        .into_iter()
        .map(|ch| {
            let kind = match ch.kind {
                ChangeKind::Deleted => Staged::Deleted,
                ChangeKind::Added | ChangeKind::Changed => Staged::Entry,
            };
            (ch.path, kind)
        })
        .collect();
    std::fs::create_dir(stage).map_err(|e| EngineError::io("create", stage, e))?;
    let rootfs = super::rootfs::vfs_tree(store, c);
    Ok(vfs::stage_changes(&rootfs, stage, &changes)?)
}

/// The upper dir (or a vfs stage) as a gzipped layer tar in an anonymous temporary file, rewound.
fn layer_tar(store: &Store, c: &Container, upper: &Path) -> Result<std::fs::File, EngineError> {
    let tmp_dir = store.root().join("tmp");
    let tmp = |e| EngineError::io("create a temporary file in", &tmp_dir, e);
    let mut plain = tempfile::tempfile_in(&tmp_dir).map_err(tmp)?;
    write_layer(upper, &mut plain)?;
    plain
        .rewind()
        .map_err(|e| EngineError::io("read", &tmp_dir, e))?;
    let skip = placeholders(store, c);
    let gz = tempfile::tempfile_in(&tmp_dir).map_err(tmp)?;
    let mut enc = GzEncoder::new(io::BufWriter::new(gz), flate2::Compression::fast());
    let ids = super::rootfs::container_ids(c);
    filter_tar(BufReader::new(plain), &mut enc, &skip, ids.as_deref())
        .map_err(|e| EngineError::io("write the layer of", upper, e))?;
    let mut gz = enc
        .finish()
        .and_then(|w| w.into_inner().map_err(io::IntoInnerError::into_error))
        .map_err(|e| EngineError::io("write the layer of", upper, e))?;
    gz.rewind()
        .map_err(|e| EngineError::io("read", &tmp_dir, e))?;
    Ok(gz)
}

/// Tar names of the init-file placeholders in the upper dir.
fn placeholders(store: &Store, c: &Container) -> BTreeSet<Vec<u8>> {
    let upper = store.container_dir(&c.record.id).join("diff");
    let lower = Lower::of(store, c);
    INIT_FILES
        .iter()
        .filter(|f| {
            let rel: Vec<&[u8]> = f.split('/').map(str::as_bytes).collect();
            rustix::fs::lstat(upper.join(f)).is_ok_and(|st| is_placeholder(&lower, &rel, &st))
        })
        .map(|f| f.as_bytes().to_vec())
        .collect()
}

/// Copy a tar entry by entry, leaving out the regular files named in `skip` (with any extension headers
/// that precede them). Entries are copied raw: headers, PAX records and data stay byte-for-byte.
fn filter_tar(
    input: impl io::Read,
    out: &mut impl Write,
    skip: &BTreeSet<Vec<u8>>,
    ids: Option<&dyn Fn(u32, u32) -> (u32, u32)>,
) -> io::Result<()> {
    let mut archive = tar::Archive::new(input);
    let mut builder = tar::Builder::new(out);
    let mut pending: Vec<(tar::Header, Vec<u8>)> = Vec::new();
    for entry in archive.entries()?.raw(true) {
        let mut entry = entry?;
        let mut header = entry.header().clone();
        let ty = header.entry_type();
        if ty.is_pax_local_extensions() || ty.is_gnu_longname() || ty.is_gnu_longlink() {
            let mut data = Vec::new();
            io::Read::read_to_end(&mut entry, &mut data)?;
            pending.push((header, data));
            continue;
        }
        let long_name = pending
            .iter()
            .any(|(h, _)| h.entry_type().is_gnu_longname());
        if !long_name && ty.is_file() && skip.contains(header.path_bytes().as_ref()) {
            tracing::debug!(path = %String::from_utf8_lossy(&header.path_bytes()), "leaving out init-file placeholder");
            pending.clear();
            continue;
        }
        for (h, data) in pending.drain(..) {
            builder.append(&h, data.as_slice())?;
        }
        if let Some(f) = ids {
            // Shifted ids back to the container's (ids beyond u32 do not occur in a layer we wrote).
            let id = |n: io::Result<u64>| n.ok().and_then(|n| u32::try_from(n).ok()).unwrap_or(0);
            let (uid, gid) = f(id(header.uid()), id(header.gid()));
            header.set_uid(uid.into());
            header.set_gid(gid.into());
            header.set_cksum();
        }
        builder.append(&header, &mut entry)?;
    }
    builder.finish()
}

/// The base image's config with the new layer, a history entry, and the container's settings.
fn new_config(
    base: &ImageConfig,
    c: &Container,
    opts: &CommitOptions,
    layers: &[Ingested],
) -> Result<ImageConfig, EngineError> {
    let now = Timestamp::now();
    let mut config = base.clone();
    let mut cc = config.config.clone().unwrap_or_default();
    cc.env = Some(c.spec.env.clone());
    cc.cmd = (!c.spec.command.is_empty()).then(|| c.spec.command.clone());
    cc.entrypoint = (!c.spec.entrypoint.is_empty()).then(|| c.spec.entrypoint.clone());
    cc.user = (!c.spec.user.is_empty()).then(|| c.spec.user.clone());
    cc.working_dir = (!c.spec.cwd.is_empty()).then(|| c.spec.cwd.clone());
    if !c.spec.labels.is_empty() {
        let labels = cc.labels.get_or_insert_with(Default::default);
        labels.extend(c.spec.labels.iter().map(|(k, v)| (k.clone(), v.clone())));
    }
    apply_changes(&mut cc, &opts.changes)?;
    config.config = Some(cc);
    config.created = Some(now);
    if opts.author.is_some() {
        config.author.clone_from(&opts.author);
    }
    let top = layers.last().expect("commit always adds a layer");
    config.rootfs.diff_ids.push(top.diff_id.clone());
    config.history.push(History {
        created: Some(now),
        created_by: Some(c.spec.args.join(" ")),
        author: opts.author.clone(),
        comment: opts.message.clone(),
        empty_layer: false,
    });
    Ok(config)
}

/// A docker schema 2 manifest for `--format docker`.
fn docker_manifest(config: &[u8], layers: &[Ingested]) -> (Digest, Vec<u8>) {
    let desc = |media_type: &str, digest: &Digest, size: u64| Descriptor {
        media_type: media_type.to_string(),
        digest: digest.clone(),
        size,
        platform: None,
        urls: vec![],
        annotations: Default::default(),
    };
    let m = Manifest {
        schema_version: 2,
        media_type: Some(media::DOCKER_MANIFEST.to_string()),
        config: desc(
            media::DOCKER_CONFIG,
            &Digest::sha256_of(config),
            config.len() as u64,
        ),
        layers: layers
            .iter()
            .map(|l| {
                let mt = if l.media == media::OCI_LAYER {
                    "application/vnd.docker.image.rootfs.diff.tar"
                } else {
                    media::DOCKER_LAYER_GZIP
                };
                desc(mt, &l.blob_digest, l.blob_size)
            })
            .collect(),
        annotations: Default::default(),
    };
    let bytes = serde_json::to_vec(&m).expect("manifest serializes");
    (Digest::sha256_of(&bytes), bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filter_drops_only_named_regular_files() {
        let tmp = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(tmp.path().join("etc")).expect("mkdir");
        std::fs::write(tmp.path().join("etc/hosts"), "").expect("write");
        std::fs::write(tmp.path().join("etc/passwd"), "root").expect("write");
        let long = "x".repeat(150);
        std::fs::write(tmp.path().join(&long), "long").expect("write");
        let mut tar = Vec::new();
        write_layer(tmp.path(), &mut tar).expect("write layer");
        let skip: BTreeSet<Vec<u8>> = [b"etc/hosts".to_vec()].into();
        let mut out = Vec::new();
        filter_tar(&tar[..], &mut out, &skip, None).expect("filter");
        let mut a = tar::Archive::new(&out[..]);
        let names: Vec<String> = a
            .entries()
            .expect("entries")
            .map(|e| {
                e.expect("entry")
                    .path()
                    .expect("path")
                    .display()
                    .to_string()
            })
            .collect();
        assert_eq!(names, ["etc/", "etc/passwd", long.as_str()]);
    }
}
