//! One Quadlet file → one service, following podman's quadlet (`pkg/systemd/quadlet`): the same
//! keys, the same roost command lines as podman's, the same `[Unit]`/`[Service]` additions.
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::unit::{UnitFile, command_line};
use super::{Generated, QuadletError, Settings, Source, UnitInfo};

mod keys;
mod others;

use keys::*;

/// The label `auto-update` looks for.
pub const AUTOUPDATE_LABEL: &str = "io.containers.autoupdate";

/// The Quadlet group of a file type, its name once renamed in the service, and its keys.
pub(super) struct Kind {
    pub group: &'static str,
    pub x_group: &'static str,
    pub keys: &'static [&'static str],
    /// Added to the file's stem to name the service (`data.volume` → `data-volume.service`).
    pub service_suffix: &'static str,
}

pub(super) fn kind(ext: &str) -> Kind {
    let k = |group, x_group, keys, service_suffix| Kind {
        group,
        x_group,
        keys,
        service_suffix,
    };
    match ext {
        "container" => k("Container", "X-Container", CONTAINER_KEYS, ""),
        "volume" => k("Volume", "X-Volume", VOLUME_KEYS, "-volume"),
        "network" => k("Network", "X-Network", NETWORK_KEYS, "-network"),
        "pod" => k("Pod", "X-Pod", POD_KEYS, "-pod"),
        "kube" => k("Kube", "X-Kube", KUBE_KEYS, ""),
        "image" => k("Image", "X-Image", IMAGE_KEYS, "-image"),
        _ => k("Build", "X-Build", BUILD_KEYS, "-build"),
    }
}

/// The service and resource names of `s`, known before any file is converted.
pub fn unit_info(s: &Source, u: &UnitFile) -> UnitInfo {
    let k = kind(s.extension());
    let service = u
        .get(k.group, "ServiceName")
        .map(str::to_string)
        .unwrap_or_else(|| format!("{}{}", s.stem(), k.service_suffix));
    let named = |key| {
        u.get(k.group, key)
            .map(str::to_string)
            .unwrap_or_else(|| format!("systemd-{}", s.stem()))
    };
    let resource = match s.extension() {
        "volume" => named("VolumeName"),
        "network" => named("NetworkName"),
        "pod" => named("PodName"),
        "container" => {
            let name = container_name(s, u);
            let r = name.replace("%N", &service);
            if r.contains('%') { String::new() } else { r }
        }
        "image" => u
            .get(k.group, "ImageTag")
            .or(u.get(k.group, "Image"))
            .unwrap_or_default()
            .to_string(),
        "build" => u
            .all(k.group, "ImageTag")
            .first()
            .map(|t| t.to_string())
            .unwrap_or_default(),
        _ => String::new(),
    };
    UnitInfo {
        service,
        resource,
        pod_members: Vec::new(),
    }
}

/// `ContainerName=`, or `systemd-%N` (`systemd-%p_%i` for a template).
fn container_name(s: &Source, u: &UnitFile) -> String {
    match u.get("Container", "ContainerName") {
        Some(n) => n.to_string(),
        None if s.name.contains('@') => "systemd-%p_%i".into(),
        None => "systemd-%N".into(),
    }
}

/// A roost command line being built.
pub(super) struct Cmd(pub Vec<String>);

impl Cmd {
    /// `roost [GlobalArgs…]`.
    pub fn new(settings: &Settings, u: &UnitFile, group: &str) -> Result<Cmd, QuadletError> {
        // podman's `--module` global flag: roost reads no containers.conf modules (refused here
        // rather than a unit whose every command fails on an unknown flag).
        if !u.all(group, "ContainersConfModule").is_empty() {
            return Err(value_error(
                u,
                group,
                "ContainersConfModule",
                "roost does not load containers.conf modules: put the settings in a file and set `Environment=CONTAINERS_CONF_OVERRIDE=FILE` in [Service]",
            ));
        }
        let mut c = Cmd(vec![settings.roost.clone()]);
        c.add(u.all_words(group, "GlobalArgs")?);
        Ok(c)
    }

