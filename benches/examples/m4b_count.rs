//! M4b's round trip as a fixed count for callgrind: a `Pool(2)` warmed by a
//! `map`, then `N` `apply_async(double, (i,)).get()`, then `close` and
//! `join` (so every worker exits and writes its profile). Run through
//! `benches/count-pool.sh`, which needs a build that valgrind can run (see
//! there); the difference of two counts, over the difference of their `N`,
//! is each process's instructions per round trip.

use multiprocess::Pool;

fn double(x: u64) -> u64 {
    x * 2
}

fn main() {
    let n: u64 = match std::env::args().nth(1).map(|a| a.parse()) {
        Some(Ok(n)) => n,
        _ => {
            eprintln!("usage: m4b_count N");
            std::process::exit(2);
        }
    };
    let pool = Pool::with_processes(2).expect("pool");
    let warm = pool.map(double, 0..1000u64).expect("map");
    assert_eq!(warm.len(), 1000);
    for i in 0..n {
        let r = pool.apply_async(double, (i,)).expect("apply_async");
        assert_eq!(r.get().expect("get"), 2 * i);
    }
    pool.close();
    pool.join().expect("join");
}
