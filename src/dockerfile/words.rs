//! Docker's word processing: quotes, the escape character and variable substitution (`$VAR`,
//! `${VAR}`, `${VAR:-default}`, `${VAR-default}`, `${VAR:+alt}`, `${VAR+alt}`, `${VAR:?msg}`), as the
//! builder applies it to ENV, LABEL, COPY, WORKDIR and the other instructions that expand variables.
//! RUN, CMD and ENTRYPOINT are left to the shell.

/// The most an expansion may produce, all its words together (docker has no limit; a variable that
/// doubles itself line after line would otherwise take all memory).
pub const MAX_WORD: usize = 1 << 20;

/// How deeply `${A:-${B:-…}}` may nest.
pub const MAX_NESTING: usize = 32;

/// Why a word could not be expanded. Inputs are quoted shortened and escaped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WordError {
    #[error("expanding `{input}` makes more than {limit} bytes", limit = MAX_WORD)]
    TooLong { input: String },
    #[error("substitutions nested more than {limit} deep in `{input}`", limit = MAX_NESTING)]
    TooDeep { input: String },
    #[error("missing `}}` in `{0}`")]
    Unclosed(String),
    #[error("unterminated quote in `{0}`")]
    Quote(String),
    #[error("bad substitution `{0}`")]
    BadSubstitution(String),
    #[error("{name}: {message}")]
    Required { name: String, message: String },
}

/// Variable lookup for expansion.
pub trait Vars {
    fn get(&self, name: &str) -> Option<String>;
}

impl<F: Fn(&str) -> Option<String>> Vars for F {
    fn get(&self, name: &str) -> Option<String> {
        self(name)
    }
}

/// Expand one word: quotes removed, variables substituted, whitespace kept.
pub fn expand(input: &str, escape: char, vars: &dyn Vars) -> Result<String, WordError> {
    expand_nested(input, escape, vars, 0)
}

fn expand_nested(
    input: &str,
    escape: char,
    vars: &dyn Vars,
    depth: usize,
) -> Result<String, WordError> {
    let mut p = Processor::new(input, escape, vars, false);
    p.depth = depth;
    p.run()?;
    Ok(p.words.pop().unwrap_or_default())
}

/// Expand and split into words on unquoted whitespace (also inside unquoted substitutions).
pub fn expand_words(input: &str, escape: char, vars: &dyn Vars) -> Result<Vec<String>, WordError> {
    let mut p = Processor::new(input, escape, vars, true);
    p.run()?;
    Ok(p.words)
}

/// Split into words on unquoted whitespace, keeping quotes and escapes as written (for `ENV a="b c"`
/// pairs, expanded later one by one).
pub fn split_raw(input: &str, escape: char) -> Vec<String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut quote: Option<char> = None;
    let mut chars = input.chars();
    let mut in_word = false;
    while let Some(c) = chars.next() {
        match quote {
            Some(q) => {
                cur.push(c);
                if c == escape && q == '"' {
                    if let Some(n) = chars.next() {
                        cur.push(n);
                    }
                } else if c == q {
                    quote = None;
                }
            }
            None if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            None => {
                in_word = true;
                cur.push(c);
                if c == escape {
                    if let Some(n) = chars.next() {
                        cur.push(n);
                    }
                } else if c == '"' || c == '\'' {
                    quote = Some(c);
                }
            }
        }
    }
    if in_word {
        words.push(cur);
    }
    words
}

struct Processor<'a> {
    chars: Vec<char>,
    pos: usize,
    escape: char,
    vars: &'a dyn Vars,
    split: bool,
    words: Vec<String>,
    /// Whether the current word has started (an empty quoted string still makes a word).
    started: bool,
    input: &'a str,
    /// How many `${…}` operands this expansion is inside.
    depth: usize,
    /// Bytes in `words` so far.
    total: usize,
}

impl<'a> Processor<'a> {
    fn new(input: &'a str, escape: char, vars: &'a dyn Vars, split: bool) -> Self {
        Processor {
            chars: input.chars().collect(),
            pos: 0,
            escape,
            vars,
            split,
            words: Vec::new(),
            started: false,
            input,
            depth: 0,
            total: 0,
        }
    }

