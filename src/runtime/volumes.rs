//! The container's own mounts (volumes, binds, `:O` overlays, tmpfs), applied in the child after the
//! root's overlay, /proc, /sys and /dev. Targets are resolved inside the new root so a symlink in the
//! image cannot point a mount (or a copy-up) at the host.
use std::io;
use std::os::unix::fs::{MetadataExt, PermissionsExt, symlink};
use std::path::{Component, Path, PathBuf};

use nix::mount::{MsFlags, mount};
use nix::sys::stat::{UtimensatFlags, utimensat};
use nix::sys::time::TimeSpec;

use super::mounts::{StepResult, bind, mkdir_p, nix_io, step};
use super::plan::{Mount, MountKind};

/// Symlinks followed while resolving one target, at most (the kernel's limit).
const MAX_LINKS: usize = 40;

/// The host path for container path `path`, following symlinks as if `root` were `/`.
pub(super) fn resolve_in_root(root: &Path, path: &str) -> io::Result<PathBuf> {
    let mut pending: Vec<String> = path
        .split('/')
        .filter(|c| !c.is_empty())
        .rev()
        .map(str::to_string)
        .collect();
    let mut resolved: Vec<String> = Vec::new();
    let mut links = 0;
    while let Some(c) = pending.pop() {
        match c.as_str() {
            "." => continue,
            ".." => {
                resolved.pop();
                continue;
            }
            _ => {}
        }
        let host = resolved
            .iter()
            .fold(root.to_path_buf(), |p, c| p.join(c))
            .join(&c);
        match std::fs::symlink_metadata(&host) {
            Ok(m) if m.file_type().is_symlink() => {
                links += 1;
                if links > MAX_LINKS {
                    return Err(io::Error::from_raw_os_error(libc::ELOOP));
                }
                let to = std::fs::read_link(&host)?;
                if to.is_absolute() {
                    resolved.clear();
                }
                for part in to.components().rev() {
                    if let Component::Normal(n) = part {
                        pending.push(n.to_string_lossy().into_owned());
                    } else if part == Component::ParentDir {
                        pending.push("..".into());
                    }
                }
            }
            _ => resolved.push(c),
        }
    }
    Ok(resolved.iter().fold(root.to_path_buf(), |p, c| p.join(c)))
}

/// Make symlink `target` (a container path) pointing at `link`: its parent resolved inside the root and
/// made if missing, a file or symlink already there replaced (a restart finds its own link).
fn make_symlink(root: &Path, target: &str, link: &Path) -> StepResult {
    let trimmed = target.trim_end_matches('/');
    let (parent, name) = trimmed.rsplit_once('/').unwrap_or(("", trimmed));
    let dir = step(
        || format!("resolve `{parent}/` in the container"),
        resolve_in_root(root, parent),
    )?;
    mkdir_p(&dir)?;
    let path = dir.join(name);
    if let Ok(meta) = std::fs::symlink_metadata(&path) {
        if meta.is_dir() {
            return step(
                || format!("replace directory `{target}` with a symlink"),
                Err(io::Error::from_raw_os_error(libc::EISDIR)),
            );
        }
        step(
            || format!("replace `{target}`"),
            std::fs::remove_file(&path),
        )?;
    }
    step(
        || format!("make symlink `{target}` -> `{}`", link.display()),
        symlink(link, &path),
    )
}

