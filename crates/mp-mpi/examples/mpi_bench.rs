//! Throughput of the pool on two workers, the same program both ways: run
//! on its own it is a local `Pool(2)`, under `mpirun -n 3` the pool on MPI
//! ranks 1 and 2. Scenarios: M4a (`map` of `x * 2` over 200 000 integers,
//! default chunk size), M4c (`imap_unordered` over 20 000 integers, chunk
//! size 1) and a CPU-bound farm (`map` of 400 tasks of 1 ms each, chunk
//! size 1). Prints the median of `ROUNDS` rounds (argument 1, default 5)
//! with the spread (min–max). Argument 2, if given, names the scenarios to
//! run (`m4a,m4c,farm`; default all), e.g. to profile one.
//!
//! ```text
//! cargo build --release -p mp-mpi --features mpi --example mpi_bench
//! target/release/examples/mpi_bench 7
//! mpirun --oversubscribe -n 3 target/release/examples/mpi_bench 7
//! ```

use std::time::{Duration, Instant};

use mp_mpi::{Pool, PoolError};

fn double(x: u64) -> u64 {
    x * 2
}

/// About 1 ms of CPU: spins until 1 ms of wall time has passed.
fn busy_1ms(x: u64) -> u64 {
    let start = Instant::now();
    let mut acc = x;
    while start.elapsed() < Duration::from_millis(1) {
        for _ in 0..100 {
            acc = acc.wrapping_mul(6364136223846793005).wrapping_add(1);
        }
    }
    acc
}

/// Runs `once` `rounds` times; returns (median, min, max) of `items /
/// seconds`.
fn rate(
    rounds: usize,
    items: usize,
    mut once: impl FnMut() -> Result<(), PoolError>,
) -> Result<(f64, f64, f64), PoolError> {
    once()?; // warm-up
    let mut rates = Vec::new();
    for _ in 0..rounds {
        let t = Instant::now();
        once()?;
        rates.push(items as f64 / t.elapsed().as_secs_f64());
    }
    rates.sort_by(f64::total_cmp);
    Ok((rates[rates.len() / 2], rates[0], rates[rates.len() - 1]))
}

fn show(name: &str, unit: &str, scale: f64, (mid, lo, hi): (f64, f64, f64)) {
    println!(
        "{name:<44} {:>9.2} {unit} (min {:.2}, max {:.2})",
        mid / scale,
        lo / scale,
        hi / scale
    );
}

fn main() -> Result<(), PoolError> {
    let rounds = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(5);
    let only = std::env::args()
        .nth(2)
        .unwrap_or_else(|| "m4a,m4c,farm".into());
    let run = |name: &str| only.split(',').any(|s| s == name);
    let pool = Pool::with_processes(2)?;
    let how = if pool.is_mpi() {
        "MPI ranks 1-2"
    } else {
        "local Pool(2)"
    };
    println!("{how}, {rounds} rounds, median");
    if run("m4a") {
        let inputs: Vec<u64> = (0..200_000).collect();
        let m4a = rate(rounds, inputs.len(), || {
            let out = pool.map(double, inputs.iter().copied())?;
            assert_eq!(out.len(), inputs.len());
            Ok(())
        })?;
        show(
            "M4a map x*2, 200k ints, default chunksize",
            "Mtasks/s",
            1e6,
            m4a,
        );
    }
    if run("m4c") {
        let m4c = rate(rounds, 20_000, || {
            let n = pool.imap_unordered(double, 0..20_000u64)?.count();
            assert_eq!(n, 20_000);
            Ok(())
        })?;
        show(
            "M4c imap_unordered, 20k ints, chunksize 1",
            "ktasks/s",
            1e3,
            m4c,
        );
    }
    if run("farm") {
        let farm = rate(rounds, 400, || {
            let out = pool.map_chunked(busy_1ms, 0..400u64, 1)?;
            assert_eq!(out.len(), 400);
            Ok(())
        })?;
        show("farm: 400 tasks of 1 ms, chunksize 1", "tasks/s", 1.0, farm);
    }
    pool.close();
    pool.join()
}
