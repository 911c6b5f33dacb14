//! `logs`: read the k8s-file log podman-style (stdout and stderr kept apart), optionally following.
use std::io::{BufRead, Seek, Write};

use clap::Args;
use clap_complete::engine::ArgValueCandidates;
use jiff::Timestamp;

use crate::cli::complete::container_names;
use crate::engine::Ctx;
use crate::engine::EngineError;
use crate::engine::container::journal_log::{self, Driver, JournalLogError};
use crate::engine::container::logs::LogLine;
use crate::engine::container::{self as engine, Status, logs::parse_line};
use crate::error::Error;

#[derive(Debug, Args)]
pub struct LogsArgs {
    /// Follow the log until the container stops
    #[arg(short, long)]
    pub follow: bool,
    /// Show only the last N lines (-1: all)
    #[arg(long, value_name = "N", default_value_t = -1, allow_hyphen_values = true)]
    pub tail: i64,
    /// Show timestamps
    #[arg(short, long)]
    pub timestamps: bool,
    /// Show lines since this time (RFC 3339, or a duration such as 10m)
    #[arg(long, value_name = "TIME")]
    pub since: Option<String>,
    /// Show lines before this time (RFC 3339, or a duration such as 10m)
    #[arg(long, value_name = "TIME")]
    pub until: Option<String>,
    /// Prefix each line with the container's name (default with several containers)
    #[arg(short, long)]
    pub names: bool,
    /// Color each container's name prefix differently (with several containers or --names)
    #[arg(long, overrides_with = "no_color")]
    pub color: bool,
    /// Print the name prefix without colors (the default)
    #[arg(long, overrides_with = "color")]
    pub no_color: bool,
    #[arg(required = true, value_name = "CONTAINER", add = ArgValueCandidates::new(container_names))]
    pub containers: Vec<String>,
}

/// podman's time arguments: RFC 3339, Unix seconds, or a duration before now (`10m`, `1h30m`).
pub(crate) fn parse_time(s: &str) -> Result<Timestamp, Error> {
    if let Ok(t) = s.parse::<Timestamp>() {
        return Ok(t);
    }
    if let Some(t) = s
        .parse::<i64>()
        .ok()
        .and_then(|secs| Timestamp::from_second(secs).ok())
    {
        return Ok(t);
    }
    let d: jiff::SignedDuration = s
        .parse::<jiff::Span>()
        .ok()
        .and_then(|sp| {
            sp.to_duration(jiff::SpanRelativeTo::days_are_24_hours())
                .ok()
        })
        .or_else(|| s.parse().ok())
        .ok_or_else(|| {
            Error::Usage(format!(
                "invalid time `{s}`: use RFC 3339, Unix seconds or a duration such as 10m"
            ))
        })?;
    Ok(Timestamp::now() - d)
}

pub fn logs(ctx: &Ctx, a: &LogsArgs) -> Result<i32, Error> {
    let store = ctx.store()?;
    let prefix = a.names || a.containers.len() > 1;
    let mut targets = Vec::new();
    for (index, key) in a.containers.iter().enumerate() {
        let c = engine::find(&store, key)?;
        let name = match (prefix, a.color) {
            (false, _) => String::new(),
            (true, false) => format!("{} ", c.record.name),
            (true, true) => format!("{}{}\x1b[0m ", name_color(index), c.record.name),
        };
        targets.push((c, name));
    }
    let opts = LogOpts {
        follow: a.follow,
        tail: a.tail,
        timestamps: a.timestamps,
        since: a.since.clone(),
        until: a.until.clone(),
    };
    show_logs(&store, targets, &opts).map(|()| 0)
}

/// What to show of each log (`logs` and `pod logs`).
pub struct LogOpts {
    pub follow: bool,
    pub tail: i64,
    pub timestamps: bool,
    pub since: Option<String>,
    pub until: Option<String>,
}

