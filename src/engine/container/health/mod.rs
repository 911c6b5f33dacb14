//! Healthchecks (podman-healthcheck(1)): the check a container is created with (the image's
//! `HEALTHCHECK`, replaced or adjusted by the `--health-*` flags), one run of it (`check`), the state
//! and log it leaves in the container's directory (`state`), and who runs it on schedule (`schedule`:
//! a transient systemd timer when a user manager is reachable, else the container's monitor).
#![deny(clippy::print_stdout, clippy::print_stderr)]

mod check;
mod schedule;
mod state;

use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use check::run_check;
pub use schedule::Schedule;
pub use state::{HealthState, Status as HealthStatus, read_state};

/// The health of `c` (None when it has no healthcheck): `starting` until a check has run.
pub fn state_of(store: &crate::store::Store, c: &super::Container) -> Option<HealthState> {
    let hc = c.spec.healthcheck.as_ref()?;
    let dir = store.container_dir(&c.record.id);
    Some(read_state(&state::state_path(&dir, &c.record.id, hc)))
}

/// podman's defaults.
const DEFAULT_INTERVAL: Duration = Duration::from_secs(30);
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
const DEFAULT_RETRIES: u32 = 3;
const DEFAULT_MAX_LOG_COUNT: u32 = 5;
const DEFAULT_MAX_LOG_SIZE: u32 = 500;

#[derive(Debug, thiserror::Error)]
pub enum HealthError {
    #[error("invalid {flag} `{value}`: {why}")]
    Flag {
        flag: &'static str,
        value: String,
        why: String,
    },
    #[error("--no-healthcheck conflicts with {0}: drop one of them")]
    Conflict(&'static str),
    #[error("--health-startup-cmd needs a healthcheck to follow it (--health-cmd, or the image's)")]
    StartupWithoutCheck,
    #[error("container {0} has no defined healthcheck")]
    NoHealthcheck(String),
    #[error("container {0} is not running")]
    NotRunning(String),
    #[error("the image's HEALTHCHECK is malformed: {0}")]
    Image(String),
    #[error("failed to {op} `{path}`")]
    Io {
        op: &'static str,
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl HealthError {
    fn io(op: &'static str, path: impl Into<std::path::PathBuf>, source: std::io::Error) -> Self {
        HealthError::Io {
            op,
            path: path.into(),
            source,
        }
    }

    pub fn hint(&self) -> Option<String> {
        match self {
            HealthError::NoHealthcheck(_) => Some(
                "create the container with --health-cmd, or from an image with a HEALTHCHECK"
                    .into(),
            ),
            HealthError::Flag { flag, .. }
                if flag.ends_with("interval")
                    || flag.ends_with("timeout")
                    || flag.ends_with("period") =>
            {
                Some("durations are Go's: 30s, 1m30s, 500ms (or 0)".into())
            }
            _ => None,
        }
    }
}

/// What `--health-on-failure` does once the container is unhealthy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OnFailure {
    #[default]
    None,
    Kill,
    Restart,
    Stop,
}

impl OnFailure {
    pub fn as_str(self) -> &'static str {
        match self {
            OnFailure::None => "none",
            OnFailure::Kill => "kill",
            OnFailure::Restart => "restart",
            OnFailure::Stop => "stop",
        }
    }
}

/// The startup check (`--health-startup-*`): runs until it passes, before the regular one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StartupCheck {
    pub test: Vec<String>,
    pub interval: Duration,
    pub timeout: Duration,
    /// Consecutive failures after which the container is restarted (0: never).
    pub retries: u32,
    /// Successes needed before the regular check takes over (0: the first one).
    pub success: u32,
}

/// A container's healthcheck, resolved at create time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HealthConfig {
    /// `["CMD", arg…]` or `["CMD-SHELL", "command"]`, as Docker's config stores it.
    pub test: Vec<String>,
    /// Zero: not run on a schedule (`--health-interval disable`), only by `healthcheck run`.
    pub interval: Duration,
    pub timeout: Duration,
    pub start_period: Duration,
    pub retries: u32,
    #[serde(default)]
    pub on_failure: OnFailure,
    /// `local`, `events_logger` or a directory.
    #[serde(default = "local")]
    pub log_destination: String,
    #[serde(default = "default_max_log_count")]
    pub max_log_count: u32,
    #[serde(default = "default_max_log_size")]
    pub max_log_size: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub startup: Option<StartupCheck>,
}

