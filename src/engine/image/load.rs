//! `load`: images from a docker-archive or an oci-archive (detected from the content; gzip or plain),
//! written by roost, podman, docker or skopeo. The archive is untrusted: it is staged as plain files with
//! checked names, and every blob is verified against the digest that names it.
use std::io::{self, Read};
use std::path::{Component, Path, PathBuf};

use serde::Deserialize;

use super::normalize_name;
use crate::engine::layer::{Ingested, LayerSlot, ingest};
use crate::engine::{Ctx, EngineError};
use crate::oci::{
    Descriptor, Digest, ImageConfig, Index, Manifest, ManifestKind, Platform, chain_ids, media,
};
use crate::store::{NewImage, Store, remove_tree};

#[derive(Debug, Default)]
pub struct LoadReport {
    /// `Loaded image: …` lines: names, or `sha256:ID` for unnamed images.
    pub loaded: Vec<String>,
}

fn malformed(why: impl Into<String>) -> EngineError {
    EngineError::Malformed {
        what: "image archive",
        source_name: "input".into(),
        why: why.into(),
    }
}

/// Counts the bytes taken from the archive, to say where a truncated one ended.
struct Counting<R> {
    inner: R,
    read: std::rc::Rc<std::cell::Cell<u64>>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read.set(self.read.get() + n as u64);
        Ok(n)
    }
}

/// Why reading the archive failed, in words that quote nothing binary from it. `entries`: how many
/// entries were read before (none: the input may not be a tar archive at all).
fn read_error(e: &io::Error, read: u64, entries: usize) -> EngineError {
    let text = e.to_string();
    if e.kind() == io::ErrorKind::UnexpectedEof || text.contains("unexpected EOF") {
        return malformed(format!(
            "truncated archive: unexpected end of file after {read} bytes"
        ));
    }
    if entries == 0 {
        return malformed(
            "not a docker-archive or oci-archive (not a tar archive, gzip- or zstd-compressed or plain)",
        );
    }
    malformed(format!(
        "unreadable archive after {read} bytes: {}",
        crate::oci::printable(&text, crate::oci::QUOTE_LIMIT)
    ))
}

/// Unpack the archive's regular files into `dir`, refusing names that are not plain relative paths.
fn stage_archive(input: impl Read, dir: &Path) -> Result<(), EngineError> {
    let read = std::rc::Rc::default();
    let input = Counting {
        inner: input,
        read: std::rc::Rc::clone(&read),
    };
    let failed = |e: io::Error, entries: usize| read_error(&e, read.get(), entries);
    let (_, plain) = crate::archive::decompress(input).map_err(|e| failed(e, 0))?;
    let mut tar = tar::Archive::new(plain);
    for (before, entry) in tar.entries().map_err(|e| failed(e, 0))?.enumerate() {
        let mut entry = entry.map_err(|e| failed(e, before))?;
        let entries = before + 1;
        let path = entry.path().map_err(|e| failed(e, entries))?.into_owned();
        let shown = crate::oci::printable(&path.to_string_lossy(), crate::oci::QUOTE_LIMIT);
        if path
            .components()
            .any(|c| !matches!(c, Component::Normal(_) | Component::CurDir))
        {
            return Err(malformed(format!(
                "entry `{shown}` is not a plain relative path"
            )));
        }
        match entry.header().entry_type() {
            tar::EntryType::Regular | tar::EntryType::Continuous => {
                let dest = dir.join(&path);
                if let Some(p) = dest.parent() {
                    std::fs::create_dir_all(p).map_err(|e| EngineError::io("create", p, e))?;
                }
                let mut f = std::fs::File::create(&dest)
                    .map_err(|e| EngineError::io("create", &dest, e))?;
                copy_entry(&mut entry, &mut f).map_err(|e| match e {
                    Copy::Read(e) => failed(e, entries),
                    Copy::Write(e) => EngineError::io("write", &dest, e),
                })?;
            }
            tar::EntryType::Directory => {}
            // docker's own archives may repeat a layer as a symlink to another; nothing else is expected.
            tar::EntryType::Symlink => {
                let target = entry
                    .link_name()
                    .ok()
                    .flatten()
                    .map(|t| t.into_owned())
                    .unwrap_or_default();
                let resolved = path.parent().unwrap_or(Path::new("")).join(&target);
                if resolved.components().any(|c| {
                    !matches!(
                        c,
                        Component::Normal(_) | Component::CurDir | Component::ParentDir
                    )
                }) || target.is_absolute()
                {
                    return Err(malformed(format!(
                        "link `{shown}` points outside the archive"
                    )));
                }
                let src = dir.join(&resolved);
                let dest = dir.join(&path);
                if let Some(p) = dest.parent() {
                    std::fs::create_dir_all(p).map_err(|e| EngineError::io("create", p, e))?;
                }
                std::fs::copy(&src, &dest).map_err(|e| EngineError::io("copy", &src, e))?;
            }
            other => {
                return Err(malformed(format!(
                    "entry `{shown}` has unexpected type {other:?}"
                )));
            }
        }
    }
    Ok(())
}

