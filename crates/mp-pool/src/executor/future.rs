//! [`Future`]: the handle of a task submitted to a
//! [`ProcessPoolExecutor`](crate::ProcessPoolExecutor) —
//! `concurrent.futures.Future` over an [`AsyncResult`].

use std::fmt;
use std::panic::{self, AssertUnwindSafe};
use std::sync::Arc;
use std::time::Duration;

use crate::error::{PoolError, TaskError};
use crate::futures::ResultHandle;
use crate::result::{AsyncResult, Peek};

use super::broken::Breaker;

/// The handle of a task submitted to a
/// [`ProcessPoolExecutor`](crate::ProcessPoolExecutor) or a
/// [`ThreadPoolExecutor`](crate::ThreadPoolExecutor) (Python's
/// `concurrent.futures.Future`; not a `std::future::Future`).
///
/// [`as_completed`](crate::as_completed) and [`wait`](crate::wait) take
/// futures as they take [`AsyncResult`]s. The value moves out: the first
/// [`result`](Self::result) or [`result_timeout`](Self::result_timeout) that
/// finds it takes it, a later one gives [`PoolError::Taken`].
///
/// A child forked with a copy of a future (a closure's capture) cannot
/// use it: nothing runs or completes the task there. Its waits fail with
/// [`PoolError::NotOwner`] at once, it is neither done, running nor
/// cancelled there, `cancel` cancels nothing, and a done callback added
/// there never runs; the parent's future is untouched.
pub struct Future<T> {
    result: AsyncResult<T>,
    breaker: Arc<Breaker>,
}

impl<T> Future<T> {
    pub(crate) fn new(result: AsyncResult<T>, breaker: Arc<Breaker>) -> Self {
        Future { result, breaker }
    }

    /// Waits for the task and returns its value or its error (Python's
    /// `result()`, which raises the task's exception).
    pub fn result(self) -> Result<T, PoolError> {
        let breaker = self.breaker;
        self.result.get().map_err(|e| breaker.map(e))
    }

    /// Waits at most `timeout` (Python's `result(timeout)`):
    /// [`PoolError::Timeout`] if the task has not finished by then (the
    /// future stays usable), else its value or error.
    pub fn result_timeout(&self, timeout: Duration) -> Result<T, PoolError> {
        self.result
            .get_timeout(timeout)
            .map_err(|e| self.breaker.map(e))
    }

    /// Waits (at most `timeout`; `None`: no limit) and returns the task's
    /// error without taking its value (Python's `exception(timeout)`):
    /// `Ok(None)` if it succeeded, `Ok(Some(e))` if it failed;
    /// [`PoolError::Timeout`] if it has not finished in time, and, as
    /// Python raises `CancelledError`, `Err` of [`TaskError::Cancelled`] if
    /// it was cancelled; [`PoolError::NotOwner`] at once in a forked
    /// child's copy.
    pub fn exception(&self, timeout: Option<Duration>) -> Result<Option<TaskError>, PoolError> {
        if !self.result.is_owner() {
            return Err(PoolError::NotOwner {
                owner: self.result.owner,
            });
        }
        let ready = match timeout {
            None => {
                self.result.wait();
                true
            }
            Some(t) => self.result.wait_timeout(t),
        };
        if !ready {
            return Err(PoolError::Timeout);
        }
        self.result.peek(|p| match p {
            Peek::Pending => Err(PoolError::Timeout),
            Peek::Ready(Ok(_)) | Peek::Taken(true) => Ok(None),
            Peek::Ready(Err(PoolError::Task(TaskError::Cancelled))) => {
                Err(PoolError::Task(TaskError::Cancelled))
            }
            Peek::Ready(Err(PoolError::Task(e))) => Ok(Some(self.breaker.map_task(e))),
            Peek::Ready(Err(PoolError::Terminated)) => {
                self.breaker.cause().map(Some).ok_or(PoolError::Terminated)
            }
            // The pool stores no other error in a result.
            Peek::Ready(Err(e)) => Ok(Some(TaskError::Decode(e.to_string()))),
            Peek::Taken(false) => Err(PoolError::Taken),
        })
    }

    /// Whether the task has finished or was cancelled (Python's `done()`).
    pub fn done(&self) -> bool {
        self.result.ready()
    }

