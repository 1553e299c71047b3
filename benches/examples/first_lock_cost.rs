//! What a freshly started child pays for its first lock, against its
//! second: the first computes the process's identity (pid and start time),
//! which a lock stores as its owner. Starts 40 children one after another
//! (under the start method `MULTIPROCESS_START_METHOD` names, fork server by
//! default); each waits at a gate, then times its first and second
//! `Value` lock and release. Prints the medians in microseconds.
//!
//! `cargo build --release -p multiprocess-benches --example first_lock_cost`,
//! then `taskset -c 0 target/release/examples/first_lock_cost`.

use std::time::{Duration, Instant};

use multiprocess::{Array, Event, Process, Value};

const CHILDREN: usize = 40;

fn child(counter: Value<u64>, go: Event, took: Array<f64>) {
    go.wait(Some(Duration::from_secs(30)));
    let t = Instant::now();
    drop(counter.lock());
    let first = t.elapsed();
    let t = Instant::now();
    drop(counter.lock());
    let second = t.elapsed();
    took.set(0, first.as_secs_f64() * 1e6).expect("slot");
    took.set(1, second.as_secs_f64() * 1e6).expect("slot");
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let (mut first, mut second) = (Vec::new(), Vec::new());
    for _ in 0..CHILDREN {
        let counter = Value::new(0u64).expect("value");
        let go = Event::new().expect("event");
        let took = Array::<f64>::new(2).expect("array");
        let mut p = Process::new(child, (counter, go.clone(), took.clone()));
        p.start().expect("start");
        std::thread::sleep(Duration::from_millis(5));
        go.set();
        p.join().expect("join");
        first.push(took.get(0).expect("slot"));
        second.push(took.get(1).expect("slot"));
    }
    println!(
        "first lock {:.1} us, second {:.2} us (medians of {CHILDREN} children)",
        median(first),
        median(second)
    );
}
