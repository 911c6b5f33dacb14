//! Pure OCI data: image references, digests, manifests, indexes, image configs, platforms.
#![deny(clippy::print_stdout, clippy::print_stderr)]

mod digest;
mod image;
mod platform;
mod reference;
mod text;

pub mod crypt;

pub use digest::{Digest, DigestError, Sha256Writer, chain_ids};
pub use image::{
    ContainerConfig, Descriptor, History, ImageConfig, Index, Manifest, ManifestError,
    ManifestKind, RootFs, media,
};
pub use platform::{Platform, PlatformError};
pub use reference::{DEFAULT_TAG, DOCKER_HUB, Reference, ReferenceError};
pub use text::{QUOTE_LIMIT, printable};
