//! apply → write_layer → apply gives the same tree.

use std::fs;
use std::os::unix::fs::MetadataExt;

use tar::{EntryType, Header};

use super::*;
use crate::archive::{Whiteouts, write_layer};

const LONG_DIR: &str = "a-directory-name-that-is-quite-long/and-another-one-that-is-longer-still";

fn sample_layer(with_xattrs: bool) -> Vec<u8> {
    tar_of(|b| {
        add(b, EntryType::Directory, "./", 0o755, b"");
        add(b, EntryType::Directory, "./bin/", 0o755, b"");
        add(
            b,
            EntryType::Regular,
            "./bin/tool",
            0o4755,
            b"#!/bin/sh\necho hi\n",
        );
        add(b, EntryType::Directory, "tmp/", 0o1777, b"");
        add(b, EntryType::Directory, "etc/", 0o2750, b"");
        add(
            b,
            EntryType::Regular,
            "etc/shadow",
            0o640,
            b"root:*:1::::::\n",
        );
        // owned by a non-root user
        let mut h = Header::new_gnu();
        h.set_entry_type(EntryType::Regular);
        h.set_mode(0o600);
        h.set_uid(1000);
        h.set_gid(1001);
        h.set_mtime(1_234_567_890);
        h.set_size(5);
        b.append_data(&mut h, "home/user/.profile", &b"PS1=\n"[..])
            .expect("append");
        add_link(b, EntryType::Symlink, "bin/sh", "/bin/tool");
        add_link(b, EntryType::Symlink, "etc/rel", "../bin/tool");
        add_link(b, EntryType::Link, "bin/tool-hardlink", "bin/tool");
        add(b, EntryType::Fifo, "run/pipe", 0o620, b"");
        let long_file = format!("{LONG_DIR}/file-with-a-long-name-as-well.txt");
        add(b, EntryType::Regular, &long_file, 0o644, b"long\n");
        let long_target = format!("/{LONG_DIR}/{LONG_DIR}/target-that-does-not-exist");
        add_link(b, EntryType::Symlink, "long-link", &long_target);
        add(b, EntryType::Regular, "empty", 0o000, b"");
        if with_xattrs {
            b.append_pax_extensions([
                ("SCHILY.xattr.user.comment", &b"hello"[..]),
                ("SCHILY.xattr.trusted.overlay.redirect", &b"/etc"[..]),
                ("SCHILY.xattr.user.overlay.opaque", &b"y"[..]),
            ])
            .expect("pax");
        }
        add(b, EntryType::Regular, "with-xattr", 0o644, b"x");
    })
}

#[test]
fn apply_write_apply_is_identity() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let xattrs = user_xattrs_supported(tmp.path());
    let one = tmp.path().join("one");
    let two = tmp.path().join("two");
    fs::create_dir(&one).expect("mkdir");
    fs::create_dir(&two).expect("mkdir");

    let report = apply(&sample_layer(xattrs), &one, opts(Whiteouts::Apply)).expect("apply");
    assert_eq!(report.bytes, 18 + 15 + 5 + 5 + 1);
    assert_eq!(report.entries, 15);

    let mut tar = Vec::new();
    let written = write_layer(&one, &mut tar).expect("write layer");
    assert_eq!(written, tar.len() as u64);
    apply(&tar, &two, opts(Whiteouts::Apply)).expect("apply again");

    let a = snapshot(&one);
    let b = snapshot(&two);
    assert_eq!(a, b);

    let node = |p: &str| a.get(p).unwrap_or_else(|| panic!("{p} missing"));
    assert_eq!(node("bin/tool").mode, 0o4755);
    assert_eq!(node("tmp").mode, 0o1777);
    assert_eq!(node("etc").mode, 0o2750);
    assert_eq!(node("empty").mode, 0);
    assert_eq!(node("run/pipe").kind, "fifo");
    assert_eq!(node("run/pipe").mode, 0o620);
    assert_eq!(node("run").mode, 0o755, "implicit parent");
    assert_eq!(node("bin/sh").data, b"/bin/tool");
    assert_eq!(node("etc/rel").data, b"../bin/tool");
    assert_eq!(
        node("bin/tool-hardlink").link_group.as_deref(),
        Some("bin/tool")
    );
    assert_eq!(node("bin/tool").link_group.as_deref(), Some("bin/tool"));
    let profile = node("home/user/.profile");
    assert_eq!(
        (profile.uid, profile.gid, profile.mode),
        (1000, 1001, 0o600)
    );
    assert_eq!(profile.mtime, 1_234_567_890);
    assert_eq!(
        node("bin").mtime,
        1_600_000_000,
        "dir mtime set after children"
    );
    assert!(a.contains_key(&format!("{LONG_DIR}/file-with-a-long-name-as-well.txt")));
    assert!(node("long-link").data.len() > 100);
    let root_mode = fs::metadata(&one).expect("stat").mode() & 0o7777;
    assert_eq!(root_mode, 0o755);
    if xattrs {
        // user.* kept; overlay metadata from the tar dropped
        let x = &node("with-xattr").xattrs;
        assert_eq!(x, &vec![("user.comment".to_owned(), b"hello".to_vec())]);
    }
}

