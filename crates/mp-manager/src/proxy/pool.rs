//! [`PoolProxy`]: a process pool owned by the manager's server (Python's
//! `manager.Pool(...)`), shared by every process that holds the proxy. Each
//! call names a function registered with the server
//! ([`ManagerBuilder::pool_function`](crate::ManagerBuilder::pool_function))
//! by its key and sends the encoded inputs; the server's pool runs it, and
//! the outputs are decoded here.

use std::any::type_name;
use std::marker::PhantomData;
use std::time::Duration;

use mp_pool::{StarFn, TaskError};
use mp_process::CodeOnly;
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::{typed_proxy, BaseProxy};
use crate::error::{ManagerError, RemoteErrorKind, Result};
use crate::manager::Manager;
use crate::pool_function::{self, PoolCall};
use crate::protocol;
use crate::shared::Registry;

/// A proxy to a process pool in a manager server (Python's managed `Pool`).
///
/// The calls are those of [`mp_pool::Pool`]: `apply`, `map`,
/// `map_chunked`, `starmap`; their async forms `apply_async`, `map_async`,
/// `starmap_async` (an [`AsyncResult`](crate::AsyncResult) handle);
/// `imap`, `imap_unordered` (a [`ManagedIMap`](crate::ManagedIMap) of
/// results as they come); `close`, `terminate` and `join`. An initializer
/// is given with [`Manager::pool_with_initializer`]. The function must be
/// registered with the server by the program
/// ([`ManagerBuilder::pool_function`](crate::ManagerBuilder::pool_function));
/// any other is [`ManagerError::NotRegistered`], and the server runs
/// nothing. Values carrying fds cannot be sent. A task that panics, or
/// whose worker dies, is [`ManagerError::Pool`] with the task's error, as
/// `Pool::map` reports it.
///
/// ```
/// use mp_manager::Manager;
///
/// fn square(x: u64) -> u64 {
///     x * x
/// }
///
/// fn mul(a: u64, b: u64) -> u64 {
///     a * b
/// }
///
/// let manager = Manager::builder()
///     .pool_function(square)
///     .pool_function(mul)
///     .start()?;
/// let pool = manager.pool(Some(2))?;
/// assert_eq!(pool.map(square, 0..5u64)?, vec![0, 1, 4, 9, 16]);
/// assert_eq!(pool.apply(mul, (6, 7))?, 42);
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
    /// Runs the function `F`, registered for `Args`, as `call` says on
    /// `args` (encoded here); the reply decodes as `T`.
    pub(super) fn run_call<F: 'static, Args: 'static, T: DeserializeOwned>(
        &self,
        call: PoolCall,
        args: &impl Serialize,
    ) -> Result<T> {
        let request = (
            pool_function::key::<F, Args>(),
            call,
            protocol::to_bytes(args)?,
        );
        self.base
            .call::<_, T>("run", &request)
            .map_err(not_registered::<F>)
    }

    /// [`run_call`](Self::run_call) whose reply is `Result<T, TaskError>`.
    fn run<F: 'static, Args: 'static, T: DeserializeOwned>(
        &self,
        call: PoolCall,
        args: &impl Serialize,
    ) -> Result<T> {
        let out: std::result::Result<T, TaskError> = self.run_call::<F, Args, _>(call, args)?;
        Ok(out.map_err(mp_pool::PoolError::Task)?)
    }

    /// The base proxy, for the pool's other call forms.
    pub(super) fn base(&self) -> &BaseProxy {
        &self.base
    }

    /// How many worker processes the pool has.
    pub fn processes(&self) -> Result<usize> {
        let n: u64 = self.base.call("processes", &())?;
        Ok(usize::try_from(n).unwrap_or(usize::MAX))
    }

    /// `f(item)` for every item, results in input order, with Python's
    /// default chunk size for the server pool's size. `f` must be
    /// registered with the server.
    pub fn map<F, T, R>(&self, f: F, iterable: impl IntoIterator<Item = T>) -> Result<Vec<R>>
    where
        F: Fn(T) -> R + CodeOnly,
        T: Serialize + DeserializeOwned + 'static,
        R: Serialize + DeserializeOwned + 'static,
    {
        self.map_with(f, iterable, None)
    }

    /// [`map`](Self::map) with an explicit chunk size (at least 1).
    pub fn map_chunked<F, T, R>(
        &self,
        f: F,
        iterable: impl IntoIterator<Item = T>,
        chunksize: usize,
    ) -> Result<Vec<R>>
    where
        F: Fn(T) -> R + CodeOnly,
        T: Serialize + DeserializeOwned + 'static,
        R: Serialize + DeserializeOwned + 'static,
    {
        if chunksize == 0 {
            return Err(mp_pool::PoolError::InvalidArgument(
                "chunksize must be 1+, not 0".to_string(),
            )
            .into());
        }
        self.map_with(f, iterable, Some(chunksize))
    }

    /// `map` as a `starmap` of one-element tuples: the function registered
    /// for `(T,)` serves it.
    fn map_with<F, T, R>(
        &self,
        _f: F,
        iterable: impl IntoIterator<Item = T>,
        chunksize: Option<usize>,
    ) -> Result<Vec<R>>
    where
        F: Fn(T) -> R + CodeOnly,
        T: Serialize + DeserializeOwned + 'static,
        R: Serialize + DeserializeOwned + 'static,
    {
        let items: Vec<(T,)> = iterable.into_iter().map(|x| (x,)).collect();
        let chunksize = chunksize.map(|c| c as u64);
        self.run::<F, (T,), _>(PoolCall::Starmap { chunksize }, &items)
    }

    /// `f(*args)` for every argument tuple, results in input order. `f`
    /// must be registered with the server.
    pub fn starmap<F, Args>(
        &self,
        _f: F,
        iterable: impl IntoIterator<Item = Args>,
    ) -> Result<Vec<F::Output>>
    where
        F: StarFn<Args>,
        Args: Serialize + DeserializeOwned + 'static,
        F::Output: Serialize + DeserializeOwned + 'static,
    {
        let items: Vec<Args> = iterable.into_iter().collect();
        self.run::<F, Args, _>(PoolCall::Starmap { chunksize: None }, &items)
    }

    /// Runs `f(*args)` in one of the server's workers and returns its
    /// result. `f` must be registered with the server.
    pub fn apply<F, Args>(&self, _f: F, args: Args) -> Result<F::Output>
    where
        F: StarFn<Args>,
        Args: Serialize + DeserializeOwned + 'static,
        F::Output: Serialize + DeserializeOwned + 'static,
    {
        self.run::<F, Args, _>(PoolCall::Apply, &args)
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

    /// [`join`](Self::join) waiting at most `timeout` (the server waits,
    /// then answers); returns whether the workers have finished. Before
    /// `close` or `terminate` it fails as `join` does (a `Value` error,
    /// Python's `ValueError`).
    pub fn join_timeout(&self, timeout: Duration) -> Result<bool> {
        self.base.call("join_timeout", &timeout)
    }
}

