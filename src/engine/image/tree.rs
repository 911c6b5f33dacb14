//! `image tree`: an image's layers from the base up, each with its size and the names of the images
//! whose top layer it is; with `--whatrequires`, the layers stacked on the image's top layer by
//! other images instead (a tree, branching where images diverge).
use std::collections::BTreeMap;

use crate::engine::{Ctx, EngineError};
use crate::oci::Digest;
use crate::store::{ImageRecord, LayerRecord, Store};

/// One layer in the tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TreeLayer {
    pub id: Digest,
    /// Uncompressed bytes.
    pub size: u64,
    /// The names of the images whose top layer this is.
    pub top_of: Vec<String>,
    /// Layers whose parent this is, oldest first (only with `--whatrequires`).
    pub children: Vec<TreeLayer>,
    /// Other layers share this one's parent (the tree branches here).
    pub has_siblings: bool,
}

/// The image and its layers: base first, or (with `--whatrequires`) its top layer alone, with
/// the layers that require it as its children.
#[derive(Debug, Clone)]
pub struct ImageTree {
    pub id: Digest,
    pub names: Vec<String>,
    pub size: u64,
    pub layers: Vec<TreeLayer>,
}

/// `image tree [--whatrequires] NAME`.
pub fn tree(ctx: &Ctx, name: &str, what_requires: bool) -> Result<ImageTree, EngineError> {
    let store = ctx
        .store_if_exists()?
        .ok_or_else(|| EngineError::ImageNotKnown(name.to_string()))?;
    let id = super::lookup(&store, name)?;
    let rec = store
        .image(&id)?
        .ok_or_else(|| EngineError::ImageNotKnown(name.to_string()))?;
    let index = Index::of(&store)?;
    let layers = match (what_requires, rec.layers.last()) {
        (_, None) => Vec::new(),
        (true, Some(top)) => vec![index.node(top, true)],
        (false, Some(_)) => rec.layers.iter().map(|l| index.node(l, false)).collect(),
    };
    Ok(ImageTree {
        id: rec.id,
        names: rec.names,
        size: rec.size,
        layers,
    })
}

/// Every layer, the layers on top of each, and the names of the images each one tops.
struct Index {
    layers: BTreeMap<Digest, LayerRecord>,
    children: BTreeMap<Digest, Vec<Digest>>,
    top_of: BTreeMap<Digest, Vec<String>>,
}

impl Index {
    fn of(store: &Store) -> Result<Index, EngineError> {
        let all = store.layers()?;
        let mut children: BTreeMap<Digest, Vec<Digest>> = BTreeMap::new();
        let mut by_age: Vec<&LayerRecord> = all.iter().collect();
        by_age.sort_by_key(|l| l.created);
        for l in by_age {
            if let Some(p) = &l.parent {
                children
                    .entry(p.clone())
                    .or_default()
                    .push(l.chain_id.clone());
            }
        }
        Ok(Index {
            layers: all.into_iter().map(|l| (l.chain_id.clone(), l)).collect(),
            children,
            top_of: tops(&store.images()?),
        })
    }

    /// The layer `id`, with the layers on top of it when `deep`.
    fn node(&self, id: &Digest, deep: bool) -> TreeLayer {
        let children = match (deep, self.children.get(id)) {
            (true, Some(ids)) => ids.iter().map(|c| self.node(c, true)).collect(),
            _ => Vec::new(),
        };
        let parent = self.layers.get(id).and_then(|l| l.parent.as_ref());
        TreeLayer {
            id: id.clone(),
            size: self.layers.get(id).map_or(0, |l| l.size),
            top_of: self.top_of.get(id).cloned().unwrap_or_default(),
            children,
            has_siblings: parent
                .and_then(|p| self.children.get(p))
                .is_some_and(|c| c.len() > 1),
        }
    }
}

/// For each top layer, the names of the images it tops (oldest image first).
fn tops(images: &[ImageRecord]) -> BTreeMap<Digest, Vec<String>> {
    let mut sorted: Vec<&ImageRecord> = images.iter().collect();
    sorted.sort_by_key(|i| i.created.unwrap_or(i.added));
    let mut out: BTreeMap<Digest, Vec<String>> = BTreeMap::new();
    for img in sorted {
        if let Some(top) = img.layers.last() {
            out.entry(top.clone())
                .or_default()
                .extend(img.names.iter().cloned());
        }
    }
    out
}
