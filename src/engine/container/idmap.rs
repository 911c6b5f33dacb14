//! `--userns`, `--uidmap` and `--gidmap`: which ids a container's own (nested) user namespace maps.
//!
//! roost runs containers inside its rootless user namespace, where 0 is the caller and 1..N are the
//! caller's subordinate ids. By default (`private`, or `host`, which for a rootless tool is that same
//! namespace) the container shares it. `keep-id`, `auto`, `nomap` and explicit maps give the container
//! a nested namespace whose ranges point into roost's: HOST ids here are ids of roost's namespace
//! (podman's rootless meaning of `--uidmap`). `auto` takes a range of roost's subordinate ids (1..)
//! that no other auto container holds; `auto` and `nomap` leave the caller out, which the runtime
//! handles by opening the container's mount sources for it (`runtime::detached`). `ns:PATH` joins a
//! namespace that exists.
//!
//! Layers are stored with the image's ids as ids of roost's namespace (image root is roost's 0, the
//! caller). Seen through a nested map as they are, files the image gives to root would appear owned by
//! the keep-id user. So a container with a nested map gets id-shifted layers instead (see
//! `engine::storage::idmapped`): each file's image id `X` is stored as the id of roost's namespace that
//! the nested map shows as `X` ([`NestedMaps::to_outer`]).
use serde::{Deserialize, Serialize};

use crate::userns::IdRange;

/// What the caller asked for, as given on the command line, plus what the CLI knows of its namespace.
#[derive(Debug, Clone, Default)]
pub struct UsernsRequest {
    /// `--userns` (None: not given).
    pub mode: Option<String>,
    pub uidmap: Vec<String>,
    pub gidmap: Vec<String>,
    /// The caller's user name (for keep-id's /etc/passwd entry).
    pub caller_name: Option<String>,
    /// The caller's ids and the sizes of roost's user namespace (from /proc/self/{uid,gid}_map).
    pub outer: Outer,
    /// roost's /proc/self/uid_map and gid_map as ranges (`container`: roost's id, `host`: the host's),
    /// for `auto`'s `@HOST` ids.
    pub host_maps: (Vec<MapRange>, Vec<MapRange>),
    /// Ids of roost's namespace that other `auto` containers hold (uids, gids), filled by the engine.
    pub taken: (Vec<MapRange>, Vec<MapRange>),
    /// The ids the image needs (its highest id plus one), for `auto` without `size=`.
    pub image_span: u32,
}

/// The namespace roost runs in: who 0 is on the host and how many ids (0..size) it maps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outer {
    pub caller_uid: u32,
    pub caller_gid: u32,
    pub uid_size: u32,
    pub gid_size: u32,
}

impl Default for Outer {
    fn default() -> Outer {
        Outer {
            caller_uid: 0,
            caller_gid: 0,
            uid_size: 1,
            gid_size: 1,
        }
    }
}

/// One line of an id map, as stored with the container.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct MapRange {
    pub container: u32,
    pub host: u32,
    pub size: u32,
}

impl MapRange {
    pub fn to_range(self) -> IdRange {
        IdRange {
            container: self.container,
            host: self.host,
            size: self.size,
        }
    }

    /// podman's `CONTAINER:HOST:SIZE` rendering (inspect's IDMappings).
    pub fn render(self) -> String {
        format!("{}:{}:{}", self.container, self.host, self.size)
    }

    fn end(self) -> u64 {
        u64::from(self.container) + u64::from(self.size)
    }

    fn host_end(self) -> u64 {
        u64::from(self.host) + u64::from(self.size)
    }
}

/// A nested namespace's maps.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NestedMaps {
    pub uids: Vec<MapRange>,
    pub gids: Vec<MapRange>,
}

/// podman's overflow id: what the kernel shows for an id a namespace does not map.
const OVERFLOW_ID: u32 = 65534;

impl NestedMaps {
    /// The ids of roost's namespace that the nested one shows as container uid `uid` and gid `gid`.
    pub fn to_outer(&self, uid: u32, gid: u32) -> (u32, u32) {
        (outer_id(&self.uids, uid), outer_id(&self.gids, gid))
    }

    /// Give `path` (not following a symlink) to the nested namespace's root.
    pub fn give_to_root(&self, path: &std::path::Path) -> Result<(), crate::engine::EngineError> {
        let (uid, gid) = self.to_outer(0, 0);
        std::os::unix::fs::lchown(path, Some(uid), Some(gid))
            .map_err(|e| crate::engine::EngineError::io("chown", path, e))
    }

    /// The container ids the nested namespace shows for ids `uid`/`gid` of roost's namespace (the image's
    /// ids of a file stored shifted); ids it leaves out are shown as the overflow id.
    pub fn to_container(&self, uid: u32, gid: u32) -> (u32, u32) {
        (container_id(&self.uids, uid), container_id(&self.gids, gid))
    }

