//! The `journald` backend: podman's `PODMAN_*` fields sent over the journal's native protocol,
//! read back with `journalctl -o json`, matched on the identifier and on the caller's uid.
use std::io::BufRead;
use std::os::unix::net::UnixDatagram;

use super::{Event, EventsError, JOURNAL_SOCKET, ReadOptions, Type};

/// The `SYSLOG_IDENTIFIER` of roost's events (podman's is `podman`).
const IDENTIFIER: &str = "roost";

/// The journal fields of `e`, as podman's journald eventer writes them.
fn fields(e: &Event) -> Vec<(&'static str, String)> {
    let mut f = vec![
        ("MESSAGE", e.human(false)),
        ("PRIORITY", "6".to_string()),
        ("SYSLOG_IDENTIFIER", IDENTIFIER.to_string()),
        ("PODMAN_EVENT", e.status.clone()),
        ("PODMAN_TYPE", e.kind.as_str().to_string()),
        ("PODMAN_TIME", super::rfc3339_local(e.time)),
    ];
    let mut put = |k: &'static str, v: &str| {
        if !v.is_empty() {
            f.push((k, v.to_string()));
        }
    };
    put("PODMAN_ID", &e.id);
    put("PODMAN_NAME", &e.name);
    put("PODMAN_IMAGE", &e.image);
    put("PODMAN_NETWORK_NAME", &e.network);
    put("PODMAN_POD_ID", &e.pod_id);
    put("PODMAN_HEALTH_STATUS", &e.health_status);
    put("PODMAN_HEALTH_LOG", &e.health_log);
    put("ERROR", &e.error);
    if let Some(code) = e.exit_code {
        f.push(("PODMAN_EXIT_CODE", code.to_string()));
    }
    if e.health_failing_streak > 0 {
        f.push((
            "PODMAN_HEALTH_FAILING_STREAK",
            e.health_failing_streak.to_string(),
        ));
    }
    if !e.attributes.is_empty() {
        f.push((
            "PODMAN_LABELS",
            serde_json::to_string(&e.attributes).unwrap_or_default(),
        ));
    }
    f
}

/// The native protocol's datagram of `fields`.
fn datagram(fields: &[(&str, String)]) -> Vec<u8> {
    let fields: Vec<(&str, &[u8])> = fields.iter().map(|(k, v)| (*k, v.as_bytes())).collect();
    crate::sys::journal::encode(&fields)
}

fn journal_error(source: std::io::Error) -> EventsError {
    EventsError::Io {
        op: "send to",
        path: JOURNAL_SOCKET.into(),
        source,
    }
}

pub(super) fn send(e: &Event) -> Result<(), EventsError> {
    send_on(&hold()?, e)
}

/// A socket connected to the journal, for [`send_on`].
pub(super) fn hold() -> Result<UnixDatagram, EventsError> {
    crate::sys::journal::connect().map_err(journal_error)
}

pub(super) fn send_on(sock: &UnixDatagram, e: &Event) -> Result<(), EventsError> {
    crate::sys::journal::send(sock, &datagram(&fields(e))).map_err(journal_error)
}

/// An event from a `journalctl -o json` entry (fields as strings).
fn from_entry(entry: &serde_json::Value) -> Option<Event> {
    let get = |k: &str| entry.get(k).and_then(|v| v.as_str()).unwrap_or_default();
    let kind = Type::parse(get("PODMAN_TYPE"))?;
    let mut e = Event::new(kind, get("PODMAN_EVENT"));
    e.time = get("PODMAN_TIME").parse().ok()?;
    e.id = get("PODMAN_ID").to_string();
    e.name = get("PODMAN_NAME").to_string();
    e.image = get("PODMAN_IMAGE").to_string();
    e.network = get("PODMAN_NETWORK_NAME").to_string();
    e.pod_id = get("PODMAN_POD_ID").to_string();
    e.health_status = get("PODMAN_HEALTH_STATUS").to_string();
    e.health_log = get("PODMAN_HEALTH_LOG").to_string();
    e.error = get("ERROR").to_string();
    e.exit_code = get("PODMAN_EXIT_CODE").parse().ok();
    e.health_failing_streak = get("PODMAN_HEALTH_FAILING_STREAK").parse().unwrap_or(0);
    e.attributes = serde_json::from_str(get("PODMAN_LABELS")).unwrap_or_default();
    Some(e)
}

