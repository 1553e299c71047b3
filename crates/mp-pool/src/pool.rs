//! [`Pool`]: Python's `multiprocessing.Pool` — submission methods and the
//! lifecycle (`close`, `terminate`, `join`, drop).

use mp_sys::thread_spawn::JoinHandle;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mp_process::{CodeOnly, StartMethod};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::apply_sink::ApplySink;
use crate::builder::PoolBuilder;
use crate::chunk::{self, Payload};
use crate::engine::{Inner, RunState};
use crate::error::{PoolError, TaskError};
use crate::func::{self, ChunkEntry, StarFn};
use crate::job_sink::JobSink;
use crate::lock::lock;
use crate::options::{CallSettings, TaskOptions};
use crate::progress_hook::Reporter;
use crate::result::{AsyncResult, Callbacks, ResultCell};
use crate::sink::CollectSink;

/// A pool of worker processes (Python's `multiprocessing.Pool`).
///
/// Task functions are `fn` items or closures that capture nothing; inputs
/// and results are serde values. Workers are daemonic processes named
/// `ForkPoolWorker-N`, `SpawnPoolWorker-N` or `ForkServerPoolWorker-N` after
/// the start method.
///
/// # Dropping
/// Dropping a `Pool` **terminates** it, as Python's `with Pool() as p:` does
/// at the end of the block (`__exit__` calls `terminate()`): workers are
/// stopped at once and unfinished results become [`PoolError::Terminated`].
/// A Rust block is the `with` statement: `{ let pool = Pool::new()?; ... }`.
/// To let queued work finish, call [`close`](Self::close) and
/// [`join`](Self::join) first.
///
/// # Failures
/// A panic in a task is that task's `Err` ([`TaskError::Panic`], with message
/// and location). A worker that dies (killed, aborted, crashed, `exit(n)`)
/// never hangs the pool: the task it was running fails with
/// [`TaskError::WorkerDied`] naming the task and the real exit code or
/// signal (or is retried, see [`PoolBuilder::retries`]), and so do the
/// tasks before it in the same chunk (their results died with the worker);
/// the tasks it had not started go to other workers, a replacement starts,
/// and every other task completes. `map` then fails with that error after
/// every other task has run. A callback that panics is reported and the
/// pool carries on.
pub struct Pool {
    pub(crate) inner: Arc<Inner>,
    pub(crate) thread: Mutex<Option<JoinHandle<()>>>,
}

pub(crate) type Apply<F, Args> = <F as mp_process::TupleFn<Args>>::Output;

pub(crate) fn single<R>(v: Vec<R>) -> Option<R> {
    v.into_iter().next()
}

pub(crate) fn all<R>(v: Vec<R>) -> Option<Vec<R>> {
    Some(v)
}

impl Pool {
    pub(crate) fn from_parts(inner: Arc<Inner>, thread: JoinHandle<()>) -> Pool {
        Pool {
            inner,
            thread: Mutex::new(Some(thread)),
        }
    }

    /// A pool of [`cpu_count()`](mp_process::cpu_count) workers with the
    /// default start method (Python's `Pool()`).
    pub fn new() -> Result<Pool, PoolError> {
        PoolBuilder::default().build()
    }

    /// A pool of `processes` workers (Python's `Pool(processes)`).
    pub fn with_processes(processes: usize) -> Result<Pool, PoolError> {
        PoolBuilder::default().processes(processes).build()
    }

    /// Options: processes, initializer, maxtasksperchild, context, retries,
    /// task timeout, worker state, memory limit per worker.
    pub fn builder() -> PoolBuilder {
        PoolBuilder::default()
    }

    /// The number of worker processes the pool keeps.
    pub fn processes(&self) -> usize {
        self.inner.config.processes
    }

    /// The start method of the workers.
    pub fn start_method(&self) -> StartMethod {
        self.inner.config.method
    }

    pub(crate) fn state(&self) -> RunState {
        if !self.is_owner() {
            // Not ours to look at (its lock may be held for ever here).
            return RunState::Terminate;
        }
        lock(&self.inner.shared).state
    }

    /// Whether the calling process made this pool (a forked child's copy
    /// must not touch it: no engine thread runs there, its locks may be
    /// held for ever by threads the child does not have, and its workers
    /// are the parent's).
    #[inline]
    pub(crate) fn is_owner(&self) -> bool {
        self.inner.is_owner()
    }

