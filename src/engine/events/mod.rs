//! podman's event log: what happened to containers, images, volumes, networks and pods, kept so that
//! `roost events` can list and follow it. Engine code records an event with one call, [`record`]; a
//! failure to log never fails the operation it describes (it is logged at debug level).
//!
//! Backends (containers.conf `[engine] events_logger`, `--events-backend`): `file` appends one JSON
//! line per event (podman's shape) to `events.log` under roost's runtime directory, `journald` sends a
//! native-protocol datagram with podman's `PODMAN_*` fields, `none` keeps nothing.
#![deny(clippy::print_stdout, clippy::print_stderr)]

mod file;
pub mod filter;
mod journal;

use std::collections::BTreeMap;
use std::path::PathBuf;

use jiff::Timestamp;

pub use filter::{FilterError, Filters};

use super::Ctx;

/// Where events go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    File,
    Journald,
    None,
}

impl Backend {
    pub fn parse(s: &str) -> Option<Backend> {
        match s {
            "file" => Some(Backend::File),
            "journald" => Some(Backend::Journald),
            "none" => Some(Backend::None),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Backend::File => "file",
            Backend::Journald => "journald",
            Backend::None => "none",
        }
    }
}

/// The event log settings, resolved once by the CLI layer.
#[derive(Debug, Clone)]
pub struct EventsConf {
    pub backend: Backend,
    /// The `file` backend's log (`events_logfile_path`).
    pub path: PathBuf,
    /// Rotate the log when it grows past this size (`events_logfile_max_size`; `None`: never).
    pub max_size: Option<u64>,
}

/// podman's default `events_logfile_max_size` (1 MB).
pub const DEFAULT_MAX_SIZE: u64 = 1_000_000;

/// Where the journal's native socket is.
pub const JOURNAL_SOCKET: &str = crate::sys::journal::SOCKET;

impl EventsConf {
    /// The default file log: `events/events.log` under the runtime directory (as podman's
    /// `$XDG_RUNTIME_DIR/libpod/tmp/events/events.log`).
    pub fn default_path(runtime: &std::path::Path) -> PathBuf {
        runtime.join("events").join("events.log")
    }
}

/// What an event is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Type {
    Container,
    Image,
    Network,
    Pod,
    System,
    Volume,
}

impl Type {
    pub const ALL: [Type; 6] = [
        Type::Container,
        Type::Image,
        Type::Network,
        Type::Pod,
        Type::System,
        Type::Volume,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Type::Container => "container",
            Type::Image => "image",
            Type::Network => "network",
            Type::Pod => "pod",
            Type::System => "system",
            Type::Volume => "volume",
        }
    }

    pub fn parse(s: &str) -> Option<Type> {
        Type::ALL.into_iter().find(|t| t.as_str() == s)
    }
}

/// One event, as podman's libpod writes it to its log file.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Event {
    #[serde(
        rename = "ContainerExitCode",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub exit_code: Option<i32>,
    #[serde(rename = "ID", default, skip_serializing_if = "String::is_empty")]
    pub id: String,
    #[serde(rename = "Image", default, skip_serializing_if = "String::is_empty")]
    pub image: String,
    #[serde(rename = "Name", default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(rename = "network", default, skip_serializing_if = "String::is_empty")]
    pub network: String,
    #[serde(rename = "Status")]
    pub status: String,
    #[serde(rename = "Time", with = "go_time")]
    pub time: Timestamp,
    #[serde(rename = "Type")]
    pub kind: Type,
    #[serde(rename = "Error", default, skip_serializing_if = "String::is_empty")]
    pub error: String,
    #[serde(
        rename = "health_status",
        default,
        skip_serializing_if = "String::is_empty"
    )]
    pub health_status: String,
    #[serde(
        rename = "health_log",
        default,
        skip_serializing_if = "String::is_empty"
    )]
    pub health_log: String,
    #[serde(
        rename = "health_failing_streak",
        default,
        skip_serializing_if = "is_zero"
    )]
    pub health_failing_streak: u32,
    #[serde(rename = "PodID", default, skip_serializing_if = "String::is_empty")]
    pub pod_id: String,
    /// A container's labels, a network's driver, an exec session's id.
    #[serde(rename = "Attributes", default)]
    pub attributes: BTreeMap<String, String>,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

