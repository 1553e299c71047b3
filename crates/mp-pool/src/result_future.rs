//! [`AsyncResult`] as a future (the `async` feature): `result.await` waits
//! for the pool's engine to deliver, woken by an `event-listener` event
//! that the result cell fires beside its condvar. No thread waits, and the
//! future does not read the worker's socket itself (the blocking `get` may:
//! see `Help`): turning the handle into a future hands its worker back to
//! the engine thread (`Help::stop_helping`), which delivers.
//!
//! Lives beside `result.rs` as its child module, so it uses the cell's
//! private parts without widening them.

use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::task::{Context, Poll};

use event_listener::EventListener;

use super::{lock, AsyncResult, Slot};
use crate::error::PoolError;

/// The future of an [`AsyncResult`] (from `IntoFuture`): resolves to what
/// [`AsyncResult::get`] returns.
///
/// Cancellation: dropping it drops the `AsyncResult`, as dropping that
/// handle does; the task still runs and the pool stays usable, only its
/// value is not seen. A dead worker is
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
        // `apply_async` left the worker to the blocking waiter, who reads it
        // itself; this waiter won't: hand the worker back to the engine now
        // (else the engine sees it only at its next tick).
        if let Some(inner) = self.helper.as_ref().and_then(|h| h.inner.upgrade()) {
            inner.stop_helping();
        }
        ResultFuture {
            result: self,
            listener: None,
        }
    }
}

impl<T> Future for ResultFuture<T> {
    type Output = Result<T, PoolError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // Every field is `Unpin`.
        let this = self.get_mut();
        loop {
            {
                let mut slot = lock(&this.result.cell.slot);
                if !matches!(*slot, Slot::Pending) {
                    this.listener = None;
                    return Poll::Ready(AsyncResult::take(&mut slot));
                }
            }
            match &mut this.listener {
                // Listen, then look again: a result set in between is seen.
                None => this.listener = Some(this.result.cell.ready_async.listen()),
                Some(listener) => match Pin::new(listener).poll(cx) {
                    Poll::Ready(()) => this.listener = None,
                    Poll::Pending => return Poll::Pending,
                },
            }
        }
    }
}
