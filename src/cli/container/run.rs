//! `run`, `create`, `start`, `rm`.

use super::{CreateArgs, RmArgs, RunArgs, StartArgs};
use crate::cli::out;
use crate::cli::progress::Progress;
use crate::engine::Ctx;
use crate::engine::container::detach::parse_detach_keys;
use crate::engine::container::{self as engine, CreateOptions, Ended};
use crate::error::Error;

/// `--security-opt` values: (no-new-privileges, seccomp profile or `unconfined`).
pub(crate) fn security_opts(opts: &[String]) -> Result<(bool, Option<String>), Error> {
    let mut nnp = false;
    let mut seccomp = None;
    for o in opts {
        match o.split_once(['=', ':']) {
            None if o == "no-new-privileges" => nnp = true,
            Some(("no-new-privileges", v)) => nnp = v != "false",
            Some(("seccomp", v)) => seccomp = Some(v.to_string()),
            Some(("label" | "apparmor" | "mask" | "unmask" | "proc-opts", _)) => {}
            _ => {
                return Err(Error::Usage(format!(
                    "invalid --security-opt `{o}`: use no-new-privileges, seccomp=unconfined|PROFILE.json or label=…"
                )));
            }
        }
    }
    Ok((nnp, seccomp))
}

/// `-v`, `--mount` and `--tmpfs`, parsed; relative bind sources are made absolute here, where the
/// working directory is known.
fn mounts(a: &CreateArgs) -> Result<Vec<engine::Mount>, Error> {
    let parsed = a
        .volume
        .iter()
        .map(|v| engine::parse_volume(v))
        .chain(a.mount.iter().map(|m| engine::parse_mount(m)))
        .chain(a.tmpfs.iter().map(|t| engine::parse_tmpfs(t)));
    let mut out = Vec::new();
    for m in parsed {
        let mut m = m.map_err(|e| Error::from(crate::engine::EngineError::from(e)))?;
        let host_path = matches!(m.kind, engine::MountKind::Bind | engine::MountKind::Glob);
        if host_path && !m.source.starts_with('/') {
            let abs = std::path::absolute(&m.source)
                .map_err(|e| Error::io(format!("resolve `{}`", m.source), e))?;
            m.source = abs.to_string_lossy().into_owned();
        }
        out.push(m);
    }
    Ok(out)
}

/// `--pid`, `--ipc`, `--uts`, `--cgroupns`, and `--shm-size` (the size of the container's own
/// /dev/shm: refused where it has none of its own).
fn namespaces(a: &CreateArgs) -> Result<engine::Namespaces, Error> {
    let mut ns = engine::Namespaces::parse(
        a.pid.as_deref(),
        a.ipc.as_deref(),
        a.uts.as_deref(),
        a.cgroup.cgroupns.as_deref(),
    )?;
    let Some(size) = &a.shm_size else {
        return Ok(ns);
    };
    let bytes = crate::runtime::cgroup::limits::parse_size("--shm-size", size)
        .map_err(crate::engine::EngineError::from)?;
    if bytes <= 0 {
        return Err(Error::Usage(format!(
            "invalid --shm-size `{size}`: give a size above 0, e.g. 256m"
        )));
    }
    if ns.ipc == "host" || ns.ipc.starts_with("container:") || ns.ipc_mode == "none" {
        let ipc = a.ipc.as_deref().unwrap_or_default();
        return Err(Error::Usage(format!(
            "--shm-size sets the size of the container's own /dev/shm, which it does not have with --ipc {ipc}"
        )));
    }
    ns.shm_size = Some(bytes.unsigned_abs());
    Ok(ns)
}

/// The default `--userns` for a container that sets none, maps no ids itself and is in no pod (a
/// pod's member uses the pod's namespace). `host` and "" are roost's own namespace.
fn default_userns(ctx: &Ctx, opts: &mut engine::CreateOptions) {
    let u = &mut opts.userns;
    if u.mode.is_some() || !u.uidmap.is_empty() || !u.gidmap.is_empty() || opts.pod.is_some() {
        return;
    }
    u.mode = ctx.default_userns.clone().filter(|m| !m.is_empty());
}

