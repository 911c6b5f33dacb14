//! `images`, `history` and `inspect`.
use std::collections::BTreeMap;

use jiff::Timestamp;
use serde::Serialize;
use serde_json::{Value, json};

use super::{HistoryArgs, ImagesArgs, InspectArgs};
use crate::cli::format::{self, Format, JsonStyle, Table, image_size, time_ago};
use crate::cli::out;
use crate::engine::Ctx;
use crate::engine::image::{ImageInfo, parse_filters};
use crate::error::Error;
use crate::store::ImageRecord;

/// One row of `images` for templates and tables (podman's `imageReporter`).
#[derive(Serialize, Default)]
#[serde(rename_all = "PascalCase")]
struct ImageRow {
    #[serde(rename = "ID")]
    id: String,
    #[serde(rename = "Id")]
    full_id: String,
    repository: String,
    tag: String,
    digest: String,
    created: String,
    created_at: String,
    created_since: String,
    size: String,
    virtual_size: String,
    shared_size: String,
    containers: u32,
    labels: BTreeMap<String, String>,
    dangling: bool,
    read_only: bool,
    names: Vec<String>,
    digests: Vec<String>,
    repo_tags: Vec<String>,
    repo_digests: Vec<String>,
}

/// `images --format json` (podman's ImageSummary).
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct ImageSummary {
    id: String,
    parent_id: String,
    repo_tags: Option<Vec<String>>,
    repo_digests: Vec<String>,
    size: u64,
    shared_size: u64,
    virtual_size: u64,
    labels: Option<BTreeMap<String, String>>,
    containers: u32,
    names: Option<Vec<String>>,
    digest: String,
    history: Vec<String>,
    created: i64,
    created_at: String,
}

fn split_name(name: &str) -> (String, String) {
    if let Some((repo, _)) = name.split_once('@') {
        return (repo.to_string(), "<none>".to_string());
    }
    match name.rfind(':') {
        Some(i) if !name[i..].contains('/') => (name[..i].to_string(), name[i + 1..].to_string()),
        _ => (name.to_string(), "<none>".to_string()),
    }
}

/// The image's `repo:tag` names (names kept as `repo@digest` are not tags).
fn tags(rec: &ImageRecord) -> Vec<String> {
    rec.names
        .iter()
        .filter(|n| !n.contains('@'))
        .cloned()
        .collect()
}

/// `repo@digest` for each repository the image is known under.
fn repo_digests(rec: &ImageRecord) -> Vec<String> {
    let mut repos: Vec<String> = rec.names.iter().map(|n| split_name(n).0).collect();
    repos.sort();
    repos.dedup();
    let mut out = Vec::new();
    for r in &repos {
        for d in &rec.digests {
            out.push(format!("{r}@{d}"));
        }
    }
    out
}

fn rows(records: &[ImageRecord], args: &ImagesArgs, now: Timestamp) -> Vec<ImageRow> {
    let mut rows = Vec::new();
    for rec in records {
        let created = rec.created.unwrap_or(rec.added);
        let names: Vec<Option<&String>> = if rec.names.is_empty() {
            vec![None]
        } else {
            rec.names.iter().map(Some).collect()
        };
        for name in names {
            let (repository, tag) = name
                .map(|n| split_name(n))
                .unwrap_or(("<none>".into(), "<none>".into()));
            rows.push(ImageRow {
                id: if args.no_trunc {
                    rec.id.to_string()
                } else {
                    rec.id.short().to_string()
                },
                full_id: rec.id.hex().to_string(),
                repository,
                tag,
                digest: rec.digest.to_string(),
                created: time_ago(created, now),
                // podman keeps an image's creation time in Unix seconds.
                created_at: format::go_time_string_utc(whole_seconds(created)),
                created_since: time_ago(created, now),
                size: image_size(rec.size as i64),
                virtual_size: image_size(rec.size as i64),
                shared_size: image_size(0),
                containers: 0,
                labels: rec.labels.clone(),
                dangling: rec.names.is_empty(),
                read_only: false,
                names: rec.names.clone(),
                digests: rec.digests.iter().map(|d| d.to_string()).collect(),
                repo_tags: tags(rec),
                repo_digests: repo_digests(rec),
            });
        }
    }
    rows
}

