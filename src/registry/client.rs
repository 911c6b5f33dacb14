//! The HTTP side of the distribution API: scheme selection, authentication (anonymous, basic, bearer
//! tokens), retries with backoff, status mapping, size-capped bodies, manifests and `ping` for login.
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, Once};
use std::time::{Duration, Instant};

use reqwest::header::{AUTHORIZATION, HeaderMap, RETRY_AFTER, WWW_AUTHENTICATE};
use reqwest::{Method, RequestBuilder, Response, StatusCode, Url};

use super::auth::{AuthFiles, Credentials};
use super::challenge::{Challenge, Token, fetch_token, parse_challenges};
use super::conf::RegistriesConf;
use super::error::RegistryError;
use super::response::{Subject, authority};
use crate::oci::Reference;

/// How a [`Client`] talks to registries; settings are resolved by the caller.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// `Some(false)` allows plain http and unverified TLS for every registry; `None` takes it from registries.conf.
    pub tls_verify: Option<bool>,
    /// `--creds`: overrides the auth files for every registry.
    pub credentials: Option<Credentials>,
    pub auth: AuthFiles,
    pub conf: RegistriesConf,
    pub user_agent: String,
    /// Retries after the first attempt on connect errors, timeouts, 429 and 5xx.
    pub retries: u32,
    /// `--retry-delay`: a fixed wait between attempts instead of the doubling backoff.
    pub retry_delay: Option<Duration>,
    /// `--cert-dir`: CA certificates (`*.crt`) and a client certificate (`*.cert` + `*.key`).
    pub cert_dir: Option<std::path::PathBuf>,
    /// How long to wait for a connection, and for each read of an answer (headers or the next chunk of
    /// a body) before the registry counts as stalled.
    pub timeout: Duration,
}

/// The default of [`ClientOptions::timeout`] (containers/image waits as long for progress).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            tls_verify: None,
            credentials: None,
            auth: AuthFiles::default(),
            conf: RegistriesConf::default(),
            user_agent: concat!("roost/", env!("CARGO_PKG_VERSION")).to_string(),
            retries: 3,
            retry_delay: None,
            cert_dir: None,
            timeout: DEFAULT_TIMEOUT,
        }
    }
}

/// A registry client; cheap to clone (clones share connections and tokens).
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

struct Inner {
    opts: ClientOptions,
    verifying: reqwest::Client,
    insecure: reqwest::Client,
    schemes: Mutex<HashMap<String, &'static str>>,
    methods: Mutex<HashMap<String, AuthMethod>>,
    tokens: Mutex<HashMap<(String, String), Token>>,
}

#[derive(Clone)]
enum AuthMethod {
    Basic,
    Bearer(Challenge),
}

/// `docker.io` is served from `registry-1.docker.io`.
pub(crate) fn api_host(registry: &str) -> &str {
    if registry == crate::oci::DOCKER_HUB {
        "registry-1.docker.io"
    } else {
        registry
    }
}

fn is_loopback(host: &str) -> bool {
    let h = host.strip_prefix('[').map_or_else(
        || host.rsplit_once(':').map_or(host, |(h, _)| h),
        |rest| rest.split(']').next().unwrap_or(rest),
    );
    h == "localhost" || h.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

fn install_crypto_provider() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        if rustls::crypto::CryptoProvider::get_default().is_none() {
            // Losing a race with another installer is fine: some provider is the default either way.
            let _ = rustls::crypto::ring::default_provider().install_default();
        }
    });
}

/// Whether an error came from the TLS layer (bad certificate, or a plain-http server on the other end).
pub(crate) fn is_tls_error(e: &reqwest::Error) -> bool {
    fn tls(err: &(dyn std::error::Error + 'static)) -> bool {
        if err.downcast_ref::<rustls::Error>().is_some() {
            return true;
        }
        // io::Error's `source` skips the error it wraps, so look inside it explicitly.
        if let Some(inner) = err
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
            && tls(inner)
        {
            return true;
        }
        err.source().is_some_and(tls)
    }
    tls(e)
}

/// Exponential backoff: 200 ms, 400 ms, 800 ms, … capped at 10 s.
pub(crate) fn backoff(attempt: u32) -> Duration {
    Duration::from_millis(200u64.saturating_mul(1 << attempt.min(6))).min(Duration::from_secs(10))
}

fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let v = headers.get(RETRY_AFTER)?.to_str().ok()?;
    v.trim()
        .parse::<u64>()
        .ok()
        .map(|s| Duration::from_secs(s.min(60)))
}

