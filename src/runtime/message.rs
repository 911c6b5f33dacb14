//! The runtime's parent↔child protocol, typed: what the starter and the child it cloned (the
//! container's pid 1, or an `exec`'s process) say to each other over one `SOCK_SEQPACKET` pair, one
//! message per packet, and the failure report that crosses a process boundary (a child's, a
//! monitor's). One codec for all of them: [`encode`] and [`decode`] (JSON).
//!
//! The child's end is close-on-exec: the channel reaching its end without a [`ToParent::Failed`]
//! means the exec happened (the technique std's `Command` uses with a pipe).
use std::fmt;
use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// The largest message either side sends (a failure report naming a long path fits).
const MAX_MESSAGE: usize = 64 * 1024;

/// Parent → child.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(super) enum ToChild {
    /// The ids are mapped: build the root.
    IdsMapped,
    /// The network is ready: run the program.
    NetworkReady,
    /// What the parent does from outside failed: stop.
    Abort,
}

/// Child → parent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(super) enum ToParent {
    /// The pty master (`-t`) is attached to this message.
    Terminal,
    /// The built-in network's tap device is attached to this message.
    Tap,
    /// The /proc view's FUSE connection (`/dev/fuse`) is attached to this message.
    ProcView,
    /// The /proc view cannot be mounted (why): the container keeps the host's files.
    NoProcView(String),
    /// Setting up failed before the exec.
    Failed(ChildError),
    /// A pidfd of the detached process (`exec -d`) is attached to this message: the parent learns
    /// its pid in its own pid namespace from it.
    Started,
}

/// Encode a message (or a report) for the other side.
pub fn encode<T: Serialize>(msg: &T) -> Vec<u8> {
    serde_json::to_vec(msg).expect("protocol messages serialize")
}

/// Decode what [`encode`] made; `None` for anything else.
pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Option<T> {
    serde_json::from_slice(bytes).ok()
}

/// A connected pair: the parent's end and the child's (both close-on-exec).
pub(super) fn channel() -> io::Result<(ParentEnd, ChildEnd)> {
    let (parent, child) = crate::sys::tty::fd_channel()?;
    Ok((ParentEnd(parent), ChildEnd(child)))
}

fn send<T: Serialize>(sock: &OwnedFd, msg: &T, fd: Option<&OwnedFd>) -> io::Result<()> {
    let data = encode(msg);
    tracing::trace!(message = %String::from_utf8_lossy(&data), "send");
    let fds: Vec<_> = fd.iter().map(|f| f.as_raw_fd()).collect();
    crate::sys::fdpass::send(sock.as_fd(), &data, &fds)
}

/// What one read of the channel gave.
enum Received<T> {
    /// A message and the descriptors attached to it.
    Message(T, Vec<OwnedFd>),
    /// A packet that is no message of ours.
    Unreadable,
    /// The other side closed (or the read failed).
    Closed,
}

fn recv<T: DeserializeOwned>(sock: &OwnedFd) -> Received<T> {
    let mut reset_seen = false;
    let (data, fds) = loop {
        match crate::sys::fdpass::recv(sock.as_fd(), MAX_MESSAGE) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            // A peer that closed its end with a message of ours unread (a child that failed before
            // it waited for `NetworkReady`) leaves ECONNRESET pending, and a seqpacket socket
            // reports that before the packets queued ahead of it, its report among them. Reading
            // the error clears it: the next read gets the packets, then the end.
            Err(e) if e.kind() == io::ErrorKind::ConnectionReset && !reset_seen => {
                reset_seen = true;
                continue;
            }
            Err(_) => return Received::Closed,
            Ok(got) => break got,
        }
    };
    if data.is_empty() {
        return Received::Closed;
    }
    match decode(&data) {
        Some(m) => Received::Message(m, fds),
        None => Received::Unreadable,
    }
}

/// The starter's end.
pub(super) struct ParentEnd(OwnedFd);

