//! `as_completed` and `wait` (issue 14, item 3): results come out in the
//! order they complete, and `wait` returns when its condition holds. Tasks
//! finish when the test opens their gate (a file), so the order is the
//! test's, not the clock's.

mod common;
use std::time::Duration;

use common::deadline;
use mp_pool::{as_completed, wait, AsyncResult, Pool, ReturnWhen, ThreadPool};

/// Waits (bounded) until the file `gate` exists, then returns `x`; `x == 99`
/// panics at once.
fn gated(x: u64, gate: String) -> u64 {
    assert_ne!(x, 99, "task 99 fails");
    for _ in 0..3000 {
        if std::fs::metadata(&gate).is_ok() {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    x
}

struct Gates(Vec<String>);

impl Gates {
    fn new(name: &str, n: usize) -> Gates {
        let dir = std::env::temp_dir();
        Gates(
            (0..n)
                .map(|i| {
                    let p = dir.join(format!("mp-pool-futures-{name}-{}-{i}", std::process::id()));
                    let _ = std::fs::remove_file(&p);
                    p.to_string_lossy().into_owned()
                })
                .collect(),
        )
    }

    fn open(&self, i: usize) {
        std::fs::write(&self.0[i], b"1").unwrap();
    }
}

impl Drop for Gates {
    fn drop(&mut self) {
        for g in &self.0 {
            let _ = std::fs::remove_file(g);
        }
    }
}

fn submit(pool: &Pool, gates: &Gates, tasks: &[u64]) -> Vec<AsyncResult<u64>> {
    tasks
        .iter()
        .enumerate()
        .map(|(i, &x)| pool.apply_async(gated, (x, gates.0[i].clone())).unwrap())
        .collect()
}

#[test]
fn as_completed_yields_in_completion_order() {
    deadline(120, "as_completed", || {
        let pool = Pool::with_processes(3).unwrap();
        let gates = Gates::new("order", 3);
        let mut it = as_completed(submit(&pool, &gates, &[0, 1, 2]));
        assert_eq!(it.size_hint(), (3, Some(3)));
        for i in [2, 0, 1] {
            gates.open(i);
            assert_eq!(it.next().unwrap().get().unwrap(), i as u64);
        }
        assert!(it.next().is_none());
        // Results ready before the call come out too.
        let done = pool.apply_async(gated, (7, gates.0[0].clone())).unwrap();
        done.wait();
        let got: Vec<u64> = as_completed([done]).map(|r| r.get().unwrap()).collect();
        assert_eq!(got, vec![7]);
    });
}

#[test]
fn as_completed_times_out_and_stays_usable() {
    deadline(120, "as_completed timeout", || {
        let pool = Pool::with_processes(1).unwrap();
        let gates = Gates::new("timeout", 1);
        let mut it = as_completed(submit(&pool, &gates, &[5]));
        assert!(matches!(
            it.next_timeout(Duration::from_millis(50)),
            Some(Err(mp_pool::PoolError::Timeout))
        ));
        gates.open(0);
        let r = it.next_timeout(Duration::from_secs(60)).unwrap().unwrap();
        assert_eq!(r.get().unwrap(), 5);
        assert!(it.next_timeout(Duration::from_secs(1)).is_none());
    });
}

#[test]
fn wait_returns_when_its_condition_holds() {
    deadline(120, "wait", || {
        let pool = Pool::with_processes(3).unwrap();
        let gates = Gates::new("wait", 3);
        let results = submit(&pool, &gates, &[0, 1, 99]);
        // Task 99 fails at once: the first error.
        let w = wait(&results, ReturnWhen::FirstError, None);
        assert_eq!((w.done, w.not_done), (vec![2], vec![0, 1]));
        // Nothing else completes while the gates are shut.
        let w = wait(
            &results[..2],
            ReturnWhen::FirstCompleted,
            Some(Duration::from_millis(50)),
        );
        assert_eq!((w.done, w.not_done), (vec![], vec![0, 1]));
        gates.open(1);
        let w = wait(&results[..2], ReturnWhen::FirstCompleted, None);
        assert_eq!((w.done, w.not_done), (vec![1], vec![0]));
        gates.open(0);
        let w = wait(&results, ReturnWhen::AllCompleted, None);
        assert_eq!((w.done, w.not_done), (vec![0, 1, 2], vec![]));
        let values: Vec<_> = results.into_iter().map(|r| r.get().ok()).collect();
        assert_eq!(values, vec![Some(0), Some(1), None]);
    });
}

#[test]
fn thread_pool_results_work_too() {
    deadline(120, "thread pool", || {
        let pool = ThreadPool::with_threads(2).unwrap();
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let rx = std::sync::Mutex::new(rx);
        let slow = pool
            .apply_async(
                move || {
                    let _ = rx.lock().unwrap().recv();
                    1u64
                },
                (),
            )
            .unwrap();
        let fast = pool.apply_async(|| 2u64, ()).unwrap();
        let mut it = as_completed(vec![slow, fast]);
        assert_eq!(it.next().unwrap().get().unwrap(), 2);
        tx.send(()).unwrap();
        assert_eq!(it.next().unwrap().get().unwrap(), 1);
    });
}