impl Client {
    pub fn new(opts: ClientOptions) -> Result<Client, RegistryError> {
        install_crypto_provider();
        let certs = match &opts.cert_dir {
            Some(d) => super::certs::load(d)?,
            None => super::certs::CertDir::default(),
        };
        let build = |verify: bool| {
            let mut b = reqwest::Client::builder()
                .user_agent(opts.user_agent.clone())
                .connect_timeout(opts.timeout)
                .read_timeout(opts.timeout)
                .redirect(reqwest::redirect::Policy::limited(10))
                .tls_danger_accept_invalid_certs(!verify)
                .tls_certs_merge(certs.roots.clone());
            if let Some(id) = &certs.identity {
                b = b.identity(id.clone());
            }
            b.build().map_err(RegistryError::Client)
        };
        Ok(Client {
            inner: Arc::new(Inner {
                verifying: build(true)?,
                insecure: build(false)?,
                opts,
                schemes: Mutex::default(),
                methods: Mutex::default(),
                tokens: Mutex::default(),
            }),
        })
    }

    /// Whether the registry authenticates with basic auth (so a 401 means the credentials were refused).
    pub(crate) fn uses_basic(&self, registry: &str) -> bool {
        matches!(
            self.inner
                .methods
                .lock()
                .expect("lock poisoned")
                .get(registry),
            Some(AuthMethod::Basic)
        )
    }

    pub fn options(&self) -> &ClientOptions {
        &self.inner.opts
    }

    fn allows_insecure(&self, registry: &str) -> bool {
        match self.inner.opts.tls_verify {
            Some(v) => !v,
            None => self.inner.opts.conf.is_insecure_host(registry),
        }
    }

    pub(crate) fn http_for(&self, registry: &str) -> &reqwest::Client {
        if self.allows_insecure(registry) {
            &self.inner.insecure
        } else {
            &self.inner.verifying
        }
    }

