//! `kube play`: Secrets become roost secrets, PersistentVolumeClaims named volumes, and each Pod (and
//! each replica of a Deployment) a pod with its containers, started unless `start` is off. A pod that
//! cannot be made completely is removed again. With `--service-container` a service container
//! stands for the pods (made first, started last: see `engine::pod::service`).
use std::collections::BTreeMap;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};

use base64::Engine as _;

use super::convert::{self, PodContext, Prepared, Sources};
use super::types::{PodSpec, Volume};
use super::{KubeError, Manifest};
use crate::engine::build::BuildProgress;
use crate::engine::container::idmap::UsernsRequest;
use crate::engine::container::logs::LogOptions;
use crate::engine::container::network_settings::NetworkRequest;
use crate::engine::image::PullProgress;
use crate::engine::pod::CreatePodOptions;
use crate::engine::pod::service::{self, Propagation};
use crate::engine::{Ctx, EngineError};
use crate::network::PortMapping;

/// The label of the roost secrets `kube play` makes from Secret documents.
const KUBE_LABEL: &str = "io.roost.kube";

#[derive(Debug, Clone, Default)]
pub struct PlayOptions {
    /// How errors name the file (its path, or `-`).
    pub source_name: String,
    pub text: String,
    /// Where `--build` looks for a directory named like each image (the YAML file's directory).
    pub context_dir: PathBuf,
    /// `--replace`: remove what a previous play of the file made first.
    pub replace: bool,
    /// `--start` (on by default).
    pub start: bool,
    /// `--network`: the pods' network mode, and bridge networks by name.
    pub network: String,
    pub networks: BTreeMap<String, crate::network::netavark::PerNetwork>,
    /// `--build`: Some(true) always builds images that have a directory, Some(false) never, None when
    /// the image is not in the store.
    pub build: Option<bool>,
    pub tls_verify: Option<bool>,
    /// `--service-container` (with `--service-exit-code-propagation`): a service container stands
    /// for the pods (engine::pod::service).
    pub service_container: Option<Propagation>,
    /// `--annotation`: added to every pod's annotations, which every container of the pod gets.
    pub annotations: BTreeMap<String, String>,
    /// `--configmap`: (how errors name it, text) of YAML files of ConfigMaps, which the pods use as
    /// if they were in the played file.
    pub config_map_files: Vec<(String, String)>,
    /// `--publish`: each replaces the publication of the same container port in the YAML, or adds
    /// one.
    pub publish: Vec<PortMapping>,
    /// `--log-driver` and `--log-opt`, for every container.
    pub log_driver: Option<String>,
    pub log_opts: LogOptions,
    /// `--userns` of the pods (mode None: roost's own namespace), with the caller's ids, which
    /// their containers need too.
    pub userns: UsernsRequest,
    /// The systemd unit that plays the file (`PODMAN_SYSTEMD_UNIT`): recorded as a label of every
    /// container, as `run` does, so `auto-update` knows the unit to restart.
    pub systemd_unit: Option<String>,
}

/// A pod of the file: its name, labels, annotations (with `--annotation`) and spec.
#[derive(Debug, Clone)]
pub(super) struct PodDef {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
    pub spec: PodSpec,
}

#[derive(Debug, Clone)]
pub struct PlayedPod {
    pub id: String,
    pub containers: Vec<String>,
}

#[derive(Debug, Clone, Default)]
pub struct PlayReport {
    pub volumes: Vec<String>,
    pub secrets: Vec<String>,
    pub pods: Vec<PlayedPod>,
    /// The service container's id (`--service-container`).
    pub service: Option<String>,
}

