//! `ProcessPoolExecutor` (issue 14, item 3): `concurrent.futures`' shape on
//! the pool — futures with `result`/`exception`/`done`/`running`/`cancel`/
//! done callbacks, `map` with a deadline, `shutdown(wait, cancel_futures)`,
//! drop waiting like `with`, `max_tasks_per_child`, the initializer, and a
//! dead worker healing the pool or breaking the executor as the user chose.
//! Tasks wait on gates (files) the test opens, so no assertion depends on
//! the clock.

mod common;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{deadline, gated, read_lines, report_pipe, Gate};
use mp_pool::{
    as_completed, wait, BrokenPolicy, PoolError, ProcessPoolExecutor, ReturnWhen, TaskError,
};
use mp_wire::SharedFd;

fn square(x: u64) -> u64 {
    assert_ne!(x, 13, "13 is unlucky");
    x * x
}

fn pid() -> u32 {
    std::process::id()
}

/// Ends its worker with exit code 7.
fn die() -> u64 {
    mp_process::exit(7);
}

static INIT: AtomicU64 = AtomicU64::new(0);

fn init(v: u64) {
    INIT.store(v, Ordering::SeqCst);
}

fn read_init() -> u64 {
    INIT.load(Ordering::SeqCst)
}

fn failing_init() {
    panic!("the initializer fails");
}

fn is_cancelled<T: std::fmt::Debug>(r: Result<T, PoolError>) -> bool {
    matches!(r, Err(PoolError::Task(TaskError::Cancelled)))
}

#[test]
fn futures_report_their_state_and_run_done_callbacks() {
    deadline(120, "future state", || {
        let ex = ProcessPoolExecutor::with_max_workers(1).unwrap();
        let (read, write) = report_pipe();
        let gate = Gate::new("exec-state");
        let busy = ex
            .submit(gated, (1, gate.0.clone(), write.try_clone().unwrap()))
            .unwrap();
        assert_eq!(read_lines(&read, 1, 30), vec!["1"]);
        // The one worker holds task 1: it runs; the next one waits.
        assert!(busy.running());
        let queued = ex
            .submit(gated, (2, gate.0.clone(), write.try_clone().unwrap()))
            .unwrap();
        assert!(!queued.running() && !queued.done());
        let calls = Arc::new(Mutex::new(Vec::new()));
        for tag in ["first", "second"] {
            let calls = calls.clone();
            queued.add_done_callback(move |f| {
                assert!(f.done());
                calls
                    .lock()
                    .unwrap()
                    .push((tag, f.exception(None).unwrap()));
            });
        }
        assert!(calls.lock().unwrap().is_empty());
        assert!(matches!(
            busy.exception(Some(Duration::from_millis(20))),
            Err(PoolError::Timeout)
        ));
        gate.open();
        assert_eq!(busy.exception(None).unwrap(), None);
        assert!(busy.done() && !busy.running() && !busy.cancelled());
        assert!(!busy.cancel(), "a finished task cannot be cancelled");
        assert_eq!(busy.result_timeout(Duration::from_secs(60)).unwrap(), 1);
        assert!(matches!(busy.result(), Err(PoolError::Taken)));
        assert_eq!(queued.result().unwrap(), 2);
        // As in Python, the thread that completes the future wakes its
        // waiters first and runs the callbacks after: `result()` may
        // return before they have run (seen once in CI under forkserver).
        let ran = |calls: &Mutex<Vec<_>>| calls.lock().unwrap().len();
        let until = std::time::Instant::now() + Duration::from_secs(30);
        while ran(&calls) < 2 && std::time::Instant::now() < until {
            std::thread::sleep(Duration::from_millis(1));
        }
        assert_eq!(
            *calls.lock().unwrap(),
            vec![("first", None), ("second", None)],
            "each callback ran once, in order"
        );
        // A failed task: its error, without taking anything.
        let bad = ex.submit(square, (13,)).unwrap();
        let e = bad.exception(None).unwrap().unwrap();
        assert!(matches!(e, TaskError::Panic { ref message, .. } if message.contains("unlucky")));
        // A callback added to a done future runs at once.
        let ran = Arc::new(AtomicUsize::new(0));
        let r = ran.clone();
        bad.add_done_callback(move |_| {
            r.fetch_add(1, Ordering::SeqCst);
        });
        assert_eq!(ran.load(Ordering::SeqCst), 1);
        assert!(matches!(
            bad.result(),
            Err(PoolError::Task(TaskError::Panic { .. }))
        ));
    });
}

