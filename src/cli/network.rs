//! `roost network …`: create, ls, inspect, rm, prune, exists, connect, disconnect, reload (podman's
//! flags and output), and the hidden `__netns` that holds the rootless network namespace.
use clap::Args;
use clap_complete::engine::ArgValueCandidates;
use serde::Serialize;

use crate::cli::complete::{container_names, network_names};
use crate::cli::format::{self, Format, JsonStyle, Table};
use crate::cli::lazy::Lazy;
use crate::cli::out;
use crate::engine::Ctx;
use crate::engine::container::{ContainerUsers, network_settings};
use crate::engine::network::{self as engine, CreateNetworkOptions, Network};
use crate::error::Error;
use crate::network::netavark::PerNetwork;

#[derive(Debug, clap::Subcommand)]
pub enum NetworkCommand {
    /// Create a bridge network
    Create(Lazy<CreateArgs>),
    /// List networks
    #[command(visible_alias = "list")]
    Ls(Lazy<LsArgs>),
    /// Show details of networks
    Inspect(Lazy<InspectArgs>),
    /// Remove networks
    #[command(visible_alias = "remove")]
    Rm(Lazy<RmArgs>),
    /// Remove all networks no container uses
    Prune(Lazy<PruneArgs>),
    /// Check whether a network exists (exit 0 if it does, 1 if not)
    Exists(Lazy<ExistsArgs>),
    /// Connect a container to a network
    Connect(Lazy<ConnectArgs>),
    /// Disconnect a container from a network
    Disconnect(Lazy<DisconnectArgs>),
    /// Set the networks of running containers up again (firewall rules and DNS records)
    Reload(Lazy<ReloadArgs>),
}

impl NetworkCommand {
    /// These touch containers: their files (`rm -f`) or their running network namespaces.
    pub fn needs_userns(&self) -> bool {
        matches!(
            self,
            NetworkCommand::Rm(_)
                | NetworkCommand::Connect(_)
                | NetworkCommand::Disconnect(_)
                | NetworkCommand::Reload(_)
        )
    }
}

#[derive(Debug, Args)]
pub struct CreateArgs {
    /// Driver to manage the network (only `bridge`)
    #[arg(short, long, value_name = "DRIVER", default_value = "bridge")]
    pub driver: String,
    /// Subnet in CIDR format (repeatable)
    #[arg(long, value_name = "CIDR")]
    pub subnet: Vec<String>,
    /// Gateway of each subnet, in order
    #[arg(long, value_name = "ADDRESS")]
    pub gateway: Vec<String>,
    /// Range of addresses to hand out, per subnet: a CIDR or START-END
    #[arg(long, value_name = "RANGE")]
    pub ip_range: Vec<String>,
    /// Restrict external access from this network
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false", value_name = "BOOL")]
    pub internal: bool,
    /// Do not run a DNS server for container names on this network
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false", value_name = "BOOL")]
    pub disable_dns: bool,
    /// Add an IPv6 subnet (a random unique-local /64 unless --subnet gives one)
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false", value_name = "BOOL")]
    pub ipv6: bool,
    /// Set metadata for the network (KEY=VALUE)
    #[arg(long, value_name = "KEY=VALUE")]
    pub label: Vec<String>,
    /// Driver options: mtu=, metric=, isolate=, com.docker.network.bridge.name=
    #[arg(short, long, value_name = "KEY=VALUE")]
    pub opt: Vec<String>,
    /// Name of the bridge interface
    #[arg(long, value_name = "NAME")]
    pub interface_name: Option<String>,
    /// DNS server for the network's containers (repeatable): aardvark-dns forwards to it (netavark 1.5 or later), or, with --disable-dns, it is the containers' nameserver. A container's --dns takes its place
    #[arg(long, value_name = "IP")]
    pub dns: Vec<String>,
    /// IP address management driver: host-local (addresses from the subnets, the default) or none (interfaces get no address, and the network no subnet or DNS)
    #[arg(long, value_name = "DRIVER")]
    pub ipam_driver: Option<String>,
    /// Do not fail if the network already exists
    #[arg(long)]
    pub ignore: bool,
    /// Name of the network (default: podmanN)
    #[arg(value_name = "NAME")]
    pub name: Option<String>,
}

