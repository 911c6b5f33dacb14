//! Image references (`[registry/]repository[:tag][@digest]`) with Docker's normalisation rules.
use std::fmt;
use std::str::FromStr;

use super::{Digest, DigestError};

pub const DEFAULT_TAG: &str = "latest";
pub const DOCKER_HUB: &str = "docker.io";

/// A parsed image reference. `registry` is `None` for a short name (`busybox`), which must be
/// resolved against the configured search registries or the local store.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Reference {
    registry: Option<String>,
    repository: String,
    tag: Option<String>,
    digest: Option<Digest>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ReferenceError {
    #[error("invalid reference format `{0}`: repository names must be lowercase")]
    Uppercase(String),
    #[error("invalid reference format `{input}`: {why}")]
    Invalid { input: String, why: &'static str },
    #[error("invalid reference format `{input}`")]
    Digest {
        input: String,
        #[source]
        source: DigestError,
    },
}

fn invalid(input: &str, why: &'static str) -> ReferenceError {
    ReferenceError::Invalid {
        input: input.to_string(),
        why,
    }
}

fn is_registry(component: &str) -> bool {
    component.contains('.')
        || component.contains(':')
        || component == "localhost"
        || component.bytes().any(|b| b.is_ascii_uppercase())
}

fn valid_path_component(c: &str) -> bool {
    // [a-z0-9]+ ((\.|_|__|-+)[a-z0-9]+)*
    if c.is_empty() {
        return false;
    }
    let b = c.as_bytes();
    if !b[0].is_ascii_alphanumeric() || !b[b.len() - 1].is_ascii_alphanumeric() {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        let ch = b[i];
        if ch.is_ascii_lowercase() || ch.is_ascii_digit() {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && matches!(b[i], b'.' | b'_' | b'-') {
            i += 1;
        }
        let sep = &c[start..i];
        let ok = sep == "." || sep == "_" || sep == "__" || sep.bytes().all(|x| x == b'-');
        if !ok || i == start {
            return false;
        }
    }
    true
}

fn valid_tag(t: &str) -> bool {
    let b = t.as_bytes();
    !b.is_empty()
        && b.len() <= 128
        && (b[0].is_ascii_alphanumeric() || b[0] == b'_')
        && b.iter()
            .all(|&x| x.is_ascii_alphanumeric() || matches!(x, b'_' | b'.' | b'-'))
}

fn valid_registry(r: &str) -> bool {
    !r.is_empty()
        && r.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']'))
}

impl Reference {
    /// Parse a reference as a user typed it.
    pub fn parse(input: &str) -> Result<Reference, ReferenceError> {
        let s = input.trim();
        if s.is_empty() {
            return Err(invalid(input, "empty reference"));
        }
        let (rest, digest) = match s.split_once('@') {
            Some((r, d)) => {
                let d = d.parse().map_err(|source| ReferenceError::Digest {
                    input: input.to_string(),
                    source,
                })?;
                (r, Some(d))
            }
            None => (s, None),
        };
        // A tag is after the last ':' that comes after the last '/'.
        let slash = rest.rfind('/').map_or(0, |i| i + 1);
        let (name, tag) = match rest[slash..].rfind(':') {
            Some(i) => (&rest[..slash + i], Some(&rest[slash + i + 1..])),
            None => (rest, None),
        };
        if let Some(t) = tag
            && !valid_tag(t)
        {
            return Err(invalid(
                input,
                "tags may contain letters, digits, `_`, `.` and `-` (at most 128)",
            ));
        }
        let (registry, repository) = match name.split_once('/') {
            Some((first, path)) if is_registry(first) => (Some(first), path),
            _ => (None, name),
        };
        if let Some(r) = registry
            && !valid_registry(r)
        {
            return Err(invalid(input, "bad registry host"));
        }
        if repository.bytes().any(|b| b.is_ascii_uppercase()) {
            return Err(ReferenceError::Uppercase(input.to_string()));
        }
        if !repository.split('/').all(valid_path_component) {
            return Err(invalid(
                input,
                "repository path components are lowercase letters, digits and separators",
            ));
        }
        if name.len() > 255 {
            return Err(invalid(input, "repository name longer than 255 characters"));
        }
        let mut r = Reference {
            registry: registry.map(str::to_string),
            repository: repository.to_string(),
            tag: tag.map(str::to_string),
            digest,
        };
        r.normalize_hub();
        Ok(r)
    }

