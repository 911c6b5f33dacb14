//! Building the engine context from flags and the environment (the only place settings are resolved).
use std::path::PathBuf;

use super::GlobalArgs;
use crate::engine::Ctx;
use crate::engine::container::volumes::ImageVolumeMode;
use crate::engine::events::{Backend, DEFAULT_MAX_SIZE, EventsConf, JOURNAL_SOCKET};
use crate::engine::storage::{Driver, Forced};
use crate::error::Error;
use crate::network::NetworkConf;
use crate::paths::{PathEnv, Paths};
use crate::registry::{AuthFiles, LazyConf};
use crate::userns::{Joined, Mapping};

fn env_path(key: &str) -> Option<PathBuf> {
    std::env::var_os(key)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

/// The files of containers.conf that parsed, each with its settings.
type Conf = Vec<(PathBuf, toml::Table)>;

/// containers.conf as podman reads it: `$CONTAINERS_CONF`, else the system files then the user's,
/// then `$CONTAINERS_CONF_OVERRIDE`; each file that parses, in that order (a later one's settings win).
fn containers_conf(config_home: &std::path::Path) -> Conf {
    // Read once per process: a command that enters the user namespace needs it before (for
    // `helper_binaries_dir`, where `newuidmap` may be) and after (for everything else).
    static READ: std::sync::Mutex<Option<(PathBuf, Conf)>> = std::sync::Mutex::new(None);
    let mut read = READ.lock().unwrap_or_else(|e| e.into_inner());
    match read.as_ref() {
        Some((home, conf)) if home == config_home => conf.clone(),
        _ => {
            let conf = read_containers_conf(config_home);
            *read = Some((config_home.to_path_buf(), conf.clone()));
            conf
        }
    }
}

fn read_containers_conf(config_home: &std::path::Path) -> Conf {
    let mut files = match env_path("CONTAINERS_CONF") {
        Some(f) => vec![f],
        None => vec![
            PathBuf::from("/usr/share/containers/containers.conf"),
            PathBuf::from("/etc/containers/containers.conf"),
            config_home.join("containers/containers.conf"),
        ],
    };
    // Read last, so its keys win over every other file's (containers.conf(5)).
    files.extend(env_path("CONTAINERS_CONF_OVERRIDE"));
    files
        .into_iter()
        .filter_map(|f| {
            let text = std::fs::read_to_string(&f).ok()?;
            let table = blank_comment_lines(&text).parse::<toml::Table>().ok()?;
            Some((f, table))
        })
        .collect()
}

/// `text` with its comment lines emptied (line numbers kept). podman's own containers.conf is 24 kB
/// of comments around a dozen settings, and every roost command reads it: the TOML parser takes about
/// five times longer over the comments than over what is left. A text with multi-line strings, where a
/// line starting with `#` may be part of a value, is left as it is.
fn blank_comment_lines(text: &str) -> std::borrow::Cow<'_, str> {
    if text.contains("\"\"\"") || text.contains("'''") {
        return text.into();
    }
    let mut out = String::with_capacity(text.len() / 8);
    for line in text.split_inclusive('\n') {
        if line.trim_start().starts_with('#') {
            out.push('\n');
        } else {
            out.push_str(line);
        }
    }
    out.into()
}

/// containers.conf's `[engine] runtime`: roost always uses its built-in runtime, but a runtime
/// that exists nowhere is a broken configuration, refused as podman refuses it.
fn check_conf_runtime(
    conf: &[(PathBuf, toml::Table)],
    helpers: &crate::helpers::Helpers,
) -> Result<(), Error> {
    let Some((f, v)) = conf_value(conf, "engine", "runtime") else {
        return Ok(());
    };
    let name = v.as_str().unwrap_or_default();
    let listed = conf.iter().any(|(_, t)| {
        t.get("engine")
            .and_then(|e| e.get("runtimes"))
            .and_then(|r| r.get(name))
            .is_some()
    });
    let exists = name.is_empty()
        || name == "roost"
        || listed
        || std::path::Path::new(name).is_absolute() && std::path::Path::new(name).exists()
        || helpers.find(name).is_some();
    if exists {
        return Ok(());
    }
    Err(Error::Usage(format!(
        "default OCI runtime \"{name}\" not found (set by `[engine] runtime` in {}): roost runs containers with its own built-in runtime (remove the key)",
        f.display()
    )))
}