    pub fn add<S: Into<String>>(&mut self, words: impl IntoIterator<Item = S>) -> &mut Self {
        self.0.extend(words.into_iter().map(Into::into));
        self
    }

    /// `FLAG VALUE` for the last value of each key that is set.
    pub fn strings(&mut self, u: &UnitFile, group: &str, keys: &[(&str, &str)]) {
        for (key, flag) in keys {
            if let Some(v) = u.get(group, key) {
                self.add([*flag, v]);
            }
        }
    }

    /// `FLAG VALUE` for every value of each key.
    pub fn all_strings(&mut self, u: &UnitFile, group: &str, keys: &[(&str, &str)]) {
        for (key, flag) in keys {
            for v in u.all(group, key) {
                self.add([*flag, v]);
            }
        }
    }

    /// `FLAG` (or `FLAG=false`) for each boolean key that is set.
    pub fn bools(
        &mut self,
        u: &UnitFile,
        group: &str,
        keys: &[(&str, &str)],
    ) -> Result<(), QuadletError> {
        for (key, flag) in keys {
            match u.bool(group, key)? {
                Some(true) => self.add([*flag]),
                Some(false) => self.add([format!("{flag}=false")]),
                None => self,
            };
        }
        Ok(())
    }

    /// `FLAG KEY=VALUE` for every word of each key (`Environment=A=1 "B=x y"`).
    pub fn key_values(
        &mut self,
        u: &UnitFile,
        group: &str,
        keys: &[(&str, &str)],
    ) -> Result<(), QuadletError> {
        for (key, flag) in keys {
            for w in u.all_words(group, key)? {
                self.add([flag.to_string(), w]);
            }
        }
        Ok(())
    }

    /// `PodmanArgs=`, split into words.
    pub fn podman_args(&mut self, u: &UnitFile, group: &str) -> Result<(), QuadletError> {
        self.add(u.all_words(group, "PodmanArgs")?);
        Ok(())
    }

    pub fn line(&self) -> String {
        command_line(&self.0)
    }

    /// The line with systemd's `-` prefix (a failure is ignored).
    pub fn line_ignoring_failure(&self) -> String {
        format!("-{}", self.line())
    }
}

/// Convert `s` (parsed as `u`) into its service.
pub fn convert(
    s: &Source,
    u: &UnitFile,
    settings: &Settings,
    infos: &mut BTreeMap<String, UnitInfo>,
) -> Result<Generated, QuadletError> {
    let k = kind(s.extension());
    let info = infos.get(&s.name).cloned().unwrap_or_default();
    let mut service = init_service(s, u, &k, settings, infos)?;
    match s.extension() {
        "container" => container(s, u, settings, infos, &mut service, &info)?,
        "volume" => others::volume(u, settings, &mut service, &info)?,
        "network" => others::network(u, settings, &mut service, &info)?,
        "pod" => others::pod(s, u, settings, infos, &mut service, &info)?,
        "kube" => others::kube(s, u, settings, infos, &mut service)?,
        "image" => others::image(u, settings, &mut service)?,
        _ => others::build(s, u, settings, infos, &mut service, &info)?,
    }
    let links = install_links(u, &info.service_file())?;
    Ok(Generated {
        service: info.service_file(),
        source: s.path.clone(),
        text: format!(
            "# Automatically generated by roost quadlet from {}\n#\n{}",
            s.path.display(),
            service.render()
        ),
        links,
    })
}

/// The user units' stand-in for the system's network-online.target (see `init_service`).
pub(super) const USER_WAIT_NETWORK_ONLINE: &str = "roost-user-wait-network-online.service";

