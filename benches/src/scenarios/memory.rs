//! The memory rows: process start as the parent's resident memory grows
//! (`M1-<method>@100MB`, `@1GB`: the parent first writes that many bytes,
//! then runs M1 unchanged), and the resident memory of one idle pool worker,
//! from `/proc/<pid>/smaps_rollup`, two ways:
//!
//! - `RSS-idle-worker@<method>`: its proportional set size (`Pss`), so a
//!   page it shares with its parent (the program's code, a fork child's
//!   untouched pages) counts half to each;
//! - `USS-idle-worker@<method>`: its unique set size (`Private_Clean` +
//!   `Private_Dirty`), the pages no other process maps: what the machine
//!   gets back when the worker ends, so what one more idle worker costs.

use std::time::Duration;

use multiprocess::{Pool, StartMethod};

use super::Measurement;

/// Parses a parent size as the ids spell it: `100MB`, `1GB` (decimal).
pub fn parse_size(param: &str) -> Option<usize> {
    let (digits, scale) = match param {
        p if p.ends_with("MB") => (&p[..p.len() - 2], 1_000_000),
        p if p.ends_with("GB") => (&p[..p.len() - 2], 1_000_000_000),
        _ => return None,
    };
    digits.parse::<usize>().ok()?.checked_mul(scale)
}

/// Runs `f` after this process has written `bytes` bytes of fresh heap
/// memory (every page resident and private), which stays allocated until `f`
/// returns.
pub(crate) fn with_parent_memory<T>(bytes: usize, f: impl FnOnce() -> T) -> T {
    // A non-zero fill: every page is written, none is left as the shared
    // zero page.
    let ballast = std::hint::black_box(vec![1u8; bytes]);
    let out = f();
    drop(std::hint::black_box(ballast));
    out
}

/// Which share of a process's resident memory a memory row reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Share {
    /// Proportional: each page divided by the number of processes mapping
    /// it (`Pss`).
    Pss,
    /// Unique: only the pages no other process maps (`Private_Clean` +
    /// `Private_Dirty`).
    Uss,
}

impl Share {
    /// The `smaps_rollup` lines whose sum is this share.
    fn lines(self) -> &'static [&'static str] {
        match self {
            Share::Pss => &["Pss:"],
            Share::Uss => &["Private_Clean:", "Private_Dirty:"],
        }
    }
}

/// `share` of process `pid`'s memory (`/proc/<pid>/smaps_rollup`), in MiB.
pub(crate) fn share_mib(pid: u32, share: Share) -> std::io::Result<f64> {
    let rollup = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup"))?;
    kib_from_rollup(&rollup, share)
        .map(|kib| kib as f64 / 1024.0)
        .ok_or_else(|| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("smaps_rollup lacks one of {:?}", share.lines()),
            )
        })
}

/// The sum of `share`'s lines of `rollup`, in KiB; `None` if one is missing.
fn kib_from_rollup(rollup: &str, share: Share) -> Option<u64> {
    share.lines().iter().try_fold(0u64, |sum, key| {
        let kib: u64 = rollup
            .lines()
            .find_map(|l| l.strip_prefix(key))?
            .split_whitespace()
            .next()?
            .parse()
            .ok()?;
        sum.checked_add(kib)
    })
}

fn double(x: u64) -> u64 {
    x * 2
}

/// A worker's own pid: the task that finds which process ran it.
fn worker_pid() -> u32 {
    std::process::id()
}

/// `share` of the memory of the one worker of a `Pool(1)` started with
/// `method`, after a warm-up `map` and 100 ms of idling.
pub(crate) fn idle_worker(method: StartMethod, share: Share) -> Measurement {
    let pool = Pool::builder()
        .processes(1)
        .start_method(method)
        .build()
        .expect("pool");
    let r = pool.map(double, 0..100u64).expect("warm-up");
    assert_eq!(r[99], 198);
    let pid = pool.apply(worker_pid, ()).expect("apply");
    assert_ne!(pid, std::process::id());
    std::thread::sleep(Duration::from_millis(100));
    Measurement {
        value: share_mib(pid, share).expect("read the worker's smaps_rollup"),
        unit: "MiB",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("100MB"), Some(100_000_000));
        assert_eq!(parse_size("1GB"), Some(1_000_000_000));
        assert_eq!(parse_size("1TB"), None);
        assert_eq!(parse_size("MB"), None);
    }

    #[test]
    fn rollup_lines() {
        let rollup = "55d0-7ffc ---p 00000000 00:00 0  [rollup]\nRss:  4096 kB\nPss:  1234 kB\nPss_Anon: 10 kB\nShared_Clean: 2000 kB\nPrivate_Clean: 300 kB\nPrivate_Dirty: 96 kB\n";
        assert_eq!(kib_from_rollup(rollup, Share::Pss), Some(1234));
        assert_eq!(kib_from_rollup(rollup, Share::Uss), Some(396));
        assert_eq!(kib_from_rollup("Rss: 1 kB\n", Share::Pss), None);
        assert_eq!(kib_from_rollup("Private_Clean: 1 kB\n", Share::Uss), None);
        let me = std::process::id();
        let (pss, uss) = (
            share_mib(me, Share::Pss).unwrap(),
            share_mib(me, Share::Uss).unwrap(),
        );
        assert!(uss > 0.0 && pss >= uss, "Pss {pss} MiB, USS {uss} MiB");
    }
}
