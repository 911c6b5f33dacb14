//! `--decryption-key`: the keys for a pull, and a pulled image's encrypted layers opened (see
//! `oci::crypt`). A decrypted layer is stored as the blob it was before encryption, under the digest
//! and media type it then had, and the image records a manifest that names those: it is a plain image
//! (`push` and `save` send decrypted layers, as podman's do).
use super::ImageError;
use crate::engine::EngineError;
use crate::oci::crypt::{self, LayerDecryptor, LayerKey, PrivateKey};
use crate::oci::{Descriptor, Digest};
use crate::registry::ResolvedImage;

/// An encrypted layer to fetch: the blob as the registry has it, and what opens it.
pub(super) struct Encrypted {
    pub blob: Descriptor,
    key: LayerKey,
}

impl Encrypted {
    pub fn decryptor(&self) -> LayerDecryptor {
        LayerDecryptor::new(&self.key)
    }
}

/// The private keys of `--decryption-key KEY[:PASSPHRASE]` (a PEM file and its passphrase).
pub(super) fn load_keys(args: &[String]) -> Result<Vec<PrivateKey>, EngineError> {
    args.iter().map(|a| load_key(a)).collect()
}

fn load_key(arg: &str) -> Result<PrivateKey, EngineError> {
    let (path, passphrase) = match arg.split_once(':') {
        Some((p, pass)) => (p, Some(pass)),
        None => (arg, None),
    };
    let bad = |source| ImageError::DecryptionKey {
        key: path.to_string(),
        source,
    };
    let pem = std::fs::read_to_string(path)
        .map_err(|e| bad(crypt::CryptError::Key(format!("cannot read it: {e}"))))?;
    Ok(PrivateKey::from_pem(&pem, passphrase).map_err(bad)?)
}

/// Open each encrypted layer of `resolved` with `keys` (before anything is downloaded) and make the
/// manifest name the decrypted layers; per layer, what opens its blob (None: not encrypted).
pub(super) fn open_layers(
    resolved: &mut ResolvedImage,
    keys: &[PrivateKey],
    image: &str,
) -> Result<Vec<Option<Encrypted>>, EngineError> {
    let opened = resolved
        .manifest
        .layers
        .iter_mut()
        .map(|desc| open_one(desc, keys, image))
        .collect::<Result<Vec<_>, _>>()?;
    if opened.iter().any(Option::is_some) {
        resolved.manifest_bytes =
            serde_json::to_vec(&resolved.manifest).expect("a manifest serializes");
        resolved.manifest_digest = Digest::sha256_of(&resolved.manifest_bytes);
    }
    Ok(opened)
}

/// An encrypted layer's key, with `desc` turned into the decrypted layer's descriptor.
fn open_one(
    desc: &mut Descriptor,
    keys: &[PrivateKey],
    image: &str,
) -> Result<Option<Encrypted>, EngineError> {
    if !crypt::is_encrypted(&desc.media_type) {
        return Ok(None);
    }
    if keys.is_empty() {
        return Err(ImageError::EncryptedLayer {
            image: image.to_string(),
            layer: desc.digest.clone(),
            media: desc.media_type.clone(),
        }
        .into());
    }
    let key = crypt::open_layer(desc, keys).map_err(|source| ImageError::Decrypt {
        image: image.to_string(),
        layer: desc.digest.clone(),
        source,
    })?;
    let blob = desc.clone();
    desc.media_type = crypt::decrypted_media_type(&blob.media_type).to_string();
    desc.digest = key.plain_digest.clone();
    desc.annotations
        .retain(|k, _| k != crypt::JWE_ANNOTATION && k != crypt::PUBOPTS_ANNOTATION);
    Ok(Some(Encrypted { blob, key }))
}

/// The next downloaded bytes of an encrypted blob, decrypted.
pub(super) fn apply(d: &mut LayerDecryptor, bytes: bytes::Bytes) -> bytes::Bytes {
    let mut buf = Vec::from(bytes);
    d.apply(&mut buf);
    buf.into()
}

/// After the whole blob: its HMAC checked.
pub(super) fn finish(d: LayerDecryptor, e: &Encrypted, image: &str) -> Result<(), EngineError> {
    d.finish().map_err(|source| {
        ImageError::Decrypt {
            image: image.to_string(),
            layer: e.blob.digest.clone(),
            source,
        }
        .into()
    })
}
