//! `doctor`: every prerequisite of rootless containers, checked on this machine for this user, each
//! with what was found and, when it is not right, what to do. Checks are data ([`Check`]); the CLI
//! prints them. Nothing here changes the system (the overlay probe mounts a detached overlay in a
//! throw-away namespace, in a temporary directory it removes).
use std::fs;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use serde::Serialize;

mod programs;

use super::Ctx;

/// How a check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Ok,
    /// roost works, with less (a fallback, a feature that is unavailable).
    Warn,
    /// Something roost needs for rootless containers is missing or broken.
    Fail,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Warn => "warn",
            Status::Fail => "fail",
        }
    }
}

/// One prerequisite: what was found (`detail`) and, unless it is ok, what to do (`fix`).
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    pub name: &'static str,
    pub status: Status,
    pub detail: String,
    pub fix: Option<String>,
}

impl Check {
    fn ok(name: &'static str, detail: impl Into<String>) -> Check {
        Check {
            name,
            status: Status::Ok,
            detail: detail.into(),
            fix: None,
        }
    }

    fn bad(
        name: &'static str,
        status: Status,
        detail: impl Into<String>,
        fix: impl Into<String>,
    ) -> Check {
        Check {
            name,
            status,
            detail: detail.into(),
            fix: Some(fix.into()),
        }
    }
}

/// The user the checks are for.
struct Who {
    name: String,
    uid: u32,
    root: bool,
}

/// Run every check, in the order a user would fix them.
pub fn doctor(ctx: &Ctx) -> Vec<Check> {
    let uid = nix::unistd::geteuid();
    let who = Who {
        name: nix::unistd::User::from_uid(uid)
            .ok()
            .flatten()
            .map_or_else(|| uid.to_string(), |u| u.name),
        uid: uid.as_raw(),
        root: uid.is_root(),
    };
    let mut checks = vec![user_namespaces()];
    checks.extend(["subuid", "subgid"].map(|f| subids(&who, f)));
    checks.extend([("newuidmap", 7), ("newgidmap", 6)].map(|(h, cap)| map_helper(&who, h, cap)));
    checks.push(device("dev-net-tun", Path::new("/dev/net/tun")));
    checks.push(device("dev-fuse", Path::new("/dev/fuse")));
    checks.push(overlay(ctx));
    checks.push(cgroup_v2());
    checks.push(delegation(&who));
    checks.push(linger(&who));
    checks.push(runtime_dir(ctx));
    checks.extend(programs::helpers());
    checks.push(unprivileged_ports());
    checks.push(disk_space(&ctx.paths.data));
    checks.push(store(ctx));
    checks
}

fn read_trimmed(path: &str) -> Option<String> {
    fs::read_to_string(path).ok().map(|s| s.trim().to_string())
}

fn user_namespaces() -> Check {
    const NAME: &str = "user-namespaces";
    let max = read_trimmed("/proc/sys/user/max_user_namespaces");
    if max.as_deref() == Some("0") {
        return Check::bad(
            NAME,
            Status::Fail,
            "user.max_user_namespaces is 0",
            "as root: `sysctl -w user.max_user_namespaces=28633` (and the same in /etc/sysctl.d/ to keep it)",
        );
    }
    if read_trimmed("/proc/sys/kernel/unprivileged_userns_clone").as_deref() == Some("0") {
        return Check::bad(
            NAME,
            Status::Fail,
            "kernel.unprivileged_userns_clone is 0",
            "as root: `sysctl -w kernel.unprivileged_userns_clone=1` (and the same in /etc/sysctl.d/ to keep it)",
        );
    }
    if read_trimmed("/proc/sys/kernel/apparmor_restrict_unprivileged_userns").as_deref()
        == Some("1")
    {
        return Check::bad(
            NAME,
            Status::Warn,
            "AppArmor restricts unprivileged user namespaces (kernel.apparmor_restrict_unprivileged_userns=1)",
            "give roost an AppArmor profile with `userns,` (as Ubuntu does for podman), or as root \
             `sysctl -w kernel.apparmor_restrict_unprivileged_userns=0`",
        );
    }
    Check::ok(
        NAME,
        format!(
            "unprivileged user namespaces allowed (max {})",
            max.unwrap_or_else(|| "unknown".into())
        ),
    )
}

