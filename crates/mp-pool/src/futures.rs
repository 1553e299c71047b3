//! `concurrent.futures`' waiting over many results: [`as_completed`]
//! (each [`AsyncResult`] or executor [`Future`](crate::Future) as it
//! finishes) and [`wait`] (until the first finishes, the first fails, or all
//! finish), on the [`Board`] each result posts its index to when it becomes
//! ready.

use std::collections::VecDeque;
use std::fmt;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use crate::error::PoolError;
use crate::lock::{lock, wait_until};
use crate::result::AsyncResult;
use mp_sys::time::Deadline;

/// Where results post their index when they become ready.
pub(crate) struct Board {
    ready: Mutex<VecDeque<usize>>,
    cv: Condvar,
}

impl Board {
    fn new() -> Arc<Board> {
        Arc::new(Board {
            ready: Mutex::new(VecDeque::new()),
            cv: Condvar::new(),
        })
    }

    /// Result `index` is ready.
    pub(crate) fn post(&self, index: usize) {
        lock(&self.ready).push_back(index);
        self.cv.notify_all();
    }

    /// The next index posted, waiting until `deadline` at most.
    fn next_until(&self, deadline: Deadline) -> Option<usize> {
        let mut ready = lock(&self.ready);
        loop {
            if let Some(i) = ready.pop_front() {
                return Some(i);
            }
            let waited;
            (ready, waited) = wait_until(&self.cv, ready, deadline);
            if !waited {
                return None;
            }
        }
    }
}

/// A handle on a pending result that [`as_completed`] and [`wait`] can
/// watch: an [`AsyncResult`] or an executor's [`Future`](crate::Future).
pub trait ResultHandle {
    /// What the result holds.
    type Output;

    /// The pool's result underneath.
    fn async_result(&self) -> &AsyncResult<Self::Output>;
}

impl<T> ResultHandle for AsyncResult<T> {
    type Output = T;

    fn async_result(&self) -> &AsyncResult<T> {
        self
    }
}

/// Whether `r` is a forked child's copy of a result its parent submitted
/// (see [`PoolError::NotOwner`]): nothing completes it in this process.
fn is_copy<R: ResultHandle>(r: &R) -> bool {
    !r.async_result().is_owner()
}

/// Has each of `results` that this process submitted post its index on
/// `board` when it is ready. A copy is left alone: its cell and its pool's
/// engine are its parent's (their locks maybe held for ever here by a
/// thread this process does not have), and nothing would post for it.
fn watch<R: ResultHandle>(board: &Arc<Board>, results: &[R]) {
    for (i, r) in results.iter().enumerate() {
        if !is_copy(r) {
            r.async_result().observe(board, i);
        }
    }
}

/// The iterator of [`as_completed`]: yields the handles it was given
/// ([`AsyncResult`]s or [`Future`](crate::Future)s).
pub struct AsCompleted<R> {
    results: Vec<Option<R>>,
    board: Arc<Board>,
    left: usize,
}

/// Yields each of `results` as it completes (successfully, failed,
/// cancelled or terminated), in completion order — Python's
/// `concurrent.futures.as_completed`. Works for the results of a [`Pool`](crate::Pool),
/// of a [`ThreadPool`](crate::ThreadPool) and of a
/// [`ProcessPoolExecutor`](crate::ProcessPoolExecutor).
///
/// ```no_run
/// # fn square(x: u64) -> u64 { x * x }
/// let pool = mp_pool::Pool::new()?;
/// let results = (0..4u64)
///     .map(|x| pool.apply_async(square, (x,)))
///     .collect::<Result<Vec<_>, _>>()?;
/// for r in mp_pool::as_completed(results) {
///     println!("{}", r.get()?);
/// }
/// # Ok::<(), mp_pool::PoolError>(())
/// ```
///
/// A forked child's copy of a result its parent submitted (a closure's
/// capture; see [`PoolError::NotOwner`]) is not waited for, as its
/// [`AsyncResult::wait`] returns at once there: nothing completes it in
/// the child. It is yielded at once, before any other, in the order given;
/// it is not done ([`AsyncResult::ready`] is `false` there) and its
/// [`get`](AsyncResult::get) answers [`PoolError::NotOwner`].
pub fn as_completed<R: ResultHandle>(results: impl IntoIterator<Item = R>) -> AsCompleted<R> {
    let results: Vec<R> = results.into_iter().collect();
    let board = Board::new();
    for (i, _) in results.iter().enumerate().filter(|(_, r)| is_copy(*r)) {
        board.post(i);
    }
    watch(&board, &results);
    AsCompleted {
        left: results.len(),
        results: results.into_iter().map(Some).collect(),
        board,
    }
}

