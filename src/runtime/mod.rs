//! The container runtime: a side-effect-free [`Plan`], then [`spawn`] carries it out — clone into new
//! namespaces, map ids, build the root file system, drop privileges, exec. No external OCI runtime.
#![deny(clippy::print_stdout, clippy::print_stderr)]

pub mod exec;
mod mounts;
pub mod plan;
pub mod procs;
pub mod spawn;
mod tty;
pub mod wait;

pub use exec::{ExecError, ExecOutcome, ExecPlan};
pub use plan::{Bind, IdMaps, Plan, Process, Rootfs};
pub use spawn::{SpawnError, Spawned, spawn};