    /// A short name for these maps (the directory of the layers shifted for them).
    pub fn key(&self) -> String {
        use sha2::Digest;
        let render = |m: &[MapRange]| m.iter().map(|r| r.render()).collect::<Vec<_>>().join(",");
        let text = format!("uid={};gid={}", render(&self.uids), render(&self.gids));
        hex::encode(&sha2::Sha256::digest(text.as_bytes())[..8])
    }
}

/// Where container id `id` lives in roost's namespace. An id the map leaves out goes where the map puts
/// the overflow id, else to an id of roost's namespace the map leaves out (below one it maps, so it exists),
/// so the container sees it as the kernel shows any unmapped id; with neither, it stays as it is.
fn outer_id(map: &[MapRange], id: u32) -> u32 {
    let find = |id: u32| {
        map.iter()
            .find(|r| id >= r.container && u64::from(id) < r.end())
            .map(|r| r.host + (id - r.container))
    };
    if let Some(h) = find(id) {
        return h;
    }
    if let Some(h) = find(OVERFLOW_ID) {
        return h;
    }
    let top = map.iter().map(|r| r.host_end()).max().unwrap_or(0);
    (0..top)
        .find(|h| {
            !map.iter()
                .any(|r| *h >= u64::from(r.host) && *h < r.host_end())
        })
        .and_then(|h| u32::try_from(h).ok())
        .unwrap_or(id)
}

fn container_id(map: &[MapRange], outer: u32) -> u32 {
    map.iter()
        .find(|r| outer >= r.host && u64::from(outer) < r.host_end())
        .map_or(OVERFLOW_ID, |r| r.container + (outer - r.host))
}

/// The resolved choice: the mode to show (podman's `UsernsMode`), the maps of a nested namespace
/// (None: share roost's), and the user keep-id runs the process as unless `-u` says otherwise.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Userns {
    pub mode: String,
    pub maps: Option<NestedMaps>,
    pub user: Option<(u32, u32)>,
    /// The maps are an `auto` range.
    pub auto: bool,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum IdMapError {
    #[error(
        "invalid --userns `{0}`: use private, host, nomap, ns:PATH, auto[:size=N,uidmapping=C:H:N,gidmapping=C:H:N] or keep-id[:uid=U,gid=G,size=S] (container: is not supported)"
    )]
    Mode(String),
    #[error(
        "invalid auto option `{0}`: expected size=SIZE, uidmapping=CONTAINER:[@]HOST:SIZE or gidmapping=CONTAINER:[@]HOST:SIZE"
    )]
    AutoOption(String),
    #[error("invalid auto option `{0}`: host id {1} is not mapped into roost's user namespace")]
    AutoHostId(String, u32),
    #[error(
        "--userns=auto: no free range of {size} {what} left among your subordinate ids (0-{max} of roost's namespace, less those other auto containers hold): remove some or ask for a smaller size="
    )]
    AutoExhausted {
        what: &'static str,
        size: u32,
        max: u32,
    },
    #[error("invalid keep-id option `{0}`: expected uid=UID, gid=GID or size=SIZE")]
    KeepIdOption(String),
    #[error("invalid {flag} `{value}`: expected CONTAINER:HOST:SIZE with numbers and SIZE > 0")]
    Syntax { flag: &'static str, value: String },
    #[error(
        "invalid {flag} `{value}`: host ids {first}-{last} are not all in the rootless user namespace (available: 0-{max})"
    )]
    OutOfRange {
        flag: &'static str,
        value: String,
        first: u64,
        last: u64,
        max: u64,
    },
    #[error("invalid {flag}: container ids of `{a}` and `{b}` overlap")]
    ContainerOverlap {
        flag: &'static str,
        a: String,
        b: String,
    },
    #[error("invalid {flag}: host ids of `{a}` and `{b}` overlap")]
    HostOverlap {
        flag: &'static str,
        a: String,
        b: String,
    },
    #[error("--userns=`{0}` cannot be combined with --uidmap or --gidmap")]
    Conflict(String),
    #[error(
        "--userns=nomap needs subordinate ids: roost's user namespace maps only your own id (see /etc/subuid and /etc/subgid)"
    )]
    NoSubordinateIds,
    #[error("--userns `{0}`: the path of the user namespace to join is empty")]
    NsPath(String),
}

/// Parsed `--userns` values.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Mode {
    Private,
    Host,
    KeepId {
        uid: Option<u32>,
        gid: Option<u32>,
        size: Option<u32>,
    },
    NoMap,
    Auto(AutoOptions),
    Ns(String),
}

/// `auto`'s options: the size of the range and mappings that must be in it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
struct AutoOptions {
    size: Option<u32>,
    uids: Vec<AutoMapping>,
    gids: Vec<AutoMapping>,
}

/// `CONTAINER:[@]HOST:SIZE`: HOST is an id of roost's namespace, or with `@` one of the host's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct AutoMapping {
    range: MapRange,
    host_absolute: bool,
}

/// podman's smallest `auto` namespace when no size is asked for (containers/storage's minimum; an
/// image that uses higher ids gets what it needs).
pub const AUTO_DEFAULT_SIZE: u32 = 1024;

