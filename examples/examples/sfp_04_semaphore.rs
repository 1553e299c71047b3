//! Port of SuperFastPython Lesson 04, "How to Limit Access to a Resource with
//! a Semaphore": ten processes each sleep a random 0–1 s inside a shared
//! `Semaphore(2)`, so at most two run the critical section at a time.

use std::thread::sleep;
use std::time::Duration;

use multiprocess::{OwnerDied, Process, Semaphore};

/// Executed in a child process.
fn task(shared_semaphore: Semaphore, ident: u32) {
    // attempt to acquire the semaphore
    let _permit = shared_semaphore
        .permit()
        .unwrap_or_else(OwnerDied::into_inner);
    // generate a random value between 0 and 1
    let val = rand::random::<f64>();
    // block for a fraction of a second
    sleep(Duration::from_secs_f64(val));
    // report result
    println!("Process {ident} got {val}");
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // create the shared semaphore
    let semaphore = Semaphore::new(2)?;
    // create processes
    let mut processes: Vec<Process> = (0..10)
        .map(|i| Process::new(task, (semaphore.clone(), i)))
        .collect();
    // start child processes
    for process in &mut processes {
        process.start()?;
    }
    // wait for child processes to finish
    for process in &mut processes {
        process.join()?;
    }
    Ok(())
}