/// The pods a file describes, Deployments' replicas as `NAME-pod` (one replica, podman's name) or
/// `NAME-pod-0` … `NAME-pod-N-1`.
pub(super) fn pods_of(m: &Manifest) -> Vec<PodDef> {
    let mut out = Vec::new();
    for p in &m.pods {
        out.push(PodDef {
            name: p.metadata.name.clone().unwrap_or_default(),
            labels: p.metadata.labels.clone(),
            annotations: p.metadata.annotations.clone(),
            spec: p.spec.clone(),
        });
    }
    for d in &m.deployments {
        let base = d.metadata.name.clone().unwrap_or_default();
        let replicas = d.spec.replicas.unwrap_or(1);
        let mut labels = d.metadata.labels.clone();
        labels.extend(d.spec.template.metadata.labels.clone());
        let mut annotations = d.metadata.annotations.clone();
        annotations.extend(d.spec.template.metadata.annotations.clone());
        for i in 0..replicas {
            let name = if replicas == 1 {
                format!("{base}-pod")
            } else {
                format!("{base}-pod-{i}")
            };
            out.push(PodDef {
                name,
                labels: labels.clone(),
                annotations: annotations.clone(),
                spec: d.spec.template.spec.clone(),
            });
        }
    }
    out
}

pub fn play(
    ctx: &Ctx,
    opts: &PlayOptions,
    pull: &dyn PullProgress,
    build: &dyn BuildProgress,
) -> Result<PlayReport, EngineError> {
    let manifest = super::parse(&opts.source_name, &opts.text)?;
    let extra_maps = config_map_files(&manifest, &opts.config_map_files)?;
    let mut pods = pods_of(&manifest);
    for p in &mut pods {
        p.annotations.extend(opts.annotations.clone());
    }
    check_pods(&pods, &opts.publish)?;
    if opts.replace {
        super::down::remove(ctx, &manifest, false)?;
    }
    for p in &pods {
        if crate::engine::pod::exists(ctx, &p.name)? {
            return Err(KubeError::PodExists(p.name.clone()).into());
        }
    }
    let mut report = PlayReport::default();
    let mut sources = sources(ctx, &manifest, &mut report)?;
    add_config_maps(&mut sources, &extra_maps)?;
    for c in &manifest.claims {
        let name = c.metadata.name.clone().unwrap_or_default();
        if !crate::engine::volume::exists(ctx, &name)? {
            crate::engine::volume::create(
                ctx,
                &crate::engine::volume::CreateVolumeOptions {
                    name: Some(name.clone()),
                    labels: c.metadata.labels.clone(),
                    ignore: true,
                    ..Default::default()
                },
            )?;
            report.volumes.push(name);
        }
    }
    build_images(ctx, opts, &pods, build)?;
    if let Some(propagation) = opts.service_container {
        let labels = unit_label(opts);
        report.service = Some(service::create(ctx, propagation, labels, pull)?.record.id);
    }
    let played = play_pods(ctx, opts, &pods, &sources, report.service.as_deref(), pull);
    if let Some(id) = report.service.as_deref() {
        match &played {
            Ok(_) if opts.start => service::start(ctx, id)?,
            Ok(_) => {}
            Err(_) => service::discard_if_unused(ctx, id),
        }
    }
    report.pods = played?;
    Ok(report)
}

/// Each pod, made (and started unless `--start=false`) in turn.
fn play_pods(
    ctx: &Ctx,
    opts: &PlayOptions,
    pods: &[PodDef],
    sources: &Sources,
    service: Option<&str>,
    pull: &dyn PullProgress,
) -> Result<Vec<PlayedPod>, EngineError> {
    pods.iter()
        .map(|def| {
            let pod = PodToPlay { def, service };
            play_pod(ctx, opts, &pod, sources, pull)
        })
        .collect()
}

/// One pod of the file, and the service container that stands for it (if any).
struct PodToPlay<'a> {
    def: &'a PodDef,
    service: Option<&'a str>,
}

/// `PODMAN_SYSTEMD_UNIT=<unit>` when a systemd unit plays the file.
fn unit_label(opts: &PlayOptions) -> BTreeMap<String, String> {
    opts.systemd_unit
        .iter()
        .map(|u| (crate::engine::systemd::UNIT_VARIABLE.to_string(), u.clone()))
        .collect()
}

