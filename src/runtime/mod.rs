//! The container runtime: a side-effect-free [`Plan`], then [`spawn`] carries it out — clone into new
//! namespaces, map ids, build the root file system, drop privileges, exec. No external OCI runtime.
#![deny(clippy::print_stdout, clippy::print_stderr)]

mod mounts;
pub mod plan;
pub mod spawn;
mod volumes;
pub mod wait;

pub use plan::{Bind, IdMaps, Mount, MountKind, Plan, Process, Rootfs};
pub use spawn::{SpawnError, Spawned, spawn};
