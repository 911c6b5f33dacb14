//! Tests against the registries of the test world (`sudo tests/world.sh`): 127.0.0.1:5000 (anonymous) and
//! 127.0.0.1:5001 (basic auth, `roost`/`hunter2`). Only 127.0.0.1 is contacted.
use futures_util::StreamExt as _;

use super::blob::BlobStream;
use super::*;
use crate::oci::{Descriptor, Digest, Manifest, Platform, Reference, media};

const WORLD: &str = "needs the test world: sudo tests/world.sh";

fn client(creds: Option<Credentials>) -> Client {
    let dir = std::env::temp_dir().join("roost-registry-live-no-auth");
    Client::new(ClientOptions {
        tls_verify: Some(false),
        credentials: creds,
        auth: AuthFiles {
            read: vec![dir.join("auth.json")],
            write: dir.join("auth.json"),
        },
        ..Default::default()
    })
    .expect("client builds")
}

fn amd64() -> Platform {
    Platform::from_flags(Some("linux/amd64"), None, None, None).expect("valid platform")
}

async fn collect(mut s: BlobStream) -> (Vec<u8>, Option<RegistryError>) {
    let mut out = Vec::new();
    while let Some(item) = s.next().await {
        match item {
            Ok(b) => out.extend_from_slice(&b),
            Err(e) => {
                assert!(s.next().await.is_none(), "an error is the last item");
                return (out, Some(e));
            }
        }
    }
    (out, None)
}

#[tokio::test(flavor = "current_thread")]
#[ignore = "needs the test world: sudo tests/world.sh"]
async fn resolve_and_stream_busybox() {
    let c = client(None);
    let r = Reference::parse("127.0.0.1:5000/busybox:latest").unwrap();
    let img = c.resolve(&r, &amd64()).await.expect(WORLD);
    assert_eq!(img.manifest.layers.len(), 1);
    assert_eq!(img.config.rootfs.diff_ids.len(), 1);
    assert_eq!(Digest::sha256_of(&img.manifest_bytes), img.manifest_digest);
    assert_eq!(img.config.labels()["org.roost.test"], "busybox");
    let layer = &img.manifest.layers[0];
    let (bytes, err) = collect(c.get_blob(&img.source, layer).await.unwrap()).await;
    assert!(err.is_none(), "{err:?}");
    assert_eq!(bytes.len() as u64, layer.size);
    assert_eq!(Digest::sha256_of(&bytes), layer.digest);
    // Pinning the digest gives the same manifest.
    let pinned = c
        .get_manifest(&r.with_digest(img.manifest_digest.clone()))
        .await
        .unwrap();
    assert_eq!(pinned.bytes, img.manifest_bytes);
}

#[tokio::test(flavor = "current_thread")]
#[ignore = "needs the test world: sudo tests/world.sh"]
async fn corrupt_blobs_fail_at_the_end_of_the_stream() {
    let c = client(None);
    let r = Reference::parse("127.0.0.1:5000/layered:latest").unwrap();
    let img = c.resolve(&r, &amd64()).await.expect(WORLD);
    assert_eq!(img.manifest.layers.len(), 2);
    let layer = &img.manifest.layers[1];
    // The registry serves the real blob, but we expect another digest of the same size.
    let mut lie = layer.clone();
    lie.digest = Digest::sha256_of(b"something else");
    let (bytes, err) = collect(c.get_blob_from(&r, &layer.digest, &lie).await.unwrap()).await;
    assert_eq!(bytes.len() as u64, layer.size);
    assert!(
        matches!(err, Some(RegistryError::DigestMismatch { .. })),
        "{err:?}"
    );
    // A descriptor claiming one byte less: the registry's Content-Length already says more, so the
    // blob is refused before its body is read.
    let mut short = layer.clone();
    short.size -= 1;
    let e = match c.get_blob(&r, &short).await {
        Err(e) => e,
        Ok(_) => panic!("a blob longer than its descriptor streamed"),
    };
    assert!(matches!(e, RegistryError::Oversized { .. }), "{e}");
    // A digest the registry does not have.
    let e = match c.get_blob(&r, &lie).await {
        Err(e) => e,
        Ok(_) => panic!("unknown blob streamed"),
    };
    assert!(matches!(e, RegistryError::BlobUnknown { .. }), "{e}");
    let e = c
        .get_manifest(&r.with_tag("no-such-tag"))
        .await
        .unwrap_err();
    assert!(matches!(e, RegistryError::ManifestUnknown { .. }), "{e}");
}

