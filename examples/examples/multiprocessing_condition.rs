//! Port of PyMOTW3's `multiprocessing_condition.py` ("Synchronizing
//! Operations"): two `stage_2[i]` processes, started 1 s apart, wait on a
//! `Condition` until `s1` finishes stage 1 and calls `notify_all()`.

use std::thread::sleep;
use std::time::Duration;

use multiprocess::{current_process, Condition, ConditionError, OwnerDied, Process};

/// Perform the first stage of work, then notify stage 2 to continue.
fn stage_1(cond: Condition) -> Result<(), ConditionError> {
    let me = current_process();
    let name = me.name();
    println!("Starting {name}");
    let cond = cond.lock().unwrap_or_else(OwnerDied::into_inner);
    println!("{name} done and ready for stage 2");
    cond.notify_all()
}

/// Wait for the condition telling us stage 1 is done.
fn stage_2(cond: Condition) -> Result<(), ConditionError> {
    let me = current_process();
    let name = me.name();
    println!("Starting {name}");
    let cond = cond.lock().unwrap_or_else(OwnerDied::into_inner);
    cond.wait(None)?;
    println!("{name} running");
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let condition = Condition::new()?;
    let mut s1 = Process::new(stage_1, (condition.clone(),)).name("s1");
    let mut s2_clients: Vec<Process> = (1..3)
        .map(|i| Process::new(stage_2, (condition.clone(),)).name(format!("stage_2[{i}]")))
        .collect();

    for c in &mut s2_clients {
        c.start()?;
        sleep(Duration::from_secs(1));
    }
    s1.start()?;

    s1.join()?;
    for c in &mut s2_clients {
        c.join()?;
    }
    Ok(())
}
