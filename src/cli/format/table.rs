//! `table` output: podman's header row and Go tabwriter alignment.

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::Arc;

use gotmpl::Value;

/// The data for the header row: every field the rows have or the template
/// uses, mapped to its header text (containers/common `report.Headers`).
pub(super) fn header_row(
    used: &[(String, usize)],
    rows: &Value,
    overrides: &[(&str, &str)],
) -> Value {
    let mut fields: Vec<&str> = used.iter().map(|(f, _)| f.as_str()).collect();
    if let Value::List(rows) = rows
        && let Some(Value::Map(first)) = rows.first()
    {
        fields.extend(first.keys().map(|k| &**k));
    }
    fields.extend(overrides.iter().map(|(f, _)| *f));
    let map: BTreeMap<Arc<str>, Value> = fields
        .into_iter()
        .map(|f| (Arc::from(f), header_value(f, rows, overrides)))
        .collect();
    Value::Map(Arc::new(map))
}

/// A method's header is what calling it on the header row gives, whatever the arguments.
fn header_value(field: &str, rows: &Value, overrides: &[(&str, &str)]) -> Value {
    let header = Value::from(header_for(field, overrides));
    let is_method = matches!(rows, Value::List(rows)
        if rows.first().and_then(|r| r.field(field)).is_some_and(Value::is_function));
    if !is_method {
        return header;
    }
    Value::Function(Arc::new(move |_: &[Value]| Ok(header.clone())))
}

/// An override (upper-cased) or the field name split at CamelCase humps.
pub(super) fn header_for(field: &str, overrides: &[(&str, &str)]) -> String {
    match overrides.iter().find(|(f, _)| *f == field) {
        Some((_, header)) => header.to_uppercase(),
        None => split_camel_case(field).join(" ").to_uppercase(),
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Class {
    Lower,
    Upper,
    Digit,
    Other,
}

fn class(c: char) -> Class {
    if c.is_lowercase() {
        Class::Lower
    } else if c.is_uppercase() {
        Class::Upper
    } else if c.is_numeric() {
        Class::Digit
    } else {
        Class::Other
    }
}

/// containers/common `camelcase.Split`: `PDFLoader` → `PDF Loader`,
/// `CreatedAt` → `Created At`, `GL11Version` → `GL 11 Version`.
fn split_camel_case(s: &str) -> Vec<String> {
    let mut runs: Vec<Vec<char>> = Vec::new();
    let mut last = None;
    for c in s.chars() {
        let cls = class(c);
        match runs.last_mut() {
            Some(run) if last == Some(cls) => run.push(c),
            _ => runs.push(vec![c]),
        }
        last = Some(cls);
    }
    for i in 0..runs.len().saturating_sub(1) {
        let upper_then_lower = runs[i].first().is_some_and(|c| c.is_uppercase())
            && runs[i + 1].first().is_some_and(|c| c.is_lowercase());
        if upper_then_lower && let Some(moved) = runs[i].pop() {
            runs[i + 1].insert(0, moved);
        }
    }
    runs.into_iter()
        .filter(|r| !r.is_empty())
        .map(|r| r.into_iter().collect())
        .collect()
}

/// Go's `tabwriter.NewWriter(w, 12, 2, 2, ' ', 0)` as podman's report uses it.
///
/// Go sizes a column as `max(minwidth, widest cell + padding)`; the Rust
/// tabwriter as `max(minwidth, widest cell) + padding`, so minwidth 10 here.
pub(super) fn align(text: &str) -> String {
    let mut tw = tabwriter::TabWriter::new(Vec::new())
        .minwidth(10)
        .padding(2);
    tw.write_all(text.as_bytes())
        .and_then(|()| tw.flush())
        .expect("writing to a Vec cannot fail");
    let bytes = tw.into_inner().expect("flushing into a Vec cannot fail");
    String::from_utf8(bytes).expect("aligned output of UTF-8 input is UTF-8")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn camel_case_split_matches_containers_common() {
        let cases = [
            ("", ""),
            ("lowercase", "lowercase"),
            ("MyClass", "My Class"),
            ("MyC", "My C"),
            ("HTML", "HTML"),
            ("PDFLoader", "PDF Loader"),
            ("AString", "A String"),
            ("SimpleXMLParser", "Simple XML Parser"),
            ("vimRPCPlugin", "vim RPC Plugin"),
            ("GL11Version", "GL 11 Version"),
            ("99Bottles", "99 Bottles"),
            ("BFG9000", "BFG 9000"),
            ("CreatedAt", "Created At"),
            ("ID", "ID"),
        ];
        for (input, want) in cases {
            assert_eq!(split_camel_case(input).join(" "), want, "{input}");
        }
    }

    #[test]
    fn headers_use_overrides_upper_cased() {
        let overrides = [("ID", "image id"), ("ReadOnly", "R/O")];
        assert_eq!(header_for("ID", &overrides), "IMAGE ID");
        assert_eq!(header_for("ReadOnly", &overrides), "R/O");
        assert_eq!(header_for("CreatedAt", &overrides), "CREATED AT");
        assert_eq!(header_for("Fieldb", &overrides), "FIELDB");
    }

    #[test]
    fn align_matches_go_tabwriter_12_2_2() {
        // containers/common formatter_test.go expectations.
        let text = "Identity\tValue\nc061a0839e\tone\nf10fc2e11057\ttwo\n1eb6fab5aa8f4b5cbfd3e66aa35e9b2a\tthree\n";
        assert_eq!(
            align(text),
            "Identity                          Value\nc061a0839e                        one\nf10fc2e11057                      two\n1eb6fab5aa8f4b5cbfd3e66aa35e9b2a  three\n"
        );
        assert_eq!(
            align("Value\tIdent\nIdentity\tID\n"),
            "Value       Ident\nIdentity    ID\n"
        );
    }
}
