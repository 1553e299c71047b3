//! Port of PyMOTW's `multiprocessing_pool_maxtasksperchild.py`: with
//! `maxtasksperchild=2` a worker retires after two tasks and a fresh one
//! (with a new name, running the initializer again) takes its place; the
//! results are unchanged.

use multiprocess::{cpu_count, current_process, Pool, PoolError};

fn do_calculation(data: u64) -> u64 {
    data * 2
}

fn start_process() {
    println!("Starting {}", current_process().name());
}

fn main() -> Result<(), PoolError> {
    let inputs: Vec<u64> = (0..10).collect();
    println!("Input   : {inputs:?}");

    let builtin_outputs: Vec<u64> = inputs.iter().copied().map(do_calculation).collect();
    println!("Built-in: {builtin_outputs:?}");

    let pool_size = cpu_count() * 2;
    let pool = Pool::builder()
        .processes(pool_size)
        .initializer(start_process, ())
        .maxtasksperchild(2)
        .build()?;
    let pool_outputs = pool.map(do_calculation, inputs)?;
    pool.close(); // no more tasks
    pool.join()?; // wrap up current tasks

    println!("Pool    : {pool_outputs:?}");
    Ok(())
}
