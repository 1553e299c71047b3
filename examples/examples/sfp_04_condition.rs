//! Port of SuperFastPython Lesson 04, "How to Coordinate Using a Condition
//! Variable": main holds a `Condition`, starts a child inside it and waits;
//! the child sleeps 1 s and notifies. The child is not joined explicitly: the
//! library joins it when `main` ends.

use std::thread::sleep;
use std::time::Duration;

use multiprocess::{Condition, ConditionError, OwnerDied, Process};

/// Executed in a child process.
fn task(shared_condition: Condition) -> Result<(), ConditionError> {
    // block for a moment
    sleep(Duration::from_secs(1));
    // notify a waiting process that the work is done
    println!("Child sending notification...");
    let cond = shared_condition
        .lock()
        .unwrap_or_else(OwnerDied::into_inner);
    cond.notify(1)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // create a condition
    let condition = Condition::new()?;
    // acquire the condition
    println!("Main process waiting for data...");
    {
        let cond = condition.lock().unwrap_or_else(OwnerDied::into_inner);
        // create a new process to execute the task
        let mut worker = Process::new(task, (condition.clone(),));
        // start the new child process
        worker.start()?;
        // wait to be notified by the child process
        cond.wait(None)?;
    }
    // we know the data is ready
    println!("Main process all done");
    Ok(())
}
