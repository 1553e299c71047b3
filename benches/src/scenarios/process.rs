//! M1: process start + join of a trivial target, per start method.

use std::time::Instant;

use multiprocess::{Process, StartMethod};

use super::{iters, Measurement};

fn trivial() {}

/// Starts and joins a process of a trivial target with `method` (the
/// default if `None`), so that the start method's one-time setup (the
/// fork server starts on first use) lies outside the clock of the row
/// that calls it: M1 times starts once the server runs, and the M3 rows
/// time a queue's items, not the server's start (raw's producer is a
/// plain `fork`; its start and ours stay timed).
pub(super) fn warm_up(method: Option<StartMethod>) {
    let mut p = Process::new(trivial, ());
    if let Some(method) = method {
        p = p.start_method(method);
    }
    p.start().expect("start");
    p.join().expect("join");
}

fn m1(method: StartMethod, quick: bool) -> Measurement {
    let n = iters(quick, 200);
    warm_up(Some(method));
    let t = Instant::now();
    for _ in 0..n {
        let mut p = Process::new(trivial, ()).start_method(method);
        p.start().expect("start");
        p.join().expect("join");
        assert_eq!(p.exitcode(), Some(0));
    }
    Measurement {
        value: t.elapsed().as_secs_f64() * 1e6 / n as f64,
        unit: "us",
    }
}

pub(super) fn m1_fork(quick: bool) -> Measurement {
    m1(StartMethod::Fork, quick)
}

pub(super) fn m1_spawn(quick: bool) -> Measurement {
    m1(StartMethod::Spawn, quick)
}

pub(super) fn m1_forkserver(quick: bool) -> Measurement {
    m1(StartMethod::ForkServer, quick)
}
