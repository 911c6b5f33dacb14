//! `ps`: podman's table and JSON.
use serde::Serialize;

use super::PsArgs;
use crate::cli::format::{self, Format, JsonStyle, Table};
use crate::cli::out;
use crate::engine::Ctx;
use crate::engine::container::{Container, Status};
use crate::error::Error;

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct PsRow {
    #[serde(rename = "ID")]
    id: String,
    image: String,
    command: String,
    created: String,
    created_at: String,
    status: String,
    state: String,
    ports: String,
    names: String,
    labels: std::collections::BTreeMap<String, String>,
    exit_code: i32,
    pid: i32,
}

fn status_text(c: &Container, now: jiff::Timestamp) -> String {
    let ago = |t: Option<jiff::Timestamp>| t.map(|t| format::time_ago(t, now)).unwrap_or_default();
    match c.state.status {
        Status::Running => format!("Up {}", ago(c.state.started_at)),
        Status::Exited | Status::Stopped => format!(
            "Exited ({}) {}",
            c.state.exit_code,
            ago(c.state.finished_at)
        ),
        Status::Created => "Created".into(),
        Status::Paused => "Paused".into(),
    }
}

fn filter(c: &Container, f: &str) -> Result<bool, Error> {
    let (k, v) = f
        .split_once('=')
        .ok_or_else(|| Error::Usage(format!("invalid filter `{f}`: expected KEY=VALUE")))?;
    Ok(match k {
        // podman matches names with an unanchored regular expression.
        "name" => regex_lite::Regex::new(v)
            .map_err(|e| Error::Usage(format!("invalid filter `{f}`: {e}")))?
            .is_match(&c.record.name),
        "id" => c.record.id.starts_with(v),
        "status" => c.state.status.as_str() == v,
        "ancestor" => {
            c.record.image == v
                || c.record.image_id.hex().starts_with(v)
                || c.record.image.ends_with(&format!("/{v}"))
        }
        "exited" => {
            c.state.status == Status::Exited && v.parse::<i32>().ok() == Some(c.state.exit_code)
        }
        "label" => match v.split_once('=') {
            Some((lk, lv)) => c.spec.labels.get(lk).map(String::as_str) == Some(lv),
            None => c.spec.labels.contains_key(v),
        },
        _ => {
            return Err(Error::Usage(format!(
                "invalid filter `{k}`: supported are name, id, status, ancestor, exited, label"
            )));
        }
    })
}

pub fn ps(ctx: &Ctx, a: &PsArgs) -> Result<i32, Error> {
    let mut list = crate::engine::container::list(ctx)?;
    let explicit = a.all || a.latest || a.last.is_some() || !a.filter.is_empty();
    if !explicit {
        list.retain(|c| c.state.status == Status::Running);
    }
    for f in &a.filter {
        let mut keep = Vec::new();
        for c in list {
            if filter(&c, f)? {
                keep.push(c);
            }
        }
        list = keep;
    }
    if a.latest {
        list.truncate(1);
    }
    if let Some(n) = a.last {
        list.truncate(n);
    }
    if a.quiet {
        let text: String = list
            .iter()
            .map(|c| {
                if a.no_trunc {
                    format!("{}\n", c.record.id)
                } else {
                    format!("{}\n", &c.record.id[..12])
                }
            })
            .collect();
        return out(&text).map(|()| 0);
    }
    let now = jiff::Timestamp::now();
    let rows: Vec<PsRow> = list
        .iter()
        .map(|c| {
            let cmd = c.spec.args.join(" ");
            PsRow {
                id: if a.no_trunc {
                    c.record.id.clone()
                } else {
                    c.record.id[..12].to_string()
                },
                image: c.record.image.clone(),
                command: if a.no_trunc || cmd.chars().count() <= 17 {
                    cmd
                } else {
                    cmd.chars().take(17).collect::<String>() + "..."
                },
                created: format::time_ago(c.record.created, now),
                created_at: format::go_time_string_utc(c.record.created),
                status: status_text(c, now),
                state: c.state.status.as_str().into(),
                ports: String::new(),
                names: c.record.name.clone(),
                labels: c.spec.labels.clone(),
                exit_code: c.state.exit_code,
                pid: c.state.pid,
            }
        })
        .collect();
    let fmt = Format::parse(a.format.as_deref());
    let table = Table {
        name: "ps",
        default_template: "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.Created}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}",
        headers: &[("ID", "CONTAINER ID")],
        json: JsonStyle::PS,
    };
    let mut text = format::render_list(&rows, &fmt, &table)?;
    if a.noheading && matches!(fmt, Format::Default | Format::Template { table: true, .. }) {
        text = text
            .split_once('\n')
            .map(|(_, r)| r.to_string())
            .unwrap_or_default();
    }
    out(&text).map(|()| 0)
}
