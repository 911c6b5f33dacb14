//! The FUSE protocol, as much of it as a read-only directory of a few generated files needs: INIT,
//! LOOKUP, GETATTR, OPEN/READ/RELEASE (each open gets the file rendered once, read with direct I/O,
//! so the size 0 that /proc files report is no limit), OPENDIR/READDIR, STATFS, ACCESS; anything
//! else, FLUSH included (which the kernel then stops sending), is ENOSYS. Requests and replies are byte buffers (linux/fuse.h, native endian), so this
//! part is pure and tested without a kernel.
use std::collections::HashMap;

const FUSE_KERNEL_VERSION: u32 = 7;
/// The minor version we answer with (7.31: Linux 5.4; older fields only).
const FUSE_KERNEL_MINOR: u32 = 31;
/// fuse_open_out.open_flags: read with direct I/O (ignore the size).
const FOPEN_DIRECT_IO: u32 = 1;
const ROOT: u64 = 1;
/// The request header (fuse_in_header).
const IN_HEADER: usize = 40;
/// What to read from /dev/fuse at once (the kernel wants at least 8 KiB).
pub const BUFFER: usize = 64 * 1024;

const LOOKUP: u32 = 1;
const FORGET: u32 = 2;
const GETATTR: u32 = 3;
const OPEN: u32 = 14;
const READ: u32 = 15;
const STATFS: u32 = 17;
const RELEASE: u32 = 18;
const FLUSH: u32 = 25;
const INIT: u32 = 26;
const OPENDIR: u32 = 27;
const READDIR: u32 = 28;
const RELEASEDIR: u32 = 29;
const ACCESS: u32 = 34;
const INTERRUPT: u32 = 36;
const DESTROY: u32 = 38;
const BATCH_FORGET: u32 = 42;

/// The files the view serves, each bound over its path in the container.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum File {
    Meminfo,
    Cpuinfo,
    Stat,
    Uptime,
    Loadavg,
    CpuOnline,
}

impl File {
    pub const ALL: [File; 6] = [
        File::Meminfo,
        File::Cpuinfo,
        File::Stat,
        File::Uptime,
        File::Loadavg,
        File::CpuOnline,
    ];

    /// Its name in the FUSE file system.
    pub fn name(self) -> &'static str {
        match self {
            File::Meminfo => "meminfo",
            File::Cpuinfo => "cpuinfo",
            File::Stat => "stat",
            File::Uptime => "uptime",
            File::Loadavg => "loadavg",
            File::CpuOnline => "cpu_online",
        }
    }

    /// Where it is bound inside the container.
    pub fn target(self) -> &'static str {
        match self {
            File::Meminfo => "/proc/meminfo",
            File::Cpuinfo => "/proc/cpuinfo",
            File::Stat => "/proc/stat",
            File::Uptime => "/proc/uptime",
            File::Loadavg => "/proc/loadavg",
            File::CpuOnline => "/sys/devices/system/cpu/online",
        }
    }

    fn ino(self) -> u64 {
        2 + File::ALL.iter().position(|f| *f == self).unwrap_or(0) as u64
    }

    fn from_ino(ino: u64) -> Option<File> {
        File::ALL.get(ino.checked_sub(2)? as usize).copied()
    }

    fn from_name(name: &[u8]) -> Option<File> {
        File::ALL.into_iter().find(|f| f.name().as_bytes() == name)
    }
}

/// What renders the files' contents (at each open).
pub trait Source {
    fn render(&mut self, file: File) -> Vec<u8>;
}

/// The state of one FUSE connection: the files open and their contents.
#[derive(Debug, Default)]
pub struct Session {
    open: HashMap<u64, Vec<u8>>,
    next_fh: u64,
}

/// A request's header fields we use.
struct Header {
    opcode: u32,
    unique: u64,
    nodeid: u64,
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_ne_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

fn u64_at(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_ne_bytes(b.get(at..at + 8)?.try_into().ok()?))
}

/// Build a reply: fuse_out_header then the body.
fn reply(unique: u64, error: i32, body: &[u8]) -> Vec<u8> {
    let len = (16 + body.len()) as u32;
    let mut out = Vec::with_capacity(len as usize);
    out.extend_from_slice(&len.to_ne_bytes());
    out.extend_from_slice(&error.to_ne_bytes());
    out.extend_from_slice(&unique.to_ne_bytes());
    out.extend_from_slice(body);
    out
}

fn error(unique: u64, errno: i32) -> Vec<u8> {
    reply(unique, -errno, &[])
}

/// A little-endian-agnostic writer of fuse structs.
#[derive(Default)]
struct Body(Vec<u8>);

