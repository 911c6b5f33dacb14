//! Image records: an image is its config digest (its id), the manifest it came with, its layer stack,
//! and the names (`registry/repo:tag`) and manifest digests that point at it.
use std::collections::{BTreeMap, HashMap};

use jiff::Timestamp;
use rusqlite::{OptionalExtension, params};

use super::{Result, Store, StoreError};
use crate::oci::Digest;

/// What `put_image` records.
#[derive(Debug, Clone)]
pub struct NewImage {
    pub id: Digest,
    pub manifest_digest: Digest,
    pub manifest_media: String,
    pub created: Option<Timestamp>,
    pub size: u64,
    pub labels: BTreeMap<String, String>,
    pub arch: String,
    pub os: String,
    /// Chain ids, bottom layer first.
    pub layers: Vec<Digest>,
    /// Names to point at this image (moved from any image that had them).
    pub names: Vec<String>,
    /// Extra manifest digests (e.g. the index digest a pull went through).
    pub digests: Vec<Digest>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ImageRecord {
    pub id: Digest,
    /// The manifest digest (the blob of that digest is the manifest).
    pub digest: Digest,
    pub manifest_media: String,
    pub created: Option<Timestamp>,
    pub added: Timestamp,
    /// Bytes on disk: its layers and its metadata ([`ImageRecord::metadata_size`]), as podman counts
    /// an image's size.
    pub size: u64,
    /// Bytes of its manifest and config (counted in `size`; no other image shares them).
    pub metadata_size: u64,
    pub labels: BTreeMap<String, String>,
    pub arch: String,
    pub os: String,
    /// Names, in the order they were added (podman's RepoTags order).
    pub names: Vec<String>,
    /// All manifest digests known for this image, `digest` first.
    pub digests: Vec<Digest>,
    pub layers: Vec<Digest>,
}

fn digest(s: &str) -> Result<Digest> {
    s.parse()
        .map_err(|e| StoreError::Corrupt(format!("bad digest `{s}`: {e}")))
}

fn time(s: &str) -> Result<Timestamp> {
    s.parse()
        .map_err(|_| StoreError::Corrupt(format!("bad time `{s}`")))
}

type Row = (
    String,
    String,
    String,
    Option<String>,
    String,
    i64,
    String,
    String,
    String,
);

impl Store {
    /// Record an image in one transaction. Its layers must be committed already.
    pub fn put_image(&mut self, img: &NewImage) -> Result<()> {
        let now = Timestamp::now().to_string();
        let labels = serde_json::to_string(&img.labels).expect("string maps serialize");
        self.db.write(|tx| {
            tx.execute(
                "INSERT INTO images (id, digest, manifest_media, created, added, size, labels, arch, os)
                 VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9)
                 ON CONFLICT(id) DO UPDATE SET digest=excluded.digest, manifest_media=excluded.manifest_media",
                params![
                    img.id.to_string(),
                    img.manifest_digest.to_string(),
                    img.manifest_media,
                    img.created.map(|c| c.to_string()),
                    now,
                    img.size as i64,
                    labels,
                    img.arch,
                    img.os
                ],
            )?;
            tx.execute("DELETE FROM image_layers WHERE image_id = ?1", [img.id.to_string()])?;
            for (i, l) in img.layers.iter().enumerate() {
                tx.execute(
                    "INSERT INTO image_layers (image_id, idx, chain_id) VALUES (?1, ?2, ?3)",
                    params![img.id.to_string(), i as i64, l.to_string()],
                )?;
            }
            for d in std::iter::once(&img.manifest_digest).chain(&img.digests) {
                tx.execute(
                    "INSERT OR IGNORE INTO image_digests (image_id, digest) VALUES (?1, ?2)",
                    params![img.id.to_string(), d.to_string()],
                )?;
            }
            for n in &img.names {
                tx.execute(
                    "INSERT OR REPLACE INTO image_names (name, image_id, added) VALUES (?1, ?2, ?3)",
                    params![n, img.id.to_string(), now],
                )?;
            }
            Ok(())
        })
    }

    /// Every image with its names, digests and layers (four queries, whatever the number of images).
    pub fn images(&self) -> Result<Vec<ImageRecord>> {
        self.query_images(None)
    }

    pub fn image(&self, id: &Digest) -> Result<Option<ImageRecord>> {
        Ok(self.query_images(Some(id))?.into_iter().next())
    }

