//! `cp`: copy files between a container and the host, between two containers, or from/to a tar stream,
//! with podman's path rules.
//!
//! Both ends are first resolved into podman's "file info": a container path is taken from the
//! container's working directory when relative and resolved inside the container, its last symlink
//! followed too ([`CtrFs`]); a host path is taken as the host shows it. Then podman's rules plan the
//! copy: what goes into the tar (an item under its own or the destination's name, or a directory's
//! contents for `SRC/.`) and which directory it is unpacked in. The tar travels through a temporary
//! file: out of a container it is written by walking fds ([`TreeWriter`], never following a symlink),
//! into one it is unpacked by [`apply_layer`], which resolves every parent beneath the destination
//! without following symlinks. A stopped container is written through a detached overlay mount of its
//! storage (the kernel does the copy-up) and through its volumes' and bind mounts' directories.
use std::io::{self, Read, Seek, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};

use rustix::fs::{AtFlags, FileType, Mode, OFlags};

use super::cp_fs::{CtrFs, Kind, clean, preserve_base};
use super::find;
use super::view::{Access, FsError, fd_path};
use crate::archive::{ApplyOptions, IdMap, TreeWriter, Whiteouts, apply_layer, open_nofollow};
use crate::engine::{Ctx, EngineError};

/// One side of a copy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// `CONTAINER:PATH` (PATH as given: relative paths are from the container's working directory).
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
            return Location::Container {
                key: key.to_string(),
                path: path.to_string(),
            };
        }
        Location::Host(PathBuf::from(arg))
    }
}

#[derive(Debug, Clone)]
pub struct CopyOptions {
    pub src: Location,
    pub dest: Location,
    /// `--archive` (podman's default): files copied into a container belong to its user.
    pub chown: bool,
    /// `--overwrite`: a directory may replace a non-directory and the other way round.
    pub overwrite: bool,
}

/// What a path names, after resolution (podman's `FileInfo`).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Info {
    is_dir: bool,
    regular: bool,
    /// Absolute, resolved, with the user's `/` or `/.` ending kept.
    target: String,
    /// Absolute, resolved and clean: the path to open.
    real: String,
}

/// The destination of a copy.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Dest {
    /// The destination, or its parent directory when it does not exist yet.
    info: Info,
    /// The name the destination has (or will have).
    base: String,
    /// The destination does not exist: `info` is its parent, and the copy takes its name.
    to_parent: bool,
}

/// What is copied where.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Plan {
    /// The source item (clean path).
    item: String,
    /// Copy the directory's entries rather than the directory.
    contents: bool,
    /// The item's name in the tar.
    name: String,
    /// The directory the tar is unpacked in (clean path).
    dest_dir: String,
}

fn basename(path: &str) -> String {
    let p = clean(path);
    p.rsplit('/').next().unwrap_or_default().to_string()
}

fn dirname(path: &str) -> String {
    let p = clean(path);
    match p.rsplit_once('/') {
        Some(("", _)) | None => "/".into(),
        Some((d, _)) => d.to_string(),
    }
}

/// podman's rules: a directory goes only into a directory; a source ending in `/.` is its contents,
/// except into a new destination, which becomes a copy of the directory; a file onto a file, and
/// anything into a new destination, takes the destination's name.
fn plan(src: &Info, dest: &Dest) -> Result<Plan, FsError> {
    if src.is_dir && !dest.info.is_dir {
        return Err(FsError::DirToNonDir);
    }
    let mut target = src.target.clone();
    if dest.to_parent && src.is_dir && target.ends_with("/.") {
        target.truncate(target.len() - 2);
    }
    let contents = src.is_dir && target.ends_with("/.");
    let item = clean(&target);
    let rename = (!src.is_dir && !dest.info.is_dir) || dest.to_parent;
    let name = if rename {
        dest.base.clone()
    } else {
        basename(&item)
    };
    let dest_dir = if dest.info.is_dir {
        dest.info.real.clone()
    } else {
        dirname(&dest.info.real)
    };
    Ok(Plan {
        item,
        contents,
        name,
        dest_dir,
    })
}

