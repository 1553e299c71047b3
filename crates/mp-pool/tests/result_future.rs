//! `AsyncResult` as a future (the `async` feature) under tokio
//! (multi-thread and current-thread) and smol, workers started with the
//! method from `MULTIPROCESS_START_METHOD`: a value, a worker that dies is
//! an error, a dropped future leaves the pool working (also one that was
//! reading its worker, and one kept without being polled), and 1,000 pending
//! results take no thread each.
//!
//! One test in its own binary, so the thread count sees no other test.
#![cfg(feature = "async")]

use std::future::IntoFuture;

use mp_channel::{pipe, Connection};
use mp_pool::{Pool, PoolError, TaskError};

#[path = "../../mp-process/tests/async_support/mod.rs"]
mod async_support;
use async_support::{all, all_pending, assert_pending_without_threads, on_every_runtime};

const PENDING: usize = 1000;

fn square(x: u64) -> u64 {
    x * x
}

fn exit_three(_: u64) -> u64 {
    mp_process::exit(3)
}

/// Blocks its worker until the test sends `go`.
fn wait_for_go(go: Connection) -> u64 {
    go.recv::<u64>().unwrap()
}

async fn scenario() {
    let pool = Pool::with_processes(2).unwrap();
    assert_eq!(pool.apply_async(square, (7,)).unwrap().await.unwrap(), 49);

    // A worker that dies: an error, not a hang.
    let err = pool
        .apply_async(exit_three, (0,))
        .unwrap()
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            PoolError::Task(TaskError::WorkerDied { exitcode: 3, .. })
        ),
        "{err:?}"
    );

    // Both workers held until `go`; results behind them stay pending.
    let (go_a, held_a) = pipe(true).unwrap();
    let (go_b, held_b) = pipe(true).unwrap();
    let blocked = vec![
        Box::pin(
            pool.apply_async(wait_for_go, (held_a,))
                .unwrap()
                .into_future(),
        ),
        Box::pin(
            pool.apply_async(wait_for_go, (held_b,))
                .unwrap()
                .into_future(),
        ),
    ];
    {
        // Dropped while pending: the task runs on, the pool is unaffected.
        let mut dropped = std::pin::pin!(pool.apply_async(square, (3,)).unwrap().into_future());
        assert!(all_pending(&mut [dropped.as_mut()]).await);
    }
    let mut waits: Vec<_> = (0..PENDING as u64)
        .map(|x| Box::pin(pool.apply_async(square, (x,)).unwrap().into_future()))
        .collect();
    let mut polled: Vec<_> = waits.iter_mut().map(|f| f.as_mut()).collect();
    assert_pending_without_threads(&mut polled, "results").await;
    go_a.send(&1u64).unwrap();
    go_b.send(&2u64).unwrap();
    let released: Vec<u64> = all(blocked).await.into_iter().map(Result::unwrap).collect();
    assert_eq!(released, [1, 2]);
    let got: Vec<u64> = all(waits).await.into_iter().map(Result::unwrap).collect();
    assert_eq!(got, (0..PENDING as u64).map(square).collect::<Vec<_>>());

    // Dropped while it reads its worker (a `Pool(1)`, so the next task is
    // on the same worker): the worker goes back to the engine, and the next
    // result comes.
    let one = Pool::with_processes(1).unwrap();
    let (go, held) = pipe(true).unwrap();
    {
        let mut lent = std::pin::pin!(one.apply_async(wait_for_go, (held,)).unwrap().into_future());
        assert!(all_pending(&mut [lent.as_mut()]).await);
    }
    go.send(&5u64).unwrap();
    let next = one.apply_async(square, (4,)).unwrap().into_future();
    let timeout = async {
        smol::Timer::after(std::time::Duration::from_secs(30)).await;
        panic!("the worker was not given back");
    };
    assert_eq!(smol::future::or(next, timeout).await.unwrap(), 16);

    // Kept without being polled again after it began to wait: it holds
    // nothing up, the next result on its worker comes (blocking and async).
    let (go, held) = pipe(true).unwrap();
    let mut kept = Box::pin(one.apply_async(wait_for_go, (held,)).unwrap().into_future());
    assert!(all_pending(&mut [kept.as_mut()]).await);
    go.send(&6u64).unwrap();
    let blocking = one.apply_async(square, (5,)).unwrap();
    assert_eq!(
        blocking
            .get_timeout(std::time::Duration::from_secs(30))
            .unwrap(),
        25
    );
    let next = one.apply_async(square, (6,)).unwrap().into_future();
    let timeout = async {
        smol::Timer::after(std::time::Duration::from_secs(30)).await;
        panic!("a kept future held its worker");
    };
    assert_eq!(smol::future::or(next, timeout).await.unwrap(), 36);
    assert_eq!(kept.await.unwrap(), 6);

    // A terminated pool: its pending results end with an error.
    let held = pipe(true).unwrap();
    let r = pool.apply_async(wait_for_go, (held.1,)).unwrap();
    pool.terminate();
    assert!(matches!(r.await, Err(PoolError::Terminated)));
}

#[test]
fn result_future_on_every_runtime() {
    on_every_runtime(scenario);
}
