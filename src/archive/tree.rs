//! Writing a file tree as a tar by walking directory fds (for `cp` and `export`).
//!
//! The tree may belong to a running, hostile container that swaps files for symlinks while we read, so
//! every lookup is relative to an already open directory fd and never follows a symlink
//! (`O_NOFOLLOW`, `AT_SYMLINK_NOFOLLOW`): a symlink is archived as a symlink, never read through.

use std::collections::HashMap;
use std::ffi::OsStr;
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use rustix::fs::{AtFlags, FileType, Mode, OFlags, Stat};
use tar::{EntryType, Header};

use super::ArchiveError;

/// Streams entries of one or more trees into a tar.
pub struct TreeWriter<W: Write> {
    builder: tar::Builder<W>,
    /// First tar name seen for each (device, inode) with more than one link.
    links: HashMap<(u64, u64), Vec<u8>>,
    /// The owner written for a file's uid and gid (None: as they are).
    ids: Option<IdMap>,
}

/// Turns a file's (uid, gid) into the pair a tar records.
pub type IdMap = Box<dyn Fn(u32, u32) -> (u32, u32)>;

/// Names in directory `dir` (which may be an `O_PATH` fd), sorted, without `.` and `..`.
pub fn list_dir(dir: BorrowedFd<'_>) -> io::Result<Vec<Vec<u8>>> {
    let fd = rustix::fs::openat(
        dir,
        ".",
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )?;
    let mut names = Vec::new();
    for entry in rustix::fs::Dir::read_from(&fd)? {
        let name = entry?.file_name().to_bytes().to_vec();
        if name != b"." && name != b".." {
            names.push(name);
        }
    }
    names.sort_unstable();
    Ok(names)
}

/// Open `name` in `dir` without following a symlink.
pub fn open_nofollow(dir: BorrowedFd<'_>, name: &[u8], flags: OFlags) -> io::Result<OwnedFd> {
    Ok(rustix::fs::openat(
        dir,
        OsStr::from_bytes(name),
        flags | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    )?)
}

impl<W: Write> TreeWriter<W> {
    pub fn new(out: W) -> Self {
        let mut builder = tar::Builder::new(out);
        builder.mode(tar::HeaderMode::Complete);
        TreeWriter {
            builder,
            links: HashMap::new(),
            ids: None,
        }
    }

    /// Record owners through `ids` (a container's files stored with shifted ids).
    pub fn with_ids(mut self, ids: Option<IdMap>) -> Self {
        self.ids = ids;
        self
    }

    fn own(&self, h: &mut Header) {
        if let Some(f) = &self.ids {
            let id = |n: io::Result<u64>| n.ok().and_then(|n| u32::try_from(n).ok()).unwrap_or(0);
            let (uid, gid) = f(id(h.uid()), id(h.gid()));
            h.set_uid(uid.into());
            h.set_gid(gid.into());
        }
    }

    /// Append `name` from directory `dir` as `tar_name` (with everything below it, for a directory).
    pub fn append_at(
        &mut self,
        dir: BorrowedFd<'_>,
        name: &[u8],
        tar_name: &[u8],
    ) -> Result<(), ArchiveError> {
        let read = |source: io::Error| ArchiveError::ReadTree {
            path: display_path(tar_name),
            source,
        };
        let st = rustix::fs::statat(dir, OsStr::from_bytes(name), AtFlags::SYMLINK_NOFOLLOW)
            .map_err(|e| read(e.into()))?;
        match FileType::from_raw_mode(st.st_mode) {
            FileType::Directory => {
                let fd =
                    open_nofollow(dir, name, OFlags::PATH | OFlags::DIRECTORY).map_err(read)?;
                let mut h = header(EntryType::Directory, &st);
                self.append(&mut h, &dir_name(tar_name), io::empty())?;
                self.append_children(fd.as_fd(), tar_name)
            }
            FileType::RegularFile => self.append_file(dir, name, tar_name, &st),
            FileType::Symlink => {
                let target = rustix::fs::readlinkat(dir, OsStr::from_bytes(name), Vec::new())
                    .map_err(|e| read(e.into()))?;
                let mut h = header(EntryType::Symlink, &st);
                self.own(&mut h);
                let target = Path::new(OsStr::from_bytes(target.as_bytes()));
                self.builder
                    .append_link(&mut h, Path::new(OsStr::from_bytes(tar_name)), target)
                    .map_err(|source| write_err(tar_name, source))
            }
            FileType::Fifo => self.append(&mut header(EntryType::Fifo, &st), tar_name, io::empty()),
            FileType::CharacterDevice | FileType::BlockDevice => {
                let ty = if FileType::from_raw_mode(st.st_mode) == FileType::CharacterDevice {
                    EntryType::Char
                } else {
                    EntryType::Block
                };
                let mut h = header(ty, &st);
                let (major, minor) = (rustix::fs::major(st.st_rdev), rustix::fs::minor(st.st_rdev));
                h.set_device_major(major)
                    .and_then(|()| h.set_device_minor(minor))
                    .map_err(|source| write_err(tar_name, source))?;
                self.append(&mut h, tar_name, io::empty())
            }
            _ => {
                tracing::debug!(path = %display_path(tar_name).display(), "skipping socket");
                Ok(())
            }
        }
    }

