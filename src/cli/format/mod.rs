//! `--format` rendering for list and inspect commands, as podman does it
//! (containers/common `pkg/report`): `json`, Go templates, and `table`
//! templates aligned like Go's tabwriter with a header row.
//!
//! ```
//! use roost::cli::format::{Format, JsonStyle, Table, render_list};
//!
//! #[derive(serde::Serialize)]
//! #[serde(rename_all = "PascalCase")]
//! struct Row { repository: String, tag: String }
//!
//! let table = Table {
//!     name: "images",
//!     default_template: "table {{.Repository}}\t{{.Tag}}",
//!     headers: &[],
//!     json: JsonStyle::IMAGES,
//! };
//! let rows = [Row { repository: "docker.io/library/alpine".into(), tag: "latest".into() }];
//! let out = render_list(&rows, &Format::parse(None), &table).unwrap();
//! assert_eq!(out, "REPOSITORY                TAG\ndocker.io/library/alpine  latest\n");
//! ```

mod human;
mod table;
mod template;
mod value;

use std::sync::Arc;

use gotmpl::Value;
use serde::Serialize;

pub use human::{
    go_time_string_utc, human_duration, human_size_with_precision, image_size, rfc3339_nano,
    rfc3339_nano_utc, time_ago,
};

use template::Source;
use value::JsonCache;

/// What `--format` asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Format {
    /// No `--format` (or `table` alone): the command's default table.
    Default,
    /// `json` (or podman's `{{json}}`/`{{json.}}` spellings): a pretty JSON array.
    Json,
    /// A Go template; `table` when it started with `table `, which adds
    /// headers and column alignment. `text` excludes the `table ` prefix.
    Template { table: bool, text: String },
}

impl Format {
    /// Interprets a `--format` value the way podman does.
    pub fn parse(s: Option<&str>) -> Format {
        let Some(s) = s else { return Format::Default };
        if s.is_empty() || s.trim() == "table" {
            return Format::Default;
        }
        if is_json(s) {
            return Format::Json;
        }
        match s.strip_prefix("table ") {
            Some(rest) => Format::Template {
                table: true,
                text: rest.to_string(),
            },
            None => Format::Template {
                table: false,
                text: s.to_string(),
            },
        }
    }
}

/// containers/common `report.IsJSON`: `json`, `{{json}}`, `{{ json. }}`, but
/// not `{{json .}}`, which is a template printing each row as JSON.
fn is_json(s: &str) -> bool {
    let s = s.trim();
    if s == "json" {
        return true;
    }
    let Some(inner) = s.strip_prefix("{{").and_then(|r| r.strip_suffix("}}")) else {
        return false;
    };
    let inner = inner.trim_start();
    let Some(rest) = inner.strip_prefix("json") else {
        return false;
    };
    let rest = rest.strip_prefix('.').unwrap_or(rest);
    rest.trim().is_empty()
}

/// How a command prints `--format json`; podman differs per command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JsonStyle {
    /// Indent per level.
    pub indent: &'static str,
    /// Go's `json.Marshal` escapes `<`, `>` and `&` as `\u003c` etc.
    pub escape_html: bool,
}

impl JsonStyle {
    /// `podman images --format json`: `json.MarshalIndent(v, "", "    ")`.
    pub const IMAGES: JsonStyle = JsonStyle {
        indent: "    ",
        escape_html: true,
    };
    /// `podman ps --format json`: `json.MarshalIndent(v, "", "  ")`.
    pub const PS: JsonStyle = JsonStyle {
        indent: "  ",
        escape_html: true,
    };
    /// `podman inspect`: an encoder with 5-space indent and no HTML escaping.
    pub const INSPECT: JsonStyle = JsonStyle {
        indent: "     ",
        escape_html: false,
    };
}

