//! Unpacking a layer tar into a directory.

use std::collections::HashSet;
use std::fs::File;
use std::io::{self, BufReader, Read, Write};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::Path;
use std::rc::Rc;

use rustix::fs::{AtFlags, FileType, Mode, OFlags, Timespec};
use rustix::io::Errno;
use tar::EntryType;

use super::metadata::{self, Kind, Meta};
use super::path::{self, RelPath, ResolveError, Tree, lossy};
use super::whiteout::{self, Marker, Written};
use super::{ApplyOptions, ApplyReport, ArchiveError, PathProblem, Refusal, UnpackOp};

/// Buffer between the (decompressed) tar stream and the tar parser.
const READ_BUFFER: usize = 256 * 1024;
/// Buffer for copying file content.
const COPY_BUFFER: usize = 256 * 1024;

/// Unpack an (already decompressed) layer tar into `dest`, an existing directory that is
/// empty or holds the content of lower layers.
///
/// Nothing is ever written outside `dest`: see the module documentation. Stops at the first
/// refused or failed entry; what was unpacked before stays in place.
pub fn apply_layer(
    tar: impl Read,
    dest: &Path,
    opts: &ApplyOptions,
) -> Result<ApplyReport, ArchiveError> {
    let tree = Tree::open(dest).map_err(|source| ArchiveError::OpenDir {
        dir: dest.to_owned(),
        source,
    })?;
    let mut unpacker = Unpacker {
        tree,
        opts: *opts,
        written: Written::default(),
        dirs: Vec::new(),
        report: ApplyReport::default(),
        buf: vec![0; COPY_BUFFER],
    };
    let mut archive = tar::Archive::new(BufReader::with_capacity(READ_BUFFER, tar));
    let entries = archive
        .entries()
        .map_err(|source| ArchiveError::ReadTar { source })?;
    for entry in entries {
        let mut entry = entry.map_err(|source| ArchiveError::ReadTar { source })?;
        unpacker.entry(&mut entry)?;
    }
    unpacker.finish()?;
    tracing::debug!(
        dest = %dest.display(),
        entries = unpacker.report.entries,
        bytes = unpacker.report.bytes,
        "applied layer"
    );
    Ok(unpacker.report)
}

/// Why one entry could not be unpacked; turned into an [`ArchiveError`] naming the entry.
#[derive(Debug)]
pub(super) enum Step {
    Refused(Refusal),
    Io(UnpackOp, io::Error),
    Read(io::Error),
}

impl Step {
    /// A failure to resolve the parent directory of the entry.
    pub(super) fn parent(e: ResolveError) -> Self {
        match e {
            ResolveError::Unsafe(problem) => Self::Refused(Refusal::Path(problem)),
            ResolveError::Io(e) => Self::Io(UnpackOp::OpenParent, e),
        }
    }

    fn into_error(self, path: String) -> ArchiveError {
        match self {
            Self::Refused(reason) => ArchiveError::Refused { path, reason },
            Self::Io(op, source) => ArchiveError::Unpack { op, path, source },
            Self::Read(source) => ArchiveError::ReadEntry { path, source },
        }
    }
}

fn io(op: UnpackOp) -> impl Fn(Errno) -> Step {
    move |e| Step::Io(op, e.into())
}

struct Unpacker {
    tree: Tree,
    opts: ApplyOptions,
    written: Written,
    /// Directories whose mode and mtime are set at the end (after their children).
    dirs: Vec<(RelPath, u32, Timespec)>,
    report: ApplyReport,
    buf: Vec<u8>,
}

impl Unpacker {
    fn entry<R: Read>(&mut self, entry: &mut tar::Entry<'_, R>) -> Result<(), ArchiveError> {
        let kind = entry.header().entry_type();
        if kind.is_pax_global_extensions() {
            return Ok(());
        }
        let raw = entry.path_bytes().into_owned();
        let shown = lossy(&raw);
        self.report.entries += 1;
        self.dispatch(entry, kind, &raw)
            .map_err(|step| step.into_error(shown))
    }

