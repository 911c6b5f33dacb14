//! Turning responses into results: status mapping, size-capped bodies, digest checks.
use reqwest::header::HeaderMap;
use reqwest::{Response, StatusCode, Url};

use super::client::Client;
use super::error::RegistryError;
use crate::oci::{Digest, Reference};

/// What a request was about, to name it in errors.
pub(crate) enum Subject<'a> {
    Manifest(&'a Reference),
    Blob(&'a Reference, &'a Digest),
    Registry,
}

impl Client {
    /// Map an unsuccessful response to an error naming what was asked for.
    pub(crate) async fn check(
        &self,
        registry: &str,
        subject: Subject<'_>,
        resp: Response,
    ) -> Result<Response, RegistryError> {
        let status = resp.status();
        if status.is_success() {
            return Ok(resp);
        }
        let what = match &subject {
            Subject::Manifest(r) | Subject::Blob(r, _) => r.to_string(),
            Subject::Registry => registry.to_string(),
        };
        let basic = self.uses_basic(registry);
        Err(match (status, subject) {
            (StatusCode::UNAUTHORIZED, _) if basic => RegistryError::InvalidCredentials {
                registry: registry.to_string(),
            },
            (StatusCode::UNAUTHORIZED, _) => RegistryError::AuthRequired {
                registry: registry.to_string(),
            },
            (StatusCode::FORBIDDEN, _) => RegistryError::Denied {
                registry: registry.to_string(),
                what,
            },
            (StatusCode::NOT_FOUND, Subject::Manifest(r)) => RegistryError::ManifestUnknown {
                reference: r.to_string(),
            },
            (StatusCode::NOT_FOUND, Subject::Blob(r, d)) => RegistryError::BlobUnknown {
                reference: r.name(),
                digest: d.clone(),
            },
            _ => {
                let url = resp.url().to_string();
                let message = error_message(resp).await;
                RegistryError::Status {
                    registry: registry.to_string(),
                    url,
                    status: status.as_u16(),
                    message,
                }
            }
        })
    }
}

/// `host[:port]` of a URL, as registries are named.
pub(crate) fn authority(url: &Url) -> String {
    let host = url.host_str().unwrap_or_default();
    match url.port() {
        Some(p) => format!("{host}:{p}"),
        None => host.to_string(),
    }
}

pub(crate) fn header_str<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// The first `message` of a distribution-spec error body, if any.
async fn error_message(resp: Response) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Body {
        errors: Vec<Item>,
    }
    #[derive(serde::Deserialize)]
    struct Item {
        #[serde(default)]
        code: String,
        #[serde(default)]
        message: String,
    }
    let bytes = resp.bytes().await.ok()?;
    let body: Body = serde_json::from_slice(&bytes[..bytes.len().min(64 << 10)]).ok()?;
    body.errors.first().map(|e| {
        if e.message.is_empty() {
            e.code.to_lowercase()
        } else {
            e.message.clone()
        }
    })
}

/// Read a whole body, refusing more than `limit` bytes.
pub(crate) async fn read_limited(
    mut resp: Response,
    limit: u64,
    reference: &Reference,
    what: &'static str,
    timeout: std::time::Duration,
) -> Result<Vec<u8>, RegistryError> {
    let too_large = || RegistryError::TooLarge {
        reference: reference.to_string(),
        what,
        limit,
    };
    if resp.content_length().is_some_and(|n| n > limit) {
        return Err(too_large());
    }
    let registry = reference.registry().unwrap_or_default().to_string();
    let mut out = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(|source| {
        if source.is_timeout() {
            RegistryError::Timeout {
                registry: registry.clone(),
                url: source.url().map(|u| u.to_string()).unwrap_or_default(),
                seconds: timeout.as_secs_f64(),
            }
        } else {
            RegistryError::Request {
                registry: registry.clone(),
                source,
            }
        }
    })? {
        if (out.len() + chunk.len()) as u64 > limit {
            return Err(too_large());
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}

/// Check `bytes` against `expected` (sha256 or sha512).
pub(crate) fn verify_digest(
    expected: &Digest,
    bytes: &[u8],
    reference: &Reference,
    what: &'static str,
) -> Result<(), RegistryError> {
    let mut h = super::blob::Hasher::for_digest(expected);
    h.update(bytes);
    let actual = h.finish();
    if actual == expected.hex() {
        return Ok(());
    }
    Err(RegistryError::DigestMismatch {
        reference: reference.to_string(),
        what,
        expected: expected.to_string(),
        actual: format!("{}:{actual}", expected.algorithm()),
    })
}
