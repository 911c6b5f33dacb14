//! `pull`: resolve a reference against the registries, then download the layers in parallel, unpacking
//! each while it streams in (decompression and tar writing on a worker thread per layer), verify every
//! digest, and record the image. A tokio runtime lives only inside this function.
use super::ImageError;
use std::cell::RefCell;
use std::str::FromStr;

use futures_util::{StreamExt, TryStreamExt};

use super::lookup::lookup;
use crate::engine::layer::{ChannelReader, unpack, verify_diff_id};
use crate::engine::{Ctx, EngineError};
use crate::oci::{Descriptor, Digest, Platform, Reference, chain_ids};
use crate::registry::{Client, Credentials, ResolvedImage};
use crate::store::{LayerRecord, NewImage, Store};

/// `--pull` policies (podman's).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PullPolicy {
    Always,
    Missing,
    Never,
    Newer,
}

impl FromStr for PullPolicy {
    type Err = EngineError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s.to_ascii_lowercase().as_str() {
            "always" | "true" => PullPolicy::Always,
            "missing" | "ifmissing" | "ifnotpresent" => PullPolicy::Missing,
            "never" | "false" => PullPolicy::Never,
            "newer" | "ifnewer" => PullPolicy::Newer,
            _ => {
                return Err(ImageError::PullPolicy(s.to_string()).into());
            }
        })
    }
}

