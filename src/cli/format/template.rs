//! Go template handling as containers/common `report` does it: text
//! normalisation, podman's extra functions, parse-time checks and execution.

use std::sync::Arc;

use gotmpl::parse::{Expr, ListNode, Node, Parser, PipeNode};
use gotmpl::{Template, TemplateError, Value};

use super::TemplateIssue;
use super::value::{JsonCache, json_of};

/// Go's text/template builtins, as gotmpl registers them.
const BUILTINS: &[&str] = &[
    "and", "call", "eq", "ge", "gt", "html", "index", "js", "le", "len", "lt", "ne", "not", "or",
    "print", "printf", "println", "slice", "urlquery",
];
/// containers/common `report.DefaultFuncs`.
const PODMAN_FUNCS: &[&str] = &[
    "join", "json", "lower", "pad", "split", "title", "truncate", "upper",
];

/// The two texts podman tries: escapes replaced first, the raw text if that fails to parse.
pub(super) struct Source {
    pub normalized: String,
    pub raw: String,
}

/// `--format 'table …'` (text without the `table ` prefix).
pub(super) fn table_source(text: &str) -> Source {
    Source {
        normalized: format!("{{{{range .}}}}{}{{{{end -}}}}", normalize_table(text)),
        raw: format!("{{{{range .}}}}{text}{{{{end -}}}}"),
    }
}

/// A plain user template: wrapped in `{{range .}}` unless it ranges itself.
pub(super) fn user_source(text: &str) -> Source {
    Source {
        normalized: enforce_range(&with_newline(replace(
            text,
            &[(r"\t", "\t"), (r"\n", "\n")],
        ))),
        raw: enforce_range(text),
    }
}

/// `NormalizeFormat` for `table ` formats: escapes become tabs/newlines and
/// every space becomes a column break (podman's `tableReplacer`).
fn normalize_table(text: &str) -> String {
    let pairs = [("table ", ""), (r"\t", "\t"), (" ", "\t"), (r"\n", "\n")];
    with_newline(replace(text, &pairs))
}

fn with_newline(mut s: String) -> String {
    if !s.ends_with('\n') {
        s.push('\n');
    }
    s
}

/// Go's `strings.NewReplacer`: one left-to-right pass, earlier pairs win.
fn replace(text: &str, pairs: &[(&str, &str)]) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    'outer: while let Some(c) = rest.chars().next() {
        for (old, new) in pairs {
            if let Some(after) = rest.strip_prefix(old) {
                out.push_str(new);
                rest = after;
                continue 'outer;
            }
        }
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    out
}

/// `report.EnforceRange`: keep a template that already has
/// `{{range .}}…{{end}}`, otherwise wrap it.
fn enforce_range(text: &str) -> String {
    if has_range_dot(text) {
        text.to_string()
    } else {
        format!("{{{{range .}}}}{text}{{{{end -}}}}")
    }
}

/// Matches podman's `(?s){{\s*range\s*\.\s*}}.*{{\s*end\s*-?\s*}}`.
fn has_range_dot(text: &str) -> bool {
    let mut from = 0;
    while let Some(i) = text[from..].find("{{") {
        let start = from + i + 2;
        if let Some(rest) = match_words(&text[start..], &["range", ".", "}}"], false) {
            let tail = &text[text.len() - rest.len()..];
            return has_end(tail);
        }
        from = start;
    }
    false
}

fn has_end(text: &str) -> bool {
    let mut from = 0;
    while let Some(i) = text[from..].find("{{") {
        let start = from + i + 2;
        if match_words(&text[start..], &["end", "-", "}}"], true).is_some() {
            return true;
        }
        from = start;
    }
    false
}

/// Matches `words` separated by optional whitespace; with `dash_optional`
/// the middle word may be absent. Returns the text after the match.
fn match_words<'t>(text: &'t str, words: &[&str], dash_optional: bool) -> Option<&'t str> {
    let mut rest = text;
    for (i, word) in words.iter().enumerate() {
        rest = rest.trim_start();
        match rest.strip_prefix(word) {
            Some(after) => rest = after,
            None if dash_optional && i == 1 => {}
            None => return None,
        }
    }
    Some(rest)
}

