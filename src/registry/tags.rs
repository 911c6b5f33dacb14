//! The tags of a repository (`GET /v2/NAME/tags/list`), following the registry's `Link` pages.
use reqwest::Method;
use reqwest::header::HeaderMap;

use super::client::Client;
use super::error::RegistryError;
use super::response::{Subject, read_limited};
use crate::oci::Reference;

/// A page of tags is a small JSON document.
const PAGE_LIMIT: u64 = 4 << 20;
/// Pages followed at most (a registry that links to itself ends here).
const MAX_PAGES: usize = 1000;

#[derive(serde::Deserialize)]
struct TagList {
    #[serde(default)]
    tags: Option<Vec<String>>,
}

/// `Link: </v2/x/tags/list?n=100&last=b>; rel="next"`: the next page's address.
fn next_page(headers: &HeaderMap) -> Option<String> {
    let link = headers.get("link")?.to_str().ok()?;
    link.split(',').find_map(|part| {
        let (target, params) = part.split_once(';')?;
        let next = params
            .split(';')
            .any(|p| p.trim().replace(' ', "") == "rel=\"next\"" || p.trim() == "rel=next");
        let t = target.trim();
        (next && t.starts_with('<') && t.ends_with('>')).then(|| t[1..t.len() - 1].to_string())
    })
}

impl Client {
    /// Every tag of `reference`'s repository, in the registry's order.
    pub async fn list_tags(&self, reference: &Reference) -> Result<Vec<String>, RegistryError> {
        let registry = self.registry_of(reference)?;
        let repo = reference.repository();
        let unqualified = || RegistryError::Unqualified {
            reference: reference.to_string(),
        };
        let mut url = self
            .base_url(registry)
            .await?
            .join(&format!("v2/{repo}/tags/list"))
            .map_err(|_| unqualified())?;
        let scopes = [format!("repository:{repo}:pull")];
        let mut tags = Vec::new();
        for _ in 0..MAX_PAGES {
            let resp = self
                .execute(
                    registry,
                    Some(repo),
                    &scopes,
                    Method::GET,
                    url.clone(),
                    &mut Some,
                )
                .await?;
            let resp = self
                .check(registry, Subject::Manifest(reference), resp)
                .await?;
            let next = next_page(resp.headers()).and_then(|n| url.join(&n).ok());
            let timeout = self.options().timeout;
            let bytes = read_limited(resp, PAGE_LIMIT, reference, "tag list", timeout).await?;
            let page: TagList =
                serde_json::from_slice(&bytes).map_err(|source| RegistryError::TagList {
                    reference: reference.name(),
                    source,
                })?;
            tags.extend(page.tags.unwrap_or_default());
            match next {
                Some(n) => url = n,
                None => break,
            }
        }
        Ok(tags)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_page_from_the_link_header() {
        let mut h = HeaderMap::new();
        assert_eq!(next_page(&h), None);
        h.insert(
            "link",
            "</v2/a/tags/list?n=2&last=b>; rel=\"next\""
                .parse()
                .unwrap(),
        );
        assert_eq!(next_page(&h).as_deref(), Some("/v2/a/tags/list?n=2&last=b"));
        h.insert("link", "</x>; rel=\"prev\"".parse().unwrap());
        assert_eq!(next_page(&h), None);
    }
}
