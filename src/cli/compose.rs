//! `compose`: runs an installed compose provider with roost as its `podman`, as `podman compose`
//! does (podman-compose(1)). The provider is `$PODMAN_COMPOSE_PROVIDER`, else the first of
//! containers.conf's `[engine] compose_providers` that exists, else `podman-compose` on PATH.
//! docker-compose (podman's first default) is not looked for: it talks to a Docker API socket,
//! which roost does not serve. roost reaches the provider as `podman` through a directory first on
//! its PATH holding a `podman` link to the running binary.
use std::ffi::OsString;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};

use clap::Args;

use crate::engine::Ctx;
use crate::error::Error;

#[derive(Debug, Args)]
#[command(disable_help_flag = true)]
pub struct ComposeArgs {
    /// Options, command and arguments for the compose provider (`roost compose --help` shows its help)
    #[arg(
        value_name = "ARG",
        trailing_var_arg = true,
        allow_hyphen_values = true,
        num_args = 0..
    )]
    pub args: Vec<OsString>,
}

/// What containers.conf and the environment say about compose.
#[derive(Debug, Default)]
pub struct ComposeConf {
    /// `$PODMAN_COMPOSE_PROVIDER`.
    pub env_provider: Option<PathBuf>,
    /// `[engine] compose_providers`.
    pub providers: Vec<PathBuf>,
    /// `[engine] compose_warning_logs`, overridden by `$PODMAN_COMPOSE_WARNING_LOGS` (default true).
    pub warning_logs: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum ComposeError {
    #[error("compose provider `{0}` ($PODMAN_COMPOSE_PROVIDER) is not an executable file")]
    EnvProvider(PathBuf),
    #[error("no compose provider found: {}", not_found(.configured, *.docker_compose))]
    NotFound {
        configured: Vec<PathBuf>,
        docker_compose: bool,
    },
    #[error("failed to prepare the `podman` link for the compose provider in `{}`", dir.display())]
    Shim {
        dir: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("failed to execute compose provider `{}`", provider.display())]
    Exec {
        provider: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

fn not_found(configured: &[PathBuf], docker_compose: bool) -> String {
    let mut why = String::from("podman-compose is not on PATH");
    if !configured.is_empty() {
        let list: Vec<String> = configured
            .iter()
            .map(|p| format!("`{}`", p.display()))
            .collect();
        why = format!(
            "none of compose_providers ({}) exists and {why}",
            list.join(", ")
        );
    }
    if docker_compose {
        why.push_str(
            "; docker-compose is installed but needs a Docker API socket, which roost does not serve",
        );
    }
    why
}

impl ComposeError {
    pub fn hint(&self) -> Option<String> {
        match self {
            ComposeError::EnvProvider(_) | ComposeError::NotFound { .. } => Some(
                "install podman-compose (`apt install podman-compose` or `pip install --user podman-compose`), \
                 or name a provider in containers.conf: `[engine] compose_providers = [\"/path/to/provider\"]`"
                    .into(),
            ),
            _ => None,
        }
    }
}

/// The provider to run, or why there is none.
pub fn provider(
    conf: &ComposeConf,
    path_var: Option<&std::ffi::OsStr>,
) -> Result<PathBuf, ComposeError> {
    if let Some(p) = &conf.env_provider {
        return resolve(p, path_var).ok_or_else(|| ComposeError::EnvProvider(p.clone()));
    }
    if let Some(p) = conf.providers.iter().find_map(|p| resolve(p, path_var)) {
        return Ok(p);
    }
    resolve(Path::new("podman-compose"), path_var).ok_or_else(|| ComposeError::NotFound {
        configured: conf.providers.clone(),
        docker_compose: resolve(Path::new("docker-compose"), path_var).is_some(),
    })
}

/// `name` itself when it has a slash, else the first executable `name` in `path_var`'s directories.
fn resolve(name: &Path, path_var: Option<&std::ffi::OsStr>) -> Option<PathBuf> {
    if name.as_os_str().is_empty() {
        return None;
    }
    if name.components().count() > 1 || name.is_absolute() {
        return is_executable(name).then(|| name.to_path_buf());
    }
    std::env::split_paths(path_var?)
        .filter(|d| d.is_absolute())
        .map(|d| d.join(name))
        .find(|p| is_executable(p))
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// A directory holding `podman` → this binary, to put first on the provider's PATH.
fn podman_shim(runtime: &Path) -> Result<PathBuf, ComposeError> {
    let dir = runtime.join("compose-bin");
    let err = |source| ComposeError::Shim {
        dir: dir.clone(),
        source,
    };
    let exe = std::env::current_exe().map_err(err)?;
    std::fs::create_dir_all(&dir).map_err(err)?;
    let link = dir.join("podman");
    if std::fs::read_link(&link).ok().as_deref() != Some(exe.as_path()) {
        // Replaced atomically: another `compose` may be running with the old link.
        let tmp = dir.join(format!(".podman.{}", std::process::id()));
        let _ = std::fs::remove_file(&tmp);
        std::os::unix::fs::symlink(&exe, &tmp).map_err(err)?;
        std::fs::rename(&tmp, &link).map_err(err)?;
    }
    Ok(dir)
}

pub fn compose(ctx: &Ctx, a: &ComposeArgs) -> Result<i32, Error> {
    let conf = super::ctx::compose_conf(&ctx.paths);
    let path_var = std::env::var_os("PATH");
    let provider = provider(&conf, path_var.as_deref())?;
    let shim = podman_shim(&ctx.paths.runtime)?;
    if conf.warning_logs {
        #[allow(clippy::print_stderr)]
        {
            eprintln!(
                ">>>> Executing external compose provider \"{}\". Please see roost-compose(1) for how to disable this message. <<<<\n",
                provider.display()
            );
        }
    }
    let mut dirs = vec![shim];
    dirs.extend(path_var.iter().flat_map(std::env::split_paths));
    let new_path = std::env::join_paths(dirs).map_err(|e| Error::Usage(format!("PATH: {e}")))?;
    let source = std::process::Command::new(&provider)
        .args(&a.args)
        .env("PATH", new_path)
        .exec();
    Err(ComposeError::Exec { provider, source }.into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn exe(dir: &Path, name: &str) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        p
    }

    #[test]
    fn provider_order_env_then_conf_then_podman_compose() {
        let d = tempfile::tempdir().unwrap();
        let bin = d.path().join("bin");
        std::fs::create_dir(&bin).unwrap();
        let pc = exe(&bin, "podman-compose");
        let mine = exe(d.path(), "my-compose");
        let path = Some(bin.as_os_str());
        let mut conf = ComposeConf::default();
        assert_eq!(provider(&conf, path).unwrap(), pc);
        conf.providers = vec![d.path().join("missing"), mine.clone()];
        assert_eq!(provider(&conf, path).unwrap(), mine);
        conf.env_provider = Some("podman-compose".into());
        assert_eq!(provider(&conf, path).unwrap(), pc);
        conf.env_provider = Some(d.path().join("nope"));
        assert!(matches!(
            provider(&conf, path),
            Err(ComposeError::EnvProvider(_))
        ));
    }

    #[test]
    fn none_found_names_docker_compose_and_the_fix() {
        let d = tempfile::tempdir().unwrap();
        exe(d.path(), "docker-compose");
        let e = provider(&ComposeConf::default(), Some(d.path().as_os_str())).unwrap_err();
        let text = e.to_string();
        assert!(text.contains("podman-compose is not on PATH"), "{text}");
        assert!(text.contains("Docker API socket"), "{text}");
        assert!(e.hint().unwrap().contains("compose_providers"));
    }
}