fn local() -> String {
    "local".into()
}
fn default_max_log_count() -> u32 {
    DEFAULT_MAX_LOG_COUNT
}
fn default_max_log_size() -> u32 {
    DEFAULT_MAX_LOG_SIZE
}

impl HealthConfig {
    /// Docker's `Healthcheck` object, as inspect shows it (durations in nanoseconds).
    pub fn docker_json(&self) -> serde_json::Value {
        serde_json::json!({
            "Test": self.test,
            "Interval": self.interval.as_nanos() as u64,
            "Timeout": self.timeout.as_nanos() as u64,
            "StartPeriod": self.start_period.as_nanos() as u64,
            "Retries": self.retries,
        })
    }
}

/// The `--health-*` flags as given (unparsed strings, checked by [`resolve`]).
#[derive(Debug, Clone, Default)]
pub struct HealthRequest {
    pub cmd: Option<String>,
    pub interval: Option<String>,
    pub timeout: Option<String>,
    pub start_period: Option<String>,
    pub retries: Option<String>,
    pub on_failure: Option<String>,
    pub log_destination: Option<String>,
    pub max_log_count: Option<String>,
    pub max_log_size: Option<String>,
    pub startup_cmd: Option<String>,
    pub startup_interval: Option<String>,
    pub startup_timeout: Option<String>,
    pub startup_retries: Option<String>,
    pub startup_success: Option<String>,
    pub no_healthcheck: bool,
}

impl HealthRequest {
    /// The first `--health-*` flag given, for the conflict with `--no-healthcheck`.
    fn first_flag(&self) -> Option<&'static str> {
        [
            ("--health-cmd", self.cmd.is_some()),
            ("--health-interval", self.interval.is_some()),
            ("--health-timeout", self.timeout.is_some()),
            ("--health-start-period", self.start_period.is_some()),
            ("--health-retries", self.retries.is_some()),
            ("--health-on-failure", self.on_failure.is_some()),
            ("--health-startup-cmd", self.startup_cmd.is_some()),
        ]
        .into_iter()
        .find(|(_, set)| *set)
        .map(|(f, _)| f)
    }
}

/// Go's `time.ParseDuration`: a sequence of decimal numbers with units (`ns`, `us`/`µs`, `ms`, `s`,
/// `m`, `h`), e.g. `1m30s`, `1.5h`; `0` alone needs no unit. Negative durations are refused.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    if s == "0" {
        return Ok(Duration::ZERO);
    }
    if s.is_empty() {
        return Err("empty duration".into());
    }
    let mut rest = s;
    let mut total = 0f64;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let num: f64 = rest[..num_len]
            .parse()
            .map_err(|_| format!("`{s}` is not a duration"))?;
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let scale = match &rest[..unit_len] {
            "ns" => 1e-9,
            "us" | "µs" | "μs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            "" => return Err(format!("missing unit in duration `{s}`")),
            u => return Err(format!("unknown unit `{u}` in duration `{s}`")),
        };
        total += num * scale;
        rest = &rest[unit_len..];
    }
    Duration::try_from_secs_f64(total).map_err(|_| format!("`{s}` is out of range"))
}

/// Go's `Duration.String()` for whole units: `30s`, `1m30s`, `1h0m0s`, `500ms`.
pub fn go_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if !ms.is_multiple_of(1000) || ms == 0 {
        return format!("{ms}ms");
    }
    let s = d.as_secs();
    match (s / 3600, (s % 3600) / 60, s % 60) {
        (0, 0, s) => format!("{s}s"),
        (0, m, s) => format!("{m}m{s}s"),
        (h, m, s) => format!("{h}h{m}m{s}s"),
    }
}

