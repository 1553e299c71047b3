//! Port of PyMOTW's `multiprocessing_exitcode.py` ("Process Exit Status"):
//! `exit(1)` gives 1, a normal return 0, a returned value is ignored (0), a
//! panic gives 1 with its message on stderr, and SIGTERM gives -15.

use std::thread::sleep;
use std::time::Duration;

use multiprocess::{Process, ProcessError, Target};

fn exit_error() {
    multiprocess::exit(1)
}

fn exit_ok() {}

fn return_value() -> i32 {
    1
}

fn raises() {
    panic!("There was an error!");
}

fn terminated() {
    sleep(Duration::from_secs(3));
}

/// Starts `f` in a child process named after the function (`name=f.__name__`).
fn start<F: Target<()>>(name: &str, f: F) -> Result<Process, ProcessError> {
    println!("Starting process for {name}");
    let mut j = Process::new(f, ()).name(name);
    j.start()?;
    Ok(j)
}

fn main() -> Result<(), ProcessError> {
    let mut jobs = vec![
        start("exit_error", exit_error)?,
        start("exit_ok", exit_ok)?,
        start("return_value", return_value)?,
        start("raises", raises)?,
        start("terminated", terminated)?,
    ];

    if let Some(last) = jobs.last() {
        last.terminate()?;
    }

    for j in &mut jobs {
        j.join()?;
        let code = j.exitcode().map_or("None".to_string(), |c| c.to_string());
        println!("{}.exitcode = {code}", j.get_name());
    }
    Ok(())
}
