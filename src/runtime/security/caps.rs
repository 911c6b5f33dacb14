//! Capability sets: podman's default set, `--cap-add`/`--cap-drop`/`--privileged`, and applying a
//! set to the container process before `execve`.
#![deny(clippy::print_stdout, clippy::print_stderr)]

use std::fmt;

use rustix::thread::{CapabilitySet as KernelSet, CapabilitySets};

/// Capability names by number (`linux/capability.h`), without the `CAP_` prefix.
const NAMES: [&str; 41] = [
    "CHOWN",
    "DAC_OVERRIDE",
    "DAC_READ_SEARCH",
    "FOWNER",
    "FSETID",
    "KILL",
    "SETGID",
    "SETUID",
    "SETPCAP",
    "LINUX_IMMUTABLE",
    "NET_BIND_SERVICE",
    "NET_BROADCAST",
    "NET_ADMIN",
    "NET_RAW",
    "IPC_LOCK",
    "IPC_OWNER",
    "SYS_MODULE",
    "SYS_RAWIO",
    "SYS_CHROOT",
    "SYS_PTRACE",
    "SYS_PACCT",
    "SYS_ADMIN",
    "SYS_BOOT",
    "SYS_NICE",
    "SYS_RESOURCE",
    "SYS_TIME",
    "SYS_TTY_CONFIG",
    "MKNOD",
    "LEASE",
    "AUDIT_WRITE",
    "AUDIT_CONTROL",
    "SETFCAP",
    "MAC_OVERRIDE",
    "MAC_ADMIN",
    "SYSLOG",
    "WAKE_ALARM",
    "BLOCK_SUSPEND",
    "AUDIT_READ",
    "PERFMON",
    "BPF",
    "CHECKPOINT_RESTORE",
];

/// podman's default capabilities (containers.conf `default_capabilities`, podman 4 and later).
pub const DEFAULT_CAPABILITIES: [&str; 11] = [
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_NET_BIND_SERVICE",
    "CAP_SETFCAP",
    "CAP_SETGID",
    "CAP_SETPCAP",
    "CAP_SETUID",
    "CAP_SYS_CHROOT",
];

/// Failures of capability parsing and of applying a set to the current process.
#[derive(Debug, thiserror::Error)]
pub enum CapsError {
    #[error("unknown capability `{name}`")]
    Unknown { name: String },
    #[error("capability `{name}` cannot be both added and dropped")]
    AddedAndDropped { name: String },
    #[error("cannot both add and drop `ALL` capabilities")]
    AllAddedAndDropped,
    #[error("failed to drop `{cap}` from the bounding set")]
    DropBounding {
        cap: Capability,
        #[source]
        source: rustix::io::Errno,
    },
    #[error("failed to clear the ambient capability set")]
    ClearAmbient(#[source] rustix::io::Errno),
    #[error("failed to set capabilities (effective {effective}, permitted {permitted})")]
    Set {
        effective: CapSet,
        permitted: CapSet,
        #[source]
        source: rustix::io::Errno,
    },
}

/// One capability, by kernel number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Capability(u8);

impl Capability {
    /// The kernel's number for this capability.
    pub fn number(self) -> u8 {
        self.0
    }

    /// The name without the `CAP_` prefix, e.g. `NET_ADMIN`.
    pub fn short_name(self) -> &'static str {
        NAMES[usize::from(self.0)]
    }

    /// Parse `CAP_NET_ADMIN`, `NET_ADMIN` or `net_admin` (any case, `CAP_` optional).
    pub fn parse(name: &str) -> Result<Self, CapsError> {
        let upper = name.trim().to_ascii_uppercase();
        let short = upper.strip_prefix("CAP_").unwrap_or(&upper);
        NAMES
            .iter()
            .position(|n| *n == short)
            .map(|i| Capability(i as u8))
            .ok_or_else(|| CapsError::Unknown {
                name: name.to_string(),
            })
    }
}

impl fmt::Display for Capability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CAP_{}", self.short_name())
    }
}

/// A set of capabilities (a bit per kernel capability number).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct CapSet(u64);