    fn dispatch<R: Read>(
        &mut self,
        entry: &mut tar::Entry<'_, R>,
        kind: EntryType,
        raw: &[u8],
    ) -> Result<(), Step> {
        let path = RelPath::parse(raw).map_err(|p| Step::Refused(Refusal::Path(p)))?;
        if let Some((_, name)) = path.split() {
            match Marker::classify(name).map_err(|p| Step::Refused(Refusal::Path(p)))? {
                None => {}
                Some(Marker::Meta) => return Ok(()),
                Some(Marker::Opaque) => {
                    let dir = path.parent();
                    let mode = self.opts.whiteouts;
                    return whiteout::opaque(&mut self.tree, &mut self.written, mode, &dir);
                }
                Some(Marker::Whiteout(target)) => {
                    let mode = self.opts.whiteouts;
                    return whiteout::whiteout(
                        &mut self.tree,
                        &mut self.written,
                        mode,
                        &path,
                        target,
                    );
                }
            }
        }
        if path.is_root() && kind != EntryType::Directory {
            return Err(Step::Refused(Refusal::RootNotDir));
        }
        let meta = Meta::from_entry(entry).map_err(Step::Read)?;
        match kind {
            EntryType::Regular | EntryType::Continuous | EntryType::GNUSparse => {
                self.file(&path, &meta, entry)
            }
            EntryType::Directory => self.dir(&path, &meta),
            EntryType::Symlink => {
                let target = entry.link_name_bytes().map(|t| t.into_owned());
                self.symlink(&path, &meta, target)
            }
            EntryType::Link => {
                let target = entry.link_name_bytes().map(|t| t.into_owned());
                self.hard_link(&path, target)
            }
            EntryType::Fifo => self.node(&path, &meta, FileType::Fifo, 0),
            // Rootless, device nodes are never created: they are skipped, as podman and docker do,
            // because ordinary images (a debootstrap /dev) carry them.
            EntryType::Char | EntryType::Block if !self.opts.allow_devices => {
                self.report.skipped_devices += 1;
                tracing::debug!(path = %lossy(raw), "skipping device node (not allowed rootless)");
                Ok(())
            }
            EntryType::Char | EntryType::Block => {
                let h = entry.header();
                let major = h.device_major().map_err(Step::Read)?.unwrap_or(0);
                let minor = h.device_minor().map_err(Step::Read)?.unwrap_or(0);
                let ty = if kind == EntryType::Char {
                    FileType::CharacterDevice
                } else {
                    FileType::BlockDevice
                };
                self.node(&path, &meta, ty, rustix::fs::makedev(major, minor))
            }
            other => Err(Step::Refused(Refusal::UnsupportedType(char::from(
                other.as_byte(),
            )))),
        }
    }

    /// The dirfd of the entry's parent directory, creating missing directories.
    fn parent(&mut self, path: &RelPath) -> Result<(Rc<OwnedFd>, Vec<u8>), Step> {
        let (parent, name) = path.split().expect("the root is handled by the caller");
        let name = name.to_vec();
        match self.tree.dir(parent, true) {
            Ok(Some(fd)) => Ok((fd, name)),
            Ok(None) => Err(Step::Io(
                UnpackOp::OpenParent,
                io::Error::from(io::ErrorKind::NotFound),
            )),
            Err(e) => Err(Step::parent(e)),
        }
    }

    /// Run `create`; if the name is taken, remove what is there (never following a symlink)
    /// and try once more.
    fn replace<T>(
        &mut self,
        parent: BorrowedFd<'_>,
        name: &[u8],
        op: UnpackOp,
        mut create: impl FnMut() -> rustix::io::Result<T>,
    ) -> Result<T, Step> {
        match create() {
            Err(Errno::EXIST) => {}
            other => return other.map_err(io(op)),
        }
        let removed_dir =
            path::remove_all(parent, name).map_err(|e| Step::Io(UnpackOp::Remove, e))?;
        if removed_dir {
            self.tree.invalidate();
        }
        create().map_err(io(op))
    }

    fn file(&mut self, path: &RelPath, meta: &Meta, data: &mut impl Read) -> Result<(), Step> {
        let (parent, name) = self.parent(path)?;
        let flags =
            OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        let fd = self.replace(parent.as_fd(), &name, UnpackOp::CreateFile, || {
            rustix::fs::openat(
                parent.as_fd(),
                name.as_slice(),
                flags,
                Mode::from_raw_mode(0o600),
            )
        })?;
        let mut file = File::from(fd);
        self.report.bytes += copy(data, &mut file, &mut self.buf)?;
        metadata::own_fd(file.as_fd(), meta, self.opts.ownership, Kind::File)
            .map_err(|e| Step::Io(UnpackOp::Chown, e))?;
        metadata::set_xattrs(file.as_fd(), meta).map_err(|e| Step::Io(UnpackOp::SetXattr, e))?;
        let mode = metadata::disk_mode(meta.mode, self.opts.ownership, Kind::File);
        metadata::chmod_fd(file.as_fd(), mode).map_err(|e| Step::Io(UnpackOp::Chmod, e))?;
        rustix::fs::futimens(&file, &meta.timestamps()).map_err(io(UnpackOp::SetTimes))?;
        self.written.add(path);
        Ok(())
    }