    fn query_images(&self, only: Option<&Digest>) -> Result<Vec<ImageRecord>> {
        let filter = if only.is_some() {
            " WHERE image_id = ?1"
        } else {
            ""
        };
        let mut names = self.grouped(
            &format!("SELECT image_id, name FROM image_names{filter} ORDER BY added, name"),
            only,
        )?;
        let mut digests = self.grouped(
            &format!("SELECT image_id, digest FROM image_digests{filter}"),
            only,
        )?;
        let mut layers = self.grouped(
            &format!("SELECT image_id, chain_id FROM image_layers{filter} ORDER BY image_id, idx"),
            only,
        )?;
        self.image_rows(only)?
            .into_iter()
            .map(|row| {
                let id = row.0.clone();
                let mut rec = image_record(
                    row,
                    names.remove(&id).unwrap_or_default(),
                    digests.remove(&id).unwrap_or_default(),
                    layers.remove(&id).unwrap_or_default(),
                )?;
                let blob = |d: &Digest| std::fs::metadata(self.blob_path(d)).map_or(0, |m| m.len());
                rec.metadata_size = blob(&rec.digest) + blob(&rec.id);
                rec.size += rec.metadata_size;
                Ok(rec)
            })
            .collect()
    }

    /// `(image_id, value)` rows of `sql`, the values grouped by image in row order.
    fn grouped(&self, sql: &str, only: Option<&Digest>) -> Result<HashMap<String, Vec<String>>> {
        let err = |e| self.db.err(e);
        let id_param: Vec<String> = only.map(|d| d.to_string()).into_iter().collect();
        let mut st = self.db.conn.prepare(sql).map_err(err)?;
        let mut out: HashMap<String, Vec<String>> = HashMap::new();
        for r in st
            .query_map(rusqlite::params_from_iter(id_param.iter()), |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
            })
            .map_err(err)?
        {
            let (id, v) = r.map_err(err)?;
            out.entry(id).or_default().push(v);
        }
        Ok(out)
    }

    /// The `images` rows, newest first.
    fn image_rows(&self, only: Option<&Digest>) -> Result<Vec<Row>> {
        let err = |e| self.db.err(e);
        let id_param: Vec<String> = only.map(|d| d.to_string()).into_iter().collect();
        let where_id = if only.is_some() { " WHERE id = ?1" } else { "" };
        let mut st = self
            .db
            .conn
            .prepare(&format!(
                "SELECT id, digest, manifest_media, created, added, size, labels, arch, os FROM images{where_id} ORDER BY added DESC, id"
            ))
            .map_err(err)?;
        st.query_map(rusqlite::params_from_iter(id_param.iter()), |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
                r.get(6)?,
                r.get(7)?,
                r.get(8)?,
            ))
        })
        .map_err(err)?
        .collect::<rusqlite::Result<_>>()
        .map_err(err)
    }

    /// The image a full name (`registry/repo:tag`) points at.
    pub fn image_by_name(&self, name: &str) -> Result<Option<Digest>> {
        let id: Option<String> = self
            .db
            .conn
            .query_row(
                "SELECT image_id FROM image_names WHERE name = ?1",
                [name],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| self.db.err(e))?;
        id.map(|i| digest(&i)).transpose()
    }

    /// Images whose id starts with `prefix` (hex, without `sha256:`).
    pub fn images_by_id_prefix(&self, prefix: &str) -> Result<Vec<Digest>> {
        if prefix.is_empty() || !prefix.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Ok(Vec::new());
        }
        let mut st = self
            .db
            .conn
            .prepare("SELECT id FROM images WHERE id LIKE ?1")
            .map_err(|e| self.db.err(e))?;
        let rows = st
            .query_map([format!("sha256:{}%", prefix.to_ascii_lowercase())], |r| {
                r.get::<_, String>(0)
            })
            .map_err(|e| self.db.err(e))?;
        rows.map(|r| r.map_err(|e| self.db.err(e)).and_then(|s| digest(&s)))
            .collect()
    }

    /// Images that have the given manifest digest.
    pub fn images_by_digest(&self, d: &Digest) -> Result<Vec<Digest>> {
        let mut st = self
            .db
            .conn
            .prepare("SELECT image_id FROM image_digests WHERE digest = ?1")
            .map_err(|e| self.db.err(e))?;
        let rows = st
            .query_map([d.to_string()], |r| r.get::<_, String>(0))
            .map_err(|e| self.db.err(e))?;
        rows.map(|r| r.map_err(|e| self.db.err(e)).and_then(|s| digest(&s)))
            .collect()
    }

    /// All names, for completion.
    pub fn all_names(&self) -> Result<Vec<String>> {
        let mut st = self
            .db
            .conn
            .prepare("SELECT name FROM image_names ORDER BY name")
            .map_err(|e| self.db.err(e))?;
        let rows = st
            .query_map([], |r| r.get::<_, String>(0))
            .map_err(|e| self.db.err(e))?;
        rows.collect::<rusqlite::Result<_>>()
            .map_err(|e| self.db.err(e))
    }

    /// Point `name` at image `id` (taking it from any other image).
    pub fn add_name(&mut self, id: &Digest, name: &str) -> Result<()> {
        let now = Timestamp::now().to_string();
        self.db.write(|tx| {
            tx.execute(
                "INSERT OR REPLACE INTO image_names (name, image_id, added) VALUES (?1, ?2, ?3)",
                params![name, id.to_string(), now],
            )
            .map(|_| ())
        })
    }

    /// Remove a name; whether it existed.
    pub fn remove_name(&mut self, name: &str) -> Result<bool> {
        self.db.write(|tx| {
            tx.execute("DELETE FROM image_names WHERE name = ?1", [name])
                .map(|n| n > 0)
        })
    }

    /// Forget an image (names, digests, layer references). Its layers stay until `unused_layers` says so.
    pub fn remove_image(&mut self, id: &Digest) -> Result<()> {
        self.db.write(|tx| {
            tx.execute("DELETE FROM images WHERE id = ?1", [id.to_string()])
                .map(|_| ())
        })
    }
}