impl CapSet {
    /// No capabilities.
    pub const fn empty() -> Self {
        CapSet(0)
    }

    /// Every capability this build knows (`--privileged`). [`apply`] intersects it with what the
    /// running kernel supports.
    pub fn all() -> Self {
        CapSet((1u64 << NAMES.len()) - 1)
    }

    /// podman's default set, [`DEFAULT_CAPABILITIES`].
    pub fn podman_default() -> Self {
        DEFAULT_CAPABILITIES
            .iter()
            .map(|n| Capability::parse(n).expect("the default list holds known names"))
            .collect()
    }

    pub fn contains(&self, cap: Capability) -> bool {
        self.0 & (1 << cap.0) != 0
    }

    /// Whether the set holds the capability called `name` (any accepted spelling); an unknown
    /// name is not held.
    pub fn contains_name(&self, name: &str) -> bool {
        Capability::parse(name).is_ok_and(|c| self.contains(c))
    }

    pub fn insert(&mut self, cap: Capability) {
        self.0 |= 1 << cap.0;
    }

    pub fn remove(&mut self, cap: Capability) {
        self.0 &= !(1 << cap.0);
    }

    pub fn is_empty(&self) -> bool {
        self.0 == 0
    }

    /// The members, lowest number first.
    pub fn iter(&self) -> impl Iterator<Item = Capability> + '_ {
        (0..NAMES.len() as u8)
            .map(Capability)
            .filter(|c| self.contains(*c))
    }

    /// The kernel's bit mask (bit n is capability n).
    pub fn bits(&self) -> u64 {
        self.0
    }

    /// `base` with `--cap-add` and `--cap-drop` applied, as podman merges them: `ALL` in `drop`
    /// starts from nothing, `ALL` in `add` from every capability, then the named drops and adds
    /// apply. Naming one capability in both lists, or `ALL` in both, is an error.
    pub fn resolve(base: CapSet, add: &[CapArg], drop: &[CapArg]) -> Result<CapSet, CapsError> {
        let add_all = add.contains(&CapArg::All);
        let drop_all = drop.contains(&CapArg::All);
        if add_all && drop_all {
            return Err(CapsError::AllAddedAndDropped);
        }
        let adds: CapSet = add.iter().filter_map(|a| a.one()).collect();
        let drops: CapSet = drop.iter().filter_map(|a| a.one()).collect();
        if let Some(cap) = adds.iter().find(|c| drops.contains(*c)) {
            return Err(CapsError::AddedAndDropped {
                name: cap.to_string(),
            });
        }
        let mut set = if drop_all {
            CapSet::empty()
        } else if add_all {
            CapSet::all()
        } else {
            base
        };
        for cap in drops.iter() {
            set.remove(cap);
        }
        for cap in adds.iter() {
            set.insert(cap);
        }
        Ok(set)
    }
}

/// A `--cap-add`/`--cap-drop` value: one capability, or `ALL`. Stored in its canonical string form
/// (`CAP_NET_ADMIN`, `ALL`); any form [`CapArg::parse`] takes reads back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CapArg {
    All,
    One(Capability),
}

impl CapArg {
    /// `ALL` (any case), or a capability as [`Capability::parse`] takes it.
    pub fn parse(name: &str) -> Result<CapArg, CapsError> {
        match name.trim().eq_ignore_ascii_case("all") {
            true => Ok(CapArg::All),
            false => Capability::parse(name).map(CapArg::One),
        }
    }

    /// Every value of one flag.
    pub fn parse_all(names: &[String]) -> Result<Vec<CapArg>, CapsError> {
        names.iter().map(|n| CapArg::parse(n)).collect()
    }

    fn one(self) -> Option<Capability> {
        match self {
            CapArg::All => None,
            CapArg::One(c) => Some(c),
        }
    }
}

impl fmt::Display for CapArg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CapArg::All => f.write_str("ALL"),
            CapArg::One(c) => c.fmt(f),
        }
    }
}

impl serde::Serialize for CapArg {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for CapArg {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        CapArg::parse(&s).map_err(serde::de::Error::custom)
    }
}

