//! `WWW-Authenticate` challenges and the Docker token protocol (bearer tokens from a realm).
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde::Deserialize;

use super::auth::Credentials;
use super::error::RegistryError;

/// One authentication challenge: a lowercase scheme (`bearer`, `basic`) and its parameters (lowercase names).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    pub scheme: String,
    pub params: BTreeMap<String, String>,
}

impl Challenge {
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params.get(name).map(String::as_str)
    }
}

/// Parse a `WWW-Authenticate` header value (RFC 7235): one or more challenges, each a scheme followed by
/// comma-separated `name=value` or `name="quoted, value"` parameters.
pub fn parse_challenges(header: &str) -> Vec<Challenge> {
    let mut out: Vec<Challenge> = Vec::new();
    let mut p = Parser {
        s: header.as_bytes(),
        i: 0,
    };
    loop {
        p.skip(|b| b == b' ' || b == b'\t' || b == b',');
        let Some(word) = p.token() else { break };
        p.skip(|b| b == b' ' || b == b'\t');
        if p.peek() == Some(b'=') && !out.is_empty() {
            // A parameter of the current challenge.
            p.i += 1;
            p.skip(|b| b == b' ' || b == b'\t');
            let value = p.value();
            if let Some(last) = out.last_mut() {
                last.params.insert(word.to_ascii_lowercase(), value);
            }
        } else {
            out.push(Challenge {
                scheme: word.to_ascii_lowercase(),
                params: BTreeMap::new(),
            });
            // The first parameter follows the scheme without a comma.
            let save = p.i;
            if let Some(name) = p.token() {
                p.skip(|b| b == b' ' || b == b'\t');
                if p.peek() == Some(b'=') {
                    p.i += 1;
                    p.skip(|b| b == b' ' || b == b'\t');
                    let value = p.value();
                    if let Some(last) = out.last_mut() {
                        last.params.insert(name.to_ascii_lowercase(), value);
                    }
                } else {
                    p.i = save;
                }
            }
        }
    }
    out
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }
    fn skip(&mut self, f: impl Fn(u8) -> bool) {
        while self.peek().is_some_and(&f) {
            self.i += 1;
        }
    }
    fn token(&mut self) -> Option<String> {
        let start = self.i;
        self.skip(|b| !matches!(b, b' ' | b'\t' | b',' | b'=' | b'"'));
        (self.i > start).then(|| String::from_utf8_lossy(&self.s[start..self.i]).into_owned())
    }
    fn value(&mut self) -> String {
        if self.peek() != Some(b'"') {
            return self.token().unwrap_or_default();
        }
        self.i += 1;
        let mut v = Vec::new();
        while let Some(b) = self.peek() {
            self.i += 1;
            match b {
                b'"' => break,
                b'\\' => {
                    if let Some(n) = self.peek() {
                        v.push(n);
                        self.i += 1;
                    }
                }
                _ => v.push(b),
            }
        }
        String::from_utf8_lossy(&v).into_owned()
    }
}

/// A bearer token and when to stop using it.
#[derive(Clone)]
pub struct Token {
    pub token: String,
    pub expires: Instant,
}

#[derive(Deserialize)]
struct TokenResponse {
    #[serde(default)]
    token: Option<String>,
    #[serde(default)]
    access_token: Option<String>,
    #[serde(default)]
    expires_in: Option<u64>,
}

/// The token request: an OAuth2 `refresh_token` POST for an identity token, else a GET with the
/// service and scopes in the query (and the credentials as basic auth).
fn token_request(
    http: &reqwest::Client,
    mut url: reqwest::Url,
    service: Option<&str>,
    scopes: &[String],
    creds: Option<&Credentials>,
) -> reqwest::RequestBuilder {
    match creds.filter(|c| c.is_identity_token()) {
        Some(c) => {
            let mut form =
                reqwest::Url::parse("http://form.invalid/").expect("static URL is valid");
            {
                let mut q = form.query_pairs_mut();
                q.append_pair("grant_type", "refresh_token")
                    .append_pair("refresh_token", &c.password)
                    .append_pair("client_id", "roost");
                if let Some(s) = service {
                    q.append_pair("service", s);
                }
                if !scopes.is_empty() {
                    q.append_pair("scope", &scopes.join(" "));
                }
            }
            http.post(url)
                .header("content-type", "application/x-www-form-urlencoded")
                .body(form.query().unwrap_or_default().to_string())
        }
        None => {
            {
                let mut q = url.query_pairs_mut();
                if let Some(s) = service {
                    q.append_pair("service", s);
                }
                for s in scopes {
                    q.append_pair("scope", s);
                }
            }
            let req = http.get(url);
            match creds {
                Some(c) => req.header("authorization", c.basic_header()),
                None => req,
            }
        }
    }
}

