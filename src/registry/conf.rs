//! registries.conf (v2 TOML format, as podman reads it): search registries, aliases, per-prefix
//! locations and mirrors, insecure and blocked registries.
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::error::ConfError;
use crate::oci::Reference;

/// The merged contents of all registries.conf files and drop-ins.
#[derive(Debug, Clone, Default)]
pub struct RegistriesConf {
    pub unqualified_search_registries: Vec<String>,
    pub short_name_mode: Option<String>,
    pub registries: Vec<Registry>,
    pub aliases: BTreeMap<String, String>,
    /// The files that were actually read, for error messages.
    pub files: Vec<PathBuf>,
}

/// One `[[registry]]` table.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Registry {
    #[serde(default)]
    pub prefix: String,
    #[serde(default)]
    pub location: String,
    #[serde(default)]
    pub insecure: bool,
    #[serde(default)]
    pub blocked: bool,
    #[serde(default)]
    pub mirror_by_digest_only: bool,
    #[serde(default)]
    pub mirror: Vec<Mirror>,
}

/// One `[[registry.mirror]]` table.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Mirror {
    pub location: String,
    #[serde(default)]
    pub insecure: bool,
}

/// A place to pull a reference from: a mirror or the (possibly rewritten) location.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// The reference rewritten for this endpoint.
    pub reference: Reference,
    /// The registry host (with port), e.g. `127.0.0.1:5000`.
    pub host: String,
    pub insecure: bool,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
struct ConfFile {
    unqualified_search_registries: Option<Vec<String>>,
    short_name_mode: Option<String>,
    #[serde(default)]
    registry: Vec<Registry>,
    #[serde(default)]
    aliases: BTreeMap<String, String>,
}

/// Where registries.conf files are looked for: `/etc/containers` and the user's
/// `$XDG_CONFIG_HOME/containers` (injected, so tests need not read /etc).
#[derive(Debug, Clone)]
pub struct ConfDirs {
    pub system: PathBuf,
    pub user: PathBuf,
    /// `$CONTAINERS_REGISTRIES_CONF`: this file instead of `registries.conf`.
    pub forced: Option<PathBuf>,
}

/// The files podman reads, in order (containers-registries.conf.d(5), containers/image's
/// `newConfigWrapper`):
/// - a forced file, then the system drop-ins, then the user's;
/// - else the user's `registries.conf` when it exists, then only the user's drop-ins (the system file
///   and its drop-ins, such as Debian's `shortnames.conf`, are not read);
/// - else the system file, the system drop-ins and the user's.
///
/// Each drop-in directory is read in lexical order, `*.conf` only.
pub fn conf_files(dirs: &ConfDirs) -> Vec<PathBuf> {
    let system_d = || drop_ins(&dirs.system.join("registries.conf.d"));
    let user_d = || drop_ins(&dirs.user.join("registries.conf.d"));
    let user_file = dirs.user.join("registries.conf");
    let mut files = Vec::new();
    if let Some(f) = &dirs.forced {
        files.push(f.clone());
        files.extend(system_d());
    } else if user_file.exists() {
        files.push(user_file);
    } else {
        files.push(dirs.system.join("registries.conf"));
        files.extend(system_d());
    }
    files.extend(user_d());
    files
}

/// `*.conf` files of a drop-in directory, sorted; an unreadable or missing directory has none.
fn drop_ins(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "conf"))
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

/// registries.conf, read on first use: most commands (`run` of a local image, `ps`, `rm`) never
/// resolve a short name or talk to a registry, and a Debian host's files (`registries.conf` and
/// `shortnames.conf`) are 7 kB of TOML with a hundred aliases to check.
#[derive(Debug, Clone)]
pub struct LazyConf {
    dirs: ConfDirs,
    loaded: std::sync::OnceLock<(Vec<PathBuf>, RegistriesConf)>,
}

impl LazyConf {
    pub fn new(dirs: ConfDirs) -> LazyConf {
        LazyConf {
            dirs,
            loaded: std::sync::OnceLock::new(),
        }
    }

