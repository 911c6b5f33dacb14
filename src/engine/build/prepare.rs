//! Each instruction, expanded and turned into what the step will do ([`Action`]) and the text its
//! cache key and history entry are made from; nothing is executed here.
use super::DEFAULT_BUILD_NETWORK;
use super::copy;
use super::stage::{Builder, StageRun, run_state, self_expand};
use crate::dockerfile::{self, Command, Healthcheck, Instruction, Kind, RunArgs, words};
use crate::engine::EngineError;
use crate::oci::{ContainerConfig, Digest, ImageConfig};

/// A change to the image config (metadata-only instructions).
type ConfigChange =
    Box<dyn FnOnce(&mut ContainerConfig, &mut ImageConfig) -> Result<(), EngineError>>;

/// What a step is about to do, decided before the cache lookup.
pub(super) enum Action {
    /// Only the config changes.
    Config(ConfigChange),
    Run(super::run::RunSpec),
    Copy(copy::Plan),
    Workdir(String),
}

pub(super) struct Prepared {
    /// The instruction as executed (expanded), part of the cache key.
    pub text: String,
    pub content: Option<Digest>,
    pub created_by: String,
    pub action: Action,
}

impl Builder<'_> {
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

    pub(super) fn prepare(
        &mut self,
        stage: usize,
        run: &StageRun,
        inst: &Instruction,
    ) -> Result<Prepared, EngineError> {
        let line = inst.line;
        match &inst.kind {
            Kind::Run(r) => self.prepare_run(stage, run, inst, r),
            Kind::Copy(c) => {
                let vars = self.vars(run);
                let escape = self.df.escape;
                let plan = copy::plan(self, stage, run_state(run), c, line, |s| {
                    self_expand(&vars, escape, s)
                })?;
                Ok(Prepared {
                    text: plan.text.clone(),
                    content: Some(plan.content.clone()),
                    created_by: nop(&plan.text),
                    action: Action::Copy(plan),
                })
            }
            Kind::Workdir(w) => {
                let w = self.expand(run, w, line)?;
                let joined = if w.starts_with('/') {
                    w
                } else {
                    format!("{}/{w}", run.state.workdir())
                };
                let path = format!("/{}", super::ignore::clean(&joined));
                Ok(metadata(format!("WORKDIR {path}"), Action::Workdir(path)))
            }
            Kind::From { .. } | Kind::Arg(_) => unreachable!("handled by the stage loop"),
            kind => {
                let (text, change) = self.config_change(run, kind, line)?;
                Ok(metadata(text, Action::Config(change)))
            }
        }
    }

    /// `RUN`: the command (heredocs folded in), its network and its mounts.
    fn prepare_run(
        &mut self,
        stage: usize,
        run: &StageRun,
        inst: &Instruction,
        r: &RunArgs,
    ) -> Result<Prepared, EngineError> {
        let line = inst.line;
        let args = self.command_args(run, &self.run_script(r));
        let network = self.run_network(run, r, line)?;
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
        Ok(Prepared {
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
        })
    }

    /// The command `RUN` runs: a lone heredoc is the script itself; otherwise the heredoc bodies
    /// follow the command line.
    fn run_script(&self, r: &RunArgs) -> Command {
        match &r.command {
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
        }
    }

    /// `RUN --network`, else `--network` of the build, else the default.
    fn run_network(&self, run: &StageRun, r: &RunArgs, line: usize) -> Result<String, EngineError> {
        let network = match &r.network {
            Some(n) => self.expand(run, n, line)?,
            None => self
                .opts
                .network
                .clone()
                .unwrap_or_else(|| DEFAULT_BUILD_NETWORK.to_string()),
        };
        match network.as_str() {
            "default" => Ok(DEFAULT_BUILD_NETWORK.to_string()),
            "host" | "none" | "private" | "pasta" | "slirp4netns" | "slirp" => Ok(network),
            other => Err(self.at(
                line,
                format!("network `{other}` is not supported for RUN: use default, private, pasta, slirp4netns, slirp, host or none"),
            )),
        }
    }

    /// A metadata-only instruction: its text and the change it makes to the config.
    fn config_change(
        &self,
        run: &StageRun,
        kind: &Kind,
        line: usize,
    ) -> Result<(String, ConfigChange), EngineError> {
        Ok(match kind {
            Kind::Env(pairs) => {
                let out = self.expand_pairs(run, pairs, line)?;
                (
                    format!("ENV {}", join_pairs(&out)),
                    change(move |cc, _| set_env(cc, out)),
                )
            }
            Kind::Label(pairs) => {
                let out = self.expand_pairs(run, pairs, line)?;
                let text = format!("LABEL {}", join_pairs(&out));
                (
                    text,
                    change(move |cc, _| cc.labels.get_or_insert_with(Default::default).extend(out)),
                )
            }
            Kind::Maintainer(m) => {
                let m = self.expand(run, m, line)?;
                (
                    format!("MAINTAINER {m}"),
                    change(move |_, config| config.author = Some(m)),
                )
            }
            Kind::Expose(ports) => self.expose(run, ports, line)?,
            Kind::Volume(paths) => self.volume(run, paths, line)?,
            Kind::User(u) => {
                let u = self.expand(run, u, line)?;
                (format!("USER {u}"), change(move |cc, _| cc.user = Some(u)))
            }
            Kind::Cmd(c) => {
                let args = self.command_args(run, c);
                let text = format!("CMD {}", serde_json::to_string(&args).expect("json"));
                (text, change(move |cc, _| cc.cmd = Some(args)))
            }
            Kind::Entrypoint(c) => {
                let args = self.command_args(run, c);
                let text = format!("ENTRYPOINT {}", serde_json::to_string(&args).expect("json"));
                (text, change(move |cc, _| cc.entrypoint = Some(args)))
            }
            Kind::Shell(v) => {
                let v = v.clone();
                let text = format!("SHELL {}", serde_json::to_string(&v).expect("json"));
                (text, change(move |cc, _| cc.shell = Some(v)))
            }
            Kind::StopSignal(s) => {
                let s = self.expand(run, s, line)?;
                crate::engine::container::parse_signal(&s)
                    .map_err(|e| self.at(line, e.to_string()))?;
                (
                    format!("STOPSIGNAL {s}"),
                    change(move |cc, _| cc.stop_signal = Some(s)),
                )
            }
            Kind::Healthcheck(h) => {
                let value = healthcheck_value(h.as_ref());
                (
                    format!("HEALTHCHECK {value}"),
                    change(move |cc, _| cc.healthcheck = Some(value)),
                )
            }
            Kind::Onbuild(t) => {
                let t = t.clone();
                let text = format!("ONBUILD {t}");
                (
                    text,
                    change(move |cc, _| cc.on_build.get_or_insert_with(Vec::new).push(t)),
                )
            }
            Kind::From { .. } | Kind::Arg(_) | Kind::Run(_) | Kind::Copy(_) | Kind::Workdir(_) => {
                unreachable!("not a metadata-only instruction")
            }
        })
    }

    fn expand_pairs(
        &self,
        run: &StageRun,
        pairs: &[(String, String)],
        line: usize,
    ) -> Result<Vec<(String, String)>, EngineError> {
        pairs
            .iter()
            .map(|(k, v)| Ok((self.expand(run, k, line)?, self.expand(run, v, line)?)))
            .collect()
    }

    /// `EXPOSE`: every word a port, normalised (`80` → `80/tcp`).
    fn expose(
        &self,
        run: &StageRun,
        ports: &[String],
        line: usize,
    ) -> Result<(String, ConfigChange), EngineError> {
        let mut out = Vec::new();
        for p in ports {
            for w in self.expand_words(run, p, line)? {
                out.push(normalize_port(&w).map_err(|e| self.at(line, e))?);
            }
        }
        let text = format!("EXPOSE {}", out.join(" "));
        Ok((
            text,
            change(move |cc, _| {
                let m = cc.exposed_ports.get_or_insert_with(Default::default);
                for p in out {
                    m.insert(p, serde_json::json!({}));
                }
            }),
        ))
    }

    /// `VOLUME`: non-empty paths.
    fn volume(
        &self,
        run: &StageRun,
        paths: &[String],
        line: usize,
    ) -> Result<(String, ConfigChange), EngineError> {
        let mut out = Vec::new();
        for p in paths {
            let p = self.expand(run, p, line)?;
            if p.is_empty() {
                return Err(self.at(line, "VOLUME specified can not be an empty string"));
            }
            out.push(p);
        }
        let text = format!("VOLUME {}", serde_json::to_string(&out).expect("json"));
        Ok((
            text,
            change(move |cc, _| {
                let m = cc.volumes.get_or_insert_with(Default::default);
                for p in out {
                    m.insert(p, serde_json::json!({}));
                }
            }),
        ))
    }

    fn expand_words(
        &self,
        run: &StageRun,
        s: &str,
        line: usize,
    ) -> Result<Vec<String>, EngineError> {
        let vars = self.vars(run);
        let v = words::expand_words(s, self.df.escape, &|n: &str| vars.get(n).cloned())
            .map_err(|e| self.at(line, e.to_string()))?;
        self.charge(v.iter().map(String::len).sum(), line)?;
        Ok(v)
    }
}

