//! The rootless user namespace: subordinate id ranges, and entering a namespace where uid 0 is the
//! caller and 1..N are the caller's /etc/subuid range (mapped by the setuid `newuidmap` and
//! `newgidmap` helpers), as podman does. With no subordinate range, only the caller's own id is mapped.
//! Unlike podman, which re-executes itself, roost enters it in the process the user started, before
//! that process has a second thread.
#![deny(clippy::print_stdout, clippy::print_stderr)]

use std::fs;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use nix::sched::CloneFlags;
use nix::unistd::{Gid, Uid};

/// Set in the environment of a roost process that runs inside the namespace (podman uses
/// `_CONTAINERS_USERNS_CONFIGURED` the same way). Values: `full` or `single`.
const STAGE_ENV: &str = "_ROOST_USERNS_CONFIGURED";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdRange {
    /// First id inside the namespace.
    pub container: u32,
    /// First id on the host.
    pub host: u32,
    pub size: u32,
}

/// How ids are mapped for the current user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mapping {
    /// Real root: no user namespace needed.
    Root,
    /// 0 → caller, 1.. → the subordinate ranges.
    Full {
        uids: Vec<IdRange>,
        gids: Vec<IdRange>,
    },
    /// Only 0 → caller (no /etc/subuid entry): ownership is recorded in xattrs instead.
    Single { uid: u32, gid: u32 },
}

/// Which kind of namespace this process is running in, from [`STAGE_ENV`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Joined {
    Full,
    Single,
}

