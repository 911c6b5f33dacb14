//! A read-only merged view of a layer stack without mounting it: what overlayfs would show, computed
//! from the layer directories (whiteouts are 0/0 character devices, opaque directories carry
//! `user.overlay.opaque`). Used to resolve COPY destinations and `--chown` names, and to read the
//! sources of `COPY --from`.
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

/// Layer directories, top first.
pub struct LayerView {
    layers: Vec<PathBuf>,
}

fn is_whiteout(m: &std::fs::Metadata) -> bool {
    m.file_type().is_char_device() && m.rdev() == 0
}

fn is_opaque(p: &Path) -> bool {
    let mut buf = [0u8; 4];
    matches!(
        rustix::fs::lgetxattr(p, crate::archive::OPAQUE_XATTR, &mut buf),
        Ok(1) if buf[0] == b'y'
    )
}

fn components(rel: &str) -> Vec<&str> {
    rel.split('/')
        .filter(|c| !c.is_empty() && *c != ".")
        .collect()
}

impl LayerView {
    pub fn new(layers: Vec<PathBuf>) -> LayerView {
        LayerView { layers }
    }

    /// The host path and metadata of `rel` (no symlinks followed), as the merged view shows it.
    pub fn lookup(&self, rel: &str) -> Option<(PathBuf, std::fs::Metadata)> {
        let parts = components(rel);
        'layers: for layer in &self.layers {
            // An ancestor that is a whiteout, a non-directory or opaque in this layer hides lower ones.
            let mut p = layer.clone();
            let mut stop_after = false;
            for (i, c) in parts.iter().enumerate() {
                p.push(c);
                match std::fs::symlink_metadata(&p) {
                    Ok(m) if is_whiteout(&m) => return None,
                    Ok(m) if i + 1 == parts.len() => return Some((p, m)),
                    Ok(m) if !m.is_dir() => return None,
                    Ok(_) => {
                        if is_opaque(&p) {
                            stop_after = true;
                        }
                    }
                    Err(_) => {
                        if stop_after {
                            return None;
                        }
                        continue 'layers;
                    }
                }
            }
            if parts.is_empty() {
                return std::fs::symlink_metadata(layer).ok().map(|m| (p, m));
            }
            if stop_after {
                return None;
            }
        }
        None
    }

    /// Names in directory `rel`, merged over the layers, sorted.
    pub fn list(&self, rel: &str) -> Vec<String> {
        let mut seen = std::collections::BTreeMap::<String, bool>::new();
        let parts = components(rel);
        for layer in &self.layers {
            let mut p = layer.clone();
            let mut hidden = false;
            for c in &parts {
                p.push(c);
            }
            let Ok(rd) = std::fs::read_dir(&p) else {
                if std::fs::symlink_metadata(&p).is_ok() {
                    break;
                }
                continue;
            };
            for e in rd.flatten() {
                let Some(name) = e.file_name().to_str().map(str::to_string) else {
                    continue;
                };
                if seen.contains_key(&name) {
                    continue;
                }
                let white = e.metadata().map(|m| is_whiteout(&m)).unwrap_or(false);
                seen.insert(name, !white);
            }
            if is_opaque(&p) {
                hidden = true;
            }
            if hidden {
                break;
            }
        }
        seen.into_iter()
            .filter(|(_, v)| *v)
            .map(|(k, _)| k)
            .collect()
    }

    /// Resolve symlinks in `path` (absolute, inside the root), the last component too when
    /// `follow_last`; `..` never leaves the root. Returns a cleaned absolute path.
    pub fn resolve(&self, path: &str, follow_last: bool) -> String {
        let mut todo: Vec<String> = components(path)
            .iter()
            .rev()
            .map(|s| s.to_string())
            .collect();
        let mut done: Vec<String> = Vec::new();
        let mut hops = 0;
        while let Some(c) = todo.pop() {
            if c == ".." {
                done.pop();
                continue;
            }
            let candidate = format!("{}/{}", done.join("/"), c);
            let last = todo.is_empty();
            if (!last || follow_last)
                && hops < 40
                && let Some((p, m)) = self.lookup(&candidate)
                && m.file_type().is_symlink()
                && let Ok(target) = std::fs::read_link(&p)
            {
                hops += 1;
                let t = target.to_string_lossy().into_owned();
                if t.starts_with('/') {
                    done.clear();
                }
                for part in components(&t).iter().rev() {
                    todo.push(part.to_string());
                }
                continue;
            }
            done.push(c);
        }
        format!("/{}", done.join("/"))
    }

    /// A small text file (passwd, group) from the view.
    pub fn read_to_string(&self, rel: &str) -> Option<String> {
        let resolved = self.resolve(rel, true);
        let (p, m) = self.lookup(&resolved)?;
        if !m.is_file() {
            return None;
        }
        std::fs::read_to_string(p).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    #[test]
    fn merges_layers() {
        let t = tempfile::tempdir().unwrap();
        let low = t.path().join("low");
        let top = t.path().join("top");
        std::fs::create_dir_all(low.join("etc")).unwrap();
        std::fs::create_dir_all(low.join("usr/lib")).unwrap();
        std::fs::write(low.join("etc/passwd"), "root:x:0:0::/root:/bin/sh\n").unwrap();
        std::fs::write(low.join("etc/old"), "").unwrap();
        std::fs::write(low.join("usr/lib/libc"), "").unwrap();
        symlink("usr/lib", low.join("lib")).unwrap();
        std::fs::create_dir_all(top.join("etc")).unwrap();
        std::fs::write(top.join("etc/new"), "").unwrap();
        let v = LayerView::new(vec![top.clone(), low.clone()]);
        assert_eq!(v.list("/etc"), ["new", "old", "passwd"]);
        assert!(v.lookup("etc/passwd").is_some());
        assert!(v.lookup("etc/nope").is_none());
        assert_eq!(v.resolve("/lib/x", false), "/usr/lib/x");
        assert_eq!(v.resolve("/lib", false), "/lib");
        assert_eq!(v.resolve("/lib", true), "/usr/lib");
        assert_eq!(v.resolve("/../../etc", true), "/etc");
        assert!(v.read_to_string("/etc/passwd").unwrap().starts_with("root"));
        assert!(v.lookup("lib/libc").is_none()); // lookup itself does not follow links
        assert!(v.lookup("usr/lib/libc").is_some());
    }
}
