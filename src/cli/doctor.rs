//! `doctor`: print every rootless prerequisite with its status, and the fix for each one that is not ok.
use clap::Args;
use serde::Serialize;

use super::format::{self, Format, JsonStyle, Table};
use super::out;
use crate::engine::Ctx;
use crate::engine::doctor::{Check, Status};
use crate::error::Error;

const EXAMPLES: &str = "\
What is checked: unprivileged user namespaces, your /etc/subuid and /etc/subgid ranges,
newuidmap/newgidmap (setuid root or file capabilities), /dev/net/tun and /dev/fuse, the kernel
overlay in a user namespace, cgroup v2 and the controllers delegated to you, lingering (for
--restart after logout), XDG_RUNTIME_DIR, the helpers (pasta, slirp4netns, netavark, aardvark-dns,
fuse-overlayfs, iptables/nft) and their versions, net.ipv4.ip_unprivileged_port_start, free space
for the store, and the store's consistency (`system check --quick`).

Each check is ok, warn (roost works, with less) or fail; the exit status is 0 when no check fails,
1 when one does. --format json prints the checks as an array of {name, status, detail, fix}.

Examples:
  roost doctor
  roost doctor --format json | jq -r '.[] | select(.status != \"ok\") | .fix'";

#[derive(Debug, Args)]
#[command(after_long_help = EXAMPLES)]
pub struct DoctorArgs {
    /// Format the output: `table` (default), `json` or a Go template (fields Name, Status, Detail, Fix)
    #[arg(short, long, value_name = "FORMAT", allow_hyphen_values = true)]
    pub format: Option<String>,
}

/// A check for templates (podman's field names).
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Row<'a> {
    name: &'a str,
    status: &'a str,
    detail: &'a str,
    fix: &'a str,
}

pub fn doctor(ctx: &Ctx, args: &DoctorArgs) -> Result<i32, Error> {
    let checks = crate::engine::doctor::doctor(ctx);
    let text = match Format::parse(args.format.as_deref()) {
        Format::Default => table(&checks),
        Format::Json => format::render_json(&checks, JsonStyle::PS)?,
        f => {
            let rows: Vec<Row> = checks
                .iter()
                .map(|c| Row {
                    name: c.name,
                    status: c.status.as_str(),
                    detail: &c.detail,
                    fix: c.fix.as_deref().unwrap_or_default(),
                })
                .collect();
            let table = Table {
                name: "doctor",
                default_template: "table {{.Name}}\t{{.Status}}\t{{.Detail}}",
                headers: &[],
                json: JsonStyle::PS,
            };
            format::render_list(&rows, &f, &table)?
        }
    };
    out(&text)?;
    Ok(if checks.iter().any(|c| c.status == Status::Fail) {
        1
    } else {
        0
    })
}

/// One line per check (`STATUS  NAME  DETAIL`), the fix indented under it, and a summary.
fn table(checks: &[Check]) -> String {
    let width = checks.iter().map(|c| c.name.len()).max().unwrap_or(0);
    let mut s = String::new();
    for c in checks {
        let status = match c.status {
            Status::Ok => "ok",
            Status::Warn => "WARN",
            Status::Fail => "FAIL",
        };
        s.push_str(&format!("{status:<5} {:<width$}  {}\n", c.name, c.detail));
        if let Some(fix) = &c.fix {
            s.push_str(&format!("{:<5} {:<width$}  fix: {fix}\n", "", ""));
        }
    }
    let count = |st| checks.iter().filter(|c| c.status == st).count();
    let (fail, warn) = (count(Status::Fail), count(Status::Warn));
    s.push_str(&match (fail, warn) {
        (0, 0) => format!("\nall {} checks passed\n", checks.len()),
        _ => format!(
            "\n{} checks: {} ok, {warn} warning(s), {fail} failed\n",
            checks.len(),
            checks.len() - fail - warn
        ),
    });
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(name: &'static str, status: Status, fix: Option<&str>) -> Check {
        Check {
            name,
            status,
            detail: format!("{name} detail"),
            fix: fix.map(str::to_string),
        }
    }

    #[test]
    fn the_table_puts_each_fix_under_its_check() {
        let t = table(&[
            check("subuid", Status::Ok, None),
            check("cgroup-v2", Status::Fail, Some("boot with v2")),
            check("linger", Status::Warn, Some("enable it")),
        ]);
        assert_eq!(
            t,
            "ok    subuid     subuid detail\n\
             FAIL  cgroup-v2  cgroup-v2 detail\n\
             \x20                fix: boot with v2\n\
             WARN  linger     linger detail\n\
             \x20                fix: enable it\n\
             \n3 checks: 1 ok, 1 warning(s), 1 failed\n"
        );
        assert!(table(&[check("a", Status::Ok, None)]).ends_with("\nall 1 checks passed\n"));
    }
}