    /// The registry of a reference, refusing short names and blocked registries.
    pub(crate) fn registry_of<'r>(
        &self,
        reference: &'r Reference,
    ) -> Result<&'r str, RegistryError> {
        let registry = reference
            .registry()
            .ok_or_else(|| RegistryError::Unqualified {
                reference: reference.to_string(),
            })?;
        if self.inner.opts.conf.is_blocked(reference) {
            return Err(RegistryError::Blocked {
                registry: registry.to_string(),
            });
        }
        Ok(registry)
    }

    /// `scheme://host/`: https, or http for insecure registries (directly on loopback, else after https failed).
    pub(crate) async fn base_url(&self, registry: &str) -> Result<Url, RegistryError> {
        let host = api_host(registry);
        let cached = self
            .inner
            .schemes
            .lock()
            .expect("lock poisoned")
            .get(registry)
            .copied();
        let scheme = match cached {
            Some(s) => s,
            None => {
                let s = if !self.allows_insecure(registry) {
                    "https"
                } else if is_loopback(host) {
                    "http"
                } else {
                    self.probe_https(registry, host).await
                };
                tracing::debug!(registry, scheme = s, "chose scheme");
                self.inner
                    .schemes
                    .lock()
                    .expect("lock poisoned")
                    .insert(registry.to_string(), s);
                s
            }
        };
        Url::parse(&format!("{scheme}://{host}/")).map_err(|_| RegistryError::Unqualified {
            reference: registry.to_string(),
        })
    }

    async fn probe_https(&self, registry: &str, host: &str) -> &'static str {
        match self
            .http_for(registry)
            .get(format!("https://{host}/v2/"))
            .send()
            .await
        {
            Ok(_) => "https",
            Err(e) if e.is_connect() || is_tls_error(&e) => "http",
            Err(_) => "https",
        }
    }

    fn credentials(
        &self,
        registry: &str,
        repository: Option<&str>,
    ) -> Result<Option<Credentials>, RegistryError> {
        if let Some(c) = &self.inner.opts.credentials {
            return Ok(Some(c.clone()));
        }
        self.inner
            .opts
            .auth
            .lookup(registry, repository.unwrap_or_default())
            .map_err(|source| RegistryError::Auth {
                registry: registry.to_string(),
                source,
            })
    }

    /// The `Authorization` value for a request, from what the registry asked for earlier.
    async fn authorization(
        &self,
        registry: &str,
        repository: Option<&str>,
        scopes: &[String],
    ) -> Result<Option<String>, RegistryError> {
        let method = self
            .inner
            .methods
            .lock()
            .expect("lock poisoned")
            .get(registry)
            .cloned();
        match method {
            None => Ok(None),
            Some(AuthMethod::Basic) => Ok(self
                .credentials(registry, repository)?
                .map(|c| c.basic_header())),
            Some(AuthMethod::Bearer(challenge)) => {
                let key = (registry.to_string(), scopes.join(" "));
                if let Some(t) = self.inner.tokens.lock().expect("lock poisoned").get(&key)
                    && t.expires > Instant::now()
                {
                    return Ok(Some(format!("Bearer {}", t.token)));
                }
                let creds = self.credentials(registry, repository)?;
                let http = self.http_for(registry);
                let token = fetch_token(http, registry, &challenge, scopes, creds.as_ref()).await?;
                let header = format!("Bearer {}", token.token);
                self.inner
                    .tokens
                    .lock()
                    .expect("lock poisoned")
                    .insert(key, token);
                Ok(Some(header))
            }
        }
    }

    /// Learn how to authenticate from a 401; `true` when the request is worth repeating.
    fn learn(
        &self,
        registry: &str,
        repository: Option<&str>,
        scopes: &[String],
        resp: &Response,
    ) -> Result<bool, RegistryError> {
        let header = resp
            .headers()
            .get_all(WWW_AUTHENTICATE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect::<Vec<_>>()
            .join(", ");
        let challenges = parse_challenges(&header);
        let had = self
            .inner
            .methods
            .lock()
            .expect("lock poisoned")
            .get(registry)
            .cloned();
        let method = if let Some(c) = challenges.iter().find(|c| c.scheme == "bearer") {
            if c.param("realm").is_none_or(str::is_empty) {
                return Err(RegistryError::Challenge {
                    registry: registry.to_string(),
                    challenge: header,
                });
            }
            AuthMethod::Bearer(c.clone())
        } else if challenges.iter().any(|c| c.scheme == "basic") {
            if matches!(had, Some(AuthMethod::Basic))
                || self.credentials(registry, repository)?.is_none()
            {
                return Ok(false);
            }
            AuthMethod::Basic
        } else {
            return Err(RegistryError::Challenge {
                registry: registry.to_string(),
                challenge: header,
            });
        };
        tracing::debug!(registry, scheme = %match &method { AuthMethod::Basic => "basic", AuthMethod::Bearer(_) => "bearer" }, "registry asked for authentication");
        self.inner
            .tokens
            .lock()
            .expect("lock poisoned")
            .remove(&(registry.to_string(), scopes.join(" ")));
        self.inner
            .methods
            .lock()
            .expect("lock poisoned")
            .insert(registry.to_string(), method);
        Ok(true)
    }

    /// Send a request with authentication and retries. `body` finishes each attempt's request and returns
    /// `None` when it cannot be sent again (a one-shot stream). The status is not checked.
    pub(crate) async fn execute(
        &self,
        registry: &str,
        repository: Option<&str>,
        scopes: &[String],
        method: Method,
        url: Url,
        body: &mut (dyn FnMut(RequestBuilder) -> Option<RequestBuilder> + Send),
    ) -> Result<Response, RegistryError> {
        let same_host = authority(&url) == api_host(registry);
        let mut challenged = false;
        loop {
            let auth = if same_host {
                self.authorization(registry, repository, scopes).await?
            } else {
                None
            };
            let http = self.http_for(registry);
            let mut make = || {
                let rb = http.request(method.clone(), url.clone());
                body(match &auth {
                    Some(a) => rb.header(AUTHORIZATION, a),
                    None => rb,
                })
            };
            let resp = self.with_retries(registry, &mut make).await?;
            if resp.status() == StatusCode::UNAUTHORIZED && !challenged && same_host {
                challenged = true;
                if self.learn(registry, repository, scopes, &resp)? {
                    continue;
                }
            }
            return Ok(resp);
        }
    }

    async fn with_retries(
        &self,
        registry: &str,
        make: &mut (dyn FnMut() -> Option<RequestBuilder> + Send),
    ) -> Result<Response, RegistryError> {
        let retries = self.inner.opts.retries;
        let mut pending: Option<Result<Response, RegistryError>> = None;
        for attempt in 0.. {
            let Some(rb) = make() else {
                return pending.unwrap_or_else(|| {
                    Err(RegistryError::NotReplayable {
                        registry: registry.to_string(),
                    })
                });
            };
            let outcome = rb.send().await;
            let wait = match &outcome {
                Ok(resp)
                    if resp.status() == StatusCode::TOO_MANY_REQUESTS
                        || resp.status().is_server_error() =>
                {
                    Some(retry_after(resp.headers()).unwrap_or_else(|| backoff(attempt)))
                }
                Err(e) if !is_tls_error(e) && (e.is_connect() || e.is_timeout()) => {
                    Some(backoff(attempt))
                }
                _ => None,
            };
            let outcome = outcome.map_err(|source| {
                if is_tls_error(&source) {
                    RegistryError::Tls {
                        registry: registry.to_string(),
                        source,
                    }
                } else if source.is_connect() {
                    RegistryError::Connect {
                        registry: registry.to_string(),
                        source,
                    }
                } else if source.is_timeout() {
                    RegistryError::Timeout {
                        registry: registry.to_string(),
                        url: source.url().map(|u| u.to_string()).unwrap_or_default(),
                        seconds: self.inner.opts.timeout.as_secs_f64(),
                    }
                } else {
                    RegistryError::Request {
                        registry: registry.to_string(),
                        source,
                    }
                }
            });
            let wait = wait.map(|w| self.inner.opts.retry_delay.unwrap_or(w));
            match wait {
                Some(wait) if attempt < retries => {
                    tracing::debug!(
                        registry,
                        attempt,
                        wait_ms = wait.as_millis() as u64,
                        "retrying request"
                    );
                    tokio::time::sleep(wait).await;
                    pending = Some(outcome);
                }
                _ => return outcome,
            }
        }
        unreachable!("the retry loop returns")
    }

    /// Check that the registry answers and that the configured credentials work (for `login`).
    pub async fn ping(&self, registry: &str) -> Result<(), RegistryError> {
        let url =
            self.base_url(registry)
                .await?
                .join("v2/")
                .map_err(|_| RegistryError::Unqualified {
                    reference: registry.to_string(),
                })?;
        let resp = self
            .execute(registry, None, &[], Method::GET, url, &mut |rb| Some(rb))
            .await?;
        if resp.status() == StatusCode::UNAUTHORIZED {
            let had_creds = self.credentials(registry, None)?.is_some();
            return Err(if had_creds {
                RegistryError::InvalidCredentials {
                    registry: registry.to_string(),
                }
            } else {
                RegistryError::AuthRequired {
                    registry: registry.to_string(),
                }
            });
        }
        self.check(registry, Subject::Registry, resp)
            .await
            .map(drop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_hosts() {
        for h in [
            "127.0.0.1:5000",
            "127.3.2.1",
            "localhost:5000",
            "localhost",
            "[::1]:5000",
        ] {
            assert!(is_loopback(h), "{h}");
        }
        for h in ["10.0.0.1:5000", "quay.io", "localhost.example.com"] {
            assert!(!is_loopback(h), "{h}");
        }
    }

    #[test]
    fn backoff_doubles_and_is_capped() {
        assert_eq!(backoff(0), Duration::from_millis(200));
        assert_eq!(backoff(1), Duration::from_millis(400));
        assert_eq!(backoff(2), Duration::from_millis(800));
        assert_eq!(backoff(30), Duration::from_secs(10));
    }

    #[test]
    fn hub_api_host() {
        assert_eq!(api_host("docker.io"), "registry-1.docker.io");
        assert_eq!(api_host("127.0.0.1:5000"), "127.0.0.1:5000");
    }
}
