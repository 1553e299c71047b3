//! `ThreadPool`: results and their order, callbacks, panics, timeouts, the
//! lifecycle (close, join, terminate, drop) and the initializer.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::sleep;
use std::time::{Duration, Instant};

use common::deadline;
use mp_pool::{Callbacks, PoolError, TaskError, ThreadPool};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn panic_message(e: &PoolError) -> Option<&str> {
    match e {
        PoolError::Task(TaskError::Panic { message, .. }) => Some(message),
        _ => None,
    }
}

#[test]
fn map_starmap_and_apply_keep_input_order() {
    deadline(30, "map order", || {
        let pool = ThreadPool::with_threads(3).unwrap();
        // Earlier items sleep longer, so they finish last.
        let out = pool
            .map(
                |x: u64| {
                    sleep(ms(60 - x * 5));
                    x * x
                },
                0..12,
            )
            .unwrap();
        assert_eq!(out, (0..12).map(|x| x * x).collect::<Vec<u64>>());
        assert_eq!(
            pool.map_chunked(|x: u32| x + 1, 0..10, 3).unwrap(),
            (1..11).collect::<Vec<u32>>()
        );
        let pairs = vec![(1u32, 2u32), (3, 4), (5, 6)];
        assert_eq!(
            pool.starmap(|a: u32, b: u32| a * b, pairs).unwrap(),
            vec![2, 12, 30]
        );
        assert_eq!(pool.apply(|a: u64, b: u64| a + b, (2, 3)).unwrap(), 5);
        assert_eq!(pool.apply(|| "none", ()).unwrap(), "none");
        assert!(pool.map(|x: u8| x, Vec::new()).unwrap().is_empty());
        assert!(matches!(
            pool.map_chunked(|x: u8| x, 0..3, 0),
            Err(PoolError::InvalidArgument(_))
        ));
        assert_eq!(
            pool.to_string(),
            "<multiprocessing.pool.ThreadPool state=RUN pool_size=3>"
        );
    });
}

#[test]
fn imap_yields_in_input_order() {
    deadline(30, "imap order", || {
        let pool = ThreadPool::with_threads(2).unwrap();
        let it = pool
            .imap(
                |x: u32| {
                    if x == 0 {
                        sleep(ms(200));
                    }
                    x * 10
                },
                0..6,
            )
            .unwrap();
        let got: Vec<u32> = it.map(Result::unwrap).collect();
        assert_eq!(got, vec![0, 10, 20, 30, 40, 50]);
        let got: Vec<u32> = pool
            .imap_chunked(|x: u32| x + 1, 0..7, 3)
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(got, (1..8).collect::<Vec<u32>>());
    });
}

#[test]
fn imap_unordered_yields_in_completion_order() {
    deadline(30, "imap_unordered order", || {
        let pool = ThreadPool::with_threads(2).unwrap();
        let mut it = pool
            .imap_unordered(
                |x: u32| {
                    if x == 0 {
                        sleep(ms(500));
                    }
                    x
                },
                0..5,
            )
            .unwrap();
        // Nothing is ready this early for the ordered view, but the fast
        // items come first here.
        let first = it.next_timeout(Duration::from_secs(5)).unwrap().unwrap();
        assert_ne!(first, 0);
        let mut got = vec![first];
        got.extend(it.map(Result::unwrap));
        assert_eq!(got.len(), 5);
        assert_eq!(*got.last().unwrap(), 0, "{got:?}");
        got.sort();
        assert_eq!(got, vec![0, 1, 2, 3, 4]);
    });
}

#[test]
fn imap_reports_a_panic_at_its_position() {
    deadline(30, "imap panic", || {
        let pool = ThreadPool::with_threads(2).unwrap();
        let got: Vec<Result<u32, PoolError>> = pool
            .imap(
                |x: u32| {
                    assert!(x != 2, "two is bad");
                    x
                },
                0..4,
            )
            .unwrap()
            .collect();
        assert_eq!(got.len(), 4);
        assert_eq!(got[1].as_ref().unwrap(), &1);
        assert_eq!(
            panic_message(got[2].as_ref().unwrap_err()),
            Some("two is bad")
        );
        assert_eq!(got[3].as_ref().unwrap(), &3);
    });
}

