//! Port of "Multiprocessing in Python (72/100 Days of Python)", "Basic usage
//! of multiprocessing": one process is started and never joined; the program
//! still waits for it when `main` ends.

use multiprocess::{Process, ProcessError};

fn worker() {
    println!("Worker");
}

fn main() -> Result<(), ProcessError> {
    let mut p = Process::new(worker, ());
    p.start()?;
    Ok(())
}
