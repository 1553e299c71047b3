//! Beyond Python's pool (billiard's `max_memory_per_child`): a worker whose
//! resident memory exceeds the limit after a task sends that task's result,
//! exits and is replaced — a leak cannot grow without bound, and no result
//! is lost.

use multiprocess::{Pool, PoolError};

const MIB: u64 = 1 << 20;

/// Leaks 40 MiB (a stand-in for a library that never gives memory back),
/// then answers with the pid of the worker that ran it.
fn leaky_task(x: u64) -> (u64, u32) {
    std::mem::forget(vec![1u8; (40 * MIB) as usize]);
    (x, std::process::id())
}

fn main() -> Result<(), PoolError> {
    let pool = Pool::builder()
        .processes(2)
        .max_memory_per_child(100 * MIB)
        .build()?;
    let got = pool.map_chunked(leaky_task, 0..12u64, 1)?;
    let mut workers: Vec<u32> = got.iter().map(|(_, pid)| *pid).collect();
    workers.sort_unstable();
    workers.dedup();
    println!(
        "{} results, every task once: {}",
        got.len(),
        got.iter().enumerate().all(|(i, r)| r.0 == i as u64)
    );
    println!(
        "{} workers ran them (each retired past 100 MiB)",
        workers.len()
    );
    Ok(())
}
