//! The memory rows: process start as the parent's resident memory grows
//! (`M1-<method>@100MB`, `@1GB`: the parent first writes that many bytes,
//! then runs M1 unchanged), and the resident memory of one idle pool worker
//! (`RSS-idle-worker@<method>`: the proportional set size, `Pss` of
//! `/proc/<pid>/smaps_rollup`, so pages a fork child still shares with its
//! parent count half to each).

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

/// The `Pss` line of `/proc/<pid>/smaps_rollup`, in MiB.
pub(crate) fn pss_mib(pid: u32) -> std::io::Result<f64> {
    let rollup = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup"))?;
    pss_kib_from_rollup(&rollup)
        .map(|kib| kib as f64 / 1024.0)
        .ok_or_else(|| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                "no Pss line in smaps_rollup",
            )
        })
}

fn pss_kib_from_rollup(rollup: &str) -> Option<u64> {
    rollup
        .lines()
        .find_map(|l| l.strip_prefix("Pss:"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

fn double(x: u64) -> u64 {
    x * 2
}

/// A worker's own pid: the task that finds which process ran it.
fn worker_pid() -> u32 {
    std::process::id()
}

/// The Pss of the one worker of a `Pool(1)` started with `method`, after a
/// warm-up `map` and 100 ms of idling.
pub(crate) fn idle_worker(method: StartMethod) -> Measurement {
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
        value: pss_mib(pid).expect("read the worker's smaps_rollup"),
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
    fn pss_line() {
        let rollup = "55d0-7ffc ---p 00000000 00:00 0  [rollup]\nRss:  4096 kB\nPss:  1234 kB\nPss_Anon: 10 kB\n";
        assert_eq!(pss_kib_from_rollup(rollup), Some(1234));
        assert_eq!(pss_kib_from_rollup("Rss: 1 kB\n"), None);
        assert!(pss_mib(std::process::id()).unwrap() > 0.0);
    }
}
