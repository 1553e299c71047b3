//! Port of PyMOTW's `multiprocessing_terminate.py` ("Terminating
//! Processes"): `terminate()` sends SIGTERM; the `Process` display shows the
//! state at each stage, and only `join()` makes the ending visible for sure.

use std::thread::sleep;
use std::time::Duration;

use multiprocess::{Process, ProcessError};

fn slow_worker() {
    println!("Starting worker");
    sleep(Duration::from_millis(100));
    println!("Finished worker");
}

fn main() -> Result<(), ProcessError> {
    let mut p = Process::new(slow_worker, ());
    println!("BEFORE: {p} {}", p.is_alive());

    p.start()?;
    println!("DURING: {p} {}", p.is_alive());

    p.terminate()?;
    println!("TERMINATED: {p} {}", p.is_alive());

    p.join()?;
    println!("JOINED: {p} {}", p.is_alive());
    Ok(())
}
