//! Beyond Python's pool (mpire's `worker_state`): each worker makes a state
//! once, when it starts — here a cache standing in for a connection or a
//! model that is expensive to set up — and every task that worker runs
//! borrows it `&mut`. The maker is named like any pool function, so this
//! works under every start method.

use std::collections::HashMap;

use multiprocess::{Pool, PoolError};

/// One worker's state.
struct Cache {
    worker: u32,
    /// Results computed by this worker so far.
    known: HashMap<u64, u64>,
}

/// Runs once in each worker.
fn open_cache(capacity: usize) -> Cache {
    Cache {
        worker: std::process::id(),
        known: HashMap::with_capacity(capacity),
    }
}

/// A task: the cached answer if this worker computed it before.
fn collatz_steps(cache: &mut Cache, n: u64) -> (u32, u64, bool) {
    if let Some(&steps) = cache.known.get(&n) {
        return (cache.worker, steps, true);
    }
    let (mut x, mut steps) = (n, 0);
    while x > 1 {
        x = if x % 2 == 0 { x / 2 } else { 3 * x + 1 };
        steps += 1;
    }
    cache.known.insert(n, steps);
    (cache.worker, steps, false)
}

fn main() -> Result<(), PoolError> {
    let pool = Pool::builder()
        .processes(2)
        .worker_state(open_cache, (1024,))
        .build()?;
    // Every number twice: the second time, a worker that saw it answers
    // from its cache.
    let inputs: Vec<u64> = (1..=50).chain(1..=50).collect();
    let got = pool.map_with_state(collatz_steps, inputs)?;
    let hits = got.iter().filter(|(_, _, cached)| *cached).count();
    let mut workers: Vec<u32> = got.iter().map(|(w, _, _)| *w).collect();
    workers.sort_unstable();
    workers.dedup();
    println!("steps for 27: {}", got[26].1);
    println!(
        "{} tasks on {} workers, {hits} answered from a worker's cache",
        got.len(),
        workers.len()
    );
    Ok(())
}