/// The history text of a metadata-only instruction.
fn nop(text: &str) -> String {
    format!("/bin/sh -c #(nop) {text}")
}

/// A step that adds no content: its text is its cache key and (as a no-op) its history entry.
fn metadata(text: String, action: Action) -> Prepared {
    Prepared {
        created_by: nop(&text),
        text,
        content: None,
        action,
    }
}

/// A config change that cannot fail.
fn change(f: impl FnOnce(&mut ContainerConfig, &mut ImageConfig) + 'static) -> ConfigChange {
    Box::new(move |cc, config| {
        f(cc, config);
        Ok(())
    })
}

/// `K=V K=V`, as `ENV` and `LABEL` are recorded.
fn join_pairs(pairs: &[(String, String)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// `ENV`: each variable replaces one of the same name (or a bare `NAME` entry), else is appended.
fn set_env(cc: &mut ContainerConfig, pairs: Vec<(String, String)>) {
    let env = cc.env.get_or_insert_with(Vec::new);
    for (k, v) in pairs {
        let entry = format!("{k}={v}");
        match env
            .iter_mut()
            .find(|e| e.split_once('=').map(|p| p.0) == Some(k.as_str()) || **e == k)
        {
            Some(e) => *e = entry,
            None => env.push(entry),
        }
    }
}

/// The image config's `Healthcheck`: `{"Test": ["NONE"]}` for `HEALTHCHECK NONE`, durations and
/// retries only when set.
fn healthcheck_value(h: Option<&Healthcheck>) -> serde_json::Value {
    let Some(h) = h else {
        return serde_json::json!({"Test": ["NONE"]});
    };
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
}
