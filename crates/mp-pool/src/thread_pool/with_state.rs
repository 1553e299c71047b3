//! The `*_with_state` calls of [`ThreadPool`]: tasks that borrow their
//! thread's worker state (see
//! [`ThreadPoolBuilder::worker_state`](super::ThreadPoolBuilder::worker_state)).

use crate::chunk;
use crate::error::PoolError;
use crate::imap::IMapIterator;
use crate::options::TaskOptions;
use crate::result::{AsyncResult, Callbacks};
use crate::worker_state::WorkerStateType;

use super::engine::ThreadCtx;
use super::jobs;
use super::ThreadPool;

fn all<R>(v: Vec<R>) -> Option<Vec<R>> {
    Some(v)
}

impl ThreadPool {
    /// [`map`](Self::map) of `f(&mut state, item)`, where `state` is the
    /// worker state of the thread that runs the task (made once per thread
    /// by [`ThreadPoolBuilder::worker_state`](super::ThreadPoolBuilder::worker_state),
    /// mutated across the tasks it runs). Fails with
    /// [`PoolError::WorkerStateType`] if the threads make no state of type
    /// `S`.
    ///
    /// ```
    /// use mp_pool::ThreadPool;
    ///
    /// let pool = ThreadPool::builder().threads(1).worker_state(Vec::<u64>::new).build()?;
    /// let lens = pool.map_with_state(|seen: &mut Vec<u64>, x: u64| { seen.push(x); seen.len() }, 0..3)?;
    /// assert_eq!(lens, vec![1, 2, 3]);
    /// # Ok::<(), mp_pool::PoolError>(())
    /// ```
    pub fn map_with_state<F, S, T, R>(
        &self,
        f: F,
        iterable: impl IntoIterator<Item = T>,
    ) -> Result<Vec<R>, PoolError>
    where
        F: Fn(&mut S, T) -> R + Send + Sync + 'static,
        S: 'static,
        T: Send + 'static,
        R: Send + 'static,
    {
        self.map_async_with_state(f, iterable, None, Callbacks::new(), TaskOptions::new())?
            .get()
    }

    /// [`map_async_opts`](Self::map_async_opts) of `f(&mut state, item)`
    /// (see [`map_with_state`](Self::map_with_state)).
    pub fn map_async_with_state<F, S, T, R>(
        &self,
        f: F,
        iterable: impl IntoIterator<Item = T>,
        chunksize: Option<usize>,
        callbacks: Callbacks<Vec<R>>,
        opts: TaskOptions,
    ) -> Result<AsyncResult<Vec<R>>, PoolError>
    where
        F: Fn(&mut S, T) -> R + Send + Sync + 'static,
        S: 'static,
        T: Send + 'static,
        R: Send + 'static,
    {
        WorkerStateType::check::<S>(self.engine.state_type)?;
        let call = Self::settings(&opts)?;
        let items: Vec<T> = iterable.into_iter().collect();
        let chunksize = chunk::resolve(chunksize, items.len(), self.threads())?;
        let run = move |items, ctx: &mut ThreadCtx| jobs::run_items_with_state(items, &f, ctx);
        self.collect(run, items, chunksize, all, callbacks, call)
    }

    /// [`imap_opts`](Self::imap_opts) of `f(&mut state, item)` (see
    /// [`map_with_state`](Self::map_with_state)).
    pub fn imap_with_state<F, S, T, R>(
        &self,
        f: F,
        iterable: impl IntoIterator<Item = T>,
        chunksize: usize,
        opts: TaskOptions,
    ) -> Result<IMapIterator<R>, PoolError>
    where
        F: Fn(&mut S, T) -> R + Send + Sync + 'static,
        S: 'static,
        T: Send + 'static,
        R: Send + 'static,
    {
        WorkerStateType::check::<S>(self.engine.state_type)?;
        let call = Self::settings(&opts)?;
        let run = move |items, ctx: &mut ThreadCtx| jobs::run_items_with_state(items, &f, ctx);
        self.imap_inner(run, iterable, chunksize, true, call)
    }

    /// [`imap_unordered_opts`](Self::imap_unordered_opts) of
    /// `f(&mut state, item)` (see [`map_with_state`](Self::map_with_state)).
    pub fn imap_unordered_with_state<F, S, T, R>(
        &self,
        f: F,
        iterable: impl IntoIterator<Item = T>,
        chunksize: usize,
        opts: TaskOptions,
    ) -> Result<IMapIterator<R>, PoolError>
    where
        F: Fn(&mut S, T) -> R + Send + Sync + 'static,
        S: 'static,
        T: Send + 'static,
        R: Send + 'static,
    {
        WorkerStateType::check::<S>(self.engine.state_type)?;
        let call = Self::settings(&opts)?;
        let run = move |items, ctx: &mut ThreadCtx| jobs::run_items_with_state(items, &f, ctx);
        self.imap_inner(run, iterable, chunksize, false, call)
    }
}