/// A parsed template plus what the parse-time walk learned about it.
pub(super) struct Parsed {
    pub template: Template,
    pub text: String,
    /// Top-level fields used on a row (`{{.ID}}` inside the row range).
    pub row_fields: Vec<(String, usize)>,
    /// Those of `row_fields` called as methods, with arguments (`{{.Label "k"}}`).
    pub row_methods: Vec<String>,
}

/// Parses `source` the way podman does: the normalised text first, the raw
/// text if that fails (so `{{"\n"}}` and `{{printf "\n"}}` work).
pub(super) fn parse(
    name: &str,
    source: &Source,
    json: Arc<JsonCache>,
) -> Result<Parsed, TemplateIssue> {
    match parse_one(name, &source.normalized, json.clone()) {
        Ok(parsed) => Ok(parsed),
        Err(_) => parse_one(name, &source.raw, json),
    }
}

fn parse_one(name: &str, text: &str, json: Arc<JsonCache>) -> Result<Parsed, TemplateIssue> {
    if unclosed_block(text) {
        return Err(TemplateIssue::UnexpectedEof {
            name: name.to_string(),
            line: line_col(text, text.len()).0,
        });
    }
    if let Some(offset) = newline_in_quoted_string(text) {
        return Err(TemplateIssue::UnterminatedString {
            name: name.to_string(),
            line: line_col(text, offset).0,
        });
    }
    let (tree, defines) = Parser::with_name(Some(name), text, "{{", "}}")?.parse()?;
    let mut walk = Walk {
        name,
        text,
        row_fields: Vec::new(),
        row_methods: Vec::new(),
        calls: Vec::new(),
        error: None,
    };
    walk.list(&tree, Dot::Rows);
    for define in &defines {
        walk.list(&define.body, Dot::Unknown);
    }
    if let Some(issue) = walk.error {
        return Err(issue);
    }
    let template = with_funcs(Template::new(name), json).parse(&with_calls(text, &walk.calls))?;
    Ok(Parsed {
        template,
        text: text.to_string(),
        row_fields: walk.row_fields,
        row_methods: walk.row_methods,
    })
}

/// Go calls a method named in a field chain with the command's arguments (`{{.Label "k"}}`); gotmpl
/// only calls functions, and rows hold their methods as function values, so `call` goes before
/// each such chain (the byte `offsets` of their first character).
fn with_calls(text: &str, offsets: &[usize]) -> String {
    let mut out = String::with_capacity(text.len() + 5 * offsets.len());
    let mut from = 0;
    for &at in offsets {
        out.push_str(&text[from..at]);
        out.push_str("call ");
        from = at;
    }
    out.push_str(&text[from..]);
    out
}

impl Parsed {
    /// Go reports a missing struct field when it executes it; rows are maps
    /// here, so check the fields used on each row against the row's keys.
    pub fn check_fields(
        &self,
        name: &str,
        row: &Value,
        type_name: &str,
    ) -> Result<(), TemplateIssue> {
        self.check_methods(name, row)?;
        for (field, offset) in &self.row_fields {
            if row.field(field).is_none() {
                let (line, col) = line_col(&self.text, *offset);
                return Err(TemplateIssue::MissingField {
                    name: name.to_string(),
                    line,
                    col,
                    field: field.clone(),
                    type_name: type_name.to_string(),
                });
            }
        }
        Ok(())
    }

    /// Go's errors for a field given arguments, or a method used without them.
    fn check_methods(&self, name: &str, row: &Value) -> Result<(), TemplateIssue> {
        for (field, _) in &self.row_fields {
            let called = self.row_methods.contains(field);
            let message = match row.field(field) {
                Some(Value::Function(_)) if !called => {
                    format!("wrong number of args for {field}: want 1 got 0")
                }
                Some(v) if called && !v.is_function() => {
                    format!("{field} has arguments but cannot be invoked as function")
                }
                _ => continue,
            };
            return Err(TemplateIssue::Execute {
                name: name.to_string(),
                source: TemplateError::Exec(message),
            });
        }
        Ok(())
    }

    pub fn execute(&self, name: &str, data: &Value) -> Result<String, TemplateIssue> {
        self.template
            .execute_to_string(data)
            .map_err(|source| TemplateIssue::Execute {
                name: name.to_string(),
                source,
            })
    }
}

