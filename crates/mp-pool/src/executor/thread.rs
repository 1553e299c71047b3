//! The calls of a [`ThreadPoolExecutor`]: constructors, `submit` and `map`
//! on a [`ThreadPool`] (the shared ones are on [`Executor`]).

use std::sync::Arc;
use std::time::Duration;

use mp_process::TupleFn;

use crate::error::PoolError;
use crate::thread_pool::{ThreadPool, ThreadPoolBuilder, ThreadStarFn};

use super::broken::Breaker;
use super::{Executor, ExecutorMap, Future, ThreadPoolExecutor};

type Apply<F, Args> = <F as TupleFn<Args>>::Output;

impl Executor<ThreadPool> {
    /// An executor with [`cpu_count()`](mp_process::cpu_count) threads.
    /// (Python's default is `min(32, cpu_count() + 4)`, for I/O-bound work;
    /// ask for more with [`with_max_workers`](Self::with_max_workers).)
    pub fn new() -> Result<ThreadPoolExecutor, PoolError> {
        Self::from_builder(ThreadPool::builder())
    }

    /// An executor with `n` threads (Python's
    /// `ThreadPoolExecutor(max_workers=n)`).
    pub fn with_max_workers(n: usize) -> Result<ThreadPoolExecutor, PoolError> {
        Self::from_builder(ThreadPool::builder().threads(n))
    }

    /// An executor on the pool `builder` makes (threads, initializer:
    /// Python's `initializer` and `initargs`).
    pub fn from_builder(builder: ThreadPoolBuilder) -> Result<ThreadPoolExecutor, PoolError> {
        Ok(Executor::from_pool(
            builder.build()?,
            Arc::new(Breaker::default()),
        ))
    }

    /// Schedules `f(*args)` on a thread and returns its [`Future`] (Python's
    /// `submit(fn, *args)`); `f` may capture. After
    /// [`shutdown`](Executor::shutdown): [`PoolError::NotRunning`].
    pub fn submit<F, Args>(&self, f: F, args: Args) -> Result<Future<Apply<F, Args>>, PoolError>
    where
        F: ThreadStarFn<Args>,
        Args: Send + 'static,
        Apply<F, Args>: Send + 'static,
    {
        let result = self.pool.apply_async(f, args)?;
        Ok(self.future(result))
    }

    /// `f(item)` for every item, as an iterator of results in input order
    /// (Python's `map(fn, iterable, timeout=, chunksize=)`); see
    /// [`ProcessPoolExecutor::map`](Executor::map) for the timeout and how
    /// the iteration ends.
    pub fn map<F, T, R>(
        &self,
        f: F,
        iterable: impl IntoIterator<Item = T>,
        timeout: Option<Duration>,
        chunksize: usize,
    ) -> Result<ExecutorMap<R>, PoolError>
    where
        F: Fn(T) -> R + Send + Sync + 'static,
        T: Send + 'static,
        R: Send + 'static,
    {
        self.start_map(timeout, chunksize, |pool| {
            pool.imap_chunked(f, iterable, chunksize)
        })
    }
}
