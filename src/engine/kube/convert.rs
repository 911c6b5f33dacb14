//! One Kubernetes container → roost's container options: command and args, environment (values,
//! configMapKeyRef/secretKeyRef, envFrom), working directory, securityContext, resources.limits,
//! restartPolicy and volume mounts (prepared per pod by `play`).
use std::collections::BTreeMap;
use std::path::PathBuf;

use super::KubeError;
use super::types::{Container, PodSpec, Quantity, SecurityContext};
use crate::engine::container::{CreateOptions, Mount, MountKind};
use crate::engine::{Ctx, EngineError};

/// The ConfigMaps and Secrets a pod's containers can refer to: those in the YAML, then (Secrets)
/// roost secrets holding a JSON object of keys, as `kube play` stores them.
#[derive(Debug, Default)]
pub struct Sources {
    pub config_maps: BTreeMap<String, BTreeMap<String, Vec<u8>>>,
    pub secrets: BTreeMap<String, BTreeMap<String, Vec<u8>>>,
}

impl Sources {
    pub fn config_map(&self, name: &str) -> Option<BTreeMap<String, Vec<u8>>> {
        self.config_maps.get(name).cloned()
    }

    pub fn secret(
        &self,
        ctx: &Ctx,
        name: &str,
    ) -> Result<Option<BTreeMap<String, Vec<u8>>>, EngineError> {
        if let Some(s) = self.secrets.get(name) {
            return Ok(Some(s.clone()));
        }
        let record = match crate::engine::secret::find(ctx, name) {
            Ok(r) => r,
            Err(EngineError::Secret(crate::engine::secret::SecretError::NoSuchSecret(_))) => {
                return Ok(None);
            }
            Err(e) => return Err(e),
        };
        let data = crate::engine::secret::data(ctx, &record)?;
        let map: BTreeMap<String, String> = serde_json::from_slice(&data).unwrap_or_default();
        Ok(Some(
            map.into_iter().map(|(k, v)| (k, v.into_bytes())).collect(),
        ))
    }
}

/// What a pod volume became, for its containers' volumeMounts.
#[derive(Debug, Clone)]
pub enum Prepared {
    /// A host directory or file (hostPath, and the pod's own files for configMap, secret, emptyDir).
    Bind { source: PathBuf, read_only: bool },
    /// A named volume (persistentVolumeClaim).
    Named { name: String, read_only: bool },
    /// emptyDir with medium Memory.
    Tmpfs,
}

/// A pod being played: what its containers' options are made from.
pub struct PodContext<'a> {
    pub pod_name: &'a str,
    pub pod_id: &'a str,
    pub spec: &'a PodSpec,
    /// The pod's annotations (with `--annotation`): every container gets them, and podman's
    /// auto-update ones become labels.
    pub annotations: &'a BTreeMap<String, String>,
    /// Labels of every container (`PODMAN_SYSTEMD_UNIT`).
    pub labels: BTreeMap<String, String>,
    pub sources: &'a Sources,
    pub volumes: &'a BTreeMap<String, Prepared>,
    pub tls_verify: Option<bool>,
    /// `--log-driver` and `--log-opt`.
    pub log_driver: Option<String>,
    pub log_opts: crate::engine::container::logs::LogOptions,
    /// The caller's ids (the pod holds the user namespace: no mode here).
    pub userns: crate::engine::container::idmap::UsernsRequest,
}

/// podman's auto-update annotations: `io.containers.autoupdate` (every container of the pod) and
/// `io.containers.autoupdate/NAME` (container NAME, first) become the container's
/// `io.containers.autoupdate` label, which `auto-update` reads.
fn auto_update_labels(
    annotations: &BTreeMap<String, String>,
    container: &str,
    labels: &mut BTreeMap<String, String>,
) {
    let key = crate::engine::systemd::autoupdate::AUTO_UPDATE_LABEL;
    let own = annotations.get(&format!("{key}/{container}"));
    if let Some(v) = own.or_else(|| annotations.get(key)) {
        labels.insert(key.to_string(), v.clone());
    }
}

