//! `.containerignore` / `.dockerignore` rules, as Docker reads them: one pattern a line, `#` comments,
//! paths cleaned and relative to the context root, `*` and `?` within one path element, `**` across
//! any number of them, `!` re-including what an earlier pattern excluded. The last matching pattern
//! decides, and a pattern that matches a directory matches everything below it.
use regex_lite::Regex;

#[derive(Debug)]
struct Rule {
    re: Regex,
    exception: bool,
    /// The pattern's path elements (to tell whether an exception could match inside a directory).
    text: String,
}

/// A compiled ignore file.
#[derive(Debug, Default)]
pub struct Ignore {
    rules: Vec<Rule>,
    has_exceptions: bool,
}

#[derive(Debug, thiserror::Error)]
#[error("invalid pattern `{pattern}` in {file}: {why}")]
pub struct IgnoreError {
    pub file: String,
    pub pattern: String,
    pub why: String,
}

/// Collapse `.`, `..` and repeated `/` the way Go's `filepath.Clean` does, without a leading `/`.
pub fn clean(p: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for seg in p.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            s => parts.push(s),
        }
    }
    parts.join("/")
}

/// A glob (`*`, `?`, `[…]`, `\x`, and `**` when `double_star`) as an anchored regular expression.
pub fn glob_regex(pattern: &str, double_star: bool) -> Result<Regex, String> {
    let mut re = String::from("^");
    let chars: Vec<char> = pattern.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            '*' if double_star && chars.get(i + 1) == Some(&'*') => {
                i += 1;
                if chars.get(i + 1) == Some(&'/') {
                    // `**/` matches zero or more whole directories.
                    i += 1;
                    re.push_str("(?:.*/)?");
                } else {
                    re.push_str(".*");
                }
            }
            '*' => re.push_str("[^/]*"),
            '?' => re.push_str("[^/]"),
            '[' => {
                let mut j = i + 1;
                let mut class = String::from("[");
                if chars.get(j) == Some(&'^') || chars.get(j) == Some(&'!') {
                    class.push('^');
                    j += 1;
                }
                let mut closed = false;
                while j < chars.len() {
                    let d = chars[j];
                    if d == ']' {
                        closed = true;
                        break;
                    }
                    if d == '\\' {
                        j += 1;
                        if let Some(e) = chars.get(j) {
                            class.push_str(&regex_lite::escape(&e.to_string()));
                        }
                    } else if d == '-' {
                        class.push('-');
                    } else {
                        class.push_str(&regex_lite::escape(&d.to_string()));
                    }
                    j += 1;
                }
                if !closed {
                    return Err("unterminated `[`".into());
                }
                class.push(']');
                re.push_str(&class);
                i = j;
            }
            '\\' => {
                i += 1;
                match chars.get(i) {
                    Some(e) => re.push_str(&regex_lite::escape(&e.to_string())),
                    None => return Err("trailing `\\`".into()),
                }
            }
            other => re.push_str(&regex_lite::escape(&other.to_string())),
        }
        i += 1;
    }
    re.push('$');
    Regex::new(&re).map_err(|e| e.to_string())
}

impl Ignore {
    /// Compile the text of an ignore file (`file` names it in errors).
    pub fn parse(text: &str, file: &str) -> Result<Ignore, IgnoreError> {
        let mut rules = Vec::new();
        for line in text.lines() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (exception, pat) = match line.strip_prefix('!') {
                Some(p) => (true, p.trim()),
                None => (false, line),
            };
            let cleaned = clean(pat);
            if cleaned.is_empty() {
                continue;
            }
            let re = glob_regex(&cleaned, true).map_err(|why| IgnoreError {
                file: file.to_string(),
                pattern: line.to_string(),
                why,
            })?;
            rules.push(Rule {
                re,
                exception,
                text: cleaned,
            });
        }
        let has_exceptions = rules.iter().any(|r| r.exception);
        Ok(Ignore {
            rules,
            has_exceptions,
        })
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// Whether `path` (relative, cleaned) is left out of the context.
    pub fn excluded(&self, path: &str) -> bool {
        let mut excluded = false;
        for r in &self.rules {
            if matches_or_parent(&r.re, path) {
                excluded = !r.exception;
            }
        }
        excluded
    }

