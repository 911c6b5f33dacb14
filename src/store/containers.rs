//! Container records: identity, the spec it was created with (JSON, owned by the engine), and its state
//! (JSON, rewritten in one statement at every change, so readers see either the old or the new state).
use jiff::Timestamp;
use rusqlite::{OptionalExtension, params};

use super::{Result, Store, StoreError};
use crate::oci::Digest;

#[derive(Debug, Clone, PartialEq)]
pub struct ContainerRecord {
    pub id: String,
    pub name: String,
    pub image_id: Digest,
    /// The image as the user named it.
    pub image: String,
    pub created: Timestamp,
    /// Engine-defined JSON: what the container runs.
    pub spec: String,
    /// Engine-defined JSON: status, pid, times, exit code.
    pub state: String,
}

const COLS: &str = "id, name, image_id, image, created, spec, state";

fn row(r: &rusqlite::Row) -> rusqlite::Result<[String; 7]> {
    Ok([
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
        r.get(6)?,
    ])
}

fn record(c: [String; 7]) -> Result<ContainerRecord> {
    let [id, name, image_id, image, created, spec, state] = c;
    Ok(ContainerRecord {
        image_id: image_id
            .parse()
            .map_err(|_| StoreError::Corrupt(format!("bad image id `{image_id}`")))?,
        created: created
            .parse()
            .map_err(|_| StoreError::Corrupt(format!("bad time `{created}`")))?,
        id,
        name,
        image,
        spec,
        state,
    })
}

impl Store {
    /// The container's persistent directory (upper/work dirs).
    pub fn container_dir(&self, id: &str) -> std::path::PathBuf {
        self.root.join("containers").join(id)
    }

    /// Make the container's directory, private (0700), with its `diff`, `work` and `merged` dirs (which
    /// keep the usual modes: the upper dir's mode is the container's `/`).
    pub fn create_container_dir(&self, id: &str) -> Result<std::path::PathBuf> {
        use std::os::unix::fs::DirBuilderExt;
        let dir = self.container_dir(id);
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(&dir)
            .map_err(|e| StoreError::io("create", &dir, e))?;
        for d in ["diff", "work", "merged"] {
            let p = dir.join(d);
            std::fs::create_dir(&p).map_err(|e| StoreError::io("create", &p, e))?;
        }
        Ok(dir)
    }

    /// Add a container; fails with `NameInUse` when the name is taken.
    pub fn add_container(&mut self, c: &ContainerRecord) -> Result<()> {
        let r = self.db.write(|tx| {
            tx.execute(
                &format!("INSERT INTO containers ({COLS}) VALUES (?1,?2,?3,?4,?5,?6,?7)"),
                params![
                    c.id,
                    c.name,
                    c.image_id.to_string(),
                    c.image,
                    c.created.to_string(),
                    c.spec,
                    c.state
                ],
            )
            .map(|_| ())
        });
        match r {
            Err(StoreError::Db {
                source: rusqlite::Error::SqliteFailure(e, _),
                ..
            }) if e.code == rusqlite::ErrorCode::ConstraintViolation => {
                Err(StoreError::NameInUse(c.name.clone()))
            }
            other => other,
        }
    }

    pub fn set_container_state(&mut self, id: &str, state: &str) -> Result<()> {
        self.db.write(|tx| {
            tx.execute(
                "UPDATE containers SET state = ?2 WHERE id = ?1",
                params![id, state],
            )
            .map(|_| ())
        })
    }

    /// Replace a container's spec (`network connect`/`disconnect`).
    pub fn set_container_spec(&mut self, id: &str, spec: &str) -> Result<()> {
        self.db.write(|tx| {
            tx.execute(
                "UPDATE containers SET spec = ?2 WHERE id = ?1",
                params![id, spec],
            )
            .map(|_| ())
        })
    }

    pub fn rename_container(&mut self, id: &str, name: &str) -> Result<()> {
        let r = self.db.write(|tx| {
            tx.execute(
                "UPDATE containers SET name = ?2 WHERE id = ?1",
                params![id, name],
            )
            .map(|_| ())
        });
        match r {
            Err(StoreError::Db {
                source: rusqlite::Error::SqliteFailure(e, _),
                ..
            }) if e.code == rusqlite::ErrorCode::ConstraintViolation => {
                Err(StoreError::NameInUse(name.to_string()))
            }
            other => other,
        }
    }

