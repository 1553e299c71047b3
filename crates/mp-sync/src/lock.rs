//! [`Lock`]: Python's `multiprocessing.Lock`, a non-recursive lock that
//! works across processes and survives the death of its holder.

use std::fmt;
use std::io;
use std::time::Duration;

use mp_shm::Slot;
use mp_sys::time::Deadline;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::{AcquireError, LockResult, OwnerDied, ReleaseError, TryAcquireError};
use crate::ident;
use crate::outcome;
use crate::park::Futex;
use crate::raw::mutex::{NotLocked, RawMutex};
use crate::shared;

#[cfg(feature = "async")]
#[path = "lock_async.rs"]
mod async_forms;

/// Bytes of shared memory per lock: one mutex (see `raw/mutex.rs`).
pub(crate) const SIZE: usize = shared::MUTEX;

/// A process-shared, non-recursive lock.
///
/// Any thread or process may release it (as in Python). A waiter learns
/// within about 50–100 ms that the holding process died and then gets the
/// lock wrapped in [`OwnerDied`].
///
/// ```
/// let lock = mp_sync::Lock::new()?;
/// {
///     let _guard = lock.lock().unwrap_or_else(|died| died.into_inner());
///     assert!(lock.locked());
///     assert!(lock.try_lock().is_err());
/// }
/// // Python style:
/// assert_eq!(lock.acquire(true, None), Ok(true));
/// assert_eq!(lock.acquire(false, None), Ok(false));
/// lock.release()?;
/// assert_eq!(lock.release(), Err(mp_sync::ReleaseError::NotLocked));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct Lock {
    slot: Slot,
}

/// Holds a [`Lock`]; releases it on drop.
#[must_use = "the lock is released when the guard is dropped"]
pub struct LockGuard<'a> {
    lock: &'a Lock,
}

impl Lock {
    /// A new unlocked lock in shared memory.
    ///
    /// # Errors
    /// The OS error if shared memory cannot be allocated.
    pub fn new() -> io::Result<Lock> {
        // A cache line of its own: two locks that different processes take
        // at the same time (a queue's writer and reader locks) would
        // otherwise share one, and every acquire would miss the cache.
        Ok(Lock {
            slot: mp_shm::alloc(SIZE, 64)?,
        })
    }

