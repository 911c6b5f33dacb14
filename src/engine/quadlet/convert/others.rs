//! `.volume`, `.network`, `.pod`, `.kube`, `.image` and `.build`.
use std::collections::BTreeMap;

use super::super::unit::UnitFile;
use super::super::{QuadletError, Settings, Source, UnitInfo};
use super::{Cmd, absolute, kill_mode, log_flags, networks, value_error, volumes};

/// Oneshot services (`volume create`, `image pull`, …): `Type=oneshot`, and unless the file says
/// otherwise, `RemainAfterExit=yes` and `SyslogIdentifier=%N`.
fn oneshot(service: &mut UnitFile, remain: bool) {
    if !service.has("Service", "SyslogIdentifier") {
        service.set("Service", "SyslogIdentifier", "%N");
    }
    if !service.has("Service", "Type") {
        service.set("Service", "Type", "oneshot");
    }
    if remain && !service.has("Service", "RemainAfterExit") {
        service.set("Service", "RemainAfterExit", "yes");
    }
}

/// `.volume`: `roost volume create --ignore … systemd-NAME`.
pub fn volume(
    u: &UnitFile,
    settings: &Settings,
    service: &mut UnitFile,
    info: &UnitInfo,
) -> Result<(), QuadletError> {
    const G: &str = "Volume";
    let mut cmd = Cmd::new(settings, u, G)?;
    cmd.add(["volume", "create", "--ignore"]);
    let driver = u.last(G, "Driver");
    if let Some(d) = driver {
        cmd.add(["--driver", d]);
    }
    let mut o = Vec::new();
    // podman's image volumes (Driver=image, Image=): roost's volumes have the local driver only.
    if driver == Some("image") {
        return Err(value_error(
            u,
            G,
            "Driver",
            "Driver=image: roost's volumes have the local driver only (no image volumes)",
        ));
    }
    for (key, opt) in [("User", "uid"), ("Group", "gid")] {
        if let Some(v) = u.last(G, key) {
            let id: u32 = v
                .parse()
                .map_err(|_| value_error(u, G, key, "expected a numeric id"))?;
            o.push(format!("{opt}={id}"));
        }
    }
    match u.bool(G, "Copy")? {
        Some(true) => cmd.add(["--opt", "copy"]),
        Some(false) => cmd.add(["--opt", "nocopy"]),
        None => &mut cmd,
    };
    let device = u.get(G, "Device");
    if let Some(dev) = device {
        cmd.add(["--opt".to_string(), format!("device={dev}")]);
    }
    if let Some(ty) = u.get(G, "Type") {
        let dev =
            device.ok_or_else(|| value_error(u, G, "Type", "Type can't be used without Device"))?;
        cmd.add(["--opt".to_string(), format!("type={ty}")]);
        if ty == "bind" {
            service.add("Unit", "RequiresMountsFor", dev);
        }
    }
    if let Some(opts) = u.get(G, "Options") {
        if device.is_none() {
            return Err(value_error(
                u,
                G,
                "Options",
                "Options can't be used without Device",
            ));
        }
        o.push(opts.to_string());
    }
    if !o.is_empty() {
        cmd.add(["--opt".to_string(), format!("o={}", o.join(","))]);
    }
    cmd.key_values(u, G, &[("Label", "--label")])?;
    cmd.podman_args(u, G)?;
    cmd.add([info.resource.as_str()]);
    service.add("Service", "ExecStart", &cmd.line());
    oneshot(service, true);
    Ok(())
}