#[test]
fn callbacks_see_the_value_or_the_panic_on_a_pool_thread() {
    deadline(30, "callbacks", || {
        let pool = ThreadPool::with_threads(2).unwrap();
        let (tx, rx) = mpsc::channel();
        let r = pool
            .apply_async_with(
                |x: u32| x * 2,
                (21,),
                Callbacks::new().callback(move |v: &u32| {
                    let name = std::thread::current().name().map(str::to_string);
                    tx.send((*v, name)).unwrap();
                }),
            )
            .unwrap();
        assert_eq!(r.get().unwrap(), 42);
        let (v, name) = rx.recv_timeout(Duration::from_secs(5)).unwrap();
        assert_eq!(v, 42);
        assert!(
            name.as_deref()
                .unwrap_or("")
                .starts_with("ThreadPoolWorker-"),
            "{name:?}"
        );

        let (etx, erx) = mpsc::channel();
        let r = pool
            .apply_async_with(
                |x: u32| -> u32 { panic!("bad input {x}") },
                (5,),
                Callbacks::new()
                    .callback(|_: &u32| panic!("the success callback must not run"))
                    .error_callback(move |e: &TaskError| etx.send(e.clone()).unwrap()),
            )
            .unwrap();
        let err = r.get().unwrap_err();
        assert_eq!(panic_message(&err), Some("bad input 5"));
        match erx.recv_timeout(Duration::from_secs(5)).unwrap() {
            TaskError::Panic { message, .. } => assert_eq!(message, "bad input 5"),
            other => panic!("unexpected {other:?}"),
        }

        // map_async: one callback with the whole list.
        let (mtx, mrx) = mpsc::channel();
        let r = pool
            .map_async_with(
                |x: u32| x + 1,
                0..5,
                None,
                Callbacks::new().callback(move |v: &Vec<u32>| mtx.send(v.clone()).unwrap()),
            )
            .unwrap();
        assert_eq!(r.get().unwrap(), vec![1, 2, 3, 4, 5]);
        assert_eq!(
            mrx.recv_timeout(Duration::from_secs(5)).unwrap(),
            vec![1, 2, 3, 4, 5]
        );
    });
}

#[test]
fn a_panicking_callback_does_not_wedge_the_pool() {
    deadline(30, "panicking callback", || {
        let pool = ThreadPool::with_threads(1).unwrap();
        let r = pool
            .apply_async_with(
                || 1u8,
                (),
                Callbacks::new().callback(|_: &u8| panic!("callback fails")),
            )
            .unwrap();
        assert_eq!(r.get_timeout(Duration::from_secs(5)).unwrap(), 1);
        // The one thread still serves tasks.
        assert_eq!(pool.map(|x: u8| x * 3, 0..4).unwrap(), vec![0, 3, 6, 9]);
    });
}

#[test]
fn a_panic_is_the_tasks_error_and_map_reports_it_after_all_tasks() {
    deadline(30, "panics", || {
        let pool = ThreadPool::with_threads(2).unwrap();
        let err = pool
            .apply(|x: u32| -> u32 { panic!("boom {x}") }, (7,))
            .unwrap_err();
        assert_eq!(panic_message(&err), Some("boom 7"), "{err:?}");

        let ran = Arc::new(AtomicUsize::new(0));
        let counter = ran.clone();
        let err = pool
            .map_chunked(
                move |x: u32| {
                    if x == 0 {
                        panic!("first fails");
                    }
                    sleep(ms(20));
                    counter.fetch_add(1, Ordering::SeqCst);
                    x
                },
                0..8,
                1,
            )
            .unwrap_err();
        assert_eq!(panic_message(&err), Some("first fails"));
        assert_eq!(ran.load(Ordering::SeqCst), 7, "map returned early");
        // The threads survived the panics.
        assert_eq!(pool.apply(|| 9u8, ()).unwrap(), 9);
    });
}

#[test]
fn get_timeout_times_out_then_succeeds() {
    deadline(30, "get_timeout", || {
        let pool = ThreadPool::with_threads(1).unwrap();
        let r = pool
            .apply_async(
                || {
                    sleep(ms(400));
                    "late"
                },
                (),
            )
            .unwrap();
        assert!(matches!(r.get_timeout(ms(20)), Err(PoolError::Timeout)));
        assert!(!r.ready());
        assert!(matches!(r.successful(), Err(PoolError::NotReady)));
        assert_eq!(r.get_timeout(Duration::from_secs(10)).unwrap(), "late");
        assert!(r.successful().unwrap());
        assert!(matches!(r.get_timeout(ms(1)), Err(PoolError::Taken)));
    });
}

#[test]
fn close_then_join_finishes_queued_work() {
    deadline(30, "close and join", || {
        let pool = ThreadPool::with_threads(2).unwrap();
        assert!(matches!(pool.join(), Err(PoolError::StillRunning)));
        let done = Arc::new(AtomicUsize::new(0));
        let results: Vec<_> = (0..6)
            .map(|_| {
                let d = done.clone();
                pool.apply_async(
                    move || {
                        sleep(ms(30));
                        d.fetch_add(1, Ordering::SeqCst)
                    },
                    (),
                )
                .unwrap()
            })
            .collect();
        pool.close();
        assert!(matches!(
            pool.apply_async(|| 0u8, ()),
            Err(PoolError::NotRunning)
        ));
        assert!(matches!(
            pool.map(|x: u8| x, 0..2),
            Err(PoolError::NotRunning)
        ));
        pool.join().unwrap();
        assert_eq!(done.load(Ordering::SeqCst), 6);
        for r in results {
            assert!(r.ready());
            r.get().unwrap();
        }
        assert!(pool.join_timeout(ms(10)).unwrap());
        assert_eq!(
            pool.to_string(),
            "<multiprocessing.pool.ThreadPool state=CLOSE pool_size=2>"
        );
    });
}

