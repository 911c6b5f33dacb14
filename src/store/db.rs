//! The store's SQLite database: schema, migrations, and transactions.
use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::Connection;

use super::{Result, StoreError};

const SCHEMA_VERSION: i32 = 4;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS layers (
    chain_id    TEXT PRIMARY KEY,
    parent      TEXT,
    diff_id     TEXT NOT NULL,
    blob_digest TEXT NOT NULL,
    blob_media  TEXT NOT NULL,
    blob_size   INTEGER NOT NULL,
    size        INTEGER NOT NULL,
    created     TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS images (
    id          TEXT PRIMARY KEY,
    digest      TEXT NOT NULL,
    manifest_media TEXT NOT NULL,
    created     TEXT,
    added       TEXT NOT NULL,
    size        INTEGER NOT NULL,
    labels      TEXT NOT NULL DEFAULT '{}',
    arch        TEXT NOT NULL DEFAULT '',
    os          TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS image_names (
    name     TEXT PRIMARY KEY,
    image_id TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE,
    added    TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS image_names_by_image ON image_names(image_id);
CREATE TABLE IF NOT EXISTS image_digests (
    image_id TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE,
    digest   TEXT NOT NULL,
    PRIMARY KEY (image_id, digest)
);
CREATE TABLE IF NOT EXISTS image_layers (
    image_id TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE,
    idx      INTEGER NOT NULL,
    chain_id TEXT NOT NULL REFERENCES layers(chain_id),
    PRIMARY KEY (image_id, idx)
);
CREATE INDEX IF NOT EXISTS image_layers_by_layer ON image_layers(chain_id);
CREATE TABLE IF NOT EXISTS containers (
    id       TEXT PRIMARY KEY,
    name     TEXT NOT NULL UNIQUE,
    image_id TEXT NOT NULL,
    image    TEXT NOT NULL,
    created  TEXT NOT NULL,
    spec     TEXT NOT NULL,
    state    TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS containers_by_image ON containers(image_id);
CREATE TABLE IF NOT EXISTS volumes (
    name          TEXT PRIMARY KEY,
    driver        TEXT NOT NULL,
    created       TEXT NOT NULL,
    labels        TEXT NOT NULL DEFAULT '{}',
    options       TEXT NOT NULL DEFAULT '{}',
    mountpoint    TEXT NOT NULL,
    anonymous     INTEGER NOT NULL DEFAULT 0,
    needs_copy_up INTEGER NOT NULL DEFAULT 1,
    needs_chown   INTEGER NOT NULL DEFAULT 1
);
CREATE TABLE IF NOT EXISTS build_cache (
    key     TEXT PRIMARY KEY,
    config  BLOB NOT NULL,
    layers  TEXT NOT NULL,
    created TEXT NOT NULL
);
";

pub(crate) struct Db {
    pub(crate) conn: Connection,
    path: PathBuf,
    /// Whether this connection committed a write (and so may have to truncate the WAL when closed).
    wrote: bool,
}

/// Above this size the WAL is folded into the database and truncated when a connection that wrote
/// closes. Every roost command is a process of its own, so every open is the first connection, which
/// rebuilds the WAL index by reading every valid frame of the WAL, and forgets that they were
/// checkpointed already: past SQLite's automatic checkpoint (1000 pages) the WAL would never restart,
/// each open would read all of it and each commit would checkpoint all of it again (with fsyncs). A
/// truncating checkpoint costs three fsyncs once every ~250 pages written (tens of `run --rm`); a WAL
/// kept under 1 MiB costs an open under a millisecond to read.
const WAL_TRUNCATE_AT: u64 = 1 << 20;

fn is_busy(e: &StoreError) -> bool {
    matches!(e, StoreError::Db { source: rusqlite::Error::SqliteFailure(f, _), .. }
        if matches!(f.code, rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked))
}

impl Db {
    /// Open the database. Opening can meet SQLITE_BUSY without the busy handler being consulted (a
    /// concurrent opener switching a new database to WAL, or recovering the WAL), so it is retried.
    pub(crate) fn open(path: &Path) -> Result<Db> {
        let start = std::time::Instant::now();
        loop {
            match Self::open_once(path) {
                Err(e) if is_busy(&e) && start.elapsed() < Duration::from_secs(30) => {
                    std::thread::sleep(Duration::from_millis(
                        5 + u64::from(rand::random::<u8>() % 20),
                    ));
                }
                other => return other,
            }
        }
    }

    fn open_once(path: &Path) -> Result<Db> {
        let err = |source| StoreError::Db {
            path: path.to_path_buf(),
            source,
        };
        let conn = Connection::open(path).map_err(err)?;
        conn.busy_timeout(Duration::from_secs(60)).map_err(err)?;
        conn.execute_batch(
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;",
        )
        .map_err(err)?;
        // Every roost command opens and closes the database; checkpointing the WAL at each close costs
        // fsyncs (tens of milliseconds on some disks). Leave it to SQLite's automatic checkpoint (every
        // 1000 pages); the WAL keeps the database consistent either way.
        conn.set_db_config(
            rusqlite::config::DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE,
            true,
        )
        .map_err(err)?;
        let version: i32 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(err)?;
        if version < SCHEMA_VERSION {
            conn.execute_batch(&format!(
                "BEGIN IMMEDIATE; {SCHEMA} PRAGMA user_version={SCHEMA_VERSION}; COMMIT;"
            ))
            .map_err(err)?;
        } else if version > SCHEMA_VERSION {
            return Err(StoreError::Corrupt(format!(
                "`{}` was written by a newer roost (schema {version}, this one knows {SCHEMA_VERSION})",
                path.display()
            )));
        }
        Ok(Db {
            conn,
            path: path.to_path_buf(),
            wrote: false,
        })
    }

    /// Past [`WAL_TRUNCATE_AT`], fold the WAL into the database and truncate it. Best effort: it
    /// does not wait for readers (a reader's snapshot keeps its frames, which a later close folds),
    /// and the WAL is consistent whatever happens.
    fn truncate_large_wal(&self) {
        let mut wal = self.path.clone().into_os_string();
        wal.push("-wal");
        let size = std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0);
        if size <= WAL_TRUNCATE_AT {
            return;
        }
        let done = self.conn.busy_timeout(Duration::ZERO).and_then(|()| {
            self.conn
                .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| {
                    r.get::<_, i64>(0)
                })
        });
        tracing::debug!(wal = %self.path.display(), size, busy = ?done, "truncating checkpoint");
    }

    pub(crate) fn err(&self, source: rusqlite::Error) -> StoreError {
        StoreError::Db {
            path: self.path.clone(),
            source,
        }
    }

    /// Run `f` in one IMMEDIATE transaction (a writer lock taken up front, so concurrent writers queue
    /// instead of failing to upgrade).
    pub(crate) fn write<T>(
        &mut self,
        f: impl FnOnce(&rusqlite::Transaction) -> rusqlite::Result<T>,
    ) -> Result<T> {
        let path = self.path.clone();
        self.wrote = true;
        let run = || -> rusqlite::Result<T> {
            let tx = self
                .conn
                .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let out = f(&tx)?;
            tx.commit()?;
            Ok(out)
        };
        run().map_err(|source| StoreError::Db { path, source })
    }
}

impl Drop for Db {
    fn drop(&mut self) {
        if self.wrote {
            self.truncate_large_wal();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wal_size(path: &Path) -> u64 {
        std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
    }

    #[test]
    fn a_large_wal_is_truncated_when_a_writer_closes() {
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("roost.db");
        let wal = d.path().join("roost.db-wal");
        let mut db = Db::open(&path).unwrap();
        let blob = vec![7u8; 64 * 1024];
        for i in 0..40 {
            db.write(|tx| {
                tx.execute(
                    "INSERT INTO build_cache (key, config, layers, created) VALUES (?1, ?2, '', '')",
                    rusqlite::params![i.to_string(), blob],
                )
            })
            .unwrap();
        }
        assert!(wal_size(&wal) > WAL_TRUNCATE_AT);
        drop(db);
        assert_eq!(wal_size(&wal), 0, "folded into the database");
        let db = Db::open(&path).unwrap();
        let rows: i64 = db
            .conn
            .query_row("SELECT count(*) FROM build_cache", [], |r| r.get(0))
            .unwrap();
        assert_eq!(rows, 40);
        drop(db);
        // A small WAL is left alone: no checkpoint (and no fsync) at every command's end.
        let mut db = Db::open(&path).unwrap();
        db.write(|tx| tx.execute("DELETE FROM build_cache WHERE key = '0'", []))
            .unwrap();
        drop(db);
        assert!(wal_size(&wal) > 0);
    }
}
