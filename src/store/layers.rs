//! Unpacked layers, keyed by chain id: staged, then renamed into place and recorded.
use std::path::PathBuf;

use jiff::Timestamp;
use rusqlite::{OptionalExtension, params};

use super::{LayerLock, Result, Store, StoreError, remove_tree};
use crate::oci::Digest;

#[derive(Debug, Clone, PartialEq)]
pub struct LayerRecord {
    pub chain_id: Digest,
    pub parent: Option<Digest>,
    pub diff_id: Digest,
    /// The blob kept for push and save, as received (compressed or not).
    pub blob_digest: Digest,
    pub blob_media: String,
    pub blob_size: u64,
    /// Size of the uncompressed tar.
    pub size: u64,
    pub created: Timestamp,
}

/// A layer directory being unpacked under `tmp/`; dropped without commit, it is removed.
pub struct StagedLayer {
    dir: PathBuf,
    committed: bool,
}

impl StagedLayer {
    /// Where the layer's files go.
    pub fn diff(&self) -> PathBuf {
        self.dir.join("diff")
    }
}

impl Drop for StagedLayer {
    fn drop(&mut self) {
        if !self.committed {
            let _ = remove_tree(&self.dir);
        }
    }
}

fn parse_digest(s: String) -> Result<Digest> {
    s.parse()
        .map_err(|e| StoreError::Corrupt(format!("bad digest `{s}`: {e}")))
}

fn row_to_layer(r: &rusqlite::Row) -> rusqlite::Result<[String; 8]> {
    Ok([
        r.get(0)?,
        r.get::<_, Option<String>>(1)?.unwrap_or_default(),
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get::<_, i64>(5)?.to_string(),
        r.get::<_, i64>(6)?.to_string(),
        r.get(7)?,
    ])
}

fn layer_from(cols: [String; 8]) -> Result<LayerRecord> {
    let [chain, parent, diff, blob, media, bsize, size, created] = cols;
    Ok(LayerRecord {
        chain_id: parse_digest(chain)?,
        parent: if parent.is_empty() {
            None
        } else {
            Some(parse_digest(parent)?)
        },
        diff_id: parse_digest(diff)?,
        blob_digest: parse_digest(blob)?,
        blob_media: media,
        blob_size: bsize.parse().unwrap_or(0),
        size: size.parse().unwrap_or(0),
        created: created
            .parse()
            .map_err(|_| StoreError::Corrupt(format!("bad time `{created}`")))?,
    })
}

const LAYER_COLS: &str =
    "chain_id, parent, diff_id, blob_digest, blob_media, blob_size, size, created";

impl Store {
    pub fn layer_dir(&self, chain_id: &Digest) -> PathBuf {
        self.root.join("layers").join(chain_id.hex())
    }

    /// The directory holding the layer's files (an overlay lower dir).
    pub fn layer_diff(&self, chain_id: &Digest) -> PathBuf {
        self.layer_dir(chain_id).join("diff")
    }

    /// The layer's copy with ids shifted for the nested maps named `key` (removed with the layer).
    pub fn layer_idmapped(&self, chain_id: &Digest, key: &str) -> PathBuf {
        self.layer_dir(chain_id).join("idmapped").join(key)
    }

    pub fn layer(&self, chain_id: &Digest) -> Result<Option<LayerRecord>> {
        let cols = self
            .db
            .conn
            .query_row(
                &format!("SELECT {LAYER_COLS} FROM layers WHERE chain_id = ?1"),
                [chain_id.to_string()],
                row_to_layer,
            )
            .optional()
            .map_err(|e| self.db.err(e))?;
        cols.map(layer_from).transpose()
    }

    /// All layer records.
    pub fn layers(&self) -> Result<Vec<LayerRecord>> {
        let mut st = self
            .db
            .conn
            .prepare(&format!("SELECT {LAYER_COLS} FROM layers"))
            .map_err(|e| self.db.err(e))?;
        let rows = st.query_map([], row_to_layer).map_err(|e| self.db.err(e))?;
        rows.map(|r| r.map_err(|e| self.db.err(e)).and_then(layer_from))
            .collect()
    }

    /// Whether the layer is recorded and its directory exists.
    pub fn has_layer(&self, chain_id: &Digest) -> Result<bool> {
        Ok(self.layer(chain_id)?.is_some() && self.layer_diff(chain_id).is_dir())
    }

    pub fn lock_layer(&self, chain_id: &Digest) -> Result<LayerLock> {
        LayerLock::acquire(&self.root.join("locks"), chain_id)
    }

    /// The store-wide lock `name` (see [`LayerLock::acquire_named`]).
    pub fn lock_named(&self, name: &str) -> Result<LayerLock> {
        LayerLock::acquire_named(&self.root.join("locks"), name)
    }