/// Go fails with `unexpected EOF` when an `if`/`range`/`with`/`define`/
/// `block` lacks its `{{end}}`; gotmpl accepts it, so count them here.
fn unclosed_block(text: &str) -> bool {
    let mut depth = 0usize;
    let mut rest = text;
    while let Some(open) = rest.find("{{") {
        let action = &rest[open + 2..];
        let close = action.find("}}").unwrap_or(action.len());
        let body = action[..close].trim_start_matches('-').trim_start();
        let word: String = body
            .chars()
            .take_while(|c| c.is_ascii_alphabetic())
            .collect();
        match word.as_str() {
            "if" | "range" | "with" | "define" | "block" => depth += 1,
            "end" => depth = depth.saturating_sub(1),
            _ => {}
        }
        rest = &action[close..];
    }
    depth > 0
}

/// Go's lexer rejects a newline inside `"…"` or `'…'` in an action (gotmpl
/// accepts it); podman relies on that to fall back to the raw text.
fn newline_in_quoted_string(text: &str) -> Option<usize> {
    let mut in_action = false;
    let mut quote: Option<(char, usize)> = None;
    let mut escaped = false;
    let mut chars = text.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if let Some((q, start)) = quote {
            match c {
                _ if escaped => escaped = false,
                '\\' if q != '`' => escaped = true,
                '\n' if q != '`' => return Some(start),
                _ if c == q => quote = None,
                _ => {}
            }
            continue;
        }
        let next = chars.peek().map(|&(_, n)| n);
        match c {
            '{' if !in_action && next == Some('{') => {
                chars.next();
                in_action = true;
            }
            '}' if in_action && next == Some('}') => {
                chars.next();
                in_action = false;
            }
            '"' | '\'' | '`' if in_action => quote = Some((c, i)),
            _ => {}
        }
    }
    None
}

/// Go's `ErrorContext`: 1-based line, byte column counted from the line start.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.rfind('\n').map_or(offset, |nl| offset - nl - 1);
    (line, col)
}

#[derive(Clone, Copy, PartialEq)]
enum Dot {
    /// The list of rows (outside `{{range .}}`).
    Rows,
    /// One row.
    Row,
    /// Anything else (inside `with`, a nested range, a defined template).
    Unknown,
}

struct Walk<'a> {
    name: &'a str,
    text: &'a str,
    row_fields: Vec<(String, usize)>,
    row_methods: Vec<String>,
    /// Offsets of field chains called with arguments, ascending.
    calls: Vec<usize>,
    error: Option<TemplateIssue>,
}

