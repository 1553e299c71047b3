//! Port of PyMOTW's `multiprocessing_subclass.py` ("Subclassing Process"): a
//! process type supplies its own `run()`; its default name is `Worker-N`,
//! after the type, as Python names subclass instances.

use multiprocess::{current_process, Process, ProcessError, Run};
use serde::{Deserialize, Serialize};

/// The Python `Process` subclass: a type whose `run` is the child's body.
#[derive(Serialize, Deserialize)]
struct Worker;

impl Run for Worker {
    fn run(&mut self) {
        println!("In {}", current_process().name());
    }
}

fn main() -> Result<(), ProcessError> {
    let mut jobs = Vec::new();
    for _ in 0..5 {
        let mut p = Process::from_run(Worker);
        p.start()?;
        jobs.push(p);
    }
    for j in &mut jobs {
        j.join()?;
    }
    Ok(())
}
