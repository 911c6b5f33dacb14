//! Blob downloads as a stream that verifies size and digest while the bytes pass through, and resumes
//! with `Range` requests after a dropped connection.
use std::pin::Pin;

use bytes::Bytes;
use futures_util::Stream;
use reqwest::header::{CONTENT_RANGE, RANGE};
use reqwest::{Method, Response, StatusCode};
use sha2::Digest as _;

use super::client::{Client, backoff};
use super::error::RegistryError;
use super::response::{Subject, header_str};
use crate::oci::{Descriptor, Digest, Reference};

/// The bytes of a blob. Every item is verified data except possibly the last, which is an error when the
/// size or digest turned out wrong; the stream only ends (`None`) cleanly after the digest matched.
pub type BlobStream = Pin<Box<dyn Stream<Item = Result<Bytes, RegistryError>> + Send>>;

/// sha256 or sha512, whichever the expected digest uses.
pub(crate) enum Hasher {
    Sha256(sha2::Sha256),
    Sha512(sha2::Sha512),
}

impl Hasher {
    pub(crate) fn for_digest(d: &Digest) -> Hasher {
        if d.is_sha256() {
            Hasher::Sha256(sha2::Sha256::new())
        } else {
            Hasher::Sha512(sha2::Sha512::new())
        }
    }
    pub(crate) fn update(&mut self, data: &[u8]) {
        match self {
            Hasher::Sha256(h) => h.update(data),
            Hasher::Sha512(h) => h.update(data),
        }
    }
    /// The hex digest.
    pub(crate) fn finish(self) -> String {
        match self {
            Hasher::Sha256(h) => hex::encode(h.finalize()),
            Hasher::Sha512(h) => hex::encode(h.finalize()),
        }
    }
}

/// Checks a byte sequence against a descriptor as it arrives.
pub(crate) struct Verifier {
    reference: Reference,
    expected: Descriptor,
    hasher: Hasher,
    received: u64,
}

impl Verifier {
    pub(crate) fn new(reference: &Reference, expected: &Descriptor) -> Verifier {
        Verifier {
            reference: reference.clone(),
            hasher: Hasher::for_digest(&expected.digest),
            expected: expected.clone(),
            received: 0,
        }
    }

    fn size_error(&self, actual: u64) -> RegistryError {
        RegistryError::SizeMismatch {
            reference: self.reference.to_string(),
            digest: self.expected.digest.clone(),
            expected: self.expected.size,
            actual,
        }
    }

    /// Account for a chunk; an error when it takes the blob past its size.
    pub(crate) fn update(&mut self, chunk: &[u8]) -> Result<(), RegistryError> {
        let total = self.received + chunk.len() as u64;
        if total > self.expected.size {
            return Err(self.size_error(total));
        }
        self.hasher.update(chunk);
        self.received = total;
        Ok(())
    }

    /// Check the complete blob.
    pub(crate) fn finish(self) -> Result<(), RegistryError> {
        if self.received != self.expected.size {
            return Err(self.size_error(self.received));
        }
        let d = &self.expected.digest;
        let actual = self.hasher.finish();
        if actual != d.hex() {
            return Err(RegistryError::DigestMismatch {
                reference: self.reference.to_string(),
                what: "blob",
                expected: d.to_string(),
                actual: format!("{}:{actual}", d.algorithm()),
            });
        }
        Ok(())
    }
}

struct Download {
    client: Client,
    reference: Reference,
    /// The digest in the URL; equal to the descriptor's except in tests of the verification.
    url_digest: Digest,
    verifier: Option<Verifier>,
    resp: Option<Response>,
    /// Bytes to drop from the start of the current response (a resumed request answered with 200).
    skip: u64,
    resumes: u32,
}

impl Client {
    /// Download a blob as a verified stream (see [`BlobStream`]).
    pub async fn get_blob(
        &self,
        reference: &Reference,
        descriptor: &Descriptor,
    ) -> Result<BlobStream, RegistryError> {
        self.get_blob_from(reference, &descriptor.digest, descriptor)
            .await
    }

    pub(crate) async fn get_blob_from(
        &self,
        reference: &Reference,
        url_digest: &Digest,
        descriptor: &Descriptor,
    ) -> Result<BlobStream, RegistryError> {
        tracing::debug!(reference = %reference, digest = %descriptor.digest, size = descriptor.size, "fetching blob");
        let resp = self.blob_request(reference, url_digest, 0).await?;
        check_announced(reference, descriptor, &resp, 0)?;
        let state = Download {
            client: self.clone(),
            reference: reference.clone(),
            url_digest: url_digest.clone(),
            verifier: Some(Verifier::new(reference, descriptor)),
            resp: Some(resp),
            skip: 0,
            resumes: 0,
        };
        Ok(Box::pin(futures_util::stream::unfold(
            state,
            |mut s| async move {
                let item = s.next_item().await?;
                Some((item, s))
            },
        )))
    }

    /// GET a blob from `offset` on; redirects are followed by reqwest, which drops `Authorization` when the
    /// redirect leaves the registry's host.
    async fn blob_request(
        &self,
        reference: &Reference,
        digest: &Digest,
        offset: u64,
    ) -> Result<Response, RegistryError> {
        let registry = self.registry_of(reference)?;
        let repo = reference.repository();
        let url = self
            .base_url(registry)
            .await?
            .join(&format!("v2/{repo}/blobs/{digest}"))
            .map_err(|_| RegistryError::Unqualified {
                reference: reference.to_string(),
            })?;
        let scopes = [format!("repository:{repo}:pull")];
        let resp = self
            .execute(registry, Some(repo), &scopes, Method::GET, url, &mut |rb| {
                Some(if offset > 0 {
                    rb.header(RANGE, format!("bytes={offset}-"))
                } else {
                    rb
                })
            })
            .await?;
        self.check(registry, Subject::Blob(reference, digest), resp)
            .await
    }
}

