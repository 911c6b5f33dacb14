//! `build`: run a Dockerfile. Stages are built in file order, only those the target needs; every step
//! goes through the cache (see [`cache`]); RUN steps run in a container with the same runtime as `run`
//! and their upper dir becomes a layer; COPY and ADD write a layer tar directly. The engine reports
//! progress through [`BuildProgress`] and never prints.

mod cache;
pub mod context;
mod copy;
mod fetch;
pub mod ignore;
mod manifest;
mod mounts;
mod prepare;
mod run;
mod squash;
mod stage;
pub mod view;

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::PathBuf;

use crate::dockerfile::{self, Dockerfile, Kind, ParseError};
use crate::engine::container::CommitFormat;
use crate::engine::image::{PullPolicy, PullProgress};
use crate::engine::{Ctx, EngineError};
use crate::oci::Digest;

pub use context::Context;
pub use ignore::Ignore;
pub use stage::check_platform;

/// The network RUN steps use unless `--network` or `RUN --network` says otherwise: the user-mode
/// default (pasta, or slirp4netns), as podman does, so package managers reach the network.
pub const DEFAULT_BUILD_NETWORK: &str = "private";

/// Build arguments Docker predefines: usable with `--build-arg` without an ARG line, never recorded in
/// history or the image.
pub const PROXY_ARGS: &[&str] = &[
    "HTTP_PROXY",
    "http_proxy",
    "HTTPS_PROXY",
    "https_proxy",
    "FTP_PROXY",
    "ftp_proxy",
    "NO_PROXY",
    "no_proxy",
    "ALL_PROXY",
    "all_proxy",
];

/// Where the context comes from.
pub enum ContextSource {
    Dir(PathBuf),
    /// No context (a Containerfile on stdin): an empty directory kept alive by the caller.
    Empty(tempfile::TempDir),
    /// A tar (optionally compressed) read from this stream, e.g. stdin.
    Tar(Box<dyn Read + Send>),
}

/// Where the Containerfile comes from.
pub enum DockerfileSource {
    /// Its text, and the name errors use.
    Text {
        text: String,
        name: String,
    },
    Path(PathBuf),
    /// In the context: this relative path, or `Containerfile`, else `Dockerfile`.
    InContext(Option<String>),
}

fn read_dockerfile(
    src: DockerfileSource,
    context: &Context,
) -> Result<(String, String), EngineError> {
    let read = |p: &std::path::Path| {
        std::fs::read_to_string(p).map_err(|e| BuildError::ReadContainerfile {
            path: p.to_path_buf(),
            error: e,
        })
    };
    let name = |p: &std::path::Path| {
        p.file_name().map_or_else(
            || "Dockerfile".to_string(),
            |n| n.to_string_lossy().into_owned(),
        )
    };
    match src {
        DockerfileSource::Text { text, name } => Ok((text, name)),
        DockerfileSource::Path(p) => Ok((read(&p)?, name(&p))),
        DockerfileSource::InContext(Some(rel)) => {
            let p = context.root().join(ignore::clean(&rel));
            Ok((read(&p)?, name(&p)))
        }
        DockerfileSource::InContext(None) => {
            for n in ["Containerfile", "Dockerfile"] {
                let p = context.root().join(n);
                if p.is_file() {
                    return Ok((read(&p)?, n.to_string()));
                }
            }
            Err(BuildError::NoContainerfile(context.root().to_path_buf()).into())
        }
    }
}

pub struct BuildOptions {
    pub dockerfile: DockerfileSource,
    pub context: ContextSource,
    /// Names for the result (normalized like `tag`).
    pub tags: Vec<String>,
    pub build_args: BTreeMap<String, String>,
    pub target: Option<String>,
    pub labels: BTreeMap<String, String>,
    /// `--identity-label` (the default): label the image `io.buildah.version`, as buildah does.
    pub identity_label: bool,
    pub annotations: BTreeMap<String, String>,
    pub squash: bool,
    pub squash_all: bool,
    pub format: CommitFormat,
    /// Don't let RUN steps write to our stdout/stderr.
    pub quiet: bool,
    /// `--secret id=ID,src=PATH`.
    pub secrets: BTreeMap<String, PathBuf>,
    /// `--timestamp`: seconds since the epoch for every created time (reproducible builds).
    pub timestamp: Option<i64>,
    /// Look nothing up in the cache (results are still stored).
    pub no_cache: bool,
    /// `--layers`: use and fill the cache.
    pub layers: bool,
    pub pull: PullPolicy,
    /// `--network` for RUN steps (None: [`DEFAULT_BUILD_NETWORK`]).
    pub network: Option<String>,
    pub tls_verify: Option<bool>,
    /// `--ulimit` for RUN steps.
    pub ulimits: Vec<crate::engine::container::process::Ulimit>,
    /// `--ignorefile`: these patterns instead of the context's own ignore file.
    pub ignore: Option<Ignore>,
    /// `--security-opt seccomp=…` for RUN steps (`unconfined` or a profile file).
    pub seccomp: Option<String>,
    /// `--security-opt no-new-privileges` for RUN steps.
    pub no_new_privileges: bool,
    /// `--env KEY=VALUE`: set in every stage's config from its FROM on (RUN steps and the image).
    pub env: Vec<(String, String)>,
    /// `--dns`, `--dns-search`, `--dns-option` for RUN steps' resolv.conf.
    pub dns: Vec<String>,
    pub dns_search: Vec<String>,
    pub dns_options: Vec<String>,
    /// `--group-add` for RUN steps' process.
    pub group_add: Vec<String>,
    /// `--volume HOST:CONTAINER[:ro]` (binds of absolute host paths) in every RUN step.
    pub volumes: Vec<crate::engine::container::Mount>,
    /// `--retry`, `--retry-delay` for base image pulls.
    pub retry: crate::engine::image::Retry,
}

