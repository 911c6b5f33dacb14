//! The builder: stage by stage, step by step, each step through the cache.
use std::collections::{BTreeMap, BTreeSet};

use jiff::Timestamp;

use super::cache::{from_key, step_key};
use super::context::Context;
use super::copy;
use super::view::LayerView;
use super::{BuildError, BuildOptions, BuildProgress, DEFAULT_BUILD_NETWORK, PROXY_ARGS};
use crate::dockerfile::{self, Command, Dockerfile, Instruction, Kind, words};
use crate::engine::image::{PullOptions, PullPolicy};
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
    fn cc(&self) -> ContainerConfig {
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

/// Values of the ARGs before the first FROM, plus the platform ARGs Docker predefines.
pub(super) fn meta_args(
    df: &Dockerfile,
    build_args: &BTreeMap<String, String>,
) -> BTreeMap<String, String> {
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
    for d in &df.meta_args {
        let value = match build_args.get(&d.name) {
            Some(v) => Some(v.clone()),
            None => d.default.as_ref().map(|def| {
                words::expand(def, df.escape, &|n: &str| out.get(n).cloned())
                    .unwrap_or_else(|_| def.clone())
            }),
        };
        if let Some(v) = value {
            out.insert(d.name.clone(), v);
        }
    }
    out
}

/// What a step is about to do, decided before the cache lookup.
enum Action {
    /// Only the config changes.
    Config(Box<dyn FnOnce(&mut ContainerConfig, &mut ImageConfig) -> Result<(), EngineError>>),
    Run(super::run::RunSpec),
    Copy(copy::Plan),
    Workdir(String),
}

struct Prepared {
    /// The instruction as executed (expanded), part of the cache key.
    text: String,
    content: Option<Digest>,
    created_by: String,
    action: Action,
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
}

/// Per-stage mutable state.
struct StageRun {
    state: State,
    args: BTreeMap<String, String>,
    cmd_set: bool,
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
        }
    }

    fn now(&self) -> Timestamp {
        self.opts
            .timestamp
            .and_then(|t| Timestamp::from_second(t).ok())
            .unwrap_or_else(Timestamp::now)
    }

    fn at(&self, line: usize, what: impl Into<String>) -> EngineError {
        EngineError::Build(BuildError::At {
            file: self.df.file.clone(),
            line,
            what: what.into(),
        })
    }

    fn expand_meta(&self, s: &str, line: usize) -> Result<String, EngineError> {
        words::expand(s, self.df.escape, &|n: &str| self.meta_args.get(n).cloned())
            .map_err(|e| self.at(line, e.to_string()))
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
                        return Err(EngineError::NeverPull(name.to_string()));
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
                        reference: name.to_string(),
                        platform: Platform::host(),
                        policy: self.opts.pull,
                        tls_verify: self.opts.tls_verify,
                        credentials: None,
                        retries: 3,
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
            return self.results.get(&j).cloned().ok_or_else(|| {
                EngineError::Invalid(format!("stage `{from}` was not built before it is used"))
            });
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
            let mut st = self.results.get(&j).cloned().ok_or_else(|| {
                EngineError::Invalid(format!("stage `{base}` was not built before it is used"))
            })?;
            st.key = from_key(&st.key.to_string(), "stage");
            return Ok(st);
        }
        self.image_state(&base)
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
        let state = self
            .base_state(index)
            .map_err(|e| step_error(&stage.original, e))?;
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

    fn vars(&self, run: &StageRun) -> BTreeMap<String, String> {
        let mut v = run.args.clone();
        for e in run.state.env() {
            if let Some((k, val)) = e.split_once('=') {
                v.insert(k.to_string(), val.to_string());
            }
        }
        v
    }

    fn expand(&self, run: &StageRun, s: &str, line: usize) -> Result<String, EngineError> {
        let vars = self.vars(run);
        words::expand(s, self.df.escape, &|n: &str| vars.get(n).cloned())
            .map_err(|e| self.at(line, e.to_string()))
    }

    fn step(
        &mut self,
        stage: usize,
        run: &mut StageRun,
        inst: &Instruction,
    ) -> Result<(), EngineError> {
        if let Kind::Arg(decls) = &inst.kind {
            for d in decls {
                let value = match self.opts.build_args.get(&d.name) {
                    Some(v) => Some(v.clone()),
                    None => match &d.default {
                        Some(def) => Some(self.expand(run, def, inst.line)?),
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
            return Ok(());
        }
        let prepared = self.prepare(stage, run, inst)?;
        let mut key_args = run.args.clone();
        for p in PROXY_ARGS {
            if let Some(v) = self.opts.build_args.get(*p) {
                key_args.insert((*p).to_string(), v.clone());
            }
        }
        let key = step_key(
            &run.state.key,
            &prepared.text,
            &key_args,
            prepared.content.as_ref(),
        );
        if self.opts.layers && !self.opts.no_cache && self.try_cache(run, &key)? {
            return Ok(());
        }
        let now = self.now();
        let mut config = run.state.config.clone();
        let mut cc = config.config.clone().unwrap_or_default();
        let layer: Option<Ingested> = match prepared.action {
            Action::Config(f) => {
                if matches!(inst.kind, Kind::Cmd(_)) {
                    run.cmd_set = true;
                }
                if matches!(inst.kind, Kind::Entrypoint(_)) && !run.cmd_set {
                    // An ENTRYPOINT drops the CMD inherited from the base image.
                    cc.cmd = None;
                }
                f(&mut cc, &mut config)?;
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
            Action::Run(spec) => {
                let mut spec = spec;
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
        };
        config.config = Some(cc);
        config.created = Some(now);
        if let Some(l) = &layer {
            config.rootfs.diff_ids.push(l.diff_id.clone());
        }
        config.history.push(History {
            created: Some(now),
            created_by: Some(prepared.created_by),
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

    fn shell(&self, run: &StageRun) -> Vec<String> {
        run.state
            .cc()
            .shell
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| vec!["/bin/sh".into(), "-c".into()])
    }

    fn command_args(&self, run: &StageRun, c: &Command) -> Vec<String> {
        match c {
            Command::Exec(v) => v.clone(),
            Command::Shell(s) => {
                let mut v = self.shell(run);
                v.push(s.clone());
                v
            }
        }
    }

    fn prepare(
        &mut self,
        stage: usize,
        run: &StageRun,
        inst: &Instruction,
    ) -> Result<Prepared, EngineError> {
        let nop = |text: &str| format!("/bin/sh -c #(nop) {text}");
        let line = inst.line;
        let simple = |text: String, action: Action| Prepared {
            created_by: nop(&text),
            text,
            content: None,
            action,
        };
        Ok(match &inst.kind {
            Kind::Run(r) => {
                let script = match &r.command {
                    Command::Shell(s) if !r.heredocs.is_empty() => {
                        let lone = r.heredocs.len() == 1
                            && dockerfile::lexer::heredoc_markers(s, self.df.escape).len() == 1
                            && s.trim().starts_with("<<")
                            && !s.trim().contains(char::is_whitespace);
                        if lone {
                            Command::Shell(r.heredocs[0].content.clone())
                        } else {
                            let mut text = s.clone();
                            for h in &r.heredocs {
                                text.push('\n');
                                text.push_str(&h.content);
                                text.push_str(&h.name);
                            }
                            Command::Shell(text)
                        }
                    }
                    other => other.clone(),
                };
                let args = self.command_args(run, &script);
                let network = match &r.network {
                    Some(n) => self.expand(run, n, line)?,
                    None => self
                        .opts
                        .network
                        .clone()
                        .unwrap_or_else(|| DEFAULT_BUILD_NETWORK.to_string()),
                };
                let network = match network.as_str() {
                    "default" => DEFAULT_BUILD_NETWORK.to_string(),
                    "host" | "none" => network,
                    other => {
                        return Err(self.at(
                            line,
                            format!("network `{other}` is not supported for RUN: use host, none or default"),
                        ));
                    }
                };
                let mounts = r
                    .mounts
                    .iter()
                    .map(|m| self.expand(run, m, line))
                    .collect::<Result<Vec<_>, _>>()?;
                let mounts = super::mounts::resolve(self, stage, &mounts, &run.state)
                    .map_err(|e| self.at(line, e))?;
                let text = format!(
                    "RUN network={network} mounts={} {}",
                    serde_json::to_string(&r.mounts).expect("strings serialize"),
                    serde_json::to_string(&args).expect("strings serialize")
                );
                let created_by = match &r.command {
                    Command::Shell(s) => format!("/bin/sh -c {s}"),
                    Command::Exec(v) => {
                        format!("/bin/sh -c {}", serde_json::to_string(v).expect("json"))
                    }
                };
                Prepared {
                    text,
                    content: mounts.content.clone(),
                    created_by,
                    action: Action::Run(super::run::RunSpec {
                        step: inst.original.clone(),
                        args,
                        args_env: vec![],
                        network,
                        mounts: mounts.mounts,
                    }),
                }
            }
            Kind::Copy(c) => {
                let vars = self.vars(run);
                let escape = self.df.escape;
                let plan = copy::plan(self, stage, run_state(run), c, line, |s| {
                    self_expand(&vars, escape, s)
                })?;
                Prepared {
                    text: plan.text.clone(),
                    content: Some(plan.content.clone()),
                    created_by: nop(&plan.text),
                    action: Action::Copy(plan),
                }
            }
            Kind::Workdir(w) => {
                let w = self.expand(run, w, line)?;
                let joined = if w.starts_with('/') {
                    w
                } else {
                    format!("{}/{w}", run.state.workdir())
                };
                let path = format!("/{}", super::ignore::clean(&joined));
                simple(format!("WORKDIR {path}"), Action::Workdir(path))
            }
            Kind::Env(pairs) => {
                let mut out = Vec::new();
                for (k, v) in pairs {
                    out.push((self.expand(run, k, line)?, self.expand(run, v, line)?));
                }
                let text = format!(
                    "ENV {}",
                    out.iter()
                        .map(|(k, v)| format!("{k}={v}"))
                        .collect::<Vec<_>>()
                        .join(" ")
                );
                simple(
                    text,
                    Action::Config(Box::new(move |cc, _| {
                        let env = cc.env.get_or_insert_with(Vec::new);
                        for (k, v) in out {
                            let entry = format!("{k}={v}");
                            match env.iter_mut().find(|e| {
                                e.split_once('=').map(|p| p.0) == Some(k.as_str()) || **e == k
                            }) {
                                Some(e) => *e = entry,
                                None => env.push(entry),
                            }
                        }
                        Ok(())
                    })),
                )
            }
            Kind::Label(pairs) => {
                let mut out = Vec::new();
                for (k, v) in pairs {
                    out.push((self.expand(run, k, line)?, self.expand(run, v, line)?));
                }
                let text = format!(
                    "LABEL {}",
                    out.iter()
                        .map(|(k, v)| format!("{k}={v}"))
                        .collect::<Vec<_>>()
                        .join(" ")
                );
                simple(
                    text,
                    Action::Config(Box::new(move |cc, _| {
                        cc.labels.get_or_insert_with(Default::default).extend(out);
                        Ok(())
                    })),
                )
            }
            Kind::Maintainer(m) => {
                let m = self.expand(run, m, line)?;
                simple(
                    format!("MAINTAINER {m}"),
                    Action::Config(Box::new(move |_, config| {
                        config.author = Some(m);
                        Ok(())
                    })),
                )
            }
            Kind::Expose(ports) => {
                let mut out = Vec::new();
                for p in ports {
                    for w in self.expand_words(run, p, line)? {
                        out.push(normalize_port(&w).map_err(|e| self.at(line, e))?);
                    }
                }
                simple(
                    format!("EXPOSE {}", out.join(" ")),
                    Action::Config(Box::new(move |cc, _| {
                        let m = cc.exposed_ports.get_or_insert_with(Default::default);
                        for p in out {
                            m.insert(p, serde_json::json!({}));
                        }
                        Ok(())
                    })),
                )
            }
            Kind::Volume(paths) => {
                let mut out = Vec::new();
                for p in paths {
                    let p = self.expand(run, p, line)?;
                    if p.is_empty() {
                        return Err(self.at(line, "VOLUME specified can not be an empty string"));
                    }
                    out.push(p);
                }
                simple(
                    format!("VOLUME {}", serde_json::to_string(&out).expect("json")),
                    Action::Config(Box::new(move |cc, _| {
                        let m = cc.volumes.get_or_insert_with(Default::default);
                        for p in out {
                            m.insert(p, serde_json::json!({}));
                        }
                        Ok(())
                    })),
                )
            }
            Kind::User(u) => {
                let u = self.expand(run, u, line)?;
                simple(
                    format!("USER {u}"),
                    Action::Config(Box::new(move |cc, _| {
                        cc.user = Some(u);
                        Ok(())
                    })),
                )
            }
            Kind::Cmd(c) => {
                let args = self.command_args(run, c);
                simple(
                    format!("CMD {}", serde_json::to_string(&args).expect("json")),
                    Action::Config(Box::new(move |cc, _| {
                        cc.cmd = Some(args);
                        Ok(())
                    })),
                )
            }
            Kind::Entrypoint(c) => {
                let args = self.command_args(run, c);
                simple(
                    format!("ENTRYPOINT {}", serde_json::to_string(&args).expect("json")),
                    Action::Config(Box::new(move |cc, _| {
                        cc.entrypoint = Some(args);
                        Ok(())
                    })),
                )
            }
            Kind::Shell(v) => {
                let v = v.clone();
                simple(
                    format!("SHELL {}", serde_json::to_string(&v).expect("json")),
                    Action::Config(Box::new(move |cc, _| {
                        cc.shell = Some(v);
                        Ok(())
                    })),
                )
            }
            Kind::StopSignal(s) => {
                let s = self.expand(run, s, line)?;
                crate::engine::container::parse_signal(&s)
                    .map_err(|e| self.at(line, e.to_string()))?;
                simple(
                    format!("STOPSIGNAL {s}"),
                    Action::Config(Box::new(move |cc, _| {
                        cc.stop_signal = Some(s);
                        Ok(())
                    })),
                )
            }
            Kind::Healthcheck(h) => {
                let value = match h {
                    None => serde_json::json!({"Test": ["NONE"]}),
                    Some(h) => {
                        let mut m = serde_json::Map::new();
                        m.insert("Test".into(), serde_json::json!(h.test));
                        for (k, v) in [
                            ("Interval", h.interval),
                            ("Timeout", h.timeout),
                            ("StartPeriod", h.start_period),
                            ("StartInterval", h.start_interval),
                            ("Retries", h.retries),
                        ] {
                            if v != 0 {
                                m.insert(k.into(), serde_json::json!(v));
                            }
                        }
                        serde_json::Value::Object(m)
                    }
                };
                simple(
                    format!("HEALTHCHECK {value}"),
                    Action::Config(Box::new(move |cc, _| {
                        cc.healthcheck = Some(value);
                        Ok(())
                    })),
                )
            }
            Kind::Onbuild(t) => {
                let t = t.clone();
                simple(
                    format!("ONBUILD {t}"),
                    Action::Config(Box::new(move |cc, _| {
                        cc.on_build.get_or_insert_with(Vec::new).push(t);
                        Ok(())
                    })),
                )
            }
            Kind::From { .. } | Kind::Arg(_) => unreachable!("handled by the stage loop"),
        })
    }

    fn expand_words(
        &self,
        run: &StageRun,
        s: &str,
        line: usize,
    ) -> Result<Vec<String>, EngineError> {
        let vars = self.vars(run);
        words::expand_words(s, self.df.escape, &|n: &str| vars.get(n).cloned())
            .map_err(|e| self.at(line, e.to_string()))
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
        if !self.opts.labels.is_empty() {
            let cc = state.config.config.get_or_insert_with(Default::default);
            cc.labels
                .get_or_insert_with(Default::default)
                .extend(self.opts.labels.clone());
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

fn run_state(run: &StageRun) -> &State {
    &run.state
}

fn self_expand(
    vars: &BTreeMap<String, String>,
    escape: char,
    s: &str,
) -> Result<String, words::WordError> {
    words::expand(s, escape, &|n: &str| vars.get(n).cloned())
}

fn step_error(step: &str, e: EngineError) -> EngineError {
    match e {
        EngineError::Build(b) => EngineError::Build(b),
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

/// `80` → `80/tcp`; `53/UDP` → `53/udp`.
fn normalize_port(p: &str) -> Result<String, String> {
    let (port, proto) = p.split_once('/').unwrap_or((p, "tcp"));
    let proto = proto.to_ascii_lowercase();
    let ok_port = |s: &str| s.parse::<u16>().is_ok();
    let valid = match port.split_once('-') {
        Some((a, b)) => ok_port(a) && ok_port(b),
        None => ok_port(port),
    };
    if !valid || !matches!(proto.as_str(), "tcp" | "udp" | "sctp") {
        return Err(format!("invalid port `{p}` for EXPOSE"));
    }
    Ok(format!("{port}/{proto}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports() {
        assert_eq!(normalize_port("80").unwrap(), "80/tcp");
        assert_eq!(normalize_port("53/UDP").unwrap(), "53/udp");
        assert_eq!(normalize_port("8000-8002").unwrap(), "8000-8002/tcp");
        assert!(normalize_port("x").is_err());
        assert!(normalize_port("80/foo").is_err());
    }

    #[test]
    fn meta_args_use_build_args_and_defaults() {
        let df =
            dockerfile::parse("ARG A=1\nARG B=${A}x\nARG C\nFROM scratch\n", "Dockerfile").unwrap();
        let m = meta_args(&df, &BTreeMap::new());
        assert_eq!(m["B"], "1x");
        assert!(!m.contains_key("C"));
        assert!(m.contains_key("TARGETARCH"));
        let m = meta_args(&df, &[("A".to_string(), "9".to_string())].into());
        assert_eq!(m["B"], "9x");
    }

    #[test]
    fn foreign_platforms_fail() {
        assert!(check_platform(&format!("linux/{}", crate::oci::host_arch())).is_ok());
        let other = if crate::oci::host_arch() == "s390x" {
            "linux/amd64"
        } else {
            "linux/s390x"
        };
        assert!(check_platform(other).unwrap_err().contains("host platform"));
    }
}
