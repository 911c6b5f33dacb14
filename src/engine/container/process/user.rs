//! `--user user[:group]` and `--group-add`, resolved against the container's /etc/passwd and /etc/group
//! the way runc's `GetExecUser` (used by podman) does.

#[derive(Debug, thiserror::Error)]
pub enum UserError {
    #[error("unable to find user {0}: no matching entries in passwd file")]
    UnknownUser(String),
    #[error("unable to find group {0}: no matching entries in group file")]
    UnknownGroup(String),
    #[error(
        "the '--group-add keep-groups' option is not allowed with any other --group-add options"
    )]
    KeepGroupsWithOthers,
}

/// A user or group as written: all digits is an id, anything else a name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdOrName {
    Id(u32),
    Name(String),
}

impl IdOrName {
    pub fn parse(s: &str) -> IdOrName {
        match s.parse::<u32>() {
            Ok(id) if s.bytes().all(|b| b.is_ascii_digit()) => IdOrName::Id(id),
            _ => IdOrName::Name(s.to_string()),
        }
    }
}

/// `user`, `uid`, `user:group`, `uid:gid`, `:gid` (root with that group); empty parts mean "default".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserSpec {
    pub user: Option<IdOrName>,
    pub group: Option<IdOrName>,
}

pub fn parse_user_spec(spec: &str) -> UserSpec {
    let (user, group) = spec.split_once(':').unwrap_or((spec, ""));
    let part = |s: &str| (!s.is_empty()).then(|| IdOrName::parse(s));
    UserSpec {
        user: part(user),
        group: part(group),
    }
}

/// The identity the process runs as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedUser {
    pub uid: u32,
    pub gid: u32,
    /// Groups from /etc/group that list the user (only when no group was given explicitly, as runc does).
    pub supplementary_gids: Vec<u32>,
    /// The passwd entry's name and home, when there is an entry.
    pub name: Option<String>,
    pub home: Option<String>,
}

struct PasswdEntry<'a> {
    name: &'a str,
    uid: u32,
    gid: u32,
    home: &'a str,
}

struct GroupEntry<'a> {
    name: &'a str,
    gid: u32,
    members: &'a str,
}

/// `name:password:uid:gid:gecos:home:shell`; lines that do not parse are skipped.
fn passwd_entries(text: Option<&str>) -> impl Iterator<Item = PasswdEntry<'_>> {
    text.unwrap_or("").lines().filter_map(|line| {
        let f: Vec<&str> = line.split(':').collect();
        if line.starts_with('#') || f.len() < 4 {
            return None;
        }
        Some(PasswdEntry {
            name: f[0],
            uid: f[2].parse().ok()?,
            gid: f[3].parse().ok()?,
            home: f.get(5).copied().unwrap_or(""),
        })
    })
}

/// `name:password:gid:member,member`; lines that do not parse are skipped.
fn group_entries(text: Option<&str>) -> impl Iterator<Item = GroupEntry<'_>> {
    text.unwrap_or("").lines().filter_map(|line| {
        let f: Vec<&str> = line.split(':').collect();
        if line.starts_with('#') || f.len() < 3 {
            return None;
        }
        Some(GroupEntry {
            name: f[0],
            gid: f[2].parse().ok()?,
            members: f.get(3).copied().unwrap_or(""),
        })
    })
}

/// Resolve a user spec. Names must exist in `passwd`/`group`; numeric ids need no entry (a uid without
/// one gets gid 0). Without a user, uid 0 is looked up (for its home and groups).
pub fn resolve_user(
    spec: &UserSpec,
    passwd: Option<&str>,
    group: Option<&str>,
) -> Result<ResolvedUser, UserError> {
    let uid = match &spec.user {
        None => 0,
        Some(IdOrName::Id(uid)) => *uid,
        Some(IdOrName::Name(name)) => passwd_entries(passwd)
            .find(|e| e.name == name)
            .map(|e| e.uid)
            .ok_or_else(|| UserError::UnknownUser(name.clone()))?,
    };
    let entry = passwd_entries(passwd).find(|e| e.uid == uid);
    let name = entry.as_ref().map(|e| e.name.to_string());
    let (gid, supplementary_gids) = match &spec.group {
        Some(g) => (lookup_group(g, group)?, Vec::new()),
        None => (
            entry.as_ref().map_or(0, |e| e.gid),
            name.as_deref()
                .map(|n| member_of(n, group))
                .unwrap_or_default(),
        ),
    };
    Ok(ResolvedUser {
        uid,
        gid,
        supplementary_gids,
        name,
        home: entry.map(|e| e.home.to_string()).filter(|h| !h.is_empty()),
    })
}

/// The gids of every group whose member list names `user`.
fn member_of(user: &str, group: Option<&str>) -> Vec<u32> {
    let mut gids = Vec::new();
    for g in group_entries(group).filter(|g| g.members.split(',').any(|m| m.trim() == user)) {
        if !gids.contains(&g.gid) {
            gids.push(g.gid);
        }
    }
    gids
}

fn lookup_group(g: &IdOrName, group: Option<&str>) -> Result<u32, UserError> {
    match g {
        IdOrName::Id(gid) => Ok(*gid),
        IdOrName::Name(name) => group_entries(group)
            .find(|e| e.name == name)
            .map(|e| e.gid)
            .ok_or_else(|| UserError::UnknownGroup(name.clone())),
    }
}

