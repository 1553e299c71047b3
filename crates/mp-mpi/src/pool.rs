//! [`Pool`]: mp-pool's process pool API that runs on MPI ranks when the
//! program was started by an MPI launcher, and as a local process pool
//! otherwise — the same user code either way.

use std::fmt;

use mp_pool::{AsyncResult, Callbacks, IMapIterator, PoolError, StarFn};
use mp_process::{CodeOnly, TupleFn};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::builder::PoolBuilder;

/// What `f(*args)` returns.
type Apply<F, Args> = <F as TupleFn<Args>>::Output;

pub(crate) enum Backend {
    Local(mp_pool::Pool),
    #[cfg(feature = "mpi")]
    Mpi(crate::mpi_pool::MpiPool),
}

/// A pool of workers: the ranks 1.. of the MPI job under `mpirun`/`srun`
/// (with the `mpi` feature), local worker processes otherwise.
///
/// The calls are mp-pool's [`Pool`](mp_pool::Pool)'s, with its result types
/// ([`AsyncResult`], [`IMapIterator`], [`PoolError`]). On MPI: chunks go to
/// whichever rank has room (dynamic dispatch); `map`, `starmap` and `imap`
/// give results in input order, `imap_unordered` in completion order; a
/// task's panic is that task's [`TaskError::Panic`](mp_pool::TaskError);
/// callbacks run on rank 0. A rank that dies aborts the whole job (MPI is
/// fail-stop): no `WorkerDied` error, no retries.
///
/// # Forked copies
/// Only the process that made a pool may use it, as with mp-pool's pools.
/// A child forked with a copy of it (a closure's capture) has no
/// dispatcher thread: its calls fail with [`PoolError::NotOwner`] before
/// taking any lock (the pool's may be held for ever there by a thread it
/// does not have), `close` and `terminate` do nothing there, and dropping
/// the copy waits for nothing.
pub struct Pool {
    pub(crate) backend: Backend,
}

/// The chunk size of a call: Python's default for `None`, at least 1.
fn chunk_size(chunksize: Option<usize>, len: usize, processes: usize) -> Result<usize, PoolError> {
    match chunksize {
        Some(0) => Err(PoolError::InvalidArgument(
            "chunksize must be 1+, not 0".to_string(),
        )),
        Some(n) => Ok(n),
        None => Ok(mp_pool::default_chunksize(len, processes).max(1)),
    }
}

#[cfg(feature = "mpi")]
fn label<F>(call: &str) -> String {
    format!("{call} of {}", std::any::type_name::<F>())
}

impl Pool {
    /// A pool with every worker rank (MPI), or `cpu_count()` local workers.
    pub fn new() -> Result<Pool, PoolError> {
        Pool::builder().build()
    }

    /// A pool of at most `processes` workers.
    pub fn with_processes(processes: usize) -> Result<Pool, PoolError> {
        Pool::builder().processes(processes).build()
    }

    /// A [`PoolBuilder`] (processes, initializer).
    pub fn builder() -> PoolBuilder {
        PoolBuilder::default()
    }

    /// The number of workers.
    pub fn processes(&self) -> usize {
        match &self.backend {
            Backend::Local(p) => p.processes(),
            #[cfg(feature = "mpi")]
            Backend::Mpi(p) => p.processes(),
        }
    }

    /// True if the workers are MPI ranks.
    pub fn is_mpi(&self) -> bool {
        !matches!(self.backend, Backend::Local(_))
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

    /// Submits `f(*args)` with a `callback` / `error_callback` run on this
    /// process (rank 0) when it completes.
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
        match &self.backend {
            Backend::Local(p) => p.apply_async_with(f, args, callbacks),
            #[cfg(feature = "mpi")]
            Backend::Mpi(p) => p.collect(
                crate::calls::star_call(f),
                label::<F>("apply"),
                &[args],
                1,
                |mut v: Vec<Apply<F, Args>>| v.pop(),
                callbacks,
            ),
        }
    }

    /// `f(item)` for every item, results in input order (Python's `map`),
    /// with Python's default chunk size; the first failure if any task failed.
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

