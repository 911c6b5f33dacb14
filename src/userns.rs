//! The rootless user namespace: subordinate id ranges, and re-running roost inside a namespace where
//! uid 0 is the caller and 1..N are the caller's /etc/subuid range (mapped by the setuid `newuidmap` and
//! `newgidmap` helpers), as podman does. With no subordinate range, only the caller's own id is mapped.
#![deny(clippy::print_stdout, clippy::print_stderr)]

use std::ffi::OsString;
use std::fs;
use std::io::{self, Read, Write};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus};

use nix::sched::CloneFlags;
use nix::unistd::{Gid, Uid};

/// Set in the environment of a roost process that runs inside the namespace (podman uses
/// `_CONTAINERS_USERNS_CONFIGURED` the same way). Values: `full` or `single`.
const STAGE_ENV: &str = "_ROOST_USERNS_CONFIGURED";
/// `READ_FD,WRITE_FD` of the handshake pipes, for the child.
const SYNC_ENV: &str = "_ROOST_USERNS_SYNC";
/// Descriptor number of an open `/proc/PID/ns/user` of a live holder, for a child that joins it.
const JOIN_ENV: &str = "_ROOST_USERNS_JOIN";

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

/// The re-exec protocol's child side, at start-up: when the parent roost re-executed us into a user
/// namespace, join the holder's ([`JOIN_ENV`]) or finish entering a fresh one (the [`SYNC_ENV`]
/// handshake), and say which kind it is; `None` when we were not re-executed. Must run first thing,
/// while the process is single-threaded.
///
/// The handshake variables are removed once used: processes we start (the monitor, `unshare`'s
/// command) are already inside and must not try to join again. [`STAGE_ENV`] stays, marking them as
/// inside.
pub fn enter_from_env() -> Result<Option<Joined>, UsernsError> {
    let joined = joined(std::env::var(STAGE_ENV).ok().as_deref());
    if joined.is_none() {
        return Ok(None);
    }
    if let Ok(fd) = std::env::var(JOIN_ENV) {
        join_as_child(&fd)?;
        crate::sys::process::remove_env(JOIN_ENV);
    }
    if let Ok(sync) = std::env::var(SYNC_ENV) {
        enter_as_child(Some(&sync))?;
        crate::sys::process::remove_env(SYNC_ENV);
    }
    Ok(joined)
}

/// For a command started from inside the namespace (`unshare`'s): it stays marked as inside, so a
/// nested roost does not try to create another namespace, and gets none of the handshake variables.
pub fn stay_inside(cmd: &mut Command) -> &mut Command {
    cmd.env_remove(SYNC_ENV).env_remove(JOIN_ENV)
}

/// Write the uid and gid maps of process `pid` with the setuid `newuidmap` and `newgidmap`. The two
/// are independent (each writes one file of `/proc/PID`), so they run side by side: each is an exec
/// of a setuid program with its own dynamic linking, about a millisecond apiece.
pub(crate) fn run_map_helpers(
    pid: i32,
    uids: &[IdRange],
    gids: &[IdRange],
) -> Result<(), UsernsError> {
    let uid_helper = spawn_map_helper("newuidmap", pid, uids)?;
    let gid_helper = spawn_map_helper("newgidmap", pid, gids);
    // Both are waited for, whatever the first one says.
    let uid_result = finish_map_helper(uid_helper);
    let gid_result = gid_helper.and_then(finish_map_helper);
    uid_result.and(gid_result)
}