    /// The input, shortened and escaped for an error message.
    fn quoted(&self) -> String {
        crate::oci::printable(self.input, crate::oci::QUOTE_LIMIT)
    }

    fn push(&mut self, c: char) -> Result<(), WordError> {
        if !self.started {
            self.words.push(String::new());
            self.started = true;
        }
        self.total += c.len_utf8();
        if self.total > MAX_WORD {
            return Err(WordError::TooLong {
                input: self.quoted(),
            });
        }
        self.words.last_mut().expect("started").push(c);
        Ok(())
    }

    fn start_word(&mut self) {
        if !self.started {
            self.words.push(String::new());
            self.started = true;
        }
    }

    fn push_unquoted(&mut self, s: &str) -> Result<(), WordError> {
        for c in s.chars() {
            if self.split && c.is_whitespace() {
                self.started = false;
            } else {
                self.push(c)?;
            }
        }
        Ok(())
    }

    fn run(&mut self) -> Result<(), WordError> {
        if !self.split {
            self.start_word();
        }
        while let Some(&c) = self.chars.get(self.pos) {
            self.pos += 1;
            if c == self.escape {
                match self.chars.get(self.pos) {
                    Some(&n) => {
                        self.pos += 1;
                        self.push(n)?;
                    }
                    None => self.push(c)?,
                }
            } else if c == '\'' {
                self.start_word();
                self.single_quoted()?;
            } else if c == '"' {
                self.start_word();
                self.double_quoted()?;
            } else if c == '$' {
                let v = self.dollar()?;
                self.push_unquoted(&v)?;
            } else if self.split && c.is_whitespace() {
                self.started = false;
            } else {
                self.push(c)?;
            }
        }
        Ok(())
    }

    fn single_quoted(&mut self) -> Result<(), WordError> {
        loop {
            match self.chars.get(self.pos) {
                None => return Err(WordError::Quote(self.quoted())),
                Some('\'') => {
                    self.pos += 1;
                    return Ok(());
                }
                Some(&c) => {
                    self.pos += 1;
                    self.push(c)?;
                }
            }
        }
    }

    fn double_quoted(&mut self) -> Result<(), WordError> {
        loop {
            let Some(&c) = self.chars.get(self.pos) else {
                return Err(WordError::Quote(self.quoted()));
            };
            self.pos += 1;
            if c == '"' {
                return Ok(());
            } else if c == self.escape {
                match self.chars.get(self.pos) {
                    Some(&n) if n == '"' || n == '$' || n == self.escape => {
                        self.pos += 1;
                        self.push(n)?;
                    }
                    _ => self.push(c)?,
                }
            } else if c == '$' {
                let v = self.dollar()?;
                for ch in v.chars() {
                    self.push(ch)?;
                }
            } else {
                self.push(c)?;
            }
        }
    }

    fn name_char(c: char, first: bool) -> bool {
        c == '_' || c.is_ascii_alphabetic() || (!first && c.is_ascii_digit())
    }

    /// After a `$`: the substitution's value (a lone `$` stays literal).
    fn dollar(&mut self) -> Result<String, WordError> {
        match self.chars.get(self.pos) {
            Some('{') => {
                self.pos += 1;
                self.braced()
            }
            Some(&c) if Self::name_char(c, true) => {
                let start = self.pos;
                while self
                    .chars
                    .get(self.pos)
                    .is_some_and(|&c| Self::name_char(c, false))
                {
                    self.pos += 1;
                }
                let name: String = self.chars[start..self.pos].iter().collect();
                Ok(self.vars.get(&name).unwrap_or_default())
            }
            _ => Ok("$".to_string()),
        }
    }

