//! Helpers shared by the image-side modules: a read-only view of a test's roost store
//! (`$XDG_DATA_HOME/roost`), checked from outside the user namespace, plus small roost wrappers.

use std::fs;
use std::path::{Path, PathBuf};

use crate::harness::{Env, OutputExt, image, test_user};

/// `$XDG_DATA_HOME/roost`.
pub fn store_root(env: &Env) -> PathBuf {
    env.data.join("roost")
}

/// Sorted names in `dir`; empty when it does not exist (a fresh store has no `layers/` yet).
pub fn entries(dir: &Path) -> Vec<String> {
    let Ok(rd) = fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut names: Vec<String> = rd
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// One directory per stored layer: `layers/<chainid-hex>`.
pub fn layer_dirs(env: &Env) -> Vec<String> {
    entries(&store_root(env).join("layers"))
}

/// Blobs in `blobs/sha256/`.
pub fn blobs(env: &Env) -> Vec<String> {
    entries(&store_root(env).join("blobs/sha256"))
}

/// Staging left in `tmp/`.
pub fn tmp_entries(env: &Env) -> Vec<String> {
    entries(&store_root(env).join("tmp"))
}

/// Panics unless `tmp/` is empty (no staging left behind).
pub fn assert_no_staging(env: &Env, after: &str) {
    let left = tmp_entries(env);
    assert!(
        left.is_empty(),
        "staging left in {} after {after}: {left:?}",
        store_root(env).join("tmp").display()
    );
}

/// First host id of the test user's range in /etc/subuid (or /etc/subgid).
pub fn subid_start(file: &str) -> u32 {
    let user = test_user();
    let text = fs::read_to_string(file).unwrap_or_else(|e| panic!("read {file}: {e}"));
    text.lines()
        .filter_map(|l| {
            let mut f = l.split(':');
            Some((f.next()?, f.next()?.trim().parse::<u32>().ok()?))
        })
        .find(|(who, _)| *who == user.name || *who == user.uid.to_string())
        .map(|(_, start)| start)
        .unwrap_or_else(|| panic!("no {file} entry for {}", user.name))
}

/// `roost pull -q IMAGE` on the anonymous registry; returns the printed image ID.
pub fn pull(env: &Env, name: &str) -> String {
    let out = env.roost(0, &["pull", "-q", &image(name)]);
    let id = out.stdout_text().trim().to_string();
    assert_hex_id(&id);
    id
}

/// Full 64-hex image ID.
pub fn assert_hex_id(id: &str) {
    assert!(
        id.len() == 64
            && id
                .bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()),
        "not a full hex image ID: {id:?}"
    );
}

/// `roost inspect NAME` parsed; the single element of the array.
pub fn inspect(env: &Env, name: &str) -> serde_json::Value {
    let out = env.roost(0, &["inspect", name]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("inspect {name} is not JSON ({e}):\n{}", out.stdout_text()));
    let arr = v.as_array().expect("inspect prints a JSON array");
    assert_eq!(arr.len(), 1, "inspect {name}: one image expected");
    arr[0].clone()
}

/// `roost images -q --no-trunc` lines (full `sha256:` IDs of every image).
pub fn image_ids(env: &Env) -> Vec<String> {
    env.roost(0, &["images", "-q", "--no-trunc"]).stdout_lines()
}