/// A list command's table: its default template and column headers.
#[derive(Debug, Clone, Copy)]
pub struct Table<'a> {
    /// Template name used in errors (podman uses the command name, e.g. `images`).
    pub name: &'a str,
    /// e.g. `"table {{.ID}}\t{{.Name}}"`; the `table ` prefix is optional.
    pub default_template: &'a str,
    /// Field → header overrides (`ID` → `IMAGE ID`); other fields get the
    /// CamelCase-split, upper-cased field name (`CreatedAt` → `CREATED AT`).
    pub headers: &'a [(&'a str, &'a str)],
    /// How `--format json` is printed.
    pub json: JsonStyle,
}

/// Why `--format` output could not be produced.
#[derive(Debug, thiserror::Error)]
pub enum FormatError {
    #[error("invalid --format template `{text}`")]
    Parse {
        text: String,
        #[source]
        source: TemplateIssue,
    },
    #[error("failed to render --format template `{text}`")]
    Execute {
        text: String,
        #[source]
        source: TemplateIssue,
    },
    #[error("failed to serialize output as JSON")]
    Serialize {
        #[source]
        source: serde_json::Error,
    },
}

/// The Go-style detail of a template failure (podman's wording).
#[derive(Debug, thiserror::Error)]
pub enum TemplateIssue {
    #[error("{0}")]
    Syntax(#[from] gotmpl::TemplateError),
    #[error("template: {name}:{line}: unexpected EOF")]
    UnexpectedEof { name: String, line: usize },
    #[error("template: {name}:{line}: unterminated quoted string")]
    UnterminatedString { name: String, line: usize },
    #[error("template: {name}:{line}: function \"{function}\" not defined")]
    UndefinedFunction {
        name: String,
        line: usize,
        function: String,
    },
    #[error(
        "template: {name}:{line}:{col}: executing \"{name}\" at <.{field}>: can't evaluate field {field} in type {type_name}"
    )]
    MissingField {
        name: String,
        line: usize,
        col: usize,
        field: String,
        type_name: String,
    },
    #[error("template: {name}: executing \"{name}\": {source}")]
    Execute {
        name: String,
        source: gotmpl::TemplateError,
    },
}

/// Renders a list command's rows; the caller prints the returned text.
/// `--noheading`: drop the header line of a table (the default form or a `table` template).
pub fn strip_heading(text: String, format: &Format) -> String {
    if !matches!(
        format,
        Format::Default | Format::Template { table: true, .. }
    ) {
        return text;
    }
    text.split_once('\n')
        .map(|(_, rest)| rest.to_string())
        .unwrap_or_default()
}

pub fn render_list<T: Serialize>(
    rows: &[T],
    format: &Format,
    table: &Table,
) -> Result<String, FormatError> {
    render_list_with_methods(rows, format, table, &[])
}

/// A Go method of a row type that a template calls with arguments, as podman's
/// `psReporter.Label(name)` is called by `{{.Label "k"}}`.
pub struct Method<T> {
    pub name: &'static str,
    /// The method bound to one row.
    pub bind: fn(&T) -> gotmpl::ValueFunc,
}

/// podman's `Label(name string) string` of ps and pod ps rows: the label's value, `""` if unset.
pub fn label_method(labels: &std::collections::BTreeMap<String, String>) -> gotmpl::ValueFunc {
    let labels = labels.clone();
    Arc::new(move |args: &[Value]| {
        let [Value::String(key)] = args else {
            return Err(gotmpl::TemplateError::Exec(format!(
                "wrong number of args for Label: want 1 got {}",
                args.len()
            )));
        };
        Ok(Value::from(labels.get(&**key).cloned().unwrap_or_default()))
    })
}

