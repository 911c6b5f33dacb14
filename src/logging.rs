//! `--log-level`: tracing to stderr in podman's (logrus's) layout and level names.
#![deny(clippy::print_stdout, clippy::print_stderr)]

use std::fmt;

use tracing::field::{Field, Visit};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

/// podman's level names, in its order.
pub const LEVELS: [&str; 8] = [
    "trace", "debug", "info", "warn", "warning", "error", "fatal", "panic",
];

/// Parse podman's level names (trace, debug, info, warn, error, fatal, panic).
pub fn parse_level(s: &str) -> Result<tracing::Level, String> {
    Ok(match s.to_ascii_lowercase().as_str() {
        "trace" => tracing::Level::TRACE,
        "debug" => tracing::Level::DEBUG,
        "info" => tracing::Level::INFO,
        "warn" | "warning" => tracing::Level::WARN,
        "error" | "fatal" | "panic" => tracing::Level::ERROR,
        other => {
            return Err(format!(
                "invalid log level `{other}`: use trace, debug, info, warn, error, fatal or panic"
            ));
        }
    })
}

/// Install the stderr subscriber. Cheap: nothing is formatted unless a message is at or above `level`.
pub fn init(level: tracing::Level) {
    let terminal = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let _ = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_max_level(level)
        .event_format(Logrus {
            terminal,
            start: std::time::Instant::now(),
        })
        .try_init();
}

/// logrus's text layout, which podman logs in: `time="…" level=debug msg="…" key=value` when
/// stderr is not a terminal, `DEBU[0000] … key=value` (seconds since start) when it is.
struct Logrus {
    terminal: bool,
    start: std::time::Instant,
}

impl<S, N> FormatEvent<S, N> for Logrus
where
    S: tracing::Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        _ctx: &FmtContext<'_, S, N>,
        mut w: Writer<'_>,
        event: &tracing::Event<'_>,
    ) -> fmt::Result {
        let mut fields = Fields::default();
        event.record(&mut fields);
        let level = level_name(*event.metadata().level());
        if self.terminal {
            let tag = level[..4].to_uppercase();
            let secs = self.start.elapsed().as_secs();
            write!(w, "{tag}[{secs:04}] {}", fields.message)?;
            for (k, v) in &fields.rest {
                write!(w, " {k}={}", quoted(v))?;
            }
        } else {
            let time = jiff::Timestamp::now()
                .to_zoned(crate::localtime::local())
                .strftime("%Y-%m-%dT%H:%M:%S%:z");
            write!(w, "time=\"{time}\" level={level} msg={:?}", fields.message)?;
            for (k, v) in &fields.rest {
                write!(w, " {k}={}", quoted(v))?;
            }
        }
        writeln!(w)
    }
}

/// logrus's names: `warning`, not `warn`.
fn level_name(level: tracing::Level) -> &'static str {
    match level {
        tracing::Level::TRACE => "trace",
        tracing::Level::DEBUG => "debug",
        tracing::Level::INFO => "info",
        tracing::Level::WARN => "warning",
        tracing::Level::ERROR => "error",
    }
}

/// A field value as logrus writes it: bare when it is one plain word, quoted otherwise.
fn quoted(v: &str) -> String {
    let plain = !v.is_empty()
        && v.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-._/@^+:".contains(c));
    if plain {
        v.to_string()
    } else {
        format!("{v:?}")
    }
}

#[derive(Default)]
struct Fields {
    message: String,
    rest: Vec<(String, String)>,
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message = value.to_string();
        } else {
            self.rest
                .push((field.name().to_string(), value.to_string()));
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        let text = format!("{value:?}");
        if field.name() == "message" {
            self.message = text;
        } else {
            self.rest.push((field.name().to_string(), text));
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn levels() {
        assert_eq!(super::parse_level("DEBUG").unwrap(), tracing::Level::DEBUG);
        assert_eq!(super::parse_level("fatal").unwrap(), tracing::Level::ERROR);
        assert!(super::parse_level("loud").is_err());
        for name in super::LEVELS {
            assert!(super::parse_level(name).is_ok(), "{name}");
        }
    }

    #[test]
    fn values_are_quoted_as_logrus_does() {
        assert_eq!(super::quoted("abc123"), "abc123");
        assert_eq!(super::quoted("/a/b.conf"), "/a/b.conf");
        assert_eq!(super::quoted("two words"), "\"two words\"");
        assert_eq!(super::quoted(""), "\"\"");
    }
}
