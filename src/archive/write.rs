//! Writing a directory tree as a layer tar (for commit, import and cp).
//!
//! The tree is our own storage, read by path without following symlinks. Overlay whiteouts
//! (0/0 character devices, opaque xattr) become `.wh.NAME` / `.wh..wh..opq` entries.

use std::collections::HashMap;
use std::ffi::OsStr;
use std::fs::{self, File, Metadata};
use std::io::{self, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

use tar::{EntryType, Header};

use super::metadata::{keep_xattr, parse_override};
use super::whiteout::PREFIX;
use super::{
    ArchiveError, FUSE_MARKER_WHITEOUT, FUSE_OPAQUE_XATTR, OPAQUE_MARKER, OPAQUE_XATTR,
    OVERRIDE_STAT_XATTR,
};
const TRUSTED_OPAQUE_XATTR: &str = "trusted.overlay.opaque";

/// Write the tree below `dir` as a layer tar to `out`; returns the bytes written.
///
/// Entries are sorted by name, so the output is deterministic for a given tree. Long names use
/// GNU headers, xattrs (`user.*` and `security.capability`) PAX `SCHILY.xattr.*` records, owner
/// and mode come from `user.containers.override_stat` when present, hard links are detected by
/// (device, inode), and sockets are skipped.
pub fn write_layer(dir: &Path, out: impl Write) -> Result<u64, ArchiveError> {
    let mut writer = Writer {
        builder: tar::Builder::new(Counter { inner: out, n: 0 }),
        links: HashMap::new(),
    };
    let read = |source| ArchiveError::ReadTree {
        path: dir.to_owned(),
        source,
    };
    let root = fs::symlink_metadata(dir).map_err(read)?;
    if !root.is_dir() {
        return Err(read(io::Error::from(io::ErrorKind::NotADirectory)));
    }
    if is_opaque(dir) {
        writer.marker(&[], OPAQUE_MARKER.as_bytes(), &root)?;
    }
    writer.walk(dir, &[])?;
    let counter = writer
        .builder
        .into_inner()
        .map_err(|source| ArchiveError::WriteTar {
            path: String::new(),
            source,
        })?;
    Ok(counter.n)
}

struct Writer<W: Write> {
    builder: tar::Builder<Counter<W>>,
    /// First path seen for each (device, inode) with more than one link.
    links: HashMap<(u64, u64), Vec<u8>>,
}

/// Owner and permission bits of an entry.
struct Owner {
    uid: u64,
    gid: u64,
    mode: u32,
}

impl<W: Write> Writer<W> {
    /// Emit the children of directory `abs` (at `rel` in the tar), sorted by name.
    fn walk(&mut self, abs: &Path, rel: &[u8]) -> Result<(), ArchiveError> {
        let read = |source| ArchiveError::ReadTree {
            path: abs.to_owned(),
            source,
        };
        let mut names: Vec<Vec<u8>> = fs::read_dir(abs)
            .map_err(read)?
            .map(|e| e.map(|e| e.file_name().as_bytes().to_vec()))
            .collect::<io::Result<_>>()
            .map_err(read)?;
        names.sort_unstable();
        for name in names {
            let child = abs.join(OsStr::from_bytes(&name));
            if is_fuse_marker(&child, &name) {
                // Written once as the directory's opaque marker (see `is_opaque`).
                continue;
            }
            let child_rel = join(rel, &name);
            self.entry(&child, rel, &name, &child_rel)?;
        }
        Ok(())
    }

    fn entry(
        &mut self,
        abs: &Path,
        parent_rel: &[u8],
        name: &[u8],
        rel: &[u8],
    ) -> Result<(), ArchiveError> {
        let read = |source| ArchiveError::ReadTree {
            path: abs.to_owned(),
            source,
        };
        let md = fs::symlink_metadata(abs).map_err(read)?;
        let ft = md.file_type();
        if ft.is_socket() {
            tracing::debug!(path = %abs.display(), "skipping socket");
            return Ok(());
        }
        if ft.is_char_device() && md.rdev() == 0 {
            let whiteout = [PREFIX, name].concat();
            return self.marker(parent_rel, &whiteout, &md);
        }
        let xattrs = read_xattrs(abs).map_err(read)?;
        let owner = owner(&md, &xattrs);
        let kept: Vec<_> = xattrs.into_iter().filter(|(k, _)| keep_xattr(k)).collect();
        if ft.is_dir() {
            let mut h = header(EntryType::Directory, &owner, &md);
            self.append(&mut h, &join(rel, b""), &kept, io::empty())?;
            if is_opaque(abs) {
                self.marker(rel, OPAQUE_MARKER.as_bytes(), &md)?;
            }
            return self.walk(abs, rel);
        }
        if ft.is_symlink() {
            let target = fs::read_link(abs).map_err(read)?;
            let mut h = header(EntryType::Symlink, &owner, &md);
            return self.append_link(&mut h, rel, &kept, &target);
        }
        if ft.is_file() {
            if md.nlink() > 1 {
                let key = (md.dev(), md.ino());
                if let Some(first) = self.links.get(&key).cloned() {
                    let mut h = header(EntryType::Link, &owner, &md);
                    return self.append_link(
                        &mut h,
                        rel,
                        &[],
                        Path::new(OsStr::from_bytes(&first)),
                    );
                }
                self.links.insert(key, rel.to_vec());
            }
            let file = File::open(abs).map_err(read)?;
            let mut h = header(EntryType::Regular, &owner, &md);
            h.set_size(md.len());
            return self.append(&mut h, rel, &kept, file);
        }
        let ty = if ft.is_fifo() {
            EntryType::Fifo
        } else if ft.is_char_device() {
            EntryType::Char
        } else {
            EntryType::Block
        };
        let mut h = header(ty, &owner, &md);
        if ty != EntryType::Fifo {
            let (major, minor) = (rustix::fs::major(md.rdev()), rustix::fs::minor(md.rdev()));
            let set = h
                .set_device_major(major)
                .and_then(|()| h.set_device_minor(minor));
            set.map_err(|source| write_err(rel, source))?;
        }
        self.append(&mut h, rel, &kept, io::empty())
    }

    /// An empty `.wh.*` marker file named `name` in directory `dir_rel`.
    fn marker(&mut self, dir_rel: &[u8], name: &[u8], md: &Metadata) -> Result<(), ArchiveError> {
        let owner = Owner {
            uid: 0,
            gid: 0,
            mode: 0o644,
        };
        let mut h = header(EntryType::Regular, &owner, md);
        self.append(&mut h, &join(dir_rel, name), &[], io::empty())
    }

    fn append(
        &mut self,
        h: &mut Header,
        rel: &[u8],
        xattrs: &[(String, Vec<u8>)],
        data: impl io::Read,
    ) -> Result<(), ArchiveError> {
        self.pax(rel, xattrs)?;
        self.builder
            .append_data(h, Path::new(OsStr::from_bytes(rel)), data)
            .map_err(|source| write_err(rel, source))
    }

    fn append_link(
        &mut self,
        h: &mut Header,
        rel: &[u8],
        xattrs: &[(String, Vec<u8>)],
        target: &Path,
    ) -> Result<(), ArchiveError> {
        self.pax(rel, xattrs)?;
        self.builder
            .append_link(h, Path::new(OsStr::from_bytes(rel)), target)
            .map_err(|source| write_err(rel, source))
    }

    fn pax(&mut self, rel: &[u8], xattrs: &[(String, Vec<u8>)]) -> Result<(), ArchiveError> {
        if xattrs.is_empty() {
            return Ok(());
        }
        let keys: Vec<String> = xattrs
            .iter()
            .map(|(k, _)| format!("SCHILY.xattr.{k}"))
            .collect();
        let records = keys
            .iter()
            .map(String::as_str)
            .zip(xattrs.iter().map(|(_, v)| &v[..]));
        self.builder
            .append_pax_extensions(records)
            .map_err(|source| write_err(rel, source))
    }
}

fn write_err(rel: &[u8], source: io::Error) -> ArchiveError {
    ArchiveError::WriteTar {
        path: String::from_utf8_lossy(rel).into_owned(),
        source,
    }
}

/// `dir/name`; with an empty `name`, `dir/` (a directory entry's tar name).
fn join(dir: &[u8], name: &[u8]) -> Vec<u8> {
    if dir.is_empty() {
        return if name.is_empty() {
            Vec::new()
        } else {
            name.to_vec()
        };
    }
    [dir, b"/", name].concat()
}

fn header(ty: EntryType, owner: &Owner, md: &Metadata) -> Header {
    let mut h = Header::new_gnu();
    h.set_entry_type(ty);
    h.set_mode(owner.mode);
    h.set_uid(owner.uid);
    h.set_gid(owner.gid);
    h.set_mtime(u64::try_from(md.mtime()).unwrap_or(0));
    h.set_size(0);
    h
}

fn owner(md: &Metadata, xattrs: &[(String, Vec<u8>)]) -> Owner {
    let overridden = xattrs
        .iter()
        .find(|(k, _)| k == OVERRIDE_STAT_XATTR)
        .and_then(|(_, v)| parse_override(v));
    match overridden {
        Some((uid, gid, mode)) => Owner {
            uid: uid.into(),
            gid: gid.into(),
            mode,
        },
        None => Owner {
            uid: md.uid().into(),
            gid: md.gid().into(),
            mode: md.mode() & 0o7777,
        },
    }
}

/// All xattrs of `path` (not following a symlink), sorted by name. Filesystems without xattr
/// support give none.
fn read_xattrs(path: &Path) -> io::Result<Vec<(String, Vec<u8>)>> {
    let names = match list_xattrs(path) {
        Ok(names) => names,
        Err(e) if e.raw_os_error() == Some(libc::ENOTSUP) => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut out = Vec::new();
    for name in names {
        if let Some(value) = get_xattr(path, &name)? {
            out.push((name, value));
        }
    }
    out.sort();
    Ok(out)
}

fn list_xattrs(path: &Path) -> io::Result<Vec<String>> {
    let mut buf = vec![0u8; 1024];
    loop {
        match rustix::fs::llistxattr(path, &mut buf[..]) {
            Ok(n) => {
                let names = buf[..n]
                    .split(|&b| b == 0)
                    .filter(|n| !n.is_empty())
                    .filter_map(|n| std::str::from_utf8(n).ok().map(str::to_owned))
                    .collect();
                return Ok(names);
            }
            Err(rustix::io::Errno::RANGE) => buf.resize(buf.len() * 4, 0),
            Err(e) => return Err(e.into()),
        }
    }
}

fn get_xattr(path: &Path, name: &str) -> io::Result<Option<Vec<u8>>> {
    let mut buf = vec![0u8; 256];
    loop {
        match rustix::fs::lgetxattr(path, name, &mut buf[..]) {
            Ok(n) => {
                buf.truncate(n);
                return Ok(Some(buf));
            }
            Err(rustix::io::Errno::RANGE) => buf.resize(buf.len() * 4, 0),
            // Removed between list and get, or not readable by us.
            Err(rustix::io::Errno::NODATA | rustix::io::Errno::PERM) => return Ok(None),
            Err(e) => return Err(e.into()),
        }
    }
}

/// Whether an upper directory hides the layers' content: the kernel overlay's xattrs, or fuse-overlayfs's
/// xattr or marker file.
fn is_opaque(dir: &Path) -> bool {
    [OPAQUE_XATTR, TRUSTED_OPAQUE_XATTR, FUSE_OPAQUE_XATTR]
        .iter()
        .any(|name| matches!(get_xattr(dir, name), Ok(Some(v)) if v == b"y"))
        || fs::symlink_metadata(dir.join(OPAQUE_MARKER)).is_ok_and(|m| m.is_file())
}

/// fuse-overlayfs's opaque marker file and the whiteout it makes beside it.
fn is_fuse_marker(path: &Path, name: &[u8]) -> bool {
    let Ok(md) = fs::symlink_metadata(path) else {
        return false;
    };
    (name == OPAQUE_MARKER.as_bytes() && md.is_file())
        || (name == FUSE_MARKER_WHITEOUT.as_bytes()
            && md.file_type().is_char_device()
            && md.rdev() == 0)
}

/// Counts the bytes passed through to the inner writer.
struct Counter<W> {
    inner: W,
    n: u64,
}

impl<W: Write> Write for Counter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.n += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn joins_tar_names() {
        assert_eq!(join(b"", b"a"), b"a");
        assert_eq!(join(b"a", b"b"), b"a/b");
        assert_eq!(join(b"a", b""), b"a/");
    }

    #[test]
    fn refuses_a_non_directory() {
        let tmp = tempfile::NamedTempFile::new().expect("tempfile");
        let err = write_layer(tmp.path(), Vec::new()).expect_err("a file is not a tree");
        assert!(matches!(err, ArchiveError::ReadTree { .. }), "{err}");
    }

    #[test]
    fn output_is_deterministic_and_sorted() {
        let tmp = tempfile::tempdir().expect("tempdir");
        for name in ["b", "a", "c/z", "c/y"] {
            let p = tmp.path().join(name);
            fs::create_dir_all(p.parent().expect("has parent")).expect("mkdir");
            fs::write(&p, name).expect("write");
        }
        let mut one = Vec::new();
        let mut two = Vec::new();
        let n = write_layer(tmp.path(), &mut one).expect("write layer");
        write_layer(tmp.path(), &mut two).expect("write layer");
        assert_eq!(n, one.len() as u64);
        assert_eq!(one, two);
        let mut archive = tar::Archive::new(&one[..]);
        let names: Vec<String> = archive
            .entries()
            .expect("entries")
            .map(|e| {
                e.expect("entry")
                    .path()
                    .expect("path")
                    .display()
                    .to_string()
            })
            .collect();
        assert_eq!(names, ["a", "b", "c/", "c/y", "c/z"]);
    }
}
