//! From a reference to an image for one platform: index → manifest → config, with the checks that
//! make the result safe to unpack (media types, digests, layer count).
use crate::oci::{
    Descriptor, Digest, ImageConfig, Index, Manifest, ManifestKind, Platform, Reference, media,
};

use reqwest::Method;
use reqwest::header::{ACCEPT, CONTENT_TYPE};

use super::client::Client;
use super::error::RegistryError;
use super::response::{Subject, header_str, read_limited, verify_digest};

/// Largest manifest or index accepted.
pub const MANIFEST_LIMIT: u64 = 4 << 20;
/// Largest image config accepted.
pub const CONFIG_LIMIT: u64 = 16 << 20;

/// A manifest or index as the registry sent it.
#[derive(Debug, Clone)]
pub struct FetchedManifest {
    pub digest: Digest,
    pub media_type: String,
    pub bytes: Vec<u8>,
}

/// An image chosen for a platform, with its manifest and config as received (their digests identify them).
#[derive(Debug, Clone)]
pub struct ResolvedImage {
    /// Where it was found (a mirror or the location); fetch its blobs from here.
    pub source: Reference,
    pub manifest_digest: Digest,
    pub manifest_media_type: String,
    pub manifest_bytes: Vec<u8>,
    pub manifest: Manifest,
    pub config_bytes: Vec<u8>,
    pub config: ImageConfig,
    /// The manifest list / index the manifest was picked from, if any.
    pub index_digest: Option<Digest>,
}

/// The index entry for `wanted`, or the list of platforms it offers (attestation entries left out).
pub fn select_platform<'i>(index: &'i Index, wanted: &Platform) -> Result<&'i Descriptor, String> {
    let images = || {
        index.manifests.iter().filter(|d| {
            d.platform
                .as_ref()
                .is_some_and(|p| p.os != "unknown" && p.architecture != "unknown")
        })
    };
    if let Some(d) = images().find(|d| d.platform.as_ref().is_some_and(|p| wanted.matches(p))) {
        return Ok(d);
    }
    let available: Vec<String> = images()
        .filter_map(|d| d.platform.as_ref().map(ToString::to_string))
        .collect();
    Err(if available.is_empty() {
        "none".to_string()
    } else {
        available.join(", ")
    })
}

/// Media types a puller must understand: an image config and unpackable layers (encrypted ones too:
/// the pull decrypts them, or says which key it needs).
pub fn check_manifest(reference: &Reference, manifest: &Manifest) -> Result<(), RegistryError> {
    let config = manifest.config.media_type.as_str();
    if config != media::OCI_CONFIG && config != media::DOCKER_CONFIG {
        return Err(RegistryError::MediaType {
            reference: reference.to_string(),
            what: "config",
            media_type: config.to_string(),
        });
    }
    if let Some(layer) = manifest
        .layers
        .iter()
        .find(|l| !media::is_layer(crate::oci::crypt::decrypted_media_type(&l.media_type)))
    {
        return Err(RegistryError::MediaType {
            reference: reference.to_string(),
            what: "layer",
            media_type: layer.media_type.clone(),
        });
    }
    Ok(())
}

fn parse_kind(
    reference: &Reference,
    media_type: &str,
    bytes: &[u8],
) -> Result<ManifestKind, RegistryError> {
    ManifestKind::parse(media_type, bytes).map_err(|source| RegistryError::Manifest {
        reference: reference.to_string(),
        source,
    })
}

