//! Port of SuperFastPython Lesson 05, "How to Inherit Global Variables from
//! Parent Processes": under the fork start method (set explicitly, as the
//! seed does) a child sees the parent's process-wide `static`, and the
//! child's change stays in the child. Under spawn or forkserver the child
//! would start from a fresh program and never see `Hello there`.

use std::sync::Mutex;

use multiprocess::{set_start_method, Process, StartMethod};

/// The global state (Python's module-level `data`).
static DATA: Mutex<String> = Mutex::new(String::new());

/// The global's current value.
fn data() -> String {
    DATA.lock().unwrap_or_else(|e| e.into_inner()).clone()
}

/// Executed in a child process.
fn task() {
    // report global state
    println!("child process before: {}", data());
    // change global state
    *DATA.lock().unwrap_or_else(|e| e.into_inner()) = "hello hello!".to_string();
    // report global state
    println!("child process after: {}", data());
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // set the start method to fork
    set_start_method(Some(StartMethod::Fork), false)?;
    // define global state
    *DATA.lock().unwrap_or_else(|e| e.into_inner()) = "Hello there".to_string();
    // report global state
    println!("main process: {}", data());
    // start a child process
    let mut process = Process::new(task, ());
    process.start()?;
    // wait for the child to terminate
    process.join()?;
    // report global state
    println!("main process: {}", data());
    Ok(())
}
