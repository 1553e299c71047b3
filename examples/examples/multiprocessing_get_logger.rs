//! Port of PyMOTW's `multiprocessing_get_logger.py` ("Logging"):
//! `log_to_stderr()` at the default level, then `get_logger().set_level(INFO)`
//! on the library's logger: only INFO and higher records appear.

use std::io::Write;

use multiprocess::{get_logger, log_to_stderr, LevelFilter, Process, ProcessError};

fn worker() {
    println!("Doing some work");
    let _ = std::io::stdout().flush();
}

fn main() -> Result<(), ProcessError> {
    log_to_stderr(None);
    let logger = get_logger();
    logger.set_level(LevelFilter::Info);
    let mut p = Process::new(worker, ());
    p.start()?;
    p.join()?;
    Ok(())
}