/// containers.conf's `[containers] mounts` for a new container, after the ones it asks for: one
/// for a destination the command line mounts already is left out.
fn add_conf_mounts(ctx: &Ctx, mounts: &mut Vec<engine::Mount>) -> Result<(), Error> {
    for spec in &ctx.conf_mounts {
        let m = engine::parse_mount(spec)
            .map_err(|e| Error::Usage(format!("parsing containers.conf mounts: {e}")))?;
        if !mounts.iter().any(|r| r.destination == m.destination) {
            mounts.push(m);
        }
    }
    Ok(())
}

/// The networks a container joins, each with its own settings.
type Networks = std::collections::BTreeMap<String, crate::network::netavark::PerNetwork>;

/// The network part of `a`: `--network` and its networks, ports, DNS and hosts.
fn network_request(
    a: &CreateArgs,
) -> Result<(engine::network_settings::NetworkRequest, Networks), Error> {
    if a.no_hosts && !a.add_host.is_empty() {
        return Err(Error::Usage(
            "--no-hosts and --add-host cannot be set together".into(),
        ));
    }
    let mut publish = Vec::new();
    for p in &a.publish {
        publish.extend(crate::network::parse_publish(p).map_err(|e| Error::Usage(e.to_string()))?);
    }
    let (network_mode, networks) = super::bridge_networks::bridge_networks(a)?;
    let net = engine::network_settings::NetworkRequest {
        mode: network_mode,
        publish,
        publish_all: a.publish_all,
        expose: a.expose.clone(),
        dns: a.dns.clone(),
        dns_search: a.dns_search.clone(),
        dns_options: a.dns_option.clone(),
        add_hosts: crate::cli::argv::string_slice(&a.add_host),
        no_hosts: a.no_hosts,
        mac_address: a.mac_address.clone(),
        ports_must_be_free: false,
    };
    Ok((net, networks))
}

/// `--env-file`s: each file's name and text.
fn env_files(a: &CreateArgs) -> Result<Vec<(std::path::PathBuf, String)>, Error> {
    a.env_file
        .iter()
        .map(|p| {
            std::fs::read_to_string(p)
                .map(|t| (p.clone(), t))
                .map_err(|e| Error::io(format!("read the env file `{}`", p.display()), e))
        })
        .collect()
}

/// `--label-file`s in order, then `--label`s: a later value of a key replaces an earlier one; and, as
/// podman adds it, `PODMAN_SYSTEMD_UNIT` when a systemd unit runs us (Quadlet units set it to their
/// name: `auto-update` finds the unit to restart by it).
fn labels(a: &CreateArgs) -> Result<std::collections::BTreeMap<String, String>, Error> {
    let mut items = Vec::new();
    for p in &a.label_file {
        let text = std::fs::read_to_string(p)
            .map_err(|e| Error::io(format!("read the label file `{}`", p.display()), e))?;
        items.extend(
            text.lines()
                .map(str::trim_start)
                .filter(|l| !l.is_empty() && !l.starts_with('#'))
                .map(str::to_string),
        );
    }
    items.extend(a.label.iter().cloned());
    let mut labels = crate::cli::key_values("--label", &items)?;
    if let Ok(unit) = std::env::var("PODMAN_SYSTEMD_UNIT")
        && !unit.is_empty()
    {
        labels.insert("PODMAN_SYSTEMD_UNIT".into(), unit);
    }
    Ok(labels)
}

