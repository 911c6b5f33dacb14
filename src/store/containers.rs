//! Container records: identity, the spec it was created with (JSON, owned by the engine), and its state
//! (JSON, rewritten in one statement at every change, so readers see either the old or the new state).
use std::collections::HashSet;
use std::path::{Path, PathBuf};

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

/// In a container's directory: the staging token of the process that made it.
const OWNER_FILE: &str = ".owner";

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

    /// A new container directory, made under `tmp/` with an `.owner` file naming this process's staging
    /// token, so that it is never seen half-made: [`Store::place_container_dir`] renames it into place.
    /// Until then a killed command's directory is staging (removed by the next writer); afterwards,
    /// until the record is added, [`Store::orphan_container_dirs`] leaves it alone while we live.
    ///
    /// The directory is private (0700); its `diff`, `work` and `merged` dirs keep the usual modes (the
    /// upper dir's mode is the container's `/`).
    pub fn stage_container_dir(&self) -> Result<PathBuf> {
        use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
        let dir = self.staging_path("container");
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(&dir)
            .map_err(|e| StoreError::io("create", &dir, e))?;
        let owner = dir.join(OWNER_FILE);
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&owner)
            .and_then(|mut f| std::io::Write::write_all(&mut f, self.owner_token().as_bytes()))
            .map_err(|e| StoreError::io("write", &owner, e))?;
        for d in ["diff", "work", "merged"] {
            let p = dir.join(d);
            std::fs::create_dir(&p).map_err(|e| StoreError::io("create", &p, e))?;
        }
        Ok(dir)
    }

    /// Move a directory from [`Store::stage_container_dir`] to `containers/ID`.
    pub fn place_container_dir(&self, staged: &Path, id: &str) -> Result<PathBuf> {
        let dest = self.container_dir(id);
        std::fs::rename(staged, &dest).map_err(|e| StoreError::io("rename", &dest, e))?;
        Ok(dest)
    }

    /// The staging token of the process that made the container's directory (None for directories
    /// from before tokens were recorded).
    pub fn container_dir_owner(&self, id: &str) -> Option<String> {
        std::fs::read_to_string(self.container_dir(id).join(OWNER_FILE)).ok()
    }

    /// Names in `containers/` that have no record and whose maker is gone (a command killed between
    /// making the directory and recording the container). Only these are safe to remove.
    pub fn orphan_container_dirs(&self) -> Result<Vec<String>> {
        let root = self.root.join("containers");
        let rd = match std::fs::read_dir(&root) {
            Ok(rd) => rd,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(vec![]),
            Err(e) => return Err(StoreError::io("read", &root, e)),
        };
        let known: HashSet<String> = self.containers()?.into_iter().map(|c| c.id).collect();
        let mut out = Vec::new();
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if known.contains(&name) {
                continue;
            }
            let alive = self
                .container_dir_owner(&name)
                .is_some_and(|t| self.owner_alive(&t));
            // Recorded between our listing of records and of directories: not an orphan.
            if !alive && self.container(&name)?.is_none() {
                out.push(name);
            }
        }
        out.sort();
        Ok(out)
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

    /// Mark a running container as being stopped, or not, in one statement: a state the container's
    /// monitor writes meanwhile (its exit) is never overwritten, and only a running one is marked.
    pub fn set_container_stopping(&mut self, id: &str, stopping: bool) -> Result<()> {
        self.db.write(|tx| {
            tx.execute(
                "UPDATE containers SET state = json_set(state, '$.stopping', json(?2)) \
                 WHERE id = ?1 AND json_extract(state, '$.status') = 'running'",
                params![id, if stopping { "true" } else { "false" }],
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
        self.select_containers("", [])
    }

    /// The containers whose spec names pod `pod_id`, newest first: SQLite reads the one field of
    /// each spec, so a pod command does not deserialise every container of the store.
    pub fn containers_of_pod(&self, pod_id: &str) -> Result<Vec<ContainerRecord>> {
        self.select_containers("WHERE json_extract(spec, '$.pod') = ?1", [pod_id])
    }

    /// The containers `filter` (a WHERE clause, or nothing) picks, newest first.
    fn select_containers(
        &self,
        filter: &str,
        params: impl rusqlite::Params,
    ) -> Result<Vec<ContainerRecord>> {
        let mut st = self
            .db
            .conn
            .prepare(&format!(
                "SELECT {COLS} FROM containers {filter} ORDER BY created DESC"
            ))
            .map_err(|e| self.db.err(e))?;
        let rows = st.query_map(params, row).map_err(|e| self.db.err(e))?;
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

    #[cfg(test)]
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

    #[test]
    fn only_dirs_without_record_and_live_maker_are_orphans() {
        let t = tempfile::tempdir().unwrap();
        let mut s = Store::open(t.path()).unwrap();
        // Ours, placed but not yet recorded: we live, so it is not an orphan.
        let staged = s.stage_container_dir().unwrap();
        s.place_container_dir(&staged, "aaa").unwrap();
        // Recorded.
        let staged = s.stage_container_dir().unwrap();
        s.place_container_dir(&staged, "bbb").unwrap();
        s.add_container(&rec("bbb", "b")).unwrap();
        // A dead maker's, and one with no maker at all.
        std::fs::create_dir_all(s.container_dir("ccc")).unwrap();
        std::fs::write(
            s.container_dir("ccc").join(OWNER_FILE),
            "999999999.0000abcd",
        )
        .unwrap();
        std::fs::create_dir_all(s.container_dir("ddd")).unwrap();
        assert_eq!(s.orphan_container_dirs().unwrap(), ["ccc", "ddd"]);
        // Another open store (another process, as far as tokens go) sees ours as live too.
        let other = Store::open(t.path()).unwrap();
        assert_eq!(other.orphan_container_dirs().unwrap(), ["ccc", "ddd"]);
        drop(s);
        assert_eq!(
            other.orphan_container_dirs().unwrap(),
            ["aaa", "ccc", "ddd"]
        );
    }
}