/// Apply one mount under `root`.
pub(super) fn apply(root: &Path, m: &Mount) -> StepResult {
    let resolve = || {
        step(
            || format!("resolve `{}` in the container", m.target),
            resolve_in_root(root, &m.target),
        )
    };
    match &m.kind {
        // Not resolved: the target's last component is the link itself (there from a last start).
        MountKind::Symlink { link } => make_symlink(root, &m.target, link),
        MountKind::Bind {
            source,
            read_only,
            chown,
            copy_up,
            first_chown,
            noexec,
        } => {
            let target = resolve()?;
            if *copy_up || first_chown.is_some() {
                first_use(source, Some(&target), *copy_up, *first_chown)?;
            }
            // `:U` (podman): the tree is chowned when its top does not belong to the user yet, so
            // owners set inside it afterwards stay.
            if let Some((uid, gid)) = chown
                && std::fs::symlink_metadata(source)
                    .map_or(true, |m| (m.uid(), m.gid()) != (*uid, *gid))
            {
                step(
                    || format!("chown `{}` to {uid}:{gid}", source.display()),
                    chown_tree(source, *uid, *gid),
                )?;
            }
            bind(source, &target, *read_only, true)?;
            if *noexec {
                step(
                    || format!("make `{}` noexec", m.target),
                    crate::sys::mount::remount_bind_adding(&target, MsFlags::MS_NOEXEC)
                        .map_err(nix_io),
                )?;
            }
            Ok(())
        }
        MountKind::Overlay {
            lower,
            upper,
            work,
            read_only,
        } => {
            let target = resolve()?;
            mkdir_p(&target)?;
            overlay(lower, upper, work, &target, *read_only)
        }
        MountKind::Devpts { data } => {
            let target = resolve()?;
            mkdir_p(&target)?;
            devpts(&target, &m.target, data)
        }
        MountKind::Tmpfs {
            data,
            read_only,
            noexec,
            copy_up,
            ramfs,
        } => {
            let target = resolve()?;
            mkdir_p(&target)?;
            let fs = if *ramfs { "ramfs" } else { "tmpfs" };
            // The image's content under the target, reached through an fd taken before the mount.
            let image_dir = match copy_up {
                true => image_content(&target)?,
                false => None,
            };
            let mut flags = MsFlags::MS_NOSUID | MsFlags::MS_NODEV;
            if *noexec {
                flags |= MsFlags::MS_NOEXEC;
            }
            if *read_only {
                flags |= MsFlags::MS_RDONLY;
            }
            step(
                || format!("mount {fs} on `{}`", m.target),
                mount(
                    Some(fs),
                    &target,
                    Some(fs),
                    flags,
                    Some(data.as_str()).filter(|d| !d.is_empty()),
                )
                .map_err(nix_io),
            )?;
            match image_dir {
                Some(fd) => step(
                    || format!("copy the image's `{}` into its {fs}", m.target),
                    copy_tree(&fd_path(&fd), &target),
                ),
                None => Ok(()),
            }
        }
    }
}

/// Apply a bind of `m` from its detached mount (see `super::detached`): the container's namespace
/// cannot reach the source by path.
pub(super) fn apply_detached(root: &Path, m: &Mount, tree: &super::detached::Tree) -> StepResult {
    let MountKind::Bind {
        read_only,
        noexec,
        copy_up,
        first_chown,
        ..
    } = &m.kind
    else {
        return apply(root, m);
    };
    let (read_only, noexec) = (*read_only, *noexec);
    let target = step(
        || format!("resolve `{}` in the container", m.target),
        resolve_in_root(root, &m.target),
    )?;
    // What the image has at the target, reached once the volume hides it.
    let image: Option<std::os::fd::OwnedFd> = match tree.first_use && target.is_dir() {
        true => Some(
            step(
                || format!("open `{}` in the image", m.target),
                std::fs::File::open(&target),
            )?
            .into(),
        ),
        false => None,
    };
    super::detached::attach_bind(tree, &target, read_only)?;
    if tree.first_use {
        // `/.`: the directory the fd's magic link leads to, not the link (`first_use` does not follow).
        let image_dir = image.as_ref().map(|fd| fd_path(fd).join("."));
        first_use(&target, image_dir.as_deref(), *copy_up, *first_chown)?;
    }
    if noexec {
        step(
            || format!("make `{}` noexec", m.target),
            crate::sys::mount::remount_bind_adding(&target, MsFlags::MS_NOEXEC).map_err(nix_io),
        )?;
    }
    Ok(())
}

