//! Encrypted layers (containers/ocicrypt's scheme, as `skopeo copy --encryption-key jwe:KEY` makes
//! them), the decrypting side. A layer whose media type ends in `+encrypted` is AES-256-CTR of the
//! layer blob with an HMAC-SHA256 over the ciphertext. Its descriptor carries the cipher and the HMAC
//! (`org.opencontainers.image.enc.pubopts`, base64 JSON) and, per recipient, a JWE whose payload is the
//! layer key, the CTR nonce and the digest of the blob before encryption
//! (`org.opencontainers.image.enc.keys.jwe`, base64, comma-separated). Only RSA recipients
//! (`RSA-OAEP`, `RSA-OAEP-256`) with `A256GCM` content encryption are read.
use aes_gcm::aead::{Aead, Payload};
use aes_gcm::{Aes256Gcm, KeyInit};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use ctr::cipher::{KeyIvInit, StreamCipher};
use hmac::Mac;
use serde::Deserialize;

use super::{Descriptor, Digest};

pub const JWE_ANNOTATION: &str = "org.opencontainers.image.enc.keys.jwe";
pub const PUBOPTS_ANNOTATION: &str = "org.opencontainers.image.enc.pubopts";
const ENCRYPTED_SUFFIX: &str = "+encrypted";
const LAYER_CIPHER: &str = "AES_256_CTR_HMAC_SHA256";

#[derive(Debug, thiserror::Error)]
pub enum CryptError {
    #[error("{0}")]
    Key(String),
    #[error("its encryption annotations are malformed: {0}")]
    Malformed(String),
    #[error("its layer cipher `{0}` is not supported (only {LAYER_CIPHER})")]
    Cipher(String),
    #[error(
        "it has no JWE-wrapped key ({JWE_ANNOTATION}): only jwe keys are supported, not pgp, pkcs7 or pkcs11"
    )]
    NoJwe,
    #[error("none of the given decryption keys opens it (it is encrypted for other keys)")]
    NoKeyFits,
    #[error(
        "its HMAC does not match: the blob is corrupt or was not encrypted with this layer key"
    )]
    Hmac,
}

/// Whether a layer's media type is an encrypted one.
pub fn is_encrypted(media_type: &str) -> bool {
    media_type.ends_with(ENCRYPTED_SUFFIX)
}

/// The media type of the layer once decrypted.
pub fn decrypted_media_type(media_type: &str) -> &str {
    media_type
        .strip_suffix(ENCRYPTED_SUFFIX)
        .unwrap_or(media_type)
}

/// An RSA private key to unwrap layer keys with (`--decryption-key`).
pub struct PrivateKey(rsa::RsaPrivateKey);

impl PrivateKey {
    /// A PEM private key: PKCS#8 (`PRIVATE KEY`, or `ENCRYPTED PRIVATE KEY` with `passphrase`) or
    /// PKCS#1 (`RSA PRIVATE KEY`, unencrypted).
    pub fn from_pem(pem: &str, passphrase: Option<&str>) -> Result<PrivateKey, CryptError> {
        use rsa::pkcs1::DecodeRsaPrivateKey;
        use rsa::pkcs8::DecodePrivateKey;
        let bad = |e: &dyn std::fmt::Display| {
            CryptError::Key(format!("not a usable RSA private key: {e}"))
        };
        let key = if pem.contains("BEGIN ENCRYPTED PRIVATE KEY") {
            let Some(pass) = passphrase else {
                return Err(CryptError::Key(
                    "the key is encrypted: give its passphrase as KEY:PASSPHRASE".into(),
                ));
            };
            rsa::RsaPrivateKey::from_pkcs8_encrypted_pem(pem, pass.as_bytes()).map_err(|_| {
                CryptError::Key(
                    "cannot open the encrypted key: wrong passphrase, or not an RSA key".into(),
                )
            })?
        } else if pem.contains("Proc-Type: 4,ENCRYPTED") {
            return Err(CryptError::Key(
                "legacy encrypted PEM keys are not supported: convert it with `openssl pkcs8 -topk8`"
                    .into(),
            ));
        } else if pem.contains("BEGIN RSA PRIVATE KEY") {
            rsa::RsaPrivateKey::from_pkcs1_pem(pem).map_err(|e| bad(&e))?
        } else {
            rsa::RsaPrivateKey::from_pkcs8_pem(pem).map_err(|e| bad(&e))?
        };
        Ok(PrivateKey(key))
    }
}

/// What opens one encrypted layer.
pub struct LayerKey {
    key: [u8; 32],
    nonce: [u8; 16],
    hmac: Vec<u8>,
    /// The digest of the layer blob before it was encrypted (that of the decrypted blob).
    pub plain_digest: Digest,
}

