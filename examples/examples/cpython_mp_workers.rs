//! Port of the workers example of CPython's documentation (in
//! `Doc/includes`): tasks are `(function, arguments)` pairs put on one queue,
//! worker processes take them, call the function and put a line about the
//! result on another queue. The function
//! travels as a `Function` handle (Python pickles it by name); the name for
//! the printout travels beside it, and `None` is the stop signal (`'STOP'`).

use std::thread::sleep;
use std::time::Duration;

use multiprocess::{current_process, Function, Process, Queue};

/// A task: the function's name, the function, its arguments.
type Task = (String, Function<(u64, u64), u64>, (u64, u64));

const NUMBER_OF_PROCESSES: usize = 4;

/// Takes tasks until the stop signal, putting one line per result.
fn worker(input: Queue<Option<Task>>, output: Queue<String>) {
    while let Some((name, func, args)) = input.get().expect("a task") {
        output.put(&calculate(&name, func, args)).expect("room");
    }
}

/// Calls the function and says so, as Python's `calculate`.
fn calculate(name: &str, func: Function<(u64, u64), u64>, args: (u64, u64)) -> String {
    let result = func.call(args).expect("a function of this program");
    format!(
        "{} says that {name}{args:?} = {result}",
        current_process().name()
    )
}

/// Python's `time.sleep(0.5 * random.random())`, shortened tenfold.
fn nap() {
    sleep(Duration::from_secs_f64(0.05 * rand::random::<f64>()));
}

fn mul(a: u64, b: u64) -> u64 {
    nap();
    a * b
}

fn plus(a: u64, b: u64) -> u64 {
    nap();
    a + b
}

fn task(name: &str, f: Function<(u64, u64), u64>, args: (u64, u64)) -> Option<Task> {
    Some((name.to_string(), f, args))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let tasks1: Vec<_> = (0..20)
        .map(|i| task("mul", Function::new(mul), (i, 7)))
        .collect();
    let tasks2: Vec<_> = (0..10)
        .map(|i| task("plus", Function::new(plus), (i, 8)))
        .collect();

    let task_queue = Queue::new()?;
    let done_queue = Queue::new()?;

    for t in &tasks1 {
        task_queue.put(t)?;
    }

    let mut workers = Vec::new();
    for _ in 0..NUMBER_OF_PROCESSES {
        let mut p = Process::new(worker, (task_queue.clone(), done_queue.clone()));
        p.start()?;
        workers.push(p);
    }

    println!("Unordered results:");
    for _ in 0..tasks1.len() {
        println!("\t {}", done_queue.get()?);
    }

    for t in &tasks2 {
        task_queue.put(t)?;
    }

    for _ in 0..tasks2.len() {
        println!("\t {}", done_queue.get()?);
    }

    for _ in 0..NUMBER_OF_PROCESSES {
        task_queue.put(&None)?;
    }
    for p in &mut workers {
        p.join()?;
    }
    Ok(())
}
