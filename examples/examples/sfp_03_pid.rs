//! Port of SuperFastPython Lesson 03, "How to Query the Status of a Process"
//! (the pid example): the pid is `None` before `start()` and the OS pid after
//! it. The process has no target, and it is not joined: the library joins it
//! when `main` ends.

use std::fmt::Display;

use multiprocess::{Process, ProcessError};

/// An optional value printed as Python prints it: the value or `None`.
fn bare<T: Display>(value: Option<T>) -> String {
    value.map_or_else(|| "None".to_string(), |v| v.to_string())
}

fn main() -> Result<(), ProcessError> {
    // create the process
    let mut process = Process::empty();
    // report the process identifier
    println!("{}", bare(process.pid()));
    // start the process
    process.start()?;
    // report the process identifier
    println!("{}", bare(process.pid()));
    Ok(())
}