#[derive(Debug, Args)]
pub struct LsArgs {
    /// Print only network names
    #[arg(short, long)]
    pub quiet: bool,
    /// Pretty-print with a Go template, `json`, or `table …`
    #[arg(long, value_name = "FORMAT", allow_hyphen_values = true)]
    pub format: Option<String>,
    /// Filter output (name, id, driver, label)
    #[arg(short, long, value_name = "KEY=VALUE")]
    pub filter: Vec<String>,
    /// Do not truncate the network ID
    #[arg(long)]
    pub no_trunc: bool,
    /// Omit the table heading
    #[arg(short, long)]
    pub noheading: bool,
}

#[derive(Debug, Args)]
pub struct InspectArgs {
    /// Format the output with a Go template or `json`
    #[arg(short, long, value_name = "FORMAT", allow_hyphen_values = true)]
    pub format: Option<String>,
    #[arg(value_name = "NETWORK", required = true, add = ArgValueCandidates::new(network_names))]
    pub names: Vec<String>,
}

#[derive(Debug, Args)]
pub struct RmArgs {
    /// Remove the containers that use the network, then the network
    #[arg(short, long)]
    pub force: bool,
    /// Seconds to wait before forcibly stopping running containers (accepted for podman; -1 waits for ever)
    #[arg(
        short = 't',
        long,
        value_name = "SECONDS",
        allow_negative_numbers = true
    )]
    pub time: Option<i64>,
    #[arg(value_name = "NETWORK", required = true, add = ArgValueCandidates::new(network_names))]
    pub names: Vec<String>,
}

#[derive(Debug, Args)]
pub struct PruneArgs {
    /// Do not ask for confirmation
    #[arg(short, long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct ExistsArgs {
    #[arg(value_name = "NETWORK", add = ArgValueCandidates::new(network_names))]
    pub name: String,
}

#[derive(Debug, Args)]
pub struct ConnectArgs {
    /// DNS alias of the container on this network (repeatable)
    #[arg(long, value_name = "NAME")]
    pub alias: Vec<String>,
    /// Static IPv4 address on this network
    #[arg(long, value_name = "ADDRESS")]
    pub ip: Option<String>,
    /// Static IPv6 address on this network
    #[arg(long, value_name = "ADDRESS")]
    pub ip6: Option<String>,
    /// Static MAC address on this network
    #[arg(long, value_name = "MAC")]
    pub mac_address: Option<String>,
    #[arg(value_name = "NETWORK", add = ArgValueCandidates::new(network_names))]
    pub network: String,
    #[arg(value_name = "CONTAINER", add = ArgValueCandidates::new(container_names))]
    pub container: String,
}

#[derive(Debug, Args)]
pub struct DisconnectArgs {
    /// Accepted for podman (disconnecting never needs force)
    #[arg(short, long)]
    pub force: bool,
    #[arg(value_name = "NETWORK", add = ArgValueCandidates::new(network_names))]
    pub network: String,
    #[arg(value_name = "CONTAINER", add = ArgValueCandidates::new(container_names))]
    pub container: String,
}

#[derive(Debug, Args)]
pub struct ReloadArgs {
    /// Reload the network of every running container
    #[arg(short, long)]
    pub all: bool,
    /// Reload the network of the last created container
    #[arg(short, long)]
    pub latest: bool,
    #[arg(value_name = "CONTAINER", add = ArgValueCandidates::new(container_names))]
    pub containers: Vec<String>,
}