fn summary(rec: &ImageRecord) -> ImageSummary {
    let created = rec.created.unwrap_or(rec.added);
    ImageSummary {
        id: rec.id.hex().to_string(),
        parent_id: String::new(),
        repo_tags: Some(tags(rec)).filter(|t| !t.is_empty()),
        repo_digests: repo_digests(rec),
        size: rec.size,
        shared_size: 0,
        virtual_size: rec.size,
        labels: (!rec.labels.is_empty()).then(|| rec.labels.clone()),
        containers: 0,
        names: (!rec.names.is_empty()).then(|| rec.names.clone()),
        digest: rec.digest.to_string(),
        history: rec.names.clone(),
        created: created.as_second(),
        created_at: format::rfc3339_nano_utc(created),
    }
}

pub fn images(ctx: &Ctx, args: &ImagesArgs) -> Result<i32, Error> {
    let mut raw = args.filter.clone();
    if let Some(i) = &args.image {
        raw.push(format!("reference={i}"));
    }
    let filters = parse_filters(&raw)?;
    let mut records = crate::engine::image::list(ctx, &filters)?;
    match args.sort.as_str() {
        "id" => records.sort_by(|a, b| a.id.cmp(&b.id)),
        "size" => records.sort_by_key(|r| std::cmp::Reverse(r.size)),
        "repository" | "tag" => records.sort_by(|a, b| a.names.first().cmp(&b.names.first())),
        _ => {}
    }
    if args.quiet {
        let mut seen = std::collections::HashSet::new();
        let mut text = String::new();
        for r in &records {
            if seen.insert(r.id.clone()) {
                let id = if args.no_trunc {
                    r.id.to_string()
                } else {
                    r.id.short().to_string()
                };
                text.push_str(&id);
                text.push('\n');
            }
        }
        return out(&text).map(|()| 0);
    }
    let fmt = Format::parse(args.format.as_deref());
    if fmt == Format::Json {
        let s: Vec<ImageSummary> = records.iter().map(summary).collect();
        return out(&format::render_json(&s, JsonStyle::IMAGES)?).map(|()| 0);
    }
    let default = if args.digests {
        "table {{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t{{.Created}}\t{{.Size}}"
    } else {
        "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.Created}}\t{{.Size}}"
    };
    let table = Table {
        name: "images",
        default_template: default,
        headers: &[("ID", "IMAGE ID")],
        json: JsonStyle::IMAGES,
    };
    let mut rows = rows(&records, args, Timestamp::now());
    // Rows, not images: one image's names sort among the others (podman #23803).
    match args.sort.as_str() {
        "repository" => rows.sort_by(|a, b| (&a.repository, &a.tag).cmp(&(&b.repository, &b.tag))),
        "tag" => rows.sort_by(|a, b| (&a.tag, &a.repository).cmp(&(&b.tag, &b.repository))),
        _ => {}
    }
    let mut text = format::render_list(&rows, &fmt, &table)?;
    if args.noheading {
        text = format::strip_heading(text, &fmt);
    }
    out(&text).map(|()| 0)
}

#[derive(Serialize, Default)]
#[serde(rename_all = "PascalCase")]
struct HistoryRow {
    #[serde(rename = "ID")]
    id: String,
    created: String,
    created_at: String,
    created_since: String,
    created_by: String,
    size: String,
    comment: String,
    tags: Vec<String>,
}