fn invalid(object: &str, field: &str, value: &str, why: &str) -> EngineError {
    KubeError::Invalid {
        object: object.to_string(),
        field: field.to_string(),
        value: value.to_string(),
        why: why.to_string(),
    }
    .into()
}

/// The options of container `c` of the pod.
pub fn container_options(
    ctx: &Ctx,
    pod: &PodContext,
    c: &Container,
) -> Result<CreateOptions, EngineError> {
    let object = format!("container `{}` of pod `{}`", c.name, pod.pod_name);
    crate::engine::container::validate_name(&c.name).map_err(|_| {
        invalid(
            &object,
            "name",
            &c.name,
            "use letters, digits, `_`, `.` or `-`",
        )
    })?;
    // The pod's runAsUser/runAsGroup apply unless the container sets its own (Kubernetes).
    let pod_security = pod.spec.security_context.clone().unwrap_or_default();
    let per_container_only = pod_security.capabilities.is_some()
        || pod_security.read_only_root_filesystem.is_some()
        || pod_security.privileged.is_some()
        || pod_security.allow_privilege_escalation.is_some();
    if per_container_only {
        return Err(KubeError::Unsupported {
            object: format!("pod `{}`", pod.pod_name),
            field: "spec.securityContext".into(),
            why: "a pod's securityContext takes runAsUser and runAsGroup; set capabilities, readOnlyRootFilesystem, privileged and allowPrivilegeEscalation per container".into(),
        }
        .into());
    }
    let mut security = c.security_context.clone().unwrap_or_default();
    security.run_as_user = security.run_as_user.or(pod_security.run_as_user);
    security.run_as_group = security.run_as_group.or(pod_security.run_as_group);
    let restart = match pod.spec.restart_policy.as_deref() {
        None | Some("Always") => "always",
        Some("OnFailure") => "on-failure",
        Some("Never") => "no",
        Some(other) => {
            return Err(invalid(
                &object,
                "restartPolicy",
                other,
                "use Always, OnFailure or Never",
            ));
        }
    };
    let mut labels = pod.labels.clone();
    auto_update_labels(pod.annotations, &c.name, &mut labels);
    let mut opts = CreateOptions {
        image: c.image.clone(),
        labels,
        annotations: pod.annotations.clone(),
        log_driver: pod.log_driver.clone(),
        log_opts: pod.log_opts.clone(),
        userns: pod.userns.clone(),
        name: Some(format!("{}-{}", pod.pod_name, c.name)),
        entrypoint: (!c.command.is_empty())
            .then(|| serde_json::to_string(&c.command).expect("strings serialize")),
        command: c.args.clone(),
        env: env(ctx, pod, c, &object)?,
        workdir: c.working_dir.clone().filter(|w| !w.is_empty()),
        tty: c.tty,
        interactive: c.stdin,
        restart: Some(crate::engine::container::parse_restart(restart)?),
        stop_timeout: pod.spec.termination_grace_period_seconds,
        mounts: mounts(pod, c, &object)?,
        resources: resources(c, &object)?,
        pod: Some(pod.pod_id.to_string()),
        tls_verify: pod.tls_verify,
        // podman's default for kube containers: a unit's NOTIFY_SOCKET is the service
        // container's (engine::pod::service), never theirs.
        sdnotify: crate::engine::container::sdnotify::SdNotifyMode::Ignore,
        ..CreateOptions::default()
    };
    apply_security(&mut opts, &security);
    Ok(opts)
}

fn apply_security(opts: &mut CreateOptions, s: &SecurityContext) {
    opts.user = match (s.run_as_user, s.run_as_group) {
        (Some(u), Some(g)) => Some(format!("{u}:{g}")),
        (Some(u), None) => Some(u.to_string()),
        (None, Some(g)) => Some(format!("0:{g}")),
        (None, None) => None,
    };
    if let Some(caps) = &s.capabilities {
        opts.cap_add = caps.add.clone();
        opts.cap_drop = caps.drop.clone();
    }
    opts.read_only = s.read_only_root_filesystem.unwrap_or(false);
    opts.privileged = s.privileged.unwrap_or(false);
    opts.no_new_privileges = s.allow_privilege_escalation == Some(false);
}

