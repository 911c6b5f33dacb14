//! `ps`: podman's table and JSON.
use std::collections::BTreeMap;

use serde::Serialize;

use super::PsArgs;
use crate::cli::format::{self, Format, JsonStyle, Table};
use crate::cli::out;
use crate::engine::Ctx;
use crate::engine::container::{self as engine, Container, ContainerSize, Status};
use crate::error::Error;

/// A row for templates and the table: podman's `psReporter` (short ID, names and command as strings).
#[derive(Serialize, Default)]
#[serde(rename_all = "PascalCase")]
struct PsRow {
    #[serde(rename = "ID")]
    id: String,
    image: String,
    #[serde(rename = "ImageID")]
    image_id: String,
    command: String,
    created: String,
    created_at: String,
    created_human: String,
    running_for: String,
    status: String,
    state: String,
    ports: String,
    names: String,
    /// podman's `psReporter.Labels()`: `k=v,k2=v2`.
    labels: String,
    /// The labels for the `Label` method.
    #[serde(skip)]
    label_map: BTreeMap<String, String>,
    mounts: Vec<String>,
    networks: String,
    pod: String,
    pod_name: String,
    exit_code: i32,
    exited: bool,
    pid: i32,
    restarts: String,
    auto_remove: bool,
    is_infra: bool,
    /// `12B (virtual 2.13MB)` with `--size`, empty without.
    size: String,
}

/// One element of `ps --format json`: podman's `ListContainer` (with `Created` in Unix seconds,
/// as `podman ps` prints it), fields in podman's order.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct PsJson {
    auto_remove: bool,
    command: Vec<String>,
    created_at: String,
    #[serde(rename = "CIDFile")]
    cid_file: String,
    exited: bool,
    exited_at: i64,
    exit_code: i32,
    exposed_ports: Option<BTreeMap<u16, Vec<String>>>,
    #[serde(rename = "Id")]
    id: String,
    image: String,
    #[serde(rename = "ImageID")]
    image_id: String,
    is_infra: bool,
    labels: BTreeMap<String, String>,
    mounts: Vec<String>,
    names: Vec<String>,
    namespaces: BTreeMap<String, String>,
    networks: Vec<String>,
    pid: i32,
    pod: String,
    pod_name: String,
    ports: Option<Vec<PortJson>>,
    restarts: u32,
    size: Option<PsSize>,
    started_at: i64,
    state: String,
    status: String,
    created: i64,
}

/// podman's `ContainerSize` JSON.
#[derive(Serialize)]
struct PsSize {
    #[serde(rename = "rootFsSize")]
    root_fs_size: u64,
    #[serde(rename = "rwSize")]
    rw_size: u64,
}

/// A published port in `ps --format json` (podman's `PortMapping`).
#[derive(Serialize)]
struct PortJson {
    host_ip: String,
    container_port: u16,
    host_port: u16,
    range: u16,
    protocol: &'static str,
}

fn ports_json(c: &Container) -> Option<Vec<PortJson>> {
    let p = &c.spec.net.ports;
    (!p.is_empty()).then(|| {
        p.iter()
            .map(|m| PortJson {
                host_ip: m.host_ip.map(|a| a.to_string()).unwrap_or_default(),
                container_port: m.container_port,
                host_port: m.host_port,
                range: m.range,
                protocol: m.protocol.as_str(),
            })
            .collect()
    })
}

fn exposed_json(c: &Container) -> Option<BTreeMap<u16, Vec<String>>> {
    let mut m: BTreeMap<u16, Vec<String>> = BTreeMap::new();
    for e in &c.spec.net.exposed {
        if let Some((p, proto)) = e.split_once('/')
            && let Ok(p) = p.parse()
        {
            m.entry(p).or_default().push(proto.to_string());
        }
    }
    (!m.is_empty()).then_some(m)
}

