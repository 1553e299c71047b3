//! Worker state (issue 14, item 5): made once per worker (per thread in a
//! `ThreadPool`) and mutated across the tasks it runs, under every start
//! method; a call whose tasks take another state type is refused.

mod common;
use std::collections::HashMap;

use common::{deadline, read_lines, report, report_pipe};
use mp_pool::{Pool, PoolError, TaskError, TaskOptions, ThreadPool};
use mp_wire::SharedFd;

/// The worker state of these tests: how many tasks this worker ran.
struct Tally {
    ran: u64,
}

/// Makes a worker's state, reporting the worker's pid once.
fn make_tally(out: SharedFd) -> Tally {
    report(&out, &std::process::id().to_string());
    Tally { ran: 0 }
}

/// (pid, how many tasks this worker ran, this one included, x).
fn step(t: &mut Tally, x: u64) -> (u32, u64, u64) {
    t.ran += 1;
    (std::process::id(), t.ran, x)
}

/// For each worker, the counts its tasks saw were 1, 2, ..., k.
fn assert_counts_per_worker(got: &[(u32, u64, u64)]) -> HashMap<u32, Vec<u64>> {
    let mut per: HashMap<u32, Vec<u64>> = HashMap::new();
    for &(pid, ran, _) in got {
        per.entry(pid).or_default().push(ran);
    }
    for counts in per.values_mut() {
        counts.sort_unstable();
        assert_eq!(*counts, (1..=counts.len() as u64).collect::<Vec<_>>());
    }
    per
}

#[test]
fn each_worker_makes_its_state_once_and_keeps_it_across_tasks() {
    deadline(120, "worker state", || {
        let (read, write) = report_pipe();
        let pool = Pool::builder()
            .processes(2)
            .worker_state(make_tally, (write,))
            .build()
            .unwrap();
        let got = pool.map_with_state(step, 0..60u64).unwrap();
        assert_eq!(
            got.iter().map(|r| r.2).collect::<Vec<_>>(),
            (0..60).collect::<Vec<_>>()
        );
        let mut got2: Vec<(u32, u64, u64)> = pool
            .imap_unordered_with_state(step, 0..20u64, 1, TaskOptions::new())
            .unwrap()
            .map(Result::unwrap)
            .collect();
        got2.sort_by_key(|r| r.2);
        let all: Vec<_> = got.iter().chain(&got2).copied().collect();
        let per = assert_counts_per_worker(&all);
        assert_eq!(per.values().map(Vec::len).sum::<usize>(), 80);
        pool.close();
        pool.join().unwrap();
        drop(pool);
        // One state per worker: as many reports as workers, each a worker
        // that ran tasks (and no worker was replaced).
        let mut made: Vec<u32> = read_lines(&read, usize::MAX, 30)
            .iter()
            .map(|l| l.parse().unwrap())
            .collect();
        made.sort_unstable();
        let mut ran: Vec<u32> = per.keys().copied().collect();
        ran.sort_unstable();
        assert_eq!(made.len(), 2, "{made:?}");
        assert!(ran.iter().all(|p| made.contains(p)), "{ran:?} vs {made:?}");
    });
}

fn takes_a_string(s: &mut String, x: u64) -> usize {
    s.push('.');
    s.len() + x as usize
}

fn empty() -> String {
    String::new()
}

