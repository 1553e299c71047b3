//! Port of PyMOTW3's `multiprocessing_manager_dict.py` ("Managing Shared
//! State"): ten processes write `d[i] = i * 2` into a dict held by a manager
//! server; the parent prints it in Python's dict form.

use multiprocess::managers::{DictProxy, Manager, ManagerError};
use multiprocess::Process;

fn worker(d: DictProxy<u32, u32>, key: u32, value: u32) -> Result<(), ManagerError> {
    d.set(key, value)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mgr = Manager::new()?;
    let d = mgr.dict()?;
    let mut jobs: Vec<Process> = (0..10)
        .map(|i| Process::new(worker, (d.clone(), i, i * 2)))
        .collect();
    for j in &mut jobs {
        j.start()?;
    }
    for j in &mut jobs {
        j.join()?;
    }
    println!("Results: {d}");
    Ok(())
}
