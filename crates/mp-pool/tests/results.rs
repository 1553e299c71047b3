//! AsyncResult (get with timeout, wait, ready, successful) and callbacks
//! (run in the parent; a panicking callback does not wedge the pool).

mod common;
use std::sync::mpsc;
use std::time::Duration;

use common::deadline;
use mp_pool::{Callbacks, Pool, PoolError, TaskError};

fn sleepy(ms: u64) -> u64 {
    std::thread::sleep(Duration::from_millis(ms));
    ms
}

fn boom(x: u64) -> u64 {
    if x == 3 {
        panic!("bad item {x}");
    }
    x
}

#[test]
fn get_timeout_then_success() {
    deadline(60, "get_timeout", || {
        let pool = Pool::with_processes(1).unwrap();
        let r = pool.apply_async(sleepy, (400,)).unwrap();
        assert!(!r.ready());
        assert!(matches!(r.successful(), Err(PoolError::NotReady)));
        assert!(matches!(
            r.get_timeout(Duration::from_millis(10)),
            Err(PoolError::Timeout)
        ));
        assert!(!r.wait_timeout(Duration::from_millis(1)));
        r.wait();
        assert!(r.ready());
        assert!(r.successful().unwrap());
        assert_eq!(r.get_timeout(Duration::from_secs(10)).unwrap(), 400);
        assert!(matches!(
            r.get_timeout(Duration::from_secs(1)),
            Err(PoolError::Taken)
        ));
        assert!(r.successful().unwrap());
    });
}

#[test]
fn callbacks_run_in_the_parent() {
    deadline(60, "callbacks", || {
        let pool = Pool::with_processes(2).unwrap();
        let me = std::process::id();
        let (tx, rx) = mpsc::channel();
        let tx2 = tx.clone();
        let r = pool
            .apply_async_with(
                |x: u64| (x * 10, std::process::id()),
                (4,),
                Callbacks::new()
                    .callback(move |v: &(u64, u32)| {
                        tx.send(format!("ok {} {}", v.0, std::process::id()))
                            .unwrap()
                    })
                    .error_callback(move |e| tx2.send(format!("err {e}")).unwrap()),
            )
            .unwrap();
        let (v, worker) = r.get().unwrap();
        assert_eq!(v, 40);
        assert_ne!(worker, me);
        assert_eq!(
            rx.recv_timeout(Duration::from_secs(10)).unwrap(),
            format!("ok 40 {me}")
        );

        let (tx, rx) = mpsc::channel();
        let r = pool
            .apply_async_with(
                boom,
                (3,),
                Callbacks::new()
                    .callback(|_: &u64| panic!("must not run"))
                    .error_callback(move |e: &TaskError| tx.send(e.to_string()).unwrap()),
            )
            .unwrap();
        assert!(r.get().is_err());
        let msg = rx.recv_timeout(Duration::from_secs(10)).unwrap();
        assert!(msg.contains("bad item 3"), "{msg}");

        let (tx, rx) = mpsc::channel();
        let r = pool
            .map_async_with(
                boom,
                vec![1, 2],
                None,
                Callbacks::new().callback(move |v: &Vec<u64>| tx.send(v.clone()).unwrap()),
            )
            .unwrap();
        assert_eq!(r.get().unwrap(), vec![1, 2]);
        assert_eq!(
            rx.recv_timeout(Duration::from_secs(10)).unwrap(),
            vec![1, 2]
        );
    });
}

#[test]
fn a_panicking_callback_does_not_wedge_the_pool() {
    deadline(60, "callback panic", || {
        let pool = Pool::with_processes(2).unwrap();
        let r = pool
            .apply_async_with(
                sleepy,
                (1,),
                Callbacks::new().callback(|_: &u64| panic!("callback fails")),
            )
            .unwrap();
        // The result is still delivered, and later work still runs.
        assert_eq!(r.get().unwrap(), 1);
        assert_eq!(pool.map(sleepy, vec![1, 2, 3]).unwrap(), vec![1, 2, 3]);
        let r = pool
            .apply_async_with(
                boom,
                (3,),
                Callbacks::new().error_callback(|_| panic!("error callback fails")),
            )
            .unwrap();
        assert!(matches!(
            r.get(),
            Err(PoolError::Task(TaskError::Panic { .. }))
        ));
        assert_eq!(pool.apply(sleepy, (2,)).unwrap(), 2);
        pool.close();
        pool.join().unwrap();
    });
}
