//! Compression detection by magic bytes.

use std::io::{self, Cursor, Read};

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];
const ZSTD_MAGIC: [u8; 4] = [0x28, 0xb5, 0x2f, 0xfd];

/// Compression of a layer blob.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
    Zstd,
}

impl Compression {
    /// Which compression a stream starting with `magic` uses.
    pub fn sniff(magic: &[u8]) -> Self {
        if magic.starts_with(&ZSTD_MAGIC) {
            Self::Zstd
        } else if magic.starts_with(&GZIP_MAGIC) {
            Self::Gzip
        } else {
            Self::None
        }
    }
}

/// Sniff gzip (`1f 8b`) / zstd (`28 b5 2f fd`) magic and return a reader of the decompressed
/// stream; anything else is passed through as a plain tar.
pub fn decompress<'a, R: Read + 'a>(mut r: R) -> io::Result<(Compression, Box<dyn Read + 'a>)> {
    let mut magic = [0u8; 4];
    let len = read_up_to(&mut r, &mut magic)?;
    let compression = Compression::sniff(&magic[..len]);
    let stream = Cursor::new(magic).take(len as u64).chain(r);
    let reader: Box<dyn Read + 'a> = match compression {
        Compression::None => Box::new(stream),
        Compression::Gzip => Box::new(flate2::read::MultiGzDecoder::new(stream)),
        Compression::Zstd => Box::new(zstd::stream::read::Decoder::new(stream)?),
    };
    Ok((compression, reader))
}

const XZ_MAGIC: [u8; 6] = [0xfd, b'7', b'z', b'X', b'Z', 0x00];
const BZIP2_MAGIC: [u8; 3] = *b"BZh";

/// A reader of an archive as ADD takes it (the Containerfile reference: identity, gzip, bzip2 and
/// xz; zstd as buildah reads it too). Layers never come in bzip2 or xz, so these two are known
/// only here.
pub fn decompress_archive<'a, R: Read + 'a>(mut r: R) -> io::Result<Box<dyn Read + 'a>> {
    let mut magic = [0u8; 6];
    let len = read_up_to(&mut r, &mut magic)?;
    let head = &magic[..len];
    let xz = head.starts_with(&XZ_MAGIC);
    let bzip2 = head.starts_with(&BZIP2_MAGIC);
    let stream = Cursor::new(magic).take(len as u64).chain(r);
    if xz {
        return Ok(Box::new(xz2::read::XzDecoder::new_multi_decoder(stream)));
    }
    if bzip2 {
        return Ok(Box::new(bzip2::read::MultiBzDecoder::new(stream)));
    }
    Ok(decompress(stream)?.1)
}

/// Fill `buf` as far as the stream allows (short reads from pipes are retried).
fn read_up_to(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match r.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    const PAYLOAD: &[u8] = b"not really a tar, but the bytes must survive unchanged";

    fn roundtrip(blob: &[u8]) -> (Compression, Vec<u8>) {
        let (c, mut r) = decompress(blob).expect("sniffing an in-memory blob");
        let mut out = Vec::new();
        r.read_to_end(&mut out).expect("decompressing");
        (c, out)
    }

    #[test]
    fn plain_passes_through() {
        assert_eq!(roundtrip(PAYLOAD), (Compression::None, PAYLOAD.to_vec()));
    }

    #[test]
    fn short_and_empty_inputs_are_plain() {
        assert_eq!(roundtrip(b""), (Compression::None, Vec::new()));
        assert_eq!(roundtrip(b"\x1f"), (Compression::None, b"\x1f".to_vec()));
        assert_eq!(
            roundtrip(b"\x28\xb5"),
            (Compression::None, b"\x28\xb5".to_vec())
        );
    }

    #[test]
    fn gzip_is_detected() {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(PAYLOAD).expect("gzip into memory");
        let blob = enc.finish().expect("gzip into memory");
        assert_eq!(roundtrip(&blob), (Compression::Gzip, PAYLOAD.to_vec()));
    }

    #[test]
    fn multi_member_gzip_is_read_whole() {
        let mut blob = Vec::new();
        for half in PAYLOAD.chunks(PAYLOAD.len() / 2 + 1) {
            let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            enc.write_all(half).expect("gzip into memory");
            blob.extend(enc.finish().expect("gzip into memory"));
        }
        assert_eq!(roundtrip(&blob), (Compression::Gzip, PAYLOAD.to_vec()));
    }

    #[test]
    fn zstd_is_detected() {
        let blob = zstd::encode_all(PAYLOAD, 3).expect("zstd into memory");
        assert_eq!(roundtrip(&blob), (Compression::Zstd, PAYLOAD.to_vec()));
    }

    fn unpack_archive(blob: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        decompress_archive(blob)
            .expect("sniffing")
            .read_to_end(&mut out)
            .expect("decompressing");
        out
    }

    #[test]
    fn archives_take_xz_and_bzip2_too() {
        let mut xz = xz2::write::XzEncoder::new(Vec::new(), 1);
        xz.write_all(PAYLOAD).expect("xz into memory");
        let xz = xz.finish().expect("xz into memory");
        assert_eq!(unpack_archive(&xz), PAYLOAD);
        let mut bz = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::fast());
        bz.write_all(PAYLOAD).expect("bzip2 into memory");
        let bz = bz.finish().expect("bzip2 into memory");
        assert_eq!(unpack_archive(&bz), PAYLOAD);
        let zst = zstd::encode_all(PAYLOAD, 3).expect("zstd into memory");
        assert_eq!(unpack_archive(&zst), PAYLOAD);
        assert_eq!(unpack_archive(PAYLOAD), PAYLOAD);
        // A plain stream shorter than any magic passes through.
        assert_eq!(unpack_archive(b"BZ"), b"BZ");
    }

    /// A reader that hands out one byte per call, like a slow pipe.
    struct Trickle<'a>(&'a [u8]);
    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            match (self.0.split_first(), buf.first_mut()) {
                (Some((b, rest)), Some(slot)) => {
                    *slot = *b;
                    self.0 = rest;
                    Ok(1)
                }
                _ => Ok(0),
            }
        }
    }

    #[test]
    fn magic_split_across_reads_is_detected() {
        let blob = zstd::encode_all(PAYLOAD, 3).expect("zstd into memory");
        let (c, mut r) = decompress(Trickle(&blob)).expect("sniffing");
        let mut out = Vec::new();
        r.read_to_end(&mut out).expect("decompressing");
        assert_eq!((c, out), (Compression::Zstd, PAYLOAD.to_vec()));
    }
}
