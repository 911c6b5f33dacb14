//! Volume use cases: create, list (with filters), inspect, remove, prune, exists. A volume is a
//! directory under the store (`volumes/NAME/_data`, driver `local`), recorded in the database; which
//! containers use it comes from the caller's [`Users`].
#![deny(clippy::print_stdout, clippy::print_stderr)]

use std::collections::BTreeMap;

use jiff::Timestamp;

use super::users::{Use, Users};
use super::{Ctx, EngineError};
use crate::store::{Store, StoreError, VolumeRecord};

pub mod mount;

#[derive(Debug, thiserror::Error)]
pub enum VolumeError {
    #[error("no volume with name {0:?} found: no such volume")]
    NoSuchVolume(String),
    #[error(
        "volume {name} is being used by the following container(s): {containers}: volume is being used"
    )]
    InUse { name: String, containers: String },
    #[error(
        "volume name {0:?} is invalid: names must match [a-zA-Z0-9][a-zA-Z0-9_.-]*: invalid argument"
    )]
    InvalidName(String),
    #[error("invalid option {0:?} for driver 'local': invalid argument")]
    BadOption(String),
    #[error("volume driver option {0:?} is not supported yet")]
    Unsupported(String),
    #[error("{0:?} is an invalid volume filter")]
    BadFilter(String),
    #[error("statfs {0}: no such file or directory")]
    NoHostPath(String),
    #[error("no file paths matching glob {0:?}")]
    NoGlobMatch(String),
    #[error("invalid glob {0:?}: {1}")]
    BadGlob(String, String),
    #[error(
        "invalid volume option device for driver 'local': faccessat {0}: no such file or directory"
    )]
    NoDevice(String),
    #[error("volume type {0:?} needs a `device=` option (the directory to bind, or `tmpfs`)")]
    NeedsDevice(String),
}

/// What backs a volume of the local driver (`-o type=…`): its own directory, a tmpfs mounted at each
/// use with `o=` as its options, or a host directory bound in (`device=`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Backing {
    Dir,
    Tmpfs { data: String },
    Bind { device: std::path::PathBuf },
}

/// The backing `options` ask for (checked at creation).
pub fn backing(options: &BTreeMap<String, String>) -> Backing {
    match options.get("type").map(String::as_str) {
        Some("tmpfs") => Backing::Tmpfs {
            data: options
                .get("o")
                .map(|o| {
                    o.split(',')
                        .filter(|kv| !matches!(kv.split_once('='), Some(("uid" | "gid", _))))
                        .collect::<Vec<_>>()
                        .join(",")
                })
                .unwrap_or_default(),
        },
        Some("bind") => Backing::Bind {
            device: options.get("device").map(Into::into).unwrap_or_default(),
        },
        _ => Backing::Dir,
    }
}

impl VolumeError {
    /// podman's `volume rm` statuses: 1 for a missing volume, 2 for one in use.
    pub fn exit_code(&self) -> i32 {
        match self {
            VolumeError::NoSuchVolume(_) => 1,
            VolumeError::InUse { .. } => 2,
            _ => 125,
        }
    }
}

/// What `volume create` is asked for.
#[derive(Debug, Clone, Default)]
pub struct CreateVolumeOptions {
    /// None: an anonymous name (64 hex digits) is generated.
    pub name: Option<String>,
    pub labels: BTreeMap<String, String>,
    pub options: BTreeMap<String, String>,
    /// `--ignore`: an existing volume of that name is not an error.
    pub ignore: bool,
    pub anonymous: bool,
}

/// A volume with what inspect and ls need to know about its use.
#[derive(Debug, Clone)]
pub struct VolumeInfo {
    pub record: VolumeRecord,
    /// Ids of the containers whose spec mounts it.
    pub users: Vec<String>,
    /// How many of them are running (podman's MountCount).
    pub mount_count: u32,
}

/// podman's name rule: `[a-zA-Z0-9][a-zA-Z0-9_.-]*`.
pub fn validate_name(name: &str) -> Result<(), VolumeError> {
    let mut chars = name.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphanumeric());
    if first_ok && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')) {
        Ok(())
    } else {
        Err(VolumeError::InvalidName(name.to_string()))
    }
}