/// `--health-cmd`: a JSON array (`["CMD", …]`, `["CMD-SHELL", "…"]`, or bare arguments, which get
/// `CMD`), or a string run by the shell (`CMD-SHELL`); `none` disables the check (None).
fn parse_test(flag: &'static str, v: &str) -> Result<Option<Vec<String>>, HealthError> {
    let bad = |why: &str| HealthError::Flag {
        flag,
        value: v.to_string(),
        why: why.to_string(),
    };
    let v = v.trim();
    if v.eq_ignore_ascii_case("none") {
        return Ok(None);
    }
    if v.is_empty() {
        return Err(bad("give a command, or `none`"));
    }
    if v.starts_with('[') {
        let mut words: Vec<String> = serde_json::from_str(v)
            .map_err(|e| bad(&format!("not a JSON array of strings: {e}")))?;
        match words.first().map(String::as_str) {
            None => return Err(bad("the array is empty")),
            Some("NONE") => return Ok(None),
            Some("CMD" | "CMD-SHELL") if words.len() < 2 => return Err(bad("no command after it")),
            Some("CMD" | "CMD-SHELL") => {}
            Some(_) => words.insert(0, "CMD".into()),
        }
        return Ok(Some(words));
    }
    Ok(Some(vec!["CMD-SHELL".into(), v.to_string()]))
}

fn duration_flag(flag: &'static str, v: &str) -> Result<Duration, HealthError> {
    parse_duration(v).map_err(|why| HealthError::Flag {
        flag,
        value: v.to_string(),
        why,
    })
}

fn count_flag(flag: &'static str, v: &str, min: u32) -> Result<u32, HealthError> {
    match v.parse::<u32>() {
        Ok(n) if n >= min => Ok(n),
        _ => Err(HealthError::Flag {
            flag,
            value: v.to_string(),
            why: format!("must be a whole number of at least {min}"),
        }),
    }
}

/// The image's `config.Healthcheck` (Docker's: `Test`, and `Interval`, `Timeout`, `StartPeriod` in
/// nanoseconds, `Retries`; zero means the default). `["NONE"]` or no test: no check.
fn from_image(v: &serde_json::Value) -> Result<Option<HealthConfig>, HealthError> {
    let test: Vec<String> = match v.get("Test") {
        None | Some(serde_json::Value::Null) => return Ok(None),
        Some(t) => serde_json::from_value(t.clone())
            .map_err(|e| HealthError::Image(format!("Test: {e}")))?,
    };
    match test.first().map(String::as_str) {
        None | Some("NONE") => return Ok(None),
        Some("CMD" | "CMD-SHELL") => {}
        Some(other) => return Err(HealthError::Image(format!("unknown Test kind `{other}`"))),
    }
    let ns = |key: &str, default: Duration| {
        v.get(key)
            .and_then(serde_json::Value::as_u64)
            .filter(|n| *n > 0)
            .map_or(default, Duration::from_nanos)
    };
    Ok(Some(HealthConfig {
        test,
        interval: ns("Interval", DEFAULT_INTERVAL),
        timeout: ns("Timeout", DEFAULT_TIMEOUT),
        start_period: ns("StartPeriod", Duration::ZERO),
        retries: v
            .get("Retries")
            .and_then(serde_json::Value::as_u64)
            .filter(|n| *n > 0)
            .map_or(DEFAULT_RETRIES, |n| u32::try_from(n).unwrap_or(u32::MAX)),
        on_failure: OnFailure::None,
        log_destination: local(),
        max_log_count: DEFAULT_MAX_LOG_COUNT,
        max_log_size: DEFAULT_MAX_LOG_SIZE,
        startup: None,
    }))
}

/// The container's healthcheck: the image's (if any) with the flags applied, `--health-cmd`
/// replacing its command; none with `--no-healthcheck` or `--health-cmd none`.
pub fn resolve(
    image: Option<&serde_json::Value>,
    req: &HealthRequest,
) -> Result<Option<HealthConfig>, HealthError> {
    if req.no_healthcheck {
        if let Some(flag) = req.first_flag() {
            return Err(HealthError::Conflict(flag));
        }
        return Ok(None);
    }
    let base = match &req.cmd {
        Some(cmd) => parse_test("--health-cmd", cmd)?.map(|test| HealthConfig {
            test,
            interval: DEFAULT_INTERVAL,
            timeout: DEFAULT_TIMEOUT,
            start_period: Duration::ZERO,
            retries: DEFAULT_RETRIES,
            on_failure: OnFailure::None,
            log_destination: local(),
            max_log_count: DEFAULT_MAX_LOG_COUNT,
            max_log_size: DEFAULT_MAX_LOG_SIZE,
            startup: None,
        }),
        None => image.map(from_image).transpose()?.flatten(),
    };
    // Every flag is checked even when there is no check to apply it to.
    let flags = Flags::parse(req)?;
    let Some(mut hc) = base else {
        if req.startup_cmd.is_some() {
            return Err(HealthError::StartupWithoutCheck);
        }
        return Ok(None);
    };
    flags.apply(&mut hc);
    if let Some(cmd) = &req.startup_cmd {
        hc.startup = parse_test("--health-startup-cmd", cmd)?.map(|test| StartupCheck {
            test,
            interval: flags.startup_interval.unwrap_or(DEFAULT_INTERVAL),
            timeout: flags.startup_timeout.unwrap_or(DEFAULT_TIMEOUT),
            retries: flags.startup_retries.unwrap_or(0),
            success: flags.startup_success.unwrap_or(0),
        });
    }
    Ok(Some(hc))
}

