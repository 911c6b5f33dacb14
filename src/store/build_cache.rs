//! The build cache: one row per build step, keyed by a digest of everything the step depends on (see
//! `engine::build::cache`), holding the image config after the step and its layer stack. A lookup is a
//! primary-key query. Rows may outlive their layers (`rmi` removes unused layers); the caller checks.
use jiff::Timestamp;
use rusqlite::{OptionalExtension, params};

use super::{Result, Store, StoreError};
use crate::oci::Digest;

/// What a cached step produced.
#[derive(Debug, Clone, PartialEq)]
pub struct CachedStep {
    /// The image config bytes after the step (their digest is the step's image id).
    pub config: Vec<u8>,
    /// Chain ids, bottom first.
    pub layers: Vec<Digest>,
}

impl Store {
    pub fn cached_step(&self, key: &Digest) -> Result<Option<CachedStep>> {
        let row: Option<(Vec<u8>, String)> = self
            .db
            .conn
            .query_row(
                "SELECT config, layers FROM build_cache WHERE key = ?1",
                [key.to_string()],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .map_err(|e| self.db.err(e))?;
        let Some((config, layers)) = row else {
            return Ok(None);
        };
        let layers: Vec<String> = serde_json::from_str(&layers)
            .map_err(|e| StoreError::Corrupt(format!("build cache `{key}`: {e}")))?;
        let layers = layers
            .iter()
            .map(|l| {
                l.parse()
                    .map_err(|e| StoreError::Corrupt(format!("bad digest `{l}`: {e}")))
            })
            .collect::<Result<_>>()?;
        Ok(Some(CachedStep { config, layers }))
    }

    pub fn put_cached_step(&mut self, key: &Digest, step: &CachedStep) -> Result<()> {
        let layers: Vec<String> = step.layers.iter().map(Digest::to_string).collect();
        let layers = serde_json::to_string(&layers).expect("strings serialize");
        self.db.write(|tx| {
            tx.execute(
                "INSERT OR REPLACE INTO build_cache (key, config, layers, created) VALUES (?1, ?2, ?3, ?4)",
                params![key.to_string(), step.config, layers, Timestamp::now().to_string()],
            )
            .map(|_| ())
        })
    }

    pub fn forget_cached_step(&mut self, key: &Digest) -> Result<()> {
        self.db.write(|tx| {
            tx.execute("DELETE FROM build_cache WHERE key = ?1", [key.to_string()])
                .map(|_| ())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let t = tempfile::tempdir().unwrap();
        let mut s = Store::open(t.path()).unwrap();
        let k = Digest::sha256_of(b"k");
        assert_eq!(s.cached_step(&k).unwrap(), None);
        let step = CachedStep {
            config: b"{}".to_vec(),
            layers: vec![Digest::sha256_of(b"a"), Digest::sha256_of(b"b")],
        };
        s.put_cached_step(&k, &step).unwrap();
        assert_eq!(s.cached_step(&k).unwrap(), Some(step));
        s.forget_cached_step(&k).unwrap();
        assert_eq!(s.cached_step(&k).unwrap(), None);
    }
}
