//! systemd unit files (systemd.syntax(7)): `[Group]` headers, `Key=Value` lines, `#`/`;` comments,
//! backslash continuations, repeated keys (an empty value resets a list). Written by hand: the crates
//! looked at (`systemd-unit-edit`, lossless but built on rowan with byte ranges instead of lines;
//! `systemd_service_parser`, no continuations) did not give the file and line every entry needs for
//! the error messages.
use std::path::{Path, PathBuf};

use super::QuadletError;

/// One `Key=Value`, with where it was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub key: String,
    pub value: String,
    pub file: PathBuf,
    pub line: usize,
}

/// A group and its entries, in file order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    pub name: String,
    pub entries: Vec<Entry>,
}

/// A parsed unit (a Quadlet file with its drop-ins merged, or a generated service).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UnitFile {
    pub groups: Vec<Group>,
}

impl UnitFile {
    /// Parse `text`, read from `file`.
    pub fn parse(text: &str, file: &Path) -> Result<UnitFile, QuadletError> {
        let mut unit = UnitFile::default();
        unit.merge_text(text, file)?;
        Ok(unit)
    }

    /// Add the groups and entries of `text` (a drop-in) after the ones already here.
    pub fn merge_text(&mut self, text: &str, file: &Path) -> Result<(), QuadletError> {
        let mut current: Option<String> = None;
        let mut lines = text.lines().enumerate();
        while let Some((i, raw)) = lines.next() {
            let line_no = i + 1;
            let mut line = raw.trim().to_string();
            if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
                continue;
            }
            // A trailing backslash joins the next line (comment lines in between are skipped).
            while line.ends_with('\\') {
                line.pop();
                line.push(' ');
                match lines.next() {
                    Some((_, next)) => {
                        let next = next.trim();
                        if !(next.starts_with('#') || next.starts_with(';')) {
                            line.push_str(next);
                        }
                    }
                    None => break,
                }
            }
            let line = line.trim();
            let bad = |why: &str| QuadletError::Syntax {
                file: file.to_path_buf(),
                line: line_no,
                why: why.to_string(),
            };
            if let Some(rest) = line.strip_prefix('[') {
                let name = rest
                    .strip_suffix(']')
                    .filter(|n| !n.is_empty() && !n.contains(['[', ']']))
                    .ok_or_else(|| bad("a group header must look like `[Name]`"))?;
                self.group_mut(name);
                current = Some(name.to_string());
                continue;
            }
            let (key, value) = line
                .split_once('=')
                .ok_or_else(|| bad("expected `Key=Value`, a `[Group]` header or a comment"))?;
            let key = key.trim();
            if key.is_empty()
                || !key
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
            {
                return Err(bad(&format!("invalid key name `{key}`")));
            }
            let Some(group) = &current else {
                return Err(bad(&format!("`{key}=` comes before any `[Group]` header")));
            };
            self.group_mut(group).entries.push(Entry {
                key: key.to_string(),
                value: value.trim().to_string(),
                file: file.to_path_buf(),
                line: line_no,
            });
        }
        Ok(())
    }

    pub fn group(&self, name: &str) -> Option<&Group> {
        self.groups.iter().find(|g| g.name == name)
    }

    pub fn group_mut(&mut self, name: &str) -> &mut Group {
        let i = match self.groups.iter().position(|g| g.name == name) {
            Some(i) => i,
            None => {
                self.groups.push(Group {
                    name: name.to_string(),
                    entries: Vec::new(),
                });
                self.groups.len() - 1
            }
        };
        &mut self.groups[i]
    }

    fn entries<'a, 'k>(&'a self, group: &str, key: &'k str) -> impl Iterator<Item = &'a Entry> + 'k
    where
        'a: 'k,
    {
        self.group(group)
            .into_iter()
            .flat_map(|g| g.entries.iter())
            .filter(move |e| e.key == key)
    }

    /// The last value of `key` (systemd: a later assignment overrides).
    pub fn last(&self, group: &str, key: &str) -> Option<&str> {
        self.last_entry(group, key).map(|e| e.value.as_str())
    }

    /// The last value, when it is not empty.
    pub fn get(&self, group: &str, key: &str) -> Option<&str> {
        self.last(group, key).filter(|v| !v.is_empty())
    }

    /// The last entry of `key`, for messages that name its line.
    pub fn last_entry(&self, group: &str, key: &str) -> Option<&Entry> {
        self.group(group)?
            .entries
            .iter()
            .rev()
            .find(|e| e.key == key)
    }

    /// Every value of a list key, in order; an empty assignment drops the ones before it.
    pub fn all(&self, group: &str, key: &str) -> Vec<&str> {
        let mut out = Vec::new();
        for e in self.group(group).into_iter().flat_map(|g| g.entries.iter()) {
            if e.key != key {
                continue;
            }
            if e.value.is_empty() {
                out.clear();
            } else {
                out.push(e.value.as_str());
            }
        }
        out
    }

    /// Every value of a list key, each split into words (quotes and escapes removed).
    pub fn all_words(&self, group: &str, key: &str) -> Result<Vec<String>, QuadletError> {
        let mut out = Vec::new();
        for e in self.entries(group, key) {
            if e.value.is_empty() {
                out.clear();
            } else {
                out.extend(split_words(&e.value).map_err(|why| self.bad_value(e, &why))?);
            }
        }
        Ok(out)
    }

    /// The words of the last assignment of `key` (`Exec=`).
    pub fn last_words(&self, group: &str, key: &str) -> Result<Option<Vec<String>>, QuadletError> {
        match self.last_entry(group, key) {
            Some(e) if !e.value.is_empty() => split_words(&e.value)
                .map(Some)
                .map_err(|why| self.bad_value(e, &why)),
            _ => Ok(None),
        }
    }

    /// A boolean key (systemd's yes/no/true/false/on/off/1/0).
    pub fn bool(&self, group: &str, key: &str) -> Result<Option<bool>, QuadletError> {
        let Some(e) = self.last_entry(group, key) else {
            return Ok(None);
        };
        match e.value.to_ascii_lowercase().as_str() {
            "1" | "yes" | "true" | "on" => Ok(Some(true)),
            "0" | "no" | "false" | "off" => Ok(Some(false)),
            _ => Err(self.bad_value(e, "expected a boolean (yes or no)")),
        }
    }

    pub fn bad_value(&self, e: &Entry, why: &str) -> QuadletError {
        QuadletError::Value {
            file: e.file.clone(),
            line: e.line,
            key: e.key.clone(),
            why: why.to_string(),
        }
    }

    pub fn has(&self, group: &str, key: &str) -> bool {
        self.entries(group, key).next().is_some()
    }

    /// Append `key=value` to `group` (made if missing).
    pub fn add(&mut self, group: &str, key: &str, value: &str) {
        self.group_mut(group).entries.push(Entry {
            key: key.to_string(),
            value: value.to_string(),
            file: PathBuf::new(),
            line: 0,
        });
    }

    /// Replace every `key` of `group` by one `key=value`.
    pub fn set(&mut self, group: &str, key: &str, value: &str) {
        self.group_mut(group).entries.retain(|e| e.key != key);
        self.add(group, key, value);
    }

    pub fn rename_group(&mut self, from: &str, to: &str) {
        if let Some(g) = self.groups.iter_mut().find(|g| g.name == from) {
            g.name = to.to_string();
        }
    }

    /// The unit as systemd reads it.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for (i, g) in self.groups.iter().enumerate() {
            if i > 0 {
                out.push('\n');
            }
            out.push_str(&format!("[{}]\n", g.name));
            for e in &g.entries {
                out.push_str(&format!("{}={}\n", e.key, e.value));
            }
        }
        out
    }
}

