//! Building the container's root inside its mount namespace: overlay, /proc, /sys, /dev, binds, masks,
//! then pivot_root. Runs in the cloned child, as uid 0 of the user namespace.
use std::os::unix::fs::{DirBuilderExt, symlink};
use std::path::{Path, PathBuf};

use nix::mount::{MntFlags, MsFlags, mount, umount2};

use super::detached::Detached;
use super::plan::Plan;

/// A failed step: what we were doing and the error.
pub(super) type StepResult<T = ()> = Result<T, (String, std::io::Error)>;

pub(super) fn step<T, E: Into<std::io::Error>>(
    what: impl FnOnce() -> String,
    r: Result<T, E>,
) -> Result<T, (String, std::io::Error)> {
    r.map_err(|e| (what(), e.into()))
}

pub(super) fn nix_io(e: nix::Error) -> std::io::Error {
    std::io::Error::from(e)
}

/// Inside the new root (before pivot), the host path for a container path.
pub(super) fn inside(root: &Path, path: &str) -> PathBuf {
    root.join(path.trim_start_matches('/'))
}

/// Mount the container's overlay on its root (see `sys::overlay` for the kernel interfaces).
fn mount_overlay(plan: &Plan) -> StepResult {
    let r = &plan.rootfs;
    crate::sys::overlay::attach(&layers(r), &r.merged).map_err(|f| (f.what, f.error))
}

fn layers(r: &super::plan::Rootfs) -> crate::sys::overlay::Layers<'_> {
    crate::sys::overlay::Layers {
        lower: &r.lower,
        // Always with an upper dir: `--read-only` remounts the root read-only once the mount points exist.
        upper: Some((&r.upper, &r.work)),
        read_only: false,
    }
}

/// The overlay of `r`, as a detached mount (its root dir serves as the scratch mount point older
/// kernels need).
pub(super) fn overlay_tree(r: &super::plan::Rootfs) -> StepResult<std::os::fd::OwnedFd> {
    crate::sys::overlay::detached(&layers(r), &r.merged).map_err(|f| (f.what, f.error))
}

pub(super) fn mkdir_p(p: &Path) -> StepResult {
    step(
        || format!("create `{}`", p.display()),
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o755)
            .create(p),
    )
}

/// Make `target` exist as a file or directory, like `source`, so something can be mounted on it.
pub(super) fn ensure_target(target: &Path, dir: bool) -> StepResult {
    if std::fs::symlink_metadata(target).is_ok() {
        return Ok(());
    }
    if dir {
        return mkdir_p(target);
    }
    if let Some(p) = target.parent() {
        mkdir_p(p)?;
    }
    step(
        || format!("create `{}`", target.display()),
        std::fs::File::create(target).map(drop),
    )
}

pub(super) fn bind(source: &Path, target: &Path, read_only: bool, recursive: bool) -> StepResult {
    let dir = source.is_dir();
    ensure_target(target, dir)?;
    let mut flags = MsFlags::MS_BIND;
    if recursive {
        flags |= MsFlags::MS_REC;
    }
    step(
        || format!("bind `{}` on `{}`", source.display(), target.display()),
        mount(Some(source), target, None::<&str>, flags, None::<&str>).map_err(nix_io),
    )?;
    if read_only {
        make_read_only(target)?;
    }
    Ok(())
}

/// Remount the bind mount at `target` read-only.
pub(super) fn make_read_only(target: &Path) -> StepResult {
    step(
        || format!("make `{}` read-only", target.display()),
        crate::sys::mount::remount_bind_read_only(target).map_err(nix_io),
    )
}

/// A tmpfs /dev/shm (none for `--ipc none`) and an mqueue of the container's own IPC namespace.
fn mount_private_ipc(shm: Option<&Path>, size: Option<u64>, mq: &Path) -> StepResult {
    if let Some(shm) = shm {
        mount_shm(shm, size)?;
    }
    // mqueue needs the IPC namespace to be ours; skip quietly if the kernel refuses.
    let _ = mount(
        Some("mqueue"),
        mq,
        Some("mqueue"),
        MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC | MsFlags::MS_NODEV,
        None::<&str>,
    );
    Ok(())
}