/// The ConfigMaps of the `--configmap` files: files of ConfigMap documents only, whose names the
/// played file does not define too.
fn config_map_files(
    m: &Manifest,
    files: &[(String, String)],
) -> Result<Vec<super::types::ConfigMap>, EngineError> {
    let mut out: Vec<(super::types::ConfigMap, &str)> = Vec::new();
    for (file, text) in files {
        let parsed = super::parse(file, text)?;
        let others = [
            ("Pod", parsed.pods.len()),
            ("Deployment", parsed.deployments.len()),
            ("PersistentVolumeClaim", parsed.claims.len()),
            ("Secret", parsed.secrets.len()),
        ];
        if let Some((kind, _)) = others.iter().find(|(_, n)| *n > 0) {
            return Err(KubeError::Unsupported {
                object: format!("--configmap file `{file}`"),
                field: format!("kind {kind}"),
                why: "a --configmap file holds ConfigMaps only".into(),
            }
            .into());
        }
        if parsed.config_maps.is_empty() {
            return Err(KubeError::Invalid {
                object: format!("--configmap file `{file}`"),
                field: "kind".into(),
                value: String::new(),
                why: "it holds no ConfigMap".into(),
            }
            .into());
        }
        for cm in parsed.config_maps {
            let name = cm.metadata.name.clone().unwrap_or_default();
            let in_yaml = m
                .config_maps
                .iter()
                .any(|c| c.metadata.name.as_deref() == Some(name.as_str()));
            let earlier = out
                .iter()
                .find(|(c, _)| c.metadata.name.as_deref() == Some(name.as_str()))
                .map(|(_, f)| *f);
            if in_yaml || earlier.is_some() {
                let other = earlier.map_or(String::from("the played file"), |f| {
                    format!("--configmap file `{f}`")
                });
                return Err(KubeError::Invalid {
                    object: format!("--configmap file `{file}`"),
                    field: "ConfigMap".into(),
                    value: name,
                    why: format!("{other} defines it too"),
                }
                .into());
            }
            out.push((cm, file));
        }
    }
    Ok(out.into_iter().map(|(c, _)| c).collect())
}

/// What roost refuses before making anything: init containers, host ports that several replicas
/// would each need (the YAML's hostPorts and `--publish`'s).
fn check_pods(pods: &[PodDef], publish: &[PortMapping]) -> Result<(), EngineError> {
    if pods.len() > 1
        && let Some(p) = publish.iter().find(|p| p.host_port != 0)
    {
        return Err(KubeError::Invalid {
            object: format!("pod `{}`", pods[1].name),
            field: "--publish".into(),
            value: format!("{}:{}", p.host_port, p.container_port),
            why: format!(
                "the file makes {} pods, and each would publish host port {} (give no host port, or play a file of one pod)",
                pods.len(),
                p.host_port
            ),
        }
        .into());
    }
    let mut host_ports: BTreeMap<(u16, String), &str> = BTreeMap::new();
    for PodDef { name, spec, .. } in pods {
        if spec.init_containers.is_some() {
            return Err(KubeError::Unsupported {
                object: format!("pod `{name}`"),
                field: "initContainers".into(),
                why: "roost runs no init containers".into(),
            }
            .into());
        }
        if spec.containers.is_empty() {
            return Err(KubeError::Invalid {
                object: format!("pod `{name}`"),
                field: "containers".into(),
                value: "[]".into(),
                why: "a pod needs at least one container".into(),
            }
            .into());
        }
        for p in spec.containers.iter().flat_map(|c| &c.ports) {
            let Some(hp) = p.host_port else { continue };
            let proto = p.protocol.clone().unwrap_or_else(|| "TCP".into());
            if let Some(other) = host_ports.insert((hp, proto.clone()), name) {
                return Err(KubeError::Invalid {
                    object: format!("pod `{name}`"),
                    field: "hostPort".into(),
                    value: hp.to_string(),
                    why: format!(
                        "pod `{other}` publishes it too (a Deployment's replicas cannot share a hostPort)"
                    ),
                }
                .into());
            }
        }
    }
    Ok(())
}

