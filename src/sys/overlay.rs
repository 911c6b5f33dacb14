//! The kernel overlay, mounted with whichever interface the running kernel has. Linux 6.8 and newer
//! take one `lowerdir+` per layer through the new mount API, so a stack of any depth fits. Older
//! kernels (Debian 12's 6.1, Ubuntu 22.04's 5.15, RHEL 9's 5.14: overlay works in a user namespace
//! since 5.11) only parse a `lowerdir=a:b:c` option string, which the new API limits to 256 bytes and
//! mount(2) to a page; there roost passes the string to mount(2), with the layers named relative to
//! their common directory (through a `/proc/self/fd` path) so that deep images still fit.
#![deny(clippy::print_stdout, clippy::print_stderr)]

use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

use nix::mount::{MntFlags, MsFlags, mount, umount2};
use rustix::mount::{FsMountFlags, FsOpenFlags, MountAttrFlags, OpenTreeFlags};

/// What to stack: `lower` top first; with `upper` (upper dir, work dir) the overlay is writable.
pub struct Layers<'a> {
    pub lower: &'a [PathBuf],
    pub upper: Option<(&'a Path, &'a Path)>,
    pub read_only: bool,
}

/// A step that failed, and the kernel's error.
#[derive(Debug)]
pub struct Failed {
    pub what: String,
    pub error: io::Error,
}

impl std::fmt::Display for Failed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.what, self.error)
    }
}

impl From<Failed> for io::Error {
    fn from(f: Failed) -> Self {
        io::Error::new(f.error.kind(), f.to_string())
    }
}

fn failed(what: impl Into<String>) -> impl FnOnce(io::Error) -> Failed {
    let what = what.into();
    move |error| Failed { what, error }
}

/// The interface roost uses on this kernel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interface {
    /// fsopen/fsconfig with `lowerdir+` (Linux 6.8+).
    LowerdirPlus,
    /// mount(2) with a `lowerdir=` option string of at most a page.
    OptionString,
}

impl Interface {
    pub fn of_running_kernel() -> Interface {
        let release = nix::sys::utsname::uname()
            .map(|u| u.release().to_string_lossy().into_owned())
            .unwrap_or_default();
        Interface::for_release(&release)
    }

    fn for_release(release: &str) -> Interface {
        let mut parts = release.split(|c: char| !c.is_ascii_digit());
        let mut next = || {
            parts
                .next()
                .and_then(|p| p.parse::<u32>().ok())
                .unwrap_or(0)
        };
        match (next(), next()) >= (6, 8) {
            true => Interface::LowerdirPlus,
            false => Interface::OptionString,
        }
    }

    pub fn describe(self) -> &'static str {
        match self {
            Interface::LowerdirPlus => "new mount API, lowerdir+",
            Interface::OptionString => "mount(2) option string",
        }
    }
}

/// Mount the overlay on `target`.
pub fn attach(layers: &Layers, target: &Path) -> Result<(), Failed> {
    match Interface::of_running_kernel() {
        Interface::LowerdirPlus => super::mount::attach_detached(fsmount(layers)?, target).map_err(
            failed(format!("attach the overlay at `{}`", target.display())),
        ),
        Interface::OptionString => mount_string(layers, target),
    }
}

/// The overlay as a detached mount (it lives as long as the descriptor and its attachments). The
/// option-string interface can only mount on a path: `scratch`, a directory of ours, is used for a
/// moment (in this process's mount namespace, which must be private) and left as it was.
pub fn detached(layers: &Layers, scratch: &Path) -> Result<OwnedFd, Failed> {
    match Interface::of_running_kernel() {
        Interface::LowerdirPlus => fsmount(layers),
        Interface::OptionString => {
            mount_string(layers, scratch)?;
            let tree = rustix::mount::open_tree(
                rustix::fs::CWD,
                scratch,
                OpenTreeFlags::OPEN_TREE_CLONE | OpenTreeFlags::OPEN_TREE_CLOEXEC,
            );
            let _ = umount2(scratch, MntFlags::MNT_DETACH);
            tree.map_err(io::Error::from).map_err(failed(format!(
                "open the overlay on `{}`",
                scratch.display()
            )))
        }
    }
}

fn fsmount(layers: &Layers) -> Result<OwnedFd, Failed> {
    let fs = rustix::mount::fsopen("overlay", FsOpenFlags::FSOPEN_CLOEXEC)
        .map_err(io::Error::from)
        .map_err(failed("open the overlay file system (fsopen)"))?;
    let set = |k: &str, v: &Path| {
        rustix::mount::fsconfig_set_string(fs.as_fd(), k, v)
            .map_err(io::Error::from)
            .map_err(failed(format!("configure overlay {k}=`{}`", v.display())))
    };
    for l in layers.lower {
        set("lowerdir+", l)?;
    }
    if let Some((upper, work)) = layers.upper {
        set("upperdir", upper)?;
        set("workdir", work)?;
    }
    rustix::mount::fsconfig_set_flag(fs.as_fd(), "userxattr")
        .map_err(io::Error::from)
        .map_err(failed("configure overlay userxattr"))?;
    rustix::mount::fsconfig_create(fs.as_fd())
        .map_err(io::Error::from)
        .map_err(failed(
            "create the overlay mount (lower dirs must be on a file system that supports it)",
        ))?;
    let attrs = match layers.read_only {
        true => MountAttrFlags::MOUNT_ATTR_RDONLY,
        false => MountAttrFlags::empty(),
    };
    rustix::mount::fsmount(fs.as_fd(), FsMountFlags::FSMOUNT_CLOEXEC, attrs)
        .map_err(io::Error::from)
        .map_err(failed("fsmount overlay"))
}

