//! `roost events --filter`: podman's keys; values of one key are alternatives (OR), different keys
//! must all match (AND).
use std::collections::BTreeMap;

use super::{Event, Type};

/// The statuses roost (and podman) record, for checking `event=` values.
pub const STATUSES: &[&str] = &[
    "attach",
    "build",
    "checkpoint",
    "cleanup",
    "commit",
    "connect",
    "create",
    "died",
    "disconnect",
    "exec",
    "exec_died",
    "exited",
    "export",
    "health_status",
    "import",
    "init",
    "kill",
    "loadfromarchive",
    "log-rotation",
    "mount",
    "pause",
    "prune",
    "pull",
    "pull-error",
    "push",
    "refresh",
    "remove",
    "rename",
    "restart",
    "restore",
    "save",
    "start",
    "stop",
    "sync",
    "tag",
    "unmount",
    "unpause",
    "untag",
    "update",
];

const KEYS: &[&str] = &[
    "container",
    "event",
    "status",
    "image",
    "label",
    "pod",
    "type",
    "volume",
    "network",
];

#[derive(Debug, thiserror::Error)]
pub enum FilterError {
    #[error("invalid filter `{0}`: expected KEY=VALUE")]
    Syntax(String),
    #[error("`{0}` is an invalid filter: use one of {keys}", keys = KEYS.join(", "))]
    Key(String),
    #[error("unknown event type `{0}` in filter `type={0}`: use one of {types}", types = Type::ALL.map(Type::as_str).join(", "))]
    Type(String),
    #[error("unknown event status `{0}` in filter `event={0}`")]
    Status(String),
}

/// Parsed `--filter` values by key (`event` and `status` are one key).
#[derive(Debug, Clone, Default)]
pub struct Filters(BTreeMap<String, Vec<String>>);

impl Filters {
    pub fn parse(raw: &[String]) -> Result<Filters, FilterError> {
        let mut map: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for f in raw {
            let (k, v) = f
                .split_once('=')
                .filter(|(k, v)| !k.is_empty() && !v.is_empty())
                .ok_or_else(|| FilterError::Syntax(f.clone()))?;
            let key = k.to_ascii_lowercase();
            let key = match key.as_str() {
                "status" => "event".to_string(),
                _ if KEYS.contains(&key.as_str()) => key,
                _ => return Err(FilterError::Key(k.to_string())),
            };
            let value = match key.as_str() {
                "type" if Type::parse(v).is_none() => return Err(FilterError::Type(v.into())),
                "event" if v == "die" => "died".to_string(),
                "event" if !STATUSES.contains(&v) => return Err(FilterError::Status(v.into())),
                _ => v.to_string(),
            };
            map.entry(key).or_default().push(value);
        }
        Ok(Filters(map))
    }

    pub fn matches(&self, e: &Event) -> bool {
        self.0
            .iter()
            .all(|(k, values)| values.iter().any(|v| one(k, v, e)))
    }
}

/// Whether `e` matches `key=value`.
fn one(key: &str, value: &str, e: &Event) -> bool {
    let name_or_id = |kind: Type| e.kind == kind && (e.name == value || e.id.starts_with(value));
    match key {
        "container" => name_or_id(Type::Container),
        "event" => e.status == value,
        "image" => name_or_id(Type::Image),
        "pod" => name_or_id(Type::Pod),
        "volume" => name_or_id(Type::Volume),
        "network" => e.kind == Type::Network && (e.network == value || e.id.starts_with(value)),
        "type" => e.kind.as_str() == value,
        "label" => match value.split_once('=') {
            Some((k, v)) => e.attributes.get(k).is_some_and(|x| x == v),
            None => e.attributes.contains_key(value),
        },
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(raw: &[&str]) -> Filters {
        Filters::parse(&raw.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap()
    }

    #[test]
    fn same_key_ors_different_keys_and() {
        let v1 = Event::volume("create", "v1");
        let v2 = Event::volume("remove", "v2");
        let img = Event::image("pull", "abc", "busybox");
        let both = f(&["volume=v1", "volume=v2"]);
        assert!(both.matches(&v1) && both.matches(&v2) && !both.matches(&img));
        let and = f(&["type=volume", "event=create"]);
        assert!(and.matches(&v1) && !and.matches(&v2) && !and.matches(&img));
        assert!(f(&["status=pull", "image=abc"]).matches(&img));
    }

    #[test]
    fn labels_match_attributes() {
        let e = Event::volume("create", "v").with_attribute("app", "web");
        assert!(f(&["label=app=web"]).matches(&e));
        assert!(f(&["label=app"]).matches(&e));
        assert!(!f(&["label=app=db"]).matches(&e));
    }

    #[test]
    fn bad_filters_are_refused() {
        for bad in [
            "nokey",
            "bogus=1",
            "type=thing",
            "event=exploded",
            "=x",
            "container=",
        ] {
            assert!(
                Filters::parse(&[bad.to_string()]).is_err(),
                "{bad} should be refused"
            );
        }
    }
}
