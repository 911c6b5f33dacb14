//! From text to logical lines: parser directives (`# syntax=`, `# escape=`), comments, line
//! continuations and heredoc bodies.
use std::collections::BTreeMap;

use super::ParseError;

/// One instruction as written: its keyword, the rest of its (joined) line, and heredoc bodies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Logical {
    /// 1-based line where the instruction starts.
    pub line: usize,
    /// The keyword as written (case kept).
    pub keyword: String,
    /// Everything after the keyword, continuation lines joined.
    pub rest: String,
    pub heredocs: Vec<Heredoc>,
}

/// A here-document: `<<EOF` … `EOF`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Heredoc {
    /// The delimiter word (also the file name for `COPY <<EOF /dest`).
    pub name: String,
    pub content: String,
    /// `false` when the delimiter was quoted: no variable expansion in the body.
    pub expand: bool,
    /// `<<-`: leading tabs were stripped from the body.
    pub chomp: bool,
}

/// The lines of a Dockerfile with directives recognised.
pub struct Lexed {
    pub escape: char,
    pub lines: Vec<Logical>,
}

const DIRECTIVES: &[&str] = &["syntax", "escape", "check"];

fn directive(line: &str) -> Option<(String, String)> {
    let body = line.trim().strip_prefix('#')?.trim();
    let (k, v) = body.split_once('=')?;
    let k = k.trim().to_ascii_lowercase();
    if k.is_empty() || !k.chars().all(|c| c.is_ascii_alphanumeric()) {
        return None;
    }
    Some((k, v.trim().to_string()))
}

/// Whether `line` ends with the escape character (optionally followed by blanks): a continuation.
fn continued(line: &str, escape: char) -> Option<&str> {
    let t = line.trim_end_matches([' ', '\t']);
    t.strip_suffix(escape)
}

pub fn lex(text: &str, file: &str) -> Result<Lexed, ParseError> {
    let raw: Vec<&str> = text
        .split('\n')
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
        .collect();
    let (escape, mut i) = directives(&raw, file)?;
    let mut lines = Vec::new();
    while i < raw.len() {
        let trimmed = raw[i].trim_start();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            i += 1;
            continue;
        }
        let start = i;
        let joined = join_continued(&raw, &mut i, trimmed, escape);
        let (keyword, rest) = match joined.find(|c: char| c.is_whitespace()) {
            Some(p) => (joined[..p].to_string(), joined[p..].trim().to_string()),
            None => (joined.clone(), String::new()),
        };
        let upper = keyword.to_ascii_uppercase();
        let heredocs = if matches!(upper.as_str(), "RUN" | "COPY" | "ADD") {
            read_heredocs(&raw, &mut i, &rest, escape, file, start)?
        } else {
            Vec::new()
        };
        lines.push(Logical {
            line: start + 1,
            keyword,
            rest,
            heredocs,
        });
    }
    Ok(Lexed { escape, lines })
}

/// The parser directives at the top: the escape character they set and the index of the first
/// line after them.
fn directives(raw: &[&str], file: &str) -> Result<(char, usize), ParseError> {
    let mut directives = BTreeMap::new();
    let mut i = 0;
    while i < raw.len() {
        match directive(raw[i]) {
            Some((k, v)) if DIRECTIVES.contains(&k.as_str()) => {
                if directives.insert(k.clone(), v).is_some() {
                    return Err(ParseError::new(
                        file,
                        i + 1,
                        format!("only one `{k}` parser directive can be used"),
                    ));
                }
                i += 1;
            }
            _ => break,
        }
    }
    let escape = match directives.get("escape").map(String::as_str) {
        None | Some("\\") => '\\',
        Some("`") => '`',
        Some(other) => {
            return Err(ParseError::new(
                file,
                1,
                format!("invalid escape token `{other}`: it must be ` or \\"),
            ));
        }
    };
    Ok((escape, i))
}

/// The logical line starting with `first` (line `*i`), its continuations joined; `*i` moves past it.
fn join_continued(raw: &[&str], i: &mut usize, first: &str, escape: char) -> String {
    let mut joined = String::new();
    let mut cur = first;
    loop {
        match continued(cur, escape) {
            Some(head) => {
                joined.push_str(head);
                *i += 1;
                // Comment and empty lines inside a continuation are skipped.
                while *i < raw.len()
                    && (raw[*i].trim().is_empty() || raw[*i].trim_start().starts_with('#'))
                {
                    *i += 1;
                }
                if *i >= raw.len() {
                    break;
                }
                cur = raw[*i];
            }
            None => {
                joined.push_str(cur);
                *i += 1;
                break;
            }
        }
    }
    joined.trim().to_string()
}