/// Go-template view of a network: podman's struct field names.
#[derive(Serialize, Default)]
#[serde(rename_all = "PascalCase")]
struct NetworkView {
    name: String,
    #[serde(rename = "ID")]
    id: String,
    driver: String,
    network_interface: String,
    created: String,
    subnets: Vec<SubnetView>,
    #[serde(rename = "IPv6Enabled")]
    ipv6_enabled: bool,
    internal: bool,
    #[serde(rename = "DNSEnabled")]
    dns_enabled: bool,
    labels: std::collections::BTreeMap<String, String>,
    options: std::collections::BTreeMap<String, String>,
    #[serde(rename = "IPAMOptions")]
    ipam_options: std::collections::BTreeMap<String, String>,
    #[serde(rename = "NetworkDNSServers", skip_serializing_if = "Vec::is_empty")]
    network_dns_servers: Vec<String>,
    /// The running containers on the network (inspect only), by id.
    containers: std::collections::BTreeMap<String, ContainerOnNetwork>,
}

/// podman's `network inspect` entry for a running container on the network.
#[derive(Serialize, Default)]
struct ContainerOnNetwork {
    name: String,
    interfaces: std::collections::BTreeMap<String, InterfaceView>,
}

#[derive(Serialize, Default)]
struct InterfaceView {
    subnets: Vec<InterfaceSubnet>,
    mac_address: String,
}

#[derive(Serialize, Default)]
struct InterfaceSubnet {
    ipnet: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    gateway: String,
}

/// The running containers on network `name`, as podman's inspect shows them.
fn containers_on(
    ctx: &Ctx,
    name: &str,
) -> Result<std::collections::BTreeMap<String, ContainerOnNetwork>, Error> {
    let found = network_settings::network_containers(ctx, name)?;
    Ok(found
        .into_iter()
        .map(|(id, (cname, i))| {
            let subnets = i
                .addresses
                .iter()
                .map(|(ip, prefix)| InterfaceSubnet {
                    ipnet: format!("{ip}/{prefix}"),
                    gateway: i
                        .gateways
                        .iter()
                        .find(|g| g.is_ipv4() == ip.is_ipv4())
                        .map(|g| g.to_string())
                        .unwrap_or_default(),
                })
                .collect();
            let iface = InterfaceView {
                subnets,
                mac_address: i.mac.clone(),
            };
            let interfaces = [(i.interface.clone(), iface)].into_iter().collect();
            (
                id,
                ContainerOnNetwork {
                    name: cname,
                    interfaces,
                },
            )
        })
        .collect())
}

#[derive(Serialize, Default)]
#[serde(rename_all = "PascalCase")]
struct SubnetView {
    subnet: String,
    gateway: String,
    lease_range: Option<LeaseView>,
}

#[derive(Serialize, Default)]
#[serde(rename_all = "PascalCase")]
struct LeaseView {
    #[serde(rename = "StartIP")]
    start_ip: String,
    #[serde(rename = "EndIP")]
    end_ip: String,
}

fn view(n: &Network, trunc: bool) -> NetworkView {
    let s = |ip: Option<std::net::IpAddr>| ip.map(|i| i.to_string()).unwrap_or_default();
    NetworkView {
        name: n.name.clone(),
        id: if trunc {
            n.id[..12.min(n.id.len())].to_string()
        } else {
            n.id.clone()
        },
        driver: n.driver.clone(),
        network_interface: n.network_interface.clone(),
        created: n.created.clone(),
        subnets: n
            .subnets
            .iter()
            .map(|x| SubnetView {
                subnet: x.subnet.to_string(),
                gateway: s(x.gateway),
                lease_range: x.lease_range.as_ref().map(|r| LeaseView {
                    start_ip: s(r.start_ip),
                    end_ip: s(r.end_ip),
                }),
            })
            .collect(),
        ipv6_enabled: n.ipv6_enabled,
        internal: n.internal,
        dns_enabled: n.dns_enabled,
        labels: n.labels.clone(),
        options: n.options.clone(),
        ipam_options: n.ipam_options.clone(),
        network_dns_servers: n
            .network_dns_servers
            .iter()
            .map(|i| i.to_string())
            .collect(),
        containers: Default::default(),
    }
}