fn decode(object: &str, key: &str, v: &str) -> Result<Vec<u8>, EngineError> {
    let clean: String = v.chars().filter(|c| !c.is_whitespace()).collect();
    base64::engine::general_purpose::STANDARD
        .decode(clean)
        .map_err(|e| {
            KubeError::Invalid {
                object: object.to_string(),
                field: format!("data.{key}"),
                value: "…".into(),
                why: format!("not base64: {e}"),
            }
            .into()
        })
}

/// ConfigMaps' keys (data, and binaryData decoded), by name.
fn add_config_maps(s: &mut Sources, maps: &[super::types::ConfigMap]) -> Result<(), EngineError> {
    for cm in maps {
        let name = cm.metadata.name.clone().unwrap_or_default();
        let object = format!("ConfigMap `{name}`");
        let mut data: BTreeMap<String, Vec<u8>> = cm
            .data
            .iter()
            .map(|(k, v)| (k.clone(), v.clone().into_bytes()))
            .collect();
        for (k, v) in &cm.binary_data {
            data.insert(k.clone(), decode(&object, k, v)?);
        }
        s.config_maps.insert(name, data);
    }
    Ok(())
}

/// The ConfigMaps and Secrets of the file; Secrets are also stored as roost secrets (a JSON object
/// of their keys), as podman does, so later plays can refer to them.
fn sources(ctx: &Ctx, m: &Manifest, report: &mut PlayReport) -> Result<Sources, EngineError> {
    let mut s = Sources::default();
    add_config_maps(&mut s, &m.config_maps)?;
    for sec in &m.secrets {
        let name = sec.metadata.name.clone().unwrap_or_default();
        let object = format!("Secret `{name}`");
        let mut data = BTreeMap::new();
        for (k, v) in &sec.data {
            data.insert(k.clone(), decode(&object, k, v)?);
        }
        for (k, v) in &sec.string_data {
            data.insert(k.clone(), v.clone().into_bytes());
        }
        let json: BTreeMap<&String, String> = data
            .iter()
            .map(|(k, v)| (k, String::from_utf8_lossy(v).into_owned()))
            .collect();
        let mut labels = sec.metadata.labels.clone();
        labels.insert(KUBE_LABEL.into(), "true".into());
        // One a previous play made (which may have failed later) is replaced; any other is kept.
        let replace = crate::engine::secret::find(ctx, &name)
            .is_ok_and(|r| r.labels.get(KUBE_LABEL).is_some_and(|v| v == "true"));
        let record = crate::engine::secret::create(
            ctx,
            &crate::engine::secret::CreateSecretOptions {
                name: name.clone(),
                data: serde_json::to_vec(&json).expect("strings serialize"),
                labels,
                replace,
                ..Default::default()
            },
        )?;
        report.secrets.push(record.id);
        s.secrets.insert(name, data);
    }
    Ok(s)
}

/// `--build`: images whose name matches a directory (with a Containerfile or Dockerfile) next to
/// the YAML are built and tagged with that name (podman's rule), when missing or always with --build.
fn build_images(
    ctx: &Ctx,
    opts: &PlayOptions,
    pods: &[PodDef],
    progress: &dyn BuildProgress,
) -> Result<(), EngineError> {
    if opts.build == Some(false) {
        return Ok(());
    }
    let mut done = Vec::new();
    for c in pods.iter().flat_map(|p| &p.spec.containers) {
        if done.contains(&c.image) {
            continue;
        }
        done.push(c.image.clone());
        let base = c.image.rsplit('/').next().unwrap_or(&c.image);
        let base = base.split(['@', ':']).next().unwrap_or(base);
        let dir = opts.context_dir.join(base);
        let has_file = ["Containerfile", "Dockerfile"]
            .iter()
            .any(|f| dir.join(f).is_file());
        if base.is_empty() || !has_file {
            continue;
        }
        let present = ctx
            .store()
            .ok()
            .is_some_and(|s| crate::engine::image::lookup(&s, &c.image).is_ok());
        if present && opts.build != Some(true) {
            continue;
        }
        let bo = crate::engine::build::BuildOptions {
            dockerfile: crate::engine::build::DockerfileSource::InContext(None),
            context: crate::engine::build::ContextSource::Dir(dir),
            tags: vec![c.image.clone()],
            build_args: BTreeMap::new(),
            target: None,
            labels: BTreeMap::new(),
            identity_label: true,
            annotations: BTreeMap::new(),
            squash: false,
            squash_all: false,
            format: crate::engine::container::CommitFormat::Oci,
            quiet: false,
            secrets: BTreeMap::new(),
            timestamp: None,
            no_cache: false,
            layers: true,
            pull: crate::engine::image::PullPolicy::Missing,
            network: None,
            tls_verify: opts.tls_verify,
            ulimits: Vec::new(),
            ignore: None,
            seccomp: None,
            no_new_privileges: false,
            env: Vec::new(),
            dns: Vec::new(),
            dns_search: Vec::new(),
            dns_options: Vec::new(),
            group_add: Vec::new(),
            volumes: Vec::new(),
            retry: crate::engine::image::Retry::default(),
        };
        crate::engine::build::build(ctx, bo, progress)?;
    }
    Ok(())
}

