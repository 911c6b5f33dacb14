//! The final image's manifest: OCI (default) or Docker schema 2 (`--format docker`), with
//! `--annotation`s in an OCI manifest.
use std::collections::BTreeMap;

use crate::engine::container::CommitFormat;
use crate::engine::layer::Ingested;
use crate::oci::{Descriptor, Digest, Manifest, media};

fn desc(media_type: &str, digest: &Digest, size: u64) -> Descriptor {
    Descriptor {
        media_type: media_type.to_string(),
        digest: digest.clone(),
        size,
        platform: None,
        urls: vec![],
        annotations: Default::default(),
    }
}

/// (digest, bytes, media type) of the manifest for `config` and `layers`.
pub(super) fn manifest(
    config: &[u8],
    layers: &[Ingested],
    format: CommitFormat,
    annotations: &BTreeMap<String, String>,
) -> (Digest, Vec<u8>, &'static str) {
    let docker = format == CommitFormat::Docker;
    let (mt, config_mt) = if docker {
        (media::DOCKER_MANIFEST, media::DOCKER_CONFIG)
    } else {
        (media::OCI_MANIFEST, media::OCI_CONFIG)
    };
    let m = Manifest {
        schema_version: 2,
        media_type: Some(mt.to_string()),
        config: desc(config_mt, &Digest::sha256_of(config), config.len() as u64),
        layers: layers
            .iter()
            .map(|l| {
                let lm = match (docker, l.media) {
                    (true, media::OCI_LAYER) => "application/vnd.docker.image.rootfs.diff.tar",
                    (true, _) => media::DOCKER_LAYER_GZIP,
                    (false, m) => m,
                };
                desc(lm, &l.blob_digest, l.blob_size)
            })
            .collect(),
        annotations: if docker {
            Default::default()
        } else {
            annotations.clone()
        },
    };
    let bytes = serde_json::to_vec(&m).expect("manifest serializes");
    (Digest::sha256_of(&bytes), bytes, mt)
}