/// The logs of `targets` (each container with the prefix of its lines), one after the other; with
/// `follow`, then what each writes next, all followed at once until none runs.
pub fn show_logs(
    store: &crate::store::Store,
    targets: Vec<(engine::Container, String)>,
    o: &LogOpts,
) -> Result<(), Error> {
    let since = o.since.as_deref().map(parse_time).transpose()?;
    let until = o.until.as_deref().map(parse_time).transpose()?;
    let mut followed = Vec::new();
    for (c, name) in targets {
        let show = Show {
            since,
            until,
            timestamps: o.timestamps,
            name,
        };
        let following = o.follow && c.state.status == Status::Running;
        let source = match Driver::of(&c) {
            Driver::Journald => journal_records(&c, o, since, &show)?,
            Driver::Passthrough => {
                return Err(EngineError::from(JournalLogError::Passthrough(c.record.name)).into());
            }
            Driver::K8sFile | Driver::None => {
                let path = engine::container_log_path(store, &c);
                let Some((lines, pos)) = read_log(&path, following)? else {
                    continue;
                };
                let start = if o.tail >= 0 {
                    lines.len().saturating_sub(o.tail as usize)
                } else {
                    0
                };
                for l in &lines[start..] {
                    show.line(l)?;
                }
                Source::File { path, pos }
            }
        };
        if o.follow {
            followed.push(Followed {
                id: c.record.id.clone(),
                source,
                show,
                done: false,
            });
        }
    }
    follow(store, &mut followed)
}

/// Show the journal's records of `c` (`--log-driver journald`); with `--follow` and a running
/// container, start following it after them.
fn journal_records(
    c: &engine::Container,
    o: &LogOpts,
    since: Option<Timestamp>,
    show: &Show,
) -> Result<Source, Error> {
    let tail = usize::try_from(o.tail).ok();
    let (recs, cursor) = journal_log::read(c, tail, since).map_err(EngineError::from)?;
    for r in &recs {
        show.record(r)?;
    }
    if o.follow && c.state.status == Status::Running {
        let f = journal_log::Follow::start(c, cursor).map_err(EngineError::from)?;
        return Ok(Source::Journal(Some(Box::new(f))));
    }
    Ok(Source::Journal(None))
}

/// The log's lines so far (with those rotated to `<log>.1`) and where they end; `None` when there
/// is no log and nothing to wait for (`waiting`: following a running container).
fn read_log(path: &std::path::Path, waiting: bool) -> Result<Option<(Vec<String>, u64)>, Error> {
    let mut lines: Vec<String> = Vec::new();
    // With `--log-opt max-size`, older records were rotated to `<log>.1`.
    if let Some(mut rotated) = open_log(&engine::logs::rotated_path(path))? {
        read_lines(&mut rotated, &mut lines)?;
    }
    let mut pos = 0u64;
    match open_log(path)? {
        Some(mut reader) => {
            read_lines(&mut reader, &mut lines)?;
            pos = reader
                .stream_position()
                .map_err(|e| Error::io("read the log", e))?;
        }
        // A foreground container's log appears with its first output.
        None if lines.is_empty() && !waiting => return Ok(None),
        None => {}
    }
    Ok(Some((lines, pos)))
}

/// How `logs` shows a record: which ones, with what prefix.
struct Show {
    since: Option<Timestamp>,
    until: Option<Timestamp>,
    timestamps: bool,
    /// The container's name and a space, or nothing.
    name: String,
}

impl Show {
    /// Write log line `l` to our stdout or stderr, as it was written, unless it is out of range.
    fn line(&self, l: &str) -> Result<(), Error> {
        match parse_line(l.trim_end_matches('\n')) {
            Some(rec) => self.record(&rec),
            None => Ok(()),
        }
    }