fn descriptor(media_type: &str, data: &[u8]) -> Descriptor {
    Descriptor {
        media_type: media_type.to_string(),
        digest: Digest::sha256_of(data),
        size: data.len() as u64,
        platform: None,
        urls: vec![],
        annotations: Default::default(),
    }
}

#[tokio::test(flavor = "current_thread")]
#[ignore = "needs the test world: sudo tests/world.sh"]
async fn push_blob_and_manifest_then_read_back_and_mount() {
    let c = client(None);
    let src = Reference::parse("127.0.0.1:5000/busybox:latest").unwrap();
    let img = c.resolve(&src, &amd64()).await.expect(WORLD);
    let dst = Reference::parse("127.0.0.1:5000/roost-registry-test/x:t").unwrap();

    // A fresh layer blob, unique per run so the upload path is really taken.
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let layer_data = format!("not really a tar {stamp}").into_bytes();
    let layer = descriptor(media::OCI_LAYER, &layer_data);
    assert_eq!(c.blob_exists(&dst, &layer.digest).await.unwrap(), None);
    c.upload_blob(&dst, &layer.digest, layer.size, layer_data.clone())
        .await
        .unwrap();
    assert_eq!(
        c.blob_exists(&dst, &layer.digest).await.unwrap(),
        Some(layer.size)
    );

    // The config and busybox's layer come from the busybox repository by mounting.
    assert!(
        c.mount_blob(&dst, &img.manifest.config.digest, "busybox")
            .await
            .unwrap()
    );
    let base_layer = &img.manifest.layers[0];
    assert!(
        c.mount_blob(&dst, &base_layer.digest, "busybox")
            .await
            .unwrap()
    );
    // Mounting from a repository without the blob starts a session instead.
    assert!(
        !c.mount_blob(&dst, &layer.digest, "roost-registry-test/none")
            .await
            .unwrap()
    );

    // A streamed upload too.
    let streamed = format!("streamed {stamp}").into_bytes();
    let sd = descriptor(media::OCI_LAYER, &streamed);
    let body = reqwest::Body::wrap_stream(futures_util::stream::iter(vec![
        Ok::<_, std::io::Error>(bytes::Bytes::copy_from_slice(&streamed[..4])),
        Ok(bytes::Bytes::copy_from_slice(&streamed[4..])),
    ]));
    c.upload_blob(&dst, &sd.digest, sd.size, body)
        .await
        .unwrap();

    let manifest = Manifest {
        schema_version: 2,
        media_type: Some(media::OCI_MANIFEST.to_string()),
        config: img.manifest.config.clone(),
        layers: vec![base_layer.clone()],
        annotations: [("org.roost.test".to_string(), stamp.to_string())].into(),
    };
    let bytes = serde_json::to_vec(&manifest).unwrap();
    let digest = c
        .put_manifest(&dst, media::OCI_MANIFEST, &bytes)
        .await
        .unwrap();
    assert_eq!(digest, Digest::sha256_of(&bytes));

    let back = c.resolve(&dst, &amd64()).await.unwrap();
    assert_eq!(back.manifest_digest, digest);
    assert_eq!(back.manifest_bytes, bytes);
    assert_eq!(back.config_bytes, img.config_bytes);
    let (got, err) = collect(c.get_blob(&dst, &layer).await.unwrap()).await;
    assert!(err.is_none(), "{err:?}");
    assert_eq!(got, layer_data);
    let (got, err) = collect(c.get_blob(&dst, &sd).await.unwrap()).await;
    assert!(err.is_none(), "{err:?}");
    assert_eq!(got, streamed);

    // An index over that manifest: resolve follows it to the platform, and names the platforms it lacks.
    let mut entry = descriptor(media::OCI_MANIFEST, &bytes);
    entry.platform = Some(amd64());
    let index = crate::oci::Index {
        schema_version: 2,
        media_type: Some(media::OCI_INDEX.to_string()),
        manifests: vec![entry],
        annotations: Default::default(),
    };
    let index_bytes = serde_json::to_vec(&index).unwrap();
    let multi = dst.with_tag("multi");
    let index_digest = c
        .put_manifest(&multi, media::OCI_INDEX, &index_bytes)
        .await
        .unwrap();
    let via_index = c.resolve(&multi, &amd64()).await.unwrap();
    assert_eq!(via_index.index_digest, Some(index_digest));
    assert_eq!(via_index.manifest_digest, digest);
    let arm = Platform::from_flags(Some("linux/arm64"), None, None, None).unwrap();
    let e = c.resolve(&multi, &arm).await.unwrap_err();
    assert!(e.to_string().contains("available: linux/amd64"), "{e}");
}

