//! What every async test needs, whatever crate it tests: run one scenario
//! under each runtime we promise (tokio multi-thread and current-thread,
//! smol), and drive futures without a runtime's own combinators (so the
//! scenario itself stays runtime-agnostic). Included by path from other
//! crates' tests (`#[path = ".../async_support/mod.rs"]`); each includer
//! needs `tokio` (rt, rt-multi-thread, time) and `smol` as dev-dependencies.

#![allow(dead_code)]

use std::future::Future;
use std::pin::Pin;
use std::task::Poll;

/// Runs the scenario to completion on each runtime in turn.
pub(crate) fn on_every_runtime<Fut: Future<Output = ()>>(scenario: impl Fn() -> Fut) {
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

/// Polls each future once (with the caller's waker); true if all were
/// still pending.
pub(crate) async fn all_pending<F: Future + ?Sized>(futs: &mut [Pin<&mut F>]) -> bool {
    std::future::poll_fn(|cx| {
        Poll::Ready(futs.iter_mut().all(|f| f.as_mut().poll(cx).is_pending()))
    })
    .await
}

/// Awaits every future concurrently and returns their outputs in order.
pub(crate) async fn all<F: Future>(mut futs: Vec<Pin<Box<F>>>) -> Vec<F::Output> {
    let mut out: Vec<Option<F::Output>> = futs.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut done = true;
        for (f, o) in futs.iter_mut().zip(&mut out) {
            if o.is_none() {
                match f.as_mut().poll(cx) {
                    Poll::Ready(v) => *o = Some(v),
                    Poll::Pending => done = false,
                }
            }
        }
        if done {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    })
    .await;
    out.into_iter().map(Option::unwrap).collect()
}

/// This process's thread count, from `/proc/self/status`.
pub(crate) fn threads() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("Threads:")).unwrap();
    line["Threads:".len()..].trim().parse().unwrap()
}

/// Polls every future once; asserts that all are pending and that they
/// took no thread each: at most one more thread (the reactor's, which the
/// first wait of the process may start). `what` names them in the message.
pub(crate) async fn assert_pending_without_threads<F: Future + ?Sized>(
    futs: &mut [Pin<&mut F>],
    what: &str,
) {
    let before = threads();
    assert!(all_pending(futs).await, "{what}: not all pending");
    let during = threads();
    assert!(
        during <= before + 1,
        "{} pending {what}: {before} threads before, {during} during",
        futs.len()
    );
}