fn mount_shm(shm: &Path, size: Option<u64>) -> StepResult {
    let opts = match size {
        Some(bytes) => format!("mode=1777,size={bytes}"),
        None => "mode=1777,size=65536k".to_string(),
    };
    step(
        || format!("mount tmpfs on /dev/shm ({opts})"),
        mount(
            Some("shm"),
            shm,
            Some("tmpfs"),
            MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC | MsFlags::MS_NODEV,
            Some(opts.as_str()),
        )
        .map_err(nix_io),
    )
}

/// /dev: a tmpfs with the usual nodes bound from the host, a private devpts, shm and mqueue (the
/// caller's shm and mqueue when the IPC namespace is shared).
fn mount_dev(
    root: &Path,
    single_mapping: bool,
    shared: &super::plan::SharedNamespaces,
    shm_of: Option<&Path>,
) -> StepResult {
    let shared_ipc = shared.ipc;
    let dev = inside(root, "/dev");
    mkdir_p(&dev)?;
    step(
        || "mount tmpfs on /dev".into(),
        mount(
            Some("tmpfs"),
            &dev,
            Some("tmpfs"),
            MsFlags::MS_NOSUID | MsFlags::MS_STRICTATIME,
            Some("mode=755,size=65536k"),
        )
        .map_err(nix_io),
    )?;
    for node in ["null", "zero", "full", "random", "urandom", "tty"] {
        bind(
            Path::new("/dev").join(node).as_path(),
            &dev.join(node),
            false,
            false,
        )?;
    }
    let pts = dev.join("pts");
    mkdir_p(&pts)?;
    let mount_pts = |opts: &str| {
        mount(
            Some("devpts"),
            &pts,
            Some("devpts"),
            MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC,
            Some(opts),
        )
    };
    let without_gid = "newinstance,ptmxmode=0666,mode=0620";
    // The kernel refuses `gid=5` (EINVAL) where gid 5 is not mapped: a namespace of roost's own
    // that maps only the caller's id (a user without /etc/subgid ranges), as crun retries.
    let mounted = match single_mapping {
        true => mount_pts(without_gid),
        false => match mount_pts("newinstance,ptmxmode=0666,mode=0620,gid=5") {
            Err(nix::errno::Errno::EINVAL) => mount_pts(without_gid),
            other => other,
        },
    };
    step(
        || "mount devpts on /dev/pts".into(),
        mounted.map_err(nix_io),
    )?;
    step(
        || "link /dev/ptmx".into(),
        symlink("pts/ptmx", dev.join("ptmx")),
    )?;
    let shm = dev.join("shm");
    if !shared.no_shm {
        mkdir_p(&shm)?;
    }
    let mq = dev.join("mqueue");
    mkdir_p(&mq)?;
    if shared_ipc {
        bind(Path::new("/dev/shm"), &shm, false, true)?;
        if Path::new("/dev/mqueue").is_dir() {
            bind(Path::new("/dev/mqueue"), &mq, false, true)?;
        }
    } else if let Some(proc_dir) = shm_of {
        attach_shm_of(proc_dir, &shm)?;
        mount_private_ipc(None, None, &mq)?;
    } else {
        mount_private_ipc(
            (!shared.no_shm).then_some(shm.as_path()),
            shared.shm_size,
            &mq,
        )?;
    }
    for (name, target) in [
        ("fd", "/proc/self/fd"),
        ("stdin", "/proc/self/fd/0"),
        ("stdout", "/proc/self/fd/1"),
        ("stderr", "/proc/self/fd/2"),
    ] {
        step(
            || format!("link /dev/{name}"),
            symlink(target, dev.join(name)),
        )?;
    }
    step(
        || "link /dev/core".into(),
        symlink("/proc/kcore", dev.join("core")),
    )?;
    Ok(())
}

