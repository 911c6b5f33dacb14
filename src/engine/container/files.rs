//! The per-container files in the runtime directory (bind-mounted, so `commit` never captures them) and
//! the process to run, from the image config and the flags.
use std::path::{Path, PathBuf};

use super::process::{self, ProcessFlags, ProcessSpec};
use super::{Container, CreateOptions};
use crate::engine::image::ImageInfo;
use crate::engine::{Ctx, EngineError};
use crate::store::Store;

fn read_layer_file(store: &Store, info: &ImageInfo, path: &str) -> Option<String> {
    // The top-most layer that has the file wins (whiteouts are rare for these files).
    info.record
        .layers
        .iter()
        .rev()
        .find_map(|l| std::fs::read_to_string(store.layer_diff(l).join(path)).ok())
}

/// The process as docker and podman define it (ENTRYPOINT + CMD or the command given, the environment
/// from the image then the flags, user and working directory), against the image's passwd and group.
pub(super) fn resolve_process(
    store: &Store,
    info: &ImageInfo,
    opts: &CreateOptions,
    hostname: &str,
) -> Result<ProcessSpec, EngineError> {
    let cfg = info.config.config.clone().unwrap_or_default();
    let passwd = read_layer_file(store, info, "etc/passwd");
    let group = read_layer_file(store, info, "etc/group");
    let flags = ProcessFlags {
        command: opts.command.clone(),
        entrypoint: opts.entrypoint.clone(),
        env: opts.env.clone(),
        env_files: opts.env_files.clone(),
        env_host: opts.env_host,
        unset_env: opts.unset_env.clone(),
        unset_env_all: opts.unset_env_all,
        workdir: opts.workdir.clone(),
        user: opts.user.clone(),
        group_add: opts.group_add.clone(),
        hostname: Some(hostname.to_string()),
        tty: opts.tty,
    };
    process::resolve(
        &cfg,
        &flags,
        &opts.host_env,
        passwd.as_deref(),
        group.as_deref(),
    )
    .map_err(|e| EngineError::Invalid(e.to_string()))
}

/// keep-id's /etc/passwd and /etc/group entries for `user`, when the image lacks them.
pub(super) fn keep_id_entries(
    store: &Store,
    info: &ImageInfo,
    name: Option<&str>,
    user: (u32, u32),
    home: &str,
) -> (Option<String>, Option<String>) {
    let passwd = read_layer_file(store, info, "etc/passwd").unwrap_or_default();
    let group = read_layer_file(store, info, "etc/group").unwrap_or_default();
    super::idmap::keep_id_entries(&passwd, &group, name.unwrap_or(""), user, home)
}

/// The image's /etc/passwd and /etc/group plus keep-id's entries, written to the runtime dir and
/// bound over the container's (like the other init files; `commit` never captures them).
pub(super) fn write_user_files(
    dir: &Path,
    store: &Store,
    c: &Container,
) -> Result<Vec<(PathBuf, String)>, EngineError> {
    let mut binds = Vec::new();
    for (file, extra) in [
        ("passwd", &c.spec.extra_passwd),
        ("group", &c.spec.extra_group),
    ] {
        let Some(extra) = extra else { continue };
        let image = c
            .spec
            .layers
            .iter()
            .rev()
            .find_map(|l| std::fs::read_to_string(store.layer_diff(l).join("etc").join(file)).ok())
            .unwrap_or_default();
        let sep = if image.is_empty() || image.ends_with('\n') {
            ""
        } else {
            "\n"
        };
        let p = dir.join(file);
        std::fs::write(&p, format!("{image}{sep}{extra}"))
            .map_err(|e| EngineError::io("write", &p, e))?;
        binds.push((p, format!("/etc/{file}")));
    }
    Ok(binds)
}

/// Write hosts, hostname, resolv.conf and .containerenv; return (host file, container path) binds.
pub(super) fn write_init_files(
    dir: &Path,
    c: &Container,
    ctx: &Ctx,
) -> Result<Vec<(PathBuf, String)>, EngineError> {
    std::fs::create_dir_all(dir).map_err(|e| EngineError::io("create", dir, e))?;
    let s = &c.spec;
    let hosts = if s.network == "host" && !s.net.no_hosts {
        let host = std::fs::read_to_string("/etc/hosts").unwrap_or_default();
        let mut extra = String::new();
        for (h, ip) in &s.net.add_hosts {
            extra.push_str(&format!("{ip}\t{h}\n"));
        }
        Some(format!(
            "{host}\n{extra}127.0.1.1\t{} {}\n",
            s.hostname, c.record.name
        ))
    } else {
        super::network::hosts_file(c, &ctx.network_conf)?
    };
    let resolv = super::network::resolv_conf(
        c,
        &std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default(),
    );
    let env = format!(
        "engine=\"roost-{}\"\nname=\"{}\"\nid=\"{}\"\nimage=\"{}\"\nimageid=\"{}\"\nrootless={}\n",
        env!("CARGO_PKG_VERSION"),
        c.record.name,
        c.record.id,
        c.record.image,
        c.record.image_id.hex(),
        u8::from(ctx.rootless)
    );
    let files = [
        ("hosts", hosts.unwrap_or_default(), "/etc/hosts"),
        ("hostname", format!("{}\n", s.hostname), "/etc/hostname"),
        ("resolv.conf", resolv, "/etc/resolv.conf"),
        (".containerenv", env, "/run/.containerenv"),
    ];
    let mut binds = Vec::new();
    for (name, content, target) in files {
        if name == "hosts" && s.net.no_hosts || name == "resolv.conf" && s.net.dns == ["none"] {
            continue;
        }
        let p = dir.join(name);
        std::fs::write(&p, content).map_err(|e| EngineError::io("write", &p, e))?;
        binds.push((p, target.to_string()));
    }
    Ok(binds)
}