impl Body {
    fn u64(mut self, v: u64) -> Body {
        self.0.extend_from_slice(&v.to_ne_bytes());
        self
    }
    fn u32(mut self, v: u32) -> Body {
        self.0.extend_from_slice(&v.to_ne_bytes());
        self
    }
    fn u16(mut self, v: u16) -> Body {
        self.0.extend_from_slice(&v.to_ne_bytes());
        self
    }
    fn zeros(mut self, n: usize) -> Body {
        self.0.resize(self.0.len() + n, 0);
        self
    }
}

/// fuse_attr (88 bytes): the root directory or a read-only file, owned by the container's root.
fn attr(ino: u64) -> Body {
    let mode = if ino == ROOT {
        libc::S_IFDIR | 0o555
    } else {
        libc::S_IFREG | 0o444
    };
    let nlink = if ino == ROOT { 2 } else { 1 };
    Body::default()
        .u64(ino)
        .u64(0) // size: 0, as /proc's files say
        .u64(0) // blocks
        .zeros(3 * 8 + 3 * 4) // atime, mtime, ctime and their nsec
        .u32(mode)
        .u32(nlink)
        .u32(0) // uid
        .u32(0) // gid
        .u32(0) // rdev
        .u32(4096) // blksize
        .u32(0) // flags
}

/// How long the kernel may cache names and attributes (they never change).
const VALID_SECS: u64 = 3600;

impl Session {
    /// Answer one request (None: the request wants no reply, as FORGET).
    pub fn handle(&mut self, req: &[u8], src: &mut dyn Source) -> Option<Vec<u8>> {
        let h = Header {
            opcode: u32_at(req, 4)?,
            unique: u64_at(req, 8)?,
            nodeid: u64_at(req, 16)?,
        };
        let arg = req.get(IN_HEADER..).unwrap_or(&[]);
        let ok = |body: Body| Some(reply(h.unique, 0, &body.0));
        match h.opcode {
            FORGET | BATCH_FORGET | INTERRUPT => None,
            INIT => ok(init(arg)),
            LOOKUP => Some(self.lookup(&h, arg)),
            GETATTR => match h.nodeid == ROOT || File::from_ino(h.nodeid).is_some() {
                true => ok(Body::default()
                    .u64(VALID_SECS)
                    .u32(0)
                    .u32(0)
                    .append(attr(h.nodeid))),
                false => Some(error(h.unique, libc::ENOENT)),
            },
            OPEN => Some(self.open(&h, src)),
            READ => Some(self.read(&h, arg)),
            RELEASE => {
                if let Some(fh) = u64_at(arg, 0) {
                    self.open.remove(&fh);
                }
                ok(Body::default())
            }
            OPENDIR if h.nodeid == ROOT => ok(Body::default().u64(0).u32(0).u32(0)),
            READDIR if h.nodeid == ROOT => ok(readdir(u64_at(arg, 8).unwrap_or(0))),
            // ENOSYS to FLUSH makes the kernel stop sending it (fc->no_flush): one round trip to
            // the monitor less per close of a generated file, which has nothing to flush.
            FLUSH => Some(error(h.unique, libc::ENOSYS)),
            RELEASEDIR | ACCESS | DESTROY => ok(Body::default()),
            STATFS => ok(Body::default()
                .zeros(5 * 8)
                .u32(4096) // bsize
                .u32(255) // namelen
                .u32(4096) // frsize
                .zeros(4 + 6 * 4)),
            OPENDIR | READDIR => Some(error(h.unique, libc::ENOTDIR)),
            _ => Some(error(h.unique, libc::ENOSYS)),
        }
    }

    fn lookup(&self, h: &Header, arg: &[u8]) -> Vec<u8> {
        let name = arg.split(|b| *b == 0).next().unwrap_or(&[]);
        match (h.nodeid, File::from_name(name)) {
            (ROOT, Some(f)) => {
                let body = Body::default()
                    .u64(f.ino())
                    .u64(0) // generation
                    .u64(VALID_SECS)
                    .u64(VALID_SECS)
                    .u32(0)
                    .u32(0)
                    .append(attr(f.ino()));
                reply(h.unique, 0, &body.0)
            }
            _ => error(h.unique, libc::ENOENT),
        }
    }

    fn open(&mut self, h: &Header, src: &mut dyn Source) -> Vec<u8> {
        let Some(f) = File::from_ino(h.nodeid) else {
            return error(h.unique, libc::EISDIR);
        };
        self.next_fh += 1;
        self.open.insert(self.next_fh, src.render(f));
        let body = Body::default()
            .u64(self.next_fh)
            .u32(FOPEN_DIRECT_IO)
            .u32(0);
        reply(h.unique, 0, &body.0)
    }

