//! `save`: write images as a docker-archive, an oci-archive or an OCI layout directory. Layer blobs are
//! the ones kept since pull/load, so saved archives carry the same digests as the registry's.
use super::ImageError;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde_json::json;

use super::lookup::lookup;
use crate::engine::{Ctx, EngineError};
use crate::oci::{Descriptor, Digest, media};
use crate::store::{ImageRecord, LayerRecord, Store};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SaveFormat {
    DockerArchive,
    OciArchive,
    OciDir,
}

impl FromStr for SaveFormat {
    type Err = EngineError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "docker-archive" => Ok(SaveFormat::DockerArchive),
            "oci-archive" => Ok(SaveFormat::OciArchive),
            "oci-dir" => Ok(SaveFormat::OciDir),
            "docker-dir" => Err(ImageError::DockerDir.into()),
            _ => Err(ImageError::SaveFormat(s.to_string()).into()),
        }
    }
}

pub struct SaveOptions {
    pub images: Vec<String>,
    pub format: SaveFormat,
}

struct Saved {
    record: ImageRecord,
    /// The name the user asked for, normalised, if they named it (not an id).
    names: Vec<String>,
    /// The image's layers, bottom first.
    layers: Vec<LayerRecord>,
}

fn collect(store: &Store, images: &[String]) -> Result<Vec<Saved>, EngineError> {
    images
        .iter()
        .map(|input| {
            let id = lookup(store, input)?;
            let record = store
                .image(&id)?
                .ok_or_else(|| EngineError::ImageNotKnown(input.clone()))?;
            let by_name = record.names.iter().find(|n| {
                super::normalize_name(input).is_ok_and(|full| &full == *n)
                    || super::lookup::short_matches(n, input)
            });
            let names = match by_name {
                Some(n) => vec![n.clone()],
                None if input.starts_with("sha256:")
                    || input.bytes().all(|b| b.is_ascii_hexdigit()) =>
                {
                    vec![]
                }
                None => record.names.clone(),
            };
            let layers = record
                .layers
                .iter()
                .map(|l| {
                    let rec = store
                        .layer(l)?
                        .ok_or_else(|| crate::store::StoreError::MissingLayer(l.clone()))?;
                    Ok(rec)
                })
                .collect::<Result<_, EngineError>>()?;
            Ok(Saved {
                record,
                names,
                layers,
            })
        })
        .collect()
}

/// Write the images to `out` (archives) or into `dir` (oci-dir).
pub fn save(
    ctx: &Ctx,
    opts: &SaveOptions,
    out: Option<&mut dyn Write>,
    dir: Option<&Path>,
) -> Result<(), EngineError> {
    let store = ctx
        .store_if_exists()?
        .ok_or_else(|| EngineError::ImageNotKnown(opts.images.join(", ")))?;
    let images = collect(&store, &opts.images)?;
    let saved = opts
        .images
        .iter()
        .map(|n| crate::engine::events::Event::image("save", "", n));
    crate::engine::events::record_all(ctx, &saved.collect::<Vec<_>>());
    match (opts.format, out, dir) {
        (SaveFormat::DockerArchive, Some(out), _) => docker_archive(&store, &images, out),
        (SaveFormat::OciArchive, Some(out), _) => {
            let mut tar = tar::Builder::new(out);
            oci_layout(&store, &images, &mut TarSink(&mut tar))?;
            tar.finish()
                .map_err(|e| EngineError::io("write", "archive", e))
        }
        (SaveFormat::OciDir, _, Some(dir)) => {
            oci_layout(&store, &images, &mut DirSink(dir.to_path_buf()))
        }
        _ => Err(ImageError::OciDirOutput.into()),
    }
}

/// Where OCI layout files go: a tar stream or a directory.
trait Sink {
    fn file(&mut self, path: &str, size: u64, data: &mut dyn Read) -> Result<(), EngineError>;
}

struct TarSink<'a, W: Write>(&'a mut tar::Builder<W>);
impl<W: Write> Sink for TarSink<'_, W> {
    fn file(&mut self, path: &str, size: u64, data: &mut dyn Read) -> Result<(), EngineError> {
        append(self.0, path, size, data)
    }
}

struct DirSink(PathBuf);
impl Sink for DirSink {
    fn file(&mut self, path: &str, _size: u64, data: &mut dyn Read) -> Result<(), EngineError> {
        let p = self.0.join(path);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).map_err(|e| EngineError::io("create", parent, e))?;
        }
        let mut f = std::fs::File::create(&p).map_err(|e| EngineError::io("create", &p, e))?;
        io::copy(data, &mut f).map_err(|e| EngineError::io("write", &p, e))?;
        Ok(())
    }
}

