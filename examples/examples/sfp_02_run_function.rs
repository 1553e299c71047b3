//! Port of SuperFastPython Lesson 02, "How to Run a Function in a Child
//! Process": `Process::new(task, ())`, `start()` and `join()`; the child
//! sleeps 1 s before it reports.

use std::thread::sleep;
use std::time::Duration;

use multiprocess::{Process, ProcessError};

/// custom function to be executed in a child process
fn task() {
    // block for a moment
    sleep(Duration::from_secs(1));
    // report a message
    println!("This is from another process");
}

fn main() -> Result<(), ProcessError> {
    // create a new process instance
    let mut process = Process::new(task, ());
    // start executing the function in the process
    process.start()?;
    // wait for the process to finish
    println!("Waiting for the process...");
    process.join()?;
    Ok(())
}
