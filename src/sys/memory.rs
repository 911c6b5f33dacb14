//! Giving memory back while a long-lived process (the container monitor) sits waiting.
//!
//! A process's resident set counts every page of a mapped file that it has touched, plus the pages
//! the kernel maps around each fault. roost is one large binary, so a monitor that parsed its command
//! line, opened the store and started a container has most of the binary mapped, although all it does
//! afterwards is copy output. Read-only file pages that were never written are only the page cache seen
//! through our page tables: dropping them from the page tables costs a page fault when they are next
//! used and changes nothing else.

use std::io::{BufRead, BufReader};

/// A read-only, file-backed mapping none of whose pages were ever copied on write.
#[derive(Debug, PartialEq, Eq)]
struct CleanMapping {
    start: usize,
    end: usize,
}

/// Mappings in `/proc/self/smaps` text that are file-backed, not writable and have no anonymous
/// (copied-on-write) pages: relocated RELRO segments and text patched by a debugger have some and are
/// left alone, since dropping those pages would bring back the file's bytes.
fn clean_file_mappings(smaps: impl BufRead) -> Vec<CleanMapping> {
    let mut found = Vec::new();
    let mut current: Option<CleanMapping> = None;
    for line in smaps.lines().map_while(Result::ok) {
        let mut fields = line.split_whitespace();
        let Some(first) = fields.next() else { continue };
        if let Some((start, end)) = first.split_once('-')
            && let (Ok(start), Ok(end)) = (
                usize::from_str_radix(start, 16),
                usize::from_str_radix(end, 16),
            )
        {
            // A mapping header: `start-end perms offset dev inode [path]`.
            let perms = fields.next().unwrap_or("");
            let path = fields.nth(3).unwrap_or("");
            let candidate = perms.starts_with('r')
                && !perms.contains('w')
                && perms.ends_with('p')
                && path.starts_with('/');
            current = candidate.then_some(CleanMapping { start, end });
        } else if first == "Anonymous:" {
            let anon_kb = fields.next().and_then(|n| n.parse::<u64>().ok());
            if let Some(m) = current.take()
                && anon_kb == Some(0)
            {
                found.push(m);
            }
        }
    }
    found
}

/// Unmap from this process the pages of read-only file mappings (its own code and data, and the
/// libraries') that were never written; they fault back in from the page cache when next used.
/// Returns how many bytes of address space were released. Best effort: errors are ignored.
pub fn release_clean_file_pages() -> usize {
    let Ok(f) = std::fs::File::open("/proc/self/smaps") else {
        return 0;
    };
    let mappings = clean_file_mappings(BufReader::new(f));
    let mut released = 0;
    for m in mappings {
        let len = m.end - m.start;
        // SAFETY: [start, end) is a whole mapping the kernel just listed for this process, private,
        // without write permission and with no anonymous page, so every page in it is an unmodified
        // view of its file. MADV_DONTNEED on such a private file mapping only drops our page-table
        // entries; the next access faults the same bytes back in from the file, so no Rust object
        // (code, constants, string literals) changes. A mapping could only gain modified pages by
        // being made writable with mprotect, which roost never does to a file mapping (the loader
        // relocates a library in mappings of its own, before they are made read-only).
        let r = unsafe { libc::madvise(m.start as *mut libc::c_void, len, libc::MADV_DONTNEED) };
        if r == 0 {
            released += len;
        }
    }
    released
}

/// Return free heap memory to the kernel (glibc's `malloc_trim`).
pub fn trim_heap() {
    // SAFETY: malloc_trim only walks glibc's own arenas under their locks; it takes no pointers.
    unsafe {
        libc::malloc_trim(0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SMAPS: &str = "\
5600-5700 r--p 00000000 fe:00 1 /usr/bin/roost
Rss:                 100 kB
Anonymous:             0 kB
5700-5800 r-xp 00100000 fe:00 1 /usr/bin/roost
Anonymous:             0 kB
5800-5900 r--p 00200000 fe:00 1 /usr/bin/roost
Anonymous:            12 kB
5900-5a00 rw-p 00300000 fe:00 1 /usr/bin/roost
Anonymous:             4 kB
5a00-5b00 rw-p 00000000 00:00 0 [heap]
Anonymous:             4 kB
5b00-5c00 r--p 00000000 00:00 0 [vvar]
Anonymous:             0 kB
5c00-5d00 r--s 00000000 fe:00 2 /home/u/roost.db-shm
Anonymous:             0 kB
";

    #[test]
    fn only_untouched_read_only_file_mappings() {
        let found = clean_file_mappings(SMAPS.as_bytes());
        assert_eq!(
            found,
            vec![
                CleanMapping {
                    start: 0x5600,
                    end: 0x5700
                },
                CleanMapping {
                    start: 0x5700,
                    end: 0x5800
                }
            ]
        );
    }

    #[test]
    fn released_pages_come_back() {
        static TABLE: [u8; 3 * 4096] = [7; 3 * 4096];
        assert!(release_clean_file_pages() > 0);
        assert!(std::hint::black_box(&TABLE).iter().all(|b| *b == 7));
    }
}
