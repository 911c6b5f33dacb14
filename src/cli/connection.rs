//! `system connection`: podman's connections to podman services. roost has no service and runs
//! everything locally, so it only lists the connections a podman setup recorded
//! (`$XDG_CONFIG_HOME/containers/podman-connections.json`), which roost itself never uses.
use clap::{Args, Subcommand};
use serde::Serialize;

use super::format::{self, Format, JsonStyle, Table};
use super::out;
use crate::cli::lazy::Lazy;
use crate::error::Error;

#[derive(Debug, Subcommand)]
pub enum ConnectionCommand {
    /// List the recorded connections to podman services (roost uses none: it runs locally)
    #[command(visible_alias = "list")]
    Ls(Lazy<LsArgs>),
}

#[derive(Debug, Args)]
pub struct LsArgs {
    /// Pretty-print with a Go template (`{{.Name}}`, `{{.URI}}`, `{{.Identity}}`, `{{.Default}}`,
    /// `{{.ReadWrite}}`), `json`, or `table …`
    #[arg(short, long, value_name = "FORMAT")]
    pub format: Option<String>,
    /// Print only the connection names
    #[arg(short, long)]
    pub quiet: bool,
}

/// One connection as podman lists it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
struct Row {
    name: String,
    #[serde(rename = "URI")]
    uri: String,
    identity: String,
    default: bool,
    read_write: bool,
}

pub fn dispatch(command: &ConnectionCommand) -> Result<i32, Error> {
    match command {
        ConnectionCommand::Ls(a) => ls(a),
    }
}

fn ls(a: &LsArgs) -> Result<i32, Error> {
    let rows = recorded();
    if a.quiet {
        return out(&rows
            .iter()
            .map(|r| format!("{}\n", r.name))
            .collect::<String>())
        .map(|()| 0);
    }
    let table = Table {
        name: "system connection ls",
        default_template: "table {{.Name}}\t{{.URI}}\t{{.Identity}}\t{{.Default}}\t{{.ReadWrite}}",
        headers: &[],
        json: JsonStyle::IMAGES,
    };
    let text = format::render_list(&rows, &Format::parse(a.format.as_deref()), &table)?;
    out(&text).map(|()| 0)
}

/// The connections in podman's `podman-connections.json`, sorted by name; none when it is absent
/// or unreadable.
fn recorded() -> Vec<Row> {
    let dir = std::env::var_os("XDG_CONFIG_HOME")
        .map(std::path::PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| std::path::Path::new(&h).join(".config")));
    let Some(file) = dir.map(|d| d.join("containers/podman-connections.json")) else {
        return vec![];
    };
    let Ok(text) = std::fs::read_to_string(file) else {
        return vec![];
    };
    parse(&text)
}

fn parse(text: &str) -> Vec<Row> {
    let Ok(json) = serde_json::from_str::<serde_json::Value>(text) else {
        return vec![];
    };
    let conn = &json["Connection"];
    let default = conn["Default"].as_str().unwrap_or_default();
    let Some(all) = conn["Connections"].as_object() else {
        return vec![];
    };
    let text = |v: &serde_json::Value, k: &str| v[k].as_str().unwrap_or_default().to_string();
    let mut rows: Vec<Row> = all
        .iter()
        .map(|(name, c)| Row {
            name: name.clone(),
            uri: text(c, "URI"),
            identity: text(c, "Identity"),
            default: name == default,
            read_write: c["ReadWrite"].as_bool().unwrap_or(false),
        })
        .collect();
    rows.sort_by(|a, b| a.name.cmp(&b.name));
    rows
}

#[cfg(test)]
mod tests {
    #[test]
    fn podman_connections_file() {
        let rows = super::parse(
            r#"{"Connection":{"Default":"b","Connections":{"b":{"URI":"ssh://u@h/run/podman.sock","Identity":"/k","ReadWrite":true},"a":{"URI":"unix:///x"}}}}"#,
        );
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].name, "a");
        assert!(!rows[0].default);
        assert!(rows[1].default && rows[1].read_write);
        assert_eq!(rows[1].identity, "/k");
        assert!(super::parse("not json").is_empty());
    }
}