    /// Write `rec` to our stdout or stderr, as it was written, unless it is out of range.
    fn record(&self, rec: &LogLine) -> Result<(), Error> {
        if self.since.is_some_and(|s| rec.time < s) || self.until.is_some_and(|u| rec.time > u) {
            return Ok(());
        }
        let ts = if self.timestamps {
            format!("{} ", engine::logs::rfc3339_nano(rec.time))
        } else {
            String::new()
        };
        let name = &self.name;
        let text = format!("{name}{ts}{}{}", rec.text, if rec.full { "\n" } else { "" });
        let r = if rec.stderr {
            std::io::stderr().write_all(text.as_bytes())
        } else {
            std::io::stdout().write_all(text.as_bytes())
        };
        match r {
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
            other => other.map_err(|e| Error::io("write the log", e)),
        }
    }
}

/// One log being followed.
struct Followed {
    id: String,
    source: Source,
    show: Show,
    done: bool,
}

/// Where a followed log's next records come from.
enum Source {
    /// A k8s-file log: where its records written so far end.
    File { path: std::path::PathBuf, pos: u64 },
    /// The journal (none: the container was not running).
    Journal(Option<Box<journal_log::Follow>>),
}

/// `--follow`: show the records each log gets after its `pos`, every 100 ms, until none of the
/// containers runs any more.
fn follow(store: &crate::store::Store, logs: &mut [Followed]) -> Result<(), Error> {
    while logs.iter().any(|l| !l.done) {
        for l in logs.iter_mut().filter(|l| !l.done) {
            let running = engine::find(store, &l.id)
                .map(|c| c.state.status == Status::Running)
                .unwrap_or(false);
            match &mut l.source {
                Source::File { path, pos } => read_new(path, pos, &l.show)?,
                Source::Journal(f) => {
                    let recs = match (f.as_mut(), running) {
                        (Some(f), true) => f.poll(),
                        (Some(_), false) => f
                            .take()
                            .map(|f| f.finish())
                            .transpose()
                            .map_err(EngineError::from)?
                            .unwrap_or_default(),
                        (None, _) => Vec::new(),
                    };
                    for r in &recs {
                        l.show.record(r)?;
                    }
                }
            }
            l.done = !running;
        }
        let _ = std::io::stdout().flush();
        if logs.iter().any(|l| !l.done) {
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    }
    Ok(())
}

/// Show the complete records appended to the log at `path` since `pos`.
fn read_new(path: &std::path::Path, pos: &mut u64, show: &Show) -> Result<(), Error> {
    let Some(mut f) = open_log(path)?.map(std::io::BufReader::into_inner) else {
        return Ok(());
    };
    // Rotated (`--log-opt max-size`): the file started over.
    if f.metadata()
        .map_err(|e| Error::io("read the log", e))?
        .len()
        < *pos
    {
        *pos = 0;
    }
    f.seek(std::io::SeekFrom::Start(*pos))
        .map_err(|e| Error::io("read the log", e))?;
    let mut r = std::io::BufReader::new(f);
    let mut line = String::new();
    while r
        .read_line(&mut line)
        .map_err(|e| Error::io("read the log", e))?
        > 0
    {
        if !line.ends_with('\n') {
            break;
        }
        *pos += line.len() as u64;
        show.line(&line)?;
        line.clear();
    }
    Ok(())
}

/// podman's rotation of colors for `logs --color`: one ANSI color per container, in turn.
fn name_color(index: usize) -> &'static str {
    const COLORS: [&str; 6] = [
        "\x1b[32m", "\x1b[33m", "\x1b[34m", "\x1b[35m", "\x1b[36m", "\x1b[31m",
    ];
    COLORS[index % COLORS.len()]
}

fn open_log(path: &std::path::Path) -> Result<Option<std::io::BufReader<std::fs::File>>, Error> {
    match std::fs::File::open(path) {
        Ok(f) => Ok(Some(std::io::BufReader::new(f))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io(format!("read `{}`", path.display()), e)),
    }
}

fn read_lines(reader: &mut impl BufRead, lines: &mut Vec<String>) -> Result<(), Error> {
    let mut line = String::new();
    while reader
        .read_line(&mut line)
        .map_err(|e| Error::io("read the log", e))?
        > 0
    {
        lines.push(std::mem::take(&mut line));
    }
    Ok(())
}