/// A container path resolved in `fs`: Ok(info), or Err(where it would be) when nothing is there. Paths
/// with `*` name nothing (podman does not expand globs).
fn ctr_info(fs: &CtrFs, path: &str) -> Result<Result<Info, String>, FsError> {
    let path = if path == "/" { "/." } else { path };
    let abs = if path.starts_with('/') {
        path.to_string()
    } else {
        format!("{}/{path}", fs.workdir())
    };
    if path.contains('*') {
        return Ok(Err(preserve_base(path, &clean(&abs))));
    }
    let r = fs.resolve(&clean(&abs))?;
    let target = preserve_base(path, &r.path);
    Ok(match r.kind {
        Some(k) => Ok(Info {
            is_dir: k == Kind::Dir,
            regular: k == Kind::Regular,
            target,
            real: r.path,
        }),
        None => Err(target),
    })
}

/// The source in a container, which must exist.
fn ctr_src(fs: &CtrFs, path: &str) -> Result<Info, FsError> {
    ctr_info(fs, path)?.map_err(|_| FsError::NotInContainer {
        path: path.to_string(),
        container: fs.shown.clone(),
    })
}

/// The destination in a container: an existing path, or a new name in an existing directory.
fn ctr_dest(fs: &CtrFs, path: &str, stdin: bool) -> Result<Dest, FsError> {
    let missing = || FsError::NotInContainer {
        path: path.to_string(),
        container: fs.shown.clone(),
    };
    let would_be = match ctr_info(fs, path)? {
        Ok(info) => {
            return Ok(Dest {
                base: basename(&info.real),
                info,
                to_parent: false,
            });
        }
        Err(_) if path.ends_with('/') => return Err(missing()),
        Err(_) if stdin => return Err(FsError::StdinToNonDir),
        Err(would_be) => would_be,
    };
    match ctr_info(fs, &dirname(&would_be))? {
        Ok(info) => Ok(Dest {
            info,
            base: basename(&would_be),
            to_parent: true,
        }),
        Err(_) => Err(missing()),
    }
}

/// A host path as the host shows it (symlinks followed); None when nothing is there.
fn host_info(path: &Path) -> Result<Option<Info>, EngineError> {
    let shown = path.to_string_lossy();
    let abs = if path.is_absolute() {
        shown.to_string()
    } else {
        let cwd = std::env::current_dir().map_err(|e| host_err("read", Path::new("."), e))?;
        format!("{}/{shown}", cwd.display())
    };
    let real = clean(&abs);
    let target = preserve_base(&shown, &real);
    match std::fs::metadata(&target) {
        Ok(m) => Ok(Some(Info {
            is_dir: m.is_dir(),
            regular: m.is_file(),
            target,
            real,
        })),
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::NotFound | io::ErrorKind::NotADirectory
            ) =>
        {
            Ok(None)
        }
        Err(e) => Err(host_err("stat", path, e)),
    }
}

/// The destination on the host: an existing directory or regular file, or a new name in a directory.
fn host_dest(path: &Path) -> Result<Dest, EngineError> {
    let shown = path.to_string_lossy().to_string();
    let dest = match host_info(path)? {
        Some(info) => Dest {
            base: basename(&info.real),
            info,
            to_parent: false,
        },
        None if shown.ends_with('/') => return Err(FsError::NotOnHost(shown).into()),
        None => {
            let abs = path_abs(path)?;
            let parent = host_info(Path::new(&dirname(&abs)))?
                .ok_or_else(|| FsError::NotOnHost(shown.clone()))?;
            Dest {
                info: parent,
                base: basename(&abs),
                to_parent: true,
            }
        }
    };
    if !dest.info.is_dir && !dest.info.regular {
        return Err(FsError::InvalidDestination(dest.info.target).into());
    }
    Ok(dest)
}

fn path_abs(path: &Path) -> Result<String, EngineError> {
    let p = std::path::absolute(path).map_err(|e| host_err("resolve", path, e))?;
    Ok(clean(&p.to_string_lossy()))
}