impl Download {
    async fn next_item(&mut self) -> Option<Result<Bytes, RegistryError>> {
        loop {
            let verifier = self.verifier.as_mut()?;
            let Some(resp) = self.resp.as_mut() else {
                match self.reopen().await {
                    Ok(()) => continue,
                    Err(e) => return self.fail(e),
                }
            };
            match resp.chunk().await {
                Ok(Some(mut chunk)) => {
                    if self.skip > 0 {
                        let n = self.skip.min(chunk.len() as u64);
                        self.skip -= n;
                        chunk = chunk.slice(n as usize..);
                        if chunk.is_empty() {
                            continue;
                        }
                    }
                    return match verifier.update(&chunk) {
                        Ok(()) => Some(Ok(chunk)),
                        Err(e) => self.fail(e),
                    };
                }
                Ok(None) => {
                    let v = self.verifier.take()?;
                    return v.finish().err().map(Err);
                }
                Err(source) => {
                    let received = verifier.received;
                    if self.resumes >= self.client.options().retries {
                        let e = if source.is_timeout() {
                            RegistryError::Stalled {
                                registry: self.reference.registry().unwrap_or_default().to_string(),
                                reference: self.reference.to_string(),
                                digest: verifier.expected.digest.clone(),
                                received,
                                expected: verifier.expected.size,
                                seconds: self.client.options().timeout.as_secs_f64(),
                            }
                        } else {
                            RegistryError::Interrupted {
                                reference: self.reference.to_string(),
                                digest: verifier.expected.digest.clone(),
                                received,
                                source,
                            }
                        };
                        return self.fail(e);
                    }
                    tracing::debug!(reference = %self.reference, received, error = %source, "blob download interrupted; resuming");
                    tokio::time::sleep(backoff(self.resumes)).await;
                    self.resumes += 1;
                    self.resp = None;
                }
            }
        }
    }

    fn fail(&mut self, e: RegistryError) -> Option<Result<Bytes, RegistryError>> {
        self.verifier = None;
        self.resp = None;
        Some(Err(e))
    }

    /// Ask again from where the stream stopped: a 206 must start at that offset; a 200 is the whole blob,
    /// whose first part is skipped.
    async fn reopen(&mut self) -> Result<(), RegistryError> {
        let offset = self.verifier.as_ref().map_or(0, |v| v.received);
        let resp = self
            .client
            .blob_request(&self.reference, &self.url_digest, offset)
            .await?;
        self.skip = match resp.status() {
            StatusCode::PARTIAL_CONTENT => {
                let range = header_str(resp.headers(), CONTENT_RANGE.as_str()).unwrap_or_default();
                if content_range_start(range) != Some(offset) {
                    return Err(RegistryError::Header {
                        registry: self.reference.registry().unwrap_or_default().to_string(),
                        header: "Content-Range",
                        value: range.to_string(),
                    });
                }
                0
            }
            _ => offset,
        };
        if let Some(v) = &self.verifier {
            check_announced(&self.reference, &v.expected, &resp, offset - self.skip)?;
        }
        self.resp = Some(resp);
        Ok(())
    }
}

/// Refuse a response whose `Content-Length` already says it carries more than the descriptor's size
/// (`start`: where the response begins in the blob), before any of it is read.
fn check_announced(
    reference: &Reference,
    expected: &Descriptor,
    resp: &Response,
    start: u64,
) -> Result<(), RegistryError> {
    match resp.content_length() {
        Some(n) if start.saturating_add(n) > expected.size => Err(RegistryError::Oversized {
            registry: reference.registry().unwrap_or_default().to_string(),
            reference: reference.to_string(),
            digest: expected.digest.clone(),
            announced: start.saturating_add(n),
            expected: expected.size,
        }),
        _ => Ok(()),
    }
}

/// The first byte position of `bytes START-END/TOTAL`.
fn content_range_start(v: &str) -> Option<u64> {
    v.trim()
        .strip_prefix("bytes ")?
        .split('-')
        .next()?
        .trim()
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn desc(data: &[u8]) -> Descriptor {
        Descriptor {
            media_type: String::new(),
            digest: Digest::sha256_of(data),
            size: data.len() as u64,
            platform: None,
            urls: vec![],
            annotations: Default::default(),
        }
    }

    fn r() -> Reference {
        Reference::parse("127.0.0.1:5000/x").unwrap()
    }

    #[test]
    fn verifier_accepts_matching_chunks() {
        let mut v = Verifier::new(&r(), &desc(b"hello world"));
        v.update(b"hello ").unwrap();
        v.update(b"world").unwrap();
        v.finish().unwrap();
    }

    #[test]
    fn verifier_detects_wrong_digest_and_size() {
        let mut d = desc(b"hello world");
        d.digest = Digest::sha256_of(b"hello there");
        let mut v = Verifier::new(&r(), &d);
        v.update(b"hello world").unwrap();
        assert!(matches!(
            v.finish(),
            Err(RegistryError::DigestMismatch { .. })
        ));
        let mut v = Verifier::new(&r(), &desc(b"short"));
        assert!(matches!(
            v.update(b"longer!"),
            Err(RegistryError::SizeMismatch { actual: 7, .. })
        ));
        let v = Verifier::new(&r(), &desc(b"short"));
        assert!(matches!(
            v.finish(),
            Err(RegistryError::SizeMismatch { actual: 0, .. })
        ));
    }

    #[test]
    fn content_range() {
        assert_eq!(content_range_start("bytes 100-199/200"), Some(100));
        assert_eq!(content_range_start("bytes */200"), None);
    }
}
