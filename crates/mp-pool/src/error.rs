//! Errors of the pool: what one task can fail with ([`TaskError`], which
//! travels from a worker to the parent) and what a pool call can fail with
//! ([`PoolError`]).

use std::io;

use serde::{Deserialize, Serialize};

/// Why one task failed. Delivered through [`AsyncResult::get`](crate::AsyncResult::get),
/// `map`, the imap iterators and error callbacks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[non_exhaustive]
pub enum TaskError {
    /// The task panicked (Python: the task raised an exception).
    #[error("task panicked at {location}: {message}")]
    Panic {
        /// The panic message.
        message: String,
        /// Where it panicked: `file:line:column`.
        location: String,
    },
    /// The worker running the task died (killed, aborted, crashed, exited)
    /// while the task ran, or after it ran but before its result was sent
    /// (a task is in the same chunk as the task that was running then, and
    /// earlier). Tasks that had not started are sent to another worker
    /// instead. CPython's pool hangs in this case.
    #[error("worker {worker} died with {}{}", describe_exit(*.exitcode), describe_task(*.task))]
    WorkerDied {
        /// The worker's name (`ForkPoolWorker-3`).
        worker: String,
        /// Its exit code: `-SIG` when killed by a signal.
        exitcode: i32,
        /// The index (in the call's inputs) of the task it was running when
        /// it died; `None` if no task of the chunk had started.
        task: Option<usize>,
    },
    /// The call's input iterator panicked while this task's argument was
    /// being read (Python: the iterable raised). The `imap` forms yield the
    /// results of the inputs read before it, then this error, then end.
    #[error("the input iterator panicked at {location}: {message}")]
    InputPanic {
        /// The panic message.
        message: String,
        /// Where it panicked: `file:line:column`.
        location: String,
    },
    /// The task's result could not be encoded in the worker (Python's
    /// `MaybeEncodingError`).
    #[error("error sending result: {0}")]
    Encode(String),
    /// The task's arguments or result could not be decoded.
    #[error("cannot decode: {0}")]
    Decode(String),
    /// The worker could not name the task function (a different binary).
    #[error("cannot call the task function in the worker: {0}")]
    Function(String),
    /// No worker could be started to run the task.
    #[error("no worker to run the task: {0}")]
    NoWorker(String),
    /// The task ran longer than its timeout
    /// ([`PoolBuilder::task_timeout`](crate::PoolBuilder::task_timeout),
    /// [`TaskOptions::timeout`](crate::TaskOptions::timeout)): its worker was
    /// stopped (`SIGTERM`, then `SIGKILL` after a grace period) and replaced.
    /// The other tasks of its chunk run again elsewhere.
    #[error("task {task} timed out after {timeout:?}")]
    Timeout {
        /// The index of the task in the call's inputs.
        task: usize,
        /// The timeout it exceeded.
        timeout: std::time::Duration,
    },
    /// The call was cancelled ([`AsyncResult::cancel`](crate::AsyncResult::cancel))
    /// before this task's result was delivered.
    #[error("cancelled")]
    Cancelled,
    /// A worker of a [`ProcessPoolExecutor`](crate::ProcessPoolExecutor)
    /// built with [`BrokenPolicy::Break`](crate::BrokenPolicy::Break) died
    /// while this task was running or pending, or before it was submitted:
    /// the executor is broken and every unfinished and later task fails so
    /// (Python's `concurrent.futures.process.BrokenProcessPool`).
    #[error(
        "a process in the pool ({worker}) terminated abruptly with {}: the process pool is not usable any more",
        describe_exit(*.exitcode)
    )]
    BrokenProcessPool {
        /// The name of the worker that died (`ForkPoolWorker-3`).
        worker: String,
        /// Its exit code: `-SIG` when killed by a signal.
        exitcode: i32,
    },
}

/// `exit code 3`, or `exit code -9 (SIGKILL)` for a signal.
pub(crate) fn describe_exit(code: i32) -> String {
    match (code < 0)
        .then(|| mp_sys::signal::signal_name(-code))
        .flatten()
    {
        Some(name) => format!("exit code {code} ({name})"),
        None => format!("exit code {code}"),
    }
}

/// `the pool's workers make a T`, or that they make none.
fn describe_state(pool: Option<&str>) -> String {
    match pool {
        Some(t) => format!("the pool's workers make a {t}"),
        None => "the pool's workers make no state (see worker_state on the builder)".to_string(),
    }
}