/// `[containers] mounts`: a list of `--mount` values (checked when a container is created).
fn conf_mounts(conf: &[(PathBuf, toml::Table)]) -> Vec<String> {
    conf_value(conf, "containers", "mounts")
        .and_then(|(_, v)| string_list(v))
        .unwrap_or_default()
}

/// `[section] key` of the last file that sets it.
fn conf_value<'a>(
    conf: &'a [(PathBuf, toml::Table)],
    section: &str,
    key: &str,
) -> Option<(&'a PathBuf, &'a toml::Value)> {
    conf.iter()
        .rev()
        .find_map(|(f, t)| Some((f, t.get(section)?.get(key)?)))
}

/// The strings of an array value (other items skipped); `None` when it is not an array.
fn string_list(v: &toml::Value) -> Option<Vec<String>> {
    let list = v.as_array()?;
    Some(
        list.iter()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect(),
    )
}

/// `[section] key` as a list of strings, with a warning (and nothing) when it is not an array.
fn conf_strings(conf: &[(PathBuf, toml::Table)], section: &str, key: &str) -> Vec<String> {
    let Some((f, v)) = conf_value(conf, section, key) else {
        return Vec::new();
    };
    string_list(v).unwrap_or_else(|| {
        tracing::warn!(file = %f.display(), "ignoring {key}: it must be an array of strings");
        Vec::new()
    })
}

/// What `--network private` means when containers.conf's `[network] default_rootless_network_cmd`
/// (podman 5's key) says; `None` leaves the choice to [`Ctx::default_network`].
fn default_network(conf: &[(PathBuf, toml::Table)]) -> Option<crate::network::Helper> {
    match conf_value(conf, "network", "default_rootless_network_cmd")? {
        (_, v) if v.as_str() == Some("pasta") => Some(crate::network::Helper::Pasta),
        (_, v) if v.as_str() == Some("slirp4netns") => Some(crate::network::Helper::Slirp4netns),
        (_, v) if v.as_str() == Some("slirp") => Some(crate::network::Helper::Builtin),
        (f, v) => {
            tracing::warn!(
                file = %f.display(),
                "ignoring default_rootless_network_cmd `{v}`: use pasta, slirp4netns or slirp"
            );
            None
        }
    }
}

/// containers.conf's `[engine] cgroup_manager` (`systemd` or `cgroupfs`; the flag wins).
fn cgroup_manager(conf: &[(PathBuf, toml::Table)]) -> Option<String> {
    match conf_value(conf, "engine", "cgroup_manager")? {
        (_, v) if matches!(v.as_str(), Some("systemd" | "cgroupfs")) => {
            v.as_str().map(String::from)
        }
        (f, v) => {
            tracing::warn!(
                file = %f.display(),
                "ignoring cgroup_manager `{v}`: use systemd or cgroupfs"
            );
            None
        }
    }
}

/// Where helper programs are looked for: `$CONTAINERS_HELPER_BINARY_DIR`, then containers.conf's
/// `[engine] helper_binaries_dir`, then (in `helpers`) podman's libexec directories and PATH.
fn helpers(conf: &[(PathBuf, toml::Table)]) -> crate::helpers::Helpers {
    let mut dirs: Vec<PathBuf> = env_path("CONTAINERS_HELPER_BINARY_DIR")
        .into_iter()
        .collect();
    if let Some(list) =
        conf_value(conf, "engine", "helper_binaries_dir").and_then(|(_, v)| string_list(v))
    {
        dirs.extend(list.into_iter().map(PathBuf::from));
    }
    crate::helpers::Helpers::new(dirs, std::env::var_os("PATH").as_deref())
}