/// The local driver's options that roost implements: `UID`, `GID` (owner of the data directory) and
/// `nocopy`; `o=uid=N,gid=N` is accepted for the same; `type=tmpfs` (with `device=tmpfs` and the tmpfs
/// options in `o=`) and `type=bind` with `device=DIR`.
fn check_options(options: &BTreeMap<String, String>) -> Result<(), VolumeError> {
    let kind = options.get("type").map(String::as_str);
    match (kind, options.get("device")) {
        (None, None) => {}
        (Some("tmpfs"), _) => {}
        (Some("bind"), Some(dev)) if std::fs::metadata(dev).is_err() => {
            return Err(VolumeError::NoDevice(dev.clone()));
        }
        (Some("bind"), Some(_)) => {}
        (Some(t @ "bind"), None) => return Err(VolumeError::NeedsDevice(t.to_string())),
        (Some(t), _) => return Err(VolumeError::Unsupported(format!("type={t}"))),
        (None, Some(_)) => return Err(VolumeError::Unsupported("device".into())),
    }
    for (k, v) in options {
        match k.as_str() {
            "UID" | "GID" | "uid" | "gid" => {
                v.parse::<u32>()
                    .map_err(|_| VolumeError::BadOption(format!("{k}={v}")))?;
            }
            "nocopy" | "copy" => {}
            "o" => {
                for o in v.split(',') {
                    match o.split_once('=') {
                        Some(("uid" | "gid", n)) if n.parse::<u32>().is_ok() => {}
                        Some(("size" | "mode" | "nr_inodes", _)) if kind == Some("tmpfs") => {}
                        None if kind.is_some() && matches!(o, "rw" | "ro" | "bind" | "rbind") => {}
                        _ => return Err(VolumeError::Unsupported(format!("o={o}"))),
                    }
                }
            }
            "type" | "device" => {}
            _ => return Err(VolumeError::BadOption(k.clone())),
        }
    }
    Ok(())
}

/// The owner the options ask for (`UID`/`GID`, or `o=uid=…,gid=…`).
fn owner(options: &BTreeMap<String, String>) -> (Option<u32>, Option<u32>) {
    let mut uid = options
        .get("UID")
        .or(options.get("uid"))
        .and_then(|v| v.parse().ok());
    let mut gid = options
        .get("GID")
        .or(options.get("gid"))
        .and_then(|v| v.parse().ok());
    for o in options.get("o").map(|o| o.split(',')).into_iter().flatten() {
        match o.split_once('=') {
            Some(("uid", n)) => uid = n.parse().ok(),
            Some(("gid", n)) => gid = n.parse().ok(),
            _ => {}
        }
    }
    (uid, gid)
}

/// Create a volume in an open store; returns its record (the existing one with `ignore`).
pub fn create_in(
    store: &mut Store,
    opts: &CreateVolumeOptions,
) -> Result<VolumeRecord, EngineError> {
    let name = match &opts.name {
        Some(n) => {
            validate_name(n)?;
            n.clone()
        }
        None => hex::encode(rand::random::<[u8; 32]>()),
    };
    check_options(&opts.options)?;
    if let Some(existing) = store.volume(&name)? {
        if opts.ignore {
            return Ok(existing);
        }
        return Err(StoreError::VolumeExists(name).into());
    }
    let (uid, gid) = owner(&opts.options);
    let record = VolumeRecord {
        mountpoint: store.volume_dir(&name).join("_data"),
        name,
        driver: "local".into(),
        created: Timestamp::now(),
        labels: opts.labels.clone(),
        options: opts.options.clone(),
        anonymous: opts.anonymous,
        needs_copy_up: !opts.options.contains_key("nocopy"),
        needs_chown: uid.is_none() && gid.is_none(),
    };
    match store.add_volume(&record) {
        Err(StoreError::VolumeExists(_)) if opts.ignore => {
            return store
                .volume(&record.name)?
                .ok_or_else(|| VolumeError::NoSuchVolume(record.name.clone()).into());
        }
        r => r?,
    }
    if uid.is_some() || gid.is_some() {
        std::os::unix::fs::chown(&record.mountpoint, uid, gid)
            .map_err(|e| EngineError::io("chown", &record.mountpoint, e))?;
    }
    Ok(record)
}