#[derive(Debug, thiserror::Error)]
pub enum UsernsError {
    #[error("failed to read `{path}`")]
    Read {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("`{helper}` is not installed, but your user has subordinate ids in /etc/subuid")]
    MissingHelper { helper: &'static str },
    #[error("`{helper}` failed to set up the user namespace: {stderr}")]
    Helper {
        helper: &'static str,
        stderr: String,
    },
    #[error("failed to run `{helper}`")]
    Spawn {
        helper: String,
        #[source]
        source: io::Error,
    },
    #[error("failed to write the id map of process {pid}")]
    WriteMap {
        pid: i32,
        #[source]
        source: io::Error,
    },
    #[error("cannot create a user namespace")]
    Unshare(#[source] nix::Error),
    #[error("the user-namespace handshake with the parent process failed")]
    Handshake(#[source] io::Error),
}

impl UsernsError {
    pub fn hint(&self) -> Option<String> {
        match self {
            UsernsError::MissingHelper { .. } => Some("install them: `apt-get install uidmap`".into()),
            UsernsError::Unshare(_) => Some(
                "unprivileged user namespaces may be disabled: check `sysctl user.max_user_namespaces` \
                 and `kernel.unprivileged_userns_clone`"
                    .into(),
            ),
            UsernsError::Helper { .. } => Some(
                "check that /etc/subuid and /etc/subgid ranges do not overlap other users' and that \
                 newuidmap/newgidmap are setuid root (or have file capabilities)"
                    .into(),
            ),
            _ => None,
        }
    }
}

/// Parse /etc/subuid or /etc/subgid content: `name-or-id:start:count` lines, all that match the user.
pub fn parse_subid(content: &str, user: &str, id: u32) -> Vec<(u32, u32)> {
    let id_s = id.to_string();
    content
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| {
            let mut it = l.split(':');
            let (who, start, count) = (it.next()?, it.next()?, it.next()?);
            if it.next().is_some() || (who != user && who != id_s) {
                return None;
            }
            let (start, count) = (
                start.trim().parse::<u32>().ok()?,
                count.trim().parse::<u32>().ok()?,
            );
            (count > 0 && start.checked_add(count).is_some()).then_some((start, count))
        })
        .collect()
}

fn ranges(subs: &[(u32, u32)], own: u32) -> Vec<IdRange> {
    let mut out = vec![IdRange {
        container: 0,
        host: own,
        size: 1,
    }];
    let mut next = 1u32;
    for &(start, count) in subs {
        out.push(IdRange {
            container: next,
            host: start,
            size: count,
        });
        next = next.saturating_add(count);
    }
    out
}

impl Mapping {
    /// Work out the mapping for the current user from /etc/subuid and /etc/subgid.
    pub fn detect(etc: &Path) -> Result<Mapping, UsernsError> {
        let uid = Uid::current();
        if uid.is_root() {
            return Ok(Mapping::Root);
        }
        let gid = Gid::current().as_raw();
        let name = nix::unistd::User::from_uid(uid)
            .ok()
            .flatten()
            .map(|u| u.name)
            .unwrap_or_default();
        let read = |f: &str| -> Result<String, UsernsError> {
            let path = etc.join(f);
            match fs::read_to_string(&path) {
                Ok(s) => Ok(s),
                Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(String::new()),
                Err(source) => Err(UsernsError::Read { path, source }),
            }
        };
        let subuid = parse_subid(&read("subuid")?, &name, uid.as_raw());
        let subgid = parse_subid(&read("subgid")?, &name, uid.as_raw());
        if subuid.is_empty() || subgid.is_empty() {
            return Ok(Mapping::Single {
                uid: uid.as_raw(),
                gid,
            });
        }
        Ok(Mapping::Full {
            uids: ranges(&subuid, uid.as_raw()),
            gids: ranges(&subgid, gid),
        })
    }

    /// The uid map as (container, host, size) lines, for `info`.
    pub fn uid_ranges(&self) -> Vec<IdRange> {
        match self {
            Mapping::Root => vec![IdRange {
                container: 0,
                host: 0,
                size: u32::MAX,
            }],
            Mapping::Full { uids, .. } => uids.clone(),
            Mapping::Single { uid, .. } => vec![IdRange {
                container: 0,
                host: *uid,
                size: 1,
            }],
        }
    }

    pub fn gid_ranges(&self) -> Vec<IdRange> {
        match self {
            Mapping::Root => vec![IdRange {
                container: 0,
                host: 0,
                size: u32::MAX,
            }],
            Mapping::Full { gids, .. } => gids.clone(),
            Mapping::Single { gid, .. } => vec![IdRange {
                container: 0,
                host: *gid,
                size: 1,
            }],
        }
    }
}

/// Which namespace this process already runs in (from the environment the parent set).
fn joined(stage: Option<&str>) -> Option<Joined> {
    match stage {
        Some("full") => Some(Joined::Full),
        Some("single") => Some(Joined::Single),
        _ => None,
    }
}

/// Whether this process was started from inside roost's user namespace (a monitor, the network
/// namespace holder, a nested roost run by `unshare`), and which kind it is: [`STAGE_ENV`], which
/// [`enter`] sets for every process started after it.
pub fn inherited() -> Option<Joined> {
    joined(std::env::var(STAGE_ENV).ok().as_deref())
}

/// Write the uid and gid maps of process `pid` with the setuid `newuidmap` and `newgidmap`. The two
/// are independent (each writes one file of `/proc/PID`), so they run side by side: each is an exec
/// of a setuid program with its own dynamic linking, about a millisecond apiece.
pub(crate) fn run_map_helpers(
    pid: i32,
    uids: &[IdRange],
    gids: &[IdRange],
) -> Result<(), UsernsError> {
    let helpers = (find_helper("newuidmap")?, find_helper("newgidmap")?);
    run_map_helpers_at(pid, &helpers, uids, gids)
}

/// [`run_map_helpers`] with the helpers found already (`newuidmap`, `newgidmap`).
fn run_map_helpers_at(
    pid: i32,
    (uid_path, gid_path): &(PathBuf, PathBuf),
    uids: &[IdRange],
    gids: &[IdRange],
) -> Result<(), UsernsError> {
    let uid_helper = spawn_map_helper("newuidmap", uid_path, pid, uids)?;
    let gid_helper = spawn_map_helper("newgidmap", gid_path, pid, gids);
    // Both are waited for, whatever the first one says.
    let uid_result = finish_map_helper(uid_helper);
    let gid_result = gid_helper.and_then(finish_map_helper);
    uid_result.and(gid_result)
}

fn spawn_map_helper(
    helper: &'static str,
    path: &Path,
    pid: i32,
    ranges: &[IdRange],
) -> Result<(&'static str, std::process::Child), UsernsError> {
    let mut cmd = crate::helpers::command(path);
    cmd.arg(pid.to_string());
    for r in ranges {
        cmd.args([
            r.container.to_string(),
            r.host.to_string(),
            r.size.to_string(),
        ]);
    }
    cmd.stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped());
    let child = cmd.spawn().map_err(|source| UsernsError::Spawn {
        helper: helper.to_string(),
        source,
    })?;
    Ok((helper, child))
}

fn finish_map_helper(
    (helper, child): (&'static str, std::process::Child),
) -> Result<(), UsernsError> {
    let out = child
        .wait_with_output()
        .map_err(|source| UsernsError::Spawn {
            helper: helper.to_string(),
            source,
        })?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr).trim().to_string();
        return Err(UsernsError::Helper { helper, stderr });
    }
    Ok(())
}

