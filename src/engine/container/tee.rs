//! A foreground container's output goes to our stdout and stderr and into its log, as podman's does
//! through conmon (`logs` works after a foreground `run` ended). The container writes to two pipes
//! that we copy; the log file is opened at the first output, so a container that prints nothing
//! (`run --rm IMAGE true`) costs two pipes and no file.
use std::io::{Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::path::PathBuf;

use nix::poll::{PollFd, PollFlags, PollTimeout, poll};

use super::logs::{LogFile, LogWriter};
use super::{Container, monitor};
use crate::engine::EngineError;

/// The log of a foreground container, opened when the first output arrives.
pub struct LazyLog {
    path: Option<PathBuf>,
    max_size: Option<u64>,
    writer: Option<LogWriter<LogFile>>,
}

impl LazyLog {
    /// Where `c` logs; nothing with `--log-driver none`.
    pub fn new(store: &crate::store::Store, c: &Container) -> LazyLog {
        let path = (c.spec.log_driver != "none").then(|| monitor::container_log_path(store, c));
        LazyLog {
            path,
            max_size: c.spec.log_opts.max_size,
            writer: None,
        }
    }

    pub fn enabled(&self) -> bool {
        self.path.is_some()
    }

    /// Log `data` from the container's stdout or stderr. A log that cannot be written is given up
    /// (the output still reaches the terminal).
    pub fn write(&mut self, stderr: bool, data: &[u8]) {
        if self.writer.is_none() {
            let Some(path) = self.path.take() else { return };
            match LogFile::open(&path, self.max_size) {
                Ok(f) => self.writer = Some(LogWriter::new(f)),
                Err(e) => {
                    tracing::warn!(path = %path.display(), error = %e, "cannot write the log")
                }
            }
        }
        if let Some(w) = self.writer.as_mut() {
            let _ = w.write(stderr, data).and_then(|()| w.flush_complete());
        }
    }

    /// Write out what is pending (the end of the output).
    pub fn finish(&mut self) {
        if let Some(w) = self.writer.as_mut() {
            let _ = w.flush();
        }
    }
}

/// Our stdout and stderr, set aside while the container's are pipes to us.
pub struct Tee {
    saved: [OwnedFd; 2],
    read: [Option<std::fs::File>; 2],
    write: [Option<OwnedFd>; 2],
}

fn io_err(what: &'static str, e: std::io::Error) -> EngineError {
    EngineError::io(what, "the container's output", e)
}

impl Tee {
    /// Make descriptors 1 and 2 pipes to us, for the container about to be spawned to inherit.
    pub fn redirect() -> Result<Tee, EngineError> {
        let saved = [
            crate::sys::process::dup_cloexec(std::io::stdout().as_fd())
                .map_err(|e| io_err("set aside stdout for", e))?,
            crate::sys::process::dup_cloexec(std::io::stderr().as_fd())
                .map_err(|e| io_err("set aside stderr for", e))?,
        ];
        let mut tee = Tee {
            saved,
            read: [None, None],
            write: [None, None],
        };
        for i in 0..2 {
            let (r, w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
                .map_err(|e| io_err("create a pipe for", e.into()))?;
            tee.read[i] = Some(std::fs::File::from(r));
            tee.write[i] = Some(w);
        }
        for (i, w) in tee.write.iter().enumerate() {
            let w = w.as_ref().expect("created above");
            if let Err(e) = crate::sys::process::dup_onto(w.as_fd(), i as i32 + 1) {
                tee.restore();
                return Err(io_err("redirect", e));
            }
        }
        Ok(tee)
    }

    /// Give descriptors 1 and 2 back (once the container holds the pipes).
    pub fn restore(&mut self) {
        for (i, s) in self.saved.iter().enumerate() {
            let _ = crate::sys::process::dup_onto(s.as_fd(), i as i32 + 1);
        }
        self.write = [None, None];
    }

    /// Copy the container's output to our stdout/stderr and the log until it closes both pipes.
    /// When our stdout (or stderr) is closed (`| head`), that pipe is closed too, so the container
    /// sees the same broken pipe it would have seen writing there itself.
    pub fn copy(mut self, log: &mut LazyLog) {
        self.restore();
        let mut outs = self.saved.map(std::fs::File::from);
        let mut buf = vec![0u8; 32 * 1024];
        while self.read.iter().any(Option::is_some) {
            let ready: Vec<usize> = {
                let mut fds = Vec::with_capacity(2);
                let mut which = Vec::with_capacity(2);
                for (i, r) in self.read.iter().enumerate() {
                    if let Some(r) = r {
                        fds.push(PollFd::new(r.as_fd(), PollFlags::POLLIN));
                        which.push(i);
                    }
                }
                match poll(&mut fds, PollTimeout::NONE) {
                    Ok(_) | Err(nix::Error::EINTR) => {}
                    Err(_) => break,
                }
                which
                    .iter()
                    .zip(&fds)
                    .filter(|(_, f)| f.revents().is_some_and(|r| !r.is_empty()))
                    .map(|(i, _)| *i)
                    .collect()
            };
            for i in ready {
                let n = match self.read[i].as_mut().map(|r| r.read(&mut buf)) {
                    Some(Ok(n)) => n,
                    Some(Err(e)) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                    _ => 0,
                };
                if n == 0 {
                    self.read[i] = None;
                    continue;
                }
                log.write(i == 1, &buf[..n]);
                if outs[i].write_all(&buf[..n]).is_err() {
                    self.read[i] = None;
                }
            }
        }
        log.finish();
    }
}
