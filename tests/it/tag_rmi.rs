//! `roost tag`, `untag`, `rmi`, `image prune`, `image exists`.

use crate::harness::{Env, OutputExt, assert_no_leaks, image};
use crate::store::{assert_no_staging, blobs, image_ids, layer_dirs, pull};

#[test]
fn rmi_of_one_name_keeps_the_other() {
    let env = Env::new("rmi_of_one_name_keeps_the_other");
    let id = pull(&env, "busybox");
    let alias = env.safename("alias");
    env.roost(0, &["tag", &image("busybox"), &alias, "other:v2"]);
    let names = env
        .roost(0, &["inspect", "--format", "{{.RepoTags}}", &id])
        .stdout_text();
    assert!(
        names.contains(&format!("localhost/{alias}:latest")),
        "{names}"
    );
    assert!(names.contains("localhost/other:v2"), "{names}");
    // podman's order: the names as they were given, the pulled one first.
    let at = |n: &str| names.find(n).expect(n);
    assert!(
        at(&image("busybox")) < at(&format!("localhost/{alias}")),
        "{names}"
    );

    let out = env.roost(0, &["rmi", &image("busybox")]);
    assert_eq!(
        out.stdout_lines(),
        [format!("Untagged: {}", image("busybox"))]
    );
    let out = env.roost(0, &["rmi", "other:v2"]);
    assert_eq!(out.stdout_lines(), ["Untagged: localhost/other:v2"]);
    env.roost(0, &["image", "exists", &alias]);
    env.roost(1, &["image", "exists", &image("busybox")]);
    assert_eq!(layer_dirs(&env).len(), 1);

    let out = env.roost(0, &["rmi", &alias]);
    assert_eq!(
        out.stdout_lines(),
        [
            format!("Untagged: localhost/{alias}:latest"),
            format!("Deleted: {id}")
        ]
    );
    assert!(image_ids(&env).is_empty());
    assert!(layer_dirs(&env).is_empty());
    assert_no_leaks(&env);
}

#[test]
fn rmi_by_id_with_several_names_needs_force() {
    let env = Env::new("rmi_by_id_with_several_names_needs_force");
    let id = pull(&env, "busybox");
    env.roost(0, &["tag", &image("busybox"), "second"]);
    let out = env.roost(125, &["rmi", &id[..12]]);
    let err = out.stderr_text();
    assert!(err.starts_with("Error: "), "{err}");
    assert!(err.contains("more than one tag"), "{err}");
    assert_eq!(image_ids(&env).len(), 1, "failed rmi removed something");

    let out = env.roost(0, &["rmi", "-f", &id[..12]]);
    let text = out.stdout_text();
    assert!(
        text.contains(&format!("Untagged: {}", image("busybox"))),
        "{text}"
    );
    assert!(text.contains("Untagged: localhost/second:latest"), "{text}");
    assert!(text.contains(&format!("Deleted: {id}")), "{text}");
    assert!(image_ids(&env).is_empty());
    assert_no_leaks(&env);
}

#[test]
fn rmi_unknown_image_exits_1() {
    let env = Env::new("rmi_unknown_image_exits_1");
    let out = env.roost(1, &["rmi", "no-such-image"]);
    assert_eq!(
        out.stderr_text().trim(),
        "Error: no-such-image: image not known"
    );
    // One known, one unknown: the known one is still removed (bulk commands keep going).
    pull(&env, "busybox");
    let out = env.roost(1, &["rmi", &image("busybox"), "no-such-image"]);
    assert!(
        out.stdout_text().contains("Deleted: "),
        "{}",
        out.stdout_text()
    );
    assert!(image_ids(&env).is_empty());
    assert_no_leaks(&env);
}

#[test]
fn rmi_all_empties_the_store() {
    let env = Env::new("rmi_all_empties_the_store");
    pull(&env, "busybox");
    pull(&env, "layered");
    env.roost(0, &["tag", &image("layered"), "again"]);
    assert!(!blobs(&env).is_empty());
    env.roost(0, &["rmi", "-a"]);
    assert!(image_ids(&env).is_empty());
    assert_eq!(
        layer_dirs(&env),
        Vec::<String>::new(),
        "layers left by rmi -a"
    );
    assert_eq!(blobs(&env), Vec::<String>::new(), "blobs left by rmi -a");
    assert_no_staging(&env, "rmi -a");
    // And the store is still usable.
    pull(&env, "busybox");
    assert_eq!(layer_dirs(&env).len(), 1);
    assert_no_leaks(&env);
}

