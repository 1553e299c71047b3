//! Port of SuperFastPython's one-off `apply_async` example (lesson 06): one
//! task on a default pool, then `AsyncResult::wait()`. The block plays the
//! part of Python's `with Pool() as pool:` — dropping the pool at its end
//! terminates it, as `__exit__` does.

use multiprocess::{Pool, PoolError};

/// custom function to be executed in a child process
fn task() {
    println!("This is another process");
}

fn main() -> Result<(), PoolError> {
    {
        let pool = Pool::new()?;
        let async_result = pool.apply_async(task, ())?;
        async_result.wait();
    } // the pool is terminated here
    Ok(())
}
