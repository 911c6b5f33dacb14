//! The k8s-file log format podman writes: one line per chunk,
//! `2024-01-02T03:04:05.123456789Z stdout F the text` (`P` marks a partial line continued by the next).
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::engine::EngineError;

/// `--log-opt` settings, kept in the container's spec.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogOptions {
    /// `max-size`: rotate the log once it would grow past this many bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_size: Option<u64>,
    /// `path`: write the log here instead of the container's `ctr.log`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<PathBuf>,
    /// `tag`: accepted for podman compatibility; the k8s-file format has no place for it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
}

/// Parse `--log-opt` values (`max-size=10mb`, `path=/abs/file`, `tag=web`).
pub fn parse_log_opts(opts: &[String]) -> Result<LogOptions, EngineError> {
    let mut out = LogOptions::default();
    for o in opts {
        let (k, v) = o
            .split_once('=')
            .ok_or_else(|| super::FlagError::LogOptSyntax(o.clone()))?;
        match k {
            "max-size" => out.max_size = parse_max_size(v)?,
            "path" => {
                let p = PathBuf::from(v);
                if !p.is_absolute() {
                    return Err(super::FlagError::LogPath(o.clone()).into());
                }
                out.path = Some(p);
            }
            "tag" => out.tag = Some(v.to_string()),
            _ => {
                return Err(super::FlagError::LogOptKey(k.to_string()).into());
            }
        }
    }
    Ok(out)
}

/// `max-size` as podman reads it (go-units `FromHumanSize`): a number, an optional unit
/// `k`/`m`/`g`/`t`/`p` (decimal: 1k = 1000), an optional `i` and `b`, any case; `-1` means no limit.
pub fn parse_max_size(s: &str) -> Result<Option<u64>, EngineError> {
    let bad = || EngineError::from(super::FlagError::MaxSize(s.to_string()));
    let t = s.trim();
    if t == "-1" {
        return Ok(None);
    }
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let num: f64 = num.parse().map_err(|_| bad())?;
    let unit = unit.trim_start().to_ascii_lowercase();
    let unit = unit.strip_suffix('b').unwrap_or(&unit);
    let unit = unit.strip_suffix('i').unwrap_or(unit);
    let mult: f64 = match unit {
        "" => 1.0,
        "k" => 1e3,
        "m" => 1e6,
        "g" => 1e9,
        "t" => 1e12,
        "p" => 1e15,
        _ => return Err(bad()),
    };
    let bytes = (num * mult) as u64;
    if bytes == 0 {
        return Err(bad());
    }
    Ok(Some(bytes))
}

/// The rotated log next to `path` (`ctr.log` → `ctr.log.1`).
pub fn rotated_path(path: &Path) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(".1");
    PathBuf::from(s)
}

/// The log file, rotated at record boundaries when `max_size` is set.
///
/// conmon truncates the file and starts over once it reaches the limit, which loses every line at
/// once; we keep one generation instead: when a record would take the file past `max_size`, the file
/// is renamed to `<path>.1` (replacing the previous one) and a new file is started, so the log never
/// takes more than about twice `max_size`. A record larger than `max_size` goes into a file alone.
/// `LogWriter` hands over each record in one `write_all`, which this `write` consumes whole.
pub struct LogFile {
    path: PathBuf,
    max_size: Option<u64>,
    size: u64,
    out: std::io::BufWriter<File>,
}

impl LogFile {
    pub fn open(path: &Path, max_size: Option<u64>) -> std::io::Result<LogFile> {
        let file = Self::append(path)?;
        let size = file.metadata()?.len();
        Ok(LogFile {
            path: path.to_path_buf(),
            max_size,
            size,
            out: std::io::BufWriter::new(file),
        })
    }

    fn append(path: &Path) -> std::io::Result<File> {
        use std::os::unix::fs::OpenOptionsExt;
        // Private: the log holds whatever the container prints (tokens, passwords).
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(path)
    }

    fn rotate(&mut self) -> std::io::Result<()> {
        self.out.flush()?;
        std::fs::rename(&self.path, rotated_path(&self.path))?;
        self.out = std::io::BufWriter::new(Self::append(&self.path)?);
        self.size = 0;
        Ok(())
    }
}

impl Write for LogFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let len = buf.len() as u64;
        if self
            .max_size
            .is_some_and(|max| self.size > 0 && self.size + len > max)
        {
            self.rotate()?;
        }
        self.out.write_all(buf)?;
        self.size += len;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.out.flush()
    }
}

/// One parsed log record.
#[derive(Debug, Clone, PartialEq)]
pub struct LogLine {
    pub time: Timestamp,
    pub stderr: bool,
    /// Whether the line ends here (F) or continues in the next record (P).
    pub full: bool,
    pub text: String,
}

/// Where a container's log records go: a k8s-file log ([`K8sFile`]), the journal
/// (`journal_log::JournalLog`), or nowhere ([`Discard`]).
pub trait Records {
    /// One record: a whole line of the container's stdout or stderr (`full`), or a piece of one.
    fn record(&mut self, stderr: bool, full: bool, text: &[u8]) -> std::io::Result<()>;
    fn flush(&mut self) -> std::io::Result<()>;
}

impl Records for Box<dyn Records> {
    fn record(&mut self, stderr: bool, full: bool, text: &[u8]) -> std::io::Result<()> {
        (**self).record(stderr, full, text)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        (**self).flush()
    }
}

