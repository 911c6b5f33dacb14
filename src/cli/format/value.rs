//! Row data for templates: serde rows → gotmpl `Value`s, plus the `json`
//! template function, which keeps struct field order as Go's encoder does.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::Arc;

use gotmpl::Value;
use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};

/// A JSON tree that keeps map entries in serialization (struct field) order.
enum Tree {
    Null,
    Bool(bool),
    Int(i64),
    Uint(u64),
    Float(f64),
    Str(String),
    List(Vec<Tree>),
    Map(Vec<(String, Tree)>),
}

/// Compact JSON of every list and map handed to a template, keyed by the
/// address of its `Arc`, so `{{json .}}` prints fields in declaration order.
#[derive(Default)]
pub(super) struct JsonCache(HashMap<usize, String>);

/// Converts one row into a template value, recording its JSON in `cache`.
/// `methods` are added as function fields when the row is a map; they do not show in its JSON,
/// as Go's encoder leaves out methods.
pub(super) fn to_value<T: Serialize>(
    row: &T,
    methods: Vec<(&str, gotmpl::ValueFunc)>,
    cache: &mut JsonCache,
) -> Result<Value, serde_json::Error> {
    let text = serde_json::to_string(row)?;
    let tree: Tree = serde_json::from_str(&text)?;
    let Tree::Map(entries) = &tree else {
        return build(&tree, cache);
    };
    let mut map = build_map(entries, cache)?;
    for (name, func) in methods {
        map.insert(Arc::from(name), Value::Function(func));
    }
    cached_map(map, &tree, cache)
}

fn build(tree: &Tree, cache: &mut JsonCache) -> Result<Value, serde_json::Error> {
    let value = match tree {
        Tree::Null => Value::Nil,
        Tree::Bool(b) => Value::Bool(*b),
        Tree::Int(i) => Value::Int(*i),
        Tree::Uint(u) => i64::try_from(*u).map_or(Value::Uint(*u), Value::Int),
        Tree::Float(f) => Value::Float(*f),
        Tree::Str(s) => Value::String(s.as_str().into()),
        Tree::List(items) => {
            let items = items
                .iter()
                .map(|t| build(t, cache))
                .collect::<Result<Vec<_>, _>>()?;
            let list: Arc<[Value]> = items.into();
            cache
                .0
                .insert(list_key(&list), serde_json::to_string(tree)?);
            Value::List(list)
        }
        Tree::Map(entries) => {
            let map = build_map(entries, cache)?;
            cached_map(map, tree, cache)?
        }
    };
    Ok(value)
}

fn build_map(
    entries: &[(String, Tree)],
    cache: &mut JsonCache,
) -> Result<BTreeMap<Arc<str>, Value>, serde_json::Error> {
    let mut map = BTreeMap::new();
    for (k, t) in entries {
        map.insert(Arc::from(k.as_str()), build(t, cache)?);
    }
    // podman's templates see Go field names (`.ID`, `.ImageID`) where its JSON says `Id`.
    for (k, _) in entries {
        if let Some(go) = go_field_name(k)
            && !map.contains_key(go.as_str())
        {
            let v = map[k.as_str()].clone();
            map.insert(Arc::from(go.as_str()), v);
        }
    }
    Ok(map)
}

/// The map as a template value, its JSON (that of `tree`) recorded for `{{json}}`.
fn cached_map(
    map: BTreeMap<Arc<str>, Value>,
    tree: &Tree,
    cache: &mut JsonCache,
) -> Result<Value, serde_json::Error> {
    let map = Arc::new(map);
    cache.0.insert(map_key(&map), serde_json::to_string(tree)?);
    Ok(Value::Map(map))
}

