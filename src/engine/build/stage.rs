//! The builder: stage by stage, step by step, each step through the cache.
use std::collections::{BTreeMap, BTreeSet};

use jiff::Timestamp;

use super::cache::{from_key, step_key};
use super::context::Context;
use super::copy;
use super::prepare::{Action, Prepared};
use super::view::LayerView;
use super::{BuildError, BuildOptions, BuildProgress, PROXY_ARGS};
use crate::dockerfile::{self, ArgDecl, Dockerfile, Instruction, Kind, words};
use crate::engine::image::{PullOptions, PullPolicy};

/// The label buildah puts on every image it builds, with its version.
const IDENTITY_LABEL: &str = "io.buildah.version";
use crate::engine::layer::Ingested;
use crate::engine::{Ctx, EngineError};
use crate::oci::{ContainerConfig, Digest, History, ImageConfig, Platform, RootFs};
use crate::store::{CachedStep, Store};

/// An image being built: its config (and serialized bytes: their digest is the id), layers and key.
#[derive(Clone)]
pub(super) struct State {
    pub config: ImageConfig,
    pub bytes: Vec<u8>,
    /// Chain ids, bottom first.
    pub layers: Vec<Digest>,
    pub key: Digest,
}

impl State {
    pub fn id(&self) -> Digest {
        Digest::sha256_of(&self.bytes)
    }
    pub(super) fn cc(&self) -> ContainerConfig {
        self.config.config.clone().unwrap_or_default()
    }
    pub fn env(&self) -> Vec<String> {
        self.cc().env.unwrap_or_default()
    }
    pub fn workdir(&self) -> String {
        self.cc()
            .working_dir
            .filter(|w| !w.is_empty())
            .unwrap_or_else(|| "/".into())
    }
}

/// The most all variable expansions of one build may produce together (each is capped at
/// [`words::MAX_WORD`]; this bounds a Containerfile that repeats a large one on many lines).
pub(super) const EXPANSION_BUDGET: usize = 64 << 20;

fn over_budget(file: &str, line: usize) -> EngineError {
    EngineError::Build(BuildError::At {
        file: file.to_string(),
        line,
        what: format!(
            "variable expansion in this build makes more than {EXPANSION_BUDGET} bytes in all"
        ),
    })
}

/// Values of the ARGs before the first FROM, plus the platform ARGs Docker predefines.
pub(super) fn meta_args(
    df: &Dockerfile,
    build_args: &BTreeMap<String, String>,
) -> Result<BTreeMap<String, String>, EngineError> {
    let host = Platform::host();
    let platform = match &host.variant {
        Some(v) => format!("{}/{}/{v}", host.os, host.architecture),
        None => format!("{}/{}", host.os, host.architecture),
    };
    let mut out: BTreeMap<String, String> = BTreeMap::new();
    for (prefix, _) in [("TARGET", ()), ("BUILD", ())] {
        out.insert(format!("{prefix}PLATFORM"), platform.clone());
        out.insert(format!("{prefix}OS"), host.os.clone());
        out.insert(format!("{prefix}ARCH"), host.architecture.clone());
        out.insert(
            format!("{prefix}VARIANT"),
            host.variant.clone().unwrap_or_default(),
        );
    }
    let mut expanded = 0;
    for d in &df.meta_args {
        let value = match build_args.get(&d.name) {
            Some(v) => Some(v.clone()),
            None => d
                .default
                .as_ref()
                .map(|def| {
                    words::expand(def, df.escape, &|n: &str| out.get(n).cloned()).map_err(|e| {
                        EngineError::Build(BuildError::At {
                            file: df.file.clone(),
                            line: d.line,
                            what: e.to_string(),
                        })
                    })
                })
                .transpose()?,
        };
        if let Some(v) = value {
            expanded += v.len();
            if expanded > EXPANSION_BUDGET {
                return Err(over_budget(&df.file, d.line));
            }
            out.insert(d.name.clone(), v);
        }
    }
    Ok(out)
}