#[test]
fn join_timeout_reports_unfinished_work() {
    deadline(30, "join_timeout", || {
        let pool = ThreadPool::with_threads(1).unwrap();
        let r = pool.apply_async(|| sleep(ms(400)), ()).unwrap();
        pool.close();
        assert!(!pool.join_timeout(ms(20)).unwrap());
        assert!(pool.join_timeout(Duration::from_secs(10)).unwrap());
        r.get().unwrap();
    });
}

#[test]
fn terminate_while_tasks_sleep_fails_pending_results_and_join_returns() {
    deadline(30, "terminate", || {
        let pool = ThreadPool::with_threads(2).unwrap();
        let (started_tx, started_rx) = mpsc::channel();
        let started_tx = Mutex::new(started_tx);
        let results: Vec<_> = (0..5)
            .map(|_| {
                let tx = started_tx.lock().unwrap().clone();
                pool.apply_async(
                    move || {
                        let _ = tx.send(());
                        sleep(Duration::from_secs(8));
                        1u8
                    },
                    (),
                )
                .unwrap()
            })
            .collect();
        let it = pool
            .imap(
                |x: u8| {
                    sleep(Duration::from_secs(8));
                    x
                },
                0..3,
            )
            .unwrap();
        // Both threads are inside a task.
        for _ in 0..2 {
            started_rx.recv_timeout(Duration::from_secs(5)).unwrap();
        }
        let start = Instant::now();
        pool.terminate();
        pool.join().unwrap();
        assert!(
            start.elapsed() < Duration::from_secs(4),
            "terminate and join waited for the sleeping tasks"
        );
        for r in results {
            assert!(matches!(r.get(), Err(PoolError::Terminated)));
        }
        let rest: Vec<_> = it.collect();
        assert_eq!(rest.len(), 1);
        assert!(matches!(rest[0], Err(PoolError::Terminated)));
        assert!(matches!(pool.apply(|| 0u8, ()), Err(PoolError::NotRunning)));
        assert_eq!(
            pool.to_string(),
            "<multiprocessing.pool.ThreadPool state=TERMINATE pool_size=2>"
        );
    });
}

#[test]
fn dropping_the_pool_terminates_it() {
    deadline(30, "drop", || {
        let r = {
            let pool = ThreadPool::with_threads(1).unwrap();
            let _busy = pool.apply_async(|| sleep(ms(300)), ()).unwrap();
            pool.apply_async(|| 5u8, ()).unwrap()
        };
        assert!(matches!(
            r.get_timeout(Duration::from_secs(5)),
            Err(PoolError::Terminated)
        ));
    });
}

#[test]
fn initializer_runs_once_per_thread() {
    deadline(30, "initializer", || {
        let count = Arc::new(AtomicUsize::new(0));
        let c = count.clone();
        let pool = ThreadPool::builder()
            .threads(3)
            .initializer(move || {
                c.fetch_add(1, Ordering::SeqCst);
            })
            .build()
            .unwrap();
        assert_eq!(pool.threads(), 3);
        let out = pool
            .map_chunked(
                |x: u32| {
                    sleep(ms(5));
                    x
                },
                0..30,
                1,
            )
            .unwrap();
        assert_eq!(out.len(), 30);
        pool.close();
        pool.join().unwrap();
        assert_eq!(count.load(Ordering::SeqCst), 3);
    });
}

#[test]
fn a_panicking_initializer_fails_tasks_instead_of_hanging() {
    deadline(30, "panicking initializer", || {
        let pool = ThreadPool::builder()
            .threads(2)
            .initializer(|| panic!("no setup"))
            .build()
            .unwrap();
        let err = pool.apply(|| 1u8, ()).unwrap_err();
        assert_eq!(panic_message(&err), Some("no setup"), "{err:?}");
    });
}

#[test]
fn capturing_closures_work() {
    deadline(30, "capturing closures", || {
        let pool = ThreadPool::with_threads(2).unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let s = seen.clone();
        let prefix = String::from("item-");
        let out = pool
            .map(
                move |x: u32| {
                    s.lock().unwrap().push(x);
                    format!("{prefix}{x}")
                },
                0..4,
            )
            .unwrap();
        assert_eq!(out, vec!["item-0", "item-1", "item-2", "item-3"]);
        let mut seen = seen.lock().unwrap().clone();
        seen.sort();
        assert_eq!(seen, vec![0, 1, 2, 3]);
        // Values that are not serde types go through as they are.
        let shared = Arc::new(7u32);
        let got = pool.apply(|a: Arc<u32>| *a + 1, (shared,)).unwrap();
        assert_eq!(got, 8);
    });
}

