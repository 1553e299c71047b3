//! [`TaskOptions`]: per-call settings beyond Python's (the task timeout, a
//! progress hook), and the [`Pool`] methods that take them.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use mp_process::CodeOnly;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::chunk;
use crate::error::PoolError;
use crate::func::{self, StarFn};
use crate::imap::IMapIterator;
use crate::pool::{all, single, Apply, Pool};
use crate::progress_hook::{ProgressHook, ProgressUpdate};
use crate::result::{AsyncResult, Callbacks};

/// Settings of one call that override the pool's defaults.
///
/// ```
/// use std::time::Duration;
/// let opts = mp_pool::TaskOptions::new()
///     .timeout(Duration::from_secs(5))
///     .on_progress(|p| eprintln!("{}/{:?} done (tasks {:?} just now)", p.done, p.total, p.tasks));
/// # drop(opts);
/// ```
#[derive(Clone, Default)]
pub struct TaskOptions {
    /// `None`: the pool's default; `Some(None)`: no limit.
    timeout: Option<Option<Duration>>,
    progress: Option<ProgressHook>,
}

impl fmt::Debug for TaskOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TaskOptions")
            .field("timeout", &self.timeout)
            .field("on_progress", &self.progress.is_some())
            .finish()
    }
}

/// What a call runs with, once its [`TaskOptions`] met the pool's defaults.
#[derive(Clone, Default)]
pub(crate) struct CallSettings {
    /// Each task's time limit.
    pub(crate) limit: Option<Duration>,
    /// Called for each finished task.
    pub(crate) progress: Option<ProgressHook>,
}

impl TaskOptions {
    /// The pool's defaults.
    pub fn new() -> Self {
        Self::default()
    }

    /// Each task of the call may run at most `timeout` (see
    /// [`PoolBuilder::task_timeout`](crate::PoolBuilder::task_timeout));
    /// must not be zero. A [`ThreadPool`](crate::ThreadPool) refuses it
    /// ([`PoolError::Unsupported`]): a thread cannot be stopped.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(Some(timeout));
        self
    }

    /// The call's tasks have no time limit, whatever the pool's default.
    pub fn no_timeout(mut self) -> Self {
        self.timeout = Some(None);
        self
    }

    /// Beyond Python (mpire's `progress_bar`, tqdm over `imap`): calls
    /// `hook` in this process as the call's tasks finish, successfully or
    /// not, with the number of finished tasks, the total (`None` while a
    /// buffered `imap` is still reading its input) and the indices of the
    /// tasks that just finished ([`ProgressUpdate`]): one call per chunk
    /// (per task with chunk size 1), so a map of many tiny tasks pays for
    /// a few calls, not one per task. Over the call each task is reported
    /// once.
    ///
    /// The hook runs outside the pool's lock, on the pool's result thread
    /// or on a thread waiting for a result of the pool (on the worker thread
    /// that ran the chunk, in a [`ThreadPool`](crate::ThreadPool)), before
    /// those tasks' results are delivered: when `map` returns or an `imap`
    /// yields a result, the hook has seen its task. Two calls may run at
    /// once on different threads, so `done` values may arrive out of order.
    /// Keep it short: the pool's results wait while it runs. Cancelled
    /// tasks are not reported. Without a hook a call pays nothing.
    pub fn on_progress(mut self, hook: impl Fn(ProgressUpdate) + Send + Sync + 'static) -> Self {
        self.progress = Some(Arc::new(hook));
        self
    }

    /// The settings for a pool whose default timeout is `default`.
    pub(crate) fn settings(&self, default: Option<Duration>) -> Result<CallSettings, PoolError> {
        let limit = match self.timeout {
            Some(Some(Duration::ZERO)) => {
                return Err(PoolError::InvalidArgument(
                    "a task timeout must be positive".to_string(),
                ))
            }
            Some(t) => t,
            None => default,
        };
        Ok(CallSettings {
            limit,
            progress: self.progress.clone(),
        })
    }

    /// Whether the call asks for a time limit of its own (a thread pool
    /// refuses it).
    pub(crate) fn has_timeout(&self) -> bool {
        matches!(self.timeout, Some(Some(_)))
    }
}

