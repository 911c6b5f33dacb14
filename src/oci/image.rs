//! Manifests, indexes and image configs (OCI image spec and Docker schema 2), as serde types.
//! Unknown fields are ignored on input; configs and manifests are stored as the raw bytes that were
//! received (their digests are their identities), so these types are for reading, and for writing
//! only the documents roost makes itself.
use std::collections::BTreeMap;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::{Digest, Platform};

pub mod media {
    pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
    pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
    pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
    pub const OCI_LAYER: &str = "application/vnd.oci.image.layer.v1.tar";
    pub const OCI_LAYER_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
    pub const OCI_LAYER_ZSTD: &str = "application/vnd.oci.image.layer.v1.tar+zstd";
    pub const OCI_LAYER_NONDIST_GZIP: &str =
        "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip";
    pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
    pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
    pub const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
    pub const DOCKER_LAYER_GZIP: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";
    pub const DOCKER_LAYER_FOREIGN: &str =
        "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip";
    pub const DOCKER_SCHEMA1_SIGNED: &str =
        "application/vnd.docker.distribution.manifest.v1+prettyjws";

    /// The `Accept` header for manifest requests, most preferred first.
    pub const MANIFEST_ACCEPT: &str = "application/vnd.oci.image.index.v1+json, \
        application/vnd.docker.distribution.manifest.list.v2+json, \
        application/vnd.oci.image.manifest.v1+json, \
        application/vnd.docker.distribution.manifest.v2+json";

