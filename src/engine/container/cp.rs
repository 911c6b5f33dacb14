//! `cp`: copy files between a container and the host (or a tar stream), with docker's path semantics.
//!
//! Container paths are resolved as the container would resolve them: from a directory fd of its root with
//! `openat2(RESOLVE_IN_ROOT)`, so `..` and absolute symlinks stay inside it (the CVE-2018-15664 class), and
//! the final component is never followed when read. Whatever is copied travels as a tar: out of the
//! container it is written by walking fds ([`TreeWriter`]), into it it is unpacked by [`apply_layer`],
//! which resolves every parent beneath the destination without following symlinks. A stopped container
//! is written through a detached overlay mount of its storage, so the kernel does the copy-up.
use std::io::{self, Read, Seek, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};

use rustix::fs::{AtFlags, FileType, Mode, OFlags};

use super::find;
use super::view::{Access, FsError, fd_path, open_root, resolve};
use crate::archive::{ApplyOptions, TreeWriter, Whiteouts, apply_layer, open_nofollow};
use crate::engine::{Ctx, EngineError};

/// One side of a copy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// `CONTAINER:PATH`
    Container { key: String, path: String },
    /// A path on the host.
    Host(PathBuf),
    /// `-`: a tar stream on stdin or stdout.
    Stream,
}

impl Location {
    /// docker's rule: `NAME:PATH` is a container path unless the part before the colon has a `/` (or the
    /// argument starts with `/` or `.`); `-` is a stream.
    pub fn parse(arg: &str) -> Location {
        if arg == "-" {
            return Location::Stream;
        }
        if !arg.starts_with(['/', '.'])
            && let Some((key, path)) = arg.split_once(':')
            && !key.is_empty()
            && !key.contains('/')
        {
            let path = if path.starts_with('/') {
                path.to_string()
            } else {
                format!("/{path}")
            };
            return Location::Container {
                key: key.to_string(),
                path,
            };
        }
        Location::Host(PathBuf::from(arg))
    }
}

#[derive(Debug, Clone)]
pub struct CopyOptions {
    pub src: Location,
    pub dest: Location,
}

/// A source path split for copying.
#[derive(Debug, Clone, PartialEq, Eq)]
struct SrcPath {
    /// The directory holding the source, or (with `contents`) the source directory itself.
    dir: String,
    /// The source's name in `dir`; `.` with `contents`.
    name: String,
    /// `SRC/.`: copy what is in the directory, not the directory.
    contents: bool,
}

fn split_src(path: &str) -> Result<SrcPath, FsError> {
    if let Some(dir) = path.strip_suffix("/.").or((path == ".").then_some("")) {
        return Ok(contents_of(dir));
    }
    let trimmed = path.trim_end_matches('/');
    if trimmed.is_empty() {
        return Ok(contents_of("/"));
    }
    let (dir, name) = match trimmed.rsplit_once('/') {
        Some((d, n)) => (if d.is_empty() { "/" } else { d }, n),
        None => (".", trimmed),
    };
    if name == ".." {
        return Err(FsError::NotFound(path.to_string()));
    }
    Ok(SrcPath {
        dir: dir.to_string(),
        name: name.to_string(),
        contents: false,
    })
}

fn contents_of(dir: &str) -> SrcPath {
    SrcPath {
        dir: if dir.is_empty() { "." } else { dir }.to_string(),
        name: ".".into(),
        contents: true,
    }
}

/// What the destination path names now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DestState {
    Missing,
    Dir,
    File,
}

/// What goes at the top of the tar.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Top {
    /// The source directory's entries.
    Children,
    /// The source itself, under this name.
    Named(String),
}

/// docker's rules: into an existing directory the source goes in under its own name (or, for `SRC/.`, its
/// contents do); a missing destination becomes the copy; an existing file is replaced by a file. Returns
/// the directory to unpack in and the tar's top.
fn plan_dest(
    src: &SrcPath,
    src_is_dir: bool,
    dest: &str,
    state: DestState,
) -> Result<(String, Top), FsError> {
    let (parent, base) = match dest.trim_end_matches('/').rsplit_once('/') {
        Some((p, b)) => (if p.is_empty() { "/" } else { p }, b),
        None => (".", dest.trim_end_matches('/')),
    };
    match state {
        DestState::Dir if src.contents => Ok((dest.to_string(), Top::Children)),
        DestState::Dir => Ok((dest.to_string(), Top::Named(src.name.clone()))),
        DestState::File if src_is_dir => Err(FsError::DirToFile {
            src: src.dir.clone(),
            dest: dest.to_string(),
        }),
        DestState::Missing if dest.ends_with('/') && !src_is_dir => {
            Err(FsError::NotFound(dest.to_string()))
        }
        DestState::File | DestState::Missing => {
            if base.is_empty() || base == "." || base == ".." {
                return Err(FsError::NotFound(dest.to_string()));
            }
            Ok((parent.to_string(), Top::Named(base.to_string())))
        }
    }
}