/// The bodies of the heredocs `rest` opens, from line `*i` on; `*i` moves past them.
fn read_heredocs(
    raw: &[&str],
    i: &mut usize,
    rest: &str,
    escape: char,
    file: &str,
    start: usize,
) -> Result<Vec<Heredoc>, ParseError> {
    let mut heredocs = Vec::new();
    for (name, quoted, chomp) in heredoc_markers(rest, escape) {
        let mut content = String::new();
        let mut closed = false;
        while *i < raw.len() {
            let l = raw[*i];
            *i += 1;
            let cmp = if chomp { l.trim_start_matches('\t') } else { l };
            if cmp == name {
                closed = true;
                break;
            }
            content.push_str(cmp);
            content.push('\n');
        }
        if !closed {
            return Err(ParseError::new(
                file,
                start + 1,
                format!("unterminated heredoc: no line `{name}` ends it"),
            ));
        }
        heredocs.push(Heredoc {
            name,
            content,
            expand: !quoted,
            chomp,
        });
    }
    Ok(heredocs)
}

/// The `<<[-]WORD` markers outside quotes: (word, quoted, chomp).
pub fn heredoc_markers(s: &str, escape: char) -> Vec<(String, bool, bool)> {
    let chars: Vec<char> = s.chars().collect();
    let mut out = Vec::new();
    let mut quote: Option<char> = None;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if let Some(q) = quote {
            if c == q {
                quote = None;
            }
            i += 1;
            continue;
        }
        if c == escape {
            i += 2;
            continue;
        }
        if c == '"' || c == '\'' {
            quote = Some(c);
            i += 1;
            continue;
        }
        if c == '<' && chars.get(i + 1) == Some(&'<') && chars.get(i + 2) != Some(&'<') {
            let mut j = i + 2;
            let chomp = chars.get(j) == Some(&'-');
            if chomp {
                j += 1;
            }
            let q = chars.get(j).copied().filter(|c| *c == '"' || *c == '\'');
            if q.is_some() {
                j += 1;
            }
            let start = j;
            while j < chars.len() && (chars[j].is_ascii_alphanumeric() || chars[j] == '_') {
                j += 1;
            }
            if j > start {
                let name: String = chars[start..j].iter().collect();
                if let Some(q) = q
                    && chars.get(j) == Some(&q)
                {
                    j += 1;
                }
                out.push((name, q.is_some(), chomp));
                i = j;
                continue;
            }
        }
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn continuations_and_comments() {
        let text = "# syntax=docker/dockerfile:1\n\nFROM busybox\n# a comment\nRUN echo a \\\n  # inner comment\n\n  && echo b\nCMD [\"sh\"]";
        let l = lex(text, "Dockerfile").unwrap();
        assert_eq!(l.lines.len(), 3);
        assert_eq!(l.lines[1].keyword, "RUN");
        assert_eq!(l.lines[1].rest, "echo a   && echo b");
        assert_eq!(l.lines[1].line, 5);
        assert_eq!(l.lines[2].line, 9);
    }

    #[test]
    fn escape_directive() {
        let l = lex("# escape=`\nFROM x\nRUN a `\n b\\", "Dockerfile").unwrap();
        assert_eq!(l.escape, '`');
        assert_eq!(l.lines[1].rest, "a  b\\");
        assert!(lex("# escape=x\nFROM x", "Dockerfile").is_err());
    }

    #[test]
    fn directives_only_at_top() {
        let l = lex("FROM x\n# escape=`\nRUN a \\\n b", "Dockerfile").unwrap();
        assert_eq!(l.escape, '\\');
        assert_eq!(l.lines[1].rest, "a  b");
    }

    #[test]
    fn heredocs() {
        let text =
            "FROM x\nRUN <<EOF\necho $A\nEOF\nCOPY <<-'A' <<B /dst/\n\tone\n\tA\ntwo\nB\nCMD x";
        let l = lex(text, "Dockerfile").unwrap();
        assert_eq!(l.lines.len(), 4);
        assert_eq!(l.lines[1].heredocs[0].content, "echo $A\n");
        assert!(l.lines[1].heredocs[0].expand);
        let c = &l.lines[2].heredocs;
        assert_eq!(c[0].name, "A");
        assert_eq!(c[0].content, "one\n");
        assert!(!c[0].expand && c[0].chomp);
        assert_eq!(c[1].content, "two\n");
        assert_eq!(l.lines[3].line, 10);
        let err = lex("FROM x\nRUN <<EOF\necho\n", "Dockerfile")
            .err()
            .unwrap();
        assert_eq!(err.line, 2);
    }

    #[test]
    fn markers_ignore_quotes() {
        assert!(heredoc_markers("echo '<<EOF'", '\\').is_empty());
        assert_eq!(
            heredoc_markers("cat <<EOF > /x", '\\'),
            [("EOF".to_string(), false, false)]
        );
        assert!(heredoc_markers("echo a <<< b", '\\').is_empty());
    }
}
