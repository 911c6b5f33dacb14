//! The per-container files in the runtime directory (bind-mounted, so `commit` never captures them) and
//! the process to run, from the image config and the flags.
use std::path::{Path, PathBuf};

use super::process::{self, ProcessFlags, ProcessSpec};
use super::{Container, CreateOptions};
use crate::engine::image::ImageInfo;
use crate::engine::network::{ContainerNetwork, hostfiles};
use crate::engine::storage::Driver;
use crate::engine::{Ctx, EngineError};
use crate::store::Store;

/// `path` in the top-most of `dirs` (a new container's layers or `--rootfs` directory, bottom first)
/// that has it (whiteouts are rare for these files).
fn read_layer_file(dirs: &[PathBuf], path: &str) -> Option<String> {
    dirs.iter()
        .rev()
        .find_map(|d| std::fs::read_to_string(d.join(path)).ok())
}

/// The process as docker and podman define it (ENTRYPOINT + CMD or the command given, the environment
/// from the image then the flags, user and working directory), against the image's passwd and group.
pub(super) fn resolve_process(
    dirs: &[PathBuf],
    info: &ImageInfo,
    opts: &CreateOptions,
    hostname: &str,
) -> Result<ProcessSpec, EngineError> {
    let cfg = info.config.config.clone().unwrap_or_default();
    let passwd = read_layer_file(dirs, "etc/passwd");
    let group = read_layer_file(dirs, "etc/group");
    let flags = ProcessFlags {
        command: opts.command.clone(),
        entrypoint: opts.entrypoint.clone(),
        env: opts.env.clone(),
        env_files: opts.env_files.clone(),
        env_host: opts.env_host,
        unset_env: opts.unset_env.clone(),
        unset_env_all: opts.unset_env_all,
        workdir: opts.workdir.clone(),
        user: opts.user.clone(),
        group_add: opts.group_add.clone(),
        hostname: Some(hostname.to_string()),
        tty: opts.tty,
        http_proxy: !opts.no_http_proxy,
    };
    process::resolve(
        &cfg,
        &flags,
        &opts.host_env,
        passwd.as_deref(),
        group.as_deref(),
    )
    .map_err(EngineError::from)
}

/// keep-id's /etc/passwd and /etc/group entries for `user`, when the image lacks them.
pub(super) fn keep_id_entries(
    dirs: &[PathBuf],
    name: Option<&str>,
    user: (u32, u32),
    home: &str,
) -> (Option<String>, Option<String>) {
    let passwd = read_layer_file(dirs, "etc/passwd").unwrap_or_default();
    let group = read_layer_file(dirs, "etc/group").unwrap_or_default();
    super::idmap::keep_id_entries(&passwd, &group, name.unwrap_or(""), user, home)
}

/// keep-id's /etc/passwd and /etc/group entries (podman's `generatePasswdAndGroup`). A writable root
/// gets them appended to its own files, copied up from the image when needed, so that useradd and
/// usermod, which replace the files by rename, work in the container; a read-only root (or an image
/// whose file is not a plain file) gets copies with them bound over the container's. Nothing is
/// added over a file mounted by the user, nor when the entry is there already (a restart).
pub(super) fn write_user_files(
    dir: &Path,
    store: &Store,
    c: &Container,
    mounted: &[crate::runtime::Mount],
) -> Result<Vec<(PathBuf, String)>, EngineError> {
    let mut binds = Vec::new();
    for (file, extra) in [
        ("passwd", &c.spec.extra_passwd),
        ("group", &c.spec.extra_group),
    ] {
        let Some(extra) = extra else { continue };
        let target = format!("/etc/{file}");
        if mounted.iter().any(|m| m.target == target) {
            continue;
        }
        let own = (!c.spec.read_only)
            .then(|| root_file(store, c, file))
            .flatten();
        if let Some(own) = own {
            add_entry_in_place(store, c, &own, file, extra)?;
            continue;
        }
        let image = c
            .spec
            .layers
            .iter()
            .rev()
            .find_map(|l| std::fs::read_to_string(store.layer_diff(l).join("etc").join(file)).ok())
            .unwrap_or_default();
        let p = dir.join(file);
        std::fs::write(&p, with_entry(&image, extra))
            .map_err(|e| EngineError::io("write", &p, e))?;
        binds.push((p, target));
    }
    Ok(binds)
}

