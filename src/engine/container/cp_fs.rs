//! A container's file system as `cp` sees it: paths resolved the way the container would resolve them
//! (relative to its working directory, symlinks followed inside its root), through its volumes and bind
//! mounts even when it is not running.
//!
//! A running container is reached through its live root (`/proc/PID/root`), where the kernel already
//! shows its mounts. A stopped or created container is its storage plus a table of its volumes and bind
//! mounts: each step of a path walk picks the mount with the longest destination that holds it, so a file
//! copied to `/data/x` lands in the volume mounted on `/data`. Every step is an
//! `openat2(RESOLVE_IN_ROOT)` of a path without symlinks from the root it belongs to, never following
//! the last component: symlinks are read and resolved here, against the container's `/`.
use std::collections::VecDeque;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::Path;

use rustix::fs::{FileType, Mode, OFlags};
use rustix::io::Errno;

use super::view::{Access, FsError, open_root_live};
use super::{Container, MountKind};
use crate::store::Store;

/// Symlinks followed in one walk before giving up (the kernel's limit).
const MAX_LINKS: usize = 40;

/// What a resolved path names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    Dir,
    Regular,
    Other,
}

enum Node {
    Link(String),
    Is(Kind),
}

/// A path after resolution: absolute and clean, with what it names (None: nothing is there).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Resolved {
    pub path: String,
    pub kind: Option<Kind>,
}

pub(super) struct CtrFs {
    /// The container as the user named it, for messages.
    pub shown: String,
    pub container: Container,
    root: OwnedFd,
    /// (destination, host directory), longest destination first; empty for a live root.
    mounts: Vec<(String, OwnedFd)>,
}

impl CtrFs {
    pub fn open(store: &Store, c: Container, shown: &str, access: Access) -> Result<Self, FsError> {
        let (root, live) = open_root_live(store, &c, access)?;
        let mounts = if live {
            Vec::new()
        } else {
            mount_table(store, &c)
        };
        Ok(CtrFs {
            shown: shown.to_string(),
            container: c,
            root,
            mounts,
        })
    }

    /// The container's working directory (`/` when it has none).
    pub fn workdir(&self) -> &str {
        match self.container.spec.cwd.as_str() {
            "" => "/",
            d => d,
        }
    }

    /// The root (the container's or a mount's) that holds absolute clean `path`, and the path in it.
    fn locate<'a>(&self, path: &'a str) -> (BorrowedFd<'_>, &'a str) {
        for (dest, fd) in &self.mounts {
            if let Some(rest) = path.strip_prefix(dest.as_str())
                && (rest.is_empty() || rest.starts_with('/'))
            {
                return (fd.as_fd(), rest);
            }
        }
        (self.root.as_fd(), path)
    }

    fn open_at(&self, path: &str, flags: OFlags) -> Result<OwnedFd, Errno> {
        let (root, rel) = self.locate(path);
        let rel = if rel.is_empty() { "/" } else { rel };
        crate::sys::path::open_in_root(root, rel, flags | OFlags::CLOEXEC)
    }

    /// What absolute clean `path` (whose parents hold no symlinks) is, without following it.
    fn lstat(&self, path: &str) -> Result<Option<Node>, FsError> {
        let inside = |e: Errno| FsError::Inside {
            op: "resolve",
            path: path.to_string(),
            source: e.into(),
        };
        let fd = match self.open_at(path, OFlags::PATH | OFlags::NOFOLLOW) {
            Ok(fd) => fd,
            Err(Errno::NOENT | Errno::NOTDIR) => return Ok(None),
            Err(e) => return Err(inside(e)),
        };
        let st = rustix::fs::fstat(&fd).map_err(inside)?;
        Ok(Some(match FileType::from_raw_mode(st.st_mode) {
            FileType::Symlink => {
                let target = rustix::fs::readlinkat(&fd, "", Vec::new()).map_err(inside)?;
                Node::Link(target.to_string_lossy().into_owned())
            }
            FileType::Directory => Node::Is(Kind::Dir),
            FileType::RegularFile => Node::Is(Kind::Regular),
            _ => Node::Is(Kind::Other),
        }))
    }

    /// Resolve absolute `path` as the container would, following every symlink (the last one too). A
    /// path that leads nowhere resolves to where it would be (a dangling symlink: its target).
    pub fn resolve(&self, path: &str) -> Result<Resolved, FsError> {
        let mut done: Vec<String> = Vec::new();
        let mut todo: VecDeque<String> = components(path).collect();
        let mut kind = Kind::Dir;
        let mut links = 0;
        while let Some(c) = todo.pop_front() {
            if c == ".." {
                done.pop();
                kind = Kind::Dir;
                continue;
            }
            let candidate = join(&done, &c);
            match self.lstat(&candidate)? {
                None => {
                    done.push(c);
                    done.extend(todo);
                    return Ok(Resolved {
                        path: join(&done, ""),
                        kind: None,
                    });
                }
                Some(Node::Link(target)) => {
                    links += 1;
                    if links > MAX_LINKS {
                        return Err(FsError::Inside {
                            op: "resolve",
                            path: path.to_string(),
                            source: Errno::LOOP.into(),
                        });
                    }
                    if target.starts_with('/') {
                        done.clear();
                    }
                    for t in components(&target).collect::<Vec<_>>().into_iter().rev() {
                        todo.push_front(t);
                    }
                }
                Some(Node::Is(k)) => {
                    done.push(c);
                    kind = k;
                }
            }
        }
        Ok(Resolved {
            path: join(&done, ""),
            kind: Some(kind),
        })
    }

    /// An `O_PATH` fd of directory `path` (absolute, clean, resolved).
    pub fn open_dir(&self, path: &str) -> Result<OwnedFd, FsError> {
        self.open_at(path, OFlags::PATH | OFlags::DIRECTORY | OFlags::NOFOLLOW)
            .map_err(|e| match e {
                Errno::NOENT => FsError::NotFound(path.to_string()),
                Errno::NOTDIR => FsError::NotDir(path.to_string()),
                e => FsError::Inside {
                    op: "open",
                    path: path.to_string(),
                    source: e.into(),
                },
            })
    }

    /// Resolved `path` as (directory fd, name in it): a mount's root (or `/`) is `.` in itself.
    pub fn item(&self, path: &str) -> Result<(OwnedFd, Vec<u8>), FsError> {
        let is_mount_root = self.mounts.iter().any(|(d, _)| d == path);
        match path.rsplit_once('/') {
            Some((parent, name)) if !is_mount_root && !name.is_empty() => {
                let parent = if parent.is_empty() { "/" } else { parent };
                Ok((self.open_dir(parent)?, name.as_bytes().to_vec()))
            }
            _ => Ok((self.open_dir(path)?, b".".to_vec())),
        }
    }
}