impl ParentEnd {
    /// Tell the child the ids are mapped (or, with `false`, to stop).
    pub fn ids_mapped(&self, ok: bool) {
        let msg = if ok {
            ToChild::IdsMapped
        } else {
            ToChild::Abort
        };
        let _ = send(&self.0, &msg, None);
    }

    /// Tell the child its network is ready (or, with `false`, to stop).
    pub fn network_ready(&self, ok: bool) {
        let msg = if ok {
            ToChild::NetworkReady
        } else {
            ToChild::Abort
        };
        let _ = send(&self.0, &msg, None);
    }

    /// The pty master the child sends with `-t`: `Ok(None)` when it closed without one, the child's
    /// failure when it failed first.
    pub fn terminal(&self) -> Result<Option<OwnedFd>, ChildError> {
        match recv::<ToParent>(&self.0) {
            Received::Message(ToParent::Terminal, fds) => Ok(fds.into_iter().next()),
            Received::Message(ToParent::Failed(e), _) => Err(e),
            Received::Message(
                ToParent::ProcView | ToParent::NoProcView(_) | ToParent::Tap | ToParent::Started,
                _,
            )
            | Received::Unreadable => Err(ChildError::new(Step::BadReport)),
            Received::Closed => Ok(None),
        }
    }

    /// The /proc view's FUSE connection: `Ok(Err(why))` when the child could not mount it, the
    /// child's failure when it failed first.
    pub fn proc_view(&self) -> Result<Result<OwnedFd, String>, ChildError> {
        match recv::<ToParent>(&self.0) {
            Received::Message(ToParent::ProcView, fds) => fds
                .into_iter()
                .next()
                .map(Ok)
                .ok_or_else(|| ChildError::new(Step::BadReport)),
            Received::Message(ToParent::NoProcView(why), _) => Ok(Err(why)),
            Received::Message(ToParent::Failed(e), _) => Err(e),
            Received::Message(ToParent::Terminal | ToParent::Tap | ToParent::Started, _)
            | Received::Unreadable => Err(ChildError::new(Step::BadReport)),
            Received::Closed => Err(ChildError::new(Step::BadReport)),
        }
    }

    /// The built-in network's tap device, or the child's failure.
    pub fn tap(&self) -> Result<OwnedFd, ChildError> {
        match recv::<ToParent>(&self.0) {
            Received::Message(ToParent::Tap, fds) => fds
                .into_iter()
                .next()
                .ok_or_else(|| ChildError::new(Step::BadReport)),
            Received::Message(ToParent::Failed(e), _) => Err(e),
            _ => Err(ChildError::new(Step::BadReport)),
        }
    }

    /// Wait until the child has exec'd (its end closed) or reported a failure; the pidfd a detached
    /// process's starter sent, if any.
    pub fn outcome(&self) -> Result<Option<OwnedFd>, ChildError> {
        let mut started = None;
        loop {
            match recv::<ToParent>(&self.0) {
                Received::Closed => return Ok(started),
                Received::Message(ToParent::Failed(e), _) => return Err(e),
                Received::Message(ToParent::Started, fds) => started = fds.into_iter().next(),
                Received::Message(
                    ToParent::Terminal
                    | ToParent::ProcView
                    | ToParent::NoProcView(_)
                    | ToParent::Tap,
                    _,
                ) => continue,
                Received::Unreadable => return Err(ChildError::new(Step::BadReport)),
            }
        }
    }
}

/// The child's end.
pub(super) struct ChildEnd(OwnedFd);

impl ChildEnd {
    /// Wait for the parent's go-ahead for the next stage: whether it sent `expected`.
    pub fn wait_for(&self, expected: ToChild) -> bool {
        matches!(recv::<ToChild>(&self.0), Received::Message(got, _) if got == expected)
    }

    /// Pass the pty master to the parent.
    pub fn send_terminal(&self, master: &OwnedFd) -> io::Result<()> {
        send(&self.0, &ToParent::Terminal, Some(master))
    }