/// What a template can use on a row of type `T`, for completing `--format {{.`: the fields of a
/// default row (with the Go names of `Id` keys, as templates see them; nested objects kept, so
/// `{{.A.` completes too) and the `methods`.
pub fn template_fields<T: Serialize + Default>(methods: &[Method<T>]) -> serde_json::Value {
    let mut fields = match serde_json::to_value(T::default()) {
        Ok(serde_json::Value::Object(map)) => map,
        _ => serde_json::Map::new(),
    };
    let go_names: Vec<(String, serde_json::Value)> = fields
        .iter()
        .filter_map(|(k, v)| value::go_field_name(k).map(|go| (go, v.clone())))
        .collect();
    for (go, v) in go_names {
        fields.entry(go).or_insert(v);
    }
    for m in methods {
        fields.insert(m.name.to_string(), serde_json::Value::Null);
    }
    serde_json::Value::Object(fields)
}

/// [`render_list`] for rows that also have `methods`.
pub fn render_list_with_methods<T: Serialize>(
    rows: &[T],
    format: &Format,
    table: &Table,
    methods: &[Method<T>],
) -> Result<String, FormatError> {
    match format {
        Format::Json => render_json(rows, table.json),
        Format::Default => {
            let text = table.default_template;
            let text = text.strip_prefix("table ").unwrap_or(text);
            match plain_columns(rows, text, table)? {
                Some(out) => Ok(out),
                None => render_table(rows, methods, text, table),
            }
        }
        Format::Template { table: true, text } => render_table(rows, methods, text, table),
        Format::Template { table: false, text } => {
            let source = template::user_source(text);
            render_plain(rows, methods, text, table.name, &source)
        }
    }
}

/// A default table whose cells the caller computes itself, one `Vec` per row in the order of
/// `fields` (the `{{.Field}}` columns of its default template): the headers [`render_list`] gives
/// them, aligned the same way.
pub fn render_columns(
    fields: &[&str],
    headers: &[(&str, &str)],
    rows: impl Iterator<Item = Vec<String>>,
) -> String {
    let mut out = fields
        .iter()
        .map(|f| table::header_for(f, headers))
        .collect::<Vec<_>>()
        .join("\t");
    out.push('\n');
    for row in rows {
        out.push_str(&row.join("\t"));
        out.push('\n');
    }
    table::align(&out)
}

/// The default tables are plain `{{.Field}}` columns of strings and numbers: fill them straight from
/// the serialized rows, without the template engine, whose per-row cost dominated `ps -a` with 1000
/// containers. Same output as the template path; `None` when a column is anything else.
fn plain_columns<T: Serialize>(
    rows: &[T],
    text: &str,
    table: &Table,
) -> Result<Option<String>, FormatError> {
    let fields: Option<Vec<&str>> = text
        .split('\t')
        .map(|c| {
            c.strip_prefix("{{.")?
                .strip_suffix("}}")
                .filter(|f| !f.is_empty() && f.chars().all(|c| c.is_ascii_alphanumeric()))
        })
        .collect();
    let Some(fields) = fields else {
        return Ok(None);
    };
    let headers: Vec<String> = fields
        .iter()
        .map(|f| table::header_for(f, table.headers))
        .collect();
    let mut out = headers.join("\t");
    out.push('\n');
    for row in rows {
        let value =
            serde_json::to_value(row).map_err(|source| FormatError::Serialize { source })?;
        let Some(obj) = value.as_object() else {
            return Ok(None);
        };
        for (i, f) in fields.iter().enumerate() {
            if i > 0 {
                out.push('\t');
            }
            match obj.get(*f) {
                Some(serde_json::Value::String(s)) => out.push_str(s),
                Some(serde_json::Value::Number(n)) => out.push_str(&n.to_string()),
                Some(serde_json::Value::Bool(b)) => out.push_str(if *b { "true" } else { "false" }),
                _ => return Ok(None),
            }
        }
        out.push('\n');
    }
    Ok(Some(table::align(&out)))
}

