//! [`ExecutorMap`]: the iterator of
//! [`ProcessPoolExecutor::map`](crate::ProcessPoolExecutor::map) — results
//! in input order against one deadline for the whole call.

use std::fmt;
use std::sync::Arc;

use mp_sys::time::Deadline;

use crate::error::{PoolError, TaskError};
use crate::imap::IMapIterator;

use super::broken::Breaker;

/// The iterator of [`ProcessPoolExecutor::map`](crate::ProcessPoolExecutor::map):
/// each task's result in input order. The call's `timeout` counts from the
/// `map` call for the whole iteration (Python's): once it has passed, the
/// next item not yet done is [`PoolError::Timeout`]. That error, a
/// terminated or broken pool ends the iteration and cancels the tasks that
/// have not started (Python's generator is closed when it raises); a task's
/// own failure is its item and the iteration goes on. Dropping the iterator
/// cancels the tasks that have not started, as in Python.
pub struct ExecutorMap<R> {
    /// `None` once the iteration has ended.
    results: Option<IMapIterator<R>>,
    deadline: Deadline,
    breaker: Arc<Breaker>,
}

impl<R> ExecutorMap<R> {
    pub(crate) fn new(results: IMapIterator<R>, deadline: Deadline, breaker: Arc<Breaker>) -> Self {
        ExecutorMap {
            results: Some(results),
            deadline,
            breaker,
        }
    }
}

impl<R> Iterator for ExecutorMap<R> {
    type Item = Result<R, PoolError>;

    fn next(&mut self) -> Option<Self::Item> {
        let results = self.results.as_mut()?;
        let item = match self.deadline.remaining() {
            None => results.next(),
            Some(left) => results.next_timeout(left),
        };
        match item {
            None => {
                self.results = None;
                None
            }
            Some(Ok(v)) => Some(Ok(v)),
            Some(Err(e)) => {
                let e = self.breaker.map(e);
                let fatal = !matches!(e, PoolError::Task(_))
                    || matches!(
                        e,
                        PoolError::Task(TaskError::BrokenProcessPool { .. } | TaskError::Cancelled)
                    );
                if fatal {
                    // Dropping the pool's iterator cancels what has not run.
                    self.results = None;
                }
                Some(Err(e))
            }
        }
    }
}

impl<R> fmt::Debug for ExecutorMap<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExecutorMap")
            .field("ended", &self.results.is_none())
            .field("deadline", &self.deadline)
            .finish()
    }
}