/// `cp SRC DEST`.
pub fn copy(
    ctx: &Ctx,
    opts: &CopyOptions,
    input: &mut dyn Read,
    output: &mut dyn Write,
) -> Result<(), EngineError> {
    match (&opts.src, &opts.dest) {
        (Location::Container { key, path }, Location::Stream) => to_stream(ctx, key, path, output),
        (Location::Container { key, path }, Location::Host(dest)) => {
            to_host(ctx, key, path, dest, opts)
        }
        (Location::Container { key, path }, Location::Container { key: k2, path: p2 }) => {
            between(ctx, (key, path), (k2, p2), opts)
        }
        (Location::Stream, Location::Container { key, path }) => {
            from_stream(ctx, input, key, path, opts)
        }
        (Location::Host(src), Location::Container { key, path }) => {
            from_host(ctx, src, key, path, opts)
        }
        _ => Err(FsError::NoContainer.into()),
    }
}

fn open_ctr(ctx: &Ctx, key: &str, access: Access) -> Result<CtrFs, EngineError> {
    let store = ctx
        .store_if_exists()?
        .ok_or_else(|| EngineError::NoSuchContainer(key.to_string()))?;
    let c = find(&store, key)?;
    Ok(CtrFs::open(&store, c, key, access)?)
}

/// `cp CONTAINER:SRC -`: a tar of the source, named as in the container.
fn to_stream(ctx: &Ctx, key: &str, path: &str, output: &mut dyn Write) -> Result<(), EngineError> {
    let fs = open_ctr(ctx, key, Access::Read)?;
    let src = ctr_src(&fs, path)?;
    let item = clean(&src.target);
    let contents = src.is_dir && src.target.ends_with("/.");
    let (dir, name) = fs.item(&item)?;
    let ids = super::rootfs::container_ids(&fs.container);
    write_item(output, &dir, &name, contents, &basename(&item), ids)
}

fn to_host(
    ctx: &Ctx,
    key: &str,
    path: &str,
    dest: &Path,
    opts: &CopyOptions,
) -> Result<(), EngineError> {
    let fs = open_ctr(ctx, key, Access::Read)?;
    let src = ctr_src(&fs, path)?;
    let dest = host_dest(dest)?;
    let plan = plan(&src, &dest)?;
    let mut tmp = temp_file()?;
    let (dir, name) = fs.item(&plan.item)?;
    write_item(&mut tmp, &dir, &name, plan.contents, &plan.name, None)?;
    drop(fs);
    put_host(Path::new(&plan.dest_dir), tmp, opts.overwrite)
}

fn from_host(
    ctx: &Ctx,
    src: &Path,
    key: &str,
    path: &str,
    opts: &CopyOptions,
) -> Result<(), EngineError> {
    let info =
        host_info(src)?.ok_or_else(|| FsError::NotOnHost(src.to_string_lossy().into_owned()))?;
    let fs = open_ctr(ctx, key, Access::Write)?;
    let dest = ctr_dest(&fs, path, false)?;
    let plan = plan(&info, &dest)?;
    let mut tmp = temp_file()?;
    let (dir, name) = host_item(&plan.item)?;
    let ids = owners(&fs, opts.chown, None);
    write_item(&mut tmp, &dir, &name, plan.contents, &plan.name, ids)?;
    put_ctr(ctx, &fs, &plan.dest_dir, tmp, opts.overwrite)
}

