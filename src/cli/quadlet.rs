//! `roost quadlet …` and roost as a systemd generator (`roost-generator`).
use std::ffi::OsString;
use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};

use crate::cli::lazy::Lazy;
use crate::cli::out;
use crate::engine::quadlet::manage::{self, Layout};
use crate::engine::quadlet::{self, SearchDirs, Settings};
use crate::error::Error;

#[derive(Debug, Subcommand)]
pub enum QuadletCommand {
    /// Install Quadlet files (files, or directories of them) and write their systemd user units
    Install(Lazy<InstallArgs>),
    /// List the Quadlet files of the current user
    #[command(visible_alias = "ls")]
    List(Lazy<ListArgs>),
    /// Print a Quadlet file (or with --unit, the systemd unit made from it)
    Print(Lazy<PrintArgs>),
    /// Remove installed Quadlet files and their units
    Rm(Lazy<RmArgs>),
    /// Run the systemd generator: write the units of every Quadlet file into NORMAL_DIR
    #[command(hide = true)]
    Generate(Lazy<GeneratorArgs>),
}

#[derive(Debug, Args)]
pub struct InstallArgs {
    /// Overwrite Quadlet files that are already installed
    #[arg(long)]
    pub replace: bool,
    /// Run `systemctl --user daemon-reload` afterwards (when a user manager is reachable)
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, value_name = "BOOL")]
    pub reload_systemd: bool,
    /// Quadlet files or directories
    #[arg(value_name = "PATH", required = true, value_hint = clap::ValueHint::AnyPath)]
    pub paths: Vec<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Print only the Quadlet names
    #[arg(short, long)]
    pub quiet: bool,
}

#[derive(Debug, Args)]
pub struct PrintArgs {
    /// Print the systemd unit made from the file instead of the file
    #[arg(long)]
    pub unit: bool,
    /// The Quadlet (`web.container`, or `web`)
    #[arg(value_name = "NAME")]
    pub name: String,
}

#[derive(Debug, Args)]
pub struct RmArgs {
    /// Stop the units first if they are running
    #[arg(short, long)]
    pub force: bool,
    /// Do not fail for Quadlets that are not installed
    #[arg(short, long)]
    pub ignore: bool,
    /// Run `systemctl --user daemon-reload` afterwards (when a user manager is reachable)
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, value_name = "BOOL")]
    pub reload_systemd: bool,
    /// Quadlets to remove (`web.container`, or `web`)
    #[arg(value_name = "NAME", required = true)]
    pub names: Vec<String>,
}

#[derive(Debug, Args)]
pub struct GeneratorArgs {
    /// Make user units (the default unless running as root)
    #[arg(long, alias = "user")]
    pub user: bool,
    /// Print the units instead of writing them
    #[arg(long, alias = "dry-run")]
    pub dryrun: bool,
    /// Print what is done
    #[arg(short, long)]
    pub verbose: bool,
    /// Accepted for podman's quadlet (roost logs to stderr, which systemd keeps)
    #[arg(long, hide = true)]
    pub no_kmsg_log: bool,
    /// systemd's NORMAL_DIR [EARLY_DIR LATE_DIR]
    #[arg(value_name = "DIR", num_args = 0..=3)]
    pub dirs: Vec<PathBuf>,
}

pub fn dispatch(cmd: &QuadletCommand) -> Result<i32, Error> {
    match cmd {
        QuadletCommand::Install(a) => install(a),
        QuadletCommand::List(a) => list(a),
        QuadletCommand::Print(a) => print(a),
        QuadletCommand::Rm(a) => rm(a),
        QuadletCommand::Generate(a) => generator(
            a,
            std::env::var_os("SYSTEMD_SCOPE").is_some_and(|s| s == "user"),
        ),
    }
}

/// roost invoked under a generator's name (`roost-generator`, `roost-user-generator`, a symlink
/// in `/usr/lib/systemd/user-generators/`): podman quadlet's arguments (`-user`, `-dryrun`, `-v`,
/// `-no-kmsg-log`, then NORMAL_DIR EARLY_DIR LATE_DIR).
pub fn invoked_as_generator(args: &[OsString]) -> bool {
    args.first()
        .and_then(|a| Path::new(a).file_name())
        .is_some_and(|n| n.to_string_lossy().ends_with("-generator"))
}

pub fn generator_main(args: &[OsString]) -> Result<i32, Error> {
    let name = args
        .first()
        .and_then(|a| Path::new(a).file_name())
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut a = GeneratorArgs {
        user: name.contains("user"),
        dryrun: false,
        verbose: false,
        no_kmsg_log: false,
        dirs: Vec::new(),
    };
    for arg in &args[1..] {
        match arg.to_string_lossy().trim_start_matches('-') {
            "user" if arg.to_string_lossy().starts_with('-') => a.user = true,
            "dryrun" | "dry-run" if arg.to_string_lossy().starts_with('-') => a.dryrun = true,
            "v" | "verbose" if arg.to_string_lossy().starts_with('-') => a.verbose = true,
            "no-kmsg-log" if arg.to_string_lossy().starts_with('-') => {}
            _ if arg.to_string_lossy().starts_with('-') => {
                return Err(Error::Usage(format!(
                    "unknown generator flag `{}`: use -user, -dryrun, -v or -no-kmsg-log",
                    arg.to_string_lossy()
                )));
            }
            _ => a.dirs.push(PathBuf::from(arg)),
        }
    }
    let scope_user = std::env::var_os("SYSTEMD_SCOPE").is_some_and(|s| s == "user");
    generator(&a, scope_user)
}