/// The helper unit user units wait for: it waits while the system manager has a start job for
/// network-online.target (at boot, with lingering). Unlike a plain wait for the target to be active,
/// it never hangs where nothing pulls the target in, or where the system bus is out of reach.
pub(super) fn user_wait_network_online() -> Generated {
    let text = format!(
        "{}\n#\n[Unit]\nDescription=Wait for the system's network-online.target (roost Quadlet user units)\n\n\
         [Service]\nType=oneshot\nRemainAfterExit=yes\nTimeoutStartSec=90\n\
         ExecStart=/bin/sh -c 'while ! systemctl is-active -q network-online.target && systemctl list-jobs --no-legend network-online.target 2>/dev/null | grep -q .; do sleep 0.5; done'\n",
        super::manage::MARKER
    );
    Generated {
        service: USER_WAIT_NETWORK_ONLINE.to_string(),
        source: PathBuf::new(),
        text,
        links: Vec::new(),
    }
}

/// `[Unit]` dependencies that may name Quadlet files (`After=db.container`).
const UNIT_DEPENDENCY_KEYS: [&str; 16] = [
    "After",
    "Before",
    "Requires",
    "Requisite",
    "Wants",
    "BindsTo",
    "PartOf",
    "Upholds",
    "Conflicts",
    "OnFailure",
    "OnSuccess",
    "PropagatesReloadTo",
    "ReloadPropagatedFrom",
    "PropagatesStopTo",
    "StopPropagatedFrom",
    "JoinsNamespaceOf",
];

/// The service starts as a copy of the file: unknown keys refused, `[Unit]` references translated,
/// `SourcePath=` and `RequiresMountsFor=%t/containers` added, the Quadlet groups renamed `X-…`.
fn init_service(
    s: &Source,
    u: &UnitFile,
    k: &Kind,
    settings: &Settings,
    infos: &BTreeMap<String, UnitInfo>,
) -> Result<UnitFile, QuadletError> {
    check_keys(u, k.group, k.keys)?;
    check_keys(u, "Quadlet", &["DefaultDependencies"])?;
    let mut service = u.clone();
    translate_dependencies(&mut service, infos)?;
    // podman makes units wait for the network (image pulls, published ports): system units for
    // network-online.target; a user manager cannot order against a system unit, so user units wait
    // for a helper service that waits for it (podman's podman-user-wait-network-online.service).
    if u.bool("Quadlet", "DefaultDependencies")?.unwrap_or(true) {
        let target = if settings.user {
            USER_WAIT_NETWORK_ONLINE
        } else {
            "network-online.target"
        };
        let g = service.group_mut("Unit");
        for (key, value) in [("After", target), ("Wants", target)] {
            g.entries.insert(
                0,
                super::unit::Entry {
                    key: key.into(),
                    value: value.into(),
                    file: PathBuf::new(),
                    line: 0,
                },
            );
        }
    }
    service.add("Unit", "SourcePath", &s.path.to_string_lossy());
    service.add("Unit", "RequiresMountsFor", "%t/containers");
    service.rename_group(k.group, k.x_group);
    service.rename_group("Quadlet", "X-Quadlet");
    Ok(service)
}

fn check_keys(
    u: &UnitFile,
    group: &str,
    known: &'static [&'static str],
) -> Result<(), QuadletError> {
    for e in u.group(group).into_iter().flat_map(|g| g.entries.iter()) {
        if !known.contains(&e.key.as_str()) {
            return Err(QuadletError::UnknownKey {
                file: e.file.clone(),
                line: e.line,
                key: e.key.clone(),
                group: group.to_string(),
                known: known.to_vec(),
            });
        }
    }
    Ok(())
}

fn translate_dependencies(
    service: &mut UnitFile,
    infos: &BTreeMap<String, UnitInfo>,
) -> Result<(), QuadletError> {
    let Some(g) = service.groups.iter_mut().find(|g| g.name == "Unit") else {
        return Ok(());
    };
    for e in g
        .entries
        .iter_mut()
        .filter(|e| UNIT_DEPENDENCY_KEYS.contains(&e.key.as_str()))
    {
        let mut words = Vec::new();
        for dep in e.value.split_whitespace() {
            let is_quadlet = dep
                .rsplit_once('.')
                .is_some_and(|(_, ext)| super::EXTENSIONS.contains(&ext));
            if !is_quadlet {
                words.push(dep.to_string());
                continue;
            }
            let info = infos.get(dep).ok_or_else(|| QuadletError::Value {
                file: e.file.clone(),
                line: e.line,
                key: e.key.clone(),
                why: format!("no Quadlet file `{dep}` to depend on"),
            })?;
            words.push(info.service_file());
        }
        e.value = words.join(" ");
    }
    Ok(())
}

