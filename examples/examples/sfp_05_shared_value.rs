//! Port of SuperFastPython Lesson 05, "How to Share Python Primitives with
//! ctypes": a shared `Value('f', 0.0)` (here `Value::<f32>`); the child
//! stores a random number and prints what it reads back, and the parent
//! reads the same number after `join()`.

use multiprocess::{Process, Value};

/// Executed in a child process.
fn task(shared_var: Value<f32>) {
    // generate a single floating point value
    let generated = rand::random::<f64>();
    // store value (a C float, as with Python's typecode 'f')
    shared_var.set_value(generated as f32);
    // report progress
    println!("Wrote: {}", f64::from(shared_var.value()));
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // create shared variable
    let variable = Value::<f32>::new(0.0)?;
    // create a child process
    let mut process = Process::new(task, (variable.clone(),));
    // start the process
    process.start()?;
    // wait for the process to finish
    process.join()?;
    // read the value
    let data = variable.value();
    // report the value
    println!("Read: {}", f64::from(data));
    Ok(())
}
