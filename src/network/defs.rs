//! Network definitions on disk, as podman keeps them: one `NAME.json` per network under the store's
//! `networks/` directory, written to a temporary file, synced and renamed into place.
#![deny(clippy::print_stdout, clippy::print_stderr)]

use std::fs;
use std::path::{Path, PathBuf};

use super::NetworkError;
use super::config::{self, Network};

/// The networks directory of a store.
pub fn dir(data: &Path) -> PathBuf {
    data.join("networks")
}

/// Every network: the default one first, then the created ones by name.
pub fn load_all(data: &Path) -> Result<Vec<Network>, NetworkError> {
    let dir = dir(data);
    let mut nets = Vec::new();
    let entries = match fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Ok(vec![default_network(data)]);
        }
        Err(e) => return Err(NetworkError::io("read", dir, e)),
    };
    for e in entries.flatten() {
        let path = e.path();
        if path.extension().is_none_or(|x| x != "json") {
            continue;
        }
        let text = fs::read_to_string(&path).map_err(|e| NetworkError::io("read", &path, e))?;
        let n: Network =
            serde_json::from_str(&text).map_err(|source| NetworkError::Json { path, source })?;
        nets.push(n);
    }
    if !nets.iter().any(|n| n.name == config::DEFAULT_NAME) {
        nets.push(default_network(data));
    }
    nets.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(nets)
}

/// The implicit default network; its creation time is the store's (stable across calls).
fn default_network(data: &Path) -> Network {
    let created = fs::metadata(data)
        .and_then(|m| m.created().or_else(|_| m.modified()))
        .ok()
        .and_then(|t| jiff::Timestamp::try_from(t).ok())
        .unwrap_or_else(jiff::Timestamp::now);
    config::default_network(&rfc3339(created))
}

/// Go's RFC 3339 with nanoseconds and the local offset, as podman writes `created`.
pub fn rfc3339(t: jiff::Timestamp) -> String {
    let z = t.to_zoned(crate::localtime::local());
    if z.offset().seconds() == 0 {
        z.strftime("%Y-%m-%dT%H:%M:%S%.fZ").to_string()
    } else {
        z.strftime("%Y-%m-%dT%H:%M:%S%.f%:z").to_string()
    }
}

/// Find a network by name, full id or id prefix.
pub fn find(data: &Path, key: &str) -> Result<Network, NetworkError> {
    let nets = load_all(data)?;
    if let Some(n) = nets.iter().find(|n| n.name == key || n.id == key) {
        return Ok(n.clone());
    }
    let matches: Vec<&Network> = nets
        .iter()
        .filter(|n| !key.is_empty() && n.id.starts_with(key))
        .collect();
    match matches.as_slice() {
        [n] => Ok((*n).clone()),
        [] => Err(NetworkError::NotFound(key.to_string())),
        _ => Err(NetworkError::Invalid(format!(
            "more than one result for network ID {key}"
        ))),
    }
}

/// Write a network's file atomically. Fails when one of that name exists.
pub fn save(data: &Path, net: &Network) -> Result<(), NetworkError> {
    let dir = dir(data);
    fs::create_dir_all(&dir).map_err(|e| NetworkError::io("create", &dir, e))?;
    let path = dir.join(format!("{}.json", net.name));
    let mut text = serde_json::to_string_pretty(net).expect("a network serializes");
    text.push('\n');
    let keep = crate::sys::fs::Existing::Keep;
    crate::sys::fs::write_atomic(&path, text.as_bytes(), 0o600, keep).map_err(|e| {
        if e.kind() == std::io::ErrorKind::AlreadyExists {
            NetworkError::Exists(net.name.clone())
        } else {
            NetworkError::io("write", &path, e)
        }
    })?;
    Ok(())
}

/// Delete a network's file.
pub fn remove(data: &Path, name: &str) -> Result<(), NetworkError> {
    let path = dir(data).join(format!("{name}.json"));
    match fs::remove_file(&path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(NetworkError::io("remove", path, e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::network::config::{CreateNetworkOptions, build};

    #[test]
    fn save_find_remove() {
        let d = tempfile::tempdir().unwrap();
        let all = load_all(d.path()).unwrap();
        assert_eq!(all.len(), 1);
        assert_eq!(all[0].name, "podman");
        let n = build(
            &CreateNetworkOptions::default(),
            &all,
            "web".into(),
            "abcdef0123".into(),
            "now".into(),
        )
        .unwrap();
        save(d.path(), &n).unwrap();
        assert!(matches!(save(d.path(), &n), Err(NetworkError::Exists(_))));
        assert_eq!(find(d.path(), "web").unwrap(), n);
        assert_eq!(find(d.path(), "abcd").unwrap().name, "web");
        assert_eq!(find(d.path(), "podman").unwrap().name, "podman");
        assert!(matches!(
            find(d.path(), "nope"),
            Err(NetworkError::NotFound(_))
        ));
        remove(d.path(), "web").unwrap();
        assert_eq!(load_all(d.path()).unwrap().len(), 1);
    }
}
