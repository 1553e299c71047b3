//! `max_memory_per_child` (issue 14, item 5; billiard's): a worker whose
//! resident memory exceeds the limit after a task sends that task's result,
//! exits and is replaced; every result arrives and no task runs twice.

mod common;
use common::deadline;
use mp_pool::{Pool, PoolError};

const MIB: u64 = 1 << 20;

/// Task 3 grows its worker by 128 MiB and keeps it; every task returns the
/// pid of the worker that ran it.
fn leaky(x: u64) -> (u64, u32) {
    if x == 3 {
        std::mem::forget(vec![1u8; (128 * MIB) as usize]);
    }
    (x, std::process::id())
}

/// A limit well above what a fresh worker holds (a forked one starts with
/// this test process's resident pages), well below 128 MiB more.
fn limit() -> u64 {
    let here = mp_sys::process::resident_memory().unwrap();
    here.max(32 * MIB) + 64 * MIB
}

#[test]
fn a_worker_past_its_memory_limit_is_replaced_after_its_task() {
    deadline(120, "memory limit", || {
        let pool = Pool::builder()
            .processes(1)
            .max_memory_per_child(limit())
            .build()
            .unwrap();
        let got = pool.map_chunked(leaky, 0..10u64, 1).unwrap();
        assert_eq!(
            got.iter().map(|r| r.0).collect::<Vec<_>>(),
            (0..10).collect::<Vec<_>>()
        );
        let first = got[0].1;
        assert!(got[..4].iter().all(|r| r.1 == first), "{got:?}");
        assert!(got[4..].iter().all(|r| r.1 != first), "{got:?}");
        pool.close();
        pool.join().unwrap();
    });
}

/// Every task grows its worker past the limit.
fn always_leaky(x: u64) -> (u64, u32) {
    std::mem::forget(vec![1u8; (96 * MIB) as usize]);
    (x, std::process::id())
}

#[test]
fn workers_that_retire_after_every_task_lose_nothing() {
    deadline(180, "memory limit, every task", || {
        let pool = Pool::builder()
            .processes(2)
            .max_memory_per_child(limit())
            .build()
            .unwrap();
        // Each worker runs one task and retires, with the chunks queued
        // behind it (prefetched) still unstarted: they go to the next
        // workers, and each task still runs exactly once.
        let got = pool.map_chunked(always_leaky, 0..12u64, 1).unwrap();
        assert_eq!(
            got.iter().map(|r| r.0).collect::<Vec<_>>(),
            (0..12).collect::<Vec<_>>()
        );
        let mut pids: Vec<u32> = got.iter().map(|r| r.1).collect();
        pids.sort_unstable();
        pids.dedup();
        assert_eq!(pids.len(), 12, "one worker per task: {got:?}");
        pool.close();
        pool.join().unwrap();
    });
}

#[test]
fn without_a_limit_the_worker_stays() {
    deadline(120, "no memory limit", || {
        let pool = Pool::with_processes(1).unwrap();
        let got = pool.map_chunked(leaky, 0..6u64, 1).unwrap();
        assert!(got.iter().all(|r| r.1 == got[0].1), "{got:?}");
    });
}

#[test]
fn a_zero_limit_is_refused() {
    let r = Pool::builder().processes(1).max_memory_per_child(0).build();
    assert!(matches!(r, Err(PoolError::InvalidArgument(_))), "{r:?}");
}
