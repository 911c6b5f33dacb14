//! Expected strings are what podman (Go text/template + containers/common
//! report) prints for the same rows and `--format`.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;

use super::*;

#[derive(Serialize, Default)]
#[serde(rename_all = "PascalCase")]
struct Image {
    repository: String,
    tag: String,
    #[serde(rename = "ID")]
    id: String,
    created_at: String,
    names: Vec<String>,
    labels: HashMap<String, String>,
}

fn images() -> Vec<Image> {
    let labels: HashMap<String, String> = [("zeta", "z"), ("alpha", "a"), ("mid", "m")]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    vec![
        Image {
            repository: "docker.io/library/alpine".into(),
            tag: "latest".into(),
            id: "1d34ffeaf190".into(),
            created_at: "2 weeks ago".into(),
            names: vec!["alpine".into(), "a<b>&c".into()],
            labels,
        },
        Image {
            repository: "quay.io/podman/hello".into(),
            tag: "v1".into(),
            id: "5dd467fce50b".into(),
            created_at: "3 months ago".into(),
            names: vec![],
            labels: HashMap::new(),
        },
    ]
}

const TABLE: Table = Table {
    name: "images",
    default_template: "table {{.Repository}}\t{{.Tag}}\t{{.ID}}",
    headers: &[("ID", "IMAGE ID")],
    json: JsonStyle::IMAGES,
};

fn list(format: &str) -> Result<String, FormatError> {
    render_list(&images(), &Format::parse(Some(format)), &TABLE)
}

fn ok(format: &str) -> String {
    match list(format) {
        Ok(out) => out,
        Err(e) => panic!("{format:?}: {e}: {:?}", std::error::Error::source(&e)),
    }
}

#[test]
fn parse_format_values() {
    let t = |table: bool, text: &str| Format::Template {
        table,
        text: text.to_string(),
    };
    let cases = [
        (None, Format::Default),
        (Some(""), Format::Default),
        (Some("table"), Format::Default),
        (Some("json"), Format::Json),
        (Some("  json "), Format::Json),
        (Some("{{json}}"), Format::Json),
        (Some("{{ json. }}"), Format::Json),
        (Some("{{json .}}"), t(false, "{{json .}}")),
        (Some("{{ json . }}"), t(false, "{{ json . }}")),
        (Some("JSON"), t(false, "JSON")),
        (Some("table {{.ID}}"), t(true, "{{.ID}}")),
        (Some("{{.ID}}"), t(false, "{{.ID}}")),
    ];
    for (input, want) in cases {
        assert_eq!(Format::parse(input), want, "{input:?}");
    }
}

#[test]
fn json_is_a_pretty_array_in_field_order() {
    let want = r#"[
    {
        "Repository": "docker.io/library/alpine",
        "Tag": "latest",
        "ID": "1d34ffeaf190",
        "CreatedAt": "2 weeks ago",
        "Names": [
            "alpine",
            "a\u003cb\u003e\u0026c"
        ],
        "Labels": {
            "alpha": "a",
            "mid": "m",
            "zeta": "z"
        }
    }
]
"#;
    let rows = images();
    let labels: BTreeMap<&str, &str> = [("zeta", "z"), ("alpha", "a"), ("mid", "m")].into();
    // HashMap order is random; Go sorts map keys, so use a BTreeMap here.
    #[derive(Serialize)]
    #[serde(rename_all = "PascalCase")]
    struct Row<'a> {
        repository: &'a str,
        tag: &'a str,
        #[serde(rename = "ID")]
        id: &'a str,
        created_at: &'a str,
        names: &'a [String],
        labels: &'a BTreeMap<&'a str, &'a str>,
    }
    let row = Row {
        repository: &rows[0].repository,
        tag: &rows[0].tag,
        id: &rows[0].id,
        created_at: &rows[0].created_at,
        names: &rows[0].names,
        labels: &labels,
    };
    let out = render_list(&[row], &Format::Json, &TABLE).expect("json renders");
    assert_eq!(out, want);
    let empty: [Image; 0] = [];
    assert_eq!(
        render_list(&empty, &Format::Json, &TABLE).expect("renders"),
        "[]\n"
    );
    assert_eq!(
        render_json(&[1, 2], JsonStyle::PS).expect("renders"),
        "[\n  1,\n  2\n]\n"
    );
}

