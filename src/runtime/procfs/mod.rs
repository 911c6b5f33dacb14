//! A /proc that reflects the container's limits: /proc/meminfo, /proc/cpuinfo, /proc/stat,
//! /proc/uptime, /proc/loadavg and /sys/devices/system/cpu/online computed from its own cgroup
//! (what lxcfs does for LXC), for containers with a memory or CPU limit.
//!
//! A small FUSE file system with those six files: the container's setup opens `/dev/fuse` in the
//! container's user namespace, mounts it (FUSE may be mounted there), passes the descriptor to
//! the process starting the container over the spawn channel, binds each file over its path, and
//! detaches the FUSE mount itself before pivot_root. That process (the container's monitor, or a
//! foreground `run`) serves the requests on a thread of its own while the container runs: no
//! extra process per container. The protocol is ours ([`fuse`]): six read-only files need INIT,
//! LOOKUP, GETATTR, OPEN, READ and RELEASE, and serving them from a plain blocking loop keeps the
//! server to one small thread (fuse-backend-rs brings its own session and channel machinery and
//! vm-memory for what is here some 300 lines).
//!
//! Without FUSE (no `/dev/fuse`, or a kernel that refuses the mount) the container keeps the host's
//! files, with a warning.
#![deny(clippy::print_stdout, clippy::print_stderr)]

pub mod fuse;
pub(super) mod mount;
pub mod render;

use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};

use fuse::{File, Session, Source};
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};

/// What the view reads at each open: the container's cgroup, and the host's files.
struct View {
    cgroup: PathBuf,
    /// CLOCK_BOOTTIME when the container started (seconds).
    started: f64,
    /// The host's online CPUs.
    host_cpus: Vec<u32>,
    /// Where the container's CPUs start in the set (see [`render::cpu_window`]).
    cpu_seed: u64,
}

fn boottime() -> f64 {
    nix::time::clock_gettime(nix::time::ClockId::CLOCK_BOOTTIME)
        .map(|t| t.tv_sec() as f64 + t.tv_nsec() as f64 / 1e9)
        .unwrap_or(0.0)
}

fn read(path: &Path) -> Option<String> {
    std::fs::read_to_string(path).ok()
}

impl View {
    /// The cgroup files `file` is computed from (only those are read).
    fn cgroup_files(&self, file: File) -> render::CgroupFiles {
        let r = |name: &str| read(&self.cgroup.join(name));
        let mut f = render::CgroupFiles {
            cpu_max: self.tightest("cpu.max", render::cpu_share).map(|(_, t)| t),
            cpuset: r("cpuset.cpus.effective"),
            ..Default::default()
        };
        match file {
            File::Meminfo => {
                // The usage of the cgroup whose limit holds (a pod's: all its containers').
                let (dir, max) = self
                    .tightest("memory.max", render::bytes_limit)
                    .map_or((self.cgroup.as_path(), None), |(d, t)| (d, Some(t)));
                f.memory_max = max;
                f.memory_current = read(&dir.join("memory.current"));
                f.memory_stat = read(&dir.join("memory.stat"));
                let swap = self.tightest("memory.swap.max", render::bytes_limit);
                let swap_dir = swap.as_ref().map_or(dir, |(d, _)| d);
                f.swap_current = read(&swap_dir.join("memory.swap.current"));
                f.swap_max = swap.map(|(_, t)| t);
            }
            File::Stat | File::Uptime => f.cpu_stat = r("cpu.stat"),
            File::Loadavg => f.pids_current = r("pids.current"),
            File::Cpuinfo | File::CpuOnline => {}
        }
        f
    }

    /// The tightest of a limit file in the container's cgroup and the ones above it (a pod's
    /// limit is on its cgroup, above the container's), by `measure` (smaller: tighter; None:
    /// unlimited): the cgroup that has it, and the file's text. A cgroup without the controller
    /// has no such file.
    fn tightest(&self, name: &str, measure: fn(&str) -> Option<f64>) -> Option<(&Path, String)> {
        let mut best: Option<(Option<f64>, &Path, String)> = None;
        let root = Path::new(super::cgroup::ROOT);
        let levels = self.cgroup.ancestors();
        for dir in levels.take_while(|d| d.starts_with(root) && *d != root) {
            let Some(text) = read(&dir.join(name)) else {
                continue;
            };
            let m = measure(&text);
            let tighter = match (&best, m) {
                (None, _) => true,
                (Some((None, ..)), Some(_)) => true,
                (Some((Some(b), ..)), Some(m)) => m < *b,
                _ => false,
            };
            if tighter {
                best = Some((m, dir, text));
            }
        }
        best.map(|(_, dir, text)| (dir, text))
    }
}

