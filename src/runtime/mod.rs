//! The container runtime: a side-effect-free [`Plan`], then [`spawn`] carries it out — clone into new
//! namespaces, map ids, build the root file system, drop privileges, exec. No external OCI runtime.
#![deny(clippy::print_stdout, clippy::print_stderr)]

pub mod cgroup;
mod detached;
mod init;
pub mod message;
mod mounts;
pub mod plan;
pub mod procfs;
pub mod security;
pub mod spawn;
pub mod terminal;
pub mod wait;

pub use plan::{Bind, IdMaps, Mount, MountKind, Plan, Process, Rootfs, RootfsMode, Security};
pub mod exec;
pub mod flags;
pub mod procs;
pub mod relay;
mod tty;

pub use exec::{ExecError, ExecOutcome, ExecPlan};
mod volumes;

pub use message::Failure;
pub use spawn::{Attach, AttachError, SpawnError, spawn_with};