    /// [`map_async`](Self::map_async) with callbacks run on this process.
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
        match &self.backend {
            Backend::Local(p) => p.map_async_with(f, iterable, chunksize, callbacks),
            #[cfg(feature = "mpi")]
            Backend::Mpi(p) => {
                let items: Vec<T> = iterable.into_iter().collect();
                let size = chunk_size(chunksize, items.len(), p.processes())?;
                p.collect(
                    crate::calls::map_call(f),
                    label::<F>("map"),
                    &items,
                    size,
                    Some,
                    callbacks,
                )
            }
        }
    }

    /// `f(*args)` for every argument tuple, results in input order
    /// (Python's `starmap`).
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
        match &self.backend {
            Backend::Local(p) => p.starmap_async_with(f, iterable, chunksize, callbacks),
            #[cfg(feature = "mpi")]
            Backend::Mpi(p) => {
                let items: Vec<Args> = iterable.into_iter().collect();
                let size = chunk_size(chunksize, items.len(), p.processes())?;
                p.collect(
                    crate::calls::star_call(f),
                    label::<F>("starmap"),
                    &items,
                    size,
                    Some,
                    callbacks,
                )
            }
        }
    }

    /// Results in input order, each as soon as it and all before it are
    /// done (Python's `imap`, chunksize 1).
    pub fn imap<F, T, R>(
        &self,
        f: F,
        iterable: impl IntoIterator<Item = T>,
    ) -> Result<IMapIterator<R>, PoolError>
    where
        F: Fn(T) -> R + CodeOnly,
        T: Serialize + DeserializeOwned + 'static,
        R: Serialize + DeserializeOwned + Send + 'static,
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
        F: Fn(T) -> R + CodeOnly,
        T: Serialize + DeserializeOwned + 'static,
        R: Serialize + DeserializeOwned + Send + 'static,
    {
        self.imap_any(f, iterable, chunksize, true)
    }

    /// Results in completion order (Python's `imap_unordered`, chunksize 1).
    pub fn imap_unordered<F, T, R>(
        &self,
        f: F,
        iterable: impl IntoIterator<Item = T>,
    ) -> Result<IMapIterator<R>, PoolError>
    where
        F: Fn(T) -> R + CodeOnly,
        T: Serialize + DeserializeOwned + 'static,
        R: Serialize + DeserializeOwned + Send + 'static,
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
        F: Fn(T) -> R + CodeOnly,
        T: Serialize + DeserializeOwned + 'static,
        R: Serialize + DeserializeOwned + Send + 'static,
    {
        self.imap_any(f, iterable, chunksize, false)
    }

    fn imap_any<F, T, R>(
        &self,
        f: F,
        iterable: impl IntoIterator<Item = T>,
        chunksize: usize,
        ordered: bool,
    ) -> Result<IMapIterator<R>, PoolError>
    where
        F: Fn(T) -> R + CodeOnly,
        T: Serialize + DeserializeOwned + 'static,
        R: Serialize + DeserializeOwned + Send + 'static,
    {
        let size = chunk_size(Some(chunksize), 0, 1)?;
        match &self.backend {
            Backend::Local(p) if ordered => p.imap_chunked(f, iterable, size),
            Backend::Local(p) => p.imap_unordered_chunked(f, iterable, size),
            #[cfg(feature = "mpi")]
            Backend::Mpi(p) => {
                let items: Vec<T> = iterable.into_iter().collect();
                let call = if ordered { "imap" } else { "imap_unordered" };
                p.imap(
                    crate::calls::map_call(f),
                    label::<F>(call),
                    &items,
                    size,
                    ordered,
                )
            }
        }
    }

    /// No more work will be submitted (Python's `close`).
    pub fn close(&self) {
        match &self.backend {
            Backend::Local(p) => p.close(),
            #[cfg(feature = "mpi")]
            Backend::Mpi(p) => p.close(),
        }
    }

    /// Stops at once: pending work fails with [`PoolError::Terminated`].
    /// On MPI, calls already running on a rank finish there (a rank cannot
    /// be killed without aborting the job) and their results are dropped.
    pub fn terminate(&self) {
        match &self.backend {
            Backend::Local(p) => p.terminate(),
            #[cfg(feature = "mpi")]
            Backend::Mpi(p) => p.terminate(),
        }
    }

    /// Waits for the workers to finish, after [`close`](Self::close) or
    /// [`terminate`](Self::terminate). [`PoolError::NotOwner`] in a process
    /// other than the pool's maker.
    pub fn join(&self) -> Result<(), PoolError> {
        match &self.backend {
            Backend::Local(p) => p.join(),
            #[cfg(feature = "mpi")]
            Backend::Mpi(p) => p.join(),
        }
    }

    /// [`join`](Self::join) waiting at most `timeout`; returns whether the
    /// pool has finished.
    pub fn join_timeout(&self, timeout: std::time::Duration) -> Result<bool, PoolError> {
        match &self.backend {
            Backend::Local(p) => p.join_timeout(timeout),
            #[cfg(feature = "mpi")]
            Backend::Mpi(p) => p.join_timeout(timeout),
        }
    }
}

impl fmt::Debug for Pool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pool")
            .field("mpi", &self.is_mpi())
            .field("processes", &self.processes())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunk_sizes() {
        assert_eq!(chunk_size(None, 100, 4).unwrap(), 7);
        assert_eq!(chunk_size(None, 0, 4).unwrap(), 1);
        assert_eq!(chunk_size(Some(3), 100, 4).unwrap(), 3);
        assert!(matches!(
            chunk_size(Some(0), 1, 1),
            Err(PoolError::InvalidArgument(_))
        ));
    }
}
