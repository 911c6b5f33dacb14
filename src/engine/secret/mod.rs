//! Secrets (podman's `secret` verbs with the `file` driver): blobs of sensitive data kept in the
//! user's store, given to containers as files (`/run/secrets/NAME`) or environment variables, and
//! never shown by `inspect` or written to logs. Metadata is `secrets/secrets.json` (written to a
//! temporary file and renamed, under `secrets/.lock`); each secret's data is one 0600 file in
//! `secrets/filedriver/` (a 0700 directory). A container gets a copy of the secrets it uses when it
//! is created (`use_`), so removing a secret in use is safe, as podman documents.
#![deny(clippy::print_stdout, clippy::print_stderr)]

mod store;
pub mod use_;

use std::collections::BTreeMap;
use std::path::PathBuf;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::{Ctx, EngineError};

pub use use_::SecretUse;

/// podman's limit: secret data must be larger than 0 and less than 512000 bytes.
pub const MAX_SIZE: usize = 512_000;

/// What is stored about a secret (its data is in the driver's file).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SecretRecord {
    pub id: String,
    pub name: String,
    pub driver: String,
    #[serde(default)]
    pub driver_options: BTreeMap<String, String>,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    pub created: Timestamp,
    pub updated: Timestamp,
}

#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("no secret with name or id \"{0}\": no such secret")]
    NoSuchSecret(String),
    #[error("secret name `{0}` is in use: a secret with that name already exists")]
    NameInUse(String),
    #[error("more than one secret matches `{input}`: {matches}")]
    Ambiguous { input: String, matches: String },
    #[error(
        "invalid secret name `{0}`: use 1 to 253 letters, digits, `.`, `_` or `-`, starting with a letter or digit"
    )]
    BadName(String),
    #[error(
        "secret `{name}` has {size} bytes: secret data must be larger than 0 and less than 512000 bytes"
    )]
    Size { name: String, size: usize },
    #[error("secret driver `{0}` is not supported: roost keeps secrets with the `file` driver")]
    Driver(String),
    #[error("invalid --secret `{value}`: {why}")]
    Use { value: String, why: String },
    #[error("failed to {op} `{}`", path.display())]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("malformed secrets file `{}`: {why}", path.display())]
    Malformed { path: PathBuf, why: String },
}

impl SecretError {
    pub fn hint(&self) -> Option<String> {
        match self {
            SecretError::NoSuchSecret(_) => {
                Some("list secrets with `roost secret ls`; create one with `roost secret create NAME FILE`".into())
            }
            SecretError::NameInUse(n) => Some(format!(
                "choose another name, or replace it: `roost secret create --replace {n} FILE`"
            )),
            SecretError::Driver(_) => Some("drop --driver (or use --driver file)".into()),
            _ => None,
        }
    }
}

/// `secret create`'s options (the data already read by the CLI, from a file, stdin or `--env`).
#[derive(Debug, Clone, Default)]
pub struct CreateSecretOptions {
    pub name: String,
    pub data: Vec<u8>,
    /// `--driver` (None: `file`).
    pub driver: Option<String>,
    pub driver_options: BTreeMap<String, String>,
    pub labels: BTreeMap<String, String>,
    pub replace: bool,
}

/// A secret name as podman accepts it.
pub fn validate_name(name: &str) -> Result<(), SecretError> {
    let ok = !name.is_empty()
        && name.len() <= 253
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if ok {
        Ok(())
    } else {
        Err(SecretError::BadName(name.to_string()))
    }
}

/// `secret create`: store the data and record the secret (with `replace`, in place of one of the
/// same name, keeping its id and creation time).
pub fn create(ctx: &Ctx, opts: &CreateSecretOptions) -> Result<SecretRecord, EngineError> {
    validate_name(&opts.name)?;
    let driver = opts.driver.clone().unwrap_or_else(|| "file".into());
    if driver != "file" {
        return Err(SecretError::Driver(driver).into());
    }
    if opts.data.is_empty() || opts.data.len() >= MAX_SIZE {
        return Err(SecretError::Size {
            name: opts.name.clone(),
            size: opts.data.len(),
        }
        .into());
    }
    let _lock = store::lock(ctx)?;
    let mut all = store::all(ctx)?;
    let now = Timestamp::now();
    let old = all.iter().position(|r| r.name == opts.name);
    if old.is_some() && !opts.replace {
        return Err(SecretError::NameInUse(opts.name.clone()).into());
    }
    let (id, created) = match old {
        Some(i) => {
            let r = all.remove(i);
            (r.id, r.created)
        }
        None => (new_id(), now),
    };
    let record = SecretRecord {
        id,
        name: opts.name.clone(),
        driver,
        driver_options: opts.driver_options.clone(),
        labels: opts.labels.clone(),
        created,
        updated: now,
    };
    store::write_data(ctx, &record.id, &opts.data)?;
    all.push(record.clone());
    store::save(ctx, &all)?;
    // events: secret create (podman's `secret` event, status `create`, with the secret's id)
    Ok(record)
}

/// podman's secret ids: 25 hex digits.
fn new_id() -> String {
    let mut id = hex::encode(rand::random::<[u8; 13]>());
    id.truncate(25);
    id
}