/// The flags other than the commands, parsed.
#[derive(Default)]
struct Flags {
    interval: Option<Duration>,
    timeout: Option<Duration>,
    start_period: Option<Duration>,
    retries: Option<u32>,
    on_failure: Option<OnFailure>,
    log_destination: Option<String>,
    max_log_count: Option<u32>,
    max_log_size: Option<u32>,
    startup_interval: Option<Duration>,
    startup_timeout: Option<Duration>,
    startup_retries: Option<u32>,
    startup_success: Option<u32>,
}

/// An interval flag: at least 1s, or `disable` (zero).
fn interval_flag(flag: &'static str, v: &Option<String>) -> Result<Option<Duration>, HealthError> {
    match v.as_deref() {
        None => Ok(None),
        Some("disable") => Ok(Some(Duration::ZERO)),
        Some(v) => match duration_flag(flag, v)? {
            d if d.is_zero() || d >= Duration::from_secs(1) => Ok(Some(d)),
            _ => Err(HealthError::Flag {
                flag,
                value: v.to_string(),
                why: "must be at least 1s (or `disable`)".into(),
            }),
        },
    }
}

/// A timeout flag: at least 1s.
fn timeout_flag(flag: &'static str, v: &Option<String>) -> Result<Option<Duration>, HealthError> {
    v.as_deref()
        .map(|v| match duration_flag(flag, v)? {
            d if d >= Duration::from_secs(1) => Ok(d),
            _ => Err(HealthError::Flag {
                flag,
                value: v.to_string(),
                why: "must be at least 1s".into(),
            }),
        })
        .transpose()
}

/// `--health-on-failure`.
fn on_failure_flag(v: &str) -> Result<OnFailure, HealthError> {
    match v {
        "none" => Ok(OnFailure::None),
        "kill" => Ok(OnFailure::Kill),
        "restart" => Ok(OnFailure::Restart),
        "stop" => Ok(OnFailure::Stop),
        _ => Err(HealthError::Flag {
            flag: "--health-on-failure",
            value: v.to_string(),
            why: "use none, kill, restart or stop".into(),
        }),
    }
}

impl Flags {
    fn parse(req: &HealthRequest) -> Result<Flags, HealthError> {
        let on_failure = req.on_failure.as_deref().map(on_failure_flag).transpose()?;
        Ok(Flags {
            interval: interval_flag("--health-interval", &req.interval)?,
            timeout: timeout_flag("--health-timeout", &req.timeout)?,
            start_period: req
                .start_period
                .as_deref()
                .map(|v| duration_flag("--health-start-period", v))
                .transpose()?,
            retries: req
                .retries
                .as_deref()
                .map(|v| count_flag("--health-retries", v, 1))
                .transpose()?,
            on_failure,
            log_destination: req
                .log_destination
                .as_deref()
                .map(log_destination)
                .transpose()?,
            max_log_count: req
                .max_log_count
                .as_deref()
                .map(|v| count_flag("--health-max-log-count", v, 0))
                .transpose()?,
            max_log_size: req
                .max_log_size
                .as_deref()
                .map(|v| count_flag("--health-max-log-size", v, 0))
                .transpose()?,
            startup_interval: interval_flag("--health-startup-interval", &req.startup_interval)?,
            startup_timeout: timeout_flag("--health-startup-timeout", &req.startup_timeout)?,
            startup_retries: req
                .startup_retries
                .as_deref()
                .map(|v| count_flag("--health-startup-retries", v, 0))
                .transpose()?,
            startup_success: req
                .startup_success
                .as_deref()
                .map(|v| count_flag("--health-startup-success", v, 0))
                .transpose()?,
        })
    }

