//! The parameterised rows of issue 13's scaling and memory deliverable, as
//! `<base>@<param>` ids:
//!
//! - `S-10us@2w`, `S-100us@…`, `S-1ms@…`: `Pool.map` throughput of
//!   CPU-bound tasks of that CPU cost with that many workers;
//! - `M1-fork@100MB`, `M1-spawn@1GB`, …: M1 after the parent has written
//!   that much memory, always with M1's quick iteration count (a fork of a
//!   1 GB parent takes tens of milliseconds); fork and spawn have M1's raw
//!   limit under the same ballast. The raw fork server is forked from the
//!   parent after the ballast, so it would copy it on every start: no limit
//!   for a server that is exec'd fresh, as ours and CPython's are, so the
//!   forkserver rows have none;
//! - `RSS-idle-worker@fork`, `@spawn`, `@forkserver`: the Pss of one idle
//!   pool worker; `USS-idle-worker@…`: its USS, the memory only it maps.
//!
//! [`list`] expands the families for a [`Sweep`]; every runner (this one,
//! `benches/python/scenarios.py`, `peer-scenarios`) accepts any such id.

use multiprocess::StartMethod;

use super::memory::{self, Share};
use super::{scaling, Measurement};

pub use super::memory::parse_size;

/// The CPU cost of the tasks of each scaling row, by base id.
pub const SCALING: &[(&str, u64)] = &[("S-10us", 10), ("S-100us", 100), ("S-1ms", 1000)];

/// The M1 rows that also run with a large parent.
const M1: &[&str] = &["M1-fork", "M1-spawn", "M1-forkserver"];

/// The M1 rows whose raw limit means the same with a large parent.
const M1_RAW: &[&str] = &["M1-fork", "M1-spawn"];

/// The base ids of the idle worker memory rows, the share of memory each
/// reports, and how its rows describe it.
const IDLE_WORKER: &[(&str, Share, &str)] = &[
    ("RSS-idle-worker", Share::Pss, "Pss"),
    (
        "USS-idle-worker",
        Share::Uss,
        "USS (memory no other process maps)",
    ),
];

/// The worker counts and parent sizes the families are expanded for.
#[derive(Debug, Clone, PartialEq)]
pub struct Sweep {
    /// Worker counts of the scaling rows.
    pub workers: Vec<usize>,
    /// Parent sizes of the M1 rows, as the ids spell them (`100MB`).
    pub parent_sizes: Vec<String>,
}

impl Sweep {
    /// The default sweep: workers 1, 2, 4, … up to this machine's core
    /// count (and the count itself), parents of 100 MB and 1 GB (100 MB
    /// only in quick mode: writing 1 GB and forking it is slow).
    pub fn default_for(quick: bool) -> Sweep {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        Sweep {
            workers: workers_up_to(cores),
            parent_sizes: if quick {
                vec!["100MB".into()]
            } else {
                vec!["100MB".into(), "1GB".into()]
            },
        }
    }
}

/// Powers of two below `cores`, then `cores`.
fn workers_up_to(cores: usize) -> Vec<usize> {
    let mut w: Vec<usize> = std::iter::successors(Some(1usize), |n| n.checked_mul(2))
        .take_while(|n| *n < cores)
        .collect();
    w.push(cores.max(1));
    w
}

/// One expanded row, as `mp-scenarios --list` prints it.
#[derive(Debug, Clone, PartialEq)]
pub struct Listed {
    /// `<base>@<param>`.
    pub id: String,
    /// What it measures.
    pub what: String,
    /// Whether a lower value is better.
    pub lower_is_better: bool,
    /// What its raw limit is, if it has one.
    pub raw_what: Option<String>,
}

/// Every row of every family for `sweep`.
pub fn list(sweep: &Sweep) -> Vec<Listed> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut out = Vec::new();
    for (base, us) in SCALING {
        for &w in &sweep.workers {
            let ideal = w.min(cores) as f64 * 1e6 / *us as f64;
            out.push(Listed {
                id: format!("{base}@{w}w"),
                what: format!(
                    "Pool({w}).map of CPU-bound tasks of {} CPU each (ideal on {cores} cores: {ideal:.0} tasks/s)",
                    task_label(*us)
                ),
                lower_is_better: false,
                raw_what: None,
            });
        }
    }
    for size in &sweep.parent_sizes {
        for base in M1 {
            let method = base.trim_start_matches("M1-");
            out.push(Listed {
                id: format!("{base}@{size}"),
                what: format!(
                    "process start + join, trivial target, {method}, the parent having written {size} first"
                ),
                lower_is_better: true,
                raw_what: M1_RAW
                    .contains(base)
                    .then(|| crate::raw::find(base))
                    .flatten()
                    .map(|r| format!("{}, the parent having written {size} first", r.what)),
            });
        }
    }
    for (base, _, share) in IDLE_WORKER {
        for method in ["fork", "spawn", "forkserver"] {
            out.push(Listed {
                id: format!("{base}@{method}"),
                what: format!("{share} of the idle worker of a Pool(1), {method}"),
                lower_is_better: true,
                raw_what: None,
            });
        }
    }
    out
}

