//! The managed Pool's `imap` and `imap_unordered` (Python's, on a managed
//! pool): the server's pool runs the work and keeps the results;
//! [`ManagedIMap`] takes them one round trip each, as they come.

use std::marker::PhantomData;
use std::time::Duration;

use mp_pool::{PoolError, TaskError};
use mp_process::CodeOnly;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_bytes::ByteBuf;

use super::pool::not_registered;
use super::PoolProxy;
use crate::error::Result;
use crate::pool_function::PoolCall;

/// The results of a managed pool's `imap` or `imap_unordered` (Python's
/// `IMapIterator` proxy): each item is the task's result or its error
/// ([`ManagerError::Pool`](crate::ManagerError::Pool)); the iterator ends after the last result, or
/// after an error that is not a task's. Dropping it early lets the server
/// forget the results not taken.
pub struct ManagedIMap<R> {
    pool: PoolProxy,
    handle: u64,
    done: bool,
    _types: PhantomData<fn() -> R>,
}

impl<R> std::fmt::Debug for ManagedIMap<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ManagedIMap")
            .field("handle", &format_args!("{:x}", self.handle))
            .field("done", &self.done)
            .finish()
    }
}

impl<R> ManagedIMap<R> {
    /// The results the server keeps under `handle`.
    pub(super) fn new(pool: PoolProxy, handle: u64) -> ManagedIMap<R> {
        ManagedIMap {
            pool,
            handle,
            done: false,
            _types: PhantomData,
        }
    }
}

impl<R: DeserializeOwned> ManagedIMap<R> {
    /// The next result, waiting at most `timeout` (`None`: until it comes):
    /// `Some(Err(ManagerError::Pool(PoolError::Timeout)))` if none came in
    /// time (the iterator stays usable), `None` at the end (Python's
    /// `next(timeout)`).
    pub fn next_timeout(&mut self, timeout: Option<Duration>) -> Option<Result<R>> {
        if self.done {
            return None;
        }
        let step = self
            .pool
            .base()
            .call::<_, Option<Option<ByteBuf>>>("imap_next", &(self.handle, timeout));
        match step {
            Ok(Some(Some(item))) => {
                let item = self
                    .pool
                    .base()
                    .decode::<std::result::Result<R, TaskError>>(&item);
                Some(match item {
                    Ok(Ok(r)) => Ok(r),
                    Ok(Err(t)) => Err(PoolError::Task(t).into()),
                    Err(e) => Err(e),
                })
            }
            Ok(Some(None)) => Some(Err(PoolError::Timeout.into())),
            Ok(None) => {
                self.done = true;
                None
            }
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}

impl<R: DeserializeOwned> Iterator for ManagedIMap<R> {
    type Item = Result<R>;

    fn next(&mut self) -> Option<Result<R>> {
        self.next_timeout(None)
    }
}

impl<R> Drop for ManagedIMap<R> {
    fn drop(&mut self) {
        if !self.done {
            let _ = self.pool.base().call::<_, ()>("imap_drop", &self.handle);
        }
    }
}

impl PoolProxy {
    /// Starts `f(item)` for every item and returns the results one by one
    /// in input order, each as soon as it and those before it are done
    /// (Python's `imap` on a managed pool; chunk size `chunksize`, at least
    /// 1; Python's default is 1). `f` must be registered with the server.
    pub fn imap<F, T, R>(
        &self,
        f: F,
        iterable: impl IntoIterator<Item = T>,
        chunksize: usize,
    ) -> Result<ManagedIMap<R>>
    where
        F: Fn(T) -> R + CodeOnly,
        T: Serialize + DeserializeOwned + 'static,
        R: Serialize + DeserializeOwned + 'static,
    {
        self.start_imap(f, iterable, chunksize, true)
    }

    /// [`imap`](Self::imap) with the results in completion order (Python's
    /// `imap_unordered`).
    pub fn imap_unordered<F, T, R>(
        &self,
        f: F,
        iterable: impl IntoIterator<Item = T>,
        chunksize: usize,
    ) -> Result<ManagedIMap<R>>
    where
        F: Fn(T) -> R + CodeOnly,
        T: Serialize + DeserializeOwned + 'static,
        R: Serialize + DeserializeOwned + 'static,
    {
        self.start_imap(f, iterable, chunksize, false)
    }

    /// `imap` as an imap of one-element tuples: the function registered
    /// for `(T,)` serves it.
    fn start_imap<F, T, R>(
        &self,
        _f: F,
        iterable: impl IntoIterator<Item = T>,
        chunksize: usize,
        ordered: bool,
    ) -> Result<ManagedIMap<R>>
    where
        F: Fn(T) -> R + CodeOnly,
        T: Serialize + DeserializeOwned + 'static,
        R: Serialize + DeserializeOwned + 'static,
    {
        if chunksize == 0 {
            return Err(PoolError::InvalidArgument("chunksize must be 1+, not 0".into()).into());
        }
        let items: Vec<(T,)> = iterable.into_iter().map(|x| (x,)).collect();
        let call = PoolCall::Imap {
            chunksize: chunksize as u64,
            ordered,
        };
        let handle: u64 = self
            .run_call::<F, (T,), _>(call, &items)
            .map_err(not_registered::<F>)?;
        Ok(ManagedIMap::new(self.clone(), handle))
    }
}
