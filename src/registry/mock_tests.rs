//! The client against a scripted HTTP server on 127.0.0.1 (an ephemeral port): bearer tokens, retries,
//! and resumed blob downloads, which the test world's registries cannot provoke.
use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use futures_util::StreamExt as _;

use super::*;
use crate::oci::{Descriptor, Digest, Reference};

#[derive(Debug, Clone)]
struct Req {
    method: String,
    path: String,
    headers: Vec<(String, String)>,
}

impl Req {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

struct Resp {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    /// Send only this many body bytes (after announcing all of them), then close.
    cut: Option<usize>,
    /// After the `cut`, keep the connection open and send nothing until the client hangs up.
    stall: bool,
}

fn resp(status: u16, body: impl Into<Vec<u8>>) -> Resp {
    Resp {
        status,
        headers: vec![],
        body: body.into(),
        cut: None,
        stall: false,
    }
}

type Log = Arc<Mutex<Vec<Req>>>;

/// Serve `handler` (given the request and the port) on a thread; one request per connection.
fn serve(handler: impl Fn(&Req, u16) -> Resp + Send + 'static) -> (u16, Log) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let log: Log = Arc::default();
    let seen = log.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            if reader.read_line(&mut line).is_err() || line.is_empty() {
                continue;
            }
            let mut parts = line.split_whitespace();
            let method = parts.next().unwrap_or_default().to_string();
            let path = parts.next().unwrap_or_default().to_string();
            let mut headers = Vec::new();
            loop {
                let mut h = String::new();
                if reader.read_line(&mut h).is_err() || h.trim().is_empty() {
                    break;
                }
                if let Some((k, v)) = h.split_once(':') {
                    headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
                }
            }
            let req = Req {
                method,
                path,
                headers,
            };
            let len: usize = req
                .header("content-length")
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            let mut body = vec![0; len];
            let _ = reader.read_exact(&mut body);
            seen.lock().unwrap().push(req.clone());
            let r = handler(&req, port);
            let mut out = format!(
                "HTTP/1.1 {} X\r\nContent-Length: {}\r\nConnection: close\r\n",
                r.status,
                r.body.len()
            );
            for (k, v) in &r.headers {
                out.push_str(&format!("{k}: {v}\r\n"));
            }
            out.push_str("\r\n");
            let _ = stream.write_all(out.as_bytes());
            let _ = stream.write_all(&r.body[..r.cut.unwrap_or(r.body.len())]);
            let _ = stream.flush();
            if r.stall {
                // Blocks until the client closes its end (it sends nothing more).
                let _ = reader.read_to_end(&mut Vec::new());
            }
        }
    });
    (port, log)
}

fn client(creds: Option<Credentials>) -> Client {
    Client::new(ClientOptions {
        tls_verify: Some(false),
        credentials: creds,
        retries: 2,
        ..Default::default()
    })
    .unwrap()
}

/// A client that gives up on a silent registry after `ms` milliseconds.
fn impatient(ms: u64) -> Client {
    Client::new(ClientOptions {
        tls_verify: Some(false),
        retries: 1,
        timeout: std::time::Duration::from_millis(ms),
        ..Default::default()
    })
    .unwrap()
}

fn basic(user: &str, pass: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"))
    )
}

