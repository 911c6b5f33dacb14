//! The push side: blob existence checks, cross-repository mounts, monolithic uploads and manifests.
use bytes::Bytes;
use reqwest::header::{CONTENT_LENGTH, CONTENT_TYPE, LOCATION};
use reqwest::{Method, Response, StatusCode, Url};

use super::client::Client;
use super::error::RegistryError;
use super::response::{Subject, header_str, verify_digest};
use crate::oci::{Digest, Reference};

/// The body of a blob upload: bytes can be re-sent on retry, a stream only once.
pub enum UploadBody {
    Bytes(Bytes),
    Stream(reqwest::Body),
}

impl From<Vec<u8>> for UploadBody {
    fn from(v: Vec<u8>) -> Self {
        UploadBody::Bytes(v.into())
    }
}

impl From<Bytes> for UploadBody {
    fn from(b: Bytes) -> Self {
        UploadBody::Bytes(b)
    }
}

impl From<reqwest::Body> for UploadBody {
    fn from(b: reqwest::Body) -> Self {
        UploadBody::Stream(b)
    }
}

/// Where to PUT the blob: the `Location` of an upload session (relative to the URL that answered, or
/// absolute), with `digest=` added to whatever query it already has.
/// `None` when the `Location` is not a URL reference.
pub fn upload_url(answered: &Url, location: &str, digest: &Digest) -> Option<Url> {
    let mut url = answered.join(location).ok()?;
    url.query_pairs_mut()
        .append_pair("digest", &digest.to_string());
    Some(url)
}

fn push_scope(repo: &str) -> String {
    format!("repository:{repo}:pull,push")
}

impl Client {
    async fn push_url(
        &self,
        reference: &Reference,
        path: &str,
    ) -> Result<(String, Url), RegistryError> {
        let registry = self.registry_of(reference)?.to_string();
        let url = self
            .base_url(&registry)
            .await?
            .join(&format!("v2/{}/{path}", reference.repository()))
            .map_err(|_| RegistryError::Unqualified {
                reference: reference.to_string(),
            })?;
        Ok((registry, url))
    }

    fn location(&self, registry: &str, resp: &Response) -> Result<String, RegistryError> {
        header_str(resp.headers(), LOCATION.as_str())
            .map(str::to_string)
            .ok_or_else(|| RegistryError::Header {
                registry: registry.to_string(),
                header: "Location",
                value: String::new(),
            })
    }

    /// The size of a blob when the repository has it.
    pub async fn blob_exists(
        &self,
        reference: &Reference,
        digest: &Digest,
    ) -> Result<Option<u64>, RegistryError> {
        let (registry, url) = self.push_url(reference, &format!("blobs/{digest}")).await?;
        let repo = reference.repository();
        let resp = self
            .execute(
                &registry,
                Some(repo),
                &[push_scope(repo)],
                Method::HEAD,
                url,
                &mut Some,
            )
            .await?;
        if resp.status() == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        let resp = self
            .check(&registry, Subject::Blob(reference, digest), resp)
            .await?;
        Ok(Some(
            header_str(resp.headers(), CONTENT_LENGTH.as_str())
                .and_then(|v| v.parse().ok())
                .unwrap_or(0),
        ))
    }

    /// POST to the uploads endpoint (a plain session, or a cross-repository mount): the checked answer.
    async fn open_upload(
        &self,
        registry: &str,
        reference: &Reference,
        digest: &Digest,
        scopes: &[String],
        url: Url,
    ) -> Result<Response, RegistryError> {
        let repo = reference.repository();
        let resp = self
            .execute(registry, Some(repo), scopes, Method::POST, url, &mut |rb| {
                Some(rb.header(CONTENT_LENGTH, "0"))
            })
            .await?;
        self.check(registry, Subject::Blob(reference, digest), resp)
            .await
    }

    /// Ask the registry to link a blob from another repository of the same registry. `false` when it started
    /// an upload session instead (the session is cancelled; upload the blob then).
    pub async fn mount_blob(
        &self,
        reference: &Reference,
        digest: &Digest,
        from_repository: &str,
    ) -> Result<bool, RegistryError> {
        let (registry, mut url) = self.push_url(reference, "blobs/uploads/").await?;
        url.query_pairs_mut()
            .append_pair("mount", &digest.to_string())
            .append_pair("from", from_repository);
        let repo = reference.repository();
        let scopes = [
            push_scope(repo),
            format!("repository:{from_repository}:pull"),
        ];
        let resp = self
            .open_upload(&registry, reference, digest, &scopes, url)
            .await?;
        if resp.status() == StatusCode::CREATED {
            tracing::debug!(reference = %reference, digest = %digest, from = from_repository, "mounted blob");
            return Ok(true);
        }
        if let Ok(loc) = self.location(&registry, &resp)
            && let Ok(session) = resp.url().join(&loc)
        {
            // Best effort: an abandoned session expires on its own.
            let cancelled = self
                .execute(
                    &registry,
                    Some(repo),
                    &[push_scope(repo)],
                    Method::DELETE,
                    session,
                    &mut Some,
                )
                .await;
            tracing::debug!(
                ok = cancelled.is_ok(),
                "cancelled upload session after a refused mount"
            );
        }
        Ok(false)
    }

