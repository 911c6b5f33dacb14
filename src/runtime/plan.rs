//! What a container is to be: decided up front, applied by `spawn` (bubblewrap's plan-then-apply).
use std::path::PathBuf;

use crate::userns::IdRange;

/// The container's root file system: an overlay of image layers with a private upper dir.
#[derive(Debug, Clone)]
pub struct Rootfs {
    /// Layer directories, top layer first.
    pub lower: Vec<PathBuf>,
    pub upper: PathBuf,
    pub work: PathBuf,
    /// The container's root: where the overlay is mounted (inside the container's mount namespace
    /// only), or the tree to bind there.
    pub merged: PathBuf,
    pub read_only: bool,
    pub mode: RootfsMode,
}

/// How the container process gets its root.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RootfsMode {
    /// It mounts the kernel overlay of `lower`, `upper` and `work` on `merged` itself.
    Overlay,
    /// `merged` is ready (a fuse-overlayfs mount made before the clone, or a vfs copy): it binds it onto
    /// itself, so that it is a mount point to pivot into.
    Ready,
}

/// A bind mount from the host (or the container's runtime dir) into the container.
#[derive(Debug, Clone)]
pub struct Bind {
    pub source: PathBuf,
    /// Absolute path inside the container.
    pub target: String,
    pub read_only: bool,
}

/// A volume, bind or tmpfs the container asked for, applied after the root's own mounts and before
/// the init-file binds.
#[derive(Debug, Clone)]
pub struct Mount {
    /// Absolute path inside the container.
    pub target: String,
    pub kind: MountKind,
}

#[derive(Debug, Clone)]
pub enum MountKind {
    /// A host directory or file (a volume's `_data` directory, too), bound recursively.
    Bind {
        source: PathBuf,
        read_only: bool,
        /// Chown the source recursively to this uid:gid first (`:U`).
        chown: Option<(u32, u32)>,
        /// First use of a volume: when `source` is empty, copy the image's content at the target in,
        /// keeping owners, modes, times and symlinks (podman's copy-up).
        copy_up: bool,
        /// First use of a volume the image has nothing for: hand it to the container's user.
        first_chown: Option<(u32, u32)>,
        /// `noexec`: programs on the mount cannot be run.
        noexec: bool,
    },
    /// An overlay with a host directory as its only lower layer (`:O`); changes go to `upper`.
    Overlay {
        lower: PathBuf,
        upper: PathBuf,
        work: PathBuf,
        read_only: bool,
    },
    /// A symlink made at the target (whatever was there, unless a directory, replaced): a bind
    /// mount's `no-dereference` of a source that is a symlink.
    Symlink { link: PathBuf },
    /// A new devpts instance; `data` holds the caller's `uid=`, `gid=`, `mode=`, `max=`.
    Devpts { data: String },
    Tmpfs {
        /// `size=…,mode=…` for the kernel.
        data: String,
        read_only: bool,
        noexec: bool,
        /// tmpcopyup: the image's content at the target is copied into the new tmpfs.
        copy_up: bool,
        /// A ramfs instead (`--mount type=ramfs`): never swapped out; takes `mode=` only.
        ramfs: bool,
    },
}

/// A resource limit (`--ulimit`).
#[derive(Debug, Clone)]
pub struct Rlimit {
    pub name: &'static str,
    pub resource: nix::sys::resource::Resource,
    pub soft: u64,
    pub hard: u64,
}

/// The process to run.
#[derive(Debug, Clone, Default)]
pub struct Process {
    pub args: Vec<String>,
    pub env: Vec<String>,
    pub cwd: String,
    pub uid: u32,
    pub gid: u32,
    pub additional_gids: Vec<u32>,
    pub no_new_privileges: bool,
    /// Give the process a pseudo-terminal from the container's own devpts as its controlling terminal
    /// and stdio (`-t`); `spawn` returns the master side.
    pub terminal: bool,
    /// Run a small init as pid 1 that reaps zombies and forwards signals (`--init`).
    pub init: bool,
    /// The umask to exec with (not whatever the user's shell has).
    pub umask: u32,
    pub rlimits: Vec<Rlimit>,
}

/// Privileges the process keeps: capabilities and the seccomp filter (compiled before clone).
#[derive(Debug, Clone)]
pub struct Security {
    pub caps: super::security::caps::CapSet,
    pub seccomp: Option<std::sync::Arc<super::security::seccomp::Filter>>,
}