impl FromIterator<Capability> for CapSet {
    fn from_iter<I: IntoIterator<Item = Capability>>(iter: I) -> Self {
        let mut set = CapSet::empty();
        for cap in iter {
            set.insert(cap);
        }
        set
    }
}

impl fmt::Display for CapSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_empty() {
            return f.write_str("none");
        }
        let names: Vec<String> = self.iter().map(|c| c.to_string()).collect();
        f.write_str(&names.join(","))
    }
}

/// The capabilities the running kernel knows (numbers up to `/proc/sys/kernel/cap_last_cap`;
/// when that cannot be read, every capability this build knows that is still in our bounding
/// set).
pub fn supported() -> CapSet {
    match std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
        .ok()
        .and_then(|s| s.trim().parse::<u8>().ok())
    {
        Some(last) => CapSet::all()
            .iter()
            .filter(|c| c.number() <= last)
            .collect(),
        None => CapSet::all()
            .iter()
            .filter(|c| rustix::thread::capability_is_in_bounding_set(kernel_bit(*c)).is_ok())
            .collect(),
    }
}

/// Capabilities kept in effective/permitted for a non-root target so that the `setgroups`,
/// `setresgid` and `setresuid` after [`apply`] still work; the kernel clears both sets when the
/// uid leaves 0 (without `SECBIT_KEEP_CAPS`).
const UID_SWITCH: [u8; 2] = [6 /* SETGID */, 7 /* SETUID */];

/// Give the calling thread `set`, as podman does for the container process.
///
/// - Bounding set: every supported capability not in `set` is dropped.
/// - Ambient set: cleared. Inheritable: empty (podman stopped filling it, CVE-2022-27649).
/// - `uid_is_root`: effective and permitted become `set`.
/// - Otherwise effective and permitted keep only `CAP_SETUID`/`CAP_SETGID`: call this *before*
///   switching to the target uid; `setresuid` from 0 then clears both, so the process `execve`s
///   with `set` in its bounding set only (file capabilities and set-uid binaries stay limited
///   by it), which is podman's behaviour for `--user` other than root.
///
/// Must run as uid 0 of the container's user namespace with `CAP_SETPCAP` effective.
pub fn apply(set: &CapSet, uid_is_root: bool) -> Result<(), CapsError> {
    let supported = supported();
    let target = CapSet(set.0 & supported.0);
    for cap in supported.iter().filter(|c| !target.contains(*c)) {
        rustix::thread::remove_capability_from_bounding_set(kernel_bit(cap))
            .map_err(|source| CapsError::DropBounding { cap, source })?;
    }
    match rustix::thread::clear_ambient_capability_set() {
        // Kernels before 4.3 have no ambient set, so nothing to clear.
        Ok(()) | Err(rustix::io::Errno::INVAL) => {}
        Err(e) => return Err(CapsError::ClearAmbient(e)),
    }
    let kept = if uid_is_root {
        target
    } else {
        UID_SWITCH.iter().map(|n| Capability(*n)).collect()
    };
    let sets = CapabilitySets {
        effective: KernelSet::from_bits_retain(kept.0),
        permitted: KernelSet::from_bits_retain(kept.0),
        inheritable: KernelSet::empty(),
    };
    rustix::thread::set_capabilities(None, sets).map_err(|source| CapsError::Set {
        effective: kept,
        permitted: kept,
        source,
    })
}

