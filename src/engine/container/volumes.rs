//! A container's mounts: resolved when it is created (named volumes made on first use, anonymous ones
//! for `-v /path` and the image's VOLUMEs, host paths checked), turned into runtime mounts when it
//! starts, volumes marked populated once it ran, and its anonymous volumes removed with it.
use std::path::{Path, PathBuf};

use super::Container;
use super::mount_spec::{Mount, MountKind, MountSpecError, dedupe, normalize};
use crate::engine::EngineError;
use crate::engine::volume::{CreateVolumeOptions, VolumeError, create_in};
use crate::runtime;
use crate::store::Store;

/// What a new container gets at the image's VOLUMEs (`--image-volume`, containers.conf's
/// `image_volume_mode`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ImageVolumeMode {
    /// An anonymous volume each (podman's `bind`, also spelled `anonymous`).
    #[default]
    Anonymous,
    /// A tmpfs each.
    Tmpfs,
    /// Nothing: the paths stay the image's directories.
    Ignore,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("invalid image volume mode `{0}`: use bind (or anonymous), tmpfs or ignore")]
pub struct BadImageVolumeMode(pub String);

impl std::str::FromStr for ImageVolumeMode {
    type Err = BadImageVolumeMode;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "bind" | "anonymous" => Ok(ImageVolumeMode::Anonymous),
            "tmpfs" => Ok(ImageVolumeMode::Tmpfs),
            "ignore" => Ok(ImageVolumeMode::Ignore),
            _ => Err(BadImageVolumeMode(s.to_string())),
        }
    }
}

/// Complete the requested mounts for a new container: check bind sources, add what `mode` says for
/// the image's VOLUMEs nobody mounts over, and create the volumes. Returns the mounts to store and the
/// volumes created (to remove again if creating the container fails).
pub fn resolve(
    store: &mut Store,
    requested: &[Mount],
    image_volumes: &[String],
    mode: ImageVolumeMode,
) -> Result<(Vec<Mount>, Vec<String>), EngineError> {
    let mut mounts = super::glob_mount::expand(requested.to_vec())?;
    let image_volumes = match mode {
        ImageVolumeMode::Ignore => &[][..],
        _ => image_volumes,
    };
    for path in image_volumes {
        // A VOLUME is a path in the container: a relative one (`VOLUME [a, b]` in shell form)
        // is taken from the root, as podman takes it.
        let path = &if path.starts_with('/') {
            path.clone()
        } else {
            format!("/{path}")
        };
        let taken = mounts
            .iter()
            .any(|m| normalize(&m.destination) == normalize(path));
        if !taken {
            mounts.push(image_volume(path, mode)?);
        }
    }
    let mut mounts = dedupe(mounts)?;
    for m in mounts.iter().filter(|m| m.kind == MountKind::Bind) {
        if std::fs::metadata(&m.source).is_err() {
            return Err(VolumeError::NoHostPath(m.source.clone()).into());
        }
    }
    let mut created = Vec::new();
    for m in mounts.iter_mut().filter(|m| m.kind == MountKind::Volume) {
        let existed = !m.anonymous && store.volume(&m.source)?.is_some();
        if existed {
            continue;
        }
        let made = create_in(
            store,
            &CreateVolumeOptions {
                name: (!m.anonymous).then(|| m.source.clone()),
                anonymous: m.anonymous,
                ..CreateVolumeOptions::default()
            },
        );
        match made {
            Ok(v) => {
                m.source = v.name.clone();
                created.push(v.name);
            }
            Err(e) => {
                forget(store, &created);
                return Err(e);
            }
        }
    }
    Ok((mounts, created))
}

