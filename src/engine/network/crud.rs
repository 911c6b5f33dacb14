//! Networks as objects: `network create`, `ls`, `inspect`, `rm`, `prune`, `exists`; the `--network
//! NAME:OPTS` syntax, and the check of a new container's networks. Which containers use a network
//! comes from the caller's [`Users`].
use std::collections::BTreeMap;

use super::{CreateNetworkOptions, Network};
use crate::engine::users::Users;
use crate::engine::{Ctx, EngineError};
use crate::network::netavark::PerNetwork;
use crate::network::{NetworkError, config, defs};

/// A `network ls --filter`.
#[derive(Debug, Clone, PartialEq)]
pub enum NetworkFilter {
    Name(String),
    Id(String),
    Driver(String),
    Label(String, Option<String>),
}

pub fn parse_filter(f: &str) -> Result<NetworkFilter, NetworkError> {
    let (k, v) = f
        .split_once('=')
        .ok_or_else(|| NetworkError::Invalid(format!("invalid filter {f:?}")))?;
    Ok(match k {
        "name" => NetworkFilter::Name(v.into()),
        "id" => NetworkFilter::Id(v.into()),
        "driver" => NetworkFilter::Driver(v.into()),
        "label" => match v.split_once('=') {
            Some((k, v)) => NetworkFilter::Label(k.into(), Some(v.into())),
            None => NetworkFilter::Label(v.into(), None),
        },
        _ => return Err(NetworkError::Invalid(format!("invalid filter {k:?}"))),
    })
}

fn matches(n: &Network, f: &NetworkFilter) -> bool {
    match f {
        // podman matches names as regular expressions; a substring match covers the usual use.
        NetworkFilter::Name(s) => regex_lite::Regex::new(s)
            .map(|r| r.is_match(&n.name))
            .unwrap_or_else(|_| n.name.contains(s.as_str())),
        NetworkFilter::Id(s) => n.id.starts_with(s.as_str()),
        NetworkFilter::Driver(s) => &n.driver == s,
        NetworkFilter::Label(k, v) => n
            .labels
            .get(k)
            .is_some_and(|x| v.as_ref().is_none_or(|v| v == x)),
    }
}

fn lock(ctx: &Ctx) -> Result<nix::fcntl::Flock<std::fs::File>, EngineError> {
    let dir = defs::dir(&ctx.paths.data);
    std::fs::create_dir_all(&dir).map_err(|e| EngineError::io("create", &dir, e))?;
    let path = dir.join(".lock");
    let f = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| EngineError::io("open", &path, e))?;
    nix::fcntl::Flock::lock(f, nix::fcntl::FlockArg::LockExclusive)
        .map_err(|(_, e)| EngineError::io("lock", &path, e.into()))
}

/// `network create`.
pub fn create(ctx: &Ctx, opts: &CreateNetworkOptions) -> Result<Network, EngineError> {
    let _lock = lock(ctx)?;
    let existing = defs::load_all(&ctx.paths.data)?;
    let name = match &opts.name {
        Some(n) => n.clone(),
        None => (0..)
            .map(|i| format!("podman{}", i + 1))
            .find(|c| !existing.iter().any(|n| &n.name == c))
            .expect("an unbounded range has a free name"),
    };
    if let Some(n) = existing.iter().find(|n| n.name == name) {
        if opts.ignore {
            return Ok(n.clone());
        }
        return Err(NetworkError::Exists(name).into());
    }
    let id = hex::encode(rand::random::<[u8; 32]>());
    let net = config::build(
        opts,
        &existing,
        name,
        id,
        defs::rfc3339(jiff::Timestamp::now()),
    )?;
    defs::save(&ctx.paths.data, &net)?;
    crate::engine::events::record(
        ctx,
        crate::engine::events::Event::network("create", &net.id, &net.name, &net.driver),
    );
    Ok(net)
}

/// `network ls`: every network (the default one included) that passes all filters.
pub fn list(ctx: &Ctx, filters: &[NetworkFilter]) -> Result<Vec<Network>, EngineError> {
    Ok(defs::load_all(&ctx.paths.data)?
        .into_iter()
        .filter(|n| filters.iter().all(|f| matches(n, f)))
        .collect())
}

