//! Hostile layers: each is wrapped in a hand-made docker-archive and loaded. Path escapes must be
//! refused with an error naming the entry, and nothing may be written outside the store's layer
//! directories (no marker file anywhere, no staging left in `tmp/`).
//!
//! The tarballs are written byte by byte (a tiny ustar writer below): the `tar` crate refuses to
//! build most of these entries.

use std::fs;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::harness::{Env, OutputExt, assert_no_leaks, run_with_timeout};
use crate::store::{assert_no_staging, image_ids, layer_dirs, store_root};

// --- a minimal ustar writer -------------------------------------------------------------------

#[derive(Clone)]
struct Entry {
    name: String,
    kind: u8,
    mode: u32,
    data: Vec<u8>,
    link: String,
    dev: (u32, u32),
}

fn file(name: &str, data: &[u8]) -> Entry {
    Entry {
        name: name.into(),
        kind: b'0',
        mode: 0o644,
        data: data.to_vec(),
        link: String::new(),
        dev: (0, 0),
    }
}
fn dir(name: &str) -> Entry {
    Entry {
        kind: b'5',
        mode: 0o755,
        ..file(name, b"")
    }
}
fn symlink(name: &str, target: &str) -> Entry {
    Entry {
        kind: b'2',
        mode: 0o777,
        link: target.into(),
        ..file(name, b"")
    }
}
fn hardlink(name: &str, target: &str) -> Entry {
    Entry {
        kind: b'1',
        link: target.into(),
        ..file(name, b"")
    }
}
fn device(name: &str, kind: u8, major: u32, minor: u32) -> Entry {
    Entry {
        kind,
        mode: 0o666,
        dev: (major, minor),
        ..file(name, b"")
    }
}

fn octal(field: &mut [u8], value: u64) {
    let s = format!("{:0width$o}\0", value, width = field.len() - 1);
    assert_eq!(s.len(), field.len(), "value {value} does not fit");
    field.copy_from_slice(s.as_bytes());
}

fn header(e: &Entry) -> [u8; 512] {
    let mut h = [0u8; 512];
    assert!(e.link.len() <= 100, "link too long for ustar: {}", e.link);
    // Long names go into ustar's 155-byte prefix field, split at a slash.
    let (prefix, name) = if e.name.len() <= 100 {
        ("", e.name.as_str())
    } else {
        let cut = e.name[..e.name.len().min(156)]
            .rfind('/')
            .filter(|&i| e.name.len() - i - 1 <= 100)
            .unwrap_or_else(|| panic!("name too long for ustar: {}", e.name));
        (&e.name[..cut], &e.name[cut + 1..])
    };
    h[..name.len()].copy_from_slice(name.as_bytes());
    h[345..345 + prefix.len()].copy_from_slice(prefix.as_bytes());
    octal(&mut h[100..108], u64::from(e.mode));
    octal(&mut h[108..116], 0);
    octal(&mut h[116..124], 0);
    octal(&mut h[124..136], e.data.len() as u64);
    octal(&mut h[136..148], 1_700_000_000);
    h[156] = e.kind;
    h[157..157 + e.link.len()].copy_from_slice(e.link.as_bytes());
    h[257..263].copy_from_slice(b"ustar\0");
    h[263..265].copy_from_slice(b"00");
    h[265..269].copy_from_slice(b"root");
    h[297..301].copy_from_slice(b"root");
    octal(&mut h[329..337], u64::from(e.dev.0));
    octal(&mut h[337..345], u64::from(e.dev.1));
    h[148..156].copy_from_slice(b"        ");
    let sum: u32 = h.iter().map(|&b| u32::from(b)).sum();
    let ck = format!("{sum:06o}\0 ");
    h[148..156].copy_from_slice(ck.as_bytes());
    h
}

