//! Content-addressed blobs: manifests, configs and layer blobs, verified before they become visible.
use std::fs::File;
use std::io::{self, Write};
use std::path::PathBuf;

use super::{Result, Store, StoreError};
use crate::oci::{Digest, Sha256Writer};

impl Store {
    pub fn blob_path(&self, d: &Digest) -> PathBuf {
        self.root.join("blobs").join(d.algorithm()).join(d.hex())
    }

    pub fn has_blob(&self, d: &Digest) -> bool {
        self.blob_path(d).is_file()
    }

    pub fn read_blob(&self, d: &Digest) -> Result<Vec<u8>> {
        let p = self.blob_path(d);
        std::fs::read(&p).map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => StoreError::MissingBlob(d.clone()),
            _ => StoreError::io("read", &p, e),
        })
    }

    pub fn open_blob(&self, d: &Digest) -> Result<File> {
        let p = self.blob_path(d);
        File::open(&p).map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => StoreError::MissingBlob(d.clone()),
            _ => StoreError::io("open", &p, e),
        })
    }

    /// Store a small blob whose bytes are in memory, checking its digest.
    pub fn put_blob(&self, expected: &Digest, data: &[u8]) -> Result<()> {
        let mut w = self.blob_writer()?;
        w.write_all(data)
            .map_err(|e| StoreError::io("write", &w.path, e))?;
        w.commit(Some(expected))?;
        Ok(())
    }

    /// A writer that hashes as it writes to a staging file; `commit` moves it into place.
    pub fn blob_writer(&self) -> Result<BlobWriter> {
        let path = self.staging_path("blob");
        let file = File::create(&path).map_err(|e| StoreError::io("create", &path, e))?;
        Ok(BlobWriter {
            file: Some(io::BufWriter::with_capacity(256 * 1024, file)),
            hash: Sha256Writer::new(),
            path,
            store_root: self.root.clone(),
        })
    }
}

/// A blob being written; dropped without `commit`, it leaves nothing behind.
pub struct BlobWriter {
    file: Option<io::BufWriter<File>>,
    hash: Sha256Writer,
    path: PathBuf,
    store_root: PathBuf,
}

impl BlobWriter {
    /// Finish the blob: verify it against `expected` (when given) and rename it to its digest.
    /// Returns the digest and size.
    pub fn commit(mut self, expected: Option<&Digest>) -> Result<(Digest, u64)> {
        let mut file = self.file.take().expect("commit is called once");
        file.flush()
            .map_err(|e| StoreError::io("write", &self.path, e))?;
        let hash = std::mem::take(&mut self.hash);
        let size = hash.len();
        let actual = hash.finish();
        if let Some(exp) = expected
            && *exp != actual
        {
            let _ = std::fs::remove_file(&self.path);
            return Err(StoreError::DigestMismatch {
                expected: exp.clone(),
                actual,
            });
        }
        let dest = self
            .store_root
            .join("blobs")
            .join(actual.algorithm())
            .join(actual.hex());
        if let Err(e) = std::fs::rename(&self.path, &dest) {
            let _ = std::fs::remove_file(&self.path);
            return Err(StoreError::io("rename", &dest, e));
        }
        Ok((actual, size))
    }
}

impl Write for BlobWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.file.as_mut().expect("not committed").write(buf)?;
        self.hash.update(&buf[..n]);
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.file.as_mut().expect("not committed").flush()
    }
}

impl Drop for BlobWriter {
    fn drop(&mut self) {
        if self.file.is_some() {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verified_blobs_only() {
        let t = tempfile::tempdir().unwrap();
        let s = Store::open(t.path()).unwrap();
        let d = Digest::sha256_of(b"hello");
        s.put_blob(&d, b"hello").unwrap();
        assert_eq!(s.read_blob(&d).unwrap(), b"hello");
        let wrong = Digest::sha256_of(b"other");
        assert!(matches!(
            s.put_blob(&wrong, b"hello"),
            Err(StoreError::DigestMismatch { .. })
        ));
        assert!(!s.has_blob(&wrong));
        drop(s);
        assert_eq!(
            std::fs::read_dir(t.path().join("tmp")).unwrap().count(),
            0,
            "no staging left"
        );
    }
}
