//! Environment lists: podman's `--env`/`--env-file` syntax and an ordered, key-unique variable list.
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum EnvError {
    #[error("invalid environment variable: `{0}`")]
    EmptyName(String),
    #[error("invalid line {line} of env file `{path}`")]
    File {
        path: PathBuf,
        line: usize,
        #[source]
        source: Box<EnvError>,
    },
}

/// The blanks podman trims from the front of env-file lines and names (Go's `" \t"`).
const BLANKS: [char; 2] = [' ', '\t'];

#[cfg(test)]
/// The entries of an `--env-file`: blank lines and `#` comments are skipped and leading blanks trimmed;
/// everything else is kept verbatim (including blanks after `=` and at the end of the line).
/// Entries without `=` (`KEY`, `PREFIX*`) are kept as they are: they name host variables.
pub fn parse_env_file(text: &str) -> Vec<String> {
    env_file_lines(text).map(|(_, l)| l.to_string()).collect()
}

/// Entries with their 1-based line numbers.
fn env_file_lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.trim_start_matches(BLANKS)))
        .filter(|(_, l)| !l.is_empty() && !l.starts_with('#'))
}

/// Variables in first-set order; setting an existing key replaces its value in place.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct EnvList(Vec<(String, String)>);

impl EnvList {
    pub(super) fn set(&mut self, key: &str, value: &str) {
        match self.0.iter_mut().find(|(k, _)| k == key) {
            Some(slot) => slot.1 = value.to_string(),
            None => self.0.push((key.to_string(), value.to_string())),
        }
    }

    pub(super) fn remove(&mut self, key: &str) {
        self.0.retain(|(k, _)| k != key);
    }

    pub(super) fn clear(&mut self) {
        self.0.clear();
    }

    pub(super) fn contains(&self, key: &str) -> bool {
        self.0.iter().any(|(k, _)| k == key)
    }

    /// Add `key` at `index` (clamped) unless it is already set.
    pub(super) fn insert_if_missing(&mut self, index: usize, key: &str, value: &str) {
        if !self.contains(key) {
            let index = index.min(self.0.len());
            self.0.insert(index, (key.to_string(), value.to_string()));
        }
    }

    /// How many entries at the front have one of `keys`.
    pub(super) fn leading(&self, keys: &[&str]) -> usize {
        self.0
            .iter()
            .take_while(|(k, _)| keys.contains(&k.as_str()))
            .count()
    }

    /// Apply one `-e` entry: `KEY=VAL` sets, `KEY` copies the host value (nothing if unset),
    /// `PREFIX*` copies every host variable whose name starts with `PREFIX`.
    pub(super) fn apply(&mut self, entry: &str, host: &[(String, String)]) -> Result<(), EnvError> {
        let (name, value) = match entry.split_once('=') {
            Some((n, v)) => (n.trim_start_matches(BLANKS), Some(v)),
            None => (entry.trim_start_matches(BLANKS), None),
        };
        if name.is_empty() {
            return Err(EnvError::EmptyName(entry.to_string()));
        }
        match value {
            Some(v) => self.set(name, v),
            None => match name.strip_suffix('*') {
                Some(prefix) => host
                    .iter()
                    .filter(|(k, _)| k.starts_with(prefix))
                    .for_each(|(k, v)| self.set(k, v)),
                None => {
                    if let Some((_, v)) = host.iter().find(|(k, _)| k == name) {
                        self.set(name, v);
                    }
                }
            },
        }
        Ok(())
    }

    /// Apply every entry of an env file, naming the file and line on error.
    pub(super) fn apply_file(
        &mut self,
        path: &Path,
        text: &str,
        host: &[(String, String)],
    ) -> Result<(), EnvError> {
        for (line, entry) in env_file_lines(text) {
            self.apply(entry, host).map_err(|e| EnvError::File {
                path: path.to_path_buf(),
                line,
                source: Box::new(e),
            })?;
        }
        Ok(())
    }

    pub(super) fn into_strings(self) -> Vec<String> {
        self.0
            .into_iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host() -> Vec<(String, String)> {
        [("HOST_A", "1"), ("HOST_B", "two words"), ("OTHER", "x")]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn env_file_lines_are_trimmed_in_front_only() {
        let text = "# comment\n\n  FOO=bar  \n\tBAZ= spaced value\n   # indented comment\nKEY\r\nE=\nX=a=b\n";
        assert_eq!(
            parse_env_file(text),
            ["FOO=bar  ", "BAZ= spaced value", "KEY", "E=", "X=a=b"]
        );
        assert!(parse_env_file("").is_empty());
        assert!(parse_env_file("  \n\t\n#x").is_empty());
    }

    #[test]
    fn entries_table() {
        // (entries applied in order, expected list)
        let cases: &[(&[&str], &[&str])] = &[
            (&["A=1"], &["A=1"]),
            (&["A=1", "B=2", "A=3"], &["A=3", "B=2"]),
            (&["A="], &["A="]),
            (&["A=x=y"], &["A=x=y"]),
            (&["HOST_A"], &["HOST_A=1"]),
            (&["MISSING"], &[]),
            (&["A=1", "MISSING", "A"], &["A=1"]),
            (&["HOST_*"], &["HOST_A=1", "HOST_B=two words"]),
            (&["*"], &["HOST_A=1", "HOST_B=two words", "OTHER=x"]),
            (&["NOPE*"], &[]),
            (&["  LEAD=v"], &["LEAD=v"]),
        ];
        for (entries, want) in cases {
            let mut env = EnvList::default();
            for e in *entries {
                env.apply(e, &host()).unwrap();
            }
            assert_eq!(env.into_strings(), *want, "entries {entries:?}");
        }
    }

    #[test]
    fn empty_names_are_rejected() {
        for bad in ["=", "=A", "  =A", ""] {
            let err = EnvList::default().apply(bad, &host()).unwrap_err();
            assert!(
                matches!(err, EnvError::EmptyName(ref s) if s == bad),
                "{bad:?}"
            );
        }
        let err = EnvList::default()
            .apply_file(Path::new("/x.env"), "# c\nA=1\n=oops\n", &host())
            .unwrap_err();
        assert!(matches!(err, EnvError::File { line: 3, .. }), "{err:?}");
        assert_eq!(err.to_string(), "invalid line 3 of env file `/x.env`");
    }
}