/// Secret names in the store at `data` (for completion).
pub fn names(data: &std::path::Path) -> Vec<String> {
    store::all_in(data)
        .unwrap_or_default()
        .into_iter()
        .map(|r| r.name)
        .collect()
}

/// A secret by exact name, full id or unique id prefix.
pub fn find(ctx: &Ctx, key: &str) -> Result<SecretRecord, EngineError> {
    let all = store::all(ctx)?;
    if let Some(r) = all.iter().find(|r| r.name == key || r.id == key) {
        return Ok(r.clone());
    }
    let hex = !key.is_empty() && key.chars().all(|c| c.is_ascii_hexdigit());
    let matches: Vec<&SecretRecord> = all
        .iter()
        .filter(|r| hex && r.id.starts_with(&key.to_ascii_lowercase()))
        .collect();
    match matches.as_slice() {
        [] => Err(SecretError::NoSuchSecret(key.to_string()).into()),
        [one] => Ok((*one).clone()),
        many => Err(SecretError::Ambiguous {
            input: key.to_string(),
            matches: many
                .iter()
                .map(|r| r.id.clone())
                .collect::<Vec<_>>()
                .join(", "),
        }
        .into()),
    }
}

/// A `secret ls --filter`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretFilter {
    Name(String),
    Id(String),
    Label(String, Option<String>),
}

/// Parses `name=`, `id=`, `label=KEY[=VALUE]`.
pub fn parse_filter(f: &str) -> Result<SecretFilter, String> {
    match f.split_once('=') {
        Some(("name", v)) => Ok(SecretFilter::Name(v.to_string())),
        Some(("id", v)) => Ok(SecretFilter::Id(v.to_string())),
        Some(("label", v)) => Ok(match v.split_once('=') {
            Some((k, val)) => SecretFilter::Label(k.to_string(), Some(val.to_string())),
            None => SecretFilter::Label(v.to_string(), None),
        }),
        _ => Err(format!(
            "invalid secret filter `{f}`: use name=, id= or label="
        )),
    }
}

impl SecretFilter {
    fn matches(&self, r: &SecretRecord) -> bool {
        match self {
            SecretFilter::Name(n) => r.name.contains(n.as_str()),
            SecretFilter::Id(i) => r.id.starts_with(i.as_str()),
            SecretFilter::Label(k, v) => r
                .labels
                .get(k)
                .is_some_and(|have| v.as_ref().is_none_or(|v| v == have)),
        }
    }
}

/// `secret ls`: the secrets every filter of a kind matches (filters of one kind are alternatives),
/// oldest first.
pub fn list(ctx: &Ctx, filters: &[SecretFilter]) -> Result<Vec<SecretRecord>, EngineError> {
    let mut all = store::all(ctx)?;
    all.retain(|r| {
        let kind = |f: &SecretFilter| std::mem::discriminant(f);
        filters.iter().all(|f| {
            filters
                .iter()
                .filter(|g| kind(g) == kind(f))
                .any(|g| g.matches(r))
        })
    });
    all.sort_by_key(|r| r.created);
    Ok(all)
}

/// A secret's data (`inspect --showsecret`, and containers that use it).
pub fn data(ctx: &Ctx, r: &SecretRecord) -> Result<Vec<u8>, EngineError> {
    store::read_data(ctx, &r.id)
}

/// Where the file driver keeps the data (podman's `Spec.Driver.Options.path`).
pub fn driver_path(ctx: &Ctx) -> PathBuf {
    store::data_dir(ctx)
}

/// `secret exists`.
pub fn exists(ctx: &Ctx, key: &str) -> Result<bool, EngineError> {
    match find(ctx, key) {
        Ok(_) => Ok(true),
        Err(EngineError::Secret(SecretError::NoSuchSecret(_))) => Ok(false),
        Err(e) => Err(e),
    }
}

/// `secret rm`: the removed secrets' ids, and one error per name that could not be removed.
pub struct RemoveReport {
    pub removed: Vec<String>,
    pub errors: Vec<EngineError>,
}

/// `secret rm NAME…` (`all`: every secret; `ignore`: unknown names are no error). Containers keep
/// the copies they were given.
pub fn remove(
    ctx: &Ctx,
    keys: &[String],
    all: bool,
    ignore: bool,
) -> Result<RemoveReport, EngineError> {
    let _lock = store::lock(ctx)?;
    let mut records = store::all(ctx)?;
    let mut report = RemoveReport {
        removed: Vec::new(),
        errors: Vec::new(),
    };
    let targets: Vec<String> = if all {
        records.iter().map(|r| r.id.clone()).collect()
    } else {
        let mut ids = Vec::new();
        for k in keys {
            match find(ctx, k) {
                Ok(r) => ids.push(r.id),
                Err(EngineError::Secret(SecretError::NoSuchSecret(_))) if ignore => {}
                Err(e) => report.errors.push(e),
            }
        }
        ids
    };
    records.retain(|r| !targets.contains(&r.id));
    store::save(ctx, &records)?;
    for id in targets {
        store::delete_data(ctx, &id)?;
        // events: secret remove (podman's `secret` event, status `remove`, with the secret's id)
        report.removed.push(id);
    }
    Ok(report)
}
