//! `stats`: resource usage read from each container's cgroup, as podman's table, JSON or template.
use std::collections::HashMap;

use clap::Args;
use clap_complete::engine::ArgValueCandidates;
use serde::Serialize;

use crate::cli::complete::running_containers;
use crate::cli::format::{self, Format, JsonStyle, Table, human_size_with_precision};
use crate::cli::out;
use crate::engine::Ctx;
use crate::engine::container::resources::{self as engine, StatsReport};
use crate::error::Error;

#[derive(Debug, Args)]
pub struct StatsArgs {
    /// Show all containers (default: running ones)
    #[arg(short, long)]
    pub all: bool,
    /// Output: json, or a Go template (fields .ID .Name .CPUPerc .MemUsage .MemPerc .NetIO .BlockIO .PIDS)
    #[arg(long, value_name = "FORMAT", allow_hyphen_values = true)]
    pub format: Option<String>,
    /// Print one reading and exit
    #[arg(long)]
    pub no_stream: bool,
    /// Do not clear the screen between readings
    #[arg(long)]
    pub no_reset: bool,
    /// Seconds between readings
    #[arg(short, long, value_name = "SECONDS", default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..))]
    pub interval: u64,
    #[arg(value_name = "CONTAINER", add = ArgValueCandidates::new(running_containers))]
    pub containers: Vec<String>,
}

/// A row, with podman's field names for templates (`.CPUPerc`, `.MemUsage`, …).
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
struct Row {
    #[serde(rename = "ID")]
    id: String,
    name: String,
    #[serde(rename = "CPUPerc")]
    cpu_perc: String,
    mem_usage: String,
    mem_perc: String,
    #[serde(rename = "NetIO")]
    net_io: String,
    #[serde(rename = "BlockIO")]
    block_io: String,
    #[serde(rename = "PIDS")]
    pids: String,
    #[serde(rename = "CPU")]
    cpu: f64,
    mem_usage_bytes: String,
    #[serde(rename = "AVGCPU")]
    avg_cpu: String,
    #[serde(rename = "UpTime")]
    up_time: String,
}

/// `podman stats --format json`'s objects.
#[derive(Debug, Serialize)]
struct JsonRow {
    id: String,
    name: String,
    cpu_time: String,
    cpu_percent: String,
    avg_cpu: String,
    mem_usage: String,
    mem_percent: String,
    net_io: String,
    block_io: String,
    pids: String,
}

/// The CPU reading a percentage is computed from: CPU time used and when.
#[derive(Debug, Clone, Copy)]
struct Mark {
    cpu_ns: u64,
    at_ns: i128,
}

fn size(n: u64) -> String {
    human_size_with_precision(n as f64, 4)
}

fn pair(a: u64, b: u64) -> String {
    format!("{} / {}", size(a), size(b))
}

fn rows(reports: &[StatsReport], previous: &mut HashMap<String, Mark>) -> Vec<(Row, JsonRow)> {
    let now = jiff::Timestamp::now();
    reports
        .iter()
        .map(|r| sample_rows(r, now, previous).unwrap_or_else(|| empty_rows(r)))
        .collect()
}

/// The rows of a container without a sample: dashes.
fn empty_rows(r: &StatsReport) -> (Row, JsonRow) {
    let id: String = r.id.chars().take(12).collect();
    let dash = || "--".to_string();
    (
        Row {
            id: id.clone(),
            name: r.name.clone(),
            cpu_perc: dash(),
            mem_usage: dash(),
            mem_perc: dash(),
            net_io: dash(),
            block_io: dash(),
            pids: dash(),
            cpu: 0.0,
            mem_usage_bytes: dash(),
            avg_cpu: dash(),
            up_time: dash(),
        },
        JsonRow {
            id,
            name: r.name.clone(),
            cpu_time: dash(),
            cpu_percent: dash(),
            avg_cpu: dash(),
            mem_usage: dash(),
            mem_percent: dash(),
            net_io: dash(),
            block_io: dash(),
            pids: dash(),
        },
    )
}