/// `--volumes-from CONTAINER[:OPTIONS]`: the volumes and bind mounts of each container, at the
/// same destinations, except where `wanted` (the new container's own mounts) mounts already. A
/// volume is the other container's, shared (never made anew, nor removed with this container);
/// each keeps the mode it has there unless `ro` or `rw` says otherwise (`z` is accepted: there is
/// no SELinux labelling). A later container's mount at the same place wins.
pub fn volumes_from(
    store: &Store,
    specs: &[String],
    wanted: &[Mount],
) -> Result<Vec<Mount>, EngineError> {
    let mut out: Vec<Mount> = Vec::new();
    for spec in specs {
        let (name, read_only) = parse_volumes_from(spec)?;
        let c = super::find(store, name)?;
        for m in c.spec.mounts.iter().filter(|m| shareable(m)) {
            let dest = normalize(&m.destination);
            if wanted.iter().any(|w| normalize(&w.destination) == dest) {
                continue;
            }
            out.retain(|o| normalize(&o.destination) != dest);
            let mut m = m.clone();
            m.anonymous = false;
            m.read_only = read_only.unwrap_or(m.read_only);
            out.push(m);
        }
    }
    Ok(out)
}

/// Mounts another container can share: volumes and host paths (not its tmpfs, which hold nothing
/// to share).
fn shareable(m: &Mount) -> bool {
    matches!(m.kind, MountKind::Volume | MountKind::Bind) && !m.source.is_empty()
}

/// `CONTAINER[:ro|rw][,z]`: the container and the mode asked for, if any.
fn parse_volumes_from(spec: &str) -> Result<(&str, Option<bool>), MountSpecError> {
    let Some((name, opts)) = spec.split_once(':') else {
        return Ok((spec, None));
    };
    let (mut mode, mut z) = (None, false);
    for o in opts.split(',') {
        match o {
            "ro" | "rw" if mode.is_some() => {
                return Err(MountSpecError::VolumesFromRepeated("ro or rw options"));
            }
            "ro" | "rw" => mode = Some(o == "ro"),
            "z" if z => return Err(MountSpecError::VolumesFromRepeated(":z")),
            "z" => z = true,
            _ => return Err(MountSpecError::VolumesFromOption(opts.to_string())),
        }
    }
    Ok((name, mode))
}

/// The mount at the image's VOLUME `path`: an anonymous volume, or a tmpfs (podman's: writable,
/// executable, empty).
fn image_volume(path: &str, mode: ImageVolumeMode) -> Result<Mount, EngineError> {
    if mode == ImageVolumeMode::Tmpfs {
        let mut m = Mount::new(MountKind::Tmpfs, "tmpfs", path);
        m.copy_up = false;
        return Ok(m);
    }
    let mut m = super::mount_spec::parse_volume(path)?;
    m.options.clear();
    Ok(m)
}

/// Remove volumes made for a container that was not created after all.
pub fn forget(store: &mut Store, names: &[String]) {
    for n in names {
        let _ = store.remove_volume(n);
    }
}

/// The runtime mounts for a stored container, parents before children. `:O` overlays get a fresh
/// upper directory in the container's directory each time (podman discards their changes too).
pub fn runtime_mounts(store: &Store, c: &Container) -> Result<Vec<runtime::Mount>, EngineError> {
    let mut mounts: Vec<&Mount> = c.spec.mounts.iter().collect();
    mounts.sort_by_key(|m| normalize(&m.destination).matches('/').count());
    let user = (c.spec.uid, c.spec.gid);
    let dir = store.container_dir(&c.record.id);
    let mut out = Vec::new();
    for (i, m) in mounts.into_iter().enumerate() {
        let kind = match m.kind {
            MountKind::Tmpfs | MountKind::Ramfs => runtime::MountKind::Tmpfs {
                data: m.tmpfs_data.join(","),
                read_only: m.read_only,
                noexec: m.noexec,
                copy_up: m.copy_up,
                ramfs: m.kind == MountKind::Ramfs,
            },
            MountKind::Devpts => runtime::MountKind::Devpts {
                data: m.tmpfs_data.join(","),
            },
            MountKind::Bind if m.overlay => overlay(&dir.join("overlay").join(i.to_string()), m)?,
            // `no-dereference` of a symlink: the link itself, read at each start.
            MountKind::Bind | MountKind::Glob
                if m.no_dereference && Path::new(&m.source).is_symlink() =>
            {
                let link = std::fs::read_link(&m.source)
                    .map_err(|e| EngineError::io("read the symlink", Path::new(&m.source), e))?;
                runtime::MountKind::Symlink { link }
            }
            // Glob mounts were expanded into binds at create time.
            MountKind::Bind | MountKind::Glob => runtime::MountKind::Bind {
                source: PathBuf::from(&m.source),
                read_only: m.read_only,
                chown: m.chown.then_some(user),
                copy_up: false,
                first_chown: None,
                noexec: m.noexec,
            },
            MountKind::Volume => {
                let v = store
                    .volume(&m.source)?
                    .ok_or_else(|| VolumeError::NoSuchVolume(m.source.clone()))?;
                let source = match crate::engine::volume::backing(&v.options) {
                    crate::engine::volume::Backing::Tmpfs { data } => {
                        out.push(runtime::Mount {
                            target: m.destination.clone(),
                            kind: runtime::MountKind::Tmpfs {
                                data,
                                read_only: m.read_only,
                                noexec: false,
                                copy_up: false,
                                ramfs: false,
                            },
                        });
                        continue;
                    }
                    crate::engine::volume::Backing::Bind { device } => device,
                    crate::engine::volume::Backing::Dir => v.mountpoint,
                };
                runtime::MountKind::Bind {
                    source,
                    read_only: m.read_only,
                    chown: m.chown.then_some(user),
                    copy_up: m.copy_up && v.needs_copy_up,
                    first_chown: v.needs_chown.then_some(user),
                    noexec: m.noexec,
                }
            }
        };
        out.push(runtime::Mount {
            target: m.destination.clone(),
            kind,
        });
    }
    Ok(out)
}