/// The network settings of containers.conf besides the default helper (for each key, the last file
/// that sets it wins): `[network] pasta_options` and `[containers] host_containers_internal_ip`.
fn network_conf(conf: &[(PathBuf, toml::Table)]) -> NetworkConf {
    let mut out = NetworkConf {
        pasta_options: conf_strings(conf, "network", "pasta_options"),
        dns_servers: conf_strings(conf, "containers", "dns_servers"),
        dns_searches: conf_strings(conf, "containers", "dns_searches"),
        dns_options: conf_strings(conf, "containers", "dns_options"),
        ..NetworkConf::default()
    };
    for ip in conf_strings(conf, "network", "default_host_ips") {
        match ip.parse() {
            Ok(ip) => out.default_host_ips.push(ip),
            Err(_) => tracing::warn!("ignoring default_host_ips entry `{ip}`: not an IP address"),
        }
    }
    if let Some((_, toml::Value::String(f))) = conf_value(conf, "containers", "base_hosts_file")
        && !f.is_empty()
    {
        out.base_hosts_file = Some(f.clone());
    }
    if let Some((f, v)) = conf_value(conf, "containers", "host_containers_internal_ip") {
        match v.as_str() {
            Some("") => {}
            Some(ip) if ip == "none" || ip.parse::<std::net::IpAddr>().is_ok() => {
                out.host_containers_internal_ip = Some(ip.to_string());
            }
            _ => tracing::warn!(
                file = %f.display(),
                "ignoring host_containers_internal_ip `{v}`: use an IP address or `none`"
            ),
        }
    }
    out
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

/// containers.conf's `events_logger`, `events_logfile_path` and `events_logfile_max_size`, with
/// `--events-backend` over them. journald without a journal falls back to the file, with a warning.
fn events_conf(
    conf: &[(PathBuf, toml::Table)],
    flag: Option<&str>,
    paths: &Paths,
) -> Result<EventsConf, Error> {
    let backend = match flag {
        Some(b) => Backend::parse(b),
        None => match conf_value(conf, "engine", "events_logger") {
            Some((f, v)) => Some(v.as_str().and_then(Backend::parse).ok_or_else(|| {
                Error::Usage(format!(
                    "{}: events_logger `{v}` is not valid: use \"file\", \"journald\" or \"none\"",
                    f.display()
                ))
            })?),
            None => None,
        },
    };
    let backend = match backend.unwrap_or(Backend::File) {
        Backend::Journald if !std::path::Path::new(JOURNAL_SOCKET).exists() => {
            tracing::warn!(
                "events_logger is journald but there is no journal ({JOURNAL_SOCKET}): \
                 recording events to the file instead"
            );
            Backend::File
        }
        b => b,
    };
    let path = match conf_value(conf, "engine", "events_logfile_path") {
        Some((_, v)) if v.as_str().is_some_and(|p| p.starts_with('/')) => {
            PathBuf::from(v.as_str().unwrap_or_default())
        }
        Some((f, v)) => {
            return Err(Error::Usage(format!(
                "{}: events_logfile_path `{v}` must be an absolute path",
                f.display()
            )));
        }
        None => EventsConf::default_path(&paths.runtime),
    };
    let max_size = match conf_value(conf, "engine", "events_logfile_max_size") {
        None => Some(DEFAULT_MAX_SIZE),
        Some((f, v)) => parse_size(v).ok_or_else(|| {
            Error::Usage(format!(
                "{}: events_logfile_max_size `{v}` is not a size: use bytes or a number with k, m or g (0: never rotate)",
                f.display()
            ))
        })?,
    };
    Ok(EventsConf {
        backend,
        path,
        max_size,
    })
}

/// A size in containers.conf: a number of bytes, or text such as `1m`, `500k`, `1GB`; 0 is unlimited.
fn parse_size(v: &toml::Value) -> Option<Option<u64>> {
    let n = match v {
        toml::Value::Integer(n) => u64::try_from(*n).ok()?,
        toml::Value::String(s) => {
            let s = s.trim().to_ascii_lowercase();
            let s = s.trim_end_matches('b').trim_end_matches('i');
            let (num, mult) = match s.chars().last()? {
                'k' => (&s[..s.len() - 1], 1_000),
                'm' => (&s[..s.len() - 1], 1_000_000),
                'g' => (&s[..s.len() - 1], 1_000_000_000),
                _ => (s, 1),
            };
            num.trim().parse::<u64>().ok()?.checked_mul(mult)?
        }
        _ => return None,
    };
    Some((n > 0).then_some(n))
}

pub(super) fn paths(global: &GlobalArgs) -> Result<Paths, Error> {
    let mut env = PathEnv::from_process();
    env.root = global.root.clone();
    env.runroot = global.runroot.clone();
    Ok(Paths::resolve(&env)?)
}

/// `ROOST_REGISTRY_TIMEOUT`: seconds a registry may take to connect or to send more bytes.
fn registry_timeout() -> Result<std::time::Duration, Error> {
    const KEY: &str = "ROOST_REGISTRY_TIMEOUT";
    let Some(v) = std::env::var_os(KEY).filter(|v| !v.is_empty()) else {
        return Ok(crate::registry::DEFAULT_TIMEOUT);
    };
    v.to_str()
        .and_then(|s| s.trim().parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s > 0.0 && *s <= 86_400.0)
        .map(std::time::Duration::from_secs_f64)
        .ok_or_else(|| {
            Error::Usage(format!(
                "{KEY}=`{}`: expected a number of seconds between 0 and 86400",
                v.to_string_lossy().escape_debug()
            ))
        })
}

pub(super) fn build(global: &GlobalArgs, joined: Option<Joined>) -> Result<Ctx, Error> {
    let paths = paths(global)?;
    // podman's first debug lines ("Using graph root …").
    tracing::debug!(
        graph_root = %paths.data.display(),
        run_root = %paths.runtime.display(),
        "using the store"
    );
    // Before anything makes a directory below them with the default mode: the store and the runtime
    // state are private (a stat each when they already are; older stores are tightened).
    crate::store::make_private(&paths.data)?;
    crate::paths::private_dir(&paths.runtime)?;
    let mapping = Mapping::detect(std::path::Path::new("/etc"))?;
    let registries = LazyConf::new(crate::registry::ConfDirs {
        system: PathBuf::from("/etc/containers"),
        user: paths.config_home.join("containers"),
        forced: env_path("CONTAINERS_REGISTRIES_CONF"),
    });
    let mut auth =
        crate::registry::default_auth_files(&paths.runtime_base, &paths.config_home, &paths.home);
    if let Some(f) = env_path("REGISTRY_AUTH_FILE") {
        auth = AuthFiles {
            read: vec![f.clone()],
            write: f,
        };
    }
    let conf = containers_conf(&paths.config_home);
    let helpers = helpers(&conf);
    check_conf_runtime(&conf, &helpers)?;
    let default_network = default_network(&conf);
    crate::helpers::init(helpers);
    let network_conf = network_conf(&conf);
    let events = events_conf(&conf, global.events_backend.as_deref(), &paths)?;
    let log_driver = conf_value(&conf, "containers", "log_driver").map(|(f, v)| {
        (
            v.as_str().map_or_else(|| v.to_string(), str::to_string),
            f.clone(),
        )
    });
    Ok(Ctx {
        events,
        log_driver,
        registry_timeout: registry_timeout()?,
        cgroup: crate::engine::container::resources::CgroupSettings {
            manager: global
                .cgroup_manager
                .clone()
                .or_else(|| cgroup_manager(&conf)),
            bus_address: std::env::var("DBUS_SESSION_BUS_ADDRESS").ok(),
            runtime_dir: std::env::var_os("XDG_RUNTIME_DIR").map(std::path::PathBuf::from),
        },
        rootless: joined.is_some() || !nix::unistd::Uid::current().is_root(),
        program: super::program_name(),
        image_volume_mode: image_volume_mode(&conf)?,
        conf_mounts: conf_mounts(&conf),
        default_mounts_file: global.default_mounts_file.clone(),
        runtime_flags: global.runtime_flag.clone(),
        default_userns: default_userns(&conf),
        notify_socket: std::env::var("NOTIFY_SOCKET")
            .ok()
            .filter(|s| !s.is_empty())
            .map(crate::engine::container::sdnotify::NotifySocket),
        default_network,
        network_conf,
        storage_driver: storage_driver(global.storage_driver.as_deref(), &paths.config_home),
        paths,
        mapping,
        joined,
        registries,
        auth,
        spare_store: Default::default(),
    })
}

/// containers.conf's `[engine] image_volume_mode` (bind, anonymous, tmpfs or ignore).
fn image_volume_mode(conf: &[(PathBuf, toml::Table)]) -> Result<Option<ImageVolumeMode>, Error> {
    let Some((f, v)) = conf_value(conf, "engine", "image_volume_mode") else {
        return Ok(None);
    };
    let mode = v.as_str().unwrap_or_default().parse().map_err(|e| {
        Error::Usage(format!(
            "{e} (set by `[engine] image_volume_mode` in {})",
            f.display()
        ))
    })?;
    Ok(Some(mode))
}

/// `$PODMAN_USERNS`, else containers.conf's `[containers] userns` (podman-run(1)'s order).
fn default_userns(conf: &[(PathBuf, toml::Table)]) -> Option<String> {
    std::env::var("PODMAN_USERNS").ok().or_else(|| {
        conf_value(conf, "containers", "userns").and_then(|(_, v)| v.as_str().map(str::to_string))
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

/// containers.conf's `[engine] compose_providers` and `compose_warning_logs`, and podman's
/// environment variables over them (`PODMAN_COMPOSE_PROVIDER`, `PODMAN_COMPOSE_WARNING_LOGS`).
pub(super) fn compose_conf(paths: &Paths) -> super::compose::ComposeConf {
    let conf = containers_conf(&paths.config_home);
    let providers = conf_value(&conf, "engine", "compose_providers")
        .and_then(|(_, v)| string_list(v))
        .unwrap_or_default()
        .into_iter()
        .map(PathBuf::from)
        .collect();
    let mut warning_logs = conf_value(&conf, "engine", "compose_warning_logs")
        .and_then(|(_, v)| v.as_bool())
        .unwrap_or(true);
    if let Some(v) = std::env::var_os("PODMAN_COMPOSE_WARNING_LOGS").filter(|v| !v.is_empty()) {
        warning_logs = !matches!(v.to_str(), Some("false" | "0" | "False" | "FALSE"));
    }
    super::compose::ComposeConf {
        env_provider: env_path("PODMAN_COMPOSE_PROVIDER"),
        providers,
        warning_logs,
    }
}

/// Where this process finds its helper programs (containers.conf's `helper_binaries_dir`), for a
/// process that enters the user namespace before it builds its whole [`Ctx`] (`newuidmap` is found
/// with it).
pub(super) fn init_helpers(paths: &Paths) {
    crate::helpers::init(helpers(&containers_conf(&paths.config_home)));
}

/// Print, once per runtime directory, the warnings about a degraded setup.
pub(super) fn warn_once(paths: &Paths, mapping: &Mapping) {
    let marker = |name: &str| paths.runtime_base.join(format!(".roost-warned-{name}"));
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
    if let Some(why) = &paths.runtime_fallback {
        once(
            "runtime-dir",
            format!(
                "{why}; using the private directory `{}` instead",
                paths.runtime_base.display()
            ),
        );
    }
    if let Mapping::Single { uid, .. } = *mapping {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn conf(text: &str) -> Vec<(PathBuf, toml::Table)> {
        vec![(
            PathBuf::from("containers.conf"),
            text.parse().expect("valid toml"),
        )]
    }

    #[test]
    fn comment_lines_are_blanked_before_parsing() {
        let text = "# a comment\n[engine]\n  # indented comment\ncgroup_manager = \"cgroupfs\" # trailing\nx = \"#not\"\n#last";
        let blanked = blank_comment_lines(text);
        assert_eq!(
            blanked,
            "\n[engine]\n\ncgroup_manager = \"cgroupfs\" # trailing\nx = \"#not\"\n\n"
        );
        assert_eq!(
            blanked.parse::<toml::Table>().unwrap(),
            text.parse::<toml::Table>().unwrap()
        );
        // In a multi-line string a `#` line is part of the value: nothing is touched.
        let multi = "[engine]\nx = \"\"\"\n# kept\n\"\"\"\n";
        assert_eq!(blank_comment_lines(multi), multi);
        let literal = "[engine]\nx = '''\n# kept\n'''\n";
        assert_eq!(blank_comment_lines(literal), literal);
    }

    #[test]
    fn cgroup_manager_from_containers_conf() {
        let got = |t: &str| cgroup_manager(&conf(t));
        assert_eq!(
            got("[engine]\ncgroup_manager = \"cgroupfs\"\n").as_deref(),
            Some("cgroupfs")
        );
        assert_eq!(
            got("[engine]\ncgroup_manager = \"systemd\"\n").as_deref(),
            Some("systemd")
        );
        // Unknown values are ignored (with a warning), as is a file without the key.
        assert_eq!(got("[engine]\ncgroup_manager = \"lxc\"\n"), None);
        assert_eq!(got("[engine]\n"), None);
    }
}