/// k8s-file records written to `W`.
pub struct K8sFile<W: Write>(pub W);

impl<W: Write> Records for K8sFile<W> {
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
        self.0.write_all(&line)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}

/// No log (`--log-driver none` and `passthrough`).
pub struct Discard;

impl Records for Discard {
    fn record(&mut self, _: bool, _: bool, _: &[u8]) -> std::io::Result<()> {
        Ok(())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Cut the container's output into records (lines, or pieces of at most 16 KiB of a longer one); a
/// trailing piece without a newline is kept in `pending` until more arrives (or `flush` writes it
/// as partial).
pub struct LogWriter<R: Records> {
    out: R,
    pending: [Vec<u8>; 2],
}

#[cfg(test)]
impl<W: Write> LogWriter<K8sFile<W>> {
    /// A k8s-file log on `out`.
    pub fn new(out: W) -> Self {
        LogWriter::with(K8sFile(out))
    }
}

impl<R: Records> LogWriter<R> {
    pub fn with(out: R) -> Self {
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
            self.out.record(stderr, true, &line[..line.len() - 1])?;
        }
        if self.pending[i].len() > 16 * 1024 {
            let chunk = std::mem::take(&mut self.pending[i]);
            self.out.record(stderr, false, &chunk)?;
        }
        Ok(())
    }

    /// Push complete records out (partial lines stay pending).
    pub fn flush_complete(&mut self) -> std::io::Result<()> {
        self.out.flush()
    }

    /// Write out partial lines (at the end of the stream).
    pub fn flush(&mut self) -> std::io::Result<()> {
        for stderr in [false, true] {
            let chunk = std::mem::take(&mut self.pending[usize::from(stderr)]);
            if !chunk.is_empty() {
                self.out.record(stderr, false, &chunk)?;
            }
        }
        self.out.flush()
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
    fn max_size_parses_like_podman() {
        for (input, want) in [
            ("10mb", Some(10_000_000)),
            ("10MB", Some(10_000_000)),
            ("10m", Some(10_000_000)),
            ("1k", Some(1000)),
            ("1kb", Some(1000)),
            ("1KiB", Some(1000)),
            ("1.5k", Some(1500)),
            ("2 g", Some(2_000_000_000)),
            ("4096", Some(4096)),
            ("4096b", Some(4096)),
            ("-1", None),
        ] {
            assert_eq!(parse_max_size(input).unwrap(), want, "{input}");
        }
        for bad in ["", "mb", "10x", "0", "10mbb", "-5", "1.2.3k"] {
            assert!(parse_max_size(bad).is_err(), "{bad} should fail");
        }
    }

    #[test]
    fn log_opts_parse() {
        let o = parse_log_opts(&[
            "max-size=1k".into(),
            "path=/tmp/x.log".into(),
            "tag=web".into(),
        ])
        .unwrap();
        assert_eq!(o.max_size, Some(1000));
        assert_eq!(o.path.as_deref(), Some(Path::new("/tmp/x.log")));
        assert_eq!(o.tag.as_deref(), Some("web"));
        assert!(parse_log_opts(&["path=rel.log".into()]).is_err());
        assert!(parse_log_opts(&["max-file=3".into()]).is_err());
        assert!(parse_log_opts(&["max-size".into()]).is_err());
    }

    #[test]
    fn rotation_keeps_one_generation() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ctr.log");
        let mut w = LogWriter::new(LogFile::open(&path, Some(200)).unwrap());
        for i in 0..20 {
            w.write(false, format!("line {i:02}\n").as_bytes()).unwrap();
        }
        w.flush().unwrap();
        let read = |p: &Path| -> Vec<String> {
            std::fs::read_to_string(p)
                .unwrap()
                .lines()
                .map(|l| parse_line(l).unwrap().text)
                .collect()
        };
        let old = read(&rotated_path(&path));
        let new = read(&path);
        assert!(std::fs::metadata(&path).unwrap().len() <= 200);
        assert!(std::fs::metadata(rotated_path(&path)).unwrap().len() <= 200);
        assert!(!new.is_empty() && !old.is_empty());
        // The newest lines survive, in order, across the two files.
        let all: Vec<String> = old.into_iter().chain(new).collect();
        let want: Vec<String> = (20 - all.len()..20)
            .map(|i| format!("line {i:02}"))
            .collect();
        assert_eq!(all, want);
        assert!(all.len() < 20, "something was rotated away");
    }

    #[test]
    fn oversized_record_goes_alone() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ctr.log");
        let mut f = LogFile::open(&path, Some(10)).unwrap();
        f.write_all(b"0123456789abcdef\n").unwrap();
        f.write_all(b"x\n").unwrap();
        f.flush().unwrap();
        assert_eq!(
            std::fs::read(rotated_path(&path)).unwrap(),
            b"0123456789abcdef\n"
        );
        assert_eq!(std::fs::read(&path).unwrap(), b"x\n");
        // Reopening appends and counts what is already there.
        let mut f = LogFile::open(&path, Some(10)).unwrap();
        f.write_all(b"yyyyyyyyy\n").unwrap();
        f.flush().unwrap();
        assert_eq!(std::fs::read(rotated_path(&path)).unwrap(), b"x\n");
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