impl Walk<'_> {
    fn list(&mut self, list: &ListNode, dot: Dot) {
        for node in &list.nodes {
            self.node(node, dot);
        }
    }

    fn node(&mut self, node: &Node, dot: Dot) {
        match node {
            Node::List(list) => self.list(list, dot),
            Node::Action(action) => self.pipe(&action.pipe, dot),
            Node::If(branch) => self.branch(branch, dot, dot),
            Node::Range(branch) => {
                let inner = match (dot, is_dot(&branch.pipe)) {
                    (Dot::Rows, true) => Dot::Row,
                    _ => Dot::Unknown,
                };
                self.branch(branch, dot, inner);
            }
            Node::With(branch) => {
                let inner = if is_dot(&branch.pipe) {
                    dot
                } else {
                    Dot::Unknown
                };
                self.branch(branch, dot, inner);
            }
            Node::Template(call) => {
                if let Some(pipe) = &call.pipe {
                    self.pipe(pipe, dot);
                }
            }
            Node::Define(define) => self.list(&define.body, Dot::Unknown),
            Node::Text(_) | Node::Break(_) | Node::Continue(_) => {}
        }
    }

    fn branch(&mut self, branch: &gotmpl::parse::BranchNode, dot: Dot, inner: Dot) {
        self.pipe(&branch.pipe, dot);
        self.list(&branch.body, inner);
        if let Some(else_body) = &branch.else_body {
            self.list(else_body, dot);
        }
    }

    fn pipe(&mut self, pipe: &PipeNode, dot: Dot) {
        for (i, command) in pipe.commands.iter().enumerate() {
            let has_args = command.args.len() > 1 || i > 0;
            if has_args && let Some(first) = command.args.first() {
                self.method_call(first, dot);
            }
            for arg in &command.args {
                self.expr(arg, dot);
            }
        }
    }

    /// A command that starts with a field chain and has arguments (its own, or a piped value).
    fn method_call(&mut self, first: &Expr, dot: Dot) {
        let pos = match first {
            Expr::Field(pos, chain) => {
                if dot == Dot::Row && chain.len() == 1 {
                    self.row_methods.push(chain[0].to_string());
                }
                pos
            }
            Expr::Variable(pos, _, fields) if !fields.is_empty() => pos,
            _ => return,
        };
        let at = self.calls.partition_point(|&o| o < pos.offset);
        self.calls.insert(at, pos.offset);
    }

    fn expr(&mut self, expr: &Expr, dot: Dot) {
        match expr {
            Expr::Identifier(pos, name) => {
                let known =
                    BUILTINS.contains(&name.as_str()) || PODMAN_FUNCS.contains(&name.as_str());
                if !known && self.error.is_none() {
                    self.error = Some(TemplateIssue::UndefinedFunction {
                        name: self.name.to_string(),
                        line: line_col(self.text, pos.offset).0,
                        function: name.to_string(),
                    });
                }
            }
            Expr::Field(pos, chain) if dot == Dot::Row => {
                if let Some(first) = chain.first() {
                    self.row_fields.push((first.to_string(), pos.offset));
                }
            }
            Expr::Pipe(_, pipe) => self.pipe(pipe, dot),
            Expr::Chain(_, inner, _) => self.expr(inner, dot),
            _ => {}
        }
    }
}

fn is_dot(pipe: &PipeNode) -> bool {
    matches!(pipe.commands.as_slice(), [cmd] if matches!(cmd.args.as_slice(), [Expr::Dot(_)]))
}

/// Registers podman's `report.DefaultFuncs`.
fn with_funcs(template: Template, json: Arc<JsonCache>) -> Template {
    template
        .func("json", move |args| {
            let [value] = args else {
                return Err(arg_count("json", 1, args));
            };
            Ok(Value::String(json_of(value, &json)?.into()))
        })
        .func("lower", |args| {
            Ok(string_arg("lower", args)?.to_lowercase().into())
        })
        .func("upper", |args| {
            Ok(string_arg("upper", args)?.to_uppercase().into())
        })
        .func("title", |args| Ok(title(string_arg("title", args)?).into()))
        .func("index", index)
        .func("join", join)
        .func("split", split)
        .func("pad", pad)
        .func("truncate", truncate)
}

fn arg_count(name: &str, expected: usize, args: &[Value]) -> TemplateError {
    TemplateError::ArgCount {
        name: name.to_string(),
        expected,
        got: args.len(),
    }
}

fn wrong_type(name: &str, expected: &str, got: &Value) -> TemplateError {
    TemplateError::Exec(format!(
        "error calling {name}: wrong type for value; expected {expected}; got {}",
        got.type_name()
    ))
}

fn string_arg<'v>(name: &str, args: &'v [Value]) -> Result<&'v str, TemplateError> {
    let [value] = args else {
        return Err(arg_count(name, 1, args));
    };
    value
        .as_str()
        .ok_or_else(|| wrong_type(name, "string", value))
}

fn int_arg(name: &str, value: &Value) -> Result<i64, TemplateError> {
    value.as_int().ok_or_else(|| wrong_type(name, "int", value))
}

/// Go's `strings.Title`: upper-case the first letter of every word.
fn title(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut at_word_start = true;
    for c in s.chars() {
        if at_word_start && c.is_alphabetic() {
            out.extend(c.to_uppercase());
        } else {
            out.push(c);
        }
        at_word_start = !(c.is_alphanumeric() || c == '_');
    }
    out
}