fn task_label(us: u64) -> String {
    if us >= 1000 {
        format!("{} ms", us / 1000)
    } else {
        format!("{us} µs")
    }
}

/// Runs family row `id` once; `None` if `id` is not one.
pub fn run(id: &str, quick: bool) -> Option<Measurement> {
    let (base, param) = id.split_once('@')?;
    if let Some((_, us)) = SCALING.iter().find(|(b, _)| *b == base) {
        let workers: usize = param.strip_suffix('w')?.parse().ok().filter(|w| *w > 0)?;
        return Some(scaling::pool_map(*us, workers, quick));
    }
    if IDLE_WORKER.iter().any(|(b, ..)| *b == base) {
        return run_idle_worker(id);
    }
    if M1.contains(&base) {
        let bytes = memory::parse_size(param)?;
        // Always M1's quick count: see the module comment.
        return memory::with_parent_memory(bytes, || super::run(base, true));
    }
    None
}

/// Runs the memory row `id` (`RSS-idle-worker@<method>` or
/// `USS-idle-worker@<method>`) once; `None` if `id` is not one. Apart from
/// [`run`], so that a program of its own (`mp-rss`) can measure it without
/// the code of every other scenario.
pub fn run_idle_worker(id: &str) -> Option<Measurement> {
    let (base, method) = id.split_once('@')?;
    let (_, share, _) = IDLE_WORKER.iter().find(|(b, ..)| *b == base)?;
    let method: StartMethod = method.parse().ok()?;
    Some(memory::idle_worker(method, *share))
}

/// Runs the raw limit of family row `id` once (M1 fork and spawn under
/// their parent size, always M1's quick count, whatever `_quick` says);
/// `None` if it has none.
pub fn run_raw(id: &str, _quick: bool) -> Option<Measurement> {
    let (base, param) = id.split_once('@')?;
    if !M1_RAW.contains(&base) {
        return None;
    }
    let raw = crate::raw::find(base)?;
    let bytes = memory::parse_size(param)?;
    Some(memory::with_parent_memory(bytes, || raw.run(true)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn worker_sweeps() {
        assert_eq!(workers_up_to(1), [1]);
        assert_eq!(workers_up_to(2), [1, 2]);
        assert_eq!(workers_up_to(6), [1, 2, 4, 6]);
        assert_eq!(workers_up_to(8), [1, 2, 4, 8]);
    }

    #[test]
    fn expansion() {
        let sweep = Sweep {
            workers: vec![1, 4],
            parent_sizes: vec!["1GB".into()],
        };
        let listed = list(&sweep);
        let raw: Vec<bool> = listed.iter().map(|l| l.raw_what.is_some()).collect();
        assert_eq!(raw[6..9], [true, true, false]);
        let ids: Vec<String> = listed.into_iter().map(|l| l.id).collect();
        assert_eq!(
            ids,
            [
                "S-10us@1w",
                "S-10us@4w",
                "S-100us@1w",
                "S-100us@4w",
                "S-1ms@1w",
                "S-1ms@4w",
                "M1-fork@1GB",
                "M1-spawn@1GB",
                "M1-forkserver@1GB",
                "RSS-idle-worker@fork",
                "RSS-idle-worker@spawn",
                "RSS-idle-worker@forkserver",
                "USS-idle-worker@fork",
                "USS-idle-worker@spawn",
                "USS-idle-worker@forkserver",
            ]
        );
    }

    #[test]
    fn unknown_ids_are_none() {
        assert!(run("S-10us@0w", true).is_none());
        assert!(run("S-10us@x", true).is_none());
        assert!(run("RSS-idle-worker@vfork", true).is_none());
        assert!(run("USS-idle-worker@vfork", true).is_none());
        assert!(run_idle_worker("PSS-idle-worker@spawn").is_none());
        assert!(run("M1-fork@1TB", true).is_none());
        assert!(run("M2@1GB", true).is_none());
        assert!(run_raw("S-10us@1w", true).is_none());
        assert!(run_raw("M1-forkserver@100MB", true).is_none());
    }
}
