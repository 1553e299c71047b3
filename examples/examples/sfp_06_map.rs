//! Port of SuperFastPython's `Pool.map` example (lesson 06): ten tasks; the
//! workers report as they run, and the results come back in input order.

use multiprocess::{Pool, PoolError};

/// custom function to be executed in a child process
fn task(arg: u64) -> u64 {
    println!("Worker task got {arg}");
    arg * 2
}

fn main() -> Result<(), PoolError> {
    let pool = Pool::new()?;
    for result in pool.map(task, 0..10)? {
        println!("{result}");
    }
    Ok(())
}
