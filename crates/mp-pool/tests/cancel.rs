//! Cancellation (issue 14, item 2): a cancelled task that has not started
//! never runs; a running one finishes (its result dropped) unless the
//! caller asks for a kill, which frees its worker; the result reports
//! `TaskError::Cancelled`.

mod common;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::{deadline, read_lines, report, report_pipe};
use mp_pool::{Callbacks, Pool, PoolError, TaskError};
use mp_wire::SharedFd;

/// Reports `x` when it starts, then waits (bounded) until `gate` exists.
fn gated(x: u64, gate: String, out: SharedFd) -> u64 {
    report(&out, &x.to_string());
    for _ in 0..3000 {
        if std::fs::metadata(&gate).is_ok() {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    x
}

/// Reports `x` when it starts, then never ends.
fn forever(x: u64, out: SharedFd) -> u64 {
    report(&out, &x.to_string());
    loop {
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn double(x: u64) -> u64 {
    x * 2
}

fn gate_path(name: &str) -> String {
    let dir = std::env::temp_dir();
    let p = dir.join(format!("mp-pool-cancel-{name}-{}", std::process::id()));
    let _ = std::fs::remove_file(&p);
    p.to_string_lossy().into_owned()
}

fn is_cancelled<T: std::fmt::Debug>(r: Result<T, PoolError>) -> bool {
    matches!(r, Err(PoolError::Task(TaskError::Cancelled)))
}

#[test]
fn a_cancelled_queued_task_never_runs() {
    deadline(120, "cancel queued", || {
        let pool = Pool::with_processes(1).unwrap();
        let (read, write) = report_pipe();
        let gate = gate_path("queued");
        let busy = pool
            .apply_async(gated, (0, gate.clone(), write.try_clone().unwrap()))
            .unwrap();
        // The worker is busy with task 0: the next ones wait in the queue.
        assert_eq!(read_lines(&read, 1, 30), vec!["0"]);
        let errors = Arc::new(AtomicUsize::new(0));
        let seen = errors.clone();
        let queued = pool
            .apply_async_with(
                gated,
                (1, gate.clone(), write.try_clone().unwrap()),
                Callbacks::new().error_callback(move |e| {
                    assert_eq!(*e, TaskError::Cancelled);
                    seen.fetch_add(1, Ordering::SeqCst);
                }),
            )
            .unwrap();
        let map = pool.map_async(double, 0..100, Some(10)).unwrap();
        let after = pool
            .apply_async(gated, (2, gate.clone(), write.try_clone().unwrap()))
            .unwrap();
        assert!(queued.cancel());
        assert!(map.cancel());
        assert!(!queued.cancel(), "cancelling twice changes nothing");
        assert_eq!(
            errors.load(Ordering::SeqCst),
            1,
            "the error callback ran once"
        );
        assert!(queued.ready());
        assert!(is_cancelled(queued.get()));
        assert!(is_cancelled(map.get()));
        std::fs::write(&gate, b"1").unwrap();
        assert_eq!(busy.get().unwrap(), 0);
        assert_eq!(after.get().unwrap(), 2);
        assert!(!busy_cancel_after_done(&pool));
        drop(write);
        pool.close();
        pool.join().unwrap();
        let mut lines = read_lines(&read, usize::MAX, 30);
        lines.sort();
        assert_eq!(lines, vec!["2"], "task 1 never ran");
        let _ = std::fs::remove_file(&gate);
    });
}

/// Cancelling a completed call returns `false` and keeps its result.
fn busy_cancel_after_done(pool: &Pool) -> bool {
    let r = pool.apply_async(double, (4,)).unwrap();
    r.wait();
    let cancelled = r.cancel();
    assert_eq!(r.get().unwrap(), 8);
    cancelled
}

#[test]
fn cancel_and_kill_frees_the_worker_of_a_running_task() {
    deadline(120, "cancel and kill", || {
        let pool = Pool::with_processes(1).unwrap();
        let (read, write) = report_pipe();
        let r = pool.apply_async(forever, (7, write)).unwrap();
        assert_eq!(read_lines(&read, 1, 30), vec!["7"]);
        assert!(r.cancel_and_kill());
        assert!(is_cancelled(r.get()));
        // The only worker was stopped; its replacement runs the next task.
        assert_eq!(pool.apply(double, (21,)).unwrap(), 42);
        assert_eq!(pool.map(double, 0..10u64).unwrap().len(), 10);
    });
}

#[test]
fn a_cancelled_running_task_finishes_and_its_result_is_dropped() {
    deadline(120, "cancel running", || {
        let pool = Pool::with_processes(1).unwrap();
        let (read, write) = report_pipe();
        let gate = gate_path("running");
        let r = pool
            .apply_async(gated, (3, gate.clone(), write.try_clone().unwrap()))
            .unwrap();
        assert_eq!(read_lines(&read, 1, 30), vec!["3"]);
        assert!(r.cancel());
        assert!(is_cancelled(r.get()));
        std::fs::write(&gate, b"1").unwrap();
        // The same worker (not stopped) runs the next task after it.
        let next = pool
            .apply(gated, (4, gate.clone(), write.try_clone().unwrap()))
            .unwrap();
        assert_eq!(next, 4);
        drop(write);
        pool.close();
        pool.join().unwrap();
        assert_eq!(read_lines(&read, usize::MAX, 30), vec!["4"]);
        let _ = std::fs::remove_file(&gate);
    });
}

/// Reports `x` when it starts.
fn noted(x: u64, out: SharedFd) -> u64 {
    report(&out, &x.to_string());
    x
}

#[test]
fn dropping_or_cancelling_an_imap_ends_its_job() {
    deadline(120, "imap cancel", || {
        let pool = Pool::with_processes(1).unwrap();
        let (read, write) = report_pipe();
        let gate = gate_path("imap");
        let busy = pool
            .apply_async(gated, (100, gate.clone(), write.try_clone().unwrap()))
            .unwrap();
        assert_eq!(read_lines(&read, 1, 30), vec!["100"]);
        let args = |from: u64| -> Vec<(u64, SharedFd)> {
            (from..from + 20)
                .map(|x| (x, write.try_clone().unwrap()))
                .collect()
        };
        // Dropped before any of its tasks ran: none runs.
        drop(pool.imap(|(x, out)| noted(x, out), args(0)).unwrap());
        let mut it = pool
            .imap_unordered(|(x, out)| noted(x, out), args(20))
            .unwrap();
        assert!(it.cancel());
        assert!(matches!(
            it.next(),
            Some(Err(PoolError::Task(TaskError::Cancelled)))
        ));
        assert!(it.next().is_none());
        assert!(!it.cancel(), "already cancelled");
        // A buffered imap stops reading its input too.
        drop(
            pool.imap_buffered(|(x, out)| noted(x, out), args(40), 1, 2)
                .unwrap(),
        );
        std::fs::write(&gate, b"1").unwrap();
        assert_eq!(busy.get().unwrap(), 100);
        // An imap taken to its end is unaffected.
        let all: Vec<u64> = pool
            .imap(|(x, out)| noted(x, out), args(60))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(all, (60..80).collect::<Vec<_>>());
        drop(write);
        pool.close();
        pool.join().unwrap();
        let mut lines: Vec<u64> = read_lines(&read, usize::MAX, 30)
            .iter()
            .map(|l| l.parse().unwrap())
            .collect();
        lines.sort_unstable();
        assert_eq!(
            lines,
            (60..80).collect::<Vec<_>>(),
            "cancelled tasks never ran"
        );
        let _ = std::fs::remove_file(&gate);
    });
}
