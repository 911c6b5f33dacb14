//! `mount` and `unmount` (`umount`): a container's root file system at a path of its own, inside
//! `roost unshare` (podman's rootless rule).
use clap::Args;
use clap_complete::engine::ArgValueCandidates;

use crate::cli::complete::container_names;
use crate::cli::out;
use crate::engine::Ctx;
use crate::engine::container::mount as engine;
use crate::error::Error;

#[derive(Debug, Args)]
#[command(
    after_long_help = "Examples:\n  roost unshare sh -c 'ls $(roost mount web)/etc'\n  roost unshare roost mount"
)]
pub struct MountArgs {
    /// Mount all containers
    #[arg(short, long)]
    pub all: bool,
    /// Show full container IDs when listing
    #[arg(long)]
    pub no_trunc: bool,
    /// Containers to mount (none: list the mounted ones)
    #[arg(value_name = "CONTAINER", add = ArgValueCandidates::new(container_names))]
    pub containers: Vec<String>,
}

#[derive(Debug, Args)]
pub struct UnmountArgs {
    /// Unmount all mounted containers
    #[arg(short, long)]
    pub all: bool,
    /// Accepted for podman compatibility (there is no mount count to override)
    #[arg(short, long)]
    pub force: bool,
    /// Containers to unmount
    #[arg(value_name = "CONTAINER", add = ArgValueCandidates::new(container_names))]
    pub containers: Vec<String>,
}

/// `mount [CONTAINER...]`: print each mount point, or list `ID PATH` of the mounted containers.
pub fn mount(ctx: &Ctx, a: &MountArgs) -> Result<i32, Error> {
    if a.containers.is_empty() && !a.all {
        let mut text = String::new();
        for (c, path) in engine::mounted(ctx)? {
            let id = if a.no_trunc {
                c.record.id.as_str()
            } else {
                &c.record.id[..12.min(c.record.id.len())]
            };
            text.push_str(&format!("{id} {}\n", path.display()));
        }
        out(&text)?;
        return Ok(0);
    }
    let keys = if a.all {
        crate::engine::container::list(ctx)?
            .into_iter()
            .map(|c| c.record.id)
            .collect()
    } else {
        a.containers.clone()
    };
    for k in keys {
        let path = engine::mount(ctx, &k)?;
        if a.all {
            out(&format!("{} {}\n", &k[..12.min(k.len())], path.display()))?;
        } else {
            out(&format!("{}\n", path.display()))?;
        }
    }
    Ok(0)
}

/// `unmount CONTAINER...`: prints each container's ID.
pub fn unmount(ctx: &Ctx, a: &UnmountArgs) -> Result<i32, Error> {
    if a.containers.is_empty() && !a.all {
        return Err(Error::Usage(
            "specify one or more containers to unmount (or use --all)".into(),
        ));
    }
    let keys: Vec<String> = if a.all {
        engine::mounted(ctx)?
            .into_iter()
            .map(|(c, _)| c.record.id)
            .collect()
    } else {
        a.containers.clone()
    };
    for k in keys {
        let id = engine::unmount(ctx, &k)?;
        out(&format!("{id}\n"))?;
    }
    Ok(0)
}