/// The server's "not registered" answer as [`ManagerError::NotRegistered`]
/// naming `F`; other errors as they are.
pub(super) fn not_registered<F>(e: ManagerError) -> ManagerError {
    match e {
        ManagerError::Remote(r) if r.kind == RemoteErrorKind::NotRegistered => {
            ManagerError::NotRegistered {
                function: type_name::<F>(),
            }
        }
        e => e,
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
    /// server machine's CPU count), Python's `manager.Pool(processes)`. It
    /// runs only the functions registered with
    /// [`ManagerBuilder::pool_function`](crate::ManagerBuilder::pool_function).
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

    /// [`pool_with`](Self::pool_with) whose workers each run
    /// `initializer(*initargs)` when they start (Python's
    /// `manager.Pool(processes, initializer, initargs, maxtasksperchild)`).
    /// The initializer must be registered with
    /// [`ManagerBuilder::pool_function`](crate::ManagerBuilder::pool_function)
    /// (else [`ManagerError::NotRegistered`], and no pool is made); a
    /// panicking initializer ends its worker, as in `mp_pool`.
    pub fn pool_with_initializer<F, Args>(
        &self,
        processes: Option<usize>,
        maxtasksperchild: Option<usize>,
        _initializer: F,
        initargs: Args,
    ) -> Result<PoolProxy>
    where
        F: StarFn<Args>,
        Args: Serialize + DeserializeOwned + 'static,
    {
        let init = (
            processes.map(|n| n as u64),
            maxtasksperchild.map(|n| n as u64),
            Some((
                pool_function::key::<F, Args>(),
                protocol::to_bytes(&initargs)?,
            )),
        );
        self.create_raw(&init).map_err(not_registered::<F>)
    }
}
