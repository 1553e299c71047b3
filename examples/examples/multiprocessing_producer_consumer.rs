//! Port of PyMOTW's `multiprocessing_producer_consumer.py`: a
//! `JoinableQueue` of tasks for `2 × cpu_count()` consumer processes, one
//! poison pill (`None`) each, results on a `Queue`; `tasks.join()` before
//! the results are printed.

use std::fmt;
use std::thread::sleep;
use std::time::Duration;

use multiprocess::{cpu_count, current_process, JoinableQueue, Process, Queue, Run};
use serde::{Deserialize, Serialize};

/// A consumer process (Python's `Process` subclass): named `Consumer-K`.
#[derive(Serialize, Deserialize)]
struct Consumer {
    task_queue: JoinableQueue<Option<Task>>,
    result_queue: Queue<String>,
}

impl Run for Consumer {
    fn run(&mut self) {
        let proc_name = current_process().name().to_string();
        loop {
            let next_task = self.task_queue.get().expect("a task or a poison pill");
            let Some(task) = next_task else {
                // Poison pill means shutdown
                println!("{proc_name}: Exiting");
                self.task_queue.task_done().expect("one task_done per get");
                break;
            };
            println!("{proc_name}: {task}");
            let answer = task.call();
            self.task_queue.task_done().expect("one task_done per get");
            self.result_queue.put(&answer).expect("queue open");
        }
    }
}

/// A unit of work: multiply `a` by `b`, slowly.
#[derive(Serialize, Deserialize)]
struct Task {
    a: i64,
    b: i64,
}

impl Task {
    /// Python's `__call__`: pretend to take time to do the work.
    fn call(&self) -> String {
        sleep(Duration::from_millis(100));
        format!("{self} = {}", self.a * self.b)
    }
}

impl fmt::Display for Task {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} * {}", self.a, self.b)
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Establish communication queues
    let tasks = JoinableQueue::new()?;
    let results = Queue::new()?;

    // Start consumers
    let num_consumers = cpu_count() * 2;
    println!("Creating {num_consumers} consumers");
    let mut consumers: Vec<Process> = (0..num_consumers)
        .map(|_| {
            Process::from_run(Consumer {
                task_queue: tasks.clone(),
                result_queue: results.clone(),
            })
        })
        .collect();
    for w in &mut consumers {
        w.start()?;
    }

    // Enqueue jobs
    let num_jobs = 10;
    for i in 0..num_jobs {
        tasks.put(&Some(Task { a: i, b: i }))?;
    }

    // Add a poison pill for each consumer
    for _ in 0..num_consumers {
        tasks.put(&None)?;
    }

    // Wait for all of the tasks to finish
    tasks.join();

    // Start printing results
    for _ in 0..num_jobs {
        let result = results.get()?;
        println!("Result: {result}");
    }
    for w in &mut consumers {
        w.join()?;
    }
    Ok(())
}
