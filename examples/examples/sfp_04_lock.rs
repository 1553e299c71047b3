//! Port of SuperFastPython Lesson 04, "How to Protect Critical Sections with
//! a Mutex Lock": ten processes take one shared `Lock` in turn and sleep a
//! random 0–1 s (drawn by the parent) while holding it.

use std::thread::sleep;
use std::time::Duration;

use multiprocess::{Lock, OwnerDied, Process};

/// Executed in a child process.
fn task(shared_lock: Lock, ident: u32, value: f64) {
    // acquire the lock
    let _guard = shared_lock.lock().unwrap_or_else(OwnerDied::into_inner);
    // report a message
    println!(">{ident} got lock, sleeping {value}");
    // block for a fraction of a second
    sleep(Duration::from_secs_f64(value));
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // create the shared mutex lock
    let lock = Lock::new()?;
    // create a number of processes with different args
    let mut processes: Vec<Process> = (0..10)
        .map(|i| Process::new(task, (lock.clone(), i, rand::random::<f64>())))
        .collect();
    // start the processes
    for process in &mut processes {
        process.start()?;
    }
    // wait for all processes to finish
    for process in &mut processes {
        process.join()?;
    }
    Ok(())
}