#[test]
fn rmi_keeps_layers_shared_with_other_images() {
    let env = Env::new("rmi_keeps_layers_shared_with_other_images");
    pull(&env, "busybox");
    pull(&env, "layered");
    env.roost(0, &["rmi", &image("layered")]);
    assert_eq!(layer_dirs(&env).len(), 1, "busybox's layer must stay");
    env.roost(0, &["image", "exists", &image("busybox")]);
    let id = env.roost(
        0,
        &[
            "inspect",
            "--format",
            "{{.GraphDriver.Data.UpperDir}}",
            &image("busybox"),
        ],
    );
    let upper = id.stdout_text().trim().to_string();
    assert!(
        std::path::Path::new(&upper).join("bin/busybox").exists(),
        "{upper}"
    );
    assert_no_leaks(&env);
}

#[test]
fn untag_makes_dangling_and_prune_removes_it() {
    let env = Env::new("untag_makes_dangling_and_prune_removes_it");
    let bb = pull(&env, "busybox");
    let layered = pull(&env, "layered");
    env.roost(0, &["untag", &image("layered")]);
    let dangling = env.roost(0, &["images", "-f", "dangling=true", "-q", "--no-trunc"]);
    assert_eq!(dangling.stdout_lines(), [format!("sha256:{layered}")]);
    let shown = env.roost(
        0,
        &[
            "images",
            "--format",
            "{{.Repository}}:{{.Tag}}",
            "-f",
            "dangling=true",
        ],
    );
    assert_eq!(shown.stdout_lines(), ["<none>:<none>"]);
    env.roost(0, &["image", "exists", &layered]);

    env.roost(0, &["image", "prune", "-f"]);
    env.roost(1, &["image", "exists", &layered]);
    assert_eq!(image_ids(&env), [format!("sha256:{bb}")]);
    assert_eq!(layer_dirs(&env).len(), 1);

    // prune -a also removes unused tagged images, and leaves those a container uses.
    env.roost(0, &["pull", "-q", &image("layered")]);
    env.roost(0, &["create", "--name", "user", &image("busybox"), "true"]);
    let removed = env.roost(0, &["image", "prune", "-a", "-f"]);
    assert_eq!(removed.stdout_lines(), std::slice::from_ref(&layered));
    assert_eq!(image_ids(&env), [format!("sha256:{bb}")]);
    env.roost(0, &["rm", "user"]);
    env.roost(0, &["image", "prune", "-a", "-f"]);
    assert!(image_ids(&env).is_empty());
    assert!(layer_dirs(&env).is_empty());
    assert_no_leaks(&env);
}

#[test]
fn untag_one_name_and_image_exists() {
    let env = Env::new("untag_one_name_and_image_exists");
    pull(&env, "busybox");
    env.roost(0, &["tag", &image("busybox"), "a1", "a2"]);
    env.roost(0, &["untag", &image("busybox"), "localhost/a1:latest"]);
    env.roost(1, &["image", "exists", "a1"]);
    env.roost(0, &["image", "exists", "a2"]);
    env.roost(0, &["image", "exists", &image("busybox")]);
    env.roost(1, &["image", "exists", "never-pulled"]);
    env.roost(125, &["tag", "never-pulled", "x"]);
    assert_no_leaks(&env);
}

#[test]
fn untag_of_a_digest_reference_keeps_the_tag() {
    // podman #11557: `untag IMAGE IMAGE@DIGEST` names the image's digest, not its tag.
    let env = Env::new("untag_of_a_digest_reference_keeps_the_tag");
    pull(&env, "busybox");
    let bb = image("busybox");
    let digest = env
        .roost(0, &["inspect", "--format", "{{.Digest}}", &bb])
        .stdout_text()
        .trim()
        .to_string();
    env.roost(0, &["pull", "-q", &format!("{bb}@{digest}")]);
    let out = env.roost(0, &["untag", &bb, &format!("{bb}@{digest}")]);
    assert_eq!(out.stdout_text(), "");
    env.roost(0, &["image", "exists", &bb]);
    let other = format!("{bb}@sha256:{}", "0".repeat(64));
    let e = env.roost(125, &["untag", &bb, &other]);
    assert!(
        e.stderr_text().contains("tag not known"),
        "{}",
        e.stderr_text()
    );
    env.roost(0, &["image", "exists", &bb]);
    assert_no_leaks(&env);
}
