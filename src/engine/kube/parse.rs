//! Reading a Kubernetes YAML file: split into documents (keeping each one's first line, so errors
//! name the line in the whole file), read each document's `kind`, then parse it into its type.
use std::collections::BTreeMap;

use serde::Deserialize;
use serde::de::DeserializeOwned;

use super::KubeError;
use super::types::{Claim, ConfigMap, Deployment, Pod, Secret};

/// The objects of a YAML file, in file order within each kind.
#[derive(Debug, Default)]
pub struct Manifest {
    pub pods: Vec<Pod>,
    pub deployments: Vec<Deployment>,
    pub claims: Vec<Claim>,
    pub config_maps: Vec<ConfigMap>,
    pub secrets: Vec<Secret>,
}

/// One document of a multi-document file, and the number of lines before it.
struct Document<'a> {
    text: &'a str,
    offset: usize,
}

/// Splits at `---` lines (a document start, optionally followed by a comment) and drops `...` end
/// markers' documents' trailing text and documents with nothing but comments and blank lines.
fn documents(text: &str) -> Vec<Document<'_>> {
    let mut docs = Vec::new();
    let mut start = 0usize;
    let mut start_line = 0usize;
    let mut pos = 0usize;
    for (i, line) in text.split_inclusive('\n').enumerate() {
        let t = line.trim_end();
        let marker = t == "---" || t.starts_with("--- #") || t == "...";
        if marker {
            docs.push(Document {
                text: &text[start..pos],
                offset: start_line,
            });
            start = pos + line.len();
            start_line = i + 1;
        }
        pos += line.len();
    }
    docs.push(Document {
        text: &text[start..],
        offset: start_line,
    });
    docs.retain(|d| {
        d.text
            .lines()
            .any(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
    });
    docs
}

#[derive(Deserialize)]
struct Head {
    #[serde(default)]
    kind: Option<String>,
}

fn yaml_error(source_name: &str, doc: &Document, e: &serde_saphyr::Error) -> KubeError {
    let (line, column) = e
        .location()
        .map(|l| (l.line() as usize + doc.offset, l.column() as usize))
        .unwrap_or((doc.offset + 1, 1));
    let message = e.without_snippet().to_string();
    // The parser's own "line L column C: " prefix counts from the document, not the file.
    let message = message.trim_start_matches("error: ");
    let message = match message.split_once(": ") {
        Some((head, rest)) if head.starts_with("line ") => rest,
        _ => message,
    };
    let mut message = message.lines().next().unwrap_or_default().to_string();
    // ... and its " at line L, column C" suffix too.
    if let Some(i) = message.rfind(" at line ") {
        message.truncate(i);
    }
    // A value of the wrong type: name the field it is for, from the line it is on.
    if !message.contains('`')
        && let Some(key) = field_on_line(text_line(doc, line - doc.offset))
    {
        message = format!("field `{key}`: {message}");
    }
    KubeError::Yaml {
        source_name: source_name.to_string(),
        line,
        column,
        message,
    }
}

fn text_line<'a>(doc: &Document<'a>, line: usize) -> &'a str {
    doc.text
        .lines()
        .nth(line.saturating_sub(1))
        .unwrap_or_default()
}

/// The key of a `key: value` line (`- containerPort: 80` → `containerPort`).
fn field_on_line(line: &str) -> Option<&str> {
    let t = line.trim_start().trim_start_matches("- ").trim_start();
    let (key, _) = t.split_once(':')?;
    let key = key.trim().trim_matches(['"', '\'']);
    (!key.is_empty() && !key.contains(' ')).then_some(key)
}

fn parse_as<T: DeserializeOwned>(source_name: &str, doc: &Document) -> Result<T, KubeError> {
    serde_saphyr::from_str(doc.text).map_err(|e| yaml_error(source_name, doc, &e))
}