fn text(object: &str, field: &str, v: &[u8]) -> Result<String, EngineError> {
    String::from_utf8(v.to_vec()).map_err(|_| {
        invalid(
            object,
            field,
            "<binary>",
            "an environment variable must be text",
        )
    })
}

/// `env` (values and key references) after `envFrom`, as Kubernetes orders them.
fn env(
    ctx: &Ctx,
    pod: &PodContext,
    c: &Container,
    object: &str,
) -> Result<Vec<String>, EngineError> {
    let mut out = Vec::new();
    for from in &c.env_from {
        let prefix = from.prefix.clone().unwrap_or_default();
        let (what, r, data) = match (&from.config_map_ref, &from.secret_ref) {
            (Some(r), None) => ("ConfigMap", r, pod.sources.config_map(&r.name)),
            (None, Some(r)) => ("Secret", r, pod.sources.secret(ctx, &r.name)?),
            _ => {
                return Err(invalid(
                    object,
                    "envFrom",
                    "",
                    "each entry needs exactly one of configMapRef and secretRef",
                ));
            }
        };
        let Some(data) = data else {
            if r.optional == Some(true) {
                continue;
            }
            return Err(missing(object, what, &r.name));
        };
        for (k, v) in data {
            out.push(format!("{prefix}{k}={}", text(object, "envFrom", &v)?));
        }
    }
    for e in &c.env {
        let field = format!("env `{}`", e.name);
        let value = match (&e.value, &e.value_from) {
            (_, Some(from)) => match key_ref(ctx, pod, from, object)? {
                Some(v) => text(object, &field, &v)?,
                None => continue,
            },
            (Some(v), None) => v.clone(),
            (None, None) => String::new(),
        };
        out.push(format!("{}={value}", e.name));
    }
    Ok(out)
}

fn missing(object: &str, what: &'static str, name: &str) -> EngineError {
    KubeError::Missing {
        object: object.to_string(),
        what,
        name: name.to_string(),
    }
    .into()
}

/// A configMapKeyRef or secretKeyRef's value (None: optional and absent).
fn key_ref(
    ctx: &Ctx,
    pod: &PodContext,
    from: &super::types::EnvVarSource,
    object: &str,
) -> Result<Option<Vec<u8>>, EngineError> {
    let (what, r, data) = match (&from.config_map_key_ref, &from.secret_key_ref) {
        (Some(r), None) => ("ConfigMap", r, pod.sources.config_map(&r.name)),
        (None, Some(r)) => ("Secret", r, pod.sources.secret(ctx, &r.name)?),
        _ => {
            return Err(KubeError::Unsupported {
                object: object.to_string(),
                field: "valueFrom".into(),
                why: "roost supports exactly one of configMapKeyRef and secretKeyRef (not fieldRef or resourceFieldRef)".into(),
            }
            .into());
        }
    };
    let optional = r.optional == Some(true);
    let Some(data) = data else {
        return if optional {
            Ok(None)
        } else {
            Err(missing(object, what, &r.name))
        };
    };
    match data.get(&r.key) {
        Some(v) => Ok(Some(v.clone())),
        None if optional => Ok(None),
        None => Err(KubeError::MissingKey {
            object: object.to_string(),
            what,
            name: r.name.clone(),
            key: r.key.clone(),
        }
        .into()),
    }
}

