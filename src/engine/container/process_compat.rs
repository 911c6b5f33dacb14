//! Adapter from `CreateOptions` to the process resolution (interim: minimal rules until the full
//! resolver lands).
use super::CreateOptions;
use super::files::{ResolvedProcess, base_env};
use crate::engine::EngineError;
use crate::oci::ContainerConfig;

fn lookup_user(passwd: Option<&str>, user: &str) -> Option<(u32, u32)> {
    passwd?.lines().find_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        (f.len() >= 4 && (f[0] == user || f[2] == user)).then(|| Some((f[2].parse().ok()?, f[3].parse().ok()?)))?
    })
}

pub(super) fn resolve(
    cfg: &ContainerConfig,
    opts: &CreateOptions,
    passwd: Option<&str>,
    _group: Option<&str>,
) -> Result<ResolvedProcess, EngineError> {
    let entrypoint: Vec<String> = match &opts.entrypoint {
        Some(e) if e.is_empty() => vec![],
        Some(e) => serde_json::from_str(e).unwrap_or_else(|_| vec![e.clone()]),
        None => cfg.entrypoint.clone().unwrap_or_default(),
    };
    let cmd = if !opts.command.is_empty() {
        opts.command.clone()
    } else if opts.entrypoint.is_some() {
        vec![]
    } else {
        cfg.cmd.clone().unwrap_or_default()
    };
    let args: Vec<String> = entrypoint.into_iter().chain(cmd).collect();
    if args.is_empty() {
        return Err(EngineError::Invalid("no command or entrypoint provided, and no CMD or ENTRYPOINT from image".into()));
    }
    let mut env = base_env(opts.hostname.as_deref(), opts.tty);
    let mut set = |kv: &str| {
        let key = kv.split('=').next().unwrap_or(kv).to_string();
        env.retain(|e| e.split('=').next() != Some(key.as_str()));
        env.push(kv.to_string());
    };
    for e in cfg.env.iter().flatten() {
        set(e);
    }
    for e in &opts.env {
        if e.contains('=') {
            set(e);
        } else if let Ok(v) = std::env::var(e) {
            set(&format!("{e}={v}"));
        }
    }
    let user = opts.user.clone().or(cfg.user.clone()).unwrap_or_default();
    let (u, g) = user.split_once(':').map_or((user.as_str(), None), |(u, g)| (u, Some(g)));
    let (uid, mut gid) = if u.is_empty() {
        (0, 0)
    } else if let Ok(n) = u.parse::<u32>() {
        (n, lookup_user(passwd, u).map_or(0, |x| x.1))
    } else {
        lookup_user(passwd, u).ok_or_else(|| {
            EngineError::Invalid(format!("unable to find user {u}: no matching entries in passwd file"))
        })?
    };
    if let Some(g) = g {
        gid = g.parse().map_err(|_| EngineError::Invalid(format!("unable to find group {g}")))?;
    }
    if !env.iter().any(|e| e.starts_with("HOME=")) {
        let home = passwd
            .and_then(|p| p.lines().find(|l| l.split(':').nth(2) == Some(&uid.to_string())).and_then(|l| l.split(':').nth(5)))
            .unwrap_or("/");
        env.push(format!("HOME={home}"));
    }
    let cwd = opts.workdir.clone().or(cfg.working_dir.clone()).filter(|w| !w.is_empty()).unwrap_or_else(|| "/".into());
    Ok(ResolvedProcess { args, env, cwd, uid, gid, additional_gids: vec![] })
}
