//! [`BrokenPolicy`] and the [`Breaker`]: what a
//! [`ProcessPoolExecutor`](crate::ProcessPoolExecutor) does when a worker
//! dies, and how a broken executor's errors read.

use std::sync::OnceLock;

use crate::error::{PoolError, TaskError};

/// What a [`ProcessPoolExecutor`](crate::ProcessPoolExecutor) does when one
/// of its workers dies on its own (killed, crashed, `exit(n)`; not a worker
/// the pool stopped for a task timeout or a kill-cancel, not one retired by
/// `max_tasks_per_child`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum BrokenPolicy {
    /// The pool heals, as our [`Pool`](crate::Pool) does: the task the
    /// worker was running fails with [`TaskError::WorkerDied`], a
    /// replacement starts, every other task carries on. The default.
    #[default]
    Replace,
    /// The executor breaks, as `concurrent.futures` and loky do: the pool
    /// is terminated, every unfinished future fails with
    /// [`TaskError::BrokenProcessPool`] naming the dead worker and its exit
    /// status, and so does every later `submit` and `map`.
    Break,
}

/// Whether an executor is broken, and why.
#[derive(Debug, Default)]
pub(crate) struct Breaker {
    cause: OnceLock<TaskError>,
}

impl Breaker {
    /// Worker `worker` died with `exitcode`: the executor is broken (the
    /// first death is the cause). Returns `true` (the pool must stop).
    pub(crate) fn record(&self, worker: &str, exitcode: i32) -> bool {
        self.cause.get_or_init(|| TaskError::BrokenProcessPool {
            worker: worker.to_string(),
            exitcode,
        });
        true
    }

    /// The error of a broken executor, if it is broken.
    pub(crate) fn cause(&self) -> Option<TaskError> {
        self.cause.get().cloned()
    }

    /// `e` as a broken executor reports it: a worker death or the pool's
    /// termination becomes [`TaskError::BrokenProcessPool`]; the rest
    /// (and everything while the executor is not broken) stays.
    pub(crate) fn map(&self, e: PoolError) -> PoolError {
        match (e, self.cause.get()) {
            (
                PoolError::Terminated
                | PoolError::NotRunning
                | PoolError::Task(TaskError::WorkerDied { .. }),
                Some(cause),
            ) => PoolError::Task(cause.clone()),
            (e, _) => e,
        }
    }

    /// [`map`](Self::map) for a task's own error.
    pub(crate) fn map_task(&self, e: &TaskError) -> TaskError {
        match (e, self.cause.get()) {
            (TaskError::WorkerDied { .. }, Some(cause)) => cause.clone(),
            (e, _) => e.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_broken_executor_names_the_first_death() {
        let b = Breaker::default();
        assert!(matches!(
            b.map(PoolError::Terminated),
            PoolError::Terminated
        ));
        assert!(b.record("SpawnPoolWorker-2", -9));
        assert!(b.record("SpawnPoolWorker-3", 1));
        let e = b.map(PoolError::Terminated);
        assert_eq!(
            e.to_string(),
            "a process in the pool (SpawnPoolWorker-2) terminated abruptly with exit code -9 \
             (SIGKILL): the process pool is not usable any more"
        );
        let panic = TaskError::Panic {
            message: "boom".into(),
            location: "a.rs:1:1".into(),
        };
        assert_eq!(b.map_task(&panic), panic, "a task's own failure stays");
    }
}