/// An fd of directory `dir` when it has entries (what a tmpfs mounted on it would hide).
fn image_content(dir: &Path) -> Result<Option<std::os::fd::OwnedFd>, (String, io::Error)> {
    let empty = step(
        || format!("read `{}`", dir.display()),
        std::fs::read_dir(dir).map(|mut d| d.next().is_none()),
    )?;
    if empty {
        return Ok(None);
    }
    let fd = step(
        || format!("open `{}`", dir.display()),
        rustix::fs::open(
            dir,
            rustix::fs::OFlags::PATH | rustix::fs::OFlags::DIRECTORY | rustix::fs::OFlags::CLOEXEC,
            rustix::fs::Mode::empty(),
        )
        .map_err(io::Error::from),
    )?;
    Ok(Some(fd))
}

fn fd_path(fd: &std::os::fd::OwnedFd) -> PathBuf {
    use std::os::fd::AsRawFd;
    PathBuf::from(format!("/proc/self/fd/{}", fd.as_raw_fd()))
}

/// A new devpts instance at `target` with podman's defaults (`gid=5,mode=620,ptmxmode=666`) under
/// the caller's options; without gid 5 in the namespace's group map, the kernel refuses `gid=5`,
/// so it is left out then unless asked for.
fn devpts(target: &Path, shown: &str, data: &str) -> StepResult {
    let flags = MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC;
    let mut opts = vec!["newinstance", "ptmxmode=0666"];
    if !data.contains("mode=") {
        opts.push("mode=0620");
    }
    opts.extend(data.split(',').filter(|o| !o.is_empty()));
    let with_gid = if data.contains("gid=") {
        None
    } else {
        let mut o = opts.clone();
        o.push("gid=5");
        Some(o.join(","))
    };
    if let Some(o) = with_gid
        && mount(
            Some("devpts"),
            target,
            Some("devpts"),
            flags,
            Some(o.as_str()),
        )
        .is_ok()
    {
        return Ok(());
    }
    step(
        || format!("mount devpts on `{shown}`"),
        mount(
            Some("devpts"),
            target,
            Some("devpts"),
            flags,
            Some(opts.join(",").as_str()),
        )
        .map_err(nix_io),
    )
}

/// A volume's first mount: populate it from the image when it is empty, else give it to the user.
fn first_use(
    volume: &Path,
    image_dir: Option<&Path>,
    copy_up: bool,
    owner: Option<(u32, u32)>,
) -> StepResult {
    let empty = step(
        || format!("read `{}`", volume.display()),
        std::fs::read_dir(volume).map(|mut d| d.next().is_none()),
    )?;
    if !empty {
        return Ok(());
    }
    match image_dir.map(|d| (d, std::fs::symlink_metadata(d))) {
        Some((image_dir, Ok(meta))) if meta.is_dir() => {
            if copy_up {
                step(
                    || {
                        format!(
                            "copy `{}` from the image into the volume",
                            image_dir.display()
                        )
                    },
                    copy_tree(image_dir, volume),
                )?;
            }
            step(
                || format!("set the owner of `{}`", volume.display()),
                copy_attrs(&meta, volume),
            )
        }
        _ => match owner {
            Some((uid, gid)) => step(
                || format!("chown `{}` to {uid}:{gid}", volume.display()),
                std::os::unix::fs::lchown(volume, Some(uid), Some(gid)),
            ),
            None => Ok(()),
        },
    }
}

/// Owner, mode and times of `meta` onto `dst` (symlinks: owner and times only).
fn copy_attrs(meta: &std::fs::Metadata, dst: &Path) -> io::Result<()> {
    std::os::unix::fs::lchown(dst, Some(meta.uid()), Some(meta.gid()))?;
    if !meta.file_type().is_symlink() {
        std::fs::set_permissions(dst, std::fs::Permissions::from_mode(meta.mode() & 0o7777))?;
    }
    utimensat(
        nix::fcntl::AT_FDCWD,
        dst,
        &TimeSpec::new(meta.atime(), meta.atime_nsec()),
        &TimeSpec::new(meta.mtime(), meta.mtime_nsec()),
        UtimensatFlags::NoFollowSymlink,
    )
    .map_err(nix_io)
}

