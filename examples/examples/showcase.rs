//! The README's first command: a tour of what processes can do.
//!
//! It splits a CPU-bound job (counting primes below 4 million) across one
//! process per CPU under each start method, prints the speed-up over doing it
//! in one process, then shows the lifecycle features: exit codes, a panic
//! turned into exit code 1, `terminate()`, a daemon cleaned up at exit.

use std::io::Read;
use std::time::{Duration, Instant};

use multiprocess::wire::SharedFd;
use multiprocess::{cpu_count, Process, ProcessError, StartMethod};

const LIMIT: u64 = 4_000_000;

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

fn count_primes(lo: u64, hi: u64) -> u64 {
    (lo..hi).filter(|&n| is_prime(n)).count() as u64
}

/// Numbers are dealt in chunks of this size, round-robin, so every worker
/// gets an equal share of cheap and expensive (large) numbers.
const CHUNK: u64 = 10_000;

/// A worker: counts the primes in chunks `k, k + workers, ...` and writes the
/// count to its result pipe.
fn worker(k: u64, workers: u64, out: SharedFd) {
    let n: u64 = (k * CHUNK..LIMIT)
        .step_by((workers * CHUNK) as usize)
        .map(|lo| count_primes(lo, (lo + CHUNK).min(LIMIT)))
        .sum();
    let mut file = std::fs::File::from(out.into_inner());
    std::io::Write::write_all(&mut file, &n.to_le_bytes()).expect("report result");
}

fn parallel(method: StartMethod, workers: u64) -> Result<u64, ProcessError> {
    let mut jobs = Vec::new();
    for k in 0..workers {
        let (r, w) = std::io::pipe()?;
        let w: std::os::fd::OwnedFd = w.into();
        let mut p = Process::new(worker, (k, workers, SharedFd::from(w))).start_method(method);
        p.start()?;
        jobs.push((p, r));
    }
    let mut total = 0;
    for (mut p, mut r) in jobs {
        let mut buf = [0u8; 8];
        r.read_exact(&mut buf)?;
        total += u64::from_le_bytes(buf);
        p.join()?;
    }
    Ok(total)
}

fn sleeper(secs: u64) {
    std::thread::sleep(Duration::from_secs(secs));
}

fn fails() {
    panic!("a worker failed (this report is expected)");
}

fn main() -> Result<(), ProcessError> {
    let cpus = cpu_count() as u64;
    println!("== CPU-bound job: primes below {LIMIT}, {cpus} CPUs");
    let t = Instant::now();
    let expected = count_primes(0, LIMIT);
    let single = t.elapsed();
    println!("one process:            {expected} primes in {single:.2?}");
    for method in [
        StartMethod::Fork,
        StartMethod::Spawn,
        StartMethod::ForkServer,
    ] {
        let t = Instant::now();
        let got = parallel(method, cpus)?;
        let took = t.elapsed();
        assert_eq!(got, expected, "the parallel count must match");
        println!(
            "{cpus} processes ({:<10}) {got} primes in {took:.2?}  speed-up {:.2}x",
            method.name(),
            single.as_secs_f64() / took.as_secs_f64()
        );
    }

    println!("\n== Lifecycle");
    let mut crash = Process::new(fails, ()).name("crasher");
    crash.start()?;
    crash.join()?;
    println!("a panicking child:      {crash}");
    let mut slow = Process::new(sleeper, (30,));
    slow.start()?;
    slow.join_timeout(Duration::from_millis(200))?;
    println!("after join(0.2 s):      {slow} alive={}", slow.is_alive());
    slow.terminate()?;
    slow.join()?;
    println!("after terminate():      {slow}");
    let mut daemon = Process::new(sleeper, (30,)).name("background").daemon(true);
    daemon.start()?;
    println!("a daemon child:         {daemon}");
    println!("(main returns now; the daemon is terminated at exit, as in Python)");
    Ok(())
}