fn tar(entries: &[Entry]) -> Vec<u8> {
    let mut out = Vec::new();
    for e in entries {
        out.extend_from_slice(&header(e));
        out.extend_from_slice(&e.data);
        out.resize(out.len().div_ceil(512) * 512, 0);
    }
    out.resize(out.len() + 1024, 0);
    out
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// A docker-archive holding one image `localhost/NAME:latest` with `layer` as its only layer.
/// `diff_id` overrides the (correct) digest written in the config.
fn docker_archive(name: &str, layer: &[u8], diff_id: Option<&str>) -> Vec<u8> {
    let diff_id = diff_id.map_or_else(|| format!("sha256:{}", sha256_hex(layer)), str::to_string);
    let config = serde_json::json!({
        "architecture": "amd64",
        "os": "linux",
        "created": "2024-01-01T00:00:00Z",
        "config": {"Cmd": ["sh"]},
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
        "history": [{"created": "2024-01-01T00:00:00Z", "created_by": "hostile test"}],
    })
    .to_string()
    .into_bytes();
    let config_name = format!("{}.json", sha256_hex(&config));
    let layer_name = format!("{}/layer.tar", sha256_hex(layer));
    let manifest = serde_json::json!([{
        "Config": config_name,
        "RepoTags": [format!("localhost/{name}:latest")],
        "Layers": [layer_name],
    }])
    .to_string()
    .into_bytes();
    let layer_dir = layer_name.trim_end_matches("/layer.tar").to_string() + "/";
    tar(&[
        file(&config_name, &config),
        dir(&layer_dir),
        file(&layer_name, layer),
        file("manifest.json", &manifest),
    ])
}

// --- the checks -------------------------------------------------------------------------------

/// Every path under `root` whose file name contains `needle` (the test runs as root and sees all).
fn find_named(root: &Path, needle: &str) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = fs::read_dir(&d) else { continue };
        for e in rd.flatten() {
            let p = e.path();
            if e.file_name().to_string_lossy().contains(needle) {
                found.push(p.clone());
            }
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                stack.push(p);
            }
        }
    }
    found
}

fn load(
    env: &Env,
    code: i32,
    what: &str,
    layer: &[u8],
    diff_id: Option<&str>,
) -> std::process::Output {
    let path = env.home.join(format!("{what}.tar"));
    fs::write(&path, docker_archive(&env.safename(what), layer, diff_id)).unwrap();
    env.roost(code, &["load", "-i", path.to_str().unwrap()])
}

/// Loads `entries` as a layer and expects a refusal naming `culprit`; then checks that no file
/// called `marker` exists anywhere in the env's tree, in /tmp, or in the store.
fn assert_refused(env: &Env, what: &str, entries: &[Entry], culprit: &str, marker: &str) {
    let out = load(env, 125, what, &tar(entries), None);
    let err = out.stderr_text();
    eprintln!("{what}: {}", err.trim());
    assert!(err.starts_with("Error: "), "{what}: {err}");
    assert!(!err.contains("panicked"), "{what}: {err}");
    assert!(
        err.contains(culprit),
        "{what}: the error does not name `{culprit}`:\n{err}"
    );
    assert_nothing_escaped(env, what, marker);
    assert!(image_ids(env).is_empty(), "{what}: an image was recorded");
    assert!(layer_dirs(env).is_empty(), "{what}: a layer was stored");
}

fn assert_nothing_escaped(env: &Env, what: &str, marker: &str) {
    let mut found = find_named(&env.root, marker);
    found.extend(
        find_named(Path::new("/tmp"), marker)
            .into_iter()
            .filter(|p| !p.starts_with(&env.root)),
    );
    // `/home`, `/etc` (hardlink/symlink targets) must be untouched too.
    found.extend(find_named(Path::new("/etc"), marker));
    assert!(
        found.is_empty(),
        "{what}: written outside the layer: {found:?}"
    );
    assert_no_staging(env, what);
}

#[test]
fn dotdot_paths_are_refused() {
    let env = Env::new("dotdot_paths_are_refused");
    let m = env.safename("evil1");
    assert_refused(&env, "dotdot", &[file(&format!("../{m}"), b"x")], "..", &m);
    let m = env.safename("evil2");
    assert_refused(
        &env,
        "nested-dotdot",
        &[dir("a/"), file(&format!("a/../../{m}"), b"x")],
        "..",
        &m,
    );
    let m = env.safename("evil3");
    assert_refused(
        &env,
        "deep-dotdot",
        &[
            dir("a/"),
            dir("a/b/"),
            file(&format!("a/b/../../../../../../../../tmp/{m}"), b"x"),
        ],
        "..",
        &m,
    );
    assert_no_leaks(&env);
}