/// ` while running task 7`, or nothing.
fn describe_task(task: Option<usize>) -> String {
    task.map(|t| format!(" while running task {t}"))
        .unwrap_or_default()
}

impl TaskError {
    /// A [`WorkerDied`](Self::WorkerDied) or [`Timeout`](Self::Timeout) whose task index counts within its
    /// chunk, made to count within the whole call (`offset`: the index of
    /// the chunk's first input).
    pub(crate) fn offset_task(self, offset: usize) -> TaskError {
        match self {
            TaskError::WorkerDied {
                worker,
                exitcode,
                task,
            } => TaskError::WorkerDied {
                worker,
                exitcode,
                task: task.map(|t| t + offset),
            },
            TaskError::Timeout { task, timeout } => TaskError::Timeout {
                task: task + offset,
                timeout,
            },
            other => other,
        }
    }
}

/// What a pool call can fail with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PoolError {
    /// A task failed (panic, worker death, encoding); for `map`, the first
    /// failure received, reported once every task has finished.
    #[error(transparent)]
    Task(#[from] TaskError),
    /// The result was not ready within the timeout (Python's
    /// `multiprocessing.TimeoutError`).
    #[error("timed out")]
    Timeout,
    /// Work was submitted after `close()` or `terminate()`.
    #[error("pool not running")]
    NotRunning,
    /// The pool was used by a process other than the one that made it (a
    /// child forked with a copy of it): only its maker may use a pool.
    #[error("this pool belongs to process {owner}; only the process that made a pool may use it")]
    NotOwner {
        /// The pid of the process that made the pool.
        owner: u32,
    },
    /// `join()` before `close()` or `terminate()`.
    #[error("pool is still running")]
    StillRunning,
    /// The pool was terminated (or dropped) before the result was ready.
    #[error("the pool was terminated before the result was ready")]
    Terminated,
    /// `successful()` before the result was ready.
    #[error("result not ready")]
    NotReady,
    /// The result was already taken by an earlier `get`.
    #[error("the result was already taken")]
    Taken,
    /// An argument out of range (Python's `ValueError`).
    #[error("{0}")]
    InvalidArgument(String),
    /// The task arguments (or initializer arguments) could not be encoded.
    #[error("cannot encode the task arguments: {0}")]
    Encode(#[from] mp_wire::EncodeError),
    /// A worker process could not be started.
    #[error("cannot start a worker: {0}")]
    Start(#[from] mp_process::ProcessError),
    /// A setting this kind of pool cannot honour (a kill-timeout on a
    /// [`ThreadPool`](crate::ThreadPool): a thread cannot be killed).
    #[error("unsupported: {0}")]
    Unsupported(String),
    /// A `*_with_state` call whose tasks take a worker state of another
    /// type than the one the pool's workers make
    /// ([`PoolBuilder::worker_state`](crate::PoolBuilder::worker_state)), or
    /// a pool that makes none.
    #[error("the tasks take a worker state of type {wanted}, but {}", describe_state(*.pool))]
    WorkerStateType {
        /// The state type the tasks take.
        wanted: &'static str,
        /// The state type the workers make, if any.
        pool: Option<&'static str>,
    },
    /// An operating-system error (creating channels).
    #[error(transparent)]
    Io(#[from] io::Error),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_the_signal() {
        let e = TaskError::WorkerDied {
            worker: "ForkPoolWorker-3".into(),
            exitcode: -9,
            task: None,
        };
        assert_eq!(
            e.to_string(),
            "worker ForkPoolWorker-3 died with exit code -9 (SIGKILL)"
        );
        let e = TaskError::WorkerDied {
            worker: "ForkPoolWorker-3".into(),
            exitcode: 3,
            task: Some(2),
        };
        assert_eq!(
            e.offset_task(10).to_string(),
            "worker ForkPoolWorker-3 died with exit code 3 while running task 12"
        );
        assert_eq!(describe_exit(2), "exit code 2");
        let p = TaskError::Panic {
            message: "boom".into(),
            location: "src/a.rs:1:2".into(),
        };
        assert_eq!(p.to_string(), "task panicked at src/a.rs:1:2: boom");
        assert_eq!(
            PoolError::from(p).to_string(),
            "task panicked at src/a.rs:1:2: boom"
        );
    }
}