/// The PORTS column: `0.0.0.0:8080->80/tcp, …`.
fn ports_text(c: &Container) -> String {
    c.spec
        .net
        .ports
        .iter()
        .map(|m| m.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Go's `time.Time{}.Unix()`: what podman reports for a start or exit that never happened.
const GO_ZERO_UNIX: i64 = -62_135_596_800;

fn unix(t: Option<jiff::Timestamp>) -> i64 {
    t.map_or(GO_ZERO_UNIX, |t| t.as_second())
}

fn status_text(c: &Container, now: jiff::Timestamp, health: Option<&str>) -> String {
    let ago = |t: Option<jiff::Timestamp>| t.map(|t| format::time_ago(t, now)).unwrap_or_default();
    match c.state.status {
        Status::Running => format!(
            "Up {}{}{}",
            c.state
                .started_at
                .map(|t| format::human_duration(now.duration_since(t)))
                .unwrap_or_default(),
            if c.state.monitor_lost {
                " (monitor gone)"
            } else {
                ""
            },
            health.map(|h| format!(" ({h})")).unwrap_or_default()
        ),
        Status::Exited | Status::Stopped => format!(
            "Exited ({}) {}",
            c.state.exit_code,
            ago(c.state.finished_at)
        ),
        Status::Created => "Created".into(),
        Status::Paused => "Paused".into(),
    }
}

/// podman's `Size()`: `12B (virtual 2.13MB)`.
fn size_text(s: &ContainerSize) -> String {
    format!(
        "{} (virtual {})",
        format::human_size_with_precision(s.rw_size as f64, 3),
        format::human_size_with_precision(s.root_fs_size as f64, 3)
    )
}

fn mount_destinations(c: &Container) -> Vec<String> {
    c.spec
        .mounts
        .iter()
        .map(|m| m.destination.clone())
        .collect()
}

/// The pod of a container, for `ps`'s `Pod`, `PodName` and `IsInfra`.
#[derive(Default)]
struct PodOf {
    id: String,
    name: String,
    is_infra: bool,
}

fn pod_of(c: &Container, pods: &BTreeMap<String, (String, Option<String>)>) -> PodOf {
    let Some(id) = c.spec.pod.as_deref() else {
        return PodOf::default();
    };
    let (name, infra) = pods.get(id).cloned().unwrap_or_default();
    PodOf {
        id: id.to_string(),
        name,
        is_infra: infra.as_deref() == Some(c.record.id.as_str()),
    }
}

fn json_row(
    c: &Container,
    size: Option<&ContainerSize>,
    now: jiff::Timestamp,
    health: Option<&str>,
    pod: PodOf,
) -> PsJson {
    let exited = matches!(c.state.status, Status::Exited | Status::Stopped);
    PsJson {
        auto_remove: c.spec.remove,
        command: c.spec.args.clone(),
        created_at: format::time_ago(c.record.created, now),
        cid_file: String::new(),
        exited,
        exited_at: unix(c.state.finished_at),
        exit_code: c.state.exit_code,
        exposed_ports: exposed_json(c),
        id: c.record.id.clone(),
        image: c.image_label(),
        image_id: c
            .image_id()
            .map(|i| i.hex().to_string())
            .unwrap_or_default(),
        is_infra: pod.is_infra,
        labels: c.spec.labels.clone(),
        mounts: mount_destinations(c),
        names: vec![c.record.name.clone()],
        namespaces: BTreeMap::new(),
        networks: c.spec.networks.keys().cloned().collect(),
        pid: c.state.pid,
        pod: pod.id,
        pod_name: pod.name,
        ports: ports_json(c),
        restarts: c.state.restart_count,
        size: size.map(|s| PsSize {
            root_fs_size: s.root_fs_size,
            rw_size: s.rw_size,
        }),
        started_at: unix(c.state.started_at),
        state: c.state.status.as_str().into(),
        status: status_text(c, now, health),
        created: c.record.created.as_second(),
    }
}

fn template_row(
    c: &Container,
    size: Option<&ContainerSize>,
    no_trunc: bool,
    now: jiff::Timestamp,
    health: Option<&str>,
    pod: PodOf,
) -> PsRow {
    let short = |s: &str| short_id(s, no_trunc);
    PsRow {
        id: short(&c.record.id),
        image: c.image_label(),
        image_id: short(c.image_id().map_or("", |i| i.hex())),
        command: command_text(c, no_trunc),
        created: format::time_ago(c.record.created, now),
        created_at: format::go_time_string_utc(c.record.created),
        created_human: format::time_ago(c.record.created, now),
        running_for: format::time_ago(c.record.created, now),
        status: status_text(c, now, health),
        state: c.state.status.as_str().into(),
        ports: ports_text(c),
        names: c.record.name.clone(),
        labels: c
            .spec
            .labels
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(","),
        label_map: c.spec.labels.clone(),
        mounts: mount_destinations(c),
        networks: c
            .spec
            .networks
            .keys()
            .cloned()
            .collect::<Vec<_>>()
            .join(","),
        pod: short(&pod.id),
        pod_name: pod.name,
        exit_code: c.state.exit_code,
        exited: matches!(c.state.status, Status::Exited | Status::Stopped),
        pid: c.state.pid,
        restarts: c.state.restart_count.to_string(),
        auto_remove: c.spec.remove,
        is_infra: pod.is_infra,
        size: size.map(size_text).unwrap_or_default(),
    }
}

/// An id as `ps` shows it: 12 characters unless `--no-trunc`.
fn short_id(id: &str, no_trunc: bool) -> String {
    if no_trunc {
        id.to_string()
    } else {
        crate::store::short_id(id).to_string()
    }
}

/// The COMMAND column: cut to 17 characters and `...` unless `--no-trunc`.
fn command_text(c: &Container, no_trunc: bool) -> String {
    let cmd = c.spec.args.join(" ");
    if no_trunc || cmd.chars().count() <= 17 {
        cmd
    } else {
        cmd.chars().take(17).collect::<String>() + "..."
    }
}

/// The default table's fields (podman's order: the size, then the pod columns).
fn default_fields(a: &PsArgs) -> Vec<&'static str> {
    let mut fields = vec![
        "ID", "Image", "Command", "Created", "Status", "Ports", "Names",
    ];
    if a.size {
        fields.push("Size");
    }
    if a.pod {
        fields.extend(["Pod", "PodName"]);
    }
    fields
}

/// One container's cells of the default table: the same values as [`template_row`]'s fields of
/// those names, computed only for the columns shown (with 1000 containers, building every field
/// of every row and serializing it dominated `ps -a`).
fn default_cells(
    fields: &[&str],
    no_trunc: bool,
    c: &Container,
    size: Option<&ContainerSize>,
    now: jiff::Timestamp,
    health: Option<&str>,
    pods: &Pods,
) -> Vec<String> {
    fields
        .iter()
        .map(|f| match *f {
            "ID" => short_id(&c.record.id, no_trunc),
            "Image" => c.image_label(),
            "Command" => command_text(c, no_trunc),
            "Created" => format::time_ago(c.record.created, now),
            "Status" => status_text(c, now, health),
            "Ports" => ports_text(c),
            "Names" => c.record.name.clone(),
            "Size" => size.map(size_text).unwrap_or_default(),
            "Pod" => short_id(&pod_of(c, pods).id, no_trunc),
            "PodName" => pod_of(c, pods).name,
            other => unreachable!("`{other}` is not a default column of ps"),
        })
        .collect()
}

/// One `--filter KEY=VALUE`, checked once (regular expressions compiled, times parsed).
enum Filter {
    Name(regex_lite::Regex),
    IdPrefix(String),
    IdRegex(regex_lite::Regex),
    Status(String),
    Ancestor(String),
    Exited(i32),
    Label(String, Option<String>),
    Volume(String),
    Network(String),
    /// A pod id (`pod=` names are resolved to ids by `ps`).
    Pod(String),
    /// `--restart` policy by name (`unless-stopped` only where the user did not stop the container:
    /// what comes back after a reboot).
    RestartPolicy(String),
    /// Created before this time (`until`, `before`) or after it (`since`).
    Before(jiff::Timestamp),
    After(jiff::Timestamp),
}

const FILTER_KEYS: &str = "name, id, status, ancestor, exited, label, volume, network, pod, restart-policy, since, before, until, health";

/// The values of `--filter restart-policy=` (podman's).
const RESTART_POLICIES: [&str; 5] = ["no", "on-failure", "always", "unless-stopped", ""];

fn parse_filter(list: &[Container], f: &str) -> Result<(String, Filter), Error> {
    let bad = |why: String| Error::Usage(format!("invalid filter `{f}`: {why}"));
    let (k, v) = f
        .split_once('=')
        .ok_or_else(|| bad("expected KEY=VALUE".into()))?;
    let regex = |v: &str| regex_lite::Regex::new(v).map_err(|e| bad(e.to_string()));
    // `since`/`before` name a container; its creation time is the bound.
    let created = |key: &str| {
        list.iter()
            .find(|c| c.record.name == key || (key.len() >= 3 && c.record.id.starts_with(key)))
            .map(|c| c.record.created)
            .ok_or_else(|| bad(format!("no container `{key}`")))
    };
    let filter = match k {
        // podman matches names with an unanchored regular expression.
        "name" => Filter::Name(regex(v)?),
        // All hex: an ID prefix, in either case; anything else: a regular expression.
        "id" if !v.is_empty() && v.chars().all(|c| c.is_ascii_hexdigit()) => {
            Filter::IdPrefix(v.to_ascii_lowercase())
        }
        "id" => Filter::IdRegex(regex(v)?),
        "status" => {
            const STATES: [&str; 7] = [
                "created",
                "running",
                "paused",
                "stopped",
                "exited",
                "unknown",
                "restarting",
            ];
            if !STATES.contains(&v) {
                return Err(bad(format!("status must be one of {}", STATES.join(", "))));
            }
            Filter::Status(v.to_string())
        }
        "ancestor" => Filter::Ancestor(v.to_string()),
        "exited" => Filter::Exited(
            v.parse()
                .map_err(|_| bad("exited takes an exit code".into()))?,
        ),
        "label" => match v.split_once('=') {
            Some((lk, lv)) => Filter::Label(lk.to_string(), Some(lv.to_string())),
            None => Filter::Label(v.to_string(), None),
        },
        "volume" => Filter::Volume(v.to_string()),
        "network" => Filter::Network(v.to_string()),
        "pod" => Filter::Pod(v.to_string()),
        // podman's wording; `none` is a container created without --restart, which is `no` here.
        "restart-policy" if v == "none" => Filter::RestartPolicy("no".into()),
        "restart-policy" if RESTART_POLICIES.contains(&v) => Filter::RestartPolicy(v.to_string()),
        "restart-policy" => return Err(Error::Usage(format!("{v} invalid restart policy"))),
        "until" => Filter::Before(super::logs::parse_time(v)?),
        "before" => Filter::Before(created(v)?),
        "since" => Filter::After(created(v)?),
        _ => return Err(bad(format!("supported keys are {FILTER_KEYS}"))),
    };
    Ok((k.to_string(), filter))
}

fn matches(c: &Container, f: &Filter) -> bool {
    match f {
        Filter::Name(re) => re.is_match(&c.record.name),
        Filter::IdPrefix(p) => c.record.id.starts_with(p.as_str()),
        Filter::IdRegex(re) => re.is_match(&c.record.id),
        // podman's `stopped` is any container that ran and ended.
        Filter::Status(s) if s == "stopped" => {
            matches!(c.state.status, Status::Exited | Status::Stopped)
        }
        Filter::Status(s) => c.state.status.as_str() == s,
        Filter::Ancestor(v) => {
            c.record.image == *v
                || c.record.image_id.hex().starts_with(v.as_str())
                || c.record.image.ends_with(&format!("/{v}"))
        }
        Filter::Exited(code) => {
            matches!(c.state.status, Status::Exited | Status::Stopped) && c.state.exit_code == *code
        }
        Filter::Label(k, v) => match v {
            Some(v) => c.spec.labels.get(k) == Some(v),
            None => c.spec.labels.contains_key(k),
        },
        // A volume by name, or anything mounted at that path in the container.
        Filter::Volume(v) => c
            .spec
            .mounts
            .iter()
            .any(|m| m.source == *v || m.destination == *v),
        Filter::Network(n) => c.spec.networks.contains_key(n),
        Filter::Pod(p) => c
            .spec
            .pod
            .as_deref()
            .is_some_and(|id| !p.is_empty() && id.starts_with(p.as_str())),
        Filter::RestartPolicy(p) if p == "unless-stopped" => {
            c.spec.restart.name() == p && !c.state.stopped_by_user
        }
        // An empty policy is podman's way of saying `no`.
        Filter::RestartPolicy(p) => {
            c.spec.restart.name() == p || (p.is_empty() && c.spec.restart.name() == "no")
        }
        Filter::Before(t) => c.record.created < *t,
        Filter::After(t) => c.record.created > *t,
    }
}

/// podman's filter logic: the values of one key are alternatives, different keys must all match.
pub(super) fn apply_filters(
    list: Vec<Container>,
    filters: &[String],
) -> Result<Vec<Container>, Error> {
    let mut by_key: BTreeMap<String, Vec<Filter>> = BTreeMap::new();
    for f in filters {
        let (k, filter) = parse_filter(&list, f)?;
        by_key.entry(k).or_default().push(filter);
    }
    Ok(list
        .into_iter()
        .filter(|c| {
            by_key
                .values()
                .all(|alts| alts.iter().any(|f| matches(c, f)))
        })
        .collect())
}

/// The health status of each container that has a healthcheck, by id.
fn health_statuses(ctx: &Ctx, list: &[Container]) -> Result<BTreeMap<String, &'static str>, Error> {
    if list.iter().all(|c| c.spec.healthcheck.is_none()) {
        return Ok(BTreeMap::new());
    }
    let Some(store) = ctx.store_if_exists()? else {
        return Ok(BTreeMap::new());
    };
    Ok(list
        .iter()
        .filter_map(|c| {
            crate::engine::container::health::state_of(&store, c)
                .map(|st| (c.record.id.clone(), st.status.as_str()))
        })
        .collect())
}