impl Client {
    /// Fetch a manifest or index by tag or digest, verifying the digest when it is known.
    pub async fn get_manifest(
        &self,
        reference: &Reference,
    ) -> Result<FetchedManifest, RegistryError> {
        let registry = self.registry_of(reference)?;
        let repo = reference.repository();
        let url = self
            .base_url(registry)
            .await?
            .join(&format!("v2/{repo}/manifests/{}", reference.manifest_ref()))
            .map_err(|_| RegistryError::Unqualified {
                reference: reference.to_string(),
            })?;
        let scopes = [format!("repository:{repo}:pull")];
        tracing::debug!(reference = %reference, "fetching manifest");
        let resp = self
            .execute(registry, Some(repo), &scopes, Method::GET, url, &mut |rb| {
                Some(rb.header(ACCEPT, media::MANIFEST_ACCEPT))
            })
            .await?;
        let resp = self
            .check(registry, Subject::Manifest(reference), resp)
            .await?;
        let media_type = header_str(resp.headers(), CONTENT_TYPE.as_str())
            .map(|s| s.split(';').next().unwrap_or_default().trim().to_string())
            .unwrap_or_default();
        let announced = header_str(resp.headers(), "docker-content-digest")
            .and_then(|s| s.parse::<Digest>().ok());
        let bytes = read_limited(
            resp,
            MANIFEST_LIMIT,
            reference,
            "manifest",
            self.options().timeout,
        )
        .await?;
        let digest = match reference.digest() {
            Some(pinned) => {
                verify_digest(pinned, &bytes, reference, "manifest")?;
                pinned.clone()
            }
            None => Digest::sha256_of(&bytes),
        };
        if let Some(announced) = announced {
            verify_digest(&announced, &bytes, reference, "manifest")?;
        }
        Ok(FetchedManifest {
            digest,
            media_type,
            bytes,
        })
    }

    /// Resolve `reference` for `platform`, trying its registries.conf endpoints in order (mirrors first).
    pub async fn resolve(
        &self,
        reference: &Reference,
        platform: &Platform,
    ) -> Result<ResolvedImage, RegistryError> {
        self.registry_of(reference)?;
        let mut last = None;
        for endpoint in self.options().conf.endpoints(reference) {
            match self.resolve_at(&endpoint.reference, platform).await {
                Ok(image) => return Ok(image),
                Err(e) => {
                    tracing::debug!(endpoint = %endpoint.reference, error = %e, "endpoint failed");
                    last = Some(e);
                }
            }
        }
        Err(last.unwrap_or_else(|| RegistryError::Unqualified {
            reference: reference.to_string(),
        }))
    }

    /// Resolve at one endpoint, without mirrors.
    pub async fn resolve_at(
        &self,
        reference: &Reference,
        platform: &Platform,
    ) -> Result<ResolvedImage, RegistryError> {
        let top = self.get_manifest(reference).await?;
        let (fetched, index_digest) = match parse_kind(reference, &top.media_type, &top.bytes)? {
            ManifestKind::Image(_) => (top, None),
            ManifestKind::Index(index) => {
                let entry = select_platform(&index, platform).map_err(|available| {
                    RegistryError::NoPlatform {
                        reference: reference.to_string(),
                        wanted: platform.to_string(),
                        available,
                    }
                })?;
                let pinned = reference.with_digest(entry.digest.clone());
                (self.get_manifest(&pinned).await?, Some(top.digest))
            }
        };
        let manifest = match parse_kind(reference, &fetched.media_type, &fetched.bytes)? {
            ManifestKind::Image(m) => m,
            ManifestKind::Index(_) => {
                return Err(RegistryError::MediaType {
                    reference: reference.to_string(),
                    what: "nested manifest list",
                    media_type: fetched.media_type,
                });
            }
        };
        check_manifest(reference, &manifest)?;
        let config_bytes = self.get_config(reference, &manifest.config).await?;
        let config: ImageConfig =
            serde_json::from_slice(&config_bytes).map_err(|source| RegistryError::Config {
                reference: reference.to_string(),
                source,
            })?;
        if config.rootfs.diff_ids.len() != manifest.layers.len() {
            return Err(RegistryError::LayerCount {
                reference: reference.to_string(),
                layers: manifest.layers.len(),
                diff_ids: config.rootfs.diff_ids.len(),
            });
        }
        Ok(ResolvedImage {
            source: reference.clone(),
            manifest_digest: fetched.digest,
            manifest_media_type: manifest.media_type().to_string(),
            manifest_bytes: fetched.bytes,
            manifest,
            config_bytes,
            config,
            index_digest,
        })
    }

