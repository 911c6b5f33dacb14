//! The build context: a directory (or a tar from stdin, unpacked into staging), walked once with the
//! ignore rules applied, and content digests of its files for the cache.
//!
//! Change detection: file digests are remembered in `BUILD_DIR/context-HASH` (HASH of the context's
//! absolute path), one line per file: inode, size, mtime and ctime (nanoseconds) and the sha256 of the
//! content. A file whose four values are unchanged is not read again; any write, truncate, rename over
//! it, chmod or touch changes at least one of them. Files modified within the last two seconds are not
//! remembered (a write in the same clock tick as the stat could go unnoticed, git's "racy clean"
//! problem), so they are hashed again next time.
use super::BuildError;
use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use super::ignore::Ignore;
use crate::engine::EngineError;
use crate::oci::{Digest, Sha256Writer};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    File,
    Dir,
    Symlink,
    Other,
}

/// A file or directory in the context.
#[derive(Debug, Clone)]
pub struct Entry {
    pub kind: EntryKind,
    /// Permission bits (and setuid/setgid/sticky).
    pub mode: u32,
    pub size: u64,
    pub mtime: i64,
    pub mtime_nsec: i64,
    ino: u64,
    ctime: (i64, i64),
    pub link: Option<PathBuf>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Stat {
    ino: u64,
    size: u64,
    mtime: (i64, i64),
    ctime: (i64, i64),
}

pub struct Context {
    root: PathBuf,
    ignore: Ignore,
    /// Relative path (no leading `/`, `""` for the root) → entry, sorted.
    index: Option<BTreeMap<String, Entry>>,
    cache_file: Option<PathBuf>,
    remembered: HashMap<String, (Stat, Digest)>,
    digests: RefCell<HashMap<String, Digest>>,
    changed: std::cell::Cell<bool>,
    /// Keeps a context unpacked from stdin alive.
    _staged: Option<tempfile::TempDir>,
    _tree: Option<TreeGuard>,
}

/// Removes a staging tree when dropped.
struct TreeGuard(PathBuf);

impl Drop for TreeGuard {
    fn drop(&mut self) {
        let _ = crate::store::remove_tree(&self.0);
    }
}

impl Context {
    /// A context directory. `cache_dir` is where change-detection files live (`None`: no memory).
    pub fn dir(
        root: &Path,
        ignore: Ignore,
        cache_dir: Option<&Path>,
    ) -> Result<Context, EngineError> {
        let root = std::fs::canonicalize(root)
            .map_err(|e| EngineError::io("open the build context", root, e))?;
        let cache_file = cache_dir.map(|d| {
            let key = Digest::sha256_of(root.as_os_str().as_encoded_bytes());
            d.join(format!("context-{}", &key.hex()[..32]))
        });
        let remembered = cache_file.as_deref().map(load_cache).unwrap_or_default();
        Ok(Context {
            root,
            ignore,
            index: None,
            cache_file,
            remembered,
            digests: RefCell::default(),
            changed: std::cell::Cell::new(false),
            _staged: None,
            _tree: None,
        })
    }

    /// A context from a tar stream, unpacked into the staging directory `dir` (removed with the
    /// context).
    pub fn from_tar(
        tar: impl Read + Send,
        dir: PathBuf,
        apply: &crate::archive::ApplyOptions,
    ) -> Result<Context, EngineError> {
        std::fs::create_dir_all(&dir).map_err(|e| EngineError::io("create", &dir, e))?;
        let guard = TreeGuard(dir.clone());
        let mut opts = *apply;
        opts.whiteouts = crate::archive::Whiteouts::Apply;
        let (_, mut plain) = crate::archive::decompress(tar)
            .map_err(|e| EngineError::io("read the context from", "stdin", e))?;
        crate::archive::apply_layer(&mut plain, &dir, &opts)?;
        let mut ctx = Context::dir(&dir, Ignore::default(), None)?;
        let ignore = ctx.read_ignore()?;
        ctx.ignore = ignore;
        ctx._tree = Some(guard);
        Ok(ctx)
    }

