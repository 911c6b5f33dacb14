//! Relaying a container process's stdio through pipes where ours are terminals, as conmon does for
//! podman. A descriptor of the user's terminal would let the process read what the user types after
//! roost has returned, change the terminal's modes, and, were it also its controlling terminal, push
//! input that the user's shell then runs (TIOCSTI). So a process never gets one: it writes to and
//! reads from pipes that we copy. (Every container process also gets a session of its own, so no
//! terminal of ours can be its controlling terminal.) Descriptors that are not terminals are handed
//! over as they are: nothing is copied on the common path (pipes, files, /dev/null).
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::unistd::Pid;

/// When a relay ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Until {
    /// When the process's stdout and stderr pipes are closed (it and every descendant holding them
    /// are gone), as for a container's pid 1; when neither is relayed, when the process exits.
    Closed,
    /// When the process exits (what it wrote is still copied), as for an exec'd process whose
    /// background children may keep its output open.
    Exited,
}

/// Whether each of our descriptors 0, 1 and 2 is a terminal.
pub fn terminals() -> [bool; 3] {
    [0, 1, 2].map(|fd| nix::unistd::isatty(our_stdio(fd).as_fd()).unwrap_or(false))
}

/// Pipes standing in for some of our descriptors 0, 1 and 2, for a process about to be started.
pub struct Pipes {
    /// The process's ends, by the descriptor they stand in for.
    child: [Option<OwnedFd>; 3],
    /// Our end of its stdin.
    stdin: Option<OwnedFd>,
    /// Our ends of its stdout and stderr.
    outputs: [Option<OwnedFd>; 2],
}

fn pipe() -> nix::Result<(OwnedFd, OwnedFd)> {
    nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
}

fn set_nonblocking(fd: &OwnedFd) {
    use nix::fcntl::{FcntlArg, OFlag, fcntl};
    let _ = fcntl(fd, FcntlArg::F_SETFL(OFlag::O_NONBLOCK));
}

/// One of our descriptors 0, 1 and 2.
pub enum OurStdio {
    In(std::io::Stdin),
    Out(std::io::Stdout),
    Err(std::io::Stderr),
}

impl AsFd for OurStdio {
    fn as_fd(&self) -> BorrowedFd<'_> {
        match self {
            OurStdio::In(s) => s.as_fd(),
            OurStdio::Out(s) => s.as_fd(),
            OurStdio::Err(s) => s.as_fd(),
        }
    }
}

/// Our descriptor 0, 1 or 2.
pub fn our_stdio(fd: usize) -> OurStdio {
    match fd {
        0 => OurStdio::In(std::io::stdin()),
        1 => OurStdio::Out(std::io::stdout()),
        _ => OurStdio::Err(std::io::stderr()),
    }
}

/// What one entry of the poll set is.
#[derive(Clone, Copy)]
enum Slot {
    Output(usize),
    Input,
    Stdin,
    Exit,
}

impl Pipes {
    /// Pipes for those of our descriptors 0, 1 and 2 that `which` marks (all close-on-exec).
    pub fn new(which: [bool; 3]) -> nix::Result<Pipes> {
        let mut p = Pipes {
            child: [None, None, None],
            stdin: None,
            outputs: [None, None],
        };
        if which[0] {
            let (r, w) = pipe()?;
            p.child[0] = Some(r);
            p.stdin = Some(w);
        }
        for i in 0..2 {
            if which[i + 1] {
                let (r, w) = pipe()?;
                p.child[i + 1] = Some(w);
                p.outputs[i] = Some(r);
            }
        }
        Ok(p)
    }

    /// The process's end standing in for our descriptor `fd` (0, 1 or 2), when that one is relayed.
    pub fn child_end(&self, fd: usize) -> Option<&OwnedFd> {
        self.child.get(fd).and_then(Option::as_ref)
    }

    /// Close the process's ends in this process (once the process has its copies).
    pub fn close_child_ends(&mut self) {
        self.child = [None, None, None];
    }

