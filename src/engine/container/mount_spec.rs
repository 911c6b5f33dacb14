//! The mounts a container asks for — `-v/--volume`, `--mount` and `--tmpfs`, parsed with podman's syntax
//! and errors — and how they are stored in the container's spec. Pure: nothing here touches the disk.
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MountKind {
    Bind,
    Volume,
    Tmpfs,
    /// Like tmpfs, but ramfs: its memory is never swapped (and it has no size limit).
    Ramfs,
    /// Binds of every host path a glob matches (`--mount type=glob`): expanded into `Bind`s when
    /// the container is created, never stored.
    Glob,
    /// A new devpts instance (`--mount type=devpts,destination=…`).
    Devpts,
}

impl MountKind {
    /// tmpfs and ramfs: a new file system in memory, with the same options.
    pub fn is_memory(self) -> bool {
        matches!(self, MountKind::Tmpfs | MountKind::Ramfs)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            MountKind::Bind => "bind",
            MountKind::Volume => "volume",
            MountKind::Tmpfs => "tmpfs",
            MountKind::Ramfs => "ramfs",
            MountKind::Glob => "glob",
            MountKind::Devpts => "devpts",
        }
    }
}

/// One mount of a container, as stored in its spec.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mount {
    #[serde(rename = "type")]
    pub kind: MountKind,
    /// Bind: the host path. Volume: the volume's name (empty until an anonymous volume is created).
    #[serde(default)]
    pub source: String,
    pub destination: String,
    #[serde(default)]
    pub read_only: bool,
    /// The options as given (`z`, `U`, `nocopy`, `size=64m` …), for inspect.
    #[serde(default)]
    pub options: Vec<String>,
    /// `U`: chown the source to the container's user.
    #[serde(default)]
    pub chown: bool,
    /// `O`: an overlay with the host directory as its lower layer (bind only).
    #[serde(default)]
    pub overlay: bool,
    /// Populate an empty volume from the image (off with `nocopy`); tmpfs: copy the image's content
    /// into it (podman's default `tmpcopyup`, off with `notmpcopyup`).
    #[serde(default = "yes")]
    pub copy_up: bool,
    #[serde(default)]
    pub anonymous: bool,
    /// tmpfs: `size=` and `mode=` for the kernel; devpts: `uid=`, `gid=`, `mode=`, `max=`.
    #[serde(default)]
    pub tmpfs_data: Vec<String>,
    /// tmpfs: noexec, nosuid, nodev (podman's defaults) unless `exec`, `suid`, `dev` were given;
    /// binds and volumes: `noexec` given.
    #[serde(default)]
    pub noexec: bool,
    /// Bind and glob: `no-dereference`, a source that is a symlink appears as that symlink (crun's
    /// `copy-symlink`), not as what it points to.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub no_dereference: bool,
}

fn yes() -> bool {
    true
}