    /// Build a fully-qualified reference.
    pub fn new(
        registry: &str,
        repository: &str,
        tag: Option<&str>,
        digest: Option<Digest>,
    ) -> Reference {
        let mut r = Reference {
            registry: Some(registry.to_string()),
            repository: repository.to_string(),
            tag: tag.map(str::to_string),
            digest,
        };
        r.normalize_hub();
        r
    }

    fn normalize_hub(&mut self) {
        if let Some(reg) = &self.registry {
            if reg == "index.docker.io" || reg == "registry-1.docker.io" {
                self.registry = Some(DOCKER_HUB.to_string());
            }
            if self.registry.as_deref() == Some(DOCKER_HUB) && !self.repository.contains('/') {
                self.repository = format!("library/{}", self.repository);
            }
        }
    }

    /// The same reference with `registry` filled in (for short names resolved against a search registry).
    pub fn with_registry(&self, registry: &str) -> Reference {
        Reference::new(
            registry,
            &self.repository,
            self.tag.as_deref(),
            self.digest.clone(),
        )
    }

    pub fn with_tag(&self, tag: &str) -> Reference {
        let mut r = self.clone();
        r.tag = Some(tag.to_string());
        r.digest = None;
        r
    }

    pub fn with_digest(&self, digest: Digest) -> Reference {
        let mut r = self.clone();
        r.tag = None;
        r.digest = Some(digest);
        r
    }

    pub fn registry(&self) -> Option<&str> {
        self.registry.as_deref()
    }
    pub fn repository(&self) -> &str {
        &self.repository
    }
    pub fn tag(&self) -> Option<&str> {
        self.tag.as_deref()
    }
    pub fn digest(&self) -> Option<&Digest> {
        self.digest.as_ref()
    }
    pub fn is_qualified(&self) -> bool {
        self.registry.is_some()
    }

    /// `registry/repository` (or just the repository for a short name).
    pub fn name(&self) -> String {
        match &self.registry {
            Some(r) => format!("{r}/{}", self.repository),
            None => self.repository.clone(),
        }
    }

    /// The tag, or `latest` when neither tag nor digest was given.
    pub fn tag_or_default(&self) -> Option<&str> {
        match (&self.tag, &self.digest) {
            (Some(t), _) => Some(t),
            (None, None) => Some(DEFAULT_TAG),
            (None, Some(_)) => None,
        }
    }

    /// `name:tag` with the default tag filled in, as stored in the image store's name list.
    /// `None` for a digest-only reference.
    pub fn tagged_name(&self) -> Option<String> {
        self.tag_or_default()
            .map(|t| format!("{}:{t}", self.name()))
    }

    /// The manifest reference to ask a registry for: the digest when pinned, else the tag.
    pub fn manifest_ref(&self) -> String {
        match (&self.digest, self.tag_or_default()) {
            (Some(d), _) => d.to_string(),
            (None, Some(t)) => t.to_string(),
            (None, None) => DEFAULT_TAG.to_string(),
        }
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())?;
        if let Some(t) = &self.tag {
            write!(f, ":{t}")?;
        }
        if let Some(d) = &self.digest {
            write!(f, "@{d}")?;
        }
        Ok(())
    }
}

