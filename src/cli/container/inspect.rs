//! Container inspect: podman's JSON shape (the fields roost knows; the rest come with later work).
use serde_json::{Value, json};

use crate::cli::format;
use crate::engine::Ctx;
use crate::engine::container::{
    Container, MountKind, State, Status, container_log_path, runtime_dir,
};
use crate::store::Store;

fn time(t: Option<jiff::Timestamp>) -> Value {
    match t {
        Some(t) => json!(format::rfc3339_nano_utc(t)),
        None => json!("0001-01-01T00:00:00Z"),
    }
}

fn signal_name(sig: i32) -> String {
    nix::sys::signal::Signal::try_from(sig)
        .map(|s| s.as_str().to_string())
        .unwrap_or_else(|_| sig.to_string())
}

/// podman's `Mounts` entries: volumes and binds (tmpfs mounts are listed under HostConfig.Tmpfs).
fn mounts_json(store: &Store, c: &Container) -> Vec<Value> {
    c.spec
        .mounts
        .iter()
        .filter(|m| m.kind != MountKind::Tmpfs)
        .map(|m| {
            let volume = m.kind == MountKind::Volume;
            let source = if volume {
                store
                    .volume(&m.source)
                    .ok()
                    .flatten()
                    .map(|v| v.mountpoint.display().to_string())
                    .unwrap_or_default()
            } else {
                m.source.clone()
            };
            let mut options: Vec<&str> = if volume {
                vec!["nosuid", "nodev", "rbind"]
            } else if m.kind == MountKind::Devpts {
                vec!["nosuid", "noexec"]
            } else {
                vec!["rbind"]
            };
            options.extend(m.options.iter().map(String::as_str).filter(|o| {
                !matches!(*o, "ro" | "rw" | "z" | "Z" | "U" | "O" | "nocopy" | "copy")
            }));
            json!({
                "Type": m.kind.as_str(),
                "Name": if volume { m.source.as_str() } else { "" },
                "Source": source,
                "Destination": m.destination,
                "Driver": if volume { "local" } else { "" },
                "Mode": "",
                "Options": options,
                "RW": !m.read_only,
                "Propagation": "rprivate",
            })
        })
        .collect()
}

/// HostConfig.Binds (`SRC:DEST:OPTS`, podman's rendering) and HostConfig.Tmpfs.
fn binds_and_tmpfs(c: &Container) -> (Vec<String>, serde_json::Map<String, Value>) {
    let mut binds = Vec::new();
    let mut tmpfs = serde_json::Map::new();
    for m in &c.spec.mounts {
        let rw = if m.read_only { "ro" } else { "rw" };
        match m.kind {
            MountKind::Tmpfs => {
                let mut opts = vec![rw.to_string(), "rprivate".into()];
                if m.noexec {
                    opts.push("noexec".into());
                }
                opts.extend(["nosuid".to_string(), "nodev".to_string()]);
                opts.extend(m.tmpfs_data.iter().cloned());
                tmpfs.insert(m.destination.clone(), json!(opts.join(",")));
            }
            MountKind::Devpts | MountKind::Ramfs => {}
            MountKind::Volume => binds.push(format!(
                "{}:{}:{rw},rprivate,nosuid,nodev,rbind",
                m.source, m.destination
            )),
            MountKind::Bind | MountKind::Glob => binds.push(format!(
                "{}:{}:{rw},rprivate,rbind",
                m.source, m.destination
            )),
        }
    }
    (binds, tmpfs)
}

/// podman's port map: `{"80/tcp": [{"HostIp": "", "HostPort": "8080"}]}`, exposed-only ports as null.
fn port_map(c: &Container, with_exposed: bool) -> serde_json::Map<String, Value> {
    let mut m = serde_json::Map::new();
    if with_exposed {
        for e in &c.spec.net.exposed {
            m.insert(e.clone(), Value::Null);
        }
    }
    for p in &c.spec.net.ports {
        for (h, ctr) in p.pairs() {
            let key = format!("{ctr}/{}", p.protocol.as_str());
            let entry = serde_json::json!({
                "HostIp": p.host_ip.map(|a| a.to_string()).unwrap_or_default(),
                "HostPort": h.to_string(),
            });
            match m.get_mut(&key) {
                Some(Value::Array(a)) => a.push(entry),
                _ => {
                    m.insert(key, Value::Array(vec![entry]));
                }
            }
        }
    }
    m
}

