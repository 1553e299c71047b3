//! [`Executor`]: Python's `concurrent.futures` executors on top of our
//! pools — [`ProcessPoolExecutor`] on a [`Pool`], [`ThreadPoolExecutor`] on
//! a [`ThreadPool`]: `submit` returning a [`Future`], `map` with a deadline,
//! `shutdown(wait, cancel_futures)`, drop as the end of a `with` block, and
//! (processes) a broken pool reported as Python does when the user picks
//! [`BrokenPolicy::Break`]. The process calls are here, the thread calls in
//! `thread`.

mod broken;
mod builder;
mod future;
mod map;
mod thread;

use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mp_process::CodeOnly;
use mp_sys::time::Deadline;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::PoolError;
use crate::func::StarFn;
use crate::imap::IMapIterator;
use crate::lock::lock;
use crate::options::TaskOptions;
use crate::pool::{Apply, Pool};
use crate::result::{AsyncResult, Callbacks};
use crate::thread_pool::ThreadPool;

pub use broken::BrokenPolicy;
pub use builder::ExecutorBuilder;
pub use future::Future;
pub use map::ExecutorMap;

use broken::Breaker;

/// Python's `concurrent.futures.ProcessPoolExecutor`: an [`Executor`] on
/// worker processes. [`submit`](Executor::submit) a call and get a
/// [`Future`]; [`map`](Executor::map) with a timeout;
/// [`shutdown`](Executor::shutdown). [`as_completed`](crate::as_completed)
/// and [`wait`](crate::wait) take its futures.
///
/// Task functions and values follow [`Pool`]'s rules (a `fn` item or a
/// closure that captures nothing; serde arguments and results).
///
/// ```
/// use mp_pool::{as_completed, ProcessPoolExecutor};
///
/// fn square(x: u64) -> u64 {
///     x * x
/// }
///
/// let executor = ProcessPoolExecutor::with_max_workers(2)?;
/// let futures = (0..4u64)
///     .map(|x| executor.submit(square, (x,)))
///     .collect::<Result<Vec<_>, _>>()?;
/// let mut squares: Vec<u64> = as_completed(futures).map(|f| f.result().unwrap()).collect();
/// squares.sort();
/// assert_eq!(squares, vec![0, 1, 4, 9]);
/// let mapped: Vec<u64> = executor.map(square, 0..4, None, 1)?.map(Result::unwrap).collect();
/// assert_eq!(mapped, vec![0, 1, 4, 9]);
/// # Ok::<(), mp_pool::PoolError>(())
/// ```
///
/// # Dropping
/// Dropping an executor is [`shutdown(true, false)`](Executor::shutdown), as
/// the end of Python's `with ProcessPoolExecutor() as ex:` block: it waits
/// until every submitted task has finished. (Dropping a [`Pool`] terminates
/// it: Python's two `with` blocks differ, and so do ours.)
///
/// # A worker that dies
/// By default the pool heals ([`BrokenPolicy::Replace`]): only the task the
/// worker was running fails, with
/// [`TaskError::WorkerDied`](crate::TaskError::WorkerDied). Built with
/// [`BrokenPolicy::Break`], the executor breaks as Python's does: the pool is
/// terminated and every unfinished and later future fails with
/// [`TaskError::BrokenProcessPool`](crate::TaskError::BrokenProcessPool),
/// which names the dead worker and its exit status.
pub type ProcessPoolExecutor = Executor<Pool>;

/// Python's `concurrent.futures.ThreadPoolExecutor`: an [`Executor`] on the
/// threads of a [`ThreadPool`], so task functions may capture and values
/// need no serde.
///
/// ```
/// use std::sync::Arc;
/// use mp_pool::ThreadPoolExecutor;
///
/// let base = Arc::new(10u64);
/// let executor = ThreadPoolExecutor::with_max_workers(2)?;
/// let b = base.clone();
/// let f = executor.submit(move |x: u64| x + *b, (5,))?;
/// assert_eq!(f.result()?, 15);
/// # Ok::<(), mp_pool::PoolError>(())
/// ```
///
/// [`Future::cancel`], `shutdown(_, true)` and a `map` that ends early
/// (timeout, drop) cancel the tasks no thread has begun, as Python's do. A
/// thread cannot be stopped from outside: [`Future::cancel_and_kill`] is
/// `cancel` here, a running task finishing with its result dropped. The
/// executor never breaks (a panic is the task's error).
pub type ThreadPoolExecutor = Executor<ThreadPool>;