    /// Pass the built-in network's tap device to the parent.
    pub fn send_tap(&self, tap: &OwnedFd) -> io::Result<()> {
        send(&self.0, &ToParent::Tap, Some(tap))
    }

    /// Pass the /proc view's FUSE connection to the parent.
    pub fn send_proc_view(&self, dev: &OwnedFd) -> io::Result<()> {
        send(&self.0, &ToParent::ProcView, Some(dev))
    }

    /// Pass a pidfd of the detached process to the parent.
    pub fn send_started(&self, pidfd: &OwnedFd) -> io::Result<()> {
        send(&self.0, &ToParent::Started, Some(pidfd))
    }

    /// Tell the parent there is no /proc view, and why.
    pub fn no_proc_view(&self, why: String) -> io::Result<()> {
        send(&self.0, &ToParent::NoProcView(why), None)
    }

    /// Report why the exec will not happen.
    pub fn report(&self, e: &ChildError) {
        let msg = ToParent::Failed(e.clone());
        if encode(&msg).len() <= MAX_MESSAGE {
            let _ = send(&self.0, &msg, None);
            return;
        }
        let text: String = e.to_string().chars().take(MAX_MESSAGE / 8).collect();
        let clipped = ChildError::new(Step::Clipped {
            text,
            code: e.exit_code(),
        });
        let _ = send(&self.0, &ToParent::Failed(clipped), None);
    }
}

/// A step of the child's setup, with its object: what failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Step {
    NonDumpable,
    /// Becoming uid/gid 0 of a namespace that leaves out the caller's own ids.
    NamespaceRoot,
    OpenNetns {
        path: String,
    },
    JoinNetns {
        path: String,
    },
    /// A pod's IPC or UTS namespace (`what`).
    OpenNamespace {
        what: String,
        path: String,
    },
    JoinNamespace {
        what: String,
        path: String,
    },
    /// A step of building the root file system, as `failed to …` completes it (it names its paths).
    Root {
        what: String,
    },
    Hostname,
    CreateCwd {
        cwd: String,
    },
    Chdir {
        cwd: String,
    },
    Rlimit {
        name: String,
        soft: u64,
        hard: u64,
    },
    Cloexec,
    ParentDeathSignal,
    /// `--sysctl`.
    Sysctl {
        key: String,
        value: String,
    },
    CgroupNamespace,
    /// Pinning to the CPUs a `--cpus` quota is worth.
    CpuAffinity,
    /// `--oom-score-adj`.
    OomScoreAdj {
        adj: i32,
    },
    OpenTerminal,
    PassTerminal,
    SetupTerminal,
    ControllingTerminal,
    Setsid,
    SignalMask,
    Redirect,
    Fork,
    NetworkNotReady,
    /// The built-in network's tap device.
    Tap,
    PassTap,
    InitFork,
    ResetSignals,
    SetGroups,
    SetGid {
        gid: u32,
    },
    SetUid {
        uid: u32,
    },
    NoNewPrivs,
    Seccomp,
    Caps,
    /// No command to run (127).
    NoCommand,
    NulByte {
        arg: String,
    },
    /// The exec of a path failed (126).
    Exec {
        cmd: String,
    },
    /// The program is not executable (126).
    ExecDenied {
        path: String,
    },
    /// A path that does not exist (127).
    NotFound {
        cmd: String,
    },
    /// A name that no directory of $PATH has (127).
    NotInPath {
        cmd: String,
    },
    /// An exec's working directory cannot be entered (podman's status by the errno).
    EnterCwd {
        cwd: String,
    },
    /// The child's report could not be read.
    BadReport,
    /// A report too long for one message: its text, shortened, and its status.
    Clipped {
        text: String,
        code: i32,
    },
}

/// Why a child did not exec: the step (with its object), the errno when a system call failed, and
/// the cause as its error type words it (crun's `crun_make_error`). `Display` gives the message
/// the user sees.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChildError {
    pub step: Step,
    pub errno: Option<i32>,
    pub cause: Option<String>,
}

