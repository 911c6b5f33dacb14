//! Container inspect: podman's JSON shape (the fields roost knows; the rest come with later work).
use serde_json::{Value, json};

use crate::cli::format;
use crate::engine::Ctx;
use crate::engine::container::{Container, Status, log_path, runtime_dir};
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

pub fn container_json(ctx: &Ctx, store: &Store, c: &Container) -> Value {
    let s = &c.spec;
    let st = &c.state;
    let rt = runtime_dir(ctx, &c.record.id);
    let dir = store.container_dir(&c.record.id);
    let (restart_name, restart_max) = match s.restart.split_once(':') {
        Some((n, m)) => (n.to_string(), m.parse::<u32>().unwrap_or(0)),
        None => (
            if s.restart.is_empty() {
                "no".to_string()
            } else {
                s.restart.clone()
            },
            0,
        ),
    };
    let lower: Vec<String> = s
        .layers
        .iter()
        .rev()
        .map(|l| store.layer_diff(l).display().to_string())
        .collect();
    json!({
        "Id": c.record.id,
        "Created": format::rfc3339_nano_utc(c.record.created),
        "Path": s.args.first().cloned().unwrap_or_default(),
        "Args": s.args.get(1..).unwrap_or_default(),
        "State": {
            "OciVersion": "1.1.0",
            "Status": st.status.as_str(),
            "Running": st.status == Status::Running,
            "Paused": st.status == Status::Paused,
            "Restarting": false,
            "OOMKilled": false,
            "Dead": false,
            "Pid": st.pid,
            "ConmonPid": st.monitor_pid,
            "ExitCode": st.exit_code,
            "Error": st.error,
            "StartedAt": time(st.started_at),
            "FinishedAt": time(st.finished_at),
        },
        "Image": c.record.image_id.hex(),
        "ImageName": c.record.image,
        "Rootfs": "",
        "Pod": "",
        "ResolvConfPath": rt.join("resolv.conf"),
        "HostnamePath": rt.join("hostname"),
        "HostsPath": rt.join("hosts"),
        "StaticDir": dir,
        "Name": c.record.name,
        "RestartCount": st.restart_count,
        "Driver": ctx.storage_driver,
        "GraphDriver": {"Name": ctx.storage_driver, "Data": {
            "LowerDir": lower.join(":"),
            "UpperDir": dir.join("diff"),
            "WorkDir": dir.join("work"),
            "MergedDir": dir.join("merged"),
        }},
        "Mounts": [],
        "Dependencies": [],
        "IsInfra": false,
        "Config": {
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
            "Volumes": null,
            "WorkingDir": s.cwd,
            "Entrypoint": s.entrypoint,
            "Labels": s.labels,
            "Annotations": s.annotations,
            "StopSignal": signal_name(s.stop_signal),
            "StopTimeout": s.stop_timeout,
        },
        "HostConfig": {
            "Binds": [],
            "NetworkMode": s.network,
            "RestartPolicy": {"Name": restart_name, "MaximumRetryCount": restart_max},
            "AutoRemove": s.remove,
            "LogConfig": {"Type": s.log_driver, "Path": log_path(store, &c.record.id)},
            "CapAdd": s.cap_add,
            "CapDrop": s.cap_drop,
            "Privileged": s.privileged,
            "ReadonlyRootfs": s.read_only,
            "SecurityOpt": s.seccomp.iter().map(|p| format!("seccomp={p}")).collect::<Vec<_>>(),
        },
    })
}
