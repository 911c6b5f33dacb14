//! The helper programs roost starts (newuidmap/newgidmap, pasta, slirp4netns, netavark, aardvark-dns,
//! fuse-overlayfs): where each one is found and the environment it runs with. One search order and
//! one PATH for all of them, as podman's `FindHelperBinary`:
//! 1. containers.conf's `[engine] helper_binaries_dir` (and `$CONTAINERS_HELPER_BINARY_DIR`);
//! 2. podman's libexec directories (netavark and aardvark-dns live there);
//! 3. the user's PATH, then the sbin directories.
//!
//! Helpers always run with the sbin directories on their PATH: netavark runs `iptables` and
//! `nft`, which are in `/usr/sbin`, a directory not on an ordinary Debian user's PATH.
//!
//! The search is set once per process at the edge ([`init`], from the CLI's settings) and read by
//! whichever layer starts a helper, as PATH itself is: it is a property of the process, not of one
//! container, and is needed deep down (the runtime's id mapping, the network namespace holder).
//! It has policy (podman's directories), so it lives here and not in `sys`.
#![deny(clippy::print_stdout, clippy::print_stderr)]

use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// podman's default `helper_binaries_dir`.
pub const LIBEXEC_DIRS: [&str; 4] = [
    "/usr/local/libexec/podman",
    "/usr/local/lib/podman",
    "/usr/libexec/podman",
    "/usr/lib/podman",
];

/// Always on a helper's PATH, after the user's own directories.
pub const SBIN_DIRS: [&str; 3] = ["/usr/local/sbin", "/usr/sbin", "/sbin"];

/// Where helpers are looked for, and the PATH they get.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Helpers {
    /// Searched first: the configured directories.
    configured: Vec<PathBuf>,
    /// The caller's PATH with the sbin directories it lacks appended.
    path: OsString,
}

impl Helpers {
    /// `configured`: containers.conf's `helper_binaries_dir`; `path`: the user's PATH (none: the
    /// sbin directories only).
    pub fn new(configured: Vec<PathBuf>, path: Option<&OsStr>) -> Helpers {
        Helpers {
            configured,
            path: with_sbin(path.unwrap_or_default()),
        }
    }

    #[cfg(test)]
    /// The PATH helpers run with.
    pub fn path(&self) -> &OsStr {
        &self.path
    }

    /// The directories searched, in order.
    pub fn dirs(&self) -> impl Iterator<Item = PathBuf> + '_ {
        self.configured
            .iter()
            .cloned()
            .chain(LIBEXEC_DIRS.iter().map(PathBuf::from))
            .chain(
                std::env::split_paths(&self.path)
                    .filter(|d| d.is_absolute())
                    .collect::<Vec<_>>(),
            )
    }

    /// The first regular file called `name` in [`Helpers::dirs`].
    pub fn find(&self, name: &str) -> Option<PathBuf> {
        self.dirs().map(|d| d.join(name)).find(|p| p.is_file())
    }

    /// A command for the helper at `program`, with the helpers' PATH.
    pub fn command(&self, program: &Path) -> Command {
        let mut cmd = Command::new(program);
        cmd.env("PATH", &self.path);
        cmd
    }
}

/// `path` with each of [`SBIN_DIRS`] it lacks appended.
fn with_sbin(path: &OsStr) -> OsString {
    let mut dirs: Vec<PathBuf> = std::env::split_paths(path)
        .filter(|d| !d.as_os_str().is_empty())
        .collect();
    for s in SBIN_DIRS {
        if !dirs.iter().any(|d| d == Path::new(s)) {
            dirs.push(PathBuf::from(s));
        }
    }
    std::env::join_paths(dirs).unwrap_or_else(|_| SBIN_DIRS.join(":").into())
}

static HELPERS: OnceLock<Helpers> = OnceLock::new();

/// Set this process's helper search (once, at the edge; later calls are ignored).
pub fn init(helpers: Helpers) {
    let _ = HELPERS.set(helpers);
}

/// This process's helper search: the one [`init`] set, else podman's directories and the process's
/// PATH.
pub fn get() -> &'static Helpers {
    HELPERS.get_or_init(|| Helpers::new(Vec::new(), std::env::var_os("PATH").as_deref()))
}

/// Where helper `name` is installed ([`Helpers::find`] of this process's search).
pub fn find(name: &str) -> Option<PathBuf> {
    get().find(name)
}

/// A command for the helper at `program`, with the helpers' PATH.
pub fn command(program: &Path) -> Command {
    get().command(program)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    const DEBIAN_USER_PATH: &str = "/usr/local/bin:/usr/bin:/bin:/usr/local/games:/usr/games";

    fn touch(dir: &Path, name: &str) -> PathBuf {
        std::fs::create_dir_all(dir).unwrap();
        let p = dir.join(name);
        std::fs::write(&p, "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        p
    }

    #[test]
    fn sbin_dirs_are_added_to_a_debian_users_path() {
        let h = Helpers::new(Vec::new(), Some(OsStr::new(DEBIAN_USER_PATH)));
        assert_eq!(
            h.path(),
            "/usr/local/bin:/usr/bin:/bin:/usr/local/games:/usr/games:/usr/local/sbin:/usr/sbin:/sbin"
        );
        let root = Helpers::new(
            Vec::new(),
            Some(OsStr::new("/usr/sbin:/usr/bin:/sbin:/bin")),
        );
        assert_eq!(root.path(), "/usr/sbin:/usr/bin:/sbin:/bin:/usr/local/sbin");
        assert_eq!(
            Helpers::new(Vec::new(), None).path(),
            "/usr/local/sbin:/usr/sbin:/sbin"
        );
    }

    #[test]
    fn the_command_runs_with_the_helpers_path() {
        let h = Helpers::new(Vec::new(), Some(OsStr::new(DEBIAN_USER_PATH)));
        let out = h
            .command(Path::new("/bin/sh"))
            .args(["-c", "echo $PATH"])
            .output()
            .unwrap();
        assert_eq!(
            String::from_utf8_lossy(&out.stdout).trim(),
            h.path().to_string_lossy()
        );
    }

    #[test]
    fn configured_dirs_come_first_then_libexec_then_path() {
        let d = tempfile::tempdir().unwrap();
        let conf = d.path().join("conf");
        let user = d.path().join("bin");
        let user_tool = touch(&user, "tool");
        let path = std::env::join_paths([&user]).unwrap();
        let h = Helpers::new(vec![conf.clone()], Some(&path));
        assert_eq!(h.find("tool"), Some(user_tool));
        let conf_tool = touch(&conf, "tool");
        assert_eq!(h.find("tool"), Some(conf_tool));
        assert_eq!(h.find("no-such-helper-anywhere"), None);
        let dirs: Vec<PathBuf> = h.dirs().collect();
        assert_eq!(dirs[0], conf);
        assert_eq!(dirs[1..5], LIBEXEC_DIRS.map(PathBuf::from));
        assert_eq!(dirs[5], user);
        assert_eq!(dirs[6..], SBIN_DIRS.map(PathBuf::from));
    }

    #[test]
    fn directories_are_not_helpers_and_relative_path_entries_are_skipped() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join("tool")).unwrap();
        let h = Helpers::new(vec![d.path().to_owned()], Some(OsStr::new("relative:")));
        assert_eq!(h.find("tool"), None);
        assert!(h.dirs().all(|p| p.is_absolute()));
    }
}
