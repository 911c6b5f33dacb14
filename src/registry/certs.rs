//! `--cert-dir`: a directory in containers/image's layout (`tlsclientconfig.SetupCertificates`):
//! `*.crt` files are CA certificates trusted besides the system's, and each `NAME.cert` with its
//! `NAME.key` is the client certificate presented to the registry.
use std::path::{Path, PathBuf};

use reqwest::{Certificate, Identity};

use super::error::RegistryError;

/// What a certificate directory holds.
#[derive(Default)]
pub struct CertDir {
    pub roots: Vec<Certificate>,
    pub identity: Option<Identity>,
}

fn bad(path: &Path, why: impl Into<String>) -> RegistryError {
    RegistryError::CertDir {
        path: path.to_path_buf(),
        why: why.into(),
    }
}

fn read(path: &Path) -> Result<Vec<u8>, RegistryError> {
    std::fs::read(path).map_err(|e| bad(path, e.to_string()))
}

/// The directory's files, sorted (so that the first client pair found is always the same one).
fn files(dir: &Path) -> Result<Vec<PathBuf>, RegistryError> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| bad(dir, e.to_string()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    out.sort();
    Ok(out)
}

/// Load `dir`: a `.cert` without its `.key` (or the reverse) is an error, as in podman.
pub fn load(dir: &Path) -> Result<CertDir, RegistryError> {
    let mut c = CertDir::default();
    for f in files(dir)? {
        match f.extension().and_then(|e| e.to_str()) {
            Some("crt") => {
                let certs = Certificate::from_pem_bundle(&read(&f)?)
                    .map_err(|e| bad(&f, format!("not PEM certificates: {e}")))?;
                if certs.is_empty() {
                    return Err(bad(&f, "no PEM certificate in it"));
                }
                c.roots.extend(certs);
            }
            Some("cert") => {
                let key = f.with_extension("key");
                if !key.exists() {
                    return Err(bad(
                        &f,
                        format!("missing key {} for client certificate", key.display()),
                    ));
                }
                if c.identity.is_none() {
                    let mut pem = read(&f)?;
                    pem.push(b'\n');
                    pem.extend(read(&key)?);
                    let id = Identity::from_pem(&pem)
                        .map_err(|e| bad(&f, format!("not a PEM certificate and key: {e}")))?;
                    c.identity = Some(id);
                }
            }
            Some("key") if !f.with_extension("cert").exists() => {
                return Err(bad(
                    &f,
                    format!(
                        "missing client certificate {} for key",
                        f.with_extension("cert").display()
                    ),
                ));
            }
            _ => {}
        }
    }
    Ok(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_or_cert_without_its_pair_is_refused() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("client.key"), "x").unwrap();
        let e = load(d.path()).err().unwrap().to_string();
        assert!(e.contains("missing client certificate"), "{e}");
        std::fs::remove_file(d.path().join("client.key")).unwrap();
        std::fs::write(d.path().join("client.cert"), "x").unwrap();
        let e = load(d.path()).err().unwrap().to_string();
        assert!(e.contains("missing key"), "{e}");
    }

    #[test]
    fn garbage_crt_is_refused_and_other_files_ignored() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("README"), "notes").unwrap();
        assert!(load(d.path()).unwrap().roots.is_empty());
        std::fs::write(d.path().join("ca.crt"), "not a certificate\n").unwrap();
        assert!(load(d.path()).is_err());
        assert!(load(&d.path().join("missing")).is_err());
    }
}