    /// Upload a blob in one PUT after opening a session.
    pub async fn upload_blob(
        &self,
        reference: &Reference,
        digest: &Digest,
        size: u64,
        body: impl Into<UploadBody>,
    ) -> Result<(), RegistryError> {
        let (registry, url) = self.push_url(reference, "blobs/uploads/").await?;
        let repo = reference.repository();
        let scopes = [push_scope(repo)];
        let resp = self
            .open_upload(&registry, reference, digest, &scopes, url)
            .await?;
        let location = self.location(&registry, &resp)?;
        let put =
            upload_url(resp.url(), &location, digest).ok_or_else(|| RegistryError::Header {
                registry: registry.clone(),
                header: "Location",
                value: location.clone(),
            })?;
        tracing::debug!(reference = %reference, digest = %digest, size, "uploading blob");
        let mut body = Some(body.into());
        let mut attach = move |rb: reqwest::RequestBuilder| {
            let rb = rb
                .header(CONTENT_TYPE, "application/octet-stream")
                .header(CONTENT_LENGTH, size.to_string());
            match body.as_ref()? {
                UploadBody::Bytes(b) => Some(rb.body(b.clone())),
                UploadBody::Stream(_) => match body.take() {
                    Some(UploadBody::Stream(s)) => Some(rb.body(s)),
                    _ => None,
                },
            }
        };
        let resp = self
            .execute(
                &registry,
                Some(repo),
                &scopes,
                Method::PUT,
                put,
                &mut attach,
            )
            .await?;
        let resp = self
            .check(&registry, Subject::Blob(reference, digest), resp)
            .await?;
        if resp.status() != StatusCode::CREATED {
            tracing::debug!(status = %resp.status(), "blob upload answered with an unusual success status");
        }
        Ok(())
    }

    /// Store a manifest under the reference's tag (or digest); returns its digest.
    pub async fn put_manifest(
        &self,
        reference: &Reference,
        media_type: &str,
        bytes: &[u8],
    ) -> Result<Digest, RegistryError> {
        let digest = match reference.digest() {
            Some(pinned) => {
                verify_digest(pinned, bytes, reference, "manifest")?;
                pinned.clone()
            }
            None => Digest::sha256_of(bytes),
        };
        let (registry, url) = self
            .push_url(
                reference,
                &format!("manifests/{}", reference.manifest_ref()),
            )
            .await?;
        let repo = reference.repository();
        let body = Bytes::copy_from_slice(bytes);
        let media_type = media_type.to_string();
        tracing::debug!(reference = %reference, digest = %digest, "pushing manifest");
        let resp = self
            .execute(
                &registry,
                Some(repo),
                &[push_scope(repo)],
                Method::PUT,
                url,
                &mut |rb| {
                    Some(
                        rb.header(CONTENT_TYPE, media_type.as_str())
                            .body(body.clone()),
                    )
                },
            )
            .await?;
        let resp = self
            .check(&registry, Subject::Manifest(reference), resp)
            .await?;
        if let Some(announced) = header_str(resp.headers(), "docker-content-digest")
            .and_then(|s| s.parse::<Digest>().ok())
            && announced.algorithm() == digest.algorithm()
            && announced != digest
        {
            return Err(RegistryError::DigestMismatch {
                reference: reference.to_string(),
                what: "pushed manifest",
                expected: digest.to_string(),
                actual: announced.to_string(),
            });
        }
        Ok(digest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn location_resolution() {
        let d: Digest = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
            .parse()
            .unwrap();
        let base = Url::parse("http://127.0.0.1:5000/v2/a/b/blobs/uploads/").unwrap();
        let u = upload_url(&base, "/v2/a/b/blobs/uploads/uuid-1?_state=xyz", &d).unwrap();
        assert_eq!(
            u.as_str(),
            "http://127.0.0.1:5000/v2/a/b/blobs/uploads/uuid-1?_state=xyz&digest=sha256%3Ae3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        let u = upload_url(&base, "https://storage.example.com/up/1", &d).unwrap();
        assert_eq!(u.host_str(), Some("storage.example.com"));
        assert!(u.query().unwrap().starts_with("digest=sha256"));
        let u = upload_url(&base, "uuid-2", &d).unwrap();
        assert_eq!(u.path(), "/v2/a/b/blobs/uploads/uuid-2");
    }
}