impl Pool {
    /// [`apply_async_with`](Self::apply_async_with) with [`TaskOptions`]
    /// (a timeout for this task).
    pub fn apply_async_opts<F, Args>(
        &self,
        f: F,
        args: Args,
        callbacks: Callbacks<Apply<F, Args>>,
        opts: TaskOptions,
    ) -> Result<AsyncResult<Apply<F, Args>>, PoolError>
    where
        F: StarFn<Args>,
        Args: Serialize + DeserializeOwned + 'static,
        Apply<F, Args>: Serialize + DeserializeOwned + Send + 'static,
    {
        let call = opts.settings(self.default_limit())?;
        let entry = func::star_entry::<F, Args>(f);
        if call.progress.is_none() {
            return self.apply_one(entry, &args, callbacks, call.limit);
        }
        let args = std::slice::from_ref(&args);
        self.collect(entry, args, 1, false, single, callbacks, call)
    }

    /// [`map_async_with`](Self::map_async_with) with [`TaskOptions`] (a
    /// timeout for each task, not each chunk).
    pub fn map_async_opts<F, T, R>(
        &self,
        f: F,
        iterable: impl IntoIterator<Item = T>,
        chunksize: Option<usize>,
        callbacks: Callbacks<Vec<R>>,
        opts: TaskOptions,
    ) -> Result<AsyncResult<Vec<R>>, PoolError>
    where
        F: Fn(T) -> R + CodeOnly,
        T: Serialize + DeserializeOwned + 'static,
        R: Serialize + DeserializeOwned + Send + 'static,
    {
        let call = opts.settings(self.default_limit())?;
        let items: Vec<T> = iterable.into_iter().collect();
        let chunksize = chunk::resolve(chunksize, items.len(), self.processes())?;
        let entry = func::map_entry::<F, T, R>(f);
        self.collect(entry, &items, chunksize, true, all, callbacks, call)
    }

    /// [`imap_chunked`](Self::imap_chunked) (`imap` with chunk size 1) with
    /// [`TaskOptions`] (a timeout for each task).
    pub fn imap_opts<F, T, R>(
        &self,
        f: F,
        iterable: impl IntoIterator<Item = T>,
        chunksize: usize,
        opts: TaskOptions,
    ) -> Result<IMapIterator<R>, PoolError>
    where
        F: Fn(T) -> R + CodeOnly,
        T: Serialize + DeserializeOwned + 'static,
        R: Serialize + DeserializeOwned + Send + 'static,
    {
        let call = opts.settings(self.default_limit())?;
        let entry = func::map_entry::<F, T, R>(f);
        self.imap_inner(entry, iterable, chunksize, true, call)
    }

    /// [`starmap_async_with`](Self::starmap_async_with) with [`TaskOptions`]
    /// (a timeout for each task, a progress hook).
    pub fn starmap_async_opts<F, Args>(
        &self,
        f: F,
        iterable: impl IntoIterator<Item = Args>,
        chunksize: Option<usize>,
        callbacks: Callbacks<Vec<Apply<F, Args>>>,
        opts: TaskOptions,
    ) -> Result<AsyncResult<Vec<Apply<F, Args>>>, PoolError>
    where
        F: StarFn<Args>,
        Args: Serialize + DeserializeOwned + 'static,
        Apply<F, Args>: Serialize + DeserializeOwned + Send + 'static,
    {
        let call = opts.settings(self.default_limit())?;
        let items: Vec<Args> = iterable.into_iter().collect();
        let chunksize = chunk::resolve(chunksize, items.len(), self.processes())?;
        let entry = func::star_entry::<F, Args>(f);
        self.collect(entry, &items, chunksize, true, all, callbacks, call)
    }

    /// [`imap_unordered_chunked`](Self::imap_unordered_chunked) with
    /// [`TaskOptions`] (a timeout for each task, a progress hook).
    pub fn imap_unordered_opts<F, T, R>(
        &self,
        f: F,
        iterable: impl IntoIterator<Item = T>,
        chunksize: usize,
        opts: TaskOptions,
    ) -> Result<IMapIterator<R>, PoolError>
    where
        F: Fn(T) -> R + CodeOnly,
        T: Serialize + DeserializeOwned + 'static,
        R: Serialize + DeserializeOwned + Send + 'static,
    {
        let call = opts.settings(self.default_limit())?;
        let entry = func::map_entry::<F, T, R>(f);
        self.imap_inner(entry, iterable, chunksize, false, call)
    }
}
