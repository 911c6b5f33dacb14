//! Whiteouts and opaque directories in both modes.

use std::fs;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

use tar::EntryType;

use super::*;
use crate::archive::{OPAQUE_XATTR, Whiteouts, write_layer};

/// The lower layer: `a/{keep,gone}`, `b/x`, `opq/{old,sub/old2}`.
fn lower(dir: &Path) {
    for (p, data) in [
        ("a/keep", "k"),
        ("a/gone", "g"),
        ("b/x", "x"),
        ("opq/old", "o"),
        ("opq/sub/old2", "o2"),
    ] {
        let p = dir.join(p);
        fs::create_dir_all(p.parent().expect("has parent")).expect("mkdir");
        fs::write(p, data).expect("write");
    }
}

/// The upper layer: deletes `a/gone` and `b`, makes `opq` opaque with the marker in the
/// middle of the directory's entries.
fn upper() -> Vec<u8> {
    tar_of(|b| {
        add(b, EntryType::Directory, "a/", 0o755, b"");
        add(b, EntryType::Regular, "a/.wh.gone", 0o644, b"");
        add(b, EntryType::Regular, ".wh.b", 0o644, b"");
        add(b, EntryType::Directory, "opq/", 0o755, b"");
        add(b, EntryType::Regular, "opq/new", 0o644, b"n");
        add(b, EntryType::Regular, "opq/sub/new2", 0o644, b"n2");
        add(b, EntryType::Regular, "opq/.wh..wh..opq", 0o644, b"");
        add(b, EntryType::Regular, "opq/later", 0o644, b"l");
        add(b, EntryType::Regular, ".wh..wh.plnk", 0o644, b"");
        add(b, EntryType::Regular, ".wh.never-existed", 0o644, b"");
        add(b, EntryType::Regular, "nodir/.wh.x", 0o644, b"");
    })
}

fn exists(p: &Path) -> bool {
    fs::symlink_metadata(p).is_ok()
}

#[test]
fn apply_mode_removes_and_empties() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let d = tmp.path();
    lower(d);
    let report = apply(&upper(), d, opts(Whiteouts::Apply)).expect("apply");
    assert_eq!(report.entries, 11);
    assert!(exists(&d.join("a/keep")));
    assert!(!exists(&d.join("a/gone")));
    assert!(!exists(&d.join("b")));
    assert!(
        !exists(&d.join("opq/old")),
        "lower content of an opaque dir"
    );
    assert!(
        !exists(&d.join("opq/sub/old2")),
        "lower content below an opaque dir"
    );
    for p in ["opq/new", "opq/sub/new2", "opq/later"] {
        assert!(exists(&d.join(p)), "{p} from this layer must stay");
    }
    assert!(
        !exists(&d.join("nodir")),
        "a whiteout does not create its directory"
    );
    let names: Vec<_> = fs::read_dir(d)
        .expect("read_dir")
        .map(|e| e.expect("entry").file_name())
        .collect();
    assert!(
        names
            .iter()
            .all(|n| !n.to_string_lossy().starts_with(".wh.")),
        "{names:?}"
    );
}

#[test]
fn whiteouts_do_not_hide_their_own_layer() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let layer = tar_of(|b| {
        add(b, EntryType::Regular, "f", 0o644, b"mine");
        add(b, EntryType::Regular, ".wh.f", 0o644, b"");
    });
    apply(&layer, tmp.path(), opts(Whiteouts::Apply)).expect("apply");
    assert_eq!(fs::read(tmp.path().join("f")).expect("read"), b"mine");
}