fn between(
    ctx: &Ctx,
    (src_key, src_path): (&str, &str),
    (dest_key, dest_path): (&str, &str),
    opts: &CopyOptions,
) -> Result<(), EngineError> {
    let src_fs = open_ctr(ctx, src_key, Access::Read)?;
    let src = ctr_src(&src_fs, src_path)?;
    let dest_fs = open_ctr(ctx, dest_key, Access::Write)?;
    let dest = ctr_dest(&dest_fs, dest_path, false)?;
    let plan = plan(&src, &dest)?;
    let mut tmp = temp_file()?;
    let (dir, name) = src_fs.item(&plan.item)?;
    let read_ids =
        super::rootfs::container_ids(&src_fs.container).unwrap_or_else(|| Box::new(|u, g| (u, g)));
    let ids = owners(&dest_fs, opts.chown, Some(read_ids));
    write_item(&mut tmp, &dir, &name, plan.contents, &plan.name, ids)?;
    drop((dir, src_fs));
    put_ctr(ctx, &dest_fs, &plan.dest_dir, tmp, opts.overwrite)
}

/// `cp - CONTAINER:DIR`: a (compressed) tar from stdin, unpacked in an existing directory.
fn from_stream(
    ctx: &Ctx,
    input: &mut dyn Read,
    key: &str,
    path: &str,
    opts: &CopyOptions,
) -> Result<(), EngineError> {
    let fs = open_ctr(ctx, key, Access::Write)?;
    let dest = ctr_dest(&fs, path, true)?;
    if !dest.info.is_dir {
        return Err(FsError::StdinToNonDir.into());
    }
    let mut raw = temp_file()?;
    io::copy(input, &mut raw).map_err(|e| host_err("read", Path::new("stdin"), e))?;
    raw.rewind()
        .map_err(|e| host_err("read", Path::new("stdin"), e))?;
    let (_, plain) =
        crate::archive::decompress(raw).map_err(|e| host_err("read", Path::new("stdin"), e))?;
    let mut tmp = temp_file()?;
    let ids = owners(&fs, opts.chown, Some(Box::new(|u, g| (u, g))));
    retar(plain, &mut tmp, ids.as_ref())?;
    put_ctr(ctx, &fs, &dest.info.real, tmp, opts.overwrite)
}

/// How the owners of files copied into `fs` are written: with `chown`, all belong to the container's
/// user; else to what `from` makes of their owners as read (container ids), or as they are (None).
/// Container ids become the ids of roost's namespace that the container shows as them.
fn owners(fs: &CtrFs, chown: bool, from: Option<IdMap>) -> Option<IdMap> {
    let maps = fs.container.spec.id_maps.clone();
    let outer = move |u, g| maps.as_ref().map_or((u, g), |m| m.to_outer(u, g));
    if chown {
        let (u, g) = outer(fs.container.spec.uid, fs.container.spec.gid);
        return Some(Box::new(move |_, _| (u, g)));
    }
    let from = from?;
    Some(Box::new(move |u, g| {
        let (u, g) = from(u, g);
        outer(u, g)
    }))
}

/// Copy a tar from `input` to `out` with owners through `ids`; a stream that is not a tar with at least
/// one entry is refused.
fn retar(
    input: impl Read,
    out: &mut std::fs::File,
    ids: Option<&IdMap>,
) -> Result<(), EngineError> {
    let mut archive = tar::Archive::new(input);
    let entries = archive.entries().map_err(|_| FsError::NotATar)?;
    let mut builder = tar::Builder::new(out);
    let mut seen = 0;
    for entry in entries {
        let mut entry = entry.map_err(|_| FsError::NotATar)?;
        seen += 1;
        let mut h = entry.header().clone();
        if let Some(f) = ids {
            let id = |n: io::Result<u64>| n.ok().and_then(|n| u32::try_from(n).ok()).unwrap_or(0);
            let (u, g) = f(id(h.uid()), id(h.gid()));
            h.set_uid(u.into());
            h.set_gid(g.into());
        }
        let path = entry.path().map_err(|_| FsError::NotATar)?.into_owned();
        let link = entry.link_name().map_err(|_| FsError::NotATar)?;
        let written = match link {
            Some(target) => {
                let target = target.into_owned();
                builder.append_link(&mut h, &path, target)
            }
            None => builder.append_data(&mut h, &path, &mut entry),
        };
        written.map_err(|e| host_err("write", Path::new("a temporary file"), e))?;
    }
    if seen == 0 {
        return Err(FsError::NotATar.into());
    }
    builder
        .into_inner()
        .map_err(|e| host_err("write", Path::new("a temporary file"), e))?;
    Ok(())
}

