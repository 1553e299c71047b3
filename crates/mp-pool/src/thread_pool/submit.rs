//! The submission methods of [`ThreadPool`]: `apply`, `map`, `starmap` and
//! the `imap` family, each split into chunks that the threads take from one
//! queue.

use std::sync::Arc;

use mp_process::TupleFn;

use crate::chunk;
use crate::error::{PoolError, TaskError};
use crate::imap::{IMapIterator, ImapShared};
use crate::options::{CallSettings, TaskOptions};
use crate::progress_hook::{JobProgress, ProgressHook};
use crate::result::{AsyncResult, Callbacks, ResultCell};
use crate::sink::Progress;

use super::engine::{Abandon, RunState, Task, ThreadCtx};
use super::jobs::{self, split, ChunkSink, Collect, Imap, ThreadStarFn};
use super::ThreadPool;

type Apply<F, Args> = <F as TupleFn<Args>>::Output;

fn single<R>(v: Vec<R>) -> Option<R> {
    v.into_iter().next()
}

fn all<R>(v: Vec<R>) -> Option<Vec<R>> {
    Some(v)
}

impl ThreadPool {
    fn check_running(&self) -> Result<(), PoolError> {
        self.engine.check_owner()?;
        match self.engine.state().run {
            RunState::Run => Ok(()),
            _ => Err(PoolError::NotRunning),
        }
    }

    /// Queues one task per chunk, each run by `run` with the thread's
    /// context; each reports its tasks to `progress` (if any), then its
    /// results to `sink`, and the one that completes the call unregisters it
    /// and runs its completion.
    fn run_chunks<T, R, G, S>(
        &self,
        run: Arc<G>,
        chunks: Vec<Vec<T>>,
        sink: Arc<S>,
        progress: Option<ProgressHook>,
    ) -> Result<u64, PoolError>
    where
        T: Send + 'static,
        R: Send + 'static,
        G: Fn(Vec<T>, &mut ThreadCtx) -> Vec<Result<R, TaskError>> + Send + Sync + 'static,
        S: ChunkSink<R> + 'static,
    {
        let id = self.engine.job_id();
        let engine = Arc::downgrade(&self.engine);
        let lens: Vec<usize> = chunks.iter().map(Vec::len).collect();
        let total = lens.iter().sum();
        let progress = progress.map(|h| JobProgress::new(h, Some(total)));
        let mut offset = 0;
        let tasks: Vec<Task> = chunks
            .into_iter()
            .enumerate()
            .map(|(index, chunk)| {
                let (run, sink, engine) = (run.clone(), sink.clone(), engine.clone());
                let indices = offset..offset + chunk.len();
                offset = indices.end;
                let progress = progress.clone();
                Box::new(move |ctx: &mut ThreadCtx| {
                    let out = run(chunk, ctx);
                    if let Some(p) = &progress {
                        p.report(indices);
                    }
                    if let Progress::Done(done) = sink.chunk_done(index, out) {
                        if let Some(e) = engine.upgrade() {
                            e.finish_job(id);
                        }
                        if let Some(done) = done {
                            done();
                        }
                    }
                }) as Task
            })
            .collect();
        let job: Arc<dyn Abandon> = sink;
        self.engine.submit(id, job, tasks)?;
        Ok(id)
    }

    /// The settings of a call: a timeout is refused (a thread cannot be
    /// stopped).
    pub(super) fn settings(opts: &TaskOptions) -> Result<CallSettings, PoolError> {
        if opts.has_timeout() {
            return Err(PoolError::Unsupported(
                "a ThreadPool cannot stop a task that exceeds its timeout (a thread cannot be killed); use a process Pool".to_string(),
            ));
        }
        opts.settings(None)
    }

