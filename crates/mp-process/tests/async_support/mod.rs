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

/// Runs `f` to completion on this thread with a waker that unparks it, and
/// nothing else: no reactor. The executor for a forked child, where
/// async-io's reactor is the parent's (the same epoll instance and
/// notifier: a child driving it could take the parent's events, and the
/// parent the child's), and its driver thread is gone.
pub(crate) fn block_on_without_reactor<F: Future>(f: F) -> F::Output {
    struct Unpark(std::thread::Thread);
    impl std::task::Wake for Unpark {
        fn wake(self: std::sync::Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = std::task::Waker::from(std::sync::Arc::new(Unpark(std::thread::current())));
    let mut cx = std::task::Context::from_waker(&waker);
    let mut f = std::pin::pin!(f);
    loop {
        if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
        std::thread::park();
    }
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
