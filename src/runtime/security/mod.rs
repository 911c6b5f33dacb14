//! The container process's privilege limits: capabilities, the seccomp filter and no_new_privs.
//!
//! Everything here runs in the container child, after the root file system is in place
//! (`pivot_root`, mounts, masked paths) and right before `execve`. The order matters, and it is
//! the one runc and crun use:
//!
//! 1. [`seccomp::compile`] the profile *before* forking/cloning if you can (it allocates; the
//!    child then only loads it), for the capability set the container will get.
//! 2. Without `--security-opt no-new-privileges`: [`seccomp::Filter::load`] while the process
//!    still holds `CAP_SYS_ADMIN` in its user namespace (the kernel accepts a filter from a
//!    process that has `CAP_SYS_ADMIN` in its own user namespace or has no_new_privs set; a
//!    rootless container child is uid 0 with a full set in the namespace roost created).
//! 3. [`caps::apply`] (drops the bounding set, sets effective/permitted/inheritable, clears
//!    ambient). For a non-root `--user`, it runs before `setresuid`; see its docs.
//! 4. With no-new-privileges: [`no_new_privileges`], then [`seccomp::Filter::load`] last, so the
//!    filter has to allow as little set-up as possible.
//! 5. `execve`.
//!
//! The default seccomp profile allows every system call these steps make (`capset`, `prctl`,
//! `setresuid`, `setgroups`, `execve`), so steps 3 and 5 work under the loaded filter.
#![deny(clippy::print_stdout, clippy::print_stderr)]

pub mod caps;
pub mod profile;
pub mod seccomp;

#[cfg(test)]
mod tests;

#[cfg(test)]
/// Setting the no_new_privs bit failed.
#[derive(Debug, thiserror::Error)]
#[error("failed to set no_new_privs")]
pub struct NoNewPrivsError(#[source] pub nix::Error);

#[cfg(test)]
/// Set `PR_SET_NO_NEW_PRIVS` on the calling thread (and so on everything it `execve`s): set-uid
/// bits and file capabilities no longer grant privileges, and an unprivileged process may load a
/// seccomp filter. It cannot be unset.
pub fn no_new_privileges() -> Result<(), NoNewPrivsError> {
    nix::sys::prctl::set_no_new_privs().map_err(NoNewPrivsError)
}
