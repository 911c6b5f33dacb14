//! Finding a local image from what the user typed: an ID (or a unique prefix), a full name, a short name
//! (`busybox` finds `localhost/busybox:latest` or `127.0.0.1:5000/busybox:latest`), or `name@digest`.
use super::ImageError;
use crate::engine::EngineError;
use crate::oci::{DEFAULT_TAG, Digest, Reference};
use crate::store::Store;

/// The full stored name for a user-supplied name: short names live under `localhost/`, the tag defaults to
/// `latest` (podman's normalisation for tag, commit, import and build).
pub fn normalize_name(input: &str) -> Result<String, EngineError> {
    let r = Reference::parse(input)?;
    if r.digest().is_some() && r.tag().is_none() {
        return Err(ImageError::DigestOnlyTag(input.to_string()).into());
    }
    let r = if r.is_qualified() {
        r
    } else {
        r.with_registry("localhost")
    };
    Ok(format!("{}:{}", r.name(), r.tag().unwrap_or(DEFAULT_TAG)))
}

/// Whether a stored full name (`registry/repo:tag`) matches a short name such as `busybox` or `x/busybox:1`.
pub fn short_matches(stored: &str, input: &str) -> bool {
    let (Ok(s), Ok(i)) = (Reference::parse(stored), Reference::parse(input)) else {
        return false;
    };
    if i.is_qualified() || s.tag() != Some(i.tag().unwrap_or(DEFAULT_TAG)) {
        return false;
    }
    let (repo, want) = (s.repository(), i.repository());
    repo == want || repo.ends_with(&format!("/{want}"))
}

fn one(input: &str, mut ids: Vec<Digest>) -> Result<Option<Digest>, EngineError> {
    ids.sort();
    ids.dedup();
    match ids.len() {
        0 => Ok(None),
        1 => Ok(ids.pop()),
        _ => Err(EngineError::Ambiguous {
            input: input.to_string(),
            matches: ids
                .iter()
                .map(|d| d.short().to_string())
                .collect::<Vec<_>>()
                .join(", "),
        }),
    }
}

/// Resolve `input` to an image id in `store`.
pub fn lookup(store: &Store, input: &str) -> Result<Digest, EngineError> {
    let not_known = || EngineError::ImageNotKnown(input.to_string());
    if let Some(hex) = input.strip_prefix("sha256:") {
        return one(input, store.images_by_id_prefix(hex)?)?.ok_or_else(not_known);
    }
    let parsed = Reference::parse(input);
    if let Ok(r) = &parsed {
        if let Some(d) = r.digest() {
            let ids = store.images_by_digest(d)?;
            return one(input, ids)?.ok_or_else(not_known);
        }
        if r.is_qualified() {
            if let Some(id) = store.image_by_name(&r.tagged_name().unwrap_or_default())? {
                return Ok(id);
            }
        } else {
            let tag = r.tag().unwrap_or(DEFAULT_TAG);
            if let Some(id) = store.image_by_name(&format!("localhost/{}:{tag}", r.repository()))? {
                return Ok(id);
            }
            let names = store.all_names()?;
            let mut ids = Vec::new();
            for n in names.iter().filter(|n| short_matches(n, input)) {
                if let Some(id) = store.image_by_name(n)? {
                    ids.push(id);
                }
            }
            if let Some(id) = one(input, ids)? {
                return Ok(id);
            }
        }
    }
    // An ID prefix (podman accepts any unique prefix of the hex id).
    if input.len() >= 3
        && input.bytes().all(|b| b.is_ascii_hexdigit())
        && let Some(id) = one(input, store.images_by_id_prefix(input)?)?
    {
        return Ok(id);
    }
    match parsed {
        Err(e) if !input.bytes().all(|b| b.is_ascii_hexdigit()) => Err(e.into()),
        _ => Err(not_known()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_normalize_like_podman() {
        assert_eq!(normalize_name("app").unwrap(), "localhost/app:latest");
        assert_eq!(normalize_name("app:v1").unwrap(), "localhost/app:v1");
        assert_eq!(
            normalize_name("127.0.0.1:5000/x/app").unwrap(),
            "127.0.0.1:5000/x/app:latest"
        );
        assert_eq!(
            normalize_name("docker.io/app:2").unwrap(),
            "docker.io/library/app:2"
        );
        assert!(normalize_name("App").is_err());
    }

    #[test]
    fn short_names_match_on_path_boundaries() {
        assert!(short_matches("127.0.0.1:5000/busybox:latest", "busybox"));
        assert!(short_matches("docker.io/library/busybox:latest", "busybox"));
        assert!(short_matches("docker.io/library/busybox:1", "busybox:1"));
        assert!(!short_matches("docker.io/library/busybox:1", "busybox"));
        assert!(!short_matches("x.io/mybusybox:latest", "busybox"));
        assert!(!short_matches("x.io/busybox:latest", "y.io/busybox"));
    }
}