#[test]
fn hardlink_escapes_are_refused() {
    let env = Env::new("hardlink_escapes_are_refused");
    let m = env.safename("hl1");
    assert_refused(
        &env,
        "hardlink-dotdot",
        &[
            dir("etc/"),
            hardlink(&format!("etc/{m}"), "../../etc/passwd"),
        ],
        "../../etc/passwd",
        &m,
    );
    let m = env.safename("hl2");
    assert_refused(
        &env,
        "hardlink-absolute-outside",
        &[hardlink(&m, "/etc/passwd")],
        &m,
        &m,
    );
    // A symlink to the root, then a hard link whose target goes through it.
    let m = env.safename("hl3");
    assert_refused(
        &env,
        "hardlink-through-symlink",
        &[symlink("root", "/"), hardlink(&m, "root/etc/passwd")],
        &m,
        &m,
    );
    // Nothing outside was linked into the store.
    let passwd = fs::metadata("/etc/passwd").unwrap();
    assert_eq!(
        std::os::unix::fs::MetadataExt::nlink(&passwd),
        1,
        "/etc/passwd gained a link"
    );
    assert_no_leaks(&env);
}

/// Absolute names and writes through symlinks must never land outside. podman (containers/storage)
/// unpacks them *inside* the layer (chroot semantics); refusing is stricter and also fine. Either
/// way nothing may appear at the outside target.
#[test]
fn absolute_and_symlinked_paths_stay_inside() {
    let env = Env::new("absolute_and_symlinked_paths_stay_inside");
    let outside = env.home.clone();
    let outside = outside
        .to_str()
        .unwrap()
        .trim_start_matches('/')
        .to_string();
    let cases: Vec<(&str, Vec<Entry>, String)> = {
        let m1 = env.safename("abs");
        let m2 = env.safename("viaroot");
        let m3 = env.safename("viadotdot");
        let m4 = env.safename("chain");
        vec![
            (
                "absolute",
                vec![file(&format!("/{outside}/{m1}"), b"x")],
                m1,
            ),
            (
                "symlink-to-root",
                vec![symlink("l", "/"), file(&format!("l/{outside}/{m2}"), b"x")],
                m2,
            ),
            (
                "symlink-to-dotdot",
                vec![
                    symlink("up", "../../../../../../../../.."),
                    file(&format!("up/{outside}/{m3}"), b"x"),
                ],
                m3,
            ),
            (
                "symlink-chain",
                vec![
                    dir("d/"),
                    symlink("d/a", "../b"),
                    symlink("b", "/"),
                    file(&format!("d/a/{outside}/{m4}"), b"x"),
                ],
                m4,
            ),
        ]
    };
    for (what, entries, marker) in cases {
        let path = env.home.join(format!("{what}.tar"));
        fs::write(
            &path,
            docker_archive(&env.safename(what), &tar(&entries), None),
        )
        .unwrap();
        let mut cmd = env.roost_cmd(&["load", "-i", path.to_str().unwrap()]);
        let out = run_with_timeout(&mut cmd, None, env.timeout).unwrap();
        let err = out.stderr_text();
        eprintln!("{what}: {} {}", out.status, err.trim());
        match out.status.code() {
            Some(0) => {}
            Some(125) => assert!(
                err.starts_with("Error: ") && !err.contains("panicked"),
                "{what}: {err}"
            ),
            other => panic!("{what}: exit {other:?}:\n{err}"),
        }
        // Anything called `marker` must be inside a stored layer.
        let layers = store_root(&env).join("layers");
        let mut found = find_named(Path::new("/tmp"), &marker);
        found.extend(find_named(Path::new("/etc"), &marker));
        found.retain(|p| !p.starts_with(&layers));
        assert!(
            found.is_empty(),
            "{what}: written outside the layer: {found:?}"
        );
        assert_no_staging(&env, what);
    }
    assert_no_leaks(&env);
}