/// `.network`: `roost network create --ignore … systemd-NAME`.
pub fn network(
    u: &UnitFile,
    settings: &Settings,
    service: &mut UnitFile,
    info: &UnitInfo,
) -> Result<(), QuadletError> {
    const G: &str = "Network";
    if u.bool(G, "NetworkDeleteOnStop")? == Some(true) {
        let mut rm = Cmd::new(settings, u, G)?;
        rm.add(["network", "rm", info.resource.as_str()]);
        service.add("Service", "ExecStopPost", &rm.line());
    }
    let mut cmd = Cmd::new(settings, u, G)?;
    cmd.add(["network", "create", "--ignore"]);
    cmd.bools(
        u,
        G,
        &[
            ("DisableDNS", "--disable-dns"),
            ("Internal", "--internal"),
            ("IPv6", "--ipv6"),
        ],
    )?;
    cmd.strings(
        u,
        G,
        &[
            ("Driver", "--driver"),
            ("IPAMDriver", "--ipam-driver"),
            ("InterfaceName", "--interface-name"),
        ],
    );
    cmd.all_strings(u, G, &[("DNS", "--dns")]);
    let subnets = u.all(G, "Subnet");
    let gateways = u.all(G, "Gateway");
    let ranges = u.all(G, "IPRange");
    if gateways.len() > subnets.len() {
        return Err(value_error(
            u,
            G,
            "Gateway",
            "cannot set more gateways than subnets",
        ));
    }
    if ranges.len() > subnets.len() {
        return Err(value_error(
            u,
            G,
            "IPRange",
            "cannot set more ranges than subnets",
        ));
    }
    for (i, s) in subnets.iter().enumerate() {
        cmd.add(["--subnet", s]);
        if let Some(g) = gateways.get(i) {
            cmd.add(["--gateway", g]);
        }
        if let Some(r) = ranges.get(i) {
            cmd.add(["--ip-range", r]);
        }
    }
    cmd.key_values(u, G, &[("Options", "--opt"), ("Label", "--label")])?;
    cmd.podman_args(u, G)?;
    cmd.add([info.resource.as_str()]);
    service.add("Service", "ExecStart", &cmd.line());
    oneshot(service, true);
    Ok(())
}

/// `.pod`: the pod is made before its service starts and removed after it stops; the containers
/// that name it (`Pod=`) start with it. roost's pods have no infra monitor pid file for
/// `Type=forking` (podman's layout), so the service is a oneshot that remains active.
pub fn pod(
    s: &Source,
    u: &UnitFile,
    settings: &Settings,
    infos: &BTreeMap<String, UnitInfo>,
    service: &mut UnitFile,
    info: &UnitInfo,
) -> Result<(), QuadletError> {
    const G: &str = "Pod";
    let name = info.resource.as_str();
    for member in &info.pod_members {
        service.add("Unit", "Wants", member);
        service.add("Unit", "Before", member);
    }
    if !service.has("Service", "SyslogIdentifier") {
        service.set("Service", "SyslogIdentifier", "%N");
    }
    let mut rm = Cmd::new(settings, u, G)?;
    rm.add(["pod", "rm", "--ignore", "--force", name]);
    // A pod left by an unclean stop goes first (podman's `pod create --replace`).
    service.add("Service", "ExecStartPre", &rm.line_ignoring_failure());
    let mut create = Cmd::new(settings, u, G)?;
    create.add(["pod", "create", "--exit-policy"]);
    create.add([u.get(G, "ExitPolicy").unwrap_or("stop")]);
    super::user_mappings(u, G, &mut create);
    for p in u.all(G, "PublishPort") {
        create.add(["--publish", p]);
    }
    create.key_values(u, G, &[("Label", "--label")])?;
    networks(u, G, service, infos, &mut create)?;
    create.strings(
        u,
        G,
        &[("IP", "--ip"), ("IP6", "--ip6"), ("ShmSize", "--shm-size")],
    );
    create.all_strings(
        u,
        G,
        &[
            ("NetworkAlias", "--network-alias"),
            ("DNS", "--dns"),
            ("DNSOption", "--dns-option"),
            ("DNSSearch", "--dns-search"),
            ("AddHost", "--add-host"),
            ("HostName", "--hostname"),
        ],
    );
    volumes(s, u, G, service, infos, &mut create)?;
    create.add(["--infra-name".to_string(), format!("{name}-infra")]);
    create.add(["--name", name]);
    create.podman_args(u, G)?;
    service.add("Service", "ExecStartPre", &create.line());
    let mut start = Cmd::new(settings, u, G)?;
    start.add(["pod", "start", name]);
    service.add("Service", "ExecStart", &start.line());
    let mut stop = Cmd::new(settings, u, G)?;
    stop.add(["pod", "stop", "--ignore", "--time=10", name]);
    service.add("Service", "ExecStop", &stop.line());
    service.add("Service", "ExecStopPost", &rm.line());
    service.add("Service", "Environment", "PODMAN_SYSTEMD_UNIT=%n");
    oneshot(service, true);
    Ok(())
}

