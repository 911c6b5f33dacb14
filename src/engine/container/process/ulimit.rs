//! `--ulimit type=soft[:hard]` (docker's syntax; podman also takes `unlimited`). Parsed once at
//! create; stored in the flag's form (`nofile=1024:2048`), so containers of either version read it.
use std::fmt;

use nix::sys::resource::Resource as R;

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
    #[error("--ulimit host cannot be combined with other --ulimit values")]
    HostWithOthers,
}

/// The resources `--ulimit` can name (setrlimit(2)'s `RLIMIT_*`, lowercase without the prefix).
pub const RESOURCES: [(&str, R); 15] = [
    ("core", R::RLIMIT_CORE),
    ("cpu", R::RLIMIT_CPU),
    ("data", R::RLIMIT_DATA),
    ("fsize", R::RLIMIT_FSIZE),
    ("locks", R::RLIMIT_LOCKS),
    ("memlock", R::RLIMIT_MEMLOCK),
    ("msgqueue", R::RLIMIT_MSGQUEUE),
    ("nice", R::RLIMIT_NICE),
    ("nofile", R::RLIMIT_NOFILE),
    ("nproc", R::RLIMIT_NPROC),
    ("rss", R::RLIMIT_RSS),
    ("rtprio", R::RLIMIT_RTPRIO),
    ("rttime", R::RLIMIT_RTTIME),
    ("sigpending", R::RLIMIT_SIGPENDING),
    ("stack", R::RLIMIT_STACK),
];

/// One resource limit. `UNLIMITED` is `RLIM_INFINITY`, as the OCI runtime spec takes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ulimit {
    /// One of [`RESOURCES`].
    pub resource: &'static str,
    /// setrlimit(2)'s name for it.
    pub kind: R,
    pub soft: u64,
    pub hard: u64,
}

impl Ulimit {
    pub const UNLIMITED: u64 = u64::MAX;

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
    let (resource, kind) = RESOURCES
        .iter()
        .find(|(r, _)| *r == name)
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
        kind: *kind,
        soft,
        hard,
    })
}

/// Every `--ulimit` of a container. `host` (the caller's limits, which the container inherits as
/// roost sets none itself) stands alone and means no limit of ours.
pub fn parse_ulimits(args: &[String]) -> Result<Vec<Ulimit>, UlimitError> {
    if args.iter().any(|u| u == "host") {
        return match args.len() {
            1 => Ok(Vec::new()),
            _ => Err(UlimitError::HostWithOthers),
        };
    }
    args.iter().map(|a| parse_ulimit(a)).collect()
}

/// The limits a container starts with: its `--ulimit`s and, as podman sets them for a rootless
/// container that names none (podman-run(1) `--ulimit`), RLIMIT_NPROC at the caller's hard limit
/// (soft and hard alike; the kernel counts the processes of all the user's containers together), read
/// at each start. `--ulimit host` (`host`) keeps the caller's limits as they are.
pub fn at_start(ulimits: &[Ulimit], host: bool, rootless: bool) -> Vec<Ulimit> {
    let mut out = ulimits.to_vec();
    if host || !rootless || out.iter().any(|u| u.kind == R::RLIMIT_NPROC) {
        return out;
    }
    if let Ok((_, hard)) = nix::sys::resource::getrlimit(R::RLIMIT_NPROC) {
        let hard = if hard == nix::sys::resource::RLIM_INFINITY {
            Ulimit::UNLIMITED
        } else {
            hard
        };
        out.push(Ulimit {
            resource: "nproc",
            kind: R::RLIMIT_NPROC,
            soft: hard,
            hard,
        });
    }
    out
}

impl fmt::Display for Ulimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let value = |v: u64| match v {
            Ulimit::UNLIMITED => "-1".to_string(),
            v => v.to_string(),
        };
        write!(
            f,
            "{}={}:{}",
            self.resource,
            value(self.soft),
            value(self.hard)
        )
    }
}

impl serde::Serialize for Ulimit {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// A stored list of `--ulimit` values (including the previous version's `host`).
pub fn deserialize_ulimits<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Vec<Ulimit>, D::Error> {
    let args = <Vec<String> as serde::Deserialize>::deserialize(d)?;
    parse_ulimits(&args).map_err(serde::de::Error::custom)
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
        for (r, kind) in RESOURCES {
            assert_eq!(parse_ulimit(&format!("{r}=1")).unwrap().kind, kind, "{r}");
        }
    }

    /// Stored in the flag's form: the previous version's strings read back, and what this version
    /// writes parses to the same limits.
    #[test]
    fn stored_as_flag_strings() {
        #[derive(serde::Serialize, serde::Deserialize)]
        struct Spec {
            #[serde(deserialize_with = "deserialize_ulimits")]
            ulimits: Vec<Ulimit>,
        }
        let old: Spec =
            serde_json::from_str(r#"{"ulimits":["nofile=1024:2048","core=unlimited"]}"#).unwrap();
        let written = serde_json::to_string(&old).unwrap();
        assert_eq!(written, r#"{"ulimits":["nofile=1024:2048","core=-1:-1"]}"#);
        let again: Spec = serde_json::from_str(&written).unwrap();
        assert_eq!(again.ulimits, old.ulimits);
        let host: Spec = serde_json::from_str(r#"{"ulimits":["host"]}"#).unwrap();
        assert!(host.ulimits.is_empty());
        assert!(matches!(
            parse_ulimits(&["host".into(), "nofile=1".into()]),
            Err(UlimitError::HostWithOthers)
        ));
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