fn parse_auto(opts: &str) -> Result<AutoOptions, IdMapError> {
    let mut out = AutoOptions::default();
    for o in opts.split(',') {
        let bad = || IdMapError::AutoOption(o.to_string());
        let (k, v) = o.split_once('=').ok_or_else(bad)?;
        match k {
            "size" => out.size = Some(v.parse().ok().filter(|n| *n > 0).ok_or_else(bad)?),
            "uidmapping" => out.uids.push(parse_auto_mapping(v).ok_or_else(bad)?),
            "gidmapping" => out.gids.push(parse_auto_mapping(v).ok_or_else(bad)?),
            _ => return Err(bad()),
        }
    }
    Ok(out)
}

fn parse_auto_mapping(v: &str) -> Option<AutoMapping> {
    let host_absolute = v.contains('@');
    let range = parse_range("--userns", &v.replacen('@', "", 1)).ok()?;
    Some(AutoMapping {
        range,
        host_absolute,
    })
}

fn parse_mode(s: &str) -> Result<Mode, IdMapError> {
    let bad = || IdMapError::Mode(s.to_string());
    match s {
        "" | "private" => return Ok(Mode::Private),
        "host" => return Ok(Mode::Host),
        "nomap" => return Ok(Mode::NoMap),
        "keep-id" => {
            return Ok(Mode::KeepId {
                uid: None,
                gid: None,
                size: None,
            });
        }
        "auto" => return Ok(Mode::Auto(AutoOptions::default())),
        _ => {}
    }
    if let Some(opts) = s.strip_prefix("auto:") {
        return parse_auto(opts).map(Mode::Auto);
    }
    if let Some(path) = s.strip_prefix("ns:") {
        if path.is_empty() {
            return Err(IdMapError::NsPath(s.to_string()));
        }
        return Ok(Mode::Ns(path.to_string()));
    }
    let opts = s.strip_prefix("keep-id:").ok_or_else(bad)?;
    let (mut uid, mut gid, mut size) = (None, None, None);
    for o in opts.split(',') {
        let bad_opt = || IdMapError::KeepIdOption(o.to_string());
        let (k, v) = o.split_once('=').ok_or_else(bad_opt)?;
        let n: u32 = v.parse().map_err(|_| bad_opt())?;
        match k {
            "uid" => uid = Some(n),
            "gid" => gid = Some(n),
            "size" if n > 0 => size = Some(n),
            _ => return Err(bad_opt()),
        }
    }
    Ok(Mode::KeepId { uid, gid, size })
}

/// One `CONTAINER:HOST:SIZE`.
pub fn parse_range(flag: &'static str, s: &str) -> Result<MapRange, IdMapError> {
    let bad = || IdMapError::Syntax {
        flag,
        value: s.to_string(),
    };
    let mut it = s.split(':');
    let mut num = || -> Result<u32, IdMapError> {
        it.next()
            .and_then(|p| p.trim().parse::<u32>().ok())
            .ok_or_else(bad)
    };
    let r = MapRange {
        container: num()?,
        host: num()?,
        size: num()?,
    };
    if it.next().is_some() || r.size == 0 || r.end() > u64::from(u32::MAX) {
        return Err(bad());
    }
    Ok(r)
}

/// A map from repeated flags: every range inside 0..size of roost's namespace, none overlapping.
pub fn parse_map(
    flag: &'static str,
    values: &[String],
    size: u32,
) -> Result<Vec<MapRange>, IdMapError> {
    let ranges: Vec<MapRange> = values
        .iter()
        .map(|v| parse_range(flag, v))
        .collect::<Result<_, _>>()?;
    for r in &ranges {
        if r.host_end() > u64::from(size) {
            return Err(IdMapError::OutOfRange {
                flag,
                value: r.render(),
                first: u64::from(r.host),
                last: r.host_end() - 1,
                max: u64::from(size) - 1,
            });
        }
    }
    for (i, a) in ranges.iter().enumerate() {
        for b in &ranges[i + 1..] {
            let pair = || (a.render(), b.render());
            if u64::from(a.container) < b.end() && u64::from(b.container) < a.end() {
                let (a, b) = pair();
                return Err(IdMapError::ContainerOverlap { flag, a, b });
            }
            if u64::from(a.host) < b.host_end() && u64::from(b.host) < a.host_end() {
                let (a, b) = pair();
                return Err(IdMapError::HostOverlap { flag, a, b });
            }
        }
    }
    Ok(ranges)
}

/// keep-id's map: container `id` is the caller (0 of roost's namespace), container 0..id are roost's
/// 1..=id, and container id+1.. are roost's id+1.., up to `size` ids of roost's namespace.
pub fn keep_id_map(id: u32, size: u32) -> Vec<MapRange> {
    let size = size.max(1);
    let mut out = Vec::new();
    let below = id.min(size - 1);
    if below > 0 {
        out.push(MapRange {
            container: 0,
            host: 1,
            size: below,
        });
    }
    out.push(MapRange {
        container: id,
        host: 0,
        size: 1,
    });
    if let Some(next) = id.checked_add(1)
        && next < size
    {
        out.push(MapRange {
            container: next,
            host: next,
            size: size - next,
        });
    }
    out
}

