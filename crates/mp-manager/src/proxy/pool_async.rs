//! The managed Pool's async forms (Python's `apply_async`, `map_async`,
//! `starmap_async` on a managed pool): the call is submitted to the
//! server's pool before it returns (so a `close` after it cannot overtake
//! it), the server keeps its result under a handle, and [`AsyncResult`] is
//! the handle to that outcome, taken by a thread of this process.

use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use mp_pool::PoolError;
use mp_pool::StarFn;
use mp_process::CodeOnly;
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::pool_imap::ManagedIMap;
use super::PoolProxy;
use crate::error::{ManagerError, Result};
use crate::pool_function::PoolCall;

/// Where a call's outcome lands.
enum Slot<T> {
    Pending,
    Ready(Result<T>),
    /// Taken by `get`; whether it was a success.
    Taken(bool),
}

struct Cell<T> {
    slot: Mutex<Slot<T>>,
    ready: Condvar,
}

impl<T> Cell<T> {
    fn lock(&self) -> MutexGuard<'_, Slot<T>> {
        self.slot.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Waits until the outcome is in or `timeout` passes (`None`: for ever).
    fn wait(&self, timeout: Option<Duration>) -> MutexGuard<'_, Slot<T>> {
        let deadline = timeout.and_then(|t| Instant::now().checked_add(t));
        let mut slot = self.lock();
        while matches!(*slot, Slot::Pending) {
            slot = match deadline {
                None => self.ready.wait(slot).unwrap_or_else(|e| e.into_inner()),
                Some(d) => {
                    let left = d.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        break;
                    }
                    self.ready
                        .wait_timeout(slot, left)
                        .unwrap_or_else(|e| e.into_inner())
                        .0
                }
            };
        }
        slot
    }
}

/// The handle to a managed pool's async call (Python's `AsyncResult`).
pub struct AsyncResult<T> {
    cell: Arc<Cell<T>>,
}

impl<T> std::fmt::Debug for AsyncResult<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AsyncResult")
            .field("ready", &self.ready())
            .finish()
    }
}

impl<T: Send + 'static> AsyncResult<T> {
    /// Runs `call` in a new thread; its outcome fills the handle.
    fn spawn(call: impl FnOnce() -> Result<T> + Send + 'static) -> Result<AsyncResult<T>> {
        let cell = Arc::new(Cell {
            slot: Mutex::new(Slot::Pending),
            ready: Condvar::new(),
        });
        let filled = cell.clone();
        mp_sys::thread_spawn::Builder::new("manager-pool-async").spawn(move || {
            let outcome = call();
            *filled.lock() = Slot::Ready(outcome);
            filled.ready.notify_all();
        })?;
        Ok(AsyncResult { cell })
    }
}

impl<T> AsyncResult<T> {
    /// Waits at most `timeout` (`None`: for ever) and returns the outcome
    /// (Python's `get(timeout)`). Not ready in time: [`PoolError::Timeout`]
    /// (as [`ManagerError::Pool`]), and the handle stays usable. The value
    /// moves out: a later `get` is [`PoolError::Taken`].
    pub fn get(&self, timeout: Option<Duration>) -> Result<T> {
        let mut slot = self.cell.wait(timeout);
        match std::mem::replace(&mut *slot, Slot::Pending) {
            Slot::Pending => Err(PoolError::Timeout.into()),
            Slot::Ready(r) => {
                *slot = Slot::Taken(r.is_ok());
                r
            }
            Slot::Taken(ok) => {
                *slot = Slot::Taken(ok);
                Err(PoolError::Taken.into())
            }
        }
    }

    /// Waits at most `timeout` (`None`: for ever); returns whether the call
    /// has completed (Python's `wait(timeout)`).
    pub fn wait(&self, timeout: Option<Duration>) -> bool {
        !matches!(*self.cell.wait(timeout), Slot::Pending)
    }

    /// Whether the call has completed, successfully or not.
    pub fn ready(&self) -> bool {
        !matches!(*self.cell.lock(), Slot::Pending)
    }

    /// Whether the call completed without error; [`PoolError::NotReady`]
    /// before it completed (Python's `ValueError`).
    pub fn successful(&self) -> Result<bool> {
        match &*self.cell.lock() {
            Slot::Pending => Err(ManagerError::Pool(PoolError::NotReady)),
            Slot::Ready(r) => Ok(r.is_ok()),
            Slot::Taken(ok) => Ok(*ok),
        }
    }
}

impl PoolProxy {
    /// [`apply`](Self::apply) without waiting (Python's `apply_async`): the
    /// task is in the server's pool when this returns (a `close` after it
    /// does not stop it), and the handle's [`get`](AsyncResult::get) gives
    /// the result. A pool that refuses the task (closed, or `f` not
    /// registered) is this call's error.
    pub fn apply_async<F, Args>(&self, _f: F, args: Args) -> Result<AsyncResult<F::Output>>
    where
        F: StarFn<Args>,
        Args: Serialize + DeserializeOwned + Send + 'static,
        F::Output: Serialize + DeserializeOwned + Send + 'static,
    {
        let handle: u64 = self.run_call::<F, Args, _>(PoolCall::ApplyAsync, &args)?;
        AsyncResult::spawn(self.one_result(handle))
    }

    /// [`map`](Self::map) without waiting (Python's `map_async`), submitted
    /// as [`apply_async`](Self::apply_async) is.
    pub fn map_async<F, T, R>(
        &self,
        _f: F,
        iterable: impl IntoIterator<Item = T>,
    ) -> Result<AsyncResult<Vec<R>>>
    where
        F: Fn(T) -> R + CodeOnly,
        T: Serialize + DeserializeOwned + Send + 'static,
        R: Serialize + DeserializeOwned + Send + 'static,
    {
        // A `starmap` of one-element tuples, as `map`.
        let items: Vec<(T,)> = iterable.into_iter().map(|x| (x,)).collect();
        let call = PoolCall::StarmapAsync { chunksize: None };
        let handle: u64 = self.run_call::<F, (T,), _>(call, &items)?;
        AsyncResult::spawn(self.one_result(handle))
    }

    /// [`starmap`](Self::starmap) without waiting (Python's
    /// `starmap_async`), submitted as [`apply_async`](Self::apply_async) is.
    pub fn starmap_async<F, Args>(
        &self,
        _f: F,
        iterable: impl IntoIterator<Item = Args>,
    ) -> Result<AsyncResult<Vec<F::Output>>>
    where
        F: StarFn<Args>,
        Args: Serialize + DeserializeOwned + Send + 'static,
        F::Output: Serialize + DeserializeOwned + Send + 'static,
    {
        let items: Vec<Args> = iterable.into_iter().collect();
        let call = PoolCall::StarmapAsync { chunksize: None };
        let handle: u64 = self.run_call::<F, Args, _>(call, &items)?;
        AsyncResult::spawn(self.one_result(handle))
    }

    /// Takes the one result the server keeps under `handle` (a submitted
    /// call's), waiting for it.
    fn one_result<R: DeserializeOwned>(&self, handle: u64) -> impl FnOnce() -> Result<R> {
        let mut results = ManagedIMap::<R>::new(self.clone(), handle);
        move || {
            results.next().unwrap_or_else(|| {
                Err(ManagerError::State(
                    "the server ended a submitted call without its result".into(),
                ))
            })
        }
    }
}
