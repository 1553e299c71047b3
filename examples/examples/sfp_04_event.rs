//! Port of SuperFastPython Lesson 04, "How to Signal Between Processes Using
//! an Event": five processes wait on a shared `Event` that main sets after
//! 2 s; each then sleeps a random 0–1 s and reports.

use std::thread::sleep;
use std::time::Duration;

use multiprocess::{Event, Process};

/// Executed in a child process.
fn task(shared_event: Event, number: u32) {
    // wait for the event to be set
    println!("Process {number} waiting...");
    shared_event.wait(None);
    // begin processing, generate a random number
    let value = rand::random::<f64>();
    // block for a fraction of a second
    sleep(Duration::from_secs_f64(value));
    // report a message
    println!("Process {number} got {value}");
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // create a shared event object
    let event = Event::new()?;
    // create a suite of processes
    let mut processes: Vec<Process> = (0..5)
        .map(|i| Process::new(task, (event.clone(), i)))
        .collect();
    // start all processes
    for process in &mut processes {
        process.start()?;
    }
    // block for a moment
    println!("Main process blocking...");
    sleep(Duration::from_secs(2));
    // trigger all child processes
    event.set();
    // wait for all child processes to terminate
    for process in &mut processes {
        process.join()?;
    }
    Ok(())
}