#[test]
fn xattr_ownership_records_override() {
    let tmp = tempfile::tempdir().expect("tempdir");
    if !user_xattrs_supported(tmp.path()) {
        return;
    }
    let mut o = opts(Whiteouts::Apply);
    o.ownership = Ownership::Xattr;
    apply(&sample_layer(false), tmp.path(), o).expect("apply");
    let v = user_xattrs(&tmp.path().join("home/user/.profile"));
    assert!(
        v.contains(&(
            super::super::OVERRIDE_STAT_XATTR.to_owned(),
            b"1000:1001:0600:file".to_vec()
        )),
        "{v:?}"
    );
    let v = user_xattrs(&tmp.path().join("etc"));
    assert!(v.contains(&(
        super::super::OVERRIDE_STAT_XATTR.to_owned(),
        b"0:0:02750:dir".to_vec()
    )));
    // write_layer reads ownership back from the xattr
    let mut tar = Vec::new();
    write_layer(tmp.path(), &mut tar).expect("write layer");
    let mut archive = tar::Archive::new(&tar[..]);
    let profile = archive
        .entries()
        .expect("entries")
        .map(|e| e.expect("entry"))
        .find(|e| e.path().expect("path").ends_with(".profile"))
        .expect("profile entry");
    let h = profile.header();
    assert_eq!(
        (h.uid().ok(), h.gid().ok(), h.mode().ok()),
        (Some(1000), Some(1001), Some(0o600))
    );
}

#[test]
fn later_entries_replace_earlier_ones() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let layer = tar_of(|b| {
        add(b, EntryType::Regular, "x", 0o644, b"first");
        add(b, EntryType::Regular, "x", 0o600, b"second");
        add(b, EntryType::Directory, "d", 0o755, b"");
        add(b, EntryType::Regular, "d/inner", 0o644, b"i");
        add(b, EntryType::Regular, "d", 0o644, b"now a file");
        add(b, EntryType::Regular, "f", 0o644, b"file");
        add(b, EntryType::Directory, "f", 0o700, b"");
        add_link(b, EntryType::Link, "x", "x");
    });
    apply(&layer, tmp.path(), opts(Whiteouts::Apply)).expect("apply");
    assert_eq!(fs::read(tmp.path().join("x")).expect("read"), b"second");
    assert_eq!(fs::read(tmp.path().join("d")).expect("read"), b"now a file");
    let f = fs::symlink_metadata(tmp.path().join("f")).expect("stat");
    assert!(f.is_dir());
    assert_eq!(f.mode() & 0o7777, 0o700);
}

#[test]
fn existing_directories_are_reused() {
    let tmp = tempfile::tempdir().expect("tempdir");
    fs::create_dir(tmp.path().join("d")).expect("mkdir");
    fs::write(tmp.path().join("d/lower"), b"lower").expect("write");
    let layer = tar_of(|b| {
        add(b, EntryType::Directory, "d", 0o711, b"");
        add(b, EntryType::Regular, "d/upper", 0o644, b"upper");
    });
    apply(&layer, tmp.path(), opts(Whiteouts::Apply)).expect("apply");
    assert!(tmp.path().join("d/lower").exists());
    assert!(tmp.path().join("d/upper").exists());
    let mode = fs::metadata(tmp.path().join("d")).expect("stat").mode() & 0o7777;
    assert_eq!(mode, 0o711);
}

#[test]
fn devices_are_created_when_allowed() {
    if !is_root() {
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let layer = tar_of(|b| {
        let mut h = Header::new_gnu();
        h.set_entry_type(EntryType::Char);
        h.set_mode(0o666);
        h.set_device_major(1).expect("major");
        h.set_device_minor(3).expect("minor");
        h.set_size(0);
        b.append_data(&mut h, "dev/null", &b""[..]).expect("append");
    });
    let mut o = opts(Whiteouts::Apply);
    o.allow_devices = true;
    apply(&layer, tmp.path(), o).expect("apply");
    let md = fs::symlink_metadata(tmp.path().join("dev/null")).expect("stat");
    assert_eq!(md.rdev(), rustix::fs::makedev(1, 3));
    assert_eq!(md.mode() & 0o7777, 0o666);
}

#[test]
fn gzip_layer_applies_through_decompress() {
    use std::io::Write;
    let tmp = tempfile::tempdir().expect("tempdir");
    let plain = sample_layer(false);
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(&plain).expect("gzip");
    let blob = enc.finish().expect("gzip");
    let (c, reader) = crate::archive::decompress(&blob[..]).expect("sniff");
    assert_eq!(c, crate::archive::Compression::Gzip);
    apply_layer(reader, tmp.path(), &opts(Whiteouts::Apply)).expect("apply");
    assert!(tmp.path().join("bin/tool").is_file());
}