impl Event {
    /// An event of `kind` with `status`, now.
    pub fn new(kind: Type, status: &str) -> Event {
        Event {
            exit_code: None,
            id: String::new(),
            image: String::new(),
            name: String::new(),
            network: String::new(),
            status: status.to_string(),
            time: Timestamp::now(),
            kind,
            error: String::new(),
            health_status: String::new(),
            health_log: String::new(),
            health_failing_streak: 0,
            pod_id: String::new(),
            attributes: BTreeMap::new(),
        }
    }

    /// A container event: its id, name, image and labels (podman's attributes), and its pod.
    pub fn container(status: &str, c: &super::container::Container) -> Event {
        let mut e = Event::new(Type::Container, status);
        e.id = c.record.id.clone();
        e.name = c.record.name.clone();
        e.image = c.record.image.clone();
        e.attributes = c.spec.labels.clone();
        e.pod_id = c.spec.pod.clone().unwrap_or_default();
        e
    }

    /// An image event: the image's id and the name the operation used.
    pub fn image(status: &str, id: &str, name: &str) -> Event {
        let mut e = Event::new(Type::Image, status);
        e.id = id.trim_start_matches("sha256:").to_string();
        e.name = name.to_string();
        e
    }

    /// A volume event (podman names volumes only).
    pub fn volume(status: &str, name: &str) -> Event {
        let mut e = Event::new(Type::Volume, status);
        e.name = name.to_string();
        e
    }

    /// A network `create`/`remove`: the network's id and name, and its driver.
    pub fn network(status: &str, id: &str, name: &str, driver: &str) -> Event {
        let mut e = Event::new(Type::Network, status);
        e.id = id.to_string();
        e.network = name.to_string();
        e.attributes.insert("driver".into(), driver.to_string());
        e
    }

    /// A network `connect`/`disconnect` of a container.
    pub fn network_member(
        status: &str,
        container_id: &str,
        container: &str,
        network: &str,
    ) -> Event {
        let mut e = Event::new(Type::Network, status);
        e.id = container_id.to_string();
        e.name = container.to_string();
        e.network = network.to_string();
        e
    }

    /// A pod event: its id and name.
    pub fn pod(status: &str, id: &str, name: &str) -> Event {
        let mut e = Event::new(Type::Pod, status);
        e.id = id.to_string();
        e.name = name.to_string();
        e
    }

    pub fn with_exit_code(mut self, code: i32) -> Event {
        self.exit_code = Some(code);
        self
    }

    pub fn with_attribute(mut self, key: &str, value: impl Into<String>) -> Event {
        self.attributes.insert(key.to_string(), value.into());
        self
    }
}

/// Record `event` with the configured backend. Logging never fails the caller's operation.
pub fn record(ctx: &Ctx, event: Event) {
    record_with(&ctx.events, &event);
}

/// Record several events at once (one write for the file backend).
pub fn record_all(ctx: &Ctx, events: &[Event]) {
    if events.is_empty() {
        return;
    }
    let result = match ctx.events.backend {
        Backend::None => Ok(()),
        Backend::File => file::append(&ctx.events, events),
        Backend::Journald => events.iter().try_for_each(journal::send),
    };
    if let Err(e) = result {
        tracing::debug!(error = %e, "could not record an event");
    }
}

fn record_with(conf: &EventsConf, event: &Event) {
    let result = match conf.backend {
        Backend::None => Ok(()),
        Backend::File => file::append(conf, std::slice::from_ref(event)),
        Backend::Journald => journal::send(event),
    };
    if let Err(e) = result {
        tracing::debug!(error = %e, status = %event.status, "could not record an event");
    }
}

/// The log opened ahead, for a process about to leave the host's file system (`exec` joins the
/// container's root): [`Held::record`] writes through what was opened here.
pub fn hold(ctx: &Ctx) -> Held {
    let held = match ctx.events.backend {
        Backend::None => Ok(Held::None),
        Backend::File => file::hold(&ctx.events).map(Held::File),
        Backend::Journald => journal::hold().map(Held::Journal),
    };
    held.unwrap_or_else(|e| {
        tracing::debug!(error = %e, "could not open the event log");
        Held::None
    })
}

/// An event log opened ahead (see [`hold`]).
#[derive(Debug)]
pub enum Held {
    None,
    File(std::fs::File),
    Journal(std::os::unix::net::UnixDatagram),
}

