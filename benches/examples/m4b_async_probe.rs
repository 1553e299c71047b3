//! M4b as a fixed count of `apply_async` round trips on a `Pool(2)`, one
//! way per run, for `perf stat` and `strace -c` (criterion's own runs mix in
//! its analysis and the other groups' setup): `blocking` (`get()`), `smol`
//! and `tokio` (one current-thread runtime, one `block_on` around the loop,
//! `.await` on each result), `smol-each` and `tokio-each` (one `block_on`
//! per round trip, as `benches/async_round_trip.rs` does), `tokio-multi`
//! (the loop as a task spawned on a multi-thread runtime). Prints the wall
//! time per round trip to stderr; `split` times the submission and the
//! wait apart. `queue-blocking`, `queue-smol` and
//! `queue-tokio` run the `Queue` echo through a child instead.
//!
//! `cargo build --release -p multiprocess-benches --example m4b_async_probe`,
//! then `perf stat -e task-clock,context-switches target/release/examples/m4b_async_probe tokio 10000`
//! (add `--features multiprocess/tokio` for tokio's own reactor).

use multiprocess::{Pool, Process, Queue};

fn double(x: u64) -> u64 {
    x * 2
}

fn queue_echo(rx: Queue<u64>, tx: Queue<u64>) {
    while let Ok(v) = rx.get() {
        if v == u64::MAX || tx.put(&v).is_err() {
            break;
        }
    }
}

/// The `Queue` echo of `benches/async_round_trip.rs`, `n` round trips one
/// way: `queue-blocking`, `queue-smol`, `queue-tokio`.
fn queue(how: &str, n: u64) {
    let (to, from) = (Queue::new().expect("queue"), Queue::new().expect("queue"));
    let mut peer = Process::new(queue_echo, (to.clone(), from.clone()));
    peer.start().expect("start");
    let round_trip = |i: u64| {
        let (to, from) = (&to, &from);
        async move {
            to.put_async(&i).await.expect("put");
            assert_eq!(from.get_async().await.expect("get"), i);
        }
    };
    let t = std::time::Instant::now();
    match how {
        "queue-blocking" => {
            for i in 0..n {
                to.put(&i).expect("put");
                assert_eq!(from.get().expect("get"), i);
            }
        }
        "queue-smol" => smol::block_on(async {
            for i in 0..n {
                round_trip(i).await;
            }
        }),
        "queue-tokio" => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("tokio runtime")
            .block_on(async {
                for i in 0..n {
                    round_trip(i).await;
                }
            }),
        other => panic!("unknown way {other:?}"),
    }
    let per = t.elapsed().as_secs_f64() * 1e6 / n as f64;
    eprintln!("{how}: {per:.2} us per round trip");
    to.put(&u64::MAX).expect("put");
    peer.join().expect("join");
}

fn main() {
    let mut args = std::env::args().skip(1);
    let how = args
        .next()
        .expect("blocking|smol|tokio|tokio-multi|smol-each|tokio-each");
    let n: u64 = args.next().map_or(10_000, |a| a.parse().expect("a count"));
    if how.starts_with("queue-") {
        return queue(&how, n);
    }
    // Shared, for the task `tokio-multi` spawns.
    let pool = std::sync::Arc::new(Pool::with_processes(2).expect("pool"));
    assert_eq!(
        pool.map_chunked(double, 0..64u64, 1)
            .expect("warm-up")
            .len(),
        64
    );
    let round_trip = |i: u64| {
        let pool = &pool;
        async move {
            let r = pool.apply_async(double, (i,)).expect("submit");
            assert_eq!(r.await.expect("await"), 2 * i);
        }
    };
    let tokio = || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("tokio runtime")
    };
    let t = std::time::Instant::now();
    match how.as_str() {
        "blocking" => {
            for i in 0..n {
                let r = pool.apply_async(double, (i,)).expect("submit");
                assert_eq!(r.get().expect("get"), 2 * i);
            }
        }
        "split" => {
            // The submission and the wait timed apart (two clock reads per
            // round trip more than `blocking`).
            let (mut submit, mut wait) = (std::time::Duration::ZERO, std::time::Duration::ZERO);
            for i in 0..n {
                let a = std::time::Instant::now();
                let r = pool.apply_async(double, (i,)).expect("submit");
                let b = std::time::Instant::now();
                assert_eq!(r.get().expect("get"), 2 * i);
                submit += b - a;
                wait += b.elapsed();
            }
            eprintln!(
                "split: submit {:.3} us, get {:.3} us",
                submit.as_secs_f64() * 1e6 / n as f64,
                wait.as_secs_f64() * 1e6 / n as f64
            );
        }
        "smol" => smol::block_on(async {
            for i in 0..n {
                round_trip(i).await;
            }
        }),
        "tokio" => tokio().block_on(async {
            for i in 0..n {
                round_trip(i).await;
            }
        }),
        "tokio-multi" => {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .expect("tokio runtime");
            let pool = std::sync::Arc::clone(&pool);
            rt.block_on(rt.spawn(async move {
                for i in 0..n {
                    let r = pool.apply_async(double, (i,)).expect("submit");
                    assert_eq!(r.await.expect("await"), 2 * i);
                }
            }))
            .expect("task");
        }
        "smol-each" => (0..n).for_each(|i| smol::block_on(round_trip(i))),
        "tokio-each" => {
            let rt = tokio();
            (0..n).for_each(|i| rt.block_on(round_trip(i)));
        }
        other => panic!("unknown way {other:?}"),
    }
    let per = t.elapsed().as_secs_f64() * 1e6 / n as f64;
    eprintln!("{how}: {per:.2} us per round trip");
}