fn options(a: &CreateArgs, remove: bool) -> Result<CreateOptions, Error> {
    let (net, networks) = network_request(a)?;
    let (no_new_privileges, seccomp) = security_opts(&a.security_opt)?;
    let (resources, cgroup) = a.cgroup.options()?;
    let root = match a.rootfs {
        true => {
            engine::RootSource::parse_dir(&a.image).map_err(crate::engine::EngineError::from)?
        }
        false => engine::RootSource::Image,
    };
    Ok(CreateOptions {
        image: a.image.clone(),
        root,
        name: a.name.clone(),
        command: a.command.clone(),
        entrypoint: a.entrypoint.clone(),
        env: a.env.clone(),
        workdir: a.workdir.clone(),
        user: a.user.clone(),
        hostname: a.hostname.clone(),
        net,
        networks,
        links: a.link.clone(),
        read_only: a.read_only,
        no_read_only_tmpfs: !a.read_only_tmpfs,
        image_volume: a
            .image_volume
            .as_deref()
            .map(str::parse)
            .transpose()
            .map_err(|e: crate::engine::container::volumes::BadImageVolumeMode| {
                Error::Usage(e.to_string())
            })?,
        remove,
        tty: a.tty,
        interactive: a.interactive,
        labels: labels(a)?,
        annotations: crate::cli::key_values("--annotation", &a.annotation)?,
        pull: Some(a.pull.parse()?),
        platform: a
            .platform
            .given()
            .then(|| a.platform.platform())
            .transpose()?,
        stop_signal: a
            .stop_signal
            .as_deref()
            .map(engine::parse_signal)
            .transpose()?,
        stop_timeout: a.stop_timeout,
        tls_verify: a.tls_verify,
        decryption_keys: a.decryption_key.clone(),
        retry: a.retry.retry()?,
        restart: a
            .restart
            .as_deref()
            .map(engine::parse_restart)
            .transpose()?,
        log_driver: a.log_driver.clone(),
        log_opts: engine::logs::parse_log_opts(&a.log_opt)?,
        init: a.init,
        umask: a.umask.as_deref().map(engine::parse_umask).transpose()?,
        ulimits: a.ulimit.clone(),
        sysctls: a.sysctl.clone(),
        devices: a.device.clone(),
        timezone: a.tz.clone(),
        privileged: a.privileged,
        cap_add: a.cap_add.clone(),
        cap_drop: a.cap_drop.clone(),
        no_new_privileges,
        seccomp,
        env_files: env_files(a)?,
        env_host: a.env_host,
        no_http_proxy: !a.http_proxy,
        unset_env: a.unset_env.clone(),
        unset_env_all: a.unset_env_all,
        group_add: a.group_add.clone(),
        mounts: mounts(a)?,
        volumes_from: a.volumes_from.clone(),
        userns: super::userns::request(a)?,
        namespaces: namespaces(a)?,
        requires: a.requires.clone(),
        health: a.health.request(),
        pod: None,
        pod_infra: false,
        resources,
        cgroup,
        // NOTIFY_SOCKET reaches the container only through `--sdnotify=container`.
        secrets: a.secret.clone(),
        host_env: std::env::vars()
            .filter(|(k, _)| !k.starts_with("_ROOST_") && k != "NOTIFY_SOCKET")
            .collect(),
        sdnotify: engine::sdnotify::SdNotifyMode::parse(&a.sdnotify).map_err(Error::Usage)?,
        create_command: std::env::args().collect(),
        service: None,
    })
}

pub fn create(ctx: &Ctx, a: &CreateArgs) -> Result<i32, Error> {
    let mut opts = options(a, a.rm)?;
    passthrough_off_terminal(a)?;
    add_conf_mounts(ctx, &mut opts.mounts)?;
    replace(ctx, a)?;
    let cidfile = CidFile::claim(a.cidfile.as_deref())?;
    crate::cli::pod::container_pod(ctx, &mut opts, a.pod.as_deref(), a.pod_id_file.as_deref())?;
    default_userns(ctx, &mut opts);
    let c = engine::create(ctx, &opts, &Progress::new(a.quiet))?;
    cidfile.write(&c.record.id)?;
    out(&format!("{}\n", c.record.id)).map(|()| 0)
}

/// `--replace`: remove the container that has the name this one wants (running or not).
fn replace(ctx: &Ctx, a: &CreateArgs) -> Result<(), Error> {
    if !a.replace {
        return Ok(());
    }
    let Some(name) = &a.name else {
        return Err(Error::Usage(
            "cannot replace a container without --name being set".into(),
        ));
    };
    let report = engine::remove(ctx, std::slice::from_ref(name), false, true, true)?;
    match report.errors.into_iter().next() {
        Some(e) => Err(e.into()),
        None => Ok(()),
    }
}

/// `--cidfile`: claimed (created empty, exclusively) before the container is made, so that two
/// containers cannot share one; removed again if creating fails.
struct CidFile(Option<(std::path::PathBuf, std::fs::File)>);