    fn apply(&self, hc: &mut HealthConfig) {
        if let Some(v) = self.interval {
            hc.interval = v;
        }
        if let Some(v) = self.timeout {
            hc.timeout = v;
        }
        if let Some(v) = self.start_period {
            hc.start_period = v;
        }
        if let Some(v) = self.retries {
            hc.retries = v;
        }
        if let Some(v) = self.on_failure {
            hc.on_failure = v;
        }
        if let Some(v) = &self.log_destination {
            hc.log_destination = v.clone();
        }
        if let Some(v) = self.max_log_count {
            hc.max_log_count = v;
        }
        if let Some(v) = self.max_log_size {
            hc.max_log_size = v;
        }
    }
}

/// `--health-log-destination`: `local`, `events_logger`, or an existing directory (absolute).
fn log_destination(v: &str) -> Result<String, HealthError> {
    if v == "local" || v == "events_logger" {
        return Ok(v.to_string());
    }
    let bad = |why: &str| HealthError::Flag {
        flag: "--health-log-destination",
        value: v.to_string(),
        why: why.to_string(),
    };
    let path = std::path::absolute(v).map_err(|_| bad("not a path"))?;
    match std::fs::metadata(&path) {
        Ok(m) if m.is_dir() => Ok(path.to_string_lossy().into_owned()),
        Ok(_) => Err(bad(
            "not a directory: use local, events_logger or a directory",
        )),
        Err(_) => Err(bad(
            "no such directory: use local, events_logger or a directory",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_as_go_parses_them() {
        assert_eq!(parse_duration("30s").unwrap(), Duration::from_secs(30));
        assert_eq!(parse_duration("1m30s").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("1.5h").unwrap(), Duration::from_secs(5400));
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("0").unwrap(), Duration::ZERO);
        for bad in ["", "30", "1x", "s", "-1s", "1s2"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn commands() {
        let t = |v| parse_test("--health-cmd", v).unwrap();
        assert_eq!(
            t("curl -f x"),
            Some(vec!["CMD-SHELL".into(), "curl -f x".into()])
        );
        assert_eq!(
            t(r#"["CMD","true"]"#),
            Some(vec!["CMD".into(), "true".into()])
        );
        assert_eq!(
            t(r#"["ls","/"]"#),
            Some(vec!["CMD".into(), "ls".into(), "/".into()])
        );
        assert_eq!(t("none"), None);
        assert!(parse_test("--health-cmd", "").is_err());
        assert!(parse_test("--health-cmd", "[1]").is_err());
        assert!(parse_test("--health-cmd", r#"["CMD"]"#).is_err());
    }

    #[test]
    fn the_image_check_with_flags_applied() {
        let image = serde_json::json!({"Test": ["CMD-SHELL", "true"], "Interval": 5_000_000_000u64, "Retries": 0});
        let req = HealthRequest {
            retries: Some("7".into()),
            ..HealthRequest::default()
        };
        let hc = resolve(Some(&image), &req).unwrap().unwrap();
        assert_eq!(hc.interval, Duration::from_secs(5));
        assert_eq!(hc.timeout, DEFAULT_TIMEOUT);
        assert_eq!(hc.retries, 7);
        let none = HealthRequest {
            no_healthcheck: true,
            ..HealthRequest::default()
        };
        assert_eq!(resolve(Some(&image), &none).unwrap(), None);
        let off = serde_json::json!({"Test": ["NONE"]});
        assert_eq!(
            resolve(Some(&off), &HealthRequest::default()).unwrap(),
            None
        );
    }

    #[test]
    fn bad_flags() {
        let with = |f: fn(&mut HealthRequest)| {
            let mut r = HealthRequest {
                cmd: Some("true".into()),
                ..HealthRequest::default()
            };
            f(&mut r);
            resolve(None, &r)
        };
        assert!(with(|r| r.interval = Some("fast".into())).is_err());
        assert!(with(|r| r.interval = Some("10ms".into())).is_err());
        assert!(with(|r| r.retries = Some("0".into())).is_err());
        assert!(with(|r| r.timeout = Some("0".into())).is_err());
        assert!(with(|r| r.on_failure = Some("explode".into())).is_err());
        assert!(with(|r| r.no_healthcheck = true).is_err());
        assert!(with(|r| r.log_destination = Some("/nonexistent/x".into())).is_err());
        assert_eq!(
            with(|r| r.interval = Some("disable".into()))
                .unwrap()
                .unwrap()
                .interval,
            Duration::ZERO
        );
    }
}
