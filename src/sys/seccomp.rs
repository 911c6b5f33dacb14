//! Installing an already compiled seccomp BPF program (a cached `seccomp_export_bpf` output).
#![deny(clippy::print_stdout, clippy::print_stderr)]

use std::io;

/// Flags for [`load_bpf`], the kernel's `SECCOMP_FILTER_FLAG_*` bits.
pub const FLAG_TSYNC: u32 = libc::SECCOMP_FILTER_FLAG_TSYNC as u32;
pub const FLAG_LOG: u32 = libc::SECCOMP_FILTER_FLAG_LOG as u32;
pub const FLAG_SPEC_ALLOW: u32 = libc::SECCOMP_FILTER_FLAG_SPEC_ALLOW as u32;

/// Install `program` (an array of `struct sock_filter`, 8 bytes each, as libseccomp exports it)
/// on the calling thread with `seccomp(SECCOMP_SET_MODE_FILTER, flags, …)`.
pub fn load_bpf(program: &[u8], flags: u32) -> io::Result<()> {
    const INSN: usize = std::mem::size_of::<libc::sock_filter>();
    if program.is_empty()
        || !program.len().is_multiple_of(INSN)
        || program.len() / INSN > u16::MAX as usize
    {
        return Err(io::Error::from_raw_os_error(libc::EINVAL));
    }
    // Copy into properly aligned instructions: the byte slice has no alignment guarantee.
    let insns: Vec<libc::sock_filter> = program
        .chunks_exact(INSN)
        .map(|c| libc::sock_filter {
            code: u16::from_ne_bytes([c[0], c[1]]),
            jt: c[2],
            jf: c[3],
            k: u32::from_ne_bytes([c[4], c[5], c[6], c[7]]),
        })
        .collect();
    let prog = libc::sock_fprog {
        len: insns.len() as u16,
        filter: insns.as_ptr().cast_mut(),
    };
    // SAFETY: `prog` points at `insns`, a live Vec of exactly `prog.len` initialised
    // `sock_filter`s that outlives the call; the kernel only reads (copies) the program during
    // the call and keeps no pointer to it. The other arguments are plain integers.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            libc::SECCOMP_SET_MODE_FILTER as libc::c_ulong,
            flags as libc::c_ulong,
            &prog as *const libc::sock_fprog,
        )
    };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}