    /// Fetch and verify a config blob (at most [`CONFIG_LIMIT`] bytes).
    async fn get_config(
        &self,
        reference: &Reference,
        descriptor: &Descriptor,
    ) -> Result<Vec<u8>, RegistryError> {
        if descriptor.size > CONFIG_LIMIT {
            return Err(RegistryError::TooLarge {
                reference: reference.to_string(),
                what: "image config",
                limit: CONFIG_LIMIT,
            });
        }
        let registry = self.registry_of(reference)?;
        let repo = reference.repository();
        let url = self
            .base_url(registry)
            .await?
            .join(&format!("v2/{repo}/blobs/{}", descriptor.digest))
            .map_err(|_| RegistryError::Unqualified {
                reference: reference.to_string(),
            })?;
        let scopes = [format!("repository:{repo}:pull")];
        let resp = self
            .execute(registry, Some(repo), &scopes, Method::GET, url, &mut Some)
            .await?;
        let resp = self
            .check(registry, Subject::Blob(reference, &descriptor.digest), resp)
            .await?;
        let bytes = read_limited(
            resp,
            CONFIG_LIMIT,
            reference,
            "image config",
            self.options().timeout,
        )
        .await?;
        verify_digest(&descriptor.digest, &bytes, reference, "image config")?;
        Ok(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const INDEX: &str = r#"{
      "schemaVersion": 2,
      "mediaType": "application/vnd.oci.image.index.v1+json",
      "manifests": [
        {"mediaType": "application/vnd.oci.image.manifest.v1+json", "size": 1,
         "digest": "sha256:1111111111111111111111111111111111111111111111111111111111111111",
         "platform": {"architecture": "amd64", "os": "linux"}},
        {"mediaType": "application/vnd.oci.image.manifest.v1+json", "size": 1,
         "digest": "sha256:2222222222222222222222222222222222222222222222222222222222222222",
         "platform": {"architecture": "arm", "os": "linux", "variant": "v7"}},
        {"mediaType": "application/vnd.oci.image.manifest.v1+json", "size": 1,
         "digest": "sha256:3333333333333333333333333333333333333333333333333333333333333333",
         "platform": {"architecture": "arm64", "os": "linux", "variant": "v8"}},
        {"mediaType": "application/vnd.oci.image.manifest.v1+json", "size": 1,
         "digest": "sha256:4444444444444444444444444444444444444444444444444444444444444444",
         "platform": {"architecture": "unknown", "os": "unknown"}}
      ]
    }"#;

    fn platform(s: &str) -> Platform {
        Platform::from_flags(Some(s), None, None, None).unwrap()
    }

    #[test]
    fn picks_the_matching_platform() {
        let index: Index = serde_json::from_str(INDEX).unwrap();
        let pick = |p: &str| {
            select_platform(&index, &platform(p)).map(|d| d.digest.hex()[..1].to_string())
        };
        assert_eq!(pick("linux/amd64").unwrap(), "1");
        assert_eq!(pick("linux/arm/v7").unwrap(), "2");
        assert_eq!(pick("linux/arm64").unwrap(), "3");
        assert_eq!(
            pick("linux/s390x").unwrap_err(),
            "linux/amd64, linux/arm/v7, linux/arm64/v8"
        );
    }

    #[test]
    fn rejects_unknown_layer_types() {
        let r = Reference::parse("127.0.0.1:5000/x").unwrap();
        let mut m: Manifest = serde_json::from_str(
            r#"{"schemaVersion":2,"config":{"mediaType":"application/vnd.oci.image.config.v1+json","size":1,
            "digest":"sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
            "layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","size":1,
            "digest":"sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"}]}"#,
        )
        .unwrap();
        check_manifest(&r, &m).unwrap();
        m.layers[0].media_type = "application/x-helm".into();
        let e = check_manifest(&r, &m).unwrap_err().to_string();
        assert!(e.contains("`application/x-helm`"), "{e}");
    }
}