    fn read(&self, h: &Header, arg: &[u8]) -> Vec<u8> {
        let (Some(fh), Some(offset), Some(size)) =
            (u64_at(arg, 0), u64_at(arg, 8), u32_at(arg, 16))
        else {
            return error(h.unique, libc::EINVAL);
        };
        let Some(data) = self.open.get(&fh) else {
            return error(h.unique, libc::EBADF);
        };
        let start = (offset as usize).min(data.len());
        let end = start.saturating_add(size as usize).min(data.len());
        reply(h.unique, 0, &data[start..end])
    }
}

/// The INIT reply (fuse_init_out, 64 bytes): our version, no optional features.
fn init(arg: &[u8]) -> Body {
    let readahead = u32_at(arg, 8).unwrap_or(0);
    Body::default()
        .u32(FUSE_KERNEL_VERSION)
        .u32(FUSE_KERNEL_MINOR)
        .u32(readahead)
        .u32(0) // flags
        .u16(16) // max_background
        .u16(12) // congestion_threshold
        .u32(4096) // max_write
        .u32(1) // time_gran
        .u16(0) // max_pages
        .u16(0) // map_alignment
        .zeros(32) // flags2, max_stack_depth, unused
}

/// The root's entries from `offset` on (fuse_dirent: ino, next offset, name length, type, name
/// padded to 8 bytes).
fn readdir(offset: u64) -> Body {
    let mut entries: Vec<(u64, &str, u32)> = vec![(ROOT, ".", libc::DT_DIR.into())];
    entries.push((ROOT, "..", libc::DT_DIR.into()));
    entries.extend(
        File::ALL
            .iter()
            .map(|f| (f.ino(), f.name(), libc::DT_REG.into())),
    );
    let mut body = Body::default();
    for (i, (ino, name, kind)) in entries.into_iter().enumerate().skip(offset as usize) {
        body = body
            .u64(ino)
            .u64(i as u64 + 1)
            .u32(name.len() as u32)
            .u32(kind);
        body.0.extend_from_slice(name.as_bytes());
        let pad = (8 - name.len() % 8) % 8;
        body = body.zeros(pad);
    }
    body
}

