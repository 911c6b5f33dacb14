//! Entry path validation and symlink-free resolution inside the destination tree.
//!
//! Every lookup starts at a dirfd of the destination and never follows a symlink:
//! `openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS)` when the kernel has it, otherwise a
//! component-by-component `openat(O_NOFOLLOW | O_DIRECTORY)` walk (which also creates missing
//! parents). Recently used parent dirfds are cached; the cache is dropped whenever a directory
//! is removed.

use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::Path;
use std::rc::Rc;

use rustix::fs::{AtFlags, FileType, Mode, OFlags, ResolveFlags};
use rustix::io::Errno;

use super::PathProblem;

/// Longest entry path accepted (Linux `PATH_MAX`).
const MAX_PATH: usize = 4096;
/// Parent dirfds kept open.
const CACHE_SIZE: usize = 8;

/// A validated entry path relative to the destination: no empty, `.` or `..` components,
/// no NUL; joined with `/`; empty for the destination itself.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(super) struct RelPath(Vec<u8>);

impl RelPath {
    /// Validate and normalise a raw tar path (`./` prefixes and trailing `/` are dropped).
    pub(super) fn parse(raw: &[u8]) -> Result<Self, PathProblem> {
        if raw.is_empty() {
            return Err(PathProblem::Empty);
        }
        if raw.contains(&0) {
            return Err(PathProblem::Nul);
        }
        if raw.len() > MAX_PATH {
            return Err(PathProblem::TooLong);
        }
        if raw[0] == b'/' {
            return Err(PathProblem::Absolute);
        }
        let mut out = Vec::with_capacity(raw.len());
        for comp in raw.split(|&b| b == b'/') {
            match comp {
                b"" | b"." => {}
                b".." => return Err(PathProblem::ParentComponent),
                _ => {
                    if !out.is_empty() {
                        out.push(b'/');
                    }
                    out.extend_from_slice(comp);
                }
            }
        }
        Ok(Self(out))
    }

    #[cfg(test)]
    pub(super) fn root() -> Self {
        Self(Vec::new())
    }

    pub(super) fn is_root(&self) -> bool {
        self.0.is_empty()
    }

    pub(super) fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// Parent path and final name; `None` for the root.
    pub(super) fn split(&self) -> Option<(&[u8], &[u8])> {
        if self.is_root() {
            return None;
        }
        Some(match self.0.iter().rposition(|&b| b == b'/') {
            Some(i) => (&self.0[..i], &self.0[i + 1..]),
            None => (&[][..], &self.0[..]),
        })
    }

    /// The path with its final component replaced by `name` (`name` itself for the root).
    pub(super) fn sibling(&self, name: &[u8]) -> Self {
        match self.split() {
            Some((parent, _)) => Self(parent.to_vec()).join(name),
            None => Self(name.to_vec()),
        }
    }

    /// The parent directory (the root for top-level entries and the root itself).
    pub(super) fn parent(&self) -> Self {
        Self(self.split().map_or(Vec::new(), |(p, _)| p.to_vec()))
    }

    /// `self/name`.
    pub(super) fn join(&self, name: &[u8]) -> Self {
        let mut out = self.0.clone();
        if !out.is_empty() {
            out.push(b'/');
        }
        out.extend_from_slice(name);
        Self(out)
    }

    pub(super) fn depth(&self) -> usize {
        if self.is_root() {
            0
        } else {
            1 + self.0.iter().filter(|&&b| b == b'/').count()
        }
    }

    /// This path and all of its ancestors except the root, deepest first.
    pub(super) fn ancestry(&self) -> impl Iterator<Item = &[u8]> {
        let bytes = &self.0;
        let cuts = bytes
            .iter()
            .enumerate()
            .rev()
            .filter(|&(_, &b)| b == b'/')
            .map(|(i, _)| i);
        std::iter::once(bytes.len())
            .filter(|&len| len > 0)
            .chain(cuts)
            .map(move |end| &bytes[..end])
    }

    pub(super) fn display(&self) -> String {
        lossy(&self.0)
    }
}

pub(super) fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Why a parent could not be resolved.
#[derive(Debug)]
pub(super) enum ResolveError {
    /// A component is a symlink or a non-directory (a [`PathProblem`]).
    Unsafe(PathProblem),
    Io(io::Error),
}

impl From<Errno> for ResolveError {
    fn from(e: Errno) -> Self {
        Self::Io(e.into())
    }
}

/// The destination directory with a cache of resolved parent dirfds.
pub(super) struct Tree {
    root: Rc<OwnedFd>,
    cache: Vec<(Vec<u8>, Rc<OwnedFd>)>,
    openat2: bool,
}