/// This binary's path, for the units' command lines.
fn roost_path() -> Result<String, Error> {
    std::env::current_exe()
        .map(|p| p.to_string_lossy().into_owned())
        .map_err(|e| Error::io("find roost's own path (/proc/self/exe)", e))
}

fn uid() -> u32 {
    nix::unistd::Uid::current().as_raw()
}

fn config_home() -> Result<PathBuf, Error> {
    if let Some(c) = std::env::var_os("XDG_CONFIG_HOME").filter(|c| !c.is_empty()) {
        return Ok(PathBuf::from(c));
    }
    let home = std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(PathBuf::from)
        .or_else(|| {
            nix::unistd::User::from_uid(nix::unistd::Uid::current())
                .ok()
                .flatten()
                .map(|u| u.dir)
        })
        .ok_or_else(|| Error::Usage("cannot find the home directory: set HOME".into()))?;
    Ok(home.join(".config"))
}

fn runtime_dir() -> Option<PathBuf> {
    std::env::var_os("XDG_RUNTIME_DIR")
        .filter(|r| !r.is_empty())
        .map(PathBuf::from)
}

/// The user's layout: the rootless search path, `~/.config/containers/systemd`,
/// `~/.config/systemd/user`.
fn user_layout() -> Result<Layout, Error> {
    let config = config_home()?;
    Ok(Layout {
        search: SearchDirs::user(runtime_dir().as_deref(), &config, uid()),
        quadlet_dir: config.join("containers/systemd"),
        unit_dir: config.join("systemd/user"),
        settings: Settings {
            roost: roost_path()?,
            user: true,
        },
    })
}

fn generator(a: &GeneratorArgs, scope_user: bool) -> Result<i32, Error> {
    let user = a.user || scope_user || uid() != 0;
    let search = if user {
        SearchDirs::user(runtime_dir().as_deref(), &config_home()?, uid())
    } else {
        SearchDirs::system()
    };
    let settings = Settings {
        roost: roost_path()?,
        user,
    };
    let sources = quadlet::find_sources(&search)
        .map_err(|e| crate::engine::EngineError::from(manage::ManageError::from(e)))?;
    let generation = quadlet::generate(&sources, &settings);
    report_errors(&generation.errors);
    if a.dryrun {
        out(&quadlet::dryrun_text(&generation.units))?;
    } else {
        let Some(dir) = a.dirs.first() else {
            return Err(Error::Usage(
                "missing the output directory: give NORMAL_DIR (systemd passes NORMAL_DIR EARLY_DIR LATE_DIR), or --dryrun".into(),
            ));
        };
        std::fs::create_dir_all(dir)
            .map_err(|e| Error::io(format!("create `{}`", dir.display()), e))?;
        for g in &generation.units {
            manage::write_unit(dir, g).map_err(crate::engine::EngineError::from)?;
            if a.verbose {
                #[allow(clippy::print_stderr)]
                {
                    eprintln!(
                        "roost-generator: wrote {} from {}",
                        g.service,
                        g.source.display()
                    );
                }
            }
        }
    }
    Ok(if generation.errors.is_empty() { 0 } else { 1 })
}

/// Files that could not be converted: one line each (the rest are made anyway).
fn report_errors(errors: &[quadlet::QuadletError]) {
    #[allow(clippy::print_stderr)]
    for e in errors {
        eprintln!("Error: {e}");
        if let Some(h) = e.hint() {
            eprintln!("Hint: {h}");
        }
    }
}

/// The user's systemd manager, when this process can reach it (its private socket exists).
fn user_manager() -> bool {
    runtime_dir().is_some_and(|r| r.join("systemd/private").exists())
}

fn systemctl(args: &[&str]) -> std::io::Result<std::process::Output> {
    std::process::Command::new("systemctl")
        .arg("--user")
        .args(args)
        .stdin(std::process::Stdio::null())
        .output()
}

/// `systemctl --user daemon-reload`, or what to run when there is no user manager here.
fn reload(wanted: bool, units: &[String]) {
    #[allow(clippy::print_stderr)]
    if !wanted {
    } else if !user_manager() {
        let start = match units {
            [] => String::new(),
            u => format!(", then `systemctl --user start {}`", u.join(" ")),
        };
        eprintln!(
            "No systemd user manager is reachable from here (no $XDG_RUNTIME_DIR/systemd/private): in your login session run `systemctl --user daemon-reload`{start}; `loginctl enable-linger $USER` starts enabled units at boot"
        );
    } else {
        match systemctl(&["daemon-reload"]) {
            Ok(o) if o.status.success() => {}
            Ok(o) => eprintln!(
                "Warning: `systemctl --user daemon-reload` failed: {}; run it yourself",
                String::from_utf8_lossy(&o.stderr).trim()
            ),
            Err(e) => eprintln!(
                "Warning: cannot run `systemctl --user daemon-reload` ({e}); run it yourself"
            ),
        }
    }
}