#[test]
fn device_nodes_are_skipped_like_podman() {
    let env = Env::new("device_nodes_are_skipped_like_podman");
    let layer = tar(&[
        dir("dev/"),
        device("dev/null", b'3', 1, 3),
        device("dev/sda", b'4', 8, 0),
        file("etc-ok", b"fine\n"),
    ]);
    let out = load(&env, 0, "devices", &layer, None);
    assert!(
        out.stdout_text().starts_with("Loaded image: "),
        "{}",
        out.stdout_text()
    );
    let layers = layer_dirs(&env);
    assert_eq!(layers.len(), 1);
    let diff = store_root(&env)
        .join("layers")
        .join(&layers[0])
        .join("diff");
    assert!(diff.join("etc-ok").is_file());
    for dev in ["dev/null", "dev/sda"] {
        assert!(
            fs::symlink_metadata(diff.join(dev)).is_err(),
            "{dev} was created in the layer"
        );
    }
    assert_no_staging(&env, "load with device nodes");
    assert_no_leaks(&env);
}

#[test]
fn layer_not_matching_its_diff_id_is_refused() {
    let env = Env::new("layer_not_matching_its_diff_id_is_refused");
    let layer = tar(&[file("hello", b"hi\n")]);
    let wrong = format!("sha256:{}", sha256_hex(b"something else"));
    let out = load(&env, 125, "mismatch", &layer, Some(&wrong));
    let err = out.stderr_text();
    assert!(err.starts_with("Error: "), "{err}");
    assert!(
        err.contains(&sha256_hex(b"something else")[..12]) || err.to_lowercase().contains("digest"),
        "the error does not explain the mismatch:\n{err}"
    );
    assert!(image_ids(&env).is_empty());
    assert!(layer_dirs(&env).is_empty());
    assert_no_staging(&env, "a refused layer");

    // The same archive with the right diff_id loads (the builder itself is sound).
    let out = load(&env, 0, "good", &layer, None);
    assert!(
        out.stdout_text().contains(&env.safename("good")),
        "{}",
        out.stdout_text()
    );
    assert_no_leaks(&env);
}

// --- hostile registries -----------------------------------------------------------------------

/// What the fake registry answers to one request.
struct Reply {
    status: u16,
    content_type: &'static str,
    body: Vec<u8>,
    /// Send only this many body bytes (after announcing all of them), then keep the connection
    /// open without sending anything until the client hangs up.
    stall_after: Option<usize>,
}

fn reply(status: u16, content_type: &'static str, body: Vec<u8>) -> Reply {
    Reply {
        status,
        content_type,
        body,
        stall_after: None,
    }
}

type Paths = std::sync::Arc<std::sync::Mutex<Vec<String>>>;

/// A plain-http registry on 127.0.0.1 (an ephemeral port), one thread per connection; returns
/// the `127.0.0.1:PORT` it listens on and the request paths it saw.
fn fake_registry(handler: impl Fn(&str) -> Reply + Send + Sync + 'static) -> (String, Paths) {
    use std::io::{BufRead as _, BufReader, Read as _, Write as _};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = format!("127.0.0.1:{}", listener.local_addr().unwrap().port());
    let seen = Paths::default();
    let log = seen.clone();
    let handler = std::sync::Arc::new(handler);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let (handler, log) = (handler.clone(), log.clone());
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut line = String::new();
                if reader.read_line(&mut line).is_err() {
                    return;
                }
                loop {
                    let mut h = String::new();
                    if reader.read_line(&mut h).is_err() || h.trim().is_empty() {
                        break;
                    }
                }
                let path = line.split_whitespace().nth(1).unwrap_or("").to_string();
                log.lock().unwrap().push(path.clone());
                let r = handler(&path);
                let head = format!(
                    "HTTP/1.1 {} X\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    r.status,
                    r.content_type,
                    r.body.len()
                );
                let _ = stream.write_all(head.as_bytes());
                let _ = stream.write_all(&r.body[..r.stall_after.unwrap_or(r.body.len())]);
                let _ = stream.flush();
                if r.stall_after.is_some() {
                    let _ = reader.read_to_end(&mut Vec::new());
                }
            });
        }
    });
    (addr, seen)
}