pub(crate) fn write_single_map(pid: i32, uid: u32, gid: u32) -> Result<(), UsernsError> {
    let w = |file: &str, content: String| {
        fs::write(format!("/proc/{pid}/{file}"), content)
            .map_err(|source| UsernsError::WriteMap { pid, source })
    };
    w("setgroups", "deny".into())?;
    w("uid_map", format!("0 {uid} 1\n"))?;
    w("gid_map", format!("0 {gid} 1\n"))
}

/// Enter the user namespace in this process: join the one a live holder keeps, else create one (and
/// a mount namespace) and have its ids mapped. Processes started from here on (monitors, the network
/// namespace holder, `unshare`'s command) inherit [`STAGE_ENV`], which marks them as inside, and
/// `XDG_RUNTIME_DIR` = `paths.runtime_base`: the runtime directory resolved outside from the real uid
/// (inside, the uid is 0, and a fallback worked out there would be root's, shared by every user).
///
/// Must run while the process is single-threaded: the kernel refuses both `setns` and `unshare` of
/// a user namespace to a process with more than one thread.
pub fn enter(mapping: &Mapping, paths: &crate::paths::Paths) -> Result<Joined, UsernsError> {
    let joined = match mapping {
        Mapping::Single { .. } => Joined::Single,
        _ => Joined::Full,
    };
    match open_holder_namespace(&paths.runtime) {
        Some(ns) => join(ns)?,
        None => enter_fresh(mapping)?,
    }
    make_mounts_private()?;
    read_only_binary();
    let stage = match joined {
        Joined::Full => "full",
        Joined::Single => "single",
    };
    crate::sys::process::set_env(STAGE_ENV, stage.as_ref());
    crate::sys::process::set_env("XDG_RUNTIME_DIR", paths.runtime_base.as_os_str());
    Ok(joined)
}

/// The namespace of a live roost process (a monitor, or a foreground `run`) that holds one: joining it
/// instead of making a new one keeps every container of the user in one user namespace, so any roost
/// command can signal any container process, whatever uid it runs as, with no pause process.
fn open_holder_namespace(runtime: &Path) -> Option<fs::File> {
    let own = fs::metadata("/proc/self/ns/user").ok()?;
    let uid = Uid::current().as_raw();
    // The holder of the rootless network namespace first: containers on bridge networks must be in
    // the user namespace that owns it.
    let netns = fs::read_to_string(netns_holder_file(runtime)).unwrap_or_default();
    let text = fs::read_to_string(holders_file(runtime)).unwrap_or_default();
    netns
        .lines()
        .chain(text.lines())
        .filter_map(|l| l.trim().parse::<i32>().ok())
        .find_map(|pid| {
            use std::os::unix::fs::MetadataExt;
            let proc_dir = fs::metadata(format!("/proc/{pid}")).ok()?;
            if proc_dir.uid() != uid {
                return None;
            }
            let f = fs::File::open(format!("/proc/{pid}/ns/user")).ok()?;
            let m = f.metadata().ok()?;
            (m.ino() != own.ino() || m.dev() != own.dev()).then_some(f)
        })
}

