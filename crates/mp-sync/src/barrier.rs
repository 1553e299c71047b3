//! [`Barrier`]: Python's `multiprocessing.Barrier(parties, action, timeout)`,
//! `threading.Barrier`'s algorithm on shared words (see `raw/barrier.rs`).

use std::fmt;
use std::io;
use std::time::Duration;

use mp_shm::Slot;
use mp_sys::time::Deadline;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::BrokenBarrierError;
use crate::ident;
use crate::park::Futex;
use crate::primitive::Ordering;
use crate::raw::barrier::{Broken, RawBarrier};
use crate::shared::{self, word};

/// Layout: mutex @0 (16), phase @16, count @20, (unused @24), parties
/// @28, default timeout in ns @32 (`u64::MAX` = none), eventcount @40 (8).
const SIZE: usize = 48;
const NO_TIMEOUT: u64 = u64::MAX;

/// A process-shared barrier.
///
/// The `action` is a plain `fn()` kept in the handle that was given it
/// (it does not travel with the handle: set it with
/// [`set_action`](Self::set_action) in each process whose arrival may be
/// the last). It runs in the last-arriving caller before anyone is
/// released; if it panics, the barrier breaks and the panic continues in
/// that caller.
///
/// ```
/// let b = mp_sync::Barrier::new(1)?;
/// assert_eq!(b.wait(), Ok(0));
/// b.abort();
/// assert_eq!(b.wait(), Err(mp_sync::BrokenBarrierError));
/// b.reset();
/// assert_eq!((b.parties(), b.n_waiting(), b.broken()), (1, 0, false));
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Clone)]
pub struct Barrier {
    slot: Slot,
    action: Option<fn()>,
}

impl Barrier {
    /// A barrier for `parties` callers, without a default timeout.
    ///
    /// # Errors
    /// `InvalidInput` if `parties` is 0 or above `u32::MAX`; an OS error.
    pub fn new(parties: usize) -> io::Result<Barrier> {
        Self::with_timeout(parties, None)
    }

    /// A barrier whose `wait()` gives up (and breaks it) after `timeout`.
    ///
    /// # Errors
    /// As [`new`](Self::new).
    pub fn with_timeout(parties: usize, timeout: Option<Duration>) -> io::Result<Barrier> {
        let parties = u32::try_from(parties)
            .ok()
            .filter(|&p| p > 0)
            .ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "a barrier needs at least one party",
                )
            })?;
        let b = Barrier {
            slot: shared::alloc(SIZE)?,
            action: None,
        };
        let ns = timeout.map_or(NO_TIMEOUT, |t| {
            u64::try_from(t.as_nanos()).unwrap_or(NO_TIMEOUT - 1)
        });
        word!(b.slot, u64, 32).store(ns, Ordering::Relaxed);
        word!(b.slot, u32, 28).store(parties, Ordering::Release);
        Ok(b)
    }

    /// Sets this handle's action (see the type docs).
    pub fn set_action(&mut self, action: fn()) {
        self.action = Some(action);
    }

    fn raw(&self) -> RawBarrier<'_> {
        RawBarrier {
            lock: shared::mutex_at(&self.slot, 0),
            phase: word!(self.slot, u32, 16),
            count: word!(self.slot, u32, 20),
            parties: word!(self.slot, u32, 28),
            wake: shared::eventcount_at(&self.slot, 40),
        }
    }

    /// The default timeout given at creation.
    pub fn timeout(&self) -> Option<Duration> {
        match word!(self.slot, u64, 32).load(Ordering::Relaxed) {
            NO_TIMEOUT => None,
            ns => Some(Duration::from_nanos(ns)),
        }
    }

    /// Python's `wait()`: blocks until `parties` callers arrived; returns
    /// this caller's arrival index (`0..parties`, each exactly once).
    ///
    /// # Errors
    /// [`BrokenBarrierError`] if the barrier is or becomes broken (abort,
    /// reset while waiting, the default timeout, a failed action).
    pub fn wait(&self) -> Result<usize, BrokenBarrierError> {
        self.wait_timeout_opt(self.timeout())
    }

    /// Python's `wait(timeout)`; on timeout the barrier breaks for everyone.
    ///
    /// # Errors
    /// [`BrokenBarrierError`], as for [`wait`](Self::wait).
    pub fn wait_timeout(&self, timeout: Duration) -> Result<usize, BrokenBarrierError> {
        self.wait_timeout_opt(Some(timeout))
    }

    fn wait_timeout_opt(&self, timeout: Option<Duration>) -> Result<usize, BrokenBarrierError> {
        let action = self.action;
        let run = || match action {
            None => Ok(()),
            Some(f) => std::panic::catch_unwind(f),
        };
        match self
            .raw()
            .wait::<Futex, _>(ident::process(), Deadline::after(timeout), run)
        {
            Ok(index) => Ok(index),
            Err(Ok(Broken)) => Err(BrokenBarrierError),
            Err(Err(panic)) => std::panic::resume_unwind(panic),
        }
    }

    /// Python's `reset()`: current waiters get [`BrokenBarrierError`]; the
    /// barrier is usable again afterwards (also after [`abort`](Self::abort)).
    pub fn reset(&self) {
        self.raw().reset::<Futex>(ident::process());
    }

    /// Python's `abort()`: breaks the barrier until [`reset`](Self::reset).
    pub fn abort(&self) {
        self.raw().abort::<Futex>(ident::process());
    }

    /// Parties needed per pass.
    pub fn parties(&self) -> usize {
        word!(self.slot, u32, 28).load(Ordering::Relaxed) as usize
    }

    /// Callers currently waiting.
    pub fn n_waiting(&self) -> usize {
        self.raw().n_waiting()
    }

    /// Whether the barrier is broken.
    pub fn broken(&self) -> bool {
        self.raw().broken()
    }
}

impl fmt::Debug for Barrier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "<Barrier: waiters={}/{}>",
            self.n_waiting(),
            self.parties()
        )
    }
}

impl Serialize for Barrier {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.slot.serialize(s)
    }
}

impl<'de> Deserialize<'de> for Barrier {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(Barrier {
            slot: shared::slot_of(d, SIZE, "Barrier")?,
            action: None,
        })
    }
}