/// `pubopts`: the public half of ocicrypt's layer cipher options.
#[derive(Deserialize)]
struct PublicOptions {
    cipher: String,
    #[serde(default)]
    hmac: String,
}

/// The JWE payload: the private half.
#[derive(Deserialize)]
struct PrivateOptions {
    symkey: String,
    digest: String,
    #[serde(default)]
    cipheroptions: std::collections::BTreeMap<String, String>,
}

/// The layer key of the encrypted layer `desc`, unwrapped with the first of `keys` that fits.
pub fn open_layer(desc: &Descriptor, keys: &[PrivateKey]) -> Result<LayerKey, CryptError> {
    let public: PublicOptions = match desc.annotations.get(PUBOPTS_ANNOTATION) {
        Some(v) => json(&b64(STANDARD, v)?)?,
        None => return Err(CryptError::Malformed(format!("no {PUBOPTS_ANNOTATION}"))),
    };
    if public.cipher != LAYER_CIPHER {
        return Err(CryptError::Cipher(public.cipher));
    }
    let wrapped = desc
        .annotations
        .get(JWE_ANNOTATION)
        .ok_or(CryptError::NoJwe)?;
    let payload = wrapped
        .split(',')
        .filter(|w| !w.is_empty())
        .map(|w| b64(STANDARD, w))
        .collect::<Result<Vec<_>, _>>()?
        .iter()
        .find_map(|jwe| keys.iter().find_map(|k| unwrap_jwe(jwe, k)))
        .ok_or(CryptError::NoKeyFits)?;
    let private: PrivateOptions = json(&payload)?;
    layer_key(&public, &private)
}

fn layer_key(public: &PublicOptions, private: &PrivateOptions) -> Result<LayerKey, CryptError> {
    let fixed = |what: &str, v: Option<&String>| -> Result<Vec<u8>, CryptError> {
        let v = v.ok_or_else(|| CryptError::Malformed(format!("no {what}")))?;
        b64(STANDARD, v)
    };
    let key = fixed("symkey", Some(&private.symkey))?;
    let nonce = fixed("nonce", private.cipheroptions.get("nonce"))?;
    Ok(LayerKey {
        key: key
            .try_into()
            .map_err(|_| CryptError::Malformed("symkey is not 32 bytes".into()))?,
        nonce: nonce
            .try_into()
            .map_err(|_| CryptError::Malformed("nonce is not 16 bytes".into()))?,
        hmac: b64(STANDARD, &public.hmac)?,
        plain_digest: private
            .digest
            .parse()
            .map_err(|e| CryptError::Malformed(format!("digest: {e}")))?,
    })
}

/// A JWE in JSON serialization (general, or flattened as go-jose writes one recipient).
#[derive(Deserialize)]
struct Jwe {
    protected: String,
    #[serde(default)]
    aad: Option<String>,
    iv: String,
    ciphertext: String,
    tag: String,
    #[serde(default)]
    encrypted_key: Option<String>,
    #[serde(default)]
    header: Option<Header>,
    #[serde(default)]
    recipients: Vec<Recipient>,
}

#[derive(Deserialize)]
struct Recipient {
    #[serde(default)]
    header: Option<Header>,
    #[serde(default)]
    encrypted_key: String,
}

#[derive(Deserialize, Default, Clone)]
struct Header {
    #[serde(default)]
    alg: Option<String>,
    #[serde(default)]
    enc: Option<String>,
    #[serde(default)]
    zip: Option<String>,
}

/// The plaintext of `jwe` if `key` is one of its recipients' (None otherwise, or for what is not read).
fn unwrap_jwe(jwe: &[u8], key: &PrivateKey) -> Option<Vec<u8>> {
    let jwe: Jwe = serde_json::from_slice(jwe).ok()?;
    let protected: Header =
        serde_json::from_slice(&b64(URL_SAFE_NO_PAD, &jwe.protected).ok()?).ok()?;
    let enc = protected.enc.as_deref();
    if enc != Some("A256GCM") || protected.zip.is_some() {
        return None;
    }
    let flattened = jwe.encrypted_key.clone().map(|k| Recipient {
        header: jwe.header.clone(),
        encrypted_key: k,
    });
    let cek = flattened.iter().chain(&jwe.recipients).find_map(|r| {
        let alg = r.header.as_ref().and_then(|h| h.alg.as_deref());
        let alg = alg.or(protected.alg.as_deref())?;
        let wrapped = b64(URL_SAFE_NO_PAD, &r.encrypted_key).ok()?;
        unwrap_cek(alg, &wrapped, key)
    })?;
    let mut aad = jwe.protected.clone();
    if let Some(extra) = &jwe.aad {
        aad.push('.');
        aad.push_str(extra);
    }
    let mut msg = b64(URL_SAFE_NO_PAD, &jwe.ciphertext).ok()?;
    msg.extend(b64(URL_SAFE_NO_PAD, &jwe.tag).ok()?);
    let iv = b64(URL_SAFE_NO_PAD, &jwe.iv).ok()?;
    if iv.len() != 12 {
        return None;
    }
    let cipher = Aes256Gcm::new_from_slice(&cek).ok()?;
    let payload = Payload {
        msg: &msg,
        aad: aad.as_bytes(),
    };
    cipher
        .decrypt(aes_gcm::Nonce::from_slice(&iv), payload)
        .ok()
}