fn io(op: &'static str, path: &Path, source: std::io::Error) -> EngineError {
    KubeError::Io {
        op,
        path: path.to_path_buf(),
        source,
    }
    .into()
}

/// The pod's network: `--network`, or host with hostNetwork; its published ports are every
/// container's hostPort, each replaced by the `--publish` of the same container port (and
/// protocol), and the other `--publish`es.
fn pod_network(
    opts: &PlayOptions,
    name: &str,
    spec: &PodSpec,
) -> Result<NetworkRequest, EngineError> {
    let mut publish = Vec::new();
    for p in spec.containers.iter().flat_map(|c| &c.ports) {
        let Some(hp) = p.host_port else { continue };
        let proto = p.protocol.as_deref().unwrap_or("TCP").to_ascii_lowercase();
        let ip = p
            .host_ip
            .as_deref()
            .filter(|i| !i.is_empty())
            .map(|i| format!("{i}:"))
            .unwrap_or_default();
        let spec_text = format!("{ip}{hp}:{}/{proto}", p.container_port);
        publish.extend(crate::network::parse_publish(&spec_text).map_err(|e| {
            KubeError::Invalid {
                object: format!("pod `{name}`"),
                field: "ports".into(),
                value: spec_text.clone(),
                why: e.to_string(),
            }
        })?);
    }
    publish.retain(|p| !opts.publish.iter().any(|o| covers(o, p)));
    publish.extend(opts.publish.iter().cloned());
    let mode = if spec.host_network == Some(true) && opts.network.is_empty() {
        "host".to_string()
    } else {
        opts.network.clone()
    };
    Ok(NetworkRequest {
        mode,
        publish,
        ..Default::default()
    })
}

/// Whether `--publish` mapping `o` is for the container port (and protocol) of `p`.
fn covers(o: &PortMapping, p: &PortMapping) -> bool {
    let start = u32::from(o.container_port);
    let end = start + u32::from(o.range.max(1));
    o.protocol == p.protocol && (start..end).contains(&u32::from(p.container_port))
}

fn play_pod(
    ctx: &Ctx,
    opts: &PlayOptions,
    pod: &PodToPlay,
    sources: &Sources,
    pull: &dyn PullProgress,
) -> Result<PlayedPod, EngineError> {
    let (name, labels, spec) = (pod.def.name.as_str(), &pod.def.labels, &pod.def.spec);
    let pod_opts = CreatePodOptions {
        name: Some(name.to_string()),
        labels: labels.clone(),
        hostname: spec.hostname.clone(),
        infra: true,
        net: pod_network(opts, name, spec)?,
        networks: opts.networks.clone(),
        create_command: vec!["kube".into(), "play".into(), opts.source_name.clone()],
        tls_verify: opts.tls_verify,
        service_container: pod.service.map(str::to_string),
        userns: opts.userns.clone(),
        ..Default::default()
    };
    let record = crate::engine::pod::create(ctx, &pod_opts, pull)?;
    let made = fill_pod(ctx, opts, &record, pod.def, sources, pull);
    if made.is_err()
        && let Ok(pod) = crate::engine::pod::find(ctx, &record.id)
    {
        let _ = crate::engine::pod::remove(ctx, &pod, true, Some(0));
    }
    made
}

