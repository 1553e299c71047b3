//! The async forms against the blocking ones (issue 15): M2, a small value
//! sent to a child process over a `pipe()` and echoed back (`send`/`recv`
//! vs `send_async`/`recv_async`), and M4b, an `apply_async` round trip on a
//! `Pool(2)` (`get()` vs `.await`). Each async form runs under smol's
//! `block_on` (which drives async-io's reactor itself) and under a tokio
//! current-thread runtime (where async-io's own thread drives it and wakes
//! tokio's). The target: the async forms within 1.5x of the
//! blocking latency.
//!
//! `cargo bench -p multiprocess-benches --bench async_round_trip`

// `criterion_group!` generates an undocumented `pub fn`.
#![allow(missing_docs)]

use std::time::Duration;

use criterion::{criterion_group, Criterion};
use multiprocess::{pipe, Connection, Pool, Process};

fn echo(conn: Connection) {
    while let Ok(v) = conn.recv::<u64>() {
        if conn.send(&v).is_err() {
            break;
        }
    }
}

fn double(x: u64) -> u64 {
    x * 2
}

fn tokio_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

fn m2(c: &mut Criterion) {
    let (ours, theirs) = pipe(true).expect("pipe");
    let mut child = Process::new(echo, (theirs,));
    child.start().expect("start");
    let tokio = tokio_runtime();

    let mut g = c.benchmark_group("M2_pipe_round_trip_async");
    g.sample_size(50);
    g.measurement_time(Duration::from_secs(4));
    g.bench_function("blocking", |b| {
        b.iter(|| {
            ours.send(&42u64).expect("send");
            assert_eq!(ours.recv::<u64>().expect("recv"), 42);
        })
    });
    let round_trip = || async {
        ours.send_async(&42u64).await.expect("send");
        assert_eq!(ours.recv_async::<u64>().await.expect("recv"), 42);
    };
    g.bench_function("async_smol", |b| b.iter(|| smol::block_on(round_trip())));
    g.bench_function("async_tokio_current_thread", |b| {
        b.iter(|| tokio.block_on(round_trip()))
    });
    g.finish();

    drop(ours);
    child.join().expect("join");
}

fn m4b(c: &mut Criterion) {
    let pool = Pool::with_processes(2).expect("pool");
    assert_eq!(
        pool.map_chunked(double, 0..64u64, 1)
            .expect("warm-up")
            .len(),
        64
    );
    let tokio = tokio_runtime();

    let mut g = c.benchmark_group("M4b_apply_async_round_trip_async");
    g.sample_size(50);
    g.measurement_time(Duration::from_secs(4));
    g.bench_function("get", |b| {
        b.iter(|| {
            let r = pool.apply_async(double, (21,)).expect("submit");
            assert_eq!(r.get().expect("get"), 42);
        })
    });
    let round_trip = || async {
        let r = pool.apply_async(double, (21,)).expect("submit");
        assert_eq!(r.await.expect("await"), 42);
    };
    g.bench_function("await_smol", |b| b.iter(|| smol::block_on(round_trip())));
    g.bench_function("await_tokio_current_thread", |b| {
        b.iter(|| tokio.block_on(round_trip()))
    });
    g.finish();
}

criterion_group!(benches, m2, m4b);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
}
