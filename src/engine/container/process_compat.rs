//! Adapter from `CreateOptions` to the process resolver.
use super::CreateOptions;
use super::files::ResolvedProcess;
use super::process::{self, ProcessFlags};
use crate::engine::EngineError;
use crate::oci::ContainerConfig;

pub(super) fn resolve(
    cfg: &ContainerConfig,
    opts: &CreateOptions,
    hostname: &str,
    passwd: Option<&str>,
    group: Option<&str>,
) -> Result<ResolvedProcess, EngineError> {
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
    let p = process::resolve(cfg, &flags, &opts.host_env, passwd, group)
        .map_err(|e| EngineError::Invalid(e.to_string()))?;
    Ok(ResolvedProcess {
        args: p.args,
        env: p.env,
        cwd: p.cwd,
        uid: p.uid,
        gid: p.gid,
        additional_gids: p.additional_gids,
    })
}
