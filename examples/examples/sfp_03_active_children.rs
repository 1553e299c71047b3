//! Port of SuperFastPython Lesson 03, "How to Get the Current, Parent, and
//! Child Processes" (`active_children`): five children sleep 1 s while the
//! parent lists them, in no particular order. They are not joined
//! explicitly: the library joins them when `main` ends.

use std::thread::sleep;
use std::time::Duration;

use multiprocess::{active_children, Process, ProcessError};

/// custom function to be executed in a child process
fn task() {
    // block for a moment
    sleep(Duration::from_secs(1));
}

fn main() -> Result<(), ProcessError> {
    // create a number of child processes
    let mut processes: Vec<Process> = (0..5).map(|_| Process::new(task, ())).collect();
    // start the child processes
    for process in &mut processes {
        process.start()?;
    }
    // get a list of all active child processes
    let children = active_children();
    // report a count of active children
    println!("Active Children Count: {}", children.len());
    // report each in turn
    for child in &children {
        println!("{child}");
    }
    Ok(())
}