/// mount(2)'s option data is copied up to a page, its last byte a NUL.
const OPTIONS_MAX: usize = 4095;

fn mount_string(layers: &Layers, target: &Path) -> Result<(), Failed> {
    let common = common_dir(layers.lower);
    let base = match &common {
        Some(dir) => Some(
            rustix::fs::open(
                dir,
                rustix::fs::OFlags::PATH
                    | rustix::fs::OFlags::DIRECTORY
                    | rustix::fs::OFlags::CLOEXEC,
                rustix::fs::Mode::empty(),
            )
            .map_err(io::Error::from)
            .map_err(failed(format!("open `{}`", dir.display())))?,
        ),
        None => None,
    };
    let prefix = base.as_ref().zip(common.as_deref()).map(|(fd, dir)| {
        (
            PathBuf::from(format!("/proc/self/fd/{}", fd.as_raw_fd())),
            dir,
        )
    });
    let options = option_string(layers, prefix.as_ref().map(|(p, d)| (p.as_path(), *d)));
    if options.len() > OPTIONS_MAX {
        return Err(Failed {
            what: format!(
                "mount an overlay of {} layers: its options take {} bytes and this kernel's mount(2) takes at most {OPTIONS_MAX} (Linux 6.8 and newer have no such limit)",
                layers.lower.len(),
                options.len()
            ),
            error: io::Error::from_raw_os_error(libc::E2BIG),
        });
    }
    let flags = match layers.read_only {
        true => MsFlags::MS_RDONLY,
        false => MsFlags::empty(),
    };
    mount(
        Some("overlay"),
        target,
        Some("overlay"),
        flags,
        Some(options.as_str()),
    )
    .map_err(io::Error::from)
    .map_err(failed(format!(
        "mount the overlay on `{}` (lower dirs must be on a file system that supports it)",
        target.display()
    )))
}

/// The option string; with `relative_to` (a path that reaches directory D, and D), layers under D are
/// named through the first.
fn option_string(layers: &Layers, relative_to: Option<(&Path, &Path)>) -> String {
    let name =
        |p: &Path| match relative_to.and_then(|(via, d)| Some(via.join(p.strip_prefix(d).ok()?))) {
            Some(short) => escape(&short),
            None => escape(p),
        };
    let lower: Vec<String> = layers.lower.iter().map(|l| name(l)).collect();
    let mut o = format!("lowerdir={}", lower.join(":"));
    if let Some((upper, work)) = layers.upper {
        o.push_str(&format!(
            ",upperdir={},workdir={}",
            escape(upper),
            escape(work)
        ));
    }
    o.push_str(",userxattr");
    o
}

/// Overlay splits options at `,` and layers at `:`; a backslash escapes either (and itself).
fn escape(p: &Path) -> String {
    let mut s = String::new();
    for c in p.to_string_lossy().chars() {
        if matches!(c, '\\' | ',' | ':') {
            s.push('\\');
        }
        s.push(c);
    }
    s
}

