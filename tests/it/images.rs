//! `roost images`, `inspect`, `history` and the `--format '{{"\n"}}'` sweep.

use crate::harness::{Env, OutputExt, assert_no_leaks, image};
use crate::store::{assert_hex_id, pull};

/// busybox and layered pulled, busybox also tagged `localhost/extra:latest`.
fn two_images(env: &Env) -> (String, String) {
    let bb = pull(env, "busybox");
    let layered = pull(env, "layered");
    env.roost(0, &["tag", &image("busybox"), "extra"]);
    (bb, layered)
}

fn columns(line: &str) -> Vec<String> {
    line.split("  ")
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .map(str::to_string)
        .collect()
}

#[test]
fn images_table_quiet_and_no_trunc() {
    let env = Env::new("images_table_quiet_and_no_trunc");
    let (bb, layered) = two_images(&env);
    let out = env.roost(0, &["images"]);
    let lines = out.stdout_lines();
    assert_eq!(
        columns(&lines[0]),
        ["REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE"],
        "header: {:?}",
        lines[0]
    );
    assert_eq!(lines.len(), 4, "header + 3 names:\n{}", out.stdout_text());
    let mut rows: Vec<(String, String, String)> = lines[1..]
        .iter()
        .map(|l| {
            let c = columns(l);
            (c[0].clone(), c[1].clone(), c[2].clone())
        })
        .collect();
    rows.sort();
    let mut want = vec![
        (
            image("busybox").trim_end_matches(":latest").to_string(),
            "latest".into(),
            bb[..12].to_string(),
        ),
        (
            image("layered").trim_end_matches(":latest").to_string(),
            "latest".into(),
            layered[..12].to_string(),
        ),
        (
            "localhost/extra".into(),
            "latest".into(),
            bb[..12].to_string(),
        ),
    ];
    want.sort();
    assert_eq!(rows, want);

    let mut quiet = env.roost(0, &["images", "-q"]).stdout_lines();
    quiet.sort();
    let mut want_q = vec![bb[..12].to_string(), layered[..12].to_string()];
    want_q.sort();
    assert_eq!(quiet, want_q, "-q lists each image once");

    let full = env.roost(0, &["images", "--no-trunc"]).stdout_text();
    assert!(full.contains(&format!("sha256:{bb}")), "{full}");
    assert!(full.contains(&format!("sha256:{layered}")), "{full}");

    let noheading = env.roost(0, &["images", "-n"]).stdout_lines();
    assert_eq!(noheading.len(), 3);
    assert!(!noheading.iter().any(|l| l.contains("REPOSITORY")));

    let digests = env.roost(0, &["images", "--digests"]).stdout_lines();
    assert!(digests[0].contains("DIGEST"), "{digests:?}");
    assert!(digests[1].contains("sha256:"), "{digests:?}");
    assert_no_leaks(&env);
}