fn create(ctx: &Ctx, a: &CreateArgs) -> Result<i32, Error> {
    let net = engine::create(
        ctx,
        &CreateNetworkOptions {
            name: a.name.clone(),
            driver: Some(a.driver.clone()),
            subnets: a.subnet.clone(),
            gateways: a.gateway.clone(),
            ip_ranges: a.ip_range.clone(),
            internal: a.internal,
            disable_dns: a.disable_dns,
            ipv6: a.ipv6,
            labels: crate::cli::key_values("--label", &a.label)?,
            options: crate::cli::key_values("--opt", &a.opt)?,
            interface_name: a.interface_name.clone(),
            ignore: a.ignore,
            dns: a.dns.clone(),
            ipam_driver: a.ipam_driver.clone(),
        },
    )?;
    out(&format!("{}\n", net.name)).map(|()| 0)
}

fn ls(ctx: &Ctx, a: &LsArgs) -> Result<i32, Error> {
    let filters = a
        .filter
        .iter()
        .map(|f| engine::parse_filter(f).map_err(crate::engine::EngineError::from))
        .collect::<Result<Vec<_>, _>>()?;
    let nets = engine::list(ctx, &filters)?;
    let trunc = !a.no_trunc;
    if a.quiet {
        // podman-network-ls(1): `-q` prints the network names.
        return out(&nets
            .iter()
            .map(|n| format!("{}\n", n.name))
            .collect::<String>())
        .map(|()| 0);
    }
    let fmt = Format::parse(a.format.as_deref());
    if fmt == Format::Json {
        return out(&format::render_json(&nets, JsonStyle::INSPECT)?).map(|()| 0);
    }
    let rows: Vec<NetworkView> = nets.iter().map(|n| view(n, trunc)).collect();
    let table = Table {
        name: "network ls",
        default_template: "table {{.ID}}\t{{.Name}}\t{{.Driver}}",
        headers: &[("ID", "NETWORK ID")],
        json: JsonStyle::INSPECT,
    };
    let mut text = format::render_list(&rows, &fmt, &table)?;
    if a.noheading {
        text = format::strip_heading(text, &fmt);
    }
    out(&text).map(|()| 0)
}

/// Network `name`'s template view (for completing `--format` fields).
/// The fields `network ls` and `network inspect` templates can use (for completion).
pub(crate) fn format_fields() -> serde_json::Value {
    format::template_fields::<NetworkView>(&[])
}

pub(crate) fn template_doc(ctx: &Ctx, name: &str) -> Option<serde_json::Value> {
    let n = engine::inspect(ctx, name).ok()?;
    serde_json::to_value(view(&n, false)).ok()
}

fn inspect(ctx: &Ctx, a: &InspectArgs) -> Result<i32, Error> {
    let nets = a
        .names
        .iter()
        .map(|n| engine::inspect(ctx, n))
        .collect::<Result<Vec<_>, _>>()?;
    let fmt = Format::parse(a.format.as_deref());
    let text = match fmt {
        Format::Default | Format::Json => {
            let mut values = Vec::new();
            for n in &nets {
                let mut v = serde_json::to_value(n)
                    .map_err(|source| format::FormatError::Serialize { source })?;
                if let Some(m) = v.as_object_mut() {
                    let c = serde_json::to_value(containers_on(ctx, &n.name)?)
                        .map_err(|source| format::FormatError::Serialize { source })?;
                    m.insert("containers".into(), c);
                }
                values.push(v);
            }
            format::render_json(&values, JsonStyle::INSPECT)?
        }
        _ => {
            let mut views = Vec::new();
            for n in &nets {
                let mut v = view(n, false);
                v.containers = containers_on(ctx, &n.name)?;
                views.push(v);
            }
            format::render_inspect(&views, &fmt)?
        }
    };
    out(&text).map(|()| 0)
}

/// Print each error of a bulk command; the exit status is the first one's (podman).
fn report_errors(errors: &[crate::engine::EngineError]) -> i32 {
    for e in errors {
        #[allow(clippy::print_stderr)]
        {
            eprintln!("Error: {e}");
        }
    }
    errors.first().map_or(0, |e| e.exit_code())
}

fn rm(ctx: &Ctx, a: &RmArgs) -> Result<i32, Error> {
    let report = engine::remove(ctx, &a.names, a.force, &ContainerUsers);
    out(&report
        .removed
        .iter()
        .map(|n| format!("{n}\n"))
        .collect::<String>())?;
    Ok(report_errors(&report.errors))
}