/// The deepest directory that holds every layer, when there are several and it is not `/`.
fn common_dir(lower: &[PathBuf]) -> Option<PathBuf> {
    if lower.len() < 2 {
        return None;
    }
    let mut common = lower[0].parent()?.to_path_buf();
    for l in &lower[1..] {
        while !l.starts_with(&common) {
            common = common.parent()?.to_path_buf();
        }
    }
    (common != Path::new("/")).then_some(common)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layers<'a>(lower: &'a [PathBuf], upper: Option<(&'a Path, &'a Path)>) -> Layers<'a> {
        Layers {
            lower,
            upper,
            read_only: false,
        }
    }

    #[test]
    fn kernels_from_6_8_take_lowerdir_plus() {
        assert_eq!(
            Interface::for_release("6.1.0-28-amd64"),
            Interface::OptionString
        );
        assert_eq!(
            Interface::for_release("5.15.0-91-generic"),
            Interface::OptionString
        );
        assert_eq!(Interface::for_release("6.8.0"), Interface::LowerdirPlus);
        assert_eq!(
            Interface::for_release("6.18.44-fc-v1300"),
            Interface::LowerdirPlus
        );
        assert_eq!(Interface::for_release("7.0"), Interface::LowerdirPlus);
        assert_eq!(Interface::for_release(""), Interface::OptionString);
    }

    #[test]
    fn layers_are_named_relative_to_their_common_directory() {
        let lower = [
            PathBuf::from("/home/u/.local/share/roost/layers/bbb/diff"),
            PathBuf::from("/home/u/.local/share/roost/layers/aaa/diff"),
        ];
        assert_eq!(
            common_dir(&lower).unwrap(),
            Path::new("/home/u/.local/share/roost/layers")
        );
        let (up, work) = (Path::new("/s/c/1/diff"), Path::new("/s/c/1/work"));
        let o = option_string(
            &layers(&lower, Some((up, work))),
            Some((Path::new("/proc/self/fd/7"), &common_dir(&lower).unwrap())),
        );
        assert_eq!(
            o,
            "lowerdir=/proc/self/fd/7/bbb/diff:/proc/self/fd/7/aaa/diff,upperdir=/s/c/1/diff,workdir=/s/c/1/work,userxattr"
        );
    }

    #[test]
    fn one_layer_or_layers_only_sharing_the_root_stay_absolute() {
        assert_eq!(common_dir(&[PathBuf::from("/a/b")]), None);
        assert_eq!(
            common_dir(&[PathBuf::from("/a/b"), PathBuf::from("/c/d")]),
            None
        );
        let lower = [PathBuf::from("/v/a,b:c")];
        assert_eq!(
            option_string(&layers(&lower, None), None),
            "lowerdir=/v/a\\,b\\:c,userxattr"
        );
    }

    /// In a child with its own user and mount namespace, run `f` and report what it returned.
    fn in_user_namespace(f: impl FnOnce() -> Result<(), String>) -> Result<(), String> {
        use nix::unistd::ForkResult;
        use std::io::{Read, Write};
        let (r, w) = nix::unistd::pipe().unwrap();
        let (uid, gid) = (nix::unistd::geteuid(), nix::unistd::getegid());
        // SAFETY: the test harness has other threads, so the child may only rely on what fork keeps
        // usable; glibc's fork leaves malloc's locks usable in the child, and the child ends with _exit
        // without returning into the harness.
        match unsafe { nix::unistd::fork() }.unwrap() {
            ForkResult::Child => {
                drop(r);
                let map = |f: &str, v: String| std::fs::write(format!("/proc/self/{f}"), v);
                let flags =
                    nix::sched::CloneFlags::CLONE_NEWUSER | nix::sched::CloneFlags::CLONE_NEWNS;
                let result = nix::sched::unshare(flags)
                    .map_err(std::io::Error::from)
                    .and_then(|()| map("setgroups", "deny".into()))
                    .and_then(|()| map("uid_map", format!("0 {uid} 1")))
                    .and_then(|()| map("gid_map", format!("0 {gid} 1")))
                    .map_err(|e| e.to_string())
                    .and_then(|()| f());
                let msg = result.err().unwrap_or_default();
                let _ = std::fs::File::from(w).write_all(msg.as_bytes());
                // SAFETY: ends the forked child at once, without running the harness's code.
                unsafe { libc::_exit(0) }
            }
            ForkResult::Parent { child: pid } => {
                drop(w);
                let mut msg = String::new();
                std::fs::File::from(r).read_to_string(&mut msg).unwrap();
                nix::sys::wait::waitpid(pid, None).unwrap();
                if msg.is_empty() { Ok(()) } else { Err(msg) }
            }
        }
    }

    /// The option-string interface (what kernels before 6.8 get) really stacks the layers, top first.
    #[test]
    fn the_option_string_mounts_a_stack() {
        let t = tempfile::tempdir().unwrap();
        let dir = t.path();
        let lower: Vec<PathBuf> = (0..3)
            .map(|i| dir.join(format!("layers/l{i}/diff")))
            .collect();
        for (i, l) in lower.iter().enumerate() {
            std::fs::create_dir_all(l).unwrap();
            std::fs::write(l.join(format!("only{i}")), "").unwrap();
            std::fs::write(l.join("which"), format!("{i}")).unwrap();
        }
        for d in ["u", "w", "m"] {
            std::fs::create_dir(dir.join(d)).unwrap();
        }
        let (u, w, m) = (dir.join("u"), dir.join("w"), dir.join("m"));
        let outcome = in_user_namespace(|| {
            let layers = Layers {
                lower: &lower,
                upper: Some((&u, &w)),
                read_only: false,
            };
            mount_string(&layers, &m).map_err(|f| f.to_string())?;
            let which = std::fs::read_to_string(m.join("which")).map_err(|e| e.to_string())?;
            let all = (0..3).all(|i| m.join(format!("only{i}")).exists());
            std::fs::write(m.join("new"), "").map_err(|e| e.to_string())?;
            match (which.as_str(), all) {
                ("0", true) => Ok(()),
                _ => Err(format!("merged view wrong: which={which} all={all}")),
            }
        });
        outcome.unwrap();
        assert!(u.join("new").exists(), "the write went to the upper dir");
    }

    #[test]
    fn too_many_layers_for_a_page_are_refused_with_the_reason() {
        let lower: Vec<PathBuf> = (0..200)
            .map(|i| PathBuf::from(format!("/nonexistent-{i:0>60}/diff")))
            .collect();
        let layers = Layers {
            lower: &lower,
            upper: None,
            read_only: true,
        };
        let e = mount_string(&layers, Path::new("/nonexistent")).unwrap_err();
        assert!(e.what.contains("200 layers"), "{e}");
    }
}
