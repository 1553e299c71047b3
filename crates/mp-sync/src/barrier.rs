//! [`Barrier`]: Python's `multiprocessing.Barrier(parties, action, timeout)`,
//! `threading.Barrier`'s algorithm on shared words (see `raw/barrier.rs`),
//! plus a record of who is inside, so that a party killed in `wait` breaks
//! the barrier instead of wedging it.

use std::fmt;
use std::io;
use std::time::Duration;

use mp_shm::Slot;
use mp_sys::time::Deadline;
use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::BrokenBarrierError;
use crate::ident;
use crate::park::Futex;
use crate::primitive::{AtomicU64, Ordering};
use crate::raw::barrier::{Broken, RawBarrier};
use crate::shared::{self, word};

#[cfg(feature = "async")]
#[path = "barrier_async.rs"]
mod async_forms;

/// Layout: mutex @0 (16), phase @16, count @20, scanned @24, parties
/// @28, default timeout in ns @32 (`u64::MAX` = none), eventcount @40 (8),
/// then one `u64` arrival entry per party from @48.
const HEADER: usize = 48;
const NO_TIMEOUT: u64 = u64::MAX;

fn size(parties: usize) -> usize {
    HEADER + 8 * parties
}

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
    /// The most parties a barrier can have: Linux's `PID_MAX_LIMIT`, the
    /// most threads that can exist at once, so no barrier with more could
    /// ever fill. The record of who is inside costs 8 bytes a party.
    pub const MAX_PARTIES: usize = 1 << 22;

    /// A barrier for `parties` callers, without a default timeout.
    ///
    /// # Errors
    /// `InvalidInput` if `parties` is 0 or above [`MAX_PARTIES`](Self::MAX_PARTIES); an OS error.
    pub fn new(parties: usize) -> io::Result<Barrier> {
        Self::with_timeout(parties, None)
    }

    /// A barrier whose `wait()` gives up (and breaks it) after `timeout`.
    ///
    /// # Errors
    /// As [`new`](Self::new).
    pub fn with_timeout(parties: usize, timeout: Option<Duration>) -> io::Result<Barrier> {
        if parties == 0 || parties > Self::MAX_PARTIES {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "a barrier needs between 1 and MAX_PARTIES (2^22) parties",
            ));
        }
        let b = Barrier {
            slot: shared::alloc(size(parties))?,
            action: None,
        };
        let parties = parties as u32; // <= 2^22
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

    fn raw<'a>(&'a self) -> RawBarrier<'a, impl Fn(usize) -> Option<&'a AtomicU64> + Copy + 'a> {
        let slot = &self.slot;
        RawBarrier {
            lock: shared::mutex_at(slot, 0),
            phase: word!(slot, u32, 16),
            count: word!(slot, u32, 20),
            scanned: word!(slot, u32, 24),
            parties: word!(slot, u32, 28),
            wake: shared::eventcount_at(slot, 40),
            arrivals: move |i: usize| slot.atomic_u64(HEADER + 8 * i).ok(),
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
    /// reset while waiting, the default timeout, a failed action, or a
    /// party of this generation killed inside `wait`: noticed within about
    /// 50 ms; [`reset`](Self::reset) makes the barrier usable again).
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
        let run = self.action_runner();
        outcome(
            self.raw()
                .wait::<Futex, _>(ident::process(), Deadline::after(timeout), run),
        )
    }

    /// The action as the raw barrier runs it: a panic is caught (the
    /// barrier breaks) and handed back to [`outcome`], which resumes it.
    fn action_runner(&self) -> impl Fn() -> Result<(), Panic> + Copy {
        let action = self.action;
        move || match action {
            None => Ok(()),
            Some(f) => std::panic::catch_unwind(f),
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

/// A panic caught from the action.
type Panic = Box<dyn std::any::Any + Send>;

/// The caller's result of a raw wait: the action's panic continues here.
fn outcome(r: Result<usize, Result<Broken, Panic>>) -> Result<usize, BrokenBarrierError> {
    match r {
        Ok(index) => Ok(index),
        Err(Ok(Broken)) => Err(BrokenBarrierError),
        Err(Err(panic)) => std::panic::resume_unwind(panic),
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
        let slot = shared::slot_of(d, HEADER, "Barrier")?;
        let parties = word!(slot, u32, 28).load(Ordering::Acquire) as usize;
        if parties == 0 || parties > Barrier::MAX_PARTIES || slot.len() < size(parties) {
            return Err(D::Error::custom(
                "shared slot too small for a Barrier of its parties",
            ));
        }
        Ok(Barrier { slot, action: None })
    }
}
