//! The CPU cost of one `Queue::put` and one `Queue::get` of a small item in
//! one process, without a second process or a scheduler in the way: 2 M
//! `put`s of a `u64`, then 2 M `get`s, five rounds, through a 64 MiB ring
//! (so that no `put` waits). Prints nanoseconds per `put` and per `get`
//! for each round; the later rounds are the steady state.
//!
//! `queue_op_cost ring` does it through the default ring (1 MiB) instead,
//! in batches of 32 Ki `put`s then 32 Ki `get`s (which stay in the ring,
//! and in the CPU's cache, as M3a-1cpu's do): the CPU cost of M3a-1cpu's
//! items without a scheduler between the two sides.
//!
//! `queue_op_cost simple` is the `ring` mode for a `SimpleQueue` (M3c's
//! items).
//!
//! `queue_op_cost handoff` makes the `put`s in a child process: batches of
//! 32 Ki (`HBATCH`) through a 1 MiB ring (`HRING`, in bytes), each handed
//! over by an event, so on one CPU the two processes take turns as
//! M3a-1cpu's do, but never while the other side is in the middle of its
//! batch; the batch's `put`s are timed with the hand-overs.
//!
//! `cargo build --release -p multiprocess-benches --example queue_op_cost`,
//! then `taskset -c 0 target/release/examples/queue_op_cost` (or under
//! `perf record`). docs/performance.md ("Small items on the stack")
//! says what it showed.

use std::time::{Duration, Instant};

use multiprocess::{Event, Process, Queue, SimpleQueue};

const ITEMS: u64 = 2_000_000;

/// Items per batch in `ring` mode: 32 Ki records of 16 bytes, half the
/// default ring.
const BATCH: u64 = 32 << 10;

fn main() {
    if std::env::args().nth(1).as_deref() == Some("ring") {
        return through_the_ring();
    }
    if std::env::args().nth(1).as_deref() == Some("handoff") {
        return handed_off();
    }
    if std::env::args().nth(1).as_deref() == Some("simple") {
        return through_a_simple_queue();
    }
    let q: Queue<u64> = Queue::with_ring(0, 64 << 20).expect("queue");
    for _ in 0..5 {
        let t = Instant::now();
        for i in 0..ITEMS {
            q.put(&i).expect("put");
        }
        let put = t.elapsed();
        let t = Instant::now();
        for i in 0..ITEMS {
            assert_eq!(q.get().expect("get"), i);
        }
        let get = t.elapsed();
        println!(
            "put {:.1} ns, get {:.1} ns",
            put.as_nanos() as f64 / ITEMS as f64,
            get.as_nanos() as f64 / ITEMS as f64
        );
    }
}

/// The `simple` mode: the `ring` mode's batches through a `SimpleQueue`.
fn through_a_simple_queue() {
    let q: SimpleQueue<u64> = SimpleQueue::new().expect("queue");
    in_batches(|v| q.put(&v).expect("put"), || q.get().expect("get"));
}

/// The `ring` mode (see the module docs).
fn through_the_ring() {
    let q: Queue<u64> = Queue::new().expect("queue");
    in_batches(|v| q.put(&v).expect("put"), || q.get().expect("get"));
}

/// Five rounds of [`BATCH`] `put`s then as many `get`s, `ITEMS` in all;
/// prints nanoseconds per `put` and per `get` for each round.
fn in_batches(put: impl Fn(u64), get: impl Fn() -> u64) {
    for _ in 0..5 {
        let (mut put_ns, mut get_ns) = (0u128, 0u128);
        for b in 0..ITEMS / BATCH {
            let t = Instant::now();
            for i in 0..BATCH {
                put(b * BATCH + i);
            }
            put_ns += t.elapsed().as_nanos();
            let t = Instant::now();
            for i in 0..BATCH {
                assert_eq!(get(), b * BATCH + i);
            }
            get_ns += t.elapsed().as_nanos();
        }
        let n = (ITEMS / BATCH * BATCH) as f64;
        println!(
            "put {:.1} ns, get {:.1} ns",
            put_ns as f64 / n,
            get_ns as f64 / n
        );
    }
}

/// The child of `handoff` mode: a batch of `put`s each time it is let go.
fn put_batches(q: Queue<u64>, go: Event, done: Event, batches: u64, batch: u64) {
    for b in 0..batches {
        assert!(go.wait(Some(Duration::from_secs(30))), "let go");
        go.clear();
        for i in 0..batch {
            q.put(&(b * batch + i)).expect("put");
        }
        done.set();
    }
}

/// The `handoff` mode: `ring`'s batches, the `put`s made by a child
/// process, each batch handed over by an event (run it on one CPU).
fn handed_off() {
    let batch: u64 = std::env::var("HBATCH")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(BATCH);
    let ring: usize = std::env::var("HRING")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1 << 20);
    let batches = ITEMS / batch;
    for _ in 0..5 {
        let q: Queue<u64> = Queue::with_ring(0, ring).expect("queue");
        let (go, done) = (Event::new().expect("event"), Event::new().expect("event"));
        let mut p = Process::new(
            put_batches,
            (q.clone(), go.clone(), done.clone(), batches, batch),
        );
        p.start().expect("start");
        let (mut both, mut get) = (0u128, 0u128);
        for b in 0..batches {
            let t = Instant::now();
            go.set();
            assert!(done.wait(Some(Duration::from_secs(30))), "a batch put");
            done.clear();
            let g = Instant::now();
            for i in 0..batch {
                assert_eq!(q.get().expect("get"), b * batch + i);
            }
            get += g.elapsed().as_nanos();
            both += t.elapsed().as_nanos();
        }
        p.join().expect("join");
        let n = (batches * batch) as f64;
        println!(
            "put (with the hand-overs) {:.1} ns, get {:.1} ns",
            (both - get) as f64 / n,
            get as f64 / n
        );
    }
}