impl Mount {
    pub fn new(kind: MountKind, source: &str, destination: &str) -> Mount {
        Mount {
            kind,
            source: source.to_string(),
            destination: destination.to_string(),
            read_only: false,
            options: Vec::new(),
            chown: false,
            overlay: false,
            copy_up: true,
            anonymous: false,
            tmpfs_data: Vec::new(),
            noexec: false,
            no_dereference: false,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MountSpecError {
    #[error("incorrect volume format {0:?}, should be [host-dir:]ctr-dir[:option]")]
    VolumeFormat(String),
    #[error("host directory cannot be empty")]
    EmptySource,
    #[error("container directory cannot be empty")]
    EmptyDestination,
    #[error("invalid container path {0:?}, must be an absolute path")]
    RelativeDestination(String),
    #[error("invalid option type {0:?}")]
    UnknownOption(String),
    #[error("cannot pass {0:?} option more than once: incorrect volume format")]
    RepeatedOption(String),
    #[error("invalid argument {0:?} for the {1} option")]
    BadValue(String, &'static str),
    #[error("{0:?}: unknown mount option: invalid mount option")]
    UnknownMountOption(String),
    #[error("invalid filesystem type {0:?}")]
    UnknownType(String),
    #[error("must set type: invalid mount option")]
    NoType,
    #[error("must set volume destination")]
    NoDestination,
    #[error("must set source for a bind mount: invalid mount option")]
    NoSource,
    #[error("option {0:?} is not valid for {1} mounts: invalid mount option")]
    WrongKind(String, &'static str),
    #[error("{0}: duplicate mount destination")]
    DuplicateDestination(String),
    #[error("the `O` (overlay) option needs a host directory, not a named volume")]
    OverlayNeedsDir,
    #[error(
        "the 'noswap' option is only allowed with rootful tmpfs mounts: must provide an argument for option"
    )]
    NoswapRootless,
    #[error("invalid options {0:?}, can only specify 'ro', 'rw', and 'z'")]
    VolumesFromOption(String),
    #[error("cannot set {0} more than once in mount options")]
    VolumesFromRepeated(&'static str),
}

/// Whether `-v SRC:…` names a host path (podman: it starts with `/` or `.`) rather than a volume.
pub fn is_host_path(source: &str) -> bool {
    source.starts_with('/') || source.starts_with('.')
}

fn check_destination(dest: &str) -> Result<(), MountSpecError> {
    if dest.is_empty() {
        return Err(MountSpecError::EmptyDestination);
    }
    if !dest.starts_with('/') {
        return Err(MountSpecError::RelativeDestination(dest.to_string()));
    }
    Ok(())
}

/// Apply `-v`'s comma-separated options to `m` (podman's `ValidateVolumeOpts`).
fn volume_options(m: &mut Mount, opts: &str) -> Result<(), MountSpecError> {
    let mut seen: Vec<&'static str> = Vec::new();
    let mut once = |group: &'static str, opt: &str| {
        if seen.contains(&group) {
            return Err(MountSpecError::RepeatedOption(opt.to_string()));
        }
        seen.push(group);
        Ok(())
    };
    for opt in opts.split(',') {
        match opt {
            "ro" | "rw" => {
                once("rw", opt)?;
                m.read_only = opt == "ro";
            }
            "z" | "Z" => once("z", opt)?,
            "U" => {
                once("U", opt)?;
                m.chown = true;
            }
            "O" => {
                once("O", opt)?;
                m.overlay = true;
            }
            "nocopy" | "copy" => {
                once("copy", opt)?;
                m.copy_up = opt == "copy";
            }
            "private" | "rprivate" | "shared" | "rshared" | "slave" | "rslave" | "unbindable"
            | "runbindable" => once("propagation", opt)?,
            "bind" | "rbind" => once("bind", opt)?,
            "exec" | "noexec" => {
                once("exec", opt)?;
                m.noexec = opt == "noexec";
            }
            "suid" | "nosuid" | "dev" | "nodev" => {}
            "" => return Err(MountSpecError::UnknownOption(String::new())),
            other => return Err(MountSpecError::UnknownOption(other.to_string())),
        }
        m.options.push(opt.to_string());
    }
    Ok(())
}

/// `-v [SRC:]DEST[:OPTS]`: a bind mount (SRC is a path), a named volume, or an anonymous volume.
pub fn parse_volume(spec: &str) -> Result<Mount, MountSpecError> {
    let parts: Vec<&str> = spec.split(':').collect();
    let (source, dest, opts) = match parts.as_slice() {
        [dest] => ("", *dest, None),
        [src, dest] => (*src, *dest, None),
        [src, dest, opts] => (*src, *dest, Some(*opts)),
        _ => return Err(MountSpecError::VolumeFormat(spec.to_string())),
    };
    if parts.len() > 1 && source.is_empty() {
        return Err(MountSpecError::EmptySource);
    }
    check_destination(dest)?;
    let mut m = if source.is_empty() {
        let mut m = Mount::new(MountKind::Volume, "", dest);
        m.anonymous = true;
        m
    } else if is_host_path(source) {
        Mount::new(MountKind::Bind, source, dest)
    } else {
        Mount::new(MountKind::Volume, source, dest)
    };
    if let Some(opts) = opts {
        volume_options(&mut m, opts)?;
    }
    if m.overlay && m.kind != MountKind::Bind {
        return Err(MountSpecError::OverlayNeedsDir);
    }
    Ok(m)
}

fn flag_value(key: &str, value: Option<&str>) -> Result<bool, MountSpecError> {
    match value {
        None | Some("true") => Ok(true),
        Some("false") => Ok(false),
        Some(v) => Err(MountSpecError::BadValue(v.to_string(), leak_name(key))),
    }
}

/// The option names `BadValue` can report (static, as errors carry them).
fn leak_name(key: &str) -> &'static str {
    match key {
        "ro" | "readonly" => "readonly",
        "rw" => "rw",
        "U" | "chown" => "chown",
        "tmpfs-size" => "tmpfs-size",
        "tmpfs-mode" => "tmpfs-mode",
        _ => "nocopy",
    }
}

/// `--mount type=bind|volume|tmpfs,src=…,dst=…[,ro][,…]`.
pub fn parse_mount(spec: &str) -> Result<Mount, MountSpecError> {
    let pairs: Vec<(&str, Option<&str>)> = spec
        .split(',')
        .map(|kv| match kv.split_once('=') {
            Some((k, v)) => (k, Some(v)),
            None => (kv, None),
        })
        .collect();
    let kind = mount_kind(&pairs)?;
    let mut m = Mount::new(kind, "", "");
    if kind.is_memory() {
        m.noexec = true;
    }
    for (key, value) in pairs {
        mount_option(&mut m, kind, key, value)?;
    }
    match kind {
        // Without a destination each match is mounted at its own path.
        MountKind::Glob if m.destination.is_empty() => {}
        _ if m.destination.is_empty() => return Err(MountSpecError::NoDestination),
        _ => check_destination(&m.destination)?,
    }
    match kind {
        MountKind::Bind | MountKind::Glob if m.source.is_empty() => {
            return Err(MountSpecError::NoSource);
        }
        MountKind::Volume if m.source.is_empty() => m.anonymous = true,
        _ => {}
    }
    Ok(m)
}

/// The `type=` of a `--mount`.
fn mount_kind(pairs: &[(&str, Option<&str>)]) -> Result<MountKind, MountSpecError> {
    Ok(match pairs.iter().find(|(k, _)| *k == "type") {
        Some((_, Some("bind"))) => MountKind::Bind,
        Some((_, Some("volume"))) => MountKind::Volume,
        Some((_, Some("tmpfs"))) => MountKind::Tmpfs,
        Some((_, Some("ramfs"))) => MountKind::Ramfs,
        Some((_, Some("glob"))) => MountKind::Glob,
        Some((_, Some("devpts"))) => MountKind::Devpts,
        Some((_, v)) => return Err(MountSpecError::UnknownType(v.unwrap_or("").to_string())),
        None => return Err(MountSpecError::NoType),
    })
}

/// Apply one `KEY[=VALUE]` of a `--mount` of `kind` to `m`.
fn mount_option(
    m: &mut Mount,
    kind: MountKind,
    key: &str,
    value: Option<&str>,
) -> Result<(), MountSpecError> {
    let wrong = || MountSpecError::WrongKind(key.to_string(), kind.as_str());
    match key {
        "type" => {}
        "src" | "source" if !kind.is_memory() && kind != MountKind::Devpts => {
            m.source = value.unwrap_or("").into()
        }
        "dst" | "destination" | "target" => m.destination = value.unwrap_or("").into(),
        "ro" | "readonly" => m.read_only = flag_value(key, value)?,
        "rw" => m.read_only = !flag_value(key, value)?,
        "U" | "chown" if !kind.is_memory() && kind != MountKind::Devpts => {
            m.chown = flag_value(key, value)?
        }
        "relabel" | "consistency" | "bind-propagation" | "bind-nonrecursive" | "z" | "Z" => {}
        "no-dereference" if matches!(kind, MountKind::Bind | MountKind::Glob) => {
            m.no_dereference = flag_value(key, value)?
        }
        "volume-nocopy" | "nocopy" if kind == MountKind::Volume => {
            m.copy_up = !flag_value(key, value)?
        }
        "volume-label" | "volume-opt" if kind == MountKind::Volume => {}
        "tmpfs-size" | "size" if kind.is_memory() => {
            let v = value
                .filter(|v| !v.is_empty())
                .ok_or_else(|| MountSpecError::BadValue(String::new(), leak_name("tmpfs-size")))?;
            m.tmpfs_data.push(format!("size={v}"));
        }
        "tmpfs-mode" | "mode" if kind.is_memory() => {
            let v = value.unwrap_or("");
            if v.is_empty() || u32::from_str_radix(v, 8).is_err() {
                return Err(MountSpecError::BadValue(
                    v.to_string(),
                    leak_name("tmpfs-mode"),
                ));
            }
            m.tmpfs_data.push(format!("mode={v}"));
        }
        // Checked when the container is made: the kernel allows it only to real root.
        "noswap" if kind == MountKind::Tmpfs => m.tmpfs_data.push("noswap".into()),
        "exec" | "noexec" if kind.is_memory() => m.noexec = key == "noexec",
        "tmpcopyup" | "notmpcopyup" if kind.is_memory() => m.copy_up = key == "tmpcopyup",
        "uid" | "gid" | "mode" | "max" if kind == MountKind::Devpts => {
            let v = value.unwrap_or("");
            let ok = match key {
                "mode" => u32::from_str_radix(v, 8).is_ok(),
                _ => v.parse::<u32>().is_ok(),
            };
            if !ok {
                return Err(MountSpecError::BadValue(v.to_string(), leak_name(key)));
            }
            m.tmpfs_data.push(format!("{key}={v}"));
        }
        "src" | "source" | "U" | "chown" | "volume-nocopy" | "nocopy" | "volume-label"
        | "volume-opt" | "tmpfs-size" | "size" | "tmpfs-mode" | "mode" | "exec" | "noexec"
        | "tmpcopyup" | "notmpcopyup" | "noswap" | "no-dereference" => {
            return Err(wrong());
        }
        other => return Err(MountSpecError::UnknownMountOption(other.to_string())),
    }
    if key != "type" && !matches!(key, "src" | "source" | "dst" | "destination" | "target") {
        m.options.push(match value {
            Some(v) => format!("{key}={v}"),
            None => key.to_string(),
        });
    }
    Ok(())
}

/// `--tmpfs DEST[:OPTS]` (podman's defaults: rw, noexec, nosuid, nodev).
pub fn parse_tmpfs(spec: &str) -> Result<Mount, MountSpecError> {
    let (dest, opts) = spec.split_once(':').unwrap_or((spec, ""));
    check_destination(dest)?;
    let mut m = Mount::new(MountKind::Tmpfs, "tmpfs", dest);
    m.noexec = true;
    for opt in opts.split(',').filter(|o| !o.is_empty()) {
        match opt.split_once('=') {
            Some(("size" | "mode" | "nr_inodes" | "uid" | "gid", v)) if !v.is_empty() => {
                m.tmpfs_data.push(opt.to_string())
            }
            None if matches!(opt, "ro" | "rw") => m.read_only = opt == "ro",
            None if matches!(opt, "exec" | "noexec") => m.noexec = opt == "noexec",
            None if matches!(opt, "tmpcopyup" | "notmpcopyup") => m.copy_up = opt == "tmpcopyup",
            None if matches!(
                opt,
                "nosuid" | "nodev" | "suid" | "dev" | "rprivate" | "private" | "z" | "Z"
            ) => {}
            _ => return Err(MountSpecError::UnknownOption(opt.to_string())),
        }
        m.options.push(opt.to_string());
    }
    Ok(m)
}

/// Every destination may be mounted once (podman checks across -v, --mount and --tmpfs); the same
/// mount given twice counts once.
pub fn dedupe(mounts: Vec<Mount>) -> Result<Vec<Mount>, MountSpecError> {
    let mut out: Vec<Mount> = Vec::with_capacity(mounts.len());
    for m in mounts {
        let dest = normalize(&m.destination);
        match out.iter().find(|o| normalize(&o.destination) == dest) {
            Some(o) if *o == m => {}
            Some(_) => return Err(MountSpecError::DuplicateDestination(m.destination)),
            None => out.push(m),
        }
    }
    Ok(out)
}

/// `/a//b/` → `/a/b`, for comparing destinations.
pub fn normalize(path: &str) -> String {
    let parts: Vec<&str> = path
        .split('/')
        .filter(|p| !p.is_empty() && *p != ".")
        .collect();
    format!("/{}", parts.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn volume_specs() {
        let ok: &[(&str, MountKind, &str, &str, bool)] = &[
            ("/data", MountKind::Volume, "", "/data", false),
            ("vol:/data", MountKind::Volume, "vol", "/data", false),
            ("vol:/data:ro", MountKind::Volume, "vol", "/data", true),
            ("/srv:/srv:ro,z", MountKind::Bind, "/srv", "/srv", true),
            ("./dir:/d:rw,Z,U", MountKind::Bind, "./dir", "/d", false),
            ("/h:/c:O", MountKind::Bind, "/h", "/c", false),
            ("v:/c:nocopy", MountKind::Volume, "v", "/c", false),
        ];
        for (spec, kind, src, dst, ro) in ok {
            let m = parse_volume(spec).unwrap_or_else(|e| panic!("{spec}: {e}"));
            assert_eq!(
                (
                    m.kind,
                    m.source.as_str(),
                    m.destination.as_str(),
                    m.read_only
                ),
                (*kind, *src, *dst, *ro),
                "{spec}"
            );
        }
        assert!(parse_volume("/data").unwrap().anonymous);
        assert!(parse_volume("./d:/d:U").unwrap().chown);
        assert!(parse_volume("/h:/c:O").unwrap().overlay);
        assert!(!parse_volume("v:/c:nocopy").unwrap().copy_up);
        let bad: &[(&str, &str)] = &[
            (
                "a:b:c:d",
                "incorrect volume format \"a:b:c:d\", should be [host-dir:]ctr-dir[:option]",
            ),
            (":/c", "host directory cannot be empty"),
            ("vol:", "container directory cannot be empty"),
            (
                "vol:data",
                "invalid container path \"data\", must be an absolute path",
            ),
            (
                "data",
                "invalid container path \"data\", must be an absolute path",
            ),
            ("v:/c:foo", "invalid option type \"foo\""),
            (
                "v:/c:ro,rw",
                "cannot pass \"rw\" option more than once: incorrect volume format",
            ),
            (
                "v:/c:O",
                "the `O` (overlay) option needs a host directory, not a named volume",
            ),
        ];
        for (spec, want) in bad {
            let e = parse_volume(spec).expect_err(spec);
            assert_eq!(e.to_string(), *want, "{spec}");
        }
    }

    #[test]
    fn mount_specs() {
        let m = parse_mount("type=bind,src=/h,dst=/c,ro").unwrap();
        assert_eq!(
            (
                m.kind,
                m.source.as_str(),
                m.destination.as_str(),
                m.read_only
            ),
            (MountKind::Bind, "/h", "/c", true)
        );
        let m = parse_mount("type=volume,source=v,target=/c,readonly=false").unwrap();
        assert_eq!(
            (m.kind, m.source.as_str(), m.read_only),
            (MountKind::Volume, "v", false)
        );
        assert!(parse_mount("type=volume,dst=/c").unwrap().anonymous);
        assert!(
            !parse_mount("type=volume,src=v,dst=/c,volume-nocopy")
                .unwrap()
                .copy_up
        );
        let m = parse_mount("type=tmpfs,dst=/t,tmpfs-size=1m,tmpfs-mode=1777").unwrap();
        assert_eq!(m.tmpfs_data, ["size=1m", "mode=1777"]);
        assert!(m.noexec);
        let bad: &[(&str, &str)] = &[
            ("src=/h,dst=/c", "must set type: invalid mount option"),
            ("type=nfs,dst=/c", "invalid filesystem type \"nfs\""),
            ("type=bind,src=/h", "must set volume destination"),
            (
                "type=bind,dst=/c",
                "must set source for a bind mount: invalid mount option",
            ),
            (
                "type=bind,src=/h,dst=c",
                "invalid container path \"c\", must be an absolute path",
            ),
            (
                "type=bind,src=/h,dst=/c,foo=1",
                "\"foo\": unknown mount option: invalid mount option",
            ),
            (
                "type=tmpfs,src=/h,dst=/c",
                "option \"src\" is not valid for tmpfs mounts: invalid mount option",
            ),
            (
                "type=tmpfs,dst=/c,tmpfs-mode=999",
                "invalid argument \"999\" for the tmpfs-mode option",
            ),
            (
                "type=bind,src=/h,dst=/c,ro=maybe",
                "invalid argument \"maybe\" for the readonly option",
            ),
        ];
        for (spec, want) in bad {
            let e = parse_mount(spec).expect_err(spec);
            assert_eq!(e.to_string(), *want, "{spec}");
        }
    }

    #[test]
    fn tmpfs_specs() {
        let m = parse_tmpfs("/scratch").unwrap();
        assert_eq!(
            (m.kind, m.destination.as_str()),
            (MountKind::Tmpfs, "/scratch")
        );
        assert!(m.noexec && !m.read_only);
        let m = parse_tmpfs("/t:rw,size=64m,mode=1777,exec").unwrap();
        assert_eq!(m.tmpfs_data, ["size=64m", "mode=1777"]);
        assert!(!m.noexec);
        assert_eq!(
            parse_tmpfs("t").unwrap_err().to_string(),
            "invalid container path \"t\", must be an absolute path"
        );
        assert_eq!(
            parse_tmpfs("/t:bogus").unwrap_err().to_string(),
            "invalid option type \"bogus\""
        );
    }

    #[test]
    fn destinations_are_unique() {
        let a = parse_volume("v:/data").unwrap();
        let b = parse_tmpfs("/data/").unwrap();
        assert_eq!(
            dedupe(vec![a.clone(), b]).unwrap_err().to_string(),
            "/data/: duplicate mount destination"
        );
        let same = dedupe(vec![a.clone(), a.clone(), parse_tmpfs("/other").unwrap()]).unwrap();
        assert_eq!(same.len(), 2);
    }
}
