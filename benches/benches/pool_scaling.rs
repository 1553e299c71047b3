//! Scaling rows for the pool: throughput of a CPU-bound `map` against the
//! number of workers (1, 2, 4 on this 2-core machine: the curve should
//! flatten at the core count), and the resident memory of one idle worker
//! under each start method, read from `/proc/<pid>/status` (`VmRSS`).
//!
//! `cargo bench -p multiprocess-benches --bench pool_scaling`

// `criterion_group!` generates an undocumented `pub fn`.
#![allow(missing_docs)]

use std::time::Duration;

use criterion::{criterion_group, BenchmarkId, Criterion, Throughput};
use multiprocess::{active_children, Pool, StartMethod};

/// A small CPU-bound task: the number of primes below `200 + x % 50`.
fn primes_below(x: u64) -> u64 {
    let n = 200 + x % 50;
    (2..n)
        .filter(|&k| (2..k).take_while(|d| d * d <= k).all(|d| k % d != 0))
        .count() as u64
}

fn throughput(c: &mut Criterion) {
    let mut g = c.benchmark_group("Pool_scaling_map_20k_cpu_tasks");
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(4));
    g.throughput(Throughput::Elements(20_000));
    for workers in [1usize, 2, 4] {
        let pool = Pool::with_processes(workers).expect("pool");
        pool.map(primes_below, 0..100u64).expect("warm-up");
        g.bench_with_input(BenchmarkId::from_parameter(workers), &workers, |b, _| {
            b.iter(|| {
                let out = pool.map(primes_below, 0..20_000u64).expect("map");
                assert_eq!(out.len(), 20_000);
            })
        });
    }
    g.finish();
}

fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// Not a timing: prints the median resident memory of an idle worker.
fn memory(_: &mut Criterion) {
    for method in [
        StartMethod::Fork,
        StartMethod::Spawn,
        StartMethod::ForkServer,
    ] {
        let pool = Pool::builder()
            .processes(4)
            .start_method(method)
            .build()
            .expect("pool");
        pool.map(primes_below, 0..100u64).expect("warm-up");
        let mut rss: Vec<u64> = active_children()
            .iter()
            .filter(|c| c.name().contains("PoolWorker"))
            .filter_map(|c| rss_kib(c.pid()))
            .collect();
        rss.sort_unstable();
        match rss.get(rss.len() / 2) {
            Some(kib) => println!(
                "Pool_worker_rss/{:<10} median {kib} KiB over {} workers",
                method.name(),
                rss.len()
            ),
            None => println!("Pool_worker_rss/{}: no worker found", method.name()),
        }
    }
}

criterion_group!(benches, throughput, memory);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
}