#[tokio::test(flavor = "current_thread")]
async fn bearer_tokens_are_fetched_with_credentials_and_cached() {
    let manifest = br#"{"schemaVersion":2,"manifests":[]}"#.to_vec();
    let body = manifest.clone();
    let (port, log) = serve(move |req, port| {
        if req.path.starts_with("/token") {
            return if req.header("authorization") == Some(basic("roost", "hunter2").as_str()) {
                resp(200, r#"{"token":"tok-1","expires_in":300}"#)
            } else {
                resp(401, "")
            };
        }
        if req.header("authorization") != Some("Bearer tok-1") {
            let mut r = resp(401, "");
            r.headers.push((
                "WWW-Authenticate".into(),
                format!(
                    r#"Bearer realm="http://127.0.0.1:{port}/token",service="mock reg",scope="x""#
                ),
            ));
            return r;
        }
        let mut r = resp(200, body.clone());
        r.headers.push((
            "Content-Type".into(),
            "application/vnd.oci.image.index.v1+json".into(),
        ));
        r
    });
    let registry = format!("127.0.0.1:{port}");
    client(Some(Credentials::new("roost", "hunter2")))
        .ping(&registry)
        .await
        .unwrap();
    let e = client(Some(Credentials::new("roost", "nope")))
        .ping(&registry)
        .await
        .unwrap_err();
    assert!(matches!(e, RegistryError::InvalidCredentials { .. }), "{e}");

    let c = client(Some(Credentials::new("roost", "hunter2")));
    let r = Reference::parse(&format!("{registry}/ns/app:1")).unwrap();
    let got = c.get_manifest(&r).await.unwrap();
    assert_eq!(got.bytes, manifest);
    assert_eq!(got.media_type, "application/vnd.oci.image.index.v1+json");
    let before = log.lock().unwrap().len();
    c.get_manifest(&r).await.unwrap();
    let log = log.lock().unwrap();
    assert_eq!(log.len(), before + 1, "the cached token is reused");
    let token_req = log
        .iter()
        .rev()
        .find(|r| r.path.starts_with("/token"))
        .unwrap();
    assert!(
        token_req
            .path
            .contains("scope=repository%3Ans%2Fapp%3Apull"),
        "{}",
        token_req.path
    );
    assert!(
        token_req.path.contains("service=mock+reg"),
        "{}",
        token_req.path
    );
}

#[tokio::test(flavor = "current_thread")]
async fn server_errors_are_retried_and_client_errors_are_not() {
    let (port, log) = serve(|req, _| {
        if req.path.contains("flaky") {
            let mut r = resp(503, "");
            r.headers.push(("Retry-After".into(), "0".into()));
            r
        } else {
            resp(
                400,
                r#"{"errors":[{"code":"NAME_INVALID","message":"invalid repository name"}]}"#,
            )
        }
    });
    let c = client(None);
    let registry = format!("127.0.0.1:{port}");
    let e = c
        .get_manifest(&Reference::parse(&format!("{registry}/flaky:1")).unwrap())
        .await
        .unwrap_err();
    assert!(
        matches!(e, RegistryError::Status { status: 503, .. }),
        "{e}"
    );
    assert_eq!(log.lock().unwrap().len(), 3, "one try and two retries");
    let e = c
        .get_manifest(&Reference::parse(&format!("{registry}/bad:1")).unwrap())
        .await
        .unwrap_err();
    assert!(e.to_string().contains("invalid repository name"), "{e}");
    assert_eq!(log.lock().unwrap().len(), 4, "a 400 is not retried");
    assert!(log.lock().unwrap().iter().all(|r| r.method == "GET"));
}

fn blob_server(data: Vec<u8>, honour_range: bool) -> (u16, Log) {
    serve(
        move |req, _| match req.header("range").and_then(|r| r.strip_prefix("bytes=")) {
            Some(range) if honour_range => {
                let start: usize = range.trim_end_matches('-').parse().unwrap();
                let mut r = resp(206, data[start..].to_vec());
                r.headers.push((
                    "Content-Range".into(),
                    format!("bytes {start}-{}/{}", data.len() - 1, data.len()),
                ));
                r
            }
            Some(_) => resp(200, data.clone()),
            None => {
                let mut r = resp(200, data.clone());
                r.cut = Some(data.len() / 3);
                r
            }
        },
    )
}

async fn download(port: u16, data: &[u8]) -> (Vec<u8>, Option<RegistryError>) {
    download_with(&client(None), port, data).await
}

async fn download_with(c: &Client, port: u16, data: &[u8]) -> (Vec<u8>, Option<RegistryError>) {
    let r = Reference::parse(&format!("127.0.0.1:{port}/x:1")).unwrap();
    let d = Descriptor {
        media_type: String::new(),
        digest: Digest::sha256_of(data),
        size: data.len() as u64,
        platform: None,
        urls: vec![],
        annotations: Default::default(),
    };
    let mut s = c.get_blob(&r, &d).await.unwrap();
    let mut out = Vec::new();
    while let Some(item) = s.next().await {
        match item {
            Ok(b) => out.extend_from_slice(&b),
            Err(e) => return (out, Some(e)),
        }
    }
    (out, None)
}

#[tokio::test(flavor = "current_thread")]
async fn interrupted_downloads_resume_with_ranges() {
    let data: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
    for honour_range in [true, false] {
        let (port, log) = blob_server(data.clone(), honour_range);
        let (got, err) = download(port, &data).await;
        assert!(err.is_none(), "{err:?}");
        assert_eq!(got, data);
        let log = log.lock().unwrap();
        assert_eq!(log.len(), 2);
        assert_eq!(
            log[1].header("range"),
            Some(format!("bytes={}-", data.len() / 3).as_str())
        );
    }
}

#[tokio::test(flavor = "current_thread")]
async fn a_registry_that_stalls_mid_blob_is_given_up_with_a_clear_error() {
    let data: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
    let body = data.clone();
    let (port, log) = serve(move |req, _| {
        let start: usize = req
            .header("range")
            .and_then(|r| r.strip_prefix("bytes="))
            .map_or(0, |r| r.trim_end_matches('-').parse().unwrap());
        let mut r = resp(if start > 0 { 206 } else { 200 }, body[start..].to_vec());
        if start > 0 {
            r.headers.push((
                "Content-Range".into(),
                format!("bytes {start}-{}/{}", body.len() - 1, body.len()),
            ));
        }
        r.cut = Some(1000);
        r.stall = true;
        r
    });
    let (got, err) = download_with(&impatient(300), port, &data).await;
    let e = err.expect("a stalled download fails");
    assert!(
        matches!(
            e,
            RegistryError::Stalled {
                received: 2000,
                expected: 100_000,
                ..
            }
        ),
        "{e:?}"
    );
    let msg = e.to_string();
    assert!(msg.contains(&format!("127.0.0.1:{port}")), "{msg}");
    assert!(msg.contains(&Digest::sha256_of(&data).to_string()), "{msg}");
    assert!(e.hint().unwrap().contains("ROOST_REGISTRY_TIMEOUT"));
    assert_eq!(got, data[..2000]);
    assert_eq!(log.lock().unwrap().len(), 2, "one resume, then the error");
}

#[tokio::test(flavor = "current_thread")]
async fn a_registry_that_stalls_is_given_up_with_a_clear_error() {
    // Accepts connections and never answers.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for s in listener.incoming() {
            held.push(s);
        }
    });
    let c = impatient(300);
    let r = Reference::parse(&format!("127.0.0.1:{port}/x:1")).unwrap();
    let e = c.get_manifest(&r).await.unwrap_err();
    assert!(matches!(e, RegistryError::Timeout { .. }), "{e:?}");
    assert!(e.to_string().contains(&format!("127.0.0.1:{port}")), "{e}");

    // Headers, then a body that never comes.
    let (port, _) = serve(|_, _| {
        let mut r = resp(200, r#"{"schemaVersion":2}"#);
        r.cut = Some(0);
        r.stall = true;
        r
    });
    let r = Reference::parse(&format!("127.0.0.1:{port}/x:1")).unwrap();
    let e = c.get_manifest(&r).await.unwrap_err();
    assert!(matches!(e, RegistryError::Timeout { .. }), "{e:?}");
    assert!(e.to_string().contains(&format!("127.0.0.1:{port}")), "{e}");
}

#[tokio::test(flavor = "current_thread")]
async fn a_blob_announced_larger_than_its_descriptor_is_refused_at_once() {
    let data = b"the real blob".to_vec();
    let (port, _) = serve(|_, _| {
        let mut r = resp(200, vec![b'x'; 1 << 20]);
        r.stall = true; // nothing is read past the headers, so the client must not wait for the body
        r
    });
    let c = impatient(60_000);
    let r = Reference::parse(&format!("127.0.0.1:{port}/x:1")).unwrap();
    let d = Descriptor {
        media_type: String::new(),
        digest: Digest::sha256_of(&data),
        size: data.len() as u64,
        platform: None,
        urls: vec![],
        annotations: Default::default(),
    };
    let e = match c.get_blob(&r, &d).await {
        Ok(_) => panic!("an oversized blob was accepted"),
        Err(e) => e,
    };
    assert!(
        matches!(
            e,
            RegistryError::Oversized {
                announced: 1_048_576,
                expected: 13,
                ..
            }
        ),
        "{e:?}"
    );
}