    /// A fresh staging directory for unpacking a layer.
    pub fn stage_layer(&self) -> Result<StagedLayer> {
        let dir = self.staging_path("layer");
        let staged = StagedLayer {
            dir,
            committed: false,
        };
        std::fs::create_dir_all(staged.diff())
            .map_err(|e| StoreError::io("create", &staged.diff(), e))?;
        Ok(staged)
    }

    /// Move a fully unpacked, verified layer into place and record it. Call with the layer's lock held.
    /// A directory already in place without a record (a command killed between rename and insert) is
    /// complete by construction and is kept.
    pub fn commit_layer(&mut self, mut staged: StagedLayer, rec: &LayerRecord) -> Result<()> {
        let dest = self.layer_dir(&rec.chain_id);
        if !dest.exists() {
            std::fs::rename(&staged.dir, &dest).map_err(|e| StoreError::io("rename", &dest, e))?;
            staged.committed = true;
        }
        drop(staged);
        self.db.write(|tx| {
            tx.execute(
                &format!(
                    "INSERT OR REPLACE INTO layers ({LAYER_COLS}) VALUES (?1,?2,?3,?4,?5,?6,?7,?8)"
                ),
                params![
                    rec.chain_id.to_string(),
                    rec.parent.as_ref().map(|p| p.to_string()),
                    rec.diff_id.to_string(),
                    rec.blob_digest.to_string(),
                    rec.blob_media,
                    rec.blob_size as i64,
                    rec.size as i64,
                    rec.created.to_string()
                ],
            )
            .map(|_| ())
        })
    }

    /// Layers that no image uses.
    pub fn unused_layers(&self) -> Result<Vec<Digest>> {
        let mut st = self
            .db
            .conn
            .prepare("SELECT chain_id FROM layers WHERE chain_id NOT IN (SELECT chain_id FROM image_layers)")
            .map_err(|e| self.db.err(e))?;
        let rows = st
            .query_map([], |r| r.get::<_, String>(0))
            .map_err(|e| self.db.err(e))?;
        rows.map(|r| r.map_err(|e| self.db.err(e)).and_then(parse_digest))
            .collect()
    }

    /// Forget a layer and delete its files and blob (unless another layer shares the blob). The record goes
    /// first, so a killed removal leaves an unreferenced directory, never a record without files.
    pub fn remove_layer(&mut self, chain_id: &Digest) -> Result<()> {
        let rec = self.layer(chain_id)?;
        self.db.write(|tx| {
            tx.execute(
                "DELETE FROM layers WHERE chain_id = ?1",
                [chain_id.to_string()],
            )
            .map(|_| ())
        })?;
        let dir = self.layer_dir(chain_id);
        if dir.exists() {
            let trash = self.staging_path("trash");
            std::fs::rename(&dir, &trash).map_err(|e| StoreError::io("rename", &dir, e))?;
            remove_tree(&trash).map_err(|e| StoreError::io("remove", &trash, e))?;
        }
        if let Some(rec) = rec {
            let shared: i64 = self
                .db
                .conn
                .query_row(
                    "SELECT COUNT(*) FROM layers WHERE blob_digest = ?1",
                    [rec.blob_digest.to_string()],
                    |r| r.get(0),
                )
                .map_err(|e| self.db.err(e))?;
            if shared == 0 {
                let _ = std::fs::remove_file(self.blob_path(&rec.blob_digest));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(n: &[u8]) -> LayerRecord {
        let d = Digest::sha256_of(n);
        LayerRecord {
            chain_id: d.clone(),
            parent: None,
            diff_id: d.clone(),
            blob_digest: d,
            blob_media: "application/vnd.oci.image.layer.v1.tar".into(),
            blob_size: 1,
            size: 2,
            created: Timestamp::now(),
        }
    }

    #[test]
    fn staged_layers_become_visible_on_commit_only() {
        let t = tempfile::tempdir().unwrap();
        let mut s = Store::open(t.path()).unwrap();
        let r = rec(b"a");
        let staged = s.stage_layer().unwrap();
        std::fs::write(staged.diff().join("f"), b"x").unwrap();
        assert!(!s.has_layer(&r.chain_id).unwrap());
        s.commit_layer(staged, &r).unwrap();
        assert!(s.has_layer(&r.chain_id).unwrap());
        assert_eq!(s.layer(&r.chain_id).unwrap().unwrap(), r);
        assert_eq!(
            std::fs::read(s.layer_diff(&r.chain_id).join("f")).unwrap(),
            b"x"
        );
        assert_eq!(s.unused_layers().unwrap(), vec![r.chain_id.clone()]);
        s.remove_layer(&r.chain_id).unwrap();
        assert!(!s.has_layer(&r.chain_id).unwrap() && !s.layer_dir(&r.chain_id).exists());
    }

    #[test]
    fn dropped_staging_is_removed() {
        let t = tempfile::tempdir().unwrap();
        let s = Store::open(t.path()).unwrap();
        let staged = s.stage_layer().unwrap();
        let dir = staged.diff();
        drop(staged);
        assert!(!dir.exists());
    }
}
