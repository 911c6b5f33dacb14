//! `port`: the published ports of containers.
use super::PortArgs;
use crate::cli::out;
use crate::engine::Ctx;
use crate::engine::container as engine;
use crate::error::Error;
use crate::network::ports;

pub fn port(ctx: &Ctx, a: &PortArgs) -> Result<i32, Error> {
    let Some(store) = ctx.store_if_exists()? else {
        return Err(crate::engine::EngineError::NoSuchContainer(
            a.container.clone().unwrap_or_default(),
        )
        .into());
    };
    let mut text = String::new();
    if a.all || a.latest {
        if a.container.is_some() && a.all {
            return Err(Error::Usage(
                "--all takes no container: `roost port --all` lists every container's ports".into(),
            ));
        }
        let mut list = engine::list(ctx)?;
        if a.latest {
            list.sort_by_key(|c| std::cmp::Reverse(c.record.created));
            list.truncate(1);
        }
        let only = match (&a.container, a.latest) {
            (Some(p), true) => {
                Some(ports::parse_port_query(p).map_err(|e| Error::Usage(e.to_string()))?)
            }
            _ => None,
        };
        for c in list {
            for l in ports::port_lines(&c.spec.net.ports, only) {
                if a.all {
                    text.push_str(&format!("{}\t{l}\n", crate::store::short_id(&c.record.id)));
                } else {
                    text.push_str(&format!("{l}\n"));
                }
            }
        }
        out(&text)?;
        return Ok(0);
    }
    let Some(key) = &a.container else {
        return Err(Error::Usage(
            "`roost port` needs a container (or --all / --latest)".into(),
        ));
    };
    let c = engine::find(&store, key)?;
    let only = a
        .port
        .as_deref()
        .map(ports::parse_port_query)
        .transpose()
        .map_err(|e| Error::Usage(e.to_string()))?;
    let lines = ports::port_lines(&c.spec.net.ports, only);
    if let (Some(p), true) = (&a.port, lines.is_empty()) {
        // podman's words (the container is the one named).
        return Err(Error::Usage(format!(
            "failed to find published port \"{p}\""
        )));
    }
    for l in lines {
        text.push_str(&l);
        text.push('\n');
    }
    out(&text)?;
    Ok(0)
}