impl Source for View {
    fn render(&mut self, file: File) -> Vec<u8> {
        let cg = render::Cgroup::parse(&self.cgroup_files(file));
        let cpus = render::visible_cpus(&cg, &self.host_cpus, self.cpu_seed);
        let host = |p: &str| read(Path::new(p)).unwrap_or_default();
        let up = (boottime() - self.started).max(0.0);
        let text = match file {
            File::Meminfo => render::meminfo(&host("/proc/meminfo"), &cg),
            File::Cpuinfo => render::cpuinfo(&host("/proc/cpuinfo"), &cpus),
            File::Stat => render::stat(&host("/proc/stat"), &cg, cpus.len(), up),
            File::Uptime => render::uptime(&cg, cpus.len(), up),
            File::Loadavg => render::loadavg(&host("/proc/loadavg"), &cg, cpus.len()),
            File::CpuOnline => render::online(cpus.len()),
        };
        text.into_bytes()
    }
}

/// The server of one container's view: a thread answering its FUSE requests until the container's
/// mounts are gone (the kernel then ends the connection) or it is dropped.
#[derive(Debug)]
pub struct Server {
    /// Closing it tells the thread to stop.
    stop: Option<OwnedFd>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Server {
    /// Serve the FUSE connection `dev` with the view of the cgroup at `cgroup`, for the container
    /// whose [`render::cpu_seed`] is `cpu_seed`. The thread blocks every signal (they stay the main
    /// thread's: the monitor's and `run`'s handlers).
    pub fn start(dev: OwnedFd, cgroup: PathBuf, cpu_seed: u64) -> std::io::Result<Server> {
        use nix::sys::signal::{SigSet, SigmaskHow, pthread_sigmask};
        let (stop_r, stop_w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)?;
        let view = View {
            cgroup,
            started: boottime(),
            cpu_seed,
            host_cpus: render::parse_cpu_list(
                &read(Path::new("/sys/devices/system/cpu/online")).unwrap_or_default(),
            ),
        };
        let mut old = SigSet::empty();
        pthread_sigmask(SigmaskHow::SIG_BLOCK, Some(&SigSet::all()), Some(&mut old))?;
        let thread = std::thread::Builder::new()
            .name("roost-procview".into())
            .stack_size(128 * 1024)
            .spawn(move || serve(&dev, &stop_r, view));
        pthread_sigmask(SigmaskHow::SIG_SETMASK, Some(&old), None)?;
        Ok(Server {
            stop: Some(stop_w),
            thread: Some(thread?),
        })
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// How long the view stays unread before its thread gives back what serving it brought in
/// (milliseconds), and at most how often it does.
const IDLE_MS: u128 = 1000;
const SHRINK_EVERY: std::time::Duration = std::time::Duration::from_secs(10);

/// The request loop: read a request, answer it, until the connection or `stop` ends. Once the
/// container has not read its files for [`IDLE_MS`] after it last did (and at most every
/// [`SHRINK_EVERY`]), the thread gives back the memory that rendering them used: the freed heap
/// and the code pages it faulted in, as the monitor does when the container's output is quiet
/// (the monitor's own loop does not see these reads). A view read now and then so costs the
/// monitor little while it waits.
fn serve(dev: &OwnedFd, stop: &OwnedFd, mut view: View) {
    let mut session = Session::default();
    let mut buf = vec![0u8; fuse::BUFFER];
    let mut served = false;
    let mut last_shrink: Option<std::time::Instant> = None;
    loop {
        let mut fds = [
            PollFd::new(dev.as_fd(), PollFlags::POLLIN),
            PollFd::new(stop.as_fd(), PollFlags::POLLIN),
        ];
        let timeout = if served {
            let wait =
                last_shrink.map_or(0, |t| SHRINK_EVERY.saturating_sub(t.elapsed()).as_millis());
            PollTimeout::from(u16::try_from(wait.max(IDLE_MS)).unwrap_or(u16::MAX))
        } else {
            PollTimeout::NONE
        };
        match poll(&mut fds, timeout) {
            Err(nix::Error::EINTR) => continue,
            Err(_) => return,
            Ok(0) => {
                crate::sys::memory::trim_heap();
                crate::sys::memory::release_clean_file_pages();
                served = false;
                last_shrink = Some(std::time::Instant::now());
                continue;
            }
            Ok(_) => {}
        }
        if fds[1].revents().is_some_and(|r| !r.is_empty()) {
            return;
        }
        let n = match nix::unistd::read(dev, &mut buf) {
            // An interrupted request (ENOENT), or nothing after all.
            Err(nix::Error::EINTR | nix::Error::EAGAIN | nix::Error::ENOENT) => continue,
            // ENODEV: the file system was unmounted (the container is gone).
            Err(_) | Ok(0) => return,
            Ok(n) => n,
        };
        served = true;
        if let Some(reply) = session.handle(&buf[..n], &mut view) {
            // ENOENT: the request was interrupted meanwhile; nothing else to do either way.
            let _ = nix::unistd::write(dev, &reply);
        }
    }
}
