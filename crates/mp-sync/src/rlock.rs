//! [`RLock`]: Python's `multiprocessing.RLock`, a recursive lock owned by
//! one thread of one process.
//!
//! # Words (after the mutex's 16 bytes)
//! | offset | word | meaning |
//! |--------|------|---------|
//! | 0..16  | mutex | `raw/mutex.rs`: the owner *thread*'s `(tid, start time)` ([`ident::thread`]) + waiters, `seq` |
//! | 16     | `u64` | unused (kept so the layout and size stay as they were) |
//! | 24     | `count: u32` | recursion depth if above 1; `0` or `1` = one level |
//!
//! The mutex word names the owning thread itself: the tid is unique among
//! the threads of all processes, so "is it mine?" is one load and one
//! compare, an uncontended acquire is the mutex's one CAS and the last
//! release its one swap, as a plain futex mutex's. The count is only
//! written on recursion (and read on release): a lock taken and released
//! one level deep leaves it at 0 or 1, which both mean one level, so the
//! next owner starts right. Only the owner writes it.
//!
//! A dead owner is a dead *thread*: if the owning thread ends holding the
//! lock — its process died, or the thread alone exited — the next waiter
//! takes it over and learns `OwnerDied`, as a robust pthread mutex reports
//! `EOWNERDEAD` (nobody else could ever release it).

use std::fmt;
use std::io;
use std::marker::PhantomData;
use std::time::Duration;

use mp_shm::Slot;
use mp_sys::time::Deadline;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::{AcquireError, LockResult, OwnerDied, ReleaseError, TryAcquireError};
use crate::ident;
use crate::outcome;
use crate::park::Futex;
use crate::primitive::{AtomicU32, Ordering};
use crate::raw::mutex::RawMutex;
use crate::raw::{Acquired, TimedOut};
use crate::shared::{self, word};

#[cfg(feature = "async")]
#[path = "rlock_async.rs"]
mod async_forms;

/// Bytes of shared memory per RLock.
pub(crate) const SIZE: usize = 32;

/// A process-shared recursive lock.
///
/// ```
/// let rlock = mp_sync::RLock::new()?;
/// let a = rlock.lock().unwrap();
/// let b = rlock.lock().unwrap(); // same thread: recursion
/// assert_eq!(rlock.count(), 2);
/// drop((b, a));
/// assert_eq!(rlock.release(), Err(mp_sync::ReleaseError::NotOwner));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct RLock {
    slot: Slot,
}

/// Holds one level of an [`RLock`]; not `Send` (the owner is a thread).
#[must_use = "the lock is released when the guard is dropped"]
pub struct RLockGuard<'a> {
    lock: &'a RLock,
    _not_send: PhantomData<*const ()>,
}

impl RLock {
    /// A new unowned RLock in shared memory.
    ///
    /// # Errors
    /// The OS error if shared memory cannot be allocated.
    pub fn new() -> io::Result<RLock> {
        Ok(RLock {
            slot: shared::alloc(SIZE)?,
        })
    }