/// The Go field name behind a JSON key that spells the `ID` initialism `Id` (`Id`, `ImageId`,
/// `IdMappings`), if it differs.
pub(super) fn go_field_name(key: &str) -> Option<String> {
    let mut out = String::with_capacity(key.len());
    let mut rest = key;
    while let Some(i) = rest.find("Id") {
        let after = &rest[i + 2..];
        out.push_str(&rest[..i]);
        let word_ends = after.chars().next().is_none_or(|c| c.is_ascii_uppercase());
        out.push_str(if word_ends { "ID" } else { "Id" });
        rest = after;
    }
    out.push_str(rest);
    (out != key).then_some(out)
}

fn list_key(list: &Arc<[Value]>) -> usize {
    Arc::as_ptr(list).cast::<()>() as usize
}

fn map_key(map: &Arc<BTreeMap<Arc<str>, Value>>) -> usize {
    Arc::as_ptr(map).cast::<()>() as usize
}

/// podman's `json` template function: compact JSON, no HTML escaping.
pub(super) fn json_of(value: &Value, cache: &JsonCache) -> Result<String, gotmpl::TemplateError> {
    let mut out = String::new();
    write_json(value, cache, &mut out)?;
    Ok(out)
}

fn write_json(
    value: &Value,
    cache: &JsonCache,
    out: &mut String,
) -> Result<(), gotmpl::TemplateError> {
    let encode = |s: &str| serde_json::to_string(s).expect("a string always encodes as JSON");
    match value {
        Value::Nil => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Int(i) => out.push_str(&i.to_string()),
        Value::Uint(u) => out.push_str(&u.to_string()),
        Value::Float(f) => out.push_str(
            &serde_json::to_string(f).map_err(|e| gotmpl::TemplateError::Exec(e.to_string()))?,
        ),
        Value::String(s) => out.push_str(&encode(s)),
        Value::List(list) => match cache.0.get(&list_key(list)) {
            Some(cached) => out.push_str(cached),
            None => {
                out.push('[');
                for (i, item) in list.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    write_json(item, cache, out)?;
                }
                out.push(']');
            }
        },
        Value::Map(map) => match cache.0.get(&map_key(map)) {
            Some(cached) => out.push_str(cached),
            None => {
                out.push('{');
                for (i, (k, v)) in map.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(&encode(k));
                    out.push(':');
                    write_json(v, cache, out)?;
                }
                out.push('}');
            }
        },
        Value::Function(_) => {
            return Err(gotmpl::TemplateError::Exec(
                "json: unsupported type: func".to_string(),
            ));
        }
    }
    Ok(())
}

impl Serialize for Tree {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Tree::Null => s.serialize_unit(),
            Tree::Bool(b) => s.serialize_bool(*b),
            Tree::Int(i) => s.serialize_i64(*i),
            Tree::Uint(u) => s.serialize_u64(*u),
            Tree::Float(f) => s.serialize_f64(*f),
            Tree::Str(v) => s.serialize_str(v),
            Tree::List(items) => {
                let mut seq = s.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
            Tree::Map(entries) => {
                let mut map = s.serialize_map(Some(entries.len()))?;
                for (k, v) in entries {
                    map.serialize_entry(k, v)?;
                }
                map.end()
            }
        }
    }
}

impl<'de> Deserialize<'de> for Tree {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(TreeVisitor)
    }
}

struct TreeVisitor;

impl<'de> Visitor<'de> for TreeVisitor {
    type Value = Tree;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_unit<E: de::Error>(self) -> Result<Tree, E> {
        Ok(Tree::Null)
    }
    fn visit_none<E: de::Error>(self) -> Result<Tree, E> {
        Ok(Tree::Null)
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Tree, E> {
        Ok(Tree::Bool(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Tree, E> {
        Ok(Tree::Int(v))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Tree, E> {
        Ok(Tree::Uint(v))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Tree, E> {
        Ok(Tree::Float(v))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Tree, E> {
        Ok(Tree::Str(v.to_string()))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Tree, E> {
        Ok(Tree::Str(v))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Tree, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Tree::List(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Tree, A::Error> {
        let mut entries = Vec::new();
        while let Some((k, v)) = map.next_entry::<String, Tree>()? {
            entries.push((k, v));
        }
        Ok(Tree::Map(entries))
    }
}
