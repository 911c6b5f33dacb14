//! The `file` backend: JSON lines appended to one log, rotated past its maximum size.
//!
//! Each append is an `open(O_APPEND)`, a shared `flock`, an `fstat`, one `write` of all the
//! events' lines and a `close`: a single `O_APPEND` write is never interleaved with another
//! process's. Rotation takes the lock exclusively, keeps the newer half of the log in a new file
//! and renames it over the old one; a writer that opened the old file before the rename sees it
//! unlinked (`st_nlink == 0`) once it holds the lock, and opens the new one.
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::Path;

use nix::fcntl::{Flock, FlockArg};

use super::{Event, EventsConf, EventsError, ReadOptions};

fn io(op: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> EventsError {
    let path = path.to_path_buf();
    move |source| EventsError::Io { op, path, source }
}

fn lock(file: File, arg: FlockArg, path: &Path) -> Result<Flock<File>, EventsError> {
    Flock::lock(file, arg).map_err(|(_, e)| EventsError::Io {
        op: "lock",
        path: path.to_path_buf(),
        source: e.into(),
    })
}

fn open_append(path: &Path) -> Result<File, EventsError> {
    let open = || {
        OpenOptions::new()
            .append(true)
            .create(true)
            .mode(0o600)
            .custom_flags(libc::O_CLOEXEC)
            .open(path)
    };
    match open() {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if let Some(dir) = path.parent() {
                std::fs::DirBuilder::new()
                    .recursive(true)
                    .create(dir)
                    .map_err(io("create the directory of", path))?;
            }
            open().map_err(io("open", path))
        }
        r => r.map_err(io("open", path)),
    }
}

/// Append `events` to the log in one write, rotating it first when it is full.
pub(super) fn append(conf: &EventsConf, events: &[Event]) -> Result<(), EventsError> {
    let mut text = String::new();
    for e in events {
        // Serializing our own struct of strings and numbers cannot fail.
        text += &serde_json::to_string(e).unwrap_or_default();
        text.push('\n');
    }
    for _ in 0..4 {
        let file = lock(open_append(&conf.path)?, FlockArg::LockShared, &conf.path)?;
        let md = file.metadata().map_err(io("stat", &conf.path))?;
        if md.nlink() == 0 {
            // Rotated away while we waited for the lock.
            continue;
        }
        if conf
            .max_size
            .is_some_and(|max| md.len() + text.len() as u64 > max)
        {
            drop(file);
            rotate(conf)?;
            continue;
        }
        let mut file = file;
        return file
            .write_all(text.as_bytes())
            .map_err(io("write", &conf.path));
    }
    Err(EventsError::Io {
        op: "append to",
        path: conf.path.clone(),
        source: std::io::Error::other("the log kept being rotated"),
    })
}

/// Open the log for [`append_held`].
pub(super) fn hold(conf: &EventsConf) -> Result<File, EventsError> {
    open_append(&conf.path)
}

/// Append through a log opened earlier (not rotated: the path may not be reachable any more).
pub(super) fn append_held(file: &File, event: &Event) -> Result<(), EventsError> {
    let mut text = serde_json::to_string(event).unwrap_or_default();
    text.push('\n');
    let file = lock(
        file.try_clone().map_err(|e| EventsError::Io {
            op: "write",
            path: "the event log".into(),
            source: e,
        })?,
        FlockArg::LockShared,
        Path::new("the event log"),
    )?;
    (&*file)
        .write_all(text.as_bytes())
        .map_err(io("write", Path::new("the event log")))
}

/// Keep the newer half of a full log (from a line start), with podman's `log-rotation` event first.
fn rotate(conf: &EventsConf) -> Result<(), EventsError> {
    let path = &conf.path;
    let Some(max) = conf.max_size else {
        return Ok(());
    };
    let file = lock(open_append(path)?, FlockArg::LockExclusive, path)?;
    let md = file.metadata().map_err(io("stat", path))?;
    if md.nlink() == 0 || md.len() <= max / 2 {
        // Someone else rotated it.
        return Ok(());
    }
    let mut reader = BufReader::new(File::open(path).map_err(io("open", path))?);
    reader
        .seek(SeekFrom::Start(md.len() - max / 2))
        .map_err(io("read", path))?;
    let mut partial = Vec::new();
    reader
        .read_until(b'\n', &mut partial)
        .map_err(io("read", path))?;
    let mut rest = Vec::new();
    reader.read_to_end(&mut rest).map_err(io("read", path))?;
    let mut rotation = Event::new(super::Type::System, "log-rotation");
    rotation.name = path.display().to_string();
    let mut text = serde_json::to_string(&rotation).unwrap_or_default();
    text.push('\n');
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(io("rotate", path))?;
    tmp.write_all(text.as_bytes())
        .and_then(|()| tmp.write_all(&rest))
        .map_err(io("rotate", path))?;
    tmp.persist(path).map_err(|e| EventsError::Io {
        op: "rotate",
        path: path.clone(),
        source: e.error,
    })?;
    drop(file);
    Ok(())
}

