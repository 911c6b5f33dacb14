//! `diff`: list what a container changed in its file system.
use clap::Args;
use clap_complete::engine::ArgValueCandidates;

use crate::cli::complete::container_names;
use crate::cli::out;
use crate::engine::Ctx;
use crate::engine::container::{Change, ChangeKind};
use crate::error::Error;

#[derive(Debug, Args)]
pub struct DiffArgs {
    /// Output format: json (default: `KIND PATH` lines)
    #[arg(long, value_name = "FORMAT", allow_hyphen_values = true, value_parser = ["json"])]
    pub format: Option<String>,
    /// Container to inspect
    #[arg(value_name = "CONTAINER", add = ArgValueCandidates::new(container_names))]
    pub container: String,
}

pub fn diff(ctx: &Ctx, args: &DiffArgs) -> Result<i32, Error> {
    let changes = crate::engine::container::diff(ctx, &args.container)?;
    let text = match args.format.as_deref() {
        Some("json") => json(&changes),
        _ => changes
            .iter()
            .map(|c| format!("{} {}\n", c.kind.letter(), c.path))
            .collect(),
    };
    out(&text).map(|()| 0)
}

/// podman's `{"changed":[…],"added":[…],"deleted":[…]}`.
fn json(changes: &[Change]) -> String {
    let of = |kind| {
        changes
            .iter()
            .filter(|c| c.kind == kind)
            .map(|c| c.path.clone())
            .collect::<Vec<_>>()
    };
    #[derive(serde::Serialize)]
    struct Report {
        changed: Vec<String>,
        added: Vec<String>,
        deleted: Vec<String>,
    }
    let body = Report {
        changed: of(ChangeKind::Changed),
        added: of(ChangeKind::Added),
        deleted: of(ChangeKind::Deleted),
    };
    let mut text = serde_json::to_string_pretty(&body).expect("json serializes");
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_groups_by_kind() {
        let changes = [
            Change {
                path: "/a".into(),
                kind: ChangeKind::Added,
            },
            Change {
                path: "/bin".into(),
                kind: ChangeKind::Changed,
            },
        ];
        let v: serde_json::Value = serde_json::from_str(&json(&changes)).unwrap();
        assert_eq!(v["added"][0], "/a");
        assert_eq!(v["changed"][0], "/bin");
        assert_eq!(v["deleted"].as_array().unwrap().len(), 0);
    }
}
