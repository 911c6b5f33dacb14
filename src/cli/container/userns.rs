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
    let (caller_uid, uid_size) = read_map("uid_map")?;
    let (caller_gid, gid_size) = read_map("gid_map")?;
    Ok(UsernsRequest {
        mode: a.userns.clone(),
        uidmap: a.uidmap.clone(),
        gidmap: a.gidmap.clone(),
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
    })
}