    fn dir(&mut self, path: &RelPath, meta: &Meta) -> Result<(), Step> {
        let fd = match path.split() {
            None => {
                path::open_child_dir(self.tree.root(), b".").map_err(io(UnpackOp::CreateDir))?
            }
            Some(_) => {
                let (parent, name) = self.parent(path)?;
                self.make_dir(parent.as_fd(), &name)?;
                path::open_child_dir(parent.as_fd(), &name).map_err(io(UnpackOp::CreateDir))?
            }
        };
        metadata::own_fd(fd.as_fd(), meta, self.opts.ownership, Kind::Dir)
            .map_err(|e| Step::Io(UnpackOp::Chown, e))?;
        metadata::set_xattrs(fd.as_fd(), meta).map_err(|e| Step::Io(UnpackOp::SetXattr, e))?;
        let mode = metadata::disk_mode(meta.mode, self.opts.ownership, Kind::Dir);
        self.dirs.push((path.clone(), mode, meta.mtime));
        self.tree.remember(path.as_bytes(), Rc::new(fd));
        self.written.add(path);
        Ok(())
    }

    /// Create directory `name`, reusing an existing directory and replacing anything else.
    /// The final mode is set in [`Unpacker::finish`]; until then the owner may write into it.
    fn make_dir(&mut self, parent: BorrowedFd<'_>, name: &[u8]) -> Result<(), Step> {
        let mkdir = || rustix::fs::mkdirat(parent, name, Mode::from_raw_mode(0o700));
        match mkdir() {
            Err(Errno::EXIST) => {}
            other => return other.map_err(io(UnpackOp::CreateDir)),
        }
        let st = rustix::fs::statat(parent, name, AtFlags::SYMLINK_NOFOLLOW)
            .map_err(io(UnpackOp::CreateDir))?;
        if FileType::from_raw_mode(st.st_mode) == FileType::Directory {
            return Ok(());
        }
        rustix::fs::unlinkat(parent, name, AtFlags::empty()).map_err(io(UnpackOp::Remove))?;
        mkdir().map_err(io(UnpackOp::CreateDir))
    }

    fn symlink(
        &mut self,
        path: &RelPath,
        meta: &Meta,
        target: Option<Vec<u8>>,
    ) -> Result<(), Step> {
        let target = target.ok_or(Step::Refused(Refusal::MissingLinkTarget))?;
        if target.contains(&0) {
            return Err(Step::Refused(Refusal::SymlinkTargetNul));
        }
        let (parent, name) = self.parent(path)?;
        self.replace(parent.as_fd(), &name, UnpackOp::CreateSymlink, || {
            rustix::fs::symlinkat(target.as_slice(), parent.as_fd(), name.as_slice())
        })?;
        self.finish_special(parent.as_fd(), &name, meta, None)?;
        self.written.add(path);
        Ok(())
    }

    fn node(&mut self, path: &RelPath, meta: &Meta, ty: FileType, dev: u64) -> Result<(), Step> {
        let (parent, name) = self.parent(path)?;
        self.replace(parent.as_fd(), &name, UnpackOp::CreateNode, || {
            rustix::fs::mknodat(
                parent.as_fd(),
                name.as_slice(),
                ty,
                Mode::from_raw_mode(0o600),
                dev,
            )
        })?;
        self.finish_special(parent.as_fd(), &name, meta, Some(meta.mode))?;
        self.written.add(path);
        Ok(())
    }

    /// Owner, mode and times of a symlink or special file, addressed by name (these can't
    /// be opened for writing). chmod comes after chown, which clears setuid/setgid.
    fn finish_special(
        &self,
        parent: BorrowedFd<'_>,
        name: &[u8],
        meta: &Meta,
        mode: Option<u32>,
    ) -> Result<(), Step> {
        metadata::own_at(parent, name, meta, self.opts.ownership)
            .map_err(|e| Step::Io(UnpackOp::Chown, e))?;
        if let Some(mode) = mode {
            // The name was just created as a non-symlink by us, so following is harmless.
            rustix::fs::chmodat(parent, name, Mode::from_raw_mode(mode), AtFlags::empty())
                .map_err(io(UnpackOp::Chmod))?;
        }
        rustix::fs::utimensat(parent, name, &meta.timestamps(), AtFlags::SYMLINK_NOFOLLOW)
            .map_err(io(UnpackOp::SetTimes))
    }

