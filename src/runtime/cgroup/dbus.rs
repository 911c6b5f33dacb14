//! Just enough of the D-Bus wire protocol to ask the user's systemd manager for a transient scope:
//! EXTERNAL authentication, `Hello`, `AddMatch` for `JobRemoved`, `StartTransientUnit`, and reading
//! replies and that signal (little-endian messages, D-Bus specification "Message Protocol").
//!
//! Why not a crate: zbus's blocking API runs its connection on an executor thread, and roost clones
//! the container from this process afterwards (a clone must happen while single-threaded); the `dbus`
//! crate links libdbus. One method call and one signal are ~250 lines of plain socket code.
use std::io::{self, BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum DbusError {
    #[error("failed to talk to the user's D-Bus at `{path}`")]
    Io {
        path: String,
        #[source]
        source: io::Error,
    },
    #[error("the user's D-Bus refused authentication: {0}")]
    Auth(String),
    #[error("{name}: {message}")]
    Call { name: String, message: String },
    #[error("malformed D-Bus message")]
    Malformed,
    #[error("systemd could not start `{unit}`: job result `{result}`")]
    Job { unit: String, result: String },
}

/// The error systemd answers `StartTransientUnit` with for a unit it has already.
pub const UNIT_EXISTS: &str = "org.freedesktop.systemd1.UnitExists";
/// The error systemd answers `StopUnit` with for a unit it does not know.
pub const NO_SUCH_UNIT: &str = "org.freedesktop.systemd1.NoSuchUnit";

/// A property of a transient unit (the `(sv)` pairs of `StartTransientUnit`).
#[derive(Debug)]
pub enum Prop<'a> {
    Str(&'a str, &'a str),
    Bool(&'a str, bool),
    U32s(&'a str, &'a [u32]),
    /// `t`: sizes, counts, microseconds (`u64::MAX`: infinity).
    U64(&'a str, u64),
    /// `ay`: a bitmask (`AllowedCPUs`).
    Bytes(&'a str, Vec<u8>),
    /// `a(st)`: device paths with a number each (`IOReadBandwidthMax`).
    PathU64s(&'a str, Vec<(String, u64)>),
}

impl Prop<'_> {
    pub fn name(&self) -> &str {
        match self {
            Prop::Str(k, _)
            | Prop::Bool(k, _)
            | Prop::U32s(k, _)
            | Prop::U64(k, _)
            | Prop::Bytes(k, _)
            | Prop::PathU64s(k, _) => k,
        }
    }

    /// Append this `(sv)` pair.
    fn write(&self, w: &mut Writer) {
        w.align(8);
        w.string(self.name());
        match self {
            Prop::Str(_, v) => {
                w.signature("s");
                w.string(v);
            }
            Prop::Bool(_, v) => {
                w.signature("b");
                w.u32(u32::from(*v));
            }
            Prop::U32s(_, v) => {
                w.signature("au");
                let a = w.array_start(4);
                v.iter().for_each(|x| w.u32(*x));
                w.array_end(a);
            }
            Prop::U64(_, v) => {
                w.signature("t");
                w.u64(*v);
            }
            Prop::Bytes(_, v) => {
                w.signature("ay");
                let a = w.array_start(1);
                w.buf.extend_from_slice(v);
                w.array_end(a);
            }
            Prop::PathU64s(_, v) => {
                w.signature("a(st)");
                let a = w.array_start(8);
                for (path, n) in v {
                    w.align(8);
                    w.string(path);
                    w.u64(*n);
                }
                w.array_end(a);
            }
        }
    }
}

/// A connection to a bus (authenticated, `Hello` sent).
pub struct Bus {
    sock: BufReader<UnixStream>,
    serial: u32,
    path: String,
}

impl Bus {
    pub fn connect(path: &Path) -> Result<Bus, DbusError> {
        let p = path.display().to_string();
        let io = |source| DbusError::Io {
            path: p.clone(),
            source,
        };
        let s = UnixStream::connect(path).map_err(io)?;
        s.set_read_timeout(Some(Duration::from_secs(30)))
            .map_err(io)?;
        let mut bus = Bus {
            sock: BufReader::new(s),
            serial: 0,
            path: p.clone(),
        };
        bus.auth().map_err(io)?.map_err(DbusError::Auth)?;
        bus.call(
            "org.freedesktop.DBus",
            "/org/freedesktop/DBus",
            "org.freedesktop.DBus",
            "Hello",
            "",
            Vec::new(),
        )?;
        Ok(bus)
    }

    fn io(&self, source: io::Error) -> DbusError {
        DbusError::Io {
            path: self.path.clone(),
            source,
        }
    }

    /// EXTERNAL without an identity: the bus takes our credentials from the socket, which also works
    /// from inside roost's user namespace (where our uid is not the bus's idea of it), as sd-bus does.
    fn auth(&mut self) -> io::Result<Result<(), String>> {
        let s = self.sock.get_mut();
        s.write_all(b"\0AUTH EXTERNAL\r\n")?;
        let mut line = String::new();
        self.sock.read_line(&mut line)?;
        if line.starts_with("DATA") {
            self.sock.get_mut().write_all(b"DATA\r\n")?;
            line.clear();
            self.sock.read_line(&mut line)?;
        }
        if !line.starts_with("OK ") {
            return Ok(Err(line.trim().to_string()));
        }
        self.sock.get_mut().write_all(b"BEGIN\r\n")?;
        Ok(Ok(()))
    }

    /// Call a method and wait for its reply; returns the reply's body.
    pub fn call(
        &mut self,
        dest: &str,
        path: &str,
        iface: &str,
        member: &str,
        sig: &str,
        body: Vec<u8>,
    ) -> Result<Vec<u8>, DbusError> {
        self.serial += 1;
        let serial = self.serial;
        let msg = message(serial, dest, path, iface, member, sig, &body);
        self.sock
            .get_mut()
            .write_all(&msg)
            .map_err(|e| self.io(e))?;
        loop {
            let m = self.read()?;
            if m.reply_serial != Some(serial) {
                continue;
            }
            if let Some(name) = m.error {
                let message = Reader::new(&m.body).string().unwrap_or_default();
                return Err(DbusError::Call { name, message });
            }
            return Ok(m.body);
        }
    }

    fn read(&mut self) -> Result<Incoming, DbusError> {
        let mut fixed = [0u8; 16];
        self.sock.read_exact(&mut fixed).map_err(|e| self.io(e))?;
        if fixed[0] != b'l' {
            return Err(DbusError::Malformed);
        }
        let u32_at =
            |i: usize| u32::from_le_bytes([fixed[i], fixed[i + 1], fixed[i + 2], fixed[i + 3]]);
        let body_len = u32_at(4) as usize;
        let fields_len = u32_at(12) as usize;
        if body_len > 1 << 24 || fields_len > 1 << 20 {
            return Err(DbusError::Malformed);
        }
        let rest = fields_len.div_ceil(8) * 8 + body_len;
        let mut buf = vec![0u8; 16 + rest];
        buf[..16].copy_from_slice(&fixed);
        self.sock
            .read_exact(&mut buf[16..])
            .map_err(|e| self.io(e))?;
        parse_incoming(&buf, fields_len, body_len).ok_or(DbusError::Malformed)
    }

    /// Wait for the `JobRemoved` signal of `job`; returns its result (`done` on success).
    pub fn wait_job(&mut self, job: &str) -> Result<String, DbusError> {
        loop {
            let m = self.read()?;
            if m.member.as_deref() != Some("JobRemoved") {
                continue;
            }
            let mut r = Reader::new(&m.body);
            let (_id, path, _unit, result) = (r.u32(), r.string(), r.string(), r.string());
            if path.as_deref() == Some(job) {
                return Ok(result.unwrap_or_default());
            }
        }
    }
}

/// Subscribe to the manager's `JobRemoved` signals (for [`Bus::wait_job`]).
fn watch_jobs(b: &mut Bus) -> Result<(), DbusError> {
    let mut w = Writer::default();
    w.string("type='signal',sender='org.freedesktop.systemd1',interface='org.freedesktop.systemd1.Manager',member='JobRemoved'");
    b.call(
        "org.freedesktop.DBus",
        "/org/freedesktop/DBus",
        "org.freedesktop.DBus",
        "AddMatch",
        "s",
        w.buf,
    )?;
    Ok(())
}

/// Call the manager's `method` about `unit` (its arguments in `body`, of signature `sig`) and wait
/// for the job it queues; a job that ends other than `done` is an error (`Job`, systemd's result).
fn unit_job(
    bus: &Path,
    unit: &str,
    method: &str,
    sig: &str,
    body: Vec<u8>,
) -> Result<(), DbusError> {
    let mut b = Bus::connect(bus)?;
    watch_jobs(&mut b)?;
    let reply = b.call(
        "org.freedesktop.systemd1",
        "/org/freedesktop/systemd1",
        "org.freedesktop.systemd1.Manager",
        method,
        sig,
        body,
    )?;
    wait_for(&mut b, unit, &reply)
}

/// `UNIT` and a job mode: the arguments of `RestartUnit` and `StopUnit`.
fn unit_and_mode(unit: &str, mode: &str) -> Vec<u8> {
    let mut w = Writer::default();
    w.string(unit);
    w.string(mode);
    w.buf
}

/// `systemctl --user restart UNIT` over the bus, waiting for the job.
pub fn restart_unit(bus: &Path, unit: &str) -> Result<(), DbusError> {
    unit_job(
        bus,
        unit,
        "RestartUnit",
        "ss",
        unit_and_mode(unit, "replace"),
    )
}

/// `systemctl --user stop UNIT` over the bus, waiting for the job.
pub fn stop_unit(bus: &Path, unit: &str) -> Result<(), DbusError> {
    unit_job(bus, unit, "StopUnit", "ss", unit_and_mode(unit, "replace"))
}

/// Ask the manager on `bus` for the transient unit `unit` (a scope holding the `PIDs` property's
/// processes, or a slice) with these properties, and wait until it runs.
pub fn start_transient(bus: &Path, unit: &str, props: &[Prop]) -> Result<(), DbusError> {
    let mut w = Writer::default();
    w.string(unit);
    w.string("fail");
    let at = w.array_start(8);
    props.iter().for_each(|p| p.write(&mut w));
    w.array_end(at);
    let aux = w.array_start(8);
    w.array_end(aux);
    unit_job(bus, unit, "StartTransientUnit", "ssa(sv)a(sa(sv))", w.buf)
}

/// Wait for the job a method's `reply` names; anything but `done` is an error.
fn wait_for(b: &mut Bus, unit: &str, reply: &[u8]) -> Result<(), DbusError> {
    let job = Reader::new(reply).string().ok_or(DbusError::Malformed)?;
    match b.wait_job(&job)?.as_str() {
        "done" => Ok(()),
        other => Err(DbusError::Job {
            unit: unit.into(),
            result: other.into(),
        }),
    }
}

/// Where the user's bus is: `DBUS_SESSION_BUS_ADDRESS`'s `unix:path=` or `$XDG_RUNTIME_DIR/bus`.
pub fn session_bus(
    address: Option<&str>,
    runtime_dir: Option<&Path>,
) -> Option<std::path::PathBuf> {
    let from_addr = address.and_then(|a| {
        a.split(';')
            .filter_map(|t| t.strip_prefix("unix:"))
            .flat_map(|kv| kv.split(','))
            .find_map(|kv| kv.strip_prefix("path="))
            .map(std::path::PathBuf::from)
    });
    from_addr
        .or_else(|| runtime_dir.map(|d| d.join("bus")))
        .filter(|p| p.exists())
}

struct Incoming {
    reply_serial: Option<u32>,
    error: Option<String>,
    member: Option<String>,
    body: Vec<u8>,
}

fn parse_incoming(buf: &[u8], fields_len: usize, body_len: usize) -> Option<Incoming> {
    let mut r = Reader {
        buf: &buf[..16 + fields_len],
        pos: 16,
    };
    let mut m = Incoming {
        reply_serial: None,
        error: None,
        member: None,
        body: Vec::new(),
    };
    while r.pos < r.buf.len() {
        r.align(8);
        let code = r.byte()?;
        let sig = r.signature()?;
        match (code, sig.as_str()) {
            (5, "u") => m.reply_serial = Some(r.u32()?),
            (4, "s") => m.error = Some(r.string()?),
            (3, "s") => m.member = Some(r.string()?),
            (_, "u") => {
                r.u32()?;
            }
            (_, "s" | "o") => {
                r.string()?;
            }
            (_, "g") => {
                r.signature()?;
            }
            _ => return None,
        }
    }
    let start = 16 + fields_len.div_ceil(8) * 8;
    m.body = buf.get(start..start + body_len)?.to_vec();
    Some(m)
}

fn message(
    serial: u32,
    dest: &str,
    path: &str,
    iface: &str,
    member: &str,
    sig: &str,
    body: &[u8],
) -> Vec<u8> {
    let mut w = Writer::default();
    w.buf.extend_from_slice(&[b'l', 1, 0, 1]);
    w.u32(body.len() as u32);
    w.u32(serial);
    let at = w.array_start(8);
    for (code, s, v) in [
        (1u8, "o", path),
        (2, "s", iface),
        (3, "s", member),
        (6, "s", dest),
        (8, "g", sig),
    ] {
        if v.is_empty() {
            continue;
        }
        w.align(8);
        w.buf.push(code);
        w.signature(s);
        if s == "g" {
            w.signature(v);
        } else {
            w.string(v);
        }
    }
    w.array_end(at);
    w.align(8);
    w.buf.extend_from_slice(body);
    w.buf
}

#[derive(Default)]
struct Writer {
    buf: Vec<u8>,
}

impl Writer {
    fn align(&mut self, n: usize) {
        while !self.buf.len().is_multiple_of(n) {
            self.buf.push(0);
        }
    }
    fn u32(&mut self, v: u32) {
        self.align(4);
        self.buf.extend_from_slice(&v.to_le_bytes());
    }
    fn u64(&mut self, v: u64) {
        self.align(8);
        self.buf.extend_from_slice(&v.to_le_bytes());
    }
    fn string(&mut self, s: &str) {
        self.u32(s.len() as u32);
        self.buf.extend_from_slice(s.as_bytes());
        self.buf.push(0);
    }
    fn signature(&mut self, s: &str) {
        self.buf.push(s.len() as u8);
        self.buf.extend_from_slice(s.as_bytes());
        self.buf.push(0);
    }
    /// Start an array whose elements align to `elem`; returns where its length goes.
    fn array_start(&mut self, elem: usize) -> (usize, usize) {
        self.u32(0);
        let len_at = self.buf.len() - 4;
        self.align(elem);
        (len_at, self.buf.len())
    }
    fn array_end(&mut self, (len_at, start): (usize, usize)) {
        let n = (self.buf.len() - start) as u32;
        self.buf[len_at..len_at + 4].copy_from_slice(&n.to_le_bytes());
    }
}

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn new(buf: &'a [u8]) -> Reader<'a> {
        Reader { buf, pos: 0 }
    }
    fn align(&mut self, n: usize) {
        self.pos = self.pos.div_ceil(n) * n;
    }
    fn byte(&mut self) -> Option<u8> {
        let b = *self.buf.get(self.pos)?;
        self.pos += 1;
        Some(b)
    }
    fn u32(&mut self) -> Option<u32> {
        self.align(4);
        let b = self.buf.get(self.pos..self.pos + 4)?;
        self.pos += 4;
        Some(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn string(&mut self) -> Option<String> {
        let n = self.u32()? as usize;
        let s = self.buf.get(self.pos..self.pos + n)?;
        self.pos += n + 1;
        String::from_utf8(s.to_vec()).ok()
    }
    fn signature(&mut self) -> Option<String> {
        let n = self.byte()? as usize;
        let s = self.buf.get(self.pos..self.pos + n)?;
        self.pos += n + 1;
        String::from_utf8(s.to_vec()).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_reads_back() {
        let m = message(7, "org.x", "/o", "org.x.I", "M", "s", b"\x02\0\0\0hi\0");
        let fields_len = u32::from_le_bytes([m[12], m[13], m[14], m[15]]) as usize;
        let body_len = u32::from_le_bytes([m[4], m[5], m[6], m[7]]) as usize;
        assert_eq!((m.len() - body_len) % 8, 0, "the body starts 8-aligned");
        let i = parse_incoming(&m, fields_len, body_len).unwrap();
        assert_eq!(i.member.as_deref(), Some("M"));
        assert_eq!(Reader::new(&i.body).string().as_deref(), Some("hi"));
    }

    #[test]
    fn properties_are_aligned_as_the_wire_format_says() {
        let mut w = Writer::default();
        Prop::U64("MemoryMax", 5).write(&mut w);
        // name (4 + 9 + 1), signature (3), padding to 8, then the u64
        assert_eq!(w.buf.len(), 32);
        assert_eq!(&w.buf[24..], &5u64.to_le_bytes());

        let mut w = Writer::default();
        Prop::PathU64s("IOReadBandwidthMax", vec![("/dev/block/8:0".into(), 7)]).write(&mut w);
        // name to 23, signature `a(st)` to 30, the array's length at 32, its first struct at 40
        assert_eq!(&w.buf[32..36], &32u32.to_le_bytes(), "array length");
        assert_eq!(&w.buf[40..44], &14u32.to_le_bytes(), "the path's length");
        assert_eq!(&w.buf[64..72], &7u64.to_le_bytes(), "the rate, 8-aligned");

        let mut w = Writer::default();
        Prop::Bytes("AllowedCPUs", vec![0b101]).write(&mut w);
        assert_eq!(&w.buf[w.buf.len() - 5..], &[1, 0, 0, 0, 0b101]);
    }

    #[test]
    fn bus_address() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("bus"), "").unwrap();
        let p = dir.path().join("bus");
        let addr = format!("unix:path={}", p.display());
        assert_eq!(session_bus(Some(&addr), None), Some(p.clone()));
        assert_eq!(session_bus(None, Some(dir.path())), Some(p));
        assert_eq!(session_bus(None, Some(Path::new("/nonexistent"))), None);
    }
}