fn spawn_map_helper(
    helper: &'static str,
    pid: i32,
    ranges: &[IdRange],
) -> Result<(&'static str, std::process::Child), UsernsError> {
    let path = crate::helpers::find(helper).ok_or(UsernsError::MissingHelper { helper })?;
    let mut cmd = crate::helpers::command(&path);
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

/// Run this same roost command again inside the user namespace and wait for it. The child calls
/// [`enter_as_child`] first thing. stdio is inherited; the child dies with us.
///
/// The child gets `XDG_RUNTIME_DIR` = `paths.runtime_base`, the runtime directory resolved here from the
/// real uid: inside, the uid is 0, and a fallback worked out there would be root's, shared by every user.
pub fn reexec(
    mapping: &Mapping,
    args: &[OsString],
    paths: &crate::paths::Paths,
) -> Result<ExitStatus, UsernsError> {
    let mut cmd = Command::new("/proc/self/exe");
    cmd.args(args.iter().skip(1))
        .env("XDG_RUNTIME_DIR", &paths.runtime_base);
    // argv[0] keeps the name the user typed, for messages.
    let exe = std::env::current_exe().unwrap_or_else(|_| PathBuf::from("/proc/self/exe"));
    std::os::unix::process::CommandExt::arg0(
        &mut cmd,
        args.first().cloned().unwrap_or_else(|| exe.into()),
    );
    if let Some(ns) = open_holder_namespace(&paths.runtime) {
        return reexec_joining(mapping, cmd, ns);
    }
    reexec_fresh(mapping, cmd)
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

fn reexec_joining(
    mapping: &Mapping,
    mut cmd: Command,
    ns: fs::File,
) -> Result<ExitStatus, UsernsError> {
    let stage = match mapping {
        Mapping::Single { .. } => "single",
        _ => "full",
    };
    cmd.env(STAGE_ENV, stage)
        .env(JOIN_ENV, ns.as_raw_fd().to_string());
    let mut child =
        crate::sys::process::spawn_tied(&mut cmd, &[ns.as_raw_fd()]).map_err(|source| {
            UsernsError::Spawn {
                helper: "roost".into(),
                source,
            }
        })?;
    drop(ns);
    ignore_interactive_signals();
    child.wait().map_err(|source| UsernsError::Spawn {
        helper: "roost".into(),
        source,
    })
}

/// In a child started by [`reexec`] to join a holder's namespace: join it, then take a mount namespace
/// of our own. Must run while the process is single-threaded.
fn join_as_child(fd: &str) -> Result<(), UsernsError> {
    let fd: i32 = fd
        .parse()
        .map_err(|_| UsernsError::Handshake(io::Error::other("bad namespace descriptor")))?;
    let ns = crate::sys::process::adopt_fd(fd).map_err(UsernsError::Handshake)?;
    nix::sched::setns(&ns, CloneFlags::CLONE_NEWUSER).map_err(UsernsError::Unshare)?;
    drop(ns);
    nix::sched::unshare(CloneFlags::CLONE_NEWNS).map_err(UsernsError::Unshare)?;
    make_mounts_private()?;
    read_only_binary();
    Ok(())
}

fn reexec_fresh(mapping: &Mapping, mut cmd: Command) -> Result<ExitStatus, UsernsError> {
    let stage = match mapping {
        Mapping::Full { .. } => "full",
        Mapping::Single { .. } => "single",
        Mapping::Root => unreachable!("root never needs a user namespace"),
    };
    let (child_read, parent_write) =
        nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(io_err)?;
    let (parent_read, child_write) =
        nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(io_err)?;
    cmd.env(STAGE_ENV, stage).env(
        SYNC_ENV,
        format!("{},{}", child_read.as_raw_fd(), child_write.as_raw_fd()),
    );
    let mut child = crate::sys::process::spawn_tied(
        &mut cmd,
        &[child_read.as_raw_fd(), child_write.as_raw_fd()],
    )
    .map_err(|source| UsernsError::Spawn {
        helper: "roost".into(),
        source,
    })?;
    drop(child_read);
    drop(child_write);
    let pid = child.id() as i32;
    let mut parent_read = fs::File::from(parent_read);
    let mut parent_write = fs::File::from(parent_write);
    let mut b = [0u8; 1];
    let result = parent_read
        .read_exact(&mut b)
        .map_err(UsernsError::Handshake)
        .and_then(|()| match mapping {
            Mapping::Full { uids, gids } => run_map_helpers(pid, uids, gids),
            Mapping::Single { uid, gid } => write_single_map(pid, *uid, *gid),
            Mapping::Root => Ok(()),
        });
    let go: &[u8] = if result.is_ok() { b"G" } else { b"E" };
    let _ = parent_write.write_all(go);
    drop(parent_write);
    if let Err(e) = result {
        let _ = child.wait();
        return Err(e);
    }
    // The child owns the terminal's signals now: Ctrl-C reaches both of us, and it decides.
    ignore_interactive_signals();
    child.wait().map_err(|source| UsernsError::Spawn {
        helper: "roost".into(),
        source,
    })
}

fn ignore_interactive_signals() {
    use nix::sys::signal::Signal;
    for s in [Signal::SIGINT, Signal::SIGQUIT] {
        let _ = crate::sys::process::ignore_signal(s);
    }
}

fn io_err(e: nix::Error) -> UsernsError {
    UsernsError::Handshake(io::Error::from(e))
}

/// In the re-executed child: create the user namespace (and a mount namespace), tell the parent, and
/// wait until it has written our id maps. Must run while the process is single-threaded.
fn enter_as_child(sync: Option<&str>) -> Result<(), UsernsError> {
    let (r, w) = sync
        .and_then(|s| s.split_once(','))
        .and_then(|(r, w)| Some((r.parse::<i32>().ok()?, w.parse::<i32>().ok()?)))
        .ok_or_else(|| UsernsError::Handshake(io::Error::other("missing handshake descriptors")))?;
    let (mut from_parent, mut to_parent) =
        crate::sys::process::adopt_inherited_pipes(r, w).map_err(UsernsError::Handshake)?;
    nix::sched::unshare(CloneFlags::CLONE_NEWUSER | CloneFlags::CLONE_NEWNS)
        .map_err(UsernsError::Unshare)?;
    to_parent.write_all(b"R").map_err(UsernsError::Handshake)?;
    let mut b = [0u8; 1];
    from_parent
        .read_exact(&mut b)
        .map_err(UsernsError::Handshake)?;
    if &b != b"G" {
        return Err(UsernsError::Handshake(io::Error::other(
            "the parent could not map ids",
        )));
    }
    make_mounts_private()?;
    read_only_binary();
    Ok(())
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
