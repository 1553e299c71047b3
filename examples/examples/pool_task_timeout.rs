//! Beyond Python's pool (pebble's `timeout=`, mpire's `task_timeout`): a
//! task that runs for ever is stopped with its worker after the pool's
//! per-task timeout and fails with `TaskError::Timeout` naming it; a
//! replacement worker starts and every other task — the others of its
//! chunk included — still delivers its result.

use std::time::Duration;

use multiprocess::{Pool, PoolError, TaskError};

/// Squares `x`; task 7 never ends.
fn square_or_hang(x: u64) -> u64 {
    if x == 7 {
        loop {
            std::thread::sleep(Duration::from_secs(1));
        }
    }
    x * x
}

fn main() -> Result<(), PoolError> {
    let pool = Pool::builder()
        .processes(2)
        .task_timeout(Duration::from_millis(500))
        .build()?;
    // Chunks of 4: task 7 shares its chunk with tasks 4, 5 and 6.
    for (x, r) in pool.imap_chunked(square_or_hang, 0..12u64, 4)?.enumerate() {
        match r {
            Ok(v) => println!("task {x}: {v}"),
            Err(PoolError::Task(TaskError::Timeout { task, timeout })) => {
                println!("task {task}: timed out after {timeout:?}")
            }
            Err(e) => return Err(e),
        }
    }
    // The pool carries on with a fresh worker in place of the stopped one.
    println!(
        "after the timeout: {:?}",
        pool.map(square_or_hang, 0..4u64)?
    );
    Ok(())
}