fn prune(ctx: &Ctx, a: &PruneArgs) -> Result<i32, Error> {
    if !a.force
        && !crate::cli::confirm("This will remove all networks not used by at least one container.")
    {
        return Ok(0);
    }
    let report = engine::prune(ctx, &ContainerUsers)?;
    out(&report
        .removed
        .iter()
        .map(|n| format!("{n}\n"))
        .collect::<String>())?;
    Ok(report_errors(&report.errors))
}

fn connect(ctx: &Ctx, a: &ConnectArgs) -> Result<i32, Error> {
    let mut per = PerNetwork {
        aliases: a.alias.clone(),
        ..PerNetwork::default()
    };
    for ip in a.ip.iter().chain(&a.ip6) {
        per.static_ips.push(
            ip.parse()
                .map_err(|_| Error::Usage(format!("invalid IP address `{ip}`")))?,
        );
    }
    if let Some(m) = &a.mac_address {
        per.static_mac = Some(engine::parse_mac(m).map_err(crate::engine::EngineError::from)?);
    }
    network_settings::connect(ctx, &a.network, &a.container, per)?;
    Ok(0)
}

/// `network reload`: each container's id once its network is set up again. With `--all`, the
/// containers with no network of their own to reload (not running, `--network host`…) are passed
/// over, as podman does; named ones are errors.
fn reload(ctx: &Ctx, a: &ReloadArgs) -> Result<i32, Error> {
    let picked = [a.all, a.latest, !a.containers.is_empty()];
    if picked.iter().filter(|x| **x).count() != 1 {
        return Err(Error::Usage(
            "name the containers to reload, or use one of --all and --latest".into(),
        ));
    }
    let keys: Vec<String> = if a.all || a.latest {
        let mut list = crate::engine::container::list(ctx)?;
        list.sort_by_key(|c| std::cmp::Reverse(c.record.created));
        if a.latest {
            list.truncate(1);
        } else {
            list.retain(network_settings::reloadable);
        }
        list.into_iter().map(|c| c.record.id).collect()
    } else {
        a.containers.clone()
    };
    let mut errors = Vec::new();
    for key in &keys {
        match network_settings::reload(ctx, key) {
            Ok(id) => out(&format!("{id}\n"))?,
            Err(e) => errors.push(e),
        }
    }
    Ok(report_errors(&errors))
}

/// Run a `network …` subcommand.
pub fn dispatch(ctx: &Ctx, cmd: NetworkCommand) -> Result<i32, Error> {
    match cmd {
        NetworkCommand::Create(a) => create(ctx, &a),
        NetworkCommand::Ls(a) => ls(ctx, &a),
        NetworkCommand::Inspect(a) => inspect(ctx, &a),
        NetworkCommand::Rm(a) => rm(ctx, &a),
        NetworkCommand::Prune(a) => prune(ctx, &a),
        NetworkCommand::Exists(a) => Ok(if engine::exists(ctx, &a.name)? { 0 } else { 1 }),
        NetworkCommand::Connect(a) => connect(ctx, &a),
        NetworkCommand::Reload(a) => reload(ctx, &a),
        NetworkCommand::Disconnect(a) => {
            network_settings::disconnect(ctx, &a.network, &a.container)?;
            Ok(0)
        }
    }
}

#[derive(Debug, Args)]
pub struct NetnsArgs {
    /// Descriptor to report readiness on
    #[arg(long, value_name = "FD")]
    pub ready_fd: i32,
}

/// `__netns`: hold the rootless network namespace until no container is attached.
pub fn netns(ctx: &Ctx, a: &NetnsArgs) -> Result<i32, Error> {
    let ready = crate::sys::process::adopt_fd(a.ready_fd)
        .map_err(|e| Error::io("adopt the ready descriptor", e))?;
    crate::network::holder::serve(&ctx.paths.runtime, ready)
        .map_err(crate::engine::EngineError::from)?;
    Ok(0)
}