    /// Whether a layer media type is one roost can unpack (tar, gzip or zstd; the content is sniffed anyway).
    pub fn is_layer(m: &str) -> bool {
        matches!(
            m,
            OCI_LAYER
                | OCI_LAYER_GZIP
                | OCI_LAYER_ZSTD
                | OCI_LAYER_NONDIST_GZIP
                | DOCKER_LAYER_GZIP
                | DOCKER_LAYER_FOREIGN
        ) || m == "application/vnd.oci.image.layer.nondistributable.v1.tar"
            || m == "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd"
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    #[serde(default)]
    pub media_type: String,
    pub digest: Digest,
    pub size: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<Platform>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub urls: Vec<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Manifest {
    pub schema_version: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    pub config: Descriptor,
    #[serde(default)]
    pub layers: Vec<Descriptor>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Index {
    pub schema_version: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    pub manifests: Vec<Descriptor>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

/// What a manifest document turned out to be.
#[derive(Debug, Clone)]
// Short-lived and matched right away: boxing the larger variant buys nothing.
#[allow(clippy::large_enum_variant)]
pub enum ManifestKind {
    Image(Manifest),
    Index(Index),
}

#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    #[error("unsupported manifest media type `{0}`")]
    MediaType(String),
    #[error(
        "docker schema 1 manifests are not supported: the registry must serve schema 2 or OCI manifests"
    )]
    Schema1,
    #[error("malformed manifest")]
    Json(#[from] serde_json::Error),
}

impl ManifestKind {
    /// Decode a manifest document. `content_type` is the registry's Content-Type (may be empty or generic),
    /// the document's own `mediaType` and shape decide when it is not specific.
    pub fn parse(content_type: &str, bytes: &[u8]) -> Result<ManifestKind, ManifestError> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Probe {
            #[serde(default)]
            media_type: Option<String>,
            #[serde(default)]
            schema_version: Option<u32>,
            #[serde(default)]
            manifests: Option<serde_json::Value>,
        }
        let probe: Probe = serde_json::from_slice(bytes)?;
        let ct = content_type.split(';').next().unwrap_or("").trim();
        let kind = match probe
            .media_type
            .as_deref()
            .filter(|m| !m.is_empty())
            .unwrap_or(ct)
        {
            media::OCI_INDEX | media::DOCKER_LIST => "index",
            media::OCI_MANIFEST | media::DOCKER_MANIFEST => "image",
            media::DOCKER_SCHEMA1_SIGNED
            | "application/vnd.docker.distribution.manifest.v1+json" => {
                return Err(ManifestError::Schema1);
            }
            _ if probe.schema_version == Some(1) => return Err(ManifestError::Schema1),
            _ if probe.manifests.is_some() => "index",
            "" | "application/json" | "text/plain" | "application/octet-stream" => "image",
            other => return Err(ManifestError::MediaType(other.to_string())),
        };
        Ok(if kind == "index" {
            ManifestKind::Index(serde_json::from_slice(bytes)?)
        } else {
            ManifestKind::Image(serde_json::from_slice(bytes)?)
        })
    }
}

impl Manifest {
    /// The media type, defaulting to OCI's when the document does not say.
    pub fn media_type(&self) -> &str {
        self.media_type.as_deref().unwrap_or(media::OCI_MANIFEST)
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct RootFs {
    #[serde(rename = "type", default)]
    pub kind: String,
    #[serde(default)]
    pub diff_ids: Vec<Digest>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct History {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub empty_layer: bool,
}

/// The process defaults of an image (the config's `config` object), with Docker's capitalised keys.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct ContainerConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exposed_ports: Option<BTreeMap<String, serde_json::Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entrypoint: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cmd: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volumes: Option<BTreeMap<String, serde_json::Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub working_dir: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<BTreeMap<String, String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_signal: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub healthcheck: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_build: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shell: Option<Vec<String>>,
}

/// The image config blob (`application/vnd.oci.image.config.v1+json`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ImageConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    #[serde(default)]
    pub architecture: String,
    #[serde(default)]
    pub os: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<ContainerConfig>,
    #[serde(default)]
    pub rootfs: RootFs,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub history: Vec<History>,
}

impl ImageConfig {
    pub fn labels(&self) -> BTreeMap<String, String> {
        self.config
            .as_ref()
            .and_then(|c| c.labels.clone())
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_kinds() {
        let idx = br#"{"schemaVersion":2,"manifests":[]}"#;
        assert!(matches!(
            ManifestKind::parse("", idx).unwrap(),
            ManifestKind::Index(_)
        ));
        let m = br#"{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json",
            "config":{"mediaType":"application/vnd.docker.container.image.v1+json","size":1,
            "digest":"sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},"layers":[]}"#;
        assert!(matches!(
            ManifestKind::parse("application/json", m).unwrap(),
            ManifestKind::Image(_)
        ));
        assert!(matches!(
            ManifestKind::parse("", br#"{"schemaVersion":1}"#),
            Err(ManifestError::Schema1)
        ));
        assert!(matches!(
            ManifestKind::parse("application/x-weird", br#"{"schemaVersion":2}"#),
            Err(ManifestError::MediaType(_))
        ));
    }

    #[test]
    fn config_reads_docker_keys() {
        let c: ImageConfig = serde_json::from_str(
            r#"{"architecture":"amd64","os":"linux","created":"2024-01-02T03:04:05.123456789Z",
            "config":{"Env":["PATH=/bin"],"Cmd":["sh"],"Labels":{"a":"b"}},
            "rootfs":{"type":"layers","diff_ids":[]},"history":[{"created_by":"x","empty_layer":true}]}"#,
        )
        .unwrap();
        assert_eq!(c.config.as_ref().unwrap().cmd.as_ref().unwrap()[0], "sh");
        assert_eq!(c.labels()["a"], "b");
        assert!(c.history[0].empty_layer);
    }

    mod properties {
        use proptest::prelude::*;

        use super::super::{ImageConfig, ManifestKind};

        /// JSON-shaped text built from the manifest's own vocabulary, so the parser gets past `{`.
        fn manifestish() -> impl Strategy<Value = String> {
            let token = prop_oneof![
                Just("{".to_string()),
                Just("}".to_string()),
                Just("[".to_string()),
                Just("]".to_string()),
                Just(",".to_string()),
                Just(":".to_string()),
                Just("\"schemaVersion\"".to_string()),
                Just("\"mediaType\"".to_string()),
                Just("\"manifests\"".to_string()),
                Just("\"layers\"".to_string()),
                Just("\"config\"".to_string()),
                Just("\"digest\"".to_string()),
                Just("\"size\"".to_string()),
                Just("\"platform\"".to_string()),
                Just("\"application/vnd.oci.image.manifest.v1+json\"".to_string()),
                Just("\"application/vnd.docker.distribution.manifest.list.v2+json\"".to_string()),
                Just(
                    "\"sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\""
                        .to_string()
                ),
                Just("2".to_string()),
                Just("1".to_string()),
                Just("-1".to_string()),
                Just("18446744073709551616".to_string()),
                Just("null".to_string()),
                "\"[ -~]{0,12}\"",
            ];
            proptest::collection::vec(token, 0..60).prop_map(|t| t.concat())
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(500))]

            #[test]
            fn manifests_parse_or_fail_cleanly(
                ct in prop_oneof![Just(String::new()), "[ -~]{0,40}", Just("application/vnd.oci.image.index.v1+json".to_string())],
                body in prop_oneof![manifestish(), "\\PC{0,200}"],
            ) {
                let _ = ManifestKind::parse(&ct, body.as_bytes());
                let _ = serde_json::from_str::<ImageConfig>(&body);
            }

            #[test]
            fn arbitrary_bytes_never_panic(b in proptest::collection::vec(any::<u8>(), 0..400)) {
                let _ = ManifestKind::parse("", &b);
                let _ = serde_json::from_slice::<ImageConfig>(&b);
            }
        }
    }
}
