//! The CPU cost of one `Queue::put` and one `Queue::get` of a small item in
//! one process, without a second process or a scheduler in the way: 2 M
//! `put`s of a `u64`, then 2 M `get`s, five rounds, through a 64 MiB ring
//! (so that no `put` waits). Prints nanoseconds per `put` and per `get`
//! for each round; the later rounds are the steady state.
//!
//! `cargo build --release -p multiprocess-benches --example queue_op_cost`,
//! then `taskset -c 0 target/release/examples/queue_op_cost` (or under
//! `perf record`). docs/performance.md ("Small items on the stack")
//! says what it showed.

use std::time::Instant;

use multiprocess::Queue;

const ITEMS: u64 = 2_000_000;

fn main() {
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
