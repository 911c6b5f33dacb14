//! Tests across the archive module: round trips, whiteouts, hostile layers.
//!
//! Tar inputs are built in memory; hostile names the `tar` builder refuses are written into
//! raw headers.

mod bench;
mod hostile;
mod roundtrip;
mod whiteouts;

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

use tar::{Builder, EntryType, Header};

use super::{ApplyOptions, ApplyReport, ArchiveError, Ownership, Whiteouts, apply_layer};

pub(super) fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

/// Options for tests: chown when we can, otherwise the xattr fallback.
pub(super) fn opts(whiteouts: Whiteouts) -> ApplyOptions {
    ApplyOptions {
        ownership: if is_root() {
            Ownership::Chown
        } else {
            Ownership::Xattr
        },
        whiteouts,
        allow_devices: false,
    }
}

pub(super) fn apply(
    tar: &[u8],
    dest: &Path,
    opts: ApplyOptions,
) -> Result<ApplyReport, ArchiveError> {
    apply_layer(tar, dest, &opts)
}

/// A tar built with `f`.
pub(super) fn tar_of(f: impl FnOnce(&mut Builder<Vec<u8>>)) -> Vec<u8> {
    let mut b = Builder::new(Vec::new());
    f(&mut b);
    b.into_inner().expect("finishing an in-memory tar")
}

fn base_header(ty: EntryType, mode: u32, size: u64) -> Header {
    let mut h = Header::new_gnu();
    h.set_entry_type(ty);
    h.set_mode(mode);
    h.set_size(size);
    h.set_mtime(1_600_000_000);
    h.set_uid(0);
    h.set_gid(0);
    h
}

/// Append an entry through the builder's normal (validating) path.
pub(super) fn add(b: &mut Builder<Vec<u8>>, ty: EntryType, path: &str, mode: u32, data: &[u8]) {
    let mut h = base_header(ty, mode, data.len() as u64);
    b.append_data(&mut h, path, data)
        .expect("appending an entry");
}

pub(super) fn add_link(b: &mut Builder<Vec<u8>>, ty: EntryType, path: &str, target: &str) {
    let mut h = base_header(ty, 0o777, 0);
    b.append_link(&mut h, path, target)
        .expect("appending a link");
}

/// Append an entry with `name` and `link` copied verbatim into the header fields.
pub(super) fn add_raw(
    b: &mut Builder<Vec<u8>>,
    ty: EntryType,
    name: &[u8],
    link: &[u8],
    data: &[u8],
) {
    let mode = if ty == EntryType::Directory {
        0o755
    } else {
        0o644
    };
    let mut h = base_header(ty, mode, data.len() as u64);
    let old = h.as_old_mut();
    old.name = [0; 100];
    old.name[..name.len()].copy_from_slice(name);
    old.linkname = [0; 100];
    old.linkname[..link.len()].copy_from_slice(link);
    h.set_cksum();
    b.append(&h, data).expect("appending a raw entry");
}

/// One node of a tree snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Node {
    pub(super) kind: String,
    pub(super) mode: u32,
    pub(super) uid: u32,
    pub(super) gid: u32,
    pub(super) mtime: i64,
    /// File content or symlink target.
    pub(super) data: Vec<u8>,
    pub(super) xattrs: Vec<(String, Vec<u8>)>,
    /// For files with several links: the first path (sorted) sharing the inode.
    pub(super) link_group: Option<String>,
}

/// Everything below `dir` (not `dir` itself), keyed by relative path.
pub(super) fn snapshot(dir: &Path) -> BTreeMap<String, Node> {
    let mut out = BTreeMap::new();
    let mut inodes: BTreeMap<u64, String> = BTreeMap::new();
    walk(dir, dir, &mut out, &mut inodes);
    out
}

fn walk(
    root: &Path,
    dir: &Path,
    out: &mut BTreeMap<String, Node>,
    inodes: &mut BTreeMap<u64, String>,
) {
    let mut names: Vec<_> = fs::read_dir(dir)
        .expect("read_dir")
        .map(|e| e.expect("dir entry").file_name())
        .collect();
    names.sort();
    for name in names {
        let path = dir.join(&name);
        let rel = path
            .strip_prefix(root)
            .expect("below root")
            .display()
            .to_string();
        let md = fs::symlink_metadata(&path).expect("lstat");
        let ft = md.file_type();
        let (kind, data) = if ft.is_dir() {
            ("dir", Vec::new())
        } else if ft.is_symlink() {
            let t = fs::read_link(&path).expect("readlink");
            ("symlink", t.into_os_string().into_encoded_bytes())
        } else if ft.is_file() {
            ("file", fs::read(&path).expect("read"))
        } else if ft.is_fifo() {
            ("fifo", Vec::new())
        } else if ft.is_char_device() {
            ("char", md.rdev().to_le_bytes().to_vec())
        } else {
            ("other", Vec::new())
        };
        let link_group = (ft.is_file() && md.nlink() > 1).then(|| {
            inodes
                .entry(md.ino())
                .or_insert_with(|| rel.clone())
                .clone()
        });
        let xattrs = user_xattrs(&path);
        let (uid, gid, mode) = override_or_stat(&md, &xattrs);
        out.insert(
            rel.clone(),
            Node {
                kind: kind.into(),
                mode: if ft.is_symlink() { 0 } else { mode },
                uid,
                gid,
                mtime: md.mtime(),
                data,
                xattrs: xattrs
                    .into_iter()
                    .filter(|(k, _)| k != super::OVERRIDE_STAT_XATTR)
                    .collect(),
                link_group,
            },
        );
        if ft.is_dir() {
            walk(root, &path, out, inodes);
        }
    }
}

fn override_or_stat(md: &fs::Metadata, xattrs: &[(String, Vec<u8>)]) -> (u32, u32, u32) {
    xattrs
        .iter()
        .find(|(k, _)| k == super::OVERRIDE_STAT_XATTR)
        .and_then(|(_, v)| super::metadata::parse_override(v))
        .unwrap_or((md.uid(), md.gid(), md.mode() & 0o7777))
}

pub(super) fn user_xattrs(path: &Path) -> Vec<(String, Vec<u8>)> {
    let mut buf = vec![0u8; 4096];
    let Ok(n) = rustix::fs::llistxattr(path, &mut buf[..]) else {
        return Vec::new();
    };
    let names: Vec<String> = buf[..n]
        .split(|&b| b == 0)
        .filter(|s| s.starts_with(b"user."))
        .map(|s| String::from_utf8_lossy(s).into_owned())
        .collect();
    let mut out = Vec::new();
    for name in names {
        let mut v = vec![0u8; 4096];
        if let Ok(n) = rustix::fs::lgetxattr(path, name.as_str(), &mut v[..]) {
            v.truncate(n);
            out.push((name, v));
        }
    }
    out.sort();
    out
}

/// Whether this filesystem takes `user.*` xattrs (tmpfs before 6.6 and some CI disks don't).
pub(super) fn user_xattrs_supported(dir: &Path) -> bool {
    let probe = dir.join(".xattr-probe");
    fs::write(&probe, b"").expect("write probe");
    let ok =
        rustix::fs::setxattr(&probe, "user.probe", b"1", rustix::fs::XattrFlags::empty()).is_ok();
    fs::remove_file(&probe).expect("remove probe");
    ok
}
