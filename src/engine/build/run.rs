//! RUN: a container from the stage's layers with the same runtime as `run`; its upper dir (minus the
//! init-file placeholders, which are bind mounts from the runtime dir) becomes the step's layer. The
//! container exists in the store only while the step runs and is removed whatever happens.
use std::io::BufReader;
use std::os::fd::AsFd;

use jiff::Timestamp;

use super::BuildError;
use super::stage::{Builder, State};
use crate::engine::container::process::{self, ProcessFlags};
use crate::engine::container::tee::{LazyLog, Tee};
use crate::engine::container::{Container, ContainerSpec, State as CState};
use crate::engine::layer::{Ingested, LayerSlot, ingest};
use crate::engine::{Ctx, EngineError};
use crate::store::{ContainerRecord, Store};

pub(super) struct RunSpec {
    /// The instruction as written, for errors.
    pub step: String,
    /// The process's argv (SHELL + script, or the exec form).
    pub args: Vec<String>,
    /// Build arguments in scope, `KEY=VALUE` (ENV wins over them).
    pub args_env: Vec<String>,
    pub network: String,
    pub mounts: Vec<crate::runtime::Mount>,
}

/// Removes the step's container (files, runtime dir, record) when dropped.
struct Cleanup<'a> {
    ctx: &'a Ctx,
    id: String,
}

impl Drop for Cleanup<'_> {
    fn drop(&mut self) {
        let Ok(mut store) = self.ctx.store() else {
            return;
        };
        if let Ok(c) = crate::engine::container::find(&store, &self.id) {
            let _ = crate::engine::container::remove_one(self.ctx, &mut store, &c, true);
        }
    }
}

fn spec_for(
    b: &Builder,
    state: &State,
    spec: &RunSpec,
    id: &str,
) -> Result<ContainerSpec, EngineError> {
    let view = b.view(state);
    let passwd = view.read_to_string("/etc/passwd");
    let group = view.read_to_string("/etc/group");
    let mut cc = state.config.config.clone().unwrap_or_default();
    cc.cmd = Some(spec.args.clone());
    cc.entrypoint = None;
    cc.working_dir = Some(state.workdir());
    // Build arguments are in the environment unless ENV sets the same name.
    let mut env = spec.args_env.clone();
    env.retain(|a| {
        let k = a.split_once('=').map_or(a.as_str(), |p| p.0);
        !state
            .env()
            .iter()
            .any(|e| e.split_once('=').map_or(e.as_str(), |p| p.0) == k)
    });
    let mut base_env = env;
    base_env.extend(state.env());
    cc.env = Some(base_env);
    let hostname = process::default_hostname(id);
    let flags = ProcessFlags {
        hostname: Some(hostname.clone()),
        group_add: b.opts.group_add.clone(),
        ..ProcessFlags::default()
    };
    let p = process::resolve(&cc, &flags, &[], passwd.as_deref(), group.as_deref())?;
    Ok(ContainerSpec {
        args: p.args,
        env: p.env,
        cwd: p.cwd,
        uid: p.uid,
        gid: p.gid,
        additional_gids: p.additional_gids,
        group_add: p.group_add,
        user: cc.user.clone().unwrap_or_default(),
        hostname,
        layers: state.layers.clone(),
        network: if spec.network == "private" {
            b.ctx.default_network().name().to_string()
        } else {
            spec.network.clone()
        },
        stop_signal: libc::SIGTERM,
        stop_timeout: 10,
        log_driver: "k8s-file".into(),
        builder: Some(b.store.owner_token().to_string()),
        ulimits: b.opts.ulimits.clone(),
        seccomp: b.opts.seccomp.clone(),
        no_new_privileges: b.opts.no_new_privileges,
        net: crate::engine::network::NetworkSpec {
            dns: b.opts.dns.clone(),
            dns_search: b.opts.dns_search.clone(),
            dns_options: b.opts.dns_options.clone(),
            ..Default::default()
        },
        ..ContainerSpec::default()
    })
}

fn record(
    store: &mut Store,
    id: &str,
    state: &State,
    spec: &ContainerSpec,
) -> Result<Container, EngineError> {
    let record = ContainerRecord {
        id: id.to_string(),
        name: format!("roost-build-{}", crate::store::short_id(id)),
        image_id: state.id(),
        image: format!("build step of {}", state.id().short()),
        created: Timestamp::now(),
        spec: serde_json::to_string(spec).expect("spec serializes"),
        state: CState::default().to_json(),
    };
    let staged = store.stage_container_dir()?;
    if let Err(e) = store.place_container_dir(&staged, id) {
        let _ = crate::store::remove_tree(&staged);
        return Err(e.into());
    }
    if let Err(e) = store.add_container(&record) {
        let _ = crate::store::remove_tree(&store.container_dir(id));
        return Err(e.into());
    }
    Ok(Container {
        record,
        spec: spec.clone(),
        state: CState::default(),
    })
}

