//! `run/create --secret NAME[,type=mount|env,target=…,uid=…,gid=…,mode=…]`: what a container is
//! given of a secret. The data is copied into the container's directory when it is created
//! (`secrets/N-NAME`, in a 0700 directory): a `mount` secret is that file, bound read-only at
//! /run/secrets/NAME (or `target`) with `uid`/`gid`/`mode`; an `env` secret is read when the
//! container starts and set as the variable `target` (default NAME). The container's spec records
//! only the secret's name and id, so `inspect` never shows the value.
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::SecretError;
use crate::engine::{Ctx, EngineError};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum SecretKind {
    #[default]
    Mount,
    Env,
}

/// One `--secret`, as stored in the container's spec.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecretUse {
    pub name: String,
    /// The secret's id when the container was created.
    #[serde(default)]
    pub id: String,
    #[serde(default)]
    pub kind: SecretKind,
    /// mount: the path in the container; env: the variable's name.
    pub target: String,
    #[serde(default)]
    pub uid: u32,
    #[serde(default)]
    pub gid: u32,
    #[serde(default = "default_mode")]
    pub mode: u32,
}

fn default_mode() -> u32 {
    0o444
}

fn bad(value: &str, why: impl Into<String>) -> SecretError {
    SecretError::Use {
        value: value.to_string(),
        why: why.into(),
    }
}

/// Parses one `--secret` value (podman-run(1)); the secret itself is looked up by [`resolve`].
pub fn parse(value: &str) -> Result<SecretUse, SecretError> {
    let mut parts = value.split(',');
    let first = parts.next().unwrap_or_default();
    let mut name = (!first.contains('=')).then(|| first.to_string());
    let (mut kind, mut target, mut uid, mut gid, mut mode) = (None, None, None, None, None);
    let rest = if name.is_some() {
        parts.collect::<Vec<_>>()
    } else {
        std::iter::once(first).chain(parts).collect()
    };
    for opt in rest {
        let (k, v) = opt
            .split_once('=')
            .ok_or_else(|| bad(value, format!("option `{opt}` needs a value (KEY=VALUE)")))?;
        let num = |base: u32| {
            u32::from_str_radix(v, base)
                .map_err(|_| bad(value, format!("`{k}` must be a number, not `{v}`")))
        };
        match k {
            "source" | "src" => name = Some(v.to_string()),
            "type" => {
                kind = Some(match v {
                    "mount" => SecretKind::Mount,
                    "env" => SecretKind::Env,
                    _ => return Err(bad(value, format!("type `{v}` is not mount or env"))),
                })
            }
            "target" | "dst" | "destination" => target = Some(v.to_string()),
            "uid" => uid = Some(num(10)?),
            "gid" => gid = Some(num(10)?),
            "mode" => mode = Some(num(8)?),
            _ => {
                return Err(bad(
                    value,
                    format!("unknown option `{k}` (use type, target, uid, gid or mode)"),
                ));
            }
        }
    }
    let name = name
        .filter(|n| !n.is_empty())
        .ok_or_else(|| bad(value, "it names no secret"))?;
    let kind = kind.unwrap_or_default();
    if kind == SecretKind::Env && (uid.is_some() || gid.is_some() || mode.is_some()) {
        return Err(bad(value, "uid, gid and mode apply only to type=mount"));
    }
    if mode.is_some_and(|m| m > 0o7777) {
        return Err(bad(value, "mode must be an octal file mode (at most 7777)"));
    }
    let target = match (kind, target) {
        (SecretKind::Env, t) => t.unwrap_or_else(|| name.clone()),
        (SecretKind::Mount, None) => format!("/run/secrets/{name}"),
        (SecretKind::Mount, Some(t)) if t.starts_with('/') => t,
        (SecretKind::Mount, Some(t)) => format!("/run/secrets/{t}"),
    };
    if target.is_empty() || (kind == SecretKind::Env && target.contains('=')) {
        return Err(bad(value, format!("invalid target `{target}`")));
    }
    Ok(SecretUse {
        name,
        id: String::new(),
        kind,
        target,
        uid: uid.unwrap_or(0),
        gid: gid.unwrap_or(0),
        mode: mode.unwrap_or_else(default_mode),
    })
}