/// The rows of a container with a sample, its CPU use since `previous` (updated) or its start.
fn sample_rows(
    r: &StatsReport,
    now: jiff::Timestamp,
    previous: &mut HashMap<String, Mark>,
) -> Option<(Row, JsonRow)> {
    let s = r.sample.as_ref()?;
    let id: String = r.id.chars().take(12).collect();
    let started = r
        .started_at
        .map_or(now.as_nanosecond(), |t| t.as_nanosecond());
    let here = Mark {
        cpu_ns: s.cpu_ns,
        at_ns: now.as_nanosecond(),
    };
    let since = previous.insert(r.id.clone(), here).unwrap_or(Mark {
        cpu_ns: 0,
        at_ns: started,
    });
    let percent = |from: Mark| {
        let wall = (here.at_ns - from.at_ns).max(1) as f64;
        s.cpu_ns.saturating_sub(from.cpu_ns) as f64 / wall * 100.0
    };
    let cpu = percent(since);
    let avg = percent(Mark {
        cpu_ns: 0,
        at_ns: started,
    });
    // podman: with no limit, the host's memory is the limit.
    let limit = s.mem_limit.unwrap_or_else(host_memory);
    let mem_perc = if limit > 0 {
        s.mem_usage as f64 / limit as f64 * 100.0
    } else {
        0.0
    };
    let up = std::time::Duration::from_nanos((here.at_ns - started).max(0) as u64);
    let row = Row {
        id: id.clone(),
        name: r.name.clone(),
        cpu_perc: format!("{cpu:.2}%"),
        mem_usage: pair(s.mem_usage, limit),
        mem_perc: format!("{mem_perc:.2}%"),
        net_io: pair(s.net_rx, s.net_tx),
        block_io: pair(s.block_read, s.block_write),
        pids: s.pids.to_string(),
        cpu,
        mem_usage_bytes: format!(
            "{} / {}",
            human_size_with_precision(s.mem_usage as f64, 4).replace('B', "iB"),
            human_size_with_precision(limit as f64, 4).replace('B', "iB")
        ),
        avg_cpu: format!("{avg:.2}%"),
        up_time: format!("{:.3}s", up.as_secs_f64()),
    };
    let json = JsonRow {
        id,
        name: r.name.clone(),
        cpu_time: format!("{:.6}s", s.cpu_ns as f64 / 1e9),
        cpu_percent: row.cpu_perc.clone(),
        avg_cpu: row.avg_cpu.clone(),
        mem_usage: row.mem_usage.clone(),
        mem_percent: row.mem_perc.clone(),
        net_io: row.net_io.clone(),
        block_io: row.block_io.clone(),
        pids: row.pids.clone(),
    };
    Some((row, json))
}

/// MemTotal from /proc/meminfo, in bytes.
fn host_memory() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

fn render(rows: Vec<(Row, JsonRow)>, fmt: &Format) -> Result<String, Error> {
    if *fmt == Format::Json {
        let json: Vec<JsonRow> = rows.into_iter().map(|(_, j)| j).collect();
        return Ok(format::render_json(&json, JsonStyle::PS)?);
    }
    let rows: Vec<Row> = rows.into_iter().map(|(r, _)| r).collect();
    let table = Table {
        name: "stats",
        default_template: "table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}\t{{.BlockIO}}\t{{.PIDS}}",
        headers: &[
            ("CPUPerc", "CPU %"),
            ("MemUsage", "MEM USAGE / LIMIT"),
            ("MemPerc", "MEM %"),
            ("NetIO", "NET IO"),
            ("BlockIO", "BLOCK IO"),
            ("PIDS", "PIDS"),
            ("AVGCPU", "AVG CPU %"),
        ],
        json: JsonStyle::PS,
    };
    Ok(format::render_list(&rows, fmt, &table)?)
}

pub fn stats(ctx: &Ctx, a: &StatsArgs) -> Result<i32, Error> {
    let opts = StatsOpts {
        format: a.format.clone(),
        no_stream: a.no_stream,
        no_reset: a.no_reset,
        interval: a.interval,
    };
    show_stats(ctx, &a.containers, a.all, &opts)
}

/// How `stats` and `pod stats` show their readings.
pub struct StatsOpts {
    pub format: Option<String>,
    pub no_stream: bool,
    pub no_reset: bool,
    pub interval: u64,
}

/// Readings of `containers` (every running one when empty; every one with `all`).
pub fn show_stats(
    ctx: &Ctx,
    containers: &[String],
    all: bool,
    o: &StatsOpts,
) -> Result<i32, Error> {
    let fmt = Format::parse(o.format.as_deref());
    let mut previous = HashMap::new();
    loop {
        let reports = engine::stats(ctx, containers, all)?;
        let text = render(rows(&reports, &mut previous), &fmt)?;
        if o.no_stream {
            return out(&text).map(|()| 0);
        }
        if !o.no_reset && fmt == Format::Default {
            out("\x1b[2J\x1b[H")?;
        }
        out(&text)?;
        std::thread::sleep(std::time::Duration::from_secs(o.interval));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_table_and_json_from_a_sample() {
        let r = StatsReport {
            id: "0123456789abcdef".into(),
            name: "web".into(),
            started_at: Some(jiff::Timestamp::now() - jiff::SignedDuration::from_secs(2)),
            sample: Some(crate::runtime::cgroup::stats::Sample {
                cpu_ns: 1_000_000_000,
                mem_usage: 1_000_000,
                mem_limit: Some(64 << 20),
                pids: 2,
                ..Default::default()
            }),
        };
        let mut prev = HashMap::new();
        let text = render(rows(std::slice::from_ref(&r), &mut prev), &Format::Default).unwrap();
        assert!(text.starts_with("ID "), "{text}");
        assert!(text.contains("MEM USAGE / LIMIT"), "{text}");
        assert!(text.contains("1MB / 67.11MB"), "{text}");
        assert!(text.contains("1.49%"), "{text}");
        let json = render(rows(&[r], &mut prev), &Format::Json).unwrap();
        let v: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(v[0]["id"], "0123456789ab");
        assert_eq!(v[0]["pids"], "2");
    }
}