    /// `f` on every item of a chunk, with the thread's initializer error.
    fn plain<T, R, G>(f: G) -> impl Fn(Vec<T>, &mut ThreadCtx) -> Vec<Result<R, TaskError>>
    where
        G: Fn(T) -> R,
    {
        move |items, ctx| jobs::run_items(items, &f, ctx.init_error.as_ref())
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn collect<T, R, O, G>(
        &self,
        run: G,
        items: Vec<T>,
        chunksize: usize,
        finish: fn(Vec<R>) -> Option<O>,
        callbacks: Callbacks<O>,
        call: CallSettings,
    ) -> Result<AsyncResult<O>, PoolError>
    where
        T: Send + 'static,
        R: Send + 'static,
        O: Send + 'static,
        G: Fn(Vec<T>, &mut ThreadCtx) -> Vec<Result<R, TaskError>> + Send + Sync + 'static,
    {
        self.check_running()?;
        let cell = ResultCell::new();
        if items.is_empty() {
            // Python: an empty map is ready at once, without callbacks.
            cell.set(
                finish(Vec::new())
                    .ok_or(PoolError::Task(TaskError::Decode("no result".to_string()))),
            );
            return Ok(AsyncResult::new(cell));
        }
        let chunks = split(items, chunksize);
        let sink = Arc::new(Collect::new(chunks.len(), finish, callbacks, cell.clone()));
        let id = self.run_chunks(Arc::new(run), chunks, sink, call.progress)?;
        // `check_running` checked that this process made the pool.
        let owner = self.engine.owner();
        Ok(AsyncResult::with_helper(
            cell,
            Arc::clone(&self.engine),
            id,
            owner,
        ))
    }

    pub(super) fn imap_inner<T, R, G>(
        &self,
        run: G,
        iterable: impl IntoIterator<Item = T>,
        chunksize: usize,
        ordered: bool,
        call: CallSettings,
    ) -> Result<IMapIterator<R>, PoolError>
    where
        T: Send + 'static,
        R: Send + 'static,
        G: Fn(Vec<T>, &mut ThreadCtx) -> Vec<Result<R, TaskError>> + Send + Sync + 'static,
    {
        self.check_running()?;
        let (items, failure) = chunk::read_input(&mut iterable.into_iter(), usize::MAX);
        let chunksize = chunk::resolve(Some(chunksize), items.len(), self.threads())?;
        let chunks = split(items, chunksize);
        let n = chunks.len();
        // A panic while reading the input is one more "chunk", after the rest.
        let shared = ImapShared::new(ordered, n + usize::from(failure.is_some()));
        let mut it = IMapIterator::new(shared.clone());
        if !chunks.is_empty() {
            let sink = Arc::new(Imap::new(n, shared.clone()));
            let id = self.run_chunks(Arc::new(run), chunks, sink, call.progress)?;
            it = it.of_job(Arc::downgrade(&self.engine), id);
        }
        if let Some(e) = failure {
            shared.push(n, vec![Err(PoolError::Task(e))]);
        }
        Ok(it)
    }

    /// Runs `f(*args)` on a pool thread and waits for the result (Python's
    /// `apply`).
    pub fn apply<F, Args>(&self, f: F, args: Args) -> Result<Apply<F, Args>, PoolError>
    where
        F: ThreadStarFn<Args>,
        Args: Send + 'static,
        Apply<F, Args>: Send + 'static,
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
        F: ThreadStarFn<Args>,
        Args: Send + 'static,
        Apply<F, Args>: Send + 'static,
    {
        self.apply_async_with(f, args, Callbacks::new())
    }

    /// Submits `f(*args)` with a `callback` / `error_callback`, run on the
    /// pool thread that ran the task, right after it.
    pub fn apply_async_with<F, Args>(
        &self,
        f: F,
        args: Args,
        callbacks: Callbacks<Apply<F, Args>>,
    ) -> Result<AsyncResult<Apply<F, Args>>, PoolError>
    where
        F: ThreadStarFn<Args>,
        Args: Send + 'static,
        Apply<F, Args>: Send + 'static,
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
        F: Fn(T) -> R + Send + Sync + 'static,
        T: Send + 'static,
        R: Send + 'static,
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
        F: Fn(T) -> R + Send + Sync + 'static,
        T: Send + 'static,
        R: Send + 'static,
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
        F: Fn(T) -> R + Send + Sync + 'static,
        T: Send + 'static,
        R: Send + 'static,
    {
        self.map_async_with(f, iterable, chunksize, Callbacks::new())
    }

    /// [`map_async`](Self::map_async) with callbacks: `callback` gets the
    /// whole result list, `error_callback` the first error, once every task
    /// has finished (on the pool thread that finished the last chunk).
    pub fn map_async_with<F, T, R>(
        &self,
        f: F,
        iterable: impl IntoIterator<Item = T>,
        chunksize: Option<usize>,
        callbacks: Callbacks<Vec<R>>,
    ) -> Result<AsyncResult<Vec<R>>, PoolError>
    where
        F: Fn(T) -> R + Send + Sync + 'static,
        T: Send + 'static,
        R: Send + 'static,
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
        F: ThreadStarFn<Args>,
        Args: Send + 'static,
        Apply<F, Args>: Send + 'static,
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
        F: ThreadStarFn<Args>,
        Args: Send + 'static,
        Apply<F, Args>: Send + 'static,
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
        F: ThreadStarFn<Args>,
        Args: Send + 'static,
        Apply<F, Args>: Send + 'static,
    {
        self.starmap_async_opts(f, iterable, chunksize, callbacks, TaskOptions::new())
    }

    /// Results in input order, each yielded as soon as it and all before it
    /// are done (Python's `imap` with chunksize 1). The input is consumed at
    /// once, as Python's task handler does. If reading it panics, the
    /// results of the items read before are yielded, then
    /// [`TaskError::InputPanic`], and the iterator ends.
    pub fn imap<F, T, R>(
        &self,
        f: F,
        iterable: impl IntoIterator<Item = T>,
    ) -> Result<IMapIterator<R>, PoolError>
    where
        F: Fn(T) -> R + Send + Sync + 'static,
        T: Send + 'static,
        R: Send + 'static,
    {
        self.imap_chunked(f, iterable, 1)
    }

    /// [`imap`](Self::imap) with a chunk size (at least 1).
    pub fn imap_chunked<F, T, R>(
        &self,
        f: F,
        iterable: impl IntoIterator<Item = T>,
        chunksize: usize,
    ) -> Result<IMapIterator<R>, PoolError>
    where
        F: Fn(T) -> R + Send + Sync + 'static,
        T: Send + 'static,
        R: Send + 'static,
    {
        self.imap_opts(f, iterable, chunksize, TaskOptions::new())
    }

    /// Results in completion order (Python's `imap_unordered`, chunksize 1).
    pub fn imap_unordered<F, T, R>(
        &self,
        f: F,
        iterable: impl IntoIterator<Item = T>,
    ) -> Result<IMapIterator<R>, PoolError>
    where
        F: Fn(T) -> R + Send + Sync + 'static,
        T: Send + 'static,
        R: Send + 'static,
    {
        self.imap_unordered_chunked(f, iterable, 1)
    }

    /// [`imap_unordered`](Self::imap_unordered) with a chunk size (at least 1).
    pub fn imap_unordered_chunked<F, T, R>(
        &self,
        f: F,
        iterable: impl IntoIterator<Item = T>,
        chunksize: usize,
    ) -> Result<IMapIterator<R>, PoolError>
    where
        F: Fn(T) -> R + Send + Sync + 'static,
        T: Send + 'static,
        R: Send + 'static,
    {
        self.imap_unordered_opts(f, iterable, chunksize, TaskOptions::new())
    }

    /// [`apply_async_with`](Self::apply_async_with) with [`TaskOptions`]. A
    /// timeout is refused with [`PoolError::Unsupported`] (a thread cannot
    /// be stopped).
    pub fn apply_async_opts<F, Args>(
        &self,
        f: F,
        args: Args,
        callbacks: Callbacks<Apply<F, Args>>,
        opts: TaskOptions,
    ) -> Result<AsyncResult<Apply<F, Args>>, PoolError>
    where
        F: ThreadStarFn<Args>,
        Args: Send + 'static,
        Apply<F, Args>: Send + 'static,
    {
        let call = Self::settings(&opts)?;
        let run = Self::plain(move |a: Args| f.call(a));
        self.collect(run, vec![args], 1, single, callbacks, call)
    }

    /// [`map_async_with`](Self::map_async_with) with [`TaskOptions`] (a
    /// progress hook; a timeout is refused with [`PoolError::Unsupported`]).
    pub fn map_async_opts<F, T, R>(
        &self,
        f: F,
        iterable: impl IntoIterator<Item = T>,
        chunksize: Option<usize>,
        callbacks: Callbacks<Vec<R>>,
        opts: TaskOptions,
    ) -> Result<AsyncResult<Vec<R>>, PoolError>
    where
        F: Fn(T) -> R + Send + Sync + 'static,
        T: Send + 'static,
        R: Send + 'static,
    {
        let call = Self::settings(&opts)?;
        let items: Vec<T> = iterable.into_iter().collect();
        let chunksize = chunk::resolve(chunksize, items.len(), self.threads())?;
        self.collect(Self::plain(f), items, chunksize, all, callbacks, call)
    }

    /// [`starmap_async_with`](Self::starmap_async_with) with [`TaskOptions`]
    /// (as [`map_async_opts`](Self::map_async_opts)).
    pub fn starmap_async_opts<F, Args>(
        &self,
        f: F,
        iterable: impl IntoIterator<Item = Args>,
        chunksize: Option<usize>,
        callbacks: Callbacks<Vec<Apply<F, Args>>>,
        opts: TaskOptions,
    ) -> Result<AsyncResult<Vec<Apply<F, Args>>>, PoolError>
    where
        F: ThreadStarFn<Args>,
        Args: Send + 'static,
        Apply<F, Args>: Send + 'static,
    {
        self.map_async_opts(
            move |a: Args| f.call(a),
            iterable,
            chunksize,
            callbacks,
            opts,
        )
    }

    /// [`imap_chunked`](Self::imap_chunked) with [`TaskOptions`] (as
    /// [`map_async_opts`](Self::map_async_opts)).
    pub fn imap_opts<F, T, R>(
        &self,
        f: F,
        iterable: impl IntoIterator<Item = T>,
        chunksize: usize,
        opts: TaskOptions,
    ) -> Result<IMapIterator<R>, PoolError>
    where
        F: Fn(T) -> R + Send + Sync + 'static,
        T: Send + 'static,
        R: Send + 'static,
    {
        let call = Self::settings(&opts)?;
        self.imap_inner(Self::plain(f), iterable, chunksize, true, call)
    }

    /// [`imap_unordered_chunked`](Self::imap_unordered_chunked) with
    /// [`TaskOptions`] (as [`map_async_opts`](Self::map_async_opts)).
    pub fn imap_unordered_opts<F, T, R>(
        &self,
        f: F,
        iterable: impl IntoIterator<Item = T>,
        chunksize: usize,
        opts: TaskOptions,
    ) -> Result<IMapIterator<R>, PoolError>
    where
        F: Fn(T) -> R + Send + Sync + 'static,
        T: Send + 'static,
        R: Send + 'static,
    {
        let call = Self::settings(&opts)?;
        self.imap_inner(Self::plain(f), iterable, chunksize, false, call)
    }
}
