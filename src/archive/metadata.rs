//! File metadata of an entry (owner, mode, mtime, xattrs): read from tar headers, applied to
//! files, and the `user.containers.override_stat` format.

use std::io;
use std::os::fd::BorrowedFd;

use rustix::fs::{AtFlags, Gid, Mode, Timespec, Timestamps, Uid, XattrFlags};
use rustix::io::Errno;

use super::{OPAQUE_XATTR, OVERRIDE_STAT_XATTR, Ownership};

/// Owner, mode, mtime and xattrs of one tar entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Meta {
    pub(super) uid: u32,
    pub(super) gid: u32,
    /// Permission bits including setuid/setgid/sticky.
    pub(super) mode: u32,
    pub(super) mtime: Timespec,
    pub(super) xattrs: Vec<(String, Vec<u8>)>,
}

/// The file type named in the override xattr.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    File,
    Dir,
}

impl Meta {
    /// Metadata from a ustar/GNU header, overridden by PAX `uid`, `gid`, `mtime` and
    /// `SCHILY.xattr.*` records.
    pub(super) fn from_entry<R: io::Read>(entry: &mut tar::Entry<'_, R>) -> io::Result<Self> {
        // Blank numeric fields (written by some tools) read as 0, as in Go's archive/tar.
        let h = entry.header();
        let mut meta = Self {
            uid: h.uid().map_or(0, clamp_id),
            gid: h.gid().map_or(0, clamp_id),
            mode: h.mode().unwrap_or(0) & 0o7777,
            mtime: Timespec {
                tv_sec: h
                    .mtime()
                    .map_or(0, |t| i64::try_from(t).unwrap_or(i64::MAX)),
                tv_nsec: 0,
            },
            xattrs: Vec::new(),
        };
        let Some(pax) = entry.pax_extensions()? else {
            return Ok(meta);
        };
        for ext in pax {
            let ext = ext?;
            let Ok(key) = ext.key() else { continue };
            let value = ext.value_bytes();
            match key {
                "uid" => meta.uid = parse_decimal(value).map_or(meta.uid, clamp_id),
                "gid" => meta.gid = parse_decimal(value).map_or(meta.gid, clamp_id),
                "mtime" => meta.mtime = parse_pax_time(value).unwrap_or(meta.mtime),
                _ => {
                    if let Some(name) = key.strip_prefix("SCHILY.xattr.") {
                        meta.xattrs.push((name.to_owned(), value.to_vec()));
                    }
                }
            }
        }
        Ok(meta)
    }

    pub(super) fn timestamps(&self) -> Timestamps {
        Timestamps {
            last_access: self.mtime,
            last_modification: self.mtime,
        }
    }
}

fn clamp_id(id: u64) -> u32 {
    u32::try_from(id).unwrap_or(u32::MAX)
}

fn parse_decimal(v: &[u8]) -> Option<u64> {
    std::str::from_utf8(v).ok()?.trim().parse().ok()
}

/// PAX times are decimal seconds with an optional fraction, e.g. `1700000000.123456789`.
fn parse_pax_time(v: &[u8]) -> Option<Timespec> {
    let s = std::str::from_utf8(v).ok()?.trim();
    let (secs, frac) = s.split_once('.').unwrap_or((s, ""));
    let tv_sec: i64 = secs.parse().ok()?;
    let digits: String = frac.chars().take(9).collect();
    if !digits.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let tv_nsec = if digits.is_empty() {
        0
    } else {
        format!("{digits:0<9}").parse().ok()?
    };
    // A negative time with a fraction means seconds + fraction below zero, e.g. -1.5.
    if tv_sec < 0 || secs.starts_with('-') {
        let neg = tv_nsec != 0;
        return Some(Timespec {
            tv_sec: tv_sec - i64::from(neg),
            tv_nsec: if neg { 1_000_000_000 - tv_nsec } else { 0 },
        });
    }
    Some(Timespec { tv_sec, tv_nsec })
}

/// Whether an xattr from a layer is kept: `user.*` and `security.capability`, except the names
/// that carry overlay or ownership metadata we produce ourselves.
pub(super) fn keep_xattr(name: &str) -> bool {
    if name == "security.capability" {
        return true;
    }
    name.starts_with("user.")
        && !name.starts_with("user.overlay.")
        && !name.starts_with("user.fuseoverlayfs.")
        && name != OVERRIDE_STAT_XATTR
        && name != OPAQUE_XATTR
}

/// Errors that mean "this filesystem or object can't take the xattr"; skipped silently.
fn xattr_unsupported(e: Errno) -> bool {
    matches!(e, Errno::PERM | Errno::NOTSUP | Errno::ACCESS)
}