/// An image of one layer (`layer`, announced as `layer_size` bytes) as the fake registry serves it:
/// `/v2/hostile/manifests/latest`, the config blob, and the layer blob through `layer_reply`.
fn image_registry(
    layer: Vec<u8>,
    layer_size: u64,
    layer_reply: impl Fn(&[u8]) -> Reply + Send + Sync + 'static,
) -> (String, Paths, String) {
    let diff_id = format!("sha256:{}", sha256_hex(&layer));
    let config = serde_json::json!({
        "architecture": "amd64", "os": "linux",
        "config": {"Cmd": ["sh"]},
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
    })
    .to_string()
    .into_bytes();
    let config_digest = format!("sha256:{}", sha256_hex(&config));
    let layer_digest = format!("sha256:{}", sha256_hex(&layer));
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": config_digest, "size": config.len()},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar",
                    "digest": layer_digest, "size": layer_size}],
    })
    .to_string()
    .into_bytes();
    let blob_path = format!("/v2/hostile/blobs/{layer_digest}");
    let config_path = format!("/v2/hostile/blobs/{config_digest}");
    let (addr, seen) = fake_registry(move |path| match path {
        "/v2/" => reply(200, "application/json", b"{}".to_vec()),
        "/v2/hostile/manifests/latest" => reply(
            200,
            "application/vnd.oci.image.manifest.v1+json",
            manifest.clone(),
        ),
        p if p == config_path => reply(200, "application/octet-stream", config.clone()),
        p if p == blob_path => layer_reply(&layer),
        _ => reply(404, "application/json", b"{}".to_vec()),
    });
    (addr, seen, layer_digest)
}

#[test]
fn a_blob_larger_than_the_free_space_is_refused_before_download() {
    let env = Env::new("a_blob_larger_than_the_free_space_is_refused_before_download");
    // The descriptor claims 1 PiB; the registry would happily stream it.
    let (addr, seen, digest) = image_registry(tar(&[file("a", b"a")]), 1 << 50, |_| {
        reply(200, "application/octet-stream", vec![0; 4 << 20])
    });
    let image = format!("{addr}/hostile:latest");
    let out = env.roost(125, &["pull", "-q", "--tls-verify=false", &image]);
    let err = out.stderr_text();
    assert!(err.starts_with("Error: "), "{err}");
    assert!(err.contains("not enough space"), "{err}");
    assert!(err.contains(&digest) && err.contains(&addr), "{err}");
    assert!(
        err.contains("1125899906842624"),
        "the size is not named: {err}"
    );
    assert!(
        !seen.lock().unwrap().iter().any(|p| p.ends_with(&digest)),
        "the blob was requested: {:?}",
        seen.lock().unwrap()
    );
    assert!(image_ids(&env).is_empty() && layer_dirs(&env).is_empty());
    assert_no_staging(&env, "a refused pull");
    assert_no_leaks(&env);
}

