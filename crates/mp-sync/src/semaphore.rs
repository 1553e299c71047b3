//! [`Semaphore`] and [`BoundedSemaphore`]: Python's counting semaphores,
//! shared across processes, returning slots of holders that died, however
//! many.
//!
//! Layout: `count: u32` @0, eventcount @4 (8), `bound: u32` @12, `used:
//! u32` @16, `scanned: u32` @20, the state mutex @24 (16), `total: u32` @40,
//! then [`HOLDERS`] entries of `{ who: u64, held: u32 }` (16 bytes each)
//! from @48. See `raw/semaphore.rs` for the states and why no death at any
//! instruction loses a slot.
//!
//! The table is sparse: a memfd of its own (one fd per semaphore, 64 MiB of
//! address space), of which only the pages of entries in use are ever
//! touched (16 bytes per process using the semaphore at the same time).

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
use crate::primitive::Ordering;
use crate::raw::semaphore::{Holder, RawSemaphore, VALUE_MAX};
use crate::raw::{Acquired, TimedOut};
use crate::shared::{self, word};

#[cfg(feature = "async")]
#[path = "semaphore_async.rs"]
mod async_forms;

/// Entries in the holder table: Linux's `PID_MAX_LIMIT`, the most threads
/// (hence processes) that can be alive at once. Entries are per process
/// and the entries of dead processes are reclaimed, so the table can never
/// fill with live processes: no number of holders, dead or alive, costs a
/// slot.
const HOLDERS: usize = 1 << 22;
/// Where the holder table starts.
const TABLE: usize = 48;
/// Bytes of shared memory per semaphore.
pub(crate) const SIZE: usize = TABLE + HOLDERS * 16;

/// A process-shared counting semaphore (Python's `Semaphore(value)`).
///
/// `release` may raise the count above its initial value. A slot acquired
/// by a process that dies without releasing it is handed to a waiter within
/// about 50–100 ms, wrapped in [`OwnerDied`], however many holders die
/// (see `raw/semaphore.rs` for how slots are attributed, and the caveat
/// for consumers that never release). Each semaphore maps a sparse holder
/// table of its own: one fd and 64 MiB of address space, of which only
/// the pages in use are touched.
///
/// ```
/// let sem = mp_sync::Semaphore::new(2)?;
/// let a = sem.permit().unwrap();
/// let _b = sem.permit().unwrap();
/// assert!(sem.try_permit().is_err());
/// drop(a);
/// assert_eq!(sem.get_value(), 1);
/// sem.release()?; // Python allows going above the initial value
/// assert_eq!(sem.get_value(), 2);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct Semaphore {
    slot: Slot,
}

/// One slot of a [`Semaphore`] or [`BoundedSemaphore`]; released on drop.
#[must_use = "the slot is released when the permit is dropped"]
pub struct SemaphorePermit<'a> {
    sem: &'a Semaphore,
}

impl Semaphore {
    /// A semaphore with `value` free slots.
    ///
    /// # Errors
    /// `InvalidInput` if `value` exceeds `SEM_VALUE_MAX` (2^31 - 1), or the
    /// OS error if shared memory cannot be allocated.
    pub fn new(value: u32) -> io::Result<Semaphore> {
        Self::with_bound(value, 0)
    }

    fn with_bound(value: u32, bound: u32) -> io::Result<Semaphore> {
        if value > VALUE_MAX {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "semaphore value too large",
            ));
        }
        let sem = Semaphore {
            slot: shared::alloc(SIZE)?,
        };
        word!(sem.slot, u32, 12).store(bound, Ordering::Relaxed);
        word!(sem.slot, u32, 40).store(value, Ordering::Relaxed);
        word!(sem.slot, u32, 0).store(value, Ordering::Release);
        Ok(sem)
    }

    fn raw<'a>(&'a self) -> RawSemaphore<'a, impl Fn(usize) -> Option<Holder<'a>> + 'a> {
        let slot = &self.slot;
        RawSemaphore {
            count: word!(slot, u32, 0),
            wake: shared::eventcount_at(slot, 4),
            bound: word!(slot, u32, 12),
            used: word!(slot, u32, 16),
            scanned: word!(slot, u32, 20),
            lock: shared::mutex_at(slot, 24),
            total: word!(slot, u32, 40),
            holders: move |i: usize| {
                (i < HOLDERS).then(|| Holder {
                    who: word!(slot, u64, TABLE + 16 * i),
                    held: word!(slot, u32, TABLE + 8 + 16 * i),
                })
            },
        }
    }

    fn acquire_until(&self, deadline: Deadline) -> Result<Acquired, TimedOut> {
        self.raw().acquire::<Futex>(ident::process(), deadline)
    }

    /// Blocks until a slot is free and takes it.
    ///
    /// # Errors
    /// [`OwnerDied`] (holding the permit) if the slot came from a dead holder.
    pub fn permit(&self) -> LockResult<SemaphorePermit<'_>> {
        let r = self
            .acquire_until(Deadline::NEVER)
            .expect("an unbounded wait cannot time out");
        outcome::blocking(r, SemaphorePermit { sem: self })
    }

    /// Takes a slot if one is free now.
    ///
    /// # Errors
    /// [`TryAcquireError::WouldBlock`], or `OwnerDied` (holding the permit).
    pub fn try_permit(&self) -> Result<SemaphorePermit<'_>, TryAcquireError<SemaphorePermit<'_>>> {
        outcome::tried(self.acquire_until(outcome::now()), || SemaphorePermit {
            sem: self,
        })
    }

    /// Waits at most `timeout` for a slot.
    ///
    /// # Errors
    /// [`AcquireError::Timeout`], or `OwnerDied` (holding the permit).
    pub fn permit_timeout(
        &self,
        timeout: Duration,
    ) -> Result<SemaphorePermit<'_>, AcquireError<SemaphorePermit<'_>>> {
        outcome::timed(self.acquire_until(Deadline::after(Some(timeout))), || {
            SemaphorePermit { sem: self }
        })
    }

    /// Python's `acquire(block=True, timeout=None)`.
    ///
    /// # Errors
    /// [`OwnerDied`]: a slot was taken over from a dead holder (it is held).
    pub fn acquire(&self, block: bool, timeout: Option<Duration>) -> Result<bool, OwnerDied> {
        outcome::py(self.acquire_until(outcome::py_deadline(block, timeout)))
    }

    /// Python's `release()`.
    ///
    /// # Errors
    /// [`ReleaseError::TooManyReleases`] past the bound (bounded) or
    /// `SEM_VALUE_MAX`.
    pub fn release(&self) -> Result<(), ReleaseError> {
        self.raw()
            .release::<Futex>(ident::process())
            .map_err(|_| ReleaseError::TooManyReleases)
    }

    /// Python's `get_value()`: free slots now.
    pub fn get_value(&self) -> u32 {
        self.raw().value()
    }

    /// Whether no slot is free (Python 3.14's `locked()`).
    pub fn locked(&self) -> bool {
        self.get_value() == 0
    }

    fn bound(&self) -> u32 {
        word!(self.slot, u32, 12).load(Ordering::Relaxed)
    }
}

