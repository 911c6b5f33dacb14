//! Mount sources for a container whose user namespace leaves out roost's 0 (the caller, who owns roost's
//! private storage and runtime directories): its root cannot reach them by path. So the parent, with
//! roost's credentials, opens them before the clone as detached mounts (the root's overlay made with
//! fsmount, binds cloned with open_tree), which the child attaches in its own mount namespace. crun
//! does the same with its mount fds.
use std::os::fd::OwnedFd;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use rustix::mount::OpenTreeFlags;

use super::mounts::{StepResult, step};
use super::plan::{IdMaps, MountKind, Plan, RootfsMode};

/// Where the child attaches the root before it pivots into it: any directory of the host's tree the
/// container's root can reach (its mount namespace is private, so nothing else sees the mount).
pub const SCRATCH: &str = "/tmp";

/// A detached mount, whether its source is a directory (what its mount point must be), and whether
/// it is a volume's first use, which the child completes once it sees the image's content (it was
/// given to the container's root for that).
pub struct Tree {
    pub fd: OwnedFd,
    pub dir: bool,
    pub first_use: bool,
}

/// The container's detached mounts: its root, each of `Plan::binds`, and the binds of `Plan::mounts`
/// (None for mounts without a host source).
pub struct Detached {
    pub root: OwnedFd,
    pub binds: Vec<Tree>,
    pub mounts: Vec<Option<Tree>>,
}

/// Whether the container's namespace leaves out roost's uid or gid 0: then it needs [`Detached`] mounts.
pub fn needed(plan: &Plan) -> bool {
    match &plan.maps {
        IdMaps::Direct { uids, gids } => {
            let maps_caller = |m: &[crate::userns::IdRange]| m.iter().any(|r| r.host == 0);
            !maps_caller(uids) || !maps_caller(gids)
        }
        _ => false,
    }
}

/// Open everything the child would otherwise mount by path.
pub fn prepare(plan: &Plan) -> StepResult<Detached> {
    let root = match plan.rootfs.mode {
        RootfsMode::Overlay => super::mounts::overlay_tree(&plan.rootfs)?,
        RootfsMode::Ready => clone_tree(&plan.rootfs.merged)?.fd,
    };
    let binds = plan
        .binds
        .iter()
        .map(|b| clone_tree(&b.source))
        .collect::<Result<_, _>>()?;
    let mounts = plan
        .mounts
        .iter()
        .map(|m| mount_tree(plan, &m.kind, &m.target))
        .collect::<Result<_, _>>()?;
    Ok(Detached {
        root,
        binds,
        mounts,
    })
}

/// A volume's or bind's source, chowned here for `:U` and, empty on a first use, to the container's
/// root (the container cannot chown what its namespace does not map). An overlay volume (`:O`) would
/// need its directories by path: refused.
fn mount_tree(plan: &Plan, kind: &MountKind, target: &str) -> StepResult<Option<Tree>> {
    match kind {
        MountKind::Bind {
            source,
            chown,
            copy_up,
            first_chown,
            ..
        } => {
            if let Some((uid, gid)) = chown {
                chown_to(plan, source, (*uid, *gid), true)?;
            }
            let first_use = (*copy_up || first_chown.is_some()) && is_empty_dir(source);
            if first_use {
                chown_to(plan, source, (0, 0), false)?;
            }
            let mut tree = clone_tree(source)?;
            tree.first_use = first_use;
            Ok(Some(tree))
        }
        MountKind::Overlay { .. } => Err((
            format!("prepare the overlay volume (`:O`) at `{target}`"),
            std::io::Error::other(
                "not supported in a user namespace that leaves out your own id (it owns the volume's directories)",
            ),
        )),
        _ => Ok(None),
    }
}

fn is_empty_dir(p: &Path) -> bool {
    std::fs::read_dir(p).is_ok_and(|mut d| d.next().is_none())
}

/// Chown `path` (its whole tree with `recursive`) to container ids `ids`, as ids of roost's namespace.
fn chown_to(plan: &Plan, path: &Path, (uid, gid): (u32, u32), recursive: bool) -> StepResult {
    let IdMaps::Direct { uids, gids } = &plan.maps else {
        return Ok(());
    };
    let outer = |map: &[crate::userns::IdRange], id: u32| {
        map.iter()
            .find(|r| {
                id >= r.container && u64::from(id) < u64::from(r.container) + u64::from(r.size)
            })
            .map(|r| r.host + (id - r.container))
    };
    let what = || format!("chown `{}` to the container's {uid}:{gid}", path.display());
    let (Some(u), Some(g)) = (outer(uids, uid), outer(gids, gid)) else {
        let e = std::io::Error::other("the container's user namespace does not map these ids");
        return Err((what(), e));
    };
    // `:U` leaves a tree whose top is the user's already as it is (owners set in it later stay).
    let owned = std::fs::symlink_metadata(path).is_ok_and(|m| (m.uid(), m.gid()) == (u, g));
    if recursive && owned {
        return Ok(());
    }
    step(what, super::volumes::chown_ids(path, u, g, recursive))
}

/// A detached copy of the mount tree at `source` (recursive, like the binds it replaces).
fn clone_tree(source: &Path) -> StepResult<Tree> {
    let dir = source.is_dir();
    let fd = step(
        || format!("open `{}` as a detached mount", source.display()),
        rustix::mount::open_tree(
            rustix::fs::CWD,
            source,
            OpenTreeFlags::OPEN_TREE_CLONE
                | OpenTreeFlags::OPEN_TREE_CLOEXEC
                | OpenTreeFlags::AT_RECURSIVE,
        ),
    )?;
    Ok(Tree {
        fd,
        dir,
        first_use: false,
    })
}

/// In the child: attach the root at [`SCRATCH`] and return that path.
pub fn attach_root(d: &Detached) -> StepResult<PathBuf> {
    let at = PathBuf::from(SCRATCH);
    attach(&d.root, &at)?;
    Ok(at)
}

/// In the child: attach `tree` on `target` (made to exist first), read-only if asked.
pub fn attach_bind(tree: &Tree, target: &Path, read_only: bool) -> StepResult {
    super::mounts::ensure_target(target, tree.dir)?;
    attach(&tree.fd, target)?;
    if read_only {
        super::mounts::make_read_only(target)?;
    }
    Ok(())
}

fn attach(fd: &OwnedFd, target: &Path) -> StepResult {
    step(
        || format!("attach a detached mount at `{}`", target.display()),
        crate::sys::mount::attach_detached(fd, target),
    )
}
