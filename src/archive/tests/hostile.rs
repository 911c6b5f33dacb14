//! Hostile layers: each is refused with the right reason and nothing appears outside dest.
//!
//! Escapes aim at a sibling of dest inside the test's tempdir (never at the host's /etc), so
//! a regression can't damage the machine running the tests.

use std::fs;
use std::path::{Path, PathBuf};

use tar::{Builder, EntryType};

use super::*;
use crate::archive::{PathProblem, Refusal, Whiteouts};

/// `outer/` holding `dest/` (the layer root) and `victim` (a file that must stay untouched).
struct Sandbox {
    _tmp: tempfile::TempDir,
    outer: PathBuf,
    dest: PathBuf,
}

impl Sandbox {
    fn new() -> Self {
        let tmp = tempfile::tempdir().expect("tempdir");
        let outer = tmp.path().to_owned();
        let dest = outer.join("dest");
        fs::create_dir(&dest).expect("mkdir dest");
        fs::write(outer.join("victim"), b"original").expect("write victim");
        Self {
            _tmp: tmp,
            outer,
            dest,
        }
    }

    fn outer_str(&self) -> String {
        self.outer.display().to_string()
    }

    /// Apply `tar` and return why it was refused.
    fn refuse(&self, tar: &[u8], o: ApplyOptions) -> (String, Refusal) {
        let err = apply(tar, &self.dest, o).expect_err("hostile layer must be refused");
        let msg = err.to_string();
        match err {
            ArchiveError::Refused { path, reason } => {
                assert!(msg.contains(&path), "message `{msg}` names the entry");
                self.assert_untouched();
                (path, reason)
            }
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    /// Only `dest` and the intact `victim` are in `outer`.
    fn assert_untouched(&self) {
        let mut names: Vec<String> = fs::read_dir(&self.outer)
            .expect("read outer")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(names, ["dest", "victim"], "something escaped dest");
        let victim = self.outer.join("victim");
        assert!(fs::symlink_metadata(&victim).expect("victim").is_file());
        assert_eq!(fs::read(victim).expect("read victim"), b"original");
    }
}

fn raw_tar(ty: EntryType, name: &[u8], link: &[u8]) -> Vec<u8> {
    tar_of(|b| add_raw(b, ty, name, link, b"evil"))
}

fn apply_opts() -> ApplyOptions {
    opts(Whiteouts::Apply)
}

fn path_problem(s: &Sandbox, tar: &[u8]) -> PathProblem {
    match s.refuse(tar, apply_opts()) {
        (_, Refusal::Path(p)) => p,
        (_, other) => panic!("expected a path problem, got {other:?}"),
    }
}

#[test]
fn parent_components_are_refused() {
    for name in [
        &b"../evil"[..],
        b"a/../../evil",
        b"./../evil",
        b"a/b/../../../evil",
        b"..",
    ] {
        let s = Sandbox::new();
        let tar = raw_tar(EntryType::Regular, name, b"");
        assert_eq!(
            path_problem(&s, &tar),
            PathProblem::ParentComponent,
            "{name:?}"
        );
    }
}

#[test]
fn absolute_paths_are_refused_not_stripped() {
    let s = Sandbox::new();
    let name = format!("{}/evil", s.outer_str());
    let tar = raw_tar(EntryType::Regular, name.as_bytes(), b"");
    assert_eq!(path_problem(&s, &tar), PathProblem::Absolute);
    assert!(
        !s.dest.join(name.trim_start_matches('/')).exists(),
        "not stripped either"
    );
}

#[test]
fn empty_and_nul_names_are_refused() {
    let s = Sandbox::new();
    let tar = raw_tar(EntryType::Regular, b"", b"");
    assert_eq!(path_problem(&s, &tar), PathProblem::Empty);

    let tar = tar_of(|b| {
        b.append_pax_extensions([("path", &b"a\0b"[..])])
            .expect("pax");
        add(b, EntryType::Regular, "placeholder", 0o644, b"x");
    });
    assert_eq!(path_problem(&s, &tar), PathProblem::Nul);
}

fn symlink_then(b: &mut Builder<Vec<u8>>, target: &str) {
    add_raw(b, EntryType::Symlink, b"l", target.as_bytes(), b"");
}

#[test]
fn writing_through_a_symlink_is_refused() {
    let outer = Sandbox::new().outer_str();
    for target in ["..", "/", "../..", outer.as_str(), "sub"] {
        for ty in [
            EntryType::Regular,
            EntryType::Directory,
            EntryType::Symlink,
            EntryType::Fifo,
        ] {
            let s = Sandbox::new();
            let target = if target == outer.as_str() {
                s.outer_str()
            } else {
                target.to_owned()
            };
            let tar = tar_of(|b| {
                add(b, EntryType::Directory, "sub", 0o755, b"");
                symlink_then(b, &target);
                add_raw(b, ty, b"l/evil", b"victim", b"");
            });
            assert_eq!(
                path_problem(&s, &tar),
                PathProblem::Symlink("l".into()),
                "{target} then {ty:?}"
            );
        }
    }
}

#[test]
fn deeper_symlinked_parents_are_refused() {
    let s = Sandbox::new();
    let tar = tar_of(|b| {
        add(b, EntryType::Directory, "a/b", 0o755, b"");
        add_raw(
            b,
            EntryType::Symlink,
            b"a/b/c",
            s.outer_str().as_bytes(),
            b"",
        );
        add_raw(b, EntryType::Regular, b"a/b/c/d/evil", b"", b"evil");
    });
    assert_eq!(path_problem(&s, &tar), PathProblem::Symlink("a/b/c".into()));
}

#[test]
fn hard_links_through_symlinks_are_refused() {
    let s = Sandbox::new();
    let tar = tar_of(|b| {
        symlink_then(b, &s.outer_str());
        add_raw(b, EntryType::Link, b"h", b"l/victim", b"");
    });
    let (path, reason) = s.refuse(&tar, apply_opts());
    assert_eq!(path, "h");
    assert_eq!(
        reason,
        Refusal::LinkTarget {
            target: "l/victim".into(),
            problem: PathProblem::Symlink("l".into())
        }
    );
}

#[test]
fn hard_links_out_of_the_tree_are_refused() {
    let s = Sandbox::new();
    for (target, problem) in [
        ("../../etc/passwd".to_owned(), PathProblem::ParentComponent),
        ("../victim".to_owned(), PathProblem::ParentComponent),
        (format!("{}/victim", s.outer_str()), PathProblem::Absolute),
        ("/etc/passwd".to_owned(), PathProblem::Absolute),
        ("./".to_owned(), PathProblem::Root),
    ] {
        let tar = raw_tar(EntryType::Link, b"h", target.as_bytes());
        let (_, reason) = s.refuse(&tar, apply_opts());
        assert_eq!(reason, Refusal::LinkTarget { target, problem });
    }
}

#[test]
fn hard_link_to_an_escaping_symlink_links_the_symlink_itself() {
    let s = Sandbox::new();
    let victim = format!("{}/victim", s.outer_str());
    let tar = tar_of(|b| {
        add_raw(b, EntryType::Symlink, b"l", victim.as_bytes(), b"");
        add_raw(b, EntryType::Link, b"h", b"l", b"");
        // then overwrite the hard link with content: must replace h, not write to victim
        add_raw(b, EntryType::Regular, b"h", b"", b"evil");
    });
    apply(&tar, &s.dest, apply_opts()).expect("apply");
    s.assert_untouched();
    assert_eq!(fs::read(s.dest.join("h")).expect("read h"), b"evil");
    assert!(
        fs::symlink_metadata(s.dest.join("l"))
            .expect("l")
            .is_symlink()
    );
}

#[test]
fn devices_are_never_created_by_default() {
    for ty in [EntryType::Char, EntryType::Block] {
        let s = Sandbox::new();
        let tar = raw_tar(ty, b"dev/sda", b"");
        let report =
            apply(&tar, &s.dest, apply_opts()).expect("a device entry is skipped, not fatal");
        assert_eq!(report.skipped_devices, 1);
        assert!(
            fs::symlink_metadata(s.dest.join("dev/sda")).is_err(),
            "no node was made"
        );
        s.assert_untouched();
    }
    // the overlay whiteout format inside a tar is a device too: it must not hide a lower file
    let s = Sandbox::new();
    let tar = raw_tar(EntryType::Char, b"etc/passwd", b"");
    let report = apply(&tar, &s.dest, opts(Whiteouts::Overlay)).expect("skipped");
    assert_eq!(report.skipped_devices, 1);
    assert!(fs::symlink_metadata(s.dest.join("etc/passwd")).is_err());
    // and a device path that escapes is still refused for its path
    let s = Sandbox::new();
    let tar = raw_tar(EntryType::Char, b"../evil", b"");
    let (_, reason) = s.refuse(&tar, apply_opts());
    assert!(matches!(reason, Refusal::Path(_)));
}

#[test]
fn files_replace_escaping_symlinks_instead_of_writing_through() {
    let s = Sandbox::new();
    let victim = s.outer.join("victim");
    // a symlink already in dest (from a lower layer) …
    std::os::unix::fs::symlink(&victim, s.dest.join("pre")).expect("symlink");
    // … and one from earlier in the same layer
    let tar = tar_of(|b| {
        add_raw(
            b,
            EntryType::Symlink,
            b"same",
            victim.as_os_str().as_encoded_bytes(),
            b"",
        );
        add_raw(b, EntryType::Regular, b"pre", b"", b"evil");
        add_raw(b, EntryType::Regular, b"same", b"", b"evil");
        add_raw(b, EntryType::Symlink, b"dir", s.outer_str().as_bytes(), b"");
        add_raw(b, EntryType::Directory, b"dir/", b"", b"");
        add_raw(b, EntryType::Regular, b"dir/victim", b"", b"evil");
        add_raw(
            b,
            EntryType::Symlink,
            b"fifo",
            victim.as_os_str().as_encoded_bytes(),
            b"",
        );
        add_raw(b, EntryType::Fifo, b"fifo", b"", b"");
    });
    apply(&tar, &s.dest, apply_opts()).expect("apply");
    s.assert_untouched();
    for name in ["pre", "same", "dir/victim"] {
        let p = s.dest.join(name);
        assert!(fs::symlink_metadata(&p).expect("stat").is_file(), "{name}");
        assert_eq!(fs::read(&p).expect("read"), b"evil");
    }
    assert!(
        fs::symlink_metadata(s.dest.join("dir"))
            .expect("stat")
            .is_dir()
    );
}

#[test]
fn whiteouts_through_symlinks_are_refused() {
    let s = Sandbox::new();
    std::os::unix::fs::symlink(&s.outer, s.dest.join("l")).expect("symlink");
    let tar = raw_tar(EntryType::Regular, b"l/.wh.victim", b"");
    assert_eq!(path_problem(&s, &tar), PathProblem::Symlink("l".into()));
    // an opaque marker below a symlink removes nothing outside
    let tar = raw_tar(EntryType::Regular, b"l/.wh..wh..opq", b"");
    let _ = apply(&tar, &s.dest, apply_opts());
    s.assert_untouched();
    // nor does whiting out the symlink itself follow it
    let tar = raw_tar(EntryType::Regular, b".wh.l", b"");
    apply(&tar, &s.dest, apply_opts()).expect("apply");
    assert!(!exists(&s.dest.join("l")));
    s.assert_untouched();
}

#[test]
fn bad_whiteout_names_are_refused() {
    let s = Sandbox::new();
    let tar = raw_tar(EntryType::Regular, b"a/.wh...", b"");
    assert_eq!(path_problem(&s, &tar), PathProblem::ParentComponent);
    let tar = raw_tar(EntryType::Regular, b"a/.wh.", b"");
    assert_eq!(path_problem(&s, &tar), PathProblem::BadWhiteout);
}

#[test]
fn the_root_cannot_become_a_non_directory() {
    let s = Sandbox::new();
    let tar = raw_tar(EntryType::Symlink, b"./", s.outer_str().as_bytes());
    assert_eq!(s.refuse(&tar, apply_opts()).1, Refusal::RootNotDir);
}

#[test]
fn paths_through_files_are_reported() {
    let s = Sandbox::new();
    let tar = tar_of(|b| {
        add(b, EntryType::Regular, "f", 0o644, b"");
        add_raw(b, EntryType::Regular, b"f/x", b"", b"");
    });
    assert_eq!(path_problem(&s, &tar), PathProblem::NotDir("f".into()));
}

fn exists(p: &Path) -> bool {
    fs::symlink_metadata(p).is_ok()
}

#[test]
fn long_and_pax_names_are_checked_too() {
    let s = Sandbox::new();
    // a PAX path overrides the harmless name in the header
    let tar = tar_of(|b| {
        b.append_pax_extensions([("path", &b"../evil"[..])])
            .expect("pax");
        add(b, EntryType::Regular, "harmless", 0o644, b"x");
    });
    assert_eq!(path_problem(&s, &tar), PathProblem::ParentComponent);
    // a GNU long name (> 100 bytes) ending in an escape
    let long = format!("{}/../../../evil", "d".repeat(120));
    let tar = tar_of(|b| {
        let mut h = tar::Header::new_gnu();
        h.set_size(0);
        h.set_entry_type(EntryType::GNULongName);
        let mut name = long.clone().into_bytes();
        name.push(0);
        h.set_size(name.len() as u64);
        h.set_cksum();
        b.append(&h, &name[..]).expect("long name");
        add_raw(b, EntryType::Regular, b"placeholder", b"", b"evil");
    });
    assert_eq!(path_problem(&s, &tar), PathProblem::ParentComponent);
    // and a PAX linkpath on a hard link
    let tar = tar_of(|b| {
        b.append_pax_extensions([("linkpath", &b"../victim"[..])])
            .expect("pax");
        add_raw(b, EntryType::Link, b"h", b"harmless", b"");
    });
    let (_, reason) = s.refuse(&tar, apply_opts());
    assert_eq!(
        reason,
        Refusal::LinkTarget {
            target: "../victim".into(),
            problem: PathProblem::ParentComponent
        }
    );
}

#[test]
fn refusals_read_well() {
    let s = Sandbox::new();
    let tar = tar_of(|b| {
        symlink_then(b, "..");
        add_raw(b, EntryType::Regular, b"l/evil", b"", b"");
    });
    let err = apply(&tar, &s.dest, apply_opts()).expect_err("refused");
    assert_eq!(
        err.to_string(),
        "refusing layer entry `l/evil`: `l` is a symlink"
    );
}

mod properties {
    use proptest::prelude::*;

    use super::*;

    fn name() -> impl Strategy<Value = Vec<u8>> {
        let part = prop_oneof![
            Just(b"..".to_vec()),
            Just(b".".to_vec()),
            Just(b"".to_vec()),
            Just(b"a".to_vec()),
            Just(b"b".to_vec()),
            Just(b"victim".to_vec()),
            Just(b".wh.a".to_vec()),
            Just(b".wh..wh..opq".to_vec()),
            proptest::collection::vec(any::<u8>(), 1..4),
        ];
        proptest::collection::vec(part, 1..5).prop_map(|p| p.join(&b'/'))
    }

    fn entry() -> impl Strategy<Value = (EntryType, Vec<u8>, Vec<u8>)> {
        let ty = prop_oneof![
            Just(EntryType::Regular),
            Just(EntryType::Directory),
            Just(EntryType::Symlink),
            Just(EntryType::Link),
            Just(EntryType::Fifo),
            Just(EntryType::Char),
        ];
        let link = prop_oneof![
            Just(b"/".to_vec()),
            Just(b"..".to_vec()),
            Just(b"../victim".to_vec()),
            Just(b"../../..".to_vec()),
            name(),
        ];
        (ty, name(), link)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// Whatever the entries (and a few corrupted header bytes), applying a layer either works
        /// or is refused, and nothing outside the destination changes.
        #[test]
        fn nothing_escapes_any_layer(
            entries in proptest::collection::vec(entry(), 1..8),
            flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..4),
        ) {
            let mut tar = tar_of(|b| {
                for (ty, name, link) in &entries {
                    add_raw(b, *ty, name, link, b"data");
                }
            });
            for (at, byte) in flips {
                let i = at.index(tar.len());
                tar[i] = byte;
            }
            let s = Sandbox::new();
            let _ = apply(&tar, &s.dest, apply_opts());
            s.assert_untouched();
        }
    }
}