/// A reference to another Quadlet file (`data.volume`): its info, and `Requires=`/`After=` on its
/// service.
pub(super) fn depend_on<'a>(
    service: &mut UnitFile,
    infos: &'a BTreeMap<String, UnitInfo>,
    name: &str,
    what: &str,
    u: &UnitFile,
    group: &str,
    key: &str,
) -> Result<&'a UnitInfo, QuadletError> {
    let info = infos.get(name).ok_or_else(|| {
        value_error(
            u,
            group,
            key,
            &format!("requested Quadlet {what} `{name}` was not found"),
        )
    })?;
    service.add("Unit", "Requires", &info.service_file());
    service.add("Unit", "After", &info.service_file());
    Ok(info)
}

/// An error about `key` (at its last line), or about the file when it has no such key.
pub(super) fn value_error(u: &UnitFile, group: &str, key: &str, why: &str) -> QuadletError {
    match u.last_entry(group, key) {
        Some(e) => u.bad_value(e, why),
        None => QuadletError::Unit {
            file: u
                .groups
                .iter()
                .flat_map(|g| g.entries.first())
                .map(|e| e.file.clone())
                .next()
                .unwrap_or_default(),
            why: why.to_string(),
        },
    }
}

/// A path relative to the Quadlet file's directory (left alone when it starts with a specifier).
pub(super) fn absolute(s: &Source, path: &str) -> String {
    if path.starts_with('/') || (path.starts_with('%') && !path.starts_with("%%")) {
        return path.to_string();
    }
    let dir = s.path.parent().unwrap_or(Path::new("/"));
    let joined = dir.join(path);
    // `./x` and `x` alike: drop `.` components.
    joined
        .components()
        .filter(|c| !matches!(c, std::path::Component::CurDir))
        .collect::<PathBuf>()
        .to_string_lossy()
        .into_owned()
}

/// `[Install]`: the symlinks `systemctl enable` would make (a generated unit cannot be enabled).
fn install_links(u: &UnitFile, service: &str) -> Result<Vec<PathBuf>, QuadletError> {
    let mut links = Vec::new();
    let instance = match service.split_once("@.") {
        Some((base, ext)) => match u.get("Install", "DefaultInstance") {
            Some(i) => Some(format!("{base}@{i}.{ext}")),
            // A template without a default instance is enabled per instance by the user.
            None => return Ok(links),
        },
        None => None,
    };
    let name = instance.as_deref().unwrap_or(service);
    for (key, dir) in [
        ("WantedBy", "wants"),
        ("RequiredBy", "requires"),
        ("UpheldBy", "upholds"),
    ] {
        for target in u.all_words("Install", key)? {
            links.push(PathBuf::from(format!("{target}.{dir}")).join(name));
        }
    }
    for alias in u.all_words("Install", "Alias")? {
        links.push(PathBuf::from(alias));
    }
    Ok(links)
}

