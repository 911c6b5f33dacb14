//! Turning a layer blob into an unpacked, verified layer: decompress, hash the tar as it streams by,
//! unpack, and check the result against the diff id the image config names.
use std::io::{self, Read};
use std::path::Path;

use crate::archive::{self, ApplyOptions};
use crate::oci::{Digest, Sha256Writer};

use super::EngineError;

/// What unpacking found: the uncompressed tar's digest and size.
pub(crate) struct Unpacked {
    pub diff_id: Digest,
    pub size: u64,
}

/// Decompress `blob` (gzip, zstd or plain tar, sniffed), unpack it into `dest` and return the tar's digest.
/// The stream is read to its very end, so the digest covers trailing padding too.
///
/// Decompression and hashing run on a thread of their own, handing 256 KiB chunks to the unpacker, so
/// a big layer costs about max(gunzip, file writes) instead of their sum. The thread ends before this
/// returns (no thread outlives a pull, so containers are still cloned from a single-threaded process).
pub(crate) fn unpack(
    blob: impl Read + Send,
    dest: &Path,
    opts: &ApplyOptions,
) -> Result<Unpacked, EngineError> {
    std::thread::scope(|scope| {
        let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<u8>>(16);
        let decompressor = scope.spawn(move || -> io::Result<(Digest, u64)> {
            let (_, mut tar) = archive::decompress(blob)?;
            let mut hash = Sha256Writer::new();
            loop {
                let mut buf = vec![0u8; 256 * 1024];
                let n = read_full(&mut tar, &mut buf)?;
                if n == 0 {
                    break;
                }
                buf.truncate(n);
                hash.update(&buf);
                if tx.send(buf).is_err() {
                    // The unpacker stopped (its error is reported); keep reading for nothing.
                    io::copy(&mut tar, &mut io::sink())?;
                    break;
                }
            }
            let len = hash.len();
            Ok((hash.finish(), len))
        });
        let mut chunks = ChunkReader {
            rx,
            current: Vec::new(),
            pos: 0,
        };
        let applied = archive::apply_layer(&mut chunks, dest, opts);
        // Whatever follows the tar's end (padding) still counts for the digest.
        let _ = io::copy(&mut chunks, &mut io::sink());
        drop(chunks);
        let (diff_id, size) = decompressor
            .join()
            .map_err(|_| EngineError::Worker)?
            .map_err(|e| EngineError::io("decompress layer into", dest, e))?;
        applied?;
        Ok(Unpacked { diff_id, size })
    })
}

fn read_full(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// Reads the chunks the decompressor thread sends.
struct ChunkReader {
    rx: std::sync::mpsc::Receiver<Vec<u8>>,
    current: Vec<u8>,
    pos: usize,
}

impl Read for ChunkReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.pos == self.current.len() {
            match self.rx.recv() {
                Ok(chunk) => {
                    self.current = chunk;
                    self.pos = 0;
                }
                Err(_) => return Ok(0),
            }
        }
        let n = buf.len().min(self.current.len() - self.pos);
        buf[..n].copy_from_slice(&self.current[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// A blocking reader over chunks sent from an async task (the download side of a pull).
pub(crate) struct ChannelReader {
    rx: tokio::sync::mpsc::Receiver<bytes::Bytes>,
    current: bytes::Bytes,
}

impl ChannelReader {
    pub(crate) fn new(rx: tokio::sync::mpsc::Receiver<bytes::Bytes>) -> Self {
        ChannelReader {
            rx,
            current: bytes::Bytes::new(),
        }
    }
}

impl Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.current.is_empty() {
            match self.rx.blocking_recv() {
                Some(chunk) => self.current = chunk,
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.current.len());
        buf[..n].copy_from_slice(&self.current.split_to(n));
        Ok(n)
    }
}

/// Check an unpacked layer against the diff id from the image config.
pub(crate) fn verify_diff_id(
    image: &str,
    blob: &Digest,
    expected: &Digest,
    got: &Unpacked,
) -> Result<(), EngineError> {
    if &got.diff_id != expected {
        return Err(EngineError::DiffIdMismatch {
            image: image.to_string(),
            digest: blob.to_string(),
            expected: expected.to_string(),
            actual: got.diff_id.to_string(),
        });
    }
    Ok(())
}

/// A reader that copies what it reads into a blob writer.
struct Tee<'a, R> {
    inner: R,
    blob: &'a mut crate::store::BlobWriter,
}

impl<R: Read> Read for Tee<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        io::Write::write_all(self.blob, &buf[..n])?;
        Ok(n)
    }
}

