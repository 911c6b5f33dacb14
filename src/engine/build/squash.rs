//! `--squash` (the build's own layers become one) and `--squash-all` (every layer becomes one).
use std::io::{BufReader, Seek};

use super::stage::{Builder, State};
use crate::archive::Whiteouts;
use crate::engine::EngineError;
use crate::engine::layer::{LayerSlot, ingest};
use crate::oci::History;

/// Merge `state.layers[keep..]` into one layer.
pub(super) fn squash(b: &mut Builder, state: &mut State, keep: usize) -> Result<(), EngineError> {
    let keep = keep.min(state.layers.len());
    let tmp_dir = b.store.root().join("tmp");
    let merged = tempfile::Builder::new()
        .prefix("squash-")
        .tempdir_in(&tmp_dir)
        .map_err(|e| EngineError::io("create a directory in", &tmp_dir, e))?;
    let mut opts = b.ctx.apply_options();
    // Squashing everything: deletions just delete. On top of kept layers, they must stay whiteouts.
    opts.whiteouts = if keep == 0 {
        Whiteouts::Apply
    } else {
        Whiteouts::Overlay
    };
    for l in &state.layers[keep..] {
        let dir = b.store.layer_diff(l);
        let mut t = tempfile::tempfile_in(&tmp_dir)
            .map_err(|e| EngineError::io("create a temporary file in", &tmp_dir, e))?;
        crate::archive::write_layer(&dir, &mut t)?;
        t.rewind()
            .map_err(|e| EngineError::io("read", &tmp_dir, e))?;
        crate::archive::apply_layer(&mut BufReader::new(t), merged.path(), &opts)?;
    }
    let mut t = tempfile::tempfile_in(&tmp_dir)
        .map_err(|e| EngineError::io("create a temporary file in", &tmp_dir, e))?;
    crate::archive::write_layer(merged.path(), &mut t)?;
    t.rewind()
        .map_err(|e| EngineError::io("read", &tmp_dir, e))?;
    let slot = LayerSlot {
        image: "squashed layer".into(),
        diff_id: None,
        chain_id: None,
        parent: keep.checked_sub(1).map(|i| state.layers[i].clone()),
        blob_digest: None,
    };
    let apply = b.ctx.apply_options();
    let layer = ingest(&mut b.store, BufReader::new(t), &slot, &apply)?;
    state.layers.truncate(keep);
    state.layers.push(layer.chain_id.clone());
    state.config.rootfs.diff_ids.truncate(keep);
    state.config.rootfs.diff_ids.push(layer.diff_id.clone());
    let mut seen = 0;
    for h in &mut state.config.history {
        if !h.empty_layer {
            seen += 1;
            if seen > keep {
                h.empty_layer = true;
            }
        }
    }
    state.config.history.push(History {
        created: state.config.created,
        created_by: Some(
            if keep == 0 {
                "roost build --squash-all"
            } else {
                "roost build --squash"
            }
            .into(),
        ),
        author: None,
        comment: None,
        empty_layer: false,
    });
    Ok(())
}
