//! `roost save`, `load`, `import`: round trips, skopeo-made archives, stdin/stdout, bad input.

use std::path::Path;

use crate::harness::{Env, OutputExt, archive, assert_no_leaks, image};
use crate::store::{assert_hex_id, assert_no_staging, image_ids, layer_dirs, pull};

fn p(path: &Path) -> &str {
    path.to_str().expect("utf-8 path")
}

fn round_trip(test: &str, format: &str) {
    let env = Env::new(test);
    let id = pull(&env, "layered");
    let file = env.home.join("layered.tar");
    env.roost(
        0,
        &[
            "save",
            "--format",
            format,
            "-o",
            p(&file),
            &image("layered"),
        ],
    );
    assert!(file.metadata().expect("save wrote the file").len() > 1_000_000);
    env.roost(0, &["rmi", "-a"]);
    assert!(layer_dirs(&env).is_empty());

    let out = env.roost(0, &["load", "-i", p(&file)]);
    assert_eq!(
        out.stdout_lines(),
        [format!("Loaded image: {}", image("layered"))]
    );
    let after = env.roost(0, &["inspect", "--format", "{{.Id}}", &image("layered")]);
    assert_eq!(after.stdout_text().trim(), id, "load changed the image ID");
    assert_eq!(layer_dirs(&env).len(), 2);
    assert_no_staging(&env, "load");
    assert_no_leaks(&env);
}

#[test]
fn save_load_round_trip_docker_archive() {
    round_trip("save_load_round_trip_docker_archive", "docker-archive");
}

#[test]
fn save_load_round_trip_oci_archive() {
    round_trip("save_load_round_trip_oci_archive", "oci-archive");
}

#[test]
fn skopeo_archives_load_with_the_pulled_ids() {
    let env = Env::new("skopeo_archives_load_with_the_pulled_ids");
    for name in ["busybox", "layered"] {
        for kind in ["oci", "docker"] {
            let file = archive(&format!("{name}.{kind}.tar"));
            let out = env.roost(0, &["load", "-i", p(&file)]);
            let line = out.stdout_text();
            assert!(
                line.starts_with("Loaded image: "),
                "{}: {line}",
                file.display()
            );
        }
    }
    let mut loaded = image_ids(&env);
    loaded.sort();
    loaded.dedup();
    assert_eq!(loaded.len(), 2, "4 archives of 2 images: {loaded:?}");
    assert_eq!(layer_dirs(&env).len(), 2);

    // Pulling the same images adds nothing and agrees on the IDs.
    let mut pulled = vec![
        format!("sha256:{}", pull(&env, "busybox")),
        format!("sha256:{}", pull(&env, "layered")),
    ];
    pulled.sort();
    assert_eq!(loaded, pulled);
    assert_eq!(layer_dirs(&env).len(), 2);
    assert_no_staging(&env, "loads");
    assert_no_leaks(&env);
}

#[test]
fn save_to_stdout_load_from_stdin() {
    let env = Env::new("save_to_stdout_load_from_stdin");
    let id = pull(&env, "busybox");
    let saved = env.roost(0, &["save", &image("busybox")]);
    assert!(
        saved.stdout.len() > 1_000_000,
        "save to a pipe wrote {} bytes",
        saved.stdout.len()
    );
    env.roost(0, &["rmi", "-a"]);
    let out = env.roost_stdin(0, &["load"], &saved.stdout);
    assert_eq!(
        out.stdout_lines(),
        [format!("Loaded image: {}", image("busybox"))]
    );
    assert_eq!(image_ids(&env), [format!("sha256:{id}")]);
    assert_no_leaks(&env);
}

#[test]
fn save_oci_dir_writes_a_layout() {
    let env = Env::new("save_oci_dir_writes_a_layout");
    pull(&env, "busybox");
    let dir = env.home.join("bb-oci");
    env.roost(
        0,
        &[
            "save",
            "--format",
            "oci-dir",
            "-o",
            p(&dir),
            &image("busybox"),
        ],
    );
    assert!(dir.join("index.json").is_file());
    let layout = std::fs::read_to_string(dir.join("oci-layout")).expect("oci-layout");
    assert!(layout.contains("imageLayoutVersion"), "{layout}");
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("index.json")).unwrap()).unwrap();
    let manifest = index["manifests"][0]["digest"]
        .as_str()
        .expect("index lists a manifest");
    let hex = manifest.strip_prefix("sha256:").expect("sha256 digest");
    assert!(dir.join("blobs/sha256").join(hex).is_file());
    assert_no_leaks(&env);
}