/// Resolve the request into the namespace the container gets.
pub fn resolve(req: &UsernsRequest) -> Result<Userns, IdMapError> {
    let given = req.mode.clone().unwrap_or_default();
    let mode = parse_mode(&given)?;
    let explicit = !req.uidmap.is_empty() || !req.gidmap.is_empty();
    if explicit && req.mode.is_some() && !matches!(mode, Mode::Private) {
        return Err(IdMapError::Conflict(given));
    }
    let o = &req.outer;
    if explicit {
        // podman: a missing --gidmap copies --uidmap, and the other way round.
        let (u, g) = match (req.uidmap.is_empty(), req.gidmap.is_empty()) {
            (true, _) => (&req.gidmap, &req.gidmap),
            (_, true) => (&req.uidmap, &req.uidmap),
            _ => (&req.uidmap, &req.gidmap),
        };
        let uids = parse_map("--uidmap", u, o.uid_size)?;
        let gids = parse_map("--gidmap", g, o.gid_size)?;
        return Ok(Userns {
            mode: "private".into(),
            maps: Some(NestedMaps { uids, gids }),
            ..Userns::default()
        });
    }
    Ok(match mode {
        Mode::Private => Userns {
            mode: given,
            ..Userns::default()
        },
        Mode::Host => Userns {
            mode: "host".into(),
            ..Userns::default()
        },
        Mode::NoMap => nomap(o)?,
        Mode::Auto(a) => auto(req, &a)?,
        Mode::Ns(path) => Userns {
            mode: format!("ns:{path}"),
            ..Userns::default()
        },
        Mode::KeepId { uid, gid, size } => {
            let uid = uid.unwrap_or(o.caller_uid);
            let gid = gid.unwrap_or(o.caller_gid);
            let cap = |n: u32| size.map_or(n, |s| s.min(n));
            Userns {
                mode: given,
                maps: Some(NestedMaps {
                    uids: keep_id_map(uid, cap(o.uid_size)),
                    gids: keep_id_map(gid, cap(o.gid_size)),
                }),
                user: Some((uid, gid)),
                auto: false,
            }
        }
    })
}

/// nomap: the subordinate ids only (roost's 1..), leaving out the caller's own (roost's 0).
fn nomap(o: &Outer) -> Result<Userns, IdMapError> {
    let range = |size: u32| MapRange {
        container: 0,
        host: 1,
        size: size - 1,
    };
    if o.uid_size < 2 || o.gid_size < 2 {
        return Err(IdMapError::NoSubordinateIds);
    }
    Ok(Userns {
        mode: "private".into(),
        maps: Some(NestedMaps {
            uids: vec![range(o.uid_size)],
            gids: vec![range(o.gid_size)],
        }),
        ..Userns::default()
    })
}

/// auto: a range of roost's subordinate ids no other auto container holds, plus the mappings asked for.
fn auto(req: &UsernsRequest, a: &AutoOptions) -> Result<Userns, IdMapError> {
    let size = a.size.unwrap_or(AUTO_DEFAULT_SIZE.max(req.image_span));
    let o = &req.outer;
    let uids = auto_map(&a.uids, &req.host_maps.0, &req.taken.0, size, o.uid_size)
        .map_err(|e| e.named("uids"))?;
    let gids = auto_map(&a.gids, &req.host_maps.1, &req.taken.1, size, o.gid_size)
        .map_err(|e| e.named("gids"))?;
    Ok(Userns {
        mode: "private".into(),
        maps: Some(NestedMaps { uids, gids }),
        user: None,
        auto: true,
    })
}

impl IdMapError {
    fn named(self, what: &'static str) -> IdMapError {
        match self {
            IdMapError::AutoExhausted { size, max, .. } => {
                IdMapError::AutoExhausted { what, size, max }
            }
            e => e,
        }
    }
}

/// One `auto` map: the forced mappings (their HOST ids made ids of roost's namespace), then container
/// ids 0..size that they leave out, from a free range of roost's ids 1..ns_size.
fn auto_map(
    forced: &[AutoMapping],
    host_map: &[MapRange],
    taken: &[MapRange],
    size: u32,
    ns_size: u32,
) -> Result<Vec<MapRange>, IdMapError> {
    let mut out = forced
        .iter()
        .map(|m| forced_range(m, host_map))
        .collect::<Result<Vec<_>, _>>()?;
    let mut busy: Vec<MapRange> = taken.to_vec();
    busy.extend(out.iter().copied());
    let start = free_start(&busy, size, ns_size).ok_or(IdMapError::AutoExhausted {
        what: "ids",
        size,
        max: ns_size.saturating_sub(1),
    })?;
    let mut c = 0u32;
    while c < size {
        match out
            .iter()
            .find(|r| c >= r.container && u64::from(c) < r.end())
        {
            Some(r) => c = r.container + r.size,
            None => {
                let next = out
                    .iter()
                    .filter(|r| r.container > c)
                    .map(|r| r.container)
                    .min()
                    .unwrap_or(size)
                    .min(size);
                out.push(MapRange {
                    container: c,
                    host: start + c,
                    size: next - c,
                });
                c = next;
            }
        }
    }
    out.sort_by_key(|r| r.container);
    Ok(out)
}