    /// Copy our stdin into the process's and its stdout and stderr to ours, handing each piece of
    /// output to `sink` too (with whether it came from stderr), until `until` (for `pid`). When our
    /// stdout (or stderr) is closed (`| head`), that pipe is closed too, so the process sees the
    /// broken pipe it would have seen writing there itself; when our stdin ends, its stdin ends.
    pub fn copy(mut self, pid: Pid, until: Until, sink: &mut dyn FnMut(bool, &[u8])) {
        self.close_child_ends();
        let no_outputs = self.outputs.iter().all(Option::is_none);
        let exit = (until == Until::Exited || no_outputs)
            .then(|| pidfd(pid))
            .flatten();
        if exit.is_none() && no_outputs {
            return;
        }
        for fd in self.outputs.iter().flatten().chain(&self.stdin) {
            set_nonblocking(fd);
        }
        let input = std::io::stdin();
        let mut reading = self.stdin.is_some();
        let mut pending = Vec::new();
        let mut buf = vec![0u8; 32 * 1024];
        loop {
            if exit.is_none() && self.outputs.iter().all(Option::is_none) {
                return;
            }
            let Some(ready) = self.wait(
                reading && pending.is_empty(),
                !pending.is_empty(),
                exit.as_ref(),
            ) else {
                return;
            };
            for slot in ready {
                match slot {
                    Slot::Output(i) => {
                        self.output(i, &mut buf, sink);
                    }
                    Slot::Input => match nix::unistd::read(input.as_fd(), &mut buf) {
                        Ok(n) if n > 0 => pending.extend_from_slice(&buf[..n]),
                        Err(Errno::EINTR | Errno::EAGAIN) => {}
                        _ => reading = false,
                    },
                    Slot::Stdin => {
                        self.feed(&mut pending);
                        if self.stdin.is_none() {
                            reading = false;
                        }
                    }
                    Slot::Exit => {
                        // What it wrote before exiting is in the pipes; take it, wait for nothing more.
                        for i in 0..2 {
                            while self.output(i, &mut buf, sink) {}
                        }
                        return;
                    }
                }
            }
            if !reading && pending.is_empty() {
                // Our stdin ended (or the process's did): it reads end of file.
                self.stdin = None;
            }
        }
    }

    /// Wait until one of the outputs, our stdin (`read_input`), the process's stdin (`write_stdin`)
    /// or the process's exit is ready; which of them are, or `None` when waiting failed.
    fn wait(
        &self,
        read_input: bool,
        write_stdin: bool,
        exit: Option<&OwnedFd>,
    ) -> Option<Vec<Slot>> {
        let input = std::io::stdin();
        let mut fds = Vec::with_capacity(5);
        let mut slots = Vec::with_capacity(5);
        for (i, o) in self.outputs.iter().enumerate() {
            if let Some(o) = o {
                fds.push(PollFd::new(o.as_fd(), PollFlags::POLLIN));
                slots.push(Slot::Output(i));
            }
        }
        if read_input {
            fds.push(PollFd::new(input.as_fd(), PollFlags::POLLIN));
            slots.push(Slot::Input);
        }
        if let Some(s) = &self.stdin
            && write_stdin
        {
            fds.push(PollFd::new(s.as_fd(), PollFlags::POLLOUT));
            slots.push(Slot::Stdin);
        }
        if let Some(e) = exit {
            fds.push(PollFd::new(e.as_fd(), PollFlags::POLLIN));
            slots.push(Slot::Exit);
        }
        match poll(&mut fds, PollTimeout::NONE) {
            Ok(_) | Err(Errno::EINTR) => {}
            Err(_) => return None,
        }
        let ready = slots
            .into_iter()
            .zip(&fds)
            .filter(|(_, f)| f.revents().is_some_and(|r| !r.is_empty()))
            .map(|(s, _)| s)
            .collect::<Vec<_>>();
        Some(ready)
    }

    /// Copy one read of output `i` (0: stdout, 1: stderr); false when there was nothing to read now
    /// or the pipe closed.
    fn output(&mut self, i: usize, buf: &mut [u8], sink: &mut dyn FnMut(bool, &[u8])) -> bool {
        let Some(r) = &self.outputs[i] else {
            return false;
        };
        match nix::unistd::read(r, buf) {
            Ok(0) => {
                self.outputs[i] = None;
                false
            }
            Ok(n) => {
                sink(i == 1, &buf[..n]);
                if super::tty::write_all(our_stdio(i + 1), &buf[..n]).is_err() {
                    self.outputs[i] = None;
                }
                true
            }
            Err(Errno::EINTR) => true,
            Err(Errno::EAGAIN) => false,
            Err(_) => {
                self.outputs[i] = None;
                false
            }
        }
    }

    /// Write what the process can take of `pending` to its stdin; drop it all when it closed its end.
    fn feed(&mut self, pending: &mut Vec<u8>) {
        let Some(s) = &self.stdin else {
            pending.clear();
            return;
        };
        match nix::unistd::write(s, pending) {
            Ok(n) => {
                pending.drain(..n);
            }
            Err(Errno::EINTR | Errno::EAGAIN) => {}
            Err(_) => {
                pending.clear();
                self.stdin = None;
            }
        }
    }
}

/// A descriptor that turns readable when `pid` exits.
fn pidfd(pid: Pid) -> Option<OwnedFd> {
    let pid = rustix::process::Pid::from_raw(pid.as_raw())?;
    rustix::process::pidfd_open(pid, rustix::process::PidfdFlags::empty()).ok()
}
