//! `--log-level`: tracing to stderr, podman's level names.
#![deny(clippy::print_stdout, clippy::print_stderr)]

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
    let _ = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_max_level(level)
        .with_target(false)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .without_time()
        .try_init();
}

#[cfg(test)]
mod tests {
    #[test]
    fn levels() {
        assert_eq!(super::parse_level("DEBUG").unwrap(), tracing::Level::DEBUG);
        assert_eq!(super::parse_level("fatal").unwrap(), tracing::Level::ERROR);
        assert!(super::parse_level("loud").is_err());
    }
}