pub fn history(ctx: &Ctx, args: &HistoryArgs) -> Result<i32, Error> {
    let entries = crate::engine::image::history(ctx, &args.image)?;
    let now = Timestamp::now();
    if args.quiet {
        let text: String = entries
            .iter()
            .map(|e| match &e.id {
                Some(id) if args.no_trunc => format!("{id}\n"),
                Some(id) => format!("{}\n", id.short()),
                None => "<missing>\n".to_string(),
            })
            .collect();
        return out(&text).map(|()| 0);
    }
    let fmt = Format::parse(args.format.as_deref());
    if fmt == Format::Json {
        let v: Vec<Value> = entries
            .iter()
            .map(|e| {
                json!({
                    "id": e.id.as_ref().map_or("<missing>".to_string(), |d| d.hex().to_string()),
                    "created": e.created.map(format::rfc3339_nano_utc),
                    "createdBy": e.created_by,
                    "size": e.size,
                    "comment": e.comment,
                    "tags": if e.tags.is_empty() { Value::Null } else { json!(e.tags) },
                })
            })
            .collect();
        return out(&format::render_json(&v, JsonStyle::IMAGES)?).map(|()| 0);
    }
    let rows: Vec<HistoryRow> = entries
        .iter()
        .map(|e| {
            let mut created_by = e.created_by.clone();
            if !args.no_trunc && created_by.chars().count() > 45 {
                created_by = created_by.chars().take(42).collect::<String>() + "...";
            }
            let created = e.created.map(|c| {
                if args.human {
                    time_ago(c, now)
                } else {
                    // Go's time.RFC3339, as podman prints it: whole seconds.
                    format::rfc3339_nano_utc(whole_seconds(c))
                }
            });
            HistoryRow {
                id: match &e.id {
                    Some(id) if args.no_trunc => id.to_string(),
                    Some(id) => id.short().to_string(),
                    None => "<missing>".into(),
                },
                created: created.clone().unwrap_or_default(),
                created_at: e
                    .created
                    .map(format::go_time_string_utc)
                    .unwrap_or_default(),
                created_since: created.unwrap_or_default(),
                created_by,
                size: if args.human {
                    image_size(e.size as i64)
                } else {
                    e.size.to_string()
                },
                comment: e.comment.clone(),
                tags: e.tags.clone(),
            }
        })
        .collect();
    let table = Table {
        name: "history",
        default_template: "table {{.ID}}\t{{.Created}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}",
        headers: &[],
        json: JsonStyle::IMAGES,
    };
    out(&format::render_list(&rows, &fmt, &table)?).map(|()| 0)
}

/// podman's image inspect document.
fn inspect_json(info: &ImageInfo, ctx: &Ctx) -> Value {
    let rec = &info.record;
    let cfg = &info.config;
    let store_root = &ctx.paths.data;
    let layer_dirs: Vec<String> = rec
        .layers
        .iter()
        .rev()
        .map(|l| {
            store_root
                .join("layers")
                .join(l.hex())
                .join("diff")
                .display()
                .to_string()
        })
        .collect();
    let mut graph = serde_json::Map::new();
    if let Some((top, lower)) = layer_dirs.split_first() {
        graph.insert("UpperDir".into(), json!(top));
        if !lower.is_empty() {
            graph.insert("LowerDir".into(), json!(lower.join(":")));
        }
    }
    let history: Vec<Value> = cfg
        .history
        .iter()
        .map(|h| serde_json::to_value(h).unwrap_or(Value::Null))
        .collect();
    json!({
        "Id": rec.id.hex(),
        "Digest": rec.digest.to_string(),
        "RepoTags": tags(rec),
        "RepoDigests": repo_digests(rec),
        "Parent": "",
        "Comment": cfg.history.last().and_then(|h| h.comment.clone()).unwrap_or_default(),
        "Created": cfg.created.map(format::rfc3339_nano_utc),
        "Config": cfg.config.clone().map(|c| serde_json::to_value(c).unwrap_or(Value::Null)).unwrap_or(json!({})),
        "Version": "",
        "Author": cfg.author.clone().unwrap_or_default(),
        "Architecture": cfg.architecture,
        "Os": cfg.os,
        "Size": rec.size,
        "VirtualSize": rec.size,
        "GraphDriver": {"Name": ctx.storage_driver.as_ref().map_or("overlay", |f| f.driver.as_str()), "Data": graph},
        "RootFS": {"Type": "layers", "Layers": cfg.rootfs.diff_ids.iter().map(|d| d.to_string()).collect::<Vec<_>>()},
        "Labels": if rec.labels.is_empty() { Value::Null } else { json!(rec.labels) },
        "Annotations": info.manifest.as_ref().map(|m| json!(m.annotations)).unwrap_or(json!({})),
        "ManifestType": rec.manifest_media,
        "User": cfg.config.as_ref().and_then(|c| c.user.clone()).unwrap_or_default(),
        "History": history,
        // Newest first, where RepoTags keeps the order the names were given in (podman).
        "NamesHistory": rec.names.iter().rev().collect::<Vec<_>>(),
    })
}

