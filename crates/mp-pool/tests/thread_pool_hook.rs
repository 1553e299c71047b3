//! A `ThreadPool` task's panic carries its location even when no process
//! `Pool` was started before it, and a process `Pool` started afterwards
//! still turns its workers' panics into task errors. One test in its own
//! binary: no other test may start a process pool first.

mod common;

use common::deadline;
use mp_pool::{Pool, PoolError, TaskError, ThreadPool};

/// The message and location of a task's panic.
fn panic_of(r: Result<u8, PoolError>) -> (String, String) {
    match r {
        Err(PoolError::Task(TaskError::Panic { message, location })) => (message, location),
        other => panic!("expected a task panic, got {other:?}"),
    }
}

fn fails(x: u8) -> u8 {
    panic!("process {x}")
}

#[test]
fn thread_pool_panics_carry_their_location_before_any_process_pool() {
    deadline(60, "thread pool first", || {
        let threads = ThreadPool::with_threads(1).unwrap();
        let (message, location) = panic_of(threads.apply(|| -> u8 { panic!("thread first") }, ()));
        assert_eq!(message, "thread first");
        assert!(location.contains("thread_pool_hook.rs"), "{location}");
        // A process pool made afterwards still records a worker's panic.
        let procs = Pool::with_processes(1).unwrap();
        let (message, location) = panic_of(procs.apply(fails, (1,)));
        assert_eq!(message, "process 1");
        assert!(location.contains("thread_pool_hook.rs"), "{location}");
        // And the thread pool keeps its locations.
        let (message, location) = panic_of(threads.apply(|| -> u8 { panic!("thread again") }, ()));
        assert_eq!(message, "thread again");
        assert!(location.contains("thread_pool_hook.rs"), "{location}");
    });
}