/// `.container`: `roost run --name … --replace --rm --cgroups=split --sdnotify=conmon -d … IMAGE`.
fn container(
    s: &Source,
    u: &UnitFile,
    settings: &Settings,
    infos: &mut BTreeMap<String, UnitInfo>,
    service: &mut UnitFile,
    info: &UnitInfo,
) -> Result<(), QuadletError> {
    const G: &str = "Container";
    let image = u.get(G, "Image");
    let rootfs = u.get(G, "Rootfs");
    let image = match (image, rootfs) {
        (None, None) => {
            return Err(QuadletError::Unit {
                file: s.path.clone(),
                why: "no Image or Rootfs key specified".into(),
            });
        }
        (Some(_), Some(_)) => {
            return Err(value_error(
                u,
                G,
                "Rootfs",
                "Image and Rootfs cannot be set together",
            ));
        }
        (Some(i), None) => Some(image_source(u, G, i, service, infos)?),
        (None, Some(_)) => None,
    };
    let name = container_name(s, u);
    service.add("Service", "Environment", "PODMAN_SYSTEMD_UNIT=%n");
    kill_mode(u, service)?;
    let mut stop = Cmd::new(settings, u, G)?;
    stop.add(["rm", "-v", "-f", "-i", name.as_str()]);
    service.add("Service", "ExecStop", &stop.line());
    // When the main process (the monitor) is killed, only the *Post commands run.
    service.add("Service", "ExecStopPost", &stop.line_ignoring_failure());
    reload(u, settings, service, &name)?;

    let mut run = Cmd::new(settings, u, G)?;
    run.add(["run", "--name", name.as_str(), "--replace", "--rm"]);
    log_flags(u, G, &mut run);
    service.add("Service", "Delegate", "yes");
    match u.get(G, "CgroupsMode") {
        Some(m) => run.add(["--cgroups", m]),
        None => run.add(["--cgroups=split"]),
    };
    run.strings(u, G, CONTAINER_STRING_FLAGS);
    run.all_strings(u, G, CONTAINER_LIST_FLAGS);
    run.bools(u, G, CONTAINER_BOOL_FLAGS)?;
    networks(u, G, service, infos, &mut run)?;
    notify(u, service, &mut run)?;
    if !u.has("Service", "SyslogIdentifier") {
        service.set("Service", "SyslogIdentifier", "%N");
    }
    security(u, &mut run)?;
    user(u, G, &mut run)?;
    user_mappings(u, G, &mut run);
    volumes(s, u, G, service, infos, &mut run)?;
    if let Some(a) = u.get(G, "AutoUpdate") {
        run.add(["--label".to_string(), format!("{AUTOUPDATE_LABEL}={a}")]);
    }
    for p in u.all(G, "ExposeHostPort") {
        run.add(["--expose", p.trim()]);
    }
    for p in u.all(G, "PublishPort") {
        run.add(["--publish", p]);
    }
    run.key_values(
        u,
        G,
        &[
            ("Environment", "--env"),
            ("Label", "--label"),
            ("Annotation", "--annotation"),
        ],
    )?;
    for m in u.all_words(G, "Mask")? {
        run.add(["--security-opt".to_string(), format!("mask={m}")]);
    }
    for m in u.all_words(G, "Unmask")? {
        run.add(["--security-opt".to_string(), format!("unmask={m}")]);
    }
    for f in u.all_words(G, "EnvironmentFile")? {
        run.add(["--env-file".to_string(), absolute(s, &f)]);
    }
    for secret in u.all_words(G, "Secret")? {
        run.add(["--secret".to_string(), secret]);
    }
    for m in u.all(G, "Mount") {
        let m = mount(s, u, m, service, infos)?;
        run.add(["--mount".to_string(), m]);
    }
    health(u, G, &mut run);
    pod(u, G, service, infos, &mut run, info)?;
    run.podman_args(u, G)?;
    match image {
        Some(i) => run.add([i]),
        None => run.add(["--rootfs", rootfs.unwrap_or_default()]),
    };
    if let Some(exec) = u.last_words(G, "Exec")? {
        run.add(exec);
    }
    service.add("Service", "ExecStart", &run.line());
    Ok(())
}

/// `Image=` naming a `.image` or `.build` file: its image, after its service.
pub(super) fn image_source(
    u: &UnitFile,
    group: &str,
    image: &str,
    service: &mut UnitFile,
    infos: &BTreeMap<String, UnitInfo>,
) -> Result<String, QuadletError> {
    if image.ends_with(".image") || image.ends_with(".build") {
        let info = depend_on(service, infos, image, "image", u, group, "Image")?;
        return Ok(info.resource.clone());
    }
    Ok(image.to_string())
}

