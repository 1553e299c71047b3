//! `imap`/`imap_unordered` as a `Stream` and `next_async` (the `async`
//! feature) under tokio (multi-thread and current-thread) and smol,
//! workers started with the method from `MULTIPROCESS_START_METHOD`:
//! ordered and completion-ordered results, a worker that dies fails only
//! its item, a dropped `next_async` loses no item, a terminated pool ends
//! the stream with an error.
#![cfg(feature = "async")]

use std::collections::BTreeSet;
use std::pin::{pin, Pin};

use futures_core::Stream;
use mp_channel::{pipe, Connection};
use mp_pool::{Pool, PoolError, TaskError};

#[path = "../../mp-process/tests/async_support/mod.rs"]
mod async_support;
use async_support::{all_pending, on_every_runtime};

fn square(x: u64) -> u64 {
    x * x
}

fn die_on_three(x: u64) -> u64 {
    if x == 3 {
        mp_process::exit(3);
    }
    x
}

fn wait_for_go(go: Connection) -> u64 {
    go.recv::<u64>().unwrap()
}

/// The stream's next item, through `Stream::poll_next`.
async fn next<S: Stream + Unpin>(s: &mut S) -> Option<S::Item> {
    std::future::poll_fn(|cx| Pin::new(&mut *s).poll_next(cx)).await
}

async fn scenario() {
    let pool = Pool::with_processes(2).unwrap();
    let mut ordered = pool.imap(square, 0..20u64).unwrap();
    let mut got = Vec::new();
    while let Some(r) = ordered.next_async().await {
        got.push(r.unwrap());
    }
    assert_eq!(got, (0..20u64).map(square).collect::<Vec<_>>());

    let mut unordered = pool.imap_unordered(square, 0..20u64).unwrap();
    let mut got = BTreeSet::new();
    while let Some(r) = next(&mut unordered).await {
        got.insert(r.unwrap());
    }
    assert_eq!(got, (0..20u64).map(square).collect());

    // A worker that dies fails its item only.
    let mut dying = pool.imap_chunked(die_on_three, 0..6u64, 1).unwrap();
    let mut items = Vec::new();
    while let Some(r) = dying.next_async().await {
        items.push(r);
    }
    assert_eq!(items.len(), 6);
    assert!(
        matches!(
            items[3],
            Err(PoolError::Task(TaskError::WorkerDied { exitcode: 3, .. }))
        ),
        "{:?}",
        items[3]
    );
    for (i, r) in items.iter().enumerate().filter(|(i, _)| *i != 3) {
        assert_eq!(*r.as_ref().unwrap(), i as u64);
    }

    // A dropped next_async loses nothing.
    let (go, held) = pipe(true).unwrap();
    let mut held_back = pool.imap(wait_for_go, [held]).unwrap();
    {
        let mut next = pin!(held_back.next_async());
        assert!(all_pending(&mut [next.as_mut()]).await);
    }
    go.send(&9u64).unwrap();
    assert_eq!(held_back.next_async().await.unwrap().unwrap(), 9);
    assert!(held_back.next_async().await.is_none());

    // A terminated pool ends the stream with an error.
    let (_go, held) = pipe(true).unwrap();
    let mut cut = pool.imap(wait_for_go, [held]).unwrap();
    pool.terminate();
    assert!(matches!(
        cut.next_async().await,
        Some(Err(PoolError::Terminated))
    ));
    assert!(cut.next_async().await.is_none());
}

#[test]
fn imap_stream_on_every_runtime() {
    on_every_runtime(scenario);
}