/// `/etc/subuid` or `/etc/subgid`: the user's ranges.
fn subids(who: &Who, file: &'static str) -> Check {
    if who.root {
        return Check::ok(file, "running as root: no subordinate ids needed");
    }
    let path = format!("/etc/{file}");
    let content = fs::read_to_string(&path).unwrap_or_default();
    let ranges = crate::userns::parse_subid(&content, &who.name, who.uid);
    let total: u64 = ranges.iter().map(|&(_, n)| u64::from(n)).sum();
    let listed = ranges
        .iter()
        .map(|(s, n)| format!("{}:{s}:{n}", who.name))
        .collect::<Vec<_>>()
        .join(", ");
    let start = free_subid_start(&content);
    let flag = if file == "subuid" {
        "--add-subuids"
    } else {
        "--add-subgids"
    };
    let fix = format!(
        "as root: `usermod {flag} {start}-{} {}` (a range no other user has; then log in again)",
        u64::from(start) + 65535,
        who.name
    );
    if let Some((a, b)) = overlapping(&ranges) {
        return Check::bad(
            file,
            Status::Fail,
            format!(
                "{listed}: ranges {}:{} and {}:{} overlap, so newuidmap/newgidmap refuse the map",
                a.0, a.1, b.0, b.1
            ),
            format!(
                "as root: remove the duplicate or overlapping line for `{}` from {path}",
                who.name
            ),
        );
    }
    match total {
        0 => Check::bad(
            file,
            Status::Fail,
            format!(
                "no entry for `{}` (uid {}) in {path}: only your own id is mapped, and images with files \
                 of other owners keep them in xattrs",
                who.name, who.uid
            ),
            fix,
        ),
        n if n < 65536 => Check::bad(
            file,
            Status::Warn,
            format!("{listed}: {n} ids, fewer than the 65536 images may use"),
            fix,
        ),
        n => Check::ok(file, format!("{listed} ({n} ids)")),
    }
}

/// Two of `ranges` (start, count) that share an id.
fn overlapping(ranges: &[(u32, u32)]) -> Option<((u32, u32), (u32, u32))> {
    let end = |&(s, n): &(u32, u32)| u64::from(s) + u64::from(n);
    ranges.iter().enumerate().find_map(|(i, a)| {
        ranges[i + 1..]
            .iter()
            .find(|b| u64::from(a.0) < end(b) && u64::from(b.0) < end(a))
            .map(|b| (*a, *b))
    })
}

/// The first id above every range in a subuid/subgid file, at least 100000, rounded up to 65536.
fn free_subid_start(content: &str) -> u32 {
    let end = content
        .lines()
        .filter_map(|l| {
            let mut it = l.trim().split(':').skip(1);
            let start: u64 = it.next()?.trim().parse().ok()?;
            let count: u64 = it.next()?.trim().parse().ok()?;
            Some(start + count)
        })
        .max()
        .unwrap_or(0)
        .max(100_000);
    let rounded = if end == 100_000 {
        end
    } else {
        end.div_ceil(65536) * 65536
    };
    u32::try_from(rounded).unwrap_or(100_000)
}

/// newuidmap/newgidmap: installed, and setuid root or with the capability (`cap`: CAP_SETUID 7,
/// CAP_SETGID 6) in its file capabilities.
fn map_helper(who: &Who, helper: &'static str, cap: u32) -> Check {
    if who.root {
        return Check::ok(helper, "running as root: not needed");
    }
    let Some(path) = crate::helpers::find(helper) else {
        return Check::bad(
            helper,
            Status::Fail,
            format!("`{helper}` is not installed"),
            "as root: `apt-get install uidmap` (Fedora: shadow-utils)",
        );
    };
    let Ok(meta) = fs::metadata(&path) else {
        return Check::bad(
            helper,
            Status::Fail,
            format!("cannot read `{}`", path.display()),
            "reinstall it: `apt-get install --reinstall uidmap`",
        );
    };
    if meta.uid() == 0 && meta.mode() & 0o4000 != 0 {
        return Check::ok(helper, format!("{} (setuid root)", path.display()));
    }
    let mut buf = [0u8; 64];
    let caps = rustix::fs::getxattr(&path, "security.capability", &mut buf[..])
        .ok()
        .and_then(|n| permitted_caps(&buf[..n]));
    if caps.is_some_and(|c| c & (1 << cap) != 0) {
        return Check::ok(helper, format!("{} (file capabilities)", path.display()));
    }
    let capname = if cap == 7 { "cap_setuid" } else { "cap_setgid" };
    Check::bad(
        helper,
        Status::Fail,
        format!(
            "{} is neither setuid root nor has {capname} in its file capabilities",
            path.display()
        ),
        format!(
            "as root: `chmod u+s {p}` or `setcap {capname}+ep {p}`",
            p = path.display()
        ),
    )
}