/// Only `mixed` (the default) and `control-group` let roost stop the container itself.
pub(super) fn kill_mode(u: &UnitFile, service: &mut UnitFile) -> Result<(), QuadletError> {
    match u.last("Service", "KillMode") {
        None => {
            service.set("Service", "KillMode", "mixed");
            Ok(())
        }
        Some("mixed" | "control-group") => Ok(()),
        Some(other) => Err(value_error(
            u,
            "Service",
            "KillMode",
            &format!("invalid KillMode `{other}`: use mixed or control-group"),
        )),
    }
}

fn reload(
    u: &UnitFile,
    settings: &Settings,
    service: &mut UnitFile,
    name: &str,
) -> Result<(), QuadletError> {
    const G: &str = "Container";
    let signal = u.get(G, "ReloadSignal");
    let cmd = u.last_words(G, "ReloadCmd")?;
    let mut reload = Cmd::new(settings, u, G)?;
    match (cmd, signal) {
        (None, None) => return Ok(()),
        (Some(_), Some(_)) => {
            return Err(value_error(
                u,
                G,
                "ReloadSignal",
                "ReloadCmd and ReloadSignal are mutually exclusive but both are set",
            ));
        }
        (Some(cmd), None) => reload.add(["exec".to_string(), name.to_string()]).add(cmd),
        (None, Some(sig)) => reload.add(["kill", "--signal", sig, name]),
    };
    service.add("Service", "ExecReload", &reload.line());
    Ok(())
}

pub(super) fn log_flags(u: &UnitFile, group: &str, run: &mut Cmd) {
    if let Some(d) = u.get(group, "LogDriver") {
        run.add(["--log-driver", d]);
    }
    for o in u.all(group, "LogOpt") {
        run.add(["--log-opt", o]);
    }
}

/// `Type=notify` (roost's monitor tells systemd when the container runs) unless `Type=oneshot`.
fn notify(u: &UnitFile, service: &mut UnitFile, run: &mut Cmd) -> Result<(), QuadletError> {
    let ty = u.last("Service", "Type");
    if let Some(t) = ty.filter(|t| *t != "notify" && *t != "oneshot") {
        return Err(value_error(
            u,
            "Service",
            "Type",
            &format!("invalid service Type `{t}`: use notify (the default) or oneshot"),
        ));
    }
    if ty == Some("oneshot") {
        return Ok(());
    }
    let mode = match u.get("Container", "Notify") {
        Some(n) if n.eq_ignore_ascii_case("healthy") => "healthy",
        _ if u.bool("Container", "Notify")? == Some(true) => "container",
        _ => "conmon",
    };
    run.add([format!("--sdnotify={mode}")]);
    service.set("Service", "Type", "notify");
    service.set("Service", "NotifyAccess", "all");
    // Detached: roost's monitor stays (systemd's main process), the command returns.
    run.add(["-d"]);
    Ok(())
}