/// Read the log from the start, then (with `stream`) follow it.
pub(super) fn read(
    conf: &EventsConf,
    opts: &ReadOptions,
    sink: &mut dyn FnMut(&Event) -> bool,
) -> Result<(), EventsError> {
    let mut follower = Follower::open(&conf.path)?;
    if !opts.reads_from_start()
        && let Some(r) = follower.reader.as_mut()
    {
        r.seek(SeekFrom::End(0)).map_err(io("read", &conf.path))?;
    }
    if !follower.drain(sink)? || !opts.stream {
        return Ok(());
    }
    loop {
        let timeout = match opts.until {
            Some(u) => {
                let left = u.duration_since(jiff::Timestamp::now());
                if left.is_negative() || left.is_zero() {
                    return Ok(());
                }
                Some(left.unsigned_abs())
            }
            None => None,
        };
        follower.wait(timeout)?;
        if !follower.drain(sink)? {
            return Ok(());
        }
    }
}

/// A reader of the log that notices appends and rotations.
struct Follower<'a> {
    path: &'a Path,
    reader: Option<BufReader<File>>,
    inode: u64,
    inotify: Option<nix::sys::inotify::Inotify>,
    line: String,
    /// The last line handed on, and its time: after a rotation the kept half is not repeated.
    last: Option<(String, jiff::Timestamp)>,
    rotated: bool,
}