fn fill_pod(
    ctx: &Ctx,
    opts: &PlayOptions,
    record: &crate::engine::pod::PodRecord,
    def: &PodDef,
    sources: &Sources,
    pull: &dyn PullProgress,
) -> Result<PlayedPod, EngineError> {
    let spec = &def.spec;
    let files = super::pod_files(ctx, &record.id);
    let volumes = prepare_volumes(ctx, &record.name, &files, &spec.volumes, sources)?;
    let pc = PodContext {
        pod_name: &record.name,
        pod_id: &record.id,
        spec,
        annotations: &def.annotations,
        labels: unit_label(opts),
        sources,
        volumes: &volumes,
        tls_verify: opts.tls_verify,
        log_driver: opts.log_driver.clone(),
        log_opts: opts.log_opts.clone(),
        userns: UsernsRequest {
            mode: None,
            uidmap: Vec::new(),
            gidmap: Vec::new(),
            ..opts.userns.clone()
        },
    };
    let mut containers = Vec::new();
    for c in &spec.containers {
        let o = convert::container_options(ctx, &pc, c)?;
        containers.push(crate::engine::container::create(ctx, &o, pull)?.record.id);
    }
    // The service container (if any) starts once every pod runs (`play`).
    if opts.start {
        let pod = crate::engine::pod::find(ctx, &record.id)?;
        crate::engine::pod::start_containers(ctx, &pod)?;
    }
    Ok(PlayedPod {
        id: record.id.clone(),
        containers,
    })
}

/// A directory only this user can enter (the pod's files), or one anyone may write (emptyDir).
fn make_dir(path: &Path, mode: u32) -> Result<(), EngineError> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(path)
        .map_err(|e| io("create", path, e))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .map_err(|e| io("chmod", path, e))
}

/// Writes a configMap or secret volume's keys (or its `items`) as files.
fn write_keys(
    object: &str,
    dir: &Path,
    data: &BTreeMap<String, Vec<u8>>,
    items: &[super::types::KeyToPath],
    default_mode: Option<u32>,
) -> Result<(), EngineError> {
    make_dir(dir, 0o755)?;
    let chosen: Vec<(String, String, Option<u32>)> = if items.is_empty() {
        data.keys().map(|k| (k.clone(), k.clone(), None)).collect()
    } else {
        items
            .iter()
            .map(|i| (i.key.clone(), i.path.clone(), i.mode))
            .collect()
    };
    for (key, rel, mode) in chosen {
        let bad = rel.is_empty() || rel.starts_with('/') || rel.split('/').any(|p| p == "..");
        if bad {
            return Err(KubeError::Invalid {
                object: object.to_string(),
                field: "items.path".into(),
                value: rel,
                why: "use a relative path without `..`".into(),
            }
            .into());
        }
        let Some(value) = data.get(&key) else {
            return Err(KubeError::MissingKey {
                object: object.to_string(),
                what: "volume source",
                name: object.to_string(),
                key,
            }
            .into());
        };
        let path = dir.join(&rel);
        if let Some(parent) = path.parent() {
            make_dir(parent, 0o755)?;
        }
        let mode = mode.or(default_mode).unwrap_or(0o644) & 0o7777;
        crate::store::write_atomic(&path, value, mode).map_err(|e| io("write", &path, e))?;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode))
            .map_err(|e| io("chmod", &path, e))?;
    }
    Ok(())
}

