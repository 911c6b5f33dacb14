//! `--userns`, `--uidmap`, `--gidmap`: the flags plus what only this process can know, the caller's
//! ids and the size of roost's user namespace (read from /proc/self, where 0 is the caller).
use super::CreateArgs;
use crate::engine::container::idmap::{Outer, UsernsRequest, parse_proc_map};
use crate::error::Error;

fn read_map(file: &str) -> Result<(u32, u32), Error> {
    let path = format!("/proc/self/{file}");
    let text =
        std::fs::read_to_string(&path).map_err(|e| Error::io(format!("read `{path}`"), e))?;
    parse_proc_map(&text).ok_or_else(|| Error::Usage(format!("`{path}` maps no id 0: `{text}`")))
}

pub(super) fn request(a: &CreateArgs) -> Result<UsernsRequest, Error> {
    let (uidmap, gidmap) = maps(
        &a.uidmap,
        &a.gidmap,
        a.subuidname.as_deref(),
        a.subgidname.as_deref(),
    )?;
    Ok(UsernsRequest {
        uidmap,
        gidmap,
        ..request_mode(a.userns.clone())?
    })
}

/// `--uidmap`/`--gidmap` with the maps of `--subuidname`/`--subgidname` added (`--subgidname`
/// defaults to `--subuidname`, as in podman).
pub(crate) fn maps(
    uidmap: &[String],
    gidmap: &[String],
    subuidname: Option<&str>,
    subgidname: Option<&str>,
) -> Result<(Vec<String>, Vec<String>), Error> {
    let mut uids = uidmap.to_vec();
    let mut gids = gidmap.to_vec();
    if let Some(name) = subuidname {
        uids.extend(subid_maps("--subuidname", name, "subuid", "uid_map")?);
    }
    if let Some(name) = subgidname.or(subuidname) {
        gids.extend(subid_maps("--subgidname", name, "subgid", "gid_map")?);
    }
    Ok((uids, gids))
}

/// NAME's /etc/subuid (subgid) ranges as `--uidmap` entries of roost's namespace.
fn subid_maps(flag: &str, name: &str, file: &str, proc: &str) -> Result<Vec<String>, Error> {
    let etc = format!("/etc/{file}");
    let text = std::fs::read_to_string(&etc).map_err(|e| Error::io(format!("read `{etc}`"), e))?;
    let id = nix::unistd::User::from_name(name)
        .ok()
        .flatten()
        .map_or(u32::MAX, |u| u.uid.as_raw());
    let ranges = crate::userns::parse_subid(&text, name, id);
    let path = format!("/proc/self/{proc}");
    let proc_map =
        std::fs::read_to_string(&path).map_err(|e| Error::io(format!("read `{path}`"), e))?;
    crate::engine::container::idmap::subid_name_maps(flag, name, &ranges, &proc_map)
        .map_err(Error::Usage)
}

/// A `--userns MODE` request (`pod create --userns`).
pub(crate) fn request_mode(mode: Option<String>) -> Result<UsernsRequest, Error> {
    let (caller_uid, uid_size) = read_map("uid_map")?;
    let (caller_gid, gid_size) = read_map("gid_map")?;
    Ok(UsernsRequest {
        mode,
        uidmap: Vec::new(),
        gidmap: Vec::new(),
        caller_name: nix::unistd::User::from_uid(caller_uid.into())
            .ok()
            .flatten()
            .map(|u| u.name),
        outer: Outer {
            caller_uid,
            caller_gid,
            uid_size,
            gid_size,
        },
        host_maps: (host_map("uid_map")?, host_map("gid_map")?),
        taken: (Vec::new(), Vec::new()),
        image_span: 0,
    })
}

fn host_map(file: &str) -> Result<Vec<crate::engine::container::idmap::MapRange>, Error> {
    let path = format!("/proc/self/{file}");
    let text =
        std::fs::read_to_string(&path).map_err(|e| Error::io(format!("read `{path}`"), e))?;
    Ok(crate::engine::container::idmap::parse_host_map(&text))
}
