//! Port of PyMOTW's `multiprocessing_queue.py` ("Passing Messages to
//! Processes"): a user object goes through a `Queue` to a child, which calls
//! its method. Any serde type can travel, as any picklable object can in Python.

use multiprocess::{current_process, Process, Queue};
use serde::{Deserialize, Serialize};

/// The user object sent to the child.
#[derive(Serialize, Deserialize)]
struct MyFancyClass {
    name: String,
}

impl MyFancyClass {
    fn do_something(&self) {
        let proc_name = current_process().name().to_string();
        println!("Doing something fancy in {proc_name} for {}!", self.name);
    }
}

fn worker(q: Queue<MyFancyClass>) {
    let obj = q.get().expect("an object from the parent");
    obj.do_something();
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let queue = Queue::new()?;
    let mut p = Process::new(worker, (queue.clone(),));
    p.start()?;
    queue.put(&MyFancyClass {
        name: "Fancy Dan".into(),
    })?;
    // Wait for the worker to finish
    queue.close();
    queue.join_thread()?;
    p.join()?;
    Ok(())
}
