//! Beyond Python's pool (`concurrent.futures`' `cancel()`, pebble's kill):
//! cancelling a queued task means it never runs; cancelling a running one
//! lets it finish and drops its result, unless the caller asks for a kill,
//! which stops its worker (a replacement starts). The result reports
//! `TaskError::Cancelled`.

use std::time::Duration;

use multiprocess::{Pool, PoolError, TaskError};

/// Sleeps `ms` milliseconds, then says so.
fn nap(ms: u64) -> String {
    std::thread::sleep(Duration::from_millis(ms));
    format!("napped {ms} ms")
}

/// Never ends.
fn spin() -> u64 {
    loop {
        std::thread::sleep(Duration::from_secs(1));
    }
}

/// `cancelled`, or what the result was.
fn describe<T: std::fmt::Debug>(r: Result<T, PoolError>) -> String {
    match r {
        Err(PoolError::Task(TaskError::Cancelled)) => "cancelled".to_string(),
        other => format!("{other:?}"),
    }
}

fn main() -> Result<(), PoolError> {
    let pool = Pool::with_processes(1)?;
    let running = pool.apply_async(nap, (300,))?;
    // The only worker is busy: this one waits in the queue.
    let queued = pool.apply_async(nap, (10,))?;
    println!("cancel the queued task: {}", queued.cancel());
    println!("queued task:  {}", describe(queued.get()));
    println!("running task: {}", describe(running.get()));

    let stuck = pool.apply_async(spin, ())?;
    std::thread::sleep(Duration::from_millis(200));
    println!(
        "cancel and kill the stuck task: {}",
        stuck.cancel_and_kill()
    );
    println!("stuck task:   {}", describe(stuck.get()));
    // Its worker was replaced: the pool carries on.
    println!("next task:    {}", pool.apply(nap, (1,))?);
    Ok(())
}
