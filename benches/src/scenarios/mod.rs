//! The scenario registry: ids, units, and which way is better.

mod channel;
pub mod families;
mod manager;
mod memory;
mod pool;
mod process;
mod scaling;
mod shm;
mod sync;

/// One measurement of one scenario.
#[derive(Debug, Clone, PartialEq)]
pub struct Measurement {
    /// The measured value, in `unit`.
    pub value: f64,
    /// `us`, `ns`, `ops/s`, `items/s`, `MB/s`, `tasks/s`.
    pub unit: &'static str,
}

/// A scenario: its id, what it measures, and its runner.
#[derive(Debug, Clone, Copy)]
pub struct Scenario {
    /// The id used on the command line and in the table (`M1-fork`).
    pub id: &'static str,
    /// One line saying what is measured.
    pub what: &'static str,
    /// Whether a lower value is better (latencies) or a higher one (rates).
    pub lower_is_better: bool,
    /// Whether to pin both sides to one CPU (latency ping-pongs).
    pub pinned: bool,
    run: fn(quick: bool) -> Measurement,
}

impl Scenario {
    /// Runs the scenario once.
    pub fn run(&self, quick: bool) -> Measurement {
        (self.run)(quick)
    }
}

/// Every scenario this build can run.
pub const ALL: &[Scenario] = &[
    Scenario {
        id: "M1-fork",
        what: "process start + join, trivial target, fork",
        lower_is_better: true,
        pinned: false,
        run: process::m1_fork,
    },
    Scenario {
        id: "M1-spawn",
        what: "process start + join, trivial target, spawn",
        lower_is_better: true,
        pinned: false,
        run: process::m1_spawn,
    },
    Scenario {
        id: "M1-forkserver",
        what: "process start + join, trivial target, forkserver",
        lower_is_better: true,
        pinned: false,
        run: process::m1_forkserver,
    },
    Scenario {
        id: "M2",
        what: "Pipe round trip of a small value between two processes",
        lower_is_better: true,
        pinned: true,
        run: channel::m2,
    },
    Scenario {
        id: "M3a",
        what: "Queue throughput, small items, 1 producer to 1 consumer",
        lower_is_better: false,
        pinned: false,
        run: channel::m3a,
    },
    Scenario {
        id: "M3a-1cpu",
        what: "M3a with producer and consumer on one CPU (the CPU time per item)",
        lower_is_better: false,
        pinned: true,
        run: channel::m3a,
    },
    Scenario {
        id: "M3a-2cpu",
        what: "M3a with producer and consumer each pinned to a CPU of its own",
        lower_is_better: false,
        pinned: false,
        run: channel::m3a_2cpu,
    },
    Scenario {
        id: "M3b",
        what: "Queue throughput, 1 MiB payloads, 4 MiB ring",
        lower_is_better: false,
        pinned: false,
        run: channel::m3b,
    },
    Scenario {
        id: "M3c",
        what: "SimpleQueue throughput, small items",
        lower_is_better: false,
        pinned: false,
        run: channel::m3c,
    },
    Scenario {
        id: "M3c-1cpu",
        what: "M3c with producer and consumer on one CPU (the CPU time per item)",
        lower_is_better: false,
        pinned: true,
        run: channel::m3c,
    },
    Scenario {
        id: "M3c-2cpu",
        what: "M3c with producer and consumer each pinned to a CPU of its own",
        lower_is_better: false,
        pinned: false,
        run: channel::m3c_2cpu,
    },
    Scenario {
        id: "M3d",
        what: "Queue throughput, small items, a 4 KiB ring on one CPU (the producer outpaces it: its feeder thread)",
        lower_is_better: false,
        pinned: true,
        run: channel::m3d,
    },
    Scenario {
        id: "M3e",
        what: "bounded Queue(4096) throughput, small items, on one CPU (the producer sleeps while it is full, as the raw ring's does)",
        lower_is_better: false,
        pinned: true,
        run: channel::m3e,
    },
    Scenario {
        id: "M4a",
        what: "Pool(2).map of x*2 over 200k ints, default chunksize",
        lower_is_better: false,
        pinned: false,
        run: pool::m4a,
    },
    Scenario {
        id: "M4b",
        what: "Pool apply_async round trip",
        lower_is_better: true,
        pinned: true,
        run: pool::m4b,
    },
    Scenario {
        id: "M4c",
        what: "Pool imap_unordered, chunksize 1",
        lower_is_better: false,
        pinned: false,
        run: pool::m4c,
    },
    Scenario {
        id: "M5a",
        what: "Lock acquire + release, uncontended",
        lower_is_better: true,
        pinned: false,
        run: sync::m5a,
    },
    Scenario {
        id: "M5b",
        what: "two processes incrementing a shared Value under its lock",
        lower_is_better: false,
        pinned: false,
        run: sync::m5b,
    },
    Scenario {
        id: "M5b-1cpu",
        what: "M5b with both processes on one CPU (the lock's cost without moves of its line)",
        lower_is_better: false,
        pinned: true,
        run: sync::m5b,
    },
    Scenario {
        id: "M5b-2cpu",
        what: "M5b with the two processes each pinned to a CPU of its own",
        lower_is_better: false,
        pinned: false,
        run: sync::m5b_2cpu,
    },
    Scenario {
        id: "M6",
        what: "Manager dict set + get from a child process",
        lower_is_better: true,
        pinned: true,
        run: manager::m6,
    },
    Scenario {
        id: "M7",
        what: "Event wake-up ping-pong across two processes (round trip)",
        lower_is_better: true,
        pinned: true,
        run: sync::m7,
    },
    Scenario {
        id: "M8",
        what: "SharedMemory 1 MiB create + attach + close + unlink",
        lower_is_better: true,
        pinned: false,
        run: shm::m8,
    },
];

/// Variants of the scenarios that measure what an option costs, run by id
/// (`mp-scenarios M4a-progress`) beside their base scenario in A/B runs;
/// not in the CPython comparison.
pub const VARIANTS: &[Scenario] = &[
    Scenario {
        id: "M4a-progress",
        what: "M4a with a no-op progress hook (TaskOptions::on_progress)",
        lower_is_better: false,
        pinned: false,
        run: pool::m4a_progress,
    },
    Scenario {
        id: "M4c-progress",
        what: "M4c with a no-op progress hook (TaskOptions::on_progress)",
        lower_is_better: false,
        pinned: false,
        run: pool::m4c_progress,
    },
];

/// Runs scenario (or variant, or [`families`] row) `id` once; `None` for an
/// unknown id.
pub fn run(id: &str, quick: bool) -> Option<Measurement> {
    match ALL.iter().chain(VARIANTS).find(|s| s.id == id) {
        Some(s) => Some(s.run(quick)),
        None => families::run(id, quick),
    }
}

/// Iterations: `full`, or a fifth of it in quick mode.
pub(crate) fn iters(quick: bool, full: u64) -> u64 {
    if quick {
        (full / 5).max(1)
    } else {
        full
    }
}