impl CidFile {
    fn claim(path: Option<&std::path::Path>) -> Result<CidFile, Error> {
        let Some(path) = path else {
            return Ok(CidFile(None));
        };
        match std::fs::File::create_new(path) {
            Ok(f) => Ok(CidFile(Some((path.to_path_buf(), f)))),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Err(Error::Usage(format!(
                "container id file exists. Ensure another container is not using it or delete {}",
                path.display()
            ))),
            Err(e) => Err(Error::io(
                format!("create the CIDFile `{}`", path.display()),
                e,
            )),
        }
    }

    fn write(mut self, id: &str) -> Result<(), Error> {
        use std::io::Write;
        if let Some((path, mut f)) = self.0.take() {
            f.write_all(id.as_bytes())
                .and_then(|()| f.sync_all())
                .map_err(|e| Error::io(format!("write the CIDFile `{}`", path.display()), e))?;
        }
        Ok(())
    }
}

impl Drop for CidFile {
    fn drop(&mut self) {
        if let Some((path, _)) = self.0.take() {
            let _ = std::fs::remove_file(path);
        }
    }
}

fn attached(ctx: &Ctx, c: &engine::Container, sig_proxy: bool) -> Result<i32, Error> {
    match engine::run_attached(ctx, c, sig_proxy)? {
        Ended::Exited(code) => Ok(code),
        Ended::Failed(e) => {
            #[allow(clippy::print_stderr)]
            {
                eprintln!("Error: {e}");
                if let Some(h) = e.hint() {
                    eprintln!("Hint: {h}");
                }
            }
            Err(Error::Reported(e.exit_code()))
        }
    }
}

/// `--log-driver passthrough` hands the container our stdio, which must not be a terminal (podman's
/// rule: use -t for that).
fn passthrough_off_terminal(a: &CreateArgs) -> Result<(), Error> {
    use std::io::IsTerminal;
    if a.log_driver.as_deref() == Some("passthrough")
        && (std::io::stdin().is_terminal()
            || std::io::stdout().is_terminal()
            || std::io::stderr().is_terminal())
    {
        return Err(Error::Usage(
            "the '--log-driver passthrough' option cannot be used on a TTY: redirect the stdin, stdout \
             and stderr of roost (as a systemd unit does), or use another log driver"
                .into(),
        ));
    }
    Ok(())
}

pub fn run(ctx: &Ctx, a: &RunArgs) -> Result<i32, Error> {
    let mut opts = options(&a.create, a.create.rm)?;
    passthrough_off_terminal(&a.create)?;
    add_conf_mounts(ctx, &mut opts.mounts)?;
    // A host port that is taken fails `run` before the container exists.
    opts.net.ports_must_be_free = true;
    if opts.restart.is_some() && a.create.rm {
        return Err(Error::Usage(
            "the --rm option conflicts with --restart".into(),
        ));
    }
    let detach_keys = parse_detach_keys(&a.detach_keys)?;
    replace(ctx, &a.create)?;
    let cidfile = CidFile::claim(a.create.cidfile.as_deref())?;
    crate::cli::pod::container_pod(
        ctx,
        &mut opts,
        a.create.pod.as_deref(),
        a.create.pod_id_file.as_deref(),
    )?;
    default_userns(ctx, &mut opts);
    let c = engine::create(ctx, &opts, &Progress::new(a.create.quiet))?;
    cidfile.write(&c.record.id)?;
    if a.detach {
        engine::start_detached(ctx, &c)?;
        if c.spec.sdnotify == engine::sdnotify::SdNotifyMode::Healthy
            && let Some(sock) = &ctx.notify_socket
        {
            engine::sdnotify::ready_when_healthy(ctx, sock, &c.record.id)?;
        }
        return out(&format!("{}\n", c.record.id)).map(|()| 0);
    }
    // `-it` at a terminal goes through the monitor, as podman's does through conmon, so that the
    // detach keys can leave the container running.
    let at_terminal = nix::unistd::isatty(std::io::stdin()).unwrap_or(false);
    if c.spec.interactive && c.spec.tty && at_terminal && !detach_keys.is_empty() {
        let how = super::attach::Relay {
            stdin: true,
            sig_proxy: a.sig_proxy,
            detach_keys,
        };
        return super::attach::start_attached(ctx, &c, &how);
    }
    attached(ctx, &c, a.sig_proxy)
}

