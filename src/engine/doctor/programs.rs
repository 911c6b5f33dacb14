//! The helper programs roost starts, where they are and which version each reports.
use std::path::Path;

use super::{Check, Status};

/// The helper programs, with their versions.
pub(super) fn helpers() -> Vec<Check> {
    let pasta = crate::helpers::find("pasta");
    let slirp = crate::helpers::find("slirp4netns");
    let libslirp = crate::network::builtin::available();
    let mut out = Vec::new();
    let found = |name: &'static str, path: &Path| Check::ok(name, described(name, path));
    out.push(match &libslirp {
        Ok(version) => Check::ok(
            "libslirp",
            format!("{} {version}: the default network (`slirp`, no helper process)", crate::sys::slirp::LIBRARY),
        ),
        Err(why) => Check::bad(
            "libslirp",
            Status::Warn,
            format!(
                "cannot be loaded ({why}): the default network uses {} instead, one helper process per container",
                if pasta.is_some() { "pasta" } else { "slirp4netns" }
            ),
            "as root: `apt-get install libslirp0` (Fedora: libslirp)",
        ),
    });
    out.push(match (&pasta, &slirp) {
        (Some(p), _) => found("pasta", p),
        (None, _) if libslirp.is_ok() => Check::bad(
            "pasta",
            Status::Warn,
            "not installed: --network pasta is unavailable",
            "as root: `apt-get install passt`",
        ),
        (None, Some(_)) => Check::bad(
            "pasta",
            Status::Warn,
            "not installed: the default network uses slirp4netns",
            "as root: `apt-get install passt`",
        ),
        (None, None) => Check::bad(
            "pasta",
            Status::Fail,
            "neither pasta nor slirp4netns is installed: containers can only use --network none or host",
            "as root: `apt-get install passt`",
        ),
    });
    out.push(match &slirp {
        Some(p) => found("slirp4netns", p),
        None => Check::bad(
            "slirp4netns",
            if pasta.is_some() || libslirp.is_ok() {
                Status::Warn
            } else {
                Status::Fail
            },
            "not installed: --network slirp4netns is unavailable",
            "as root: `apt-get install slirp4netns`",
        ),
    });
    for (name, what, pkg) in [
        (
            "netavark",
            "bridge networks (`roost network create`)",
            "netavark",
        ),
        (
            "aardvark-dns",
            "name resolution on bridge networks",
            "aardvark-dns",
        ),
        (
            "fuse-overlayfs",
            "the fuse-overlayfs storage driver",
            "fuse-overlayfs",
        ),
    ] {
        out.push(match crate::helpers::find(name) {
            Some(p) => found(name, &p),
            None => Check::bad(
                name,
                Status::Warn,
                format!("not installed: {what} unavailable"),
                format!("as root: `apt-get install {pkg}`"),
            ),
        });
    }
    let firewall: Vec<String> = ["iptables", "nft"]
        .into_iter()
        .filter_map(|n| crate::helpers::find(n).map(|p| described(n, &p)))
        .collect();
    out.push(if firewall.is_empty() {
        Check::bad(
            "firewall",
            Status::Warn,
            "neither iptables nor nft is installed: netavark cannot set up bridge networks",
            "as root: `apt-get install iptables`",
        )
    } else {
        Check::ok("firewall", firewall.join("; "))
    });
    out
}

/// `PATH (VERSION)`, the version from `PATH --version`.
fn described(name: &str, path: &Path) -> String {
    match helper_version(name, path) {
        Some(v) => format!("{} ({v})", path.display()),
        None => path.display().to_string(),
    }
}

fn helper_version(name: &str, path: &Path) -> Option<String> {
    let out = crate::helpers::command(path)
        .arg("--version")
        .stdin(std::process::Stdio::null())
        .output()
        .ok()?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    version_line(name, &text)
}

/// The line of `--version` output that names the version: the first starting with the program's
/// name, else the first mentioning a version.
fn version_line(name: &str, text: &str) -> Option<String> {
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    lines
        .iter()
        .find(|l| l.starts_with(name))
        .or_else(|| lines.iter().find(|l| l.to_lowercase().contains("version")))
        .map(|l| l.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_version_line_is_the_one_naming_the_program() {
        let fuse = "unknown argument ignored: lazytime\nfusermount3 version: 3.14.0\nfuse-overlayfs: version 1.10\n";
        assert_eq!(
            version_line("fuse-overlayfs", fuse).as_deref(),
            Some("fuse-overlayfs: version 1.10")
        );
        assert_eq!(
            version_line("iptables", "iptables v1.8.9 (nf_tables)\n").as_deref(),
            Some("iptables v1.8.9 (nf_tables)")
        );
        assert_eq!(
            version_line("x", "\nsome tool Version 2\n").as_deref(),
            Some("some tool Version 2")
        );
        assert_eq!(version_line("x", "usage: x\n"), None);
    }
}
