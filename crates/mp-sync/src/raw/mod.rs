//! The state machines: each borrows a few atomic words (an `mp-shm` slot in
//! production, loom atomics in the models) and is generic over [`Park`].
//! Each file documents its words and states as a table. Every one of them
//! sleeps and wakes through [`eventcount`], the one futex protocol.
//!
//! [`Park`]: crate::park::Park

pub(crate) mod barrier;
pub(crate) mod condvar;
pub(crate) mod event;
pub(crate) mod eventcount;
pub(crate) mod mutex;
pub(crate) mod semaphore;

use crate::park::{Park, SLICE};
use crate::primitive::{AtomicU32, Ordering};

/// Whether a liveness scan is due, claiming it if so: `scanned` holds the
/// [`Park::clock_ms`] of the last scan by any waiter (0 = never), and one
/// scan per [`SLICE`] is enough, so the `/proc` reads per slice follow the
/// number of processes scanned, not that times the number of waiters.
///
/// [`Park::clock_ms`]: crate::park::Park::clock_ms
/// [`SLICE`]: crate::park::SLICE
pub(crate) fn scan_due<P: Park>(scanned: &AtomicU32) -> bool {
    let now = P::clock_ms().max(1);
    let last = scanned.load(Ordering::Relaxed);
    if last != 0 && now.wrapping_sub(last) < SLICE.as_millis() as u32 {
        return false; // another waiter just looked
    }
    scanned.store(now, Ordering::Relaxed);
    true
}

/// A blocking call gave up because its deadline passed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TimedOut;

/// How an acquisition succeeded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Acquired {
    /// The usual way.
    Clean,
    /// Taken over from a holder that died: the protected state may be
    /// inconsistent.
    OwnerDied,
}
