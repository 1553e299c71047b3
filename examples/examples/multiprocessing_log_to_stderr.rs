//! Port of PyMOTW's `multiprocessing_log_to_stderr.py` ("Logging"):
//! `log_to_stderr(DEBUG)` makes the library log its own lifecycle as
//! `[LEVEL/ProcessName] message` on stderr, around the child's stdout line.
//! The child inherits the level under every start method.

use std::io::Write;

use multiprocess::{log_to_stderr, LevelFilter, Process, ProcessError};

fn worker() {
    println!("Doing some work");
    let _ = std::io::stdout().flush();
}

fn main() -> Result<(), ProcessError> {
    log_to_stderr(Some(LevelFilter::Debug));
    let mut p = Process::new(worker, ());
    p.start()?;
    p.join()?;
    Ok(())
}
