//! Port of SuperFastPython Lesson 07, "How to Use a Manager to Share a
//! Concurrency Primitive": a manager `Semaphore(2)` proxy goes to pool
//! workers through `starmap`; at most two tasks hold it at a time.

use std::thread::sleep;
use std::time::Duration;

use multiprocess::managers::{Manager, SemaphoreProxy};
use multiprocess::Pool;

/// Custom function to be executed in a child process.
fn task(number: u32, shared_semaphore: SemaphoreProxy) {
    // acquire the shared semaphore
    let _held = shared_semaphore.lock().expect("manager semaphore");
    // generate a number between 0 and 1
    let value = rand::random::<f64>();
    // block for a fraction of a second
    sleep(Duration::from_secs_f64(value));
    // report the generated value
    println!("{number} got {value}");
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // create the manager
    let manager = Manager::new()?;
    // create the shared semaphore
    let managed_sem = manager.semaphore(2)?;
    // create the shared pool
    {
        let pool = Pool::new()?;
        // prepare arguments for task
        let args: Vec<(u32, SemaphoreProxy)> = (0..10).map(|i| (i, managed_sem.clone())).collect();
        // issue many tasks to the process pool
        pool.starmap(task, args)?;
    }
    Ok(())
}