/// The /dev/shm mount of the process `/proc/PID` (a pod's infra container, whose mount namespace holds
/// the pod's sized tmpfs) attached at `target`. open_tree(2) clones only mounts of the caller's own
/// mount namespace, so the clone is made from inside that one (setns needs a single-threaded caller
/// with its own fs struct: the cloned child is), and the detached copy is moved into ours.
fn attach_shm_of(proc_dir: &Path, target: &Path) -> StepResult {
    use rustix::fs::{Mode, OFlags};
    use rustix::mount::OpenTreeFlags;
    use std::os::fd::AsFd;
    let what = || format!("take the pod's /dev/shm from `{}`", proc_dir.display());
    let ours = step(what, std::fs::File::open("/proc/self/ns/mnt"))?;
    let theirs = step(what, std::fs::File::open(proc_dir.join("ns/mnt")))?;
    let flags = OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC;
    let their_root = step(
        what,
        rustix::fs::open(proc_dir.join("root"), flags, Mode::empty()),
    )?;
    let enter = |ns: &std::fs::File| nix::sched::setns(ns, nix::sched::CloneFlags::CLONE_NEWNS);
    step(what, enter(&theirs).map_err(nix_io))?;
    let tree = rustix::mount::open_tree(
        their_root.as_fd(),
        "dev/shm",
        OpenTreeFlags::OPEN_TREE_CLONE | OpenTreeFlags::OPEN_TREE_CLOEXEC,
    );
    // Back before anything else: the rest of the root is built in our namespace.
    step(what, enter(&ours).map_err(nix_io))?;
    let tree = step(what, tree)?;
    step(
        || format!("attach the pod's /dev/shm at `{}`", target.display()),
        crate::sys::mount::attach_detached(tree, target),
    )
}

fn mask(root: &Path, path: &str) -> StepResult {
    let p = inside(root, path);
    match std::fs::symlink_metadata(&p) {
        Err(_) => Ok(()),
        Ok(m) if m.is_dir() => step(
            || format!("mask `{path}`"),
            mount(
                Some("tmpfs"),
                &p,
                Some("tmpfs"),
                MsFlags::MS_RDONLY,
                Some("size=0"),
            )
            .map_err(nix_io),
        ),
        Ok(_) => bind(Path::new("/dev/null"), &p, false, false),
    }
}

/// The container's own cgroup (the root of its cgroup namespace) at /sys/fs/cgroup, read-only as
/// podman mounts it.
fn mount_cgroup(root: &Path) -> StepResult {
    let dir = inside(root, "/sys/fs/cgroup");
    let flags = MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC | MsFlags::MS_NODEV;
    let cgroup2 = || {
        mount(
            Some("cgroup2"),
            &dir,
            Some("cgroup2"),
            flags | MsFlags::MS_RDONLY,
            None::<&str>,
        )
    };
    match cgroup2() {
        // /sys is the host's, bound (a container in another's network namespace, e.g. in a pod):
        // its /sys/fs/cgroup is the root of a cgroup2 mount, on which the kernel refuses the same
        // file system again, and which cannot be unmounted (locked). A tmpfs over it first.
        Err(nix::errno::Errno::EBUSY) => {
            step(
                || "mount tmpfs under /sys/fs/cgroup".into(),
                mount(Some("tmpfs"), &dir, Some("tmpfs"), flags, Some("size=0")).map_err(nix_io),
            )?;
            step(|| "mount /sys/fs/cgroup".into(), cgroup2().map_err(nix_io))
        }
        r => step(|| "mount /sys/fs/cgroup".into(), r.map_err(nix_io)),
    }
}

/// Everything from the overlay to pivot_root. After this, `/` is the container's root.
pub(super) fn build_root(
    plan: &Plan,
    single_mapping: bool,
    chan: &super::message::ChildEnd,
    detached: Option<&Detached>,
) -> StepResult {
    step(
        || "make mounts private".into(),
        mount(
            None::<&str>,
            "/",
            None::<&str>,
            MsFlags::MS_REC | MsFlags::MS_PRIVATE,
            None::<&str>,
        )
        .map_err(nix_io),
    )?;
    let root = attach_root(plan, detached)?;
    let root = root.as_path();
    mount_proc(plan, root)?;
    mount_sys(plan, root)?;
    if plan.cgroup.as_ref().is_some_and(|c| c.private_ns) {
        mount_cgroup(root)?;
    }
    mount_dev(root, single_mapping, &plan.shared, plan.join.shm.as_deref())?;
    if plan.proc_view() {
        super::procfs::mount::attach(root, chan)?;
    }
    mount_planned(plan, root, detached)?;
    if plan.rootfs.read_only {
        remount_read_only(root)?;
    }
    pivot(root)
}

/// The root mounted (or bound onto itself) at the plan's path, or attached from its detached mount.
fn attach_root(plan: &Plan, detached: Option<&Detached>) -> StepResult<PathBuf> {
    let root = plan.rootfs.merged.as_path();
    match (detached, plan.rootfs.mode) {
        (Some(d), _) => return super::detached::attach_root(d),
        (None, super::plan::RootfsMode::Overlay) => mount_overlay(plan)?,
        (None, super::plan::RootfsMode::Ready) => bind(root, root, false, true)?,
    }
    Ok(root.to_path_buf())
}