#[derive(Debug, Clone)]
pub struct PullOptions {
    pub reference: String,
    pub platform: Platform,
    pub policy: PullPolicy,
    pub tls_verify: Option<bool>,
    pub credentials: Option<Credentials>,
    pub retry: super::Retry,
    /// `--cert-dir`: CA and client certificates for the registry.
    pub cert_dir: Option<std::path::PathBuf>,
    /// `--decryption-key KEY[:PASSPHRASE]`: private keys for encrypted layers, as given.
    pub decryption_keys: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct PullReport {
    pub id: Digest,
}

/// Observer for pull progress; the CLI draws bars or prints podman's lines. Called from one thread.
pub trait PullProgress {
    fn trying(&self, _reference: &str) {}
    fn resolved(&self, _layers: usize) {}
    fn blob_start(&self, _digest: &Digest, _size: u64, _already_present: bool) {}
    fn blob_progress(&self, _digest: &Digest, _bytes: u64) {}
    fn blob_done(&self, _digest: &Digest) {}
    fn config(&self, _digest: &Digest) {}
    fn writing_manifest(&self) {}
}

/// `pull --all-tags`: `NAME:TAG` for every tag of the repository `opts.reference` names (its own tag
/// or digest, if any, ignored: the caller refuses them), from the first of its registries that lists them.
pub fn all_tags(ctx: &Ctx, opts: &PullOptions) -> Result<Vec<String>, EngineError> {
    let reference = Reference::parse(&opts.reference)?;
    let candidates = candidates(ctx, &reference)?;
    let (runtime, client) = super::registry_client(
        ctx,
        opts.tls_verify,
        opts.credentials.clone(),
        opts.retry,
        opts.cert_dir.as_deref(),
    )?;
    let mut last_err = None;
    for candidate in &candidates {
        match runtime.block_on(client.list_tags(candidate)) {
            Ok(tags) => {
                return Ok(tags
                    .iter()
                    .map(|t| format!("{}:{t}", candidate.name()))
                    .collect());
            }
            Err(e) => last_err = Some(e),
        }
    }
    Err(last_err.expect("candidates is never empty").into())
}

/// Where to look for `reference`: itself when it names its registry, else each search registry.
fn candidates(ctx: &Ctx, reference: &Reference) -> Result<Vec<Reference>, EngineError> {
    Ok(if reference.is_qualified() {
        vec![reference.clone()]
    } else {
        ctx.registries.get()?.candidates(reference)?
    })
}

/// Pull an image (per the policy) and return its id.
pub fn pull(
    ctx: &Ctx,
    opts: &PullOptions,
    progress: &dyn PullProgress,
) -> Result<PullReport, EngineError> {
    let reference = Reference::parse(&opts.reference)?;
    if opts.policy != PullPolicy::Always && opts.policy != PullPolicy::Newer {
        if let Some(store) = ctx.store_if_exists()? {
            match lookup(&store, &opts.reference) {
                Ok(id) => {
                    return Ok(PullReport { id });
                }
                Err(EngineError::ImageNotKnown(_)) => {}
                Err(e) => return Err(e),
            }
        }
        if opts.policy == PullPolicy::Never {
            return Err(EngineError::NeverPull(opts.reference.clone()));
        }
    }
    let candidates = candidates(ctx, &reference)?;
    let keys = super::decrypt::load_keys(&opts.decryption_keys)?;
    let store = ctx.store()?;
    store.clean_staging();
    let (runtime, client) = super::registry_client(
        ctx,
        opts.tls_verify,
        opts.credentials.clone(),
        opts.retry,
        opts.cert_dir.as_deref(),
    )?;
    let store = RefCell::new(store);
    let mut last_err = None;
    for candidate in &candidates {
        progress.trying(&candidate.to_string());
        match runtime.block_on(pull_one(
            ctx,
            &client,
            &store,
            candidate,
            &opts.platform,
            &keys,
            progress,
        )) {
            Ok(report) => {
                crate::engine::events::record(
                    ctx,
                    crate::engine::events::Event::image(
                        "pull",
                        &report.id.to_string(),
                        &candidate.to_string(),
                    ),
                );
                return Ok(report);
            }
            Err(e) => last_err = Some(e),
        }
    }
    let err = last_err.expect("candidates is never empty");
    let mut failed = crate::engine::events::Event::image("pull-error", "", &opts.reference);
    failed.error = err.to_string();
    crate::engine::events::record(ctx, failed);
    Err(err)
}

async fn pull_one(
    ctx: &Ctx,
    client: &Client,
    store: &RefCell<Store>,
    reference: &Reference,
    platform: &Platform,
    keys: &[crate::oci::crypt::PrivateKey],
    progress: &dyn PullProgress,
) -> Result<PullReport, EngineError> {
    let mut resolved = client.resolve(reference, platform).await?;
    // The registry's manifest digest, which a decrypted image's own manifest no longer has.
    let registry_digest = resolved.manifest_digest.clone();
    let layer_keys = super::decrypt::open_layers(&mut resolved, keys, &reference.to_string())?;
    let diff_ids = resolved.config.rootfs.diff_ids.clone();
    let chains = chain_ids(&diff_ids);
    progress.resolved(resolved.manifest.layers.len());
    let jobs = resolved
        .manifest
        .layers
        .iter()
        .zip(layer_keys)
        .enumerate()
        .map(|(i, (desc, key))| LayerJob {
            desc: desc.clone(),
            key,
            diff_id: diff_ids[i].clone(),
            chain_id: chains[i].clone(),
            parent: if i == 0 {
                None
            } else {
                Some(chains[i - 1].clone())
            },
        });
    let name = reference.to_string();
    let sizes: Vec<u64> = futures_util::stream::iter(jobs)
        .map(|job| fetch_layer(ctx, client, store, &resolved.source, job, &name, progress))
        .buffered(3)
        .try_collect()
        .await?;
    progress.config(&resolved.manifest.config.digest.clone());
    record(
        store,
        reference,
        &resolved,
        &registry_digest,
        chains,
        sizes.iter().sum(),
    )?;
    progress.writing_manifest();
    Ok(PullReport {
        id: resolved.manifest.config.digest.clone(),
    })
}

struct LayerJob {
    /// The layer as the image will record it (decrypted, for an encrypted one).
    desc: Descriptor,
    /// For an encrypted layer: what opens the blob the registry has (`desc` then names the blob as
    /// it was before encryption, which is what is stored).
    key: Option<super::decrypt::Encrypted>,
    diff_id: Digest,
    chain_id: Digest,
    parent: Option<Digest>,
}

/// Download one layer blob into the blob store and unpack it on a worker thread as it arrives.
/// Returns the layer's uncompressed size.
async fn fetch_layer(
    ctx: &Ctx,
    client: &Client,
    store: &RefCell<Store>,
    source: &Reference,
    job: LayerJob,
    image: &str,
    progress: &dyn PullProgress,
) -> Result<u64, EngineError> {
    let locks = store.borrow().root().join("locks");
    let chain = job.chain_id.clone();
    let _lock =
        tokio::task::spawn_blocking(move || crate::store::LayerLock::acquire(&locks, &chain))
            .await
            .map_err(|_| EngineError::Worker)??;
    if let Some(rec) = store
        .borrow()
        .layer(&job.chain_id)?
        .filter(|_| store.borrow().layer_diff(&job.chain_id).is_dir())
    {
        progress.blob_start(&job.desc.digest, job.desc.size, true);
        return Ok(rec.size);
    }
    check_space(&store.borrow().root().join("tmp"), source, &job.desc)?;
    progress.blob_start(&job.desc.digest, job.desc.size, false);
    let staged = store.borrow().stage_layer()?;
    let mut blob = store.borrow().blob_writer()?;
    let (tx, rx) = tokio::sync::mpsc::channel::<bytes::Bytes>(16);
    let dest = staged.diff();
    let apply = ctx.apply_options();
    let worker = tokio::task::spawn_blocking(move || unpack(ChannelReader::new(rx), &dest, &apply));
    let fetched = job.key.as_ref().map_or(&job.desc, |k| &k.blob);
    let mut stream = client.get_blob(source, fetched).await?;
    let mut decryptor = job.key.as_ref().map(|k| k.decryptor());
    let mut received = 0u64;
    let mut download_err = None;
    while let Some(chunk) = stream.next().await {
        match chunk {
            Ok(bytes) => {
                received += bytes.len() as u64;
                let bytes = match &mut decryptor {
                    Some(d) => super::decrypt::apply(d, bytes),
                    None => bytes,
                };
                if let Err(e) = std::io::Write::write_all(&mut blob, &bytes) {
                    download_err = Some(EngineError::io(
                        "write",
                        store.borrow().root().join("tmp"),
                        e,
                    ));
                    break;
                }
                progress.blob_progress(&job.desc.digest, received);
                if tx.send(bytes).await.is_err() {
                    break; // the worker stopped early: its error is reported below
                }
            }
            Err(e) => {
                download_err = Some(e.into());
                break;
            }
        }
    }
    drop(tx);
    let unpacked = worker.await.map_err(|_| EngineError::Worker)?;
    if let Some(e) = download_err {
        return Err(e);
    }
    if let (Some(d), Some(k)) = (decryptor, &job.key) {
        super::decrypt::finish(d, k, image)?;
    }
    let unpacked = unpacked?;
    verify_diff_id(image, &job.desc.digest, &job.diff_id, &unpacked)?;
    let (blob_digest, blob_size) = blob.commit(Some(&job.desc.digest))?;
    let rec = LayerRecord {
        chain_id: job.chain_id,
        parent: job.parent,
        diff_id: job.diff_id,
        blob_digest,
        blob_media: job.desc.media_type.clone(),
        blob_size,
        size: unpacked.size,
        created: jiff::Timestamp::now(),
    };
    store.borrow_mut().commit_layer(staged, &rec)?;
    progress.blob_done(&job.desc.digest);
    Ok(unpacked.size)
}

/// Refuse a blob that cannot fit in the store before downloading any of it: the descriptor's size is
/// what the registry is held to (more is cut off), and the blob is kept besides its unpacked copy.
fn check_space(
    tmp: &std::path::Path,
    source: &Reference,
    desc: &Descriptor,
) -> Result<(), EngineError> {
    let st = nix::sys::statvfs::statvfs(tmp)
        .map_err(|e| EngineError::io("check the free space of", tmp, e.into()))?;
    let available = st.blocks_available().saturating_mul(st.fragment_size());
    if desc.size <= available {
        return Ok(());
    }
    Err(EngineError::NoSpace {
        path: tmp.to_path_buf(),
        digest: desc.digest.to_string(),
        image: source.to_string(),
        registry: source.registry().unwrap_or_default().to_string(),
        needed: desc.size,
        available,
    })
}

/// Store config and manifest blobs and the image record. `registry_digest` is the manifest's digest
/// in the registry (the image is found by it too when its own manifest differs: decrypted layers).
fn record(
    store: &RefCell<Store>,
    reference: &Reference,
    resolved: &ResolvedImage,
    registry_digest: &Digest,
    chains: Vec<Digest>,
    size: u64,
) -> Result<(), EngineError> {
    let mut store = store.borrow_mut();
    let config_digest = resolved.manifest.config.digest.clone();
    store.put_blob(&config_digest, &resolved.config_bytes)?;
    store.put_blob(&resolved.manifest_digest, &resolved.manifest_bytes)?;
    let cfg = &resolved.config;
    store.put_image(&NewImage {
        id: config_digest,
        manifest_digest: resolved.manifest_digest.clone(),
        manifest_media: resolved.manifest_media_type.clone(),
        created: cfg.created,
        size,
        labels: cfg.labels(),
        arch: cfg.architecture.clone(),
        os: cfg.os.clone(),
        layers: chains,
        // Pulled by digest: the repository is kept as `repo@digest`, so the image is not dangling.
        names: vec![
            reference
                .tagged_name()
                .unwrap_or_else(|| format!("{}@{}", reference.name(), registry_digest)),
        ],
        digests: resolved
            .index_digest
            .iter()
            .chain(Some(registry_digest).filter(|d| **d != resolved.manifest_digest))
            .cloned()
            .collect(),
    })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policies() {
        assert_eq!("always".parse::<PullPolicy>().unwrap(), PullPolicy::Always);
        assert_eq!(
            "Missing".parse::<PullPolicy>().unwrap(),
            PullPolicy::Missing
        );
        assert_eq!("never".parse::<PullPolicy>().unwrap(), PullPolicy::Never);
        assert_eq!("newer".parse::<PullPolicy>().unwrap(), PullPolicy::Newer);
        assert!("sometimes".parse::<PullPolicy>().is_err());
    }
}
