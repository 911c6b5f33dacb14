//! roost: rootless, daemonless, podman-compatible containers.
//!
//! Dependencies point downward only:
//! `cli → engine → {store, registry, archive, network, runtime} → {userns, helpers} → {oci, sys}`.
#![deny(unsafe_code)]
// serde_json's `json!` for podman's large inspect documents.
#![recursion_limit = "256"]

mod archive;
mod cli;
mod dockerfile;
mod engine;
mod error;
mod helpers;
mod localtime;
mod logging;
mod network;
mod oci;
mod paths;
mod registry;
mod runtime;
mod store;
#[allow(unsafe_code)]
mod sys;
mod userns;

// The binary is the only client: it runs the command line and prints the error.
pub use cli::run;
pub use error::Error;