/// Go's `index`, except that a missing key of a string map gives `""`: Go
/// returns the element type's zero value, and podman's label maps hold strings.
fn index(args: &[Value]) -> Result<Value, TemplateError> {
    let Some((first, keys)) = args.split_first() else {
        return Err(arg_count("index", 1, args));
    };
    let mut value = first.clone();
    for key in keys {
        value = match (&value, key) {
            (Value::Map(map), Value::String(k)) if !map.contains_key(&**k) => {
                if map.values().all(|v| matches!(v, Value::String(_))) {
                    Value::from("")
                } else {
                    Value::Nil
                }
            }
            _ => value.index(key)?,
        };
    }
    Ok(value)
}

/// `strings.Join(elems []string, sep string)`.
fn join(args: &[Value]) -> Result<Value, TemplateError> {
    let [list, sep] = args else {
        return Err(arg_count("join", 2, args));
    };
    let sep = sep
        .as_str()
        .ok_or_else(|| wrong_type("join", "string", sep))?;
    let Value::List(items) = list else {
        return Err(wrong_type("join", "[]string", list));
    };
    let parts = items
        .iter()
        .map(|item| {
            item.as_str()
                .ok_or_else(|| wrong_type("join", "string", item))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(parts.join(sep).into())
}

/// `strings.Split(s, sep string) []string`.
fn split(args: &[Value]) -> Result<Value, TemplateError> {
    let [s, sep] = args else {
        return Err(arg_count("split", 2, args));
    };
    let s = s.as_str().ok_or_else(|| wrong_type("split", "string", s))?;
    let sep = sep
        .as_str()
        .ok_or_else(|| wrong_type("split", "string", sep))?;
    let parts: Vec<Value> = if sep.is_empty() {
        s.chars().map(|c| Value::from(c.to_string())).collect()
    } else {
        s.split(sep).map(Value::from).collect()
    };
    Ok(Value::List(parts.into()))
}

/// podman's `pad`: spaces before and after a non-empty string.
fn pad(args: &[Value]) -> Result<Value, TemplateError> {
    let [s, prefix, suffix] = args else {
        return Err(arg_count("pad", 3, args));
    };
    let s = s.as_str().ok_or_else(|| wrong_type("pad", "string", s))?;
    if s.is_empty() {
        return Ok(Value::from(""));
    }
    let count = |v: &Value| -> Result<usize, TemplateError> {
        usize::try_from(int_arg("pad", v)?)
            .map_err(|_| TemplateError::Exec("error calling pad: negative Repeat count".into()))
    };
    Ok(format!(
        "{}{s}{}",
        " ".repeat(count(prefix)?),
        " ".repeat(count(suffix)?)
    )
    .into())
}

/// podman's `truncate`: at most `length` bytes (backed off to a char boundary).
fn truncate(args: &[Value]) -> Result<Value, TemplateError> {
    let [s, length] = args else {
        return Err(arg_count("truncate", 2, args));
    };
    let s = s
        .as_str()
        .ok_or_else(|| wrong_type("truncate", "string", s))?;
    let length = usize::try_from(int_arg("truncate", length)?).map_err(|_| {
        TemplateError::Exec("error calling truncate: slice bounds out of range".into())
    })?;
    if s.len() < length {
        return Ok(s.into());
    }
    let mut end = length;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    Ok(s[..end].into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replacer_is_single_pass_in_argument_order() {
        assert_eq!(normalize_table(r"{{.A}}\t{{.B}}"), "{{.A}}\t{{.B}}\n");
        assert_eq!(normalize_table("{{.A}} {{.B}}\n"), "{{.A}}\t{{.B}}\n");
        assert_eq!(normalize_table(r"{{.A}}\n"), "{{.A}}\n");
    }

    #[test]
    fn enforce_range_keeps_explicit_ranges() {
        assert_eq!(enforce_range("{{.ID}}"), "{{range .}}{{.ID}}{{end -}}");
        let explicit = "{{ range . }}{{.ID}}\n{{ end -}}";
        assert_eq!(enforce_range(explicit), explicit);
        assert_eq!(
            enforce_range("{{range .Names}}{{.}}{{end}}"),
            "{{range .}}{{range .Names}}{{.}}{{end}}{{end -}}"
        );
    }

    #[test]
    fn title_matches_go() {
        assert_eq!(
            title("hello wide-world foo_bar"),
            "Hello Wide-World Foo_bar"
        );
    }
}
