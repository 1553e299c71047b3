//! Port of PyMOTW's `multiprocessing_daemon_join_timeout.py` ("Waiting for
//! Processes"): `join_timeout(1 s)` returns while the daemon child is still
//! alive; the daemon is then terminated when `main` ends.

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
    n.start()?;

    d.join_timeout(Duration::from_secs(1))?;
    println!("d.is_alive() {}", d.is_alive());
    n.join()?;
    Ok(())
}