    fn braced(&mut self) -> Result<String, WordError> {
        let start = self.pos;
        while self
            .chars
            .get(self.pos)
            .is_some_and(|&c| Self::name_char(c, self.pos == start))
        {
            self.pos += 1;
        }
        let name: String = self.chars[start..self.pos].iter().collect();
        if name.is_empty() {
            return Err(WordError::BadSubstitution(self.quoted()));
        }
        let value = self.vars.get(&name);
        match self.chars.get(self.pos) {
            Some('}') => {
                self.pos += 1;
                Ok(value.unwrap_or_default())
            }
            Some(':') | Some('-') | Some('+') | Some('?') => {
                let colon = self.chars[self.pos] == ':';
                if colon {
                    self.pos += 1;
                }
                let op = *self
                    .chars
                    .get(self.pos)
                    .ok_or_else(|| WordError::Unclosed(self.quoted()))?;
                if !matches!(op, '-' | '+' | '?') {
                    return Err(WordError::BadSubstitution(self.quoted()));
                }
                self.pos += 1;
                let word = self.until_close()?;
                let set = match &value {
                    Some(v) => !colon || !v.is_empty(),
                    None => false,
                };
                if self.depth >= MAX_NESTING {
                    return Err(WordError::TooDeep {
                        input: self.quoted(),
                    });
                }
                let inner = || expand_nested(&word, self.escape, self.vars, self.depth + 1);
                match op {
                    '-' if set => Ok(value.unwrap_or_default()),
                    '-' => inner(),
                    '+' if set => inner(),
                    '+' => Ok(String::new()),
                    _ if set => Ok(value.unwrap_or_default()),
                    _ => Err(WordError::Required {
                        name,
                        message: if word.is_empty() {
                            "parameter not set".into()
                        } else {
                            crate::oci::printable(&inner()?, crate::oci::QUOTE_LIMIT)
                        },
                    }),
                }
            }
            None => Err(WordError::Unclosed(self.quoted())),
            Some(_) => Err(WordError::BadSubstitution(self.quoted())),
        }
    }

