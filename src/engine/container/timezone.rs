//! `--tz`: the container's /etc/localtime, a copy of the host's zoneinfo file for the zone (`local`:
//! the host's own /etc/localtime), as podman does it.
use std::path::{Path, PathBuf};

use super::FlagError;

/// Where the host keeps its time zone files.
const ZONEINFO: &str = "/usr/share/zoneinfo";

/// The host file for `tz`: `local` is /etc/localtime; anything else a zone under the zoneinfo
/// directory (`Europe/Berlin`, `UTC`, `Etc/GMT+5`), which must be a TZif file.
pub fn zone_file(tz: &str) -> Result<PathBuf, FlagError> {
    zone_file_in(Path::new(ZONEINFO), tz)
}

fn zone_file_in(zoneinfo: &Path, tz: &str) -> Result<PathBuf, FlagError> {
    let unknown = || FlagError::Timezone(tz.to_string());
    if tz == "local" {
        let p = PathBuf::from("/etc/localtime");
        return is_tzif(&p).then_some(p).ok_or_else(unknown);
    }
    let safe = !tz.is_empty()
        && !tz.starts_with('/')
        && tz
            .split('/')
            .all(|c| !c.is_empty() && c != "." && c != "..");
    if !safe {
        return Err(unknown());
    }
    let p = zoneinfo.join(tz);
    is_tzif(&p).then_some(p).ok_or_else(unknown)
}

/// A zoneinfo file starts with `TZif`.
fn is_tzif(p: &Path) -> bool {
    use std::io::Read;
    let mut magic = [0u8; 4];
    std::fs::File::open(p)
        .and_then(|mut f| f.read_exact(&mut magic))
        .is_ok_and(|()| &magic == b"TZif")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zones_resolve_under_the_zoneinfo_directory() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir(d.path().join("Europe")).unwrap();
        std::fs::write(d.path().join("Europe/Berlin"), b"TZif2...").unwrap();
        std::fs::write(d.path().join("README"), b"text").unwrap();
        assert_eq!(
            zone_file_in(d.path(), "Europe/Berlin").unwrap(),
            d.path().join("Europe/Berlin")
        );
        for bad in [
            "Mars/Olympus",
            "README",
            "../etc/passwd",
            "/etc/localtime",
            "",
            "Europe",
        ] {
            let e = zone_file_in(d.path(), bad).unwrap_err();
            assert!(e.to_string().contains("unknown time zone"), "{bad}: {e}");
        }
    }
}
