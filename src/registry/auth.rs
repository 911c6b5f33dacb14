//! Registry credentials and auth files (containers-auth.json(5); also docker's config.json and the legacy
//! `.dockercfg`).
use std::fmt;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::{Map, Value};

use super::error::AuthError;

/// The username containers/image uses for an identity token (an OAuth2 refresh token).
pub const IDENTITY_TOKEN_USER: &str = "<token>";

/// A username and password (or an identity token with username [`IDENTITY_TOKEN_USER`]).
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub username: String,
    pub password: String,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .finish()
    }
}

impl Credentials {
    pub fn new(username: impl Into<String>, password: impl Into<String>) -> Credentials {
        Credentials {
            username: username.into(),
            password: password.into(),
        }
    }

    #[cfg(test)]
    /// Parse `--creds USER[:PASSWORD]`; the password may contain `:`.
    pub fn parse_creds(s: &str) -> Credentials {
        let (u, p) = s.split_once(':').unwrap_or((s, ""));
        Credentials::new(u, p)
    }

    /// Whether this is an identity token rather than a password.
    pub fn is_identity_token(&self) -> bool {
        self.username == IDENTITY_TOKEN_USER
    }

    /// The value of an `Authorization: Basic` header.
    pub fn basic_header(&self) -> String {
        format!(
            "Basic {}",
            BASE64.encode(format!("{}:{}", self.username, self.password))
        )
    }
}

/// The auth files to read, in order (the first one with a matching entry wins), and the one to write.
#[derive(Debug, Clone, Default)]
pub struct AuthFiles {
    pub read: Vec<PathBuf>,
    pub write: PathBuf,
}

/// podman's order: `$XDG_RUNTIME_DIR/containers/auth.json` (also where `login` writes),
/// `$XDG_CONFIG_HOME/containers/auth.json`, `~/.docker/config.json`, `~/.dockercfg`.
pub fn default_auth_files(runtime_dir: &Path, config_home: &Path, home: &Path) -> AuthFiles {
    let write = runtime_dir.join("containers/auth.json");
    AuthFiles {
        read: vec![
            write.clone(),
            config_home.join("containers/auth.json"),
            home.join(".docker/config.json"),
            home.join(".dockercfg"),
        ],
        write,
    }
}

/// The canonical form of an auth.json key: no scheme, no `/v1/`-style suffix, docker hub as `docker.io`.
pub fn normalize_key(key: &str) -> String {
    let k = key
        .strip_prefix("https://")
        .or_else(|| key.strip_prefix("http://"))
        .unwrap_or(key);
    let k = k.trim_end_matches('/');
    let k = k
        .strip_suffix("/v1")
        .or_else(|| k.strip_suffix("/v2"))
        .unwrap_or(k);
    let (host, path) = k.split_once('/').map_or((k, None), |(h, p)| (h, Some(p)));
    let host = match host {
        "index.docker.io" | "registry-1.docker.io" => "docker.io",
        h => h,
    };
    match path {
        Some(p) => format!("{host}/{p}"),
        None => host.to_string(),
    }
}

impl AuthFiles {
    /// Credentials for `registry/repository`: the most specific key of the first file that has one.
    pub fn lookup(
        &self,
        registry: &str,
        repository: &str,
    ) -> Result<Option<Credentials>, AuthError> {
        let wanted = lookup_keys(registry, repository);
        for path in &self.read {
            let Some(doc) = read_doc(path)? else { continue };
            let Some(auths) = auths_of(path, &doc) else {
                continue;
            };
            let found = wanted.iter().find_map(|w| {
                auths
                    .iter()
                    .find(|(k, _)| normalize_key(k) == *w)
                    .map(|(k, v)| (k.clone(), v))
            });
            if let Some((key, entry)) = found {
                tracing::debug!(file = %path.display(), key = %key, "using credentials from auth file");
                return decode_entry(path, &key, entry).map(Some);
            }
            if let Some(helper) = doc.get("credsStore").and_then(Value::as_str) {
                tracing::debug!(file = %path.display(), helper, "credential helpers are not supported; ignoring");
            }
        }
        Ok(None)
    }

    /// Store credentials under `key` (`registry` or `registry/repo`) in the write file, keeping everything else.
    pub fn store(&self, key: &str, creds: &Credentials) -> Result<(), AuthError> {
        let mut doc = read_doc(&self.write)?.unwrap_or_else(|| Value::Object(Map::new()));
        let auths = auths_mut(&self.write, &mut doc)?;
        let key = normalize_key(key);
        auths.retain(|k, _| normalize_key(k) != key);
        let mut entry = Map::new();
        if creds.is_identity_token() {
            entry.insert(
                "identitytoken".into(),
                Value::String(creds.password.clone()),
            );
        } else {
            let raw = format!("{}:{}", creds.username, creds.password);
            entry.insert("auth".into(), Value::String(BASE64.encode(raw)));
        }
        auths.insert(key, Value::Object(entry));
        write_atomic(&self.write, &doc)
    }

