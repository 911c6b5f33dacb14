//! The containers that use networks, volumes and images, as the modules that own those objects see
//! them. Those modules sit below `container` and never call it: a forced `rm` or an in-use check
//! goes through the [`Users`] its caller hands in, which `container::ContainerUsers` implements.
use super::{Ctx, EngineError};
use crate::store::Store;

/// What one container uses.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Use {
    pub id: String,
    /// Its process runs (as recorded).
    pub running: bool,
    /// The bridge networks it is on.
    pub networks: Vec<String>,
    /// The volumes it mounts, by name.
    pub volumes: Vec<String>,
}

/// Containers, for the network, volume and image use cases.
pub trait Users {
    /// What each container in `store` uses.
    fn uses(&self, store: &Store) -> Result<Vec<Use>, EngineError>;
    /// Remove container `id`, killing it first when it runs (a forced `network rm`, `volume rm`).
    fn remove(&self, ctx: &Ctx, store: &mut Store, id: &str) -> Result<(), EngineError>;
    /// Stop running container `id`, killing it after `timeout` seconds (None: its own stop timeout)
    /// (a forced `volume rm -t`).
    fn stop(&self, ctx: &Ctx, id: &str, timeout: Option<u32>) -> Result<(), EngineError>;
    /// Remove containers `ids` as `rm --force --ignore` does, with one error per container that
    /// could not go (a forced `rmi`).
    fn remove_all(&self, ctx: &Ctx, ids: &[String]) -> Result<Vec<EngineError>, EngineError>;
    /// Remove what interrupted builds and removals left behind (dead build containers, orphaned
    /// container directories), so that `image prune` can free their images and layers.
    fn reclaim(&self, ctx: &Ctx, store: &mut Store) -> Result<(), EngineError>;
}