impl std::error::Error for ChildError {}

impl ChildError {
    pub fn new(step: Step) -> ChildError {
        ChildError {
            step,
            errno: None,
            cause: None,
        }
    }

    /// A system call (through nix) failed.
    pub fn nix(step: Step, e: nix::Error) -> ChildError {
        ChildError {
            step,
            errno: Some(e as i32),
            cause: Some(e.to_string()),
        }
    }

    /// An I/O operation failed.
    pub fn io(step: Step, e: &io::Error) -> ChildError {
        ChildError {
            step,
            errno: e.raw_os_error(),
            cause: Some(e.to_string()),
        }
    }

    /// Something else failed (a seccomp or capability error).
    pub fn caused(step: Step, e: &dyn fmt::Display) -> ChildError {
        ChildError {
            step,
            errno: None,
            cause: Some(e.to_string()),
        }
    }

    /// podman's statuses: 126 when the command cannot be run, 127 when it is not found, else 125.
    pub fn exit_code(&self) -> i32 {
        match &self.step {
            Step::NoCommand | Step::NotFound { .. } | Step::NotInPath { .. } => 127,
            Step::Exec { .. } | Step::ExecDenied { .. } => 126,
            Step::EnterCwd { .. } => match self.errno.map(nix::Error::from_raw) {
                Some(nix::Error::ENOENT) => 127,
                Some(nix::Error::EACCES | nix::Error::EPERM) => 126,
                _ => 125,
            },
            Step::Clipped { code, .. } => *code,
            _ => 125,
        }
    }
}

const NOT_FOUND: &str = "OCI runtime attempted to invoke a command that was not found";

impl fmt::Display for Step {
    /// What failed, as the message starts.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Step::NonDumpable => write!(f, "failed to make the process non-dumpable"),
            Step::NamespaceRoot => write!(
                f,
                "failed to become root of the container's user namespace (it must map container id 0)"
            ),
            Step::OpenNetns { path } => write!(f, "failed to open the network namespace `{path}`"),
            Step::JoinNetns { path } => write!(f, "failed to join the network namespace `{path}`"),
            Step::OpenNamespace { what, path } => {
                write!(f, "failed to open the {what} namespace `{path}`")
            }
            Step::JoinNamespace { what, path } => {
                write!(f, "failed to join the {what} namespace `{path}`")
            }
            Step::Root { what } => write!(f, "failed to {what}"),
            Step::Hostname => write!(f, "failed to set the hostname"),
            Step::CreateCwd { cwd } => write!(f, "failed to create the working directory `{cwd}`"),
            Step::Chdir { cwd } => write!(f, "failed to change to the working directory `{cwd}`"),
            Step::Rlimit { name, soft, hard } => {
                write!(f, "failed to set the `{name}` limit to {soft}:{hard}")
            }
            Step::Cloexec => write!(f, "failed to set close-on-exec"),
            Step::ParentDeathSignal => write!(f, "failed to set the parent-death signal"),
            Step::Sysctl { key, value } => write!(f, "failed to set sysctl `{key}` to `{value}`"),
            Step::CgroupNamespace => write!(f, "failed to make the cgroup namespace"),
            Step::CpuAffinity => write!(f, "failed to pin the container to the CPUs of its quota"),
            Step::OomScoreAdj { adj } => {
                write!(f, "failed to set the OOM score adjustment to {adj}")
            }
            Step::OpenTerminal => write!(f, "failed to open a terminal"),
            Step::PassTerminal => write!(f, "failed to pass the terminal"),
            Step::SetupTerminal => write!(f, "failed to set up the terminal"),
            Step::ControllingTerminal => write!(f, "failed to set the controlling terminal"),
            Step::Setsid => write!(f, "failed to setsid"),
            Step::SignalMask => write!(f, "failed to restore the signal mask"),
            Step::Redirect => write!(f, "failed to redirect stdio"),
            Step::Fork => write!(f, "failed to fork"),
            Step::NetworkNotReady => write!(f, "the container's network could not be set up"),
            Step::Tap => write!(f, "failed to create the container's tap device"),
            Step::PassTap => write!(f, "failed to pass the tap device"),
            Step::InitFork => write!(f, "init failed to fork the command"),
            Step::ResetSignals => write!(f, "failed to reset the signal dispositions"),
            Step::SetGroups => write!(f, "failed to set supplementary groups"),
            Step::SetGid { gid } => write!(f, "failed to switch to gid {gid}"),
            Step::SetUid { uid } => write!(f, "failed to switch to uid {uid}"),
            Step::NoNewPrivs => write!(f, "failed to set no_new_privs"),
            Step::Seccomp => write!(f, "failed to load the seccomp filter"),
            Step::Caps => write!(f, "failed to set capabilities"),
            Step::NoCommand => write!(
                f,
                "no command or entrypoint provided, and no CMD or ENTRYPOINT from image"
            ),
            Step::NulByte { arg } => write!(f, "`{arg}` contains a NUL byte"),
            Step::Exec { cmd } => write!(f, "{cmd}"),
            Step::ExecDenied { path } => {
                write!(
                    f,
                    "exec: \"{path}\": permission denied: OCI permission denied"
                )
            }
            Step::NotFound { cmd } => {
                write!(f, "{cmd}: No such file or directory: {NOT_FOUND}")
            }
            Step::NotInPath { cmd } => write!(
                f,
                "executable file `{cmd}` not found in $PATH: No such file or directory: {NOT_FOUND}"
            ),
            Step::EnterCwd { cwd } => write!(f, "chdir to `{cwd}`"),
            Step::BadReport => write!(f, "the container process sent an unreadable report"),
            Step::Clipped { text, .. } => write!(f, "{text}"),
        }
    }
}