    /// The files ([`conf_files`]) and their merged contents, read the first time. A file that does
    /// not parse fails every call that needs the configuration, and only those.
    fn load(&self) -> Result<&(Vec<PathBuf>, RegistriesConf), ConfError> {
        if let Some(l) = self.loaded.get() {
            return Ok(l);
        }
        let files = conf_files(&self.dirs);
        let conf = RegistriesConf::load(&files)?;
        Ok(self.loaded.get_or_init(|| (files, conf)))
    }

    /// The merged configuration.
    pub fn get(&self) -> Result<&RegistriesConf, ConfError> {
        self.load().map(|(_, conf)| conf)
    }

    /// The files the configuration is read from (for messages and `info`).
    pub fn files(&self) -> Result<&[PathBuf], ConfError> {
        self.load().map(|(files, _)| files.as_slice())
    }
}

impl RegistriesConf {
    /// Read and merge `files` in order; later files override earlier ones. Missing files are skipped.
    pub fn load(files: &[PathBuf]) -> Result<RegistriesConf, ConfError> {
        let mut conf = RegistriesConf::default();
        for path in files {
            let text = match std::fs::read_to_string(path) {
                Ok(t) => t,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(source) => {
                    return Err(ConfError::Read {
                        path: path.clone(),
                        source,
                    });
                }
            };
            conf.merge_str(path, &text)?;
        }
        Ok(conf)
    }

    /// Merge one file's text (exposed for tests and for callers that hold the text already).
    pub fn merge_str(&mut self, path: &Path, text: &str) -> Result<(), ConfError> {
        let file: ConfFile = toml::from_str(text).map_err(|source| ConfError::Parse {
            path: path.to_path_buf(),
            source: Box::new(source),
        })?;
        tracing::debug!(file = %path.display(), "read registries configuration");
        if let Some(search) = file.unqualified_search_registries {
            self.unqualified_search_registries = search;
        }
        if file.short_name_mode.is_some() {
            self.short_name_mode = file.short_name_mode;
        }
        for mut reg in file.registry {
            if reg.prefix.is_empty() {
                reg.prefix = reg.location.clone();
            }
            match self.registries.iter_mut().find(|r| r.prefix == reg.prefix) {
                Some(existing) => *existing = reg,
                None => self.registries.push(reg),
            }
        }
        for (alias, target) in file.aliases {
            if Reference::parse(&target).map_or(true, |r| !r.is_qualified()) {
                return Err(ConfError::Alias {
                    path: path.to_path_buf(),
                    alias,
                    target,
                });
            }
            self.aliases.insert(alias, target);
        }
        self.files.push(path.to_path_buf());
        Ok(())
    }

    /// Fully-qualified candidates for a reference: itself when qualified; for a short name its alias, else one
    /// per unqualified-search registry.
    pub fn candidates(&self, reference: &Reference) -> Result<Vec<Reference>, ConfError> {
        if reference.is_qualified() {
            return Ok(vec![reference.clone()]);
        }
        if let Some(target) = self.aliases.get(reference.repository())
            && let Ok(aliased) = Reference::parse(target)
        {
            let mut r = aliased;
            if let Some(t) = reference.tag() {
                r = r.with_tag(t);
            }
            if let Some(d) = reference.digest() {
                r = Reference::new(
                    r.registry().unwrap_or_default(),
                    r.repository(),
                    r.tag(),
                    Some(d.clone()),
                );
            }
            return Ok(vec![r]);
        }
        if self.unqualified_search_registries.is_empty() {
            let files = self
                .files
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join("\", \"");
            return Err(ConfError::ShortName {
                name: reference.to_string(),
                files,
            });
        }
        Ok(self
            .unqualified_search_registries
            .iter()
            .map(|reg| reference.with_registry(reg))
            .collect())
    }

    /// The `[[registry]]` entry with the longest prefix matching a qualified reference.
    pub fn registry_for(&self, reference: &Reference) -> Option<&Registry> {
        let name = reference.to_string();
        self.registries
            .iter()
            .filter(|r| prefix_matches(&r.prefix, &name))
            .max_by_key(|r| r.prefix.len())
    }

