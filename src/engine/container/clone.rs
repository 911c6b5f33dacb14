//! A copy of a stored container (`pod clone`): its spec with some fields changed, a new id and
//! name, and a new root file system made from the same image layers.
use jiff::Timestamp;

use super::{Container, ContainerSpec, State};
use crate::engine::{Ctx, EngineError};
use crate::store::ContainerRecord;

/// Create a copy of `c` named `name` (a generated one when taken), its spec changed by `edit`.
/// Volumes are shared with the original, secrets are given again from the secret store.
pub fn clone_container(
    ctx: &Ctx,
    c: &Container,
    name: &str,
    edit: impl FnOnce(&mut ContainerSpec),
) -> Result<Container, EngineError> {
    let mut spec = c.spec.clone();
    edit(&mut spec);
    let secrets = spec
        .secrets
        .iter()
        .map(|u| {
            let record = crate::engine::secret::find(ctx, &u.name)?;
            Ok((u.clone(), crate::engine::secret::data(ctx, &record)?))
        })
        .collect::<Result<Vec<_>, EngineError>>()?;
    let mut store = ctx.store()?;
    let (name, generated) = match super::find(&store, name) {
        Ok(_) => (super::names::generate(&store)?, true),
        Err(_) => (name.to_string(), false),
    };
    let record = ContainerRecord {
        id: super::new_id(),
        name,
        image_id: c.record.image_id.clone(),
        image: c.record.image.clone(),
        created: Timestamp::now(),
        spec: serde_json::to_string(&spec).expect("spec serializes"),
        state: State::default().to_json(),
    };
    let record = super::persist(ctx, &mut store, record, &spec, &[], generated, &secrets)?;
    let copy = Container {
        record,
        spec,
        state: State::default(),
    };
    crate::engine::events::record(
        ctx,
        crate::engine::events::Event::container("create", &copy),
    );
    Ok(copy)
}