/// `.kube`: `roost kube play --replace --service-container=true … YAML`, `kube down` after.
pub fn kube(
    s: &Source,
    u: &UnitFile,
    settings: &Settings,
    infos: &BTreeMap<String, UnitInfo>,
    service: &mut UnitFile,
) -> Result<(), QuadletError> {
    const G: &str = "Kube";
    let yaml = u.get(G, "Yaml").ok_or_else(|| QuadletError::Unit {
        file: s.path.clone(),
        why: "no Yaml key specified".into(),
    })?;
    let yaml = absolute(s, yaml);
    kill_mode(u, service)?;
    service.add("Service", "Environment", "PODMAN_SYSTEMD_UNIT=%n");
    let ty = u.last("Service", "Type");
    if let Some(t) = ty.filter(|t| *t != "notify" && *t != "oneshot") {
        return Err(value_error(
            u,
            "Service",
            "Type",
            &format!("invalid service Type `{t}`"),
        ));
    }
    if ty != Some("oneshot") {
        service.set("Service", "Type", "notify");
        service.set("Service", "NotifyAccess", "all");
    }
    if !service.has("Service", "SyslogIdentifier") {
        service.set("Service", "SyslogIdentifier", "%N");
    }
    let mut play = Cmd::new(settings, u, G)?;
    play.add(["kube", "play", "--replace", "--service-container=true"]);
    if let Some(e) = u.get(G, "ExitCodePropagation") {
        play.add([format!("--service-exit-code-propagation={e}")]);
    }
    log_flags(u, G, &mut play);
    super::user_mappings(u, G, &mut play);
    networks(u, G, service, infos, &mut play)?;
    for update in u.all_words(G, "AutoUpdate")? {
        let a = match update.split_once('/') {
            Some((ctr, ty)) => format!("--annotation={}/{ctr}={ty}", super::AUTOUPDATE_LABEL),
            None => format!("--annotation={}={update}", super::AUTOUPDATE_LABEL),
        };
        play.add([a]);
    }
    for c in u.all_words(G, "ConfigMap")? {
        play.add(["--configmap".to_string(), absolute(s, &c)]);
    }
    for p in u.all(G, "PublishPort") {
        play.add(["--publish", p]);
    }
    play.podman_args(u, G)?;
    play.add([yaml.as_str()]);
    service.add("Service", "ExecStart", &play.line());
    let mut down = Cmd::new(settings, u, G)?;
    down.add(["kube", "down"]);
    match u.bool(G, "KubeDownForce")? {
        Some(true) => down.add(["--force"]),
        Some(false) => down.add(["--force=false"]),
        None => &mut down,
    };
    down.add([yaml.as_str()]);
    service.add("Service", "ExecStopPost", &down.line());
    if let Some(w) = u.get(G, "SetWorkingDirectory") {
        let dir = match w.to_ascii_lowercase().as_str() {
            "yaml" => std::path::Path::new(&yaml)
                .parent()
                .map(|p| p.to_string_lossy().into_owned()),
            "unit" => s.path.parent().map(|p| p.to_string_lossy().into_owned()),
            _ => {
                return Err(value_error(
                    u,
                    G,
                    "SetWorkingDirectory",
                    "use yaml or unit in a .kube file",
                ));
            }
        };
        if let Some(d) = dir.filter(|_| !u.has("Service", "WorkingDirectory")) {
            service.add("Service", "WorkingDirectory", &d);
        }
    }
    Ok(())
}

/// `.image`: `roost image pull … IMAGE`.
pub fn image(
    u: &UnitFile,
    settings: &Settings,
    service: &mut UnitFile,
) -> Result<(), QuadletError> {
    const G: &str = "Image";
    let image = u.get(G, "Image").ok_or_else(|| QuadletError::Unit {
        file: u
            .groups
            .iter()
            .flat_map(|g| g.entries.first())
            .map(|e| e.file.clone())
            .next()
            .unwrap_or_default(),
        why: "no Image key specified".into(),
    })?;
    let mut cmd = Cmd::new(settings, u, G)?;
    cmd.add(["image", "pull"]);
    cmd.strings(
        u,
        G,
        &[
            ("Arch", "--arch"),
            ("AuthFile", "--authfile"),
            ("CertDir", "--cert-dir"),
            ("Creds", "--creds"),
            ("DecryptionKey", "--decryption-key"),
            ("OS", "--os"),
            ("Variant", "--variant"),
            ("Retry", "--retry"),
            ("RetryDelay", "--retry-delay"),
        ],
    );
    cmd.bools(
        u,
        G,
        &[("AllTags", "--all-tags"), ("TLSVerify", "--tls-verify")],
    )?;
    cmd.podman_args(u, G)?;
    cmd.add([image]);
    service.add("Service", "ExecStart", &cmd.line());
    oneshot(service, true);
    Ok(())
}

