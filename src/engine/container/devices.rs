//! `--device HOST[:CONTAINER][:PERMISSIONS]`: as rootless podman does it, the host's device node is
//! bound into the container (the user's own access to the node is what the container gets); a
//! directory brings every device node under it.
use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};

use super::FlagError;
use super::mount_spec::{Mount, MountKind};

/// One `--device` value, split (podman's `ParseDevice`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceArg {
    pub host: String,
    pub container: String,
    pub permissions: String,
}

/// `r`, `w` and `m`, each at most once (podman's `IsValidDeviceMode`).
fn is_mode(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 3
        && s.chars().all(|c| matches!(c, 'r' | 'w' | 'm'))
        && s.chars().enumerate().all(|(i, c)| !s[..i].contains(c))
}

fn bad(value: &str, why: impl Into<String>) -> FlagError {
    FlagError::Device {
        value: value.to_string(),
        why: why.into(),
    }
}

pub fn parse(value: &str) -> Result<DeviceArg, FlagError> {
    let parts: Vec<&str> = value.split(':').collect();
    let (host, container, permissions) = match parts.as_slice() {
        [h] => (*h, *h, "rwm"),
        [h, p] if is_mode(p) => (*h, *h, *p),
        [h, c] => (*h, *c, "rwm"),
        [h, c, p] => (*h, *c, *p),
        _ => {
            return Err(bad(
                value,
                "use HOST-DEVICE[:CONTAINER-DEVICE][:PERMISSIONS]",
            ));
        }
    };
    if !host.starts_with('/') {
        return Err(bad(value, format!("`{host}` is not an absolute path")));
    }
    if !container.starts_with('/') {
        return Err(bad(value, format!("`{container}` is not an absolute path")));
    }
    if !is_mode(permissions) {
        return Err(bad(
            value,
            format!("invalid device mode `{permissions}`: use r, w and m"),
        ));
    }
    Ok(DeviceArg {
        host: host.to_string(),
        container: container.to_string(),
        permissions: permissions.to_string(),
    })
}

/// The bind mounts for `--device` values: each device node (a symlink followed), or each one under
/// a directory (at the same place under the container path).
pub fn mounts(values: &[String]) -> Result<Vec<Mount>, FlagError> {
    let mut out = Vec::new();
    for v in values {
        let d = parse(v)?;
        let host =
            std::fs::canonicalize(&d.host).map_err(|e| bad(v, format!("`{}`: {e}", d.host)))?;
        let nodes = if host.is_dir() {
            let mut nodes = Vec::new();
            nodes_under(&host, &mut nodes);
            nodes
        } else if is_device(&host) {
            vec![host.clone()]
        } else {
            return Err(bad(v, format!("`{}` is not a device node", d.host)));
        };
        for n in nodes {
            let target = match n.strip_prefix(&host) {
                Ok(rel) if !rel.as_os_str().is_empty() => Path::new(&d.container).join(rel),
                _ => PathBuf::from(&d.container),
            };
            out.push(bind(&n, &target, &d.permissions));
        }
    }
    Ok(out)
}

fn is_device(p: &Path) -> bool {
    std::fs::metadata(p)
        .is_ok_and(|m| m.file_type().is_char_device() || m.file_type().is_block_device())
}

/// Device nodes under `dir`, recursively (symlinks not followed).
fn nodes_under(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let Ok(t) = e.file_type() else { continue };
        if t.is_dir() {
            nodes_under(&e.path(), out);
        } else if t.is_char_device() || t.is_block_device() {
            out.push(e.path());
        }
    }
}

/// podman's rootless device mount: a bind, read-only unless the permissions have `w`, noexec.
fn bind(host: &Path, target: &Path, permissions: &str) -> Mount {
    let rw = permissions.contains('w');
    Mount {
        kind: MountKind::Bind,
        source: host.to_string_lossy().into_owned(),
        destination: target.to_string_lossy().into_owned(),
        read_only: !rw,
        options: vec![if rw { "rw" } else { "ro" }.to_string(), "noexec".into()],
        chown: false,
        overlay: false,
        copy_up: false,
        anonymous: false,
        tmpfs_data: Vec::new(),
        noexec: true,
        no_dereference: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_podman_forms() {
        let p = |v| parse(v).unwrap();
        assert_eq!(
            p("/dev/fuse"),
            DeviceArg {
                host: "/dev/fuse".into(),
                container: "/dev/fuse".into(),
                permissions: "rwm".into()
            }
        );
        assert_eq!(p("/dev/fuse:r").permissions, "r");
        assert_eq!(p("/dev/fuse:r").container, "/dev/fuse");
        assert_eq!(p("/dev/fuse:/dev/f").container, "/dev/f");
        assert_eq!(p("/dev/fuse:/dev/f:rw").permissions, "rw");
        for bad in [
            "dev/fuse",
            "/dev/fuse:f",
            "/dev/fuse:/dev/f:x",
            "/a:/b:r:w",
            "/a:/b:rr",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_node_is_bound_read_only_without_w() {
        let m = mounts(&["/dev/null:/dev/mynull:r".into()]).unwrap();
        assert_eq!(m.len(), 1);
        assert_eq!(m[0].source, "/dev/null");
        assert_eq!(m[0].destination, "/dev/mynull");
        assert!(m[0].read_only && m[0].noexec);
        assert!(!mounts(&["/dev/null".into()]).unwrap()[0].read_only);
    }

    #[test]
    fn a_file_or_a_missing_path_is_refused() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("f");
        std::fs::write(&f, "").unwrap();
        let e = mounts(&[f.to_string_lossy().into_owned()]).unwrap_err();
        assert!(e.to_string().contains("is not a device node"), "{e}");
        assert!(mounts(&["/nonexistent/dev".into()]).is_err());
    }
}