    fn hard_link(&mut self, path: &RelPath, target: Option<Vec<u8>>) -> Result<(), Step> {
        let raw = target.ok_or(Step::Refused(Refusal::MissingLinkTarget))?;
        let refuse = |problem| {
            Step::Refused(Refusal::LinkTarget {
                target: lossy(&raw),
                problem,
            })
        };
        let target = RelPath::parse(&raw).map_err(refuse)?;
        let Some((tparent, tname)) = target.split() else {
            return Err(refuse(PathProblem::Root));
        };
        let tdir = match self.tree.dir(tparent, false) {
            Ok(Some(fd)) => fd,
            Ok(None) => {
                let e = io::Error::from(io::ErrorKind::NotFound);
                return Err(Step::Io(UnpackOp::CreateHardLink, e));
            }
            Err(ResolveError::Unsafe(problem)) => return Err(refuse(problem)),
            Err(ResolveError::Io(e)) => return Err(Step::Io(UnpackOp::CreateHardLink, e)),
        };
        let (parent, name) = self.parent(path)?;
        // Without AT_SYMLINK_FOLLOW a link to a symlink links the symlink itself.
        let link = || {
            rustix::fs::linkat(
                tdir.as_fd(),
                tname,
                parent.as_fd(),
                name.as_slice(),
                AtFlags::empty(),
            )
        };
        match link() {
            Ok(()) => {}
            Err(Errno::EXIST) if same_file(tdir.as_fd(), tname, parent.as_fd(), &name) => {}
            Err(Errno::EXIST) => {
                self.replace(parent.as_fd(), &name, UnpackOp::CreateHardLink, link)?;
            }
            Err(e) => return Err(Step::Io(UnpackOp::CreateHardLink, e.into())),
        }
        self.written.add(path);
        Ok(())
    }

    /// Set the deferred modes and mtimes of directories, deepest first.
    fn finish(&mut self) -> Result<(), ArchiveError> {
        let mut seen = HashSet::new();
        let mut dirs: Vec<_> = std::mem::take(&mut self.dirs)
            .into_iter()
            .rev()
            .filter(|(path, _, _)| seen.insert(path.clone()))
            .collect();
        dirs.sort_by_key(|(path, _, _)| std::cmp::Reverse(path.depth()));
        for (path, mode, mtime) in dirs {
            let fail = |op, source| ArchiveError::Unpack {
                op,
                path: path.display(),
                source,
            };
            let fd = match self.tree.open_dir(&path) {
                Ok(Some(fd)) => fd,
                // Replaced or removed by a later entry of this layer.
                Ok(None) => continue,
                Err(ResolveError::Unsafe(_)) => continue,
                Err(ResolveError::Io(e)) => return Err(fail(UnpackOp::OpenParent, e)),
            };
            metadata::chmod_fd(fd.as_fd(), mode).map_err(|e| fail(UnpackOp::Chmod, e))?;
            let times = rustix::fs::Timestamps {
                last_access: mtime,
                last_modification: mtime,
            };
            rustix::fs::futimens(&fd, &times).map_err(|e| fail(UnpackOp::SetTimes, e.into()))?;
        }
        Ok(())
    }
}

/// Copy an entry's content into `file`; returns the bytes written.
fn copy(data: &mut impl Read, file: &mut File, buf: &mut [u8]) -> Result<u64, Step> {
    let mut total = 0u64;
    loop {
        let n = match data.read(buf) {
            Ok(0) => return Ok(total),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(Step::Read(e)),
        };
        file.write_all(&buf[..n])
            .map_err(|e| Step::Io(UnpackOp::WriteFile, e))?;
        total += n as u64;
    }
}

fn same_file(adir: BorrowedFd<'_>, a: &[u8], bdir: BorrowedFd<'_>, b: &[u8]) -> bool {
    let stat = |dir, name: &[u8]| rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW);
    match (stat(adir, a), stat(bdir, b)) {
        (Ok(x), Ok(y)) => x.st_dev == y.st_dev && x.st_ino == y.st_ino,
        _ => false,
    }
}
