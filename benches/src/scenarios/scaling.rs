//! The scaling rows `S-10us`, `S-100us`, `S-1ms`: `Pool.map` throughput
//! with N workers for CPU-bound tasks of a fixed CPU cost, the same in every
//! language: each task spins until its thread has used that much CPU time
//! (`CLOCK_THREAD_CPUTIME_ID`), so a task costs the same 10 µs in Rust and
//! in Python, and more workers than cores cannot finish tasks by waiting.

use std::time::Instant;

use multiprocess::Pool;
use rustix::time::{clock_gettime, ClockId};

use super::{iters, Measurement};

/// The CPU time this thread has used, in nanoseconds.
fn thread_cpu_ns() -> u64 {
    let t = clock_gettime(ClockId::ThreadCPUTime);
    t.tv_sec as u64 * 1_000_000_000 + t.tv_nsec as u64
}

/// The task: burns `us` microseconds of this thread's CPU time, returns `us`.
pub(crate) fn spin(us: u64) -> u64 {
    let end = thread_cpu_ns() + us * 1000;
    while thread_cpu_ns() < end {
        std::hint::spin_loop();
    }
    us
}

/// How many tasks of `task_us` make one second of CPU work (a fifth in
/// quick mode): every row does the same total work, whatever its task size.
pub(crate) fn task_count(task_us: u64, quick: bool) -> u64 {
    iters(quick, 1_000_000 / task_us)
}

/// `pool.map(spin, [task_us] * n)` on a pool of `workers`, default chunk
/// size, in tasks per second.
pub(crate) fn pool_map(task_us: u64, workers: usize, quick: bool) -> Measurement {
    let pool = Pool::with_processes(workers).expect("pool");
    // Every worker started and warm.
    let warm = pool
        .map(spin, std::iter::repeat_n(1u64, 4 * workers))
        .expect("warm-up");
    assert_eq!(warm.len(), 4 * workers);
    let n = task_count(task_us, quick);
    let t = Instant::now();
    let out = pool
        .map(spin, std::iter::repeat_n(task_us, n as usize))
        .expect("map");
    let took = t.elapsed();
    assert_eq!(out.len() as u64, n);
    assert!(out.iter().all(|&us| us == task_us));
    Measurement {
        value: n as f64 / took.as_secs_f64(),
        unit: "tasks/s",
    }
}
