//! The attach socket of a detached container: its monitor listens on `RUNTIME/containers/ID/attach`
//! (SOCK_STREAM, mode 0600) and every client gets the container's output as it arrives; data a client
//! sends goes to the container's stdin when the container was created with `-i`.
//!
//! Both directions carry frames: one byte stream id, a big-endian u32 length, then the data.
//! Monitor → client: 1 = stdout, 2 = stderr. Client → monitor: 0 = stdin; an empty stdin frame means
//! the client's stdin ended, and the monitor then closes the container's stdin (podman closes it when
//! the attached stdin ends); 3 = the client's window size, for a container with a terminal (whose
//! output comes as stdout, and whose stdin is the terminal). A client that just disconnects leaves stdin open. The monitor closes every
//! client when the container exits (after its log is flushed and its exit is recorded).
//!
//! Socket paths can exceed `sun_path` (108 bytes) under long runtime directories, so both ends go
//! through `/proc/self/fd/DIRFD/attach` (conmon does the same).
#![deny(clippy::print_stdout, clippy::print_stderr)]

use std::io::{self, Read, Write};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::PathBuf;

use nix::poll::{PollFd, PollFlags};

use crate::engine::{Ctx, EngineError};

pub const STREAM_STDIN: u8 = 0;
pub const STREAM_STDOUT: u8 = 1;
pub const STREAM_STDERR: u8 = 2;
/// Client → monitor: the client's terminal size, rows then columns (big-endian u16 each), for a
/// container with a terminal (`-t`).
pub const STREAM_RESIZE: u8 = 3;

/// A resize frame.
pub fn resize_frame(rows: u16, cols: u16) -> Vec<u8> {
    let mut data = rows.to_be_bytes().to_vec();
    data.extend_from_slice(&cols.to_be_bytes());
    frame(STREAM_RESIZE, &data)
}

/// Output a slow client may have queued before it is dropped (the container is never blocked).
const MAX_PENDING: usize = 4 * 1024 * 1024;
const HEADER: usize = 5;

/// The attach socket of container `id`.
pub fn socket_path(ctx: &Ctx, id: &str) -> PathBuf {
    super::runtime_dir(ctx, id).join("attach")
}

/// A frame: stream id, length, data.
pub fn frame(stream: u8, data: &[u8]) -> Vec<u8> {
    let len = u32::try_from(data.len()).expect("frames are built from reads of at most 32 KiB");
    let mut f = Vec::with_capacity(HEADER + data.len());
    f.push(stream);
    f.extend_from_slice(&len.to_be_bytes());
    f.extend_from_slice(data);
    f
}

/// Take one complete frame off the front of `buf`, if there is one.
pub fn take_frame(buf: &mut Vec<u8>) -> Option<(u8, Vec<u8>)> {
    if buf.len() < HEADER {
        return None;
    }
    let len = u32::from_be_bytes([buf[1], buf[2], buf[3], buf[4]]) as usize;
    if buf.len() < HEADER + len {
        return None;
    }
    let stream = buf[0];
    let data = buf[HEADER..HEADER + len].to_vec();
    buf.drain(..HEADER + len);
    Some((stream, data))
}

fn dir_path(dir: &std::fs::File) -> PathBuf {
    PathBuf::from(format!("/proc/self/fd/{}/attach", dir.as_raw_fd()))
}

fn open_dir(ctx: &Ctx, id: &str) -> Result<std::fs::File, EngineError> {
    let dir = super::runtime_dir(ctx, id);
    std::fs::File::open(&dir).map_err(|e| EngineError::io("open", dir, e))
}

/// Connect to the attach socket of container `id`.
pub fn connect(ctx: &Ctx, id: &str) -> Result<UnixStream, EngineError> {
    let dir = open_dir(ctx, id)?;
    let stream = UnixStream::connect(dir_path(&dir))
        .map_err(|e| EngineError::io("connect to", socket_path(ctx, id), e))?;
    if let Ok(c) = super::lifecycle::find(&ctx.store()?, id) {
        crate::engine::events::record(ctx, crate::engine::events::Event::container("attach", &c));
    }
    Ok(stream)
}

/// One attached client, as the monitor sees it.
struct Client {
    stream: UnixStream,
    /// Output not yet written (the socket is non-blocking).
    pending: Vec<u8>,
    /// Frames read from the client, not yet complete.
    incoming: Vec<u8>,
    /// Disconnected or too slow: removed at the end of the next `handle` (until then the indexes of
    /// the poll set handed out by `poll_fds` stay valid).
    gone: bool,
}