#[test]
fn a_registry_that_stalls_mid_blob_is_given_up_after_the_timeout() {
    let env = Env::new("a_registry_that_stalls_mid_blob_is_given_up_after_the_timeout");
    let layer = tar(&[file("big", &vec![7u8; 200_000])]);
    let size = layer.len() as u64;
    let (addr, seen, digest) = image_registry(layer, size, |layer| Reply {
        stall_after: Some(layer.len() / 2),
        ..reply(200, "application/octet-stream", layer.to_vec())
    });
    let image = format!("{addr}/hostile:latest");
    let mut cmd = env.roost_cmd(&["pull", "-q", "--tls-verify=false", "--retry=1", &image]);
    cmd.env("ROOST_REGISTRY_TIMEOUT", "1");
    let out = run_with_timeout(&mut cmd, None, env.timeout).unwrap();
    let err = out.stderr_text();
    assert_eq!(out.status.code(), Some(125), "{err}");
    assert!(err.contains("sent nothing for 1 s"), "{err}");
    assert!(err.contains(&digest) && err.contains(&addr), "{err}");
    assert!(
        err.contains("Hint: ") && err.contains("ROOST_REGISTRY_TIMEOUT"),
        "{err}"
    );
    let blob_gets = seen
        .lock()
        .unwrap()
        .iter()
        .filter(|p| p.ends_with(&digest))
        .count();
    assert_eq!(blob_gets, 2, "one try and one resume");
    assert!(image_ids(&env).is_empty() && layer_dirs(&env).is_empty());
    assert_no_staging(&env, "a stalled pull");

    // A bad setting is refused up front.
    let mut cmd = env.roost_cmd(&["pull", "-q", "--tls-verify=false", &image]);
    cmd.env("ROOST_REGISTRY_TIMEOUT", "soon");
    let out = run_with_timeout(&mut cmd, None, env.timeout).unwrap();
    assert_eq!(out.status.code(), Some(125));
    assert!(
        out.stderr_text().contains("ROOST_REGISTRY_TIMEOUT"),
        "{}",
        out.stderr_text()
    );
    assert_no_leaks(&env);
}

/// stderr carries no terminal control characters but newlines, and stays short.
fn assert_clean_and_short(what: &str, err: &str) {
    assert!(err.starts_with("Error: "), "{what}: {err:?}");
    assert!(
        !err.chars().any(|c| c.is_control() && c != '\n'),
        "{what}: control characters reach the terminal: {err:?}"
    );
    assert!(!err.contains('\u{fffd}'), "{what}: binary junk: {err:?}");
    assert!(err.len() < 1000, "{what}: {} bytes of error", err.len());
}

#[test]
fn unreadable_archives_are_named_and_nothing_binary_is_echoed() {
    let env = Env::new("unreadable_archives_are_named_and_nothing_binary_is_echoed");
    // Bytes that look like a tar header full of junk and terminal escapes.
    let junk: Vec<u8> = (0..8192u32)
        .map(|i| match i % 7 {
            0 => 0x1b,
            1 => b'[',
            2 => 0xff,
            _ => (i.wrapping_mul(2_654_435_761) >> 24) as u8,
        })
        .collect();
    let path = env.home.join("junk.tar");
    fs::write(&path, &junk).unwrap();
    let out = env.roost(125, &["load", "-i", path.to_str().unwrap()]);
    let err = out.stderr_text();
    assert_clean_and_short("junk", &err);
    assert!(err.contains(path.to_str().unwrap()), "{err}");
    assert!(err.contains("not a docker-archive or oci-archive"), "{err}");

    // A good archive cut short in the middle of its layer.
    let layer = tar(&[file("big", &vec![b'x'; 100_000])]);
    let whole = docker_archive(&env.safename("cut"), &layer, None);
    let cut = 60_000;
    let path = env.home.join("cut.tar");
    fs::write(&path, &whole[..cut]).unwrap();
    let out = env.roost(125, &["load", "-i", path.to_str().unwrap()]);
    let err = out.stderr_text();
    assert_clean_and_short("truncated", &err);
    assert!(err.contains(path.to_str().unwrap()), "{err}");
    assert!(
        err.contains(&format!(
            "truncated archive: unexpected end of file after {cut} bytes"
        )),
        "{err}"
    );

    // An entry name with escapes in it is quoted escaped.
    let evil = tar(&[file("../\x1b]0;pwned\x07\x1b[2J", b"x")]);
    let path = env.home.join("evil.tar");
    fs::write(&path, &evil).unwrap();
    let out = env.roost(125, &["load", "-i", path.to_str().unwrap()]);
    let err = out.stderr_text();
    assert_clean_and_short("escapes", &err);
    assert!(err.contains("\\u{1b}]0;pwned"), "{err}");
    assert!(image_ids(&env).is_empty() && layer_dirs(&env).is_empty());
    assert_no_staging(&env, "unreadable archives");
    assert_no_leaks(&env);
}