impl Drop for SemaphorePermit<'_> {
    fn drop(&mut self) {
        let _ = self.sem.release();
    }
}

impl fmt::Debug for SemaphorePermit<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SemaphorePermit")
            .field("sem", self.sem)
            .finish()
    }
}

impl fmt::Debug for Semaphore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.bound() {
            0 => write!(f, "<Semaphore(value={})>", self.get_value()),
            max => write!(
                f,
                "<BoundedSemaphore(value={}, maxvalue={max})>",
                self.get_value()
            ),
        }
    }
}

impl Serialize for Semaphore {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.slot.serialize(s)
    }
}

impl<'de> Deserialize<'de> for Semaphore {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(Semaphore {
            slot: shared::slot_of(d, SIZE, "Semaphore")?,
        })
    }
}

/// Python's `BoundedSemaphore(value)`: releasing above `value` is an error.
///
/// ```
/// let sem = mp_sync::BoundedSemaphore::new(1)?;
/// assert_eq!(sem.release(), Err(mp_sync::ReleaseError::TooManyReleases));
/// drop(sem.permit().unwrap());
/// assert_eq!(sem.get_value(), 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Serialize, Deserialize)]
pub struct BoundedSemaphore {
    inner: Semaphore,
}

impl BoundedSemaphore {
    /// A semaphore with `value` free slots and at most `value` ever.
    ///
    /// # Errors
    /// `InvalidInput` if `value` is 0 or exceeds `SEM_VALUE_MAX`, or an OS error.
    pub fn new(value: u32) -> io::Result<BoundedSemaphore> {
        if value == 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "a bounded semaphore needs a bound above 0",
            ));
        }
        Ok(BoundedSemaphore {
            inner: Semaphore::with_bound(value, value)?,
        })
    }

    /// See [`Semaphore::permit`].
    ///
    /// # Errors
    /// `OwnerDied` (holding the permit).
    pub fn permit(&self) -> LockResult<SemaphorePermit<'_>> {
        self.inner.permit()
    }

    /// See [`Semaphore::try_permit`].
    ///
    /// # Errors
    /// `WouldBlock`, or `OwnerDied` (holding the permit).
    pub fn try_permit(&self) -> Result<SemaphorePermit<'_>, TryAcquireError<SemaphorePermit<'_>>> {
        self.inner.try_permit()
    }

    /// See [`Semaphore::permit_timeout`].
    ///
    /// # Errors
    /// `Timeout`, or `OwnerDied` (holding the permit).
    pub fn permit_timeout(
        &self,
        timeout: Duration,
    ) -> Result<SemaphorePermit<'_>, AcquireError<SemaphorePermit<'_>>> {
        self.inner.permit_timeout(timeout)
    }

    /// See [`Semaphore::acquire`].
    ///
    /// # Errors
    /// `OwnerDied` (the slot is held).
    pub fn acquire(&self, block: bool, timeout: Option<Duration>) -> Result<bool, OwnerDied> {
        self.inner.acquire(block, timeout)
    }

    /// Python's `release()`.
    ///
    /// # Errors
    /// [`ReleaseError::TooManyReleases`] above the initial value.
    pub fn release(&self) -> Result<(), ReleaseError> {
        self.inner.release()
    }

    /// Free slots now.
    pub fn get_value(&self) -> u32 {
        self.inner.get_value()
    }

    /// The bound (the initial value).
    pub fn max_value(&self) -> u32 {
        self.inner.bound()
    }

    /// Whether no slot is free.
    pub fn locked(&self) -> bool {
        self.inner.locked()
    }
}

impl fmt::Debug for BoundedSemaphore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.fmt(f)
    }
}