/// Where a layer sits in its image.
pub(crate) struct LayerSlot {
    pub image: String,
    pub diff_id: Option<Digest>,
    pub chain_id: Option<Digest>,
    pub parent: Option<Digest>,
    pub blob_digest: Option<Digest>,
}

/// The result of ingesting a layer.
pub(crate) struct Ingested {
    pub blob_digest: Digest,
    pub blob_size: u64,
    pub diff_id: Digest,
    pub chain_id: Digest,
    pub size: u64,
    pub media: &'static str,
}

/// Keep a layer blob read from `reader` and unpack it, synchronously (load and import). When the slot
/// names a diff id, the unpacked content must match it; an already stored layer is reused untouched.
pub(crate) fn ingest(
    store: &mut crate::store::Store,
    mut reader: impl Read + Send,
    slot: &LayerSlot,
    opts: &ApplyOptions,
) -> Result<Ingested, EngineError> {
    let _lock = match &slot.chain_id {
        Some(c) => Some(store.lock_layer(c)?),
        None => None,
    };
    if let (Some(chain), Some(diff)) = (&slot.chain_id, &slot.diff_id)
        && let Some(rec) = store.layer(chain)?
        && store.layer_diff(chain).is_dir()
    {
        return Ok(Ingested {
            blob_digest: rec.blob_digest,
            blob_size: rec.blob_size,
            diff_id: diff.clone(),
            chain_id: chain.clone(),
            size: rec.size,
            media: media_for(&rec.blob_media),
        });
    }
    let staged = store.stage_layer()?;
    let mut blob = store.blob_writer()?;
    let mut head = [0u8; 4];
    let n = read_prefix(&mut reader, &mut head)
        .map_err(|e| EngineError::io("read layer for", &slot.image, e))?;
    let compression = crate::archive::Compression::sniff(&head[..n]);
    let unpacked = unpack(
        Tee {
            inner: (&head[..n]).chain(reader),
            blob: &mut blob,
        },
        &staged.diff(),
        opts,
    )?;
    if let Some(expected) = &slot.diff_id {
        verify_diff_id(
            &slot.image,
            slot.blob_digest.as_ref().unwrap_or(expected),
            expected,
            &unpacked,
        )?;
    }
    let (blob_digest, blob_size) = blob.commit(slot.blob_digest.as_ref())?;
    let chain_id = slot.chain_id.clone().unwrap_or_else(|| match &slot.parent {
        Some(p) => Digest::sha256_of(format!("{p} {}", unpacked.diff_id).as_bytes()),
        None => unpacked.diff_id.clone(),
    });
    let media = match compression {
        crate::archive::Compression::Gzip => crate::oci::media::OCI_LAYER_GZIP,
        crate::archive::Compression::Zstd => crate::oci::media::OCI_LAYER_ZSTD,
        crate::archive::Compression::None => crate::oci::media::OCI_LAYER,
    };
    let rec = crate::store::LayerRecord {
        chain_id: chain_id.clone(),
        parent: slot.parent.clone(),
        diff_id: unpacked.diff_id.clone(),
        blob_digest: blob_digest.clone(),
        blob_media: media.to_string(),
        blob_size,
        size: unpacked.size,
        created: jiff::Timestamp::now(),
    };
    // A layer whose chain id is known only now (a build step) is locked now: parallel builds
    // that make the same layer place it one after the other (the second keeps the first's).
    let _late_lock = match &_lock {
        Some(_) => None,
        None => Some(store.lock_layer(&chain_id)?),
    };
    store.commit_layer(staged, &rec)?;
    Ok(Ingested {
        blob_digest,
        blob_size,
        diff_id: unpacked.diff_id,
        chain_id,
        size: unpacked.size,
        media,
    })
}

impl Ingested {
    /// A layer already in the store, as an image being recorded lists it (commit).
    pub(crate) fn from_record(rec: &crate::store::LayerRecord) -> Ingested {
        Ingested {
            blob_digest: rec.blob_digest.clone(),
            blob_size: rec.blob_size,
            diff_id: rec.diff_id.clone(),
            chain_id: rec.chain_id.clone(),
            size: rec.size,
            media: media_for(&rec.blob_media),
        }
    }
}

fn media_for(stored: &str) -> &'static str {
    use crate::oci::media::*;
    match stored {
        OCI_LAYER_ZSTD => OCI_LAYER_ZSTD,
        OCI_LAYER => OCI_LAYER,
        "application/vnd.docker.image.rootfs.diff.tar" => OCI_LAYER,
        _ => OCI_LAYER_GZIP,
    }
}

fn read_prefix(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}