#[test]
fn cancel_stops_only_a_task_no_worker_holds() {
    deadline(120, "future cancel", || {
        let ex = ProcessPoolExecutor::with_max_workers(1).unwrap();
        let (read, write) = report_pipe();
        let gate = Gate::new("exec-cancel");
        let busy = ex
            .submit(gated, (1, gate.0.clone(), write.try_clone().unwrap()))
            .unwrap();
        assert_eq!(read_lines(&read, 1, 30), vec!["1"]);
        let queued = ex
            .submit(gated, (2, gate.0.clone(), write.try_clone().unwrap()))
            .unwrap();
        assert!(!busy.cancel(), "a running task is not cancelled");
        assert!(!busy.cancelled());
        assert!(queued.cancel());
        assert!(queued.cancel(), "cancelling twice still says cancelled");
        assert!(queued.cancelled() && queued.done());
        assert!(matches!(
            queued.exception(None),
            Err(PoolError::Task(TaskError::Cancelled))
        ));
        assert!(is_cancelled(queued.result()));
        // Beyond Python: a running task can be killed.
        let stuck = ex
            .submit(gated, (3, gate.0.clone(), write.try_clone().unwrap()))
            .unwrap();
        assert!(busy.cancel_and_kill());
        assert!(is_cancelled(busy.result()));
        assert_eq!(read_lines(&read, 1, 30), vec!["3"], "task 2 never ran");
        gate.open();
        assert_eq!(stuck.result().unwrap(), 3);
    });
}

#[test]
fn map_keeps_order_and_gives_up_at_its_deadline() {
    deadline(120, "executor map", || {
        let ex = ProcessPoolExecutor::with_max_workers(2).unwrap();
        let got: Vec<u64> = ex
            .map(square, 0..10, None, 3)
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(got, (0..10).map(|x| x * x).collect::<Vec<_>>());
        // A task's failure is its item; the rest still come.
        let items: Vec<Result<u64, PoolError>> = ex.map(square, 12..15, None, 1).unwrap().collect();
        assert_eq!(items.len(), 3);
        assert_eq!(items[0].as_ref().unwrap(), &144);
        assert!(matches!(
            items[1],
            Err(PoolError::Task(TaskError::Panic { .. }))
        ));
        assert_eq!(items[2].as_ref().unwrap(), &196);
        assert!(matches!(
            ex.map(square, 0..1, None, 0),
            Err(PoolError::InvalidArgument(_))
        ));
        // Both workers wait on a shut gate: the map's deadline passes, and
        // the timeout ends the iteration.
        let (read, write) = report_pipe();
        let gate = Gate::new("exec-map");
        let args: Vec<(u64, String, SharedFd)> = (0..6)
            .map(|x| (x, gate.0.clone(), write.try_clone().unwrap()))
            .collect();
        let busy = ex.pool().starmap_async(gated, args, Some(1)).unwrap();
        let mut it = ex
            .map(square, 20..22, Some(Duration::from_millis(50)), 1)
            .unwrap();
        assert!(matches!(it.next(), Some(Err(PoolError::Timeout))));
        assert!(it.next().is_none(), "a timeout ends the iteration");
        gate.open();
        assert_eq!(busy.get().unwrap(), (0..6).collect::<Vec<u64>>());
        drop(read);
    });
}