/// Where the holder of the rootless network namespace (`roost __netns`) gives its pid: it is joined
/// before any other holder.
pub fn netns_holder_file(runtime: &Path) -> PathBuf {
    runtime.join("netns").join("pid")
}

/// Name this process as the holder of the rootless network namespace (and so of its user namespace).
pub fn register_netns_holder(runtime: &Path) -> io::Result<()> {
    fs::write(
        netns_holder_file(runtime),
        format!("{}\n", std::process::id()),
    )
}

/// The holder of the rootless network namespace is leaving.
pub fn unregister_netns_holder(runtime: &Path) {
    let _ = fs::remove_file(netns_holder_file(runtime));
}

/// Where the pids of namespace holders are listed.
pub fn holders_file(runtime: &Path) -> PathBuf {
    runtime.join("userns-holders")
}

/// List this process as a holder of its user namespace (monitors and foreground runs call it).
/// Best effort: a lost entry only means a later command makes a namespace of its own.
pub fn register_holder(runtime: &Path) {
    let file = holders_file(runtime);
    let me = std::process::id() as i32;
    let mut pids: Vec<i32> = fs::read_to_string(&file)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .filter(|p: &i32| *p != me && Path::new(&format!("/proc/{p}")).exists())
        .collect();
    pids.push(me);
    let text: String = pids.iter().map(|p| format!("{p}\n")).collect();
    let tmp = runtime.join(format!(".userns-holders.{me}"));
    if fs::create_dir_all(runtime).is_ok() && fs::write(&tmp, text).is_ok() {
        let _ = fs::rename(&tmp, &file);
    }
}

/// Join a holder's user namespace, then take a mount namespace of our own.
fn join(ns: fs::File) -> Result<(), UsernsError> {
    nix::sched::setns(&ns, CloneFlags::CLONE_NEWUSER).map_err(UsernsError::Unshare)?;
    drop(ns);
    nix::sched::unshare(CloneFlags::CLONE_NEWNS).map_err(UsernsError::Unshare)
}

/// Create a user namespace (and a mount namespace) and map its ids: our own uid only, which we may
/// write ourselves, or the subordinate ranges, which only the setuid helpers may write, from outside.
fn enter_fresh(mapping: &Mapping) -> Result<(), UsernsError> {
    match mapping {
        Mapping::Full { uids, gids } => enter_mapped_by_helpers(uids, gids),
        Mapping::Single { uid, gid } => {
            unshare_user_and_mounts()?;
            write_single_map(std::process::id() as i32, *uid, *gid)
        }
        Mapping::Root => unreachable!("root never needs a user namespace"),
    }
}

fn unshare_user_and_mounts() -> Result<(), UsernsError> {
    nix::sched::unshare(CloneFlags::CLONE_NEWUSER | CloneFlags::CLONE_NEWNS)
        .map_err(UsernsError::Unshare)
}

/// `newuidmap` and `newgidmap` must run outside the namespace they map, after it exists: a forked
/// copy of us, still outside, waits until we have unshared, runs them on our pid and sends back
/// their verdict ([`map_verdict`]).
fn enter_mapped_by_helpers(uids: &[IdRange], gids: &[IdRange]) -> Result<(), UsernsError> {
    // Found before the fork: a missing helper is reported as such, not as a failed run.
    let helpers = (find_helper("newuidmap")?, find_helper("newgidmap")?);
    let (ready_read, ready_write) = pipe()?;
    let (verdict_read, verdict_write) = pipe()?;
    let me = std::process::id() as i32;
    match crate::sys::clone::clone_process(0).map_err(io_err)? {
        crate::sys::clone::Cloned::Child => {
            drop(ready_write);
            drop(verdict_read);
            map_when_ready(ready_read, verdict_write, me, &helpers, (uids, gids))
        }
        crate::sys::clone::Cloned::Parent(mapper) => {
            drop(ready_read);
            drop(verdict_write);
            let unshared = unshare_user_and_mounts();
            if unshared.is_ok() {
                let _ = fs::File::from(ready_write).write_all(b"R");
            }
            let verdict = read_verdict(verdict_read);
            let _ = nix::sys::wait::waitpid(mapper, None);
            unshared.and(verdict)
        }
    }
}

