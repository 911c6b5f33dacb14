//! Volume records: a name, its driver (`local`), labels and options, and where its data lives
//! (`volumes/NAME/_data` under the store root). Whether the volume still needs populating from an image
//! (podman's NeedsCopyUp) and chowning (NeedsChown) is kept with it, so both happen once.
use std::collections::BTreeMap;
use std::path::PathBuf;

use jiff::Timestamp;
use rusqlite::{OptionalExtension, params};

use super::{Result, Store, StoreError};

#[derive(Debug, Clone, PartialEq)]
pub struct VolumeRecord {
    pub name: String,
    pub driver: String,
    pub created: Timestamp,
    pub labels: BTreeMap<String, String>,
    pub options: BTreeMap<String, String>,
    pub mountpoint: PathBuf,
    pub anonymous: bool,
    pub needs_copy_up: bool,
    pub needs_chown: bool,
}

const COLS: &str =
    "name, driver, created, labels, options, mountpoint, anonymous, needs_copy_up, needs_chown";

type Row = (
    String,
    String,
    String,
    String,
    String,
    String,
    bool,
    bool,
    bool,
);

fn row(r: &rusqlite::Row) -> rusqlite::Result<Row> {
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
}

fn map(text: &str, what: &str) -> Result<BTreeMap<String, String>> {
    serde_json::from_str(text)
        .map_err(|_| StoreError::Corrupt(format!("bad volume {what} `{text}`")))
}

fn record(r: Row) -> Result<VolumeRecord> {
    let (name, driver, created, labels, options, mountpoint, anonymous, copy_up, chown) = r;
    Ok(VolumeRecord {
        created: created
            .parse()
            .map_err(|_| StoreError::Corrupt(format!("bad time `{created}`")))?,
        labels: map(&labels, "labels")?,
        options: map(&options, "options")?,
        mountpoint: PathBuf::from(mountpoint),
        name,
        driver,
        anonymous,
        needs_copy_up: copy_up,
        needs_chown: chown,
    })
}

impl Store {
    /// The directory holding a volume (its data is in `_data` below it).
    pub fn volume_dir(&self, name: &str) -> PathBuf {
        self.root.join("volumes").join(name)
    }

    /// Record a volume and create its data directory; fails with `VolumeExists` when the name is taken.
    pub fn add_volume(&mut self, v: &VolumeRecord) -> Result<()> {
        if self.volume(&v.name)?.is_some() {
            return Err(StoreError::VolumeExists(v.name.clone()));
        }
        let dir = self.volume_dir(&v.name);
        crate::paths::ensure_dir(&dir, 0o700)
            .and_then(|()| crate::paths::ensure_dir(&v.mountpoint, 0o755))
            .map_err(|e| match e {
                crate::paths::PathsError::Create { path, source } => StoreError::Io {
                    op: "create",
                    path,
                    source,
                },
                other => StoreError::Corrupt(other.to_string()),
            })?;
        let labels = serde_json::to_string(&v.labels).expect("labels serialize");
        let options = serde_json::to_string(&v.options).expect("options serialize");
        let r = self.db.write(|tx| {
            tx.execute(
                &format!("INSERT INTO volumes ({COLS}) VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9)"),
                params![
                    v.name,
                    v.driver,
                    v.created.to_string(),
                    labels,
                    options,
                    v.mountpoint.to_string_lossy(),
                    v.anonymous,
                    v.needs_copy_up,
                    v.needs_chown
                ],
            )
            .map(|_| ())
        });
        match r {
            Err(StoreError::Db {
                source: rusqlite::Error::SqliteFailure(e, _),
                ..
            }) if e.code == rusqlite::ErrorCode::ConstraintViolation => {
                Err(StoreError::VolumeExists(v.name.clone()))
            }
            Err(e) => {
                let _ = super::remove_tree(&dir);
                Err(e)
            }
            ok => ok,
        }
    }

    pub fn volume(&self, name: &str) -> Result<Option<VolumeRecord>> {
        let r = self
            .db
            .conn
            .query_row(
                &format!("SELECT {COLS} FROM volumes WHERE name = ?1"),
                [name],
                row,
            )
            .optional()
            .map_err(|e| self.db.err(e))?;
        r.map(record).transpose()
    }

    /// All volumes, by name.
    pub fn volumes(&self) -> Result<Vec<VolumeRecord>> {
        let mut st = self
            .db
            .conn
            .prepare(&format!("SELECT {COLS} FROM volumes ORDER BY name"))
            .map_err(|e| self.db.err(e))?;
        let rows = st.query_map([], row).map_err(|e| self.db.err(e))?;
        rows.map(|r| r.map_err(|e| self.db.err(e)).and_then(record))
            .collect()
    }

    /// The volume has been mounted once: no more copy-up or chown.
    pub fn set_volume_populated(&mut self, name: &str) -> Result<()> {
        self.db.write(|tx| {
            tx.execute(
                "UPDATE volumes SET needs_copy_up = 0, needs_chown = 0 WHERE name = ?1",
                [name],
            )
            .map(|_| ())
        })
    }

    /// Forget the volume, then delete its directory (a crash in between leaves only files for prune).
    pub fn remove_volume(&mut self, name: &str) -> Result<()> {
        self.db.write(|tx| {
            tx.execute("DELETE FROM volumes WHERE name = ?1", [name])
                .map(|_| ())
        })?;
        let dir = self.volume_dir(name);
        super::remove_tree(&dir).map_err(|e| StoreError::io("remove", &dir, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vol(s: &Store, name: &str) -> VolumeRecord {
        VolumeRecord {
            name: name.into(),
            driver: "local".into(),
            created: Timestamp::now(),
            labels: BTreeMap::from([("a".into(), "b".into())]),
            options: BTreeMap::new(),
            mountpoint: s.volume_dir(name).join("_data"),
            anonymous: false,
            needs_copy_up: true,
            needs_chown: true,
        }
    }

    #[test]
    fn volumes_are_recorded_populated_and_removed() {
        let t = tempfile::tempdir().unwrap();
        let mut s = Store::open(t.path()).unwrap();
        let v = vol(&s, "data");
        s.add_volume(&v).unwrap();
        assert!(v.mountpoint.is_dir());
        assert!(matches!(
            s.add_volume(&v),
            Err(StoreError::VolumeExists(n)) if n == "data"
        ));
        s.add_volume(&vol(&s, "cache")).unwrap();
        let names: Vec<String> = s.volumes().unwrap().into_iter().map(|v| v.name).collect();
        assert_eq!(names, ["cache", "data"]);
        assert_eq!(s.volume("data").unwrap().unwrap(), v);
        s.set_volume_populated("data").unwrap();
        let got = s.volume("data").unwrap().unwrap();
        assert!(!got.needs_copy_up && !got.needs_chown);
        std::fs::write(v.mountpoint.join("f"), b"x").unwrap();
        s.remove_volume("data").unwrap();
        assert!(s.volume("data").unwrap().is_none());
        assert!(!s.volume_dir("data").exists());
    }
}
