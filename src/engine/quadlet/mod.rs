//! Quadlet (podman-systemd.unit(5)): `.container`, `.volume`, `.network`, `.pod`, `.kube`, `.image`
//! and `.build` files turned into systemd services that call roost, with podman's key names and
//! unit layout. Used by the systemd generator (`roost-generator`, or `roost quadlet generate`) and by
//! `roost quadlet install`, which writes the same units where a user manager finds them without a
//! generator. Pure: the caller gives the search directories and roost's path; nothing here reads the
//! environment or writes files.
#![deny(clippy::print_stdout, clippy::print_stderr)]
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

mod convert;
mod files;
pub mod manage;
pub mod unit;

pub use files::{SearchDirs, find_sources};
use unit::UnitFile;

/// The Quadlet file types, in the order their units are made (pods last: they list the containers
/// that join them).
pub const EXTENSIONS: [&str; 7] = [
    "volume",
    "network",
    "image",
    "build",
    "container",
    "kube",
    "pod",
];

#[derive(Debug, thiserror::Error)]
pub enum QuadletError {
    #[error("{}:{line}: {why}", file.display())]
    Syntax {
        file: PathBuf,
        line: usize,
        why: String,
    },
    #[error("{}:{line}: unsupported key `{key}` in group `[{group}]`{}", file.display(), suggest(.key, .known))]
    UnknownKey {
        file: PathBuf,
        line: usize,
        key: String,
        group: String,
        known: Vec<&'static str>,
    },
    #[error("{}:{line}: invalid `{key}=`: {why}", file.display())]
    Value {
        file: PathBuf,
        line: usize,
        key: String,
        why: String,
    },
    #[error("{}: {why}", file.display())]
    Unit { file: PathBuf, why: String },
    #[error("failed to read `{}`", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("no Quadlet file named `{0}` (looked for NAME, NAME.container, NAME.volume, …)")]
    NotFound(String),
}

impl QuadletError {
    pub fn hint(&self) -> Option<String> {
        match self {
            QuadletError::UnknownKey { group, .. } => Some(format!(
                "see podman-systemd.unit(5) for the keys of `[{group}]`; other podman flags go in `PodmanArgs=`"
            )),
            QuadletError::NotFound(_) => {
                Some("`roost quadlet list` shows the installed Quadlet files".into())
            }
            _ => None,
        }
    }
}

/// ` (did you mean `X`?)` when a known key differs only in case.
fn suggest(key: &str, known: &[&'static str]) -> String {
    known
        .iter()
        .find(|k| k.eq_ignore_ascii_case(key))
        .map(|k| format!(" (did you mean `{k}`?)"))
        .unwrap_or_default()
}

/// A Quadlet file found in the search directories, with its drop-ins.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    /// `web.container`.
    pub name: String,
    pub path: PathBuf,
    /// `*.conf` drop-ins, in the order they apply.
    pub dropins: Vec<PathBuf>,
}

impl Source {
    pub fn extension(&self) -> &str {
        self.name.rsplit_once('.').map_or("", |(_, e)| e)
    }

    /// `web` for `web.container`.
    pub fn stem(&self) -> &str {
        self.name.rsplit_once('.').map_or(&self.name, |(s, _)| s)
    }

    /// The file with its drop-ins merged.
    pub fn read(&self) -> Result<UnitFile, QuadletError> {
        let read = |p: &Path| {
            std::fs::read_to_string(p).map_err(|source| QuadletError::Read {
                path: p.to_path_buf(),
                source,
            })
        };
        let mut u = UnitFile::parse(&read(&self.path)?, &self.path)?;
        for d in &self.dropins {
            u.merge_text(&read(d)?, d)?;
        }
        Ok(u)
    }
}

/// What the generator needs besides the files.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The roost binary the units call.
    pub roost: String,
    /// User units (`--user`): no dependency on the system's `network-online.target`.
    pub user: bool,
}

/// One generated service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Generated {
    /// `web.service`.
    pub service: String,
    pub source: PathBuf,
    /// The unit file's text.
    pub text: String,
    /// Symlinks `[Install]` asks for, relative to the unit directory, each pointing at `service`:
    /// `default.target.wants/web.service`, or an `Alias=` name.
    pub links: Vec<PathBuf>,
}

/// What the units of the other files are known by, for references (`Volume=data.volume:/data`).
#[derive(Debug, Clone, Default)]
pub struct UnitInfo {
    /// `data-volume` (the service is `data-volume.service`).
    pub service: String,
    /// The volume, network, pod, image or container name: `systemd-data`.
    pub resource: String,
    /// Container services that start with this pod.
    pub pod_members: Vec<String>,
}

impl UnitInfo {
    pub fn service_file(&self) -> String {
        format!("{}.service", self.service)
    }
}

/// The result of a generator run: the units made, and the files that could not be converted (the
/// others are still made, as podman's generator does).
#[derive(Debug, Default)]
pub struct Generation {
    pub units: Vec<Generated>,
    pub errors: Vec<QuadletError>,
}

/// Convert every source. Sources that fail are reported in `errors`; the rest are converted.
pub fn generate(sources: &[Source], settings: &Settings) -> Generation {
    let mut out = Generation::default();
    let mut parsed = Vec::new();
    for s in sources {
        match s.read() {
            Ok(u) => parsed.push((s, u)),
            Err(e) => out.errors.push(e),
        }
    }
    let mut infos: BTreeMap<String, UnitInfo> = parsed
        .iter()
        .map(|(s, u)| (s.name.clone(), convert::unit_info(s, u)))
        .collect();
    for ext in EXTENSIONS {
        for (s, u) in parsed.iter().filter(|(s, _)| s.extension() == ext) {
            match convert::convert(s, u, settings, &mut infos) {
                Ok(g) => out.units.push(g),
                Err(e) => out.errors.push(e),
            }
        }
    }
    let waits = |g: &Generated| g.text.contains(convert::USER_WAIT_NETWORK_ONLINE);
    if settings.user && out.units.iter().any(waits) {
        out.units.push(convert::user_wait_network_online());
    }
    out
}

/// Print the units as `--dryrun` does: each preceded by `---NAME---`.
pub fn dryrun_text(units: &[Generated]) -> String {
    units
        .iter()
        .map(|g| format!("---{}---\n{}\n", g.service, g.text))
        .collect()
}