#[test]
fn shutdown_cancels_what_has_not_started_and_drop_waits() {
    deadline(120, "shutdown", || {
        let ex = ProcessPoolExecutor::with_max_workers(1).unwrap();
        let (read, write) = report_pipe();
        let gate = Gate::new("exec-shutdown");
        let busy = ex
            .submit(gated, (1, gate.0.clone(), write.try_clone().unwrap()))
            .unwrap();
        assert_eq!(read_lines(&read, 1, 30), vec!["1"]);
        let queued: Vec<_> = (2..5)
            .map(|x| {
                ex.submit(gated, (x, gate.0.clone(), write.try_clone().unwrap()))
                    .unwrap()
            })
            .collect();
        ex.shutdown(false, true);
        assert!(matches!(
            ex.submit(square, (2,)),
            Err(PoolError::NotRunning)
        ));
        for f in queued {
            assert!(is_cancelled(f.result()));
        }
        gate.open();
        ex.shutdown(true, false);
        assert_eq!(busy.result().unwrap(), 1);
        // Every worker has exited: what they wrote is in the pipe (other
        // processes may hold its write end, so no waiting for its end).
        assert_eq!(
            read_lines(&read, 1, 0),
            Vec::<String>::new(),
            "no queued task ran"
        );

        // Dropping the executor waits for every submitted task.
        let ex = ProcessPoolExecutor::with_max_workers(2).unwrap();
        let futures: Vec<_> = (0..8).map(|x| ex.submit(square, (x,)).unwrap()).collect();
        drop(ex);
        for (x, f) in futures.iter().enumerate() {
            assert!(f.done());
            assert_eq!(f.result_timeout(Duration::ZERO).unwrap(), (x * x) as u64);
        }
    });
}

#[test]
fn as_completed_and_wait_take_futures() {
    deadline(120, "futures helpers", || {
        let ex = ProcessPoolExecutor::with_max_workers(2).unwrap();
        let (read, write) = report_pipe();
        let gate = Gate::new("exec-helpers");
        let slow = ex
            .submit(gated, (1, gate.0.clone(), write.try_clone().unwrap()))
            .unwrap();
        assert_eq!(read_lines(&read, 1, 30), vec!["1"]);
        let fast = ex.submit(square, (3,)).unwrap();
        let futures = vec![slow, fast];
        let w = wait(&futures, ReturnWhen::FirstCompleted, None);
        assert_eq!((w.done, w.not_done), (vec![1], vec![0]));
        let mut it = as_completed(futures);
        assert_eq!(it.next().unwrap().result().unwrap(), 9);
        gate.open();
        assert_eq!(it.next().unwrap().result().unwrap(), 1);
        assert!(it.next().is_none());
    });
}

#[test]
fn initializer_and_max_tasks_per_child() {
    deadline(120, "initializer, max_tasks_per_child", || {
        let ex = ProcessPoolExecutor::builder()
            .max_workers(1)
            .initializer(init, (42,))
            .max_tasks_per_child(1)
            // A worker retired after its task is no death: nothing breaks.
            .on_worker_death(BrokenPolicy::Break)
            .build()
            .unwrap();
        assert_eq!(ex.submit(read_init, ()).unwrap().result().unwrap(), 42);
        let pids: Vec<u32> = (0..3)
            .map(|_| ex.submit(pid, ()).unwrap().result().unwrap())
            .collect();
        assert!(
            pids[0] != pids[1] && pids[1] != pids[2] && pids[0] != pids[2],
            "each task ran in a fresh worker: {pids:?}"
        );
        assert!(!ex.is_broken());
    });
}

#[test]
fn a_dead_worker_is_replaced_by_default() {
    deadline(120, "replace policy", || {
        let ex = ProcessPoolExecutor::with_max_workers(2).unwrap();
        let err = ex.submit(die, ()).unwrap().result().unwrap_err();
        assert!(
            matches!(
                err,
                PoolError::Task(TaskError::WorkerDied { exitcode: 7, .. })
            ),
            "{err:?}"
        );
        assert!(!ex.is_broken());
        assert_eq!(ex.submit(square, (4,)).unwrap().result().unwrap(), 16);
    });
}

fn broken_by(e: &PoolError) -> Option<i32> {
    match e {
        PoolError::Task(TaskError::BrokenProcessPool { exitcode, .. }) => Some(*exitcode),
        _ => None,
    }
}

#[test]
fn a_dead_worker_breaks_the_executor_when_asked() {
    deadline(120, "break policy", || {
        let ex = ProcessPoolExecutor::builder()
            .max_workers(2)
            .on_worker_death(BrokenPolicy::Break)
            .build()
            .unwrap();
        let (read, write) = report_pipe();
        let gate = Gate::new("exec-broken");
        let pending = ex
            .submit(gated, (1, gate.0.clone(), write.try_clone().unwrap()))
            .unwrap();
        assert_eq!(read_lines(&read, 1, 30), vec!["1"]);
        let dead = ex.submit(die, ()).unwrap();
        let err = dead.result().unwrap_err();
        assert_eq!(broken_by(&err), Some(7), "{err}");
        assert!(err.to_string().contains("exit code 7"), "{err}");
        // The task still running elsewhere fails the same way, as does
        // every later call.
        let err = pending.result().unwrap_err();
        assert_eq!(broken_by(&err), Some(7), "{err}");
        assert!(ex.is_broken());
        let err = ex.submit(square, (2,)).unwrap_err();
        assert_eq!(broken_by(&err), Some(7), "{err}");
        let err = ex.map(square, 0..2, None, 1).unwrap_err();
        assert_eq!(broken_by(&err), Some(7), "{err}");
        gate.open();
    });
}

