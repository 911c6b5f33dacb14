//! Distribution v2 client: registries.conf, auth.json, token/basic auth, pull and push with digest
//! verification. No printing, no environment reads: callers pass paths and settings in.
#![deny(clippy::print_stdout, clippy::print_stderr)]

mod auth;
mod blob;
mod certs;
mod challenge;
mod client;
mod conf;
mod error;
#[cfg(test)]
mod live_tests;
#[cfg(test)]
mod mock_tests;
mod push;
mod resolve;
mod response;
mod tags;

pub use auth::{AuthFiles, Credentials, default_auth_files, normalize_key};
pub use client::{Client, ClientOptions, DEFAULT_TIMEOUT};
pub use conf::{ConfDirs, LazyConf};
pub use error::{AuthError, ConfError, RegistryError};
pub use resolve::ResolvedImage;
