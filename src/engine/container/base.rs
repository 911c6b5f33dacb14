//! What a new container starts from: an image (pulled when the policy says so) or, with `--rootfs`, a
//! directory of the user's that has no image config (the command comes from the arguments).
use std::path::PathBuf;

use super::spec::RootSource;
use super::{CreateOptions, FlagError};
use crate::engine::image::{ImageInfo, PullProgress};
use crate::engine::{Ctx, EngineError};
use crate::oci::Digest;
use crate::store::{ImageRecord, Store};

pub(super) struct Base {
    /// The record's image id ([`super::rootfs::no_image`] for a directory).
    pub image_id: Digest,
    /// The image as named (empty for a directory, as podman's ImageName).
    pub image: String,
    pub info: ImageInfo,
    pub root: RootSource,
}

impl Base {
    pub fn resolve(
        ctx: &Ctx,
        store: &Store,
        opts: &CreateOptions,
        progress: &dyn PullProgress,
    ) -> Result<Base, EngineError> {
        if let RootSource::Dir { path, .. } = &opts.root {
            check_dir(path)?;
            return Ok(Base {
                image_id: super::rootfs::no_image(),
                image: String::new(),
                info: no_image_info(),
                root: opts.root.clone(),
            });
        }
        let image_id = super::image_for(ctx, store, opts, progress)?;
        let record = store
            .image(&image_id)?
            .ok_or_else(|| EngineError::ImageNotKnown(opts.image.clone()))?;
        Ok(Base {
            image_id,
            image: opts.image.clone(),
            info: crate::engine::image::info(store, record)?,
            root: RootSource::Image,
        })
    }

    /// The trees its files are read from at create time (passwd, group), bottom first.
    pub fn dirs(&self, store: &Store) -> Vec<PathBuf> {
        match &self.root {
            RootSource::Image => self
                .info
                .record
                .layers
                .iter()
                .map(|l| store.layer_diff(l))
                .collect(),
            RootSource::Dir { path, .. } => vec![path.clone()],
        }
    }
}

/// `--rootfs PATH`: an existing directory (followed through symlinks).
fn check_dir(path: &std::path::Path) -> Result<(), EngineError> {
    match std::fs::metadata(path) {
        Ok(m) if m.is_dir() => Ok(()),
        Ok(_) => Err(FlagError::Rootfs {
            path: path.to_path_buf(),
            why: "not a directory".into(),
        }
        .into()),
        Err(e) => Err(FlagError::Rootfs {
            path: path.to_path_buf(),
            why: e.to_string(),
        }
        .into()),
    }
}

/// The empty image a directory stands for: no config, no layers.
fn no_image_info() -> ImageInfo {
    let none = super::rootfs::no_image();
    ImageInfo {
        record: ImageRecord {
            id: none.clone(),
            digest: none,
            manifest_media: String::new(),
            created: None,
            added: jiff::Timestamp::now(),
            size: 0,
            metadata_size: 0,
            labels: Default::default(),
            arch: String::new(),
            os: String::new(),
            names: Vec::new(),
            digests: Vec::new(),
            layers: Vec::new(),
        },
        config: Default::default(),
        manifest: None,
    }
}