/// Each pod volume, made ready for the containers' volumeMounts.
fn prepare_volumes(
    ctx: &Ctx,
    pod: &str,
    files: &Path,
    volumes: &[Volume],
    sources: &Sources,
) -> Result<BTreeMap<String, Prepared>, EngineError> {
    make_dir(files, 0o700)?;
    let mut out = BTreeMap::new();
    for v in volumes {
        let object = format!("volume `{}` of pod `{pod}`", v.name);
        let dir = files.join(format!("volume-{}", v.name));
        let set = [
            v.host_path.is_some(),
            v.persistent_volume_claim.is_some(),
            v.config_map.is_some(),
            v.secret.is_some(),
            v.empty_dir.is_some(),
        ];
        if set.iter().filter(|s| **s).count() != 1 {
            return Err(KubeError::Unsupported {
                object,
                field: "volume source".into(),
                why: "give exactly one of hostPath, persistentVolumeClaim, configMap, secret and emptyDir".into(),
            }
            .into());
        }
        let prepared = if let Some(h) = &v.host_path {
            host_path(&object, h)?
        } else if let Some(c) = &v.persistent_volume_claim {
            Prepared::Named {
                name: c.claim_name.clone(),
                read_only: c.read_only.unwrap_or(false),
            }
        } else if let Some(cm) = &v.config_map {
            match sources.config_map(&cm.name) {
                Some(data) => write_keys(&object, &dir, &data, &cm.items, cm.default_mode)?,
                None if cm.optional == Some(true) => make_dir(&dir, 0o755)?,
                None => return Err(convert_missing(&object, "ConfigMap", &cm.name)),
            }
            Prepared::Bind {
                source: dir,
                read_only: true,
            }
        } else if let Some(s) = &v.secret {
            match sources.secret(ctx, &s.secret_name)? {
                Some(data) => write_keys(&object, &dir, &data, &s.items, s.default_mode)?,
                None if s.optional == Some(true) => make_dir(&dir, 0o755)?,
                None => return Err(convert_missing(&object, "Secret", &s.secret_name)),
            }
            Prepared::Bind {
                source: dir,
                read_only: true,
            }
        } else {
            let e = v.empty_dir.as_ref().expect("one source is set");
            if e.medium.as_deref() == Some("Memory") {
                Prepared::Tmpfs
            } else {
                make_dir(&dir, 0o777)?;
                Prepared::Bind {
                    source: dir,
                    read_only: false,
                }
            }
        };
        out.insert(v.name.clone(), prepared);
    }
    Ok(out)
}

fn convert_missing(object: &str, what: &'static str, name: &str) -> EngineError {
    KubeError::Missing {
        object: object.to_string(),
        what,
        name: name.to_string(),
    }
    .into()
}

/// hostPath with podman's supported types: "" (must exist), Directory, DirectoryOrCreate, File,
/// FileOrCreate, Socket.
fn host_path(object: &str, h: &super::types::HostPath) -> Result<Prepared, EngineError> {
    let path = PathBuf::from(&h.path);
    let invalid = |why: &str| -> EngineError {
        KubeError::Invalid {
            object: object.to_string(),
            field: "hostPath".into(),
            value: h.path.clone(),
            why: why.to_string(),
        }
        .into()
    };
    if !path.is_absolute() {
        return Err(invalid("it must be an absolute path"));
    }
    let kind = h.kind.as_deref().unwrap_or("");
    match kind {
        "DirectoryOrCreate" => make_dir(&path, 0o755)?,
        "FileOrCreate" if !path.exists() => {
            std::fs::File::create(&path).map_err(|e| io("create", &path, e))?;
        }
        "" | "Directory" | "File" | "Socket" | "FileOrCreate" => {}
        other => {
            return Err(KubeError::Unsupported {
                object: object.to_string(),
                field: format!("hostPath type `{other}`"),
                why: "use Directory, DirectoryOrCreate, File, FileOrCreate or Socket".into(),
            }
            .into());
        }
    }
    let meta = std::fs::metadata(&path).map_err(|_| invalid("it does not exist"))?;
    let ok = match kind {
        "Directory" | "DirectoryOrCreate" => meta.is_dir(),
        "File" | "FileOrCreate" => meta.is_file(),
        "Socket" => std::os::unix::fs::FileTypeExt::is_socket(&meta.file_type()),
        _ => true,
    };
    if !ok {
        return Err(invalid(&format!("it is not of type {kind}")));
    }
    Ok(Prepared::Bind {
        source: path,
        read_only: false,
    })
}