/// Image `name`'s inspect document (for completing `--format` fields).
/// The fields `images --format` templates can use (for completion).
pub fn images_format_fields() -> Value {
    format::template_fields::<ImageRow>(&[])
}

/// The fields `history --format` templates can use (for completion).
pub fn history_format_fields() -> Value {
    format::template_fields::<HistoryRow>(&[])
}

pub fn template_doc(ctx: &Ctx, name: &str) -> Option<Value> {
    let infos = crate::engine::image::inspect(ctx, &[name.to_string()]).ok()?;
    infos.first().map(|i| inspect_json(i, ctx))
}

/// `inspect`: containers first, then images (podman's order), unless `--type` says which.
pub fn inspect(ctx: &Ctx, args: &InspectArgs) -> Result<i32, Error> {
    let kind = args.kind.as_deref().unwrap_or("all");
    let mut docs: Vec<Value> = Vec::new();
    let mut missing: Vec<String> = Vec::new();
    let store = ctx.store_if_exists()?;
    for name in &args.names {
        if kind != "image"
            && let Some(store) = &store
        {
            match crate::engine::container::find(store, name) {
                Ok(c) => {
                    docs.push(crate::cli::container::inspect::container_json(
                        ctx, store, &c,
                    ));
                    continue;
                }
                Err(crate::engine::EngineError::NoSuchContainer(_)) => {}
                Err(e) => return Err(e.into()),
            }
        }
        if kind == "container" {
            return Err(crate::engine::EngineError::NoSuchContainerToInspect(name.clone()).into());
        }
        match crate::engine::image::inspect(ctx, std::slice::from_ref(name)) {
            Ok(infos) => docs.extend(infos.iter().map(|i| inspect_json(i, ctx))),
            // podman: without --type, print what was found, then name what was not.
            Err(crate::engine::EngineError::ImageNotKnown(_)) if kind == "all" => {
                missing.push(name.clone())
            }
            Err(e) => return Err(e.into()),
        }
    }
    let fmt = Format::parse(args.format.as_deref());
    out(&format::render_inspect(&docs, &fmt)?)?;
    if missing.is_empty() {
        return Ok(0);
    }
    Err(crate::engine::EngineError::NoSuchObject(missing).into())
}

/// `t` without its fraction of a second.
fn whole_seconds(t: jiff::Timestamp) -> jiff::Timestamp {
    jiff::Timestamp::from_second(t.as_second()).unwrap_or(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_split_at_the_tag() {
        assert_eq!(
            split_name("127.0.0.1:5000/busybox:latest"),
            ("127.0.0.1:5000/busybox".into(), "latest".into())
        );
        assert_eq!(
            split_name("127.0.0.1:5000/busybox"),
            ("127.0.0.1:5000/busybox".into(), "<none>".into())
        );
    }
}