enum Copy {
    Read(io::Error),
    Write(io::Error),
}

/// Copy an entry's data, telling a failed read of the archive from a failed write.
fn copy_entry(entry: &mut impl Read, out: &mut std::fs::File) -> Result<(), Copy> {
    let mut buf = vec![0u8; 64 << 10];
    loop {
        let n = match entry.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(Copy::Read(e)),
        };
        io::Write::write_all(out, &buf[..n]).map_err(Copy::Write)?;
    }
}

/// Staging directory that is removed on drop.
struct Staging(PathBuf);
impl Drop for Staging {
    fn drop(&mut self) {
        let _ = remove_tree(&self.0);
    }
}

/// `load -i FILE` / stdin; `source` names the input in errors.
pub fn load(ctx: &Ctx, input: impl Read, source: &str) -> Result<LoadReport, EngineError> {
    let report = load_staged(ctx, input).map_err(|e| match e {
        EngineError::Malformed { what, why, .. } => EngineError::Malformed {
            what,
            source_name: source.to_string(),
            why,
        },
        other => other,
    });
    if let Ok(r) = &report {
        let loaded = r
            .loaded
            .iter()
            .map(|n| crate::engine::events::Event::image("loadfromarchive", "", n));
        crate::engine::events::record_all(ctx, &loaded.collect::<Vec<_>>());
    }
    report
}

fn load_staged(ctx: &Ctx, input: impl Read) -> Result<LoadReport, EngineError> {
    let mut store = ctx.store()?;
    store.clean_staging();
    let staging = Staging(store.staging_path("load"));
    std::fs::create_dir_all(&staging.0).map_err(|e| EngineError::io("create", &staging.0, e))?;
    stage_archive(input, &staging.0)?;
    let dir = &staging.0;
    if dir.join("manifest.json").is_file() {
        load_docker(ctx, &mut store, dir)
    } else if dir.join("index.json").is_file() {
        load_oci(ctx, &mut store, dir)
    } else {
        Err(malformed(
            "not a docker-archive or oci-archive (no manifest.json or index.json)",
        ))
    }
}

fn read_json<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<(Vec<u8>, T), EngineError> {
    let bytes = std::fs::read(path).map_err(|e| EngineError::io("read", path, e))?;
    let v = serde_json::from_slice(&bytes)
        .map_err(|e| malformed(format!("`{}`: {e}", path.display())))?;
    Ok((bytes, v))
}