/// The low word of the permitted set in a `security.capability` xattr (vfs_cap_data, revisions 1-3).
fn permitted_caps(xattr: &[u8]) -> Option<u32> {
    let word = |at: usize| {
        xattr
            .get(at..at + 4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    };
    word(0)?;
    word(4)
}

/// A device rootless networking or fuse-overlayfs opens: present, a character device, read-write for us.
fn device(name: &'static str, path: &Path) -> Check {
    let what = if name == "dev-fuse" {
        "fuse-overlayfs needs it (the fallback when the kernel overlay cannot be used)"
    } else {
        "the default network needs it (the built-in slirp, pasta and slirp4netns)"
    };
    let (status, module) = if name == "dev-fuse" {
        (Status::Warn, "fuse")
    } else {
        (Status::Fail, "tun")
    };
    match fs::metadata(path) {
        Err(e) => Check::bad(
            name,
            status,
            format!("{}: {e}; {what}", path.display()),
            format!("as root: `modprobe {module}` (and add `{module}` to /etc/modules)"),
        ),
        Ok(m) if !m.file_type().is_char_device() => Check::bad(
            name,
            status,
            format!("{} is not a character device; {what}", path.display()),
            format!("as root: remove it and `modprobe {module}`"),
        ),
        Ok(m) => match nix::unistd::access(
            path,
            nix::unistd::AccessFlags::R_OK | nix::unistd::AccessFlags::W_OK,
        ) {
            Ok(()) => Check::ok(
                name,
                format!("{} (mode {:o})", path.display(), m.mode() & 0o7777),
            ),
            Err(_) => Check::bad(
                name,
                status,
                format!(
                    "{} is mode {:o}: you cannot open it read-write; {what}",
                    path.display(),
                    m.mode() & 0o7777
                ),
                format!(
                    "as root: `chmod 0666 {p}` (to keep it: a udev rule `KERNEL==\"{k}\", MODE=\"0666\"`)",
                    p = path.display(),
                    k = path
                        .file_name()
                        .map(|n| n.to_string_lossy())
                        .unwrap_or_default()
                ),
            ),
        },
    }
}

/// The kernel overlay in a user namespace, as roost's runtime mounts it, on the store's file system.
fn overlay(ctx: &Ctx) -> Check {
    const NAME: &str = "overlay";
    let data = &ctx.paths.data;
    let dir = if data.is_dir() {
        data.join("tmp")
    } else {
        existing_ancestor(data)
    };
    let release = nix::sys::utsname::uname()
        .map(|u| u.release().to_string_lossy().into_owned())
        .unwrap_or_default();
    match super::storage::probe_kernel_overlay(&dir) {
        Ok(()) => Check::ok(
            NAME,
            format!(
                "kernel {release} mounts overlay inside a user namespace (userxattr, {})",
                crate::sys::overlay::Interface::of_running_kernel().describe()
            ),
        ),
        Err(why) => {
            let fallback = match super::storage::fuse::available() {
                Ok(()) => "containers use fuse-overlayfs instead (slower)",
                Err(_) => {
                    "and fuse-overlayfs cannot run either: containers get a full copy of their image (vfs)"
                }
            };
            Check::bad(
                NAME,
                Status::Warn,
                format!(
                    "kernel {release} cannot mount overlay in a user namespace as roost does ({why}); {fallback}"
                ),
                "overlay in a user namespace needs Linux 5.11 or newer and a store on a file system with user \
                 extended attributes (ext4, xfs, btrfs; tmpfs only from Linux 6.6): move the store \
                 (`graphroot` in ~/.config/containers/storage.conf) to such a file system, or upgrade the kernel",
            )
        }
    }
}

fn existing_ancestor(p: &Path) -> PathBuf {
    p.ancestors()
        .find(|a| a.is_dir())
        .unwrap_or(Path::new("/"))
        .to_path_buf()
}

const DELEGATE_FIX: &str = "as root, have systemd delegate the controllers to user sessions: \
    `mkdir -p /etc/systemd/system/user@.service.d && printf '[Service]\\nDelegate=cpu cpuset io memory pids\\n' \
    > /etc/systemd/system/user@.service.d/delegate.conf && systemctl daemon-reload`, then log out and in again";

fn cgroup_v2() -> Check {
    const NAME: &str = "cgroup-v2";
    if let Some(c) = read_trimmed("/sys/fs/cgroup/cgroup.controllers") {
        return Check::ok(
            NAME,
            format!("unified hierarchy; controllers at the root: {c}"),
        );
    }
    let hybrid = Path::new("/sys/fs/cgroup/unified").is_dir();
    Check::bad(
        NAME,
        Status::Fail,
        if hybrid {
            "hybrid cgroup v1/v2 hierarchy: the v2 part at /sys/fs/cgroup/unified has no controllers, so \
             resource limits (--memory, --cpus, --pids-limit) and pause cannot work rootless"
        } else {
            "cgroup v1: resource limits (--memory, --cpus, --pids-limit) and pause cannot work rootless"
        },
        "boot with the unified cgroup v2 hierarchy: add `systemd.unified_cgroup_hierarchy=1` to the kernel \
         command line (GRUB_CMDLINE_LINUX in /etc/default/grub, then `update-grub` and reboot); with no \
         systemd, mount cgroup2 on /sys/fs/cgroup at boot",
    )
}

/// The cgroup v2 path of this process (`0::/PATH` in /proc/self/cgroup).
fn own_cgroup(proc_self_cgroup: &str) -> Option<&str> {
    proc_self_cgroup
        .lines()
        .find_map(|l| l.strip_prefix("0::"))
        .map(str::trim)
}

/// The top of the subtree delegated to `uid`: the highest ancestor of `cgroup` (a path under
/// `/sys/fs/cgroup`) that `uid` owns, with every directory below it owned too.
fn delegation_root(root: &Path, cgroup: &str, uid: u32) -> Option<PathBuf> {
    let mut found = None;
    let mut dir = root.join(cgroup.trim_start_matches('/'));
    while dir.starts_with(root) && dir != root {
        match fs::metadata(&dir) {
            Ok(m) if m.uid() == uid => found = Some(dir.clone()),
            _ => break,
        }
        dir.pop();
    }
    found
}

fn delegation(who: &Who) -> Check {
    const NAME: &str = "cgroup-delegation";
    if who.root {
        return Check::ok(NAME, "running as root: the whole hierarchy is yours");
    }
    let root = Path::new("/sys/fs/cgroup");
    if !root.join("cgroup.controllers").is_file() {
        return Check::bad(
            NAME,
            Status::Fail,
            "no cgroup v2 hierarchy at /sys/fs/cgroup, so nothing can be delegated to you",
            format!("switch to cgroup v2 first (see cgroup-v2); then {DELEGATE_FIX}"),
        );
    }
    let own = fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
    let Some(own) = own_cgroup(&own).map(str::to_string) else {
        return Check::bad(
            NAME,
            Status::Fail,
            "this process is in no cgroup v2 group (/proc/self/cgroup has no `0::` line)",
            DELEGATE_FIX,
        );
    };
    let Some(top) = delegation_root(root, &own, who.uid) else {
        return Check::bad(
            NAME,
            Status::Fail,
            format!(
                "your cgroup `{own}` is not yours (not delegated): roost cannot make groups for containers"
            ),
            format!(
                "run roost inside your systemd user manager (a login session through pam_systemd, or \
                 `systemd-run --user --scope roost ...`); if it still is not delegated, {DELEGATE_FIX}"
            ),
        );
    };
    let controllers = fs::read_to_string(top.join("cgroup.controllers")).unwrap_or_default();
    let have: Vec<&str> = controllers.split_whitespace().collect();
    let missing: Vec<&str> = ["cpu", "memory", "pids"]
        .into_iter()
        .filter(|c| !have.contains(c))
        .collect();
    let rel = top.strip_prefix(root).unwrap_or(&top).display().to_string();
    let detail = format!(
        "`/{rel}` is delegated to you with controllers: {}",
        if have.is_empty() {
            "none".to_string()
        } else {
            have.join(" ")
        }
    );
    if missing.is_empty() {
        Check::ok(NAME, detail)
    } else {
        Check::bad(
            NAME,
            Status::Warn,
            format!("{detail}; missing {}", missing.join(" ")),
            DELEGATE_FIX,
        )
    }
}

/// Lingering: whether the user's systemd manager (and so `--restart` and user units) outlives logout.
fn linger(who: &Who) -> Check {
    const NAME: &str = "linger";
    if who.root {
        return Check::ok(NAME, "running as root: system services outlive every login");
    }
    if !Path::new("/run/systemd/system").is_dir() {
        return Check::bad(
            NAME,
            Status::Warn,
            "this machine does not run systemd (no /run/systemd/system): there is no user manager to keep \
             running after logout",
            "nothing stops your containers when you log out here, but nothing starts them after a reboot \
             either: `--restart` acts only while a container's monitor runs; start them at boot from your \
             init system or cron (`@reboot roost start --all`)",
        );
    }
    let file = Path::new("/var/lib/systemd/linger").join(&who.name);
    if file.exists() {
        return Check::ok(
            NAME,
            format!("lingering is on for `{}` ({})", who.name, file.display()),
        );
    }
    Check::bad(
        NAME,
        Status::Warn,
        format!(
            "lingering is off for `{}`: systemd stops your user manager, and the containers in it, when you \
             log out, so `--restart` policies end there",
            who.name
        ),
        format!("`loginctl enable-linger {}`", who.name),
    )
}

fn runtime_dir(ctx: &Ctx) -> Check {
    const NAME: &str = "xdg-runtime-dir";
    let base = ctx.paths.runtime_base.display();
    match &ctx.paths.runtime_fallback {
        None => Check::ok(NAME, format!("{base}")),
        Some(why) => Check::bad(
            NAME,
            Status::Warn,
            format!("{why}: roost keeps its runtime state in {base} instead"),
            "log in through a session that runs pam_systemd (it makes /run/user/UID and sets \
             XDG_RUNTIME_DIR), or `export XDG_RUNTIME_DIR=` a directory of your own with mode 0700 (a tmpfs)",
        ),
    }
}

fn unprivileged_ports() -> Check {
    const NAME: &str = "unprivileged-ports";
    let start = read_trimmed("/proc/sys/net/ipv4/ip_unprivileged_port_start")
        .and_then(|s| s.parse::<u32>().ok())
        .unwrap_or(1024);
    let detail = if start == 0 {
        "net.ipv4.ip_unprivileged_port_start is 0: any port can be published".to_string()
    } else {
        format!(
            "net.ipv4.ip_unprivileged_port_start is {start}: ports from {start} up can be published (for \
             lower ones, as root: `sysctl -w net.ipv4.ip_unprivileged_port_start=80`)"
        )
    };
    Check::ok(NAME, detail)
}

const GIB: u64 = 1 << 30;

fn disk_space(data: &Path) -> Check {
    const NAME: &str = "disk-space";
    let at = existing_ancestor(data);
    let Ok(st) = nix::sys::statvfs::statvfs(&at) else {
        return Check::bad(
            NAME,
            Status::Warn,
            format!("cannot read the free space of `{}`", at.display()),
            "check the file system of the store",
        );
    };
    let free = st.blocks_available() * st.fragment_size();
    let inodes = st.files_available();
    let detail = format!(
        "{:.1} GiB and {inodes} inodes free for the store `{}`",
        free as f64 / GIB as f64,
        data.display()
    );
    let fix = "free some space (`roost system prune -a` removes unused images), or keep the store \
               elsewhere with --root";
    if free < GIB / 4 || (st.files() > 0 && inodes < 10_000) {
        Check::bad(NAME, Status::Fail, detail, fix)
    } else if free < 2 * GIB {
        Check::bad(NAME, Status::Warn, detail, fix)
    } else {
        Check::ok(NAME, detail)
    }
}

/// The store's own consistency (`system check --quick`).
fn store(ctx: &Ctx) -> Check {
    const NAME: &str = "store";
    if !ctx.paths.data.exists() {
        return Check::ok(
            NAME,
            format!("no store yet at {}", ctx.paths.data.display()),
        );
    }
    let opts = super::check::CheckOptions {
        quick: true,
        ..Default::default()
    };
    match super::check::check(ctx, opts) {
        Ok(r) if r.problems.is_empty() => {
            Check::ok(NAME, format!("{} is consistent", ctx.paths.data.display()))
        }
        Ok(r) => Check::bad(
            NAME,
            Status::Fail,
            format!(
                "{} problem(s) in {}, first: {}: {}",
                r.problems.len(),
                ctx.paths.data.display(),
                r.problems[0].object,
                r.problems[0].what
            ),
            "`roost system check` lists them; `roost system check --repair` removes what is damaged or left over",
        ),
        Err(e) => Check::bad(
            NAME,
            Status::Fail,
            format!("cannot check {}: {e}", ctx.paths.data.display()),
            "`roost system check` says more",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_free_subid_range_starts_above_every_other() {
        assert_eq!(free_subid_start(""), 100_000);
        assert_eq!(free_subid_start("a:100000:65536\n"), 196_608);
        assert_eq!(
            free_subid_start("a:200000:65536\nb:300000:65536\n# c:x:y\n"),
            393_216
        );
    }

    #[test]
    fn duplicate_and_overlapping_ranges_are_found() {
        assert_eq!(overlapping(&[(100000, 65536), (200000, 65536)]), None);
        assert_eq!(
            overlapping(&[(100000, 65536), (100000, 65536)]),
            Some(((100000, 65536), (100000, 65536)))
        );
        assert_eq!(
            overlapping(&[(1, 10), (20, 5), (10, 11)]),
            Some(((1, 10), (10, 11)))
        );
        assert_eq!(overlapping(&[(1, 10), (11, 5)]), None);
    }

    #[test]
    fn the_own_cgroup_is_the_v2_line() {
        assert_eq!(
            own_cgroup(
                "12:pids:/x\n0::/user.slice/user-1000.slice/user@1000.service/app.slice/a.service\n"
            ),
            Some("/user.slice/user-1000.slice/user@1000.service/app.slice/a.service")
        );
        assert_eq!(own_cgroup("1:name=systemd:/\n"), None);
    }

    #[test]
    fn delegation_stops_at_the_first_directory_that_is_not_ours() {
        let d = tempfile::tempdir().unwrap();
        let me = nix::unistd::geteuid().as_raw();
        let deep = d.path().join("user.slice/user@1000.service/app.slice");
        fs::create_dir_all(&deep).unwrap();
        // All ours: the top of the tree (below the root itself).
        assert_eq!(
            delegation_root(d.path(), "/user.slice/user@1000.service/app.slice", me),
            Some(d.path().join("user.slice"))
        );
        // Another owner: nothing.
        assert_eq!(
            delegation_root(d.path(), "/user.slice/user@1000.service/app.slice", me + 1),
            None
        );
        assert_eq!(delegation_root(d.path(), "/", me), None);
    }

    #[test]
    fn the_permitted_set_comes_from_the_capability_xattr() {
        // vfs_cap_data revision 2: magic, then permitted low word, inheritable low word, ...
        let mut x = vec![0x01, 0x00, 0x00, 0x02];
        x.extend((1u32 << 7).to_le_bytes());
        x.extend([0; 12]);
        assert_eq!(permitted_caps(&x), Some(1 << 7));
        assert_eq!(permitted_caps(&x[..6]), None);
    }
}