fn security(u: &UnitFile, run: &mut Cmd) -> Result<(), QuadletError> {
    const G: &str = "Container";
    if u.bool(G, "NoNewPrivileges")? == Some(true) {
        run.add(["--security-opt=no-new-privileges"]);
    }
    if u.bool(G, "SecurityLabelDisable")? == Some(true) {
        run.add(["--security-opt", "label=disable"]);
    }
    if u.bool(G, "SecurityLabelNested")? == Some(true) {
        run.add(["--security-opt", "label=nested"]);
    }
    for (key, opt) in [
        ("SecurityLabelType", "type"),
        ("SecurityLabelFileType", "filetype"),
        ("SecurityLabelLevel", "level"),
    ] {
        if let Some(v) = u.get(G, key) {
            run.add(["--security-opt".to_string(), format!("label={opt}:{v}")]);
        }
    }
    for d in u.all_words(G, "AddDevice")? {
        // `-/dev/x`: only if it exists.
        match d.strip_prefix('-') {
            Some(dev) => {
                let path = dev.split(':').next().unwrap_or(dev);
                if Path::new(path).exists() {
                    run.add(["--device", dev]);
                }
            }
            None => {
                run.add(["--device".to_string(), d]);
            }
        }
    }
    if let Some(p) = u.last(G, "SeccompProfile") {
        run.add(["--security-opt".to_string(), format!("seccomp={p}")]);
    }
    for c in u.all_words(G, "DropCapability")? {
        run.add(["--cap-drop".to_string(), c.to_lowercase()]);
    }
    for c in u.all_words(G, "AddCapability")? {
        run.add(["--cap-add".to_string(), c.to_lowercase()]);
    }
    for s in u.all_words(G, "Sysctl")? {
        run.add(["--sysctl".to_string(), s]);
    }
    let read_only = u.bool(G, "ReadOnly")?;
    match read_only {
        Some(true) => run.add(["--read-only"]),
        Some(false) => run.add(["--read-only=false"]),
        None => run,
    };
    if u.bool(G, "VolatileTmp")? == Some(true) && read_only != Some(true) {
        run.add(["--tmpfs", "/tmp:rw,size=512M,mode=1777"]);
    }
    Ok(())
}

pub(super) fn user(u: &UnitFile, group: &str, run: &mut Cmd) -> Result<(), QuadletError> {
    match (u.get(group, "User"), u.get(group, "Group")) {
        (None, None) => {}
        (None, Some(_)) => return Err(value_error(u, group, "Group", "Group set without User")),
        (Some(user), None) => {
            run.add(["--user", user]);
        }
        (Some(user), Some(g)) => {
            run.add(["--user".to_string(), format!("{user}:{g}")]);
        }
    }
    Ok(())
}

pub(super) fn user_mappings(u: &UnitFile, group: &str, run: &mut Cmd) {
    if let Some(n) = u.get(group, "UserNS") {
        run.add(["--userns", n]);
    }
    for m in u.all(group, "UIDMap") {
        run.add(["--uidmap", m]);
    }
    for m in u.all(group, "GIDMap") {
        run.add(["--gidmap", m]);
    }
    if let Some(n) = u.get(group, "SubUIDMap") {
        run.add(["--subuidname", n]);
    }
    if let Some(n) = u.get(group, "SubGIDMap") {
        run.add(["--subgidname", n]);
    }
}

/// `Network=`: a mode or network name, `NAME.network[:OPTS]` (its network, after its service) or
/// `NAME.container` (that container's network namespace).
pub(super) fn networks(
    u: &UnitFile,
    group: &str,
    service: &mut UnitFile,
    infos: &BTreeMap<String, UnitInfo>,
    run: &mut Cmd,
) -> Result<(), QuadletError> {
    for n in u.all(group, "Network") {
        let (name, opts) = match n.split_once(':') {
            Some((name, opts)) => (name, Some(opts)),
            None => (n, None),
        };
        let is_network = name.ends_with(".network");
        let is_container = name.ends_with(".container");
        if !is_network && !is_container {
            run.add(["--network", n]);
            continue;
        }
        let info = depend_on(service, infos, name, "unit", u, group, "Network")?;
        if info.resource.is_empty() {
            return Err(value_error(
                u,
                group,
                "Network",
                &format!("cannot get the resource name of `{name}`"),
            ));
        }
        let value = match (is_container, opts) {
            (true, Some(_)) => {
                return Err(value_error(
                    u,
                    group,
                    "Network",
                    "extra options are not supported when joining another container's network",
                ));
            }
            (true, None) => format!("container:{}", info.resource),
            (false, Some(o)) => format!("{}:{o}", info.resource),
            (false, None) => info.resource.clone(),
        };
        run.add(["--network".to_string(), value]);
    }
    Ok(())
}