/// A forced mapping with its HOST as an id of roost's namespace.
fn forced_range(m: &AutoMapping, host_map: &[MapRange]) -> Result<MapRange, IdMapError> {
    let r = m.range;
    if !m.host_absolute {
        return Ok(r);
    }
    host_map
        .iter()
        .find(|h| r.host >= h.host && u64::from(r.host) + u64::from(r.size) <= h.host_end())
        .map(|h| MapRange {
            host: h.container + (r.host - h.host),
            ..r
        })
        .ok_or_else(|| IdMapError::AutoHostId(r.render(), r.host))
}

/// The lowest id of roost's namespace from 1 where `size` ids below `ns_size` are free of `busy`.
fn free_start(busy: &[MapRange], size: u32, ns_size: u32) -> Option<u32> {
    let mut start = 1u64;
    let mut ranges: Vec<&MapRange> = busy.iter().collect();
    ranges.sort_by_key(|r| r.host);
    for r in ranges {
        if start + u64::from(size) <= u64::from(r.host) {
            break;
        }
        start = start.max(r.host_end());
    }
    (start + u64::from(size) <= u64::from(ns_size)).then_some(start as u32)
}

/// roost's /proc/self/uid_map (or gid_map) as ranges: `container` is roost's id, `host` the host's.
pub fn parse_host_map(content: &str) -> Vec<MapRange> {
    crate::runtime::procs::IdMap::parse(content)
        .ranges()
        .iter()
        .map(|&(container, host, size)| MapRange {
            container,
            host,
            size,
        })
        .collect()
}

/// keep-id's /etc/passwd and /etc/group lines, for ids the image's files lack (podman adds the user
/// with the working directory as home and /bin/sh as shell). Names the image uses already are left out.
pub fn keep_id_entries(
    passwd: &str,
    group: &str,
    name: &str,
    (uid, gid): (u32, u32),
    home: &str,
) -> (Option<String>, Option<String>) {
    let has = |file: &str, field: usize, value: &str| {
        file.lines()
            .any(|l| l.split(':').nth(field).is_some_and(|f| f == value))
    };
    let user = (!name.is_empty() && !has(passwd, 2, &uid.to_string()) && !has(passwd, 0, name))
        .then(|| format!("{name}:*:{uid}:{gid}:{name}:{home}:/bin/sh\n"));
    let grp = (!name.is_empty() && !has(group, 2, &gid.to_string()) && !has(group, 0, name))
        .then(|| format!("{name}:x:{gid}:\n"));
    (user, grp)
}

/// The caller's id and the namespace size from the content of /proc/self/uid_map (or gid_map): the
/// host id mapped to 0, and the end of the contiguous ids from 0.
pub fn parse_proc_map(content: &str) -> Option<(u32, u32)> {
    let mut lines: Vec<(u32, u32, u32)> = content
        .lines()
        .filter_map(|l| {
            let mut it = l.split_whitespace().map(|n| n.parse::<u32>().ok());
            Some((it.next()??, it.next()??, it.next()??))
        })
        .collect();
    lines.sort();
    let caller = lines.iter().find(|l| l.0 == 0)?.1;
    let mut end = 0u32;
    for (inside, _, size) in lines {
        if inside == end {
            end = end.saturating_add(size);
        }
    }
    Some((caller, end))
}