/// `cp SRC DEST`.
pub fn copy(
    ctx: &Ctx,
    opts: &CopyOptions,
    input: &mut dyn Read,
    output: &mut dyn Write,
) -> Result<(), EngineError> {
    match (&opts.src, &opts.dest) {
        (Location::Container { .. }, Location::Container { .. }) => {
            Err(FsError::BothContainers.into())
        }
        (Location::Container { key, path }, dest) => copy_out(ctx, key, path, dest, output),
        (src, Location::Container { key, path }) => copy_in(ctx, src, key, path, input),
        _ => Err(FsError::NoContainer.into()),
    }
}

/// The source as (directory fd, name in it) and whether it is a directory; `name` is never followed.
fn open_src(dir: OwnedFd, src: &SrcPath, shown: &str) -> Result<(OwnedFd, Vec<u8>, bool), FsError> {
    let st = rustix::fs::statat(&dir, src.name.as_str(), AtFlags::SYMLINK_NOFOLLOW).map_err(
        |e| match e {
            rustix::io::Errno::NOENT => FsError::NotFound(shown.to_string()),
            e => FsError::Inside {
                op: "stat",
                path: shown.to_string(),
                source: e.into(),
            },
        },
    )?;
    let is_dir = FileType::from_raw_mode(st.st_mode) == FileType::Directory;
    Ok((dir, src.name.as_bytes().to_vec(), is_dir))
}

/// Write the source as a tar with `top` at its head.
fn write_src(
    out: impl Write,
    dir: &OwnedFd,
    name: &[u8],
    top: &Top,
    shown: &str,
    ids: Option<crate::archive::IdMap>,
) -> Result<(), EngineError> {
    let mut tar = TreeWriter::new(out).with_ids(ids);
    match top {
        Top::Named(n) => tar.append_at(dir.as_fd(), name, n.as_bytes())?,
        Top::Children => {
            let fd = open_nofollow(dir.as_fd(), name, OFlags::PATH | OFlags::DIRECTORY).map_err(
                |e| FsError::Inside {
                    op: "open",
                    path: shown.to_string(),
                    source: e,
                },
            )?;
            tar.append_children(fd.as_fd(), b"")?;
        }
    }
    tar.finish()?;
    Ok(())
}

fn temp_file() -> Result<std::fs::File, EngineError> {
    let dir = std::env::temp_dir();
    tempfile::tempfile().map_err(|e| EngineError::io("create a temporary file in", dir, e))
}

fn copy_out(
    ctx: &Ctx,
    key: &str,
    path: &str,
    dest: &Location,
    output: &mut dyn Write,
) -> Result<(), EngineError> {
    let store = ctx
        .store_if_exists()?
        .ok_or_else(|| EngineError::NoSuchContainer(key.to_string()))?;
    let c = find(&store, key)?;
    let root = open_root(&store, &c, Access::Read)?;
    let src = split_src(path)?;
    let (dir, name, is_dir) = open_src(resolve(&root, &src.dir, true)?, &src, path)?;
    let default_top = if src.contents {
        Top::Children
    } else {
        Top::Named(src.name.clone())
    };
    let dest = match dest {
        Location::Stream => {
            let ids = super::rootfs::container_ids(&c);
            return write_src(output, &dir, &name, &default_top, path, ids);
        }
        Location::Host(p) => p,
        Location::Container { .. } => return Err(FsError::BothContainers.into()),
    };
    let shown = dest.to_string_lossy();
    let state = match std::fs::metadata(dest) {
        Ok(m) if m.is_dir() => DestState::Dir,
        Ok(_) => DestState::File,
        Err(e) if e.kind() == io::ErrorKind::NotFound => DestState::Missing,
        Err(e) => return Err(host_err("stat", dest, e)),
    };
    let (into, top) = plan_dest(&src, is_dir, &shown, state)?;
    let into = PathBuf::from(into);
    if !into.is_dir() {
        return Err(FsError::NotFound(into.display().to_string()).into());
    }
    let mut tmp = temp_file()?;
    write_src(&mut tmp, &dir, &name, &top, path, None)?;
    tmp.rewind().map_err(|e| host_err("read", &into, e))?;
    let mut archive = tar::Archive::new(io::BufReader::new(tmp));
    archive.set_preserve_permissions(true);
    archive.set_preserve_mtime(true);
    archive.set_overwrite(true);
    archive
        .unpack(&into)
        .map_err(|e| host_err("copy into", &into, e))?;
    Ok(())
}