fn append<W: Write>(
    tar: &mut tar::Builder<W>,
    path: &str,
    size: u64,
    data: &mut dyn Read,
) -> Result<(), EngineError> {
    let mut h = tar::Header::new_ustar();
    h.set_size(size);
    h.set_mode(0o644);
    h.set_mtime(0);
    h.set_entry_type(tar::EntryType::Regular);
    tar.append_data(&mut h, path, data)
        .map_err(|e| EngineError::io("write", path, e))
}

fn blob_file(store: &Store, d: &Digest) -> Result<(std::fs::File, u64), EngineError> {
    let f = store.open_blob(d)?;
    let len = f
        .metadata()
        .map_err(|e| EngineError::io("stat", store.blob_path(d), e))?
        .len();
    Ok((f, len))
}

fn oci_layout(store: &Store, images: &[Saved], sink: &mut dyn Sink) -> Result<(), EngineError> {
    let layout = br#"{"imageLayoutVersion":"1.0.0"}"#;
    sink.file("oci-layout", layout.len() as u64, &mut &layout[..])?;
    let mut written = std::collections::HashSet::new();
    let mut manifests = Vec::new();
    for img in images {
        let mut blobs = vec![img.record.id.clone(), img.record.digest.clone()];
        blobs.extend(img.layers.iter().map(|l| l.blob_digest.clone()));
        for b in blobs {
            if written.insert(b.clone()) {
                let (mut f, len) = blob_file(store, &b)?;
                sink.file(&format!("blobs/{}/{}", b.algorithm(), b.hex()), len, &mut f)?;
            }
        }
        let size = store
            .blob_path(&img.record.digest)
            .metadata()
            .map(|m| m.len())
            .unwrap_or(0);
        let base = Descriptor {
            media_type: img.record.manifest_media.clone(),
            digest: img.record.digest.clone(),
            size,
            platform: None,
            urls: vec![],
            annotations: Default::default(),
        };
        if img.names.is_empty() {
            manifests.push(base.clone());
        }
        for n in &img.names {
            let mut d = base.clone();
            d.annotations
                .insert("org.opencontainers.image.ref.name".into(), n.clone());
            manifests.push(d);
        }
    }
    let index = json!({"schemaVersion": 2, "mediaType": media::OCI_INDEX, "manifests": manifests});
    let bytes = serde_json::to_vec(&index).expect("index serializes");
    sink.file("index.json", bytes.len() as u64, &mut &bytes[..])
}

fn docker_archive(store: &Store, images: &[Saved], out: &mut dyn Write) -> Result<(), EngineError> {
    let mut tar = tar::Builder::new(out);
    let mut written = std::collections::HashSet::new();
    let mut manifest = Vec::new();
    let mut repositories = serde_json::Map::new();
    for img in images {
        let config_name = format!("{}.json", img.record.id.hex());
        if written.insert(config_name.clone()) {
            let (mut f, len) = blob_file(store, &img.record.id)?;
            append(&mut tar, &config_name, len, &mut f)?;
        }
        let mut layer_names = Vec::new();
        for layer in &img.layers {
            let (blob, name) = (&layer.blob_digest, format!("{}.tar", layer.diff_id.hex()));
            if written.insert(name.clone()) {
                // docker-archive layers are plain tars: decompress the kept blob, hashing to be sure.
                let (f, _) = blob_file(store, blob)?;
                let (_, mut plain) = crate::archive::decompress(f)
                    .map_err(|e| EngineError::io("read", store.blob_path(blob), e))?;
                append(&mut tar, &name, layer.size, &mut plain)?;
            }
            layer_names.push(name);
        }
        for n in &img.names {
            if let Some((repo, tag)) = n.rsplit_once(':') {
                let e = repositories
                    .entry(repo.to_string())
                    .or_insert_with(|| json!({}));
                e[tag] = json!(img.record.id.hex());
            }
        }
        manifest.push(json!({"Config": config_name, "RepoTags": img.names, "Layers": layer_names}));
    }
    let m = serde_json::to_vec(&manifest).expect("manifest serializes");
    append(&mut tar, "manifest.json", m.len() as u64, &mut &m[..])?;
    let r = serde_json::to_vec(&repositories).expect("repositories serializes");
    append(&mut tar, "repositories", r.len() as u64, &mut &r[..])?;
    tar.finish()
        .map_err(|e| EngineError::io("write", "archive", e))
}
