//! Writing command-line words into a unit file so that systemd reads them back as they were
//! (systemd.service(5), "Command lines"), as podman's generator does.

/// One word for an `ExecStart=`-style line: `$` and `%` doubled (systemd would expand them), then
/// a word with blanks or quotes quoted as Go's `strconv.Quote` does (systemd's C-style escapes are
/// the same), or else its backslashes doubled.
pub fn systemd_arg(arg: &str) -> String {
    let arg = arg.replace('$', "$$").replace('%', "%%");
    if arg.contains([' ', '\t', '"']) {
        quote(&arg)
    } else {
        arg.replace('\\', "\\\\")
    }
}

/// `words`, each escaped with [`systemd_arg`].
pub fn systemd_args(words: &[String]) -> Vec<String> {
    words.iter().map(|w| systemd_arg(w)).collect()
}

/// A double-quoted string with `\`, `"` and control characters escaped (Go's `strconv.Quote` for
/// printable text).
fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x20 || c == '\x7f' => out.push_str(&format!("\\x{:02x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Words joined podman's way: every word that starts with `-` begins a continued line
/// (`" \\\n\t"`), the others follow on the same line.
pub fn continued_lines(words: &[String]) -> String {
    let mut out = String::new();
    for (i, w) in words.iter().enumerate() {
        if i > 0 {
            out.push_str(if w.starts_with('-') { " \\\n\t" } else { " " });
        }
        out.push_str(w);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_as_podman() {
        // podman's own cases (pkg/systemd/generate: special characters, env values).
        assert_eq!(
            systemd_arg("kill $$ && echo %\\"),
            "\"kill $$$$ && echo %%\\\\\""
        );
        assert_eq!(systemd_arg("BAR=my test"), "\"BAR=my test\"");
        assert_eq!(systemd_arg("USER=%a"), "USER=%%a");
        assert_eq!(systemd_arg("a\\b"), "a\\\\b");
        assert_eq!(
            systemd_arg("foo=arg \"with \" space"),
            "\"foo=arg \\\"with \\\" space\""
        );
        assert_eq!(systemd_arg("plain"), "plain");
    }

    #[test]
    fn flags_start_continued_lines() {
        let w: Vec<String> = ["/bin/roost", "run", "--rm", "-d", "busybox", "top"]
            .map(String::from)
            .to_vec();
        assert_eq!(
            continued_lines(&w),
            "/bin/roost run \\\n\t--rm \\\n\t-d busybox top"
        );
    }
}