/// Run the step; returns the layer it made.
pub(super) fn run(b: &mut Builder, state: &State, spec: &RunSpec) -> Result<Ingested, EngineError> {
    let ctx = b.ctx;
    let id = hex::encode(rand::random::<[u8; 32]>());
    let cspec = spec_for(b, state, spec, &id)?;
    let c = record(&mut b.store, &id, state, &cspec)?;
    let _cleanup = Cleanup {
        ctx,
        id: id.clone(),
    };
    // `--volume`s first: a RUN --mount at the same place goes over it.
    let mut mounts: Vec<_> = b.opts.volumes.iter().map(volume_bind).collect();
    mounts.extend(spec.mounts.iter().cloned());
    let mut plan =
        crate::engine::container::plan(ctx, &b.store, &c).map_err(|e| refused(spec, e))?;
    plan.mounts.extend(mounts);
    // Every mount point the runtime makes (default mounts' too) stays out of the layer.
    let points = mount_points(&b.view(state), &plan.mounts);
    let null = std::fs::File::options()
        .read(true)
        .write(true)
        .open("/dev/null")
        .map_err(|e| EngineError::io("open", "/dev/null", e))?;
    crate::sys::process::dup_onto(null.as_fd(), 0)
        .map_err(|e| EngineError::io("redirect stdin of", &id, e))?;
    crate::userns::register_holder(&ctx.paths.runtime);
    // The step's network helper, stopped when this returns (after the step has ended).
    let mut net = crate::engine::container::network_settings::attachment(ctx, &c);
    // The step's output goes where ours does, through pipes to us where that is a terminal (see
    // `runtime::relay`).
    let mut tee = None;
    let spawned = if b.opts.quiet {
        with_output_to(&null, || crate::runtime::spawn_with(&plan, &mut net))
    } else {
        tee = Tee::redirect(Tee::needed(false, false))?;
        let spawned = crate::runtime::spawn_with(&plan, &mut net);
        if let Some(t) = tee.as_mut() {
            t.restore();
        }
        spawned
    };
    let spawned = spawned?;
    // Recorded as running under us, so that if this build is killed, whoever removes the step
    // container (see `engine::check::reclaim`) kills its process too.
    let running = CState {
        status: crate::engine::container::Status::Running,
        pid: spawned.pid.as_raw(),
        monitor_pid: std::process::id() as i32,
        started_at: Some(Timestamp::now()),
        ..CState::default()
    };
    b.store.set_container_state(&id, &running.to_json())?;
    if let Some(t) = tee {
        t.copy(spawned.pid, &mut LazyLog::none());
    }
    let code = crate::engine::container::wait_and_record(&mut b.store, &id, spawned.pid)?;
    if code != 0 {
        return Err(EngineError::Build(BuildError::RunFailed {
            step: spec.step.clone(),
            code,
        }));
    }
    drop_mount_points(&b.store.container_dir(&id).join("diff"), &points);
    let tar = crate::engine::container::container_layer_tar(&b.store, &c)?;
    let slot = LayerSlot {
        image: c.record.name.clone(),
        diff_id: None,
        chain_id: None,
        parent: state.layers.last().cloned(),
        blob_digest: None,
    };
    ingest(
        &mut b.store,
        BufReader::new(tar),
        &slot,
        &ctx.apply_options(),
    )
}

/// The runtime's refusal of the step, named for it; other errors as they are.
fn refused(spec: &RunSpec, e: EngineError) -> EngineError {
    match e {
        EngineError::RuntimeFlag(source) => BuildError::RuntimeRefused {
            step: spec.step.clone(),
            source,
        }
        .into(),
        other => other,
    }
}

/// A `--volume` (a bind of a host path) as the runtime mounts it.
fn volume_bind(m: &crate::engine::container::Mount) -> crate::runtime::Mount {
    crate::runtime::Mount {
        target: m.destination.clone(),
        kind: crate::runtime::MountKind::Bind {
            source: m.source.clone().into(),
            read_only: m.read_only,
            chown: None,
            copy_up: false,
            first_chown: None,
            noexec: m.noexec,
        },
    }
}

/// The paths the runtime will create for `mounts` because the image lacks them, deepest first.
fn mount_points(view: &super::view::LayerView, mounts: &[crate::runtime::Mount]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for m in mounts {
        let parts: Vec<&str> = m.target.split('/').filter(|p| !p.is_empty()).collect();
        for i in 1..=parts.len() {
            let p = parts[..i].join("/");
            if view.lookup(&p).is_none() && !out.contains(&p) {
                out.push(p);
            }
        }
    }
    out.sort_by_key(|p| std::cmp::Reverse(p.matches('/').count()));
    out
}

/// Remove the empty files and directories the runtime made as mount points from the upper dir, so
/// the layer does not keep them (Docker's layers don't).
fn drop_mount_points(upper: &std::path::Path, points: &[String]) {
    for p in points {
        let path = upper.join(p);
        match std::fs::symlink_metadata(&path) {
            Ok(m) if m.is_dir() => {
                let _ = std::fs::remove_dir(&path);
            }
            Ok(m) if m.is_file() && m.len() == 0 => {
                let _ = std::fs::remove_file(&path);
            }
            _ => {}
        }
    }
}

/// Run `f` with our stdout and stderr pointing at `to` (the child inherits them), then restore them.
fn with_output_to<T>(to: &std::fs::File, f: impl FnOnce() -> T) -> T {
    let saved = [
        (1, nix::unistd::dup(std::io::stdout()).ok()),
        (2, nix::unistd::dup(std::io::stderr()).ok()),
    ];
    for (fd, s) in &saved {
        if s.is_some() {
            let _ = crate::sys::process::dup_onto(to.as_fd(), *fd);
        }
    }
    let out = f();
    for (fd, s) in &saved {
        if let Some(o) = s {
            let _ = crate::sys::process::dup_onto(o.as_fd(), *fd);
        }
    }
    out
}
