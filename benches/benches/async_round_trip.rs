//! The async forms against the blocking ones (issue 15): M2, a small value
//! sent to a child process over a `pipe()` and echoed back (`send`/`recv`
//! vs `send_async`/`recv_async`); M4b, an `apply_async` round trip on a
//! `Pool(2)` (`get()` vs `.await`); M7, an `Event` ping-pong with a child
//! process (`wait` vs `wait_async`, a futex word awaited through the
//! watcher thread); and a `Queue` echo through a child (`get` vs
//! `get_async`; also with the three ways taking turns in batches, printed
//! as medians, since its round trips are bimodal: see `queue_interleaved`).
//! Then "10,000 pending async waits": 10,000 `Event` waits
//! (on 100 and on 10,000 events) and 10,000 `Queue` gets are polled once,
//! and the threads of the process are counted from `/proc/self/status`
//! and printed. Each async form runs under smol's
//! `block_on` (which drives async-io's reactor itself) and under a tokio
//! current-thread runtime (where async-io's own thread drives it and wakes
//! tokio's). The target: the async forms within 1.5x of the
//! blocking latency.
//!
//! `cargo bench -p multiprocess-benches --bench async_round_trip`

// `criterion_group!` generates an undocumented `pub fn`.
#![allow(missing_docs)]

use std::time::Duration;

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Waker};

use criterion::{criterion_group, Criterion};
use multiprocess::{pipe, Connection, Event, Pool, Process, Queue};

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

fn m7_event_peer(ping: Event, pong: Event, stop: Event) {
    loop {
        ping.wait(None);
        ping.clear();
        if stop.is_set() {
            return;
        }
        pong.set();
    }
}

fn m7(c: &mut Criterion) {
    let [ping, pong, stop] = [(); 3].map(|()| Event::new().expect("event"));
    let mut peer = Process::new(m7_event_peer, (ping.clone(), pong.clone(), stop.clone()));
    peer.start().expect("start");
    let tokio = tokio_runtime();

    let mut g = c.benchmark_group("M7_ping_pong_round_trip_async");
    g.sample_size(30);
    g.measurement_time(Duration::from_secs(3));
    g.bench_function("blocking", |b| {
        b.iter(|| {
            ping.set();
            assert!(pong.wait(None));
            pong.clear();
        })
    });
    let round_trip = || async {
        ping.set();
        assert!(pong.wait_async(None).await);
        pong.clear();
    };
    g.bench_function("async_smol", |b| b.iter(|| smol::block_on(round_trip())));
    g.bench_function("async_tokio_current_thread", |b| {
        b.iter(|| tokio.block_on(round_trip()))
    });
    g.finish();
    stop.set();
    ping.set();
    peer.join().expect("join");
}

fn queue_echo(rx: Queue<u64>, tx: Queue<u64>) {
    while let Ok(v) = rx.get() {
        if v == u64::MAX || tx.put(&v).is_err() {
            break;
        }
    }
}

fn queue(c: &mut Criterion) {
    let (to, from) = (Queue::new().expect("queue"), Queue::new().expect("queue"));
    let mut peer = Process::new(queue_echo, (to.clone(), from.clone()));
    peer.start().expect("start");
    let tokio = tokio_runtime();

    let mut g = c.benchmark_group("Queue_round_trip_async");
    g.sample_size(30);
    g.measurement_time(Duration::from_secs(3));
    g.bench_function("blocking", |b| {
        b.iter(|| {
            to.put(&42).expect("put");
            assert_eq!(from.get().expect("get"), 42);
        })
    });
    let round_trip = || async {
        to.put_async(&42).await.expect("put");
        assert_eq!(from.get_async().await.expect("get"), 42);
    };
    g.bench_function("async_smol", |b| b.iter(|| smol::block_on(round_trip())));
    g.bench_function("async_tokio_current_thread", |b| {
        b.iter(|| tokio.block_on(round_trip()))
    });
    g.finish();
    queue_interleaved(&to, &from, &tokio);
    to.put(&u64::MAX).expect("put");
    peer.join().expect("join");
}