/// What STATUS shows after `Up …`: the health of a running container that has a check.
fn shown_health<'a>(c: &Container, health: &'a BTreeMap<String, &'static str>) -> Option<&'a str> {
    (c.state.status == Status::Running)
        .then(|| health.get(&c.record.id).copied())
        .flatten()
}

/// `--filter health=starting|healthy|unhealthy|none` (alternatives; `none`: no healthcheck).
fn filter_health(
    list: &mut Vec<Container>,
    health: &BTreeMap<String, &'static str>,
    filters: &[String],
) -> Result<(), Error> {
    const VALUES: [&str; 4] = ["starting", "healthy", "unhealthy", "none"];
    let wanted: Vec<&str> = filters
        .iter()
        .map(|f| {
            let v = &f["health=".len()..];
            VALUES.iter().find(|w| **w == v).copied().ok_or_else(|| {
                Error::Usage(format!(
                    "invalid filter `{f}`: health must be one of {}",
                    VALUES.join(", ")
                ))
            })
        })
        .collect::<Result<_, _>>()?;
    if !wanted.is_empty() {
        list.retain(|c| wanted.contains(health.get(&c.record.id).unwrap_or(&"none")));
    }
    Ok(())
}

/// `--sort KEY`: ascending, as podman sorts.
fn sort(list: &mut [Container], key: &str) {
    match key {
        "command" => list.sort_by(|a, b| a.spec.args.cmp(&b.spec.args)),
        "id" => list.sort_by(|a, b| a.record.id.cmp(&b.record.id)),
        "image" => list.sort_by(|a, b| a.record.image.cmp(&b.record.image)),
        "names" => list.sort_by(|a, b| a.record.name.cmp(&b.record.name)),
        "status" => list.sort_by(|a, b| a.state.status.as_str().cmp(b.state.status.as_str())),
        // Shortest running first.
        "runningfor" => list.sort_by_key(|c| std::cmp::Reverse(c.record.created)),
        _ => list.sort_by_key(|c| c.record.created),
    }
}