pub fn start(ctx: &Ctx, a: &StartArgs) -> Result<i32, Error> {
    if a.attach && a.containers.len() > 1 {
        return Err(Error::Usage(
            "you cannot start and attach multiple containers at once".into(),
        ));
    }
    let keys = start_keys(ctx, a)?;
    let store = ctx.store()?;
    let mut failed = false;
    for key in &keys {
        let c = match engine::find_settled(&store, key) {
            Ok(c) => c,
            Err(e) if keys.len() > 1 => {
                failed = report_start_error(&e);
                continue;
            }
            Err(e) => return Err(e.into()),
        };
        if c.state.status == engine::Status::Running {
            out(&format!("{key}\n"))?;
            continue;
        }
        if a.attach {
            drop(store);
            let how = super::attach::Relay {
                stdin: a.interactive,
                sig_proxy: a.sig_proxy,
                detach_keys: parse_detach_keys(&a.detach_keys)?,
            };
            return super::attach::start_attached(ctx, &c, &how);
        } else {
            // Several containers (`start --all` at boot): one that fails does not keep the others
            // down; each failure is reported and the exit status says so.
            match engine::start_detached(ctx, &c) {
                Ok(()) => out(&format!("{key}\n"))?,
                Err(e) if keys.len() > 1 => failed = report_start_error(&e),
                // podman's 125, whatever the cause (127 for a command not found is `run`'s).
                Err(e) => return Err(Error::Start(e)),
            }
        }
    }
    if failed {
        return Err(Error::Reported(125));
    }
    Ok(0)
}

/// One of several containers did not start: say so, and go on with the others. Returns true.
fn report_start_error(e: &crate::engine::EngineError) -> bool {
    #[allow(clippy::print_stderr)]
    {
        eprintln!("Error: {e}");
        if let Some(h) = e.hint() {
            eprintln!("Hint: {h}");
        }
    }
    true
}

/// The containers `start` starts: those named, or with `--all` or `--filter` every one that is not
/// running, narrowed by the filters (podman's errors for a bad combination).
fn start_keys(ctx: &Ctx, a: &StartArgs) -> Result<Vec<String>, Error> {
    if a.all && !a.containers.is_empty() {
        return Err(Error::Usage(
            "either start all containers or the container(s) provided in the arguments".into(),
        ));
    }
    if !a.all && a.filter.is_empty() {
        if a.containers.is_empty() {
            return Err(Error::Usage(
                "specify one or more containers to start (or use --all or --filter)".into(),
            ));
        }
        return Ok(a.containers.clone());
    }
    let list = engine::list(ctx)?;
    // Named containers are printed as named, the others by id.
    let mut named: Vec<(String, String)> = Vec::new();
    if !a.containers.is_empty() {
        let store = ctx.store()?;
        for k in &a.containers {
            named.push((engine::find(&store, k)?.record.id, k.clone()));
        }
    }
    let list = list
        .into_iter()
        .filter(|c| a.containers.is_empty() || named.iter().any(|(id, _)| *id == c.record.id));
    Ok(super::ps::apply_filters(list.collect(), &a.filter)?
        .into_iter()
        .filter(|c| c.state.status != engine::Status::Running)
        .map(|c| {
            let key = named.iter().find(|(id, _)| *id == c.record.id);
            key.map_or(c.record.id, |(_, k)| k.clone())
        })
        .collect())
}

pub fn rm(ctx: &Ctx, a: &RmArgs) -> Result<i32, Error> {
    let keys = rm_keys(ctx, a)?;
    if !a.filter.is_empty() && keys.is_empty() {
        return Ok(0);
    }
    let by_file = !a.cidfile.is_empty();
    let cidfiles = a.cidfile.clone();
    let a = &RmArgs {
        containers: keys,
        cidfile: Vec::new(),
        filter: Vec::new(),
        ..a.clone()
    };
    if a.containers.is_empty() && !a.all {
        if by_file {
            remove_cidfiles(&cidfiles);
            return Ok(0);
        }
        return Err(Error::Usage(
            "specify one or more containers to remove (or use --all)".into(),
        ));
    }
    let time = rm_time(a)?;
    // `-f -t N`: give running containers N seconds to stop before they are killed.
    if time.is_some_and(|t| t > 0) {
        let keys: Vec<String> = if a.all {
            let running = engine::list(ctx)?
                .into_iter()
                .filter(|c| c.state.status == engine::Status::Running && !c.is_external());
            running.map(|c| c.record.id).collect()
        } else {
            a.containers.clone()
        };
        for k in keys {
            let _ = engine::stop(ctx, &k, time);
        }
    }
    let report = engine::remove_containers(
        ctx,
        &a.containers,
        a.all,
        a.force,
        a.ignore,
        a.volumes,
        a.depend,
    )?;
    out(&report
        .removed
        .iter()
        .map(|id| format!("{id}\n"))
        .collect::<String>())?;
    if report.errors.is_empty() {
        remove_cidfiles(&cidfiles);
    }
    Ok(rm_errors(&report.errors, a.force))
}

