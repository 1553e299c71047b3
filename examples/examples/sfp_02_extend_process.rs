//! Port of SuperFastPython Lesson 02, "How to Extend the Process Class": a
//! custom process type supplies `run()` (the Python subclass overriding
//! `run`); it sleeps 1 s before it reports.

use std::thread::sleep;
use std::time::Duration;

use multiprocess::{Process, ProcessError, Run};
use serde::{Deserialize, Serialize};

/// custom process class
#[derive(Serialize, Deserialize)]
struct CustomProcess;

impl Run for CustomProcess {
    fn run(&mut self) {
        // block for a moment
        sleep(Duration::from_secs(1));
        // report a message
        println!("This is another process");
    }
}

fn main() -> Result<(), ProcessError> {
    // create the process
    let mut process = Process::from_run(CustomProcess);
    // start the process
    process.start()?;
    // wait for the process to finish
    println!("Waiting for the process to finish");
    process.join()?;
    Ok(())
}
