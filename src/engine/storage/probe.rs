//! The one-time probe: can this kernel mount overlay inside a user namespace the way the runtime does it
//! (`userxattr`, with the interface `sys::overlay` picks for this kernel), on the store's file system? Else, can fuse-overlayfs run?
use std::io::{Read, Write};
use std::path::Path;

use super::{Driver, Selected, fuse};
use crate::sys::clone::{Cloned, clone_process, exit_now};
use crate::sys::overlay;

/// Pick the first driver that works here, with the reason.
pub(super) fn probe(tmp: &Path) -> Selected {
    let overlay = kernel_overlay(tmp);
    tracing::debug!(result = ?overlay, "probed kernel overlay in a user namespace");
    let release = nix::sys::utsname::uname()
        .map(|u| u.release().to_string_lossy().into_owned())
        .unwrap_or_default();
    let why_not = match overlay {
        Ok(()) => {
            return Selected {
                driver: Driver::Overlay,
                why: format!(
                    "probed: kernel {release} mounts overlay inside a user namespace (userxattr, {})",
                    overlay::Interface::of_running_kernel().describe()
                ),
            };
        }
        Err(e) => e,
    };
    match fuse::available() {
        Ok(()) => Selected {
            driver: Driver::FuseOverlayfs,
            why: format!(
                "probed: kernel {release} cannot mount overlay in a user namespace ({why_not}); using {}",
                fuse::BINARY
            ),
        },
        Err(fuse_why) => Selected {
            driver: Driver::Vfs,
            why: format!(
                "probed: kernel {release} cannot mount overlay in a user namespace ({why_not}) and fuse-overlayfs \
                 cannot run ({fuse_why}); containers get a full copy of their image"
            ),
        },
    }
}

/// Mount (detached, so nothing shows anywhere) a two-layer overlay in a fresh user and mount namespace,
/// in a child process; `Err` says which step failed.
pub(super) fn kernel_overlay(tmp: &Path) -> Result<(), String> {
    use std::os::unix::fs::DirBuilderExt;
    let dir = std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(tmp)
        .and_then(|()| {
            tempfile::Builder::new()
                .prefix("probe-overlay-")
                .tempdir_in(tmp)
        })
        .map_err(|e| format!("create a probe directory in `{}`: {e}", tmp.display()))?;
    for d in ["l1", "l2", "u", "w", "m"] {
        std::fs::create_dir(dir.path().join(d)).map_err(|e| format!("create probe dir: {e}"))?;
    }
    let (r, w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
        .map_err(|e| format!("create a pipe: {e}"))?;
    let (uid, gid) = (nix::unistd::geteuid(), nix::unistd::getegid());
    let flags = libc::CLONE_NEWUSER | libc::CLONE_NEWNS;
    match clone_process(flags).map_err(|e| format!("create a user namespace: {e}"))? {
        Cloned::Child => {
            drop(r);
            let result = map_self(uid.as_raw(), gid.as_raw()).and_then(|()| mount(dir.path()));
            let code = match result {
                Ok(()) => 0,
                Err(msg) => {
                    let _ = std::fs::File::from(w).write_all(msg.as_bytes());
                    1
                }
            };
            exit_now(code)
        }
        Cloned::Parent(pid) => {
            drop(w);
            let mut msg = String::new();
            let _ = std::fs::File::from(r).read_to_string(&mut msg);
            let status = nix::sys::wait::waitpid(pid, None);
            // The kernel leaves `w/work` mode 000, which stops the directory's removal part way.
            use std::os::unix::fs::PermissionsExt;
            let _ = std::fs::set_permissions(
                dir.path().join("w/work"),
                std::fs::Permissions::from_mode(0o700),
            );
            match status {
                Ok(nix::sys::wait::WaitStatus::Exited(_, 0)) => Ok(()),
                _ if !msg.is_empty() => Err(msg),
                other => Err(format!("the probe process ended with {other:?}")),
            }
        }
    }
}

/// In the probe child: map our own ids to 0 in the new user namespace.
fn map_self(uid: u32, gid: u32) -> Result<(), String> {
    let w = |f: &str, v: String| {
        std::fs::write(format!("/proc/self/{f}"), v).map_err(|e| format!("write {f}: {e}"))
    };
    w("setgroups", "deny".into())?;
    w("uid_map", format!("0 {uid} 1\n"))?;
    w("gid_map", format!("0 {gid} 1\n"))
}

fn mount(dir: &Path) -> Result<(), String> {
    let lower = [dir.join("l1"), dir.join("l2")];
    let layers = overlay::Layers {
        lower: &lower,
        upper: Some((&dir.join("u"), &dir.join("w"))),
        read_only: false,
    };
    overlay::detached(&layers, &dir.join("m"))
        .map(drop)
        .map_err(|f| f.to_string())
}