/// `volume create`.
pub fn create(ctx: &Ctx, opts: &CreateVolumeOptions) -> Result<VolumeRecord, EngineError> {
    let mut store = ctx.store()?;
    let v = create_in(&mut store, opts)?;
    crate::engine::events::record(ctx, crate::engine::events::Event::volume("create", &v.name));
    Ok(v)
}

/// The containers that mount the volume `name`.
fn users_of<'a>(uses: &'a [Use], name: &str) -> Vec<&'a Use> {
    uses.iter()
        .filter(|u| u.volumes.iter().any(|v| v == name))
        .collect()
}

fn info(record: VolumeRecord, uses: &[Use]) -> VolumeInfo {
    let users = users_of(uses, &record.name);
    VolumeInfo {
        mount_count: users.iter().filter(|u| u.running).count() as u32,
        users: users.iter().map(|u| u.id.clone()).collect(),
        record,
    }
}

/// One `volume ls --filter`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VolumeFilter {
    /// The name matches this regular expression (unanchored, as podman's).
    Name(String),
    Label(String, Option<String>),
    Dangling(bool),
    Driver(String),
}

pub fn parse_filter(s: &str) -> Result<VolumeFilter, VolumeError> {
    let bad = || VolumeError::BadFilter(s.to_string());
    let (key, value) = s.split_once('=').ok_or_else(bad)?;
    Ok(match key {
        "name" => {
            regex_lite::Regex::new(value).map_err(|_| bad())?;
            VolumeFilter::Name(value.to_string())
        }
        "label" => match value.split_once('=') {
            Some((k, v)) => VolumeFilter::Label(k.to_string(), Some(v.to_string())),
            None => VolumeFilter::Label(value.to_string(), None),
        },
        "dangling" => match value {
            "true" | "1" => VolumeFilter::Dangling(true),
            "false" | "0" => VolumeFilter::Dangling(false),
            _ => return Err(bad()),
        },
        "driver" => VolumeFilter::Driver(value.to_string()),
        _ => return Err(bad()),
    })
}

fn matches(f: &VolumeFilter, v: &VolumeInfo) -> bool {
    match f {
        VolumeFilter::Name(n) => match regex_lite::Regex::new(n) {
            Ok(re) => re.is_match(&v.record.name),
            Err(_) => v.record.name.contains(n.as_str()),
        },
        VolumeFilter::Label(k, want) => v
            .record
            .labels
            .get(k)
            .is_some_and(|have| want.as_ref().is_none_or(|w| w == have)),
        VolumeFilter::Dangling(d) => v.users.is_empty() == *d,
        VolumeFilter::Driver(d) => &v.record.driver == d,
    }
}

/// `volume ls`: filters of the same key are alternatives; different keys must all match (podman).
pub fn list(
    ctx: &Ctx,
    filters: &[VolumeFilter],
    users: &dyn Users,
) -> Result<Vec<VolumeInfo>, EngineError> {
    let Some(store) = ctx.store_if_exists()? else {
        return Ok(vec![]);
    };
    let containers = users.uses(&store)?;
    let key = |f: &VolumeFilter| std::mem::discriminant(f);
    Ok(store
        .volumes()?
        .into_iter()
        .map(|r| info(r, &containers))
        .filter(|v| {
            filters.iter().all(|f| {
                filters
                    .iter()
                    .filter(|g| key(g) == key(f))
                    .any(|g| matches(g, v))
            })
        })
        .collect())
}

/// `volume inspect NAME`.
pub fn inspect(ctx: &Ctx, name: &str, users: &dyn Users) -> Result<VolumeInfo, EngineError> {
    let Some(store) = ctx.store_if_exists()? else {
        return Err(VolumeError::NoSuchVolume(name.to_string()).into());
    };
    let record = store
        .volume(name)?
        .ok_or_else(|| VolumeError::NoSuchVolume(name.to_string()))?;
    Ok(info(record, &users.uses(&store)?))
}

/// `volume exists NAME`.
pub fn exists(ctx: &Ctx, name: &str) -> Result<bool, EngineError> {
    Ok(match ctx.store_if_exists()? {
        Some(store) => store.volume(name)?.is_some(),
        None => false,
    })
}