    /// Keep `dir` (the context's own temporary directory) alive as long as the context.
    pub fn keep(&mut self, dir: tempfile::TempDir) {
        self._staged = Some(dir);
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn set_ignore(&mut self, ignore: Ignore) {
        self.ignore = ignore;
        self.index = None;
    }

    /// `.containerignore`, else `.dockerignore`, from the context root.
    pub fn read_ignore(&self) -> Result<Ignore, EngineError> {
        for name in [".containerignore", ".dockerignore"] {
            let p = self.root.join(name);
            match std::fs::read_to_string(&p) {
                Ok(text) => {
                    return Ignore::parse(&text, name).map_err(|e| BuildError::from(e).into());
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(EngineError::io("read", p, e)),
            }
        }
        Ok(Ignore::default())
    }

    /// Every entry not ignored, walked once.
    pub fn index(&mut self) -> Result<&BTreeMap<String, Entry>, EngineError> {
        if self.index.is_none() {
            let mut out = BTreeMap::new();
            let m = std::fs::symlink_metadata(&self.root)
                .map_err(|e| EngineError::io("read", &self.root, e))?;
            out.insert(String::new(), entry_of(&m, None));
            walk(&self.root, "", &self.ignore, &mut out)?;
            self.index = Some(out);
        }
        Ok(self.index.as_ref().expect("just built"))
    }

    pub fn host_path(&self, rel: &str) -> PathBuf {
        if rel.is_empty() {
            self.root.clone()
        } else {
            self.root.join(rel)
        }
    }

    /// The sha256 of a regular file's content, read only when its stat changed since last time.
    pub fn file_digest(&self, rel: &str, e: &Entry) -> Result<Digest, EngineError> {
        if let Some(d) = self.digests.borrow().get(rel) {
            return Ok(d.clone());
        }
        let stat = Stat {
            ino: e.ino,
            size: e.size,
            mtime: (e.mtime, e.mtime_nsec),
            ctime: e.ctime,
        };
        let d = match self.remembered.get(rel) {
            Some((s, d)) if *s == stat => d.clone(),
            _ => {
                let p = self.host_path(rel);
                let mut f = std::fs::File::open(&p).map_err(|e| EngineError::io("read", &p, e))?;
                let mut h = Sha256Writer::new();
                std::io::copy(&mut f, &mut h).map_err(|e| EngineError::io("read", &p, e))?;
                self.changed.set(true);
                h.finish()
            }
        };
        self.digests.borrow_mut().insert(rel.to_string(), d.clone());
        Ok(d)
    }

    /// Remember the digests computed in this build (best effort: a failure only costs re-reading).
    pub fn save(&self) {
        let Some(file) = &self.cache_file else { return };
        if !self.changed.get() && self.digests.borrow().len() <= self.remembered.len() {
            return;
        }
        let Some(index) = &self.index else { return };
        let now = jiff::Timestamp::now().as_second();
        let mut text = String::new();
        let digests = self.digests.borrow();
        let mut merged: BTreeMap<&str, (Stat, &Digest)> = BTreeMap::new();
        for (rel, (stat, d)) in &self.remembered {
            merged.insert(rel, (stat.clone(), d));
        }
        for (rel, d) in digests.iter() {
            if let Some(e) = index.get(rel) {
                let stat = Stat {
                    ino: e.ino,
                    size: e.size,
                    mtime: (e.mtime, e.mtime_nsec),
                    ctime: e.ctime,
                };
                merged.insert(rel, (stat, d));
            }
        }
        for (rel, (s, d)) in merged {
            if rel.contains('\n') || s.mtime.0 >= now - 2 || s.ctime.0 >= now - 2 {
                continue;
            }
            text.push_str(&format!(
                "{} {} {}.{} {}.{} {} {}\n",
                s.ino,
                s.size,
                s.mtime.0,
                s.mtime.1,
                s.ctime.0,
                s.ctime.1,
                d.hex(),
                rel
            ));
        }
        if let Some(dir) = file.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        if let Err(e) = crate::store::write_atomic(file, text.as_bytes(), 0o600) {
            tracing::debug!(file = %file.display(), error = %e, "could not save the context digests");
        }
    }
}

fn entry_of(m: &std::fs::Metadata, link: Option<PathBuf>) -> Entry {
    let ft = m.file_type();
    let kind = if ft.is_symlink() {
        EntryKind::Symlink
    } else if ft.is_dir() {
        EntryKind::Dir
    } else if ft.is_file() {
        EntryKind::File
    } else {
        EntryKind::Other
    };
    Entry {
        kind,
        mode: m.mode() & 0o7777,
        size: m.size(),
        mtime: m.mtime(),
        mtime_nsec: m.mtime_nsec(),
        ino: m.ino(),
        ctime: (m.ctime(), m.ctime_nsec()),
        link,
    }
}

fn walk(
    dir: &Path,
    rel: &str,
    ignore: &Ignore,
    out: &mut BTreeMap<String, Entry>,
) -> Result<(), EngineError> {
    let rd = std::fs::read_dir(dir).map_err(|e| EngineError::io("read", dir, e))?;
    for item in rd {
        let item = item.map_err(|e| EngineError::io("read", dir, e))?;
        let name = item.file_name();
        let Some(name) = name.to_str() else {
            tracing::debug!(dir = %dir.display(), "skipping a file name that is not UTF-8");
            continue;
        };
        let child_rel = if rel.is_empty() {
            name.to_string()
        } else {
            format!("{rel}/{name}")
        };
        let path = item.path();
        let m = std::fs::symlink_metadata(&path).map_err(|e| EngineError::io("read", &path, e))?;
        let excluded = !ignore.is_empty() && ignore.excluded(&child_rel);
        if m.is_dir() {
            if excluded && ignore.can_skip_dir(&child_rel) {
                continue;
            }
            if !excluded {
                out.insert(child_rel.clone(), entry_of(&m, None));
            }
            walk(&path, &child_rel, ignore, out)?;
            continue;
        }
        if excluded {
            continue;
        }
        let link = if m.file_type().is_symlink() {
            Some(std::fs::read_link(&path).map_err(|e| EngineError::io("read", &path, e))?)
        } else {
            None
        };
        out.insert(child_rel, entry_of(&m, link));
    }
    Ok(())
}

fn parse_pair(s: &str) -> Option<(i64, i64)> {
    let (a, b) = s.split_once('.')?;
    Some((a.parse().ok()?, b.parse().ok()?))
}

fn load_cache(file: &Path) -> HashMap<String, (Stat, Digest)> {
    let Ok(text) = std::fs::read_to_string(file) else {
        return HashMap::new();
    };
    let mut out = HashMap::new();
    for line in text.lines() {
        let mut it = line.splitn(6, ' ');
        let parsed = (|| {
            let ino = it.next()?.parse().ok()?;
            let size = it.next()?.parse().ok()?;
            let mtime = parse_pair(it.next()?)?;
            let ctime = parse_pair(it.next()?)?;
            let d: Digest = format!("sha256:{}", it.next()?).parse().ok()?;
            let rel = it.next()?.to_string();
            Some((
                rel,
                (
                    Stat {
                        ino,
                        size,
                        mtime,
                        ctime,
                    },
                    d,
                ),
            ))
        })();
        if let Some((rel, v)) = parsed {
            out.insert(rel, v);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn walks_with_ignore_and_remembers_digests() {
        let t = tempfile::tempdir().unwrap();
        let ctx_dir = t.path().join("ctx");
        std::fs::create_dir_all(ctx_dir.join("sub/deep")).unwrap();
        std::fs::create_dir_all(ctx_dir.join("skip")).unwrap();
        std::fs::write(ctx_dir.join("a.txt"), "a").unwrap();
        std::fs::write(ctx_dir.join("sub/deep/b"), "b").unwrap();
        std::fs::write(ctx_dir.join("skip/c"), "c").unwrap();
        std::fs::write(ctx_dir.join(".dockerignore"), "skip\n*.txt\n").unwrap();
        let cache = t.path().join("cache");
        let mut c = Context::dir(&ctx_dir, Ignore::default(), Some(&cache)).unwrap();
        let ig = c.read_ignore().unwrap();
        c.set_ignore(ig);
        let keys: Vec<String> = c.index().unwrap().keys().cloned().collect();
        assert_eq!(keys, ["", ".dockerignore", "sub", "sub/deep", "sub/deep/b"]);
        let e = c.index().unwrap()["sub/deep/b"].clone();
        let d = c.file_digest("sub/deep/b", &e).unwrap();
        assert_eq!(d, Digest::sha256_of(b"b"));
        c.save();
        // Saved files are not remembered while racy (just written): nothing to load yet.
        let c2 = Context::dir(&ctx_dir, Ignore::default(), Some(&cache)).unwrap();
        assert!(c2.remembered.is_empty() || c2.remembered.contains_key("sub/deep/b"));
    }

    #[test]
    fn remembered_digest_is_used_when_stat_matches() {
        let t = tempfile::tempdir().unwrap();
        std::fs::write(t.path().join("f"), "real").unwrap();
        let mut c = Context::dir(t.path(), Ignore::default(), None).unwrap();
        let e = c.index().unwrap()["f"].clone();
        let fake = Digest::sha256_of(b"remembered");
        c.remembered.insert(
            "f".into(),
            (
                Stat {
                    ino: e.ino,
                    size: e.size,
                    mtime: (e.mtime, e.mtime_nsec),
                    ctime: e.ctime,
                },
                fake.clone(),
            ),
        );
        assert_eq!(c.file_digest("f", &e).unwrap(), fake);
        let mut c = Context::dir(t.path(), Ignore::default(), None).unwrap();
        let mut e2 = e.clone();
        e2.size += 1;
        c.remembered.insert(
            "f".into(),
            (
                Stat {
                    ino: e.ino,
                    size: e.size,
                    mtime: (e.mtime, e.mtime_nsec),
                    ctime: e.ctime,
                },
                fake,
            ),
        );
        assert_eq!(c.file_digest("f", &e2).unwrap(), Digest::sha256_of(b"real"));
    }
}
