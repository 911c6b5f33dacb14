//! What can be wrong with the image flags and arguments, each naming the object.
use crate::oci::Digest;

#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    #[error(
        "layer {layer} of {image} is encrypted ({media}): pass the private key it was encrypted for with --decryption-key KEY[:PASSPHRASE]"
    )]
    EncryptedLayer {
        image: String,
        layer: Digest,
        media: String,
    },
    #[error("cannot decrypt layer {layer} of {image}: {source}")]
    Decrypt {
        image: String,
        layer: Digest,
        #[source]
        source: crate::oci::crypt::CryptError,
    },
    #[error("--decryption-key `{key}`: {source}")]
    DecryptionKey {
        key: String,
        #[source]
        source: crate::oci::crypt::CryptError,
    },
    #[error("invalid image filter `{0}`: expected KEY=VALUE")]
    FilterSyntax(String),
    #[error("invalid filter `{0}`: dangling takes true or false")]
    FilterDangling(String),
    #[error(
        "invalid image filter `{0}`: supported are dangling, reference, label, label!, before, since, id"
    )]
    FilterKey(String),
    #[error("`{0}`: a name with only a digest cannot be used as a tag")]
    DigestOnlyTag(String),
    /// podman's words (the image is the one the command named).
    #[error("{name}: tag not known")]
    TagNotKnown { name: String, image: Digest },
    #[error("format `docker-dir` (docker schema 2 directory) is not supported: use oci-dir")]
    DockerDir,
    #[error("unknown save format `{0}`: use docker-archive, oci-archive or oci-dir")]
    SaveFormat(String),
    #[error("oci-dir needs an output directory (-o DIR)")]
    OciDirOutput,
    #[error("image `{0}` has no image manifest to push")]
    NoManifest(String),
    #[error("image `{0}` has no name: give a destination")]
    NoDestination(String),
    #[error(
        "destination `{dest}` has no registry: use a fully qualified name such as `registry.example.com/{repository}`"
    )]
    Unqualified { dest: String, repository: String },
    #[error("invalid pull policy `{0}`: use always, missing, never or newer")]
    PullPolicy(String),
    #[error("invalid change `{0}`: expected INSTRUCTION VALUE")]
    ChangeSyntax(String),
    #[error(
        "invalid change `{change}`: `{instruction}` is not one of CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, STOPSIGNAL, USER, VOLUME, WORKDIR"
    )]
    ChangeInstruction { change: String, instruction: String },
}