/// Headers of `ps` columns other than the upper-cased, split field name.
const PS_TABLE_HEADERS: [(&str, &str); 6] = [
    ("ID", "CONTAINER ID"),
    ("CreatedHuman", "CREATED"),
    ("RunningFor", "RUNNING FOR"),
    ("Pod", "POD ID"),
    ("PodName", "PODNAME"),
    ("ImageID", "IMAGE ID"),
];

/// The containers' pods, by id: name and infra container.
type Pods = BTreeMap<String, (String, Option<String>)>;
/// Health statuses by container id.
type Health = BTreeMap<String, &'static str>;

pub fn ps(ctx: &Ctx, a: &PsArgs) -> Result<i32, Error> {
    let pods: Pods = crate::engine::pod::list_brief(ctx);
    let (list, health) = select(ctx, a, &pods)?;
    if a.quiet {
        return out(&quiet_ids(&list, a.no_trunc)).map(|()| 0);
    }
    let sizes: Vec<Option<ContainerSize>> = if a.size {
        let store = ctx.store()?;
        list.iter()
            .map(|c| engine::size(&store, c).map(Some))
            .collect::<Result<_, _>>()?
    } else {
        vec![None; list.len()]
    };
    out(&render(a, &list, &sizes, &health, &pods)?).map(|()| 0)
}