impl fmt::Display for ChildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.step, &self.cause) {
            (Step::OomScoreAdj { .. }, Some(cause)) => write!(
                f,
                "{}: {cause} (without privileges it can only be raised)",
                self.step
            ),
            (Step::Rlimit { .. }, Some(cause)) => write!(
                f,
                "{}: {cause} (a user namespace cannot raise a hard limit)",
                self.step
            ),
            (Step::SetGid { .. } | Step::SetUid { .. }, Some(cause))
                if self.errno == Some(libc::EINVAL) =>
            {
                write!(
                    f,
                    "{}: {cause} (the id is not mapped in the container's user namespace: add a range for you to /etc/subuid and /etc/subgid, or use --userns or --uidmap to map it)",
                    self.step
                )
            }
            // The runtime's words, mapped as podman maps them.
            (Step::EnterCwd { .. }, _) => {
                let desc = nix::Error::from_raw(self.errno.unwrap_or(0)).desc();
                let tail = match self.exit_code() {
                    127 => NOT_FOUND,
                    126 => "OCI permission denied",
                    _ => "OCI runtime error",
                };
                write!(f, "{}: {desc}: {tail}", self.step)
            }
            (_, Some(cause)) => write!(f, "{}: {cause}", self.step),
            (_, None) => write!(f, "{}", self.step),
        }
    }
}

/// A failure reported across a process boundary (a monitor's to the command that started it): the
/// exit status podman gives it, the message, and what to do about it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Failure {
    pub code: i32,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Failure {}