/// Copy the tree under `src` into the existing directory `dst`: directories, regular files and symlinks
/// with their owners, modes and times (hard links become copies; sockets and device nodes are skipped).
fn copy_tree(src: &Path, dst: &Path) -> io::Result<()> {
    for entry in std::fs::read_dir(src)? {
        let entry = entry?;
        let from = entry.path();
        let to = dst.join(entry.file_name());
        let meta = std::fs::symlink_metadata(&from)?;
        let ft = meta.file_type();
        if ft.is_dir() {
            std::fs::create_dir(&to)?;
            copy_tree(&from, &to)?;
        } else if ft.is_symlink() {
            symlink(std::fs::read_link(&from)?, &to)?;
        } else if ft.is_file() {
            std::fs::copy(&from, &to)?;
        } else {
            continue;
        }
        copy_attrs(&meta, &to)?;
    }
    Ok(())
}

/// Chown `path` to `uid:gid`, with its whole tree when `recursive` (symlinks not followed).
pub(super) fn chown_ids(path: &Path, uid: u32, gid: u32, recursive: bool) -> io::Result<()> {
    match recursive {
        true => chown_tree(path, uid, gid),
        false => std::os::unix::fs::lchown(path, Some(uid), Some(gid)),
    }
}

/// `chown -R uid:gid path` without following symlinks.
fn chown_tree(path: &Path, uid: u32, gid: u32) -> io::Result<()> {
    std::os::unix::fs::lchown(path, Some(uid), Some(gid))?;
    let meta = std::fs::symlink_metadata(path)?;
    if meta.is_dir() {
        for entry in std::fs::read_dir(path)? {
            chown_tree(&entry?.path(), uid, gid)?;
        }
    }
    Ok(())
}

/// Mount an overlay of `lower` (read-only) with `upper`/`work` at `target`.
fn overlay(lower: &Path, upper: &Path, work: &Path, target: &Path, read_only: bool) -> StepResult {
    let lower = [lower.to_path_buf()];
    let layers = crate::sys::overlay::Layers {
        lower: &lower,
        upper: Some((upper, work)),
        read_only,
    };
    crate::sys::overlay::attach(&layers, target).map_err(|f| (f.what, f.error))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_stay_inside_the_root() {
        let t = tempfile::tempdir().unwrap();
        let root = t.path();
        std::fs::create_dir_all(root.join("usr/lib")).unwrap();
        symlink("/usr/lib", root.join("lib")).unwrap();
        symlink("../../..", root.join("usr/lib/up")).unwrap();
        symlink("/", root.join("escape")).unwrap();
        assert_eq!(
            resolve_in_root(root, "/lib/x").unwrap(),
            root.join("usr/lib/x")
        );
        assert_eq!(
            resolve_in_root(root, "/escape/etc").unwrap(),
            root.join("etc")
        );
        assert_eq!(
            resolve_in_root(root, "/usr/lib/up/etc").unwrap(),
            root.join("etc")
        );
        assert_eq!(
            resolve_in_root(root, "/../../etc").unwrap(),
            root.join("etc")
        );
        symlink("loop", root.join("loop")).unwrap();
        assert!(resolve_in_root(root, "/loop").is_err());
    }

    #[test]
    fn copy_tree_keeps_modes_and_links() {
        let t = tempfile::tempdir().unwrap();
        let (src, dst) = (t.path().join("src"), t.path().join("dst"));
        std::fs::create_dir_all(src.join("d")).unwrap();
        std::fs::write(src.join("d/f"), b"hi").unwrap();
        std::fs::set_permissions(src.join("d/f"), std::fs::Permissions::from_mode(0o640)).unwrap();
        symlink("d/f", src.join("l")).unwrap();
        std::fs::create_dir(&dst).unwrap();
        copy_tree(&src, &dst).unwrap();
        assert_eq!(std::fs::read(dst.join("d/f")).unwrap(), b"hi");
        let m = std::fs::metadata(dst.join("d/f")).unwrap();
        assert_eq!(m.mode() & 0o777, 0o640);
        assert_eq!(std::fs::read_link(dst.join("l")).unwrap(), Path::new("d/f"));
    }
}