fn mounts(pod: &PodContext, c: &Container, object: &str) -> Result<Vec<Mount>, EngineError> {
    let mut out = Vec::new();
    for vm in &c.volume_mounts {
        if vm.sub_path.is_some() {
            return Err(KubeError::Unsupported {
                object: object.to_string(),
                field: format!("volumeMounts `{}` subPath", vm.name),
                why: "roost mounts whole volumes".into(),
            }
            .into());
        }
        if !vm.mount_path.starts_with('/') {
            return Err(invalid(
                object,
                "volumeMounts mountPath",
                &vm.mount_path,
                "it must be an absolute path",
            ));
        }
        let Some(v) = pod.volumes.get(&vm.name) else {
            return Err(missing(object, "volume", &vm.name));
        };
        let ro = vm.read_only.unwrap_or(false);
        let m = match v {
            Prepared::Bind { source, read_only } => {
                let mut m = Mount::new(MountKind::Bind, &source.to_string_lossy(), &vm.mount_path);
                m.read_only = ro || *read_only;
                m
            }
            Prepared::Named { name, read_only } => {
                let mut m = Mount::new(MountKind::Volume, name, &vm.mount_path);
                m.read_only = ro || *read_only;
                m
            }
            Prepared::Tmpfs => {
                let mut m = Mount::new(MountKind::Tmpfs, "", &vm.mount_path);
                m.tmpfs_data = vec!["mode=1777".into()];
                m
            }
        };
        out.push(m);
    }
    Ok(out)
}

/// resources.limits: memory and cpu (the cgroup flags: refused clearly where roost cannot apply
/// them); requests are ignored, as podman does.
fn resources(
    c: &Container,
    object: &str,
) -> Result<crate::runtime::cgroup::Resources, EngineError> {
    let mut r = crate::runtime::cgroup::Resources::default();
    let Some(res) = &c.resources else {
        return Ok(r);
    };
    for (k, q) in &res.limits {
        match k.as_str() {
            "memory" => {
                r.memory = Some(memory(q).ok_or_else(|| {
                    invalid(
                        object,
                        "resources.limits.memory",
                        &q.0,
                        "use e.g. 512Mi or 1G",
                    )
                })?)
            }
            "cpu" => {
                r.nano_cpus = Some(cpu(q).ok_or_else(|| {
                    invalid(object, "resources.limits.cpu", &q.0, "use e.g. 500m or 2")
                })?)
            }
            _ => {
                return Err(KubeError::Unsupported {
                    object: object.to_string(),
                    field: format!("resources.limits.{k}"),
                    why: "roost applies memory and cpu limits".into(),
                }
                .into());
            }
        }
    }
    Ok(r)
}

/// A memory quantity in bytes: `128974848`, `129e6`, `129M`, `123Mi`.
pub fn memory(q: &Quantity) -> Option<i64> {
    let s = q.0.trim();
    let units: [(&str, f64); 12] = [
        ("Ki", 1024f64),
        ("Mi", 1024f64.powi(2)),
        ("Gi", 1024f64.powi(3)),
        ("Ti", 1024f64.powi(4)),
        ("Pi", 1024f64.powi(5)),
        ("Ei", 1024f64.powi(6)),
        ("k", 1e3),
        ("M", 1e6),
        ("G", 1e9),
        ("T", 1e12),
        ("P", 1e15),
        ("E", 1e18),
    ];
    let (num, factor) = units
        .iter()
        .find_map(|(u, f)| s.strip_suffix(u).map(|n| (n, *f)))
        .unwrap_or((s, 1.0));
    let v: f64 = num.parse().ok()?;
    (v > 0.0 && v.is_finite()).then(|| (v * factor).round() as i64)
}

/// A cpu quantity in nano-CPUs: `2`, `0.5`, `500m`.
pub fn cpu(q: &Quantity) -> Option<i64> {
    let s = q.0.trim();
    let v: f64 = match s.strip_suffix('m') {
        Some(milli) => milli.parse::<f64>().ok()? / 1000.0,
        None => s.parse().ok()?,
    };
    (v > 0.0 && v.is_finite()).then(|| (v * 1e9).round() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities() {
        let q = |s: &str| Quantity(s.into());
        assert_eq!(memory(&q("64Mi")), Some(64 << 20));
        assert_eq!(memory(&q("1G")), Some(1_000_000_000));
        assert_eq!(memory(&q("1024")), Some(1024));
        assert_eq!(memory(&q("lots")), None);
        assert_eq!(cpu(&q("500m")), Some(500_000_000));
        assert_eq!(cpu(&q("2")), Some(2_000_000_000));
        assert_eq!(cpu(&q("0")), None);
    }
}