impl Tree {
    pub(super) fn open(dest: &Path) -> io::Result<Self> {
        let root = rustix::fs::open(
            dest,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )?;
        Ok(Self {
            root: Rc::new(root),
            cache: Vec::with_capacity(CACHE_SIZE),
            openat2: true,
        })
    }

    pub(super) fn root(&self) -> BorrowedFd<'_> {
        self.root.as_fd()
    }

    /// Forget cached dirfds (after a directory was removed or replaced).
    pub(super) fn invalidate(&mut self) {
        self.cache.clear();
    }

    /// Remember `fd` as the directory at `path` (an fd just created for it).
    pub(super) fn remember(&mut self, path: &[u8], fd: Rc<OwnedFd>) {
        if self.cache.len() == CACHE_SIZE {
            self.cache.remove(0);
        }
        self.cache.push((path.to_vec(), fd));
    }

    /// A dirfd of directory `path` (relative, validated); missing directories are created
    /// (mode 0755) when `create`, otherwise `Ok(None)`.
    pub(super) fn dir(
        &mut self,
        path: &[u8],
        create: bool,
    ) -> Result<Option<Rc<OwnedFd>>, ResolveError> {
        if path.is_empty() {
            return Ok(Some(Rc::clone(&self.root)));
        }
        if let Some(i) = self.cache.iter().position(|(p, _)| p == path) {
            let hit = self.cache.remove(i);
            let fd = Rc::clone(&hit.1);
            self.cache.push(hit);
            return Ok(Some(fd));
        }
        let fd = match self.fast_lookup(path)? {
            Some(fd) => fd,
            None => match walk(self.root.as_fd(), path, create)? {
                Some(fd) => fd,
                None => return Ok(None),
            },
        };
        let fd = Rc::new(fd);
        self.remember(path, Rc::clone(&fd));
        Ok(Some(fd))
    }

    /// One `openat2` for the whole path; `None` means "use the walk" (missing component,
    /// symlink or non-directory to report precisely, or no `openat2`).
    fn fast_lookup(&mut self, path: &[u8]) -> Result<Option<OwnedFd>, ResolveError> {
        if !self.openat2 {
            return Ok(None);
        }
        let flags = OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC;
        let resolve =
            ResolveFlags::BENEATH | ResolveFlags::NO_SYMLINKS | ResolveFlags::NO_MAGICLINKS;
        match rustix::fs::openat2(self.root.as_fd(), path, flags, Mode::empty(), resolve) {
            Ok(fd) => Ok(Some(fd)),
            Err(Errno::NOSYS | Errno::PERM) => {
                // Old kernel, or a seccomp filter that does not know openat2.
                self.openat2 = false;
                Ok(None)
            }
            Err(Errno::NOENT | Errno::LOOP | Errno::NOTDIR | Errno::XDEV | Errno::AGAIN) => {
                Ok(None)
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Open the directory at `path` itself for reading/metadata changes, refusing symlinks.
    /// `Ok(None)` when it (or a parent) does not exist or is not a directory any more.
    pub(super) fn open_dir(&mut self, path: &RelPath) -> Result<Option<OwnedFd>, ResolveError> {
        let Some((parent, name)) = path.split() else {
            return Ok(Some(reopen_dir(self.root.as_fd())?));
        };
        let parent = match self.dir(parent, false) {
            Ok(Some(fd)) => fd,
            Ok(None) | Err(ResolveError::Unsafe(_)) => return Ok(None),
            Err(e) => return Err(e),
        };
        match open_child_dir(parent.as_fd(), name) {
            Ok(fd) => Ok(Some(fd)),
            Err(Errno::NOENT | Errno::NOTDIR | Errno::LOOP) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }
}

/// Open the directory `name` in `parent` for reading and metadata changes, never following a
/// symlink.
pub(super) fn open_child_dir(parent: BorrowedFd<'_>, name: &[u8]) -> rustix::io::Result<OwnedFd> {
    rustix::fs::openat(
        parent,
        name,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    )
}

/// A readable fd of the same directory (`fd` may be an `O_PATH` fd).
fn reopen_dir(fd: BorrowedFd<'_>) -> rustix::io::Result<OwnedFd> {
    open_child_dir(fd, b".")
}

/// Walk `path` one component at a time from `root` with `O_NOFOLLOW`.
fn walk(root: BorrowedFd<'_>, path: &[u8], create: bool) -> Result<Option<OwnedFd>, ResolveError> {
    let flags = OFlags::PATH | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    let mut cur: Option<OwnedFd> = None;
    let mut done = 0;
    for comp in path.split(|&b| b == b'/') {
        let end = done + comp.len();
        let here = cur.as_ref().map_or(root, |fd| fd.as_fd());
        let next = match rustix::fs::openat(here, comp, flags, Mode::empty()) {
            Err(Errno::NOENT) if create => {
                match rustix::fs::mkdirat(here, comp, Mode::from_raw_mode(0o755)) {
                    // Implicit parents get 0755 whatever the umask; we just created the name
                    // as a directory, so following it is harmless.
                    Ok(()) => rustix::fs::chmodat(
                        here,
                        comp,
                        Mode::from_raw_mode(0o755),
                        AtFlags::empty(),
                    )?,
                    Err(Errno::EXIST) => {}
                    Err(e) => return Err(e.into()),
                }
                rustix::fs::openat(here, comp, flags, Mode::empty())
            }
            other => other,
        };
        match next {
            Ok(fd) => cur = Some(fd),
            Err(Errno::NOENT) => return Ok(None),
            Err(Errno::NOTDIR | Errno::LOOP) => {
                let at = lossy(&path[..end]);
                let st = rustix::fs::statat(here, comp, AtFlags::SYMLINK_NOFOLLOW)?;
                let problem = if FileType::from_raw_mode(st.st_mode) == FileType::Symlink {
                    PathProblem::Symlink(at)
                } else {
                    PathProblem::NotDir(at)
                };
                return Err(ResolveError::Unsafe(problem));
            }
            Err(e) => return Err(e.into()),
        }
        done = end + 1;
    }
    Ok(cur)
}

/// Remove `name` in `parent` and, if it is a directory, everything below it, without following
/// symlinks. Returns whether a directory was removed. A missing `name` is not an error.
pub(super) fn remove_all(parent: BorrowedFd<'_>, name: &[u8]) -> io::Result<bool> {
    match rustix::fs::unlinkat(parent, name, AtFlags::empty()) {
        Ok(()) | Err(Errno::NOENT) => return Ok(false),
        Err(Errno::ISDIR) => {}
        Err(e) => return Err(e.into()),
    }
    let dir = open_child_dir(parent, name)?;
    empty_dir(dir.as_fd(), |_| false)?;
    rustix::fs::unlinkat(parent, name, AtFlags::REMOVEDIR)?;
    Ok(true)
}

/// Remove every entry of the directory `dir` for which `keep(name)` is false.
pub(super) fn empty_dir(dir: BorrowedFd<'_>, keep: impl Fn(&[u8]) -> bool) -> io::Result<()> {
    for name in list_dir(dir)? {
        if !keep(&name) {
            remove_all(dir, &name)?;
        }
    }
    Ok(())
}

/// Names in directory `dir`, without `.` and `..`.
pub(super) fn list_dir(dir: BorrowedFd<'_>) -> io::Result<Vec<Vec<u8>>> {
    let mut names = Vec::new();
    for entry in rustix::fs::Dir::read_from(dir)? {
        let name = entry?.file_name().to_bytes().to_vec();
        if name != b"." && name != b".." {
            names.push(name);
        }
    }
    Ok(names)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(raw: &str) -> Result<String, PathProblem> {
        RelPath::parse(raw.as_bytes()).map(|p| p.display())
    }

    #[test]
    fn normalises_dots_and_slashes() {
        assert_eq!(parse("./usr/bin/"), Ok("usr/bin".into()));
        assert_eq!(parse("usr//./bin"), Ok("usr/bin".into()));
        assert_eq!(parse("./"), Ok(String::new()));
        assert_eq!(parse("."), Ok(String::new()));
        assert_eq!(parse("a.."), Ok("a..".into()));
        assert_eq!(parse("..a/b"), Ok("..a/b".into()));
    }

    #[test]
    fn refuses_hostile_paths() {
        assert_eq!(parse(""), Err(PathProblem::Empty));
        assert_eq!(parse("a\0b"), Err(PathProblem::Nul));
        assert_eq!(parse("/etc/passwd"), Err(PathProblem::Absolute));
        assert_eq!(parse(".."), Err(PathProblem::ParentComponent));
        assert_eq!(parse("../evil"), Err(PathProblem::ParentComponent));
        assert_eq!(parse("a/../../evil"), Err(PathProblem::ParentComponent));
        assert_eq!(parse("a/.."), Err(PathProblem::ParentComponent));
        assert_eq!(parse(&"a/".repeat(3000)), Err(PathProblem::TooLong));
    }

    #[test]
    fn splits_and_walks_ancestors() {
        let p = RelPath::parse(b"a/b/c").expect("valid");
        assert_eq!(p.split(), Some((&b"a/b"[..], &b"c"[..])));
        assert_eq!(p.depth(), 3);
        let anc: Vec<&[u8]> = p.ancestry().collect();
        assert_eq!(anc, vec![&b"a/b/c"[..], b"a/b", b"a"]);
        let top = RelPath::parse(b"a").expect("valid");
        assert_eq!(top.split(), Some((&b""[..], &b"a"[..])));
        assert_eq!(RelPath::root().split(), None);
        assert_eq!(RelPath::root().ancestry().count(), 0);
        assert_eq!(RelPath::root().join(b"x").as_bytes(), b"x");
        assert_eq!(p.sibling(b"z").as_bytes(), b"a/b/z");
        assert_eq!(top.sibling(b"z").as_bytes(), b"z");
        assert_eq!(p.parent().as_bytes(), b"a/b");
        assert!(top.parent().is_root());
    }

    #[test]
    fn resolution_refuses_symlinked_parents() {
        let tmp = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(tmp.path().join("d/e")).expect("mkdir");
        std::os::unix::fs::symlink("d", tmp.path().join("l")).expect("symlink");
        std::fs::write(tmp.path().join("f"), b"").expect("write");
        let mut tree = Tree::open(tmp.path()).expect("open");
        assert!(matches!(tree.dir(b"d/e", false), Ok(Some(_))));
        assert!(matches!(tree.dir(b"d/x", false), Ok(None)));
        assert!(matches!(
            tree.dir(b"l/e", true),
            Err(ResolveError::Unsafe(PathProblem::Symlink(s))) if s == "l"
        ));
        assert!(matches!(
            tree.dir(b"f/x", true),
            Err(ResolveError::Unsafe(PathProblem::NotDir(s))) if s == "f"
        ));
        assert!(matches!(tree.dir(b"n/m", true), Ok(Some(_))));
        assert!(tmp.path().join("n/m").is_dir());
        // the walk (no openat2) gives the same answers
        tree.openat2 = false;
        tree.invalidate();
        assert!(matches!(
            tree.dir(b"l/e", true),
            Err(ResolveError::Unsafe(PathProblem::Symlink(_)))
        ));
        assert!(matches!(tree.dir(b"d/e", false), Ok(Some(_))));
    }

    #[test]
    fn remove_all_does_not_follow_symlinks() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let outside = tmp.path().join("outside");
        std::fs::create_dir(&outside).expect("mkdir");
        std::fs::write(outside.join("keep"), b"x").expect("write");
        let inside = tmp.path().join("inside");
        std::fs::create_dir_all(inside.join("d/sub")).expect("mkdir");
        std::os::unix::fs::symlink(&outside, inside.join("d/link")).expect("symlink");
        let tree = Tree::open(&inside).expect("open");
        assert!(remove_all(tree.root(), b"d").expect("remove"));
        assert!(!inside.join("d").exists());
        assert!(outside.join("keep").exists());
        assert!(!remove_all(tree.root(), b"missing").expect("remove missing"));
    }

    mod properties {
        use proptest::prelude::*;

        use super::super::RelPath;

        fn pathish() -> impl Strategy<Value = Vec<u8>> {
            let part = prop_oneof![
                Just(b"..".to_vec()),
                Just(b".".to_vec()),
                Just(b"".to_vec()),
                Just(b"/".to_vec()),
                Just(b"...".to_vec()),
                Just(b"a".to_vec()),
                Just(b"..a".to_vec()),
                Just(b"\\".to_vec()),
                Just(b"\0".to_vec()),
                proptest::collection::vec(any::<u8>(), 0..6),
            ];
            proptest::collection::vec(part, 0..12).prop_map(|parts| parts.join(&b'/'))
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(2000))]

            /// Whatever a tar header says, an accepted path stays below the destination.
            #[test]
            fn accepted_paths_never_escape(raw in prop_oneof![pathish(), proptest::collection::vec(any::<u8>(), 0..300)]) {
                if let Ok(p) = RelPath::parse(&raw) {
                    let b = p.0.clone();
                    prop_assert!(!b.starts_with(b"/"), "{:?}", p);
                    prop_assert!(!b.contains(&0));
                    prop_assert!(b.len() <= raw.len());
                    if !b.is_empty() {
                        for c in b.split(|&x| x == b'/') {
                            prop_assert!(!c.is_empty() && c != b"." && c != b"..", "{:?} from {:?}", p, raw);
                        }
                    }
                    // Normalising is idempotent.
                    prop_assert_eq!(RelPath::parse(&b).ok().filter(|_| !b.is_empty()).map(|q| q.0).unwrap_or_default(), b);
                }
            }
        }
    }
}
