//! `ps`: listing, filters, formats and `--size`.

use super::run_detached;
use crate::harness::{Cleanup, OutputExt, assert_no_leaks, bb, env_with_busybox, out};

#[test]
fn ps_listing_filters_and_formats() {
    let env = env_with_busybox("ps_listing_filters_and_formats");
    let _c = Cleanup(&env);
    let img = bb();
    let up = env.safename("up");
    let done = env.safename("done");
    let created = env.safename("created");
    let up_id = run_detached(
        &env,
        &["--name", &up, "-l", "tier=web", &img, "sleep", "300"],
    );
    let done_id = run_detached(&env, &["--name", &done, &img, "sh", "-c", "exit 4"]);
    assert_eq!(out(&env, &["wait", &done]), "4\n");
    let created_id = out(&env, &["create", "--name", &created, &img, "true"])
        .trim()
        .to_string();

    // Default: running only; -a: everything, newest first.
    let running = out(&env, &["ps", "-q", "--no-trunc"]);
    assert_eq!(running, format!("{up_id}\n"));
    let all = env
        .roost(0, &["ps", "-a", "-q", "--no-trunc"])
        .stdout_lines();
    assert_eq!(all, [created_id.as_str(), done_id.as_str(), up_id.as_str()]);
    let short = env.roost(0, &["ps", "-a", "-q"]).stdout_lines();
    assert_eq!(short, [&created_id[..12], &done_id[..12], &up_id[..12]]);

    // Table.
    let table = env.roost(0, &["ps", "-a"]).stdout_lines();
    let head: Vec<&str> = table[0]
        .split("  ")
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    assert_eq!(
        head,
        [
            "CONTAINER ID",
            "IMAGE",
            "COMMAND",
            "CREATED",
            "STATUS",
            "PORTS",
            "NAMES"
        ]
    );
    assert_eq!(table.len(), 4, "{table:?}");
    let up_row = table
        .iter()
        .find(|l| l.ends_with(&up))
        .expect("row of the running one");
    assert!(up_row.starts_with(&up_id[..12]), "{up_row}");
    assert!(up_row.contains(&img), "{up_row}");
    assert!(up_row.contains("sleep 300"), "{up_row}");
    assert!(up_row.contains("Up "), "{up_row}");
    let noheading = env.roost(0, &["ps", "-a", "--noheading"]).stdout_lines();
    assert_eq!(noheading.len(), 3, "{noheading:?}");

    // Statuses through a template.
    let lines = env
        .roost(0, &["ps", "-a", "--format", "{{.Names}} {{.Status}}"])
        .stdout_lines();
    assert_eq!(lines.len(), 3, "{lines:?}");
    assert!(lines[0] == format!("{created} Created"), "{lines:?}");
    assert!(
        lines[1].starts_with(&format!("{done} Exited (4) ")),
        "{lines:?}"
    );
    assert!(lines[1].ends_with(" ago"), "{lines:?}");
    assert!(lines[2].starts_with(&format!("{up} Up ")), "{lines:?}");

    // Filters.
    let names = |filter: &str| -> Vec<String> {
        env.roost(
            0,
            &["ps", "-a", "--filter", filter, "--format", "{{.Names}}"],
        )
        .stdout_lines()
    };
    assert_eq!(names(&format!("name={up}")), [up.as_str()]);
    assert_eq!(names(&format!("id={}", &done_id[..8])), [done.as_str()]);
    assert_eq!(names("status=running"), [up.as_str()]);
    assert_eq!(names("status=exited"), [done.as_str()]);
    assert_eq!(names("status=created"), [created.as_str()]);
    assert_eq!(names("exited=4"), [done.as_str()]);
    assert_eq!(names("label=tier=web"), [up.as_str()]);
    assert_eq!(names("label=tier"), [up.as_str()]);
    assert_eq!(names(&format!("ancestor={img}")).len(), 3);
    assert_eq!(names("name=no-such-container-name"), Vec::<String>::new());
    // -l: the latest created, whatever its state; -n N: the N latest.
    assert_eq!(
        env.roost(0, &["ps", "-l", "--format", "{{.Names}}"])
            .stdout_lines(),
        [created.as_str()]
    );
    assert_eq!(
        env.roost(0, &["ps", "-a", "-n", "2", "--format", "{{.Names}}"])
            .stdout_lines(),
        [created.as_str(), done.as_str()]
    );

    // JSON.
    let o = env.roost(0, &["ps", "-a", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("ps --format json is not JSON ({e}):\n{}", o.stdout_text()));
    let arr = v.as_array().expect("a JSON array");
    assert_eq!(arr.len(), 3, "{v:#}");
    // podman's `ListContainer` shape (what podman-compose, distrobox and scripts parse).
    let by_name = |n: &str| -> &serde_json::Value {
        arr.iter()
            .find(|c| {
                c["Names"]
                    .as_array()
                    .is_some_and(|a| a.iter().any(|x| x == n))
            })
            .unwrap_or_else(|| panic!("{n} not in {v:#}"))
    };
    for c in arr {
        for field in [
            "AutoRemove",
            "Command",
            "CreatedAt",
            "Created",
            "Exited",
            "ExitedAt",
            "ExitCode",
            "Id",
            "Image",
            "ImageID",
            "IsInfra",
            "Labels",
            "Mounts",
            "Names",
            "Namespaces",
            "Networks",
            "Pid",
            "Pod",
            "PodName",
            "Ports",
            "Size",
            "StartedAt",
            "State",
            "Status",
        ] {
            assert!(c.get(field).is_some(), "field {field} missing: {c:#}");
        }
        assert!(c.get("ID").is_none(), "template-only field in JSON: {c:#}");
        assert!(c["Command"].is_array(), "{c:#}");
        assert!(c["Created"].is_i64(), "{c:#}");
        assert!(c["CreatedAt"].as_str().unwrap().ends_with(" ago"), "{c:#}");
        assert_eq!(c["IsInfra"], false);
        assert_eq!(c["Pod"], "");
        assert_eq!(c["Size"], serde_json::Value::Null);
        assert!(
            c["Namespaces"].is_object() && c["Networks"].is_array(),
            "{c:#}"
        );
    }
    let u = by_name(&up);
    assert_eq!(u["Id"], up_id.as_str());
    assert_eq!(u["Command"], serde_json::json!(["sleep", "300"]));
    assert_eq!(u["Exited"], false);
    assert!(
        u["StartedAt"].as_i64().unwrap() >= u["Created"].as_i64().unwrap(),
        "{u:#}"
    );
    assert_eq!(u["Image"], img.as_str());
    assert_eq!(u["State"], "running");
    assert_eq!(u["Labels"]["tier"], "web");
    assert!(u["Pid"].as_i64().unwrap() > 0, "{u:#}");
    assert!(u["Status"].as_str().unwrap().starts_with("Up "), "{u:#}");
    let d = by_name(&done);
    assert_eq!(d["State"], "exited");
    assert_eq!(d["ExitCode"], 4);
    assert_eq!(d["Exited"], true);
    assert!(d["ExitedAt"].as_i64().unwrap() > 0, "{d:#}");
    assert!(
        d["Status"].as_str().unwrap().starts_with("Exited (4) "),
        "{d:#}"
    );
    assert_eq!(d["Pid"], 0);
    assert_eq!(by_name(&created)["State"], "created");

    out(&env, &["rm", "-f", &up, &done, &created]);
    assert_no_leaks(&env);
}

/// `ps --size`: a SIZE column `12B (virtual 2.13MB)`, `.Size` in templates, `Size` in JSON.
#[test]
fn ps_size_counts_the_writable_layer() {
    let env = env_with_busybox("ps_size_counts_the_writable_layer");
    let _c = Cleanup(&env);
    let n = env.safename("s");
    out(
        &env,
        &[
            "run",
            "--name",
            &n,
            &bb(),
            "sh",
            "-c",
            "echo 0123456789 > /ten",
        ],
    );
    let table = env.roost(0, &["ps", "-a", "--size"]).stdout_lines();
    assert!(table[0].ends_with("SIZE"), "{table:?}");
    assert!(table[1].contains("  11B (virtual "), "{table:?}");
    let s = out(&env, &["ps", "-a", "-s", "--format", "{{.Size}}"]);
    assert!(s.starts_with("11B (virtual "), "{s}");
    let o = env.roost(0, &["ps", "-a", "-s", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("JSON");
    assert_eq!(v[0]["Size"]["rwSize"], 11, "{v:#}");
    assert!(
        v[0]["Size"]["rootFsSize"].as_u64().unwrap() > 1_000_000,
        "{v:#}"
    );
    out(&env, &["rm", &n]);
    assert_no_leaks(&env);
}

/// podman's `--filter name=` is an (unanchored) regular expression.
#[test]
fn ps_name_filter_is_a_regex() {
    let env = env_with_busybox("ps_name_filter_is_a_regex");
    let _c = Cleanup(&env);
    let a = env.safename("x1");
    let b = env.safename("x12");
    for n in [&a, &b] {
        out(&env, &["create", "--name", n, &bb(), "true"]);
    }
    let names = |filter: &str| -> Vec<String> {
        let mut v = env
            .roost(
                0,
                &["ps", "-a", "--filter", filter, "--format", "{{.Names}}"],
            )
            .stdout_lines();
        v.sort();
        v
    };
    // Unanchored: a substring matches both.
    assert_eq!(names(&format!("name={a}")), [a.as_str(), b.as_str()]);
    // Anchors select exactly one.
    assert_eq!(names(&format!("name=^{a}$")), [a.as_str()]);
    assert_eq!(names(&format!("name={a}$")), [a.as_str()]);
    // Regex metacharacters.
    assert_eq!(names("name=x1[0-9]$"), [b.as_str()]);
    assert_eq!(names("name=-x1.?$"), [a.as_str(), b.as_str()]);
    out(&env, &["rm", &a, &b]);
    assert_no_leaks(&env);
}

/// podman's ps and pod ps rows have a `Label(name)` method that templates call with an argument.
#[test]
fn ps_and_pod_ps_templates_call_the_label_method() {
    let env = env_with_busybox("ps_and_pod_ps_templates_call_the_label_method");
    let _c = Cleanup(&env);
    let name = env.safename("labelled");
    env.roost(
        0,
        &["create", "--name", &name, "-l", "tier=web", &bb(), "true"],
    );
    assert_eq!(
        out(&env, &["ps", "-a", "--format", r#"{{ .Label "tier" }}"#]),
        "web\n"
    );
    assert_eq!(
        out(
            &env,
            &["ps", "-a", "--format", r#"{{.Names}}:{{.Label "nope"}}"#]
        ),
        format!("{name}:\n")
    );
    let pod = env.safename("pod");
    env.roost(0, &["pod", "create", "--label", "team=blue", &pod]);
    assert_eq!(
        out(&env, &["pod", "ps", "--format", r#"{{"team" | .Label}}"#]),
        "blue\n"
    );
    // A method given no argument, and a field given one, fail as Go's templates do.
    let bad = env.roost(125, &["ps", "-a", "--format", "{{.Label}}"]);
    assert!(
        bad.stderr_text().contains("wrong number of args for Label"),
        "{}",
        bad.stderr_text()
    );
    env.roost(125, &["ps", "-a", "--format", r#"{{.Names "x"}}"#]);
    env.roost(0, &["pod", "rm", "-f", &pod]);
    assert_no_leaks(&env);
}
