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
use crate::park::{Futex, SETTLE};
use crate::raw::mutex::{NotLocked, RawMutex};
use crate::shared;

#[cfg(feature = "async")]
#[path = "lock_async.rs"]
mod async_forms;

/// Bytes of shared memory per lock: one mutex (see `raw/mutex.rs`).
pub(crate) const SIZE: usize = shared::MUTEX;

/// Bytes of an asymmetric lock ([`Lock::new_asymmetric`]): the mutex, then
/// a word that says so ([`ASYMMETRIC`]).
const ASYMMETRIC_SIZE: usize = SIZE + 8;

/// The value of an asymmetric lock's word after its mutex.
const ASYMMETRIC: u64 = 0x6173_796d_6d65_7472; // "asymmetr"

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
    /// Made by [`new_asymmetric`](Lock::new_asymmetric) (its slot says so).
    asymmetric: bool,
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
            asymmetric: false,
        })
    }

    /// A new unlocked lock whose holder may release it with
    /// [`release_asymmetric`](Self::release_asymmetric): a plain store,
    /// without the locked instruction of [`release`](Self::release), paid
    /// for by its waiters, who each make a `membarrier` system call before
    /// they sleep (and so does [`order_with_unlock`](Self::order_with_unlock)).
    /// For a lock released far more often than anyone sleeps on it (a
    /// queue's writer lock: one `put` in, one release). Every copy of it,
    /// in any process, is asymmetric too; otherwise it is a [`Lock`].
    ///
    /// The kernel's fence can miss a releaser for a while after its
    /// process registered ([`settle`](Self::settle) says when): a release
    /// racing a waiter's registration then costs that waiter up to 1 ms,
    /// the bound of its first sleep, instead of nothing.
    ///
    /// # Errors
    /// The OS error if shared memory cannot be allocated.
    pub fn new_asymmetric() -> io::Result<Lock> {
        let slot = mp_shm::alloc(ASYMMETRIC_SIZE, 64)?;
        shared::word!(slot, u64, SIZE).store(ASYMMETRIC, std::sync::atomic::Ordering::Relaxed);
        Ok(Lock {
            slot,
            asymmetric: true,
        })
    }

    /// Whether the lock was made by [`new_asymmetric`](Self::new_asymmetric)
    /// (this copy of it, or the one it was sent from).
    pub fn is_asymmetric(&self) -> bool {
        self.asymmetric
    }

    /// Whether `slot` is an asymmetric lock's (its word after the mutex
    /// says so).
    fn slot_is_asymmetric(slot: &Slot) -> bool {
        slot.atomic_u64(SIZE)
            .is_ok_and(|w| w.load(std::sync::atomic::Ordering::Relaxed) == ASYMMETRIC)
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
        if self.asymmetric {
            return self
                .raw()
                .lock_asymmetric::<Futex>(ident::process(), deadline);
        }
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

    /// [`release`](Self::release) without a locked instruction, for the
    /// holder of a lock made by [`new_asymmetric`](Self::new_asymmetric):
    /// a plain store of the lock's word, then the look for waiters. Its
    /// waiters and [`order_with_unlock`](Self::order_with_unlock) make the
    /// other side of the fence (`mp_sys::membarrier`). A plain
    /// [`release`](Self::release) where the lock is not asymmetric or this
    /// process cannot take part (the kernel refused its registration).
    ///
    /// Only the holder may call it: two releases at once could both
    /// succeed, where with [`release`](Self::release) one fails.
    ///
    /// # Errors
    /// [`ReleaseError::NotLocked`] if the lock is not held.
    #[inline]
    pub fn release_asymmetric(&self) -> Result<(), ReleaseError> {
        if self.asymmetric && fences::registered() {
            return self
                .raw()
                .unlock_light::<Futex>()
                .map(drop)
                .map_err(|NotLocked| ReleaseError::NotLocked);
        }
        self.release()
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
    ///
    /// An asymmetric lock ([`new_asymmetric`](Self::new_asymmetric)) may be
    /// released with a plain store, which a read-modify-write does not
    /// order with: there this also makes the heavy side of the
    /// asymmetric fence (`mp_sys::membarrier::heavy`), after which either
    /// the release's store is visible to the look, or the releaser's look
    /// at the waiters comes after the barrier and sees the registration
    /// (an argument from the kernel's barrier, not the language's model).
    /// The kernel can miss the releaser's CPU, so the sleeper's first sleep
    /// should be bounded by [`settle`](Self::settle).
    #[inline]
    pub fn order_with_unlock(&self) {
        self.raw().touch();
        if self.asymmetric {
            let _ = mp_sys::membarrier::heavy();
        }
    }

    /// How long a party sleeping until a holder of this lock changes a
    /// condition should sleep first, before it looks at the condition
    /// again under the same registration (see
    /// [`EventCount::settling`](crate::EventCount::settling)): 1 ms for an
    /// asymmetric lock, `None` (no bound) for any other.
    ///
    /// The kernel's heavy fence that [`order_with_unlock`](Self::order_with_unlock)
    /// makes reaches every CPU running a registered process, except, until
    /// it next runs another process, a CPU that held the releasing
    /// process's address space idle when that process registered (Linux
    /// 6.18 skips it; `mp_sys::membarrier` shows it). A release racing the
    /// registration on such a CPU may neither show in the look after the
    /// fence nor wake: the second look sees it. The lock's own waiters
    /// bound their first sleep the same way.
    pub fn settle(&self) -> Option<Duration> {
        self.asymmetric.then_some(SETTLE)
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
        let slot = shared::slot_of(d, SIZE, "Lock")?;
        let asymmetric = Lock::slot_is_asymmetric(&slot);
        Ok(Lock { slot, asymmetric })
    }
}

/// Whether this process takes part in asymmetric fences: registered with
/// the kernel once per process (a forked child registers again).
mod fences {
    use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

    use crate::ident;

    /// The identity of the process that registered (0: none).
    static REGISTERED: AtomicU64 = AtomicU64::new(0);
    /// The identity of the process whose registration was refused.
    static REFUSED: AtomicU64 = AtomicU64::new(0);

    /// Whether this process is registered (registering it the first time).
    #[inline]
    pub(super) fn registered() -> bool {
        let me = ident::process();
        REGISTERED.load(Relaxed) == me || register(me)
    }

    #[cold]
    #[inline(never)]
    fn register(me: u64) -> bool {
        if REFUSED.load(Relaxed) == me {
            return false;
        }
        let ok = mp_sys::membarrier::register().is_ok();
        if ok { &REGISTERED } else { &REFUSED }.store(me, Relaxed);
        ok
    }
}
