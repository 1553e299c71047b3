//! Port of PyMOTW's `multiprocessing_import_main.py` ("Importable Target
//! Functions"): the target function lives in a separate module,
//! `multiprocessing_import_worker`, standing in for the separate Python module.

mod multiprocessing_import_worker;

use multiprocess::{Process, ProcessError};

fn main() -> Result<(), ProcessError> {
    let mut jobs = Vec::new();
    for _ in 0..5 {
        let mut p = Process::new(multiprocessing_import_worker::worker, ());
        p.start()?;
        jobs.push(p);
    }
    Ok(())
}
