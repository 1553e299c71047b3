//! [`TaskOptions`]: per-call settings beyond Python's (the task timeout),
//! and the [`Pool`] methods that take them.

use std::time::Duration;

use mp_process::CodeOnly;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::chunk;
use crate::error::PoolError;
use crate::func::{self, StarFn};
use crate::imap::IMapIterator;
use crate::pool::{all, single, Apply, Pool};
use crate::result::{AsyncResult, Callbacks};

/// Settings of one call that override the pool's defaults.
///
/// ```
/// use std::time::Duration;
/// let opts = mp_pool::TaskOptions::new().timeout(Duration::from_secs(5));
/// # drop(opts);
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct TaskOptions {
    /// `None`: the pool's default; `Some(None)`: no limit.
    timeout: Option<Option<Duration>>,
}

impl TaskOptions {
    /// The pool's defaults.
    pub fn new() -> Self {
        Self::default()
    }

    /// Each task of the call may run at most `timeout` (see
    /// [`PoolBuilder::task_timeout`](crate::PoolBuilder::task_timeout));
    /// must not be zero.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(Some(timeout));
        self
    }

    /// The call's tasks have no time limit, whatever the pool's default.
    pub fn no_timeout(mut self) -> Self {
        self.timeout = Some(None);
        self
    }

    /// The limit for a pool whose default is `default`.
    fn limit(&self, default: Option<Duration>) -> Result<Option<Duration>, PoolError> {
        match self.timeout {
            Some(Some(Duration::ZERO)) => Err(PoolError::InvalidArgument(
                "a task timeout must be positive".to_string(),
            )),
            Some(t) => Ok(t),
            None => Ok(default),
        }
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
        let limit = opts.limit(self.default_limit())?;
        let entry = func::star_entry::<F, Args>(f);
        let args = std::slice::from_ref(&args);
        self.collect(entry, args, 1, false, single, callbacks, limit)
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
        let limit = opts.limit(self.default_limit())?;
        let items: Vec<T> = iterable.into_iter().collect();
        let chunksize = chunk::resolve(chunksize, items.len(), self.processes())?;
        let entry = func::map_entry::<F, T, R>(f);
        self.collect(entry, &items, chunksize, true, all, callbacks, limit)
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
        let limit = opts.limit(self.default_limit())?;
        let entry = func::map_entry::<F, T, R>(f);
        self.imap_inner(entry, iterable, chunksize, true, limit)
    }
}