/// The containers `ps` lists, filtered, cut and sorted as asked, and their health statuses.
fn select(ctx: &Ctx, a: &PsArgs, pods: &Pods) -> Result<(Vec<Container>, Health), Error> {
    let mut list = crate::engine::container::list(ctx)?;
    // podman: `--external` lists the containers other tools (here: `build`) keep in the store, and
    // implies `--all`.
    if !a.external {
        list.retain(|c| !c.is_external());
    }
    // `pod=NAME`: the pod's id (ids and id prefixes stay as they are).
    let filters: Vec<String> = a
        .filter
        .iter()
        .map(|f| match f.strip_prefix("pod=") {
            Some(v) => pods
                .iter()
                .find(|(_, (name, _))| name == v)
                .map_or_else(|| f.clone(), |(id, _)| format!("pod={id}")),
            None => f.clone(),
        })
        .collect();
    let (health_filters, filters): (Vec<String>, Vec<String>) =
        filters.into_iter().partition(|f| f.starts_with("health="));
    let health = health_statuses(ctx, &list)?;
    let mut list = apply_filters(list, &filters)?;
    filter_health(&mut list, &health, &health_filters)?;
    // Only running containers, unless asked otherwise (a status filter chooses states itself).
    let status_filter = a.filter.iter().any(|f| f.starts_with("status="));
    if !(a.all || a.external || a.latest || a.last.is_some() || status_filter) {
        list.retain(|c| matches!(c.state.status, Status::Running | Status::Paused));
    }
    if a.latest {
        list.truncate(1);
    }
    if let Some(n) = a.last {
        list.truncate(n);
    }
    if let Some(key) = a.sort.as_deref() {
        sort(&mut list, key);
    }
    Ok((list, health))
}

