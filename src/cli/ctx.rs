//! Building the engine context from flags and the environment (the only place settings are resolved).
use std::path::PathBuf;

use super::GlobalArgs;
use crate::engine::Ctx;
use crate::engine::storage::{Driver, Forced};
use crate::error::Error;
use crate::network::NetworkConf;
use crate::paths::{PathEnv, Paths};
use crate::registry::{AuthFiles, RegistriesConf};
use crate::userns::{Joined, Mapping};

fn env_path(key: &str) -> Option<PathBuf> {
    std::env::var_os(key)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

/// The network settings of containers.conf (`$CONTAINERS_CONF`, else the system files then the
/// user's; for each key the last file that sets it wins):
/// - what `--network private` means: `[network] default_rootless_network_cmd` (podman 5's key),
///   else pasta when it is installed, else slirp4netns;
/// - `[network] pasta_options`;
/// - `[containers] host_containers_internal_ip`.
fn containers_conf(config_home: &std::path::Path) -> (crate::network::Helper, NetworkConf) {
    let files = match env_path("CONTAINERS_CONF") {
        Some(f) => vec![f],
        None => vec![
            PathBuf::from("/usr/share/containers/containers.conf"),
            PathBuf::from("/etc/containers/containers.conf"),
            config_home.join("containers/containers.conf"),
        ],
    };
    let mut chosen = None;
    let mut conf = NetworkConf::default();
    for f in files {
        let Ok(text) = std::fs::read_to_string(&f) else {
            continue;
        };
        let Ok(table) = text.parse::<toml::Table>() else {
            continue;
        };
        let key = |section: &str, key: &str| table.get(section)?.get(key).cloned();
        match key("network", "default_rootless_network_cmd")
            .as_ref()
            .and_then(|v| v.as_str())
        {
            Some("pasta") => chosen = Some(crate::network::Helper::Pasta),
            Some("slirp4netns") => chosen = Some(crate::network::Helper::Slirp4netns),
            Some(other) => tracing::warn!(
                file = %f.display(),
                "ignoring default_rootless_network_cmd `{other}`: use pasta or slirp4netns"
            ),
            None => {}
        }
        if let Some(opts) = key("network", "pasta_options") {
            match opts.as_array() {
                Some(a) => {
                    conf.pasta_options = a
                        .iter()
                        .filter_map(|o| o.as_str().map(str::to_string))
                        .collect();
                }
                None => tracing::warn!(
                    file = %f.display(),
                    "ignoring pasta_options: it must be an array of strings"
                ),
            }
        }
        match key("containers", "host_containers_internal_ip")
            .as_ref()
            .and_then(|v| v.as_str())
        {
            Some("") | None => {}
            Some(ip) if ip == "none" || ip.parse::<std::net::IpAddr>().is_ok() => {
                conf.host_containers_internal_ip = Some(ip.to_string());
            }
            Some(other) => tracing::warn!(
                file = %f.display(),
                "ignoring host_containers_internal_ip `{other}`: use an IP address or `none`"
            ),
        }
    }
    let helper = chosen.unwrap_or_else(|| {
        crate::engine::container::network::default_helper(
            &std::env::var("PATH").unwrap_or_default(),
        )
    });
    (helper, conf)
}

/// A storage driver the user forces: `--storage-driver`, else `driver` from `CONTAINERS_STORAGE_CONF` or
/// the user's `containers/storage.conf` (only the driver is taken from podman's file: roost keeps its own
/// store). `None`: the engine probes for the best one.
fn storage_driver(flag: Option<&str>, config_home: &std::path::Path) -> Option<Forced> {
    if let Some(d) = flag {
        return Driver::parse(d).map(|driver| Forced {
            driver,
            source: "--storage-driver".into(),
        });
    }
    let (file, source) = match env_path("CONTAINERS_STORAGE_CONF") {
        Some(f) => (f, "CONTAINERS_STORAGE_CONF"),
        None => (config_home.join("containers/storage.conf"), "storage.conf"),
    };
    let text = std::fs::read_to_string(&file).ok()?;
    let name = text.parse::<toml::Table>().ok().and_then(|t| {
        t.get("storage")?
            .get("driver")?
            .as_str()
            .map(str::to_string)
    });
    // Drivers roost does not have (btrfs, zfs…) are left to the probe, as before: podman's file may be
    // shared with podman.
    name.as_deref()
        .and_then(Driver::parse)
        .map(|driver| Forced {
            driver,
            source: format!("{source} (`{}`)", file.display()),
        })
}

pub(super) fn paths(global: &GlobalArgs) -> Result<Paths, Error> {
    let mut env = PathEnv::from_process();
    env.root = global.root.clone();
    env.runroot = global.runroot.clone();
    Ok(Paths::resolve(&env)?)
}

pub(super) fn build(global: &GlobalArgs, joined: Option<Joined>) -> Result<Ctx, Error> {
    let paths = paths(global)?;
    let mapping = Mapping::detect(std::path::Path::new("/etc"))?;
    let registries_files = match env_path("CONTAINERS_REGISTRIES_CONF") {
        Some(f) => vec![f],
        None => crate::registry::default_conf_files(&paths.config_home),
    };
    let registries = RegistriesConf::load(&registries_files)?;
    let mut auth =
        crate::registry::default_auth_files(&paths.runtime_base, &paths.config_home, &paths.home);
    if let Some(f) = env_path("REGISTRY_AUTH_FILE") {
        auth = AuthFiles {
            read: vec![f.clone()],
            write: f,
        };
    }
    let (default_network, network_conf) = containers_conf(&paths.config_home);
    Ok(Ctx {
        rootless: joined.is_some() || !nix::unistd::Uid::current().is_root(),
        default_network,
        network_conf,
        storage_driver: storage_driver(global.storage_driver.as_deref(), &paths.config_home),
        paths,
        mapping,
        joined,
        registries,
        registries_files,
        auth,
    })
}

/// An `--authfile` flag overrides where credentials are read and written.
pub(super) fn with_authfile(ctx: &Ctx, authfile: Option<&PathBuf>) -> AuthFiles {
    match authfile {
        Some(f) => AuthFiles {
            read: vec![f.clone()],
            write: f.clone(),
        },
        None => ctx.auth.clone(),
    }
}

/// Print, once per runtime directory, the warnings about a degraded setup.
pub(super) fn warn_once(ctx: &Ctx) {
    let marker = |name: &str| ctx.paths.runtime_base.join(format!(".roost-warned-{name}"));
    let once = |name: &str, text: String| {
        let m = marker(name);
        if !m.exists() {
            #[allow(clippy::print_stderr)]
            {
                eprintln!("WARNING: {text}");
            }
            let _ = std::fs::write(m, b"");
        }
    };
    if let Some(why) = &ctx.paths.runtime_fallback {
        once(
            "runtime-dir",
            format!(
                "{why}; using the private directory `{}` instead",
                ctx.paths.runtime_base.display()
            ),
        );
    }
    if let Mapping::Single { uid, .. } = ctx.mapping {
        let name = nix::unistd::User::from_uid(uid.into())
            .ok()
            .flatten()
            .map(|u| u.name)
            .unwrap_or(uid.to_string());
        once(
            "subuid",
            format!(
                "no subordinate ids for user `{name}` in /etc/subuid and /etc/subgid: only your own id is mapped \
                 into the user namespace, and files owned by other ids keep their ownership in xattrs only. \
                 To fix it, as root add `{name}:100000:65536` to /etc/subuid and /etc/subgid \
                 (pick a range no other user has)"
            ),
        );
    }
}