    #[inline]
    pub(crate) fn raw(&self) -> RawMutex<'_> {
        shared::mutex_at(&self.slot, 0)
    }

    #[inline]
    pub(crate) fn lock_until(
        &self,
        deadline: Deadline,
    ) -> Result<crate::raw::Acquired, crate::raw::TimedOut> {
        self.raw().lock::<Futex>(ident::process(), deadline)
    }

    /// Blocks until the lock is acquired.
    ///
    /// # Errors
    /// [`OwnerDied`] (holding the guard) if it was taken from a dead holder.
    #[inline]
    pub fn lock(&self) -> LockResult<LockGuard<'_>> {
        let r = self
            .lock_until(Deadline::NEVER)
            .expect("an unbounded wait cannot time out");
        outcome::blocking(r, LockGuard { lock: self })
    }

    /// Acquires the lock if that is possible without waiting.
    ///
    /// # Errors
    /// [`TryAcquireError::WouldBlock`], or `OwnerDied` (holding the guard).
    #[inline]
    pub fn try_lock(&self) -> Result<LockGuard<'_>, TryAcquireError<LockGuard<'_>>> {
        // Uncontended: one CAS, no clock read, inlined into the caller
        // (with the rest in line, a queue's `put` or `get` paid a call's
        // register saves and restores around it).
        if self.raw().try_lock(ident::process()) {
            return Ok(LockGuard { lock: self });
        }
        self.try_lock_held()
    }

    /// [`try_lock`](Self::try_lock) once its CAS failed: the lock is held,
    /// perhaps by a dead holder.
    #[cold]
    #[inline(never)]
    fn try_lock_held(&self) -> Result<LockGuard<'_>, TryAcquireError<LockGuard<'_>>> {
        outcome::tried(self.lock_until(outcome::now()), || LockGuard { lock: self })
    }

    /// Waits at most `timeout` for the lock.
    ///
    /// # Errors
    /// [`AcquireError::Timeout`], or `OwnerDied` (holding the guard).
    pub fn lock_timeout(
        &self,
        timeout: Duration,
    ) -> Result<LockGuard<'_>, AcquireError<LockGuard<'_>>> {
        if self.raw().try_lock(ident::process()) {
            return Ok(LockGuard { lock: self });
        }
        outcome::timed(self.lock_until(Deadline::after(Some(timeout))), || {
            LockGuard { lock: self }
        })
    }

    /// Python's `acquire(block=True, timeout=None)`: `Ok(true)` if acquired,
    /// `Ok(false)` if not (`block == false` ignores `timeout`).
    ///
    /// # Errors
    /// [`OwnerDied`]: acquired from a dead holder; the caller must
    /// [`release`](Self::release) as usual.
    #[inline]
    pub fn acquire(&self, block: bool, timeout: Option<Duration>) -> Result<bool, OwnerDied> {
        if self.raw().try_lock(ident::process()) {
            return Ok(true);
        }
        outcome::py(self.lock_until(outcome::py_deadline(block, timeout)))
    }

    /// Python's `release()`; any thread or process may release.
    ///
    /// # Errors
    /// [`ReleaseError::NotLocked`] if the lock is not held.
    #[inline]
    pub fn release(&self) -> Result<(), ReleaseError> {
        self.raw()
            .unlock::<Futex>()
            .map(drop)
            .map_err(|NotLocked| ReleaseError::NotLocked)
    }

    /// Orders the caller with the lock's last release, without taking it:
    /// a read-modify-write of the lock's word that changes nothing.
    ///
    /// For a party about to sleep until holders of this lock change a
    /// condition, where a holder publishes the change with a `Release`
    /// store, releases the lock, and only then looks whether anyone waits
    /// (so the release's read-modify-write, not a `SeqCst` store, orders
    /// its publication before that look). The sleeper registers as a
    /// waiter, calls this, then looks at the condition. Either this comes
    /// after the holder's release in the order of the lock's word: it
    /// synchronizes with the release, so the look sees the change. Or it
    /// comes before: it synchronizes with the release (whose swap of the
    /// word reads it, or a change after it), so the holder's look sees the
    /// registration and wakes the sleeper. No wake-up is lost
    /// either way, on any CPU (the argument is the language's memory model,
    /// not a CPU's barriers).
    #[inline]
    pub fn order_with_unlock(&self) {
        self.raw().touch();
    }

    /// Whether anyone holds the lock (Python 3.14's `locked()`).
    #[inline]
    pub fn locked(&self) -> bool {
        self.raw().owner() != 0
    }

    /// The pid of the process holding the lock, if any.
    pub fn owner_pid(&self) -> Option<u32> {
        let owner = self.raw().owner();
        (owner != 0).then(|| mp_shm::ProcessIdent::from_bits(owner).pid())
    }

    /// Whether the calling process holds the lock (any of its threads).
    pub(crate) fn held_by_me(&self) -> bool {
        self.raw().owner() == ident::process()
    }
}

impl Drop for LockGuard<'_> {
    #[inline]
    fn drop(&mut self) {
        // Python lets another party release a Lock; then there is nothing to do.
        let _ = self.lock.release();
    }
}

impl fmt::Debug for LockGuard<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LockGuard")
            .field("lock", self.lock)
            .finish()
    }
}

impl fmt::Debug for Lock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.owner_pid() {
            None => write!(f, "<Lock(owner=None)>"),
            Some(pid) if pid == std::process::id() => write!(f, "<Lock(owner=this process)>"),
            Some(pid) => write!(f, "<Lock(owner=pid {pid})>"),
        }
    }
}

impl Serialize for Lock {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.slot.serialize(s)
    }
}

impl<'de> Deserialize<'de> for Lock {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(Lock {
            slot: shared::slot_of(d, SIZE, "Lock")?,
        })
    }
}