#[derive(Debug, Clone)]
pub struct BuildReport {
    pub id: Digest,
}

/// Progress of a build, as podman prints it.
pub trait BuildProgress {
    /// `[stage/stages] STEP n/m: INSTRUCTION` (`stage` is None for single-stage files).
    fn step(&self, stage: Option<(usize, usize)>, n: usize, total: usize, instruction: &str);
    /// `--> Using cache ID`.
    fn cached(&self, id: &Digest);
    /// `--> SHORTID` after a step.
    fn step_done(&self, id: &Digest);
    /// `COMMIT NAME` before the final image is written.
    fn commit(&self, stage: Option<(usize, usize)>, name: Option<&str>);
    fn tagged(&self, name: &str);
    fn warning(&self, message: &str);
    fn pull(&self) -> &dyn PullProgress;
}

#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error(transparent)]
    Parse(#[from] ParseError),
    #[error("{file}:{line}: {}", crate::oci::printable(what, 2 * crate::oci::QUOTE_LIMIT))]
    At {
        file: String,
        line: usize,
        what: String,
    },
    #[error(
        "building at STEP \"{}\": while running runtime: exit status {code}",
        crate::oci::printable(step, crate::oci::QUOTE_LIMIT)
    )]
    RunFailed { step: String, code: i32 },
    /// The runtime refused to run the step (a `--runtime-flag` it does not know): podman's build
    /// ends with the runtime's exit status.
    #[error(
        "building at STEP \"{}\": while running runtime: {source}: exit status {}",
        crate::oci::printable(step, crate::oci::QUOTE_LIMIT),
        crate::runtime::flags::UnknownFlag::STATUS
    )]
    RuntimeRefused {
        step: String,
        source: crate::runtime::flags::UnknownFlag,
    },
    #[error(
        "building at STEP \"{}\": {source}",
        crate::oci::printable(step, crate::oci::QUOTE_LIMIT)
    )]
    Step {
        step: String,
        #[source]
        source: Box<EngineError>,
    },
    /// podman's wording: the path, then the OS error in lower case.
    #[error("reading Containerfile {}: {}", path.display(), os_words(error))]
    ReadContainerfile {
        path: PathBuf,
        error: std::io::Error,
    },
    /// `--pull=never` and the base image is not in local storage (podman's words).
    #[error("creating build container: {0}: image not known")]
    NeverPull(String),
    #[error("target stage `{0}` could not be found in the Dockerfile")]
    NoTarget(String),
    #[error("stage `{0}` was not built before it is used")]
    StageNotBuilt(String),
    #[error(transparent)]
    Ignore(#[from] ignore::IgnoreError),
    #[error("no Containerfile or Dockerfile specified or found in context directory, {}: no such file or directory", .0.display())]
    NoContainerfile(PathBuf),
    #[error(
        "storage driver `{0}` is not available for build yet: RUN steps use the kernel overlay (omit --storage-driver)"
    )]
    StorageDriver(&'static str),
    #[error("failed to fetch `{url}`: {why}")]
    Fetch { url: String, why: String },
    /// A `COPY`/`ADD` source pattern that is not a valid glob (`why` names it).
    #[error("{why}")]
    Glob { pattern: String, why: String },
    #[error("`{0}` in the build context is not a file, directory or symlink")]
    NotAFile(String),
}

impl BuildError {
    /// The error already names the step it happened in (a step's failure is not wrapped in
    /// `building at STEP` again; an error naming only its Containerfile line is, as podman names
    /// the step).
    pub(super) fn locates_itself(&self) -> bool {
        matches!(
            self,
            BuildError::Parse(_)
                | BuildError::RunFailed { .. }
                | BuildError::RuntimeRefused { .. }
                | BuildError::NeverPull(_)
                | BuildError::Step { .. }
                | BuildError::NoTarget(_)
        )
    }

    pub fn exit_code(&self) -> i32 {
        match self {
            BuildError::RunFailed { code, .. } => *code,
            BuildError::RuntimeRefused { .. } => crate::runtime::flags::UnknownFlag::STATUS,
            BuildError::Step { source, .. } => source.exit_code(),
            _ => 125,
        }
    }
}

