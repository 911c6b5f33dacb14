//! What shell completion offers beyond object names: paths inside an image or a container (read from
//! the stored layers, nothing mounted), the sysctls a container may set, the host's network
//! interfaces, and the registries to log in to.
use std::path::{Path, PathBuf};

use super::build::view::LayerView;
use crate::store::Store;

/// The file system of image `name` (a name or id) as its layers show it, without mounting them.
pub fn image_view(store: &Store, name: &str) -> Option<LayerView> {
    let id = super::image::lookup(store, name).ok()?;
    let rec = store.image(&id).ok()??;
    let layers = rec
        .layers
        .iter()
        .rev()
        .map(|l| store.layer_diff(l))
        .collect();
    Some(LayerView::new(layers))
}

/// The file system of container `key` (its writable layer over its image's), without mounting it.
pub fn container_view(store: &Store, key: &str) -> Option<LayerView> {
    let c = super::container::find(store, key).ok()?;
    Some(LayerView::new(super::container::storage_dirs(store, &c)))
}

/// Completions of `typed` as a path inside `view`: the entries of the directory it names whose names
/// start with what follows its last `/`, directories with a trailing `/`; a path that names a
/// directory lists that directory (an empty one is offered itself). Relative paths and `..` stay
/// inside the root. The flag is true when the only candidate is a directory (the shell should not add
/// a space after it).
pub fn paths_in(view: &LayerView, typed: &str) -> (Vec<String>, bool) {
    let is_dir = |p: &str| {
        view.lookup(&view.resolve(&format!("/{p}"), true))
            .is_some_and(|(_, m)| m.is_dir())
    };
    let mut typed = if typed.is_empty() {
        "/".to_string()
    } else {
        typed.to_string()
    };
    if !typed.ends_with('/') && is_dir(&typed) {
        typed.push('/');
    }
    let (dir, base) = match typed.rfind('/') {
        Some(i) => (&typed[..=i], &typed[i + 1..]),
        None => ("", typed.as_str()),
    };
    let real = view.resolve(&format!("/{dir}"), true);
    let found: Vec<(String, bool)> = view
        .list(&real)
        .into_iter()
        .filter(|n| n.starts_with(base))
        .map(|n| {
            let path = format!("{dir}{n}");
            let d = is_dir(&path);
            (path, d)
        })
        .collect();
    if found.is_empty() && base.is_empty() && is_dir(dir) {
        return (vec![dir.to_string()], true);
    }
    let no_space = found.len() == 1 && found[0].1;
    let names = found
        .into_iter()
        .map(|(p, d)| if d { format!("{p}/") } else { p })
        .collect();
    (names, no_space)
}

/// The sysctls a container may set ([`crate::engine::container::sysctl`]) that start with `prefix`,
/// as dotted names found under `proc_sys` (`/proc/sys`).
pub fn sysctls(proc_sys: &Path, prefix: &str) -> Vec<String> {
    let mut out: Vec<String> = crate::engine::container::sysctl::IPC_KEYS
        .iter()
        .filter(|k| proc_sys.join(k.replace('.', "/")).exists())
        .map(|k| k.to_string())
        .collect();
    for tree in ["net", "fs/mqueue"] {
        // Only the trees the prefix can reach are walked (`net.` does not need `fs/`).
        let dotted = tree.replace('/', ".");
        if dotted.starts_with(prefix) || prefix.starts_with(&dotted) {
            walk(proc_sys, &proc_sys.join(tree), prefix, &mut out);
        }
    }
    out.retain(|k| k.starts_with(prefix));
    out.sort();
    out
}

fn walk(root: &Path, dir: &Path, prefix: &str, out: &mut Vec<String>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        let path = e.path();
        let Some(name) = path
            .strip_prefix(root)
            .ok()
            .and_then(|p| p.to_str())
            .map(|p| p.replace('/', "."))
        else {
            continue;
        };
        // Skip subtrees that cannot hold a name starting with the prefix.
        if !(name.starts_with(prefix) || prefix.starts_with(&format!("{name}."))) {
            continue;
        }
        match e.file_type() {
            Ok(t) if t.is_dir() => walk(root, &path, prefix, out),
            Ok(_) => out.push(name),
            Err(_) => {}
        }
    }
}

/// The host's network interfaces (`/sys/class/net`), sorted.
pub fn host_interfaces(sys_class_net: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(sys_class_net)
        .map(|rd| {
            rd.flatten()
                .filter_map(|e| e.file_name().to_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// The registries to offer for `login`/`logout`: registries.conf's unqualified-search registries.
pub fn registries(dirs: crate::registry::ConfDirs) -> Vec<String> {
    crate::registry::LazyConf::new(dirs)
        .get()
        .map(|c| c.unqualified_search_registries.clone())
        .unwrap_or_default()
}

/// Where registries.conf is looked for by a user whose configuration home is `config_home`.
pub fn registry_dirs(config_home: &Path, forced: Option<PathBuf>) -> crate::registry::ConfDirs {
    crate::registry::ConfDirs {
        system: PathBuf::from("/etc/containers"),
        user: config_home.join("containers"),
        forced,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree() -> (tempfile::TempDir, LayerView) {
        let d = tempfile::tempdir().unwrap();
        let l = d.path().join("l");
        for p in ["etc", "home", "root", "emptydir", "tmp/sub"] {
            std::fs::create_dir_all(l.join(p)).unwrap();
        }
        std::fs::write(l.join("etc/os-release"), "x").unwrap();
        std::fs::write(l.join("etc/hosts"), "x").unwrap();
        std::fs::write(l.join("tmp/a1"), "x").unwrap();
        std::fs::write(l.join("tmp/a12"), "x").unwrap();
        let v = LayerView::new(vec![l]);
        (d, v)
    }

    #[test]
    fn paths_start_at_the_root_and_descend_into_a_single_directory() {
        let (_d, v) = tree();
        let (all, _) = paths_in(&v, "");
        assert!(all.contains(&"/etc/".to_string()) && all.contains(&"/root/".to_string()));
        let (etc, _) = paths_in(&v, "/etc");
        assert_eq!(etc, ["/etc/hosts", "/etc/os-release"]);
        let (os, _) = paths_in(&v, "/etc/os-");
        assert_eq!(os, ["/etc/os-release"]);
        assert_eq!(paths_in(&v, "e").0, ["emptydir/", "etc/"]);
        assert_eq!(paths_in(&v, "/tmp/a1").0, ["/tmp/a1", "/tmp/a12"]);
        assert_eq!(
            paths_in(&v, "/emptydir"),
            (vec!["/emptydir/".to_string()], true)
        );
        let (up, _) = paths_in(&v, "../../");
        assert!(up.contains(&"../../etc/".to_string()));
    }

    #[test]
    fn sysctls_are_the_namespaced_ones_with_the_prefix() {
        let d = tempfile::tempdir().unwrap();
        for p in [
            "net/ipv4/ip_forward",
            "kernel/shmmax",
            "kernel/hostname",
            "vm/swappiness",
        ] {
            let f = d.path().join(p);
            std::fs::create_dir_all(f.parent().unwrap()).unwrap();
            std::fs::write(f, "1").unwrap();
        }
        assert_eq!(sysctls(d.path(), "net."), ["net.ipv4.ip_forward"]);
        assert_eq!(
            sysctls(d.path(), ""),
            ["kernel.shmmax", "net.ipv4.ip_forward"]
        );
    }
}