#[test]
fn zero_threads_is_an_error() {
    let err = ThreadPool::with_threads(0).unwrap_err();
    assert!(matches!(err, PoolError::InvalidArgument(_)), "{err:?}");
    assert_eq!(err.to_string(), "number of processes must be at least 1");
    assert!(ThreadPool::builder().threads(0).build().is_err());
}

#[test]
fn thread_and_process_pools_share_a_process() {
    deadline(60, "both pools", || {
        let threads = ThreadPool::with_threads(1).unwrap();
        let err = threads
            .apply(|| -> u8 { panic!("thread first") }, ())
            .unwrap_err();
        assert_eq!(panic_message(&err), Some("thread first"));
        // The process pool still turns a worker's panic into the task's error.
        let procs = mp_pool::Pool::with_processes(1).unwrap();
        let err = procs
            .apply(|x: u8| -> u8 { panic!("process {x}") }, (1,))
            .unwrap_err();
        assert_eq!(panic_message(&err), Some("process 1"), "{err:?}");
        // Thread panics still carry a location.
        match threads.apply(|| -> u8 { panic!("thread again") }, ()) {
            Err(PoolError::Task(TaskError::Panic { message, location })) => {
                assert_eq!(message, "thread again");
                assert!(location.contains("thread_pool.rs"), "{location}");
            }
            other => panic!("unexpected {other:?}"),
        }
    });
}

#[test]
fn handles_cross_threads() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<ThreadPool>();
    send_sync::<mp_pool::ThreadPoolBuilder>();
}

/// A task that blocks its thread until the returned sender sends (or is
/// dropped), reporting on `started` when it begins.
fn blocker(
    started: mpsc::Sender<u64>,
    x: u64,
) -> (impl Fn() -> u64 + Send + Sync, mpsc::Sender<()>) {
    let (tx, rx) = mpsc::channel::<()>();
    let rx = Mutex::new(rx);
    let started = Mutex::new(started);
    let task = move || {
        let _ = started.lock().unwrap().send(x);
        let _ = rx.lock().unwrap().recv();
        x
    };
    (task, tx)
}

#[test]
fn a_cancelled_queued_call_never_runs() {
    deadline(30, "thread pool cancel", || {
        let pool = ThreadPool::with_threads(1).unwrap();
        let (started_tx, started) = mpsc::channel();
        let (task, release) = blocker(started_tx.clone(), 1);
        let busy = pool.apply_async(task, ()).unwrap();
        assert_eq!(started.recv().unwrap(), 1);
        let ran = Arc::new(AtomicUsize::new(0));
        let r = ran.clone();
        let errors = Arc::new(AtomicUsize::new(0));
        let e = errors.clone();
        let queued = pool
            .apply_async_with(
                move || {
                    r.fetch_add(1, Ordering::SeqCst);
                },
                (),
                Callbacks::new().error_callback(move |err| {
                    assert_eq!(*err, TaskError::Cancelled);
                    e.fetch_add(1, Ordering::SeqCst);
                }),
            )
            .unwrap();
        let r = ran.clone();
        let mut it = pool
            .imap(
                move |x: u64| {
                    r.fetch_add(1, Ordering::SeqCst);
                    x
                },
                0..4,
            )
            .unwrap();
        assert!(queued.cancel());
        assert!(!queued.cancel(), "cancelling twice changes nothing");
        assert_eq!(errors.load(Ordering::SeqCst), 1);
        assert!(matches!(
            queued.get(),
            Err(PoolError::Task(TaskError::Cancelled))
        ));
        assert!(it.cancel());
        assert!(matches!(
            it.next(),
            Some(Err(PoolError::Task(TaskError::Cancelled)))
        ));
        assert!(it.next().is_none());
        // A running call is cancelled too: it finishes, its result dropped.
        assert!(busy.cancel());
        release.send(()).unwrap();
        assert!(matches!(
            busy.get(),
            Err(PoolError::Task(TaskError::Cancelled))
        ));
        // The pool carries on; the cancelled tasks never ran.
        assert_eq!(pool.apply(|| 7u64, ()).unwrap(), 7);
        let done = pool.apply_async(|| 8u64, ()).unwrap();
        done.wait();
        assert!(!done.cancel(), "a completed call is not cancelled");
        assert_eq!(done.get().unwrap(), 8);
        pool.close();
        pool.join().unwrap();
        assert_eq!(ran.load(Ordering::SeqCst), 0);
    });
}
