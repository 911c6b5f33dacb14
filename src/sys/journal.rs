//! The journal's native protocol (systemd's "Native Journal Protocol"): one datagram per entry on
//! `/run/systemd/journal/socket`, each field `KEY=value\n`, or for a value with a newline (or any
//! binary data) `KEY\n`, its length as 64-bit little endian, the value and `\n`. An entry too large
//! for a datagram goes in a sealed memfd passed with SCM_RIGHTS on an empty datagram, as
//! sd_journal_sendv does.
use std::io::{self, Write};
use std::os::fd::{AsFd, AsRawFd};
use std::os::unix::net::UnixDatagram;

use nix::fcntl::{FcntlArg, SealFlag, fcntl};
use nix::sys::memfd::{MFdFlags, memfd_create};
use nix::sys::socket::{ControlMessage, MsgFlags, sendmsg};

/// Where the journal listens.
pub const SOCKET: &str = "/run/systemd/journal/socket";

/// The datagram of one entry.
pub fn encode(fields: &[(&str, &[u8])]) -> Vec<u8> {
    let mut out = Vec::new();
    for (k, v) in fields {
        out.extend_from_slice(k.as_bytes());
        if v.contains(&b'\n') {
            out.push(b'\n');
            out.extend_from_slice(&(v.len() as u64).to_le_bytes());
        } else {
            out.push(b'=');
        }
        out.extend_from_slice(v);
        out.push(b'\n');
    }
    out
}

/// A socket connected to the journal (fails when nothing listens there).
pub fn connect() -> io::Result<UnixDatagram> {
    let sock = UnixDatagram::unbound()?;
    sock.connect(SOCKET)?;
    Ok(sock)
}

/// Send one encoded entry on `sock` (from [`connect`]).
pub fn send(sock: &UnixDatagram, entry: &[u8]) -> io::Result<()> {
    match sock.send(entry) {
        Ok(_) => Ok(()),
        // Larger than the socket takes in one datagram: hand the journal a memfd instead.
        Err(e) if matches!(e.raw_os_error(), Some(libc::EMSGSIZE | libc::ENOBUFS)) => {
            send_memfd(sock, entry)
        }
        Err(e) => Err(e),
    }
}

/// The entry in a sealed memfd, passed on an empty datagram (journald accepts only sealed ones).
fn send_memfd(sock: &UnixDatagram, entry: &[u8]) -> io::Result<()> {
    let fd = memfd_create(
        c"journal-entry",
        MFdFlags::MFD_CLOEXEC | MFdFlags::MFD_ALLOW_SEALING,
    )?;
    let mut file = std::fs::File::from(fd);
    file.write_all(entry)?;
    fcntl(
        file.as_fd(),
        FcntlArg::F_ADD_SEALS(
            SealFlag::F_SEAL_SHRINK
                | SealFlag::F_SEAL_GROW
                | SealFlag::F_SEAL_WRITE
                | SealFlag::F_SEAL_SEAL,
        ),
    )?;
    let fds = [file.as_raw_fd()];
    sendmsg::<()>(
        sock.as_raw_fd(),
        &[],
        &[ControlMessage::ScmRights(&fds)],
        MsgFlags::empty(),
        None,
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn newlines_use_the_binary_form() {
        let d = encode(&[("A", b"x"), ("B", b"1\n2")]);
        let mut want = b"A=x\nB\n".to_vec();
        want.extend_from_slice(&3u64.to_le_bytes());
        want.extend_from_slice(b"1\n2\n");
        assert_eq!(d, want);
    }

    #[test]
    fn large_entries_go_in_a_sealed_memfd() {
        let (ours, theirs) = UnixDatagram::pair().unwrap();
        // Smaller than the entry: the datagram does not fit.
        nix::sys::socket::setsockopt(&ours, nix::sys::socket::sockopt::SndBuf, &4096).unwrap();
        let entry = encode(&[("MESSAGE", &vec![b'x'; 1 << 20])]);
        send(&ours, &entry).unwrap();
        let (data, fds) = super::super::fdpass::recv(theirs.as_fd(), 16).unwrap();
        assert!(data.is_empty());
        assert_eq!(fds.len(), 1);
        let seals = fcntl(fds[0].as_fd(), FcntlArg::F_GET_SEALS).unwrap();
        assert_ne!(seals & libc::F_SEAL_WRITE, 0);
        let mut f = std::fs::File::from(fds[0].try_clone().unwrap());
        // The offset is shared with the writer's: read from the start.
        std::io::Seek::rewind(&mut f).unwrap();
        let mut back = Vec::new();
        std::io::Read::read_to_end(&mut f, &mut back).unwrap();
        assert_eq!(back, entry);
    }
}