#[derive(Debug, Default)]
pub struct VolumeRemoveReport {
    pub removed: Vec<String>,
    pub errors: Vec<EngineError>,
}

/// `volume rm`: a volume in use fails unless `force`, which removes its containers first, stopping
/// running ones with `time` seconds of grace when given (negative: their own stop timeout; none or 0:
/// killed at once); a missing volume is no error with `force` (podman).
pub fn remove(
    ctx: &Ctx,
    names: &[String],
    all: bool,
    force: bool,
    time: Option<i64>,
    users: &dyn Users,
) -> Result<VolumeRemoveReport, EngineError> {
    let mut report = VolumeRemoveReport::default();
    let Some(mut store) = ctx.store_if_exists()? else {
        if !force {
            report.errors.extend(
                names
                    .iter()
                    .map(|n| VolumeError::NoSuchVolume(n.clone()).into()),
            );
        }
        return Ok(report);
    };
    let names: Vec<String> = if all {
        store.volumes()?.into_iter().map(|v| v.name).collect()
    } else {
        names.to_vec()
    };
    if let (true, Some(t)) = (force, time.filter(|t| *t != 0)) {
        let grace = u32::try_from(t).ok();
        let uses = users.uses(&store)?;
        let running: Vec<String> = names
            .iter()
            .flat_map(|n| users_of(&uses, n))
            .filter(|u| u.running)
            .map(|u| u.id.clone())
            .collect();
        drop(store);
        for id in running {
            users.stop(ctx, &id, grace)?;
        }
        store = ctx.store()?;
    }
    for name in names {
        match remove_named(ctx, &mut store, &name, force, users) {
            Ok(()) => report.removed.push(name),
            Err(EngineError::Volume(VolumeError::NoSuchVolume(_))) if force => {}
            Err(e) => report.errors.push(e),
        }
    }
    Ok(report)
}