    pub fn remove_container(&mut self, id: &str) -> Result<()> {
        self.db.write(|tx| {
            tx.execute("DELETE FROM containers WHERE id = ?1", [id])
                .map(|_| ())
        })
    }

    /// All containers, newest first (one query).
    pub fn containers(&self) -> Result<Vec<ContainerRecord>> {
        let mut st = self
            .db
            .conn
            .prepare(&format!(
                "SELECT {COLS} FROM containers ORDER BY created DESC"
            ))
            .map_err(|e| self.db.err(e))?;
        let rows = st.query_map([], row).map_err(|e| self.db.err(e))?;
        rows.map(|r| r.map_err(|e| self.db.err(e)).and_then(record))
            .collect()
    }

    pub fn container(&self, id: &str) -> Result<Option<ContainerRecord>> {
        let c = self
            .db
            .conn
            .query_row(
                &format!("SELECT {COLS} FROM containers WHERE id = ?1"),
                [id],
                row,
            )
            .optional()
            .map_err(|e| self.db.err(e))?;
        c.map(record).transpose()
    }

    /// Find a container by exact name, full id, or unique id prefix. `Ok(vec![])` when none matches.
    pub fn find_containers(&self, key: &str) -> Result<Vec<String>> {
        let c = &self.db.conn;
        let by_name: Option<String> = c
            .query_row("SELECT id FROM containers WHERE name = ?1", [key], |r| {
                r.get(0)
            })
            .optional()
            .map_err(|e| self.db.err(e))?;
        if let Some(id) = by_name {
            return Ok(vec![id]);
        }
        if key.is_empty() || !key.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Ok(vec![]);
        }
        let mut st = c
            .prepare("SELECT id FROM containers WHERE id LIKE ?1")
            .map_err(|e| self.db.err(e))?;
        let rows = st
            .query_map([format!("{}%", key.to_ascii_lowercase())], |r| {
                r.get::<_, String>(0)
            })
            .map_err(|e| self.db.err(e))?;
        rows.collect::<rusqlite::Result<_>>()
            .map_err(|e| self.db.err(e))
    }

    /// Images that containers use (they cannot be removed without removing the containers).
    pub fn images_in_use(&self) -> Result<Vec<Digest>> {
        let mut st = self
            .db
            .conn
            .prepare("SELECT DISTINCT image_id FROM containers")
            .map_err(|e| self.db.err(e))?;
        let rows = st
            .query_map([], |r| r.get::<_, String>(0))
            .map_err(|e| self.db.err(e))?;
        rows.map(|r| {
            let s = r.map_err(|e| self.db.err(e))?;
            s.parse()
                .map_err(|_| StoreError::Corrupt(format!("bad image id `{s}`")))
        })
        .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(id: &str, name: &str) -> ContainerRecord {
        ContainerRecord {
            id: id.into(),
            name: name.into(),
            image_id: Digest::sha256_of(b"img"),
            image: "busybox".into(),
            created: Timestamp::now(),
            spec: "{}".into(),
            state: "{}".into(),
        }
    }

    #[test]
    fn names_are_unique_and_prefixes_resolve() {
        let t = tempfile::tempdir().unwrap();
        let mut s = Store::open(t.path()).unwrap();
        s.add_container(&rec("abc123", "web")).unwrap();
        assert!(matches!(
            s.add_container(&rec("abd999", "web")),
            Err(StoreError::NameInUse(_))
        ));
        s.add_container(&rec("abd999", "db")).unwrap();
        assert_eq!(s.find_containers("web").unwrap(), vec!["abc123"]);
        assert_eq!(s.find_containers("abc").unwrap(), vec!["abc123"]);
        assert_eq!(s.find_containers("ab").unwrap().len(), 2);
        assert!(s.find_containers("zz").unwrap().is_empty());
        s.set_container_state("abc123", r#"{"Status":"running"}"#)
            .unwrap();
        assert_eq!(
            s.container("abc123").unwrap().unwrap().state,
            r#"{"Status":"running"}"#
        );
        assert_eq!(s.images_in_use().unwrap(), vec![Digest::sha256_of(b"img")]);
        s.remove_container("abc123").unwrap();
        assert_eq!(s.containers().unwrap().len(), 1);
    }
}