impl Body {
    fn append(mut self, other: Body) -> Body {
        self.0.extend_from_slice(&other.0);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Fixed;
    impl Source for Fixed {
        fn render(&mut self, file: File) -> Vec<u8> {
            format!("{} contents\n", file.name()).into_bytes()
        }
    }

    fn request(opcode: u32, unique: u64, nodeid: u64, arg: &[u8]) -> Vec<u8> {
        let mut r = Vec::new();
        r.extend_from_slice(&((IN_HEADER + arg.len()) as u32).to_ne_bytes());
        r.extend_from_slice(&opcode.to_ne_bytes());
        r.extend_from_slice(&unique.to_ne_bytes());
        r.extend_from_slice(&nodeid.to_ne_bytes());
        r.extend_from_slice(&[0u8; 16]); // uid gid pid extlen padding
        r.extend_from_slice(arg);
        r
    }

    /// (error, unique, body) of a reply, checking its length field.
    fn parse(reply: &[u8]) -> (i32, u64, Vec<u8>) {
        assert_eq!(u32_at(reply, 0).expect("len") as usize, reply.len());
        let err = i32::from_ne_bytes(reply[4..8].try_into().expect("4 bytes"));
        (err, u64_at(reply, 8).expect("unique"), reply[16..].to_vec())
    }

    fn handle(s: &mut Session, req: Vec<u8>) -> (i32, u64, Vec<u8>) {
        parse(&s.handle(&req, &mut Fixed).expect("a reply"))
    }

    #[test]
    fn init_answers_with_our_version() {
        let mut s = Session::default();
        let arg = [7u32, 38, 131072, 0]
            .iter()
            .flat_map(|v| v.to_ne_bytes())
            .collect::<Vec<_>>();
        let (err, unique, body) = handle(&mut s, request(INIT, 9, 0, &arg));
        assert_eq!((err, unique, body.len()), (0, 9, 64));
        assert_eq!(u32_at(&body, 0), Some(7));
        assert_eq!(u32_at(&body, 4), Some(FUSE_KERNEL_MINOR));
        assert_eq!(u32_at(&body, 8), Some(131072));
    }

    #[test]
    fn lookup_open_read_release() {
        let mut s = Session::default();
        let (err, _, body) = handle(&mut s, request(LOOKUP, 1, ROOT, b"meminfo\0"));
        assert_eq!(err, 0);
        assert_eq!(body.len(), 40 + 88);
        let ino = u64_at(&body, 0).expect("nodeid");
        assert_eq!(File::from_ino(ino), Some(File::Meminfo));
        // attr.mode: a read-only regular file
        assert_eq!(u32_at(&body, 40 + 60), Some(libc::S_IFREG | 0o444), "mode");
        let (err, _, _) = handle(&mut s, request(LOOKUP, 2, ROOT, b"nothing\0"));
        assert_eq!(err, -libc::ENOENT);

        let (err, _, body) = handle(&mut s, request(OPEN, 3, ino, &[0; 8]));
        assert_eq!(err, 0);
        let fh = u64_at(&body, 0).expect("fh");
        assert_eq!(u32_at(&body, 8), Some(FOPEN_DIRECT_IO));
        let read_arg = |offset: u64, size: u32| {
            let mut a = Vec::new();
            a.extend_from_slice(&fh.to_ne_bytes());
            a.extend_from_slice(&offset.to_ne_bytes());
            a.extend_from_slice(&size.to_ne_bytes());
            a.extend_from_slice(&[0u8; 20]);
            a
        };
        let (err, _, data) = handle(&mut s, request(READ, 4, ino, &read_arg(0, 4096)));
        assert_eq!(
            (err, data.as_slice()),
            (0, b"meminfo contents\n".as_slice())
        );
        let (_, _, data) = handle(&mut s, request(READ, 5, ino, &read_arg(8, 3)));
        assert_eq!(data, b"con");
        let (_, _, data) = handle(&mut s, request(READ, 6, ino, &read_arg(1000, 10)));
        assert!(data.is_empty(), "a read past the end is empty");
        let (err, _, _) = handle(&mut s, request(RELEASE, 7, ino, &fh.to_ne_bytes()));
        assert_eq!(err, 0);
        let (err, _, _) = handle(&mut s, request(READ, 8, ino, &read_arg(0, 10)));
        assert_eq!(err, -libc::EBADF, "a released handle is gone");
    }

    #[test]
    fn getattr_readdir_and_the_rest() {
        let mut s = Session::default();
        let (err, _, body) = handle(&mut s, request(GETATTR, 1, ROOT, &[0; 16]));
        assert_eq!((err, body.len()), (0, 16 + 88));
        assert_eq!(u64_at(&body, 16), Some(ROOT));
        assert_eq!(u32_at(&body, 16 + 60), Some(libc::S_IFDIR | 0o555));
        let (err, _, _) = handle(&mut s, request(GETATTR, 2, 99, &[0; 16]));
        assert_eq!(err, -libc::ENOENT);
        let mut arg = vec![0u8; 40];
        let (err, _, body) = handle(&mut s, request(READDIR, 3, ROOT, &arg));
        assert_eq!(err, 0);
        let names: Vec<String> = {
            let mut names = Vec::new();
            let mut at = 0;
            while at < body.len() {
                let len = u32_at(&body, at + 16).expect("namelen") as usize;
                names.push(String::from_utf8_lossy(&body[at + 24..at + 24 + len]).into_owned());
                at += 24 + len.div_ceil(8) * 8;
            }
            names
        };
        assert_eq!(
            names,
            [
                ".",
                "..",
                "meminfo",
                "cpuinfo",
                "stat",
                "uptime",
                "loadavg",
                "cpu_online"
            ]
        );
        arg[8..16].copy_from_slice(&8u64.to_ne_bytes());
        let (_, _, body) = handle(&mut s, request(READDIR, 4, ROOT, &arg));
        assert!(body.is_empty(), "no entries past the last");
        assert!(
            s.handle(&request(FORGET, 5, 2, &[0; 8]), &mut Fixed)
                .is_none()
        );
        let (err, _, _) = handle(&mut s, request(4 /* SETATTR */, 6, 2, &[]));
        assert_eq!(err, -libc::ENOSYS);
        let (err, _, _) = handle(&mut s, request(FLUSH, 8, 2, &[0; 16]));
        assert_eq!(
            err,
            -libc::ENOSYS,
            "FLUSH is refused once, so the kernel stops sending it"
        );
        let (err, _, body) = handle(&mut s, request(STATFS, 7, ROOT, &[]));
        assert_eq!((err, body.len()), (0, 80));
        // A truncated request is ignored rather than answered wrongly.
        assert!(s.handle(&[1, 2, 3], &mut Fixed).is_none());
    }
}
