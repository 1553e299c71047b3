//! A child forked while a parent thread is panicking (std's panic-hook lock
//! held for reading) can still build a pool and have its workers' task
//! panics reported: nothing in a forked child installs a panic hook, which
//! would wait for ever for that lock. One test in its own binary: the
//! parent must not have started a process pool before (its children would
//! inherit the pool's hook already installed).

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::deadline;
use mp_pool::{Pool, PoolError, TaskError};
use mp_process::{ExitCode, Process};

fn double(x: u64) -> u64 {
    x * 2
}

fn fails(x: u64) -> u64 {
    panic!("task {x} fails")
}

/// A child's target: a pool of its own, a map, and a task's panic as its
/// error.
fn use_a_pool() -> ExitCode {
    let pool = Pool::with_processes(1).expect("pool");
    let ok = pool.map(double, 0..4u64).expect("map") == [0, 2, 4, 6];
    let failed = matches!(
        pool.apply(fails, (3,)),
        Err(PoolError::Task(TaskError::Panic { message, .. })) if message == "task 3 fails"
    );
    ExitCode(if ok && failed { 0 } else { 3 })
}

#[test]
fn children_forked_while_a_thread_panics_can_build_pools() {
    deadline(120, "children forked while panicking", || {
        // The program's own hook, slow for the parent thread's panics: it
        // holds the hook lock (for reading) most of the time. Other panics
        // (this test's assertions) are printed as usual.
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if info.payload().downcast_ref::<&str>() == Some(&"in the parent") {
                std::thread::sleep(Duration::from_millis(5));
            } else {
                default(info);
            }
        }));
        let stop = Arc::new(AtomicBool::new(false));
        let panicking = {
            let stop = stop.clone();
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let _ = std::panic::catch_unwind(|| panic!("in the parent"));
                }
            })
        };
        for i in 0..20 {
            let mut p = Process::new(use_a_pool, ());
            p.start().unwrap();
            p.join_timeout(Duration::from_secs(30)).unwrap();
            if p.exitcode().is_none() {
                let _ = p.kill();
            }
            assert_eq!(
                p.exitcode(),
                Some(0),
                "child {i}: did not finish (or its pool failed) within 30 s"
            );
        }
        stop.store(true, Ordering::Relaxed);
        panicking.join().unwrap();
    });
}
