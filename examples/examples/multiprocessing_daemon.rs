//! Port of PyMOTW's `multiprocessing_daemon.py` ("Daemon Processes"): a daemon
//! child is terminated when the main program exits, so its `Exiting` line
//! never prints. `main` waits for the non-daemon child and kills the daemon
//! at exit, without waiting for its 2 s sleep.

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
    Ok(())
}
