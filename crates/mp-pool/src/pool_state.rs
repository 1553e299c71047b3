//! The `*_with_state` calls of [`Pool`]: tasks that borrow their worker's
//! state (see [`PoolBuilder::worker_state`](crate::PoolBuilder::worker_state)).

use mp_process::CodeOnly;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::chunk;
use crate::error::PoolError;
use crate::imap::IMapIterator;
use crate::options::TaskOptions;
use crate::pool::{all, Pool};
use crate::result::{AsyncResult, Callbacks};
use crate::worker_state::{self, WorkerStateType};

impl Pool {
    /// [`map`](Self::map) of `f(&mut state, item)`, where `state` is the
    /// worker state of the worker that runs the task
    /// ([`PoolBuilder::worker_state`](crate::PoolBuilder::worker_state)):
    /// made once per worker, mutated across the tasks it runs.
    ///
    /// Fails with [`PoolError::WorkerStateType`] if the pool's workers make
    /// no state of type `S`. A task that panics leaves the state as it was
    /// at the panic; the worker keeps it.
    ///
    /// ```
    /// use mp_pool::Pool;
    ///
    /// /// Each worker counts the tasks it ran.
    /// fn counter(start: u64) -> u64 {
    ///     start
    /// }
    /// fn tally(seen: &mut u64, x: u64) -> (u64, u64) {
    ///     *seen += 1;
    ///     (x, *seen)
    /// }
    ///
    /// let pool = Pool::builder().processes(1).worker_state(counter, (0,)).build()?;
    /// let got = pool.map_with_state(tally, 0..4u64)?;
    /// assert_eq!(got, vec![(0, 1), (1, 2), (2, 3), (3, 4)]);
    /// # Ok::<(), mp_pool::PoolError>(())
    /// ```
    pub fn map_with_state<F, S, T, R>(
        &self,
        f: F,
        iterable: impl IntoIterator<Item = T>,
    ) -> Result<Vec<R>, PoolError>
    where
        F: Fn(&mut S, T) -> R + CodeOnly,
        S: 'static,
        T: Serialize + DeserializeOwned + 'static,
        R: Serialize + DeserializeOwned + Send + 'static,
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
        F: Fn(&mut S, T) -> R + CodeOnly,
        S: 'static,
        T: Serialize + DeserializeOwned + 'static,
        R: Serialize + DeserializeOwned + Send + 'static,
    {
        self.check_state::<S>()?;
        let call = opts.settings(self.default_limit())?;
        let items: Vec<T> = iterable.into_iter().collect();
        let chunksize = chunk::resolve(chunksize, items.len(), self.processes())?;
        let entry = worker_state::state_map_entry::<F, S, T, R>(f);
        self.collect(entry, &items, chunksize, true, all, callbacks, call)
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
        F: Fn(&mut S, T) -> R + CodeOnly,
        S: 'static,
        T: Serialize + DeserializeOwned + 'static,
        R: Serialize + DeserializeOwned + Send + 'static,
    {
        self.check_state::<S>()?;
        let call = opts.settings(self.default_limit())?;
        let entry = worker_state::state_map_entry::<F, S, T, R>(f);
        self.imap_inner(entry, iterable, chunksize, true, call)
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
        F: Fn(&mut S, T) -> R + CodeOnly,
        S: 'static,
        T: Serialize + DeserializeOwned + 'static,
        R: Serialize + DeserializeOwned + Send + 'static,
    {
        self.check_state::<S>()?;
        let call = opts.settings(self.default_limit())?;
        let entry = worker_state::state_map_entry::<F, S, T, R>(f);
        self.imap_inner(entry, iterable, chunksize, false, call)
    }

    /// Whether the workers make a state of type `S`.
    fn check_state<S: 'static>(&self) -> Result<(), PoolError> {
        WorkerStateType::check::<S>(self.inner.config.state.as_ref().map(|(.., t)| *t))
    }
}
