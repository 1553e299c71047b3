//! Port of PyMOTW's `multiprocessing_daemon_join.py` ("Waiting for
//! Processes"): `join()` waits for a daemon child too, so its `Exiting` line
//! appears.

use std::thread::sleep;
use std::time::Duration;

use multiprocess::{current_process, Process, ProcessError};

fn daemon() {
    println!("Starting: {}", current_process().name());
    sleep(Duration::from_secs(2));
    println!("Exiting : {}", current_process().name());
}

fn non_daemon() {
    println!("Starting: {}", current_process().name());
    println!("Exiting : {}", current_process().name());
}

fn main() -> Result<(), ProcessError> {
    let mut d = Process::new(daemon, ()).name("daemon").daemon(true);
    let mut n = Process::new(non_daemon, ())
        .name("non-daemon")
        .daemon(false);

    d.start()?;
    sleep(Duration::from_secs(1));
    n.start()?;

    d.join()?;
    n.join()?;
    Ok(())
}