impl<'a> Follower<'a> {
    fn open(path: &'a Path) -> Result<Follower<'a>, EventsError> {
        let mut f = Follower {
            path,
            reader: None,
            inode: 0,
            inotify: None,
            line: String::new(),
            last: None,
            rotated: false,
        };
        f.reopen()?;
        Ok(f)
    }

    fn reopen(&mut self) -> Result<(), EventsError> {
        self.line.clear();
        match File::open(self.path) {
            Ok(file) => {
                self.inode = file.metadata().map_err(io("stat", self.path))?.ino();
                self.reader = Some(BufReader::new(file));
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => self.reader = None,
            Err(e) => return Err(io("open", self.path)(e)),
        }
        Ok(())
    }

    /// Hand every complete line after the last one to `sink`.
    fn drain(&mut self, sink: &mut dyn FnMut(&Event) -> bool) -> Result<bool, EventsError> {
        loop {
            let Some(reader) = self.reader.as_mut() else {
                return Ok(true);
            };
            let n = reader
                .read_line(&mut self.line)
                .map_err(io("read", self.path))?;
            if n == 0 || !self.line.ends_with('\n') {
                // A line still being written stays in `line` until its end arrives.
                return Ok(true);
            }
            let line = std::mem::take(&mut self.line);
            match serde_json::from_str::<Event>(&line) {
                Ok(e) => {
                    if self.seen_before_rotation(&line, &e) {
                        continue;
                    }
                    let go_on = sink(&e);
                    self.last = Some((line, e.time));
                    if !go_on {
                        return Ok(false);
                    }
                }
                Err(e) => tracing::debug!(error = %e, "skipping a malformed event line"),
            }
        }
    }

    /// Whether a line of a freshly rotated log was handed on already (from the old file).
    fn seen_before_rotation(&mut self, line: &str, e: &Event) -> bool {
        if !self.rotated {
            return false;
        }
        match &self.last {
            Some((l, _)) if l == line => {
                self.rotated = false;
                true
            }
            Some((_, t)) if e.time < *t || e.kind == super::Type::System => true,
            _ => {
                self.rotated = false;
                false
            }
        }
    }

    /// Wait until the log may have changed (or `timeout` passed), then reopen it if it was rotated.
    fn wait(&mut self, timeout: Option<std::time::Duration>) -> Result<(), EventsError> {
        use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify};
        if self.inotify.is_none() {
            let dir = self.path.parent().unwrap_or(Path::new("."));
            std::fs::DirBuilder::new()
                .recursive(true)
                .create(dir)
                .map_err(io("create the directory of", self.path))?;
            let ino = Inotify::init(InitFlags::IN_CLOEXEC | InitFlags::IN_NONBLOCK)
                .map_err(|e| io("watch", self.path)(e.into()))?;
            // The directory: the log may not exist yet, and rotation replaces it.
            ino.add_watch(
                dir,
                AddWatchFlags::IN_MODIFY | AddWatchFlags::IN_CREATE | AddWatchFlags::IN_MOVED_TO,
            )
            .map_err(|e| io("watch", self.path)(e.into()))?;
            self.inotify = Some(ino);
            // Anything written before the watch existed.
            return self.check_rotated();
        }
        let Some(ino) = self.inotify.as_ref() else {
            return Ok(());
        };
        let timeout = match timeout {
            Some(d) => nix::poll::PollTimeout::try_from(d.as_millis().min(60_000) as i32 + 1)
                .unwrap_or(nix::poll::PollTimeout::MAX),
            None => nix::poll::PollTimeout::NONE,
        };
        let mut fds = [nix::poll::PollFd::new(
            std::os::fd::AsFd::as_fd(ino),
            nix::poll::PollFlags::POLLIN,
        )];
        match nix::poll::poll(&mut fds, timeout) {
            Ok(_) | Err(nix::errno::Errno::EINTR) => {}
            Err(e) => return Err(io("watch", self.path)(e.into())),
        }
        // Empty the queue; which file changed does not matter.
        while ino.read_events().is_ok_and(|evs| !evs.is_empty()) {}
        self.check_rotated()
    }

    /// After a rotation, finish the old file and go on with the new one.
    fn check_rotated(&mut self) -> Result<(), EventsError> {
        let current = std::fs::metadata(self.path).map(|m| m.ino()).ok();
        if current.is_some() && (self.reader.is_none() || current != Some(self.inode)) {
            // Whatever the old file still had.
            self.rotated = self.reader.is_some();
            self.reopen()?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conf(dir: &Path, max: Option<u64>) -> EventsConf {
        EventsConf {
            backend: super::super::Backend::File,
            path: dir.join("events").join("events.log"),
            max_size: max,
        }
    }

    fn names(conf: &EventsConf) -> Vec<String> {
        let mut out = Vec::new();
        let opts = ReadOptions::default();
        read(conf, &opts, &mut |e| {
            out.push(format!("{} {}", e.status, e.name));
            true
        })
        .unwrap();
        out
    }

    #[test]
    fn appends_are_read_back_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let c = conf(dir.path(), None);
        assert!(names(&c).is_empty(), "no log yet reads as no events");
        append(&c, &[Event::volume("create", "a")]).unwrap();
        append(
            &c,
            &[Event::volume("remove", "a"), Event::volume("create", "b")],
        )
        .unwrap();
        assert_eq!(names(&c), ["create a", "remove a", "create b"]);
    }

    #[test]
    fn a_full_log_keeps_its_newer_half() {
        let dir = tempfile::tempdir().unwrap();
        let c = conf(dir.path(), Some(2_000));
        for i in 0..100 {
            append(&c, &[Event::volume("create", &format!("v{i}"))]).unwrap();
        }
        let size = std::fs::metadata(&c.path).unwrap().len();
        assert!(size <= 2_000, "rotated log is {size} bytes");
        let got = names(&c);
        assert_eq!(
            got.first().map(String::as_str),
            Some(&*format!("log-rotation {}", c.path.display()))
        );
        assert_eq!(got.last().map(String::as_str), Some("create v99"));
        // Whole lines only, in order.
        let nums: Vec<u32> = got[1..]
            .iter()
            .map(|s| s.trim_start_matches("create v").parse().unwrap())
            .collect();
        assert!(nums.windows(2).all(|w| w[1] == w[0] + 1), "{nums:?}");
    }

    #[test]
    fn a_held_log_is_written_after_the_path_is_gone() {
        let dir = tempfile::tempdir().unwrap();
        let c = conf(dir.path(), None);
        let held = hold(&c).unwrap();
        let moved = dir.path().join("elsewhere.log");
        std::fs::rename(&c.path, &moved).unwrap();
        append_held(&held, &Event::volume("create", "x")).unwrap();
        let text = std::fs::read_to_string(&moved).unwrap();
        assert!(text.contains("\"Name\":\"x\""), "{text}");
    }
}
