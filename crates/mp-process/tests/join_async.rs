//! `Process::join_async` (the `async` feature) under tokio (multi-thread
//! and current-thread) and smol, with the start method from
//! `MULTIPROCESS_START_METHOD`: the exit code of a child that exits 3, -9
//! for a SIGKILLed child, several joins of one child pending at once, and a
//! dropped join leaving the process as it was.
#![cfg(feature = "async")]

use std::future::Future;
use std::pin::pin;
use std::task::Poll;
use std::time::Duration;

use mp_process::{ExitCode, Process};

fn exit_three() -> ExitCode {
    ExitCode(3)
}

fn sleep_long() {
    std::thread::sleep(Duration::from_secs(600));
}

/// Runs the scenario to completion on each runtime in turn.
fn on_every_runtime<Fut: Future<Output = ()>>(scenario: impl Fn() -> Fut) {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
        .block_on(scenario());
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(scenario());
    smol::block_on(scenario());
}

/// Polls `fut` once and says whether it was still pending.
async fn pending_once<F: Future>(fut: std::pin::Pin<&mut F>) -> bool {
    let mut fut = Some(fut);
    std::future::poll_fn(|cx| Poll::Ready(fut.take().unwrap().poll(cx).is_pending())).await
}

#[test]
fn join_async_on_every_runtime() {
    on_every_runtime(|| async {
        // A child that exits 3.
        let mut p = Process::new(exit_three, ());
        p.start().unwrap();
        assert_eq!(p.join_async().await.unwrap(), 3);
        assert_eq!(p.exitcode(), Some(3));
        assert!(!p.is_alive());
        // Joining again returns the kept code.
        assert_eq!(p.join_async().await.unwrap(), 3);

        // A child killed by SIGKILL, with three joins pending at once; the
        // first is dropped after being polled, which changes nothing.
        let mut p = Process::new(sleep_long, ());
        p.start().unwrap();
        {
            let mut dropped = pin!(p.join_async());
            assert!(pending_once(dropped.as_mut()).await);
        }
        assert!(p.is_alive());
        let (a, b) = (p.join_async(), p.join_async());
        p.kill().unwrap();
        let (a, b) = futures_both(a, b).await;
        assert_eq!((a.unwrap(), b.unwrap()), (-9, -9));
        assert_eq!(p.exitcode(), Some(-9));
    });
}

#[test]
fn join_async_errors_before_start() {
    let p = Process::new(exit_three, ());
    let err = smol::block_on(p.join_async()).unwrap_err();
    assert!(matches!(err, mp_process::ProcessError::NotStarted("join")));
}

/// Awaits two futures concurrently (without a runtime's `join!`).
async fn futures_both<A: Future, B: Future>(a: A, b: B) -> (A::Output, B::Output) {
    let (mut a, mut b) = (pin!(a), pin!(b));
    let (mut ra, mut rb) = (None, None);
    std::future::poll_fn(|cx| {
        if ra.is_none() {
            if let Poll::Ready(v) = a.as_mut().poll(cx) {
                ra = Some(v);
            }
        }
        if rb.is_none() {
            if let Poll::Ready(v) = b.as_mut().poll(cx) {
                rb = Some(v);
            }
        }
        if ra.is_some() && rb.is_some() {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    })
    .await;
    (ra.unwrap(), rb.unwrap())
}