    /// Whether a worker holds the task and it has not finished (Python's
    /// `running()`: the task has left the queue, so
    /// [`cancel`](Self::cancel) can no longer stop it).
    pub fn running(&self) -> bool {
        self.result.is_owner() && self.result.running()
    }

    /// Whether the task was cancelled (Python's `cancelled()`).
    pub fn cancelled(&self) -> bool {
        // A copy's cell may be locked for ever (by a parent thread at the
        // fork): not looked at.
        self.result.is_owner()
            && self
                .result
                .peek(|p| matches!(p, Peek::Ready(Err(PoolError::Task(TaskError::Cancelled)))))
    }

    /// Cancels the task if no worker holds it yet (Python's `cancel()`): it
    /// never runs and the future reports [`TaskError::Cancelled`]. Returns
    /// `false` if it is running or finished (nothing changes then), `true`
    /// if it is cancelled now or was already.
    pub fn cancel(&self) -> bool {
        self.result.is_owner() && (self.cancelled() || self.result.cancel_pending())
    }

    /// Beyond Python (pebble's `future.cancel()`): cancels the task even if
    /// it is running — its worker is stopped (`SIGTERM`, then `SIGKILL`) and
    /// replaced. Returns `false` if it had already finished. See
    /// [`AsyncResult::cancel_and_kill`] (on a thread pool it cannot kill).
    pub fn cancel_and_kill(&self) -> bool {
        self.result.cancel_and_kill()
    }

    /// Runs `f` with this future once it is done (cancelled or finished),
    /// at once on this thread if it already is, else on the thread that
    /// completes it (the pool's result thread, or a thread waiting on
    /// another of its results) — Python's `add_done_callback`. Several
    /// callbacks run in the order they were added. A callback that panics
    /// is reported on stderr and the rest carry on; a callback should be
    /// short (it holds up the results behind it). In a forked child's copy
    /// it never runs (nothing completes the future there).
    pub fn add_done_callback(&self, f: impl FnOnce(&Future<T>) + Send + 'static)
    where
        T: Send + 'static,
    {
        if !self.result.is_owner() {
            return;
        }
        let me = Future {
            result: self.result.share(),
            breaker: self.breaker.clone(),
        };
        self.result.on_ready(Box::new(move || {
            if panic::catch_unwind(AssertUnwindSafe(|| f(&me))).is_err() {
                eprintln!("mp-pool: a done callback panicked; the executor carries on");
            }
        }));
    }

    /// The pool's result underneath (its errors are not mapped to
    /// [`TaskError::BrokenProcessPool`]).
    pub fn as_async_result(&self) -> &AsyncResult<T> {
        &self.result
    }
}

/// `future.await` (the `async` feature): the value of
/// [`Future::result`], without blocking a thread, on any runtime (see
/// [`ResultFuture`](crate::ResultFuture)).
///
/// ```
/// use mp_pool::ProcessPoolExecutor;
///
/// fn square(x: u64) -> u64 { x * x }
///
/// let executor = ProcessPoolExecutor::with_max_workers(1)?;
/// let f = executor.submit(square, (7,))?;
/// assert_eq!(smol::block_on(async { f.await })?, 49);
/// # Ok::<(), mp_pool::PoolError>(())
/// ```
#[cfg(feature = "async")]
impl<T: Send + 'static> std::future::IntoFuture for Future<T> {
    type Output = Result<T, PoolError>;
    type IntoFuture =
        std::pin::Pin<Box<dyn std::future::Future<Output = Result<T, PoolError>> + Send>>;

    fn into_future(self) -> Self::IntoFuture {
        let Future { result, breaker } = self;
        Box::pin(async move { result.await.map_err(|e| breaker.map(e)) })
    }
}

impl<T> ResultHandle for Future<T> {
    type Output = T;

    fn async_result(&self) -> &AsyncResult<T> {
        &self.result
    }
}

impl<T> fmt::Debug for Future<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = if self.cancelled() {
            "cancelled"
        } else if self.done() {
            "finished"
        } else if self.running() {
            "running"
        } else {
            "pending"
        };
        f.debug_struct("Future").field("state", &state).finish()
    }
}