/// The content encryption key, unwrapped with RSA-OAEP (SHA-1, as go-jose's `RSA-OAEP`) or
/// RSA-OAEP-256.
fn unwrap_cek(alg: &str, wrapped: &[u8], key: &PrivateKey) -> Option<Vec<u8>> {
    let padding = match alg {
        "RSA-OAEP" => rsa::Oaep::new::<sha1::Sha1>(),
        "RSA-OAEP-256" => rsa::Oaep::new::<sha2::Sha256>(),
        _ => return None,
    };
    key.0.decrypt(padding, wrapped).ok()
}

fn b64(engine: impl Engine, s: &str) -> Result<Vec<u8>, CryptError> {
    engine
        .decode(s)
        .map_err(|e| CryptError::Malformed(format!("base64: {e}")))
}

fn json<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, CryptError> {
    serde_json::from_slice(bytes).map_err(|e| CryptError::Malformed(e.to_string()))
}

type Ctr = ctr::Ctr128BE<aes::Aes256>;

/// Decrypts an encrypted layer blob as it streams by, checking its HMAC at the end.
pub struct LayerDecryptor {
    ctr: Ctr,
    mac: hmac::Hmac<sha2::Sha256>,
    expected: Vec<u8>,
}

impl LayerDecryptor {
    pub fn new(k: &LayerKey) -> LayerDecryptor {
        LayerDecryptor {
            ctr: Ctr::new(&k.key.into(), &k.nonce.into()),
            mac: <hmac::Hmac<sha2::Sha256> as Mac>::new_from_slice(&k.key)
                .expect("HMAC takes any key length"),
            expected: k.hmac.clone(),
        }
    }

    /// Decrypt the next bytes of the blob in place.
    pub fn apply(&mut self, buf: &mut [u8]) {
        self.mac.update(buf);
        self.ctr.apply_keystream(buf);
    }

    /// After the last bytes: whether the ciphertext was the one the HMAC names.
    pub fn finish(self) -> Result<(), CryptError> {
        self.mac
            .verify_slice(&self.expected)
            .map_err(|_| CryptError::Hmac)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn media_types() {
        let enc = "application/vnd.oci.image.layer.v1.tar+gzip+encrypted";
        assert!(is_encrypted(enc));
        assert!(!is_encrypted("application/vnd.oci.image.layer.v1.tar+gzip"));
        assert_eq!(
            decrypted_media_type(enc),
            "application/vnd.oci.image.layer.v1.tar+gzip"
        );
    }

    /// CTR and the HMAC over the ciphertext, as ocicrypt's writer makes them.
    #[test]
    fn decryptor_inverts_ctr_and_checks_the_hmac() {
        let k = LayerKey {
            key: [7; 32],
            nonce: [9; 16],
            hmac: Vec::new(),
            plain_digest: Digest::sha256_of(b""),
        };
        let plain = b"layer bytes, more than one AES block long".to_vec();
        let mut ct = plain.clone();
        Ctr::new(&k.key.into(), &k.nonce.into()).apply_keystream(&mut ct);
        let mut mac = <hmac::Hmac<sha2::Sha256> as Mac>::new_from_slice(&k.key).unwrap();
        mac.update(&ct);
        let k = LayerKey {
            hmac: mac.finalize().into_bytes().to_vec(),
            ..k
        };
        let mut d = LayerDecryptor::new(&k);
        let (a, b) = ct.split_at_mut(5);
        d.apply(a);
        d.apply(b);
        assert_eq!(ct, plain);
        assert!(d.finish().is_ok());
        let mut d = LayerDecryptor::new(&k);
        let mut bad = plain.clone();
        d.apply(&mut bad);
        assert!(matches!(d.finish(), Err(CryptError::Hmac)));
    }

    #[test]
    fn missing_annotations_are_named() {
        let desc = Descriptor {
            media_type: "application/vnd.oci.image.layer.v1.tar+gzip+encrypted".into(),
            digest: Digest::sha256_of(b"x"),
            size: 1,
            platform: None,
            urls: Vec::new(),
            annotations: Default::default(),
        };
        let e = open_layer(&desc, &[]).err().unwrap().to_string();
        assert!(e.contains(PUBOPTS_ANNOTATION), "{e}");
    }
}