pub fn container_json(ctx: &Ctx, store: &Store, c: &Container) -> Value {
    let s = &c.spec;
    let rt = runtime_dir(ctx, &c.record.id);
    let dir = store.container_dir(&c.record.id);
    let lower: Vec<String> = s
        .layers
        .iter()
        .rev()
        .map(|l| store.layer_diff(l).display().to_string())
        .collect();
    let mut value = json!({
        "Id": c.record.id,
        "Created": format::rfc3339_nano_utc(c.record.created),
        "Path": s.args.first().cloned().unwrap_or_default(),
        "Args": s.args.get(1..).unwrap_or_default(),
        "State": state_json(&c.state),
        "Image": c.image_id().map_or("", |i| i.hex()),
        "ImageName": c.record.image,
        "Rootfs": s.root.dir().map(|d| d.display().to_string()).unwrap_or_default(),
        "Pod": s.pod.clone().unwrap_or_default(),
        "ResolvConfPath": rt.join("resolv.conf"),
        "HostnamePath": rt.join("hostname"),
        "HostsPath": rt.join("hosts"),
        "StaticDir": dir,
        "Name": c.record.name,
        "RestartCount": c.state.restart_count,
        "Driver": s.storage_driver.as_str(),
        "GraphDriver": {"Name": s.storage_driver.as_str(), "Data": {
            "LowerDir": lower.join(":"),
            "UpperDir": dir.join("diff"),
            "WorkDir": dir.join("work"),
            "MergedDir": dir.join("merged"),
        }},
        "Mounts": mounts_json(store, c),
        "Dependencies": [],
        "ExecIDs": crate::engine::container::exec_ids(store, c),
        "IsInfra": false,
        "IsService": s.service.is_some(),
        "NetworkSettings": network_settings_json(ctx, c),
        "Config": config_json(c),
        "HostConfig": host_config_json(store, c),
    });
    health_json(store, c, &mut value);
    value
}

/// `.State`.
fn state_json(st: &State) -> Value {
    json!({
        "OciVersion": "1.1.0",
        "Status": st.status_text(),
        "Running": st.status == Status::Running,
        "Paused": st.status == Status::Paused,
        "Restarting": false,
        "OOMKilled": st.oom_killed,
        "Dead": false,
        "Pid": st.pid,
        "ConmonPid": st.monitor_pid,
        "ExitCode": st.exit_code,
        "Error": st.error,
        "StartedAt": time(st.started_at),
        "FinishedAt": time(st.finished_at),
        "StoppedByUser": st.stopped_by_user,
    })
}

/// `.NetworkSettings`: podman's shape with the bridge networks' interfaces, and the ports,
/// namespace and MAC address.
fn network_settings_json(ctx: &Ctx, c: &Container) -> Value {
    let (s, st) = (&c.spec, &c.state);
    let mut network_settings = super::bridge_networks::settings_json(ctx, c);
    for (k, v) in [
        ("Ports", Value::Object(port_map(c, true))),
        (
            "SandboxKey",
            json!(if st.pid > 0 && s.network != "host" {
                format!("/proc/{}/ns/net", st.pid)
            } else {
                String::new()
            }),
        ),
        (
            "MacAddress",
            json!(s.net.mac_address.clone().unwrap_or_default()),
        ),
    ] {
        network_settings[k] = v;
    }
    // A per-container network mode shows as one network named after it (podman): `pasta`,
    // `slirp4netns`, roost's `slirp`, `host`, `none`; another container's or a path's namespace
    // as none.
    let mode = s.network.split(':').next().unwrap_or_default();
    if s.networks.is_empty()
        && matches!(mode, "pasta" | "slirp4netns" | "slirp" | "host" | "none")
        && let Some(nets) = network_settings["Networks"].as_object_mut()
    {
        nets.insert(
            mode.to_string(),
            json!({
                "EndpointID": "",
                "Gateway": "",
                "IPAddress": "",
                "IPPrefixLen": 0,
                "IPv6Gateway": "",
                "GlobalIPv6Address": "",
                "GlobalIPv6PrefixLen": 0,
                "MacAddress": s.net.mac_address.clone().unwrap_or_default(),
                "NetworkID": mode,
                "DriverOpts": null,
                "IPAMConfig": null,
                "Links": null,
            }),
        );
    }
    network_settings
}