#[tokio::test(flavor = "current_thread")]
#[ignore = "needs the test world: sudo tests/world.sh"]
async fn ping_and_pull_with_basic_auth() {
    let good = client(Some(Credentials::new("roost", "hunter2")));
    good.ping("127.0.0.1:5001").await.expect(WORLD);
    let r = Reference::parse("127.0.0.1:5001/busybox:latest").unwrap();
    let img = good.resolve(&r, &amd64()).await.unwrap();
    assert_eq!(img.manifest.layers.len(), 1);

    let bad = client(Some(Credentials::new("roost", "wrong")));
    let e = bad.ping("127.0.0.1:5001").await.unwrap_err();
    assert!(matches!(e, RegistryError::InvalidCredentials { .. }), "{e}");
    assert!(e.to_string().contains("invalid username/password"), "{e}");

    let anonymous = client(None);
    let e = anonymous.ping("127.0.0.1:5001").await.unwrap_err();
    assert!(matches!(e, RegistryError::AuthRequired { .. }), "{e}");
    assert!(e.hint().unwrap().contains("roost login 127.0.0.1:5001"));
    let e = anonymous.resolve(&r, &amd64()).await.unwrap_err();
    assert!(matches!(e, RegistryError::AuthRequired { .. }), "{e}");
    anonymous.ping("127.0.0.1:5000").await.unwrap();
}

#[tokio::test(flavor = "current_thread")]
#[ignore = "needs the test world: sudo tests/world.sh"]
async fn credentials_come_from_the_auth_file() {
    let dir = tempfile::tempdir().unwrap();
    let auth = AuthFiles {
        read: vec![dir.path().join("auth.json")],
        write: dir.path().join("auth.json"),
    };
    auth.store("127.0.0.1:5001", &Credentials::new("roost", "hunter2"))
        .unwrap();
    let c = Client::new(ClientOptions {
        tls_verify: Some(false),
        auth,
        ..Default::default()
    })
    .unwrap();
    let r = Reference::parse("127.0.0.1:5001/layered:latest").unwrap();
    let img = c.resolve(&r, &amd64()).await.expect(WORLD);
    assert_eq!(img.manifest.layers.len(), 2);
}

#[tokio::test(flavor = "current_thread")]
#[ignore = "needs the test world: sudo tests/world.sh"]
async fn insecure_from_registries_conf_and_blocked() {
    let mut conf = conf::RegistriesConf::default();
    conf.merge_str(
        std::path::Path::new("test.conf"),
        "[[registry]]\nlocation = \"127.0.0.1:5000\"\ninsecure = true\n\
         [[registry]]\nprefix = \"127.0.0.1:5001/busybox\"\nblocked = true\n",
    )
    .unwrap();
    let c = Client::new(ClientOptions {
        conf,
        ..Default::default()
    })
    .unwrap();
    let r = Reference::parse("127.0.0.1:5000/busybox").unwrap();
    c.resolve(&r, &amd64()).await.expect(WORLD);
    let e = c
        .resolve(
            &Reference::parse("127.0.0.1:5001/busybox").unwrap(),
            &amd64(),
        )
        .await
        .unwrap_err();
    assert!(matches!(e, RegistryError::Blocked { .. }), "{e}");

    // Without `insecure` or `--tls-verify=false`, a plain-http registry is a TLS error with a hint.
    let strict = Client::new(ClientOptions {
        retries: 0,
        ..Default::default()
    })
    .unwrap();
    let e = strict.resolve(&r, &amd64()).await.unwrap_err();
    assert!(matches!(e, RegistryError::Tls { .. }), "{e:?}");
    assert!(e.hint().unwrap().contains("--tls-verify=false"));
}
