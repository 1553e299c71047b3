//! What a locked instruction costs on this machine, uncontended, in a tight
//! loop on one CPU: a `fetch_add` (`lock xadd`), a `std::sync::Mutex` lock
//! and unlock (a `lock cmpxchg` and an `xchg`), and an `Arc` clone and drop
//! (two `lock` read-modify-writes). The figures the "locked instructions"
//! accounting in docs/performance.md multiplies by; they move with the host
//! (about 7 ns a locked instruction on the Xeon hosts of 2026-12-06, half
//! that on the EPYC ones before).
//!
//! `cargo build --release -p multiprocess-benches --example locked_op_cost`,
//! then `taskset -c 0 target/release/examples/locked_op_cost`.

use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

const N: u64 = 20_000_000;

/// Nanoseconds per call of `f`, over `N` calls.
fn per_call(mut f: impl FnMut(u64)) -> f64 {
    let t = Instant::now();
    for i in 0..N {
        f(i);
    }
    t.elapsed().as_nanos() as f64 / N as f64
}

fn main() {
    let m = Mutex::new(0u64);
    let a = Arc::new(AtomicU64::new(0));
    for _ in 0..3 {
        let plain = per_call(|i| {
            black_box(&a).store(i, Ordering::Relaxed);
        });
        let add = per_call(|i| {
            black_box(&a).fetch_add(i, Ordering::SeqCst);
        });
        let mutex = per_call(|i| {
            *black_box(&m).lock().unwrap_or_else(|e| e.into_inner()) += i;
        });
        let arc = per_call(|_| drop(black_box(Arc::clone(&a))));
        println!(
            "plain store {plain:.1} ns, fetch_add {add:.1} ns, \
             mutex lock+unlock {mutex:.1} ns, Arc clone+drop {arc:.1} ns"
        );
    }
}