/// `--quiet`: the ids, one a line.
fn quiet_ids(list: &[Container], no_trunc: bool) -> String {
    list.iter()
        .map(|c| {
            if no_trunc {
                format!("{}\n", c.record.id)
            } else {
                format!("{}\n", crate::store::short_id(&c.record.id))
            }
        })
        .collect()
}

/// The listing as JSON, a template or the default table.
fn render(
    a: &PsArgs,
    list: &[Container],
    sizes: &[Option<ContainerSize>],
    health: &Health,
    pods: &Pods,
) -> Result<String, Error> {
    let now = jiff::Timestamp::now();
    let fmt = Format::parse(a.format.as_deref());
    if fmt == Format::Json {
        let rows: Vec<PsJson> = list
            .iter()
            .zip(sizes)
            .map(|(c, s)| json_row(c, s.as_ref(), now, shown_health(c, health), pod_of(c, pods)))
            .collect();
        return Ok(format::render_json(&rows, JsonStyle::PS)?);
    }
    if fmt == Format::Default {
        let fields = default_fields(a);
        let rows = list.iter().zip(sizes).map(|(c, s)| {
            default_cells(
                &fields,
                a.no_trunc,
                c,
                s.as_ref(),
                now,
                shown_health(c, health),
                pods,
            )
        });
        let mut text = format::render_columns(&fields, &PS_TABLE_HEADERS, rows);
        if a.noheading {
            text = format::strip_heading(text, &fmt);
        }
        return Ok(text);
    }
    let rows: Vec<PsRow> = list
        .iter()
        .zip(sizes)
        .map(|(c, s)| {
            template_row(
                c,
                s.as_ref(),
                a.no_trunc,
                now,
                shown_health(c, health),
                pod_of(c, pods),
            )
        })
        .collect();
    let default_template = format!(
        "table {}",
        default_fields(a)
            .iter()
            .map(|f| format!("{{{{.{f}}}}}"))
            .collect::<Vec<_>>()
            .join("\t")
    );
    let table = Table {
        name: "ps",
        default_template: &default_template,
        headers: &PS_TABLE_HEADERS,
        json: JsonStyle::PS,
    };
    let mut text = format::render_list_with_methods(&rows, &fmt, &table, &PS_METHODS)?;
    if a.noheading {
        text = format::strip_heading(text, &fmt);
    }
    Ok(text)
}

/// podman's `psReporter` methods.
const PS_METHODS: [format::Method<PsRow>; 1] = [format::Method {
    name: "Label",
    bind: |row| format::label_method(&row.label_map),
}];

/// The fields `ps --format` templates can use (for completion).
pub fn format_fields() -> serde_json::Value {
    format::template_fields(&PS_METHODS)
}