/// Within the staging dir, a file named by the archive (refusing escapes).
fn member(dir: &Path, name: &str) -> Result<PathBuf, EngineError> {
    let p = Path::new(name);
    if name.is_empty()
        || p.components()
            .any(|c| !matches!(c, Component::Normal(_) | Component::CurDir))
    {
        return Err(malformed(format!("`{name}` is not a plain relative path")));
    }
    Ok(dir.join(p))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DockerEntry {
    config: String,
    #[serde(default)]
    repo_tags: Option<Vec<String>>,
    layers: Vec<String>,
}

fn load_docker(ctx: &Ctx, store: &mut Store, dir: &Path) -> Result<LoadReport, EngineError> {
    let (_, entries): (_, Vec<DockerEntry>) = read_json(&dir.join("manifest.json"))?;
    let mut report = LoadReport::default();
    for e in entries {
        let (config_bytes, config): (_, ImageConfig) = read_json(&member(dir, &e.config)?)?;
        if config.rootfs.diff_ids.len() != e.layers.len() {
            return Err(malformed(format!(
                "`{}` names {} layers but the config has {} diff ids",
                e.config,
                e.layers.len(),
                config.rootfs.diff_ids.len()
            )));
        }
        let chains = chain_ids(&config.rootfs.diff_ids);
        let mut layers = Vec::new();
        for (i, l) in e.layers.iter().enumerate() {
            let path = member(dir, l)?;
            let f =
                std::fs::File::open(&path).map_err(|err| EngineError::io("open", &path, err))?;
            let slot = LayerSlot {
                image: e.config.clone(),
                diff_id: Some(config.rootfs.diff_ids[i].clone()),
                chain_id: Some(chains[i].clone()),
                parent: i.checked_sub(1).map(|p| chains[p].clone()),
                blob_digest: None,
            };
            layers.push(ingest(store, f, &slot, &ctx.apply_options())?);
        }
        let names = e
            .repo_tags
            .unwrap_or_default()
            .iter()
            .map(|n| normalize_name(n))
            .collect::<Result<Vec<_>, _>>()?;
        let id = record_image(store, &config_bytes, &config, &layers, names.clone(), None)?;
        if names.is_empty() {
            report.loaded.push(id.to_string());
        }
        report.loaded.extend(names);
    }
    Ok(report)
}

fn load_oci(ctx: &Ctx, store: &mut Store, dir: &Path) -> Result<LoadReport, EngineError> {
    let (_, index): (_, Index) = read_json(&dir.join("index.json"))?;
    let mut report = LoadReport::default();
    for desc in &index.manifests {
        let (manifest_digest, manifest) = oci_manifest(dir, desc, 0)?;
        let config_bytes = read_blob(dir, &manifest.config)?;
        let config: ImageConfig = serde_json::from_slice(&config_bytes)
            .map_err(|e| malformed(format!("image config: {e}")))?;
        if config.rootfs.diff_ids.len() != manifest.layers.len() {
            return Err(malformed(
                "manifest and config disagree on the number of layers",
            ));
        }
        let chains = chain_ids(&config.rootfs.diff_ids);
        let mut layers = Vec::new();
        for (i, l) in manifest.layers.iter().enumerate() {
            if !media::is_layer(&l.media_type) {
                return Err(malformed(format!(
                    "unsupported layer media type `{}`",
                    l.media_type
                )));
            }
            let path = blob_path(dir, &l.digest)?;
            let f = std::fs::File::open(&path).map_err(|e| EngineError::io("open", &path, e))?;
            let slot = LayerSlot {
                image: manifest_digest.to_string(),
                diff_id: Some(config.rootfs.diff_ids[i].clone()),
                chain_id: Some(chains[i].clone()),
                parent: i.checked_sub(1).map(|p| chains[p].clone()),
                blob_digest: Some(l.digest.clone()),
            };
            layers.push(ingest(store, f, &slot, &ctx.apply_options())?);
        }
        // A bare word is a tag (OCI's usual ref.name); `repo:tag` or a path is an image name.
        let name = desc
            .annotations
            .get("org.opencontainers.image.ref.name")
            .filter(|n| n.contains('/') || n.contains(':'))
            .map(|n| normalize_name(n))
            .transpose()?;
        let names: Vec<String> = name.into_iter().collect();
        let manifest_bytes = std::fs::read(blob_path(dir, &manifest_digest)?)
            .map_err(|e| EngineError::io("read", dir, e))?;
        let id = record_image(
            store,
            &config_bytes,
            &config,
            &layers,
            names.clone(),
            Some((&manifest_digest, &manifest_bytes, manifest.media_type())),
        )?;
        if names.is_empty() {
            report.loaded.push(id.to_string());
        }
        report.loaded.extend(names);
    }
    Ok(report)
}

fn blob_path(dir: &Path, d: &Digest) -> Result<PathBuf, EngineError> {
    member(dir, &format!("blobs/{}/{}", d.algorithm(), d.hex()))
}

/// Read a blob of the layout and check its digest.
fn read_blob(dir: &Path, desc: &Descriptor) -> Result<Vec<u8>, EngineError> {
    let p = blob_path(dir, &desc.digest)?;
    let bytes = std::fs::read(&p).map_err(|e| EngineError::io("read", &p, e))?;
    if desc.digest.is_sha256() && Digest::sha256_of(&bytes) != desc.digest {
        return Err(malformed(format!(
            "blob `{}` does not match its digest",
            desc.digest
        )));
    }
    Ok(bytes)
}

/// Follow a descriptor to an image manifest (through nested indexes, choosing the host platform).
fn oci_manifest(
    dir: &Path,
    desc: &Descriptor,
    depth: u32,
) -> Result<(Digest, Manifest), EngineError> {
    if depth > 4 {
        return Err(malformed("indexes nested too deeply"));
    }
    let bytes = read_blob(dir, desc)?;
    match ManifestKind::parse(&desc.media_type, &bytes).map_err(|e| malformed(e.to_string()))? {
        ManifestKind::Image(m) => Ok((desc.digest.clone(), m)),
        ManifestKind::Index(idx) => {
            let host = Platform::host();
            let chosen = idx
                .manifests
                .iter()
                .find(|d| d.platform.as_ref().is_none_or(|p| host.matches(p)))
                .ok_or_else(|| {
                    malformed(format!("no manifest for {host} in the archive's index"))
                })?;
            oci_manifest(dir, chosen, depth + 1)
        }
    }
}

/// Record the loaded image; writes an OCI manifest for it when the archive had none (docker-archive).
pub(crate) fn record_image(
    store: &mut Store,
    config_bytes: &[u8],
    config: &ImageConfig,
    layers: &[Ingested],
    names: Vec<String>,
    manifest: Option<(&Digest, &[u8], &str)>,
) -> Result<Digest, EngineError> {
    let id = Digest::sha256_of(config_bytes);
    store.put_blob(&id, config_bytes)?;
    let (manifest_digest, media_type) = match manifest {
        Some((d, bytes, m)) => {
            store.put_blob(d, bytes)?;
            (d.clone(), m.to_string())
        }
        None => {
            let m = Manifest {
                schema_version: 2,
                media_type: Some(media::OCI_MANIFEST.to_string()),
                config: Descriptor {
                    media_type: media::OCI_CONFIG.to_string(),
                    digest: id.clone(),
                    size: config_bytes.len() as u64,
                    platform: None,
                    urls: vec![],
                    annotations: Default::default(),
                },
                layers: layers
                    .iter()
                    .map(|l| Descriptor {
                        media_type: l.media.to_string(),
                        digest: l.blob_digest.clone(),
                        size: l.blob_size,
                        platform: None,
                        urls: vec![],
                        annotations: Default::default(),
                    })
                    .collect(),
                annotations: Default::default(),
            };
            let bytes = serde_json::to_vec(&m).expect("manifest serializes");
            let d = Digest::sha256_of(&bytes);
            store.put_blob(&d, &bytes)?;
            (d, media::OCI_MANIFEST.to_string())
        }
    };
    store.put_image(&NewImage {
        id: id.clone(),
        manifest_digest,
        manifest_media: media_type,
        created: config.created,
        size: layers.iter().map(|l| l.size).sum(),
        labels: config.labels(),
        arch: config.architecture.clone(),
        os: config.os.clone(),
        layers: layers.iter().map(|l| l.chain_id.clone()).collect(),
        names,
        digests: vec![],
    })?;
    Ok(id)
}
