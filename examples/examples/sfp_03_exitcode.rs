//! Port of SuperFastPython Lesson 03, "How to Query the Status of a Process"
//! (the exitcode example): the exit code is `None` before start and while the
//! child runs (it sleeps 1 s), and `0` after a normal exit.

use std::fmt::Display;
use std::thread::sleep;
use std::time::Duration;

use multiprocess::{Process, ProcessError};

/// custom function to be executed in a child process
fn task() {
    // block for a moment
    sleep(Duration::from_secs(1));
}

/// An optional value printed as Python prints it: the value or `None`.
fn bare<T: Display>(value: Option<T>) -> String {
    value.map_or_else(|| "None".to_string(), |v| v.to_string())
}

fn main() -> Result<(), ProcessError> {
    // create the process
    let mut process = Process::new(task, ());
    // report the exit status
    println!("{}", bare(process.exitcode()));
    // start the process
    process.start()?;
    // report the exit status
    println!("{}", bare(process.exitcode()));
    // wait for the process to finish
    process.join()?;
    // report the exit status
    println!("{}", bare(process.exitcode()));
    Ok(())
}