fn remove_named(
    ctx: &Ctx,
    store: &mut Store,
    name: &str,
    force: bool,
    users: &dyn Users,
) -> Result<(), EngineError> {
    if store.volume(name)?.is_none() {
        return Err(VolumeError::NoSuchVolume(name.to_string()).into());
    }
    let uses = users.uses(store)?;
    let using = users_of(&uses, name);
    if !using.is_empty() {
        if !force {
            return Err(VolumeError::InUse {
                name: name.to_string(),
                containers: using
                    .iter()
                    .map(|u| u.id.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            }
            .into());
        }
        for u in using {
            users.remove(ctx, store, &u.id)?;
        }
    }
    store.remove_volume(name)?;
    crate::engine::events::record(ctx, crate::engine::events::Event::volume("remove", name));
    Ok(())
}

/// `volume prune`: remove every volume no container uses; returns their names.
pub fn prune(
    ctx: &Ctx,
    all: bool,
    filters: &[VolumeFilter],
    users: &dyn Users,
) -> Result<VolumeRemoveReport, EngineError> {
    let unused: Vec<String> = prunable(ctx, all, filters, users)?
        .into_iter()
        .map(|v| v.record.name)
        .collect();
    if unused.is_empty() {
        return Ok(VolumeRemoveReport::default());
    }
    let report = remove(ctx, &unused, false, false, None, users)?;
    let pruned = report
        .removed
        .iter()
        .map(|n| crate::engine::events::Event::volume("prune", n));
    crate::engine::events::record_all(ctx, &pruned.collect::<Vec<_>>());
    Ok(report)
}

/// `volume export NAME`: the volume's content as a tar (entries relative to its top).
pub fn export(ctx: &Ctx, name: &str, out: &mut dyn std::io::Write) -> Result<(), EngineError> {
    let dir = mountpoint(ctx, name)?;
    let fd = rustix::fs::open(
        &dir,
        rustix::fs::OFlags::PATH | rustix::fs::OFlags::DIRECTORY | rustix::fs::OFlags::CLOEXEC,
        rustix::fs::Mode::empty(),
    )
    .map_err(|e| EngineError::io("open", dir.clone(), e.into()))?;
    let mut tar = crate::archive::TreeWriter::new(out);
    tar.append_children(std::os::fd::AsFd::as_fd(&fd), b"")?;
    tar.finish()?;
    Ok(())
}

/// `volume import NAME`: unpack a (compressed) tar into the volume, over what it holds.
pub fn import(ctx: &Ctx, name: &str, input: &mut dyn std::io::Read) -> Result<(), EngineError> {
    let dir = mountpoint(ctx, name)?;
    let (_, plain) = crate::archive::decompress(input)
        .map_err(|e| EngineError::io("read the tar for", dir.clone(), e))?;
    let opts = crate::archive::ApplyOptions {
        whiteouts: crate::archive::Whiteouts::Apply,
        allow_devices: false,
        ..ctx.apply_options()
    };
    crate::archive::apply_layer(plain, &dir, &opts)?;
    Ok(())
}

fn mountpoint(ctx: &Ctx, name: &str) -> Result<std::path::PathBuf, EngineError> {
    Ok(record(ctx, name)?.mountpoint)
}

/// The stored record of volume `name`.
fn record(ctx: &Ctx, name: &str) -> Result<VolumeRecord, EngineError> {
    let no_such = || EngineError::from(VolumeError::NoSuchVolume(name.to_string()));
    let store = ctx.store_if_exists()?.ok_or_else(no_such)?;
    store.volume(name)?.ok_or_else(no_such)
}

/// What `volume prune` removes: unused volumes matching `filters`, only anonymous ones unless `all`
/// (podman).
pub fn prunable(
    ctx: &Ctx,
    all: bool,
    filters: &[VolumeFilter],
    users: &dyn Users,
) -> Result<Vec<VolumeInfo>, EngineError> {
    let mut filters = filters.to_vec();
    filters.push(VolumeFilter::Dangling(true));
    Ok(list(ctx, &filters, users)?
        .into_iter()
        .filter(|v| all || v.record.anonymous)
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_podmans_rule() {
        for ok in ["a", "data", "my-vol_1.2", "0abc"] {
            validate_name(ok).unwrap_or_else(|e| panic!("{ok}: {e}"));
        }
        for bad in ["", "-a", ".a", "a b", "a/b", "a:b", "ä"] {
            assert!(validate_name(bad).is_err(), "{bad}");
        }
        assert_eq!(
            validate_name("a b").unwrap_err().to_string(),
            "volume name \"a b\" is invalid: names must match [a-zA-Z0-9][a-zA-Z0-9_.-]*: invalid argument"
        );
    }

    #[test]
    fn filters_parse() {
        assert_eq!(
            parse_filter("label=a=b").unwrap(),
            VolumeFilter::Label("a".into(), Some("b".into()))
        );
        assert_eq!(
            parse_filter("label=a").unwrap(),
            VolumeFilter::Label("a".into(), None)
        );
        assert_eq!(
            parse_filter("dangling=true").unwrap(),
            VolumeFilter::Dangling(true)
        );
        assert_eq!(
            parse_filter("name=x").unwrap(),
            VolumeFilter::Name("x".into())
        );
        assert_eq!(
            parse_filter("bogus=1").unwrap_err().to_string(),
            "\"bogus=1\" is an invalid volume filter"
        );
        assert!(parse_filter("dangling=maybe").is_err());
    }

    #[test]
    fn driver_options() {
        let opts = |kv: &[(&str, &str)]| {
            kv.iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<BTreeMap<_, _>>()
        };
        check_options(&opts(&[("UID", "1000"), ("GID", "10")])).unwrap();
        check_options(&opts(&[("o", "uid=1,gid=2")])).unwrap();
        assert_eq!(owner(&opts(&[("o", "uid=1,gid=2")])), (Some(1), Some(2)));
        check_options(&opts(&[("type", "tmpfs"), ("o", "size=2M")])).unwrap();
        assert_eq!(
            backing(&opts(&[("type", "tmpfs"), ("o", "size=2M,uid=1")])),
            Backing::Tmpfs {
                data: "size=2M".into()
            }
        );
        assert!(matches!(
            check_options(&opts(&[("type", "nfs")])),
            Err(VolumeError::Unsupported(_))
        ));
        assert!(matches!(
            check_options(&opts(&[("type", "bind"), ("device", "/no/such/dir")])),
            Err(VolumeError::NoDevice(_))
        ));
        assert!(matches!(
            check_options(&opts(&[("bogus", "1")])),
            Err(VolumeError::BadOption(_))
        ));
    }
}