impl From<&super::SpawnError> for Failure {
    fn from(e: &super::SpawnError) -> Failure {
        Failure {
            code: e.exit_code(),
            message: e.to_string(),
            hint: e.hint(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_keep_their_wording() {
        let cases = [
            (
                ChildError::nix(Step::Hostname, nix::Error::EPERM),
                125,
                "failed to set the hostname: EPERM: Operation not permitted",
            ),
            (
                ChildError::io(
                    Step::CreateCwd { cwd: "/w".into() },
                    &io::Error::from_raw_os_error(libc::EACCES),
                ),
                125,
                "failed to create the working directory `/w`: Permission denied (os error 13)",
            ),
            (
                ChildError::nix(
                    Step::Rlimit {
                        name: "nofile".into(),
                        soft: 1,
                        hard: 2,
                    },
                    nix::Error::EPERM,
                ),
                125,
                "failed to set the `nofile` limit to 1:2: EPERM: Operation not permitted (a user namespace cannot raise a hard limit)",
            ),
            (
                ChildError::new(Step::NotInPath { cmd: "nope".into() }),
                127,
                "executable file `nope` not found in $PATH: No such file or directory: OCI runtime attempted to invoke a command that was not found",
            ),
            (
                ChildError::nix(Step::Exec { cmd: "/x".into() }, nix::Error::ENOEXEC),
                126,
                "/x: ENOEXEC: Exec format error",
            ),
            (
                ChildError::nix(Step::EnterCwd { cwd: "/d".into() }, nix::Error::ENOENT),
                127,
                "chdir to `/d`: No such file or directory: OCI runtime attempted to invoke a command that was not found",
            ),
            (
                ChildError::nix(Step::EnterCwd { cwd: "/d".into() }, nix::Error::EACCES),
                126,
                "chdir to `/d`: Permission denied: OCI permission denied",
            ),
            (
                ChildError::nix(Step::EnterCwd { cwd: "/d".into() }, nix::Error::EIO),
                125,
                "chdir to `/d`: I/O error: OCI runtime error",
            ),
        ];
        for (e, code, text) in cases {
            assert_eq!(e.exit_code(), code, "{e}");
            assert_eq!(e.to_string(), text);
        }
    }

    #[test]
    fn messages_round_trip() {
        let e = ChildError::nix(Step::SetUid { uid: 7 }, nix::Error::EINVAL);
        let msg = ToParent::Failed(e.clone());
        assert_eq!(decode::<ToParent>(&encode(&msg)), Some(msg));
        assert_eq!(e.errno, Some(libc::EINVAL));
        for m in [ToChild::IdsMapped, ToChild::NetworkReady, ToChild::Abort] {
            assert_eq!(decode::<ToChild>(&encode(&m)), Some(m));
        }
        assert_eq!(decode::<ToChild>(b"G"), None);
        let f = Failure {
            code: 126,
            message: "m".into(),
            hint: Some("h".into()),
        };
        assert_eq!(decode::<Failure>(&encode(&f)), Some(f));
    }

    #[test]
    fn a_report_is_read_when_the_child_left_a_message_unread() {
        let (parent, child) = channel().unwrap();
        parent.ids_mapped(true);
        assert!(child.wait_for(ToChild::IdsMapped));
        // The child fails before it waits for this: it closes with it unread.
        parent.network_ready(true);
        child.report(&ChildError::nix(
            Step::SetGid { gid: 1000 },
            nix::Error::EINVAL,
        ));
        drop(child);
        let e = parent.outcome().unwrap_err();
        assert!(e.to_string().contains("not mapped"), "{e}");
        assert!(matches!(parent.outcome(), Ok(None)));
    }

    #[test]
    fn the_channel_carries_a_failure_and_its_end() {
        let (parent, child) = channel().unwrap();
        parent.ids_mapped(true);
        assert!(child.wait_for(ToChild::IdsMapped));
        parent.network_ready(false);
        assert!(!child.wait_for(ToChild::NetworkReady));
        let long = "x".repeat(2 * MAX_MESSAGE);
        child.report(&ChildError::new(Step::NotFound { cmd: long }));
        drop(child);
        let e = parent.outcome().unwrap_err();
        assert_eq!(e.exit_code(), 127);
        assert!(e.to_string().starts_with("xxx"));
        assert!(matches!(parent.outcome(), Ok(None)));
    }
}
