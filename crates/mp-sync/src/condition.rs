//! [`Condition`]: Python's `multiprocessing.Condition(lock=None)`, over a
//! [`SyncLock`] and the token protocol of `raw/condvar.rs` (exact notify
//! counts; a notify wakes only waiters already waiting; no blocking
//! handshake, so a dead waiter cannot hang `notify`).

use std::fmt;
use std::io;
use std::time::Duration;

use mp_shm::Slot;
use mp_sys::time::Deadline;
use serde::{Deserialize, Serialize};

use crate::error::{ConditionError, LockResult, OwnerDied, ReleaseError};
use crate::park::Futex;
use crate::raw::condvar::RawCondvar;
use crate::raw::Acquired;
use crate::rlock::RLock;
use crate::shared::{self, word};
use crate::sync_lock::{SyncLock, SyncLockGuard};

#[cfg(feature = "async")]
#[path = "condition_async.rs"]
mod async_forms;

/// Bytes of shared memory per condition (besides its lock): `fresh` @0,
/// `waiters` @4, `tokens` @8, `epoch` @12, eventcount @16.
const SIZE: usize = 16 + shared::EVENTCOUNT;

/// A process-shared condition variable.
///
/// ```
/// use std::time::Duration;
/// let cond = mp_sync::Condition::new()?; // an RLock inside, as in Python
/// let guard = cond.lock().unwrap();
/// assert_eq!(guard.wait(Some(Duration::from_millis(10))), Ok(false)); // nobody notified
/// guard.notify_all()?;
/// drop(guard);
/// assert_eq!(cond.notify(1), Err(mp_sync::ConditionError::NotOwner));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Serialize, Deserialize)]
pub struct Condition {
    lock: SyncLock,
    #[serde(deserialize_with = "slot")]
    slot: Slot,
}

fn slot<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Slot, D::Error> {
    shared::slot_of(d, SIZE, "Condition")
}

/// Holds a [`Condition`]'s lock; `wait`/`notify` from here cannot fail
/// with [`ConditionError::NotOwner`] (unless the lock is released by hand).
#[must_use = "the lock is released when the guard is dropped"]
pub struct ConditionGuard<'a> {
    cond: &'a Condition,
    _lock: SyncLockGuard<'a>,
}

impl Condition {
    /// A condition over a new [`RLock`].
    ///
    /// # Errors
    /// The OS error if shared memory cannot be allocated.
    pub fn new() -> io::Result<Condition> {
        Self::with_lock(RLock::new()?)
    }

    /// A condition over an existing `Lock` or `RLock`.
    ///
    /// # Errors
    /// The OS error if shared memory cannot be allocated.
    pub fn with_lock(lock: impl Into<SyncLock>) -> io::Result<Condition> {
        Ok(Condition {
            lock: lock.into(),
            slot: shared::alloc(SIZE)?,
        })
    }