/// An image's record from its `images` row and its names, extra digests and layers.
fn image_record(
    (id, dg, media, created, added, size, labels, arch, os): Row,
    names: Vec<String>,
    digests: Vec<String>,
    layers: Vec<String>,
) -> Result<ImageRecord> {
    let main = digest(&dg)?;
    let mut all = vec![main.clone()];
    for d in digests {
        let d = digest(&d)?;
        if d != main {
            all.push(d);
        }
    }
    Ok(ImageRecord {
        digest: main,
        manifest_media: media,
        created: created.as_deref().map(time).transpose()?,
        added: time(&added)?,
        size: size.max(0) as u64,
        metadata_size: 0,
        labels: serde_json::from_str(&labels).unwrap_or_default(),
        arch,
        os,
        names,
        digests: all,
        layers: layers.iter().map(|l| digest(l)).collect::<Result<_>>()?,
        id: digest(&id)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::LayerRecord;

    fn image(store: &mut Store, seed: &[u8], names: &[&str]) -> Digest {
        let l = Digest::sha256_of(seed);
        let staged = store.stage_layer().unwrap();
        store
            .commit_layer(
                staged,
                &LayerRecord {
                    chain_id: l.clone(),
                    parent: None,
                    diff_id: l.clone(),
                    blob_digest: l.clone(),
                    blob_media: "x".into(),
                    blob_size: 1,
                    size: 1,
                    created: Timestamp::now(),
                },
            )
            .unwrap();
        let id = Digest::sha256_of(&[seed, b"config"].concat());
        store
            .put_image(&NewImage {
                id: id.clone(),
                manifest_digest: Digest::sha256_of(&[seed, b"manifest"].concat()),
                manifest_media: "m".into(),
                created: None,
                size: 10,
                labels: [("a".to_string(), "b".to_string())].into(),
                arch: "amd64".into(),
                os: "linux".into(),
                layers: vec![l],
                names: names.iter().map(|s| s.to_string()).collect(),
                digests: vec![],
            })
            .unwrap();
        id
    }

    #[test]
    fn names_move_between_images() {
        let t = tempfile::tempdir().unwrap();
        let mut s = Store::open(t.path()).unwrap();
        let a = image(&mut s, b"a", &["x.io/a:1", "x.io/a:latest"]);
        let b = image(&mut s, b"b", &["x.io/a:latest"]);
        assert_eq!(s.image_by_name("x.io/a:latest").unwrap(), Some(b.clone()));
        assert_eq!(s.image(&a).unwrap().unwrap().names, vec!["x.io/a:1"]);
        assert!(s.remove_name("x.io/a:1").unwrap());
        assert!(
            s.image(&a).unwrap().unwrap().names.is_empty(),
            "a is dangling now"
        );
        assert_eq!(s.images().unwrap().len(), 2);
        assert_eq!(
            s.images_by_id_prefix(&b.hex()[..6]).unwrap(),
            vec![b.clone()]
        );
        assert!(s.images_by_id_prefix("zz").unwrap().is_empty());
        s.remove_image(&a).unwrap();
        assert_eq!(s.unused_layers().unwrap(), vec![Digest::sha256_of(b"a")]);
        let rec = s.image(&b).unwrap().unwrap();
        assert_eq!(rec.labels["a"], "b");
        assert_eq!(rec.layers, vec![Digest::sha256_of(b"b")]);
    }
}
