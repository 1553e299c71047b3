//! The traits and error behind [`flavor`](crate::flavor), and their
//! implementations for each flavour (one file each).

#[macro_use]
mod forward;
mod error;
mod managed;
mod native;
mod thread;

use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::{CodeOnly, TupleFn};

pub use error::FlavorError;

/// A lock: Python's `acquire(block, timeout)` / `release()`, and a guard
/// that releases on drop (`with lock:`).
pub trait LockLike {
    /// What [`lock`](Self::lock) returns; dropping it releases the lock.
    type Guard<'a>
    where
        Self: 'a;

    /// Python's `acquire(block, timeout)`: waits (at most `timeout`, if
    /// given) unless `block` is false; returns whether it was acquired.
    fn acquire_with(&self, block: bool, timeout: Option<Duration>) -> Result<bool, FlavorError>;

    /// Releases (Python's `release()`); [`FlavorError::NotLocked`] if a
    /// `Lock` was not held.
    fn release(&self) -> Result<(), FlavorError>;

    /// Waits until acquired and returns a guard that releases on drop.
    fn lock(&self) -> Result<Self::Guard<'_>, FlavorError>;

    /// Waits until acquired (Python's `acquire()`).
    fn acquire(&self) -> Result<(), FlavorError> {
        self.acquire_with(true, None).map(drop)
    }

    /// Acquires if it can without waiting; returns whether it did.
    fn try_acquire(&self) -> Result<bool, FlavorError> {
        self.acquire_with(false, None)
    }

    /// Waits at most `timeout`; returns whether it was acquired.
    fn acquire_timeout(&self, timeout: Duration) -> Result<bool, FlavorError> {
        self.acquire_with(true, Some(timeout))
    }
}

/// An event: Python's `set`, `clear`, `is_set`, `wait(timeout)`.
pub trait EventLike {
    /// Sets the flag and wakes every waiter.
    fn set(&self) -> Result<(), FlavorError>;
    /// Clears the flag.
    fn clear(&self) -> Result<(), FlavorError>;
    /// Whether the flag is set.
    fn is_set(&self) -> Result<bool, FlavorError>;
    /// Waits until the flag is set (at most `timeout`, if given); returns
    /// the flag.
    fn wait(&self, timeout: Option<Duration>) -> Result<bool, FlavorError>;
}

/// A FIFO queue of `T`: Python's `put`/`get` with `block` and `timeout`,
/// `qsize`, `empty`, `full`.
pub trait QueueLike<T> {
    /// Python's `put(item, block, timeout)`: [`FlavorError::Full`] when a
    /// bounded queue had no room (at once, or within `timeout`).
    fn put_with(&self, item: T, block: bool, timeout: Option<Duration>) -> Result<(), FlavorError>;

    /// Python's `get(block, timeout)`: [`FlavorError::Empty`] when nothing
    /// came (at once, or within `timeout`).
    fn get_with(&self, block: bool, timeout: Option<Duration>) -> Result<T, FlavorError>;

    /// The number of items queued (approximate where the flavour's is).
    fn qsize(&self) -> Result<usize, FlavorError>;

    /// Whether the queue looks empty.
    fn empty(&self) -> Result<bool, FlavorError>;

    /// Whether a bounded queue looks full.
    fn full(&self) -> Result<bool, FlavorError>;

    /// Puts `item`, waiting for room if the queue is bounded and full.
    fn put(&self, item: T) -> Result<(), FlavorError> {
        self.put_with(item, true, None)
    }

    /// Puts `item` if there is room now.
    fn put_nowait(&self, item: T) -> Result<(), FlavorError> {
        self.put_with(item, false, None)
    }

    /// Takes the next item, waiting for one.
    fn get(&self) -> Result<T, FlavorError> {
        self.get_with(true, None)
    }

    /// Takes the next item if there is one now.
    fn get_nowait(&self) -> Result<T, FlavorError> {
        self.get_with(false, None)
    }

    /// Takes the next item, waiting at most `timeout`.
    fn get_timeout(&self, timeout: Duration) -> Result<T, FlavorError> {
        self.get_with(true, Some(timeout))
    }
}

/// A pool of workers: Python's `map`, `starmap`, `apply`.
///
/// The bounds are those every flavour accepts: a `fn` item or non-capturing
/// closure ([`CodeOnly`], and `Sync` for the thread pool), serde arguments
/// and results (`Send` for the thread pool). A managed pool calls only
/// functions registered with its server
/// ([`ManagerBuilder::pool_function`](crate::ManagerBuilder::pool_function)).
pub trait PoolLike {
    /// `f(item)` for every item, results in input order.
    fn map<F, T, R>(&self, f: F, items: impl IntoIterator<Item = T>) -> Result<Vec<R>, FlavorError>
    where
        F: Fn(T) -> R + CodeOnly + Sync,
        T: Serialize + DeserializeOwned + Send + 'static,
        R: Serialize + DeserializeOwned + Send + 'static;

    /// `f(*args)` for every argument tuple, results in input order.
    fn starmap<F, Args>(
        &self,
        f: F,
        items: impl IntoIterator<Item = Args>,
    ) -> Result<Vec<F::Output>, FlavorError>
    where
        F: TupleFn<Args> + CodeOnly + Sync,
        Args: Serialize + DeserializeOwned + Send + 'static,
        F::Output: Serialize + DeserializeOwned + Send + 'static;

    /// `f(*args)` in one worker; its result.
    fn apply<F, Args>(&self, f: F, args: Args) -> Result<F::Output, FlavorError>
    where
        F: TupleFn<Args> + CodeOnly + Sync,
        Args: Serialize + DeserializeOwned + Send + 'static,
        F::Output: Serialize + DeserializeOwned + Send + 'static;
}
