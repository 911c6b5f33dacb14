//! The fuse-overlayfs driver: Debian's `fuse-overlayfs` serves the container's root on its `merged` dir.
//!
//! The daemon runs in the mount namespace of the process that clones the container (a foreground `run`
//! or the monitor), inside roost's user namespace, and is started before the clone so that the container's
//! mount namespace starts with the mount in it. A FUSE daemon inside the container's own mount namespace
//! would serve a tree that `pivot_root` then detaches from under it. It runs in the foreground (`-f`) as
//! our child, in a session of its own (terminal signals don't reach it). Its pid is written next to the
//! container's runtime files so `rm` can end it when its parent was killed.
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use nix::mount::{MntFlags, umount2};
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};

use super::StorageError;

pub const BINARY: &str = "fuse-overlayfs";
const PIDFILE: &str = "fuse-overlayfs.pid";
const LOG: &str = "fuse-overlayfs.log";
const MOUNT_TIMEOUT: Duration = Duration::from_secs(10);

/// Whether fuse-overlayfs can run here: the binary and an openable `/dev/fuse`.
pub fn available() -> Result<(), String> {
    if crate::helpers::find(BINARY).is_none() {
        return Err(format!("`{BINARY}` is not installed"));
    }
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/fuse")
        .map(drop)
        .map_err(|e| format!("cannot open /dev/fuse: {e}"))
}

/// What to mount: layer dirs (top first), and an upper and work dir for a writable mount.
#[derive(Debug, Clone)]
pub struct Layers<'a> {
    pub lower: &'a [PathBuf],
    pub upper: Option<(&'a Path, &'a Path)>,
}

/// A running fuse-overlayfs mounted on `merged`; unmounted and reaped on [`FuseMount::unmount`] or drop.
#[derive(Debug)]
pub struct FuseMount {
    child: Option<Child>,
    merged: PathBuf,
    pidfile: Option<PathBuf>,
}

/// Mount `layers` on `merged` with fuse-overlayfs; `state` (the container's runtime dir) gets its pid and
/// its messages.
pub fn mount(layers: &Layers<'_>, merged: &Path, state: &Path) -> Result<FuseMount, StorageError> {
    let binary = crate::helpers::find(BINARY).ok_or(StorageError::NoFuseOverlayfs)?;
    let start_err = |source| StorageError::FuseStart {
        merged: merged.to_owned(),
        source,
    };
    std::fs::create_dir_all(state).map_err(start_err)?;
    std::fs::create_dir_all(merged).map_err(start_err)?;
    let log_path = state.join(LOG);
    let log = std::fs::File::create(&log_path).map_err(start_err)?;
    let (cwd, options) = options(layers);
    let mut cmd = crate::helpers::command(&binary);
    cmd.args(["-f", "-o", &options])
        .arg(merged)
        .current_dir(&cwd)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log);
    tracing::debug!(merged = %merged.display(), options = %options, cwd = %cwd.display(), "start fuse-overlayfs");
    let before = parent_dev(merged).map_err(start_err)?;
    let child = crate::sys::process::spawn_detached(&mut cmd, &[]).map_err(start_err)?;
    let pidfile = state.join(PIDFILE);
    let _ = std::fs::write(&pidfile, child.id().to_string());
    let mut m = FuseMount {
        child: Some(child),
        merged: merged.to_owned(),
        pidfile: Some(pidfile),
    };
    match wait_mounted(&mut m, before) {
        Ok(()) => Ok(m),
        Err(Waited::Exited) => {
            drop(m);
            let stderr = std::fs::read_to_string(&log_path).unwrap_or_default();
            Err(StorageError::FuseMount {
                merged: merged.to_owned(),
                stderr: stderr.trim().to_string(),
            })
        }
        Err(Waited::Timeout) => Err(StorageError::FuseTimeout {
            merged: merged.to_owned(),
            seconds: MOUNT_TIMEOUT.as_secs(),
        }),
    }
}

/// fuse-overlayfs's `-o` string, and the directory to run it in. Layers that share a parent (the store's
/// `layers/`) are named relative to it, which keeps the string short however many layers there are.
fn options(layers: &Layers<'_>) -> (PathBuf, String) {
    let base = layers
        .lower
        .first()
        .and_then(|l| l.parent()?.parent())
        .map(Path::to_path_buf)
        .filter(|b| layers.lower.iter().all(|l| l.starts_with(b)));
    let names: Vec<String> = layers
        .lower
        .iter()
        .map(|l| match &base {
            Some(b) => l.strip_prefix(b).unwrap_or(l).display().to_string(),
            None => l.display().to_string(),
        })
        .collect();
    let mut o = format!("lowerdir={}", names.join(":"));
    if let Some((upper, work)) = layers.upper {
        o.push_str(&format!(
            ",upperdir={},workdir={}",
            upper.display(),
            work.display()
        ));
    }
    (base.unwrap_or_else(|| PathBuf::from("/")), o)
}

fn parent_dev(merged: &Path) -> std::io::Result<u64> {
    let parent = merged.parent().unwrap_or(Path::new("/"));
    Ok(std::fs::metadata(parent)?.dev())
}

