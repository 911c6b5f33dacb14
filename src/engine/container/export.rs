//! `export`: the container's file system (image layers flattened with its changes) as one tar.
//!
//! The layers and the upper dir are stacked in a read-only, detached overlay mount and walked by fd,
//! so whiteouts are honoured by the kernel, nothing is staged on disk, and a running container cannot
//! redirect the walk with symlinks. The runtime's mounts (/proc, init files) are not part of it.
use std::io::Write;
use std::os::fd::AsFd;

use super::find;
use super::view::{Access, open_storage};
use crate::archive::TreeWriter;
use crate::engine::{Ctx, EngineError};

/// `export CONTAINER`: write the tar to `out`.
pub fn export(ctx: &Ctx, key: &str, out: impl Write) -> Result<(), EngineError> {
    let store = ctx
        .store_if_exists()?
        .ok_or_else(|| EngineError::NoSuchContainer(key.to_string()))?;
    let c = find(&store, key)?;
    let root = open_storage(&store, &c, Access::Read)?;
    let mut tar = TreeWriter::new(out).with_ids(super::rootfs::container_ids(&c));
    tar.append_children(root.as_fd(), b"")?;
    tar.finish()?;
    Ok(())
}