fn pipe() -> Result<(std::os::fd::OwnedFd, std::os::fd::OwnedFd), UsernsError> {
    nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(io_err)
}

fn find_helper(helper: &'static str) -> Result<PathBuf, UsernsError> {
    crate::helpers::find(helper).ok_or(UsernsError::MissingHelper { helper })
}

/// The forked mapper: wait for the parent's `R` (end of file: it could not unshare, or died), map
/// its ids, write the verdict and leave without running anything of the parent's.
fn map_when_ready(
    ready: std::os::fd::OwnedFd,
    verdict: std::os::fd::OwnedFd,
    pid: i32,
    helpers: &(PathBuf, PathBuf),
    (uids, gids): (&[IdRange], &[IdRange]),
) -> ! {
    let mut b = [0u8; 1];
    if fs::File::from(ready).read_exact(&mut b).is_err() {
        crate::sys::clone::exit_now(0);
    }
    let result = run_map_helpers_at(pid, helpers, uids, gids);
    let _ = fs::File::from(verdict).write_all(map_verdict(&result).as_bytes());
    crate::sys::clone::exit_now(0)
}

/// The mapper's answer when both maps were written.
const MAPPED: &str = "mapped";

/// The mapper's answer: [`MAPPED`], else `HELPER\tMESSAGE`.
fn map_verdict(result: &Result<(), UsernsError>) -> String {
    match result {
        Ok(()) => MAPPED.to_string(),
        Err(UsernsError::Helper { helper, stderr }) => format!("{helper}\t{stderr}"),
        Err(e) => format!("newuidmap\t{e}"),
    }
}

/// The parent's side of [`map_verdict`]. A mapper that died without a word failed too.
fn read_verdict(verdict: std::os::fd::OwnedFd) -> Result<(), UsernsError> {
    let mut text = String::new();
    fs::File::from(verdict)
        .read_to_string(&mut text)
        .map_err(UsernsError::Handshake)?;
    parse_verdict(&text)
}

fn parse_verdict(text: &str) -> Result<(), UsernsError> {
    match text.split_once('\t') {
        None if text == MAPPED => Ok(()),
        None if text.is_empty() => Err(UsernsError::Handshake(io::Error::other(
            "the process mapping the ids ended without an answer",
        ))),
        Some(("newgidmap", stderr)) => Err(UsernsError::Helper {
            helper: "newgidmap",
            stderr: stderr.to_string(),
        }),
        Some((_, stderr)) => Err(UsernsError::Helper {
            helper: "newuidmap",
            stderr: stderr.to_string(),
        }),
        None => Err(UsernsError::Handshake(io::Error::other(text.to_string()))),
    }
}

fn io_err(e: nix::Error) -> UsernsError {
    UsernsError::Handshake(io::Error::from(e))
}

/// Mounts made in here (roost unshare, later the runtime) must not propagate back to the host.
fn make_mounts_private() -> Result<(), UsernsError> {
    nix::mount::mount(
        None::<&str>,
        "/",
        None::<&str>,
        nix::mount::MsFlags::MS_REC | nix::mount::MsFlags::MS_PRIVATE,
        None::<&str>,
    )
    .map_err(|e| UsernsError::Handshake(io::Error::from(e)))
}