/// An I/O error as Go words it (`no such file or directory`), the way podman's messages end.
pub(crate) fn os_words(e: &std::io::Error) -> String {
    match e.raw_os_error() {
        Some(n) => nix::errno::Errno::from_raw(n).desc().to_lowercase(),
        None => e.to_string(),
    }
}

/// Stage indexes the target needs, in file order.
fn needed_stages(df: &Dockerfile, target: usize, meta: &dyn Fn(&str) -> String) -> Vec<usize> {
    let mut need = BTreeSet::new();
    let mut todo = vec![target];
    while let Some(i) = todo.pop() {
        if !need.insert(i) {
            continue;
        }
        let s = &df.stages[i];
        let mut refs = vec![meta(&s.base)];
        for inst in &s.instructions {
            match &inst.kind {
                Kind::Copy(c) => refs.extend(c.from.as_deref().map(meta)),
                Kind::Run(r) => refs.extend(r.mounts.iter().filter_map(|m| {
                    m.split(',')
                        .find_map(|kv| kv.strip_prefix("from="))
                        .map(meta)
                })),
                _ => {}
            }
        }
        for r in refs {
            // By name only for FROM; COPY --from and mounts also take an index.
            if let Some(j) = df.stage_index(&r).filter(|j| *j < i) {
                todo.push(j);
            }
        }
    }
    need.into_iter().collect()
}

/// `build`: returns the new image's id.
pub fn build(
    ctx: &Ctx,
    mut opts: BuildOptions,
    progress: &dyn BuildProgress,
) -> Result<BuildReport, EngineError> {
    if let Some(f) = &ctx.storage_driver
        && f.driver != crate::engine::storage::Driver::Overlay
    {
        return Err(BuildError::StorageDriver(f.driver.as_str()).into());
    }
    // One store for the whole build: its staging token keeps our staging entries alive.
    let mut store = ctx.store()?;
    store.clean_staging();
    // Step containers of killed builds, and directories of killed `create`s (best effort: a failure
    // here must not fail this build; `system check` reports what is left).
    let _ = crate::engine::check::reclaim(ctx, &mut store);
    let source = std::mem::replace(&mut opts.context, ContextSource::Dir(PathBuf::new()));
    let context = match source {
        ContextSource::Dir(d) => {
            let cache_dir = ctx.paths.data.join("build");
            let mut c = Context::dir(&d, Ignore::default(), Some(&cache_dir))?;
            let ig = match opts.ignore.take() {
                Some(ig) => ig,
                None => c.read_ignore()?,
            };
            c.set_ignore(ig);
            c
        }
        ContextSource::Empty(d) => {
            let mut c = Context::dir(d.path(), Ignore::default(), None)?;
            c.keep(d);
            c
        }
        ContextSource::Tar(r) => {
            Context::from_tar(r, store.staging_path("context"), &ctx.apply_options())?
        }
    };
    let dsrc = std::mem::replace(&mut opts.dockerfile, DockerfileSource::InContext(None));
    let (text, file) = read_dockerfile(dsrc, &context)?;
    let df = dockerfile::parse(&text, &file).map_err(BuildError::from)?;
    let names = opts
        .tags
        .iter()
        .map(|t| crate::engine::image::normalize_name(t))
        .collect::<Result<Vec<_>, _>>()?;
    let target = match &opts.target {
        Some(t) => df
            .stage_index(t)
            .ok_or_else(|| BuildError::NoTarget(t.clone()))?,
        None => df.stages.len() - 1,
    };
    let meta_args = stage::meta_args(&df, &opts.build_args)?;
    let expand_meta = |s: &str| {
        dockerfile::words::expand(s, df.escape, &|n: &str| meta_args.get(n).cloned())
            .unwrap_or_else(|_| s.to_string())
    };
    let stages = needed_stages(&df, target, &expand_meta);
    let mut builder = stage::Builder::new(ctx, store, &df, &opts, context, meta_args, progress);
    let multi = df.stages.len() > 1;
    for &i in &stages {
        let label = multi.then_some((i + 1, df.stages.len()));
        builder.build_stage(i, label, i == target)?;
    }
    let id = builder.commit(
        target,
        multi.then_some((target + 1, df.stages.len())),
        &names,
    )?;
    builder.finish();
    let name = names.first().cloned().unwrap_or_else(|| id.to_string());
    crate::engine::events::record(
        ctx,
        crate::engine::events::Event::image("build", &id.to_string(), &name),
    );
    Ok(BuildReport { id })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_needed_stages() {
        let df = dockerfile::parse(
            "FROM busybox AS a\nFROM busybox AS b\nRUN x\nFROM a AS c\nCOPY --from=1 /x /x\nFROM busybox\nCOPY --from=c /y /y\n",
            "Dockerfile",
        )
        .unwrap();
        let id = |s: &str| s.to_string();
        assert_eq!(needed_stages(&df, 3, &id), [0, 1, 2, 3]);
        assert_eq!(needed_stages(&df, 1, &id), [1]);
        assert_eq!(needed_stages(&df, 2, &id), [0, 1, 2]);
    }
}
