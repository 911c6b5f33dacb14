//! The k8s-file log format podman writes: one line per chunk,
//! `2024-01-02T03:04:05.123456789Z stdout F the text` (`P` marks a partial line continued by the next).
use std::io::Write;

use jiff::Timestamp;

/// One parsed log record.
#[derive(Debug, Clone, PartialEq)]
pub struct LogLine {
    pub time: Timestamp,
    pub stderr: bool,
    /// Whether the line ends here (F) or continues in the next record (P).
    pub full: bool,
    pub text: String,
}

/// Append the lines of `data` to a k8s-file log; a trailing piece without a newline is kept in
/// `pending` until more arrives (or `flush` writes it as partial).
pub struct LogWriter<W: Write> {
    out: W,
    pending: [Vec<u8>; 2],
}

impl<W: Write> LogWriter<W> {
    pub fn new(out: W) -> Self {
        LogWriter {
            out,
            pending: [Vec::new(), Vec::new()],
        }
    }

    pub fn write(&mut self, stderr: bool, data: &[u8]) -> std::io::Result<()> {
        let i = usize::from(stderr);
        self.pending[i].extend_from_slice(data);
        while let Some(pos) = self.pending[i].iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = self.pending[i].drain(..=pos).collect();
            self.record(stderr, true, &line[..line.len() - 1])?;
        }
        if self.pending[i].len() > 16 * 1024 {
            let chunk = std::mem::take(&mut self.pending[i]);
            self.record(stderr, false, &chunk)?;
        }
        Ok(())
    }

    /// Push complete records to the file (partial lines stay pending).
    pub fn flush_complete(&mut self) -> std::io::Result<()> {
        self.out.flush()
    }

    /// Write out partial lines (at the end of the stream).
    pub fn flush(&mut self) -> std::io::Result<()> {
        for stderr in [false, true] {
            let chunk = std::mem::take(&mut self.pending[usize::from(stderr)]);
            if !chunk.is_empty() {
                self.record(stderr, false, &chunk)?;
            }
        }
        self.out.flush()
    }

    fn record(&mut self, stderr: bool, full: bool, text: &[u8]) -> std::io::Result<()> {
        let mut line = format!(
            "{} {} {} ",
            crate::engine::container::logs::rfc3339_nano(Timestamp::now()),
            if stderr { "stderr" } else { "stdout" },
            if full { "F" } else { "P" }
        )
        .into_bytes();
        line.extend_from_slice(text);
        line.push(b'\n');
        self.out.write_all(&line)
    }
}

/// RFC 3339 with nanoseconds, as podman's logs use.
pub fn rfc3339_nano(t: Timestamp) -> String {
    format!("{t:.9}")
}

/// Parse one k8s-file line.
pub fn parse_line(line: &str) -> Option<LogLine> {
    let mut it = line.splitn(4, ' ');
    let time = it.next()?.parse().ok()?;
    let stderr = match it.next()? {
        "stdout" => false,
        "stderr" => true,
        _ => return None,
    };
    let full = it.next()? != "P";
    Some(LogLine {
        time,
        stderr,
        full,
        text: it.next().unwrap_or("").to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_with_partial_lines() {
        let mut buf = Vec::new();
        {
            let mut w = LogWriter::new(&mut buf);
            w.write(false, b"hel").unwrap();
            w.write(false, b"lo\nwor").unwrap();
            w.write(true, b"oops\n").unwrap();
            w.flush().unwrap();
        }
        let text = String::from_utf8(buf).unwrap();
        let lines: Vec<LogLine> = text.lines().map(|l| parse_line(l).unwrap()).collect();
        assert_eq!(lines.len(), 3);
        assert_eq!(
            (lines[0].stderr, lines[0].full, lines[0].text.as_str()),
            (false, true, "hello")
        );
        assert_eq!(
            (lines[1].stderr, lines[1].full, lines[1].text.as_str()),
            (true, true, "oops")
        );
        assert_eq!(
            (lines[2].stderr, lines[2].full, lines[2].text.as_str()),
            (false, false, "wor")
        );
        assert!(text.lines().next().unwrap().contains("Z stdout F hello"));
    }

    #[test]
    fn bad_lines_are_skipped() {
        assert!(parse_line("garbage").is_none());
        assert!(parse_line("2024-01-02T03:04:05Z weird F x").is_none());
        assert_eq!(
            parse_line("2024-01-02T03:04:05Z stdout F a b c")
                .unwrap()
                .text,
            "a b c"
        );
    }
}