fn install(a: &InstallArgs) -> Result<i32, Error> {
    let layout = user_layout()?;
    let report =
        manage::install(&layout, &a.paths, a.replace).map_err(crate::engine::EngineError::from)?;
    report_errors(&report.errors);
    let text: String = report
        .files
        .iter()
        .map(|f| format!("{}\n", f.display()))
        .collect();
    out(&text)?;
    reload(a.reload_systemd, &report.units);
    Ok(if report.errors.is_empty() { 0 } else { 125 })
}

fn list(a: &ListArgs) -> Result<i32, Error> {
    let layout = user_layout()?;
    let listed = manage::list(&layout).map_err(crate::engine::EngineError::from)?;
    if a.quiet {
        return out(&listed
            .iter()
            .map(|l| format!("{}\n", l.name))
            .collect::<String>())
        .map(|()| 0);
    }
    let managed = user_manager();
    let mut rows = vec!["NAME\tUNIT NAME\tPATH ON DISK\tSTATUS".to_string()];
    for l in &listed {
        let status = if managed && !l.unit.is_empty() {
            unit_status(&l.unit)
        } else {
            "Not loaded".to_string()
        };
        rows.push(format!(
            "{}\t{}\t{}\t{status}",
            l.name,
            l.unit,
            l.path.display()
        ));
    }
    out(&tabulate(&rows))?;
    Ok(0)
}

fn tabulate(rows: &[String]) -> String {
    use std::io::Write;
    let mut tw = tabwriter::TabWriter::new(Vec::new())
        .minwidth(10)
        .padding(2);
    let text: String = rows.iter().map(|r| format!("{r}\n")).collect();
    tw.write_all(text.as_bytes())
        .and_then(|()| tw.flush())
        .expect("writing to a Vec cannot fail");
    String::from_utf8_lossy(&tw.into_inner().unwrap_or_default()).into_owned()
}

/// `active/running`, as `systemctl show` reports it.
fn unit_status(unit: &str) -> String {
    let Ok(o) = systemctl(&["show", "-p", "ActiveState,SubState,LoadState", unit]) else {
        return "Not loaded".into();
    };
    let text = String::from_utf8_lossy(&o.stdout);
    let get = |k: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{k}=")))
            .unwrap_or("")
            .to_string()
    };
    if get("LoadState") != "loaded" {
        return "Not loaded".into();
    }
    format!("{}/{}", get("ActiveState"), get("SubState"))
}

fn print(a: &PrintArgs) -> Result<i32, Error> {
    let layout = user_layout()?;
    let text = manage::print(&layout, &a.name, a.unit).map_err(crate::engine::EngineError::from)?;
    out(&text)?;
    Ok(0)
}

fn rm(a: &RmArgs) -> Result<i32, Error> {
    let layout = user_layout()?;
    let mut names = Vec::new();
    for n in &a.names {
        match manage::find(&layout, n) {
            Ok(_) => names.push(n.clone()),
            Err(_) if a.ignore => {}
            Err(e) => return Err(crate::engine::EngineError::from(e).into()),
        }
    }
    if user_manager() {
        stop_units(&layout, &names, a.force)?;
    }
    let (services, report) =
        manage::remove(&layout, &names).map_err(crate::engine::EngineError::from)?;
    report_errors(&report.errors);
    out(&services
        .iter()
        .map(|s| format!("{s}\n"))
        .collect::<String>())?;
    reload(a.reload_systemd, &[]);
    Ok(0)
}

/// Running units are stopped with --force, and refused without it (podman's `quadlet rm`).
fn stop_units(layout: &Layout, names: &[String], force: bool) -> Result<(), Error> {
    let listed = manage::list(layout).map_err(crate::engine::EngineError::from)?;
    for n in names {
        let Some(l) = listed
            .iter()
            .find(|l| &l.name == n || l.name.rsplit_once('.').is_some_and(|(s, _)| s == n))
        else {
            continue;
        };
        if l.unit.is_empty() || !unit_status(&l.unit).starts_with("active") {
            continue;
        }
        if !force {
            return Err(Error::Usage(format!(
                "unit `{}` of Quadlet `{}` is running: stop it first, or use --force",
                l.unit, l.name
            )));
        }
        let o = systemctl(&["stop", &l.unit])
            .map_err(|e| Error::io(format!("run `systemctl --user stop {}`", l.unit), e))?;
        if !o.status.success() {
            return Err(Error::Usage(format!(
                "`systemctl --user stop {}` failed: {}",
                l.unit,
                String::from_utf8_lossy(&o.stderr).trim()
            )));
        }
    }
    Ok(())
}