/// /proc: a new procfs, or the caller's with `--pid host`.
fn mount_proc(plan: &Plan, root: &Path) -> StepResult {
    let proc_dir = inside(root, "/proc");
    mkdir_p(&proc_dir)?;
    if plan.shared.pid {
        // The caller's pid namespace belongs to a user namespace we do not own: its procfs can
        // only be bound (with everything mounted under it), as crun does for `--pid host`.
        bind(Path::new("/proc"), &proc_dir, false, true)?;
    } else {
        step(
            || "mount /proc".into(),
            mount(
                Some("proc"),
                &proc_dir,
                Some("proc"),
                MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC | MsFlags::MS_NODEV,
                None::<&str>,
            )
            .map_err(nix_io),
        )?;
    }
    Ok(())
}

/// /sys: a new read-only sysfs, or the host's bound read-only.
fn mount_sys(plan: &Plan, root: &Path) -> StepResult {
    // sysfs can only be mounted with a network namespace of our own; otherwise bind the host's, read-only.
    let sys_dir = inside(root, "/sys");
    mkdir_p(&sys_dir)?;
    let sysfs = if plan.new_network {
        mount(
            Some("sysfs"),
            &sys_dir,
            Some("sysfs"),
            MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC | MsFlags::MS_NODEV | MsFlags::MS_RDONLY,
            None::<&str>,
        )
        .is_ok()
    } else {
        false
    };
    if !sysfs {
        bind(Path::new("/sys"), &sys_dir, false, true)?;
        let _ = mount(
            None::<&str>,
            &sys_dir,
            None::<&str>,
            MsFlags::MS_BIND
                | MsFlags::MS_REMOUNT
                | MsFlags::MS_RDONLY
                | MsFlags::MS_NOSUID
                | MsFlags::MS_NOEXEC
                | MsFlags::MS_NODEV,
            None::<&str>,
        );
    }
    Ok(())
}

/// The volumes, binds, masked and read-only paths of the plan.
fn mount_planned(plan: &Plan, root: &Path, detached: Option<&Detached>) -> StepResult {
    for (i, m) in plan.mounts.iter().enumerate() {
        match detached.and_then(|d| d.mounts[i].as_ref()) {
            Some(tree) => super::volumes::apply_detached(root, m, tree)?,
            None => super::volumes::apply(root, m)?,
        }
    }
    for (i, b) in plan.binds.iter().enumerate() {
        // Resolved as the container would see it: an image whose /etc (or /run) is a symlink to an
        // absolute path must not have us create /etc/hosts & co in that directory on the host.
        let target = step(
            || format!("resolve `{}` in the container", b.target),
            super::volumes::resolve_in_root(root, &b.target),
        )?;
        match detached.map(|d| &d.binds[i]) {
            Some(tree) => super::detached::attach_bind(tree, &target, b.read_only)?,
            None => bind(&b.source, &target, b.read_only, true)?,
        }
    }
    for m in &plan.masked_paths {
        mask(root, m)?;
    }
    for r in &plan.readonly_paths {
        let p = inside(root, r);
        if p.exists() {
            bind(&p, &p, true, true)?;
        }
    }
    Ok(())
}

/// `--read-only`: the root file system, remounted read-only.
fn remount_read_only(root: &Path) -> StepResult {
    step(
        || "make the root file system read-only".into(),
        mount(
            None::<&str>,
            root,
            None::<&str>,
            MsFlags::MS_REMOUNT | MsFlags::MS_BIND | MsFlags::MS_RDONLY,
            None::<&str>,
        )
        .map_err(nix_io),
    )
}

fn pivot(root: &Path) -> StepResult {
    step(
        || format!("chdir `{}`", root.display()),
        nix::unistd::chdir(root).map_err(nix_io),
    )?;
    step(
        || "pivot_root".into(),
        nix::unistd::pivot_root(".", ".").map_err(nix_io),
    )?;
    step(
        || "detach the old root".into(),
        umount2(".", MntFlags::MNT_DETACH).map_err(nix_io),
    )?;
    step(|| "chdir /".into(), nix::unistd::chdir("/").map_err(nix_io))?;
    Ok(())
}
