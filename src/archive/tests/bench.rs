//! Rough unpack timing for a debian-sized layer: `cargo test --release --lib
//! archive::tests::bench -- --ignored --nocapture`.

use std::time::Instant;

use tar::EntryType;

use super::*;
use crate::archive::Whiteouts;

/// 10,000 files in 500 directories, 200 MB of content (20 KB per file).
fn synthetic_layer() -> Vec<u8> {
    let content = vec![b'x'; 20 * 1024];
    tar_of(|b| {
        for d in 0..500 {
            let dir = format!("usr/share/pkg{d:03}/");
            add(b, EntryType::Directory, &dir, 0o755, b"");
            for f in 0..20 {
                add(
                    b,
                    EntryType::Regular,
                    &format!("{dir}file{f:02}.txt"),
                    0o644,
                    &content,
                );
            }
        }
    })
}

#[test]
#[ignore = "timing, not a correctness check"]
#[allow(clippy::print_stderr)]
fn unpack_10k_files() {
    let layer = synthetic_layer();
    let tmp = tempfile::tempdir().expect("tempdir");
    let start = Instant::now();
    let (user0, sys0) = cpu_time();
    let report = apply(&layer, tmp.path(), opts(Whiteouts::Apply)).expect("apply");
    let wall = start.elapsed();
    let (user1, sys1) = cpu_time();
    assert_eq!(report.entries, 10_500);
    eprintln!(
        "unpacked {} entries, {} MB: wall {:?}, user {:.3}s, sys {:.3}s",
        report.entries,
        report.bytes / 1_000_000,
        wall,
        user1 - user0,
        sys1 - sys0,
    );
    if let Some(path) = std::env::var_os("ROOST_BENCH_TAR") {
        std::fs::write(path, &layer).expect("saving the synthetic tar");
    }
}

/// User and system CPU seconds of this process.
fn cpu_time() -> (f64, f64) {
    use nix::sys::resource::{UsageWho, getrusage};
    let usage = getrusage(UsageWho::RUSAGE_SELF).expect("getrusage on ourselves");
    let secs = |t: nix::sys::time::TimeVal| t.tv_sec() as f64 + t.tv_usec() as f64 / 1e6;
    (secs(usage.user_time()), secs(usage.system_time()))
}

/// Time an arbitrary (uncompressed) tar given in `ROOST_BENCH_INPUT`, e.g. to compare with
/// `tar -xf` on the same file.
#[test]
#[ignore = "timing, not a correctness check"]
#[allow(clippy::print_stderr)]
fn unpack_tar_from_env() {
    let Some(path) = std::env::var_os("ROOST_BENCH_INPUT") else {
        return;
    };
    let layer = std::fs::read(path).expect("reading ROOST_BENCH_INPUT");
    let tmp = tempfile::tempdir().expect("tempdir");
    let start = Instant::now();
    let (user0, sys0) = cpu_time();
    let report = apply(&layer, tmp.path(), opts(Whiteouts::Apply)).expect("apply");
    let (user1, sys1) = cpu_time();
    eprintln!(
        "unpacked {} entries: wall {:?}, user {:.3}s, sys {:.3}s",
        report.entries,
        start.elapsed(),
        user1 - user0,
        sys1 - sys0,
    );
}
