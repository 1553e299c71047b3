//! Port of PyMOTW's `multiprocessing_names.py` ("Determining the Current
//! Process"): custom process names and the default one (`Process-3`, since the
//! counter advances for named processes too), read in the child with
//! `current_process().name()`. No join: `main` still waits for all three.

use std::thread::sleep;
use std::time::Duration;

use multiprocess::{current_process, Process, ProcessError};

fn worker() {
    let me = current_process();
    let name = me.name();
    println!("{name} Starting");
    sleep(Duration::from_secs(2));
    println!("{name} Exiting");
}

fn my_service() {
    let me = current_process();
    let name = me.name();
    println!("{name} Starting");
    sleep(Duration::from_secs(3));
    println!("{name} Exiting");
}

fn main() -> Result<(), ProcessError> {
    let mut service = Process::new(my_service, ()).name("my_service");
    let mut worker_1 = Process::new(worker, ()).name("worker 1");
    let mut worker_2 = Process::new(worker, ()); // use default name

    worker_1.start()?;
    worker_2.start()?;
    service.start()?;
    Ok(())
}