/// The host item at clean `path` as (directory fd, name), its symlinks followed.
fn host_item(path: &str) -> Result<(OwnedFd, Vec<u8>), EngineError> {
    let real = std::fs::canonicalize(path).map_err(|e| host_err("resolve", Path::new(path), e))?;
    let (dir, name) = match (real.parent(), real.file_name()) {
        (Some(d), Some(n)) => (d.to_path_buf(), n.to_string_lossy().as_bytes().to_vec()),
        _ => (real.clone(), b".".to_vec()),
    };
    let fd = rustix::fs::open(
        &dir,
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| host_err("open", &dir, e.into()))?;
    Ok((fd, name))
}

/// Write `name` in `dir` as a tar: as `tar_name` (with everything below it), or with `contents` the
/// entries of the directory at the top.
fn write_item(
    out: impl Write,
    dir: &OwnedFd,
    name: &[u8],
    contents: bool,
    tar_name: &str,
    ids: Option<IdMap>,
) -> Result<(), EngineError> {
    let mut tar = TreeWriter::new(out).with_ids(ids);
    if contents {
        let fd =
            open_nofollow(dir.as_fd(), name, OFlags::PATH | OFlags::DIRECTORY).map_err(|e| {
                FsError::Inside {
                    op: "open",
                    path: tar_name.to_string(),
                    source: e,
                }
            })?;
        tar.append_children(fd.as_fd(), b"")?;
    } else {
        tar.append_at(dir.as_fd(), name, tar_name.as_bytes())?;
    }
    tar.finish()?;
    Ok(())
}

/// Unpack the tar in `tmp` in directory `dir` of container `fs`.
fn put_ctr(
    ctx: &Ctx,
    fs: &CtrFs,
    dir: &str,
    mut tmp: std::fs::File,
    overwrite: bool,
) -> Result<(), EngineError> {
    let fd = fs.open_dir(dir)?;
    let shown = |n: &str| format!("{}/{n}", dir.trim_end_matches('/'));
    // Also rewinds the tar for the unpacking below.
    let conflicts = in_the_way(&fd, &mut tmp)?;
    if !overwrite && let Some((n, existing, incoming)) = conflicts.into_iter().next() {
        return Err(in_the_way_err(shown(&n), existing, incoming));
    }
    let opts = ApplyOptions {
        whiteouts: Whiteouts::Apply,
        allow_devices: false,
        ..ctx.apply_options()
    };
    apply_layer(io::BufReader::new(tmp), &fd_path(&fd), &opts)?;
    Ok(())
}

/// Unpack the tar in `tmp` in host directory `dir` (owned by the user running roost).
fn put_host(dir: &Path, mut tmp: std::fs::File, overwrite: bool) -> Result<(), EngineError> {
    let fd = rustix::fs::open(
        dir,
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| host_err("open", dir, e.into()))?;
    for (name, existing, incoming) in in_the_way(&fd, &mut tmp)? {
        if !overwrite {
            return Err(in_the_way_err(format!("/{name}"), existing, incoming));
        }
        let p = dir.join(&name);
        let removed = if existing {
            std::fs::remove_dir_all(&p)
        } else {
            std::fs::remove_file(&p)
        };
        removed.map_err(|e| host_err("remove", &p, e))?;
    }
    let mut archive = tar::Archive::new(io::BufReader::new(tmp));
    archive.set_preserve_permissions(true);
    archive.set_preserve_mtime(true);
    archive.set_overwrite(true);
    archive
        .unpack(dir)
        .map_err(|e| host_err("copy into", dir, e))?;
    Ok(())
}

fn in_the_way_err(path: String, existing_dir: bool, _incoming_dir: bool) -> EngineError {
    let (existing, incoming) = if existing_dir {
        ("directory", "non-directory")
    } else {
        ("non-directory", "directory")
    };
    FsError::InTheWay {
        path,
        existing,
        incoming,
    }
    .into()
}