fn kernel_bit(cap: Capability) -> KernelSet {
    KernelSet::from_bits_retain(1 << cap.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(v: &[&str]) -> Vec<CapArg> {
        v.iter().map(|s| CapArg::parse(s).unwrap()).collect()
    }

    fn set(v: &[&str]) -> CapSet {
        v.iter().map(|n| Capability::parse(n).unwrap()).collect()
    }

    #[test]
    fn names_parse_in_every_spelling() {
        for (input, number) in [
            ("CAP_CHOWN", 0),
            ("chown", 0),
            ("Cap_Net_Admin", 12),
            ("net_admin", 12),
            ("NET_ADMIN", 12),
            (" sys_admin ", 21),
            ("CAP_CHECKPOINT_RESTORE", 40),
        ] {
            assert_eq!(
                Capability::parse(input).unwrap().number(),
                number,
                "{input}"
            );
        }
        for bad in ["", "CAP_", "NET_ADMINS", "cap_bogus", "ALL"] {
            assert!(
                matches!(Capability::parse(bad), Err(CapsError::Unknown { .. })),
                "{bad}"
            );
        }
        assert_eq!(Capability(12).to_string(), "CAP_NET_ADMIN");
    }

    #[test]
    fn podman_default_set() {
        let d = CapSet::podman_default();
        assert_eq!(d.iter().count(), 11);
        assert!(d.contains_name("SYS_CHROOT"));
        assert!(d.contains_name("cap_setpcap"));
        assert!(!d.contains_name("CAP_NET_RAW"));
        assert!(!d.contains_name("CAP_MKNOD"));
        assert!(!d.contains_name("CAP_AUDIT_WRITE"));
        assert!(!d.contains_name("CAP_SYS_ADMIN"));
    }

    #[test]
    fn resolve_table() {
        let d = CapSet::podman_default();
        let cases: &[(&[&str], &[&str], CapSet)] = &[
            (&[], &[], d),
            (&["net_admin"], &[], {
                let mut s = d;
                s.insert(Capability::parse("NET_ADMIN").unwrap());
                s
            }),
            (&[], &["CAP_CHOWN", "kill"], {
                let mut s = d;
                s.remove(Capability(0));
                s.remove(Capability(5));
                s
            }),
            (&[], &["ALL"], CapSet::empty()),
            (&["NET_RAW"], &["all"], set(&["NET_RAW"])),
            (&["ALL"], &[], CapSet::all()),
            (&["all"], &["SYS_ADMIN"], {
                let mut s = CapSet::all();
                s.remove(Capability(21));
                s
            }),
            // Adding what is there already and dropping what is not are both no-ops.
            (&["CHOWN"], &["SYS_ADMIN"], d),
        ];
        for (add, drop, want) in cases {
            let got = CapSet::resolve(d, &strings(add), &strings(drop)).unwrap();
            assert_eq!(got, *want, "add {add:?} drop {drop:?}");
        }
    }

    #[test]
    fn resolve_errors() {
        let d = CapSet::podman_default();
        let err = CapArg::parse_all(&["NET_BOGUS".into()]).unwrap_err();
        assert_eq!(err.to_string(), "unknown capability `NET_BOGUS`");
        assert!(matches!(
            CapArg::parse("bogus"),
            Err(CapsError::Unknown { .. })
        ));
        let err =
            CapSet::resolve(d, &strings(&["net_admin"]), &strings(&["CAP_NET_ADMIN"])).unwrap_err();
        assert_eq!(
            err.to_string(),
            "capability `CAP_NET_ADMIN` cannot be both added and dropped"
        );
        assert!(matches!(
            CapSet::resolve(d, &strings(&["ALL"]), &strings(&["all"])),
            Err(CapsError::AllAddedAndDropped)
        ));
    }

    /// Stored in canonical form: the previous version's strings (as the user typed them) read back.
    #[test]
    fn cap_args_stored_as_strings() {
        let old: Vec<CapArg> = serde_json::from_str(r#"["net_admin","all","CAP_KILL"]"#).unwrap();
        assert_eq!(old, strings(&["NET_ADMIN", "ALL", "kill"]));
        let written = serde_json::to_string(&old).unwrap();
        assert_eq!(written, r#"["CAP_NET_ADMIN","ALL","CAP_KILL"]"#);
        assert!(serde_json::from_str::<Vec<CapArg>>(r#"["bogus"]"#).is_err());
    }

    #[test]
    fn display_and_bits() {
        assert_eq!(CapSet::empty().to_string(), "none");
        assert_eq!(set(&["KILL", "CHOWN"]).to_string(), "CAP_CHOWN,CAP_KILL");
        assert_eq!(set(&["KILL", "CHOWN"]).bits(), 0b10_0001);
        assert_eq!(CapSet::all().iter().count(), 41);
        assert!(supported().contains_name("CAP_CHOWN"));
    }
}
