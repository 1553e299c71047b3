//! M4a, M4b and M4c: `Pool(2).map` of `x * 2` over 200 000 integers with the
//! default chunk size; an `apply_async(..).get()` round trip beside a raw
//! round trip of 8 bytes over a socket pair to a forked echo child; and
//! `imap_unordered` with chunk size 1 over 20 000 tasks. The CPython
//! counterpart is `benches/python/m4_pool.py`.
//!
//! `cargo bench -p multiprocess-benches --bench pool`

// `criterion_group!` generates an undocumented `pub fn`.
#![allow(missing_docs)]

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::time::Duration;

use criterion::{criterion_group, Criterion, Throughput};
use mp_pool::Pool;
use mp_sys::process::{exit_now, fork_unchecked, wait_pidfd, Fork};

fn double(x: u64) -> u64 {
    x * 2
}

fn m4(c: &mut Criterion) {
    let pool = Pool::with_processes(2).expect("pool");
    // Warm up: every worker has run a task.
    assert_eq!(
        pool.map_chunked(double, 0..64u64, 1)
            .expect("warm-up")
            .len(),
        64
    );

    let mut g = c.benchmark_group("M4a_map_200k");
    g.sample_size(20);
    g.measurement_time(Duration::from_secs(5));
    g.throughput(Throughput::Elements(200_000));
    g.bench_function("pool2", |b| {
        b.iter(|| {
            let out = pool.map(double, 0..200_000u64).expect("map");
            assert_eq!(out.len(), 200_000);
        })
    });
    g.finish();

    let mut g = c.benchmark_group("M4b_apply_async_round_trip");
    g.sample_size(50);
    g.measurement_time(Duration::from_secs(4));
    g.bench_function("apply_async_get", |b| {
        b.iter(|| {
            let r = pool.apply_async(double, (21,)).expect("submit");
            assert_eq!(r.get().expect("get"), 42);
        })
    });
    let (mut ours, theirs) = UnixStream::pair().expect("socketpair");
    // SAFETY: the pool's threads exist, so this is a multi-threaded fork;
    // the child only reads, writes and `_exit`s (system calls on its own
    // socket), touching no lock or state those threads could hold.
    let child = match unsafe { fork_unchecked() }.expect("fork") {
        Fork::Child => {
            drop(ours);
            let mut theirs = theirs;
            let mut buf = [0u8; 8];
            while theirs.read_exact(&mut buf).is_ok() {
                if theirs.write_all(&buf).is_err() {
                    break;
                }
            }
            exit_now(0)
        }
        Fork::Parent { pidfd, .. } => pidfd,
    };
    drop(theirs);
    g.bench_function("raw_socketpair_round_trip", |b| {
        let mut buf = [0u8; 8];
        b.iter(|| {
            ours.write_all(&42u64.to_le_bytes()).expect("write");
            ours.read_exact(&mut buf).expect("read");
        })
    });
    drop(ours);
    wait_pidfd(&child, true).expect("reap echo child");
    g.finish();

    let mut g = c.benchmark_group("M4c_imap_unordered_20k");
    g.sample_size(20);
    g.measurement_time(Duration::from_secs(5));
    g.throughput(Throughput::Elements(20_000));
    g.bench_function("chunksize1", |b| {
        b.iter(|| {
            let n = pool
                .imap_unordered(double, 0..20_000u64)
                .expect("imap_unordered")
                .filter(|r| r.is_ok())
                .count();
            assert_eq!(n, 20_000);
        })
    });
    g.finish();
}

criterion_group!(benches, m4);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
}
