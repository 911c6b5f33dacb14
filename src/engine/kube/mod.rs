//! Kubernetes YAML (podman's `kube play`, `kube down`, `kube generate`): Pods and Deployments become
//! pods (engine::pod) with their containers, PersistentVolumeClaims named volumes, Secrets roost
//! secrets, and ConfigMaps and Secrets feed environment variables and volumes. The YAML is read with
//! serde-saphyr into hand-written types (`types`), split by job: `parse` reads the file, `play` makes
//! and `down` removes what it describes, `generate` writes YAML for existing pods and containers.
#![deny(clippy::print_stdout, clippy::print_stderr)]

mod convert;
mod down;
mod generate;
mod parse;
mod play;
mod types;

use std::path::PathBuf;

pub use crate::engine::pod::service::Propagation;
pub use down::{DownReport, down};
pub use generate::{GenerateOptions, generate};
pub use parse::{Manifest, parse};
pub use play::{PlayOptions, play};

use super::Ctx;

#[derive(Debug, thiserror::Error)]
pub enum KubeError {
    #[error("invalid Kubernetes YAML at {source_name}:{line}:{column}: {message}")]
    Yaml {
        source_name: String,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("the YAML document at {source_name}:{line} has no `kind`")]
    NoKind { source_name: String, line: usize },
    #[error(
        "unsupported Kubernetes kind `{kind}` at {source_name}:{line}: roost plays Pod, Deployment, PersistentVolumeClaim, ConfigMap and Secret (Service is ignored)"
    )]
    Kind {
        source_name: String,
        line: usize,
        kind: String,
    },
    #[error("a {kind} in {source_name} has no metadata.name")]
    NoName {
        source_name: String,
        kind: &'static str,
    },
    #[error("{source_name} has two of {kind} `{name}`")]
    Duplicate {
        source_name: String,
        kind: &'static str,
        name: String,
    },
    #[error("{object}: {field} is not supported: {why}")]
    Unsupported {
        object: String,
        field: String,
        why: String,
    },
    #[error("{object}: invalid {field} `{value}`: {why}")]
    Invalid {
        object: String,
        field: String,
        value: String,
        why: String,
    },
    #[error("{object}: {what} `{name}` is not defined in the YAML nor stored")]
    Missing {
        object: String,
        what: &'static str,
        name: String,
    },
    #[error("{object}: {what} `{name}` has no key `{key}`")]
    MissingKey {
        object: String,
        what: &'static str,
        name: String,
        key: String,
    },
    #[error("pod `{0}` already exists")]
    PodExists(String),
    #[error("no pod or container named `{0}`")]
    NoSuchObject(String),
    #[error("failed to {op} `{}`", path.display())]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl KubeError {
    pub fn hint(&self) -> Option<String> {
        match self {
            KubeError::PodExists(_) => {
                Some("remove it first (`roost kube down FILE`), or play with --replace".into())
            }
            KubeError::Unsupported { .. } => {
                Some("remove the field from the YAML, or see `roost kube play --help`".into())
            }
            _ => None,
        }
    }
}

/// Where a played pod keeps the files of its configMap, secret and emptyDir volumes.
pub fn pod_files(ctx: &Ctx, pod_id: &str) -> PathBuf {
    ctx.paths.data.join("kube").join(pod_id)
}

/// Forget a pod's files (called when the pod is removed, however that happens).
pub fn forget_pod(ctx: &Ctx, pod_id: &str) {
    let _ = crate::store::remove_tree(&pod_files(ctx, pod_id));
}