pub(super) struct Builder<'a> {
    pub ctx: &'a Ctx,
    pub df: &'a Dockerfile,
    pub opts: &'a BuildOptions,
    pub context: Context,
    meta_args: BTreeMap<String, String>,
    pub progress: &'a dyn BuildProgress,
    pub store: Store,
    results: BTreeMap<usize, State>,
    used_args: BTreeSet<String>,
    /// Images used by `COPY --from=IMAGE` / mounts, resolved once.
    images: BTreeMap<String, State>,
    /// Bytes variable expansion made so far (see [`EXPANSION_BUDGET`]).
    expanded: std::cell::Cell<usize>,
}

/// Per-stage mutable state.
pub(super) struct StageRun {
    pub state: State,
    pub args: BTreeMap<String, String>,
    pub cmd_set: bool,
}

impl<'a> Builder<'a> {
    pub fn new(
        ctx: &'a Ctx,
        store: Store,
        df: &'a Dockerfile,
        opts: &'a BuildOptions,
        context: Context,
        meta_args: BTreeMap<String, String>,
        progress: &'a dyn BuildProgress,
    ) -> Builder<'a> {
        Builder {
            ctx,
            df,
            opts,
            context,
            meta_args,
            progress,
            store,
            results: BTreeMap::new(),
            used_args: BTreeSet::new(),
            images: BTreeMap::new(),
            expanded: std::cell::Cell::new(0),
        }
    }

    /// Count `n` expanded bytes against the build's budget.
    pub(super) fn charge(&self, n: usize, line: usize) -> Result<(), EngineError> {
        let total = self.expanded.get().saturating_add(n);
        self.expanded.set(total);
        if total > EXPANSION_BUDGET {
            return Err(over_budget(&self.df.file, line));
        }
        Ok(())
    }

    pub(super) fn now(&self) -> Timestamp {
        self.opts
            .timestamp
            .and_then(|t| Timestamp::from_second(t).ok())
            .unwrap_or_else(Timestamp::now)
    }

    pub(super) fn at(&self, line: usize, what: impl Into<String>) -> EngineError {
        EngineError::Build(BuildError::At {
            file: self.df.file.clone(),
            line,
            what: what.into(),
        })
    }

    fn expand_meta(&self, s: &str, line: usize) -> Result<String, EngineError> {
        let v = words::expand(s, self.df.escape, &|n: &str| self.meta_args.get(n).cloned())
            .map_err(|e| self.at(line, e.to_string()))?;
        self.charge(v.len(), line)?;
        Ok(v)
    }

    /// An image's state, pulled per the policy.
    pub(super) fn image_state(&mut self, name: &str) -> Result<State, EngineError> {
        if let Some(s) = self.images.get(name) {
            return Ok(s.clone());
        }
        let id = match self.opts.pull {
            PullPolicy::Missing | PullPolicy::Never => {
                match crate::engine::image::lookup(&self.store, name) {
                    Ok(id) => Some(id),
                    Err(EngineError::ImageNotKnown(_)) if self.opts.pull == PullPolicy::Never => {
                        return Err(BuildError::NeverPull(name.to_string()).into());
                    }
                    Err(EngineError::ImageNotKnown(_)) => None,
                    Err(e) => return Err(e),
                }
            }
            _ => None,
        };
        let id = match id {
            Some(id) => id,
            None => {
                let report = crate::engine::image::pull(
                    self.ctx,
                    &PullOptions {
                        decryption_keys: Vec::new(),
                        reference: name.to_string(),
                        platform: Platform::host(),
                        policy: self.opts.pull,
                        tls_verify: self.opts.tls_verify,
                        credentials: None,
                        retry: self.opts.retry,
                        cert_dir: None,
                    },
                    self.progress.pull(),
                )?;
                report.id
            }
        };
        let rec = self
            .store
            .image(&id)?
            .ok_or_else(|| EngineError::ImageNotKnown(name.to_string()))?;
        let bytes = self.store.read_blob(&rec.id)?;
        let info = crate::engine::image::info(&self.store, rec.clone())?;
        let state = State {
            config: info.config,
            bytes,
            layers: rec.layers.clone(),
            key: from_key(&id.to_string(), ""),
        };
        self.images.insert(name.to_string(), state.clone());
        Ok(state)
    }

    /// The state a `--from=` / `from=` names: a stage built earlier (by name or index) or an image.
    pub(super) fn source_state(&mut self, from: &str, before: usize) -> Result<State, EngineError> {
        if let Some(j) = self.df.stage_index(from).filter(|j| *j < before) {
            return self
                .results
                .get(&j)
                .cloned()
                .ok_or_else(|| BuildError::StageNotBuilt(from.to_string()).into());
        }
        self.image_state(from)
    }

    fn base_state(&mut self, index: usize) -> Result<State, EngineError> {
        let s = &self.df.stages[index];
        let base = self.expand_meta(&s.base, s.line)?;
        if let Some(p) = &s.platform {
            let p = self.expand_meta(p, s.line)?;
            check_platform(&p).map_err(|e| self.at(s.line, e))?;
        }
        if base.eq_ignore_ascii_case("scratch") {
            let host = Platform::host();
            let config = ImageConfig {
                architecture: host.architecture,
                os: host.os,
                variant: host.variant,
                rootfs: RootFs {
                    kind: "layers".into(),
                    diff_ids: vec![],
                },
                ..Default::default()
            };
            let bytes = serde_json::to_vec(&config).expect("config serializes");
            return Ok(State {
                config,
                bytes,
                layers: vec![],
                key: from_key("scratch", ""),
            });
        }
        // A FROM names an earlier stage by its name only.
        let lower = base.to_ascii_lowercase();
        if let Some(j) = self.df.stages[..index]
            .iter()
            .position(|st| st.name.as_deref() == Some(lower.as_str()))
        {
            let mut st =
                self.results.get(&j).cloned().ok_or_else(|| {
                    EngineError::from(BuildError::StageNotBuilt(base.to_string()))
                })?;
            st.key = from_key(&st.key.to_string(), "stage");
            return Ok(st);
        }
        self.image_state(&base)
    }

    /// `--env`: the stage's config gets the variables (replacing its own of the same names).
    fn add_env(&self, state: &mut State) {
        if self.opts.env.is_empty() {
            return;
        }
        let cc = state.config.config.get_or_insert_with(Default::default);
        let env = cc.env.get_or_insert_with(Default::default);
        for (k, v) in &self.opts.env {
            env.retain(|e| e.split_once('=').map_or(e.as_str(), |p| p.0) != k);
            env.push(format!("{k}={v}"));
        }
        state.bytes = serde_json::to_vec(&state.config).expect("config serializes");
    }

    pub fn build_stage(
        &mut self,
        index: usize,
        label: Option<(usize, usize)>,
        is_target: bool,
    ) -> Result<(), EngineError> {
        let stage = &self.df.stages[index];
        let total = 1 + stage.instructions.len();
        self.progress.step(label, 1, total, &stage.original);
        let mut state = self
            .base_state(index)
            .map_err(|e| step_error(&stage.original, e))?;
        self.add_env(&mut state);
        let mut run = StageRun {
            state,
            args: BTreeMap::new(),
            cmd_set: false,
        };
        // ONBUILD triggers of the base run first, and are not passed on.
        let triggers = run
            .state
            .config
            .config
            .as_mut()
            .and_then(|c| c.on_build.take())
            .unwrap_or_default();
        if !triggers.is_empty() {
            run.state.bytes = serde_json::to_vec(&run.state.config).expect("config serializes");
        }
        for t in &triggers {
            let (keyword, rest) = t.split_once(' ').unwrap_or((t.as_str(), ""));
            let logical = dockerfile::lexer::Logical {
                line: stage.line,
                keyword: keyword.to_string(),
                rest: rest.to_string(),
                heredocs: vec![],
            };
            let inst = dockerfile::parse_instruction(&logical, self.df.escape, &self.df.file)
                .map_err(BuildError::from)?;
            self.step(index, &mut run, &inst)
                .map_err(|e| step_error(&inst.original, e))?;
        }
        for (n, inst) in stage.instructions.iter().enumerate() {
            self.progress.step(label, n + 2, total, &inst.original);
            self.step(index, &mut run, inst)
                .map_err(|e| step_error(&inst.original, e))?;
            let last = n + 1 == stage.instructions.len();
            if !(last && is_target) {
                self.progress.step_done(&run.state.id());
            }
        }
        if stage.instructions.is_empty() && !is_target {
            self.progress.step_done(&run.state.id());
        }
        self.results.insert(index, run.state);
        Ok(())
    }

    pub(super) fn vars(&self, run: &StageRun) -> BTreeMap<String, String> {
        let mut v = run.args.clone();
        for e in run.state.env() {
            if let Some((k, val)) = e.split_once('=') {
                v.insert(k.to_string(), val.to_string());
            }
        }
        v
    }

    pub(super) fn expand(
        &self,
        run: &StageRun,
        s: &str,
        line: usize,
    ) -> Result<String, EngineError> {
        let vars = self.vars(run);
        let v = words::expand(s, self.df.escape, &|n: &str| vars.get(n).cloned())
            .map_err(|e| self.at(line, e.to_string()))?;
        self.charge(v.len(), line)?;
        Ok(v)
    }

    fn step(
        &mut self,
        stage: usize,
        run: &mut StageRun,
        inst: &Instruction,
    ) -> Result<(), EngineError> {
        if let Kind::Arg(decls) = &inst.kind {
            return self.declare_args(run, decls, inst.line);
        }
        let prepared = self.prepare(stage, run, inst)?;
        let sets_cmd = matches!(inst.kind, Kind::Cmd(_));
        let key = self.cache_key(run, &prepared);
        if self.opts.layers && !self.opts.no_cache && self.try_cache(run, &key)? {
            run.cmd_set |= sets_cmd;
            return Ok(());
        }
        let now = self.now();
        let mut config = run.state.config.clone();
        let mut cc = config.config.clone().unwrap_or_default();
        let drops_cmd = matches!(inst.kind, Kind::Entrypoint(_)) && !run.cmd_set;
        let layer = self.execute(run, prepared.action, drops_cmd, &mut cc, &mut config, now)?;
        config.config = Some(cc);
        self.record(run, key, config, layer, prepared.created_by, now)?;
        run.cmd_set |= sets_cmd;
        Ok(())
    }

    /// `ARG`: each name takes its `--build-arg`, else its default, else the global `ARG`'s value.
    fn declare_args(
        &mut self,
        run: &mut StageRun,
        decls: &[ArgDecl],
        line: usize,
    ) -> Result<(), EngineError> {
        for d in decls {
            let value = match self.opts.build_args.get(&d.name) {
                Some(v) => Some(v.clone()),
                None => match &d.default {
                    Some(def) => Some(self.expand(run, def, line)?),
                    None => self.meta_args.get(&d.name).cloned(),
                },
            };
            self.used_args.insert(d.name.clone());
            match value {
                Some(v) => {
                    run.args.insert(d.name.clone(), v);
                }
                None => {
                    run.args.remove(&d.name);
                }
            }
        }
        Ok(())
    }

    /// The step's cache key: the state it starts from, what it does, the args in scope (proxy
    /// args included) and the content it adds.
    fn cache_key(&self, run: &StageRun, prepared: &Prepared) -> Digest {
        let mut key_args = run.args.clone();
        for p in PROXY_ARGS {
            if let Some(v) = self.opts.build_args.get(*p) {
                key_args.insert((*p).to_string(), v.clone());
            }
        }
        step_key(
            &run.state.key,
            &prepared.text,
            &key_args,
            prepared.content.as_ref(),
        )
    }

    /// Do what the step does: change the config, or make a layer (WORKDIR's directory, RUN,
    /// COPY/ADD).
    fn execute(
        &mut self,
        run: &StageRun,
        action: Action,
        drops_cmd: bool,
        cc: &mut ContainerConfig,
        config: &mut ImageConfig,
        now: Timestamp,
    ) -> Result<Option<Ingested>, EngineError> {
        Ok(match action {
            Action::Config(f) => {
                if drops_cmd {
                    // An ENTRYPOINT drops the CMD inherited from the base image.
                    cc.cmd = None;
                }
                f(cc, config)?;
                None
            }
            Action::Workdir(path) => {
                let view = self.view(&run.state);
                let exists = view.lookup(&view.resolve(&path, true)).is_some();
                cc.working_dir = Some(path.clone());
                if exists {
                    None
                } else {
                    let plan = copy::Plan::mkdir(&path, &view, now.as_second());
                    Some(copy::write(self, &plan, run.state.layers.last())?)
                }
            }
            Action::Run(mut spec) => {
                spec.args_env = run
                    .args
                    .iter()
                    .chain(
                        PROXY_ARGS
                            .iter()
                            .filter_map(|p| self.opts.build_args.get_key_value(*p)),
                    )
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect();
                for p in PROXY_ARGS {
                    if self.opts.build_args.contains_key(*p) {
                        self.used_args.insert((*p).to_string());
                    }
                }
                Some(super::run::run(self, &run.state, &spec)?)
            }
            Action::Copy(plan) => Some(copy::write(self, &plan, run.state.layers.last())?),
        })
    }

    /// The stage's new state: the config with the step's history entry and layer, cached when
    /// `--layers` is on.
    fn record(
        &mut self,
        run: &mut StageRun,
        key: Digest,
        mut config: ImageConfig,
        layer: Option<Ingested>,
        created_by: String,
        now: Timestamp,
    ) -> Result<(), EngineError> {
        config.created = Some(now);
        if let Some(l) = &layer {
            config.rootfs.diff_ids.push(l.diff_id.clone());
        }
        config.history.push(History {
            created: Some(now),
            created_by: Some(created_by),
            author: None,
            comment: None,
            empty_layer: layer.is_none(),
        });
        let mut layers = run.state.layers.clone();
        if let Some(l) = &layer {
            layers.push(l.chain_id.clone());
        }
        let bytes = serde_json::to_vec(&config).expect("config serializes");
        if self.opts.layers {
            self.store.put_cached_step(
                &key,
                &CachedStep {
                    config: bytes.clone(),
                    layers: layers.clone(),
                },
            )?;
        }
        run.state = State {
            config,
            bytes,
            layers,
            key,
        };
        Ok(())
    }

    /// Adopt a cached result whose layers are all still there.
    fn try_cache(&mut self, run: &mut StageRun, key: &Digest) -> Result<bool, EngineError> {
        let Some(hit) = self.store.cached_step(key)? else {
            return Ok(false);
        };
        // The result must sit on exactly the layers this build has so far (a parent step rebuilt with
        // different content invalidates it), and its own layers must still exist (`rmi` and `prune`
        // remove unused layers).
        if !hit.layers.starts_with(&run.state.layers) {
            return Ok(false);
        }
        for l in hit.layers.iter().skip(run.state.layers.len()) {
            if !self.store.has_layer(l)? || !self.store.layer_diff(l).is_dir() {
                self.store.forget_cached_step(key)?;
                return Ok(false);
            }
        }
        let Ok(config) = serde_json::from_slice::<ImageConfig>(&hit.config) else {
            self.store.forget_cached_step(key)?;
            return Ok(false);
        };
        let id = Digest::sha256_of(&hit.config);
        self.progress.cached(&id);
        run.state = State {
            config,
            bytes: hit.config,
            layers: hit.layers,
            key: key.clone(),
        };
        Ok(true)
    }

    pub(super) fn view(&self, state: &State) -> LayerView {
        LayerView::new(
            state
                .layers
                .iter()
                .rev()
                .map(|l| self.store.layer_diff(l))
                .collect(),
        )
    }

    /// Write the final image: the target stage plus `--label`, `--annotation` and squashing.
    pub fn commit(
        &mut self,
        target: usize,
        label: Option<(usize, usize)>,
        names: &[String],
    ) -> Result<Digest, EngineError> {
        let mut state = self
            .results
            .get(&target)
            .cloned()
            .expect("the target stage was built");
        let unused: Vec<&String> = self
            .opts
            .build_args
            .keys()
            .filter(|k| !self.used_args.contains(*k) && !self.meta_used(k))
            .collect();
        if !unused.is_empty() {
            self.progress.warning(&format!(
                "one or more build args were not consumed: {unused:?}"
            ));
        }
        self.progress
            .commit(label, self.opts.tags.first().map(String::as_str));
        let mut changed = false;
        let labels = self.final_labels();
        if !labels.is_empty() {
            let cc = state.config.config.get_or_insert_with(Default::default);
            cc.labels
                .get_or_insert_with(Default::default)
                .extend(labels);
            changed = true;
        }
        if self.opts.squash || self.opts.squash_all {
            let keep = if self.opts.squash_all {
                0
            } else {
                self.base_layer_count(target)
            };
            super::squash::squash(self, &mut state, keep)?;
            changed = true;
        }
        if changed {
            state.bytes = serde_json::to_vec(&state.config).expect("config serializes");
        }
        let layers = state
            .layers
            .iter()
            .map(|l| {
                let rec = self.store.layer(l)?.ok_or_else(|| {
                    EngineError::Store(crate::store::StoreError::MissingLayer(l.clone()))
                })?;
                Ok(Ingested::from_record(&rec))
            })
            .collect::<Result<Vec<_>, EngineError>>()?;
        let (digest, manifest, media) = super::manifest::manifest(
            &state.bytes,
            &layers,
            self.opts.format,
            &self.opts.annotations,
        );
        let id = crate::engine::image::record_image(
            &mut self.store,
            &state.bytes,
            &state.config,
            &layers,
            names.to_vec(),
            Some((&digest, &manifest, media)),
        )?;
        self.progress.step_done(&id);
        for n in names {
            self.progress.tagged(n);
        }
        Ok(id)
    }

    fn meta_used(&self, name: &str) -> bool {
        self.df.meta_args.iter().any(|d| d.name == name)
    }

    /// The labels the final image gets on top of its stages': buildah's identity label (unless
    /// `--identity-label=false`), then `--label`s (which may replace it).
    fn final_labels(&self) -> BTreeMap<String, String> {
        let mut labels = BTreeMap::new();
        if self.opts.identity_label {
            labels.insert(
                IDENTITY_LABEL.to_string(),
                crate::engine::system::BUILDAH_COMPAT_VERSION.to_string(),
            );
        }
        labels.extend(self.opts.labels.clone());
        labels
    }

    /// How many layers the target stage's base chain brought in (kept by `--squash`).
    fn base_layer_count(&self, target: usize) -> usize {
        let mut i = target;
        loop {
            let s = &self.df.stages[i];
            let base = self
                .expand_meta(&s.base, s.line)
                .unwrap_or_else(|_| s.base.clone())
                .to_ascii_lowercase();
            match self.df.stages[..i]
                .iter()
                .position(|st| st.name.as_deref() == Some(base.as_str()))
            {
                Some(j) => i = j,
                None => {
                    return self.images.get(&base).map_or(0, |st| st.layers.len());
                }
            }
        }
    }

    /// Save what this build learned about the context (digests of its files).
    pub fn finish(&self) {
        self.context.save();
    }
}