#[test]
fn save_multi_image_docker_archive() {
    let env = Env::new("save_multi_image_docker_archive");
    let bb = pull(&env, "busybox");
    let layered = pull(&env, "layered");
    let file = env.home.join("both.tar");
    env.roost(
        0,
        &[
            "save",
            "-m",
            "-o",
            p(&file),
            &image("busybox"),
            &image("layered"),
        ],
    );
    env.roost(0, &["rmi", "-a"]);
    let out = env.roost(0, &["load", "-i", p(&file)]);
    let mut lines = out.stdout_lines();
    lines.sort();
    let mut want = vec![
        format!("Loaded image: {}", image("busybox")),
        format!("Loaded image: {}", image("layered")),
    ];
    want.sort();
    assert_eq!(lines, want);
    let mut ids = image_ids(&env);
    ids.sort();
    let mut want = vec![format!("sha256:{bb}"), format!("sha256:{layered}")];
    want.sort();
    assert_eq!(ids, want);
    assert_eq!(layer_dirs(&env).len(), 2);
    assert_no_leaks(&env);
}

#[test]
fn import_applies_changes_and_message() {
    let env = Env::new("import_applies_changes_and_message");
    env.run_as_user(
        0,
        "sh",
        &[
            "-c",
            "mkdir -p src/etc && echo hi > src/etc/hello && tar -C src -cf in.tar etc",
        ],
    );
    let name = env.safename("imp");
    let tarball = env.home.join("in.tar");
    let out = env.roost(
        0,
        &[
            "import",
            "-c",
            r#"CMD ["/bin/sh"]"#,
            "-c",
            "ENV A=b",
            "-m",
            "imported here",
            p(&tarball),
            &name,
        ],
    );
    let id = out.stdout_text().trim().to_string();
    assert_hex_id(&id);
    let v = crate::store::inspect(&env, &name);
    assert_eq!(v["Id"], id.as_str());
    assert_eq!(
        v["RepoTags"],
        serde_json::json!([format!("localhost/{name}:latest")])
    );
    assert_eq!(v["Config"]["Cmd"], serde_json::json!(["/bin/sh"]));
    let envs: Vec<&str> = v["Config"]["Env"]
        .as_array()
        .expect("Config.Env")
        .iter()
        .map(|e| e.as_str().unwrap())
        .collect();
    assert!(envs.contains(&"A=b"), "{envs:?}");
    let comment = env.roost(0, &["history", "--format", "{{.Comment}}", &name]);
    assert!(
        comment.stdout_text().contains("imported here"),
        "{}",
        comment.stdout_text()
    );

    let upper = v["GraphDriver"]["Data"]["UpperDir"].as_str().unwrap();
    let hello = std::fs::read_to_string(Path::new(upper).join("etc/hello")).unwrap();
    assert_eq!(hello, "hi\n");
    assert_no_leaks(&env);
}

#[test]
fn load_garbage_is_refused() {
    let env = Env::new("load_garbage_is_refused");
    let junk: Vec<u8> = (0..200_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let file = env.home.join("junk.tar");
    std::fs::write(&file, &junk).unwrap();
    for out in [
        env.roost(125, &["load", "-i", p(&file)]),
        env.roost_stdin(125, &["load"], &junk),
        env.roost_stdin(125, &["load"], b""),
    ] {
        let err = out.stderr_text();
        assert!(err.starts_with("Error: "), "{err}");
        assert!(!err.contains("panicked"), "{err}");
        assert!(out.stdout.is_empty());
    }
    let missing = env.home.join("no-such.tar");
    let out = env.roost(125, &["load", "-i", p(&missing)]);
    assert!(
        out.stderr_text().contains("no-such.tar"),
        "{}",
        out.stderr_text()
    );
    assert!(image_ids(&env).is_empty());
    assert!(layer_dirs(&env).is_empty());
    assert_no_staging(&env, "refused loads");
    assert_no_leaks(&env);
}