/// `concurrent.futures`' executor shape over one of our pools: see
/// [`ProcessPoolExecutor`] (worker processes) and [`ThreadPoolExecutor`]
/// (threads), which say what each adds.
pub struct Executor<P: ExecutorPool> {
    pool: P,
    breaker: Arc<Breaker>,
    pending: Mutex<Pending>,
}

/// A pool an [`Executor`] runs on: [`Pool`] or [`ThreadPool`].
pub trait ExecutorPool {
    /// Stops accepting work (the pool's `close`).
    fn close(&self);
    /// Waits until the workers have exited (the pool's `join`).
    fn join(&self) -> Result<(), PoolError>;
    /// Whether the calling process made the pool: only its maker may use
    /// it (see [`PoolError::NotOwner`]).
    fn is_owner(&self) -> bool;
}

impl ExecutorPool for Pool {
    fn close(&self) {
        Pool::close(self);
    }

    fn join(&self) -> Result<(), PoolError> {
        Pool::join(self)
    }

    fn is_owner(&self) -> bool {
        Pool::is_owner(self)
    }
}

impl ExecutorPool for ThreadPool {
    fn close(&self) {
        ThreadPool::close(self);
    }

    fn join(&self) -> Result<(), PoolError> {
        ThreadPool::join(self)
    }

    fn is_owner(&self) -> bool {
        ThreadPool::is_owner(self)
    }
}

/// The futures submitted and maybe unfinished, for
/// `shutdown(cancel_futures)`.
#[derive(Default)]
struct Pending {
    calls: Vec<Box<dyn Cancel>>,
    /// Finished ones are dropped when `calls` grows past this.
    prune_at: usize,
}

/// A submitted call as `shutdown(cancel_futures)` sees it.
trait Cancel: Send + Sync {
    fn is_done(&self) -> bool;
    /// Cancels it if no worker holds it yet.
    fn cancel_pending(&self) -> bool;
}

impl<T: Send> Cancel for AsyncResult<T> {
    fn is_done(&self) -> bool {
        AsyncResult::is_done(self)
    }

    fn cancel_pending(&self) -> bool {
        AsyncResult::cancel_pending(self)
    }
}

impl Pending {
    fn push(&mut self, call: Box<dyn Cancel>) {
        if self.calls.len() >= self.prune_at {
            self.calls.retain(|c| !c.is_done());
            self.prune_at = (2 * self.calls.len()).max(64);
        }
        self.calls.push(call);
    }
}

impl<P: ExecutorPool> Executor<P> {
    fn from_pool(pool: P, breaker: Arc<Breaker>) -> Self {
        Executor {
            pool,
            breaker,
            pending: Mutex::new(Pending::default()),
        }
    }

    /// The pool underneath, for what an executor does not offer
    /// (`imap_unordered`, callbacks, ...).
    pub fn pool(&self) -> &P {
        &self.pool
    }

    /// Whether the executor is broken (see [`BrokenPolicy::Break`]).
    pub fn is_broken(&self) -> bool {
        self.breaker.cause().is_some()
    }

    /// The error for a call that cannot be submitted: the executor's
    /// breakage if it is broken, else `e`.
    fn refused(&self, e: PoolError) -> PoolError {
        self.breaker.map(e)
    }

    fn check(&self) -> Result<(), PoolError> {
        match self.breaker.cause() {
            Some(cause) => Err(PoolError::Task(cause)),
            None => Ok(()),
        }
    }

    /// A `map` of `chunksize` items per chunk whose results `start` submits,
    /// with a deadline `timeout` from now.
    fn start_map<R>(
        &self,
        timeout: Option<Duration>,
        chunksize: usize,
        start: impl FnOnce(&P) -> Result<IMapIterator<R>, PoolError>,
    ) -> Result<ExecutorMap<R>, PoolError> {
        if chunksize < 1 {
            return Err(PoolError::InvalidArgument(
                "chunksize must be >= 1".to_string(),
            ));
        }
        let deadline = Deadline::after(timeout);
        self.check()?;
        let results = start(&self.pool).map_err(|e| self.refused(e))?;
        Ok(ExecutorMap::new(results, deadline, self.breaker.clone()))
    }