    /// Remove the entry for `key` from the write file; `false` when there was none.
    pub fn remove(&self, key: &str) -> Result<bool, AuthError> {
        let Some(mut doc) = read_doc(&self.write)? else {
            return Ok(false);
        };
        let auths = auths_mut(&self.write, &mut doc)?;
        let key = normalize_key(key);
        let before = auths.len();
        auths.retain(|k, _| normalize_key(k) != key);
        if auths.len() == before {
            return Ok(false);
        }
        write_atomic(&self.write, &doc)?;
        Ok(true)
    }

    /// Remove every entry from the write file (other top-level fields stay).
    pub fn remove_all(&self) -> Result<(), AuthError> {
        let Some(mut doc) = read_doc(&self.write)? else {
            return Ok(());
        };
        auths_mut(&self.write, &mut doc)?.clear();
        write_atomic(&self.write, &doc)
    }
}

/// `registry/a/b/c`, `registry/a/b`, `registry/a`, `registry`: most specific first.
fn lookup_keys(registry: &str, repository: &str) -> Vec<String> {
    let registry = normalize_key(registry);
    let mut keys = Vec::new();
    let mut repo = repository;
    while !repo.is_empty() {
        keys.push(format!("{registry}/{repo}"));
        repo = repo.rsplit_once('/').map_or("", |(parent, _)| parent);
    }
    keys.push(registry);
    keys
}

fn read_doc(path: &Path) -> Result<Option<Value>, AuthError> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(AuthError::Read {
                path: path.to_path_buf(),
                source,
            });
        }
    };
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(Some(Value::Object(Map::new())));
    }
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|source| AuthError::Parse {
            path: path.to_path_buf(),
            source,
        })
}

fn is_legacy(path: &Path) -> bool {
    path.file_name().is_some_and(|n| n == ".dockercfg")
}

fn auths_of<'a>(path: &Path, doc: &'a Value) -> Option<&'a Map<String, Value>> {
    if is_legacy(path) {
        doc.as_object()
    } else {
        doc.get("auths").and_then(Value::as_object)
    }
}

fn auths_mut<'a>(path: &Path, doc: &'a mut Value) -> Result<&'a mut Map<String, Value>, AuthError> {
    let bad = || AuthError::Parse {
        path: path.to_path_buf(),
        source: serde::de::Error::custom("expected a JSON object with an `auths` object"),
    };
    let obj = doc.as_object_mut().ok_or_else(bad)?;
    obj.entry("auths")
        .or_insert_with(|| Value::Object(Map::new()))
        .as_object_mut()
        .ok_or_else(bad)
}

fn decode_entry(path: &Path, key: &str, entry: &Value) -> Result<Credentials, AuthError> {
    let bad = || AuthError::Decode {
        path: path.to_path_buf(),
        key: key.to_string(),
    };
    if let Some(token) = entry
        .get("identitytoken")
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty())
    {
        return Ok(Credentials::new(IDENTITY_TOKEN_USER, token));
    }
    let auth = entry.get("auth").and_then(Value::as_str).ok_or_else(bad)?;
    let raw = BASE64.decode(auth.trim()).map_err(|_| bad())?;
    let raw = String::from_utf8(raw).map_err(|_| bad())?;
    let (u, p) = raw.split_once(':').ok_or_else(bad)?;
    Ok(Credentials::new(u, p))
}