impl FromStr for Reference {
    type Err = ReferenceError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Reference::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: &str = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    #[test]
    fn table() {
        // input, registry, repository, tag, has digest
        type Case<'a> = (&'a str, Option<&'a str>, &'a str, Option<&'a str>, bool);
        let cases: &[Case] = &[
            ("busybox", None, "busybox", None, false),
            ("busybox:1.36", None, "busybox", Some("1.36"), false),
            ("library/busybox", None, "library/busybox", None, false),
            (
                "docker.io/busybox",
                Some("docker.io"),
                "library/busybox",
                None,
                false,
            ),
            (
                "index.docker.io/foo/bar:x",
                Some("docker.io"),
                "foo/bar",
                Some("x"),
                false,
            ),
            (
                "127.0.0.1:5000/busybox",
                Some("127.0.0.1:5000"),
                "busybox",
                None,
                false,
            ),
            (
                "127.0.0.1:5000/a/b-c__d:v1.0-rc",
                Some("127.0.0.1:5000"),
                "a/b-c__d",
                Some("v1.0-rc"),
                false,
            ),
            ("localhost/app", Some("localhost"), "app", None, false),
            (
                "quay.io/x/y@sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
                Some("quay.io"),
                "x/y",
                None,
                true,
            ),
            (
                "quay.io/x/y:t@sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
                Some("quay.io"),
                "x/y",
                Some("t"),
                true,
            ),
        ];
        for (input, reg, repo, tag, dig) in cases {
            let r = Reference::parse(input).unwrap_or_else(|e| panic!("{input}: {e}"));
            assert_eq!(r.registry(), *reg, "{input}");
            assert_eq!(r.repository(), *repo, "{input}");
            assert_eq!(r.tag(), *tag, "{input}");
            assert_eq!(r.digest().is_some(), *dig, "{input}");
        }
    }

    #[test]
    fn display_and_names() {
        let r = Reference::parse("docker.io/busybox").unwrap();
        assert_eq!(r.to_string(), "docker.io/library/busybox");
        assert_eq!(r.tagged_name().unwrap(), "docker.io/library/busybox:latest");
        assert_eq!(r.manifest_ref(), "latest");
        let d = Reference::parse(&format!("x.io/a@{D}")).unwrap();
        assert_eq!(d.tagged_name(), None);
        assert_eq!(d.manifest_ref(), D);
        assert_eq!(
            Reference::parse("busybox")
                .unwrap()
                .with_registry("docker.io")
                .name(),
            "docker.io/library/busybox"
        );
    }

    #[test]
    fn rejects_bad_input() {
        for bad in [
            "",
            "Busybox",
            "busybox:",
            "a//b",
            "a/-b",
            "busybox:-x",
            "x@sha256:abc",
            "a b",
            "foo/",
            ":tag",
            "a..b",
        ] {
            assert!(Reference::parse(bad).is_err(), "{bad:?} should be rejected");
        }
    }

    mod properties {
        use proptest::prelude::*;

        use super::super::Reference;

        /// Mostly well-formed references, so that the round trip is exercised, not just refusals.
        fn plausible() -> impl Strategy<Value = String> {
            "([a-z0-9.-]{1,12}(:[0-9]{1,5})?/)?[a-z0-9]{1,8}([._/-]{0,2}[a-z0-9]{1,8}){0,3}(:[A-Za-z0-9_.-]{1,20})?(@sha256:[0-9a-f]{64})?"
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(1000))]

            #[test]
            fn any_text_parses_or_fails_cleanly(s in "\\PC{0,300}") {
                let _ = Reference::parse(&s);
            }

            #[test]
            fn parse_display_parse_round_trips(s in prop_oneof![plausible(), "[ -~]{0,80}"]) {
                if let Ok(r) = Reference::parse(&s) {
                    let shown = r.to_string();
                    let again = Reference::parse(&shown);
                    prop_assert_eq!(again.as_ref(), Ok(&r), "{} -> {}", s, shown);
                    prop_assert_eq!(again.unwrap().to_string(), shown);
                }
            }
        }
    }
}
