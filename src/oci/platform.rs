//! Platforms (`os/arch[/variant]`) and the host's own.
use std::fmt;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Platform {
    pub architecture: String,
    pub os: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    #[serde(
        rename = "os.version",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub os_version: Option<String>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PlatformError {
    #[error("invalid platform `{0}`: expected OS/ARCH[/VARIANT], e.g. linux/amd64")]
    Invalid(String),
    /// podman's words.
    #[error("--platform option can not be specified with --arch or --os")]
    WithArchOrOs,
}

/// GOARCH name of the machine roost was built for.
pub fn host_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "arm" => "arm",
        "powerpc64" => "ppc64le",
        "s390x" => "s390x",
        "riscv64" => "riscv64",
        other => other,
    }
}

impl Platform {
    pub fn host() -> Platform {
        Platform {
            architecture: host_arch().to_string(),
            os: "linux".to_string(),
            variant: if host_arch() == "arm64" {
                Some("v8".into())
            } else {
                None
            },
            os_version: None,
        }
    }

    /// `--platform os/arch[/variant]`, with podman's `--os`/`--arch`/`--variant` overrides applied on top of the host.
    pub fn from_flags(
        platform: Option<&str>,
        os: Option<&str>,
        arch: Option<&str>,
        variant: Option<&str>,
    ) -> Result<Platform, PlatformError> {
        let mut p = Platform::host();
        let given = |f: Option<&str>| f.is_some_and(|s| !s.is_empty());
        if given(platform) && (given(os) || given(arch)) {
            return Err(PlatformError::WithArchOrOs);
        }
        if let Some(s) = platform.filter(|s| !s.is_empty()) {
            let parts: Vec<&str> = s.split('/').collect();
            if parts.len() < 2 || parts.len() > 3 || parts.iter().any(|x| x.is_empty()) {
                return Err(PlatformError::Invalid(s.to_string()));
            }
            p.os = parts[0].to_string();
            p.architecture = normalize_arch(parts[1]).to_string();
            p.variant = parts.get(2).map(|v| v.to_string());
        }
        if let Some(o) = os.filter(|s| !s.is_empty()) {
            p.os = o.to_string();
        }
        if let Some(a) = arch.filter(|s| !s.is_empty()) {
            p.architecture = normalize_arch(a).to_string();
            if variant.is_none() && platform.is_none() {
                p.variant = None;
            }
        }
        if let Some(v) = variant.filter(|s| !s.is_empty()) {
            p.variant = Some(v.to_string());
        }
        Ok(p)
    }

    /// Whether an index entry's platform satisfies this wanted platform (a missing wanted variant matches any).
    pub fn matches(&self, candidate: &Platform) -> bool {
        let variant_ok = match (&self.variant, &candidate.variant) {
            (None, _) => true,
            (Some(w), Some(c)) => w == c,
            (Some(w), None) => self.architecture == "arm64" && w == "v8",
        };
        self.os == candidate.os
            && self.architecture == normalize_arch(&candidate.architecture)
            && variant_ok
    }
}

fn normalize_arch(a: &str) -> &str {
    match a {
        "x86_64" | "x86-64" => "amd64",
        "aarch64" => "arm64",
        "i386" | "i686" => "386",
        other => other,
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(v) = &self.variant {
            write!(f, "/{v}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags() {
        let p = Platform::from_flags(Some("linux/arm/v7"), None, None, None).unwrap();
        assert_eq!(p.to_string(), "linux/arm/v7");
        let p = Platform::from_flags(None, None, Some("x86_64"), None).unwrap();
        assert_eq!(p.architecture, "amd64");
        assert!(Platform::from_flags(Some("linux"), None, None, None).is_err());
        assert!(Platform::from_flags(Some("linux//"), None, None, None).is_err());
    }

    #[test]
    fn matching() {
        let want = Platform::from_flags(Some("linux/arm64"), None, None, None).unwrap();
        let cand = Platform {
            architecture: "arm64".into(),
            os: "linux".into(),
            variant: Some("v8".into()),
            os_version: None,
        };
        assert!(want.matches(&cand));
        let want7 = Platform::from_flags(Some("linux/arm/v7"), None, None, None).unwrap();
        let cand6 = Platform {
            architecture: "arm".into(),
            os: "linux".into(),
            variant: Some("v6".into()),
            os_version: None,
        };
        assert!(!want7.matches(&cand6));
    }
}