    /// The raw text up to the matching `}` (nested `${…}` included).
    fn until_close(&mut self) -> Result<String, WordError> {
        let mut depth = 0;
        let mut out = String::new();
        while let Some(&c) = self.chars.get(self.pos) {
            self.pos += 1;
            if c == self.escape {
                out.push(c);
                if let Some(&n) = self.chars.get(self.pos) {
                    self.pos += 1;
                    out.push(n);
                }
                continue;
            }
            if c == '{' {
                depth += 1;
            } else if c == '}' {
                if depth == 0 {
                    return Ok(out);
                }
                depth -= 1;
            }
            out.push(c);
        }
        Err(WordError::Unclosed(self.quoted()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(name: &str) -> Option<String> {
        match name {
            "A" => Some("alpha".into()),
            "EMPTY" => Some(String::new()),
            "SP" => Some("x y".into()),
            _ => None,
        }
    }

    fn ex(s: &str) -> String {
        expand(s, '\\', &vars).unwrap()
    }

    #[test]
    fn substitutes() {
        let cases = [
            ("$A", "alpha"),
            ("${A}", "alpha"),
            ("pre${A}post", "prealphapost"),
            ("$Apost", ""),
            ("$NOPE", ""),
            ("${NOPE:-def}", "def"),
            ("${EMPTY:-def}", "def"),
            ("${EMPTY-def}", ""),
            ("${NOPE-def}", "def"),
            ("${A:-def}", "alpha"),
            ("${A:+alt}", "alt"),
            ("${EMPTY:+alt}", ""),
            ("${EMPTY+alt}", "alt"),
            ("${NOPE:+alt}", ""),
            ("${NOPE:-${A}x}", "alphax"),
            ("a$", "a$"),
            ("$1", "$1"),
            ("\\$A", "$A"),
            ("'$A'", "$A"),
            ("\"$A b\"", "alpha b"),
            ("\"\\$A\"", "$A"),
            ("\"a\\nb\"", "a\\nb"),
            ("a\\ b", "a b"),
        ];
        for (input, want) in cases {
            assert_eq!(ex(input), want, "{input}");
        }
    }

    #[test]
    fn errors() {
        assert!(matches!(
            expand("${A", '\\', &vars),
            Err(WordError::BadSubstitution(_) | WordError::Unclosed(_))
        ));
        assert!(matches!(
            expand("'abc", '\\', &vars),
            Err(WordError::Quote(_))
        ));
        assert!(matches!(
            expand("${NOPE:?must be set}", '\\', &vars),
            Err(WordError::Required { .. })
        ));
        assert!(matches!(
            expand("${}", '\\', &vars),
            Err(WordError::BadSubstitution(_))
        ));
    }

    #[test]
    fn splits_words() {
        let w = expand_words("a \"b c\" $SP '' d\\ e", '\\', &vars).unwrap();
        assert_eq!(w, ["a", "b c", "x", "y", "", "d e"]);
        assert_eq!(
            expand_words("  ", '\\', &vars).unwrap(),
            Vec::<String>::new()
        );
    }

    #[test]
    fn backtick_escape() {
        assert_eq!(expand("c:`$A", '`', &vars).unwrap(), "c:$A");
        assert_eq!(expand("c:\\$A", '`', &vars).unwrap(), "c:\\alpha");
    }

    #[test]
    fn raw_split_keeps_quotes() {
        assert_eq!(
            split_raw("a=\"b c\" d='e f' g=h\\ i", '\\'),
            ["a=\"b c\"", "d='e f'", "g=h\\ i"]
        );
    }

    mod properties {
        use proptest::prelude::*;

        use super::super::*;

        fn wordish() -> impl Strategy<Value = String> {
            let token = prop_oneof![
                Just("$A".to_string()),
                Just("${A}".to_string()),
                Just("$B".to_string()),
                Just("${A:-".to_string()),
                Just("${A-".to_string()),
                Just("${B:+".to_string()),
                Just("${A:?".to_string()),
                Just("}".to_string()),
                Just("{".to_string()),
                Just("\"".to_string()),
                Just("'".to_string()),
                Just("\\".to_string()),
                Just("`".to_string()),
                Just(" ".to_string()),
                Just("$".to_string()),
                Just("${".to_string()),
                Just("${:".to_string()),
                "[ -~]{0,6}",
                "\\PC{0,3}",
            ];
            proptest::collection::vec(token, 0..50).prop_map(|t| t.concat())
        }

        /// `A` is large, so that expansions can hit the cap.
        fn vars(name: &str) -> Option<String> {
            match name {
                "A" => Some("a b ".repeat(MAX_WORD / 16)),
                "B" => Some(String::new()),
                _ => None,
            }
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(256))]

            /// Expansion never panics, never exceeds its cap, and quotes its input shortened.
            #[test]
            fn expansion_is_bounded(input in prop_oneof![wordish(), "\\PC{0,200}"], escape in prop_oneof![Just('\\'), Just('`')]) {
                match expand(&input, escape, &vars) {
                    Ok(w) => prop_assert!(w.len() <= MAX_WORD),
                    Err(e) => prop_assert!(e.to_string().len() < 2 * MAX_WORD.min(2000), "{}", e.to_string().len()),
                }
                if let Ok(ws) = expand_words(&input, escape, &vars) {
                    prop_assert!(ws.iter().map(String::len).sum::<usize>() <= MAX_WORD);
                }
                let _ = split_raw(&input, escape);
            }
        }
    }

    #[test]
    fn doubling_and_nesting_are_capped() {
        let mut a = "x".repeat(64);
        let mut err = None;
        for _ in 0..24 {
            match expand("$A$A", '\\', &|n: &str| (n == "A").then(|| a.clone())) {
                Ok(v) => a = v,
                Err(e) => {
                    err = Some(e);
                    break;
                }
            }
        }
        assert_eq!(a.len(), MAX_WORD);
        assert!(matches!(err, Some(WordError::TooLong { .. })), "{err:?}");
        let deep = format!("{}x{}", "${A:-".repeat(1000), "}".repeat(1000));
        assert!(matches!(
            expand(&deep, '\\', &|_: &str| None),
            Err(WordError::TooDeep { .. })
        ));
        let ok = format!(
            "{}x{}",
            "${A:-".repeat(MAX_NESTING),
            "}".repeat(MAX_NESTING)
        );
        assert_eq!(expand(&ok, '\\', &|_: &str| None).unwrap(), "x");
    }
}
