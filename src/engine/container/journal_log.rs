//! `--log-driver journald`: each record of the container's output is a journal entry with podman's
//! (conmon's) fields, and `logs` reads them back.
//!
//! Reading goes through `journalctl -o json`, as the events' journald backend does: podman links
//! sd-journal, but the journal's file format (hash tables, compressed objects, several files per
//! user and rotation) is systemd's to read, and journalctl is there wherever a journal is.
//! Entries are looked up by `CONTAINER_ID_FULL`, in the journal files the user may read (their own
//! user journal, plus the system's for root or members of `systemd-journal`).
use std::io::Read;
use std::os::unix::net::UnixDatagram;
use std::process::{Child, Command, Stdio};

use jiff::Timestamp;

use super::Container;
use super::logs::{LogLine, Records};

/// `--log-driver`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Driver {
    /// `k8s-file` (and its alias `json-file`): the container's `ctr.log`.
    K8sFile,
    Journald,
    /// The container's stdout and stderr are those of the command that started it (a unit's).
    Passthrough,
    None,
}

impl Driver {
    pub fn parse(s: &str) -> Option<Driver> {
        match s {
            "k8s-file" | "json-file" => Some(Driver::K8sFile),
            "journald" => Some(Driver::Journald),
            "passthrough" => Some(Driver::Passthrough),
            "none" => Some(Driver::None),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Driver::K8sFile => "k8s-file",
            Driver::Journald => "journald",
            Driver::Passthrough => "passthrough",
            Driver::None => "none",
        }
    }

    /// The driver of `c` (older records: k8s-file).
    pub fn of(c: &Container) -> Driver {
        Driver::parse(&c.spec.log_driver).unwrap_or(Driver::K8sFile)
    }
}

/// Whether the journal takes entries here (its socket accepts a connection).
pub fn journal_available() -> bool {
    crate::sys::journal::connect().is_ok()
}

#[derive(Debug, thiserror::Error)]
pub enum JournalLogError {
    #[error(
        "container `{0}` uses the passthrough log driver: its output went to the stdout and stderr of \
         the command that started it, not to a log"
    )]
    Passthrough(String),
    #[error("failed to read the log of `{name}` from the journal with journalctl")]
    Journalctl {
        name: String,
        #[source]
        source: std::io::Error,
    },
    #[error("journalctl failed reading the log of `{name}`: {message}")]
    JournalctlFailed { name: String, message: String },
}

impl JournalLogError {
    pub fn hint(&self) -> Option<String> {
        match self {
            JournalLogError::Passthrough(_) => Some(
                "read the journal of the unit that runs it (`journalctl --user -u UNIT`)".into(),
            ),
            JournalLogError::Journalctl { .. } => {
                Some("install journalctl (systemd), which reads the journal".into())
            }
            JournalLogError::JournalctlFailed { .. } => None,
        }
    }
}