    /// Where to pull `reference` from, in order: mirrors, then the location (rewritten when the matching
    /// entry has a different location than its prefix).
    pub fn endpoints(&self, reference: &Reference) -> Vec<Endpoint> {
        let Some(reg) = self.registry_for(reference) else {
            return vec![Endpoint {
                host: reference.registry().unwrap_or_default().to_string(),
                reference: reference.clone(),
                insecure: false,
            }];
        };
        let mut out = Vec::new();
        if !reg.mirror_by_digest_only || reference.digest().is_some() {
            for m in &reg.mirror {
                if let Some(e) = rewrite(reference, &reg.prefix, &m.location, m.insecure) {
                    out.push(e);
                }
            }
        }
        let location = if reg.prefix.starts_with("*.") || reg.location.is_empty() {
            reference.name()
        } else {
            reg.location.clone()
        };
        let prefix = if reg.prefix.starts_with("*.") {
            reference.name()
        } else {
            reg.prefix.clone()
        };
        if let Some(e) = rewrite(reference, &prefix, &location, reg.insecure) {
            out.push(e);
        }
        out
    }

    /// Whether pulling or pushing `reference` is forbidden.
    pub fn is_blocked(&self, reference: &Reference) -> bool {
        self.registry_for(reference).is_some_and(|r| r.blocked)
    }

    /// Whether a registry host is marked insecure, as a location or as a mirror.
    pub fn is_insecure_host(&self, host: &str) -> bool {
        self.registries.iter().any(|r| {
            (r.insecure && (host_of(&r.location) == host || prefix_matches(&r.prefix, host)))
                || r.mirror
                    .iter()
                    .any(|m| m.insecure && host_of(&m.location) == host)
        })
    }
}

fn host_of(location: &str) -> &str {
    location.split('/').next().unwrap_or(location)
}

/// podman's prefix rule: the prefix equals the name, or is followed in it by `/`, `:` or `@`;
/// `*.example.com` matches any subdomain host of example.com.
fn prefix_matches(prefix: &str, name: &str) -> bool {
    if let Some(domain) = prefix.strip_prefix("*.") {
        let host = host_of(name);
        let host = host.split(':').next().unwrap_or(host);
        return host.ends_with(&format!(".{domain}"));
    }
    match name.strip_prefix(prefix) {
        Some("") => !prefix.is_empty(),
        Some(rest) => rest.starts_with(['/', ':', '@']),
        None => false,
    }
}

