//! `push`: send an image's blobs and manifest to a registry. Kept layer blobs go as they are (so digests
//! match what was pulled); uncompressed ones (from load/import) are compressed first (gzip, or zstd).
use super::ImageError;
use std::io::Write;

use super::lookup::lookup;
use super::pull::PullProgress;
use crate::engine::{Ctx, EngineError};
use crate::oci::{Descriptor, Digest, Manifest, ManifestKind, Reference, media};
use crate::registry::{Client, Credentials};
use crate::store::{ImageRecord, Store};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    Gzip,
    Zstd,
}

#[derive(Debug, Clone)]
pub struct PushOptions {
    pub image: String,
    pub destination: Option<String>,
    pub tls_verify: Option<bool>,
    pub credentials: Option<Credentials>,
    pub compression: Compression,
    pub retry: super::Retry,
    /// `--cert-dir`: CA and client certificates for the registry.
    pub cert_dir: Option<std::path::PathBuf>,
}

#[derive(Debug, Clone)]
pub struct PushReport {
    pub digest: Digest,
}

/// A layer as it will be pushed.
struct Outgoing {
    digest: Digest,
    size: u64,
    media: String,
}

fn compress_blob(store: &Store, blob: &Digest, how: Compression) -> Result<Outgoing, EngineError> {
    let mut src = store.open_blob(blob)?;
    let mut out = store.blob_writer()?;
    let path = store.blob_path(blob);
    let media = match how {
        Compression::Gzip => {
            let mut gz = flate2::write::GzEncoder::new(&mut out, flate2::Compression::fast());
            std::io::copy(&mut src, &mut gz).map_err(|e| EngineError::io("compress", &path, e))?;
            gz.finish()
                .map_err(|e| EngineError::io("compress", &path, e))?;
            media::OCI_LAYER_GZIP
        }
        Compression::Zstd => {
            let mut z = zstd::Encoder::new(&mut out, 3)
                .map_err(|e| EngineError::io("compress", &path, e))?;
            std::io::copy(&mut src, &mut z).map_err(|e| EngineError::io("compress", &path, e))?;
            z.finish()
                .map_err(|e| EngineError::io("compress", &path, e))?;
            media::OCI_LAYER_ZSTD
        }
    };
    out.flush()
        .map_err(|e| EngineError::io("write", &path, e))?;
    let (digest, size) = out.commit(None)?;
    Ok(Outgoing {
        digest,
        size,
        media: media.to_string(),
    })
}

/// Push an image.
pub fn push(
    ctx: &Ctx,
    opts: &PushOptions,
    progress: &dyn PullProgress,
) -> Result<PushReport, EngineError> {
    let store = ctx.store()?;
    let id = lookup(&store, &opts.image)?;
    let rec = store
        .image(&id)?
        .ok_or_else(|| EngineError::ImageNotKnown(opts.image.clone()))?;
    let dest = destination(&rec, opts)?;
    let original = store.read_blob(&rec.digest)?;
    let manifest = match ManifestKind::parse(&rec.manifest_media, &original) {
        Ok(ManifestKind::Image(m)) => m,
        _ => {
            return Err(ImageError::NoManifest(opts.image.clone()).into());
        }
    };
    let (outgoing, changed) = outgoing_layers(&store, &rec, opts.compression)?;
    let (runtime, client) = super::registry_client(
        ctx,
        opts.tls_verify,
        opts.credentials.clone(),
        opts.retry,
        opts.cert_dir.as_deref(),
    )?;
    let (manifest_bytes, manifest_media) = if changed {
        (
            rewritten_manifest(&manifest, &outgoing),
            media::OCI_MANIFEST.to_string(),
        )
    } else {
        (original.clone(), manifest.media_type().to_string())
    };
    let config_size = store
        .blob_path(&rec.id)
        .metadata()
        .map(|m| m.len())
        .unwrap_or(manifest.config.size);
    let blobs: Vec<(Digest, u64)> = outgoing
        .iter()
        .map(|o| (o.digest.clone(), o.size))
        .chain(std::iter::once((rec.id.clone(), config_size)))
        .collect();
    let upload = Upload {
        client: &client,
        store: &store,
        dest: &dest,
        mount_from: mount_sources(&rec, &dest),
        config: &rec.id,
        progress,
    };
    let digest = runtime.block_on(async {
        for (digest, size) in &blobs {
            upload.blob(digest, *size).await?;
        }
        progress.writing_manifest();
        let d = client
            .put_manifest(&dest, &manifest_media, &manifest_bytes)
            .await?;
        Ok::<Digest, EngineError>(d)
    })?;
    crate::engine::events::record(
        ctx,
        crate::engine::events::Event::image("push", &rec.id.to_string(), &dest.to_string()),
    );
    Ok(PushReport { digest })
}

