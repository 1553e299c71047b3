//! [`SyncLock`]: "a `Lock` or an `RLock`", the lock a [`Condition`](crate::Condition),
//! [`Value`](crate::Value) or [`Array`](crate::Array) is built on (Python
//! accepts either as their `lock` argument).

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::{AcquireError, LockResult, OwnerDied, ReleaseError};
use crate::lock::{Lock, LockGuard};
use crate::raw::Acquired;
use crate::rlock::{RLock, RLockGuard};
use mp_sys::time::Deadline;

/// Either lock kind.
///
/// ```
/// let lock: mp_sync::SyncLock = mp_sync::Lock::new()?.into();
/// assert_eq!(lock.acquire(true, None), Ok(true));
/// assert!(lock.is_mine());
/// lock.release()?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Serialize, Deserialize)]
pub enum SyncLock {
    /// A non-recursive [`Lock`].
    Lock(Lock),
    /// A recursive [`RLock`].
    RLock(RLock),
}

impl std::fmt::Debug for SyncLock {
    /// The inner lock's own repr (`<Lock(owner=None)>`, `<RLock(None, 0)>`),
    /// as Python shows the lock a `Condition` wraps.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SyncLock::Lock(l) => l.fmt(f),
            SyncLock::RLock(l) => l.fmt(f),
        }
    }
}

/// A guard of either lock kind.
#[derive(Debug)]
#[must_use = "the lock is released when the guard is dropped"]
pub enum SyncLockGuard<'a> {
    /// Holds a [`Lock`].
    Lock(LockGuard<'a>),
    /// Holds one level of an [`RLock`].
    RLock(RLockGuard<'a>),
}

impl From<Lock> for SyncLock {
    fn from(l: Lock) -> Self {
        SyncLock::Lock(l)
    }
}

impl From<RLock> for SyncLock {
    fn from(l: RLock) -> Self {
        SyncLock::RLock(l)
    }
}

impl SyncLock {
    /// Blocks until acquired.
    ///
    /// # Errors
    /// [`OwnerDied`] (holding the guard).
    // Always in line: as a call (which the compiler chose in M5b's loop) it
    // returned the guard through memory, and the release's first loads
    // waited on those stores; in line, the guard stays in registers (M5b
    // on one CPU: 0.585 -> 0.759 of raw, docs/performance.md).
    #[inline(always)]
    pub fn lock(&self) -> LockResult<SyncLockGuard<'_>> {
        match self {
            SyncLock::Lock(l) => l
                .lock()
                .map(SyncLockGuard::Lock)
                .map_err(|e| e.map(SyncLockGuard::Lock)),
            SyncLock::RLock(l) => l
                .lock()
                .map(SyncLockGuard::RLock)
                .map_err(|e| e.map(SyncLockGuard::RLock)),
        }
    }

    /// Waits at most `timeout`.
    ///
    /// # Errors
    /// [`AcquireError::Timeout`], or `OwnerDied` (holding the guard).
    pub fn lock_timeout(
        &self,
        timeout: Duration,
    ) -> Result<SyncLockGuard<'_>, AcquireError<SyncLockGuard<'_>>> {
        match self {
            SyncLock::Lock(l) => l
                .lock_timeout(timeout)
                .map(SyncLockGuard::Lock)
                .map_err(|e| match e {
                    AcquireError::Timeout => AcquireError::Timeout,
                    AcquireError::OwnerDied(d) => {
                        AcquireError::OwnerDied(d.map(SyncLockGuard::Lock))
                    }
                }),
            SyncLock::RLock(l) => l
                .lock_timeout(timeout)
                .map(SyncLockGuard::RLock)
                .map_err(|e| match e {
                    AcquireError::Timeout => AcquireError::Timeout,
                    AcquireError::OwnerDied(d) => {
                        AcquireError::OwnerDied(d.map(SyncLockGuard::RLock))
                    }
                }),
        }
    }

    /// Python's `acquire(block=True, timeout=None)`.
    ///
    /// # Errors
    /// [`OwnerDied`]: acquired from a dead holder.
    pub fn acquire(&self, block: bool, timeout: Option<Duration>) -> Result<bool, OwnerDied> {
        match self {
            SyncLock::Lock(l) => l.acquire(block, timeout),
            SyncLock::RLock(l) => l.acquire(block, timeout),
        }
    }

    /// Python's `release()`.
    ///
    /// # Errors
    /// [`ReleaseError::NotLocked`] / [`ReleaseError::NotOwner`].
    pub fn release(&self) -> Result<(), ReleaseError> {
        match self {
            SyncLock::Lock(l) => l.release(),
            SyncLock::RLock(l) => l.release(),
        }
    }

    /// Whether the caller holds it: any thread of this process for a
    /// [`Lock`] (which has no owning thread), this thread for an [`RLock`].
    pub fn is_mine(&self) -> bool {
        match self {
            SyncLock::Lock(l) => l.held_by_me(),
            SyncLock::RLock(l) => l.is_mine(),
        }
    }

    /// Releases completely; returns the depth to restore.
    pub(crate) fn release_all(&self) -> Result<u32, ReleaseError> {
        match self {
            SyncLock::Lock(l) => l.release().map(|()| 1),
            SyncLock::RLock(l) => l.release_all(),
        }
    }

    /// Re-acquires to `depth` after [`release_all`](Self::release_all).
    pub(crate) fn reacquire(&self, depth: u32) -> Acquired {
        match self {
            SyncLock::Lock(l) => l.lock_until(Deadline::NEVER).unwrap_or(Acquired::Clean),
            SyncLock::RLock(l) => l.acquire_depth(depth),
        }
    }
}
