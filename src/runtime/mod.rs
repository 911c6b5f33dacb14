//! Running a container: namespaces, root file system, security settings, process start.
#![deny(clippy::print_stdout, clippy::print_stderr)]

pub mod security;
