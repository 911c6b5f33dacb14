//! The seccomp profile file format shared by docker and podman (`seccomp.json`), as data.
#![deny(clippy::print_stdout, clippy::print_stderr)]

use std::path::{Path, PathBuf};

use serde::{Deserialize, Deserializer, Serialize};

/// roost's default profile: podman's default in effect (see `share/seccomp.json`).
const DEFAULT_PROFILE: &str = include_str!("../../../share/seccomp.json");

/// Reading or parsing a profile failed.
#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    #[error("failed to read seccomp profile {}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("failed to parse seccomp profile {}", path.display())]
    Parse {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
}

/// A whole profile.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Profile {
    pub default_action: Action,
    /// The errno for an `SCMP_ACT_ERRNO` default action; EPERM when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_errno_ret: Option<u32>,
    /// Explicit architectures (`SCMP_ARCH_*`); when empty, `arch_map` picks them for the host.
    #[serde(default, deserialize_with = "null_default")]
    pub architectures: Vec<String>,
    #[serde(default, deserialize_with = "null_default")]
    pub arch_map: Vec<ArchMap>,
    /// `SECCOMP_FILTER_FLAG_*` names.
    #[serde(default, deserialize_with = "null_default")]
    pub flags: Vec<String>,
    #[serde(default, deserialize_with = "null_default")]
    pub syscalls: Vec<SyscallRule>,
}

/// The architectures to add to the filter on a host of `architecture`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ArchMap {
    pub architecture: String,
    #[serde(default, deserialize_with = "null_default")]
    pub sub_architectures: Vec<String>,
}

/// One rule: an action for some system calls, maybe only for some argument values, maybe only
/// for some capability sets, architectures or kernels.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SyscallRule {
    #[serde(default, deserialize_with = "null_default")]
    pub names: Vec<String>,
    /// The old single-name form (`"name": "accept"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub action: Action,
    /// The errno for `SCMP_ACT_ERRNO` (EPERM when absent), or the message for `SCMP_ACT_TRACE`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub errno_ret: Option<u32>,
    /// All must hold (libseccomp ANDs them); several on one argument become one rule each.
    #[serde(default, deserialize_with = "null_default")]
    pub args: Vec<Arg>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// The rule applies only if all of these hold.
    #[serde(default, deserialize_with = "null_default")]
    pub includes: Conditions,
    /// The rule applies only if none of these holds.
    #[serde(default, deserialize_with = "null_default")]
    pub excludes: Conditions,
}

impl SyscallRule {
    /// `names` plus the old `name`.
    pub fn all_names(&self) -> impl Iterator<Item = &str> {
        self.names
            .iter()
            .map(String::as_str)
            .chain(self.name.as_deref())
    }
}

/// A comparison of one system call argument.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Arg {
    pub index: u32,
    /// The operand; for `SCMP_CMP_MASKED_EQ`, the mask.
    pub value: u64,
    /// For `SCMP_CMP_MASKED_EQ`, the value the masked argument must equal.
    #[serde(default)]
    pub value_two: u64,
    pub op: Op,
}

/// `includes` / `excludes`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Conditions {
    /// Capability names (`CAP_SYS_ADMIN`).
    #[serde(default, deserialize_with = "null_default")]
    pub caps: Vec<String>,
    /// Go-style architecture names (`amd64`, `arm64`, `x86`, `s390x`…).
    #[serde(default, deserialize_with = "null_default")]
    pub arches: Vec<String>,
    /// `major.minor`: only on kernels at least this new.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_kernel: Option<String>,
}

