//! Port of SuperFastPython's result-callback example (lesson 06):
//! `apply_async(task, (0,), callback=...)`; the callback runs in this (the
//! parent) process with the task's return value. Then `close()` and `join()`.

use std::time::Duration;

use multiprocess::{Callbacks, Pool, PoolError};

/// result callback function
fn result_callback(return_value: &f64) {
    println!("Callback got: {return_value}");
}

/// custom function to be executed in a child process
fn task(ident: u32) -> f64 {
    let value: f64 = rand::random();
    println!("Task {ident} with {value}");
    std::thread::sleep(Duration::from_secs_f64(value));
    value
}

fn main() -> Result<(), PoolError> {
    let pool = Pool::new()?;
    let _result = pool.apply_async_with(task, (0,), Callbacks::new().callback(result_callback))?;
    pool.close();
    pool.join()?;
    Ok(())
}