/// `text` with `entry` appended on a line of its own.
fn with_entry(text: &str, entry: &str) -> String {
    let sep = if text.is_empty() || text.ends_with('\n') {
        ""
    } else {
        "\n"
    };
    format!("{text}{sep}{entry}")
}

/// Whether the passwd or group `text` has a line for `entry`'s name or id already.
fn has_entry(text: &str, entry: &str) -> bool {
    let mut f = entry.split(':');
    let (name, id) = (f.next(), f.nth(1));
    text.lines().any(|l| {
        let mut g = l.split(':');
        g.next() == name || g.nth(1) == id
    })
}

/// Where the container's root has `etc/FILE` as a plain file (no symlink on the way): in its vfs tree,
/// or in its upper dir or image layers for overlay.
fn root_file(store: &Store, c: &Container, file: &str) -> Option<PathBuf> {
    let plain = |p: &Path| std::fs::symlink_metadata(p).is_ok_and(|m| m.is_file());
    match c.spec.storage_driver {
        Driver::Vfs => {
            let root = super::rootfs::vfs_tree(store, c);
            let etc = root.join("etc");
            let p = etc.join(file);
            (std::fs::symlink_metadata(&etc).is_ok_and(|m| m.is_dir()) && plain(&p)).then_some(p)
        }
        Driver::Overlay | Driver::FuseOverlayfs => {
            let p = super::diff::Lower::with_upper(store, c).path(&[b"etc", file.as_bytes()])?;
            plain(&p).then_some(p)
        }
    }
}

/// Append `entry` to the root's `etc/FILE` at `own` unless it is there, copying the file up into the
/// upper dir (with the image's owner and mode, and its `etc` directory's) when it is a layer's.
fn add_entry_in_place(
    store: &Store,
    c: &Container,
    own: &Path,
    file: &str,
    entry: &str,
) -> Result<(), EngineError> {
    use std::os::unix::fs::OpenOptionsExt;
    let text = std::fs::read_to_string(own).map_err(|e| EngineError::io("read", own, e))?;
    if has_entry(&text, entry) {
        return Ok(());
    }
    let cdir = store.container_dir(&c.record.id);
    let upper = cdir.join("diff");
    if c.spec.storage_driver == Driver::Vfs || own.starts_with(&upper) {
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .custom_flags(libc::O_NOFOLLOW)
            .open(own)
            .map_err(|e| EngineError::io("open", own, e))?;
        let add = with_entry(&text, entry)[text.len()..].to_string();
        return std::io::Write::write_all(&mut f, add.as_bytes())
            .map_err(|e| EngineError::io("write", own, e));
    }
    let etc = upper.join("etc");
    if std::fs::symlink_metadata(&etc).is_err() {
        let lower_etc = super::diff::Lower::of(store, c)
            .lookup(&[b"etc"])
            .ok_or_else(|| EngineError::io("stat", &etc, std::io::ErrorKind::NotFound.into()))?;
        std::fs::create_dir(&etc).map_err(|e| EngineError::io("create", &etc, e))?;
        copy_owner_and_mode(&etc, &lower_etc)?;
    }
    let md = std::fs::metadata(own).map_err(|e| EngineError::io("stat", own, e))?;
    let tmp = etc.join(format!(".{file}.roost"));
    let _ = std::fs::remove_file(&tmp);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(|e| EngineError::io("create", &tmp, e))?;
    std::io::Write::write_all(&mut f, with_entry(&text, entry).as_bytes())
        .map_err(|e| EngineError::io("write", &tmp, e))?;
    copy_owner_and_mode(&tmp, &md)?;
    let dest = etc.join(file);
    std::fs::rename(&tmp, &dest).map_err(|e| EngineError::io("rename", &dest, e))
}

