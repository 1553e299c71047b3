//! Per-task timeouts (issue 14, item 1): a task that runs for ever is
//! stopped with its worker and fails with `TaskError::Timeout` naming it; a
//! replacement worker starts and every other task — those of its chunk
//! included — still delivers its result.

mod common;
use std::time::Duration;

use common::{deadline, read_lines, report, report_pipe};
use mp_pool::{Callbacks, Pool, PoolError, TaskError, TaskOptions, ThreadPool};
use mp_wire::SharedFd;

const LIMIT: Duration = Duration::from_millis(300);

/// Reports that it started; task `k` then never ends.
fn stuck_at(x: u64, k: u64, out: SharedFd) -> u64 {
    report(&out, &x.to_string());
    if x == k {
        loop {
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    x * 2
}

fn pid(_: u64) -> u32 {
    std::process::id()
}

/// How many times each of the `n` tasks reported that it started (reads
/// until every writer is gone).
fn runs(read: &std::os::fd::OwnedFd, n: usize) -> Vec<usize> {
    let mut count = vec![0; n];
    for line in read_lines(read, usize::MAX, 30) {
        count[line.parse::<usize>().unwrap()] += 1;
    }
    count
}

#[test]
fn a_stuck_task_in_a_chunk_fails_alone_and_the_rest_finish() {
    deadline(120, "imap timeout", || {
        let pool = Pool::builder()
            .processes(2)
            .task_timeout(LIMIT)
            .build()
            .unwrap();
        let (read, write) = report_pipe();
        let args: Vec<(u64, u64, SharedFd)> = (0..40)
            .map(|x| (x, 13, write.try_clone().unwrap()))
            .collect();
        drop(write);
        // Python's default chunking for 40 tasks on 2 workers: chunks of 5,
        // so task 13 is the fourth of the chunk 10..15.
        let chunksize = mp_pool::default_chunksize(40, 2);
        assert_eq!(chunksize, 5);
        let got: Vec<_> = pool
            .imap_opts(
                |(x, k, out): (u64, u64, SharedFd)| stuck_at(x, k, out),
                args,
                chunksize,
                TaskOptions::new(),
            )
            .unwrap()
            .collect();
        assert_eq!(got.len(), 40);
        for (x, r) in got.into_iter().enumerate() {
            if x == 13 {
                match r {
                    Err(PoolError::Task(TaskError::Timeout { task, timeout })) => {
                        assert_eq!((task, timeout), (13, LIMIT));
                    }
                    other => panic!("task 13: {other:?}"),
                }
            } else {
                assert_eq!(r.unwrap(), 2 * x as u64, "task {x}");
            }
        }
        pool.close();
        pool.join().unwrap();
        let count = runs(&read, 40);
        for (x, n) in count.iter().enumerate() {
            match x {
                // Ran before the stuck task in its chunk: run again, their
                // results died with the worker.
                10..=12 => assert_eq!(*n, 2, "task {x}"),
                _ => assert_eq!(*n, 1, "task {x}"),
            }
        }
    });
}

#[test]
fn a_map_with_a_stuck_task_reports_its_timeout() {
    deadline(120, "map timeout", || {
        let pool = Pool::builder()
            .processes(2)
            .task_timeout(LIMIT)
            .build()
            .unwrap();
        let (_read, write) = report_pipe();
        let args: Vec<(u64, u64, SharedFd)> = (0..40)
            .map(|x| (x, 21, write.try_clone().unwrap()))
            .collect();
        let err = pool.starmap(stuck_at, args).unwrap_err();
        match err {
            PoolError::Task(TaskError::Timeout { task, timeout }) => {
                assert_eq!((task, timeout), (21, LIMIT));
            }
            other => panic!("{other:?}"),
        }
        // The pool carries on with a replacement worker.
        let pids = pool.map(pid, 0..8).unwrap();
        assert_eq!(pids.len(), 8);
    });
}

#[test]
fn apply_with_a_timeout_stops_the_worker_and_a_replacement_runs_the_next() {
    deadline(120, "apply timeout", || {
        let pool = Pool::with_processes(1).unwrap();
        let (_read, write) = report_pipe();
        let before = pool.apply(pid, (0,)).unwrap();
        let r = pool
            .apply_async_opts(
                stuck_at,
                (5, 5, write.try_clone().unwrap()),
                Callbacks::new(),
                TaskOptions::new().timeout(LIMIT),
            )
            .unwrap();
        match r.get() {
            Err(PoolError::Task(TaskError::Timeout { task, timeout })) => {
                assert_eq!((task, timeout), (0, LIMIT));
            }
            other => panic!("{other:?}"),
        }
        let after = pool.apply(pid, (0,)).unwrap();
        assert_ne!(before, after, "a replacement worker runs the next task");
        // Without a limit, a slow task is left alone.
        assert_eq!(pool.apply(stuck_at, (4, 5, write)).unwrap(), 8);
    });
}

fn sleepy(ms: u64) -> u64 {
    std::thread::sleep(Duration::from_millis(ms));
    ms
}

#[test]
fn no_timeout_overrides_the_pools_default() {
    deadline(120, "no_timeout", || {
        let pool = Pool::builder()
            .processes(1)
            .task_timeout(Duration::from_millis(50))
            .build()
            .unwrap();
        let r = pool
            .map_async_opts(
                sleepy,
                [200, 1],
                Some(1),
                Callbacks::new(),
                TaskOptions::new().no_timeout(),
            )
            .unwrap();
        assert_eq!(r.get().unwrap(), vec![200, 1]);
        let err = pool.apply(sleepy, (5_000,)).unwrap_err();
        assert!(
            matches!(err, PoolError::Task(TaskError::Timeout { task: 0, .. })),
            "{err:?}"
        );
    });
}

#[test]
fn zero_timeouts_and_thread_pool_kill_timeouts_are_refused() {
    let err = Pool::builder()
        .processes(1)
        .task_timeout(Duration::ZERO)
        .build()
        .unwrap_err();
    assert!(matches!(err, PoolError::InvalidArgument(_)), "{err:?}");
    let err = ThreadPool::builder()
        .task_timeout(LIMIT)
        .build()
        .unwrap_err();
    assert!(matches!(err, PoolError::Unsupported(_)), "{err}");
    let pool = Pool::with_processes(1).unwrap();
    let err = pool
        .apply_async_opts(
            pid,
            (0,),
            Callbacks::new(),
            TaskOptions::new().timeout(Duration::ZERO),
        )
        .unwrap_err();
    assert!(matches!(err, PoolError::InvalidArgument(_)), "{err:?}");
}

#[test]
fn the_limit_is_per_task_not_per_chunk() {
    deadline(120, "per task", || {
        let pool = Pool::builder()
            .processes(1)
            .task_timeout(Duration::from_secs(1))
            .build()
            .unwrap();
        // One chunk of 30 tasks of 50 ms: the chunk runs 1.5 s, each task
        // far less than its limit.
        let got = pool.map_chunked(sleepy, vec![50; 30], 30).unwrap();
        assert_eq!(got, vec![50; 30]);
    });
}
