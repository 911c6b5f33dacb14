//! The restart policy (`--restart`): parsed once when the container is created and stored typed; on
//! disk it keeps the flag's string form (`on-failure:3`), so containers of either version read it.
use std::fmt;

use crate::engine::EngineError;

/// The restart policy (`--restart`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Restart {
    #[default]
    No,
    OnFailure(Option<u32>),
    Always,
    UnlessStopped,
}

impl Restart {
    /// podman inspect's `RestartPolicy.Name`.
    pub fn name(self) -> &'static str {
        match self {
            Restart::No => "no",
            Restart::OnFailure(_) => "on-failure",
            Restart::Always => "always",
            Restart::UnlessStopped => "unless-stopped",
        }
    }

    /// podman inspect's `RestartPolicy.MaximumRetryCount` (0: no limit).
    pub fn max_retries(self) -> u32 {
        match self {
            Restart::OnFailure(Some(n)) => n,
            _ => 0,
        }
    }

    /// Whether to start the container again after it ended with `code`.
    pub fn should_restart(self, code: i32, restarts: u32, stopped_by_user: bool) -> bool {
        if stopped_by_user {
            return false;
        }
        match self {
            Restart::No => false,
            Restart::OnFailure(max) => code != 0 && max.is_none_or(|m| restarts < m),
            Restart::Always | Restart::UnlessStopped => true,
        }
    }
}

/// Parse `no`, `on-failure[:N]`, `always` or `unless-stopped` (empty: `no`).
pub fn parse_restart(s: &str) -> Result<Restart, EngineError> {
    let (name, arg) = s.split_once(':').map_or((s, None), |(n, a)| (n, Some(a)));
    let bad = || EngineError::from(super::FlagError::Restart(s.to_string()));
    Ok(match (name, arg) {
        ("" | "no", None) => Restart::No,
        ("on-failure", None) => Restart::OnFailure(None),
        ("on-failure", Some(n)) => Restart::OnFailure(Some(n.parse().map_err(|_| bad())?)),
        ("always", None) => Restart::Always,
        ("unless-stopped", None) => Restart::UnlessStopped,
        _ => return Err(bad()),
    })
}

impl fmt::Display for Restart {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Restart::OnFailure(Some(n)) => write!(f, "on-failure:{n}"),
            other => f.write_str(other.name()),
        }
    }
}

impl serde::Serialize for Restart {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Restart {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        parse_restart(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn restart_policies() {
        assert_eq!(parse_restart("no").unwrap(), Restart::No);
        assert_eq!(
            parse_restart("on-failure:3").unwrap(),
            Restart::OnFailure(Some(3))
        );
        assert_eq!(parse_restart("always").unwrap(), Restart::Always);
        assert!(parse_restart("sometimes").is_err());
        assert!(parse_restart("on-failure:x").is_err());
        assert!(Restart::OnFailure(Some(2)).should_restart(1, 1, false));
        assert!(!Restart::OnFailure(Some(2)).should_restart(1, 2, false));
        assert!(!Restart::OnFailure(None).should_restart(0, 0, false));
        assert!(Restart::Always.should_restart(0, 9, false));
        assert!(!Restart::Always.should_restart(0, 0, true));
    }

    /// The stored form is the flag's: what the previous version wrote reads back, and what this
    /// one writes, the previous version can read.
    #[test]
    fn stored_as_the_flag_string() {
        for (stored, policy) in [
            ("\"\"", Restart::No),
            ("\"no\"", Restart::No),
            ("\"on-failure\"", Restart::OnFailure(None)),
            ("\"on-failure:3\"", Restart::OnFailure(Some(3))),
            ("\"unless-stopped\"", Restart::UnlessStopped),
        ] {
            assert_eq!(serde_json::from_str::<Restart>(stored).unwrap(), policy);
            let written = serde_json::to_string(&policy).unwrap();
            assert_eq!(serde_json::from_str::<Restart>(&written).unwrap(), policy);
        }
        assert_eq!(
            serde_json::to_string(&Restart::OnFailure(Some(3))).unwrap(),
            "\"on-failure:3\""
        );
    }
}