/// `--subuidname NAME` (`--subgidname`): NAME's ranges in /etc/subuid (`subid`, the ranges already
/// read for NAME), as `--uidmap` entries `CONTAINER:HOST:SIZE` in roost's user namespace, whose
/// /proc/self/uid_map is `proc_map` (`INSIDE OUTSIDE SIZE` lines): container ids from 0 run through
/// the ranges in order; the caller's own id is not mapped, as in podman. A range that roost's
/// namespace does not map (another user's: a rootless tool can only use the ranges delegated to its
/// user) is an error naming it.
pub fn subid_name_maps(
    flag: &str,
    name: &str,
    subid: &[(u32, u32)],
    proc_map: &str,
) -> Result<Vec<String>, String> {
    let file = if flag.contains("uid") {
        "/etc/subuid"
    } else {
        "/etc/subgid"
    };
    if subid.is_empty() {
        return Err(format!("{flag} {name}: {file} has no range for `{name}`"));
    }
    let lines: Vec<(u64, u64, u64)> = proc_map
        .lines()
        .filter_map(|l| {
            let mut it = l.split_whitespace().map(|n| n.parse::<u64>().ok());
            Some((it.next()??, it.next()??, it.next()??))
        })
        .collect();
    let mut out = Vec::new();
    let mut next = 0u64;
    for &(start, count) in subid {
        let (start, count) = (u64::from(start), u64::from(count));
        let inside = lines
            .iter()
            .find(|(_, outside, size)| *outside <= start && start + count <= outside + size)
            .map(|(inside, outside, _)| inside + (start - outside))
            .ok_or_else(|| {
                format!(
                    "{flag} {name}: the {file} range {start}-{} of `{name}` is not mapped into roost's user namespace: a rootless roost can only use the ranges delegated to your user",
                    start + count - 1
                )
            })?;
        out.push(format!("{next}:{inside}:{count}"));
        next += count;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(container: u32, host: u32, size: u32) -> MapRange {
        MapRange {
            container,
            host,
            size,
        }
    }

    fn outer() -> Outer {
        Outer {
            caller_uid: 1001,
            caller_gid: 1002,
            uid_size: 65537,
            gid_size: 65537,
        }
    }

    fn req(mode: Option<&str>, uidmap: &[&str], gidmap: &[&str]) -> UsernsRequest {
        UsernsRequest {
            mode: mode.map(str::to_string),
            uidmap: uidmap.iter().map(|s| s.to_string()).collect(),
            gidmap: gidmap.iter().map(|s| s.to_string()).collect(),
            caller_name: None,
            outer: outer(),
            host_maps: (
                parse_host_map("0 1001 1\n1 100000 65536\n"),
                parse_host_map("0 1002 1\n1 100000 65536\n"),
            ),
            taken: (Vec::new(), Vec::new()),
            image_span: 0,
        }
    }

    #[test]
    fn default_private_and_host_share_the_namespace() {
        for (mode, shown) in [
            (None, ""),
            (Some(""), ""),
            (Some("private"), "private"),
            (Some("host"), "host"),
        ] {
            let u = resolve(&req(mode, &[], &[])).unwrap();
            assert_eq!(u.maps, None, "{mode:?}");
            assert_eq!(u.mode, shown);
            assert_eq!(u.user, None);
        }
    }

    #[test]
    fn keep_id_maps_the_caller_to_itself() {
        let u = resolve(&req(Some("keep-id"), &[], &[])).unwrap();
        let maps = u.maps.unwrap();
        assert_eq!(
            maps.uids,
            vec![r(0, 1, 1001), r(1001, 0, 1), r(1002, 1002, 64535)]
        );
        assert_eq!(
            maps.gids,
            vec![r(0, 1, 1002), r(1002, 0, 1), r(1003, 1003, 64534)]
        );
        assert_eq!(u.user, Some((1001, 1002)));
        assert_eq!(u.mode, "keep-id");
    }

    #[test]
    fn keep_id_options() {
        let u = resolve(&req(Some("keep-id:uid=200,gid=300,size=1000"), &[], &[])).unwrap();
        let maps = u.maps.unwrap();
        assert_eq!(
            maps.uids,
            vec![r(0, 1, 200), r(200, 0, 1), r(201, 201, 799)]
        );
        assert_eq!(
            maps.gids,
            vec![r(0, 1, 300), r(300, 0, 1), r(301, 301, 699)]
        );
        assert_eq!(u.user, Some((200, 300)));
        for bad in [
            "keep-id:uid=x",
            "keep-id:foo=1",
            "keep-id:size=0",
            "keep-id:",
        ] {
            assert!(
                matches!(
                    resolve(&req(Some(bad), &[], &[])),
                    Err(IdMapError::KeepIdOption(_))
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn keep_id_map_edges() {
        // Only the caller's own id (no subordinate ids).
        assert_eq!(keep_id_map(1001, 1), vec![r(1001, 0, 1)]);
        // A caller id beyond the namespace: the ids below are filled as far as there are some.
        assert_eq!(
            keep_id_map(100_000, 65537),
            vec![r(0, 1, 65536), r(100_000, 0, 1)]
        );
        // Root: the identity.
        assert_eq!(keep_id_map(0, 65537), vec![r(0, 0, 1), r(1, 1, 65536)]);
        assert_eq!(
            keep_id_map(u32::MAX, 10),
            vec![r(0, 1, 9), r(u32::MAX, 0, 1)]
        );
    }

    #[test]
    fn shifting_ids_through_keep_id_maps() {
        let maps = resolve(&req(Some("keep-id"), &[], &[]))
            .unwrap()
            .maps
            .unwrap();
        // Image root is stored as roost's 1, shown as container 0; the caller's own id is roost's 0.
        assert_eq!(maps.to_outer(0, 0), (1, 1));
        assert_eq!(maps.to_outer(1000, 1000), (1001, 1001));
        assert_eq!(maps.to_outer(1001, 1002), (0, 0));
        assert_eq!(maps.to_outer(5000, 5000), (5000, 5000));
        for id in [0, 1, 999, 1000, 1001, 1002, 1003, 65536] {
            let (u, g) = maps.to_outer(id, id);
            assert_eq!(maps.to_container(u, g), (id, id), "{id}");
        }
        // Ids the map leaves out go where it puts the overflow id.
        assert_eq!(maps.to_outer(70000, 70000), (65534, 65534));
        assert_eq!(maps.to_container(70000, 70000), (65534, 65534));
    }

    #[test]
    fn unmapped_ids_without_an_overflow_id() {
        let maps = NestedMaps {
            uids: vec![r(0, 1, 10), r(10, 0, 1)],
            gids: vec![r(0, 2, 5)],
        };
        assert_eq!(maps.to_outer(3, 3), (4, 5));
        // uid 20 is not mapped and neither is 65534, and the map covers roost's 0..=10 whole: kept.
        assert_eq!(maps.to_outer(20, 20).0, 20);
        // gid 20: roost's 0 and 1 are left out by the gid map, so it goes to 0 (shown as overflow).
        assert_eq!(maps.to_outer(20, 20).1, 0);
        assert_ne!(
            maps.key(),
            resolve(&req(Some("keep-id"), &[], &[]))
                .unwrap()
                .maps
                .unwrap()
                .key()
        );
        assert_eq!(maps.key().len(), 16);
    }

    #[test]
    fn nomap_maps_the_subordinate_ids_only() {
        let u = resolve(&req(Some("nomap"), &[], &[])).unwrap();
        let maps = u.maps.unwrap();
        assert_eq!(maps.uids, vec![r(0, 1, 65536)]);
        assert_eq!(maps.gids, vec![r(0, 1, 65536)]);
        assert_eq!(u.mode, "private");
        let mut only_caller = req(Some("nomap"), &[], &[]);
        only_caller.outer.uid_size = 1;
        assert_eq!(resolve(&only_caller), Err(IdMapError::NoSubordinateIds));
    }

    #[test]
    fn auto_takes_a_free_range_without_the_caller() {
        let u = resolve(&req(Some("auto"), &[], &[])).unwrap();
        assert_eq!(u.mode, "private");
        let maps = u.maps.unwrap();
        assert_eq!(maps.uids, vec![r(0, 1, AUTO_DEFAULT_SIZE)]);
        // The next one goes after the ranges other auto containers hold.
        let mut next = req(Some("auto:size=1000"), &[], &[]);
        next.taken = (vec![r(0, 1, 1024), r(0, 2000, 10)], vec![r(0, 1, 1024)]);
        let maps = resolve(&next).unwrap().maps.unwrap();
        assert_eq!(maps.uids, vec![r(0, 2010, 1000)]);
        assert_eq!(maps.gids, vec![r(0, 1025, 1000)]);
        // An image with higher ids gets what it needs; size= wins.
        let mut big = req(Some("auto"), &[], &[]);
        big.image_span = 2001;
        assert_eq!(
            resolve(&big).unwrap().maps.unwrap().uids,
            vec![r(0, 1, 2001)]
        );
        big.mode = Some("auto:size=10".into());
        assert_eq!(resolve(&big).unwrap().maps.unwrap().uids, vec![r(0, 1, 10)]);
        let mut full = req(Some("auto:size=65536"), &[], &[]);
        full.taken.0 = vec![r(0, 5, 1)];
        let e = resolve(&full).unwrap_err();
        assert!(
            matches!(e, IdMapError::AutoExhausted { what: "uids", .. }),
            "{e}"
        );
    }

    #[test]
    fn auto_forced_mappings() {
        // podman's system test: container 1 is host id 100000, roost's 1.
        let u = resolve(&req(Some("auto:uidmapping=1:@100000:1"), &[], &[])).unwrap();
        let maps = u.maps.unwrap();
        assert_eq!(maps.uids, vec![r(0, 2, 1), r(1, 1, 1), r(2, 4, 1022)]);
        assert_eq!(maps.gids, vec![r(0, 1, 1024)]);
        let u = resolve(&req(Some("auto:size=10,gidmapping=0:500:2"), &[], &[])).unwrap();
        assert_eq!(u.maps.unwrap().gids, vec![r(0, 500, 2), r(2, 3, 8)]);
        let e = resolve(&req(Some("auto:uidmapping=0:@5:1"), &[], &[])).unwrap_err();
        assert_eq!(e, IdMapError::AutoHostId("0:5:1".into(), 5));
        for bad in ["auto:size=0", "auto:foo=1", "auto:uidmapping=1:2", "auto:"] {
            assert!(
                matches!(
                    resolve(&req(Some(bad), &[], &[])),
                    Err(IdMapError::AutoOption(_))
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn ns_joins_a_path() {
        let u = resolve(&req(Some("ns:/proc/7/ns/user"), &[], &[])).unwrap();
        assert_eq!(u.mode, "ns:/proc/7/ns/user");
        assert_eq!(u.maps, None);
        assert_eq!(
            resolve(&req(Some("ns:"), &[], &[])),
            Err(IdMapError::NsPath("ns:".into()))
        );
    }

    #[test]
    fn explicit_maps() {
        let u = resolve(&req(None, &["0:1:1000", "1000:0:1"], &[])).unwrap();
        let maps = u.maps.unwrap();
        assert_eq!(maps.uids, vec![r(0, 1, 1000), r(1000, 0, 1)]);
        assert_eq!(maps.gids, maps.uids, "gidmap copies uidmap");
        // A map may leave out the caller (its storage is reached through detached mounts).
        let u = resolve(&req(None, &["0:1:1000"], &[])).unwrap();
        assert_eq!(u.maps.unwrap().uids, vec![r(0, 1, 1000)]);
        let u = resolve(&req(None, &["0:1:10", "10:0:1"], &["0:5:3"])).unwrap();
        let maps = u.maps.unwrap();
        assert_eq!(maps.uids, vec![r(0, 1, 10), r(10, 0, 1)]);
        assert_eq!(maps.gids, vec![r(0, 5, 3)]);
        let u = resolve(&req(None, &[], &["0:0:7"])).unwrap();
        assert_eq!(
            u.maps.unwrap().uids,
            vec![r(0, 0, 7)],
            "uidmap copies gidmap"
        );
        assert!(resolve(&req(Some("private"), &["0:0:1"], &[])).is_ok());
    }

    #[test]
    fn bad_maps() {
        type Check = fn(&IdMapError) -> bool;
        let cases: &[(&[&str], Check)] = &[
            (&["0:0:99999999"], |e| {
                matches!(e, IdMapError::OutOfRange { max: 65536, .. })
            }),
            (&["0:65536:2"], |e| {
                matches!(e, IdMapError::OutOfRange { .. })
            }),
            (&["0:1"], |e| matches!(e, IdMapError::Syntax { .. })),
            (&["0:1:0"], |e| matches!(e, IdMapError::Syntax { .. })),
            (&["a:1:2"], |e| matches!(e, IdMapError::Syntax { .. })),
            (&["0:1:2:3"], |e| matches!(e, IdMapError::Syntax { .. })),
            (&["4294967295:1:2"], |e| {
                matches!(e, IdMapError::Syntax { .. })
            }),
            (&["0:0:10", "5:100:10"], |e| {
                matches!(e, IdMapError::ContainerOverlap { .. })
            }),
            (&["0:0:10", "100:5:10"], |e| {
                matches!(e, IdMapError::HostOverlap { .. })
            }),
        ];
        for (map, check) in cases {
            let e = resolve(&req(None, map, &[])).unwrap_err();
            assert!(check(&e), "{map:?}: {e}");
        }
        let e = resolve(&req(None, &["0:0:99999999"], &[])).unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid --uidmap `0:0:99999999`: host ids 0-99999998 are not all in the rootless user namespace (available: 0-65536)"
        );
    }

    #[test]
    fn modes_that_do_not_mix_or_exist() {
        assert_eq!(
            resolve(&req(Some("keep-id"), &["0:1:1"], &[])),
            Err(IdMapError::Conflict("keep-id".into()))
        );
        for bad in ["autox", "container:x", "keepid"] {
            assert!(
                matches!(resolve(&req(Some(bad), &[], &[])), Err(IdMapError::Mode(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn keep_id_passwd_and_group_entries() {
        let passwd = "root:x:0:0:root:/root:/bin/sh\nbin:x:1:1:bin:/bin:/bin/false\n";
        let group = "root:x:0:\nbin:x:1:\n";
        assert_eq!(
            keep_id_entries(passwd, group, "alice", (1001, 1002), "/"),
            (
                Some("alice:*:1001:1002:alice:/:/bin/sh\n".into()),
                Some("alice:x:1002:\n".into())
            )
        );
        assert_eq!(
            keep_id_entries(passwd, group, "alice", (1, 0), "/"),
            (None, None),
            "ids the image has"
        );
        assert_eq!(
            keep_id_entries(passwd, group, "bin", (7, 7), "/"),
            (None, None),
            "names the image has"
        );
    }

    #[test]
    fn proc_maps() {
        assert_eq!(
            parse_proc_map("         0       1001          1\n         1     100000      65536\n"),
            Some((1001, 65537))
        );
        assert_eq!(parse_proc_map("0 1001 1\n"), Some((1001, 1)));
        assert_eq!(parse_proc_map("0 0 4294967295\n"), Some((0, 4294967295)));
        assert_eq!(parse_proc_map(""), None);
    }

    #[test]
    fn subid_names_map_through_roosts_namespace() {
        // roost's namespace: 0 is the caller (1000), 1..65537 the caller's range from 100000.
        let proc_map = "         0       1000          1\n         1     100000      65536\n";
        assert_eq!(
            super::subid_name_maps(
                "--subuidname",
                "me",
                &[(100000, 1000), (101000, 10)],
                proc_map
            )
            .unwrap(),
            ["0:1:1000", "1000:1001:10"]
        );
        let e = super::subid_name_maps("--subuidname", "other", &[(200000, 65536)], proc_map)
            .unwrap_err();
        assert!(e.contains("200000-265535") && e.contains("`other`"), "{e}");
        let e = super::subid_name_maps("--subgidname", "nobody", &[], proc_map).unwrap_err();
        assert!(e.contains("/etc/subgid") && e.contains("`nobody`"), "{e}");
    }
}