    /// [`PoolError::NotOwner`] unless the calling process made this pool.
    pub(crate) fn check_owner(&self) -> Result<(), PoolError> {
        if self.is_owner() {
            Ok(())
        } else {
            Err(PoolError::NotOwner {
                owner: self.inner.owner,
            })
        }
    }

    pub(crate) fn check_running(&self) -> Result<(), PoolError> {
        self.check_owner()?;
        match self.state() {
            RunState::Run => Ok(()),
            _ => Err(PoolError::NotRunning),
        }
    }

    /// Queues a job and hands out what it can; returns the job's id. With
    /// `deferred`, the engine thread is not woken for the worker that took
    /// the job: the caller promises to wait through [`AsyncResult`], whose
    /// waiting reads that worker itself (or wakes the engine when dropped).
    /// Every caller has checked that this process owns the pool
    /// ([`check_owner`](Self::check_owner) or
    /// [`check_running`](Self::check_running)).
    pub(crate) fn submit(
        &self,
        sink: JobSink,
        entry: ChunkEntry,
        payloads: impl IntoIterator<Item = Payload>,
        bulk: bool,
        deferred: bool,
        limit: Option<Duration>,
    ) -> Result<u64, PoolError> {
        debug_assert!(self.is_owner());
        let mut completions = Vec::new();
        let job = {
            let mut s = lock(&self.inner.shared);
            if s.state != RunState::Run {
                return Err(PoolError::NotRunning);
            }
            let entry = entry.to_parts();
            let job = s.submit(
                &self.inner.config,
                sink,
                entry,
                payloads,
                bulk,
                limit,
                &mut completions,
            );
            self.inner.settle(s, deferred.then_some(job));
            job
        };
        if limit.is_some() {
            // The engine watches the new job's deadlines from now on.
            self.inner.wake();
        }
        crate::engine::run_all(completions);
        Ok(job)
    }

    /// Queues chunks `first..` of a submitted job (see
    /// [`Shared::extend`](crate::engine::Shared::extend)), or fails them
    /// with `err` when their inputs could not be encoded.
    fn submit_more(
        &self,
        job: u64,
        first: usize,
        entry: ChunkEntry,
        more: Result<Vec<Payload>, (usize, TaskError)>,
    ) {
        self.inner.update(|s, cfg, completions| match more {
            // A job that is gone (terminated) takes no more chunks.
            Ok(_) if !s.has_job(job) => {}
            Ok(payloads) => s.extend(
                cfg,
                job,
                first,
                entry.to_parts(),
                payloads,
                true,
                completions,
            ),
            Err((end, e)) => s.fail_chunks(job, first..end, &e, completions),
        })
    }

    /// The default per-task timeout (the builder's).
    pub(crate) fn default_limit(&self) -> Option<Duration> {
        self.inner.config.task_timeout
    }

    /// The settings of a call without [`TaskOptions`].
    pub(crate) fn default_call(&self) -> CallSettings {
        CallSettings {
            limit: self.default_limit(),
            progress: None,
        }
    }

    /// Submits one task, `entry` called on `item` and limited to `limit`
    /// (`apply_async`): one chunk, whose result goes straight into the
    /// returned handle. Without callbacks, the engine leaves it to the
    /// handle's waiter to read the worker (see [`submit`](Self::submit)).
    pub(crate) fn apply_one<T, R>(
        &self,
        entry: ChunkEntry,
        item: &T,
        callbacks: Callbacks<R>,
        limit: Option<Duration>,
    ) -> Result<AsyncResult<R>, PoolError>
    where
        T: Serialize + 'static,
        R: DeserializeOwned + Send + 'static,
    {
        // The pool's state is checked by `submit`, under the lock it takes
        // anyway; an input that cannot be encoded reports `NotRunning`
        // first all the same, as every other call does.
        self.check_owner()?;
        let payload = match chunk::encode_chunk(std::slice::from_ref(item)) {
            Ok(p) => p,
            Err(e) => {
                self.check_running()?;
                return Err(e);
            }
        };
        let cell = ResultCell::new();
        let deferred = callbacks.is_empty();
        let sink = if deferred {
            JobSink::Cell(cell.clone())
        } else {
            JobSink::Boxed(Box::new(ApplySink::new(callbacks, cell.clone())))
        };
        let job = self.submit(sink, entry, [payload], false, deferred, limit)?;
        Ok(AsyncResult::with_helper(
            cell,
            Arc::clone(&self.inner),
            job,
            self.inner.owner,
        ))
    }