/// `rm --cidfile`: the files go with their containers, as in podman, so that the next `run
/// --cidfile` of a unit (`generate systemd --new`) can claim the file again.
fn remove_cidfiles(files: &[std::path::PathBuf]) {
    for f in files {
        let _ = std::fs::remove_file(f);
    }
}

/// The containers `rm` names: on the command line, in `--cidfile`s and matching `--filter`s.
fn rm_keys(ctx: &Ctx, a: &RmArgs) -> Result<Vec<String>, Error> {
    let mut keys = a.containers.clone();
    keys.extend(super::read_cidfiles(&a.cidfile, a.ignore)?);
    if !a.filter.is_empty() {
        let all = engine::list(ctx)?;
        keys.extend(
            super::ps::apply_filters(all, &a.filter)?
                .into_iter()
                .map(|c| c.record.id),
        );
    }
    Ok(keys)
}

/// `--time` (with `--force` only): seconds to wait for a stop, `u32::MAX` for ever.
fn rm_time(a: &RmArgs) -> Result<Option<u32>, Error> {
    Ok(match a.time {
        None => None,
        Some(_) if !a.force => {
            return Err(Error::Usage(
                "--force option must be specified to use the --time option".into(),
            ));
        }
        Some(-1) => Some(u32::MAX),
        Some(t) => Some(u32::try_from(t).map_err(|_| {
            Error::Usage(format!(
                "invalid --time `{t}`: use a number of seconds, or -1 to wait for ever"
            ))
        })?),
    })
}

/// Print the removal errors; podman's exit code: 1 when a container does not exist, 2 when one is
/// running, 125 otherwise.
fn rm_errors(errors: &[crate::engine::EngineError], force: bool) -> i32 {
    use crate::engine::EngineError as E;
    // --force: a container that does not exist is not an error (podman).
    let errors: Vec<&E> = errors
        .iter()
        .filter(|e| !(force && matches!(e, E::NoSuchContainer(_))))
        .collect();
    for e in &errors {
        #[allow(clippy::print_stderr)]
        match e {
            E::NoSuchContainer(k) => {
                eprintln!("Error: no container with ID or name \"{k}\" found: no such container")
            }
            e => eprintln!("Error: {e}"),
        }
    }
    match errors.first() {
        None => 0,
        Some(E::NoSuchContainer(_)) => 1,
        Some(E::RemoveRunning(_)) => 2,
        Some(_) => 125,
    }
}

/// `container prune`: remove every container that is not running.
pub fn prune(ctx: &Ctx, force: bool) -> Result<i32, Error> {
    if !force && !crate::cli::confirm("This will remove all non running containers.") {
        return Ok(0);
    }
    let ids: Vec<String> = engine::list(ctx)?
        .into_iter()
        .filter(|c| c.state.status != engine::Status::Running && !c.is_external())
        .map(|c| c.record.id)
        .collect();
    let report = engine::remove(ctx, &ids, false, false, true)?;
    out(&report
        .removed
        .iter()
        .map(|id| format!("{id}\n"))
        .collect::<String>())
    .map(|()| 0)
}

/// `rename CONTAINER NAME`.
pub fn rename(ctx: &Ctx, key: &str, name: &str) -> Result<i32, Error> {
    let mut store = ctx.store()?;
    let c = engine::find(&store, key)?;
    engine::validate_name(name)?;
    store.rename_container(&c.record.id, name)?;
    Ok(0)
}