#[test]
fn a_failing_initializer_breaks_the_executor() {
    deadline(120, "initializer breaks", || {
        let ex = ProcessPoolExecutor::builder()
            .max_workers(1)
            .initializer(failing_init, ())
            .on_worker_death(BrokenPolicy::Break)
            .build()
            .unwrap();
        let err = ex
            .submit(square, (2,))
            .and_then(|f| f.result())
            .unwrap_err();
        assert_eq!(broken_by(&err), Some(1), "{err}");
    });
}

#[test]
fn a_thread_pool_executor_runs_capturing_closures() {
    deadline(120, "thread executor", || {
        let base = Arc::new(100u64);
        let ex = mp_pool::ThreadPoolExecutor::with_max_workers(2).unwrap();
        let b = base.clone();
        let add = ex.submit(move |x: u64| x + *b, (5,)).unwrap();
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let rx = Mutex::new(rx);
        let slow = ex
            .submit(
                move || {
                    let _ = rx.lock().unwrap().recv();
                    1u64
                },
                (),
            )
            .unwrap();
        assert_eq!(add.result().unwrap(), 105);
        let seen = Arc::new(AtomicUsize::new(0));
        let s = seen.clone();
        slow.add_done_callback(move |f| {
            assert!(f.done());
            s.fetch_add(1, Ordering::SeqCst);
        });
        let mut it = as_completed(vec![slow, ex.submit(|| 2u64, ()).unwrap()]);
        assert_eq!(it.next().unwrap().result().unwrap(), 2);
        tx.send(()).unwrap();
        assert_eq!(it.next().unwrap().result().unwrap(), 1);
        assert_eq!(seen.load(Ordering::SeqCst), 1);
        let b = base.clone();
        let got: Vec<u64> = ex
            .map(move |x: u64| x * *b, 0..5, None, 2)
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(got, vec![0, 100, 200, 300, 400]);
        let panics: Vec<Result<u64, PoolError>> =
            ex.map(square, 12..15, None, 1).unwrap().collect();
        assert!(matches!(
            panics[1],
            Err(PoolError::Task(TaskError::Panic { .. }))
        ));
        ex.shutdown(true, false);
        assert!(matches!(ex.submit(|| 3u64, ()), Err(PoolError::NotRunning)));
    });
}

#[test]
fn a_thread_pool_executor_cancels_what_has_not_started() {
    deadline(120, "thread executor cancel", || {
        let ex = mp_pool::ThreadPoolExecutor::with_max_workers(1).unwrap();
        let (started_tx, started) = std::sync::mpsc::channel::<u64>();
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let rx = Mutex::new(rx);
        let busy = ex
            .submit(
                move || {
                    started_tx.send(1).unwrap();
                    let _ = rx.lock().unwrap().recv();
                    1u64
                },
                (),
            )
            .unwrap();
        assert_eq!(started.recv().unwrap(), 1);
        assert!(busy.running());
        let ran = Arc::new(AtomicUsize::new(0));
        let queued: Vec<_> = (0..3)
            .map(|_| {
                let r = ran.clone();
                ex.submit(
                    move || {
                        r.fetch_add(1, Ordering::SeqCst);
                    },
                    (),
                )
                .unwrap()
            })
            .collect();
        assert!(!queued[0].running());
        assert!(!busy.cancel(), "a running task is not cancelled");
        assert!(queued[0].cancel());
        assert!(queued[0].cancelled());
        ex.shutdown(false, true);
        tx.send(()).unwrap();
        ex.shutdown(true, false);
        assert_eq!(busy.result().unwrap(), 1);
        for f in queued {
            assert!(f.cancelled());
        }
        assert_eq!(ran.load(Ordering::SeqCst), 0, "no cancelled task ran");
    });
}