/// `.Config`: what the container runs.
fn config_json(c: &Container) -> Value {
    let s = &c.spec;
    let volumes: serde_json::Map<String, Value> = s
        .mounts
        .iter()
        .filter(|m| m.kind == MountKind::Volume && m.anonymous)
        .map(|m| (m.destination.clone(), json!({})))
        .collect();
    let exposed: serde_json::Map<String, Value> = s
        .net
        .exposed
        .iter()
        .map(|e| (e.clone(), json!({})))
        .collect();
    let mut config = json!({
        "Hostname": s.hostname,
        "Domainname": "",
        "User": s.user,
        "AttachStdin": s.interactive,
        "AttachStdout": true,
        "AttachStderr": true,
        "Tty": s.tty,
        "OpenStdin": s.interactive,
        "StdinOnce": false,
        "Env": s.env,
        "Cmd": s.command,
        "Image": c.record.image,
        "Volumes": if volumes.is_empty() { Value::Null } else { Value::Object(volumes) },
        "WorkingDir": s.cwd,
        "Entrypoint": s.entrypoint,
        "Labels": s.labels,
        "Annotations": s.annotations,
        "StopSignal": signal_name(s.stop_signal),
        "StopTimeout": s.stop_timeout,
        "SdNotifyMode": s.sdnotify.as_str(),
        // podman prints `invalid` for a container that is no service container.
        "KubeExitCodePropagation": s.service.map_or("invalid", |p| p.as_str()),
        "ExposedPorts": exposed,
    });
    // `--tz` (podman's `Timezone`, left out when unset).
    if let Some(tz) = &s.timezone {
        config["Timezone"] = json!(tz);
    }
    // podman's InspectSecret: which secrets, never their data.
    if !s.secrets.is_empty() {
        let secrets: Vec<Value> = s
            .secrets
            .iter()
            .map(
                |u| json!({"Name": u.name, "ID": u.id, "UID": u.uid, "GID": u.gid, "Mode": u.mode}),
            )
            .collect();
        config["Secrets"] = Value::Array(secrets);
    }
    config
}

/// `[{"Path": "/dev/sda", "Rate": 1048576}]`: podman's `InspectBlkioThrottleDevice`s (container
/// and pod inspect).
pub(crate) fn blkio_throttles(list: &[crate::runtime::cgroup::Throttle]) -> Value {
    list.iter()
        .map(|t| json!({"Path": t.path, "Rate": t.rate}))
        .collect()
}

/// `--cgroup-parent`, or the pod's cgroup the container's is made in (the slice, or the
/// directory's name under where roost makes cgroups).
fn cgroup_parent(cg: &crate::engine::container::resources::CgroupSpec) -> String {
    match (&cg.parent, &cg.pod) {
        (Some(p), _) => p.clone(),
        (None, Some(pod)) if cg.manager == "systemd" => pod.slice(),
        (None, Some(pod)) => pod.dir_name(),
        (None, None) => String::new(),
    }
}

/// HostConfig's resource fields, as podman names them (0 or empty when unset).
fn resources_json(s: &crate::engine::container::ContainerSpec) -> serde_json::Map<String, Value> {
    let r = s.resources.clone().unwrap_or_default();
    let cg = &s.cgroup;
    let fields = json!({
        "Memory": r.memory.unwrap_or(0),
        "MemoryReservation": r.memory_reservation.unwrap_or(0),
        "MemorySwap": r.memory_swap.unwrap_or(match r.memory { Some(m) if m > 0 => 2 * m, _ => 0 }),
        "MemorySwappiness": r.memory_swappiness.unwrap_or(0),
        "NanoCpus": r.nano_cpus.unwrap_or(0),
        "CpuPeriod": r.cpu_period.unwrap_or(0),
        "CpuQuota": r.cpu_quota.unwrap_or(0),
        "CpuShares": r.cpu_shares.unwrap_or(0),
        "CpusetCpus": r.cpuset_cpus.clone().unwrap_or_default(),
        "CpusetMems": r.cpuset_mems.clone().unwrap_or_default(),
        "PidsLimit": if s.resources.is_some() { r.pids_limit.unwrap_or(crate::runtime::cgroup::limits::DEFAULT_PIDS_LIMIT) } else { 0 },
        "BlkioWeight": r.blkio_weight.unwrap_or(0),
        "BlkioWeightDevice": [],
        "BlkioDeviceReadBps": blkio_throttles(&r.device_read_bps),
        "BlkioDeviceWriteBps": blkio_throttles(&r.device_write_bps),
        "BlkioDeviceReadIOps": blkio_throttles(&r.device_read_iops),
        "BlkioDeviceWriteIOps": blkio_throttles(&r.device_write_iops),
        "OomKillDisable": r.oom_kill_disable,
        "OomScoreAdj": cg.oom_score_adj.unwrap_or(0),
        "CgroupConf": r.cgroup_conf.iter().cloned().collect::<std::collections::BTreeMap<_, _>>(),
        "CgroupParent": cgroup_parent(cg),
        "CgroupManager": cg.manager,
        "CgroupMode": if cg.ns_host { "host" } else { "private" },
        "Cgroups": match cg.mode { Some(m) if m != crate::runtime::cgroup::CgroupsMode::Enabled => m.as_str(), _ => "default" },
    });
    match fields {
        Value::Object(m) => m,
        _ => serde_json::Map::new(),
    }
}