impl Held {
    pub fn record(&self, event: &Event) {
        let result = match self {
            Held::None => Ok(()),
            Held::File(f) => file::append_held(f, event),
            Held::Journal(s) => journal::send_on(s, event),
        };
        if let Err(e) = result {
            tracing::debug!(error = %e, status = %event.status, "could not record an event");
        }
    }
}

/// What `roost events` reads.
#[derive(Debug, Clone, Default)]
pub struct ReadOptions {
    pub filters: Filters,
    pub since: Option<Timestamp>,
    pub until: Option<Timestamp>,
    /// Keep waiting for new events (until `until`, when it is set).
    pub stream: bool,
}

impl ReadOptions {
    /// podman's rule: streaming without `since` or `until` shows only new events.
    pub fn reads_from_start(&self) -> bool {
        !self.stream || self.since.is_some() || self.until.is_some()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum EventsError {
    #[error("failed to {op} the event log `{path}`")]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("failed to read events from the journal with journalctl")]
    Journal(#[source] std::io::Error),
    #[error("journalctl failed: {0}")]
    JournalFailed(String),
    #[error("events are disabled (events_logger = \"none\"): there is nothing to read")]
    Disabled,
    #[error(transparent)]
    Filter(#[from] FilterError),
}

impl EventsError {
    pub fn hint(&self) -> Option<String> {
        match self {
            EventsError::Disabled => Some(
                "set `events_logger = \"file\"` in the [engine] table of containers.conf, or pass --events-backend file"
                    .into(),
            ),
            _ => None,
        }
    }
}

/// Read the events that match `opts`, oldest first, handing each to `sink`; a `false` from `sink`
/// stops (its reader went away). With `stream`, waits for new ones until `until` (or for ever).
pub fn read(
    ctx: &Ctx,
    opts: &ReadOptions,
    sink: &mut dyn FnMut(&Event) -> bool,
) -> Result<(), EventsError> {
    let mut wanted = |e: &Event| {
        if !opts.filters.matches(e)
            || opts.since.is_some_and(|s| e.time < s)
            || opts.until.is_some_and(|u| e.time > u)
        {
            return true;
        }
        sink(e)
    };
    match ctx.events.backend {
        Backend::None => Err(EventsError::Disabled),
        Backend::File => file::read(&ctx.events, opts, &mut wanted),
        Backend::Journald => journal::read(opts, &mut wanted),
    }
}

/// Go's RFC 3339 with nanoseconds in the local zone (`2026-12-05T01:10:00.123456789+01:00`), as
/// podman's log file has it.
mod go_time {
    use jiff::Timestamp;

    pub fn serialize<S: serde::Serializer>(t: &Timestamp, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&super::rfc3339_local(*t))
    }

    pub fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Timestamp, D::Error> {
        let s: String = serde::Deserialize::deserialize(d)?;
        s.parse::<Timestamp>().map_err(serde::de::Error::custom)
    }
}

/// `t` in the local zone as Go's `RFC3339Nano` writes it.
pub fn rfc3339_local(t: Timestamp) -> String {
    let z = t.to_zoned(crate::localtime::local());
    if z.offset().seconds() == 0 {
        z.strftime("%Y-%m-%dT%H:%M:%S%.fZ").to_string()
    } else {
        z.strftime("%Y-%m-%dT%H:%M:%S%.f%:z").to_string()
    }
}

/// `t` as Go's `time.Time.String()` prints it (`2026-12-05 00:10:00.123456789 +0000 UTC`).
pub fn go_string(t: Timestamp) -> String {
    let z = t.to_zoned(crate::localtime::local());
    z.strftime("%Y-%m-%d %H:%M:%S%.f %z %Z").to_string()
}

/// `id` cut to podman's short form.
fn short(id: &str, truncate: bool) -> &str {
    if truncate {
        crate::store::short_id(id)
    } else {
        id
    }
}

impl Event {
    /// podman's default line (`ToHumanReadable`).
    pub fn human(&self, truncate: bool) -> String {
        let time = go_string(self.time);
        let head = format!("{time} {} {}", self.kind.as_str(), self.status);
        let id = short(&self.id, truncate);
        match self.kind {
            Type::Container | Type::Pod => {
                let mut s = format!("{head} {id} (image={}, name={}", self.image, self.name);
                if !self.pod_id.is_empty() {
                    s += &format!(", pod_id={}", self.pod_id);
                }
                if self.status == "health_status" {
                    s += &format!(
                        ", health_status={}, health_failing_streak={}, health_log={}",
                        self.health_status, self.health_failing_streak, self.health_log
                    );
                }
                for (k, v) in &self.attributes {
                    s += &format!(", {k}={v}");
                }
                s + ")"
            }
            Type::Network if self.status == "create" || self.status == "remove" => {
                let driver = self.attributes.get("driver").map_or("", String::as_str);
                format!("{head} {} (name={}, type={driver})", self.id, self.network)
            }
            Type::Network => format!("{head} {id} (container={id}, name={})", self.network),
            Type::Image => {
                let mut s = format!("{head} {id} {}", self.name);
                if !self.error.is_empty() {
                    s += " ";
                    s += &self.error;
                }
                s
            }
            Type::System if self.name.is_empty() => head,
            Type::System | Type::Volume => format!("{head} {}", self.name),
        }
    }

    /// The shape of `roost events --format json` and of templates: podman's API event
    /// (`time`/`timeNano` as numbers).
    pub fn report(&self) -> serde_json::Value {
        let mut v = serde_json::Map::new();
        let mut put = |k: &str, val: serde_json::Value| {
            v.insert(k.to_string(), val);
        };
        if let Some(code) = self.exit_code {
            put("ContainerExitCode", code.into());
        }
        let text = |s: &str| serde_json::Value::String(s.to_string());
        for (k, s) in [
            ("ID", &self.id),
            ("Image", &self.image),
            ("Name", &self.name),
        ] {
            if !s.is_empty() {
                put(k, text(s));
            }
        }
        if !self.network.is_empty() {
            put("network", text(&self.network));
        }
        put("Status", text(&self.status));
        put("time", self.time.as_second().into());
        put(
            "timeNano",
            i64::try_from(self.time.as_nanosecond())
                .unwrap_or(i64::MAX)
                .into(),
        );
        put("Type", text(self.kind.as_str()));
        if !self.health_status.is_empty() {
            put("health_status", text(&self.health_status));
        }
        if !self.health_log.is_empty() {
            put("health_log", text(&self.health_log));
        }
        if self.health_failing_streak > 0 {
            put("health_failing_streak", self.health_failing_streak.into());
        }
        if !self.error.is_empty() {
            put("Error", text(&self.error));
        }
        if !self.pod_id.is_empty() {
            put("PodID", text(&self.pod_id));
        }
        put(
            "Attributes",
            serde_json::to_value(&self.attributes).unwrap_or_default(),
        );
        serde_json::Value::Object(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn log_line_round_trips() {
        let mut e = Event::image("pull", "sha256:abc", "busybox");
        e.time = at("2026-12-05T00:10:00.5Z");
        let line = serde_json::to_string(&e).unwrap();
        assert!(line.contains("\"Status\":\"pull\""), "{line}");
        assert!(line.contains("\"Type\":\"image\""), "{line}");
        let back: Event = serde_json::from_str(&line).unwrap();
        assert_eq!(back, e);
    }

    #[test]
    fn human_lines_are_podmans() {
        let mut e = Event::network("create", &"a".repeat(64), "net1", "bridge");
        e.time = at("2026-12-05T00:10:00Z");
        let s = e.human(true);
        assert!(
            s.ends_with(&format!(
                "network create {} (name=net1, type=bridge)",
                "a".repeat(64)
            )),
            "{s}"
        );
        let mut v = Event::volume("create", "v1");
        v.time = e.time;
        assert!(v.human(true).ends_with(" volume create v1"));
        let mut c = Event::pod("create", &"b".repeat(64), "p1");
        c.time = e.time;
        assert!(
            c.human(true)
                .ends_with(&format!(" pod create {} (image=, name=p1)", "b".repeat(12)))
        );
    }

    #[test]
    fn report_has_api_fields() {
        let e = Event::volume("remove", "v").with_exit_code(3);
        let r = e.report();
        assert_eq!(r["ContainerExitCode"], 3);
        assert_eq!(r["Status"], "remove");
        assert_eq!(r["Type"], "volume");
        assert!(r["timeNano"].as_i64().unwrap() > 0);
    }
}