/// The journal as a container's log: one entry per record.
pub struct JournalLog {
    sock: UnixDatagram,
    /// The fields every entry of this container has.
    head: Vec<(&'static str, String)>,
}

/// The fields every entry of a container's log has (see [`fields`]).
pub type Head = Vec<(&'static str, String)>;

impl JournalLog {
    pub fn open(c: &Container) -> std::io::Result<JournalLog> {
        JournalLog::with(fields(c))
    }

    pub fn with(head: Head) -> std::io::Result<JournalLog> {
        Ok(JournalLog {
            sock: crate::sys::journal::connect()?,
            head,
        })
    }
}

/// conmon's fields: the container's ids and name, and its tag (`--log-opt tag=`, else the short
/// id, docker's default) as `CONTAINER_TAG` and `SYSLOG_IDENTIFIER`.
pub fn fields(c: &Container) -> Head {
    let id = &c.record.id;
    let short = id[..12.min(id.len())].to_string();
    let tag = c.spec.log_opts.tag.clone().unwrap_or_else(|| short.clone());
    vec![
        ("CONTAINER_ID", short),
        ("CONTAINER_ID_FULL", id.clone()),
        ("CONTAINER_NAME", c.record.name.clone()),
        ("CONTAINER_TAG", tag.clone()),
        ("SYSLOG_IDENTIFIER", tag),
    ]
}

/// The entry of one record: syslog priority 6 (info) for stdout, 3 (err) for stderr; a piece of a
/// longer line is marked `CONTAINER_PARTIAL_MESSAGE=true`.
fn entry(head: &[(&'static str, String)], stderr: bool, full: bool, text: &[u8]) -> Vec<u8> {
    let mut f: Vec<(&str, &[u8])> = head.iter().map(|(k, v)| (*k, v.as_bytes())).collect();
    f.push(("PRIORITY", if stderr { b"3" } else { b"6" }));
    f.push(("MESSAGE", text));
    if !full {
        f.push(("CONTAINER_PARTIAL_MESSAGE", b"true"));
    }
    crate::sys::journal::encode(&f)
}

impl Records for JournalLog {
    fn record(&mut self, stderr: bool, full: bool, text: &[u8]) -> std::io::Result<()> {
        crate::sys::journal::send(&self.sock, &entry(&self.head, stderr, full, text))
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// `journalctl` over the container's entries, as JSON, oldest first.
fn journalctl(id: &str) -> Command {
    let mut cmd = Command::new("journalctl");
    cmd.args([
        "--no-pager",
        "--quiet",
        "--output=json",
        "--output-fields=MESSAGE,PRIORITY,CONTAINER_PARTIAL_MESSAGE",
    ])
    .arg(format!("CONTAINER_ID_FULL={id}"))
    .stdin(Stdio::null())
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    cmd
}

/// A record from one `journalctl -o json` line, and the entry's cursor.
fn parse_entry(line: &str) -> Option<(LogLine, String)> {
    let v: serde_json::Value = serde_json::from_str(line).ok()?;
    let get = |k: &str| v.get(k).and_then(serde_json::Value::as_str);
    let micros: i64 = get("__REALTIME_TIMESTAMP")?.parse().ok()?;
    let text = match v.get("MESSAGE")? {
        serde_json::Value::String(s) => s.clone(),
        // Not UTF-8: journalctl gives the bytes.
        serde_json::Value::Array(bytes) => String::from_utf8_lossy(
            &bytes
                .iter()
                .filter_map(|b| b.as_u64().and_then(|b| u8::try_from(b).ok()))
                .collect::<Vec<u8>>(),
        )
        .into_owned(),
        _ => return None,
    };
    let rec = LogLine {
        time: Timestamp::from_microsecond(micros).ok()?,
        stderr: get("PRIORITY") == Some("3"),
        full: get("CONTAINER_PARTIAL_MESSAGE") != Some("true"),
        text,
    };
    Some((rec, get("__CURSOR")?.to_string()))
}

/// The container's records so far (the last `tail` of them, when given), and the last one's
/// cursor (to follow on from).
pub fn read(
    c: &Container,
    tail: Option<usize>,
    since: Option<Timestamp>,
) -> Result<(Vec<LogLine>, Option<String>), JournalLogError> {
    let mut cmd = journalctl(&c.record.id);
    if let Some(n) = tail {
        cmd.arg(format!("--lines={n}"));
    }
    if let Some(s) = since {
        // Whole seconds here; the exact bound is applied to what comes back.
        cmd.arg(format!("--since=@{}", s.as_second()));
    }
    run(c, cmd)
}

/// The records after `cursor` (all of them without one).
fn read_after(
    c: &Container,
    cursor: Option<&str>,
) -> Result<(Vec<LogLine>, Option<String>), JournalLogError> {
    let mut cmd = journalctl(&c.record.id);
    if let Some(cur) = cursor {
        cmd.arg(format!("--after-cursor={cur}"));
    }
    run(c, cmd)
}

fn run(c: &Container, mut cmd: Command) -> Result<(Vec<LogLine>, Option<String>), JournalLogError> {
    let out = cmd.output().map_err(|source| JournalLogError::Journalctl {
        name: c.record.name.clone(),
        source,
    })?;
    if !out.status.success() {
        return Err(JournalLogError::JournalctlFailed {
            name: c.record.name.clone(),
            message: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        });
    }
    let mut lines = Vec::new();
    let mut cursor = None;
    for l in String::from_utf8_lossy(&out.stdout).lines() {
        if let Some((rec, cur)) = parse_entry(l) {
            lines.push(rec);
            cursor = Some(cur);
        }
    }
    Ok((lines, cursor))
}

/// `logs -f` on the journal: a `journalctl --follow` whose output is read as it comes.
pub struct Follow {
    child: Child,
    out: std::process::ChildStdout,
    buf: Vec<u8>,
    cursor: Option<String>,
    container: Container,
}

impl Follow {
    /// Follow the container's entries after `cursor` (from [`read`]; all of them without one).
    pub fn start(c: &Container, cursor: Option<String>) -> Result<Follow, JournalLogError> {
        let mut cmd = journalctl(&c.record.id);
        cmd.arg("--follow").stderr(Stdio::null());
        match &cursor {
            Some(cur) => cmd.arg(format!("--after-cursor={cur}")),
            None => cmd.arg("--lines=all"),
        };
        let mut child = cmd.spawn().map_err(|source| JournalLogError::Journalctl {
            name: c.record.name.clone(),
            source,
        })?;
        let out = child.stdout.take().expect("stdout is piped");
        let fd = std::os::fd::AsFd::as_fd(&out);
        let flags = nix::fcntl::fcntl(fd, nix::fcntl::FcntlArg::F_GETFL)
            .map(nix::fcntl::OFlag::from_bits_truncate)
            .unwrap_or(nix::fcntl::OFlag::empty());
        let _ = nix::fcntl::fcntl(
            fd,
            nix::fcntl::FcntlArg::F_SETFL(flags | nix::fcntl::OFlag::O_NONBLOCK),
        );
        Ok(Follow {
            child,
            out,
            buf: Vec::new(),
            cursor,
            container: c.clone(),
        })
    }

    /// The records that arrived since the last call (without waiting).
    pub fn poll(&mut self) -> Vec<LogLine> {
        let mut chunk = [0u8; 16 * 1024];
        loop {
            match self.out.read(&mut chunk) {
                Ok(0) | Err(_) => break,
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
            }
        }
        let mut recs = Vec::new();
        while let Some(pos) = self.buf.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = self.buf.drain(..=pos).collect();
            if let Some((rec, cur)) = parse_entry(String::from_utf8_lossy(&line).trim_end()) {
                recs.push(rec);
                self.cursor = Some(cur);
            }
        }
        recs
    }

    /// The container stopped: what journalctl had not passed on yet, then whatever else the
    /// journal has of it.
    pub fn finish(mut self) -> Result<Vec<LogLine>, JournalLogError> {
        let mut recs = self.poll();
        let _ = self.child.kill();
        let _ = self.child.wait();
        let (rest, _) = read_after(&self.container, self.cursor.as_deref())?;
        recs.extend(rest);
        Ok(recs)
    }
}

impl Drop for Follow {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Lines of a journalctl stream (for tests of the parser).
#[cfg(test)]
fn parse_all(text: &str) -> Vec<LogLine> {
    std::io::BufRead::lines(std::io::Cursor::new(text))
        .map_while(Result::ok)
        .filter_map(|l| parse_entry(&l).map(|(r, _)| r))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_carry_podmans_fields() {
        let head = vec![
            ("CONTAINER_ID", "abcdefabcdef".to_string()),
            ("CONTAINER_NAME", "web".to_string()),
        ];
        let e = entry(&head, true, false, b"half a li");
        let text = String::from_utf8(e).unwrap();
        assert_eq!(
            text,
            "CONTAINER_ID=abcdefabcdef\nCONTAINER_NAME=web\nPRIORITY=3\nMESSAGE=half a li\n\
             CONTAINER_PARTIAL_MESSAGE=true\n"
        );
        let e = String::from_utf8(entry(&head, false, true, b"x")).unwrap();
        assert!(e.contains("PRIORITY=6\nMESSAGE=x\n"), "{e}");
        assert!(!e.contains("PARTIAL"), "{e}");
    }

    #[test]
    fn journalctl_json_reads_back_as_records() {
        let out = concat!(
            r#"{"__CURSOR":"s=1","__REALTIME_TIMESTAMP":"1764980000000001","PRIORITY":"6","MESSAGE":"out"}"#,
            "\n",
            r#"{"__CURSOR":"s=2","__REALTIME_TIMESTAMP":"1764980000000002","PRIORITY":"3","MESSAGE":[104,105],"CONTAINER_PARTIAL_MESSAGE":"true"}"#,
            "\n",
            "not json\n",
        );
        let recs = parse_all(out);
        assert_eq!(recs.len(), 2);
        assert_eq!(
            (recs[0].stderr, recs[0].full, recs[0].text.as_str()),
            (false, true, "out")
        );
        assert_eq!(
            (recs[1].stderr, recs[1].full, recs[1].text.as_str()),
            (true, false, "hi")
        );
        assert_eq!(recs[0].time.as_microsecond(), 1_764_980_000_000_001);
    }

    #[test]
    fn each_record_is_one_datagram() {
        let (ours, theirs) = UnixDatagram::pair().unwrap();
        let log = JournalLog {
            sock: ours,
            head: vec![("CONTAINER_NAME", "web".to_string())],
        };
        let mut w = super::super::logs::LogWriter::with(log);
        w.write(false, b"one\ntw").unwrap();
        w.write(true, b"oops\n").unwrap();
        w.flush().unwrap();
        let mut got = Vec::new();
        let mut buf = [0u8; 256];
        for _ in 0..3 {
            let n = theirs.recv(&mut buf).unwrap();
            got.push(String::from_utf8(buf[..n].to_vec()).unwrap());
        }
        assert_eq!(
            got,
            [
                "CONTAINER_NAME=web\nPRIORITY=6\nMESSAGE=one\n",
                "CONTAINER_NAME=web\nPRIORITY=3\nMESSAGE=oops\n",
                "CONTAINER_NAME=web\nPRIORITY=6\nMESSAGE=tw\nCONTAINER_PARTIAL_MESSAGE=true\n",
            ]
        );
    }

    #[test]
    fn drivers_parse() {
        assert_eq!(Driver::parse("json-file"), Some(Driver::K8sFile));
        assert_eq!(Driver::parse("journald"), Some(Driver::Journald));
        assert_eq!(Driver::parse("passthrough"), Some(Driver::Passthrough));
        assert_eq!(Driver::parse("syslog"), None);
    }
}
