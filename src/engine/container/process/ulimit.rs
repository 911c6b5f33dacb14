//! `--ulimit type=soft[:hard]` (docker's syntax; podman also takes `unlimited`).

#[derive(Debug, thiserror::Error)]
pub enum UlimitError {
    #[error("invalid ulimit argument: `{0}`")]
    Argument(String),
    #[error("invalid ulimit type: `{0}`")]
    Type(String),
    #[error("invalid ulimit value `{value}` in `{arg}`")]
    Value { arg: String, value: String },
    #[error("too many limit value arguments in `{0}`, can only have up to two, `soft[:hard]`")]
    TooManyValues(String),
    #[error("ulimit soft limit must be less than or equal to hard limit in `{0}`")]
    SoftAboveHard(String),
}

/// The resources `--ulimit` can name (setrlimit(2)'s `RLIMIT_*`, lowercase without the prefix).
pub const RESOURCES: [&str; 15] = [
    "core",
    "cpu",
    "data",
    "fsize",
    "locks",
    "memlock",
    "msgqueue",
    "nice",
    "nofile",
    "nproc",
    "rss",
    "rtprio",
    "rttime",
    "sigpending",
    "stack",
];

/// One resource limit. `UNLIMITED` is `RLIM_INFINITY`, as the OCI runtime spec takes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ulimit {
    /// One of [`RESOURCES`].
    pub resource: &'static str,
    pub soft: u64,
    pub hard: u64,
}

impl Ulimit {
    pub const UNLIMITED: u64 = u64::MAX;

    #[cfg(test)]
    /// The OCI runtime spec's name for the resource, e.g. `RLIMIT_NOFILE`.
    pub fn oci_type(&self) -> String {
        format!("RLIMIT_{}", self.resource.to_ascii_uppercase())
    }
}

/// Parse `nofile=1024:2048`, `nofile=1024` (soft = hard), `core=-1` or `core=unlimited`.
/// (`--ulimit host`, copying the caller's limits, is for the caller to handle.)
pub fn parse_ulimit(arg: &str) -> Result<Ulimit, UlimitError> {
    let (name, values) = arg
        .split_once('=')
        .ok_or_else(|| UlimitError::Argument(arg.to_string()))?;
    let resource = RESOURCES
        .iter()
        .find(|r| **r == name)
        .ok_or_else(|| UlimitError::Type(name.to_string()))?;
    let parts: Vec<&str> = values.split(':').collect();
    if parts.len() > 2 {
        return Err(UlimitError::TooManyValues(arg.to_string()));
    }
    let value = |s: &str| match s {
        "-1" | "unlimited" => Ok(Ulimit::UNLIMITED),
        _ => s.parse::<u64>().map_err(|_| UlimitError::Value {
            arg: arg.to_string(),
            value: s.to_string(),
        }),
    };
    let soft = value(parts[0])?;
    let hard = match parts.get(1) {
        Some(h) => value(h)?,
        None => soft,
    };
    if soft > hard {
        return Err(UlimitError::SoftAboveHard(arg.to_string()));
    }
    Ok(Ulimit {
        resource,
        soft,
        hard,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const INF: u64 = Ulimit::UNLIMITED;

    #[test]
    fn valid_table() {
        let cases = [
            ("nofile=1024:2048", "nofile", 1024, 2048),
            ("nofile=1024", "nofile", 1024, 1024),
            ("core=-1", "core", INF, INF),
            ("core=unlimited", "core", INF, INF),
            ("memlock=-1:-1", "memlock", INF, INF),
            ("stack=8192:unlimited", "stack", 8192, INF),
            ("nproc=0:0", "nproc", 0, 0),
            ("rtprio=99", "rtprio", 99, 99),
        ];
        for (arg, resource, soft, hard) in cases {
            let u = parse_ulimit(arg).unwrap();
            assert_eq!(
                (u.resource, u.soft, u.hard),
                (resource, soft, hard),
                "{arg}"
            );
        }
        assert_eq!(
            parse_ulimit("nofile=1").unwrap().oci_type(),
            "RLIMIT_NOFILE"
        );
        for r in RESOURCES {
            assert!(parse_ulimit(&format!("{r}=1")).is_ok(), "{r}");
        }
    }

    #[test]
    fn invalid_table() {
        type Check = fn(&UlimitError) -> bool;
        let cases: &[(&str, Check)] = &[
            ("nofile", |e| matches!(e, UlimitError::Argument(_))),
            (
                "files=1",
                |e| matches!(e, UlimitError::Type(t) if t == "files"),
            ),
            ("NOFILE=1", |e| matches!(e, UlimitError::Type(_))),
            ("nofile=1:2:3", |e| {
                matches!(e, UlimitError::TooManyValues(_))
            }),
            (
                "nofile=abc",
                |e| matches!(e, UlimitError::Value { value, .. } if value == "abc"),
            ),
            ("nofile=", |e| matches!(e, UlimitError::Value { .. })),
            ("nofile=-2", |e| matches!(e, UlimitError::Value { .. })),
            ("nofile=2048:1024", |e| {
                matches!(e, UlimitError::SoftAboveHard(_))
            }),
            ("nofile=-1:1024", |e| {
                matches!(e, UlimitError::SoftAboveHard(_))
            }),
        ];
        for (arg, check) in cases {
            let err = parse_ulimit(arg).unwrap_err();
            assert!(check(&err), "{arg}: {err:?}");
        }
    }
}