    /// Submits `items` in chunks of `chunksize`, each task limited to
    /// `call.limit` and reported to `call.progress`; the job's result is
    /// `finish` of every task's result.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn collect<T, R, O>(
        &self,
        entry: ChunkEntry,
        items: &[T],
        chunksize: usize,
        bulk: bool,
        finish: fn(Vec<R>) -> Option<O>,
        callbacks: Callbacks<O>,
        call: CallSettings,
    ) -> Result<AsyncResult<O>, PoolError>
    where
        T: Serialize + 'static,
        R: DeserializeOwned + Send + 'static,
        O: Send + 'static,
    {
        self.check_running()?;
        let chunksize = chunksize.max(1);
        // A map's first chunks go out as soon as they are encoded, one per
        // worker; the rest are encoded while those run.
        let head = if bulk {
            self.processes().max(1) * chunksize
        } else {
            items.len()
        };
        let (head_items, rest) = items.split_at(head.min(items.len()));
        let (mut lens, payloads) = chunk::encode_chunks(head_items, chunksize)?;
        let first_rest = lens.len();
        lens.extend(rest.chunks(chunksize).map(<[T]>::len));
        let cell = ResultCell::new();
        if lens.is_empty() {
            // Python: an empty map is ready at once, without callbacks.
            cell.set(
                finish(Vec::new())
                    .ok_or(PoolError::Task(TaskError::Decode("no result".to_string()))),
            );
            return Ok(AsyncResult::new(cell));
        }
        // A lone task without callbacks or progress hook is delivered only
        // through its AsyncResult: its waiter reads the worker (no engine
        // hop).
        let deferred =
            !bulk && payloads.len() == 1 && callbacks.is_empty() && call.progress.is_none();
        let lens_len = lens.len();
        let progress = call.progress.map(|h| Reporter::new(h, &lens, true));
        let sink = CollectSink::new(lens, finish, callbacks, cell.clone()).with_progress(progress);
        let job = self.submit(
            Box::new(sink).into(),
            entry,
            payloads,
            bulk,
            deferred,
            call.limit,
        )?;
        let total = lens_len;
        for (k, c) in rest.chunks(chunksize).enumerate() {
            let index = first_rest + k;
            match chunk::encode_chunk(c) {
                Ok(p) => self.submit_more(job, index, entry, Ok(vec![p])),
                Err(e) => {
                    let err = TaskError::Encode(e.to_string());
                    self.submit_more(job, index, entry, Err((total, err)));
                    break;
                }
            }
        }
        Ok(AsyncResult::with_helper(
            cell,
            Arc::clone(&self.inner),
            job,
            self.inner.owner,
        ))
    }

    /// Runs `f(*args)` in a worker and waits for the result (Python's `apply`).
    pub fn apply<F, Args>(&self, f: F, args: Args) -> Result<Apply<F, Args>, PoolError>
    where
        F: StarFn<Args>,
        Args: Serialize + DeserializeOwned + 'static,
        Apply<F, Args>: Serialize + DeserializeOwned + Send + 'static,
    {
        self.apply_async(f, args)?.get()
    }

    /// Submits `f(*args)` (Python's `apply_async`).
    pub fn apply_async<F, Args>(
        &self,
        f: F,
        args: Args,
    ) -> Result<AsyncResult<Apply<F, Args>>, PoolError>
    where
        F: StarFn<Args>,
        Args: Serialize + DeserializeOwned + 'static,
        Apply<F, Args>: Serialize + DeserializeOwned + Send + 'static,
    {
        self.apply_async_with(f, args, Callbacks::new())
    }

    /// Submits `f(*args)` with a `callback` / `error_callback` run in this
    /// process when it completes.
    pub fn apply_async_with<F, Args>(
        &self,
        f: F,
        args: Args,
        callbacks: Callbacks<Apply<F, Args>>,
    ) -> Result<AsyncResult<Apply<F, Args>>, PoolError>
    where
        F: StarFn<Args>,
        Args: Serialize + DeserializeOwned + 'static,
        Apply<F, Args>: Serialize + DeserializeOwned + Send + 'static,
    {
        self.apply_async_opts(f, args, callbacks, TaskOptions::new())
    }

    /// `f(item)` for every item, results in input order (Python's `map`),
    /// with Python's default chunk size. Waits until every task has finished;
    /// if any failed, returns the first failure received.
    pub fn map<F, T, R>(
        &self,
        f: F,
        iterable: impl IntoIterator<Item = T>,
    ) -> Result<Vec<R>, PoolError>
    where
        F: Fn(T) -> R + CodeOnly,
        T: Serialize + DeserializeOwned + 'static,
        R: Serialize + DeserializeOwned + Send + 'static,
    {
        self.map_async(f, iterable, None)?.get()
    }

    /// [`map`](Self::map) with an explicit chunk size (at least 1).
    pub fn map_chunked<F, T, R>(
        &self,
        f: F,
        iterable: impl IntoIterator<Item = T>,
        chunksize: usize,
    ) -> Result<Vec<R>, PoolError>
    where
        F: Fn(T) -> R + CodeOnly,
        T: Serialize + DeserializeOwned + 'static,
        R: Serialize + DeserializeOwned + Send + 'static,
    {
        self.map_async(f, iterable, Some(chunksize))?.get()
    }

    /// Submits a `map` (Python's `map_async`); `chunksize` `None` is
    /// Python's default.
    pub fn map_async<F, T, R>(
        &self,
        f: F,
        iterable: impl IntoIterator<Item = T>,
        chunksize: Option<usize>,
    ) -> Result<AsyncResult<Vec<R>>, PoolError>
    where
        F: Fn(T) -> R + CodeOnly,
        T: Serialize + DeserializeOwned + 'static,
        R: Serialize + DeserializeOwned + Send + 'static,
    {
        self.map_async_with(f, iterable, chunksize, Callbacks::new())
    }

    /// [`map_async`](Self::map_async) with callbacks: `callback` gets the
    /// whole result list, `error_callback` the first error, once every task
    /// has finished.
    pub fn map_async_with<F, T, R>(
        &self,
        f: F,
        iterable: impl IntoIterator<Item = T>,
        chunksize: Option<usize>,
        callbacks: Callbacks<Vec<R>>,
    ) -> Result<AsyncResult<Vec<R>>, PoolError>
    where
        F: Fn(T) -> R + CodeOnly,
        T: Serialize + DeserializeOwned + 'static,
        R: Serialize + DeserializeOwned + Send + 'static,
    {
        self.map_async_opts(f, iterable, chunksize, callbacks, TaskOptions::new())
    }

    /// `f(*args)` for every argument tuple, results in input order (Python's
    /// `starmap`).
    pub fn starmap<F, Args>(
        &self,
        f: F,
        iterable: impl IntoIterator<Item = Args>,
    ) -> Result<Vec<Apply<F, Args>>, PoolError>
    where
        F: StarFn<Args>,
        Args: Serialize + DeserializeOwned + 'static,
        Apply<F, Args>: Serialize + DeserializeOwned + Send + 'static,
    {
        self.starmap_async(f, iterable, None)?.get()
    }

    /// Submits a `starmap` (Python's `starmap_async`).
    pub fn starmap_async<F, Args>(
        &self,
        f: F,
        iterable: impl IntoIterator<Item = Args>,
        chunksize: Option<usize>,
    ) -> Result<AsyncResult<Vec<Apply<F, Args>>>, PoolError>
    where
        F: StarFn<Args>,
        Args: Serialize + DeserializeOwned + 'static,
        Apply<F, Args>: Serialize + DeserializeOwned + Send + 'static,
    {
        self.starmap_async_with(f, iterable, chunksize, Callbacks::new())
    }

    /// [`starmap_async`](Self::starmap_async) with callbacks.
    pub fn starmap_async_with<F, Args>(
        &self,
        f: F,
        iterable: impl IntoIterator<Item = Args>,
        chunksize: Option<usize>,
        callbacks: Callbacks<Vec<Apply<F, Args>>>,
    ) -> Result<AsyncResult<Vec<Apply<F, Args>>>, PoolError>
    where
        F: StarFn<Args>,
        Args: Serialize + DeserializeOwned + 'static,
        Apply<F, Args>: Serialize + DeserializeOwned + Send + 'static,
    {
        let items: Vec<Args> = iterable.into_iter().collect();
        let chunksize = chunk::resolve(chunksize, items.len(), self.processes())?;
        let entry = func::star_entry::<F, Args>(f);
        self.collect(
            entry,
            &items,
            chunksize,
            true,
            all,
            callbacks,
            self.default_call(),
        )
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        self.terminate();
    }
}

/// Python's repr: `<multiprocessing.pool.Pool state=RUN pool_size=2>`.
impl fmt::Display for Pool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match self.state() {
            RunState::Run => "RUN",
            RunState::Close => "CLOSE",
            RunState::Terminate => "TERMINATE",
        };
        write!(
            f,
            "<multiprocessing.pool.Pool state={state} pool_size={}>",
            self.processes()
        )
    }
}

impl fmt::Debug for Pool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}
