//! One pool program, two ways to run it, the same output:
//!
//! ```text
//! cargo build --release -p multiprocess-examples --features mpi --example mpi_pool
//! target/release/examples/mpi_pool                   # two local worker processes
//! mpirun -n 3 target/release/examples/mpi_pool       # rank 0 runs main, ranks 1-2 work
//! ```
//!
//! `multiprocess::mpi::Pool` has the calls of `multiprocess::Pool`; under an
//! MPI launcher the worker ranks are taken over before `main`, so only rank 0
//! prints.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;

use multiprocess::mpi::Pool;
use multiprocess::{Callbacks, PoolError};

/// Set in each worker by the initializer.
static BLOCK: AtomicU64 = AtomicU64::new(0);

fn init(block: u64) {
    BLOCK.store(block, Ordering::SeqCst);
}

fn is_prime(n: u64) -> bool {
    n >= 2
        && (2..)
            .take_while(|d| d * d <= n)
            .all(|d| !n.is_multiple_of(d))
}

/// Primes in block `i` (blocks of the size the initializer set).
fn primes_in_block(i: u64) -> usize {
    let size = BLOCK.load(Ordering::SeqCst);
    (i * size..(i + 1) * size).filter(|&n| is_prime(n)).count()
}

fn collatz_steps(mut n: u64) -> u32 {
    let mut steps = 0;
    while n > 1 {
        n = if n.is_multiple_of(2) {
            n / 2
        } else {
            3 * n + 1
        };
        steps += 1;
    }
    steps
}

fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

fn main() -> Result<(), PoolError> {
    let pool = Pool::builder()
        .processes(2)
        .initializer(init, (10_000u64,))
        .build()?;

    let counts = pool.map(primes_in_block, 0..8u64)?;
    println!("primes per block of 10000: {counts:?}");
    println!("primes below 80000: {}", counts.iter().sum::<usize>());

    let steps = pool.map_chunked(collatz_steps, 1..=20u64, 4)?;
    println!("collatz steps of 1..=20: {steps:?}");

    let mut longest = (0, 0);
    for (n, s) in (1..).zip(pool.imap_chunked(collatz_steps, 1..100_000u64, 500)?) {
        longest = longest.max((s?, n));
    }
    println!(
        "longest collatz below 100000: {} steps, from {}",
        longest.0, longest.1
    );

    let mut small: Vec<u64> = pool
        .imap_unordered(|n: u64| n * n, 1..=6u64)?
        .collect::<Result<_, _>>()?;
    small.sort_unstable();
    println!("squares, sorted from completion order: {small:?}");

    let gcds = pool.starmap(gcd, [(12, 18), (35, 49), (17, 5), (1071, 462)])?;
    println!("gcds: {gcds:?}");

    let (tx, rx) = mpsc::channel();
    let r = pool.apply_async_with(
        is_prime,
        (1_000_003u64,),
        Callbacks::new().callback(move |v: &bool| tx.send(*v).unwrap()),
    )?;
    println!("1000003 is prime: {}", r.get()?);
    println!("callback saw: {}", rx.recv().unwrap());

    pool.close();
    pool.join()?;
    Ok(())
}
