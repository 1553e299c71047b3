//! Port of PyMOTW's `multiprocessing_simple.py` ("Process objects"): five
//! processes each run a plain function. There is no join: the library still
//! waits for its non-daemon children when `main` ends, as Python does at exit.

use multiprocess::{Process, ProcessError};

/// worker function
fn worker() {
    println!("Worker");
}

fn main() -> Result<(), ProcessError> {
    let mut jobs = Vec::new();
    for _ in 0..5 {
        let mut p = Process::new(worker, ());
        p.start()?;
        jobs.push(p);
    }
    Ok(())
}