/// `--group-add` values as gids, names resolved against `group`. `keep-groups` (crun's "keep the
/// caller's supplementary groups") is accepted alone and contributes nothing here: the runtime keeps
/// the groups it inherits instead of setting them.
pub fn group_add_gids(values: &[String], group: Option<&str>) -> Result<Vec<u32>, UserError> {
    if values.iter().any(|v| v == "keep-groups") {
        return if values.len() == 1 {
            Ok(Vec::new())
        } else {
            Err(UserError::KeepGroupsWithOthers)
        };
    }
    values
        .iter()
        .map(|v| lookup_group(&IdOrName::parse(v), group))
        .collect()
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    pub(in super::super) const PASSWD: &str = "\
root:x:0:0:root:/root:/bin/sh
bin:x:1:1:bin:/bin:/sbin/nologin
daemon:x:2:2:daemon:/sbin:/sbin/nologin
# a comment
broken line
alice:x:1000:1000:Alice:/home/alice:/bin/sh
nohome:x:1001:1001::
";
    pub(in super::super) const GROUP: &str = "\
root:x:0:root
bin:x:1:root,bin,daemon
daemon:x:2:root,bin,daemon
wheel:x:10:root,alice
alice:x:1000:
staff:x:50: alice , bob
users:x:100:
";

    fn spec(user: Option<IdOrName>, group: Option<IdOrName>) -> UserSpec {
        UserSpec { user, group }
    }
    fn name(s: &str) -> Option<IdOrName> {
        Some(IdOrName::Name(s.into()))
    }
    fn id(n: u32) -> Option<IdOrName> {
        Some(IdOrName::Id(n))
    }

    #[test]
    fn user_spec_table() {
        let cases = [
            ("", spec(None, None)),
            ("alice", spec(name("alice"), None)),
            ("1000", spec(id(1000), None)),
            ("alice:wheel", spec(name("alice"), name("wheel"))),
            ("1000:100", spec(id(1000), id(100))),
            ("alice:100", spec(name("alice"), id(100))),
            (":100", spec(None, id(100))),
            ("alice:", spec(name("alice"), None)),
            ("+5", spec(name("+5"), None)),
            ("99999999999", spec(name("99999999999"), None)),
        ];
        for (input, want) in cases {
            assert_eq!(parse_user_spec(input), want, "{input:?}");
        }
    }

    #[test]
    fn resolution_table() {
        // (spec, uid, gid, supplementary, home)
        type Row<'a> = (&'a str, u32, u32, &'a [u32], Option<&'a str>);
        let cases: &[Row] = &[
            ("", 0, 0, &[0, 1, 2, 10], Some("/root")),
            ("root", 0, 0, &[0, 1, 2, 10], Some("/root")),
            ("alice", 1000, 1000, &[10, 50], Some("/home/alice")),
            ("1000", 1000, 1000, &[10, 50], Some("/home/alice")),
            ("2", 2, 2, &[1, 2], Some("/sbin")),
            ("alice:users", 1000, 100, &[], Some("/home/alice")),
            ("alice:4242", 1000, 4242, &[], Some("/home/alice")),
            ("4242", 4242, 0, &[], None),
            ("4242:4343", 4242, 4343, &[], None),
            (":wheel", 0, 10, &[], Some("/root")),
            ("nohome", 1001, 1001, &[], None),
        ];
        for (input, uid, gid, sgids, home) in cases {
            let u = resolve_user(&parse_user_spec(input), Some(PASSWD), Some(GROUP)).unwrap();
            assert_eq!(
                (
                    u.uid,
                    u.gid,
                    u.supplementary_gids.as_slice(),
                    u.home.as_deref()
                ),
                (*uid, *gid, *sgids, *home),
                "{input:?}"
            );
        }
    }

    #[test]
    fn missing_files_allow_ids_only() {
        let u = resolve_user(&parse_user_spec("1000:1000"), None, None).unwrap();
        assert_eq!((u.uid, u.gid, u.home), (1000, 1000, None));
        let u = resolve_user(&UserSpec::default(), None, None).unwrap();
        assert_eq!((u.uid, u.gid, u.name), (0, 0, None));
        let err = resolve_user(&parse_user_spec("alice"), None, None).unwrap_err();
        assert!(matches!(err, UserError::UnknownUser(ref n) if n == "alice"));
    }

    #[test]
    fn unknown_names_use_podman_wording() {
        let err = resolve_user(&parse_user_spec("mallory"), Some(PASSWD), Some(GROUP)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "unable to find user mallory: no matching entries in passwd file"
        );
        let err =
            resolve_user(&parse_user_spec("alice:nogroup"), Some(PASSWD), Some(GROUP)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "unable to find group nogroup: no matching entries in group file"
        );
    }

    #[test]
    fn group_add_table() {
        let s = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            group_add_gids(&s(&["wheel", "77", "users"]), Some(GROUP)).unwrap(),
            [10, 77, 100]
        );
        assert_eq!(
            group_add_gids(&s(&["keep-groups"]), Some(GROUP)).unwrap(),
            [] as [u32; 0]
        );
        assert!(matches!(
            group_add_gids(&s(&["keep-groups", "wheel"]), Some(GROUP)),
            Err(UserError::KeepGroupsWithOthers)
        ));
        assert!(matches!(
            group_add_gids(&s(&["nope"]), Some(GROUP)),
            Err(UserError::UnknownGroup(ref n)) if n == "nope"
        ));
    }
}