/// Split a value into words as systemd does for command lines: whitespace separates, single and
/// double quotes group, a backslash escapes the next character (C escapes `\n`, `\t` inside
/// words are kept as the character).
pub fn split_words(s: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut quote: Option<char> = None;
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (_, '\\') => {
                let n = chars
                    .next()
                    .ok_or_else(|| "ends with a lone backslash".to_string())?;
                cur.push(match n {
                    'n' => '\n',
                    't' => '\t',
                    other => other,
                });
                in_word = true;
            }
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => cur.push(c),
            (None, '"' | '\'') => {
                quote = Some(c);
                in_word = true;
            }
            (None, c) if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            (None, c) => {
                cur.push(c);
                in_word = true;
            }
        }
    }
    if let Some(q) = quote {
        return Err(format!("has an unterminated {q}quote{q}"));
    }
    if in_word {
        words.push(cur);
    }
    Ok(words)
}

/// One word of a command line as systemd reads it back: quoted (with `\` and `"` escaped) when it
/// holds whitespace, quotes or backslashes, or is empty.
pub fn quote_word(w: &str) -> String {
    if !w.is_empty() && !w.contains(|c: char| c.is_whitespace() || "\"'\\".contains(c)) {
        return w.to_string();
    }
    let mut out = String::from("\"");
    for c in w.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A command line for `ExecStart=` and friends.
pub fn command_line(words: &[String]) -> String {
    words
        .iter()
        .map(|w| quote_word(w))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> UnitFile {
        UnitFile::parse(s, Path::new("/q/web.container")).unwrap()
    }

    #[test]
    fn groups_keys_comments_and_continuations() {
        let u = parse(
            "# c\n[Container]\nImage=busybox\n; x\nExec=/bin/httpd \\\n  -f -p 80\nLabel=a=1\nLabel=\nLabel=b=2\n[Service]\nRestart=always\n",
        );
        assert_eq!(u.get("Container", "Image"), Some("busybox"));
        assert_eq!(
            u.last_words("Container", "Exec").unwrap().unwrap(),
            ["/bin/httpd", "-f", "-p", "80"]
        );
        assert_eq!(u.all("Container", "Label"), ["b=2"]);
        assert_eq!(u.last_entry("Container", "Exec").unwrap().line, 5);
        assert_eq!(u.get("Service", "Restart"), Some("always"));
    }

    #[test]
    fn syntax_errors_name_file_and_line() {
        let e = UnitFile::parse("[Container]\nImage busybox\n", Path::new("/q/a.container"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("/q/a.container:2"), "{e}");
        let e = UnitFile::parse("Image=x\n", Path::new("/q/a.container"))
            .unwrap_err()
            .to_string();
        assert!(e.contains(":1") && e.contains("before any"), "{e}");
    }

    #[test]
    fn words_split_and_quote_back() {
        let w = split_words(r#"sh -c "echo 'hi there'" a\ b"#).unwrap();
        assert_eq!(w, ["sh", "-c", "echo 'hi there'", "a b"]);
        assert_eq!(command_line(&w), r#"sh -c "echo 'hi there'" "a b""#);
        assert_eq!(split_words(&command_line(&w)).unwrap(), w);
        assert!(split_words("a \"b").is_err());
        assert_eq!(quote_word(""), "\"\"");
    }
}
