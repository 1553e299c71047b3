//! What a worker's death costs (issue 11, item 9): the real exit status is
//! reported (a worker that ends with `exit(n)` is not mistaken for one the
//! pool killed); a task that never started is re-sent; a death inside a
//! chunk fails only the tasks that may have run; a worker that cannot be
//! started leaves no process behind.

mod common;
use std::time::Duration;

use common::deadline;
use mp_pool::{Pool, PoolError, TaskError};

/// Stays in the exit clean-up after its link to the parent closed.
fn linger() {
    std::thread::sleep(Duration::from_millis(300));
}

/// Item `k` ends its worker with `exit(3)`, which closes the worker's link
/// at once (unwinding) but ends the process only after `linger`.
fn exit_at(x: u64, k: u64) -> u64 {
    if x == k {
        mp_sys::exit::register_finalizer(linger);
        mp_process::exit(3);
    }
    x
}

#[test]
fn a_worker_ending_with_exit_reports_its_exit_code() {
    deadline(120, "exit(n)", || {
        let pool = Pool::with_processes(2).unwrap();
        for trial in 0..20u64 {
            let k = 40 + trial;
            let args: Vec<(u64, u64)> = (0..400).map(|x| (x, k)).collect();
            let err = pool
                .starmap_async(exit_at, args, Some(1))
                .unwrap()
                .get()
                .unwrap_err();
            let PoolError::Task(e) = &err else {
                panic!("trial {trial}: {err:?}");
            };
            assert!(
                matches!(e, TaskError::WorkerDied { exitcode: 3, .. }),
                "trial {trial}: {e}"
            );
        }
    });
}
