//! [`AsyncResult`] as a future (the `async` feature): `result.await`
//! reads the task's worker itself when it can, as the blocking `get` does
//! (see `Help`): `Help::watch` names the worker holding the task, the
//! future awaits that worker's socket on the reactor through a
//! registration kept with the worker, then reads (`Help::collect`). So a
//! reply wakes the awaiting task directly, not the engine thread first.
//! When it cannot help (the chunk is queued, a blocking waiter reads that
//! worker), the future waits for the delivery like any other waiter: woken
//! by an `event-listener` event that the result cell fires beside its
//! condvar. No thread waits.
//!
//! Lives beside `result.rs` as its child module, so it uses the cell's
//! private parts without widening them.

use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::task::{Context, Poll};

use event_listener::EventListener;
use mp_sys::readiness::ReadableWait;

use super::{lock, AsyncResult, Slot};
use crate::engine::Watched;
use crate::error::PoolError;

/// The future of an [`AsyncResult`] (from `IntoFuture`): resolves to what
/// [`AsyncResult::get`] returns.
///
/// When polled, it reads its task's worker itself (as
/// [`AsyncResult::get`] does) without taking it from anyone: the engine
/// and other waiters may read the same worker meanwhile, so a future kept
/// without being polled holds nothing up.
///
/// Cancellation: dropping it drops the `AsyncResult`, as dropping that
/// handle does (the engine reads the worker from then on); the task still
/// runs and the pool stays usable, only its value is not seen.
/// A dead worker is
/// [`TaskError::WorkerDied`](crate::TaskError::WorkerDied), a terminated or
/// dropped pool [`PoolError::Terminated`], never a hang. No timeout form:
/// compose with the runtime's, or keep the handle and use
/// [`AsyncResult::get_timeout`].
#[must_use = "futures do nothing unless awaited"]
pub struct ResultFuture<T> {
    result: AsyncResult<T>,
    /// Registered before the last look at the slot, so a delivery after
    /// that look wakes this future.
    listener: Option<EventListener>,
    /// Whether to try reading the worker itself (off once that failed: the
    /// engine, or another waiter, delivers).
    help: bool,
    /// The worker this future reads, and the wait for its socket.
    watching: Option<(u64, ReadableWait)>,
}

impl<T> std::fmt::Debug for ResultFuture<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResultFuture")
            .field("result", &self.result)
            .finish()
    }
}

/// `result.await`: the value of [`AsyncResult::get`] without blocking a
/// thread, on any runtime.
///
/// ```
/// use mp_pool::Pool;
///
/// fn square(x: u64) -> u64 { x * x }
///
/// let pool = Pool::with_processes(1)?;
/// let r = pool.apply_async(square, (7,))?;
/// assert_eq!(smol::block_on(async { r.await })?, 49);
/// # Ok::<(), mp_pool::PoolError>(())
/// ```
impl<T> IntoFuture for AsyncResult<T> {
    type Output = Result<T, PoolError>;
    type IntoFuture = ResultFuture<T>;

    fn into_future(self) -> ResultFuture<T> {
        // `apply_async` left the worker to the waiter, and this one reads
        // it from its first poll on (or hands it back to the engine then).
        let help = self.helper.is_some();
        ResultFuture {
            result: self,
            listener: None,
            help,
            watching: None,
        }
    }
}

impl<T> ResultFuture<T> {
    /// Reads what the watched worker sent, and stops watching it.
    fn collect(&mut self) {
        if let Some((id, _)) = self.watching.take() {
            if let Some(h) = &self.result.helper {
                h.inner.collect(id);
            }
        }
    }

    /// Looks for the worker holding the task (`help`); on `No`, stops
    /// looking and hands the worker to the engine.
    fn watch(&mut self) {
        let Some(h) = self.result.helper.as_ref() else {
            self.help = false;
            return;
        };
        let inner = &h.inner;
        match inner.watch(h.job) {
            Watched::Worker { id, source } => self.watching = Some((id, source.readable())),
            Watched::Progress => {}
            Watched::No => {
                self.help = false;
                inner.stop_helping();
            }
        }
    }

    /// Stops reading the worker itself: the engine delivers from now on.
    fn stop_helping(&mut self) {
        self.watching = None;
        self.help = false;
        if let Some(h) = &self.result.helper {
            h.inner.stop_helping();
        }
    }
}

impl<T> Future for ResultFuture<T> {
    type Output = Result<T, PoolError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // Every field is `Unpin`.
        let this = self.get_mut();
        if !this.result.is_owner() {
            return Poll::Ready(Err(PoolError::NotOwner {
                owner: this.result.owner,
            }));
        }
        // Whether the worker was looked up during this poll (else a poll
        // that finds it watched was woken, or polled again, meanwhile).
        let mut fresh = false;
        loop {
            if !matches!(*lock(&this.result.cell.slot), Slot::Pending) {
                this.watching = None;
                this.listener = None;
                return Poll::Ready(AsyncResult::take(&mut lock(&this.result.cell.slot)));
            }
            if let Some((_, wait)) = &mut this.watching {
                match Pin::new(&mut *wait).poll(cx) {
                    // Something came (or the worker hung up): read it.
                    Poll::Ready(Ok(())) => {
                        this.collect();
                        continue;
                    }
                    Poll::Ready(Err(e)) => {
                        log::warn!(target: "multiprocess", "pool: awaiting a worker failed: {e}");
                        this.stop_helping();
                        continue;
                    }
                    // Polled again while watching: look whether something
                    // came. The reactor may report an event a turn late
                    // (async-io holds back one that may predate the
                    // registration), so, as async-io's own reads do, a
                    // wake-up is a reason to look; a look that finds nothing
                    // leaves the wait armed.
                    Poll::Pending if !fresh && wait.readable_now().unwrap_or(true) => {
                        this.collect();
                        continue;
                    }
                    // Also listen: a delivery by someone else (the engine,
                    // a blocking waiter, another future) wakes too.
                    Poll::Pending => {}
                }
            } else if this.help {
                this.watch();
                fresh = true;
                continue;
            }
            match &mut this.listener {
                // Listen, then look again: a result set in between is seen.
                None => this.listener = Some(this.result.cell.listen()),
                Some(listener) => match Pin::new(listener).poll(cx) {
                    Poll::Ready(()) => this.listener = None,
                    Poll::Pending => return Poll::Pending,
                },
            }
        }
    }
}