    /// Whether a walk skips an excluded directory entirely. As in buildah's copier and Docker's
    /// archive walk, it descends only when an exception's text names a path inside the directory
    /// (`!dir/…`): a wildcard exception such as `!*/keep` does not reach into an excluded
    /// directory no exception names.
    pub fn can_skip_dir(&self, dir: &str) -> bool {
        if !self.has_exceptions {
            return true;
        }
        let prefix = format!("{dir}/");
        !self
            .rules
            .iter()
            .any(|r| r.exception && format!("{}/", r.text).starts_with(&prefix))
    }
}

fn matches_or_parent(re: &Regex, path: &str) -> bool {
    if re.is_match(path) {
        return true;
    }
    let mut p = path;
    while let Some((parent, _)) = p.rsplit_once('/') {
        if re.is_match(parent) {
            return true;
        }
        p = parent;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_rules() {
        let ig = Ignore::parse(
            "# comment\n*.md\n!README.md\ntemp?\n/build/\n**/*.o\nsecret/**\n!secret/keep\n./logs\n",
            ".dockerignore",
        )
        .unwrap();
        let cases = [
            ("a.md", true),
            ("README.md", false),
            ("docs/a.md", false), // `*` is one level only
            ("temp1", true),
            ("temp12", false),
            ("build", true),
            ("build/x/y", true),
            ("src/x.o", true),
            ("x.o", true),
            ("secret/a", true),
            ("secret/keep", false),
            ("logs/today", true),
            ("src/main.rs", false),
        ];
        for (p, want) in cases {
            assert_eq!(ig.excluded(p), want, "{p}");
        }
        assert!(!ig.can_skip_dir("secret"));
    }

    #[test]
    fn last_match_wins() {
        let ig = Ignore::parse("!a\na\n", "x").unwrap();
        assert!(ig.excluded("a"));
        let ig = Ignore::parse("*\n!keep\n", "x").unwrap();
        assert!(!ig.excluded("keep") && ig.excluded("other"));
        // `keep` only names the top-level path: nothing below `d` can come back.
        assert!(ig.excluded("d/keep") && ig.can_skip_dir("d"));
        let ig = Ignore::parse("*\n!d/keep\n", "x").unwrap();
        assert!(!ig.can_skip_dir("d") && !ig.excluded("d/keep"));
        let ig = Ignore::parse("d\n", "x").unwrap();
        assert!(ig.can_skip_dir("d"));
    }

    #[test]
    fn wildcard_exception_stays_out_of_unnamed_excluded_dirs() {
        // podman's "COPY with ignore" rules: `subdir1` is walked (an exception names a path in
        // it), `subdir2` is not, so `!*/sub1*` brings back subdir1/sub1 only.
        let ig = Ignore::parse(
            "test*\n!test2*\nsubdir1\nsubdir2\n!*/sub1*\n!subdir1/sub3*\n/foo\n",
            ".dockerignore",
        )
        .unwrap();
        assert!(!ig.can_skip_dir("subdir1"));
        assert!(ig.can_skip_dir("subdir2"));
        assert!(!ig.excluded("subdir1/sub1") && !ig.excluded("subdir1/sub3.txt"));
        assert!(ig.excluded("subdir1/sub2"));
        assert!(ig.excluded("test1") && !ig.excluded("test2.txt") && ig.excluded("foo"));
        // A directory whose name only begins like the named one is still skipped.
        let ig = Ignore::parse("sub*\n!sub/keep\n", "x").unwrap();
        assert!(!ig.can_skip_dir("sub") && ig.can_skip_dir("subdir"));
    }

    #[test]
    fn globs() {
        let re = glob_regex("src/*.rs", false).unwrap();
        assert!(re.is_match("src/a.rs") && !re.is_match("src/x/a.rs"));
        let re = glob_regex("f[0-9]?", false).unwrap();
        assert!(re.is_match("f1x") && !re.is_match("fa1"));
        let re = glob_regex("[!a]*", false).unwrap();
        assert!(re.is_match("b") && !re.is_match("a"));
        assert!(glob_regex("[ab", false).is_err());
        assert_eq!(clean("./a//b/../c/"), "a/c");
        assert_eq!(clean("/"), "");
    }
}
