//! M1: process start + join of a trivial target, per start method.

use std::time::Instant;

use multiprocess::{Process, StartMethod};

use super::{iters, Measurement};

fn trivial() {}

fn m1(method: StartMethod, quick: bool) -> Measurement {
    let n = iters(quick, 200);
    // Warm up: the fork server starts on first use.
    let mut p = Process::new(trivial, ()).start_method(method);
    p.start().expect("start");
    p.join().expect("join");
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
