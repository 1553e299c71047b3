//! Port of "Multiprocessing in Python (72/100 Days of Python)", "Passing
//! arguments to processes": five processes, each given its number. They are
//! not joined explicitly; the program waits for them when `main` ends.

use multiprocess::{Process, ProcessError};

fn worker(num: u32) {
    println!("Worker {num}");
}

fn main() -> Result<(), ProcessError> {
    for i in 0..5 {
        let mut p = Process::new(worker, (i,));
        p.start()?;
    }
    Ok(())
}
