//! Thin wrappers around system calls that the safe crates (nix, std) do not cover.
//! Every `unsafe` block in roost lives below this module and says why it is sound.
#![deny(clippy::print_stdout, clippy::print_stderr)]

pub mod clone;
pub mod fdpass;
pub mod fs;
pub mod journal;
pub mod memory;
pub mod mount;
pub mod overlay;
pub mod path;
pub mod process;
pub mod seccomp;
pub mod slirp;
pub mod tap;
pub mod tty;