/// Parses a whole file (`source_name` is how errors name it: its path, or `-`).
pub fn parse(source_name: &str, text: &str) -> Result<Manifest, KubeError> {
    let mut m = Manifest::default();
    for doc in documents(text) {
        let head: Head = parse_as(source_name, &doc)?;
        let line = doc.offset + 1;
        let Some(kind) = head.kind else {
            return Err(KubeError::NoKind {
                source_name: source_name.to_string(),
                line,
            });
        };
        match kind.as_str() {
            "Pod" => m.pods.push(parse_as(source_name, &doc)?),
            "Deployment" => m.deployments.push(parse_as(source_name, &doc)?),
            "PersistentVolumeClaim" => m.claims.push(parse_as(source_name, &doc)?),
            "ConfigMap" => m.config_maps.push(parse_as(source_name, &doc)?),
            "Secret" => m.secrets.push(parse_as(source_name, &doc)?),
            "Service" => {}
            _ => {
                return Err(KubeError::Kind {
                    source_name: source_name.to_string(),
                    line,
                    kind,
                });
            }
        }
    }
    check_names(source_name, &m)?;
    Ok(m)
}

/// Every object needs a name, and no two objects of one kind may share one.
fn check_names(source_name: &str, m: &Manifest) -> Result<(), KubeError> {
    let mut seen: BTreeMap<(&str, &str), ()> = BTreeMap::new();
    let all = m
        .pods
        .iter()
        .map(|p| ("Pod", &p.metadata))
        .chain(m.deployments.iter().map(|d| ("Deployment", &d.metadata)))
        .chain(
            m.claims
                .iter()
                .map(|c| ("PersistentVolumeClaim", &c.metadata)),
        )
        .chain(m.config_maps.iter().map(|c| ("ConfigMap", &c.metadata)))
        .chain(m.secrets.iter().map(|s| ("Secret", &s.metadata)));
    for (kind, meta) in all {
        let Some(name) = meta.name.as_deref().filter(|n| !n.is_empty()) else {
            return Err(KubeError::NoName {
                source_name: source_name.to_string(),
                kind,
            });
        };
        if seen.insert((kind, name), ()).is_some() {
            return Err(KubeError::Duplicate {
                source_name: source_name.to_string(),
                kind,
                name: name.to_string(),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const TWO: &str = "# a comment\n---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: a\nspec:\n  containers:\n  - name: c\n    image: busybox\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\ndata:\n  k: v\n";

    #[test]
    fn reads_every_document_of_a_file() {
        let m = parse("f.yaml", TWO).unwrap();
        assert_eq!(m.pods.len(), 1);
        assert_eq!(m.pods[0].spec.containers[0].image, "busybox");
        assert_eq!(m.config_maps[0].data["k"], "v");
    }

    #[test]
    fn an_unknown_field_is_named_with_its_line_in_the_file() {
        let text = TWO.replace(
            "    image: busybox\n",
            "    image: busybox\n    comand: [x]\n",
        );
        let e = parse("f.yaml", &text).unwrap_err();
        let KubeError::Yaml { line, message, .. } = &e else {
            panic!("{e:?}")
        };
        assert_eq!(*line, 11, "{e}");
        assert!(message.contains("comand"), "{message}");
        assert!(e.to_string().contains("f.yaml:11"), "{e}");
    }

    #[test]
    fn bad_yaml_and_bad_kinds_are_refused() {
        let e = parse("f.yaml", "kind: Pod\nspec: [\n").unwrap_err();
        assert!(matches!(e, KubeError::Yaml { .. }), "{e:?}");
        let e = parse("f.yaml", "---\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n  - name: c\n    image: i\n    ports:\n    - containerPort: eighty\n").unwrap_err();
        let text = e.to_string();
        assert!(
            text.contains("f.yaml:9:22") && text.contains("`containerPort`"),
            "{text}"
        );
        assert!(!text.contains("line 8"), "{text}");
        let e = parse("f.yaml", "---\nkind: Job\nmetadata: {name: j}\n").unwrap_err();
        assert!(
            e.to_string().contains("Job") && e.to_string().contains(":2"),
            "{e}"
        );
        let e = parse("f.yaml", "metadata: {name: j}\n").unwrap_err();
        assert!(matches!(e, KubeError::NoKind { .. }), "{e:?}");
        let e = parse("f.yaml", "kind: ConfigMap\ndata: {}\n").unwrap_err();
        assert!(matches!(e, KubeError::NoName { .. }), "{e:?}");
    }

    #[test]
    fn quantities_are_numbers_or_strings() {
        let text = "kind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n  - name: c\n    image: i\n    resources:\n      limits: {cpu: 1, memory: 64Mi}\n";
        let m = parse("f", text).unwrap();
        let r = m.pods[0].spec.containers[0].resources.as_ref().unwrap();
        assert_eq!(r.limits["cpu"].0, "1");
        assert_eq!(r.limits["memory"].0, "64Mi");
    }
}