/// Write `doc` to `path` atomically (mode 0600). A missing directory is created with mode 0700.
fn write_atomic(path: &Path, doc: &Value) -> Result<(), AuthError> {
    use std::os::unix::fs::DirBuilderExt as _;
    let err = |source| AuthError::Write {
        path: path.to_path_buf(),
        source,
    };
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(err)?;
    let mut text = serde_json::to_vec_pretty(doc).map_err(|e| err(e.into()))?;
    text.push(b'\n');
    crate::sys::fs::write_atomic(path, &text, 0o600, crate::sys::fs::Existing::Replace).map_err(err)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt as _;

    fn b64(s: &str) -> String {
        BASE64.encode(s)
    }

    #[test]
    fn debug_hides_the_password() {
        let c = Credentials::new("u", "hunter2");
        assert!(!format!("{c:?}").contains("hunter2"));
        assert_eq!(Credentials::parse_creds("a:b:c").password, "b:c");
    }

    #[test]
    fn key_normalisation() {
        assert_eq!(normalize_key("https://index.docker.io/v1/"), "docker.io");
        assert_eq!(normalize_key("http://quay.io/a/b/"), "quay.io/a/b");
        assert_eq!(normalize_key("127.0.0.1:5001"), "127.0.0.1:5001");
        assert_eq!(
            lookup_keys("quay.io", "a/b"),
            ["quay.io/a/b", "quay.io/a", "quay.io"]
        );
    }

    #[test]
    fn lookup_precedence() {
        let dir = tempfile::tempdir().unwrap();
        let first = dir.path().join("run/containers/auth.json");
        let second = dir.path().join("docker/config.json");
        std::fs::create_dir_all(first.parent().unwrap()).unwrap();
        std::fs::create_dir_all(second.parent().unwrap()).unwrap();
        std::fs::write(
            &first,
            format!(
                r#"{{"auths":{{"quay.io":{{"auth":"{}"}},"quay.io/ns":{{"auth":"{}"}}}}}}"#,
                b64("reg:1"),
                b64("ns:2")
            ),
        )
        .unwrap();
        std::fs::write(
            &second,
            format!(
                r#"{{"auths":{{"https://index.docker.io/v1/":{{"auth":"{}"}},"quay.io/ns/repo":{{"auth":"{}"}},"x.io":{{"identitytoken":"tok"}}}}}}"#,
                b64("hub:3"),
                b64("later:4")
            ),
        )
        .unwrap();
        let files = AuthFiles {
            read: vec![dir.path().join("missing.json"), first.clone(), second],
            write: first,
        };
        let get = |reg: &str, repo: &str| files.lookup(reg, repo).unwrap().map(|c| c.username);
        // The first file with a match wins, even if a later file has a more specific key.
        assert_eq!(get("quay.io", "ns/repo").as_deref(), Some("ns"));
        assert_eq!(get("quay.io", "other/repo").as_deref(), Some("reg"));
        assert_eq!(get("docker.io", "library/busybox").as_deref(), Some("hub"));
        assert_eq!(get("nope.io", "x"), None);
        let tok = files.lookup("x.io", "a").unwrap().unwrap();
        assert!(tok.is_identity_token());
        assert_eq!(tok.password, "tok");
    }

    #[test]
    fn store_and_remove_keep_other_keys() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("new/containers/auth.json");
        let files = AuthFiles {
            read: vec![path.clone()],
            write: path.clone(),
        };
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(
            &path,
            r#"{"auths":{"keep.io":{"auth":"a2VlcDprZWVw","email":"x@y"}},"credHelpers":{"z.io":"pass"}}"#,
        )
        .unwrap();
        files
            .store(
                "https://127.0.0.1:5001",
                &Credentials::new("roost", "hunter2"),
            )
            .unwrap();
        let c = files.lookup("127.0.0.1:5001", "busybox").unwrap().unwrap();
        assert_eq!(
            (c.username.as_str(), c.password.as_str()),
            ("roost", "hunter2")
        );
        assert_eq!(
            files.lookup("keep.io", "r").unwrap().unwrap().username,
            "keep"
        );
        let doc: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        assert_eq!(doc["credHelpers"]["z.io"], "pass");
        assert_eq!(doc["auths"]["keep.io"]["email"], "x@y");
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert!(files.remove("127.0.0.1:5001").unwrap());
        assert!(!files.remove("127.0.0.1:5001").unwrap());
        assert!(files.lookup("127.0.0.1:5001", "busybox").unwrap().is_none());
        assert!(files.lookup("keep.io", "r").unwrap().is_some());
        files.remove_all().unwrap();
        assert!(files.lookup("keep.io", "r").unwrap().is_none());
        let doc: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        assert_eq!(doc["credHelpers"]["z.io"], "pass");
        // No temporary files are left behind.
        assert_eq!(
            std::fs::read_dir(path.parent().unwrap()).unwrap().count(),
            1
        );
    }

    #[test]
    fn store_creates_private_dirs() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a/b/auth.json");
        let files = AuthFiles {
            read: vec![path.clone()],
            write: path.clone(),
        };
        files.store("q.io", &Credentials::new("u", "p")).unwrap();
        let mode = std::fs::metadata(path.parent().unwrap())
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o700);
    }

    #[test]
    fn corrupt_files_are_errors_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("auth.json");
        std::fs::write(&path, r#"{"auths":{"q.io":{"auth":"!!"}}}"#).unwrap();
        let files = AuthFiles {
            read: vec![path.clone()],
            write: path.clone(),
        };
        let e = files.lookup("q.io", "x").unwrap_err();
        assert!(e.to_string().contains("auth.json"), "{e}");
    }
}