/// The names of the networks in the store at `data` (for shell completion: no context, no errors).
pub fn names(data: &std::path::Path) -> Vec<String> {
    defs::load_all(data)
        .unwrap_or_default()
        .into_iter()
        .map(|n| n.name)
        .collect()
}

pub fn inspect(ctx: &Ctx, key: &str) -> Result<Network, EngineError> {
    Ok(defs::find(&ctx.paths.data, key)?)
}

pub fn exists(ctx: &Ctx, key: &str) -> Result<bool, EngineError> {
    match defs::find(&ctx.paths.data, key) {
        Ok(_) => Ok(true),
        Err(NetworkError::NotFound(_)) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

#[derive(Debug, Default)]
pub struct RemoveNetworksReport {
    pub removed: Vec<String>,
    pub errors: Vec<EngineError>,
}

/// `network rm`: with `force`, the containers using a network are removed first (podman).
pub fn remove(ctx: &Ctx, keys: &[String], force: bool, users: &dyn Users) -> RemoveNetworksReport {
    let mut report = RemoveNetworksReport::default();
    for k in keys {
        match remove_one(ctx, k, force, users) {
            Ok(name) => report.removed.push(name),
            // podman: with --force, a network that does not exist is not an error.
            Err(EngineError::Network(NetworkError::NotFound(_))) if force => {}
            Err(e) => report.errors.push(e),
        }
    }
    report
}

fn remove_one(ctx: &Ctx, key: &str, force: bool, users: &dyn Users) -> Result<String, EngineError> {
    let net = defs::find(&ctx.paths.data, key)?;
    if net.name == config::DEFAULT_NAME {
        return Err(NetworkError::Default(net.name).into());
    }
    let mut store = ctx.store()?;
    let using: Vec<String> = users
        .uses(&store)?
        .into_iter()
        .filter(|u| u.networks.contains(&net.name))
        .map(|u| u.id)
        .collect();
    if !using.is_empty() {
        if !force {
            return Err(NetworkError::InUse {
                name: net.name.clone(),
                containers: using
                    .iter()
                    .map(|id| crate::store::short_id(id).to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
            }
            .into());
        }
        for id in &using {
            users.remove(ctx, &mut store, id)?;
        }
    }
    let _lock = lock(ctx)?;
    defs::remove(&ctx.paths.data, &net.name)?;
    crate::engine::events::record(
        ctx,
        crate::engine::events::Event::network("remove", &net.id, &net.name, &net.driver),
    );
    Ok(net.name)
}

/// `network prune`: remove the networks no container uses (never the default one).
pub fn prune(ctx: &Ctx, users: &dyn Users) -> Result<RemoveNetworksReport, EngineError> {
    let all = users.uses(&ctx.store()?)?;
    let unused: Vec<String> = defs::load_all(&ctx.paths.data)?
        .into_iter()
        .filter(|n| n.name != config::DEFAULT_NAME)
        .filter(|n| !all.iter().any(|u| u.networks.contains(&n.name)))
        .map(|n| n.name)
        .collect();
    Ok(remove(ctx, &unused, false, users))
}

/// Parse `--network` values that name networks: `NAME[:ip=…,alias=…,mac=…,interface_name=…]`, several
/// separated by commas (a comma-separated `key=value` continues the previous network's options).
pub fn parse_network_flag(value: &str) -> Result<Vec<(String, PerNetwork)>, NetworkError> {
    let mut out: Vec<(String, PerNetwork)> = Vec::new();
    for part in value.split(',').filter(|p| !p.is_empty()) {
        // `key=value` (before any `:`) continues the previous network's options.
        let (name, opts) = match (part.find(':'), part.find('=')) {
            (_, Some(eq)) if part.find(':').is_none_or(|c| eq < c) => (None, Some(part)),
            (Some(c), _) => (Some(&part[..c]), Some(&part[c + 1..])),
            (None, _) => (Some(part), None),
        };
        if let Some(n) = name {
            config::validate_name(n)?;
            out.push((n.to_string(), PerNetwork::default()));
        }
        let Some((_, per)) = out.last_mut() else {
            return Err(NetworkError::Invalid(format!("invalid network `{value}`")));
        };
        for o in opts.into_iter().flat_map(|o| o.split(',')) {
            let (k, v) = o
                .split_once('=')
                .ok_or_else(|| NetworkError::Invalid(format!("invalid network option `{o}`")))?;
            match k {
                "ip" | "ip6" => per.static_ips.push(
                    v.parse()
                        .map_err(|_| NetworkError::BadAddress(v.to_string()))?,
                ),
                "alias" => per.aliases.push(v.to_string()),
                "mac" => per.static_mac = Some(parse_mac(v)?),
                "interface_name" => per.interface_name = v.to_string(),
                _ => {
                    return Err(NetworkError::Invalid(format!(
                        "unknown bridge network option `{k}`"
                    )));
                }
            }
        }
    }
    Ok(out)
}

/// A MAC address `aa:bb:cc:dd:ee:ff`.
pub fn parse_mac(s: &str) -> Result<String, NetworkError> {
    let parts: Vec<&str> = s.split(':').collect();
    if parts.len() == 6
        && parts
            .iter()
            .all(|p| p.len() == 2 && p.chars().all(|c| c.is_ascii_hexdigit()))
    {
        Ok(s.to_ascii_lowercase())
    } else {
        Err(NetworkError::Invalid(format!("invalid MAC address `{s}`")))
    }
}

/// Check a new container's networks: they exist (names or ids become names), and static addresses
/// fall in their subnets.
pub fn resolve_for_create(
    ctx: &Ctx,
    requested: &BTreeMap<String, PerNetwork>,
) -> Result<BTreeMap<String, PerNetwork>, EngineError> {
    let mut out = BTreeMap::new();
    for (key, per) in requested {
        out.insert(resolve_one(ctx, key, per)?.name, per.clone());
    }
    Ok(out)
}

/// The network `key` names, checked for a container's `per` options (static addresses in its
/// subnets).
pub fn resolve_one(ctx: &Ctx, key: &str, per: &PerNetwork) -> Result<Network, EngineError> {
    let net = defs::find(&ctx.paths.data, key)?;
    check_static(&net, per)?;
    Ok(net)
}

fn check_static(net: &Network, per: &PerNetwork) -> Result<(), NetworkError> {
    for ip in &per.static_ips {
        if !net.subnets.iter().any(|s| s.subnet.contains(*ip)) {
            return Err(NetworkError::Invalid(format!(
                "requested static ip {ip} not in any subnet on network {}",
                net.name
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn network_flag_syntax() {
        let v = parse_network_flag("a,b").unwrap();
        assert_eq!(v.len(), 2);
        assert_eq!(v[1].0, "b");
        let v = parse_network_flag("a:ip=10.89.0.5,alias=x,alias=y,mac=AA:bb:cc:dd:ee:ff").unwrap();
        assert_eq!(v.len(), 1);
        assert_eq!(
            v[0].1.static_ips,
            vec!["10.89.0.5".parse::<std::net::IpAddr>().unwrap()]
        );
        assert_eq!(v[0].1.aliases, vec!["x", "y"]);
        assert_eq!(v[0].1.static_mac.as_deref(), Some("aa:bb:cc:dd:ee:ff"));
        assert!(parse_network_flag("a:ip=nope").is_err());
        assert!(parse_network_flag("a:zzz=1").is_err());
        assert!(parse_network_flag("ip=1.2.3.4").is_err());
        assert!(parse_mac("aa:bb").is_err());
    }

    #[test]
    fn filters() {
        let n = config::default_network("now");
        assert!(matches(&n, &parse_filter("name=pod").unwrap()));
        assert!(matches(&n, &parse_filter("driver=bridge").unwrap()));
        assert!(matches(&n, &parse_filter("id=2f25").unwrap()));
        assert!(!matches(&n, &parse_filter("label=a").unwrap()));
        assert!(parse_filter("bogus=1").is_err());
    }
}