/// Request a token from the challenge's realm for `scopes` (e.g. `repository:library/busybox:pull`).
/// Credentials are sent as basic auth; an identity token is exchanged with an OAuth2 `refresh_token` POST.
pub async fn fetch_token(
    http: &reqwest::Client,
    registry: &str,
    challenge: &Challenge,
    scopes: &[String],
    creds: Option<&Credentials>,
) -> Result<Token, RegistryError> {
    let realm = challenge.param("realm").unwrap_or_default().to_string();
    let fail = |why: String| RegistryError::Token {
        registry: registry.to_string(),
        realm: realm.clone(),
        why,
    };
    let url = reqwest::Url::parse(&realm).map_err(|e| fail(format!("invalid realm: {e}")))?;
    let req = token_request(http, url, challenge.param("service"), scopes, creds);
    tracing::debug!(registry, realm = %realm, ?scopes, with_credentials = creds.is_some(), "requesting a bearer token");
    let resp = req.send().await.map_err(|e| fail(e.to_string()))?;
    let status = resp.status();
    if status == reqwest::StatusCode::UNAUTHORIZED || status == reqwest::StatusCode::FORBIDDEN {
        return Err(if creds.is_some() {
            RegistryError::InvalidCredentials {
                registry: registry.to_string(),
            }
        } else {
            RegistryError::AuthRequired {
                registry: registry.to_string(),
            }
        });
    }
    if !status.is_success() {
        return Err(fail(format!("status {status}")));
    }
    let body = resp.bytes().await.map_err(|e| fail(e.to_string()))?;
    if body.len() > 1 << 20 {
        return Err(fail("response larger than 1 MiB".to_string()));
    }
    let parsed: TokenResponse =
        serde_json::from_slice(&body).map_err(|e| fail(format!("invalid response: {e}")))?;
    let token = parsed
        .token
        .or(parsed.access_token)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| fail("response has no token".to_string()))?;
    // The spec's default lifetime is 60 s; renew a little early.
    let lifetime = parsed.expires_in.unwrap_or(60).max(60);
    Ok(Token {
        token,
        expires: Instant::now() + Duration::from_secs(lifetime.saturating_sub(10)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_with_quoted_commas() {
        let c = parse_challenges(
            r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull,push""#,
        );
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].scheme, "bearer");
        assert_eq!(c[0].param("realm"), Some("https://auth.docker.io/token"));
        assert_eq!(c[0].param("service"), Some("registry.docker.io"));
        assert_eq!(
            c[0].param("scope"),
            Some("repository:library/busybox:pull,push")
        );
    }

    #[test]
    fn basic_and_multiple_challenges() {
        let c = parse_challenges(r#"Basic realm="roost-test""#);
        assert_eq!(c[0].scheme, "basic");
        assert_eq!(c[0].param("realm"), Some("roost-test"));
        let c = parse_challenges(
            r#"Basic realm="a, b", charset=UTF-8, Bearer realm=https://x/t , Scope="a\"b""#,
        );
        assert_eq!(c.len(), 2, "{c:?}");
        assert_eq!(c[0].param("realm"), Some("a, b"));
        assert_eq!(c[0].param("charset"), Some("UTF-8"));
        assert_eq!(c[1].scheme, "bearer");
        assert_eq!(c[1].param("realm"), Some("https://x/t"));
        assert_eq!(c[1].param("scope"), Some("a\"b"));
        assert!(parse_challenges("").is_empty());
        assert_eq!(parse_challenges("Negotiate")[0].scheme, "negotiate");
    }
}
