//! M4a (Pool.map throughput), M4b (apply_async round trip), M4c
//! (imap_unordered with chunksize 1), and M4a/M4c with a no-op progress
//! hook (what a hook costs; not in the CPython table).

use std::time::Instant;

use multiprocess::pool::{Callbacks, TaskOptions};
use multiprocess::Pool;

use super::{iters, Measurement};

fn double(x: u64) -> u64 {
    x * 2
}

fn warm(pool: &Pool) {
    let r = pool.map(double, 0..1000u64).expect("map");
    assert_eq!(r.len(), 1000);
}

pub(super) fn m4a(quick: bool) -> Measurement {
    m4a_with(quick, None)
}

/// M4a with a progress hook that does nothing.
pub(super) fn m4a_progress(quick: bool) -> Measurement {
    m4a_with(quick, Some(TaskOptions::new().on_progress(|_| {})))
}

fn m4a_with(quick: bool, opts: Option<TaskOptions>) -> Measurement {
    let pool = Pool::with_processes(2).expect("pool");
    warm(&pool);
    let n = 200_000u64;
    let reps = iters(quick, 10);
    let t = Instant::now();
    for _ in 0..reps {
        let r = match &opts {
            None => pool.map(double, 0..n).expect("map"),
            Some(o) => pool
                .map_async_opts(double, 0..n, None, Callbacks::new(), o.clone())
                .expect("map_async_opts")
                .get()
                .expect("map"),
        };
        assert_eq!(r[(n - 1) as usize], 2 * (n - 1));
    }
    Measurement {
        value: (n * reps) as f64 / t.elapsed().as_secs_f64(),
        unit: "tasks/s",
    }
}

pub(super) fn m4b(quick: bool) -> Measurement {
    let pool = Pool::with_processes(2).expect("pool");
    warm(&pool);
    let n = iters(quick, 20_000);
    let t = Instant::now();
    for i in 0..n {
        let r = pool
            .apply_async(double, (i,))
            .expect("apply_async")
            .get()
            .expect("get");
        assert_eq!(r, 2 * i);
    }
    Measurement {
        value: t.elapsed().as_secs_f64() * 1e6 / n as f64,
        unit: "us",
    }
}

pub(super) fn m4c(quick: bool) -> Measurement {
    m4c_with(quick, TaskOptions::new())
}

/// M4c with a progress hook that does nothing.
pub(super) fn m4c_progress(quick: bool) -> Measurement {
    m4c_with(quick, TaskOptions::new().on_progress(|_| {}))
}

fn m4c_with(quick: bool, opts: TaskOptions) -> Measurement {
    let pool = Pool::with_processes(2).expect("pool");
    warm(&pool);
    // Always 20k tasks (DESIGN.md's scenario); quick mode does not shrink it.
    let _ = quick;
    let n = 20_000u64;
    let t = Instant::now();
    let ok = pool
        .imap_unordered_opts(double, 0..n, 1, opts)
        .expect("imap_unordered")
        .filter(|r| r.is_ok())
        .count();
    let took = t.elapsed();
    assert_eq!(ok as u64, n);
    Measurement {
        value: n as f64 / took.as_secs_f64(),
        unit: "tasks/s",
    }
}