#[test]
fn images_format_json_and_templates() {
    let env = Env::new("images_format_json_and_templates");
    let (bb, layered) = two_images(&env);
    let out = env.roost(0, &["images", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("images --format json");
    let arr = v.as_array().expect("a JSON array");
    assert_eq!(arr.len(), 2, "one entry per image:\n{}", out.stdout_text());
    for img in arr {
        let id = img["Id"].as_str().expect("Id");
        assert_hex_id(id);
        assert!(img["Size"].as_u64().expect("Size is a number") > 1_000_000);
        let tags: Vec<&str> = img["RepoTags"]
            .as_array()
            .expect("RepoTags")
            .iter()
            .map(|t| t.as_str().unwrap())
            .collect();
        if id == bb {
            assert!(tags.contains(&image("busybox").as_str()), "{tags:?}");
            assert!(tags.contains(&"localhost/extra:latest"), "{tags:?}");
        } else {
            assert_eq!(id, layered);
            assert_eq!(tags, [image("layered")]);
        }
    }

    let mut names = env
        .roost(0, &["images", "--format", "{{.Repository}}:{{.Tag}}"])
        .stdout_lines();
    names.sort();
    let mut want = vec![
        image("busybox"),
        image("layered"),
        "localhost/extra:latest".into(),
    ];
    want.sort();
    assert_eq!(names, want);

    let table = env.roost(0, &["images", "--format", "table {{.ID}} {{.Size}}"]);
    let lines = table.stdout_lines();
    assert_eq!(columns(&lines[0]), ["IMAGE ID", "SIZE"], "{lines:?}");
    assert!(lines.len() >= 3, "{lines:?}");
    assert!(
        lines[1..]
            .iter()
            .all(|l| l.starts_with(&bb[..12]) || l.starts_with(&layered[..12]))
    );
    assert_no_leaks(&env);
}

/// podman's 610-format test: a template of just a newline prints exactly one empty line per item.
fn assert_only_newlines(env: &Env, args: &[&str], want: Option<usize>) {
    let out = env.roost(0, args);
    let text = out.stdout_text();
    assert!(
        !text.is_empty() && text.chars().all(|c| c == '\n'),
        "roost {args:?} printed more than newlines: {text:?}"
    );
    if let Some(n) = want {
        assert_eq!(
            text.len(),
            n,
            "roost {args:?}: one newline per item expected"
        );
    }
}

#[test]
fn format_newline_sweep() {
    let env = Env::new("format_newline_sweep");
    let (_bb, _layered) = two_images(&env);
    let nl = r#"{{"\n"}}"#;
    assert_only_newlines(&env, &["images", "--format", nl], Some(3));
    assert_only_newlines(
        &env,
        &["history", "--format", nl, &image("layered")],
        Some(3),
    );
    assert_only_newlines(
        &env,
        &["inspect", "--format", nl, &image("layered")],
        Some(1),
    );
    assert_only_newlines(
        &env,
        &[
            "image",
            "inspect",
            "--format",
            nl,
            &image("layered"),
            &image("busybox"),
        ],
        Some(2),
    );
    assert_only_newlines(&env, &["system", "df", "--format", nl], Some(3));
    assert_only_newlines(&env, &["info", "--format", nl], Some(1));
    assert_no_leaks(&env);
}

#[test]
fn images_filters() {
    let env = Env::new("images_filters");
    let bb = pull(&env, "busybox");
    let layered = pull(&env, "layered");
    let q = |filter: &str| {
        env.roost(0, &["images", "-q", "--no-trunc", "-f", filter])
            .stdout_lines()
    };
    let sha = |id: &str| format!("sha256:{id}");

    assert_eq!(q("reference=*busybox*"), [sha(&bb)]);
    assert_eq!(
        q(&format!("reference={}", image("layered"))),
        [sha(&layered)]
    );
    let mut both = q("label=org.roost.test=busybox");
    both.sort();
    let mut want = vec![sha(&bb), sha(&layered)];
    want.sort();
    assert_eq!(both, want);
    assert!(q("label=org.roost.test=nope").is_empty());
    assert!(q("dangling=true").is_empty());
    assert!(!q(&format!("before={}", image("busybox"))).contains(&sha(&bb)));
    assert!(!q(&format!("since={}", image("layered"))).contains(&sha(&layered)));

    env.roost(0, &["untag", &image("layered")]);
    assert_eq!(q("dangling=true"), [sha(&layered)]);
    assert_eq!(q("dangling=false"), [sha(&bb)]);

    let sorted = env.roost(0, &["images", "--sort", "size", "-n"]);
    assert_eq!(sorted.stdout_lines().len(), 2);
    assert_no_leaks(&env);
}

#[test]
fn inspect_images() {
    let env = Env::new("inspect_images");
    let bb = pull(&env, "busybox");
    let layered = pull(&env, "layered");
    let out = env.roost(
        0,
        &["image", "inspect", &image("busybox"), &image("layered")],
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("inspect JSON");
    let arr = v.as_array().expect("array");
    assert_eq!(arr.len(), 2);
    assert_eq!(arr[0]["Id"], bb.as_str());
    assert_eq!(arr[1]["Id"], layered.as_str());

    let l = &arr[1];
    assert_eq!(l["RepoTags"], serde_json::json!([image("layered")]));
    let digest = l["Digest"].as_str().expect("Digest");
    assert!(digest.starts_with("sha256:"), "{digest}");
    let repo = image("layered");
    let repo = repo.trim_end_matches(":latest");
    assert_eq!(
        l["RepoDigests"],
        serde_json::json!([format!("{repo}@{digest}")])
    );
    assert_eq!(l["RootFS"]["Type"], "layers");
    assert_eq!(l["RootFS"]["Layers"].as_array().expect("Layers").len(), 2);
    assert_eq!(l["Config"]["Cmd"], serde_json::json!(["sh"]));
    assert_eq!(l["Labels"]["org.roost.test"], "busybox");
    assert_eq!(l["Os"], "linux");
    assert!(l["Architecture"].as_str().is_some_and(|a| !a.is_empty()));
    assert!(l["Size"].as_u64().unwrap() > 1_000_000);
    assert_eq!(l["GraphDriver"]["Name"], "overlay");

    // By short ID and by --format.
    let out = env.roost(
        0,
        &["inspect", "--format", "{{.Id}} {{.Os}}", &layered[..12]],
    );
    assert_eq!(out.stdout_text().trim(), format!("{layered} linux"));

    let out = env.roost(125, &["inspect", "no-such-image"]);
    let err = out.stderr_text();
    assert!(
        err.starts_with("Error: ") && err.contains("no-such-image"),
        "{err}"
    );
    assert_no_leaks(&env);
}

#[test]
fn history_lists_layers() {
    let env = Env::new("history_lists_layers");
    let layered = pull(&env, "layered");
    let out = env.roost(0, &["history", &image("layered")]);
    let lines = out.stdout_lines();
    assert_eq!(
        columns(&lines[0]),
        ["ID", "CREATED", "CREATED BY", "SIZE", "COMMENT"],
        "{lines:?}"
    );
    assert_eq!(
        lines.len(),
        4,
        "header + 3 history entries:\n{}",
        out.stdout_text()
    );
    assert!(lines[1].starts_with(&layered[..12]), "{lines:?}");

    let quiet = env
        .roost(0, &["history", "-q", &image("layered")])
        .stdout_lines();
    assert_eq!(quiet.len(), 3);
    let full = env
        .roost(0, &["history", "-q", "--no-trunc", &image("layered")])
        .stdout_lines();
    assert!(full[0].contains(&layered), "{full:?}");
    let by = env
        .roost(
            0,
            &["history", "--format", "{{.CreatedBy}}", &image("layered")],
        )
        .stdout_lines();
    assert_eq!(by, ["umoci repack", "umoci config", "umoci repack"]);
    env.roost(125, &["history", "no-such-image"]);
    assert_no_leaks(&env);
}
