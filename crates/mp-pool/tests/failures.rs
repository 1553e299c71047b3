//! Failures: a panic in a task, map's first error after all tasks finished,
//! a worker killed by SIGKILL or aborting mid-task (its task fails naming the
//! signal; everything else completes; the pool stays usable), retries.

mod common;
use std::time::Duration;

use common::{deadline, read_lines, report, report_pipe};
use mp_pool::{Pool, PoolError, TaskError};
use mp_wire::SharedFd;

fn boom(x: u64) -> u64 {
    if x == 3 {
        panic!("bad item {x}");
    }
    x
}

fn double(x: u64) -> u64 {
    x * 2
}

/// Item 5 panics at once; every item reports when it is done.
fn slow_or_fail(i: u64, out: SharedFd) -> u64 {
    if i == 5 {
        panic!("item five fails");
    }
    std::thread::sleep(Duration::from_millis(30));
    report(&out, &i.to_string());
    i
}

fn kill_self(x: u64) -> u64 {
    if x == 2 {
        mp_sys::process::kill(std::process::id(), 9).unwrap();
        std::thread::sleep(Duration::from_secs(10));
    }
    std::thread::sleep(Duration::from_millis(20));
    x
}

fn abort_self(x: u64) -> u64 {
    if x == 1 {
        std::process::abort();
    }
    x
}

/// Dies (SIGKILL) the first time it sees `marker` missing, then succeeds.
fn die_once(marker: String) -> u32 {
    if std::fs::metadata(&marker).is_err() {
        std::fs::write(&marker, b"1").unwrap();
        mp_sys::process::kill(std::process::id(), 9).unwrap();
    }
    7
}

#[test]
fn a_panic_is_that_tasks_error() {
    deadline(60, "panic", || {
        let pool = Pool::with_processes(2).unwrap();
        let r = pool.apply_async(boom, (3,)).unwrap();
        match r.get() {
            Err(PoolError::Task(TaskError::Panic { message, location })) => {
                assert_eq!(message, "bad item 3");
                assert!(location.contains("failures.rs"), "{location}");
            }
            other => panic!("unexpected {other:?}"),
        }
        // imap: the error sits at its position, the rest continue.
        let got: Vec<Result<u64, PoolError>> = pool.imap(boom, 0..6u64).unwrap().collect();
        assert_eq!(got.len(), 6);
        assert!(got[3].is_err());
        assert_eq!(got.iter().filter(|r| r.is_ok()).count(), 5);
        assert_eq!(pool.map(double, 0..4u64).unwrap(), vec![0, 2, 4, 6]);
    });
}

#[test]
fn map_reports_the_first_error_after_all_tasks_finished() {
    deadline(60, "map error", || {
        let pool = Pool::with_processes(2).unwrap();
        let (read, write) = report_pipe();
        let args: Vec<(u64, SharedFd)> = (0..10).map(|i| (i, write.try_clone().unwrap())).collect();
        let err = pool
            .starmap_async(slow_or_fail, args, Some(1))
            .unwrap()
            .get()
            .unwrap_err();
        assert!(err.to_string().contains("item five fails"), "{err}");
        // Every other task had already reported by the time map returned.
        let lines = read_lines(&read, 9, 0);
        assert_eq!(lines.len(), 9, "{lines:?}");
    });
}

#[test]
fn a_killed_worker_fails_only_its_task() {
    deadline(90, "SIGKILL", || {
        let pool = Pool::with_processes(2).unwrap();
        let rs: Vec<_> = (0..8u64)
            .map(|i| pool.apply_async(kill_self, (i,)).unwrap())
            .collect();
        for (i, r) in rs.into_iter().enumerate() {
            let got = r.get();
            if i == 2 {
                let Err(PoolError::Task(e @ TaskError::WorkerDied { .. })) = got else {
                    panic!("task 2: {got:?}");
                };
                assert!(
                    matches!(e, TaskError::WorkerDied { exitcode: -9, .. }),
                    "{e}"
                );
                let text = e.to_string();
                assert!(
                    text.contains("SIGKILL") && text.contains("PoolWorker-"),
                    "{text}"
                );
            } else {
                assert_eq!(got.unwrap(), i as u64);
            }
        }
        // The same through map: map fails with the death; the pool stays usable.
        let err = pool.map_chunked(kill_self, 0..6u64, 1).unwrap_err();
        assert!(err.to_string().contains("SIGKILL"), "{err}");
        assert_eq!(pool.map(double, 0..100u64).unwrap().len(), 100);
        assert_eq!(pool.live_workers(), 2);
    });
}

#[test]
fn an_aborting_worker_reports_sigabrt() {
    deadline(60, "abort", || {
        let pool = Pool::with_processes(2).unwrap();
        let got: Vec<Result<u64, PoolError>> = pool.imap(abort_self, 0..4u64).unwrap().collect();
        assert_eq!(got.len(), 4);
        let err = got[1].as_ref().unwrap_err().to_string();
        assert!(err.contains("SIGABRT"), "{err}");
        assert_eq!(got.iter().filter(|r| r.is_ok()).count(), 3);
    });
}

#[test]
fn retries_rerun_a_task_whose_worker_died() {
    deadline(60, "retries", || {
        let marker = std::env::temp_dir().join(format!("mp-pool-retry-{}", std::process::id()));
        let _ = std::fs::remove_file(&marker);
        let pool = Pool::builder().processes(1).retries(1).build().unwrap();
        let marker_s = marker.to_string_lossy().into_owned();
        assert_eq!(pool.apply(die_once, (marker_s,)).unwrap(), 7);
        let _ = std::fs::remove_file(&marker);
    });
}