impl<R> AsCompleted<R> {
    /// The next result to complete within `timeout`: `Some(Err(PoolError::Timeout))`
    /// if none does (the iterator stays usable; Python raises `TimeoutError`),
    /// `None` when every result has been yielded.
    pub fn next_timeout(&mut self, timeout: Duration) -> Option<Result<R, PoolError>> {
        self.next_until(Deadline::after(Some(timeout)))
    }

    fn next_until(&mut self, deadline: Deadline) -> Option<Result<R, PoolError>> {
        if self.left == 0 {
            return None;
        }
        loop {
            let Some(i) = self.board.next_until(deadline) else {
                return Some(Err(PoolError::Timeout));
            };
            if let Some(r) = self.results.get_mut(i).and_then(Option::take) {
                self.left -= 1;
                return Some(Ok(r));
            }
        }
    }
}

impl<R> Iterator for AsCompleted<R> {
    type Item = R;

    fn next(&mut self) -> Option<R> {
        self.next_until(Deadline::NEVER).and_then(Result::ok)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left, Some(self.left))
    }
}

impl<R> fmt::Debug for AsCompleted<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AsCompleted")
            .field("left", &self.left)
            .finish()
    }
}

/// When [`wait`] returns (Python's `FIRST_COMPLETED`, `FIRST_EXCEPTION`,
/// `ALL_COMPLETED`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReturnWhen {
    /// As soon as any result is ready.
    FirstCompleted,
    /// As soon as any result is an error (failed, cancelled, terminated),
    /// or when all are ready.
    FirstError,
    /// When all results are ready.
    AllCompleted,
}

/// What [`wait`] found: the indices (into its slice) of the results that are
/// ready and of those that are not, each in ascending order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Waited {
    /// Ready results.
    pub done: Vec<usize>,
    /// Results still pending.
    pub not_done: Vec<usize>,
}

/// Waits until `when` holds for `results` or `timeout` passes (`None`: no
/// limit) — Python's `concurrent.futures.wait`; returns which are ready. The
/// results stay where they are: take the values with
/// [`get`](AsyncResult::get) afterwards.
///
/// A forked child's copy of a result its parent submitted (a closure's
/// capture; see [`PoolError::NotOwner`]) is not waited for, as its
/// [`AsyncResult::wait`] returns at once there: nothing completes it in
/// the child. It counts as not done, as its [`AsyncResult::ready`] says
/// there. So `wait` waits as if the copies were not given (for nothing if
/// every result is one) and puts them in [`Waited::not_done`].
pub fn wait<R: ResultHandle>(results: &[R], when: ReturnWhen, timeout: Option<Duration>) -> Waited {
    let deadline = Deadline::after(timeout);
    let board = Board::new();
    watch(&board, results);
    let watched = results.iter().filter(|r| !is_copy(*r)).count();
    let mut ready = vec![false; results.len()];
    let mut count = 0;
    while count < watched {
        let Some(i) = board.next_until(deadline) else {
            break;
        };
        if std::mem::replace(&mut ready[i], true) {
            continue;
        }
        count += 1;
        let stop = match when {
            ReturnWhen::FirstCompleted => true,
            ReturnWhen::FirstError => matches!(results[i].async_result().successful(), Ok(false)),
            ReturnWhen::AllCompleted => false,
        };
        if stop {
            break;
        }
    }
    // Results that became ready meanwhile count too (a copy's cell is not
    // looked at).
    let (done, not_done) = (0..results.len())
        .partition(|&i| ready[i] || (!is_copy(&results[i]) && results[i].async_result().is_done()));
    Waited { done, not_done }
}