/// The monitor's side: the listening socket, its clients, and the container's stdin (with `-i`).
pub struct Server {
    listener: UnixListener,
    path: PathBuf,
    clients: Vec<Client>,
    stdin: Option<std::fs::File>,
    stdin_pending: Vec<u8>,
    stdin_eof: bool,
    /// The pty master of a container with a terminal, for window sizes.
    terminal: Option<OwnedFd>,
}

/// What one entry of the poll set belongs to.
#[derive(Clone, Copy)]
pub enum Slot {
    Listener,
    Client(usize),
    Stdin,
}

impl Server {
    /// Listen on the container's attach socket (replacing a stale one).
    pub fn bind(ctx: &Ctx, id: &str) -> Result<Server, EngineError> {
        let path = socket_path(ctx, id);
        let dir = super::runtime_dir(ctx, id);
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&dir)
            .map_err(|e| EngineError::io("create", dir, e))?;
        let dir = open_dir(ctx, id)?;
        let via = dir_path(&dir);
        let _ = std::fs::remove_file(&via);
        let listener =
            UnixListener::bind(&via).map_err(|e| EngineError::io("listen on", &path, e))?;
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&via, std::fs::Permissions::from_mode(0o600))
            .map_err(|e| EngineError::io("restrict", &path, e))?;
        listener
            .set_nonblocking(true)
            .map_err(|e| EngineError::io("configure", &path, e))?;
        Ok(Server {
            listener,
            path,
            clients: Vec::new(),
            stdin: None,
            stdin_pending: Vec::new(),
            stdin_eof: false,
            terminal: None,
        })
    }

    /// Wait up to `timeout` for a first client (`start -a` connects before the container starts, so it
    /// sees all of its output).
    pub fn wait_first_client(&mut self, timeout: std::time::Duration) {
        let ms = u16::try_from(timeout.as_millis()).unwrap_or(u16::MAX);
        let mut pfd = [PollFd::new(self.listener.as_fd(), PollFlags::POLLIN)];
        if nix::poll::poll(&mut pfd, nix::poll::PollTimeout::from(ms)).unwrap_or(0) > 0 {
            self.accept();
        }
    }

    /// Give the server the write end of the container's stdin pipe (a new one after each restart).
    pub fn set_stdin(&mut self, stdin: OwnedFd) {
        let _ = nix::fcntl::fcntl(
            &stdin,
            nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::O_NONBLOCK),
        );
        self.stdin = Some(std::fs::File::from(stdin));
        self.stdin_pending.clear();
        self.stdin_eof = false;
    }

    /// Give the server (a copy of) the container's pty master, whose size clients set.
    pub fn set_terminal(&mut self, master: OwnedFd) {
        self.terminal = Some(master);
    }

    /// Add the server's descriptors to a poll set, returning what each added entry is.
    pub fn poll_fds<'a>(&'a self, fds: &mut Vec<PollFd<'a>>) -> Vec<Slot> {
        let mut slots = vec![Slot::Listener];
        fds.push(PollFd::new(self.listener.as_fd(), PollFlags::POLLIN));
        // While stdin data waits for the container, read no more from clients.
        let read_clients = self.stdin_pending.is_empty();
        for (i, c) in self.clients.iter().enumerate() {
            let mut flags = PollFlags::empty();
            if read_clients {
                flags |= PollFlags::POLLIN;
            }
            if !c.pending.is_empty() {
                flags |= PollFlags::POLLOUT;
            }
            slots.push(Slot::Client(i));
            fds.push(PollFd::new(c.stream.as_fd(), flags));
        }
        if let Some(s) = &self.stdin
            && !self.stdin_pending.is_empty()
        {
            slots.push(Slot::Stdin);
            fds.push(PollFd::new(s.as_fd(), PollFlags::POLLOUT));
        }
        slots
    }

    /// Handle the entries of the poll set that were ready (`ready` as returned by `poll_fds`, filtered).
    pub fn handle(&mut self, ready: &[Slot]) {
        for slot in ready {
            match *slot {
                Slot::Listener => self.accept(),
                Slot::Client(i) => {
                    if !self.clients[i].gone && !self.serve(i) {
                        self.clients[i].gone = true;
                    }
                }
                Slot::Stdin => self.feed_stdin(),
            }
        }
        self.clients.retain(|c| !c.gone);
    }

    fn accept(&mut self) {
        while let Ok((stream, _)) = self.listener.accept() {
            if stream.set_nonblocking(true).is_ok() {
                self.clients.push(Client {
                    stream,
                    pending: Vec::new(),
                    incoming: Vec::new(),
                    gone: false,
                });
            }
        }
    }

    /// Read from and write to client `i`; false when it is gone.
    fn serve(&mut self, i: usize) -> bool {
        if !flush_client(&mut self.clients[i]) {
            return false;
        }
        if !self.stdin_pending.is_empty() {
            return true;
        }
        let mut buf = [0u8; 32 * 1024];
        let c = &mut self.clients[i];
        match c.stream.read(&mut buf) {
            Ok(0) => return false,
            Ok(n) => c.incoming.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return true,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => return true,
            Err(_) => return false,
        }
        while let Some((stream, data)) = take_frame(&mut self.clients[i].incoming) {
            if stream == STREAM_RESIZE {
                if let (Some(t), [r0, r1, c0, c1]) = (&self.terminal, data.as_slice()) {
                    let size = nix::pty::Winsize {
                        ws_row: u16::from_be_bytes([*r0, *r1]),
                        ws_col: u16::from_be_bytes([*c0, *c1]),
                        ws_xpixel: 0,
                        ws_ypixel: 0,
                    };
                    let _ = crate::sys::tty::set_window_size(t, &size);
                }
                continue;
            }
            if stream != STREAM_STDIN || self.stdin.is_none() || self.stdin_eof {
                continue;
            }
            if data.is_empty() {
                self.stdin_eof = true;
            } else {
                self.stdin_pending.extend_from_slice(&data);
            }
        }
        self.feed_stdin();
        true
    }

    /// Write queued stdin data to the container; close its stdin once the client's stdin ended.
    fn feed_stdin(&mut self) {
        let Some(s) = self.stdin.as_mut() else {
            self.stdin_pending.clear();
            return;
        };
        while !self.stdin_pending.is_empty() {
            match s.write(&self.stdin_pending) {
                Ok(n) => {
                    self.stdin_pending.drain(..n);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => {
                    // The container closed its stdin: nothing more can be delivered.
                    self.stdin = None;
                    self.stdin_pending.clear();
                    return;
                }
            }
        }
        if self.stdin_eof {
            self.stdin = None;
        }
    }

    /// Send container output to every client; drop those that cannot keep up.
    pub fn broadcast(&mut self, stream: u8, data: &[u8]) {
        let f = frame(stream, data);
        for c in self.clients.iter_mut().filter(|c| !c.gone) {
            c.pending.extend_from_slice(&f);
            if !flush_client(c) || c.pending.len() > MAX_PENDING {
                c.gone = true;
                c.pending.clear();
            }
        }
    }

    /// The container exited: close its stdin, deliver what is queued (for at most `grace`) and close
    /// every client.
    pub fn close_clients(&mut self, grace: std::time::Duration) {
        self.stdin = None;
        self.terminal = None;
        self.stdin_pending.clear();
        self.clients.retain(|c| !c.gone);
        let deadline = std::time::Instant::now() + grace;
        while self.clients.iter().any(|c| !c.pending.is_empty())
            && std::time::Instant::now() < deadline
        {
            self.clients.retain_mut(flush_client);
            let mut fds: Vec<PollFd> = self
                .clients
                .iter()
                .filter(|c| !c.pending.is_empty())
                .map(|c| PollFd::new(c.stream.as_fd(), PollFlags::POLLOUT))
                .collect();
            if fds.is_empty() {
                break;
            }
            let _ = nix::poll::poll(&mut fds, nix::poll::PollTimeout::from(50u16));
        }
        self.clients.clear();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Write as much queued output as the client takes now; false when it is gone.
fn flush_client(c: &mut Client) -> bool {
    while !c.pending.is_empty() {
        match c.stream.write(&c.pending) {
            Ok(0) => return false,
            Ok(n) => {
                c.pending.drain(..n);
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return true,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return false,
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip_and_wait_for_completion() {
        let mut buf = frame(STREAM_STDERR, b"oops");
        buf.extend(frame(STREAM_STDIN, b""));
        let tail = frame(STREAM_STDOUT, b"hello");
        buf.extend_from_slice(&tail[..3]);
        assert_eq!(
            take_frame(&mut buf),
            Some((STREAM_STDERR, b"oops".to_vec()))
        );
        assert_eq!(take_frame(&mut buf), Some((STREAM_STDIN, Vec::new())));
        assert_eq!(take_frame(&mut buf), None);
        buf.extend_from_slice(&tail[3..]);
        assert_eq!(
            take_frame(&mut buf),
            Some((STREAM_STDOUT, b"hello".to_vec()))
        );
        assert!(buf.is_empty());
    }
}
