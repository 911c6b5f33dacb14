//! `images --filter`: dangling, reference, label, before, since (podman's semantics).
use super::ImageError;
use crate::engine::EngineError;
use crate::store::{ImageRecord, Store};

/// A filter as typed: `key=value`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Filter {
    Dangling(bool),
    Reference(String),
    Label {
        key: String,
        value: Option<String>,
        negate: bool,
    },
    Before(String),
    Since(String),
    Id(String),
}

/// Parse `--filter` values.
pub fn parse_filters(raw: &[String]) -> Result<Vec<Filter>, EngineError> {
    raw.iter()
        .map(|f| {
            let (k, v) = f
                .split_once('=')
                .ok_or_else(|| EngineError::from(ImageError::FilterSyntax(f.clone())))?;
            Ok(match k {
                "dangling" => Filter::Dangling(match v {
                    "true" | "1" => true,
                    "false" | "0" => false,
                    _ => return Err(ImageError::FilterDangling(f.clone()).into()),
                }),
                "reference" => Filter::Reference(v.to_string()),
                "label" | "label!" => {
                    let (key, value) = match v.split_once('=') {
                        Some((k2, v2)) => (k2.to_string(), Some(v2.to_string())),
                        None => (v.to_string(), None),
                    };
                    Filter::Label {
                        key,
                        value,
                        negate: k == "label!",
                    }
                }
                "before" => Filter::Before(v.to_string()),
                "since" | "after" => Filter::Since(v.to_string()),
                "id" => Filter::Id(v.trim_start_matches("sha256:").to_string()),
                _ => {
                    return Err(ImageError::FilterKey(k.to_string()).into());
                }
            })
        })
        .collect()
}

/// A filter with image names resolved to creation times.
pub(super) enum Resolved {
    Plain(Filter),
    CreatedBefore(jiff::Timestamp),
    CreatedAfter(jiff::Timestamp),
}

pub(super) fn resolve(store: &Store, filters: &[Filter]) -> Result<Vec<Resolved>, EngineError> {
    filters
        .iter()
        .map(|f| {
            let when = |name: &str| -> Result<jiff::Timestamp, EngineError> {
                let id = super::lookup(store, name)?;
                let rec = store
                    .image(&id)?
                    .ok_or_else(|| EngineError::ImageNotKnown(name.to_string()))?;
                Ok(rec.created.unwrap_or(rec.added))
            };
            Ok(match f {
                Filter::Before(n) => Resolved::CreatedBefore(when(n)?),
                Filter::Since(n) => Resolved::CreatedAfter(when(n)?),
                other => Resolved::Plain(other.clone()),
            })
        })
        .collect()
}

/// Glob match with `*` and `?` (podman matches `reference` filters with path.Match).
fn glob(pattern: &str, s: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), s.chars().collect());
    let (mut pi, mut ti, mut star, mut mark) = (0, 0, None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' && t[ti] != '/' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(sp) = star
            && t[mark] != '/'
        {
            pi = sp + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

fn reference_matches(pattern: &str, name: &str) -> bool {
    // A pattern without a tag matches any tag; it may match the whole name or the path after the registry.
    let (repo, tag) = match name.rfind(':') {
        Some(i) if !name[i..].contains('/') => (&name[..i], &name[i + 1..]),
        _ => (name, ""),
    };
    let (pat_repo, pat_tag) = match pattern.rfind(':') {
        Some(i) if !pattern[i..].contains('/') => (&pattern[..i], Some(&pattern[i + 1..])),
        _ => (pattern, None),
    };
    let tag_ok = pat_tag.is_none_or(|t| glob(t, tag));
    let path = repo.split_once('/').map_or(repo, |(_, p)| p);
    tag_ok
        && (glob(pat_repo, repo)
            || glob(pat_repo, path)
            || path
                .rsplit('/')
                .next()
                .is_some_and(|last| glob(pat_repo, last)))
}

impl Resolved {
    pub(super) fn matches(&self, img: &ImageRecord) -> bool {
        let created = img.created.unwrap_or(img.added);
        match self {
            Resolved::CreatedBefore(t) => created < *t,
            Resolved::CreatedAfter(t) => created > *t,
            Resolved::Plain(Filter::Dangling(d)) => img.names.is_empty() == *d,
            Resolved::Plain(Filter::Reference(p)) => {
                img.names.iter().any(|n| reference_matches(p, n))
            }
            Resolved::Plain(Filter::Label { key, value, negate }) => {
                let has = match value {
                    Some(v) => img.labels.get(key) == Some(v),
                    None => img.labels.contains_key(key),
                };
                has != *negate
            }
            Resolved::Plain(Filter::Id(p)) => img.id.hex().starts_with(p.as_str()),
            Resolved::Plain(Filter::Before(_) | Filter::Since(_)) => true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses() {
        let f = parse_filters(&[
            "dangling=true".into(),
            "label=a=b".into(),
            "label!=x".into(),
        ])
        .unwrap();
        assert_eq!(f[0], Filter::Dangling(true));
        assert_eq!(
            f[1],
            Filter::Label {
                key: "a".into(),
                value: Some("b".into()),
                negate: false
            }
        );
        assert_eq!(
            f[2],
            Filter::Label {
                key: "x".into(),
                value: None,
                negate: true
            }
        );
        assert!(parse_filters(&["nope".into()]).is_err());
        assert!(parse_filters(&["color=red".into()]).is_err());
        assert!(parse_filters(&["dangling=maybe".into()]).is_err());
    }

    #[test]
    fn reference_patterns() {
        let n = "127.0.0.1:5000/busybox:latest";
        assert!(reference_matches("busybox", n));
        assert!(reference_matches("busy*", n));
        assert!(reference_matches("*box:latest", n));
        assert!(reference_matches("127.0.0.1:5000/busybox", n));
        assert!(!reference_matches("busybox:1", n));
        assert!(!reference_matches("alpine", n));
        assert!(reference_matches("localhost/app*", "localhost/app2:v1"));
    }
}