fn copy_in(
    ctx: &Ctx,
    src: &Location,
    key: &str,
    path: &str,
    input: &mut dyn Read,
) -> Result<(), EngineError> {
    let store = ctx.store()?;
    let c = find(&store, key)?;
    let root = open_root(&store, &c, Access::Write)?;
    let opts = ApplyOptions {
        whiteouts: Whiteouts::Apply,
        allow_devices: false,
        ..ctx.apply_options()
    };
    let src = match src {
        Location::Stream => {
            let into = resolve(&root, path, true)?;
            apply_layer(input, &fd_path(&into), &opts)?;
            return Ok(());
        }
        Location::Host(p) => p,
        Location::Container { .. } => return Err(FsError::BothContainers.into()),
    };
    let shown = src.to_string_lossy();
    let sp = split_src(&shown)?;
    let host_dir = rustix::fs::open(
        Path::new(&sp.dir),
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| host_err("open", Path::new(&sp.dir), e.into()))?;
    let (dir, name, is_dir) = open_src(host_dir, &sp, &shown)?;
    let state = match resolve(&root, path, false) {
        Ok(fd) => match rustix::fs::fstat(&fd) {
            Ok(st) if FileType::from_raw_mode(st.st_mode) == FileType::Directory => DestState::Dir,
            _ => DestState::File,
        },
        Err(FsError::NotFound(_)) => DestState::Missing,
        Err(e) => return Err(e.into()),
    };
    let (into, top) = plan_dest(&sp, is_dir, path, state)?;
    let into_fd = resolve(&root, &into, true)?;
    let mut tmp = temp_file()?;
    write_src(&mut tmp, &dir, &name, &top, &shown, None)?;
    tmp.rewind().map_err(|e| host_err("read", src, e))?;
    apply_layer(io::BufReader::new(tmp), &fd_path(&into_fd), &opts)?;
    Ok(())
}

fn host_err(op: &'static str, path: &Path, source: io::Error) -> EngineError {
    FsError::Host {
        op,
        path: path.to_path_buf(),
        source,
    }
    .into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations() {
        assert_eq!(Location::parse("-"), Location::Stream);
        assert_eq!(
            Location::parse("c1:/etc/x"),
            Location::Container {
                key: "c1".into(),
                path: "/etc/x".into()
            }
        );
        assert_eq!(
            Location::parse("c1:etc"),
            Location::Container {
                key: "c1".into(),
                path: "/etc".into()
            }
        );
        for host in ["./c1:x", "/tmp/a:b", "dir/c1:x", "plain", ":x"] {
            assert_eq!(Location::parse(host), Location::Host(host.into()), "{host}");
        }
    }

    #[test]
    fn source_paths() {
        let s = split_src("/etc/passwd").unwrap();
        assert_eq!(
            (s.dir.as_str(), s.name.as_str(), s.contents),
            ("/etc", "passwd", false)
        );
        let s = split_src("/etc/").unwrap();
        assert_eq!(
            (s.dir.as_str(), s.name.as_str(), s.contents),
            ("/", "etc", false)
        );
        let s = split_src("/etc/.").unwrap();
        assert_eq!(
            (s.dir.as_str(), s.name.as_str(), s.contents),
            ("/etc", ".", true)
        );
        let s = split_src("/").unwrap();
        assert!(s.contents);
        let s = split_src("file").unwrap();
        assert_eq!((s.dir.as_str(), s.name.as_str()), (".", "file"));
        let s = split_src(".").unwrap();
        assert_eq!((s.dir.as_str(), s.contents), (".", true));
        assert!(split_src("/a/..").is_err());
    }

    #[test]
    fn destination_rules() {
        let dir = split_src("/src/d").unwrap();
        let contents = split_src("/src/d/.").unwrap();
        let file = split_src("/src/f").unwrap();
        type Case<'a> = (
            &'a SrcPath,
            bool,
            &'a str,
            DestState,
            Option<(&'a str, Top)>,
        );
        let cases: Vec<Case> = vec![
            // A directory into an existing directory lands under its own name...
            (
                &dir,
                true,
                "/out",
                DestState::Dir,
                Some(("/out", Top::Named("d".into()))),
            ),
            // ...and `SRC/.` copies its contents.
            (
                &contents,
                true,
                "/out",
                DestState::Dir,
                Some(("/out", Top::Children)),
            ),
            // A missing destination becomes the copy, whatever the source.
            (
                &dir,
                true,
                "/out/new",
                DestState::Missing,
                Some(("/out", Top::Named("new".into()))),
            ),
            (
                &contents,
                true,
                "new",
                DestState::Missing,
                Some((".", Top::Named("new".into()))),
            ),
            (
                &file,
                false,
                "/x/f2",
                DestState::Missing,
                Some(("/x", Top::Named("f2".into()))),
            ),
            // A file replaces a file, or goes into a directory.
            (
                &file,
                false,
                "/x/old",
                DestState::File,
                Some(("/x", Top::Named("old".into()))),
            ),
            (
                &file,
                false,
                "/x",
                DestState::Dir,
                Some(("/x", Top::Named("f".into()))),
            ),
            // Errors: a directory onto a file, a file into a missing directory.
            (&dir, true, "/x/old", DestState::File, None),
            (&file, false, "/nodir/", DestState::Missing, None),
        ];
        for (src, is_dir, dest, state, want) in cases {
            let got = plan_dest(src, is_dir, dest, state).ok();
            let want = want.map(|(d, t)| (d.to_string(), t));
            assert_eq!(got, want, "{src:?} -> {dest} ({state:?})");
        }
    }
}
