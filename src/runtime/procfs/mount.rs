//! The container's side of the /proc view, in its mount namespace before pivot_root: mount the
//! FUSE file system, hand the connection to the parent, bind its files over /proc and /sys.
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::Path;

use nix::mount::{MntFlags, MsFlags, mount, umount2};

use super::fuse::File;
use crate::runtime::message::ChildEnd;
use crate::runtime::mounts::{StepResult, bind, inside, mkdir_p, nix_io, step};

/// Where the FUSE file system is mounted for a moment (in the container's own /dev tmpfs).
const STAGING: &str = "/dev/.roost-procview";

/// Open `/dev/fuse` and mount a connection on `dir`: the device, or why there is no FUSE.
fn mount_fuse(dir: &Path) -> Result<OwnedFd, String> {
    let dev = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/fuse")
        .map_err(|e| format!("cannot open /dev/fuse ({e})"))?;
    let dev = OwnedFd::from(dev);
    let data = format!(
        "fd={},rootmode=40000,user_id=0,group_id=0,allow_other,default_permissions",
        dev.as_raw_fd()
    );
    mount(
        Some("roost-procview"),
        dir,
        Some("fuse"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC | MsFlags::MS_RDONLY,
        Some(data.as_str()),
    )
    .map_err(|e| format!("the kernel refused a FUSE mount in the user namespace ({e})"))?;
    Ok(dev)
}

/// Mount the view and bind its files into `root` (whose /proc, /sys and /dev are mounted). The
/// parent gets the connection first: looking the files up needs it to answer.
pub fn attach(root: &Path, chan: &ChildEnd) -> StepResult {
    let dir = inside(root, STAGING);
    mkdir_p(&dir)?;
    let dev = match mount_fuse(&dir) {
        Ok(dev) => dev,
        Err(why) => {
            let _ = std::fs::remove_dir(&dir);
            return step(
                || "report that FUSE is unavailable".into(),
                chan.no_proc_view(why),
            );
        }
    };
    let sent = chan.send_proc_view(&dev);
    // Only the parent holds the connection now: if it goes, the view fails instead of hanging.
    drop(dev);
    step(|| "pass the /proc view's FUSE connection".into(), sent)?;
    for f in File::ALL {
        let target = inside(root, f.target());
        if target.is_file() {
            bind(&dir.join(f.name()), &target, false, false)?;
        }
    }
    step(
        || format!("detach `{STAGING}`"),
        umount2(&dir, MntFlags::MNT_DETACH).map_err(nix_io),
    )?;
    step(|| format!("remove `{STAGING}`"), std::fs::remove_dir(&dir))
}
