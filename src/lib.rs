//! roost: rootless, daemonless, podman-compatible containers.
//!
//! Dependencies point downward only:
//! `cli → engine → {store, registry, archive, network, runtime} → {userns, helpers} → {oci, sys}`.
#![deny(unsafe_code)]
// serde_json's `json!` for podman's large inspect documents.
#![recursion_limit = "256"]

pub mod archive;
pub mod cli;
pub mod dockerfile;
pub mod engine;
pub mod error;
pub mod helpers;
pub mod logging;
pub mod network;
pub mod oci;
pub mod paths;
pub mod registry;
pub mod runtime;
pub mod store;
#[allow(unsafe_code)]
pub mod sys;
pub mod userns;
