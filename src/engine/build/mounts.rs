//! `RUN --mount=…`: cache directories kept between builds, read-only binds from the context (or a
//! stage/image), tmpfs, and secrets from `--secret`. None of them ends up in the step's layer.
use std::collections::BTreeMap;
use std::path::PathBuf;

use super::ignore::clean;
use super::stage::{Builder, State};
use crate::oci::Digest;
use crate::runtime::{Mount, MountKind};

pub(super) struct Resolved {
    pub mounts: Vec<Mount>,
    /// Anything that must be part of the cache key (none so far: like Docker, bind sources are not).
    pub content: Option<Digest>,
}

fn options(spec: &str) -> Result<BTreeMap<String, String>, String> {
    let mut out = BTreeMap::new();
    for part in spec.split(',').filter(|p| !p.is_empty()) {
        let (k, v) = part.split_once('=').unwrap_or((part, "true"));
        out.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
    }
    Ok(out)
}

fn target(o: &BTreeMap<String, String>, spec: &str) -> Result<String, String> {
    let t = o
        .get("target")
        .or_else(|| o.get("dst"))
        .or_else(|| o.get("destination"))
        .ok_or_else(|| format!("--mount `{spec}` needs a target"))?;
    Ok(format!("/{}", clean(t)))
}

fn flag(o: &BTreeMap<String, String>, names: &[&str]) -> bool {
    names
        .iter()
        .any(|n| o.get(*n).is_some_and(|v| v.is_empty() || v == "true"))
}

pub(super) fn resolve(
    b: &mut Builder,
    stage: usize,
    specs: &[String],
    state: &State,
) -> Result<Resolved, String> {
    let mut mounts = Vec::new();
    for spec in specs {
        let o = options(spec)?;
        let kind = o.get("type").map(String::as_str).unwrap_or("bind");
        let mount = match kind {
            "bind" => Some(bind(b, stage, &o, spec)?),
            "cache" => Some(cache(b, &o, spec)?),
            "tmpfs" => Some(tmpfs(&o, spec)?),
            "secret" => secret(b, &o, spec)?,
            "ssh" => return Err("--mount=type=ssh is not supported".into()),
            other => return Err(format!("unknown --mount type `{other}`")),
        };
        mounts.extend(mount);
    }
    let _ = state;
    Ok(Resolved {
        mounts,
        content: None,
    })
}

/// `type=bind`: a path of the context or of `from`'s image, read-only, or writable through a
/// throw-away overlay (`rw`).
fn bind(
    b: &mut Builder,
    stage: usize,
    o: &BTreeMap<String, String>,
    spec: &str,
) -> Result<Mount, String> {
    let target = target(o, spec)?;
    let rw = flag(o, &["rw", "readwrite"]);
    let source = o.get("source").or_else(|| o.get("src"));
    let src = clean(source.map(String::as_str).unwrap_or(""));
    let host: PathBuf = match o.get("from") {
        Some(from) => {
            let st = b.source_state(from, stage).map_err(|e| e.to_string())?;
            let view = b.view(&st);
            let p = view.resolve(&format!("/{src}"), true);
            view.lookup(&p)
                .map(|(h, _)| h)
                .ok_or_else(|| format!("--mount source `{src}` is not in `{from}`"))?
        }
        None => {
            let h = b.context.host_path(&src);
            if !h.exists() {
                return Err(format!(
                    "--mount source `{src}` is not in the build context"
                ));
            }
            h
        }
    };
    if !rw {
        return Ok(Mount {
            target,
            kind: MountKind::Bind {
                source: host,
                read_only: true,
                chown: None,
                copy_up: false,
                first_chown: None,
                noexec: false,
            },
        });
    }
    // Writes go to a throw-away upper dir, never to the source.
    // Left for the next writer's staging clean-up once this build has ended.
    let scratch = b.store.staging_path("mount");
    std::fs::create_dir_all(scratch.join("upper")).map_err(|e| e.to_string())?;
    std::fs::create_dir_all(scratch.join("work")).map_err(|e| e.to_string())?;
    Ok(Mount {
        target,
        kind: MountKind::Overlay {
            lower: host,
            upper: scratch.join("upper"),
            work: scratch.join("work"),
            read_only: false,
        },
    })
}

/// `type=cache`: a directory kept across builds, keyed by `id` (default: the target), created
/// with `mode`, `uid` and `gid` the first time.
fn cache(b: &Builder, o: &BTreeMap<String, String>, spec: &str) -> Result<Mount, String> {
    let target = target(o, spec)?;
    let id = o.get("id").cloned().unwrap_or_else(|| target.clone());
    let key = Digest::sha256_of(id.as_bytes());
    let dir = b
        .ctx
        .paths
        .data
        .join("build")
        .join("cache-mounts")
        .join(&key.hex()[..24]);
    if !dir.exists() {
        std::fs::create_dir_all(&dir).map_err(|e| format!("create `{}`: {e}", dir.display()))?;
        let mode = o
            .get("mode")
            .and_then(|m| u32::from_str_radix(m, 8).ok())
            .unwrap_or(0o755);
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(mode));
        let uid = o.get("uid").and_then(|v| v.parse().ok()).unwrap_or(0);
        let gid = o.get("gid").and_then(|v| v.parse().ok()).unwrap_or(0);
        let _ = std::os::unix::fs::chown(&dir, Some(uid), Some(gid));
    }
    Ok(Mount {
        target,
        kind: MountKind::Bind {
            source: dir,
            read_only: flag(o, &["ro", "readonly"]),
            chown: None,
            copy_up: false,
            first_chown: None,
            noexec: false,
        },
    })
}

/// `type=tmpfs`, world-writable, of `size`.
fn tmpfs(o: &BTreeMap<String, String>, spec: &str) -> Result<Mount, String> {
    let target = target(o, spec)?;
    let data = match o.get("size") {
        Some(s) => format!("mode=1777,size={s}"),
        None => "mode=1777".into(),
    };
    Ok(Mount {
        target,
        kind: MountKind::Tmpfs {
            data,
            read_only: false,
            noexec: false,
            copy_up: false,
            ramfs: false,
        },
    })
}

/// `type=secret`: the file given with `--secret id=ID`, read-only at `/run/secrets/ID` (or
/// `target`); nothing when it was not given, unless `required`.
fn secret(b: &Builder, o: &BTreeMap<String, String>, spec: &str) -> Result<Option<Mount>, String> {
    let id = o
        .get("id")
        .cloned()
        .or_else(|| {
            o.get("target")
                .map(|t| clean(t).rsplit('/').next().unwrap_or("").to_string())
        })
        .ok_or_else(|| format!("--mount `{spec}` needs an id"))?;
    let target = match o.get("target").or_else(|| o.get("dst")) {
        Some(t) => format!("/{}", clean(t)),
        None => format!("/run/secrets/{id}"),
    };
    match b.opts.secrets.get(&id) {
        Some(src) => Ok(Some(Mount {
            target,
            kind: MountKind::Bind {
                source: src.clone(),
                read_only: true,
                chown: None,
                copy_up: false,
                first_chown: None,
                noexec: false,
            },
        })),
        None if flag(o, &["required"]) => Err(format!(
            "secret `{id}` is required: pass it with --secret id={id},src=PATH"
        )),
        None => Ok(None),
    }
}