fn overlay(dir: &Path, m: &Mount) -> Result<runtime::MountKind, EngineError> {
    let _ = crate::store::remove_tree(dir);
    let (upper, work) = (dir.join("upper"), dir.join("work"));
    for d in [&upper, &work] {
        std::fs::create_dir_all(d).map_err(|e| EngineError::io("create", d, e))?;
    }
    Ok(runtime::MountKind::Overlay {
        lower: PathBuf::from(&m.source),
        upper,
        work,
        read_only: m.read_only,
    })
}

/// After the container started: a volume that got content (the image's, by copy-up) is populated, so
/// copy-up and chown never happen again; one still empty keeps both for its next use (podman).
pub fn mark_populated(store: &mut Store, c: &Container) -> Result<(), EngineError> {
    let has_content =
        |dir: &std::path::Path| std::fs::read_dir(dir).is_ok_and(|mut d| d.next().is_some());
    for m in c.spec.mounts.iter().filter(|m| m.kind == MountKind::Volume) {
        if store
            .volume(&m.source)?
            .is_some_and(|v| (v.needs_copy_up || v.needs_chown) && has_content(&v.mountpoint))
        {
            store.set_volume_populated(&m.source)?;
        }
    }
    Ok(())
}

/// Remove the anonymous volumes `c` mounts that no other container uses (`rm -v`, `run --rm`);
/// returns their names.
pub fn remove_anonymous_volumes(
    store: &mut Store,
    c: &Container,
) -> Result<Vec<String>, EngineError> {
    let mut removed = Vec::new();
    let others: Vec<Container> = store
        .containers()?
        .into_iter()
        .filter(|r| r.id != c.record.id)
        .map(Container::from_record)
        .collect();
    for m in &c.spec.mounts {
        if m.kind != MountKind::Volume || m.source.is_empty() {
            continue;
        }
        let Some(v) = store.volume(&m.source)? else {
            continue;
        };
        let shared = others.iter().any(|o| {
            o.spec
                .mounts
                .iter()
                .any(|om| om.kind == MountKind::Volume && om.source == v.name)
        });
        if v.anonymous && !shared {
            store.remove_volume(&v.name)?;
            removed.push(v.name);
        }
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn volumes_from_options() {
        assert_eq!(parse_volumes_from("c1").unwrap(), ("c1", None));
        assert_eq!(parse_volumes_from("c1:ro").unwrap(), ("c1", Some(true)));
        assert_eq!(parse_volumes_from("c1:rw,z").unwrap(), ("c1", Some(false)));
        let e = parse_volumes_from("c1:ro,rw").unwrap_err().to_string();
        assert!(e.contains("more than once"), "{e}");
        let e = parse_volumes_from("c1:nocopy").unwrap_err().to_string();
        assert!(
            e.contains("\"nocopy\"") && e.contains("'ro', 'rw', and 'z'"),
            "{e}"
        );
    }
}