/// The secrets of a new container, looked up with their data (read now: the container keeps a copy).
pub fn resolve(ctx: &Ctx, values: &[String]) -> Result<Vec<(SecretUse, Vec<u8>)>, EngineError> {
    let mut out: Vec<(SecretUse, Vec<u8>)> = Vec::new();
    for v in values {
        let mut u = parse(v)?;
        let record = super::find(ctx, &u.name)?;
        if out
            .iter()
            .any(|(o, _)| o.kind == u.kind && o.target == u.target)
        {
            return Err(bad(v, format!("`{}` is the target of two secrets", u.target)).into());
        }
        u.name = record.name.clone();
        u.id = record.id.clone();
        let data = super::data(ctx, &record)?;
        out.push((u, data));
    }
    Ok(out)
}

fn io(op: &'static str, path: &Path, source: std::io::Error) -> EngineError {
    SecretError::Io {
        op,
        path: path.to_path_buf(),
        source,
    }
    .into()
}

/// A use's copy: one per `--secret`, as one secret can be given twice (as a file and as a variable).
fn copy_name(i: usize, u: &SecretUse) -> String {
    format!("{i}-{}", u.name)
}

/// The directory in a container's directory where its copies are.
fn copies(container_dir: &Path) -> PathBuf {
    container_dir.join("secrets")
}

/// Write the container's copies into its (staged) directory: 0600 for env secrets, `uid`/`gid`/`mode`
/// for mount secrets (the directory itself is 0700, so no other host user reaches them).
pub fn stage(container_dir: &Path, secrets: &[(SecretUse, Vec<u8>)]) -> Result<(), EngineError> {
    if secrets.is_empty() {
        return Ok(());
    }
    let d = copies(container_dir);
    std::fs::DirBuilder::new()
        .mode(0o700)
        .create(&d)
        .map_err(|e| io("create", &d, e))?;
    for (i, (u, data)) in secrets.iter().enumerate() {
        let path = d.join(copy_name(i, u));
        let mode = if u.kind == SecretKind::Env {
            0o600
        } else {
            u.mode
        };
        crate::store::write_atomic(&path, data, 0o600).map_err(|e| io("write", &path, e))?;
        if u.kind == SecretKind::Mount {
            nix::unistd::chown(
                &path,
                Some(nix::unistd::Uid::from_raw(u.uid)),
                Some(nix::unistd::Gid::from_raw(u.gid)),
            )
            .map_err(|e| io("chown", &path, e.into()))?;
        }
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode))
            .map_err(|e| io("chmod", &path, e))?;
    }
    Ok(())
}

/// What a starting container gets of its secrets.
pub struct ForStart {
    /// Read-only binds of the mount secrets (host copy, target).
    pub binds: Vec<(PathBuf, String)>,
    /// `NAME=VALUE` of the env secrets.
    pub env: Vec<String>,
}

/// At start: the read-only binds of the mount secrets and the `NAME=VALUE` of the env secrets.
pub fn for_start(container_dir: &Path, secrets: &[SecretUse]) -> Result<ForStart, EngineError> {
    let d = copies(container_dir);
    let mut binds = Vec::new();
    let mut env = Vec::new();
    for (i, u) in secrets.iter().enumerate() {
        let path = d.join(copy_name(i, u));
        match u.kind {
            SecretKind::Mount => binds.push((path, u.target.clone())),
            SecretKind::Env => {
                let data = std::fs::read(&path).map_err(|e| io("read", &path, e))?;
                env.push(format!("{}={}", u.target, String::from_utf8_lossy(&data)));
            }
        }
    }
    Ok(ForStart { binds, env })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_podman_secret_flags() {
        let u = parse("db").unwrap();
        assert_eq!(
            (u.kind, u.target.as_str(), u.mode),
            (SecretKind::Mount, "/run/secrets/db", 0o444)
        );
        let u = parse("db,type=env").unwrap();
        assert_eq!((u.kind, u.target.as_str()), (SecretKind::Env, "db"));
        let u = parse("db,type=env,target=PASSWORD").unwrap();
        assert_eq!(u.target, "PASSWORD");
        let u = parse("db,target=pw,uid=1000,gid=100,mode=0400").unwrap();
        assert_eq!(
            (u.target.as_str(), u.uid, u.gid, u.mode),
            ("/run/secrets/pw", 1000, 100, 0o400)
        );
        let u = parse("source=db,target=/etc/pw").unwrap();
        assert_eq!((u.name.as_str(), u.target.as_str()), ("db", "/etc/pw"));
    }

    #[test]
    fn refuses_bad_secret_flags() {
        for v in [
            "",
            "db,type=file",
            "db,type=env,uid=1",
            "db,mode=999",
            "db,uid=x",
            "db,color=red",
            "db,type",
            "type=env",
        ] {
            assert!(parse(v).is_err(), "{v}");
        }
    }
}
