//! `--sdnotify`: what roost does with the `NOTIFY_SOCKET` of a `Type=notify` systemd unit
//! (podman-run(1)). The socket is only used when the caller has one (the CLI puts it in
//! `Ctx::notify_socket`); otherwise nothing here runs.
//!
//! - `conmon`: the monitor sends `MAINPID=<its pid>` and `READY=1` once the container runs.
//! - `container` (podman's default): the monitor sends `MAINPID`; the socket is bind-mounted into the
//!   container as `/run/notify/notify.sock` with `NOTIFY_SOCKET` naming it, and the container's
//!   process sends `READY=1` itself.
//! - `healthy`: the monitor sends `MAINPID`; `run` waits for the first healthy check and sends
//!   `READY=1`.
//! - `ignore`: nothing is sent and the socket goes nowhere.
//!
//! The socket never reaches the container otherwise (nor the monitor's other children).
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Where `--sdnotify=container` puts the socket inside the container (crun's path).
pub const CONTAINER_SOCKET: &str = "/run/notify/notify.sock";

/// `--sdnotify`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SdNotifyMode {
    #[default]
    Container,
    Conmon,
    Healthy,
    Ignore,
}

impl SdNotifyMode {
    pub const NAMES: [&'static str; 4] = ["container", "conmon", "healthy", "ignore"];

    pub fn parse(s: &str) -> Result<SdNotifyMode, String> {
        match s {
            "" | "container" => Ok(SdNotifyMode::Container),
            "conmon" => Ok(SdNotifyMode::Conmon),
            "healthy" => Ok(SdNotifyMode::Healthy),
            "ignore" => Ok(SdNotifyMode::Ignore),
            _ => Err(format!(
                "invalid sdnotify value `{s}`: must be conmon, container, healthy or ignore"
            )),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            SdNotifyMode::Container => "container",
            SdNotifyMode::Conmon => "conmon",
            SdNotifyMode::Healthy => "healthy",
            SdNotifyMode::Ignore => "ignore",
        }
    }

    pub fn is_default(&self) -> bool {
        *self == SdNotifyMode::Container
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SdNotifyError {
    #[error("failed to send `{message}` to the systemd notify socket `{socket}`")]
    Send {
        socket: String,
        message: String,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "`--sdnotify=healthy` needs a healthcheck: add --health-cmd (or use an image with a HEALTHCHECK)"
    )]
    NoHealthcheck,
    #[error("container `{0}` stopped before its healthcheck passed (`--sdnotify=healthy`)")]
    NeverHealthy(String),
}

/// The socket `systemd` gave us: a path, or `@name` in the abstract namespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotifySocket(pub String);

impl NotifySocket {
    /// A path on the file system (one that can be bind-mounted into a container).
    pub fn path(&self) -> Option<PathBuf> {
        (!self.0.starts_with('@')).then(|| PathBuf::from(&self.0))
    }

    /// Send one notification (`KEY=VALUE` lines).
    pub fn send(&self, message: &str) -> Result<(), SdNotifyError> {
        let err = |source| SdNotifyError::Send {
            socket: self.0.clone(),
            message: message.trim_end().replace('\n', " "),
            source,
        };
        let sock = UnixDatagram::unbound().map_err(err)?;
        match self.0.strip_prefix('@') {
            Some(name) => {
                use std::os::linux::net::SocketAddrExt;
                let addr = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes())
                    .map_err(err)?;
                sock.send_to_addr(message.as_bytes(), &addr).map_err(err)?;
            }
            None => {
                sock.send_to(message.as_bytes(), Path::new(&self.0))
                    .map_err(err)?;
            }
        }
        Ok(())
    }
}

/// What the monitor sends once the container runs (the first time only; restarts by the restart
/// policy send nothing): `MAINPID` for every mode but `ignore`, and `READY=1` with `conmon`.
pub fn started_message(mode: SdNotifyMode, monitor_pid: u32) -> Option<String> {
    match mode {
        SdNotifyMode::Ignore => None,
        SdNotifyMode::Conmon => Some(format!("MAINPID={monitor_pid}\nREADY=1\n")),
        SdNotifyMode::Container | SdNotifyMode::Healthy => Some(format!("MAINPID={monitor_pid}\n")),
    }
}

/// Tell systemd that the container runs (see `started_message`); a failure is only logged, as the
/// container runs either way (systemd then times the unit out).
pub fn announce(sock: &NotifySocket, mode: SdNotifyMode, monitor_pid: u32) {
    if let Some(msg) = started_message(mode, monitor_pid)
        && let Err(e) = sock.send(&msg)
    {
        tracing::warn!("{e}");
    }
}

/// `--sdnotify=container`: bind the socket into the container and name it in its environment.
pub fn pass_into(plan: &mut crate::runtime::plan::Plan, socket: &Path) {
    plan.binds.push(crate::runtime::plan::Bind {
        source: socket.to_path_buf(),
        target: CONTAINER_SOCKET.to_string(),
        read_only: false,
    });
    plan.process
        .env
        .retain(|e| !e.starts_with("NOTIFY_SOCKET="));
    plan.process
        .env
        .push(format!("NOTIFY_SOCKET={CONTAINER_SOCKET}"));
}

/// `--sdnotify=healthy`: wait until the container's first check passed, then send `READY=1`
/// (podman's `run` does the same). Fails if the container stops first.
pub fn ready_when_healthy(
    ctx: &crate::engine::Ctx,
    sock: &NotifySocket,
    id: &str,
) -> Result<(), crate::engine::EngineError> {
    loop {
        let store = ctx.store()?;
        let c = super::lifecycle::find(&store, id)?;
        if !matches!(
            c.state.status,
            super::Status::Running | super::Status::Paused
        ) {
            return Err(SdNotifyError::NeverHealthy(c.record.name).into());
        }
        if super::health::state_of(&store, &c)
            .is_some_and(|h| h.status == super::health::HealthStatus::Healthy)
        {
            return Ok(sock.send("READY=1\n")?);
        }
        drop(store);
        // The check runs in another process (the monitor's timer or systemd's): look again soon.
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_parse_and_print_as_podman_names_them() {
        for n in SdNotifyMode::NAMES {
            assert_eq!(SdNotifyMode::parse(n).unwrap().as_str(), n);
        }
        assert!(
            SdNotifyMode::parse("ready")
                .unwrap_err()
                .contains("`ready`")
        );
        assert_eq!(SdNotifyMode::default(), SdNotifyMode::Container);
    }

    #[test]
    fn conmon_sends_ready_with_the_main_pid() {
        assert_eq!(
            started_message(SdNotifyMode::Conmon, 42).unwrap(),
            "MAINPID=42\nREADY=1\n"
        );
        assert_eq!(
            started_message(SdNotifyMode::Container, 42).unwrap(),
            "MAINPID=42\n"
        );
        assert_eq!(started_message(SdNotifyMode::Ignore, 42), None);
    }

    #[test]
    fn sends_to_a_datagram_socket() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notify");
        let server = UnixDatagram::bind(&path).unwrap();
        let s = NotifySocket(path.to_string_lossy().into_owned());
        s.send("READY=1\n").unwrap();
        let mut buf = [0u8; 64];
        let n = server.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"READY=1\n");
        assert_eq!(s.path(), Some(path));
        assert_eq!(NotifySocket("@x".into()).path(), None);
    }

    #[test]
    fn a_missing_socket_is_an_error_naming_it() {
        let e = NotifySocket("/nonexistent/notify".into())
            .send("READY=1\n")
            .unwrap_err();
        assert!(e.to_string().contains("/nonexistent/notify"), "{e}");
    }
}
