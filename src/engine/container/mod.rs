//! Containers: from an image and `podman run` flags to a running process.
#![deny(clippy::print_stdout, clippy::print_stderr)]

pub mod process;