/// `.build`: `roost build --tag … CONTEXT`.
pub fn build(
    s: &Source,
    u: &UnitFile,
    settings: &Settings,
    infos: &BTreeMap<String, UnitInfo>,
    service: &mut UnitFile,
    info: &UnitInfo,
) -> Result<(), QuadletError> {
    const G: &str = "Build";
    if info.resource.is_empty() {
        return Err(QuadletError::Unit {
            file: s.path.clone(),
            why: "no ImageTag key specified".into(),
        });
    }
    let mut cmd = Cmd::new(settings, u, G)?;
    cmd.add(["build"]);
    if let Some(p) = u.get(G, "Pull") {
        cmd.add([format!("--pull={p}")]);
    }
    cmd.strings(
        u,
        G,
        &[
            ("Arch", "--arch"),
            ("AuthFile", "--authfile"),
            ("Target", "--target"),
            ("Variant", "--variant"),
            ("Retry", "--retry"),
            ("RetryDelay", "--retry-delay"),
        ],
    );
    cmd.bools(
        u,
        G,
        &[("TLSVerify", "--tls-verify"), ("ForceRM", "--force-rm")],
    )?;
    cmd.all_strings(
        u,
        G,
        &[
            ("DNS", "--dns"),
            ("DNSOption", "--dns-option"),
            ("DNSSearch", "--dns-search"),
            ("GroupAdd", "--group-add"),
            ("ImageTag", "--tag"),
        ],
    );
    cmd.key_values(
        u,
        G,
        &[
            ("Environment", "--env"),
            ("Label", "--label"),
            ("Annotation", "--annotation"),
        ],
    )?;
    networks(u, G, service, infos, &mut cmd)?;
    for secret in u.all_words(G, "Secret")? {
        cmd.add(["--secret".to_string(), secret]);
    }
    volumes(s, u, G, service, infos, &mut cmd)?;
    let file = u.get(G, "File");
    let context = match u.get(G, "SetWorkingDirectory") {
        Some(w) if w.eq_ignore_ascii_case("unit") => {
            let dir = s.path.parent().map(|p| p.to_string_lossy().into_owned());
            if let Some(d) = dir.filter(|_| !u.has("Service", "WorkingDirectory")) {
                service.add("Service", "WorkingDirectory", &d);
            }
            None
        }
        Some(w) if w.eq_ignore_ascii_case("file") => {
            let f = file
                .ok_or_else(|| value_error(u, G, "SetWorkingDirectory", "no File key specified"))?;
            let abs = absolute(s, f);
            if let Some(d) = std::path::Path::new(&abs).parent() {
                service.add("Service", "WorkingDirectory", &d.to_string_lossy());
            }
            None
        }
        Some(w) => Some(if w.contains("://") {
            w.to_string()
        } else {
            absolute(s, w)
        }),
        None => None,
    };
    let workdir = service
        .get("Service", "WorkingDirectory")
        .map(str::to_string);
    if workdir.is_none() && file.is_none() && context.is_none() {
        return Err(QuadletError::Unit {
            file: s.path.clone(),
            why: "neither SetWorkingDirectory, nor File key specified".into(),
        });
    }
    if let Some(f) = file {
        cmd.add(["--file", f]);
    }
    cmd.podman_args(u, G)?;
    match (context, file) {
        (Some(c), _) => {
            cmd.add([c]);
        }
        (None, Some(f)) if !f.starts_with('/') && !f.contains("://") => {
            let wd = workdir.ok_or_else(|| {
                value_error(u, G, "File", "a relative File needs SetWorkingDirectory")
            })?;
            cmd.add([wd]);
        }
        _ => {}
    }
    service.add("Service", "ExecStart", &cmd.line());
    oneshot(service, false);
    Ok(())
}