    /// Wraps a submitted call's result.
    fn future<T: Send + 'static>(&self, result: AsyncResult<T>) -> Future<T> {
        lock(&self.pending).push(Box::new(result.share()));
        Future::new(result, self.breaker.clone())
    }

    /// Stops accepting work (Python's `shutdown(wait, cancel_futures)`):
    /// later calls fail with [`PoolError::NotRunning`]. With
    /// `cancel_futures`, the futures no worker holds yet are cancelled
    /// (they report [`TaskError::Cancelled`](crate::TaskError::Cancelled));
    /// with `wait`, returns once every other task has finished and the
    /// workers have exited. Idempotent. The executor's drop waits even after
    /// `shutdown(false, _)`.
    ///
    /// Does nothing in a process other than the pool's maker (a child
    /// forked with a copy of the executor, whose calls fail with
    /// [`PoolError::NotOwner`]): the futures and workers are its parent's,
    /// and so, maybe held for ever there, are the locks.
    pub fn shutdown(&self, wait: bool, cancel_futures: bool) {
        if !self.pool.is_owner() {
            return;
        }
        if cancel_futures {
            let calls = std::mem::take(&mut lock(&self.pending).calls);
            for call in &calls {
                call.cancel_pending();
            }
        }
        self.pool.close();
        if wait {
            // Only `StillRunning` is possible, and the pool is closed.
            let _ = self.pool.join();
        }
    }
}

impl Executor<Pool> {
    /// An executor with [`cpu_count()`](mp_process::cpu_count) workers
    /// (Python's `ProcessPoolExecutor()`).
    pub fn new() -> Result<ProcessPoolExecutor, PoolError> {
        ExecutorBuilder::default().build()
    }

    /// An executor with `n` workers (Python's
    /// `ProcessPoolExecutor(max_workers=n)`).
    pub fn with_max_workers(n: usize) -> Result<ProcessPoolExecutor, PoolError> {
        ExecutorBuilder::default().max_workers(n).build()
    }

    /// Options: max_workers, initializer, max_tasks_per_child, context,
    /// task timeout, broken-pool policy.
    pub fn builder() -> ExecutorBuilder {
        ExecutorBuilder::default()
    }

    /// Schedules `f(*args)` and returns its [`Future`] (Python's
    /// `submit(fn, *args)`). After [`shutdown`](Self::shutdown):
    /// [`PoolError::NotRunning`] (Python's `RuntimeError`); once broken:
    /// [`TaskError::BrokenProcessPool`](crate::TaskError::BrokenProcessPool).
    pub fn submit<F, Args>(&self, f: F, args: Args) -> Result<Future<Apply<F, Args>>, PoolError>
    where
        F: StarFn<Args>,
        Args: Serialize + DeserializeOwned + 'static,
        Apply<F, Args>: Serialize + DeserializeOwned + Send + 'static,
    {
        self.submit_opts(f, args, TaskOptions::new())
    }

    /// [`submit`](Self::submit) with [`TaskOptions`] (a timeout for this
    /// task, like pebble's `schedule(timeout=)`).
    pub fn submit_opts<F, Args>(
        &self,
        f: F,
        args: Args,
        opts: TaskOptions,
    ) -> Result<Future<Apply<F, Args>>, PoolError>
    where
        F: StarFn<Args>,
        Args: Serialize + DeserializeOwned + 'static,
        Apply<F, Args>: Serialize + DeserializeOwned + Send + 'static,
    {
        self.check()?;
        let result = self
            .pool
            .apply_async_opts(f, args, Callbacks::new(), opts)
            .map_err(|e| self.refused(e))?;
        Ok(self.future(result))
    }

    /// `f(item)` for every item, as an iterator of results in input order
    /// (Python's `map(fn, iterable, timeout=, chunksize=)`). Every task is
    /// submitted now; `timeout` (`None`: no limit) counts from this call for
    /// the whole iteration, and `chunksize` items (at least one; Python's
    /// default is one) go to a worker at a time. See [`ExecutorMap`] for
    /// how it ends.
    pub fn map<F, T, R>(
        &self,
        f: F,
        iterable: impl IntoIterator<Item = T>,
        timeout: Option<Duration>,
        chunksize: usize,
    ) -> Result<ExecutorMap<R>, PoolError>
    where
        F: Fn(T) -> R + CodeOnly,
        T: Serialize + DeserializeOwned + 'static,
        R: Serialize + DeserializeOwned + Send + 'static,
    {
        self.start_map(timeout, chunksize, |pool| {
            pool.imap_opts(f, iterable, chunksize, TaskOptions::new())
        })
    }
}

impl<P: ExecutorPool> Drop for Executor<P> {
    /// `shutdown(wait=true)`, like the end of a `with` block.
    fn drop(&mut self) {
        self.shutdown(true, false);
    }
}

impl<P: ExecutorPool + fmt::Debug> fmt::Debug for Executor<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Executor")
            .field("pool", &self.pool)
            .field("broken", &self.is_broken())
            .finish()
    }
}