/// `Volume=SRC:DEST[:OPTS]`: `SRC` is a volume name, a path (`./x` relative to the file), or
/// `NAME.volume` (its volume, after its service).
pub(super) fn volumes(
    s: &Source,
    u: &UnitFile,
    group: &str,
    service: &mut UnitFile,
    infos: &BTreeMap<String, UnitInfo>,
    run: &mut Cmd,
) -> Result<(), QuadletError> {
    for v in u.all(group, "Volume") {
        let parts: Vec<&str> = v.splitn(3, ':').collect();
        let arg = match parts.as_slice() {
            [dest] => dest.to_string(),
            [src, rest @ ..] => {
                let src = storage_source(s, u, group, "Volume", src, service, infos, false)?;
                format!("{src}:{}", rest.join(":"))
            }
            [] => continue,
        };
        run.add(["-v".to_string(), arg]);
    }
    Ok(())
}

/// A volume or bind source: a path (made absolute, and a `RequiresMountsFor=`), a `.volume` (or with
/// `images`, a `.image`) reference, or a volume name.
#[allow(clippy::too_many_arguments)]
fn storage_source(
    s: &Source,
    u: &UnitFile,
    group: &str,
    key: &str,
    source: &str,
    service: &mut UnitFile,
    infos: &BTreeMap<String, UnitInfo>,
    images: bool,
) -> Result<String, QuadletError> {
    let source = if source.starts_with('.') {
        absolute(s, source)
    } else {
        source.to_string()
    };
    if source.starts_with('/') {
        service.add("Unit", "RequiresMountsFor", &source);
        return Ok(source);
    }
    if source.ends_with(".volume") || (images && source.ends_with(".image")) {
        let info = depend_on(service, infos, &source, "source", u, group, key)?;
        return Ok(info.resource.clone());
    }
    Ok(source)
}

/// `Mount=type=volume,source=data.volume,…`: the source resolved like `Volume=`.
fn mount(
    s: &Source,
    u: &UnitFile,
    m: &str,
    service: &mut UnitFile,
    infos: &BTreeMap<String, UnitInfo>,
) -> Result<String, QuadletError> {
    let tokens: Vec<&str> = m.split(',').collect();
    let kind = tokens
        .iter()
        .find_map(|t| t.strip_prefix("type="))
        .unwrap_or("volume");
    if !matches!(kind, "volume" | "bind" | "glob" | "image") {
        return Ok(m.to_string());
    }
    let mut out = Vec::new();
    for t in tokens {
        match t.split_once('=') {
            Some(("source" | "src", v)) => {
                let src = storage_source(s, u, "Container", "Mount", v, service, infos, true)?;
                out.push(format!("source={src}"));
            }
            _ => out.push(t.to_string()),
        }
    }
    Ok(out.join(","))
}

fn health(u: &UnitFile, group: &str, run: &mut Cmd) {
    for (key, flag) in HEALTH_FLAGS {
        if let Some(v) = u.get(group, key) {
            run.add([*flag, v]);
        }
    }
}

/// `Pod=NAME.pod`: the pod's name, bound to the pod's service (which starts this one with it,
/// unless `StartWithPod=no`).
fn pod(
    u: &UnitFile,
    group: &str,
    service: &mut UnitFile,
    infos: &mut BTreeMap<String, UnitInfo>,
    run: &mut Cmd,
    info: &UnitInfo,
) -> Result<(), QuadletError> {
    let Some(pod) = u.get(group, "Pod") else {
        return Ok(());
    };
    if !pod.ends_with(".pod") {
        return Err(value_error(
            u,
            group,
            "Pod",
            &format!("pod `{pod}` is not Quadlet based: name a `.pod` file"),
        ));
    }
    let start_with_pod = u.bool(group, "StartWithPod")?.unwrap_or(true);
    let p = infos.get_mut(pod).ok_or_else(|| {
        value_error(
            u,
            group,
            "Pod",
            &format!("Quadlet pod unit `{pod}` does not exist"),
        )
    })?;
    run.add(["--pod", p.resource.as_str()]);
    service.add("Unit", "BindsTo", &p.service_file());
    service.add("Unit", "After", &p.service_file());
    if start_with_pod {
        p.pod_members.push(info.service_file());
    }
    Ok(())
}

#[cfg(test)]
mod tests;
