//! [`Users`] for the network, volume and image use cases below: what each container uses, and
//! removing containers for their forced `rm`.
use super::{Container, MountKind, Status, lifecycle};
use crate::engine::users::{Use, Users};
use crate::engine::{Ctx, EngineError};
use crate::store::Store;

/// The containers in the store.
pub struct ContainerUsers;

impl Users for ContainerUsers {
    fn uses(&self, store: &Store) -> Result<Vec<Use>, EngineError> {
        Ok(store
            .containers()?
            .into_iter()
            .map(|r| uses(&Container::from_record(r)))
            .collect())
    }

    fn remove(&self, ctx: &Ctx, store: &mut Store, id: &str) -> Result<(), EngineError> {
        let c = lifecycle::find(store, id)?;
        lifecycle::remove_one(ctx, store, &c, true)
    }

    fn stop(&self, ctx: &Ctx, id: &str, timeout: Option<u32>) -> Result<(), EngineError> {
        lifecycle::stop(ctx, id, timeout).map(|_| ())
    }

    fn remove_all(&self, ctx: &Ctx, ids: &[String]) -> Result<Vec<EngineError>, EngineError> {
        Ok(lifecycle::remove(ctx, ids, false, true, true)?.errors)
    }

    fn reclaim(&self, ctx: &Ctx, store: &mut Store) -> Result<(), EngineError> {
        crate::engine::check::reclaim(ctx, store).map(|_| ())
    }
}

/// What `c` uses.
pub fn uses(c: &Container) -> Use {
    Use {
        id: c.record.id.clone(),
        running: c.state.status == Status::Running,
        networks: c.spec.networks.keys().cloned().collect(),
        volumes: c
            .spec
            .mounts
            .iter()
            .filter(|m| m.kind == MountKind::Volume)
            .map(|m| m.source.clone())
            .collect(),
    }
}