/// Bind the roost binary read-only onto itself in our private mount namespace (CVE-2019-5736 class).
///
/// The file is the user's own (`cargo install` puts it in `~/.cargo/bin`), and a container's root is
/// the user on the host, so any descriptor of it that a container gets hold of could write it. Every
/// roost process started from in here (container monitors, the network namespace holder) is exec'd
/// by this path and so runs the read-only view: its `/proc/PID/exe`, and any reopening of it, gives
/// `EROFS`. Processes that join a container from outside (`exec`) are non-dumpable before they join
/// and were exec'd in the initial user namespace, where a container holds no capability. Costs two
/// mount calls; where the binary cannot be bound (it was replaced on disk), roost goes on without it.
fn read_only_binary() {
    let Ok(exe) = fs::read_link("/proc/self/exe") else {
        return;
    };
    let bound = nix::mount::mount(
        Some(&exe),
        &exe,
        None::<&str>,
        nix::mount::MsFlags::MS_BIND,
        None::<&str>,
    )
    .and_then(|()| crate::sys::mount::remount_bind_read_only(&exe));
    if let Err(e) = bound {
        tracing::debug!(exe = %exe.display(), error = %e, "binary not bound read-only");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subid_lines() {
        let c = "# comment\nalice:100000:65536\n1001:300000:10\nbob:200000:65536\nalice:500000:0\nbad line\n";
        assert_eq!(parse_subid(c, "alice", 1000), vec![(100000, 65536)]);
        assert_eq!(parse_subid(c, "carol", 1001), vec![(300000, 10)]);
        assert!(parse_subid(c, "dave", 5).is_empty());
        assert!(
            parse_subid("x:4294967295:2\n", "x", 1).is_empty(),
            "overflowing range is refused"
        );
    }

    #[test]
    fn ranges_are_contiguous_inside() {
        let r = ranges(&[(100000, 65536), (300000, 10)], 1000);
        assert_eq!(
            r[0],
            IdRange {
                container: 0,
                host: 1000,
                size: 1
            }
        );
        assert_eq!(
            r[1],
            IdRange {
                container: 1,
                host: 100000,
                size: 65536
            }
        );
        assert_eq!(
            r[2],
            IdRange {
                container: 65537,
                host: 300000,
                size: 10
            }
        );
    }

    #[test]
    fn map_verdicts_come_back_as_they_were_sent() {
        assert!(parse_verdict(&map_verdict(&Ok(()))).is_ok());
        assert!(
            parse_verdict("").is_err(),
            "a mapper that died said nothing"
        );
        let failed = Err(UsernsError::Helper {
            helper: "newgidmap",
            stderr: "newgidmap: gid range [1-65537) -> [100000-165536) not allowed".into(),
        });
        match parse_verdict(&map_verdict(&failed)) {
            Err(UsernsError::Helper { helper, stderr }) => {
                assert_eq!(helper, "newgidmap");
                assert!(stderr.ends_with("not allowed"), "{stderr}");
            }
            other => panic!("unexpected {other:?}"),
        }
        let spawn = Err(UsernsError::MissingHelper {
            helper: "newuidmap",
        });
        assert!(matches!(
            parse_verdict(&map_verdict(&spawn)),
            Err(UsernsError::Helper {
                helper: "newuidmap",
                ..
            })
        ));
    }

    #[test]
    fn stage_values() {
        assert_eq!(joined(Some("full")), Some(Joined::Full));
        assert_eq!(joined(Some("single")), Some(Joined::Single));
        assert_eq!(joined(Some("x")), None);
        assert_eq!(joined(None), None);
    }
}

/// The caller's uid as the host sees it: the same outside any user namespace, the id it maps to
/// inside roost's (where the caller is 0). Journald and the kernel outside know only this one.
pub fn host_uid() -> u32 {
    let uid = Uid::current().as_raw();
    let map = fs::read_to_string("/proc/self/uid_map").unwrap_or_default();
    map_to_host(&map, uid).unwrap_or(uid)
}

/// `id` through the ranges of a uid_map/gid_map text (`inside outside count` per line).
fn map_to_host(map: &str, id: u32) -> Option<u32> {
    map.lines().find_map(|l| {
        let n: Vec<u32> = l
            .split_whitespace()
            .filter_map(|x| x.parse().ok())
            .collect();
        let [inside, outside, count] = n[..] else {
            return None;
        };
        (id >= inside && id - inside < count).then(|| outside + (id - inside))
    })
}

#[cfg(test)]
mod host_uid_tests {
    use super::map_to_host;

    #[test]
    fn ids_map_through_their_range() {
        let map = "         0       1000          1\n         1     100000      65536\n";
        assert_eq!(map_to_host(map, 0), Some(1000));
        assert_eq!(map_to_host(map, 5), Some(100004));
        assert_eq!(map_to_host(map, 70000), None);
        assert_eq!(map_to_host("0 0 4294967295\n", 1000), Some(1000));
    }
}
