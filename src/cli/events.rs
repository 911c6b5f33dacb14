//! `roost events` / `roost system events`: list and follow the event log.
use clap::Args;

use super::format::{self, Format, JsonStyle, Table};
use super::out;
use crate::engine::Ctx;
use crate::engine::events::{self, Event, Filters, ReadOptions};
use crate::error::Error;

const EXAMPLES: &str = "\
Events are recorded by roost commands (and by the monitors of detached containers) in the log that
containers.conf's `events_logger` names: `file` (default), `journald` or `none`. The file is
$XDG_RUNTIME_DIR/roost/events/events.log (`events_logfile_path`), rotated past
`events_logfile_max_size` (1m).

Examples:
  roost events --stream=false --since 10m
  roost events --filter type=container --filter event=start --filter event=died
  roost events --format json --until 30s";

#[derive(Debug, Args)]
#[command(after_long_help = EXAMPLES)]
pub struct EventsArgs {
    /// Show only events that match KEY=VALUE: container=, event= (status=), image=, label=, pod=,
    /// type=, volume=, network= (values of one key are alternatives; keys must all match)
    #[arg(short, long, value_name = "FILTER")]
    pub filter: Vec<String>,
    /// Format the output: json (JSON lines) or a Go template
    #[arg(long, value_name = "FORMAT")]
    pub format: Option<String>,
    /// Do not truncate IDs
    #[arg(long)]
    pub no_trunc: bool,
    /// Show events since this time (RFC 3339, Unix seconds, or a duration such as 10m)
    #[arg(long, value_name = "TIME")]
    pub since: Option<String>,
    /// Show events until this time (RFC 3339, Unix seconds, or a duration such as 10m)
    #[arg(long, value_name = "TIME")]
    pub until: Option<String>,
    /// Wait for new events (false: print the logged ones and exit)
    #[arg(long, value_name = "BOOL", default_value_t = true, num_args = 0..=1,
          default_missing_value = "true", action = clap::ArgAction::Set)]
    pub stream: bool,
}

/// What a `--format` template sees: podman's API event, plus a `Time` that
/// prints as the default line does.
const TABLE: Table = Table {
    name: "events",
    default_template: "{{.Status}}",
    headers: &[],
    json: JsonStyle::INSPECT,
};

pub fn events(ctx: &Ctx, a: &EventsArgs) -> Result<i32, Error> {
    let filters = Filters::parse(&a.filter).map_err(|e| Error::Usage(e.to_string()))?;
    let time = |flag: &str, v: &Option<String>| {
        v.as_deref()
            .map(|s| {
                super::container::logs::parse_time(s).map_err(|e| match e {
                    Error::Usage(m) => Error::Usage(format!("--{flag}: {m}")),
                    e => e,
                })
            })
            .transpose()
    };
    let since = time("since", &a.since)?;
    let until = time("until", &a.until)?;
    // Without --until, a --since alone still follows; an --until in the past never waits.
    let opts = ReadOptions {
        filters,
        since,
        until,
        stream: a.stream,
    };
    let fmt = Format::parse(a.format.as_deref());
    let mut failed = None;
    let mut first = true;
    events::read(ctx, &opts, &mut |e| {
        let line = match render(e, &fmt, !a.no_trunc, first) {
            Ok(l) => l,
            Err(err) => {
                failed = Some(err);
                return false;
            }
        };
        first = false;
        match out(&line) {
            Ok(()) => true,
            Err(err) => {
                failed = Some(err);
                false
            }
        }
    })
    .map_err(crate::engine::EngineError::from)?;
    match failed {
        Some(e) => Err(e),
        None => Ok(0),
    }
}

/// The fields `events --format` templates can use (for completion): those of an event that has
/// every one.
pub(crate) fn format_fields() -> serde_json::Value {
    let mut e = Event::new(events::Type::Container, "create");
    e.exit_code = Some(0);
    e.health_failing_streak = 1;
    for text in [
        &mut e.id,
        &mut e.image,
        &mut e.name,
        &mut e.network,
        &mut e.error,
        &mut e.health_status,
        &mut e.health_log,
        &mut e.pod_id,
    ] {
        *text = "-".into();
    }
    template_view(&e)
}

/// What a template sees: the API event plus podman's `Time` (Go's time string, as the default line
/// prints it) and `TimeNano` (nanoseconds since the epoch).
fn template_view(e: &Event) -> serde_json::Value {
    let mut v = e.report();
    if let Some(m) = v.as_object_mut() {
        m.insert("Time".into(), events::go_string(e.time).into());
        let nanos = i64::try_from(e.time.as_nanosecond()).unwrap_or(i64::MAX);
        m.insert("TimeNano".into(), nanos.into());
    }
    v
}

/// One event as `--format` asks.
fn render(e: &Event, fmt: &Format, truncate: bool, first: bool) -> Result<String, Error> {
    match fmt {
        Format::Default => Ok(format!("{}\n", e.human(truncate))),
        Format::Json => Ok(format!("{}\n", e.report())),
        Format::Template { table, .. } => {
            let text = format::render_list(&[template_view(e)], fmt, &TABLE)?;
            Ok(if *table && !first {
                format::strip_heading(text, fmt)
            } else {
                text
            })
        }
    }
}