#[test]
fn plain_templates_print_one_line_per_row() {
    let cases = [
        (
            "{{.Repository}}:{{.Tag}}",
            "docker.io/library/alpine:latest\nquay.io/podman/hello:v1\n",
        ),
        // A trailing newline is not doubled.
        ("{{.ID}}\n", "1d34ffeaf190\n5dd467fce50b\n"),
        (r"{{.ID}}\n", "1d34ffeaf190\n5dd467fce50b\n"),
        // `\t` typed on the command line becomes a real tab (no alignment).
        (
            r"{{.ID}}\t{{.Tag}}",
            "1d34ffeaf190\tlatest\n5dd467fce50b\tv1\n",
        ),
        // podman's 610-format sweep: the raw text is used when the escaped one fails to parse.
        (r#"{{"\n"}}"#, "\n\n"),
        (r#"{{printf "\n"}}"#, "\n\n"),
        (r#"{{"\n"}}{{.Tag}}\t"#, "\nlatest\\t\nv1\\t"),
        ("{{range .Names}}[{{.}}]{{end}}", "[alpine][a<b>&c]\n\n"),
        (
            "{{range $k, $v := .Labels}}{{$k}}={{$v}} {{end}}",
            "alpha=a mid=m zeta=z \n\n",
        ),
        ("{{.Labels}}", "map[alpha:a mid:m zeta:z]\nmap[]\n"),
        (
            "{{if .Names}}named{{else}}anonymous{{end}}",
            "named\nanonymous\n",
        ),
        (r#"{{index .Labels "mid"}}|{{len .Names}}"#, "m|2\n|0\n"),
        (
            r#"{{printf "%-12s|" .Tag}}"#,
            "latest      |\nv1          |\n",
        ),
        (
            r#"{{upper .Tag}} {{lower "ABC"}} {{join .Names ","}}"#,
            "LATEST abc alpine,a<b>&c\nV1 abc \n",
        ),
        (
            r#"{{title "hello world"}} {{pad .Tag 1 2}}|{{truncate .ID 5}}"#,
            "Hello World  latest  |1d34f\nHello World  v1  |5dd46\n",
        ),
        (
            r#"{{range split .Repository "/"}}<{{.}}>{{end}}"#,
            "<docker.io><library><alpine>\n<quay.io><podman><hello>\n",
        ),
        (r#"{{if eq .Tag "v1"}}{{.ID}}{{end}}"#, "\n5dd467fce50b\n"),
        (r#"{{if and .Names (ne .Tag "x")}}y{{end}}"#, "y\n\n"),
        // An explicit range runs once over all rows; one newline is appended.
        ("{{range .}}{{.Tag}} {{end}}", "latest v1 \n"),
    ];
    for (format, want) in cases {
        assert_eq!(ok(format), want, "{format:?}");
    }
}

#[test]
fn index_out_of_range_is_an_error_not_a_panic() {
    let err = list("{{index .Names 0}}").expect_err("second row has no names");
    assert!(matches!(err, FormatError::Execute { .. }), "{err:?}");
}

#[test]
fn json_function_keeps_struct_order() {
    let mut rows = images();
    rows[0].labels = HashMap::from([("k".to_string(), "v".to_string())]);
    let out = render_list(&rows[..1], &Format::parse(Some("{{json .}}")), &TABLE).expect("renders");
    assert_eq!(
        out,
        "{\"Repository\":\"docker.io/library/alpine\",\"Tag\":\"latest\",\"ID\":\"1d34ffeaf190\",\
         \"CreatedAt\":\"2 weeks ago\",\"Names\":[\"alpine\",\"a<b>&c\"],\"Labels\":{\"k\":\"v\"}}\n"
    );
    assert_eq!(ok("{{json .Names}}"), "[\"alpine\",\"a<b>&c\"]\n[]\n");
    assert_eq!(ok("{{json .Tag}}"), "\"latest\"\n\"v1\"\n");
}

#[test]
fn tables_have_headers_and_aligned_columns() {
    let id_repo = "IMAGE ID      REPOSITORY\n\
                   1d34ffeaf190  docker.io/library/alpine\n\
                   5dd467fce50b  quay.io/podman/hello\n";
    let cases = [
        ("table {{.ID}}\t{{.Repository}}", id_repo),
        (r"table {{.ID}}\t{{.Repository}}", id_repo),
        // podman turns spaces into column breaks in table formats.
        ("table {{.ID}} {{.Repository}}", id_repo),
        // Fields without an override: CamelCase split, upper-cased.
        (
            "table {{.Tag}}\t{{.CreatedAt}}",
            "TAG         CREATED AT\nlatest      2 weeks ago\nv1          3 months ago\n",
        ),
        // Functions apply to the header row too, as in podman.
        ("table {{.Tag | lower}}", "tag\nlatest\nv1\n"),
    ];
    for (format, want) in cases {
        assert_eq!(ok(format), want, "{format:?}");
    }
}

#[test]
fn default_and_bare_table_use_the_default_template() {
    let want = "REPOSITORY                TAG         IMAGE ID\n\
                docker.io/library/alpine  latest      1d34ffeaf190\n\
                quay.io/podman/hello      v1          5dd467fce50b\n";
    assert_eq!(
        render_list(&images(), &Format::Default, &TABLE).expect("renders"),
        want
    );
    assert_eq!(ok("table"), want);
    let empty: [Image; 0] = [];
    assert_eq!(
        render_list(&empty, &Format::Default, &TABLE).expect("renders"),
        "REPOSITORY  TAG         IMAGE ID\n"
    );
}

#[test]
fn bad_templates_report_the_parse_problem() {
    let err = list("{{.ID").expect_err("unclosed action");
    let FormatError::Parse { text, source } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(text, "{{.ID");
    assert_eq!(err.to_string(), "invalid --format template `{{.ID`");
    let detail = source.to_string();
    assert!(detail.starts_with("template: images:1:"), "{detail}");

    let err = list("{{if .ID}}x").expect_err("missing end");
    assert!(matches!(err, FormatError::Parse { .. }), "{err:?}");

    let err = list("{{nosuch .ID}}").expect_err("unknown function");
    let FormatError::Parse { source, .. } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(
        source.to_string(),
        "template: images:1: function \"nosuch\" not defined"
    );
}

#[test]
fn unknown_fields_fail_like_go() {
    let err = list("{{.Foo}}").expect_err("no such field");
    let FormatError::Execute { source, .. } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(
        source.to_string(),
        "template: images:1:13: executing \"images\" at <.Foo>: can't evaluate field Foo in type Image"
    );
    assert!(list("table {{.ID}}\t{{.Nope}}").is_err());
    // Missing keys of a map field print `<no value>`, as Go does for maps.
    assert_eq!(ok("{{.Labels.nope}}"), "<no value>\n<no value>\n");
    // No rows: nothing executes, so nothing fails (as in podman).
    let empty: [Image; 0] = [];
    assert_eq!(
        render_list(&empty, &Format::parse(Some("{{.Foo}}")), &TABLE).expect("renders"),
        ""
    );
}

#[test]
fn inspect_prints_json_or_runs_the_template_per_object() {
    #[derive(Serialize)]
    #[serde(rename_all = "PascalCase")]
    struct Volume {
        name: String,
        options: BTreeMap<String, String>,
    }
    let vols = [Volume {
        name: "data".into(),
        options: BTreeMap::new(),
    }];
    let want = "[\n     {\n          \"Name\": \"data\",\n          \"Options\": {}\n     }\n]\n";
    assert_eq!(
        render_inspect(&vols, &Format::Default).expect("renders"),
        want
    );
    assert_eq!(render_inspect(&vols, &Format::Json).expect("renders"), want);
    let out =
        render_inspect(&vols, &Format::parse(Some("{{.Name}} {{.Options}}"))).expect("renders");
    assert_eq!(out, "data map[]\n");
    let empty: [Volume; 0] = [];
    assert_eq!(
        render_inspect(&empty, &Format::Default).expect("renders"),
        "[]\n"
    );
    let err = render_inspect(&vols, &Format::parse(Some("{{.Nme}}"))).expect_err("typo");
    assert!(
        err.source()
            .is_some_and(|s| s.to_string().contains("in type Volume"))
    );
}

#[test]
fn errors_are_send_and_sync() {
    fn check<T: Send + Sync + std::error::Error + 'static>() {}
    check::<FormatError>();
}

use std::error::Error as _;

mod properties {
    use proptest::prelude::*;

    use super::*;

    /// Template text from Go's template vocabulary and roost's functions, so the parser and executor
    /// get past the first `{{`.
    fn templateish() -> impl Strategy<Value = String> {
        let token = prop_oneof![
            Just("{{".to_string()),
            Just("}}".to_string()),
            Just("{{- ".to_string()),
            Just(" -}}".to_string()),
            "(range|if|with|else|end|define|template|block|len|index|slice|printf|print|println|json|join|split|upper|lower|title|pad|truncate|table|eq|ne|lt|and|or|not|call|html|js|urlquery)",
            Just(" ".to_string()),
            Just(".".to_string()),
            "\\.(Repository|Tag|ID|Names|Labels|CreatedAt|Nope)",
            Just("$".to_string()),
            Just("$x".to_string()),
            Just(" := ".to_string()),
            Just(" = ".to_string()),
            Just("|".to_string()),
            Just("(".to_string()),
            Just(")".to_string()),
            Just(",".to_string()),
            Just("\"a\"".to_string()),
            Just("\"%v %d %s %q\"".to_string()),
            Just("\"%999999d\"".to_string()),
            Just("`raw`".to_string()),
            Just("\\t".to_string()),
            Just("\\n".to_string()),
            "-?[0-9]{1,4}",
            "[ -~]{0,5}",
        ];
        proptest::collection::vec(token, 0..30).prop_map(|t| t.concat())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(500))]

        /// Any `--format` parses and runs or fails with an error; the output stays bounded.
        #[test]
        fn any_template_renders_or_fails_cleanly(text in prop_oneof![templateish(), "\\PC{0,80}"], table in any::<bool>()) {
            let text = if table { format!("table {text}") } else { text };
            let format = Format::parse(Some(&text));
            if let Ok(out) = render_list(&images(), &format, &TABLE) {
                prop_assert!(out.len() < 16 << 20, "{} bytes", out.len());
            }
            if let Ok(out) = render_inspect(&images(), &format) {
                prop_assert!(out.len() < 16 << 20, "{} bytes", out.len());
            }
        }
    }

    #[test]
    fn recursive_templates_fail_instead_of_overflowing_the_stack() {
        let r = list(r#"{{define "a"}}{{template "a" .}}{{end}}{{template "a" .}}"#);
        assert!(r.is_err(), "{r:?}");
    }
}

#[test]
fn go_field_names_reach_json_id_keys() {
    let objs = [serde_json::json!({"Id": "abc", "ImageId": "def", "Identity": "x"})];
    let out = render_inspect(&objs, &Format::parse(Some("{{.ID}} {{.Id}} {{.ImageID}}")))
        .expect("renders");
    assert_eq!(out, "abc abc def\n");
    // `{{json .}}` keeps the object as it is.
    let out = render_inspect(&objs, &Format::parse(Some("{{json .}}"))).expect("renders");
    assert_eq!(
        out,
        "{\"Id\":\"abc\",\"Identity\":\"x\",\"ImageId\":\"def\"}\n"
    );
    assert!(render_inspect(&objs, &Format::parse(Some("{{.IDentity}}"))).is_err());
}

/// Images whose `Label` method reads their label map, as podman's `psReporter.Label`.
const LABEL_METHOD: [Method<Image>; 1] = [Method {
    name: "Label",
    bind: |image| {
        let labels: BTreeMap<String, String> = image.labels.clone().into_iter().collect();
        label_method(&labels)
    },
}];

fn with_methods(format: &str) -> Result<String, FormatError> {
    render_list_with_methods(
        &images(),
        &Format::parse(Some(format)),
        &TABLE,
        &LABEL_METHOD,
    )
}

#[test]
fn methods_take_arguments_like_go_methods() {
    let run = |f: &str| with_methods(f).unwrap_or_else(|e| panic!("{f:?}: {e:?}"));
    assert_eq!(run(r#"{{ .Label "zeta" }}"#), "z\n\n");
    assert_eq!(
        run(r#"{{.ID}} {{.Label "mid" | upper}}"#),
        "1d34ffeaf190 M\n5dd467fce50b \n"
    );
    assert_eq!(run(r#"{{"alpha" | .Label}}"#), "a\n\n");
    assert_eq!(run(r#"{{$r := .}}{{$r.Label "zeta"}}"#), "z\n\n");
    assert_eq!(
        run(r#"table {{.ID}} {{.Label "zeta"}}"#),
        "IMAGE ID      LABEL\n1d34ffeaf190  z\n5dd467fce50b  \n"
    );
    // Methods are not fields: `{{json .}}` leaves them out, as Go's encoder does.
    assert!(!run("{{json .}}").contains(r#""Label""#));
}

#[test]
fn method_misuse_fails_like_go() {
    let message = |f: &str| {
        let err = with_methods(f).expect_err(f);
        let FormatError::Execute { source, .. } = &err else {
            panic!("{err:?}")
        };
        source.to_string()
    };
    assert!(message("{{.Label}}").contains("wrong number of args for Label: want 1 got 0"));
    assert!(
        message(r#"{{.Tag "x"}}"#).contains("Tag has arguments but cannot be invoked as function")
    );
    assert!(message(r#"{{.Label "a" "b"}}"#).contains("want 1 got 2"));
    // Rows without the method: a field given arguments is an error, not a panic.
    assert!(list(r#"{{.Label "zeta"}}"#).is_err());
}

#[test]
fn template_fields_are_a_default_rows_keys_and_the_methods() {
    let fields = template_fields(&LABEL_METHOD);
    let keys: Vec<&str> = fields
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        [
            "CreatedAt",
            "ID",
            "Label",
            "Labels",
            "Names",
            "Repository",
            "Tag"
        ]
    );
}
