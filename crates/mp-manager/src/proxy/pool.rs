//! [`PoolProxy`]: a process pool owned by the manager's server (Python's
//! `manager.Pool(...)`), shared by every process that holds the proxy. Each
//! call encodes its work here (which function — an entry point into this same
//! program — and the inputs), the server's pool runs it, and the outputs are
//! decoded here.

use std::marker::PhantomData;

use mp_pool::{default_chunksize, EncodedJob, EncodedOutput, StarFn};
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::{typed_proxy, BaseProxy};
use crate::error::{ManagerError, Result};
use crate::manager::Manager;
use crate::shared::Registry;

/// A proxy to a process pool in a manager server (Python's managed `Pool`).
///
/// The calls are those of [`mp_pool::Pool`] that wait for their results —
/// `apply`, `map`, `map_chunked`, `starmap` — plus `close`, `terminate` and
/// `join`. The function must be a `fn` item or non-capturing closure of this
/// program, as for a local pool; values carrying fds cannot be sent. A task
/// that panics, or whose worker dies, is [`ManagerError::Pool`] with the
/// task's error, as `Pool::map` reports it.
///
/// ```
/// use mp_manager::Manager;
///
/// fn square(x: u64) -> u64 {
///     x * x
/// }
///
/// let manager = Manager::new()?;
/// let pool = manager.pool(Some(2))?;
/// assert_eq!(pool.map(square, 0..5u64)?, vec![0, 1, 4, 9, 16]);
/// assert_eq!(pool.apply(|a: u64, b: u64| a * b, (6, 7))?, 42);
/// pool.close()?;
/// pool.join()?;
/// # Ok::<(), mp_manager::ManagerError>(())
/// ```
pub struct PoolProxy {
    base: BaseProxy,
    _types: PhantomData<fn()>,
}

typed_proxy!(PoolProxy, "Pool");

impl PoolProxy {
    fn run<R: DeserializeOwned>(&self, job: EncodedJob) -> Result<Vec<R>> {
        let outputs: Vec<EncodedOutput> = self.base.call("run", &job)?;
        Ok(job.decode(outputs)?)
    }

    /// How many worker processes the pool has.
    pub fn processes(&self) -> Result<usize> {
        let n: u64 = self.base.call("processes", &())?;
        Ok(usize::try_from(n).unwrap_or(usize::MAX))
    }

    /// `f(item)` for every item, results in input order, with Python's
    /// default chunk size for the server pool's size.
    pub fn map<F, T, R>(&self, f: F, iterable: impl IntoIterator<Item = T>) -> Result<Vec<R>>
    where
        F: Fn(T) -> R + Copy + Send + 'static,
        T: Serialize + DeserializeOwned + 'static,
        R: Serialize + DeserializeOwned + 'static,
    {
        let items: Vec<T> = iterable.into_iter().collect();
        let chunksize = default_chunksize(items.len(), self.processes()?).max(1);
        self.run(EncodedJob::map(f, &items, chunksize)?)
    }

    /// [`map`](Self::map) with an explicit chunk size (at least 1).
    pub fn map_chunked<F, T, R>(
        &self,
        f: F,
        iterable: impl IntoIterator<Item = T>,
        chunksize: usize,
    ) -> Result<Vec<R>>
    where
        F: Fn(T) -> R + Copy + Send + 'static,
        T: Serialize + DeserializeOwned + 'static,
        R: Serialize + DeserializeOwned + 'static,
    {
        if chunksize == 0 {
            return Err(mp_pool::PoolError::InvalidArgument(
                "chunksize must be 1+, not 0".to_string(),
            )
            .into());
        }
        let items: Vec<T> = iterable.into_iter().collect();
        self.run(EncodedJob::map(f, &items, chunksize)?)
    }

    /// `f(*args)` for every argument tuple, results in input order.
    pub fn starmap<F, Args>(
        &self,
        f: F,
        iterable: impl IntoIterator<Item = Args>,
    ) -> Result<Vec<F::Output>>
    where
        F: StarFn<Args>,
        Args: Serialize + DeserializeOwned + 'static,
        F::Output: Serialize + DeserializeOwned + 'static,
    {
        let args: Vec<Args> = iterable.into_iter().collect();
        let chunksize = default_chunksize(args.len(), self.processes()?).max(1);
        self.run(EncodedJob::star(f, &args, chunksize)?)
    }

    /// Runs `f(*args)` in one of the server's workers and returns its result.
    pub fn apply<F, Args>(&self, f: F, args: Args) -> Result<F::Output>
    where
        F: StarFn<Args>,
        Args: Serialize + DeserializeOwned + 'static,
        F::Output: Serialize + DeserializeOwned + 'static,
    {
        let mut out = self.run(EncodedJob::star(f, std::slice::from_ref(&args), 1)?)?;
        out.pop().ok_or_else(|| {
            ManagerError::Remote(crate::RemoteError::protocol(
                "the pool returned no result for an apply",
            ))
        })
    }

    /// No more work will be accepted (Python's `close()`).
    pub fn close(&self) -> Result<()> {
        self.base.call("close", &())
    }

    /// Stops the workers at once (Python's `terminate()`).
    pub fn terminate(&self) -> Result<()> {
        self.base.call("terminate", &())
    }

    /// Waits for the workers to finish, after `close` or `terminate`.
    pub fn join(&self) -> Result<()> {
        self.base.call("join", &())
    }
}

impl std::fmt::Debug for PoolProxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "<PoolProxy object, typeid 'Pool' at {:x}>",
            self.base.id()
        )
    }
}

impl<R: Registry> Manager<R> {
    /// A process pool in the server with `processes` workers (default: the
    /// server machine's CPU count), Python's `manager.Pool(processes)`.
    pub fn pool(&self, processes: Option<usize>) -> Result<PoolProxy> {
        self.pool_with(processes, None)
    }

    /// [`pool`](Self::pool) whose workers are replaced after
    /// `maxtasksperchild` chunks (Python's `maxtasksperchild`).
    pub fn pool_with(
        &self,
        processes: Option<usize>,
        maxtasksperchild: Option<usize>,
    ) -> Result<PoolProxy> {
        let init = (
            processes.map(|n| n as u64),
            maxtasksperchild.map(|n| n as u64),
        );
        self.create_raw(&init)
    }
}
