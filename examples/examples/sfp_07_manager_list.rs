//! Port of SuperFastPython Lesson 07, "How to Use a Manager to Share a Data
//! Structure": fifty processes append `(number, random)` to a list held by
//! a manager; the manager is scoped (`with Manager() as manager:` is a
//! block whose end drops, and so shuts down, the manager).

use std::thread::sleep;
use std::time::Duration;

use multiprocess::managers::{ListProxy, Manager, ManagerError};
use multiprocess::Process;

/// Custom function to be executed in a child process.
fn task(number: u32, shared_list: ListProxy<(u32, f64)>) -> Result<(), ManagerError> {
    // generate a number between 0 and 1
    let value = rand::random::<f64>();
    // block for a fraction of a second
    sleep(Duration::from_secs_f64(value));
    // store the value in the shared list
    shared_list.append((number, value))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // create the manager
    {
        let manager = Manager::new()?;
        // create the shared list
        let managed_list = manager.list()?;
        // create many child processes
        let mut processes: Vec<Process> = (0..50)
            .map(|i| Process::new(task, (i, managed_list.clone())))
            .collect();
        // start all processes
        for process in &mut processes {
            process.start()?;
        }
        // wait for all processes to complete
        for process in &mut processes {
            process.join()?;
        }
        // report the number of items stored
        println!("List: {}", managed_list.len()?);
    }
    Ok(())
}