/// `.HostConfig`: how it runs.
fn host_config_json(store: &Store, c: &Container) -> Value {
    let s = &c.spec;
    let (restart_name, restart_max) = (s.restart.name(), s.restart.max_retries());
    let (binds, tmpfs) = binds_and_tmpfs(c);
    let extra_hosts: Vec<String> = s
        .net
        .add_hosts
        .iter()
        .map(|(h, ip)| format!("{h}:{ip}"))
        .collect();
    let mut v = json!({
        "Binds": binds,
        "Tmpfs": tmpfs,
        "NetworkMode": s.network,
        "IpcMode": s.namespaces.ipc_mode(),
        "ShmSize": s.namespaces.shm_size.unwrap_or(64 << 20),
        "PortBindings": port_map(c, false),
        "Dns": s.net.dns,
        "DnsSearch": s.net.dns_search,
        "DnsOptions": s.net.dns_options,
        "ExtraHosts": extra_hosts,
        "RestartPolicy": {"Name": restart_name, "MaximumRetryCount": restart_max},
        "AutoRemove": s.remove,
        "LogConfig": {
            "Type": s.log_driver,
            "Path": container_log_path(store, c),
            "Tag": s.log_opts.tag.clone().unwrap_or_default(),
            "Size": format::human_size_with_precision(s.log_opts.max_size.unwrap_or(0) as f64, 4),
        },
        "CapAdd": s.cap_add,
        "CapDrop": s.cap_drop,
        "Privileged": s.privileged,
        "ReadonlyRootfs": s.read_only,
        "SecurityOpt": s.seccomp.iter().map(|p| format!("seccomp={p}")).collect::<Vec<_>>(),
        // The limits of the last start (none before the first), as podman shows them.
        "Ulimits": if c.state.rlimits.is_empty() { &s.ulimits } else { &c.state.rlimits }
            .iter()
            .map(|u| json!({"Name": u.oci_type(), "Soft": u.soft, "Hard": u.hard}))
            .collect::<Vec<_>>(),
        "UsernsMode": s.userns,
        "IDMappings": s.id_maps.as_ref().map(|m| serde_json::json!({
            "UidMap": m.uids.iter().map(|r| r.render()).collect::<Vec<_>>(),
            "GidMap": m.gids.iter().map(|r| r.render()).collect::<Vec<_>>(),
        })),
    });
    if let Some(h) = v.as_object_mut() {
        if !s.sysctls.is_empty() {
            h.insert("Sysctls".into(), json!(s.sysctls));
        }
        h.extend(resources_json(s));
    }
    v
}

/// podman's healthcheck fields: `State.Health` (and 4.x's `State.Healthcheck`, the same),
/// `Config.Healthcheck`, `Config.HealthcheckOnFailureAction`, the startup check and log settings.
fn health_json(store: &Store, c: &Container, value: &mut Value) {
    let Some(hc) = &c.spec.healthcheck else {
        return;
    };
    if let Some(st) = crate::engine::container::health::state_of(store, c) {
        value["State"]["Health"] = st.inspect_json();
        value["State"]["Healthcheck"] = st.inspect_json();
    }
    let config = &mut value["Config"];
    config["Healthcheck"] = hc.docker_json();
    config["HealthcheckOnFailureAction"] = json!(hc.on_failure.as_str());
    config["HealthLogDestination"] = json!(hc.log_destination);
    config["HealthMaxLogCount"] = json!(hc.max_log_count);
    config["HealthMaxLogSize"] = json!(hc.max_log_size);
    if let Some(s) = &hc.startup {
        config["StartupHealthCheck"] = json!({
            "Test": s.test,
            "Interval": s.interval.as_nanos() as u64,
            "Timeout": s.timeout.as_nanos() as u64,
            "Retries": s.retries,
            "Successes": s.success,
        });
    }
}