/// Give `path` the owner and permission bits of `like`.
fn copy_owner_and_mode(path: &Path, like: &std::fs::Metadata) -> Result<(), EngineError> {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    std::os::unix::fs::lchown(path, Some(like.uid()), Some(like.gid()))
        .map_err(|e| EngineError::io("chown", path, e))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(like.mode() & 0o7777))
        .map_err(|e| EngineError::io("chmod", path, e))
}

/// The hosts file `net` shares with the container whose network namespace it joins, with `net`'s
/// names added; `None` when it has none of its own (`--no-hosts` there: this container writes one).
fn join_shared_hosts(net: &ContainerNetwork) -> Result<Option<PathBuf>, EngineError> {
    let Some(p) = net.shared_hosts.as_ref().filter(|p| p.exists()) else {
        return Ok(None);
    };
    hostfiles::join_shared_hosts(p, &[&net.hostname, &net.name])?;
    Ok(Some(p.clone()))
}

/// Write hosts, hostname, resolv.conf and .containerenv; return (host file, container path) binds.
pub(super) fn write_init_files(
    dir: &Path,
    c: &Container,
    ctx: &Ctx,
) -> Result<Vec<(PathBuf, String)>, EngineError> {
    std::fs::create_dir_all(dir).map_err(|e| EngineError::io("create", dir, e))?;
    let s = &c.spec;
    let net = super::network_settings::files_network(ctx, c);
    let hosts = hostfiles::hosts_file(&net, &ctx.network_conf)?;
    let resolv = hostfiles::resolv_conf(
        &net,
        &ctx.network_conf,
        &std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default(),
    );
    let env = format!(
        "engine=\"roost-{}\"\nname=\"{}\"\nid=\"{}\"\nimage=\"{}\"\nimageid=\"{}\"\nrootless={}\n",
        env!("CARGO_PKG_VERSION"),
        c.record.name,
        c.record.id,
        c.record.image,
        c.record.image_id.hex(),
        u8::from(ctx.rootless)
    );
    let files = [
        ("hosts", hosts.unwrap_or_default(), "/etc/hosts"),
        ("hostname", format!("{}\n", s.hostname), "/etc/hostname"),
        ("resolv.conf", resolv, "/etc/resolv.conf"),
        (".containerenv", env, "/run/.containerenv"),
    ];
    let shared = join_shared_hosts(&net)?;
    let mut binds = Vec::new();
    for (name, content, target) in files {
        if name == "hosts" && s.net.no_hosts || name == "resolv.conf" && s.net.dns == ["none"] {
            continue;
        }
        if let Some(p) = shared.as_ref().filter(|_| name == "hosts") {
            binds.push((p.clone(), target.to_string()));
            continue;
        }
        let p = dir.join(name);
        std::fs::write(&p, content).map_err(|e| EngineError::io("write", &p, e))?;
        own_by_container_root(&p, c)?;
        binds.push((p, target.to_string()));
    }
    Ok(binds)
}

/// In a container with a user namespace of its own (`--userns keep-id`, `--uidmap`), give `path` to
/// the container's root, as podman does with the files it bind-mounts (they are roost's own
/// otherwise, which is root in a container sharing roost's namespace).
fn own_by_container_root(path: &Path, c: &Container) -> Result<(), EngineError> {
    match &c.spec.id_maps {
        Some(maps) => maps.give_to_root(path),
        None => Ok(()),
    }
}

/// `--tz`: a copy of the zone's file (taken at each start, as podman does), mounted on
/// /etc/localtime as a volume is: resolved in the container's root, since images often have it as
/// a symlink into their own /usr/share/zoneinfo.
pub(super) fn localtime_mount(
    dir: &Path,
    c: &Container,
) -> Result<Option<crate::runtime::Mount>, EngineError> {
    let Some(tz) = &c.spec.timezone else {
        return Ok(None);
    };
    let src = super::timezone::zone_file(tz)?;
    let p = dir.join("localtime");
    std::fs::copy(&src, &p).map_err(|e| EngineError::io("copy", &src, e))?;
    Ok(Some(crate::runtime::Mount {
        target: "/etc/localtime".into(),
        kind: crate::runtime::MountKind::Bind {
            source: p,
            read_only: true,
            chown: None,
            copy_up: false,
            first_chown: None,
            noexec: false,
        },
    }))
}