/// The components of `path` without empty ones and `.`.
fn components(path: &str) -> impl Iterator<Item = String> + '_ {
    path.split('/')
        .filter(|c| !c.is_empty() && *c != ".")
        .map(str::to_string)
}

fn join(done: &[String], last: &str) -> String {
    let mut s = String::new();
    for c in done.iter().map(String::as_str).chain(Some(last)) {
        if !c.is_empty() {
            s.push('/');
            s.push_str(c);
        }
    }
    if s.is_empty() { "/".into() } else { s }
}

/// `path` cleaned as Go's `filepath.Clean` does for an absolute path (`..` stops at `/`).
pub(super) fn clean(path: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    for c in path.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                out.pop();
            }
            c => out.push(c),
        }
    }
    format!("/{}", out.join("/"))
}

/// The volumes and bind mounts of a container that is not running, longest destination first. A
/// mount whose source cannot be opened is left out (the copy then lands in the container's own files).
fn mount_table(store: &Store, c: &Container) -> Vec<(String, OwnedFd)> {
    let mut table = Vec::new();
    for m in &c.spec.mounts {
        let source = match m.kind {
            MountKind::Bind if !m.overlay => std::path::PathBuf::from(&m.source),
            MountKind::Volume if !m.source.is_empty() => match store.volume(&m.source) {
                Ok(Some(v)) => match crate::engine::volume::backing(&v.options) {
                    crate::engine::volume::Backing::Dir => v.mountpoint,
                    crate::engine::volume::Backing::Bind { device } => device,
                    // Exists only while the container runs.
                    crate::engine::volume::Backing::Tmpfs { .. } => continue,
                },
                _ => continue,
            },
            _ => continue,
        };
        match open_dir_path(&source) {
            Ok(fd) => table.push((clean(&m.destination), fd)),
            Err(e) => {
                tracing::debug!(source = %source.display(), error = %e, "mount source not reachable for cp")
            }
        }
    }
    table.sort_by_key(|(d, _)| std::cmp::Reverse(d.len()));
    table
}

fn open_dir_path(p: &Path) -> rustix::io::Result<OwnedFd> {
    rustix::fs::open(
        p,
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
}

/// Keep what the user's path said about its end: `dir/` and `dir/.` mean something a cleaned path has
/// lost (podman's `PreserveBasePath`).
pub(super) fn preserve_base(original: &str, resolved: &str) -> String {
    if original.ends_with('/') {
        if resolved.ends_with('/') {
            resolved.to_string()
        } else {
            format!("{resolved}/")
        }
    } else if original.ends_with("/.") {
        if resolved.ends_with("/.") {
            resolved.to_string()
        } else if resolved.ends_with('/') {
            format!("{resolved}.")
        } else {
            format!("{resolved}/.")
        }
    } else {
        resolved.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cleaning_and_bases() {
        assert_eq!(clean("/srv/../a//b/./c"), "/a/b/c");
        assert_eq!(clean("/.."), "/");
        assert_eq!(preserve_base("x/", "/srv/x"), "/srv/x/");
        assert_eq!(preserve_base("x/.", "/srv/x"), "/srv/x/.");
        assert_eq!(preserve_base("/.", "/"), "/.");
        assert_eq!(preserve_base("x", "/srv/x"), "/srv/x");
        assert_eq!(join(&["a".into(), "b".into()], "c"), "/a/b/c");
        assert_eq!(join(&[], ""), "/");
    }
}