    /// Append every entry of directory `dir` under `prefix` (empty: at the top of the tar).
    pub fn append_children(
        &mut self,
        dir: BorrowedFd<'_>,
        prefix: &[u8],
    ) -> Result<(), ArchiveError> {
        let names = list_dir(dir).map_err(|source| ArchiveError::ReadTree {
            path: display_path(prefix),
            source,
        })?;
        for name in names {
            let child = if prefix.is_empty() {
                name.clone()
            } else {
                [prefix, b"/", &name].concat()
            };
            self.append_at(dir, &name, &child)?;
        }
        Ok(())
    }

    /// Write the end-of-archive marker and return the output.
    pub fn finish(self) -> Result<W, ArchiveError> {
        self.builder
            .into_inner()
            .map_err(|source| write_err(b"", source))
    }

    fn append_file(
        &mut self,
        dir: BorrowedFd<'_>,
        name: &[u8],
        tar_name: &[u8],
        st: &Stat,
    ) -> Result<(), ArchiveError> {
        let read = |source: io::Error| ArchiveError::ReadTree {
            path: display_path(tar_name),
            source,
        };
        if st.st_nlink > 1 {
            let key = (st.st_dev, st.st_ino);
            if let Some(first) = self.links.get(&key).cloned() {
                let mut h = header(EntryType::Link, st);
                self.own(&mut h);
                return self
                    .builder
                    .append_link(
                        &mut h,
                        Path::new(OsStr::from_bytes(tar_name)),
                        Path::new(OsStr::from_bytes(&first)),
                    )
                    .map_err(|source| write_err(tar_name, source));
            }
            self.links.insert(key, tar_name.to_vec());
        }
        // NONBLOCK: a file swapped for a FIFO after the stat must not hang us.
        let fd = open_nofollow(
            dir,
            name,
            OFlags::RDONLY | OFlags::NONBLOCK | OFlags::NOCTTY,
        )
        .map_err(read)?;
        let st = rustix::fs::fstat(&fd).map_err(|e| read(e.into()))?;
        if FileType::from_raw_mode(st.st_mode) != FileType::RegularFile {
            return Err(read(io::Error::other("changed type while being read")));
        }
        let size = u64::try_from(st.st_size).unwrap_or(0);
        let mut h = header(EntryType::Regular, &st);
        h.set_size(size);
        // A file that shrinks while read is padded, one that grows is cut: the header's size holds.
        let data = File::from(fd).take(size).chain(io::repeat(0)).take(size);
        self.append(&mut h, tar_name, data)
    }

    fn append(
        &mut self,
        h: &mut Header,
        tar_name: &[u8],
        data: impl Read,
    ) -> Result<(), ArchiveError> {
        self.own(h);
        self.builder
            .append_data(h, Path::new(OsStr::from_bytes(tar_name)), data)
            .map_err(|source| write_err(tar_name, source))
    }
}

fn header(ty: EntryType, st: &Stat) -> Header {
    let mut h = Header::new_gnu();
    h.set_entry_type(ty);
    h.set_mode(st.st_mode & 0o7777);
    h.set_uid(st.st_uid.into());
    h.set_gid(st.st_gid.into());
    h.set_mtime(u64::try_from(st.st_mtime).unwrap_or(0));
    h.set_size(0);
    h
}

fn dir_name(tar_name: &[u8]) -> Vec<u8> {
    [tar_name, b"/"].concat()
}

fn display_path(tar_name: &[u8]) -> PathBuf {
    PathBuf::from(OsStr::from_bytes(tar_name))
}

fn write_err(tar_name: &[u8], source: io::Error) -> ArchiveError {
    ArchiveError::WriteTar {
        path: String::from_utf8_lossy(tar_name).into_owned(),
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(tar: &[u8]) -> Vec<(String, EntryType)> {
        let mut a = tar::Archive::new(tar);
        a.entries()
            .expect("entries")
            .map(|e| {
                let e = e.expect("entry");
                (
                    e.path().expect("path").display().to_string(),
                    e.header().entry_type(),
                )
            })
            .collect()
    }

    #[test]
    fn archives_symlinks_as_links_and_renames_the_top() {
        let tmp = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir(tmp.path().join("d")).expect("mkdir");
        std::fs::write(tmp.path().join("d/f"), "x").expect("write");
        std::os::unix::fs::symlink("/etc", tmp.path().join("d/up")).expect("symlink");
        let dir = File::open(tmp.path()).expect("open");
        let mut w = TreeWriter::new(Vec::new());
        w.append_at(dir.as_fd(), b"d", b"renamed").expect("append");
        let tar = w.finish().expect("finish");
        assert_eq!(
            names(&tar),
            [
                ("renamed/".to_string(), EntryType::Directory),
                ("renamed/f".to_string(), EntryType::Regular),
                ("renamed/up".to_string(), EntryType::Symlink),
            ]
        );
        let mut w = TreeWriter::new(Vec::new());
        w.append_children(dir.as_fd(), b"").expect("append");
        let tar = w.finish().expect("finish");
        assert_eq!(names(&tar)[0].0, "d/");
    }
}
