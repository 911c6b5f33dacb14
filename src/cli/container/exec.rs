//! `exec` and `top`.
use super::{ExecArgs, TopArgs};
use crate::cli::out;
use crate::engine::Ctx;
use crate::engine::container::{self as engine, ExecOptions};
use crate::error::Error;

fn options(a: &ExecArgs) -> Result<ExecOptions, Error> {
    if a.command.is_empty() {
        return Err(Error::Usage(
            "must provide a non-empty command to start an exec session".into(),
        ));
    }
    Ok(ExecOptions {
        container: a.container.clone(),
        command: a.command.clone(),
        env: a.env.clone(),
        env_files: a
            .env_file
            .iter()
            .map(|p| {
                std::fs::read_to_string(p)
                    .map(|t| (p.clone(), t))
                    .map_err(|e| Error::io(format!("read the env file `{}`", p.display()), e))
            })
            .collect::<Result<_, _>>()?,
        user: a.user.clone().filter(|u| !u.is_empty()),
        workdir: a.workdir.clone().filter(|w| !w.is_empty()),
        tty: a.tty,
        interactive: a.interactive,
        detach: a.detach,
        privileged: a.privileged,
        host_env: std::env::vars()
            .filter(|(k, _)| !k.starts_with("_ROOST_"))
            .collect(),
        preserve_fds: a.preserve_fds,
    })
}

/// The exec'd process's status is ours; `-d` prints nothing and returns once it runs.
pub fn exec(ctx: &Ctx, a: &ExecArgs) -> Result<i32, Error> {
    let report = engine::exec(ctx, &options(a)?)?;
    Ok(report.exit_code.unwrap_or(0))
}

pub fn top(ctx: &Ctx, a: &TopArgs) -> Result<i32, Error> {
    let report = match engine::top_or_ps(ctx, &a.container, &a.descriptors)? {
        engine::TopOutput::Table(report) => report,
        engine::TopOutput::Ps(text) => return out(&text).map(|()| 0),
    };
    // Go's tabwriter(12, 2, 2) as podman's tables use it (see cli::format::table::align).
    let mut tw = tabwriter::TabWriter::new(Vec::new())
        .minwidth(10)
        .padding(2);
    let line = |cells: &[String]| cells.join("\t") + "\n";
    let mut text = line(&report.headers);
    for row in &report.rows {
        text.push_str(&line(row));
    }
    use std::io::Write;
    tw.write_all(text.as_bytes())
        .and_then(|()| tw.flush())
        .expect("writing to a Vec cannot fail");
    let table = tw.into_inner().expect("flushing into a Vec cannot fail");
    out(&String::from_utf8_lossy(&table)).map(|()| 0)
}
