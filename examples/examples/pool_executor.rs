//! Python's `concurrent.futures.ProcessPoolExecutor`, on the process pool:
//! `submit` returns a future, `as_completed` yields futures as they finish,
//! `map` gives up at its deadline, a done callback runs when a future
//! completes, and the end of the block waits for every task (`with`). Built
//! with `BrokenPolicy::Break`, a worker that dies breaks the executor the
//! way Python's does, naming the worker and its exit status; by default the
//! pool heals instead.

use std::time::Duration;

use multiprocess::concurrent_futures::{as_completed, BrokenPolicy, ProcessPoolExecutor};
use multiprocess::PoolError;

/// Sleeps `ms` milliseconds, then returns it.
fn nap(ms: u64) -> u64 {
    std::thread::sleep(Duration::from_millis(ms));
    ms
}

/// Ends its worker with exit code 3, as a crash would end it.
fn crash() -> u64 {
    multiprocess::exit(3)
}

fn main() -> Result<(), PoolError> {
    {
        let executor = ProcessPoolExecutor::with_max_workers(3)?;
        let futures = [300, 100, 200]
            .into_iter()
            .map(|ms| executor.submit(nap, (ms,)))
            .collect::<Result<Vec<_>, _>>()?;
        futures[0]
            .add_done_callback(|f| println!("callback: the 300 ms nap is done: {}", f.done()));
        for f in as_completed(futures) {
            println!("completed: {} ms", f.result()?);
        }
        let quick: Vec<u64> = executor
            .map(nap, [1, 2, 3], None, 1)?
            .collect::<Result<_, _>>()?;
        println!("map: {quick:?}");
        let mut slow = executor.map(nap, [500, 500], Some(Duration::from_millis(100)), 1)?;
        println!("map with a 100 ms timeout: {:?}", slow.next());
    } // Like the end of `with`: waits for the tasks still running.

    let executor = ProcessPoolExecutor::builder()
        .max_workers(2)
        .on_worker_death(BrokenPolicy::Break)
        .build()?;
    let err = executor.submit(crash, ())?.result().unwrap_err();
    println!("crashed task: {err}");
    println!("broken: {}", executor.is_broken());
    match executor.submit(nap, (1,)) {
        Err(e) => println!("a later submit: {e}"),
        Ok(_) => println!("a later submit was accepted"),
    }
    Ok(())
}