/// Renders inspect output: JSON (podman's 5-space style) unless a template
/// was given, which then runs once per object.
pub fn render_inspect<T: Serialize>(objs: &[T], format: &Format) -> Result<String, FormatError> {
    match format {
        Format::Default | Format::Json => render_json(objs, JsonStyle::INSPECT),
        Format::Template { table: false, text } => {
            render_plain(objs, &[], text, "inspect", &template::user_source(text))
        }
        Format::Template { table: true, text } => {
            let out = render_plain(objs, &[], text, "inspect", &template::table_source(text))?;
            Ok(table::align(&out))
        }
    }
}

/// A pretty JSON array with a trailing newline (`[]` for no rows).
pub fn render_json<T: Serialize>(rows: &[T], style: JsonStyle) -> Result<String, FormatError> {
    let mut buf = Vec::new();
    let formatter = serde_json::ser::PrettyFormatter::with_indent(style.indent.as_bytes());
    let mut ser = serde_json::Serializer::with_formatter(&mut buf, formatter);
    rows.serialize(&mut ser)
        .map_err(|source| FormatError::Serialize { source })?;
    let mut out = String::from_utf8(buf).expect("serde_json writes UTF-8");
    if style.escape_html {
        out = out
            .replace('<', "\\u003c")
            .replace('>', "\\u003e")
            .replace('&', "\\u0026");
    }
    out.push('\n');
    Ok(out)
}

fn render_plain<T: Serialize>(
    rows: &[T],
    methods: &[Method<T>],
    text: &str,
    name: &str,
    source: &Source,
) -> Result<String, FormatError> {
    let (data, json) = rows_to_value(rows, methods)?;
    let parsed = template::parse(name, source, json).map_err(|source| FormatError::Parse {
        text: text.to_string(),
        source,
    })?;
    check_rows(&parsed, name, &data, short_type_name::<T>(), text)?;
    parsed
        .execute(name, &data)
        .map_err(|source| FormatError::Execute {
            text: text.to_string(),
            source,
        })
}

fn render_table<T: Serialize>(
    rows: &[T],
    methods: &[Method<T>],
    text: &str,
    table: &Table,
) -> Result<String, FormatError> {
    let (data, json) = rows_to_value(rows, methods)?;
    let parsed =
        template::parse(table.name, &template::table_source(text), json).map_err(|source| {
            FormatError::Parse {
                text: text.to_string(),
                source,
            }
        })?;
    check_rows(&parsed, table.name, &data, short_type_name::<T>(), text)?;
    let headers = table::header_row(&parsed.row_fields, &data, table.headers);
    let exec = |data: &Value| {
        parsed
            .execute(table.name, data)
            .map_err(|source| FormatError::Execute {
                text: text.to_string(),
                source,
            })
    };
    let mut out = exec(&Value::List(vec![headers].into()))?;
    out.push_str(&exec(&data)?);
    Ok(table::align(&out))
}

fn check_rows(
    parsed: &template::Parsed,
    name: &str,
    data: &Value,
    type_name: &str,
    text: &str,
) -> Result<(), FormatError> {
    if let Value::List(rows) = data
        && let Some(first) = rows.first()
    {
        parsed
            .check_fields(name, first, type_name)
            .map_err(|source| FormatError::Execute {
                text: text.to_string(),
                source,
            })?;
    }
    Ok(())
}

fn rows_to_value<T: Serialize>(
    rows: &[T],
    methods: &[Method<T>],
) -> Result<(Value, Arc<JsonCache>), FormatError> {
    let mut cache = JsonCache::default();
    let bound = |row: &T| methods.iter().map(|m| (m.name, (m.bind)(row))).collect();
    let values = rows
        .iter()
        .map(|row| value::to_value(row, bound(row), &mut cache))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|source| FormatError::Serialize { source })?;
    Ok((Value::List(values.into()), Arc::new(cache)))
}

/// `roost::cli::images::Row` → `Row`, close to Go's `images.imageReporter`.
fn short_type_name<T>() -> &'static str {
    let full = std::any::type_name::<T>();
    let base = full.split('<').next().unwrap_or(full);
    base.rsplit("::").next().unwrap_or(base)
}

#[cfg(test)]
mod tests;