/// The `Queue` echo's three ways taking turns in batches (the order rotated
/// every round), printed as each way's median batch and the ratios. Its
/// round trips are bimodal: two sides that meet while both spin (no
/// context switch, about a microsecond) or a side that sleeps (two or three
/// switches, ten or more). Which one a run gets depends on the load at
/// that moment, so criterion's rows, taken one way after the other, saw
/// the async/blocking ratio swing from 0.5 to 6.8; taking turns, all three
/// ways see the same load.
fn queue_interleaved(to: &Queue<u64>, from: &Queue<u64>, tokio: &tokio::runtime::Runtime) {
    const BATCH: u32 = 200;
    const ROUNDS: usize = 60;
    let round_trip = || async {
        to.put_async(&42).await.expect("put");
        assert_eq!(from.get_async().await.expect("get"), 42);
    };
    let batch = || async {
        for _ in 0..BATCH {
            round_trip().await;
        }
    };
    let mut us: [Vec<f64>; 3] = Default::default();
    for round in 0..ROUNDS {
        for k in 0..3 {
            let way = (k + round) % 3;
            let start = std::time::Instant::now();
            match way {
                0 => {
                    for _ in 0..BATCH {
                        to.put(&42).expect("put");
                        assert_eq!(from.get().expect("get"), 42);
                    }
                }
                1 => smol::block_on(batch()),
                _ => tokio.block_on(batch()),
            }
            us[way].push(start.elapsed().as_secs_f64() * 1e6 / f64::from(BATCH));
        }
    }
    let [blocking, smol, tokio] = us.map(|mut v| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    });
    println!(
        "Queue_round_trip_interleaved: median of {ROUNDS} batches of {BATCH}, us per round trip: \
         blocking {blocking:.2}, async smol {smol:.2} ({:.2}x), async tokio current-thread \
         {tokio:.2} ({:.2}x)",
        smol / blocking,
        tokio / blocking
    );
}

/// This process's thread count, from `/proc/self/status`.
fn threads() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").expect("status");
    let line = status
        .lines()
        .find(|l| l.starts_with("Threads:"))
        .expect("Threads:");
    line["Threads:".len()..].trim().parse().expect("a number")
}

/// Polls every future once (all must be pending); returns the thread
/// count then.
fn poll_all<F: Future>(futs: &mut [Pin<Box<F>>]) -> usize {
    let mut cx = Context::from_waker(Waker::noop());
    for f in futs.iter_mut() {
        assert!(f.as_mut().poll(&mut cx).is_pending(), "pending");
    }
    threads()
}

/// "10,000 pending async waits without 10,000 threads": not a timing, a
/// count, printed beside the timings (and the time to register and to
/// complete them all).
fn pending(_: &mut Criterion) {
    const N: usize = 10_000;
    for events in [100, N] {
        let before = threads();
        let ev: Vec<Event> = (0..events).map(|_| Event::new().expect("event")).collect();
        let start = std::time::Instant::now();
        let mut waits: Vec<_> = (0..N)
            .map(|i| Box::pin(ev[i % events].wait_async(None)))
            .collect();
        let during = poll_all(&mut waits);
        let registered = start.elapsed();
        for e in &ev {
            e.set();
        }
        let done = smol::block_on(async {
            for w in waits {
                assert!(w.await);
            }
            start.elapsed()
        });
        println!(
            "pending_async_waits: {N} Event::wait_async on {events} events: threads {before} before, \
             {during} while pending; registered in {registered:?}, all complete {done:?}"
        );
    }
    let q = Queue::<u64>::new().expect("queue");
    let before = threads();
    let start = std::time::Instant::now();
    let mut gets: Vec<_> = (0..N).map(|_| Box::pin(q.get_async())).collect();
    let during = poll_all(&mut gets);
    let registered = start.elapsed();
    println!(
        "pending_async_waits: {N} Queue::get_async on one queue: threads {before} before, \
         {during} while pending; registered in {registered:?} (idle watcher threads exit after 10 s)"
    );
    drop(gets);
}

criterion_group!(benches, m2, m4b, m7, queue, pending);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
}