/// Set the kept xattrs of `meta` on `fd` (a regular file or directory).
pub(super) fn set_xattrs(fd: BorrowedFd<'_>, meta: &Meta) -> io::Result<()> {
    for (name, value) in meta.xattrs.iter().filter(|(n, _)| keep_xattr(n)) {
        match rustix::fs::fsetxattr(fd, name.as_str(), value, XattrFlags::empty()) {
            Ok(()) => {}
            Err(e) if xattr_unsupported(e) => {
                tracing::trace!(xattr = %name, error = %e, "skipping unsupported xattr");
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// Record the owner of a regular file or directory: chown it, or store the override xattr.
pub(super) fn own_fd(
    fd: BorrowedFd<'_>,
    meta: &Meta,
    ownership: Ownership,
    kind: Kind,
) -> io::Result<()> {
    match ownership {
        Ownership::Chown => {
            rustix::fs::fchown(fd, Some(uid(meta.uid)), Some(gid(meta.gid)))?;
        }
        Ownership::Xattr => {
            let value = format_override(meta.uid, meta.gid, meta.mode, kind);
            rustix::fs::fsetxattr(
                fd,
                OVERRIDE_STAT_XATTR,
                value.as_bytes(),
                XattrFlags::empty(),
            )?;
        }
    }
    Ok(())
}

/// `lchown` a symlink or special file in `Chown` mode; in `Xattr` mode nothing is recorded
/// (unprivileged `user.*` xattrs are only allowed on regular files and directories).
pub(super) fn own_at(
    parent: BorrowedFd<'_>,
    name: &[u8],
    meta: &Meta,
    ownership: Ownership,
) -> io::Result<()> {
    if ownership == Ownership::Chown {
        rustix::fs::chownat(
            parent,
            name,
            Some(uid(meta.uid)),
            Some(gid(meta.gid)),
            AtFlags::SYMLINK_NOFOLLOW,
        )?;
    }
    Ok(())
}

/// The mode to put on disk. With the xattr fallback the real mode lives in the xattr and the
/// owner (the only id there is) keeps access, so the tree stays readable and removable
/// without privileges.
pub(super) fn disk_mode(mode: u32, ownership: Ownership, kind: Kind) -> u32 {
    match (ownership, kind) {
        (Ownership::Chown, _) => mode,
        (Ownership::Xattr, Kind::File) => mode | 0o600,
        (Ownership::Xattr, Kind::Dir) => mode | 0o700,
    }
}

pub(super) fn chmod_fd(fd: BorrowedFd<'_>, mode: u32) -> io::Result<()> {
    Ok(rustix::fs::fchmod(fd, Mode::from_raw_mode(mode & 0o7777))?)
}

fn uid(id: u32) -> Uid {
    Uid::from_raw(id)
}

fn gid(id: u32) -> Gid {
    Gid::from_raw(id)
}

/// `UID:GID:0MODE:TYPE`, the containers/storage override format (mode in octal with a
/// leading zero, e.g. `0:0:04755:file`).
pub(super) fn format_override(uid: u32, gid: u32, mode: u32, kind: Kind) -> String {
    let kind = match kind {
        Kind::File => "file",
        Kind::Dir => "dir",
    };
    format!("{uid}:{gid}:0{:o}:{kind}", mode & 0o7777)
}

/// Owner and permission bits from an override xattr value (`UID:GID:MODE[:TYPE...]`).
pub(super) fn parse_override(value: &[u8]) -> Option<(u32, u32, u32)> {
    let s = std::str::from_utf8(value).ok()?;
    let mut parts = s.trim_end_matches('\0').split(':');
    let uid = parts.next()?.parse().ok()?;
    let gid = parts.next()?.parse().ok()?;
    let mode = u32::from_str_radix(parts.next()?, 8).ok()?;
    Some((uid, gid, mode & 0o7777))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn override_format_round_trips() {
        let v = format_override(1000, 1011, 0o4755, Kind::File);
        assert_eq!(v, "1000:1011:04755:file");
        assert_eq!(parse_override(v.as_bytes()), Some((1000, 1011, 0o4755)));
        assert_eq!(format_override(0, 0, 0o755, Kind::Dir), "0:0:0755:dir");
        assert_eq!(parse_override(b"1:2:0644"), Some((1, 2, 0o644)));
        assert_eq!(parse_override(b"1:2:0644:char-1-3"), Some((1, 2, 0o644)));
        assert_eq!(parse_override(b"garbage"), None);
        assert_eq!(parse_override(b"1:x:0644"), None);
    }

    #[test]
    fn xattr_fallback_keeps_owner_access() {
        assert_eq!(disk_mode(0o4555, Ownership::Chown, Kind::File), 0o4555);
        assert_eq!(disk_mode(0o4555, Ownership::Xattr, Kind::File), 0o4755);
        assert_eq!(disk_mode(0o000, Ownership::Xattr, Kind::Dir), 0o700);
    }

    #[test]
    fn pax_times_parse() {
        let t = |s: &str| parse_pax_time(s.as_bytes()).map(|t| (t.tv_sec, t.tv_nsec));
        assert_eq!(t("1700000000"), Some((1_700_000_000, 0)));
        assert_eq!(t("1700000000.5"), Some((1_700_000_000, 500_000_000)));
        assert_eq!(t("1.123456789123"), Some((1, 123_456_789)));
        assert_eq!(t("-1.5"), Some((-2, 500_000_000)));
        assert_eq!(t("nope"), None);
    }

    #[test]
    fn xattr_filter() {
        assert!(keep_xattr("user.foo"));
        assert!(keep_xattr("security.capability"));
        assert!(!keep_xattr("trusted.overlay.opaque"));
        assert!(!keep_xattr("user.overlay.redirect"));
        assert!(!keep_xattr(OVERRIDE_STAT_XATTR));
        assert!(!keep_xattr("security.selinux"));
        assert!(!keep_xattr("system.posix_acl_access"));
    }
}