/// The top-level names of the tar in `tmp` that would replace a directory in `dir` with a
/// non-directory or the other way round: (name, existing is a directory, incoming is a directory).
/// Leaves `tmp` rewound.
fn in_the_way(
    dir: &OwnedFd,
    tmp: &mut std::fs::File,
) -> Result<Vec<(String, bool, bool)>, EngineError> {
    let read = |e| host_err("read", Path::new("a temporary file"), e);
    tmp.rewind().map_err(read)?;
    let mut found = Vec::new();
    {
        let mut archive = tar::Archive::new(io::BufReader::new(&mut *tmp));
        for entry in archive.entries().map_err(read)? {
            let entry = entry.map_err(read)?;
            let path = entry.path().map_err(read)?.to_string_lossy().into_owned();
            let name = path.trim_start_matches("./").trim_end_matches('/');
            if name.is_empty() || name.contains('/') {
                continue;
            }
            let incoming = entry.header().entry_type() == tar::EntryType::Directory;
            let Ok(st) = rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW) else {
                continue;
            };
            let existing = FileType::from_raw_mode(st.st_mode) == FileType::Directory;
            if existing != incoming {
                found.push((name.to_string(), existing, incoming));
            }
        }
    }
    tmp.rewind().map_err(read)?;
    Ok(found)
}

fn temp_file() -> Result<std::fs::File, EngineError> {
    let dir = std::env::temp_dir();
    tempfile::tempfile().map_err(|e| EngineError::io("create a temporary file in", dir, e))
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
                path: "etc".into()
            }
        );
        for host in ["./c1:x", "/tmp/a:b", "dir/c1:x", "plain", ":x"] {
            assert_eq!(Location::parse(host), Location::Host(host.into()), "{host}");
        }
    }

    fn info(is_dir: bool, target: &str) -> Info {
        Info {
            is_dir,
            regular: !is_dir,
            target: target.into(),
            real: clean(target),
        }
    }

    fn dest(is_dir: bool, target: &str, base: &str, to_parent: bool) -> Dest {
        Dest {
            info: info(is_dir, target),
            base: base.into(),
            to_parent,
        }
    }

    #[test]
    fn podman_plans() {
        let p = |src: &Info, d: &Dest| {
            plan(src, d)
                .ok()
                .map(|p| (p.item, p.contents, p.name, p.dest_dir))
        };
        let s = |a: &str, b: bool, c: &str, d: &str| Some((a.into(), b, c.into(), d.into()));
        // A directory into an existing directory keeps its name; `/.` copies its entries.
        let out = dest(true, "/out", "out", false);
        assert_eq!(
            p(&info(true, "/src/d"), &out),
            s("/src/d", false, "d", "/out")
        );
        assert_eq!(
            p(&info(true, "/src/d/."), &out),
            s("/src/d", true, "d", "/out")
        );
        // Into a new destination, `/.` or not, the directory becomes the destination.
        let new = dest(true, "/out", "new", true);
        assert_eq!(
            p(&info(true, "/src/d/."), &new),
            s("/src/d", false, "new", "/out")
        );
        assert_eq!(
            p(&info(true, "/src/d"), &new),
            s("/src/d", false, "new", "/out")
        );
        // A file onto a file takes its name; into a directory it keeps its own.
        let file = dest(false, "/x/old", "old", false);
        assert_eq!(
            p(&info(false, "/src/f"), &file),
            s("/src/f", false, "old", "/x")
        );
        assert_eq!(
            p(&info(false, "/src/f"), &out),
            s("/src/f", false, "f", "/out")
        );
        // A directory onto a file is refused.
        assert_eq!(p(&info(true, "/src/d"), &file), None);
    }

    #[test]
    fn names() {
        assert_eq!(basename("/a/b/"), "b");
        assert_eq!(basename("/a/b/."), "b");
        assert_eq!(dirname("/a/b"), "/a");
        assert_eq!(dirname("/a"), "/");
    }
}