fn rewrite(
    reference: &Reference,
    prefix: &str,
    location: &str,
    insecure: bool,
) -> Option<Endpoint> {
    let full = reference.to_string();
    let rest = full.strip_prefix(prefix)?;
    let rewritten = format!("{location}{rest}");
    match Reference::parse(&rewritten) {
        Ok(r) if r.is_qualified() => Some(Endpoint {
            host: r.registry().unwrap_or_default().to_string(),
            reference: r,
            insecure,
        }),
        _ => {
            tracing::debug!(location, reference = %full, "skipping a location that does not form a reference");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONF: &str = r#"
unqualified-search-registries = ["registry.fedoraproject.org", "docker.io"]
short-name-mode = "enforcing"

[[registry]]
prefix = "example.com/foo"
location = "internal.example.com/bar"
insecure = true

[[registry.mirror]]
location = "mirror.example.com:5000/baz"
insecure = true

[[registry.mirror]]
location = "mirror2.example.com/qux"

[[registry]]
prefix = "example.com"
location = "example.net"

[[registry]]
location = "blocked.io"
blocked = true

[[registry]]
prefix = "*.wild.io"
insecure = true

[aliases]
"fedora" = "registry.fedoraproject.org/fedora"
"#;

    fn conf() -> RegistriesConf {
        let mut c = RegistriesConf::default();
        c.merge_str(Path::new("/etc/containers/registries.conf"), CONF)
            .unwrap();
        c
    }

    fn r(s: &str) -> Reference {
        Reference::parse(s).unwrap()
    }

    #[test]
    fn search_registries_and_aliases() {
        let c = conf();
        assert_eq!(c.short_name_mode.as_deref(), Some("enforcing"));
        let got: Vec<String> = c
            .candidates(&r("busybox:1"))
            .unwrap()
            .iter()
            .map(|x| x.to_string())
            .collect();
        assert_eq!(
            got,
            [
                "registry.fedoraproject.org/busybox:1",
                "docker.io/library/busybox:1"
            ]
        );
        let got = c.candidates(&r("fedora:40")).unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].to_string(), "registry.fedoraproject.org/fedora:40");
        assert_eq!(
            c.candidates(&r("quay.io/a/b")).unwrap()[0],
            r("quay.io/a/b")
        );
    }

    #[test]
    fn no_search_registries_is_podmans_error() {
        let c = RegistriesConf {
            files: vec!["/a.conf".into()],
            ..Default::default()
        };
        let e = c.candidates(&r("busybox")).unwrap_err().to_string();
        assert_eq!(
            e,
            "short-name `busybox` did not resolve to an alias and no unqualified-search registries are defined in `/a.conf`"
        );
    }

    #[test]
    fn prefix_and_mirror_rewriting() {
        let c = conf();
        let e = c.endpoints(&r("example.com/foo/app:1"));
        let got: Vec<(String, bool)> = e
            .iter()
            .map(|e| (e.reference.to_string(), e.insecure))
            .collect();
        assert_eq!(
            got,
            [
                ("mirror.example.com:5000/baz/app:1".to_string(), true),
                ("mirror2.example.com/qux/app:1".to_string(), false),
                ("internal.example.com/bar/app:1".to_string(), true),
            ]
        );
        assert_eq!(e[0].host, "mirror.example.com:5000");
        // The shorter prefix applies to other repositories; `example.com/foobar` does not match `example.com/foo`.
        let e = c.endpoints(&r("example.com/foobar:1"));
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].reference.to_string(), "example.net/foobar:1");
        // No entry: the reference itself.
        let e = c.endpoints(&r("quay.io/x/y"));
        assert_eq!(e[0].reference, r("quay.io/x/y"));
        assert!(!e[0].insecure);
        // Wildcards keep the reference.
        let e = c.endpoints(&r("a.wild.io/x"));
        assert_eq!(e[0].reference, r("a.wild.io/x"));
        assert!(e[0].insecure);
    }

    #[test]
    fn blocked_and_insecure() {
        let c = conf();
        assert!(c.is_blocked(&r("blocked.io/x/y:1")));
        assert!(!c.is_blocked(&r("blocked.iox/y")));
        assert!(c.is_insecure_host("internal.example.com"));
        assert!(c.is_insecure_host("mirror.example.com:5000"));
        assert!(!c.is_insecure_host("mirror2.example.com"));
        assert!(c.is_insecure_host("b.wild.io"));
    }

    #[test]
    fn later_files_override_and_errors_name_the_file() {
        let mut c = conf();
        c.merge_str(
            Path::new("/d/1.conf"),
            "unqualified-search-registries = [\"quay.io\"]\n[[registry]]\nlocation = \"blocked.io\"\n[aliases]\nfedora = \"quay.io/f\"\n",
        )
        .unwrap();
        assert_eq!(c.unqualified_search_registries, ["quay.io"]);
        assert!(!c.is_blocked(&r("blocked.io/x")));
        assert_eq!(c.aliases["fedora"], "quay.io/f");
        let e = c
            .merge_str(Path::new("/d/2.conf"), "[[registry]\n")
            .unwrap_err();
        assert!(e.to_string().contains("`/d/2.conf`"), "{e}");
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("r.conf");
        std::fs::write(&f, "unqualified-search-registries = [\"x.io\"]").unwrap();
        let c = RegistriesConf::load(&[dir.path().join("missing.conf"), f.clone()]).unwrap();
        assert_eq!(c.files, [f]);
        assert_eq!(c.unqualified_search_registries, ["x.io"]);
    }

    mod properties {
        use proptest::prelude::*;

        use super::super::RegistriesConf;
        use crate::oci::Reference;

        fn confish() -> impl Strategy<Value = String> {
            let line = prop_oneof![
                Just("[[registry]]".to_string()),
                Just("[[registry.mirror]]".to_string()),
                Just("[aliases]".to_string()),
                "location = \"[a-z0-9.:/*\\[\\]-]{0,20}\"",
                "prefix = \"[a-z0-9.:/*-]{0,20}\"",
                "insecure = (true|false|1)",
                "blocked = (true|false)",
                "short-name-mode = \"(enforcing|permissive|disabled|x)\"",
                "unqualified-search-registries = \\[(\"[a-z0-9.:-]{0,12}\",?){0,3}\\]",
                "\"[a-z0-9]{1,8}\" = \"[a-z0-9./:@-]{0,30}\"",
                "[ -~]{0,30}",
            ];
            proptest::collection::vec(line, 0..14).prop_map(|l| l.join("\n"))
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(1000))]

            #[test]
            fn any_registries_conf_loads_or_fails_cleanly(
                text in prop_oneof![confish(), "\\PC{0,300}"],
                name in "[a-z0-9.:/-]{1,30}",
            ) {
                let mut conf = RegistriesConf::default();
                if conf.merge_str(std::path::Path::new("registries.conf"), &text).is_ok()
                    && let Ok(r) = Reference::parse(&name)
                {
                    let _ = conf.candidates(&r);
                    let _ = conf.endpoints(&r);
                    let _ = conf.is_blocked(&r);
                    let _ = conf.is_insecure_host(&name);
                }
            }
        }
    }

    /// A system dir like Debian's (registries.conf, shortnames.conf drop-in) and a user dir.
    fn dirs() -> (tempfile::TempDir, ConfDirs) {
        let d = tempfile::tempdir().unwrap();
        let system = d.path().join("etc");
        let user = d.path().join("config");
        for dir in [&system, &user] {
            std::fs::create_dir_all(dir.join("registries.conf.d")).unwrap();
        }
        std::fs::write(
            system.join("registries.conf"),
            "unqualified-search-registries = [\"docker.io\"]\n",
        )
        .unwrap();
        std::fs::write(
            system.join("registries.conf.d/shortnames.conf"),
            "[aliases]\n\"busybox\" = \"docker.io/library/busybox\"\n",
        )
        .unwrap();
        std::fs::write(system.join("registries.conf.d/ignored.txt"), "x").unwrap();
        std::fs::write(user.join("registries.conf.d/20-b.conf"), "").unwrap();
        std::fs::write(user.join("registries.conf.d/10-a.conf"), "").unwrap();
        let dirs = ConfDirs {
            system,
            user,
            forced: None,
        };
        (d, dirs)
    }

    fn names(files: &[PathBuf], root: &Path) -> Vec<String> {
        files
            .iter()
            .map(|f| f.strip_prefix(root).unwrap().display().to_string())
            .collect()
    }

    #[test]
    fn without_a_user_file_the_system_file_and_both_drop_in_dirs_are_read() {
        let (d, dirs) = dirs();
        assert_eq!(
            names(&conf_files(&dirs), d.path()),
            [
                "etc/registries.conf",
                "etc/registries.conf.d/shortnames.conf",
                "config/registries.conf.d/10-a.conf",
                "config/registries.conf.d/20-b.conf",
            ]
        );
    }

    #[test]
    fn the_user_file_replaces_the_system_file_and_its_drop_ins() {
        let (d, dirs) = dirs();
        std::fs::write(
            dirs.user.join("registries.conf"),
            "unqualified-search-registries = [\"127.0.0.1:5000\"]\n",
        )
        .unwrap();
        let files = conf_files(&dirs);
        assert_eq!(
            names(&files, d.path()),
            [
                "config/registries.conf",
                "config/registries.conf.d/10-a.conf",
                "config/registries.conf.d/20-b.conf",
            ]
        );
        // `busybox` goes to the user's search registry, not to shortnames.conf's docker.io alias.
        let c = RegistriesConf::load(&files).unwrap();
        let got = c.candidates(&r("busybox")).unwrap();
        assert_eq!(got, [r("127.0.0.1:5000/busybox")]);
    }

    #[test]
    fn a_forced_file_replaces_registries_conf_and_both_drop_in_dirs_are_read() {
        let (d, mut dirs) = dirs();
        std::fs::write(dirs.user.join("registries.conf"), "").unwrap();
        dirs.forced = Some(d.path().join("forced.conf"));
        assert_eq!(
            names(&conf_files(&dirs), d.path()),
            [
                "forced.conf",
                "etc/registries.conf.d/shortnames.conf",
                "config/registries.conf.d/10-a.conf",
                "config/registries.conf.d/20-b.conf",
            ]
        );
    }
}