    #[inline]
    fn mutex(&self) -> RawMutex<'_> {
        shared::mutex_at(&self.slot, 0)
    }

    #[inline]
    fn count_word(&self) -> &AtomicU32 {
        word!(self.slot, u32, 24)
    }

    /// Whether the calling thread owns the lock.
    #[inline]
    pub fn is_mine(&self) -> bool {
        self.mutex().owner() == ident::thread()
    }

    #[inline]
    pub(crate) fn acquire_until(&self, deadline: Deadline) -> Result<Acquired, TimedOut> {
        let mutex = self.mutex();
        let me = ident::thread();
        // Unlocked is the common case; the CAS fails if anyone holds it,
        // this thread included, so the ownership check can come after it.
        if mutex.try_lock(me) {
            return Ok(Acquired::Clean);
        }
        if mutex.owner() == me {
            let count = self.count_word();
            // (Saturating: another process may have written the shared
            // word; a damaged depth must not panic us.)
            let depth = count.load(Ordering::Relaxed).max(1).saturating_add(1);
            count.store(depth, Ordering::Relaxed);
            return Ok(Acquired::Clean);
        }
        let r = mutex.lock_contended::<Futex>(me, deadline)?;
        if r == Acquired::OwnerDied {
            // The dead owner may have died several levels deep.
            self.count_word().store(0, Ordering::Relaxed);
        }
        Ok(r)
    }

    #[inline]
    fn guard(&self) -> RLockGuard<'_> {
        RLockGuard {
            lock: self,
            _not_send: PhantomData,
        }
    }

    /// Blocks until acquired (at once if the caller already owns it).
    ///
    /// # Errors
    /// [`OwnerDied`] (holding the guard) if taken from a dead holder.
    #[inline]
    pub fn lock(&self) -> LockResult<RLockGuard<'_>> {
        // Unowned: the identity and one CAS, small enough to go in line in
        // the caller (see `SyncLock::lock`); recursion, the wait and a dead
        // holder's recovery out of line.
        if self.mutex().try_lock(ident::thread()) {
            return Ok(self.guard());
        }
        self.lock_held_or_wait()
    }

    /// [`lock`](Self::lock) when the first CAS failed: one more level if
    /// the caller owns it, else the wait.
    #[inline(never)]
    fn lock_held_or_wait(&self) -> LockResult<RLockGuard<'_>> {
        let r = self
            .acquire_until(Deadline::NEVER)
            .expect("an unbounded wait cannot time out");
        outcome::blocking(r, self.guard())
    }

    /// Acquires if possible without waiting.
    ///
    /// # Errors
    /// [`TryAcquireError::WouldBlock`], or `OwnerDied` (holding the guard).
    pub fn try_lock(&self) -> Result<RLockGuard<'_>, TryAcquireError<RLockGuard<'_>>> {
        outcome::tried(self.acquire_until(outcome::now()), || self.guard())
    }

    /// Waits at most `timeout`.
    ///
    /// # Errors
    /// [`AcquireError::Timeout`], or `OwnerDied` (holding the guard).
    pub fn lock_timeout(
        &self,
        timeout: Duration,
    ) -> Result<RLockGuard<'_>, AcquireError<RLockGuard<'_>>> {
        outcome::timed(self.acquire_until(Deadline::after(Some(timeout))), || {
            self.guard()
        })
    }

    /// Python's `acquire(block=True, timeout=None)`.
    ///
    /// # Errors
    /// [`OwnerDied`]: acquired from a dead holder (release it as usual).
    pub fn acquire(&self, block: bool, timeout: Option<Duration>) -> Result<bool, OwnerDied> {
        outcome::py(self.acquire_until(outcome::py_deadline(block, timeout)))
    }

    /// Python's `release()`: one level.
    ///
    /// # Errors
    /// [`ReleaseError::NotOwner`] if the calling thread does not own it.
    #[inline]
    pub fn release(&self) -> Result<(), ReleaseError> {
        let mutex = self.mutex();
        if mutex.owner() != ident::thread() {
            return Err(ReleaseError::NotOwner);
        }
        let count = self.count_word();
        let depth = count.load(Ordering::Relaxed);
        if depth > 1 {
            count.store(depth - 1, Ordering::Relaxed);
            return Ok(());
        }
        mutex
            .unlock::<Futex>()
            .map(drop)
            .map_err(|_| ReleaseError::NotOwner)
    }

    /// Releases every level at once; returns the depth (for `Condition.wait`).
    pub(crate) fn release_all(&self) -> Result<u32, ReleaseError> {
        if !self.is_mine() {
            return Err(ReleaseError::NotOwner);
        }
        let depth = self.count_word().swap(0, Ordering::Relaxed).max(1);
        self.mutex()
            .unlock::<Futex>()
            .map_err(|_| ReleaseError::NotOwner)?;
        Ok(depth)
    }

    /// Re-acquires `depth` levels (after [`release_all`](Self::release_all)).
    pub(crate) fn acquire_depth(&self, depth: u32) -> Acquired {
        let r = self
            .acquire_until(Deadline::NEVER)
            .expect("an unbounded wait cannot time out");
        self.count_word().store(depth.max(1), Ordering::Relaxed);
        r
    }

    /// The recursion depth (0 when unowned).
    pub fn count(&self) -> u32 {
        if self.locked() {
            self.count_word().load(Ordering::Relaxed).max(1)
        } else {
            0
        }
    }

    /// Whether any thread of any process owns it.
    pub fn locked(&self) -> bool {
        self.mutex().owner() != 0
    }

    /// The pid of the owning thread's process, if any (read from `/proc`
    /// unless the owner is the calling thread).
    pub fn owner_pid(&self) -> Option<u32> {
        let owner = self.mutex().owner();
        (owner != 0).then(|| ident::process_of_thread(owner))
    }
}

impl Drop for RLockGuard<'_> {
    #[inline]
    fn drop(&mut self) {
        let _ = self.lock.release();
    }
}

impl fmt::Debug for RLockGuard<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RLockGuard")
            .field("lock", self.lock)
            .finish()
    }
}

impl fmt::Debug for RLock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.owner_pid() {
            None => write!(f, "<RLock(None, 0)>"),
            Some(_) if self.is_mine() => write!(f, "<RLock(this thread, {})>", self.count()),
            Some(pid) => write!(f, "<RLock(pid {pid}, nonzero)>"),
        }
    }
}

impl Serialize for RLock {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.slot.serialize(s)
    }
}

impl<'de> Deserialize<'de> for RLock {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(RLock {
            slot: shared::slot_of(d, SIZE, "RLock")?,
        })
    }
}