#[test]
fn a_call_for_another_state_type_is_refused() {
    deadline(60, "state type", || {
        let pool = Pool::with_processes(1).unwrap();
        let r = pool.map_with_state(takes_a_string, 0..3u64);
        assert!(
            matches!(r, Err(PoolError::WorkerStateType { pool: None, .. })),
            "{r:?}"
        );
        let pool = Pool::builder()
            .processes(1)
            .worker_state(empty, ())
            .build()
            .unwrap();
        let r = pool.map_with_state(step, 0..3u64);
        match r {
            Err(PoolError::WorkerStateType { wanted, pool }) => {
                assert!(wanted.ends_with("Tally"), "{wanted}");
                assert_eq!(pool, Some("alloc::string::String"));
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            pool.map_with_state(takes_a_string, 0..3u64).unwrap(),
            vec![1, 3, 5]
        );
        // The state is the worker's own, not re-made per call.
        let got: Vec<usize> = pool
            .imap_with_state(
                |s: &mut String, x: u64| {
                    s.push('x');
                    s.len() + x as usize
                },
                0..3u64,
                1,
                TaskOptions::new(),
            )
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(got, vec![4, 6, 8]);
    });
}

#[test]
fn a_thread_pool_gives_each_thread_its_state() {
    deadline(60, "thread pool state", || {
        let made = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let m = made.clone();
        let pool = ThreadPool::builder()
            .threads(3)
            .worker_state(move || {
                m.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                Tally { ran: 0 }
            })
            .build()
            .unwrap();
        let got = pool
            .map_async_with_state(
                |t: &mut Tally, x: u64| {
                    t.ran += 1;
                    let id = std::thread::current().name().unwrap_or("").to_string();
                    (id, t.ran, x)
                },
                0..90u64,
                Some(1),
                mp_pool::Callbacks::new(),
                TaskOptions::new(),
            )
            .unwrap()
            .get()
            .unwrap();
        let mut per: HashMap<String, Vec<u64>> = HashMap::new();
        for (id, ran, _) in got {
            per.entry(id).or_default().push(ran);
        }
        for counts in per.values_mut() {
            counts.sort_unstable();
            assert_eq!(*counts, (1..=counts.len() as u64).collect::<Vec<_>>());
        }
        pool.close();
        pool.join().unwrap();
        assert_eq!(made.load(std::sync::atomic::Ordering::SeqCst), 3);
        let r = pool.map_with_state(|s: &mut String, x: u64| s.len() + x as usize, 0..1u64);
        assert!(matches!(r, Err(PoolError::WorkerStateType { .. })), "{r:?}");
        let r = ThreadPool::builder().max_memory_per_child(1 << 30).build();
        assert!(matches!(r, Err(PoolError::Unsupported(_))), "{r:?}");
    });
}

fn broken_state() -> Tally {
    panic!("cannot open the state");
}

/// Panics on 2; counts the tasks its worker ran before.
fn step_or_panic(t: &mut Tally, x: u64) -> u64 {
    t.ran += 1;
    assert!(x != 2, "task two fails");
    t.ran
}

#[test]
fn a_panicking_task_keeps_the_state_and_a_failing_maker_fails_the_tasks() {
    deadline(120, "state failures", || {
        let (_read, write) = report_pipe();
        let pool = Pool::builder()
            .processes(1)
            .worker_state(make_tally, (write,))
            .build()
            .unwrap();
        let got: Vec<_> = pool
            .imap_with_state(step_or_panic, 0..5u64, 1, TaskOptions::new())
            .unwrap()
            .collect();
        assert!(
            matches!(&got[2], Err(PoolError::Task(TaskError::Panic { .. }))),
            "{got:?}"
        );
        // The same state ran on: the count includes the task that panicked.
        let counts: Vec<u64> = [0, 1, 3, 4]
            .iter()
            .map(|&i| *got[i].as_ref().unwrap())
            .collect();
        assert_eq!(counts, vec![1, 2, 4, 5]);

        // A maker that panics ends each worker before any task starts; the
        // tasks fail with WorkerDied after their re-sends (as with a
        // panicking initializer).
        let pool = Pool::builder()
            .processes(1)
            .worker_state(broken_state, ())
            .build()
            .unwrap();
        let r = pool.map_with_state(step, 0..2u64);
        assert!(
            matches!(
                r,
                Err(PoolError::Task(TaskError::WorkerDied { task: None, .. }))
            ),
            "{r:?}"
        );
        let pool = ThreadPool::builder()
            .threads(1)
            .worker_state(|| -> Tally { panic!("cannot open the state") })
            .build()
            .unwrap();
        let r = pool.map_with_state(|t: &mut Tally, x: u64| t.ran + x, 0..2u64);
        assert!(
            matches!(r, Err(PoolError::Task(TaskError::Panic { .. }))),
            "{r:?}"
        );
    });
}
