//! The local time zone, read straight from `TZ` or /etc/localtime, once per process.
//!
//! jiff's `TimeZone::system()` finds the same zone, but looks its name up in jiff's zoneinfo
//! database, whose first use lists all of /usr/share/zoneinfo (on Debian 22 directories, ~600
//! entries: `strace` of one `run --rm` shows 58 `getdents64`). Every roost process that writes an
//! event paid it. Here a name is read as its one file.
#![deny(clippy::print_stdout, clippy::print_stderr)]

use std::path::Path;
use std::sync::OnceLock;

use jiff::tz::TimeZone;

const ZONEINFO: &str = "/usr/share/zoneinfo";

/// The local zone: `TZ` (a name, `:name`, a file path or a POSIX rule) if set, else /etc/localtime,
/// else UTC (as jiff and glibc fall back).
pub fn local() -> TimeZone {
    static ZONE: OnceLock<TimeZone> = OnceLock::new();
    ZONE.get_or_init(|| match std::env::var("TZ") {
        Ok(tz) => from_tz(&tz),
        Err(_) => from_file(Path::new("/etc/localtime")).unwrap_or(TimeZone::UTC),
    })
    .clone()
}

fn from_tz(tz: &str) -> TimeZone {
    let tz = tz.strip_prefix(':').unwrap_or(tz);
    if tz.is_empty() {
        return TimeZone::UTC;
    }
    if tz.starts_with('/') {
        return from_file(Path::new(tz)).unwrap_or(TimeZone::UTC);
    }
    named(tz)
        .or_else(|| TimeZone::posix(tz).ok())
        .unwrap_or(TimeZone::UTC)
}

/// The zone file `name` of the system's zoneinfo (`Europe/Berlin`), refusing names that leave it.
fn named(name: &str) -> Option<TimeZone> {
    if name
        .split('/')
        .any(|c| c.is_empty() || c == "." || c == "..")
    {
        return None;
    }
    let data = std::fs::read(Path::new(ZONEINFO).join(name)).ok()?;
    TimeZone::tzif(name, &data).ok()
}

/// A TZif file, named after what its symlink points to below `zoneinfo/` when it is one.
fn from_file(path: &Path) -> Option<TimeZone> {
    let data = std::fs::read(path).ok()?;
    let target = std::fs::read_link(path).ok();
    let name = target
        .as_deref()
        .and_then(Path::to_str)
        .and_then(|t| t.split_once("zoneinfo/"))
        .map_or("Local", |(_, n)| n);
    TimeZone::tzif(name, &data).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_rules_and_files_give_their_zones() {
        let at: jiff::Timestamp = "2026-07-01T12:00:00Z".parse().unwrap();
        let offset = |z: TimeZone| at.to_zoned(z).offset().seconds();
        assert_eq!(offset(from_tz("")), 0);
        assert_eq!(offset(from_tz("EST5")), -5 * 3600);
        if Path::new(ZONEINFO).join("Europe/Berlin").exists() {
            assert_eq!(offset(from_tz("Europe/Berlin")), 2 * 3600);
            assert_eq!(offset(from_tz(":Europe/Berlin")), 2 * 3600);
            let file = format!("{ZONEINFO}/Asia/Tokyo");
            assert_eq!(offset(from_tz(&file)), 9 * 3600);
        }
        assert!(named("../../etc/passwd").is_none());
        assert_eq!(offset(from_tz("No/Such_Zone")), 0);
    }
}
