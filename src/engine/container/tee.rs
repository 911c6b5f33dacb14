//! A foreground container's output goes to our stdout and stderr and into its log, as podman's does
//! through conmon (`logs` works after a foreground `run` ended). The container writes to two pipes
//! that we copy; the log file is opened at the first output, so a container that prints nothing
//! (`run --rm IMAGE true`) costs two pipes and no file.
use std::os::fd::{AsFd, OwnedFd};
use std::path::PathBuf;

use crate::runtime::relay::{Pipes, Until, our_stdio};

use super::journal_log::{Driver, Head, JournalLog};
use super::logs::{K8sFile, LogFile, LogWriter, Records};
use super::{Container, monitor};
use crate::engine::EngineError;

/// Where a foreground container's log goes.
enum Target {
    File {
        path: PathBuf,
        max_size: Option<u64>,
    },
    Journal(Head),
}

impl Target {
    fn open(self) -> std::io::Result<Box<dyn Records>> {
        Ok(match self {
            Target::File { path, max_size } => Box::new(K8sFile(LogFile::open(&path, max_size)?)),
            Target::Journal(head) => Box::new(JournalLog::with(head)?),
        })
    }
}

/// The log of a foreground container, opened when the first output arrives.
pub struct LazyLog {
    target: Option<Target>,
    writer: Option<LogWriter<Box<dyn Records>>>,
}

impl LazyLog {
    /// Where `c` logs; nothing with `--log-driver none` or `passthrough`.
    pub fn new(store: &crate::store::Store, c: &Container) -> LazyLog {
        let target = match Driver::of(c) {
            Driver::K8sFile => Some(Target::File {
                path: monitor::container_log_path(store, c),
                max_size: c.spec.log_opts.max_size,
            }),
            Driver::Journald => Some(Target::Journal(super::journal_log::fields(c))),
            Driver::None | Driver::Passthrough => None,
        };
        LazyLog {
            target,
            writer: None,
        }
    }

    /// No log (a build step's output).
    pub fn none() -> LazyLog {
        LazyLog {
            target: None,
            writer: None,
        }
    }

    pub fn enabled(&self) -> bool {
        self.target.is_some()
    }

    /// Log `data` from the container's stdout or stderr. A log that cannot be written is given up
    /// (the output still reaches the terminal).
    pub fn write(&mut self, stderr: bool, data: &[u8]) {
        if self.writer.is_none() {
            let Some(target) = self.target.take() else {
                return;
            };
            match target.open() {
                Ok(r) => self.writer = Some(LogWriter::with(r)),
                Err(e) => tracing::warn!(error = %e, "cannot write the log"),
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

/// Those of our descriptors 0, 1 and 2 that a container about to be spawned gets as pipes to us
/// (see `runtime::relay`), set aside meanwhile.
pub struct Tee {
    saved: [Option<OwnedFd>; 3],
    pipes: Pipes,
}

fn io_err(what: &'static str, e: std::io::Error) -> EngineError {
    EngineError::io(what, "the container's output", e)
}

impl Tee {
    /// Which descriptors a container's pid 1 gets as pipes: stdout and stderr when they are copied
    /// into its `log`, and any of the three (stdin only with `interactive`) that is a terminal.
    pub fn needed(interactive: bool, log: bool) -> [bool; 3] {
        let t = crate::runtime::relay::terminals();
        [interactive && t[0], log || t[1], log || t[2]]
    }

    /// Make the descriptors `which` marks pipes to us, for the container about to be spawned to
    /// inherit; `None` when none is marked.
    pub fn redirect(which: [bool; 3]) -> Result<Option<Tee>, EngineError> {
        if !which.contains(&true) {
            return Ok(None);
        }
        let pipes = Pipes::new(which).map_err(|e| io_err("create a pipe for", e.into()))?;
        let mut tee = Tee {
            saved: [None, None, None],
            pipes,
        };
        for fd in 0..3 {
            let Some(end) = tee.pipes.child_end(fd) else {
                continue;
            };
            let set_aside = crate::sys::process::dup_cloexec(our_stdio(fd).as_fd());
            let redirected = set_aside.and_then(|s| {
                tee.saved[fd] = Some(s);
                crate::sys::process::dup_onto(end.as_fd(), fd as i32)
            });
            if let Err(e) = redirected {
                tee.restore();
                return Err(io_err("redirect", e));
            }
        }
        Ok(Some(tee))
    }

    /// Give our descriptors back (once the container holds the pipes).
    pub fn restore(&mut self) {
        for (fd, s) in self.saved.iter_mut().enumerate() {
            if let Some(s) = s.take() {
                let _ = crate::sys::process::dup_onto(s.as_fd(), fd as i32);
            }
        }
        self.pipes.close_child_ends();
    }

    /// Relay until the container (`pid`) has closed its output (see `runtime::relay`), copying the
    /// output into `log` too.
    pub fn copy(mut self, pid: nix::unistd::Pid, log: &mut LazyLog) {
        self.restore();
        self.pipes.copy(pid, Until::Closed, &mut |stderr, data| {
            log.write(stderr, data)
        });
        log.finish();
    }
}