/// Where to push: `--destination`, else the image's name that was asked for (or its first), with
/// `latest` when it has no tag; it must name a registry.
fn destination(rec: &ImageRecord, opts: &PushOptions) -> Result<Reference, EngineError> {
    let dest_text = match &opts.destination {
        Some(d) => d.clone(),
        None => rec
            .names
            .iter()
            .find(|n| {
                **n == super::normalize_name(&opts.image).unwrap_or_default()
                    || super::lookup::short_matches(n, &opts.image)
            })
            .or(rec.names.first())
            .cloned()
            .ok_or_else(|| EngineError::from(ImageError::NoDestination(opts.image.clone())))?,
    };
    let dest = Reference::parse(dest_text.strip_prefix("docker://").unwrap_or(&dest_text))?;
    if !dest.is_qualified() {
        return Err(ImageError::Unqualified {
            dest: dest.to_string(),
            repository: dest.repository().to_string(),
        }
        .into());
    }
    Ok(if dest.tag().is_none() && dest.digest().is_none() {
        dest.with_tag("latest")
    } else {
        dest
    })
}

/// The layer blobs to send, uncompressed ones compressed first; and whether any was (then the
/// manifest must be rewritten).
fn outgoing_layers(
    store: &Store,
    rec: &ImageRecord,
    compression: Compression,
) -> Result<(Vec<Outgoing>, bool), EngineError> {
    let mut outgoing = Vec::new();
    let mut changed = false;
    for chain in &rec.layers {
        let layer = store
            .layer(chain)?
            .ok_or_else(|| crate::store::StoreError::MissingLayer(chain.clone()))?;
        let plain = layer.blob_media == media::OCI_LAYER || layer.blob_media.ends_with(".tar");
        if plain {
            changed = true;
            outgoing.push(compress_blob(store, &layer.blob_digest, compression)?);
        } else {
            outgoing.push(Outgoing {
                digest: layer.blob_digest.clone(),
                size: layer.blob_size,
                media: layer.blob_media.clone(),
            });
        }
    }
    Ok((outgoing, changed))
}

/// An OCI manifest for the image with the outgoing layers.
fn rewritten_manifest(manifest: &Manifest, outgoing: &[Outgoing]) -> Vec<u8> {
    let m = Manifest {
        schema_version: 2,
        media_type: Some(media::OCI_MANIFEST.into()),
        config: Descriptor {
            media_type: media::OCI_CONFIG.into(),
            ..manifest.config.clone()
        },
        layers: outgoing
            .iter()
            .map(|o| Descriptor {
                media_type: o.media.clone(),
                digest: o.digest.clone(),
                size: o.size,
                platform: None,
                urls: vec![],
                annotations: Default::default(),
            })
            .collect(),
        annotations: manifest.annotations.clone(),
    };
    serde_json::to_vec(&m).expect("manifest serializes")
}

/// Repositories on the same registry that may already hold the blobs (cross-repository mount).
fn mount_sources(rec: &ImageRecord, dest: &Reference) -> Vec<String> {
    rec.names
        .iter()
        .filter_map(|n| Reference::parse(n).ok())
        .filter(|r| r.registry() == dest.registry() && r.repository() != dest.repository())
        .map(|r| r.repository().to_string())
        .collect()
}

/// Sends blobs to one repository.
struct Upload<'a> {
    client: &'a Client,
    store: &'a Store,
    dest: &'a Reference,
    mount_from: Vec<String>,
    /// The config blob (reported as such, not as a layer).
    config: &'a Digest,
    progress: &'a dyn PullProgress,
}

impl Upload<'_> {
    /// One blob: skipped when the registry has it, else mounted from a sibling repository, else
    /// uploaded.
    async fn blob(&self, digest: &Digest, size: u64) -> Result<(), EngineError> {
        let is_config = digest == self.config;
        let exists = self.client.blob_exists(self.dest, digest).await?.is_some();
        if is_config {
            self.progress.config(digest)
        } else {
            self.progress.blob_start(digest, size, exists)
        }
        if exists {
            return Ok(());
        }
        let mut mounted = false;
        for from in &self.mount_from {
            if self.client.mount_blob(self.dest, digest, from).await? {
                mounted = true;
                break;
            }
        }
        if !mounted {
            let path = self.store.blob_path(digest);
            let file = tokio::fs::File::open(&path)
                .await
                .map_err(|e| EngineError::io("open", &path, e))?;
            self.client
                .upload_blob(self.dest, digest, size, reqwest::Body::from(file))
                .await?;
        }
        if !is_config {
            self.progress.blob_done(digest);
        }
        Ok(())
    }
}