    pub(crate) fn raw(&self) -> RawCondvar<'_> {
        RawCondvar {
            fresh: word!(self.slot, u32, 0),
            waiters: word!(self.slot, u32, 4),
            tokens: word!(self.slot, u32, 8),
            epoch: word!(self.slot, u32, 12),
            wake: shared::eventcount_at(&self.slot, 16),
        }
    }

    /// The underlying lock.
    pub fn get_lock(&self) -> &SyncLock {
        &self.lock
    }

    /// Acquires the lock, returning a guard with `wait`/`notify`.
    ///
    /// # Errors
    /// [`OwnerDied`] (holding the guard).
    pub fn lock(&self) -> LockResult<ConditionGuard<'_>> {
        match self.lock.lock() {
            Ok(g) => Ok(ConditionGuard {
                cond: self,
                _lock: g,
            }),
            Err(d) => Err(d.map(|g| ConditionGuard {
                cond: self,
                _lock: g,
            })),
        }
    }

    /// Python's `acquire(block=True, timeout=None)` of the lock.
    ///
    /// # Errors
    /// [`OwnerDied`]: acquired from a dead holder.
    pub fn acquire(&self, block: bool, timeout: Option<Duration>) -> Result<bool, OwnerDied> {
        self.lock.acquire(block, timeout)
    }

    /// Python's `release()` of the lock.
    ///
    /// # Errors
    /// As the lock's `release`.
    pub fn release(&self) -> Result<(), ReleaseError> {
        self.lock.release()
    }

    /// Python's `wait(timeout=None)`: releases the lock (all `RLock`
    /// levels), waits for a notify or the timeout, re-acquires it (same
    /// depth). `Ok(true)` if notified.
    ///
    /// # Errors
    /// [`ConditionError::NotOwner`] if the caller does not hold the lock;
    /// [`ConditionError::OwnerDied`] if the lock had to be re-taken from a
    /// dead holder (it is held again).
    pub fn wait(&self, timeout: Option<Duration>) -> Result<bool, ConditionError> {
        if !self.lock.is_mine() {
            return Err(ConditionError::NotOwner);
        }
        let raw = self.raw();
        let ticket = raw.register();
        let depth = match self.lock.release_all() {
            Ok(d) => d,
            Err(_) => {
                raw.finish(ticket, false);
                return Err(ConditionError::NotOwner);
            }
        };
        let notified = raw.sleep::<Futex>(ticket, Deadline::after(timeout));
        let reacquired = self.lock.reacquire(depth);
        let notified = raw.finish(ticket, notified);
        match reacquired {
            Acquired::Clean => Ok(notified),
            Acquired::OwnerDied => Err(ConditionError::OwnerDied),
        }
    }

    /// Python's `wait_for(predicate, timeout=None)`: waits until
    /// `predicate()` is true or the overall timeout elapses; returns the
    /// last value of the predicate (checked first, without waiting).
    ///
    /// # Errors
    /// As [`wait`](Self::wait).
    pub fn wait_for(
        &self,
        mut predicate: impl FnMut() -> bool,
        timeout: Option<Duration>,
    ) -> Result<bool, ConditionError> {
        let deadline = Deadline::after(timeout);
        loop {
            if predicate() {
                return Ok(true);
            }
            if deadline.passed() {
                return Ok(false);
            }
            self.wait(deadline.slice(None))?;
        }
    }

    /// Python's `notify(n=1)`: wakes up to `n` of the waiters that are
    /// waiting now (a `wait` that starts later, even in this thread, does
    /// not take this notification).
    ///
    /// # Errors
    /// [`ConditionError::NotOwner`] if the caller does not hold the lock.
    pub fn notify(&self, n: u32) -> Result<(), ConditionError> {
        if !self.lock.is_mine() {
            return Err(ConditionError::NotOwner);
        }
        self.raw().notify::<Futex>(n);
        Ok(())
    }

    /// Python's `notify_all()`.
    ///
    /// # Errors
    /// [`ConditionError::NotOwner`] if the caller does not hold the lock.
    pub fn notify_all(&self) -> Result<(), ConditionError> {
        self.notify(u32::MAX)
    }
}

impl ConditionGuard<'_> {
    /// See [`Condition::wait`].
    ///
    /// # Errors
    /// As [`Condition::wait`].
    pub fn wait(&self, timeout: Option<Duration>) -> Result<bool, ConditionError> {
        self.cond.wait(timeout)
    }

    /// See [`Condition::wait_for`].
    ///
    /// # Errors
    /// As [`Condition::wait`].
    pub fn wait_for(
        &self,
        predicate: impl FnMut() -> bool,
        timeout: Option<Duration>,
    ) -> Result<bool, ConditionError> {
        self.cond.wait_for(predicate, timeout)
    }

    /// See [`Condition::notify`].
    ///
    /// # Errors
    /// As [`Condition::notify`].
    pub fn notify(&self, n: u32) -> Result<(), ConditionError> {
        self.cond.notify(n)
    }

    /// See [`Condition::notify_all`].
    ///
    /// # Errors
    /// As [`Condition::notify`].
    pub fn notify_all(&self) -> Result<(), ConditionError> {
        self.cond.notify_all()
    }
}

impl fmt::Debug for ConditionGuard<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConditionGuard")
            .field("cond", self.cond)
            .finish()
    }
}

impl fmt::Debug for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<Condition({:?}, {})>", self.lock, self.raw().waiting())
    }
}

#[cfg(test)]
mod debug_tests {
    use super::*;

    #[test]
    fn debug_is_pythons_repr() {
        // CPython: repr(multiprocessing.Condition()) == "<Condition(<RLock(None, 0)>, 0)>"
        let c = Condition::new().unwrap();
        assert_eq!(format!("{c:?}"), "<Condition(<RLock(None, 0)>, 0)>");
    }
}