pub(super) fn read(
    opts: &ReadOptions,
    sink: &mut dyn FnMut(&Event) -> bool,
) -> Result<(), EventsError> {
    let mut cmd = std::process::Command::new("journalctl");
    // Not `--user`: that opens only the user's own journal files and, on some systems, misses the
    // entries of a command that exited before journald looked at it (its unit fields are
    // missing). Every file the user may read, matched on the uid outside any user namespace of
    // ours, finds them all and nobody else's.
    cmd.args(["--no-pager", "-o", "json"]);
    cmd.arg(format!("_UID={}", crate::userns::host_uid()));
    if let Some(s) = opts.since {
        cmd.arg(format!("--since=@{}", s.as_second()));
    }
    if opts.stream {
        cmd.arg("--follow");
    }
    if !opts.reads_from_start() {
        cmd.arg("--lines=0");
    }
    cmd.arg(format!("SYSLOG_IDENTIFIER={IDENTIFIER}"))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = cmd.spawn().map_err(EventsError::Journal)?;
    let Some(stdout) = child.stdout.take() else {
        return Err(EventsError::JournalFailed("no output".into()));
    };
    let result = pump(stdout, opts, sink);
    let _ = child.kill();
    let out = child.wait_with_output().map_err(EventsError::Journal)?;
    result?;
    if !out.status.success() && !opts.stream {
        return Err(EventsError::JournalFailed(
            String::from_utf8_lossy(&out.stderr).trim().to_string(),
        ));
    }
    Ok(())
}

/// Hand journalctl's entries to `sink` until it ends, `sink` declines or `until` passes.
fn pump(
    stdout: std::process::ChildStdout,
    opts: &ReadOptions,
    sink: &mut dyn FnMut(&Event) -> bool,
) -> Result<(), EventsError> {
    use std::os::fd::AsFd;
    let mut reader = std::io::BufReader::new(stdout);
    let mut line = String::new();
    loop {
        if reader.buffer().is_empty()
            && let Some(u) = opts.until.filter(|_| opts.stream)
        {
            let left = u.duration_since(jiff::Timestamp::now());
            if left.is_negative() || left.is_zero() {
                return Ok(());
            }
            let ms = i32::try_from(left.as_millis().min(60_000)).unwrap_or(60_000) + 1;
            let mut fds = [nix::poll::PollFd::new(
                reader.get_ref().as_fd(),
                nix::poll::PollFlags::POLLIN,
            )];
            let timeout =
                nix::poll::PollTimeout::try_from(ms).unwrap_or(nix::poll::PollTimeout::MAX);
            if matches!(nix::poll::poll(&mut fds, timeout), Ok(0)) {
                continue;
            }
        }
        line.clear();
        if reader.read_line(&mut line).map_err(EventsError::Journal)? == 0 {
            return Ok(());
        }
        let Ok(entry) = serde_json::from_str::<serde_json::Value>(&line) else {
            continue;
        };
        if let Some(e) = from_entry(&entry)
            && !sink(&e)
        {
            return Ok(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_read_back_as_events() {
        let mut e = Event::volume("create", "v1");
        e.time = "2026-12-05T00:10:00.25Z".parse().unwrap();
        let entry: serde_json::Map<String, serde_json::Value> = fields(&e)
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.into()))
            .collect();
        let back = from_entry(&serde_json::Value::Object(entry)).unwrap();
        assert_eq!(back, e);
    }
}
