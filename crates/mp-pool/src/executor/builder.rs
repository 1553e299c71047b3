//! [`ExecutorBuilder`]: the options of Python's
//! `ProcessPoolExecutor(max_workers, mp_context, initializer, initargs,
//! max_tasks_per_child)`, plus the broken-pool policy and a task timeout.

use std::sync::Arc;
use std::time::Duration;

use mp_process::{Context, StartMethod};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::builder::PoolBuilder;
use crate::error::PoolError;
use crate::func::StarFn;
use crate::lock::lock;

use super::broken::{Breaker, BrokenPolicy};
use super::ProcessPoolExecutor;

/// Options for a [`ProcessPoolExecutor`]; start with
/// [`ProcessPoolExecutor::builder`].
///
/// ```
/// use mp_pool::{BrokenPolicy, ProcessPoolExecutor};
///
/// fn start() {}
///
/// let executor = ProcessPoolExecutor::builder()
///     .max_workers(2)
///     .initializer(start, ())
///     .max_tasks_per_child(100)
///     .on_worker_death(BrokenPolicy::Break)
///     .build()?;
/// assert_eq!(executor.pool().processes(), 2);
/// # Ok::<(), mp_pool::PoolError>(())
/// ```
#[derive(Debug, Default)]
pub struct ExecutorBuilder {
    pool: PoolBuilder,
    policy: BrokenPolicy,
}

impl ExecutorBuilder {
    /// Number of worker processes (Python's `max_workers`; default
    /// [`cpu_count()`](mp_process::cpu_count)). Must be at least 1. The
    /// workers start with the executor (Python starts them on demand).
    pub fn max_workers(mut self, n: usize) -> Self {
        self.pool = self.pool.processes(n);
        self
    }

    /// Runs `f(*initargs)` once in each worker when it starts (Python's
    /// `initializer` and `initargs`); see [`PoolBuilder::initializer`].
    /// With [`BrokenPolicy::Break`], an initializer that panics breaks the
    /// executor, as in Python.
    pub fn initializer<F, Args>(mut self, f: F, initargs: Args) -> Self
    where
        F: StarFn<Args>,
        Args: Serialize + DeserializeOwned + 'static,
    {
        self.pool = self.pool.initializer(f, initargs);
        self
    }

    /// Replaces a worker after it has run `n` tasks (Python's
    /// `max_tasks_per_child`; with `map`, a chunk counts as one task). Must
    /// be at least 1. Unlike Python's, it works under every start method,
    /// `fork` included.
    pub fn max_tasks_per_child(mut self, n: usize) -> Self {
        self.pool = self.pool.maxtasksperchild(n);
        self
    }

    /// Starts workers with this context's start method (Python's
    /// `mp_context`).
    pub fn context(mut self, ctx: Context) -> Self {
        self.pool = self.pool.context(ctx);
        self
    }

    /// Starts workers with this start method.
    pub fn start_method(mut self, method: StartMethod) -> Self {
        self.pool = self.pool.start_method(method);
        self
    }

    /// Beyond Python: a task running longer than `timeout` has its worker
    /// stopped and replaced and fails with
    /// [`TaskError::Timeout`](crate::TaskError::Timeout) (see
    /// [`PoolBuilder::task_timeout`]); a stopped worker never breaks the
    /// executor. A call may set its own with
    /// [`submit_opts`](ProcessPoolExecutor::submit_opts).
    pub fn task_timeout(mut self, timeout: Duration) -> Self {
        self.pool = self.pool.task_timeout(timeout);
        self
    }

    /// What a worker's death does: heal the pool
    /// ([`BrokenPolicy::Replace`], the default) or break the executor like
    /// `concurrent.futures` ([`BrokenPolicy::Break`]).
    pub fn on_worker_death(mut self, policy: BrokenPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// Starts the workers. Fails as [`PoolBuilder::build`] does.
    pub fn build(self) -> Result<ProcessPoolExecutor, PoolError> {
        let pool = self.pool.build()?;
        let breaker = Arc::new(Breaker::default());
        if self.policy == BrokenPolicy::Break {
            // A worker that died before this line (nothing submitted yet)
            // was replaced; from here on a death breaks the executor.
            let b = breaker.clone();
            lock(&pool.inner.shared).on_death = Some(Box::new(move |w, code| b.record(w, code)));
        }
        Ok(ProcessPoolExecutor::from_pool(pool, breaker))
    }
}