impl Conditions {
    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.caps.is_empty() && self.arches.is_empty() && self.min_kernel.is_none()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Action {
    /// Kills the thread (libseccomp's historical `SCMP_ACT_KILL`).
    #[serde(rename = "SCMP_ACT_KILL")]
    Kill,
    #[serde(rename = "SCMP_ACT_KILL_THREAD")]
    KillThread,
    #[serde(rename = "SCMP_ACT_KILL_PROCESS")]
    KillProcess,
    #[serde(rename = "SCMP_ACT_TRAP")]
    Trap,
    #[serde(rename = "SCMP_ACT_ERRNO")]
    Errno,
    #[serde(rename = "SCMP_ACT_TRACE")]
    Trace,
    #[serde(rename = "SCMP_ACT_ALLOW")]
    Allow,
    #[serde(rename = "SCMP_ACT_LOG")]
    Log,
    #[serde(rename = "SCMP_ACT_NOTIFY")]
    Notify,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Op {
    #[serde(rename = "SCMP_CMP_NE")]
    NotEqual,
    #[serde(rename = "SCMP_CMP_LT")]
    Less,
    #[serde(rename = "SCMP_CMP_LE")]
    LessOrEqual,
    #[serde(rename = "SCMP_CMP_EQ")]
    Equal,
    #[serde(rename = "SCMP_CMP_GE")]
    GreaterOrEqual,
    #[serde(rename = "SCMP_CMP_GT")]
    Greater,
    #[serde(rename = "SCMP_CMP_MASKED_EQ")]
    MaskedEqual,
}

/// `null` reads as the empty value (podman's files have `"args": null`).
fn null_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

impl Profile {
    /// Parse profile text; `path` only names it in errors.
    pub fn parse(text: &str, path: &Path) -> Result<Profile, ProfileError> {
        serde_json::from_str(text).map_err(|source| ProfileError::Parse {
            path: path.to_path_buf(),
            source,
        })
    }

    #[cfg(test)]
    /// Every system call name in the profile, in file order, repeats included.
    pub fn syscall_names(&self) -> impl Iterator<Item = &str> {
        self.syscalls.iter().flat_map(SyscallRule::all_names)
    }
}

/// The built-in profile (podman's default in effect).
pub fn default_profile() -> Profile {
    Profile::parse(DEFAULT_PROFILE, Path::new("share/seccomp.json"))
        .expect("the built-in profile is valid: a unit test parses it")
}

/// A profile file, for `--security-opt seccomp=FILE`.
pub fn load_profile(path: &Path) -> Result<Profile, ProfileError> {
    let text = std::fs::read_to_string(path).map_err(|source| ProfileError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    Profile::parse(&text, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_profile_parses_with_podman_shape() {
        let p = default_profile();
        assert_eq!(p.default_action, Action::Errno);
        assert_eq!(p.default_errno_ret, Some(38), "ENOSYS for unknown calls");
        let names: std::collections::BTreeSet<&str> = p.syscall_names().collect();
        assert!(names.len() > 300, "only {} names", names.len());
        for n in ["read", "execve", "capset", "clone3", "rseq", "personality"] {
            assert!(names.contains(n), "{n}");
        }
        let x86 = p
            .arch_map
            .iter()
            .find(|m| m.architecture == "SCMP_ARCH_X86_64")
            .unwrap();
        assert_eq!(x86.sub_architectures, ["SCMP_ARCH_X86", "SCMP_ARCH_X32"]);
    }

    fn rule<'a>(p: &'a Profile, name: &str, action: Action) -> Vec<&'a SyscallRule> {
        p.syscalls
            .iter()
            .filter(|r| r.action == action && r.all_names().any(|n| n == name))
            .collect()
    }

    #[test]
    fn shipped_profile_has_capability_rules() {
        let p = default_profile();
        for (name, cap) in [
            ("ptrace", "CAP_SYS_PTRACE"),
            ("sethostname", "CAP_SYS_ADMIN"),
            ("bpf", "CAP_SYS_ADMIN"),
            ("chroot", "CAP_SYS_CHROOT"),
            ("init_module", "CAP_SYS_MODULE"),
            ("clock_settime", "CAP_SYS_TIME"),
            ("open_by_handle_at", "CAP_DAC_READ_SEARCH"),
        ] {
            let allow = rule(&p, name, Action::Allow);
            assert!(allow.iter().any(|r| r.includes.caps == [cap]), "{name}");
            let deny = rule(&p, name, Action::Errno);
            assert!(
                deny.iter()
                    .any(|r| r.excludes.caps == [cap] && r.errno_ret == Some(1)),
                "{name}"
            );
        }
        let eperm = rule(&p, "kexec_load", Action::Errno);
        assert_eq!(eperm[0].errno_ret, Some(1));
        assert!(eperm[0].includes.is_empty() && eperm[0].excludes.is_empty());
    }

    #[test]
    fn shipped_profile_has_argument_rules() {
        let p = default_profile();
        let personas: Vec<u64> = rule(&p, "personality", Action::Allow)
            .iter()
            .map(|r| r.args[0].value)
            .collect();
        assert_eq!(personas, [0, 8, 0x20000, 0x20008, 0xffff_ffff]);
        let audit = rule(&p, "socket", Action::Errno);
        assert_eq!(audit[0].errno_ret, Some(22));
        assert_eq!(audit[0].args.len(), 2);
        assert_eq!(audit[0].excludes.caps, ["CAP_AUDIT_WRITE"]);
    }

    #[test]
    fn docker_style_fields_and_nulls() {
        let text = r#"{
            "defaultAction": "SCMP_ACT_ALLOW",
            "architectures": null,
            "archMap": [{"architecture": "SCMP_ARCH_X86_64", "subArchitectures": null}],
            "syscalls": [
                {"name": "getcwd", "action": "SCMP_ACT_ERRNO", "args": null,
                 "includes": {}, "excludes": null, "comment": null},
                {"names": ["clone"], "action": "SCMP_ACT_ALLOW",
                 "args": [{"index": 0, "value": 2114060288, "op": "SCMP_CMP_MASKED_EQ"}],
                 "includes": {"minKernel": "4.8", "arches": ["amd64"]}}
            ]
        }"#;
        let p = Profile::parse(text, Path::new("t.json")).unwrap();
        assert_eq!(p.default_errno_ret, None);
        assert!(p.arch_map[0].sub_architectures.is_empty());
        assert_eq!(p.syscalls[0].all_names().collect::<Vec<_>>(), ["getcwd"]);
        assert_eq!(p.syscalls[1].args[0].op, Op::MaskedEqual);
        assert_eq!(p.syscalls[1].args[0].value_two, 0);
        assert_eq!(p.syscalls[1].includes.min_kernel.as_deref(), Some("4.8"));
    }

    #[test]
    fn bad_profiles_name_the_file() {
        let err = Profile::parse(
            r#"{"defaultAction": "SCMP_ACT_BOGUS"}"#,
            Path::new("/x/p.json"),
        )
        .unwrap_err();
        assert_eq!(err.to_string(), "failed to parse seccomp profile /x/p.json");
        let err = load_profile(Path::new("/nonexistent/roost.json")).unwrap_err();
        assert!(matches!(err, ProfileError::Read { .. }));
    }

    #[test]
    fn load_profile_reads_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.json");
        std::fs::write(&path, DEFAULT_PROFILE).unwrap();
        assert_eq!(load_profile(&path).unwrap(), default_profile());
    }
}