// --- hostile Containerfiles -------------------------------------------------------------------

/// A build context holding `containerfile`, owned by the test user.
fn build_context(env: &Env, what: &str, containerfile: &str) -> PathBuf {
    let dir = env.home.join(format!("ctx-{what}"));
    fs::create_dir_all(&dir).unwrap();
    fs::write(dir.join("Containerfile"), containerfile).unwrap();
    let u = env.user();
    if u.switch {
        for p in [dir.join("Containerfile"), dir.clone()] {
            std::os::unix::fs::chown(&p, Some(u.uid), Some(u.gid)).unwrap();
        }
    }
    dir
}

/// `ARG A=$A$A` doubling `doublings` times after `ARG A=` of 64 bytes, before or after `FROM`.
fn doubling(doublings: usize, before_from: bool) -> String {
    let mut args = format!("ARG A={}\n", "x".repeat(64));
    args.push_str(&"ARG A=$A$A\n".repeat(doublings));
    if before_from {
        format!("{args}FROM scratch\nLABEL a=b\n")
    } else {
        format!("FROM scratch\n{args}LABEL a=b\n")
    }
}

#[test]
fn self_doubling_args_are_capped_with_the_line() {
    let env = Env::new("self_doubling_args_are_capped_with_the_line");
    // 64 bytes doubled 14 times is 1 MiB exactly (allowed), 15 times is over.
    let dir = build_context(&env, "ok", &doubling(14, false));
    env.roost(
        0,
        &[
            "build",
            "-q",
            "-t",
            &env.safename("ok"),
            dir.to_str().unwrap(),
        ],
    );
    for (what, before_from, line) in [("after", false, 17), ("before", true, 16)] {
        let dir = build_context(&env, what, &doubling(24, before_from));
        let out = env.roost(125, &["build", "-q", dir.to_str().unwrap()]);
        let err = out.stderr_text();
        assert_clean_and_short(what, &err);
        assert!(
            err.contains(&format!(
                "Containerfile:{line}: expanding `$A$A` makes more than 1048576 bytes"
            )),
            "{what}: {err}"
        );
    }
    // Many lines, each under the cap, are bounded all together.
    let mut many = doubling(14, false).replace("LABEL a=b\n", "");
    for i in 0..80 {
        many.push_str(&format!("ARG B{i}=$A\n"));
    }
    let dir = build_context(&env, "many", &many);
    let out = env.roost(125, &["build", "-q", dir.to_str().unwrap()]);
    let err = out.stderr_text();
    assert_clean_and_short("many", &err);
    assert!(
        err.contains("Containerfile:79: variable expansion in this build makes more than 67108864 bytes in all"),
        "{err}"
    );
    assert_no_leaks(&env);
}

#[test]
fn huge_instructions_are_cut_in_errors() {
    let env = Env::new("huge_instructions_are_cut_in_errors");
    crate::store::pull(&env, "busybox");
    // Under the kernel's 128 KiB limit for one argument, so the RUN does run (and fails).
    let filler = "y".repeat(100_000);
    let df = format!(
        "FROM {}\nRUN exit 3 # {filler}\n",
        crate::harness::image("busybox")
    );
    let dir = build_context(&env, "run", &df);
    let out = env.roost(3, &["build", "-q", dir.to_str().unwrap()]);
    let err = out.stderr_text();
    assert_clean_and_short("run", &err);
    assert!(
        err.contains("building at STEP \"RUN exit 3 # yyy")
            && err.contains(&format!("… ({} bytes)", filler.len() + 13)),
        "{err}"
    );
    let dir = build_context(&env, "bogus", &format!("FROM scratch\nBOGUS{filler} x\n"));
    let out = env.roost(125, &["build", "-q", dir.to_str().unwrap()]);
    let err = out.stderr_text();
    assert_clean_and_short("bogus", &err);
    assert!(
        err.contains("Containerfile:2: unknown instruction `BOGUSyyy"),
        "{err}"
    );
    assert_no_leaks(&env);
}
