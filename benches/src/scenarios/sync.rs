//! M5a, M5b, M7: locks, a shared counter, event ping-pong.

use std::time::{Duration, Instant};

use multiprocess::{Event, Lock, Process, Semaphore, Value};

use super::{iters, Measurement};

pub(super) fn m5a(quick: bool) -> Measurement {
    let lock = Lock::new().expect("lock");
    let n = iters(quick, 5_000_000);
    for _ in 0..1000 {
        drop(lock.lock());
    }
    let t = Instant::now();
    for _ in 0..n {
        let g = lock.lock();
        std::hint::black_box(&g);
        drop(g);
    }
    Measurement {
        value: t.elapsed().as_secs_f64() * 1e9 / n as f64,
        unit: "ns",
    }
}

fn increment(counter: Value<u64>, ready: Semaphore, go: Event, n: u64, cpu: Option<usize>) {
    if let Some(cpu) = cpu {
        crate::placement::pin_to(cpu);
    }
    ready.release().expect("ready");
    go.wait(Some(Duration::from_secs(30)));
    for _ in 0..n {
        let g = match counter.lock() {
            Ok(g) => g,
            Err(died) => died.into_inner(),
        };
        let v = g.get();
        g.set(v + 1);
    }
}

pub(super) fn m5b(quick: bool) -> Measurement {
    two_incrementers(quick, [None, None])
}

/// M5b with one process on CPU 0 and the other on CPU 1.
pub(super) fn m5b_2cpu(quick: bool) -> Measurement {
    two_incrementers(quick, [Some(0), Some(1)])
}

/// Two processes (each pinned to its CPU, if given) add 200k each to a
/// shared counter under its lock; the rate of increments.
fn two_incrementers(quick: bool, cpus: [Option<usize>; 2]) -> Measurement {
    let n = iters(quick, 200_000);
    let counter = Value::new(0u64).expect("value");
    let go = Event::new().expect("event");
    let ready = Semaphore::new(0).expect("semaphore");
    let mut a = Process::new(
        increment,
        (counter.clone(), ready.clone(), go.clone(), n, cpus[0]),
    );
    let mut b = Process::new(
        increment,
        (counter.clone(), ready.clone(), go.clone(), n, cpus[1]),
    );
    a.start().expect("start");
    b.start().expect("start");
    // The raw limit's gate: each child counts itself ready, then waits for
    // `go`; `go` follows the second one at once. (A 50 ms sleep here
    // before `go` put ours in the two-CPU mode in 8 unpinned runs of 8
    // while raw's gate split between modes: docs/performance.md.) Time
    // only the increments (and the two exits).
    for _ in 0..2 {
        ready
            .acquire(true, Some(Duration::from_secs(30)))
            .expect("ready");
    }
    let t = Instant::now();
    go.set();
    a.join().expect("join");
    b.join().expect("join");
    let took = t.elapsed();
    assert_eq!(counter.value(), 2 * n, "lost increments");
    Measurement {
        value: (2 * n) as f64 / took.as_secs_f64(),
        unit: "ops/s",
    }
}

fn pong(ping: Event, pong: Event, rounds: u64) {
    for _ in 0..rounds {
        ping.wait(Some(Duration::from_secs(10)));
        ping.clear();
        pong.set();
    }
}

pub(super) fn m7(quick: bool) -> Measurement {
    let rounds = iters(quick, 20_000);
    let ping = Event::new().expect("event");
    let back = Event::new().expect("event");
    let mut p = Process::new(pong, (ping.clone(), back.clone(), rounds + 100));
    p.start().expect("start");
    let round = |ping: &Event, back: &Event| {
        ping.set();
        assert!(back.wait(Some(Duration::from_secs(10))), "pong timed out");
        back.clear();
    };
    for _ in 0..100 {
        round(&ping, &back);
    }
    let t = Instant::now();
    for _ in 0..rounds {
        round(&ping, &back);
    }
    let took = t.elapsed();
    p.join().expect("join");
    Measurement {
        value: took.as_secs_f64() * 1e6 / rounds as f64,
        unit: "us",
    }
}
