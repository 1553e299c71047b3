//! The README's first command: a real CPU-bound job on every core, under
//! each start method, beside the same job in one process.
//!
//! The job counts the primes below 6 million, dealt out as 300 chunks. A
//! `Pool` runs them with `imap_unordered` (a progress bar on stderr, fed by
//! the call's progress hook: `indicatif`'s with the `progress-bar` feature,
//! which the examples turn on by default); each
//! result goes into a `Queue` read by a writer process, which adds them up
//! and stores the total in a `Manager` dict; the main process checks the
//! total against the single-process answer and prints the speed-up. Then a
//! short tour of what happens when processes fail.

use std::time::{Duration, Instant};

use multiprocess::managers::DictProxy;
use multiprocess::pool::TaskOptions;
use multiprocess::{cpu_count, Manager, Pool, Process, Queue, StartMethod};

const LIMIT: u64 = 6_000_000;
const CHUNKS: u64 = 300;

fn is_prime(n: u64) -> bool {
    if n < 2 {
        return false;
    }
    let mut d = 2;
    while d * d <= n {
        if n.is_multiple_of(d) {
            return false;
        }
        d += 1;
    }
    true
}

/// One unit of work: the primes in chunk `k`.
fn count_chunk(k: u64) -> (u64, u64) {
    let (lo, hi) = (LIMIT * k / CHUNKS, LIMIT * (k + 1) / CHUNKS);
    (k, (lo..hi).filter(|&n| is_prime(n)).count() as u64)
}

/// The writer: sums the chunk results it receives until `None`, then
/// records the total in the manager's dict.
fn writer(results: Queue<Option<(u64, u64)>>, totals: DictProxy<String, u64>, key: String) {
    let mut total = 0;
    let mut seen = 0;
    while let Some((_, count)) = results.get().expect("get") {
        total += count;
        seen += 1;
    }
    assert_eq!(seen, CHUNKS, "every chunk arrives exactly once");
    totals.set(key, total).expect("record the total");
}

/// The call's progress hook: an `indicatif` bar with the `progress-bar`
/// feature (on by default in the examples), else a plain one; both draw on
/// stderr only when it is a terminal.
#[cfg(feature = "progress-bar")]
fn progress(method: StartMethod) -> TaskOptions {
    let bar = multiprocess::progress_bar::ProgressBar::new(format!("  {:<10}", method.name()));
    TaskOptions::new().on_progress(bar.hook())
}

/// The call's progress hook: a plain bar on stderr (only when it is a
/// terminal); build with `--features progress-bar` for an `indicatif` one.
#[cfg(not(feature = "progress-bar"))]
fn progress(_method: StartMethod) -> TaskOptions {
    use std::io::{IsTerminal, Write};
    if !std::io::stderr().is_terminal() {
        return TaskOptions::new();
    }
    TaskOptions::new().on_progress(|p| {
        let total = p.total.unwrap_or(p.done);
        if !p.done.is_multiple_of(10) && p.done != total {
            return;
        }
        let width = 30;
        let filled = p.done * width / total.max(1);
        let mut err = std::io::stderr().lock();
        let _ = write!(
            err,
            "\r  [{}{}] {}/{total}",
            "#".repeat(filled),
            ".".repeat(width - filled),
            p.done
        );
        if p.done == total {
            let _ = writeln!(err);
        }
    })
}

fn run(
    method: StartMethod,
    totals: &DictProxy<String, u64>,
) -> Result<Duration, Box<dyn std::error::Error>> {
    let started = Instant::now();
    let pool = Pool::builder()
        .processes(cpu_count())
        .start_method(method)
        .build()?;
    let results: Queue<Option<(u64, u64)>> = Queue::new()?;
    let mut sink = Process::new(
        writer,
        (results.clone(), totals.clone(), method.name().to_string()),
    )
    .start_method(method)
    .name("writer");
    sink.start()?;
    for r in pool.imap_unordered_opts(count_chunk, 0..CHUNKS, 1, progress(method))? {
        results.put(&Some(r?))?;
    }
    results.put(&None)?;
    sink.join()?;
    drop(pool);
    Ok(started.elapsed())
}

fn tour() -> Result<(), Box<dyn std::error::Error>> {
    fn fails() {
        panic!("a worker failed (this report is expected)");
    }
    fn sleeper(secs: u64) {
        std::thread::sleep(Duration::from_secs(secs));
    }
    fn dies(x: u64) -> u64 {
        if x == 3 {
            std::process::abort();
        }
        x
    }
    println!("\n== When processes fail");
    let mut crash = Process::new(fails, ()).name("crasher");
    crash.start()?;
    crash.join()?;
    println!("a panicking child:      {crash}");
    let mut slow = Process::new(sleeper, (30,));
    slow.start()?;
    slow.join_timeout(Duration::from_millis(200))?;
    println!("after join(0.2 s):      alive={}", slow.is_alive());
    slow.terminate()?;
    slow.join()?;
    println!("after terminate():      {slow}");
    let pool = Pool::with_processes(2)?;
    let outcome: Vec<String> = pool
        .imap(dies, 0..6u64)?
        .map(|r| r.map_or_else(|e| format!("error ({e})"), |v| v.to_string()))
        .collect();
    println!("a pool worker aborts:   {outcome:?}");
    let mut daemon = Process::new(sleeper, (30,)).name("background").daemon(true);
    daemon.start()?;
    println!("a daemon child:         {daemon}");
    println!("(main returns now; the daemon is terminated at exit, as in Python)");
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let cpus = cpu_count();
    println!("== Primes below {LIMIT} in {CHUNKS} chunks, {cpus} CPUs");
    let t = Instant::now();
    let expected: u64 = (0..CHUNKS).map(|k| count_chunk(k).1).sum();
    let single = t.elapsed();
    println!("one process:                     {expected} primes in {single:.2?}");
    let mut manager = Manager::new()?;
    let totals: DictProxy<String, u64> = manager.dict()?;
    for method in [
        StartMethod::Fork,
        StartMethod::Spawn,
        StartMethod::ForkServer,
    ] {
        let took = run(method, &totals)?;
        let total = totals.get(&method.name().to_string())?.unwrap_or(0);
        assert_eq!(total, expected, "the parallel count must match");
        println!(
            "pool of {cpus} + queue + manager ({:<10}) {total} primes in {took:.2?}  speed-up {:.2}x",
            method.name(),
            single.as_secs_f64() / took.as_secs_f64()
        );
    }
    println!("manager dict of results: {totals}");
    manager.shutdown()?;
    tour()
}
