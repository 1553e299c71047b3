//! Progress hooks (issue 14, item 4): every multi-task call reports each
//! finished task exactly once (a chunk's tasks per call), with the right
//! total, count and indices, before the call's result is delivered — on a process pool under every start method
//! and on a thread pool.

mod common;
use std::sync::{Arc, Mutex};

use common::deadline;
use mp_pool::{Callbacks, Pool, PoolError, ProgressUpdate, TaskOptions, ThreadPool};

fn double(x: u64) -> u64 {
    x * 2
}

fn add(a: u64, b: u64) -> u64 {
    a + b
}

fn fails_at_five(x: u64) -> u64 {
    assert!(x != 5, "task five fails");
    x
}

/// A hook that records every update, and the records.
fn recorder() -> (TaskOptions, Arc<Mutex<Vec<ProgressUpdate>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s = seen.clone();
    let opts = TaskOptions::new().on_progress(move |u| s.lock().unwrap().push(u));
    (opts, seen)
}

/// Every task `0..n` was reported once; the counts rise by each update's
/// tasks to `n`; every update that knew the total said `n`.
fn assert_each_once(seen: &Mutex<Vec<ProgressUpdate>>, n: usize, total_known: bool) {
    let seen = seen.lock().unwrap();
    let mut indices: Vec<usize> = seen.iter().flat_map(|u| u.tasks.clone()).collect();
    indices.sort_unstable();
    assert_eq!(indices, (0..n).collect::<Vec<_>>(), "each task once");
    let mut by_done: Vec<&ProgressUpdate> = seen.iter().collect();
    by_done.sort_by_key(|u| u.done);
    let mut before = 0;
    for u in by_done {
        assert!(!u.tasks.is_empty(), "{u:?}");
        assert_eq!(u.done, before + u.tasks.len(), "counts rise by each update");
        before = u.done;
        match u.total {
            Some(t) => assert_eq!(t, n),
            None => assert!(!total_known, "{u:?}"),
        }
    }
    assert_eq!(before, n);
}

/// Whether the hook has seen task `i`.
fn reported(seen: &Mutex<Vec<ProgressUpdate>>, i: usize) -> bool {
    seen.lock().unwrap().iter().any(|u| u.tasks.contains(&i))
}

#[test]
fn map_starmap_and_imap_report_every_task_once() {
    deadline(120, "progress", || {
        let pool = Pool::with_processes(2).unwrap();
        // map, Python's chunking (several tasks per chunk).
        let (opts, seen) = recorder();
        let got = pool
            .map_async_opts(double, 0..100u64, None, Callbacks::new(), opts)
            .unwrap()
            .get()
            .unwrap();
        assert_eq!(got, (0..100).map(|x| x * 2).collect::<Vec<_>>());
        assert_each_once(&seen, 100, true);

        // starmap with an explicit chunk size.
        let (opts, seen) = recorder();
        let args: Vec<(u64, u64)> = (0..30).map(|x| (x, 1)).collect();
        let got = pool
            .starmap_async_opts(add, args, Some(4), Callbacks::new(), opts)
            .unwrap()
            .get()
            .unwrap();
        assert_eq!(got, (1..31).collect::<Vec<u64>>());
        assert_each_once(&seen, 30, true);

        // imap: each result is reported before the iterator yields it.
        let (opts, seen) = recorder();
        let it = pool.imap_opts(double, 0..40u64, 3, opts).unwrap();
        for (i, r) in it.enumerate() {
            assert_eq!(r.unwrap(), 2 * i as u64);
            assert!(reported(&seen, i), "task {i}");
        }
        assert_each_once(&seen, 40, true);

        // imap_unordered, chunk size 1.
        let (opts, seen) = recorder();
        let it = pool.imap_unordered_opts(double, 0..50u64, 1, opts).unwrap();
        for r in it {
            let i = (r.unwrap() / 2) as usize;
            assert!(reported(&seen, i), "task {i}");
        }
        assert_each_once(&seen, 50, true);
        pool.close();
        pool.join().unwrap();
    });
}

#[test]
fn an_apply_reports_its_task_though_nobody_waits_for_it() {
    deadline(60, "apply progress", || {
        let pool = Pool::with_processes(1).unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let opts = TaskOptions::new().on_progress(move |u| {
            let _ = tx.send(u);
        });
        let r = pool
            .apply_async_opts(add, (2, 3), Callbacks::new(), opts)
            .unwrap();
        let u = rx
            .recv_timeout(std::time::Duration::from_secs(30))
            .expect("the hook runs without a waiter");
        assert_eq!((u.done, u.total, u.tasks), (1, Some(1), 0..1));
        assert_eq!(r.get().unwrap(), 5);
        assert!(rx.try_recv().is_err(), "reported once");
    });
}

#[test]
fn failed_tasks_are_reported_too() {
    deadline(120, "progress with a failure", || {
        let pool = Pool::with_processes(2).unwrap();
        let (opts, seen) = recorder();
        let r = pool
            .map_async_opts(fails_at_five, 0..20u64, Some(3), Callbacks::new(), opts)
            .unwrap()
            .get();
        assert!(matches!(r, Err(PoolError::Task(_))), "{r:?}");
        assert_each_once(&seen, 20, true);
    });
}

#[test]
fn a_buffered_imap_learns_its_total_at_the_end_of_its_input() {
    deadline(120, "buffered progress", || {
        let pool = Pool::with_processes(2).unwrap();
        let (opts, seen) = recorder();
        let got: Vec<u64> = pool
            .imap_buffered_opts(double, 0..25u64, 2, 3, opts)
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(got, (0..25).map(|x| x * 2).collect::<Vec<_>>());
        assert_each_once(&seen, 25, false);
        // The first tasks finished before the input was read to its end.
        let first = seen.lock().unwrap().iter().find(|u| u.done == 2).cloned();
        assert_eq!(first.map(|u| u.total), Some(None));
    });
}

#[test]
fn a_thread_pool_reports_every_task_once_and_refuses_a_timeout() {
    deadline(60, "thread pool progress", || {
        let pool = ThreadPool::with_threads(3).unwrap();
        let (opts, seen) = recorder();
        let got = pool
            .map_async_opts(|x: u64| x + 1, 0..200u64, Some(7), Callbacks::new(), opts)
            .unwrap()
            .get()
            .unwrap();
        assert_eq!(got.len(), 200);
        assert_each_once(&seen, 200, true);

        let (opts, seen) = recorder();
        let it = pool.imap_opts(|x: u64| x, 0..33u64, 2, opts).unwrap();
        for (i, r) in it.enumerate() {
            assert_eq!(r.unwrap(), i as u64);
            assert!(reported(&seen, i), "task {i}");
        }
        assert_each_once(&seen, 33, true);

        let (opts, seen) = recorder();
        let n = pool
            .imap_unordered_opts(|x: u64| x, 0..10u64, 1, opts)
            .unwrap()
            .count();
        assert_eq!(n, 10);
        assert_each_once(&seen, 10, true);

        let (opts, seen) = recorder();
        let got = pool
            .starmap_async_opts(
                |a: u64, b: u64| a * b,
                vec![(2, 3), (4, 5)],
                None,
                Callbacks::new(),
                opts,
            )
            .unwrap()
            .get()
            .unwrap();
        assert_eq!(got, vec![6, 20]);
        assert_each_once(&seen, 2, true);

        let timed = TaskOptions::new().timeout(std::time::Duration::from_secs(1));
        let r = pool.map_async_opts(|x: u64| x, 0..3u64, None, Callbacks::new(), timed);
        assert!(matches!(r, Err(PoolError::Unsupported(_))), "{r:?}");
    });
}
