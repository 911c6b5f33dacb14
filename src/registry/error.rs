//! Errors of the registry module: reading registries.conf and auth files, and talking to registries.
use std::path::PathBuf;

use crate::oci::{Digest, ManifestError};

/// Loading or querying registries.conf.
#[derive(Debug, thiserror::Error)]
pub enum ConfError {
    #[error("failed to read registries configuration `{}`", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("failed to parse registries configuration `{}`", path.display())]
    Parse {
        path: PathBuf,
        #[source]
        source: Box<toml::de::Error>,
    },
    #[error("invalid alias `{alias}` in `{}`: `{target}` is not a fully-qualified image reference", path.display())]
    Alias {
        path: PathBuf,
        alias: String,
        target: String,
    },
    #[error(
        "short-name `{name}` did not resolve to an alias and no unqualified-search registries are defined in `{files}`"
    )]
    ShortName { name: String, files: String },
}

/// Reading or writing auth.json files.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("failed to read auth file `{}`", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("failed to parse auth file `{}`", path.display())]
    Parse {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("invalid credentials for `{key}` in auth file `{}`: the `auth` field is not base64 of `user:password`", path.display())]
    Decode { path: PathBuf, key: String },
    #[error("failed to write auth file `{}`", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Talking to a registry.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("failed to set up the HTTP client")]
    Client(#[source] reqwest::Error),
    #[error("image reference `{reference}` has no registry: resolve short names first")]
    Unqualified { reference: String },
    #[error("upload to registry `{registry}` cannot be retried: the body was a one-shot stream")]
    NotReplayable { registry: String },
    #[error("registry `{registry}` is blocked in registries.conf")]
    Blocked { registry: String },
    #[error("failed to connect to registry `{registry}`")]
    Connect {
        registry: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("TLS handshake with registry `{registry}` failed")]
    Tls {
        registry: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("request to registry `{registry}` failed")]
    Request {
        registry: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("registry `{registry}` did not answer within {seconds} s for `{url}`")]
    Timeout {
        registry: String,
        url: String,
        seconds: f64,
    },
    #[error(
        "registry `{registry}` sent nothing for {seconds} s while sending blob `{digest}` of `{reference}` (stalled after {received} of {expected} bytes)"
    )]
    Stalled {
        registry: String,
        reference: String,
        digest: Digest,
        received: u64,
        expected: u64,
        seconds: f64,
    },
    #[error(
        "registry `{registry}` announced {announced} bytes for blob `{digest}` of `{reference}`, whose descriptor says {expected}"
    )]
    Oversized {
        registry: String,
        reference: String,
        digest: Digest,
        announced: u64,
        expected: u64,
    },
    #[error("authentication required by registry `{registry}`")]
    AuthRequired { registry: String },
    #[error("access denied by registry `{registry}` for `{what}`")]
    Denied { registry: String, what: String },
    #[error("invalid username/password for registry `{registry}`")]
    InvalidCredentials { registry: String },
    #[error("registry `{registry}` sent an unsupported authentication challenge `{challenge}`")]
    Challenge { registry: String, challenge: String },
    #[error("failed to get a token from `{realm}` for registry `{registry}`: {why}")]
    Token {
        registry: String,
        realm: String,
        why: String,
    },
    #[error("manifest unknown: `{reference}`")]
    ManifestUnknown { reference: String },
    #[error("blob unknown: `{digest}` in `{reference}`")]
    BlobUnknown { reference: String, digest: Digest },
    #[error("registry `{registry}` answered {status} for `{url}`{}", message.as_deref().map(|m| format!(": {m}")).unwrap_or_default())]
    Status {
        registry: String,
        url: String,
        status: u16,
        message: Option<String>,
    },
    #[error("{what} from `{reference}` is larger than the limit of {limit} bytes")]
    TooLarge {
        reference: String,
        what: &'static str,
        limit: u64,
    },
    #[error("digest mismatch for {what} of `{reference}`: expected `{expected}`, got `{actual}`")]
    DigestMismatch {
        reference: String,
        what: &'static str,
        expected: String,
        actual: String,
    },
    #[error(
        "size mismatch for blob `{digest}` of `{reference}`: expected {expected} bytes, got {actual}"
    )]
    SizeMismatch {
        reference: String,
        digest: Digest,
        expected: u64,
        actual: u64,
    },
    #[error(
        "download of blob `{digest}` from `{reference}` was interrupted after {received} bytes"
    )]
    Interrupted {
        reference: String,
        digest: Digest,
        received: u64,
        #[source]
        source: reqwest::Error,
    },
    #[error("invalid manifest for `{reference}`")]
    Manifest {
        reference: String,
        #[source]
        source: ManifestError,
    },
    #[error("--cert-dir: {}: {why}", path.display())]
    CertDir { path: PathBuf, why: String },
    #[error("invalid tag list for `{reference}`")]
    TagList {
        reference: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("invalid image config for `{reference}`")]
    Config {
        reference: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("unexpected {what} media type `{media_type}` in `{reference}`")]
    MediaType {
        reference: String,
        what: &'static str,
        media_type: String,
    },
    #[error(
        "no image found in manifest list for `{reference}` matching platform `{wanted}` (available: {available})"
    )]
    NoPlatform {
        reference: String,
        wanted: String,
        available: String,
    },
    #[error("image `{reference}` has {layers} layers but its config lists {diff_ids} diff ids")]
    LayerCount {
        reference: String,
        layers: usize,
        diff_ids: usize,
    },
    #[error("registry `{registry}` sent an invalid `{header}` header `{value}`")]
    Header {
        registry: String,
        header: &'static str,
        value: String,
    },
    #[error("failed to read credentials for registry `{registry}`")]
    Auth {
        registry: String,
        #[source]
        source: AuthError,
    },
}

impl RegistryError {
    /// What the user can do about this error, if there is something specific.
    pub fn hint(&self) -> Option<String> {
        match self {
            RegistryError::AuthRequired { registry } | RegistryError::Denied { registry, .. } => {
                Some(format!(
                    "log in with `roost login {registry}` and check that the image name is right"
                ))
            }
            RegistryError::InvalidCredentials { registry } => Some(format!(
                "check the credentials, e.g. `roost login {registry}` or `--creds USER:PASSWORD`"
            )),
            RegistryError::Tls { .. } => Some(
                "if this is a plain-http or self-signed registry, use `--tls-verify=false` or mark it \
                 `insecure = true` in registries.conf"
                    .to_string(),
            ),
            RegistryError::Connect { .. } => {
                Some("check the registry name and that it is reachable".to_string())
            }
            RegistryError::ManifestUnknown { .. } => {
                Some("check the image name and tag".to_string())
            }
            RegistryError::Blocked { .. } => Some(
                "the registry is marked `blocked = true` in registries.conf".to_string(),
            ),
            RegistryError::NoPlatform { .. } => {
                Some("choose one of the available platforms with `--platform`".to_string())
            }
            RegistryError::Timeout { .. } | RegistryError::Stalled { .. } => Some(
                "check the network and the registry; on a slow link raise the timeout with \
                 `ROOST_REGISTRY_TIMEOUT=SECONDS` (default 30)"
                    .to_string(),
            ),
            RegistryError::DigestMismatch { .. }
            | RegistryError::Oversized { .. }
            | RegistryError::SizeMismatch { .. }
            | RegistryError::Interrupted { .. } => {
                Some("retry; if it persists the registry serves corrupt content".to_string())
            }
            _ => None,
        }
    }
}
