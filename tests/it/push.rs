//! `roost push`: round trips by tag and by digest, zstd compression.

use std::process::Command;

use crate::harness::{Env, OutputExt, assert_no_leaks, image, registry};
use crate::store::{image_ids, layer_dirs, pull};

/// `skopeo inspect --raw` of a reference on the anonymous registry (run by the test process).
fn raw_manifest(reference: &str) -> serde_json::Value {
    let out = Command::new("skopeo")
        .args([
            "inspect",
            "--tls-verify=false",
            "--raw",
            &format!("docker://{reference}"),
        ])
        .output()
        .expect("run skopeo");
    assert!(
        out.status.success(),
        "skopeo inspect {reference}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("manifest JSON")
}

#[test]
fn push_then_pull_by_tag_and_digest() {
    let env = Env::new("push_then_pull_by_tag_and_digest");
    let id = pull(&env, "busybox");
    let repo = format!("{}/{}/bb", registry(), env.safename("r"));
    let tagged = format!("{repo}:v1");
    let digestfile = env.home.join("digest");
    env.roost(
        0,
        &[
            "push",
            "--digestfile",
            digestfile.to_str().unwrap(),
            &image("busybox"),
            &tagged,
        ],
    );
    let digest = std::fs::read_to_string(&digestfile).expect("--digestfile written");
    let digest = digest.trim();
    assert!(
        digest.starts_with("sha256:") && digest.len() == 71,
        "{digest:?}"
    );
    assert_eq!(
        raw_manifest(&tagged)["config"]["digest"],
        format!("sha256:{id}")
    );

    env.roost(0, &["rmi", "-a"]);
    assert!(layer_dirs(&env).is_empty());
    let out = env.roost(0, &["pull", "-q", &tagged]);
    assert_eq!(out.stdout_text().trim(), id);

    env.roost(0, &["rmi", "-a"]);
    let by_digest = format!("{repo}@{digest}");
    let out = env.roost(0, &["pull", "-q", &by_digest]);
    assert_eq!(out.stdout_text().trim(), id);
    assert_eq!(image_ids(&env), [format!("sha256:{id}")]);
    // Like podman: an image pulled by digest keeps its repository (RepoDigests, `images`), with
    // no tag, and is not dangling.
    let digests = env.roost(0, &["inspect", "--format", "{{.RepoDigests}}", &id]);
    assert!(
        digests.stdout_text().contains(&by_digest),
        "RepoDigests: {}",
        digests.stdout_text()
    );
    let listed = env.roost(0, &["images", "--format", "{{.Repository}}:{{.Tag}}"]);
    assert_eq!(listed.stdout_lines(), [format!("{repo}:<none>")]);
    assert_no_leaks(&env);
}

#[test]
fn push_to_its_own_name() {
    let env = Env::new("push_to_its_own_name");
    let id = pull(&env, "busybox");
    let target = format!("{}/{}/own:latest", registry(), env.safename("r"));
    env.roost(0, &["tag", &image("busybox"), &target]);
    env.roost(0, &["push", &target]);
    env.roost(0, &["rmi", "-a"]);
    assert_eq!(
        env.roost(0, &["pull", "-q", &target]).stdout_text().trim(),
        id
    );
    env.roost(125, &["push", "never-pulled", &target]);
    assert_no_leaks(&env);
}

#[test]
fn push_zstd_compression() {
    let env = Env::new("push_zstd_compression");
    env.run_as_user(
        0,
        "sh",
        &[
            "-c",
            "mkdir -p src/data && seq 1 20000 > src/data/numbers && tar -C src -cf in.tar data",
        ],
    );
    let name = env.safename("z");
    let tarball = env.home.join("in.tar");
    let id = env
        .roost(0, &["import", tarball.to_str().unwrap(), &name])
        .stdout_text()
        .trim()
        .to_string();
    let target = format!("{}/{}/z:latest", registry(), env.safename("r"));
    env.roost(0, &["push", "--compression-format", "zstd", &name, &target]);
    let manifest = raw_manifest(&target);
    let layers = manifest["layers"].as_array().expect("layers");
    assert_eq!(layers.len(), 1);
    assert_eq!(
        layers[0]["mediaType"],
        "application/vnd.oci.image.layer.v1.tar+zstd"
    );

    env.roost(0, &["rmi", "-a"]);
    let out = env.roost(0, &["pull", "-q", &target]);
    assert_eq!(
        out.stdout_text().trim(),
        id,
        "zstd round trip changed the image ID"
    );
    let upper = env.roost(
        0,
        &["inspect", "--format", "{{.GraphDriver.Data.UpperDir}}", &id],
    );
    let numbers = std::path::Path::new(upper.stdout_text().trim()).join("data/numbers");
    let text = std::fs::read_to_string(numbers).expect("data/numbers in the pulled layer");
    assert_eq!(text.lines().count(), 20000);

    assert_no_leaks(&env);
}