pub(super) fn run_state(run: &StageRun) -> &State {
    &run.state
}

pub(super) fn self_expand(
    vars: &BTreeMap<String, String>,
    escape: char,
    s: &str,
) -> Result<String, words::WordError> {
    words::expand(s, escape, &|n: &str| vars.get(n).cloned())
}

fn step_error(step: &str, e: EngineError) -> EngineError {
    match e {
        EngineError::Build(b) if b.locates_itself() => EngineError::Build(b),
        other => EngineError::Build(BuildError::Step {
            step: step.to_string(),
            source: Box::new(other),
        }),
    }
}

/// `--platform` values other than the host's fail clearly.
pub fn check_platform(p: &str) -> Result<(), String> {
    let want = Platform::from_flags(Some(p), None, None, None).map_err(|e| e.to_string())?;
    let host = Platform::host();
    if want.os != host.os || want.architecture != host.architecture {
        return Err(format!(
            "platform `{p}` is not supported: roost builds for the host platform `{}/{}` only (no emulation)",
            host.os, host.architecture
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meta_args_use_build_args_and_defaults() {
        let df =
            dockerfile::parse("ARG A=1\nARG B=${A}x\nARG C\nFROM scratch\n", "Dockerfile").unwrap();
        let m = meta_args(&df, &BTreeMap::new()).unwrap();
        assert_eq!(m["B"], "1x");
        assert!(!m.contains_key("C"));
        assert!(m.contains_key("TARGETARCH"));
        let m = meta_args(&df, &[("A".to_string(), "9".to_string())].into()).unwrap();
        assert_eq!(m["B"], "9x");
    }

    #[test]
    fn foreign_platforms_fail() {
        assert!(
            check_platform(&format!(
                "linux/{}",
                crate::oci::Platform::host().architecture
            ))
            .is_ok()
        );
        let other = if crate::oci::Platform::host().architecture == "s390x" {
            "linux/amd64"
        } else {
            "linux/s390x"
        };
        assert!(check_platform(other).unwrap_err().contains("host platform"));
    }
}
