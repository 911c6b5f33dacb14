//! ADD of an HTTP(S) URL: download into staging, hashing as it arrives. The network runtime exists
//! only inside [`fetch`] (no thread may outlive it: RUN steps clone containers).
use super::BuildError;
use std::io::Write;

use futures_util::StreamExt;

use crate::engine::{Ctx, EngineError};
use crate::oci::{Digest, Sha256Writer};

pub(super) struct Fetched {
    pub file: std::fs::File,
    pub digest: Digest,
    /// The file name: the last element of the URL's path.
    pub name: String,
    /// `Last-Modified`, seconds since the epoch.
    pub mtime: Option<i64>,
}

fn failed(url: &str, why: impl std::fmt::Display) -> EngineError {
    BuildError::Fetch {
        url: url.to_string(),
        why: why.to_string(),
    }
    .into()
}

pub(super) fn fetch(
    ctx: &Ctx,
    url: &str,
    tls_verify: Option<bool>,
) -> Result<Fetched, EngineError> {
    let parsed = reqwest::Url::parse(url).map_err(|e| failed(url, e))?;
    let host = parsed.host_str().unwrap_or_default().to_string();
    let name = parsed
        .path_segments()
        .and_then(|mut s| s.next_back().map(str::to_string))
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "__unnamed__".to_string());
    let tmp_dir = ctx.paths.data.join("tmp");
    let mut file = tempfile::tempfile_in(&tmp_dir)
        .map_err(|e| EngineError::io("create a temporary file in", &tmp_dir, e))?;
    let (runtime, client) = crate::engine::image::registry_client(
        ctx,
        tls_verify,
        None,
        crate::engine::image::Retry::NONE,
        None,
    )?;
    let http = client.http_for(&host).clone();
    let (digest, mtime) = runtime.block_on(async {
        let resp = http
            .get(parsed.clone())
            .send()
            .await
            .map_err(|e| failed(url, e))?;
        if !resp.status().is_success() {
            return Err(failed(url, format!("server answered {}", resp.status())));
        }
        let mtime = resp
            .headers()
            .get(reqwest::header::LAST_MODIFIED)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| jiff::fmt::rfc2822::parse(v).ok())
            .map(|z| z.timestamp().as_second());
        let mut hash = Sha256Writer::new();
        let mut stream = resp.bytes_stream();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| failed(url, e))?;
            hash.update(&chunk);
            file.write_all(&chunk)
                .map_err(|e| EngineError::io("write the download of", url, e))?;
        }
        Ok((hash.finish(), mtime))
    })?;
    drop(client);
    drop(runtime);
    Ok(Fetched {
        file,
        digest,
        name,
        mtime,
    })
}
