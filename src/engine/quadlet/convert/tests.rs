use std::path::PathBuf;

use super::super::{Settings, Source, generate};

fn settings() -> Settings {
    Settings {
        roost: "/usr/bin/roost".into(),
        user: true,
    }
}

fn source(dir: &std::path::Path, name: &str, text: &str) -> Source {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    Source {
        name: name.into(),
        path,
        dropins: Vec::<PathBuf>::new(),
    }
}

/// The values of `key` outside the `[X-…]` copies of the Quadlet groups.
fn service_lines(text: &str, key: &str) -> Vec<String> {
    let mut in_copy = false;
    let mut out = Vec::new();
    for l in text.lines() {
        if l.starts_with('[') {
            in_copy = l.starts_with("[X-");
        } else if let Some(v) = l.strip_prefix(&format!("{key}=")).filter(|_| !in_copy) {
            out.push(v.to_string());
        }
    }
    out
}

#[test]
fn a_container_gets_podmans_service_layout() {
    let d = tempfile::tempdir().unwrap();
    let s = source(
        d.path(),
        "web.container",
        "[Unit]\nDescription=web\n[Container]\nImage=busybox\nPublishPort=8080:80\nVolume=data.volume:/srv:ro\nEnvironment=A=1 \"B=x y\"\nExec=httpd -f -p 80\n[Install]\nWantedBy=default.target\n",
    );
    let v = source(d.path(), "data.volume", "[Volume]\n");
    let g = generate(&[s, v], &settings());
    assert!(g.errors.is_empty(), "{:?}", g.errors);
    let web = g.units.iter().find(|u| u.service == "web.service").unwrap();
    let t = &web.text;
    assert_eq!(
        service_lines(t, "ExecStart"),
        [
            "/usr/bin/roost run --name systemd-%N --replace --rm --cgroups=split --sdnotify=conmon -d -v systemd-data:/srv:ro --publish 8080:80 --env A=1 --env \"B=x y\" busybox httpd -f -p 80"
        ]
    );
    assert_eq!(service_lines(t, "Type"), ["notify"]);
    assert_eq!(service_lines(t, "NotifyAccess"), ["all"]);
    assert_eq!(service_lines(t, "KillMode"), ["mixed"]);
    assert_eq!(service_lines(t, "Delegate"), ["yes"]);
    assert_eq!(service_lines(t, "Environment"), ["PODMAN_SYSTEMD_UNIT=%n"]);
    assert_eq!(
        service_lines(t, "ExecStop"),
        ["/usr/bin/roost rm -v -f -i systemd-%N"]
    );
    assert_eq!(
        service_lines(t, "ExecStopPost"),
        ["-/usr/bin/roost rm -v -f -i systemd-%N"]
    );
    assert_eq!(service_lines(t, "Requires"), ["data-volume.service"]);
    assert_eq!(service_lines(t, "After"), ["data-volume.service"]);
    assert!(t.contains("[X-Container]\nImage=busybox\n"), "{t}");
    assert_eq!(
        web.links,
        [PathBuf::from("default.target.wants/web.service")]
    );
    let vol = g
        .units
        .iter()
        .find(|u| u.service == "data-volume.service")
        .unwrap();
    assert_eq!(
        service_lines(&vol.text, "ExecStart"),
        ["/usr/bin/roost volume create --ignore systemd-data"]
    );
    assert_eq!(service_lines(&vol.text, "Type"), ["oneshot"]);
    assert_eq!(service_lines(&vol.text, "RemainAfterExit"), ["yes"]);
}

#[test]
fn unknown_keys_and_missing_references_name_the_line() {
    let d = tempfile::tempdir().unwrap();
    let s = source(d.path(), "a.container", "[Container]\nImage=x\nimage=y\n");
    let g = generate(&[s], &settings());
    let e = g.errors[0].to_string();
    assert!(
        e.contains("a.container:3") && e.contains("`image`") && e.contains("`Image`"),
        "{e}"
    );
    let s = source(
        d.path(),
        "b.container",
        "[Container]\nImage=x\nVolume=nope.volume:/d\n",
    );
    let e = generate(&[s], &settings()).errors[0].to_string();
    assert!(
        e.contains("b.container:3") && e.contains("nope.volume"),
        "{e}"
    );
    let s = source(d.path(), "c.container", "[Container]\nExec=true\n");
    let e = generate(&[s], &settings()).errors[0].to_string();
    assert!(e.contains("no Image or Rootfs"), "{e}");
}

#[test]
fn templates_notify_and_oneshot() {
    let d = tempfile::tempdir().unwrap();
    let s = source(
        d.path(),
        "app@.container",
        "[Container]\nImage=x\nNotify=healthy\nHealthCmd=true\n[Install]\nWantedBy=default.target\nDefaultInstance=one\n",
    );
    let o = source(
        d.path(),
        "job.container",
        "[Container]\nImage=x\n[Service]\nType=oneshot\n",
    );
    let g = generate(&[s, o], &settings());
    assert!(g.errors.is_empty(), "{:?}", g.errors);
    let app = &g.units[0];
    assert_eq!(app.service, "app@.service");
    assert!(app.text.contains("--name systemd-%p_%i"), "{}", app.text);
    assert!(app.text.contains("--sdnotify=healthy -d"), "{}", app.text);
    assert!(app.text.contains("--health-cmd true"), "{}", app.text);
    assert_eq!(
        app.links,
        [PathBuf::from("default.target.wants/app@one.service")]
    );
    let job = &g.units[1];
    assert!(!job.text.contains("--sdnotify"), "{}", job.text);
    assert!(!job.text.contains(" -d "), "{}", job.text);
}

#[test]
fn install_section_becomes_links_and_unit_references_are_translated() {
    let d = tempfile::tempdir().unwrap();
    let db = source(d.path(), "db.container", "[Container]\nImage=x\n");
    let app = source(
        d.path(),
        "app.container",
        "[Unit]\nAfter=db.container network.target\n[Container]\nImage=x\n[Install]\nWantedBy=default.target\nRequiredBy=multi.target\nAlias=web-app.service\n",
    );
    let g = generate(&[db, app], &settings());
    assert!(g.errors.is_empty(), "{:?}", g.errors);
    let app = g.units.iter().find(|u| u.service == "app.service").unwrap();
    assert_eq!(
        app.links,
        [
            PathBuf::from("default.target.wants/app.service"),
            PathBuf::from("multi.target.requires/app.service"),
            PathBuf::from("web-app.service"),
        ]
    );
    assert_eq!(
        service_lines(&app.text, "After"),
        ["db.service network.target"]
    );
}
