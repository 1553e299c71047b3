//! Port of SuperFastPython Lesson 04, "How to Coordinate at a Point Using a
//! Barrier": five workers sleep a random 0–10 s, report, and wait on a shared
//! `Barrier(5 + 1)`; main waits on it too, then reports. The workers are not
//! joined explicitly: the library joins them when `main` ends.

use std::thread::sleep;
use std::time::Duration;

use multiprocess::{Barrier, BrokenBarrierError, Process};

/// Executed in a child process.
fn task(shared_barrier: Barrier, ident: u32) -> Result<(), BrokenBarrierError> {
    // generate a unique value between 0 and 10
    let value = rand::random::<f64>() * 10.0;
    // block for a moment
    sleep(Duration::from_secs_f64(value));
    // report result
    println!("Process {ident} got: {value}");
    // wait for all other processes to complete
    shared_barrier.wait()?;
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // create a barrier for (5 workers + 1 main process)
    let barrier = Barrier::new(5 + 1)?;
    // create the worker processes
    let mut workers: Vec<Process> = (0..5)
        .map(|i| Process::new(task, (barrier.clone(), i)))
        .collect();
    // start the worker processes
    for worker in &mut workers {
        worker.start()?;
    }
    // wait for all worker processes to finish
    println!("Main process waiting on all results...");
    barrier.wait()?;
    // report once all processes are done
    println!("All processes have their result");
    Ok(())
}