#[test]
fn overlay_mode_writes_devices_and_xattrs() {
    let tmp = tempfile::tempdir().expect("tempdir");
    if !user_xattrs_supported(tmp.path()) {
        return;
    }
    let d = tmp.path();
    match apply(&upper(), d, opts(Whiteouts::Overlay)) {
        Ok(_) => {}
        // mknod 0/0 needs root or a user namespace (Linux 5.8+)
        Err(ArchiveError::Unpack { source, .. })
            if !is_root() && source.raw_os_error() == Some(libc::EPERM) =>
        {
            return;
        }
        Err(e) => panic!("apply: {e}"),
    }
    for p in ["a/gone", "b", "never-existed", "nodir/x"] {
        let md = fs::symlink_metadata(d.join(p)).unwrap_or_else(|e| panic!("{p}: {e}"));
        assert!(
            md.file_type().is_char_device() && md.rdev() == 0,
            "{p} is a whiteout"
        );
    }
    let opaque = user_xattrs(&d.join("opq"));
    assert!(
        opaque.contains(&(OPAQUE_XATTR.to_owned(), b"y".to_vec())),
        "{opaque:?}"
    );
    for p in ["opq/new", "opq/sub/new2", "opq/later"] {
        assert!(exists(&d.join(p)));
    }
    assert!(!exists(&d.join("a/.wh.gone")));
    assert!(!exists(&d.join(".wh..wh.plnk")));

    // and back to a tar with .wh. entries
    let mut tar = Vec::new();
    write_layer(d, &mut tar).expect("write layer");
    let mut archive = tar::Archive::new(&tar[..]);
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
    for want in [
        ".wh.b",
        "a/.wh.gone",
        "opq/.wh..wh..opq",
        ".wh.never-existed",
        "nodir/.wh.x",
    ] {
        assert!(
            names.iter().any(|n| n == want),
            "{want} missing from {names:?}"
        );
    }
    assert!(!names.iter().any(|n| n == "b" || n == "a/gone"));
    let opq = names.iter().position(|n| n == "opq/").expect("opq dir");
    assert_eq!(
        names[opq + 1],
        "opq/.wh..wh..opq",
        "marker right after its directory"
    );

    // applying that tar in Apply mode on top of the lower layer gives the same result as
    // applying the original
    let stacked = tmp.path().join("stacked");
    let direct = tmp.path().join("direct");
    for dir in [&stacked, &direct] {
        fs::create_dir(dir).expect("mkdir");
        lower(dir);
    }
    apply(&tar, &stacked, opts(Whiteouts::Apply)).expect("apply converted");
    apply(&upper(), &direct, opts(Whiteouts::Apply)).expect("apply original");
    let strip = |m: std::collections::BTreeMap<String, Node>| {
        // (overlay mode had to create `nodir` to hold its whiteout)
        m.into_iter()
            .filter(|(k, _)| !k.starts_with("nodir"))
            .map(|(k, n)| (k, n.kind, n.data))
            .collect::<Vec<_>>()
    };
    assert_eq!(strip(snapshot(&stacked)), strip(snapshot(&direct)));
}

/// fuse-overlayfs's upper dir: an opaque directory has a `.wh..wh..opq` file (and the
/// `user.fuseoverlayfs.opaque` xattr, and a 0/0 whiteout named `.wh..opq` where it can make one);
/// the layer gets the marker once, and none of fuse-overlayfs's own xattrs.
#[test]
fn fuse_overlayfs_upper_dirs_become_one_marker() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let d = tmp.path();
    fs::create_dir(d.join("opq")).expect("mkdir");
    fs::write(d.join("opq/.wh..wh..opq"), "").expect("marker");
    fs::write(d.join("opq/new"), "n").expect("write");
    let xattrs = user_xattrs_supported(d);
    if xattrs {
        rustix::fs::setxattr(
            d.join("opq"),
            crate::archive::FUSE_OPAQUE_XATTR,
            b"y",
            rustix::fs::XattrFlags::empty(),
        )
        .expect("setxattr");
        rustix::fs::setxattr(
            d.join("opq/new"),
            "user.fuseoverlayfs.origin",
            b"x",
            rustix::fs::XattrFlags::empty(),
        )
        .expect("setxattr");
    }
    // The whiteout beside the marker, where this process may make one.
    let _ = rustix::fs::mknodat(
        rustix::fs::CWD,
        d.join("opq/.wh..opq"),
        rustix::fs::FileType::CharacterDevice,
        rustix::fs::Mode::empty(),
        0,
    );
    let mut tar = Vec::new();
    write_layer(d, &mut tar).expect("write layer");
    let mut archive = tar::Archive::new(&tar[..]);
    let mut names = Vec::new();
    for e in archive.entries().expect("entries") {
        let mut e = e.expect("entry");
        let name = e.path().expect("path").display().to_string();
        if let Some(ext) = e.pax_extensions().expect("pax") {
            for x in ext {
                let key = x.expect("pax record").key().expect("utf-8").to_string();
                assert!(!key.contains("fuseoverlayfs"), "{name}: {key}");
            }
        }
        names.push(name);
    }
    assert_eq!(names, ["opq/", "opq/.wh..wh..opq", "opq/new"]);
}