enum Waited {
    Exited,
    Timeout,
}

/// Wait until `merged` is a different file system than its parent (the mount is there), watching the
/// mount table for changes rather than sleeping; stop early if the daemon exits.
fn wait_mounted(m: &mut FuseMount, before: u64) -> Result<(), Waited> {
    let table = std::fs::File::open("/proc/self/mountinfo").ok();
    let start = Instant::now();
    loop {
        if std::fs::metadata(&m.merged).is_ok_and(|md| md.dev() != before) {
            return Ok(());
        }
        let exited = m
            .child
            .as_mut()
            .is_none_or(|c| c.try_wait().ok().flatten().is_some());
        if exited {
            m.child = None;
            return Err(Waited::Exited);
        }
        if start.elapsed() > MOUNT_TIMEOUT {
            return Err(Waited::Timeout);
        }
        match &table {
            // The mount table signals POLLPRI when it changes.
            Some(t) => {
                let mut pfd = [PollFd::new(t.as_fd(), PollFlags::POLLPRI)];
                let _ = poll(&mut pfd, PollTimeout::from(20u8));
            }
            None => std::thread::sleep(Duration::from_millis(2)),
        }
    }
}

impl FuseMount {
    /// Open the mounted root (`O_PATH`) and let go of the mount point: the mount lives on, detached,
    /// as long as the descriptor, and the daemon ends on its own when the last one closes.
    pub fn into_detached_root(mut self) -> std::io::Result<OwnedFd> {
        let fd = rustix::fs::open(
            &self.merged,
            rustix::fs::OFlags::PATH | rustix::fs::OFlags::DIRECTORY | rustix::fs::OFlags::CLOEXEC,
            rustix::fs::Mode::empty(),
        )?;
        let _ = umount2(&self.merged, MntFlags::MNT_DETACH);
        if let Some(p) = self.pidfile.take() {
            let _ = std::fs::remove_file(p);
        }
        // Not reaped by us: it exits when the view's descriptor closes (at the latest when we exit).
        self.child = None;
        Ok(fd)
    }

    fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        match umount2(&self.merged, MntFlags::MNT_DETACH) {
            Ok(()) | Err(nix::Error::EINVAL) | Err(nix::Error::ENOENT) => {}
            Err(e) => {
                tracing::debug!(merged = %self.merged.display(), error = %e, "unmount fuse-overlayfs")
            }
        }
        let pid = nix::unistd::Pid::from_raw(child.id() as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        let start = Instant::now();
        while child.try_wait().ok().flatten().is_none() {
            if start.elapsed() > Duration::from_secs(2) {
                let _ = child.kill();
                let _ = child.wait();
                break;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        if let Some(p) = self.pidfile.take() {
            let _ = std::fs::remove_file(p);
        }
    }
}

impl Drop for FuseMount {
    fn drop(&mut self) {
        self.stop();
    }
}

/// End a fuse-overlayfs left behind for the container whose runtime dir is `state` and whose root is
/// `merged` (its parent, a monitor, was killed): `rm` calls this after the container's processes are gone.
pub fn stop_leftover(state: &Path, merged: &Path) {
    let Some(pid) = std::fs::read_to_string(state.join(PIDFILE))
        .ok()
        .and_then(|s| s.trim().parse::<i32>().ok())
    else {
        return;
    };
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    let argv0 = cmdline.split(|&b| b == 0).next().unwrap_or_default();
    let ours = argv0.rsplit(|&b| b == b'/').next() == Some(BINARY.as_bytes())
        && String::from_utf8_lossy(&cmdline).contains(&*merged.to_string_lossy());
    if !ours {
        return;
    }
    let pid = nix::unistd::Pid::from_raw(pid);
    tracing::debug!(%pid, merged = %merged.display(), "stop leftover fuse-overlayfs");
    let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
    let start = Instant::now();
    while alive(pid.as_raw()) {
        if start.elapsed() > Duration::from_secs(1) {
            let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL);
            break;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    let _ = std::fs::remove_file(state.join(PIDFILE));
}

fn alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
        s.rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_some_and(|st| st != "Z" && st != "X")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_layers_are_named_relative_to_their_parent() {
        let lower = vec![
            PathBuf::from("/s/layers/bbb/diff"),
            PathBuf::from("/s/layers/aaa/diff"),
        ];
        let (up, wk) = (Path::new("/s/c/1/diff"), Path::new("/s/c/1/work"));
        let (cwd, o) = options(&Layers {
            lower: &lower,
            upper: Some((up, wk)),
        });
        assert_eq!(cwd, Path::new("/s/layers"));
        assert_eq!(
            o,
            "lowerdir=bbb/diff:aaa/diff,upperdir=/s/c/1/diff,workdir=/s/c/1/work"
        );
        let mixed = vec![
            PathBuf::from("/s/c/1/diff"),
            PathBuf::from("/s/layers/aaa/diff"),
        ];
        let (cwd, o) = options(&Layers {
            lower: &mixed,
            upper: None,
        });
        assert_eq!(cwd, Path::new("/"));
        assert_eq!(o, "lowerdir=/s/c/1/diff:/s/layers/aaa/diff");
    }
}
