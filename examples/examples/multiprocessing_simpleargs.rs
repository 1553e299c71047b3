//! Port of PyMOTW's `multiprocessing_simpleargs.py` ("Process objects"): an
//! argument (`args=(i,)`) is serialized to each of five children. No join:
//! the library waits for the children when `main` ends.

use multiprocess::{Process, ProcessError};

/// thread worker function
fn worker(num: u32) {
    println!("Worker: {num}");
}

fn main() -> Result<(), ProcessError> {
    let mut jobs = Vec::new();
    for i in 0..5 {
        let mut p = Process::new(worker, (i,));
        p.start()?;
        jobs.push(p);
    }
    Ok(())
}