/// Id maps for the user namespace.
#[derive(Debug, Clone)]
// The engine builds only `Direct` and `None` (it runs inside the holder's namespace); `Helpers` and
// `Single` are spawn's own paths, left for whoever owns it to remove or use.
#[allow(dead_code)]
pub enum IdMaps {
    /// Mapped by newuidmap/newgidmap.
    Helpers {
        uids: Vec<IdRange>,
        gids: Vec<IdRange>,
    },
    /// Only the caller's ids, written directly.
    Single { uid: u32, gid: u32 },
    /// A nested namespace whose ids point into ours: written directly to /proc/PID/{uid,gid}_map by
    /// the parent, which is uid 0 with CAP_SETUID/CAP_SETGID in roost's namespace (setgroups stays allowed).
    Direct {
        uids: Vec<IdRange>,
        gids: Vec<IdRange>,
    },
    /// Real root, or a container sharing roost's namespace: no new user namespace.
    None,
}

/// Namespaces a container shares with the process that starts it (podman's `host` modes).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SharedNamespaces {
    /// The caller's pid namespace: /proc is the caller's, bound (a pid namespace owned by another
    /// user namespace cannot get a fresh procfs).
    pub pid: bool,
    /// The caller's IPC namespace: /dev/shm and /dev/mqueue are the caller's.
    pub ipc: bool,
    /// The caller's UTS namespace: the host name is the caller's, not set.
    pub uts: bool,
    /// The caller's cgroup namespace (`--cgroupns host`).
    pub cgroup: bool,
    /// `--ipc none`: a private IPC namespace without /dev/shm.
    pub no_shm: bool,
    /// `--shm-size`: the size in bytes of a private IPC namespace's /dev/shm (None: 64 MB).
    pub shm_size: Option<u64>,
}

/// Namespaces of another process that a container enters instead of making its own (`/proc/PID/ns/…`
/// of a pod's infra container).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JoinedNamespaces {
    pub ipc: Option<std::path::PathBuf>,
    /// With a joined UTS namespace the host name is the namespace's: it is not set.
    pub uts: Option<std::path::PathBuf>,
    /// A pid namespace the container's first process is born into (`pod create --share pid`): the
    /// caller enters it for the clone, so that process is not its pid 1.
    pub pid: Option<std::path::PathBuf>,
    /// A nested user namespace (a pod's, `pod create --userns keep-id`) entered after the root is
    /// built, just before the process takes on its user: the container's other namespaces stay
    /// owned by roost's, whose root may enter the infra's (those of a descendant namespace).
    pub user: Option<std::path::PathBuf>,
    /// Another container's cgroup namespace (`--cgroupns container:NAME`).
    pub cgroup: Option<std::path::PathBuf>,
    /// `/proc/PID` of a process whose /dev/shm mount the container gets as its own (a pod's sized
    /// /dev/shm, held by its infra container's mount namespace).
    pub shm: Option<std::path::PathBuf>,
}

#[derive(Debug, Clone)]
pub struct Plan {
    pub rootfs: Rootfs,
    pub hostname: String,
    pub binds: Vec<Bind>,
    /// The container's volumes, binds and tmpfs mounts, parents before children.
    pub mounts: Vec<Mount>,
    pub process: Process,
    pub maps: IdMaps,
    /// A network namespace of its own (which a helper may connect); otherwise the host's network
    /// is shared, or the one in `join_network`.
    pub new_network: bool,
    /// The built-in network (`--network slirp`): the child makes this tap device in its new
    /// network namespace and passes it to the parent, which runs the user-mode stack on it.
    pub tap: Option<crate::sys::tap::TapConfig>,
    /// An existing network namespace to join (`--network container:…|ns:…`).
    pub join_network: Option<std::path::PathBuf>,
    /// Namespaces shared with the caller instead of made new (`--pid host`, `--ipc host`, `--uts host`).
    pub shared: SharedNamespaces,
    /// Existing IPC and UTS namespaces to join (a pod's, held by its infra container).
    pub join: JoinedNamespaces,
    pub masked_paths: Vec<String>,
    pub readonly_paths: Vec<String>,
    pub security: Security,
    /// A cgroup of its own, with limits (only when asked for: none by default).
    pub cgroup: Option<super::cgroup::CgroupPlan>,
    /// `--oom-score-adj`.
    pub oom_score_adj: Option<i32>,
    /// `--sysctl`: `(key, value)` written under /proc/sys in the container's namespaces before its
    /// root is built (dotted keys, `net.ipv4.ip_forward`).
    pub sysctls: Vec<(String, String)>,
}

impl Plan {
    /// Whether the container gets the /proc view of its cgroup (`runtime::procfs`).
    pub fn proc_view(&self) -> bool {
        self.cgroup.as_ref().is_some_and(|c| c.proc_view)
    }
}

/// podman's default masked paths (made unreadable inside the container).
pub const MASKED_PATHS: &[&str] = &[
    "/proc/acpi",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
    "/sys/fs/selinux",
    "/sys/dev/block",
];

/// podman's default read-only paths.
pub const READONLY_PATHS: &[&str] = &[
    "/proc/asound",
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
];
